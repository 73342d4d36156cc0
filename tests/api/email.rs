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
    // The acknowledgement and the survey are queued after the commit, by the log's followers.
    app.followed().await;
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

// `serve --no-workers` sends no mail; an `atencion worker` on the same database sends it.
email_test!(
    mail_goes_out_through_a_worker_when_the_server_runs_none,
    settings | s | {
        s.server.background = false;
    },
    |app, sink| {
        let id = deliver(&app, &mail("ana@municipalidad.cl", "Clave", "", "No puedo entrar.")).await.body["ticket_id"]
            .as_i64()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(sink.delivered().is_empty(), "the server sent mail with its background jobs off");
        assert_eq!(outbox_of(&app, id).await[0]["status"], "pending");

        let mut settings = test_settings();
        settings.database.url = app.database_url.clone();
        settings.smtp.url = format!("smtp://127.0.0.1:{}", sink.port);
        settings.smtp.poll_interval_ms = 100;
        settings.email.address = "soporte@mesa.chilecompra.cl".into();
        let worker = tokio::spawn(atencion::startup::run_worker(settings));
        let mails = sink.wait_for(1).await;
        assert!(text_of(&mails[0]).contains("Recibimos su solicitud"));
        wait_sent(&app, id).await;
        worker.abort();
    }
);

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
    // No public_url configured: links carry the address the app really listens on (a random
    // port here), not a fixed default.
    assert!(link.starts_with(&format!("{}/casos/", app.address)), "{link} (app at {})", app.address);
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

/// (metric, instance, state) of every SLA clock of the ticket.
async fn clocks(app: &TestApp, id: i64) -> Vec<(String, u64, String)> {
    let sla = app.get(&format!("/api/v1/tickets/{id}/sla")).await.body;
    sla["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["metric"].as_str().unwrap_or_default().to_owned();
            (name, m["instance"].as_u64().unwrap_or_default(), m["state"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

async fn status_of(app: &TestApp, id: i64) -> String {
    app.get(&format!("/api/v1/tickets/{id}")).await.body["status"].as_str().unwrap().to_owned()
}

email_test!(a_mail_speaks_only_for_its_real_sender, |app, sink| {
    let first = deliver(
        &app,
        &mail("\"Ana Pérez\" <ana@municipalidad.cl>", "Pago atrasado", "Cc: jefa@municipalidad.cl", "Factura 123"),
    )
    .await
    .body;
    let id = first["ticket_id"].as_i64().unwrap();
    let requester_id = app.get(&format!("/api/v1/tickets/{id}")).await.body["requester"]["id"].as_i64().unwrap();
    let ack = sink.wait_for(1).await.remove(0);
    wait_all_sent(&app, id).await;
    let ack_id = header(&ack, "Message-ID");
    let reply_to = header(&ack, "Reply-To").split('<').nth(1).unwrap().trim_end_matches('>').to_owned();
    let case_link = text_of(&ack).split_whitespace().find(|w| w.contains("/casos/")).unwrap().to_owned();
    let first_message = messages_of(&app, id).await.remove(0);
    assert_eq!(first_message["sender_email"], "ana@municipalidad.cl");
    assert_eq!(
        (first_message["sender_name"].as_str(), first_message["sender_status"].as_str()),
        (Some("Ana Pérez"), Some("requester"))
    );

    // The agent answers and waits on the requester.
    let reply = app
        .post(&format!("/api/v1/tickets/{id}/messages"), json!({"body": "¿Nos envía la factura?", "status": "pending"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let waiting = clocks(&app, id).await;

    // A stranger writes to the ticket's signed reply address, copying an accomplice.
    let stranger = |n: u32, body: &str| {
        format!(
            "From: \"Mallory\" <x@evil.example>\nTo: {reply_to}\nCc: complice@evil.example\nSubject: Re: Pago\nMessage-ID: <evil{n}@evil.example>\n\n{body}"
        )
    };
    let appended = deliver(&app, &stranger(1, "Cierren este caso y paguen a la cuenta 999")).await;
    assert_eq!(appended.status, StatusCode::CREATED, "{}", appended.body);
    assert_eq!((appended.body["outcome"].as_str(), appended.body["ticket_id"].as_i64()), (Some("appended"), Some(id)));
    let stored = messages_of(&app, id).await.pop().unwrap();
    assert_eq!(stored["author_type"], "participant", "{stored}");
    assert_eq!(stored["author_requester_id"], Value::Null);
    assert_eq!(stored["sender_email"], "x@evil.example");
    assert_eq!(stored["sender_name"], "Mallory");
    assert_eq!(stored["sender_status"], "unknown");
    // Nothing moved: the ticket still waits on its requester, with the same clocks.
    assert_eq!(status_of(&app, id).await, "pending");
    assert_eq!(clocks(&app, id).await, waiting);
    // Nor can a stranger put someone in copy of the case.
    let ccs: Vec<String> = app
        .db
        .read(move |c| Ok(ticket_ccs::table.filter(ticket_ccs::ticket_id.eq(id)).select(ticket_ccs::email).load(c)?))
        .await
        .unwrap();
    assert_eq!(ccs, ["jefa@municipalidad.cl"]);

    // Solved, a stranger's mail does not reopen it.
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "solved"})).await;
    assert_eq!(deliver(&app, &stranger(2, "Reabran")).await.body["outcome"], "appended");
    assert_eq!(status_of(&app, id).await, "solved");

    // The CC answers for the requester's side: accepted as a participant, and it reopens.
    let from_cc =
        mail("Jefa <jefa@municipalidad.cl>", "Re: Pago", &format!("In-Reply-To: {ack_id}"), "Adjunto la factura");
    assert_eq!(deliver(&app, &from_cc).await.body["outcome"], "appended");
    let stored = messages_of(&app, id).await.pop().unwrap();
    assert_eq!((stored["author_type"].as_str(), stored["sender_status"].as_str()), (Some("participant"), Some("cc")));
    assert_eq!(stored["sender_email"], "jefa@municipalidad.cl");
    assert_eq!(status_of(&app, id).await, "open");

    // The requester's own reply reopens and is hers.
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "solved"})).await;
    let from_ana = mail("ana@municipalidad.cl", "Re: Pago", &format!("In-Reply-To: {ack_id}"), "Sigue sin pagarse");
    assert_eq!(deliver(&app, &from_ana).await.body["outcome"], "appended");
    let stored = messages_of(&app, id).await.pop().unwrap();
    assert_eq!(
        (stored["author_type"].as_str(), stored["sender_status"].as_str()),
        (Some("requester"), Some("requester"))
    );
    assert_eq!(stored["author_requester_id"], requester_id);
    assert_eq!(status_of(&app, id).await, "open");

    // The requester's page shows the CC's words, never the stranger's.
    let path = &case_link[case_link.find("/casos/").unwrap()..];
    let html = app.client.get(format!("{}{path}", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Adjunto la factura") && html.contains("Sigue sin pagarse"), "{html}");
    assert!(!html.contains("cuenta 999") && !html.contains("Reabran"), "{html}");

    // Closed: the stranger's mail opens a case of their own, linked for the agents.
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "solved"})).await;
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "closed"})).await;
    let late = deliver(&app, &stranger(3, "Otra vez")).await.body;
    assert_eq!(late["outcome"], "created");
    let new_id = late["ticket_id"].as_i64().unwrap();
    assert_ne!(new_id, id);
    let new_ticket = app.get(&format!("/api/v1/tickets/{new_id}")).await.body;
    assert_eq!(new_ticket["requester"]["email"], "x@evil.example");
    let events = app.get(&format!("/api/v1/tickets/{new_id}/events")).await.body;
    let linked = events.as_array().unwrap().iter().find(|e| e["kind"] == "linked").expect("linked event");
    assert_eq!(
        (linked["data"]["follow_up_of"].as_i64(), linked["data"]["sender_status"].as_str()),
        (Some(id), Some("unknown"))
    );
    assert_eq!(status_of(&app, id).await, "closed");
});

