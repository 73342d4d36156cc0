//! Attachments: listed on their messages and downloaded with their exact bytes, typed by their
//! signature, by those who may read the ticket.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";
const HTML: &[u8] = b"<html><script>alert('x')</script></html>";

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ABC[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

fn part(media_type: &str, filename: &str, bytes: &[u8]) -> String {
    format!(
        "--b\r\nContent-Type: {media_type}; name=\"{filename}\"\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        base64(bytes)
    )
}

/// A buyer's mail with `files` (name, type, bytes); the new ticket's id.
pub(crate) async fn mail_files(app: &TestApp, files: &[(&str, &str, &[u8])]) -> i64 {
    let parts: String = files.iter().map(|(name, media_type, bytes)| part(media_type, name, bytes)).collect();
    let raw = format!(
        "From: compras@municipalidad.cl\r\nTo: soporte@mesa.chilecompra.cl\r\nSubject: Orden de compra rechazada\r\n\
         Message-ID: <adjuntos-{}@municipalidad.cl>\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAdjunto la orden y la captura.\r\n{parts}--b--\r\n",
        rand::random::<u64>(),
    );
    let request = app
        .client
        .post(format!("{}/api/v1/channels/email/inbound", app.address))
        .bearer_auth(&app.admin)
        .header("content-type", "message/rfc822")
        .body(raw);
    let reply = into_reply(request.send().await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["ticket_id"].as_i64().unwrap()
}

/// A buyer's mail with a PDF, a PNG and an HTML page that claims to be an image; the ticket's id.
async fn mail_with_files(app: &TestApp) -> i64 {
    mail_files(
        app,
        &[
            ("orden nº 12.pdf", "application/pdf", PDF),
            ("captura.png", "image/png", PNG),
            ("foto.png", "image/png", HTML),
        ],
    )
    .await
}

async fn download(app: &TestApp, token: &str, id: &Value) -> reqwest::Response {
    app.client.get(format!("{}/api/v1/attachments/{id}", app.address)).bearer_auth(token).send().await.unwrap()
}

on_all_backends! {
    async fn a_mails_files_are_listed_and_downloaded_with_their_exact_bytes(app) {
        let ticket = mail_with_files(&app).await;
        let agent = app.token(atencion::domain::Role::Agent).await;
        let messages = app.call(Method::GET, &format!("/api/v1/tickets/{ticket}/messages"), Some(&agent), None).await;
        let files = messages.body[0]["attachments"].as_array().unwrap().clone();
        let names: Vec<&str> = files.iter().map(|f| f["filename"].as_str().unwrap()).collect();
        assert_eq!(names, ["orden nº 12.pdf", "captura.png", "foto.png"]);
        assert_eq!(files[0]["sha256"], hex::encode(<sha2::Sha256 as sha2::Digest>::digest(PDF)));
        assert_eq!((files[1]["size"].as_u64(), files[1]["media_type"].as_str()), (Some(PNG.len() as u64), Some("image/png")));

        // (bytes, type read from them, disposition)
        let expected: [(&[u8], &str, &str); 3] = [
            (PDF, "application/pdf", "inline; filename=\"orden n_ 12.pdf\"; filename*=UTF-8''orden%20n%C2%BA%2012.pdf"),
            (PNG, "image/png", "inline; filename=\"captura.png\"; filename*=UTF-8''captura.png"),
            // Not an image, whatever its sender said: a download, never rendered.
            (HTML, "application/octet-stream", "attachment; filename=\"foto.png\"; filename*=UTF-8''foto.png"),
        ];
        for (file, (bytes, media_type, disposition)) in files.iter().zip(expected) {
            let response = download(&app, &agent, &file["id"]).await;
            assert_eq!(response.status(), StatusCode::OK);
            let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(header("content-type").as_deref(), Some(media_type));
            assert_eq!(header("content-disposition").as_deref(), Some(disposition));
            assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
            assert!(header("content-security-policy").unwrap().contains("sandbox"));
            assert_eq!(response.bytes().await.unwrap().as_ref(), bytes);
        }

        // Department staff do not learn the file exists; integrations may not read tickets.
        let department = app.token(atencion::domain::Role::Department).await;
        assert_eq!(download(&app, &department, &files[0]["id"]).await.status(), StatusCode::NOT_FOUND);
        let integration = app.token(atencion::domain::Role::Integration).await;
        assert_eq!(download(&app, &integration, &files[0]["id"]).await.status(), StatusCode::FORBIDDEN);
        let missing = download(&app, &agent, &Value::from(999_999)).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.headers()["content-type"], "application/problem+json");
    }
}
