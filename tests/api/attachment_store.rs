//! Where attachment bytes live: the database store shared by replicas, the garbage sweep, and
//! malware scanning against a real ClamAV daemon (with a signature database made here: this
//! machine has no internet for freshclam).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atencion::attachments::{self, FileStore};
use atencion::config::{Settings, StoreKind};
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::Digest;

use crate::attachments::mail_files as mail;
use crate::helpers::*;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
/// The antivirus test file (harmless; every scanner reports it).
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The attachments of the ticket's first message, as an agent sees them.
async fn files_of(app: &TestApp, agent: &str, ticket: i64) -> Vec<Value> {
    let messages = app.call(Method::GET, &format!("/api/v1/tickets/{ticket}/messages"), Some(agent), None).await;
    assert_eq!(messages.status, StatusCode::OK, "{}", messages.body);
    messages.body[0]["attachments"].as_array().unwrap().clone()
}

async fn download(app: &TestApp, agent: &str, id: &Value) -> (StatusCode, Vec<u8>, String) {
    let response =
        app.client.get(format!("{}/api/v1/attachments/{id}", app.address)).bearer_auth(agent).send().await.unwrap();
    let status = response.status();
    let media_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, response.bytes().await.unwrap().to_vec(), media_type)
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The store an app with `kind` and `dir` uses, for the test to sweep with its own grace period.
fn store(kind: StoreKind, dir: &Path) -> std::sync::Arc<FileStore> {
    let mut settings: Settings = test_settings();
    settings.attachments.store = kind;
    settings.attachments.dir = dir.display().to_string();
    std::sync::Arc::new(FileStore::from_settings(&settings).unwrap())
}

async fn count(app: &TestApp, table: &'static str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    app.db
        .read(move |c| Ok(diesel::sql_query(format!("SELECT count(*) AS n FROM {table}")).get_result::<N>(c)?.n))
        .await
        .unwrap()
}

/// What removes attachment rows: a ticket's deletion cascades to its messages and attachments.
async fn delete_ticket(app: &TestApp, ticket: i64) {
    app.db
        .write(move |c| {
            diesel::delete(atencion::db::schema::tickets::table.find(ticket)).execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

on_both! {
    async fn three_replicas_share_a_mailed_file_through_the_database(backend) {
        let first = spawn(backend, |s| s.attachments.store = StoreKind::Database).await;
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let url = first.database_url.clone();
            replicas.push(spawn(backend, move |s| {
                s.database.url = url;
                s.attachments.store = StoreKind::Database;
            }).await);
        }
        let ticket = mail(&first, &[("orden de compra.pdf", "application/pdf", PDF)]).await;
        let agent = first.token(atencion::domain::Role::Agent).await;
        let files = files_of(&first, &agent, ticket).await;
        assert_eq!(files[0]["scan"], "unscanned");
        for replica in &replicas {
            // Each replica has its own (empty) directory: the bytes can only come from the database.
            let listed = files_of(replica, &agent, ticket).await;
            assert_eq!(listed[0]["sha256"], sha(PDF));
            let (status, bytes, media_type) = download(replica, &agent, &listed[0]["id"]).await;
            assert_eq!((status, media_type.as_str()), (StatusCode::OK, "application/pdf"));
            assert_eq!(bytes, PDF);
        }
    }

    async fn identical_files_are_stored_once_and_deleted_when_no_attachment_refers_to_them(backend) {
        for kind in [StoreKind::Directory, StoreKind::Database] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().to_owned();
            let app = spawn(backend, move |s| {
                s.attachments.store = kind;
                s.attachments.dir = path.display().to_string();
            })
            .await;
            let files = store(kind, dir.path());
            let on_disk = dir.path().join(&sha(PDF)[..2]).join(sha(PDF));
            let first = mail(&app, &[("orden.pdf", "application/pdf", PDF)]).await;
            let second = mail(&app, &[("copia de la orden.pdf", "application/pdf", PDF)]).await;
            assert_eq!(count(&app, "attachments").await, 2);
            assert_eq!(count(&app, "attachment_files").await, 1, "{kind:?}");
            assert_eq!(count(&app, "attachment_blobs").await, i64::from(kind == StoreKind::Database));
            assert_eq!(on_disk.exists(), kind == StoreKind::Directory);

            delete_ticket(&app, first).await;
            assert_eq!(attachments::sweep(&app.db, &files, Duration::ZERO).await.unwrap(), 0, "still referenced");
            delete_ticket(&app, second).await;
            // Stored a moment ago: a writer may be about to refer to it again.
            assert_eq!(attachments::sweep(&app.db, &files, Duration::from_secs(3600)).await.unwrap(), 0);
            assert_eq!(count(&app, "attachment_files").await, 1);
            assert_eq!(attachments::sweep(&app.db, &files, Duration::ZERO).await.unwrap(), 1, "{kind:?}");
            assert_eq!(count(&app, "attachment_files").await, 0);
            assert_eq!(count(&app, "attachment_blobs").await, 0);
            assert!(!on_disk.exists());
            // A second sweep (another replica) finds nothing left to delete.
            assert_eq!(attachments::sweep(&app.db, &files, Duration::ZERO).await.unwrap(), 0);
        }
    }

    async fn files_no_row_tracks_are_deleted_once_old(backend) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let app = spawn(backend, move |s| s.attachments.dir = path.display().to_string()).await;
        let files = store(StoreKind::Directory, dir.path());
        // As a writer whose transaction rolled back leaves it.
        let orphan = dir.path().join(&sha(b"x")[..2]).join(sha(b"x"));
        std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
        std::fs::write(&orphan, b"x").unwrap();
        assert_eq!(attachments::sweep(&app.db, &files, Duration::from_secs(3600)).await.unwrap(), 0);
        assert!(orphan.exists(), "a fresh file may belong to a transaction in flight");
        let old = std::time::SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options().append(true).open(&orphan).unwrap().set_modified(old).unwrap();
        assert_eq!(attachments::sweep(&app.db, &files, Duration::from_secs(3600)).await.unwrap(), 1);
        assert!(!orphan.exists());
    }
}

