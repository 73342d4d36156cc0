//! The email channel against a real SMTP server (Debian's python3-aiosmtpd, writing a Maildir).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atencion::db::schema::{attachments, outbox, ticket_ccs};
use diesel::prelude::*;
use mail_parser::MessageParser;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// A real SMTP server that stores every mail it receives in a Maildir.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn python_with_aiosmtpd() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py).args(["-c", "import aiosmtpd"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpSink {
    pub fn start_on(port: u16) -> Option<SmtpSink> {
        let Some(python) = python_with_aiosmtpd() else {
            assert!(std::env::var("CI").is_err(), "CI must install python3-aiosmtpd");
            eprintln!("python3-aiosmtpd missing: email test skipped locally");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(SmtpSink { child, port, dir })
    }

    pub fn start() -> Option<SmtpSink> {
        Self::start_on(free_port())
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every delivered mail, oldest first.
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.maildir().join(d)).ok())
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| (e.metadata().and_then(|m| m.modified()).ok(), e.path()))
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| std::fs::read(p).unwrap()).collect()
    }

    /// Waits until `count` mails have arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Vec<u8>> {
        let started = Instant::now();
        loop {
            let mails = self.delivered();
            if mails.len() >= count {
                return mails;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "expected {count} mails, got {}", mails.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn header(raw: &[u8], name: &str) -> String {
    let message = MessageParser::default().parse(raw).unwrap();
    message.header_raw(name).unwrap_or("").trim().to_owned()
}

pub(crate) fn text_of(raw: &[u8]) -> String {
    let message = MessageParser::default().parse(raw).unwrap();
    message.body_text(0).unwrap_or_default().into_owned()
}

pub(crate) async fn spawn_with_smtp(
    backend: Backend,
    smtp_port: u16,
    customize: impl FnOnce(&mut atencion::config::Settings),
) -> TestApp {
    spawn(backend, |s| {
        s.smtp.url = format!("smtp://127.0.0.1:{smtp_port}");
        s.smtp.poll_interval_ms = 100;
        s.smtp.retry_base_secs = 1;
        s.email.address = "soporte@mesa.chilecompra.cl".into();
        customize(s);
    })
    .await
}

async fn deliver(app: &TestApp, raw: &str) -> Reply {
    let request = app
        .client
        .post(format!("{}/api/v1/channels/email/inbound", app.address))
        .bearer_auth(&app.admin)
        .header("content-type", "message/rfc822")
        .body(raw.replace('\n', "\r\n"));
    into_reply(request.send().await.unwrap()).await
}

fn mail(from: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\nTo: Soporte <soporte@mesa.chilecompra.cl>\nSubject: {subject}\nMessage-ID: <{}@correo.cl>\n{extra}\n{body}\n",
        rand::random::<u64>(),
        extra = if extra.is_empty() { String::new() } else { format!("{extra}\n") }
    )
}

async fn outbox_of(app: &TestApp, ticket: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/channels/email/outbox?ticket_id={ticket}")).await.body.as_array().unwrap().clone()
}

/// The SMTP server has the mail a moment before the worker records it as sent.
async fn wait_sent(app: &TestApp, ticket: i64) {
    let started = Instant::now();
    while outbox_of(app, ticket).await[0]["status"] != "sent" {
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", outbox_of(app, ticket).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_all_sent(app: &TestApp, ticket: i64) {
    let started = Instant::now();
    while outbox_of(app, ticket).await.iter().any(|row| row["status"] != "sent") {
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", outbox_of(app, ticket).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn messages_of(app: &TestApp, ticket: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/tickets/{ticket}/messages")).await.body.as_array().unwrap().clone()
}

/// A test on each backend with a real SMTP sink; `settings` (optional) adjusts the service's.
macro_rules! email_test {
    ($name:ident, |$app:ident, $sink:ident| $body:block) => {
        email_test!($name, settings | _s | {}, |$app, $sink| $body);
    };
    ($name:ident, settings |$s:ident| $settings:block, |$app:ident, $sink:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn run(backend: Backend) {
                let Some($sink) = SmtpSink::start() else { return };
                let $app = spawn_with_smtp(backend, $sink.port, |$s| $settings).await;
                $body
            }

            #[tokio::test]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                if postgres_url().is_some() {
                    run(Backend::Postgres).await;
                }
            }
        }
    };
}

