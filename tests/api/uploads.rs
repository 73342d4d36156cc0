//! Sending files: an agent's reply with files (multipart), mailed as MIME parts; the public form's
//! files, typed by their bytes; the limits; the case page's links.

use mail_parser::{MessageParser, MimeHeaders};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::email::{spawn_with_smtp, SmtpSink};
use crate::helpers::*;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";
const HTML: &[u8] = b"<html><script>alert('x')</script></html>";

/// A file part: (file name as sent, declared type, bytes).
type Part<'a> = (&'a str, &'a str, &'a [u8]);

/// A `multipart/form-data` body: (content type, bytes).
fn multipart(fields: &[(&str, &str)], files: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = format!("----atencion{:016x}", rand::random::<u64>());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    for (filename, media_type, bytes) in files {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{filename}\"\r\n\
                 Content-Type: {media_type}\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn send_multipart(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    form: (String, Vec<u8>),
    key: Option<&str>,
) -> Reply {
    let mut request = app.client.post(format!("{}{path}", app.address)).header("content-type", form.0).body(form.1);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    into_reply(request.send().await.expect("request sent")).await
}

/// An agent's reply with `files` on `ticket`.
async fn reply_with(app: &TestApp, token: &str, ticket: i64, fields: &[(&str, &str)], files: &[Part<'_>]) -> Reply {
    send_multipart(app, &format!("/api/v1/tickets/{ticket}/messages"), Some(token), multipart(fields, files), None)
        .await
}

async fn download(app: &TestApp, token: &str, id: &Value) -> reqwest::Response {
    app.client.get(format!("{}/api/v1/attachments/{id}", app.address)).bearer_auth(token).send().await.unwrap()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

fn public_form(subject: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", "Ana Pérez".into()),
        ("email", "ana@municipalidad.cl".into()),
        ("segment", "comprador".into()),
        ("subject", subject.into()),
        ("body", "No puedo emitir la orden de compra; adjunto la captura.".into()),
        ("hp_field", String::new()),
    ]
}

async fn submit_form(app: &TestApp, files: &[Part<'_>]) -> Reply {
    let fields = public_form("Error al emitir la orden");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    send_multipart(app, "/api/v1/public/tickets", None, multipart(&fields, files), None).await
}

/// The ticket a form submission created, by its number.
async fn ticket_of(app: &TestApp, reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    app.get(&format!("/api/v1/tickets/{}", reply.body["number"].as_str().unwrap())).await.body
}

async fn messages_of(app: &TestApp, ticket: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/tickets/{ticket}/messages")).await.body.as_array().unwrap().clone()
}

/// A test on each backend with adjusted settings.
macro_rules! upload_test {
    ($name:ident, |$s:ident| $settings:block, |$app:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn run(backend: Backend) {
                let $app = spawn(backend, |$s: &mut atencion::config::Settings| $settings).await;
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

on_all_backends! {
    async fn an_agents_reply_with_files_lists_them_and_downloads_the_same_bytes(app) {
        let ticket = app.ticket("Orden de compra", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        let agent = app.token(atencion::domain::Role::Agent).await;
        let fields = [("body", "Adjunto la guía y el comprobante."), ("status", "pending")];
        let reply = reply_with(&app, &agent, ticket, &fields, &[("guía.pdf", "application/pdf", PDF), ("captura.png", "image/png", PNG)]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let files = reply.body["attachments"].as_array().unwrap().clone();
        let names: Vec<&str> = files.iter().map(|f| f["filename"].as_str().unwrap()).collect();
        assert_eq!(names, ["guía.pdf", "captura.png"]);
        assert_eq!(files[0]["sha256"], sha(PDF));
        assert_eq!((files[1]["size"].as_u64(), files[1]["media_type"].as_str()), (Some(PNG.len() as u64), Some("image/png")));

        // Listed with the message, and the bytes come back identical.
        let listed = messages_of(&app, ticket).await;
        assert_eq!(listed.last().unwrap()["attachments"], Value::Array(files.clone()));
        assert_eq!(app.get(&format!("/api/v1/tickets/{ticket}")).await.body["status"], "pending");
        for (file, bytes) in files.iter().zip([PDF, PNG]) {
            let response = download(&app, &agent, &file["id"]).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(&response.bytes().await.unwrap()[..], bytes);
        }
        // Department staff do not learn the file exists.
        let department = app.token(atencion::domain::Role::Department).await;
        assert_eq!(download(&app, &department, &files[0]["id"]).await.status(), StatusCode::NOT_FOUND);

        // The same bytes sent again are stored once: same hash, another row.
        let again = reply_with(&app, &agent, ticket, &[("body", "De nuevo.")], &[("copia.pdf", "application/pdf", PDF)]).await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
        assert_eq!(again.body["attachments"][0]["sha256"], files[0]["sha256"]);
        assert_ne!(again.body["attachments"][0]["id"], files[0]["id"]);
        let stored = app.db.read(|c| {
            use atencion::db::schema::attachments;
            use diesel::prelude::*;
            Ok(attachments::table.select(attachments::sha256).distinct().load::<String>(c)?)
        }).await.unwrap();
        assert_eq!(stored.len(), 2, "{stored:?}");
    }

    async fn a_retried_multipart_reply_with_the_same_key_creates_one_message(app) {
        let ticket = app.ticket("Clave", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        let path = format!("/api/v1/tickets/{ticket}/messages");
        let form = multipart(&[("body", "Adjunto el instructivo.")], &[("instructivo.pdf", "application/pdf", PDF)]);
        let first = send_multipart(&app, &path, Some(&app.admin), form.clone(), Some("reintento-1")).await;
        let second = send_multipart(&app, &path, Some(&app.admin), form, Some("reintento-1")).await;
        assert_eq!((first.status, second.status), (StatusCode::CREATED, StatusCode::CREATED), "{}", second.body);
        assert_eq!(second.headers.get("Idempotent-Replayed").unwrap(), "true");
        assert_eq!(first.body, second.body);
        assert_eq!(messages_of(&app, ticket).await.len(), 2);
        // The same key with other bytes is refused.
        let other = multipart(&[("body", "Adjunto el instructivo.")], &[("instructivo.pdf", "application/pdf", PNG)]);
        let refused = send_multipart(&app, &path, Some(&app.admin), other, Some("reintento-1")).await;
        assert_eq!(assert_problem(&refused, 422), ["Idempotency-Key"]);
    }

    async fn dangerous_or_empty_file_names_are_cleaned_or_refused(app) {
        let ticket = app.ticket("Nombres", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        let long = format!("{}.pdf", "n".repeat(400));
        let files = [
            ("../../etc/passwd", "text/plain", &b"root"[..]),
            ("..\\\\..\\\\boot.ini", "text/plain", &b"x"[..]),
            (long.as_str(), "application/pdf", PDF),
        ];
        let reply = reply_with(&app, &app.admin, ticket, &[("body", "Archivos")], &files).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let names: Vec<String> =
            reply.body["attachments"].as_array().unwrap().iter().map(|f| f["filename"].as_str().unwrap().to_owned()).collect();
        assert_eq!(names[..2], ["passwd", "boot.ini"]);
        assert!(names[2].len() <= 120 && names[2].ends_with(".pdf"), "{}", names[2]);

        // Nothing left of the name, or nothing in the file: 422 naming the file, nothing stored.
        let nameless = reply_with(&app, &app.admin, ticket, &[("body", "x")], &[("a.pdf", "application/pdf", PDF), ("../", "text/plain", b"x")]).await;
        assert_eq!(assert_problem(&nameless, 422), ["files[1]"]);
        let empty = reply_with(&app, &app.admin, ticket, &[("body", "x")], &[("vacío.txt", "text/plain", b"")]).await;
        assert_eq!(assert_problem(&empty, 422), ["files[0]"]);
        assert!(empty.body["errors"][0]["message"].as_str().unwrap().contains("vacío"), "{}", empty.body);
        assert_eq!(messages_of(&app, ticket).await.len(), 2);
        // The JSON fields keep their rules in a form.
        let unknown = reply_with(&app, &app.admin, ticket, &[("body", "x"), ("color", "rojo")], &[]).await;
        assert_eq!(assert_problem(&unknown, 422), ["color"]);
    }
}

upload_test!(
    replies_beyond_the_limits_are_refused_naming_the_field,
    |s| {
        s.attachments.max_file_bytes = 1024;
        s.attachments.max_files_per_message = 2;
        s.attachments.max_message_bytes = 1500;
    },
    |app| {
        let ticket = app.ticket("Límites", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        let big = vec![b'x'; 1025];
        let too_big = reply_with(
            &app,
            &app.admin,
            ticket,
            &[("body", "x")],
            &[("a.txt", "text/plain", b"a"), ("grande.txt", "text/plain", &big)],
        )
        .await;
        assert_eq!(assert_problem(&too_big, 413), ["files[1]"]);
        assert!(too_big.body["errors"][0]["message"].as_str().unwrap().contains("supera 1 KB"), "{}", too_big.body);
        let eight = vec![b'y'; 800];
        let total = reply_with(
            &app,
            &app.admin,
            ticket,
            &[("body", "x")],
            &[("a.txt", "text/plain", &eight), ("b.txt", "text/plain", &eight)],
        )
        .await;
        assert_eq!(assert_problem(&total, 413), ["files"]);
        let three = [("a.txt", "text/plain", &b"a"[..]), ("b.txt", "text/plain", b"b"), ("c.txt", "text/plain", b"c")];
        let many = reply_with(&app, &app.admin, ticket, &[("body", "x")], &three).await;
        assert_eq!(assert_problem(&many, 422), ["files"]);
        assert_eq!(messages_of(&app, ticket).await.len(), 1);
        let two = reply_with(&app, &app.admin, ticket, &[("body", "x")], &three[..2]).await;
        assert_eq!(two.status, StatusCode::CREATED, "{}", two.body);

        // The published document states the multipart body with the configured limits.
        let doc = app.get("/api/v1/openapi.json").await.body;
        let content = &doc["paths"]["/api/v1/tickets/{id}/messages"]["post"]["requestBody"]["content"];
        assert_eq!(content["multipart/form-data"]["schema"]["$ref"], "#/components/schemas/CreateMessageForm");
        let files = &doc["components"]["schemas"]["CreateMessageForm"]["properties"]["files"];
        assert_eq!(files["maxItems"], 2);
        assert!(files["description"].as_str().unwrap().contains("1024 bytes per file"), "{files}");
        assert_eq!(doc["components"]["schemas"]["PublicTicketForm"]["properties"]["files"]["maxItems"], 3);
    }
);

upload_test!(
    the_public_form_takes_files_of_the_configured_types_and_sizes,
    |s| {
        s.attachments.max_file_bytes = 2048;
        s.attachments.form_max_files = 2;
    },
    |app| {
        let accepted =
            submit_form(&app, &[("captura.png", "image/png", PNG), ("orden.pdf", "application/octet-stream", PDF)])
                .await;
        let ticket = ticket_of(&app, &accepted).await;
        let files = messages_of(&app, ticket["id"].as_i64().unwrap()).await[0]["attachments"].clone();
        // Typed by their bytes, not by what the browser said.
        assert_eq!(files[1]["media_type"], "application/pdf");
        assert_eq!(files[0]["sha256"], sha(PNG));

        // An HTML page called a PNG is refused, whatever its declared type.
        let refused = submit_form(&app, &[("foto.png", "image/png", HTML)]).await;
        assert_eq!(assert_problem(&refused, 422), ["files[0]"]);
        let message = refused.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("no es de un tipo admitido") && message.contains("PNG"), "{message}");
        let mut big = PNG.to_vec();
        big.resize(2049, 0);
        assert_eq!(assert_problem(&submit_form(&app, &[("grande.png", "image/png", &big)]).await, 413), ["files[0]"]);
        let three = [("a.png", "image/png", PNG), ("b.png", "image/png", PNG), ("c.png", "image/png", PNG)];
        assert_eq!(assert_problem(&submit_form(&app, &three).await, 422), ["files"]);
        // A form without files and the JSON body keep working; the honeypot still drops bots.
        ticket_of(&app, &submit_form(&app, &[]).await).await;
        let mut bot = public_form("Oferta");
        bot[5].1 = "http://spam".into();
        let bot: Vec<(&str, &str)> = bot.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let dropped = send_multipart(&app, "/api/v1/public/tickets", None, multipart(&bot, &[]), None).await;
        assert_problem(&dropped, 400);
        let json = app.call(Method::POST, "/api/v1/public/tickets", None, Some(&json!({
        "name": "Ana", "email": "ana@municipalidad.cl", "segment": "comprador", "subject": "JSON", "body": "Sin archivos",
    }))).await;
        assert_eq!(json.status, StatusCode::CREATED, "{}", json.body);
    }
);

on_all_backends! {
    async fn the_case_page_links_its_public_files_and_nothing_else(app) {
        let reply = submit_form(&app, &[("captura.png", "image/png", PNG)]).await;
        let ticket = ticket_of(&app, &reply).await["id"].as_i64().unwrap();
        let note = reply_with(&app, &app.admin, ticket, &[("body", "Nota"), ("visibility", "internal")], &[("interno.pdf", "application/pdf", PDF)]).await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
        let internal = note.body["attachments"][0]["id"].as_i64().unwrap();
        let other = ticket_of(&app, &submit_form(&app, &[("otro.pdf", "application/pdf", PDF)]).await).await["id"].as_i64().unwrap();
        let foreign = messages_of(&app, other).await[0]["attachments"][0]["id"].as_i64().unwrap();
        let public = messages_of(&app, ticket).await[0]["attachments"][0]["id"].as_i64().unwrap();

        let token = app.signer.case_token(ticket);
        let page = app.client.get(format!("{}/casos/{token}", app.address)).send().await.unwrap().text().await.unwrap();
        let link = format!("/casos/{token}/archivos/{public}");
        assert!(page.contains(&format!("href=\"{link}\"")) && page.contains("captura.png"), "{page}");
        assert!(!page.contains("interno.pdf"), "{page}");

        let get = |path: String| {
            let client = app.client.clone();
            let url = format!("{}{path}", app.address);
            async move { client.get(url).send().await.unwrap() }
        };
        let file = get(link).await;
        assert_eq!(file.status(), StatusCode::OK);
        assert_eq!(file.headers()["content-type"], "image/png");
        assert_eq!(file.headers()["x-content-type-options"], "nosniff");
        assert_eq!(&file.bytes().await.unwrap()[..], PNG);
        let other_token = app.signer.case_token(other);
        for path in [
            format!("/casos/{token}/archivos/{internal}"),
            format!("/casos/{token}/archivos/{foreign}"),
            format!("/casos/{other_token}/archivos/{public}"),
            format!("/casos/{token}x/archivos/{public}"),
            format!("/casos/{token}/archivos/999999"),
        ] {
            assert_eq!(get(path.clone()).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }
}

/// A reply with a file reaches the SMTP server with the file as a MIME part; a note mails nothing.
async fn mailed_reply(backend: Backend) {
    let Some(sink) = SmtpSink::start() else { return };
    let app = spawn_with_smtp(backend, sink.port, |_| {}).await;
    let ticket = app.ticket("Orden de compra", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
    sink.wait_for(1).await; // the acknowledgement
    let note = reply_with(
        &app,
        &app.admin,
        ticket,
        &[("body", "Nota"), ("visibility", "internal")],
        &[("interno.pdf", "application/pdf", PDF)],
    )
    .await;
    assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
    let reply = reply_with(
        &app,
        &app.admin,
        ticket,
        &[("body", "Adjunto la guía.")],
        &[("guía de compra.pdf", "application/pdf", PDF), ("captura.png", "image/png", PNG)],
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let mails = sink.wait_for(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.delivered().len(), 2, "the note mailed nothing");
    let message = MessageParser::default().parse(&mails[1]).unwrap();
    assert!(message.body_text(0).unwrap().contains("Adjunto la guía."));
    let parts: Vec<(String, String, Vec<u8>)> = message
        .attachments()
        .map(|a| {
            let media_type =
                a.content_type().map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))).unwrap_or_default();
            (a.attachment_name().unwrap_or("").to_owned(), media_type, a.contents().to_vec())
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("guía de compra.pdf".to_owned(), "application/pdf".to_owned(), PDF.to_vec()),
            ("captura.png".to_owned(), "image/png".to_owned(), PNG.to_vec()),
        ]
    );
}

mod a_reply_with_files_is_mailed_with_them_as_mime_parts {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        mailed_reply(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        if postgres_url().is_some() {
            mailed_reply(Backend::Postgres).await;
        }
    }
}