// ------------------------------------------------------------------ a real clamd

/// A private ClamAV daemon on a local port, knowing one signature: the EICAR test file's.
struct Clamd {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Clamd {
    /// `None` (the test is skipped) when clamd is not installed, except with `CI=true`.
    fn new() -> Option<Clamd> {
        let binary = Path::new("/usr/sbin/clamd");
        if !binary.exists() {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("CI=true but /usr/sbin/clamd is missing (apt-get install clamav-daemon)");
            }
            eprintln!("clamd not installed: malware scanning tests skipped");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // A hash signature: SHA-256, size and name (what clamd reports).
        std::fs::write(dir.path().join("prueba.hsb"), format!("{}:{}:Eicar-Signature\n", sha(EICAR), EICAR.len()))
            .unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Foreground yes\nLogClean yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nLocalSocket {}\nDatabaseDirectory {}\nLogFile {}\n",
            dir.path().join("clamd.sock").display(),
            dir.path().display(),
            dir.path().join("clamd.log").display()
        );
        std::fs::write(dir.path().join("clamd.conf"), config).unwrap();
        Some(Clamd { dir, port, child: None })
    }

    fn address(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// The same daemon's unix socket.
    fn socket(&self) -> String {
        self.dir.path().join("clamd.sock").display().to_string()
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("clamd.conf")
    }

    /// Starts the daemon and waits until it answers.
    async fn start(&mut self) {
        let child = Command::new("/usr/sbin/clamd")
            .arg("-c")
            .arg(self.config())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clamd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while attachments::scan::scan(&self.address(), b"ping").await.is_err() {
            let log = std::fs::read_to_string(self.dir.path().join("clamd.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "clamd did not start: {log}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Clamd {
    /// Files clamd has scanned so far (its log has a line per stream, clean ones included).
    fn scans(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("clamd.log")).unwrap_or_default();
        log.lines().filter(|line| line.contains("instream(")).count()
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls the ticket's files until none is pending (or 60 s pass).
async fn scanned(app: &TestApp, agent: &str, ticket: i64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let files = files_of(app, agent, ticket).await;
        if files.iter().all(|f| f["scan"] != "pending") {
            return files;
        }
        assert!(Instant::now() < deadline, "still pending: {files:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The directory store and clamd's unix socket on SQLite, the database store and TCP on Postgres:
/// both places and both ways to reach clamd are covered.
fn scanning(backend: Backend, clamd: &Clamd, dir: &Path) -> impl FnOnce(&mut Settings) {
    let address = if backend == Backend::Postgres { clamd.address() } else { clamd.socket() };
    let dir = dir.display().to_string();
    move |s| {
        s.attachments.clamd = address;
        s.attachments.scan_interval_ms = 100;
        s.attachments.scan_retry_secs = 1;
        s.attachments.dir = dir;
        if backend == Backend::Postgres {
            s.attachments.store = StoreKind::Database;
        }
    }
}

on_both! {
    async fn eicar_is_infected_never_served_and_the_agent_sees_why(backend) {
        let Some(mut clamd) = Clamd::new() else { return };
        clamd.start().await;
        let dir = tempfile::tempdir().unwrap();
        let app = spawn(backend, scanning(backend, &clamd, dir.path())).await;
        let agent = app.token(atencion::domain::Role::Agent).await;
        let ticket = mail(&app, &[("factura.pdf", "application/pdf", PDF), ("factura.exe", "application/octet-stream", EICAR)]).await;
        let files = scanned(&app, &agent, ticket).await;

        assert_eq!((&files[0]["scan"], &files[0]["scan_detail"]), (&Value::from("clean"), &Value::Null));
        let (status, bytes, _) = download(&app, &agent, &files[0]["id"]).await;
        assert_eq!((status, bytes.as_slice()), (StatusCode::OK, PDF));

        assert_eq!((&files[1]["scan"], &files[1]["scan_detail"]), (&Value::from("infected"), &Value::from("Eicar-Signature")));
        let (status, body, media_type) = download(&app, &agent, &files[1]["id"]).await;
        assert_eq!((status, media_type.as_str()), (StatusCode::CONFLICT, "application/problem+json"));
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("contiene malware (Eicar-Signature); fue apartado"), "{problem}");
        // Kept apart: not where the directory store serves files from.
        assert!(!dir.path().join(&sha(EICAR)[..2]).join(sha(EICAR)).exists());

        // The same file mailed again is known malware at once.
        let again = mail(&app, &[("otra.exe", "application/octet-stream", EICAR)]).await;
        let files = files_of(&app, &agent, again).await;
        assert_eq!(files[0]["scan"], "infected");
        assert_eq!(download(&app, &agent, &files[0]["id"]).await.0, StatusCode::CONFLICT);
    }

    async fn with_clamd_down_files_wait_unserved_and_are_scanned_once_it_is_back(backend) {
        let Some(mut clamd) = Clamd::new() else { return };
        let dir = tempfile::tempdir().unwrap();
        let app = spawn(backend, scanning(backend, &clamd, dir.path())).await;
        let agent = app.token(atencion::domain::Role::Agent).await;
        let ticket = mail(&app, &[("orden.pdf", "application/pdf", PDF)]).await;
        // Several scan rounds and a retry fail meanwhile.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let files = files_of(&app, &agent, ticket).await;
        assert_eq!((&files[0]["scan"], &files[0]["scan_detail"]), (&Value::from("pending"), &Value::Null));
        let (status, body, _) = download(&app, &agent, &files[0]["id"]).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("se está analizando"), "{problem}");

        clamd.start().await;
        let files = scanned(&app, &agent, ticket).await;
        assert_eq!(files[0]["scan"], "clean");
        let (status, bytes, _) = download(&app, &agent, &files[0]["id"]).await;
        assert_eq!((status, bytes.as_slice()), (StatusCode::OK, PDF));
    }
}

on_both! {
    async fn three_replicas_scan_each_file_once(backend) {
        let Some(mut clamd) = Clamd::new() else { return };
        clamd.start().await;
        let before = clamd.scans();
        let dir = tempfile::tempdir().unwrap();
        let first = spawn(backend, scanning(backend, &clamd, dir.path())).await;
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let (join, url) = (scanning(backend, &clamd, dir.path()), first.database_url.clone());
            replicas.push(spawn(backend, move |s| {
                join(s);
                s.database.url = url;
            }).await);
        }
        let agent = first.token(atencion::domain::Role::Agent).await;
        let pages: Vec<Vec<u8>> = (0..6).map(|i| format!("%PDF-1.4\n% página {i}\n%%EOF\n").into_bytes()).collect();
        let named: Vec<(String, &[u8])> = pages.iter().enumerate().map(|(i, p)| (format!("hoja {i}.pdf"), p.as_slice())).collect();
        let list: Vec<(&str, &str, &[u8])> = named.iter().map(|(n, p)| (n.as_str(), "application/pdf", *p)).collect();
        let ticket = mail(&replicas[1], &list).await;
        let files = scanned(&first, &agent, ticket).await;
        assert!(files.iter().all(|f| f["scan"] == "clean"), "{files:?}");
        // Give a late duplicate scan the time to show up in the log.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(clamd.scans() - before, pages.len(), "each file scanned by one replica, once");
    }
}