email_test!(new_mail_opens_a_ticket_and_is_acknowledged, |app, sink| {
    let raw = mail(
        "\"Ana Pérez\" <ana@municipalidad.cl>",
        "Clave bloqueada",
        "Cc: jefa@municipalidad.cl",
        "No puedo ingresar.",
    );
    let reply = deliver(&app, &raw).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["outcome"], "created");
    let number = reply.body["ticket_number"].as_str().unwrap().to_owned();
    let id = reply.body["ticket_id"].as_i64().unwrap();
    let ticket = app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!((ticket["channel"].as_str(), ticket["subject"].as_str()), (Some("email"), Some("Clave bloqueada")));
    assert_eq!(ticket["requester"]["email"], "ana@municipalidad.cl");
    assert_eq!(ticket["requester"]["name"], "Ana Pérez");
    let ccs: Vec<String> = app
        .db
        .read(move |c| Ok(ticket_ccs::table.filter(ticket_ccs::ticket_id.eq(id)).select(ticket_ccs::email).load(c)?))
        .await
        .unwrap();
    assert_eq!(ccs, ["jefa@municipalidad.cl"]);

    let mails = sink.wait_for(1).await;
    let ack = &mails[0];
    assert!(header(ack, "Subject").contains(&number), "{}", header(ack, "Subject"));
    assert_eq!(header(ack, "Auto-Submitted"), "auto-replied");
    assert_eq!(header(ack, "X-Atencion-Loop"), "soporte@mesa.chilecompra.cl");
    assert!(header(ack, "Reply-To").contains(&format!("soporte+t{id}k")), "{}", header(ack, "Reply-To"));
    let original_id = raw.lines().find(|l| l.starts_with("Message-ID")).unwrap().split_once(": ").unwrap().1.to_owned();
    assert_eq!(header(ack, "In-Reply-To"), original_id);
    assert!(header(ack, "To").contains("ana@municipalidad.cl"));
    assert!(text_of(ack).contains(&number) && text_of(ack).contains("Recibimos su solicitud"));
    wait_sent(&app, id).await;
});

email_test!(replies_thread_by_headers_token_and_subject_tag, |app, sink| {
    let first = deliver(&app, &mail("ana@municipalidad.cl", "Pago atrasado", "", "Factura 123")).await.body;
    let id = first["ticket_id"].as_i64().unwrap();
    let number = first["ticket_number"].as_str().unwrap().to_owned();
    let ack = sink.wait_for(1).await.remove(0);
    wait_all_sent(&app, id).await;
    let ack_id = header(&ack, "Message-ID");
    let token_address = header(&ack, "Reply-To").split('<').nth(1).unwrap().trim_end_matches('>').to_owned();

    // 1. In-Reply-To our acknowledgement.
    let by_header =
        deliver(&app, &mail("ana@municipalidad.cl", "Re: algo", &format!("In-Reply-To: {ack_id}"), "Adjunto datos"))
            .await
            .body;
    assert_eq!((by_header["outcome"].as_str(), by_header["ticket_id"].as_i64()), (Some("appended"), Some(id)));
    // 2. Only the signed reply address (headers stripped by some client).
    let by_token = format!("From: ana@municipalidad.cl\nTo: {token_address}\nSubject: otra cosa\nMessage-ID: <tok@correo.cl>\n\nSigo esperando");
    assert_eq!(deliver(&app, &by_token).await.body["ticket_id"], id);
    // 3. The subject tag, from the requester.
    let by_tag =
        deliver(&app, &mail("ana@municipalidad.cl", &format!("Re: [{number}] Pago"), "", "¿Novedades?")).await.body;
    assert_eq!(by_tag["ticket_id"], id);
    // A stranger quoting the tag gets a ticket of their own.
    let stranger =
        deliver(&app, &mail("otro@empresa.cl", &format!("[{number}] quiero ver esto"), "", "hola")).await.body;
    assert_eq!(stranger["outcome"], "created");
    assert_ne!(stranger["ticket_id"], id);
    // A forged token does not thread either.
    let forged = format!("From: otro@empresa.cl\nTo: soporte+t{id}k000000000000@mesa.chilecompra.cl\nSubject: x\nMessage-ID: <forged@correo.cl>\n\nx");
    assert_ne!(deliver(&app, &forged).await.body["ticket_id"], id);

    let messages = messages_of(&app, id).await;
    assert_eq!(messages.len(), 4);
    assert!(messages.iter().all(|m| m["author_type"] == "requester"));
    // Redelivering the same mail changes nothing.
    let again = deliver(&app, &by_token).await;
    assert_eq!((again.status, again.body["outcome"].as_str()), (StatusCode::OK, Some("duplicate")));
    assert_eq!(messages_of(&app, id).await.len(), 4);
});