on_all_backends! {
    // Postgres cannot store NUL in text: it answered 500 on every retry, so the mail was lost.
    async fn a_mail_with_nul_characters_is_stored_without_them(app) {
        let raw = "From: \"Ana\0 Pérez\" <ana@municipalidad.cl>\nTo: soporte@mesa.chilecompra.cl\nSubject: Clave\0 bloqueada\n\
            Message-ID: <nul1@correo.cl>\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n\
            No puedo\0 ingresar\n--b\nContent-Type: text/plain; name=\"nota\0.txt\"\nContent-Disposition: attachment; filename=\"nota\0.txt\"\n\n\
            a\0b\n--b--\n";
        let reply = deliver(&app, raw).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let id = reply.body["ticket_id"].as_i64().unwrap();
        let ticket = app.get(&format!("/api/v1/tickets/{id}")).await;
        assert_eq!(ticket.status, StatusCode::OK);
        assert_eq!(ticket.body["subject"], "Clave bloqueada");
        assert_eq!(ticket.body["requester"]["name"], "Ana Pérez");
        let messages = messages_of(&app, id).await;
        assert_eq!(messages[0]["body"], "No puedo ingresar");
        let files: Vec<(String, i64)> = app
            .db
            .read(move |c| Ok(attachments::table.filter(attachments::ticket_id.eq(id)).select((attachments::filename, attachments::size)).load(c)?))
            .await
            .unwrap();
        // The file keeps its bytes (NUL included); only its name lost the NUL.
        assert_eq!(files, [("nota.txt".to_owned(), 3)]);
        // A NUL in an answer on the ticket too.
        let answer = mail("ana@municipalidad.cl", "Re: Clave\0", "In-Reply-To: <nul1@correo.cl>", "Gracias\0");
        let appended = deliver(&app, &answer).await;
        assert_eq!((appended.status, appended.body["outcome"].as_str()), (StatusCode::CREATED, Some("appended")), "{}", appended.body);
        assert_eq!(messages_of(&app, id).await[1]["body"], "Gracias");
        let bad_mailbox = app
            .client
            .post(format!("{}/api/v1/channels/email/inbound?mailbox=a%00b", app.address))
            .bearer_auth(&app.admin)
            .header("content-type", "message/rfc822")
            .body(mail("ana@municipalidad.cl", "x", "", "y"));
        assert_eq!(assert_problem(&into_reply(bad_mailbox.send().await.unwrap()).await, 422), ["mailbox"]);
    }

    // 10,000 attachments in one mail used to become 10,000 rows and files.
    async fn a_mail_with_too_many_attachments_is_quarantined(app) {
        let reply = deliver(&app, &with_attachments("many@correo.cl", 10_000, 1)).await;
        assert_eq!((reply.status, reply.body["outcome"].as_str()), (StatusCode::ACCEPTED, Some("quarantined")), "{}", reply.body);
        let quarantine = app.get("/api/v1/channels/email/quarantine").await.body;
        let reason = quarantine[0]["reason"].as_str().unwrap();
        assert!(reason.contains("10000 adjuntos") && reason.contains("50"), "{reason}");
        assert_eq!(app.get("/api/v1/tickets").await.body["items"], json!([]));
        let stored: i64 = app.db.read(|c| Ok(attachments::table.count().get_result(c)?)).await.unwrap();
        assert_eq!(stored, 0);
    }
}

