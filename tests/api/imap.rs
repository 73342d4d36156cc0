//! IMAP intake against a real Dovecot (`tests/imap/dovecot.sh`, installed by `.ci/run`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use async_imap::Client;
use atencion::attachments::FileStore;
use atencion::channels::email::imap::{poll_once, MailboxSettings};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::email::free_port;
use crate::helpers::*;

struct Dovecot {
    dir: tempfile::TempDir,
    port: u16,
}

impl Dovecot {
    fn start() -> Option<Dovecot> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/imap/dovecot.sh");
        if Command::new("sh").args(["-c", "command -v dovecot"]).output().map(|o| !o.status.success()).unwrap_or(true) {
            assert!(std::env::var("CI").is_err(), "CI must install dovecot-imapd");
            eprintln!("dovecot missing: IMAP test skipped locally");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let out = Command::new(&script)
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string())
            .args(["soporte", "clave-de-prueba"])
            .output()
            .unwrap();
        assert!(out.status.success(), "dovecot did not start: {}", String::from_utf8_lossy(&out.stderr));
        Some(Dovecot { dir, port })
    }

    fn mailbox(&self, processed: Option<&str>) -> MailboxSettings {
        MailboxSettings {
            name: "soporte".into(),
            host: "127.0.0.1".into(),
            port: self.port,
            tls: false,
            starttls: false,
            ca_file: None,
            username: "soporte".into(),
            password: "clave-de-prueba".into(),
            folder: "INBOX".into(),
            processed_folder: processed.map(str::to_owned),
            poll_interval_secs: 1,
        }
    }

    async fn session(&self) -> async_imap::Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let mut client = Client::new(tcp);
        client.read_response().await.unwrap();
        client.login("soporte", "clave-de-prueba").await.map_err(|(e, _)| e).unwrap()
    }

    async fn append(&self, raw: &str) {
        let mut session = self.session().await;
        session.append("INBOX", None, None, raw.replace('\n', "\r\n")).await.unwrap();
        session.logout().await.unwrap();
    }

    /// (unseen, total) messages in a folder.
    async fn counts(&self, folder: &str) -> (usize, usize) {
        let mut session = self.session().await;
        session.select(folder).await.unwrap();
        let unseen = session.uid_search("UNSEEN").await.unwrap().len();
        let all = session.uid_search("ALL").await.unwrap().len();
        session.logout().await.unwrap();
        (unseen, all)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/imap/dovecot.sh");
        let _ = Command::new(script).arg("stop").arg(self.dir.path()).status();
    }
}

fn mail(id: &str, subject: &str) -> String {
    format!("From: Ana <ana@municipalidad.cl>\nTo: soporte@mesa.chilecompra.cl\nSubject: {subject}\nMessage-ID: <{id}@correo.cl>\n\nCuerpo de {subject}\n")
}