email_test!(agent_replies_are_mailed_and_requester_replies_reopen, |app, sink| {
    let first =
        deliver(&app, &mail("ana@municipalidad.cl", "Compra Ágil", "Cc: jefa@municipalidad.cl", "Error al cotizar"))
            .await
            .body;
    let id = first["ticket_id"].as_i64().unwrap();
    sink.wait_for(1).await;
    app.post(
        &format!("/api/v1/tickets/{id}/messages"),
        json!({"body": "Nota para el equipo", "visibility": "internal"}),
    )
    .await;
    app.post(
        &format!("/api/v1/tickets/{id}/messages"),
        json!({"body": "Estimada Ana: ya está corregido.", "status": "solved"}),
    )
    .await;
    // The acknowledgement, the reply and, as the reply solved the ticket, the satisfaction survey.
    let mails: Vec<Vec<u8>> =
        sink.wait_for(3).await.into_iter().filter(|m| header(m, "Auto-Submitted") != "auto-generated").collect();
    assert_eq!(mails.len(), 2, "the internal note must not be mailed");
    let reply = &mails[1];
    assert!(text_of(reply).contains("ya está corregido"));
    assert!(!text_of(reply).contains("Nota para el equipo"));
    assert!(header(reply, "Cc").contains("jefa@municipalidad.cl"));
    assert_eq!(header(reply, "Auto-Submitted"), "");
    assert!(header(reply, "References").contains(&header(&mails[0], "Message-ID")));

    // The sink has the mail a moment before the worker records it (and its Message-ID) as sent.
    wait_all_sent(&app, id).await;
    // The requester answers the reply: the solved ticket reopens.
    let answer = mail(
        "ana@municipalidad.cl",
        "Re: Compra Ágil",
        &format!("In-Reply-To: {}", header(reply, "Message-ID")),
        "Sigue fallando\n\nEl lun, 2 mar 2026, Soporte escribió:\n> ya está corregido",
    );
    assert_eq!(deliver(&app, &answer).await.body["outcome"], "appended");
    let ticket = app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!(ticket["status"], "open");
    let last = messages_of(&app, id).await.pop().unwrap();
    assert_eq!(last["body"], "Sigue fallando", "quoted history is stripped");

    // Once closed, an answer opens a new ticket linked to the old one.
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "solved"})).await;
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "closed"})).await;
    let late = deliver(
        &app,
        &mail(
            "ana@municipalidad.cl",
            "Re: Compra Ágil",
            &format!("In-Reply-To: {}", header(reply, "Message-ID")),
            "Otra consulta",
        ),
    )
    .await
    .body;
    assert_eq!(late["outcome"], "created");
    let new_id = late["ticket_id"].as_i64().unwrap();
    assert_ne!(new_id, id);
    let events = app.get(&format!("/api/v1/tickets/{new_id}/events")).await.body;
    assert!(
        events.as_array().unwrap().iter().any(|e| e["kind"] == "linked" && e["data"]["follow_up_of"] == id),
        "{events}"
    );
});