/// A mail from ana@municipalidad.cl with `count` attachments of `size` bytes each.
fn with_attachments(message_id: &str, count: usize, size: usize) -> String {
    let mut raw = format!(
        "From: ana@municipalidad.cl\nTo: soporte@mesa.chilecompra.cl\nSubject: Adjuntos\nMessage-ID: <{message_id}>\n\
         Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nVan los archivos\n"
    );
    for n in 0..count {
        raw.push_str(&format!(
            "--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"a{n}.bin\"\n\n{}\n",
            "x".repeat(size)
        ));
    }
    raw.push_str("--b--\n");
    raw
}

async fn attachment_limits(backend: Backend) {
    let app = spawn(backend, |s| {
        s.email.address = "soporte@mesa.chilecompra.cl".into();
        s.email.max_attachments_per_message = 5;
        s.email.max_attachments_total_bytes = 4000;
    })
    .await;
    // At the limits: stored.
    let at_limit = deliver(&app, &with_attachments("five@correo.cl", 5, 800)).await;
    assert_eq!(at_limit.status, StatusCode::CREATED, "{}", at_limit.body);
    let id = at_limit.body["ticket_id"].as_i64().unwrap();
    let stored: i64 = app
        .db
        .read(move |c| Ok(attachments::table.filter(attachments::ticket_id.eq(id)).count().get_result(c)?))
        .await
        .unwrap();
    assert_eq!(stored, 5);
    // One attachment too many, and two that are too big together: quarantined, 202 to the MTA.
    for (raw, why) in [
        (with_attachments("six@correo.cl", 6, 10), "6 adjuntos"),
        (with_attachments("big@correo.cl", 2, 2500), "suman 5000 bytes"),
    ] {
        let reply = deliver(&app, &raw).await;
        assert_eq!(
            (reply.status, reply.body["outcome"].as_str()),
            (StatusCode::ACCEPTED, Some("quarantined")),
            "{}",
            reply.body
        );
        let quarantine = app.get("/api/v1/channels/email/quarantine").await.body;
        let reason = quarantine.as_array().unwrap().last().unwrap()["reason"].as_str().unwrap().to_owned();
        assert!(reason.contains(why), "{reason}");
    }
    assert_eq!(app.get("/api/v1/tickets").await.body["items"].as_array().unwrap().len(), 1);
    // Reprocessing under the same limits keeps it in the quarantine.
    let qid = app.get("/api/v1/channels/email/quarantine").await.body[0]["id"].as_i64().unwrap();
    let again = app.post(&format!("/api/v1/channels/email/quarantine/{qid}/reprocess"), json!({})).await;
    assert_eq!(assert_problem(&again, 422), ["raw"]);
}

#[tokio::test]
async fn attachment_limits_sqlite() {
    attachment_limits(Backend::Sqlite).await;
}

#[tokio::test]
async fn attachment_limits_postgres() {
    if postgres_url().is_some() {
        attachment_limits(Backend::Postgres).await;
    }
}

// A mail on a ticket opened through another channel is still a message by mail.
email_test!(a_mail_on_a_ticket_opened_elsewhere_is_a_message_by_mail, |app, _sink| {
    let ticket = app.ticket("Consulta por la API", "ana@municipalidad.cl").await;
    let (id, number) = (ticket["id"].as_i64().unwrap(), ticket["number"].as_str().unwrap().to_owned());
    let answer =
        deliver(&app, &mail("ana@municipalidad.cl", &format!("Re: [{number}] Consulta"), "", "Les envío lo pedido."))
            .await;
    assert_eq!(answer.body["ticket_id"].as_i64(), Some(id), "{}", answer.body);
    let channels: Vec<Value> = messages_of(&app, id).await.iter().map(|m| m["channel"].clone()).collect();
    assert_eq!(channels, [json!("api"), json!("email")]);
});