async fn tickets(app: &TestApp) -> Vec<Value> {
    app.get("/api/v1/tickets?limit=100").await.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn imap_mail_is_stored_then_flagged_and_bad_mail_does_not_block() {
    let Some(dovecot) = Dovecot::start() else { return };
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let email = atencion::config::Settings::defaults().email;
    let files = std::sync::Arc::new(FileStore::new(tempfile::tempdir().unwrap().keep()));
    dovecot.append(&mail("uno", "Clave bloqueada")).await;
    dovecot.append("Subject: sin remitente\n\nroto\n").await;
    dovecot.append(&mail("dos", "Pago atrasado")).await;

    let stored = poll_once(&app.db, &email, &app.signer, &files, &dovecot.mailbox(None)).await.unwrap();
    assert_eq!(stored, 3);
    let subjects: Vec<String> = tickets(&app).await.iter().map(|t| t["subject"].as_str().unwrap().to_owned()).collect();
    assert_eq!(subjects, ["Pago atrasado", "Clave bloqueada"]);
    assert_eq!(tickets(&app).await[0]["channel"], "email");
    // The broken mail is in quarantine, and everything was flagged only after being stored.
    assert_eq!(app.get("/api/v1/channels/email/quarantine").await.body.as_array().unwrap().len(), 1);
    assert_eq!(dovecot.counts("INBOX").await, (0, 3));
    // Nothing new: a second pass stores nothing.
    assert_eq!(poll_once(&app.db, &email, &app.signer, &files, &dovecot.mailbox(None)).await.unwrap(), 0);
}

#[tokio::test]
async fn a_crash_before_flagging_neither_loses_nor_duplicates() {
    let Some(dovecot) = Dovecot::start() else { return };
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let email = atencion::config::Settings::defaults().email;
    let files = std::sync::Arc::new(FileStore::new(tempfile::tempdir().unwrap().keep()));
    dovecot.append(&mail("tres", "Orden de compra")).await;
    // Simulate the crash: the mail was stored (same bytes through the same intake) but the
    // poller died before flagging it on the server.
    let mut session = dovecot.session().await;
    session.select("INBOX").await.unwrap();
    let mut fetched = session.uid_fetch("1:*", "BODY.PEEK[]").await.unwrap();
    let raw = fetched.next().await.unwrap().unwrap().body().unwrap().to_vec();
    drop(fetched);
    session.logout().await.unwrap();
    let parsed = atencion::channels::email::parse::parse(&raw, &email.loop_header).unwrap();
    let (e, s, f) = (email.clone(), app.signer.clone(), files.clone());
    app.db.write(move |c| atencion::channels::email::intake::ingest(c, &e, &s, &f, "soporte", &parsed)).await.unwrap();
    assert_eq!(dovecot.counts("INBOX").await, (1, 1));

    // After the restart the mail is fetched again: recognised, not stored twice, now flagged
    // and moved to the processed folder.
    let mut session = dovecot.session().await;
    session.create("Procesados").await.unwrap();
    session.logout().await.unwrap();
    assert_eq!(poll_once(&app.db, &email, &app.signer, &files, &dovecot.mailbox(Some("Procesados"))).await.unwrap(), 1);
    assert_eq!(tickets(&app).await.len(), 1);
    let ticket = tickets(&app).await[0]["id"].as_i64().unwrap();
    assert_eq!(app.get(&format!("/api/v1/tickets/{ticket}/messages")).await.body.as_array().unwrap().len(), 1);
    assert_eq!(dovecot.counts("INBOX").await, (0, 0));
    assert_eq!(dovecot.counts("Procesados").await.1, 1);
}

#[tokio::test]
async fn configured_mailboxes_are_polled_by_the_service() {
    let Some(dovecot) = Dovecot::start() else { return };
    let mailbox = dovecot.mailbox(None);
    let app = spawn(Backend::Sqlite, move |s| s.email.mailboxes = vec![mailbox]).await;
    dovecot.append(&mail("cuatro", "Convenio Marco")).await;
    let started = std::time::Instant::now();
    while tickets(&app).await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(15), "the poller did not fetch the mail");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(tickets(&app).await[0]["subject"], "Convenio Marco");
}

#[tokio::test]
async fn with_idle_new_mail_arrives_without_waiting_for_the_poll_interval() {
    let Some(dovecot) = Dovecot::start() else { return };
    // An hour between polls: only IDLE can bring the mail in quickly.
    let mailbox = MailboxSettings { poll_interval_secs: 3600, ..dovecot.mailbox(None) };
    let app = spawn(Backend::Sqlite, move |s| s.email.mailboxes = vec![mailbox]).await;
    dovecot.append(&mail("cinco", "Antes de conectarse")).await;
    let started = std::time::Instant::now();
    while tickets(&app).await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(15), "the first pass did not fetch the mail");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The watcher is now idling; a new mail is announced by the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    dovecot.append(&mail("seis", "Durante IDLE")).await;
    let announced = std::time::Instant::now();
    while tickets(&app).await.len() < 2 {
        assert!(announced.elapsed() < Duration::from_secs(10), "IDLE did not bring the new mail");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tickets(&app).await[0]["subject"], "Durante IDLE");
    assert_eq!(dovecot.counts("INBOX").await, (0, 2));
}

#[tokio::test]
async fn starttls_upgrades_the_connection_and_verifies_the_server() {
    let Some(dovecot) = Dovecot::start() else { return };
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let email = atencion::config::Settings::defaults().email;
    let files = std::sync::Arc::new(FileStore::new(tempfile::tempdir().unwrap().keep()));
    dovecot.append(&mail("siete", "Por STARTTLS")).await;
    // Without the test CA the server's certificate is not trusted: nothing is fetched.
    let untrusted = MailboxSettings { starttls: true, ..dovecot.mailbox(None) };
    let refused = poll_once(&app.db, &email, &app.signer, &files, &untrusted).await.unwrap_err();
    assert!(format!("{refused:#}").to_lowercase().contains("certificate"), "{refused:#}");
    assert_eq!(dovecot.counts("INBOX").await, (1, 1));
    let ca = dovecot.dir.path().join("tls/ca.pem").display().to_string();
    let trusted = MailboxSettings { starttls: true, ca_file: Some(ca), ..dovecot.mailbox(None) };
    assert_eq!(poll_once(&app.db, &email, &app.signer, &files, &trusted).await.unwrap(), 1);
    assert_eq!(tickets(&app).await[0]["subject"], "Por STARTTLS");
    assert_eq!(dovecot.counts("INBOX").await, (0, 1));
}