// 45 replies due at once go out back to back, not one batch of 20 per poll interval.
email_test!(
    a_backlog_is_sent_without_waiting_between_batches,
    settings | s | { s.smtp.poll_interval_ms = 10_000 },
    |app, sink| {
        let id = app.ticket("Consulta larga", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        for n in 0..45 {
            let reply =
                app.post(&format!("/api/v1/tickets/{id}/messages"), json!({"body": format!("Respuesta {n}.")})).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }
        let due = outbox_of(&app, id).await.len();
        assert!(due >= 45, "{due}");
        // The first flush comes within one interval (10 s); a 10 s pause after each batch of 20
        // would need at least 20 s in all for the other 25.
        let started = Instant::now();
        while sink.delivered().len() < due {
            assert!(started.elapsed() < Duration::from_secs(19), "{} of {due} after 19 s", sink.delivered().len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
);

email_test!(machines_never_get_an_answer_and_bounces_mark_failures, |app, sink| {
    let first = deliver(&app, &mail("ana@municipalidad.cl", "Consulta", "", "Hola")).await.body;
    let id = first["ticket_id"].as_i64().unwrap();
    let ack = sink.wait_for(1).await.remove(0);
    wait_all_sent(&app, id).await;
    let ack_id = header(&ack, "Message-ID");
    // An out-of-office answering our acknowledgement: stored, never answered.
    let ooo = mail(
        "ana@municipalidad.cl",
        "Fuera de oficina",
        &format!("Auto-Submitted: auto-replied\nIn-Reply-To: {ack_id}"),
        "Estoy de vacaciones",
    );
    assert_eq!(deliver(&app, &ooo).await.body["outcome"], "appended");
    // A newsletter opens a ticket but gets no acknowledgement.
    let bulk = deliver(
        &app,
        &mail("boletin@noticias.cl", "Novedades", "Precedence: bulk\nList-Id: <boletin.noticias.cl>", "Lea"),
    )
    .await
    .body;
    assert_eq!(bulk["outcome"], "created");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sink.delivered().len(), 1, "no automatic answer to machines");
    assert!(outbox_of(&app, bulk["ticket_id"].as_i64().unwrap()).await.is_empty());

    // The acknowledgement bounces: the outbox row is marked.
    let dsn = format!(
        "From: MAILER-DAEMON@mx.municipalidad.cl\nTo: soporte@mesa.chilecompra.cl\nSubject: Undelivered Mail\nMessage-ID: <dsn1@mx>\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\n\n--r\nContent-Type: text/plain\n\nUser unknown\n\
         --r\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n\n--r\nContent-Type: text/rfc822-headers\n\nMessage-ID: {ack_id}\nSubject: x\n--r--\n"
    );
    let bounce = deliver(&app, &dsn).await;
    assert_eq!((bounce.status, bounce.body["outcome"].as_str()), (StatusCode::OK, Some("bounce")));
    let rows = outbox_of(&app, id).await;
    assert_eq!(rows[0]["status"], "bounced");
});

email_test!(bad_mail_is_quarantined_and_the_next_goes_through, |app, _sink| {
    let broken = deliver(&app, "Subject: sin remitente\n\ncuerpo").await;
    assert_eq!((broken.status, broken.body["outcome"].as_str()), (StatusCode::ACCEPTED, Some("quarantined")));
    let next = deliver(&app, &mail("ana@municipalidad.cl", "Sigue", "", "ok")).await;
    assert_eq!(next.status, StatusCode::CREATED);
    let quarantine = app.get("/api/v1/channels/email/quarantine").await.body;
    assert_eq!(quarantine.as_array().unwrap().len(), 1);
    assert!(quarantine[0]["reason"].as_str().unwrap().contains("remitente"));
    let qid = quarantine[0]["id"].as_i64().unwrap();
    // Still unreadable: it stays.
    assert_eq!(
        assert_problem(&app.post(&format!("/api/v1/channels/email/quarantine/{qid}/reprocess"), json!({})).await, 422),
        ["raw"]
    );
    assert_problem(&app.post("/api/v1/channels/email/quarantine/9999/reprocess", json!({})).await, 404);

    let too_big = format!("From: a@b.cl\nSubject: x\n\n{}", "x".repeat(300 * 1024));
    let app_small = spawn(Backend::Sqlite, |s| s.email.max_message_bytes = 100 * 1024).await;
    assert_problem(&deliver(&app_small, &too_big).await, 413);
    let wrong_type = app
        .client
        .post(format!("{}/api/v1/channels/email/inbound", app.address))
        .bearer_auth(&app.admin)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
});

email_test!(charsets_and_attachments, |app, _sink| {
    let latin1 = b"From: proveedor@empresa.cl\r\nTo: soporte@mesa.chilecompra.cl\r\nSubject: =?ISO-8859-1?Q?Factura_n=BA_12?=\r\nMessage-ID: <l1@x>\r\n\
        Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
        \xbfCu\xe1ndo pagan la factura?\r\n--b\r\nContent-Type: application/pdf; name=\"factura.pdf\"\r\nContent-Disposition: attachment; filename=\"factura.pdf\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
    let request = app
        .client
        .post(format!("{}/api/v1/channels/email/inbound", app.address))
        .bearer_auth(&app.admin)
        .header("content-type", "message/rfc822")
        .body(latin1.to_vec());
    let reply = into_reply(request.send().await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.body["ticket_id"].as_i64().unwrap();
    let ticket = app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!(ticket["subject"], "Factura nº 12");
    assert_eq!(messages_of(&app, id).await[0]["body"], "¿Cuándo pagan la factura?");
    let files: Vec<(String, String, i64, String)> = app
        .db
        .read(move |c| {
            Ok(attachments::table
                .filter(attachments::ticket_id.eq(id))
                .select((attachments::filename, attachments::content_type, attachments::size, attachments::sha256))
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!((files[0].0.as_str(), files[0].1.as_str(), files[0].2), ("factura.pdf", "application/pdf", 9));
    assert_eq!(files[0].3, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"%PDF-1.4\n")));
});

email_test!(sla_breaches_are_mailed_to_the_assignee_and_supervisors, |app, sink| {
    let supervisor = app
        .post(
            "/api/v1/agents",
            json!({"name": "Carolina Muñoz", "email": "carolina@chilecompra.cl", "role": "supervisor"}),
        )
        .await
        .body;
    let agent = app
        .post("/api/v1/agents", json!({"name": "Javier Rojas", "email": "javier@chilecompra.cl", "role": "agent"}))
        .await
        .body;
    let first = deliver(&app, &mail("ana@municipalidad.cl", "Consulta urgente", "", "Hola")).await.body;
    let id = first["ticket_id"].as_i64().unwrap();
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"assignee_id": agent["id"]})).await;
    sink.wait_for(1).await;
    let later = chrono::Utc::now() + chrono::Duration::days(400);
    app.db.write(move |c| atencion::sla::scanner::tick(c, later, 100)).await.unwrap();
    // Warnings and breaches of first_reply and resolution, each to both people.
    let mails = sink.wait_for(9).await;
    let notices: Vec<&Vec<u8>> = mails.iter().filter(|m| header(m, "Subject").contains("SLA")).collect();
    assert_eq!(notices.len(), 8, "{:?}", notices.iter().map(|m| header(m, "Subject")).collect::<Vec<_>>());
    let to_supervisor = notices.iter().filter(|m| header(m, "To").contains("carolina@chilecompra.cl")).count();
    let to_agent = notices.iter().filter(|m| header(m, "To").contains("javier@chilecompra.cl")).count();
    assert_eq!((to_supervisor, to_agent), (4, 4));
    assert!(notices.iter().any(|m| header(m, "Subject").contains("vencido: primera respuesta")));
    assert!(notices.iter().all(|m| !header(m, "To").contains("ana@municipalidad.cl")));
    let _ = supervisor;
});

/// The outbox keeps a mail while the SMTP server is down and delivers it when it is back.
#[tokio::test]
async fn outbox_retries_until_the_server_is_back() {
    if python_with_aiosmtpd().is_none() {
        assert!(std::env::var("CI").is_err(), "CI must install python3-aiosmtpd");
        return;
    }
    let port = free_port();
    let app = spawn_with_smtp(Backend::Sqlite, port, |_| {}).await;
    let first = deliver(&app, &mail("ana@municipalidad.cl", "Consulta", "", "Hola")).await.body;
    let id = first["ticket_id"].as_i64().unwrap();
    // Nobody listens yet: the attempt fails and is rescheduled.
    let started = Instant::now();
    loop {
        let rows = outbox_of(&app, id).await;
        if rows[0]["attempts"].as_i64().unwrap() >= 1 {
            assert_eq!(rows[0]["status"], "pending");
            assert!(rows[0]["last_error"].is_string());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no attempt made");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sink = SmtpSink::start_on(port).unwrap();
    let mails = sink.wait_for(1).await;
    assert!(header(&mails[0], "Subject").contains(first["ticket_number"].as_str().unwrap()));
    wait_sent(&app, id).await;
    assert_eq!(outbox_of(&app, id).await.len(), 1);
}

#[tokio::test]
async fn automatic_answers_are_capped_per_sender() {
    let Some(sink) = SmtpSink::start() else { return };
    let app = spawn_with_smtp(Backend::Sqlite, sink.port, |s| s.email.auto_replies_per_sender_per_day = 2).await;
    for i in 0..3 {
        let reply = deliver(&app, &mail("insistente@correo.cl", &format!("Consulta {i}"), "", "Hola")).await;
        assert_eq!(reply.body["outcome"], "created");
    }
    sink.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sink.delivered().len(), 2);
    let acks: i64 =
        app.db.read(|c| Ok(outbox::table.filter(outbox::kind.eq("ack")).count().get_result(c)?)).await.unwrap();
    assert_eq!(acks, 2);
}

on_all_backends! {
    // No SMTP server: the acknowledgement is still queued, yet an answer to it (its Message-ID is
    // fixed when queued) already threads onto the ticket.
    async fn an_answer_to_a_queued_mail_threads_before_it_is_sent(app) {
        let first = deliver(&app, &mail("ana@municipalidad.cl", "Pago atrasado", "", "Factura 123")).await.body;
        let id = first["ticket_id"].as_i64().unwrap();
        let queued = outbox_of(&app, id).await;
        assert_eq!((queued.len(), queued[0]["status"].as_str()), (1, Some("pending")));
        let local = queued[0]["message_id"].as_str().unwrap();
        let answer = mail("ana@municipalidad.cl", "Re: su solicitud", &format!("In-Reply-To: <{local}@mesa.chilecompra.cl>"), "Más datos");
        let reply = deliver(&app, &answer).await;
        assert_eq!((reply.body["outcome"].as_str(), reply.body["ticket_id"].as_i64()), (Some("appended"), Some(id)), "{}", reply.body);
        // A guessed id of ours that was never queued threads nowhere.
        let guess = mail("otro@example.cl", "Hola", "In-Reply-To: <atn.1.0000000000000000@mesa.chilecompra.cl>", "x");
        assert_eq!(deliver(&app, &guess).await.body["outcome"], "created");
    }
}

email_test!(mails_link_to_a_public_page_that_follows_the_case, |app, sink| {
    let first = deliver(&app, &mail("ana@municipalidad.cl", "Pago atrasado", "", "Factura 123 sin pagar")).await.body;
    let id = first["ticket_id"].as_i64().unwrap();
    let ack = sink.wait_for(1).await.remove(0);
    let text = text_of(&ack);
    let link = text.split_whitespace().find(|w| w.contains("/casos/")).expect("a link to the case").to_owned();
    assert!(link.starts_with("http://127.0.0.1:8080/casos/"), "{link}");
    let path = &link[link.find("/casos/").unwrap()..];
    wait_all_sent(&app, id).await;

    let reply = app
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            json!({"body": "Su pago se cursará el viernes.", "status": "pending"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    app.post(
        &format!("/api/v1/tickets/{id}/messages"),
        json!({"body": "Nota: revisar con Finanzas", "visibility": "internal"}),
    )
    .await;
    let page = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(first["ticket_number"].as_str().unwrap()) && html.contains("Pago atrasado"), "{html}");
    assert!(html.contains("Esperando su respuesta"), "{html}");
    assert!(html.contains("Factura 123 sin pagar") && html.contains("Su pago se cursará el viernes."), "{html}");
    assert!(!html.contains("Finanzas"), "internal notes never reach the requester");
    // The reply mail carries the same link.
    let mails = sink.wait_for(2).await;
    assert!(text_of(&mails[1]).contains(&link));
    // A tampered or guessed link shows nothing.
    let tampered = format!("{}{}", app.address, path.replace(&format!("/casos/{id}-"), &format!("/casos/{}-", id + 1)));
    let refused = app.client.get(tampered).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(!refused.text().await.unwrap().contains("Pago atrasado"));
    wait_all_sent(&app, id).await;
});
