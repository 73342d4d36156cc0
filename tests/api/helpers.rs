//! Test harness: every test starts its own app on port 0, on SQLite (a fresh file) and, when
//! `TEST_DATABASE_URL` is set, on Postgres (a fresh schema) with Redis from `TEST_REDIS_URL`.

use std::sync::OnceLock;

use atencion::auth;
use atencion::config::Settings;
use atencion::db::{Db, DbConnection};
use atencion::directory::{self, CreateAgentRequest};
use atencion::domain::Role;
use atencion::startup::Application;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin: String,
    pub db: Db,
    pub live: std::sync::Arc<atencion::kpi::Live>,
    /// Signs as the app does (its generated or configured secret).
    pub signer: std::sync::Arc<atencion::secrets::Signer>,
    pub backend: Backend,
    /// The app's database, for a second replica on the same one.
    pub database_url: String,
    /// The followers of the committed log, as the app runs them (its settings).
    pub followers: atencion::tickets::followers::Followers,
    _dir: Option<tempfile::TempDir>,
    _files: tempfile::TempDir,
    /// (base URL, schema) of a Postgres test schema, dropped with the app.
    pg_schema: Option<(String, String)>,
    /// (Redis URL, key prefix) of the app's live KPIs, deleted with the app.
    redis_keys: Option<(String, String)>,
}

impl Drop for TestApp {
    /// Keeps the test database small: thousands of leftover schemas make every later
    /// `DROP DATABASE` (and checkpoint) slow. Best effort: a lock held by a still-running
    /// background task must not hang the suite.
    fn drop(&mut self) {
        if let Some((url, prefix)) = self.redis_keys.take() {
            if let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) {
                let keys: Vec<String> =
                    redis::cmd("KEYS").arg(format!("{{{prefix}}}:*")).query(&mut conn).unwrap_or_default();
                if !keys.is_empty() {
                    let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(keys).query(&mut conn);
                }
            }
        }
        if let Some((base, schema)) = self.pg_schema.take() {
            if let Ok(mut conn) = PgConnection::establish(&base) {
                let _ = conn.batch_execute(&format!("SET lock_timeout = '3s'; DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `TEST_DATABASE_URL`, or `None` when running locally without it. In CI a missing or
/// unreachable backend fails the test instead of skipping it.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("CI=true but TEST_DATABASE_URL is not set: Postgres tests cannot be skipped in CI"),
        _ => {
            static ONCE: OnceLock<()> = OnceLock::new();
            ONCE.get_or_init(|| eprintln!("TEST_DATABASE_URL not set: Postgres variants skipped"));
            None
        }
    }
}

pub fn redis_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("CI=true but TEST_REDIS_URL is not set"),
        _ => None,
    }
}

/// A new schema in the test database, so tests never see each other's rows.
pub fn fresh_postgres_schema(base: &str) -> String {
    let schema = format!("t_{:016x}", rand::random::<u64>());
    create_schema(base, &schema)
}

/// Drops a schema made by [`fresh_postgres_schema`] (best effort).
pub fn drop_postgres_schema(schema: &str) {
    if let Some(mut conn) = postgres_url().and_then(|base| PgConnection::establish(&base).ok()) {
        let _ = conn.batch_execute(&format!("SET lock_timeout = '3s'; DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

/// Creates `schema` and returns the URL whose connections use it.
fn create_schema(base: &str, schema: &str) -> String {
    let mut conn = PgConnection::establish(base).unwrap_or_else(|e| panic!("TEST_DATABASE_URL unreachable: {e}"));
    conn.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    // Loopback tests need no TLS, and libpq's OpenSSL teardown can race the test process's exit
    // while pooled connections on server threads are still open.
    let tls = if base.contains("sslmode=") { "" } else { "&sslmode=disable" };
    format!("{base}{sep}options=-csearch_path%3D{schema}{tls}")
}

pub fn test_settings() -> Settings {
    let mut settings = Settings::defaults();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.database.pool_size = 4;
    settings.web_form.rate_limit_per_minute = 10_000;
    // Tests drive the SLA scanner themselves, so its timing is theirs.
    settings.sla.scan_interval_secs = 0;
    settings.routing.rotation_interval_secs = 0;
    // Tests run the trend scan themselves, as of the instants they choose.
    settings.trends.enabled = false;
    settings.departments.poll_interval_ms = 0;
    settings
}

pub async fn spawn(backend: Backend, customize: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings();
    let mut dir = None;
    let mut pg_schema = None;
    match backend {
        Backend::Sqlite => {
            let tmp = tempfile::tempdir().expect("temp dir");
            settings.database.url = format!("sqlite://{}", tmp.path().join("test.db").display());
            dir = Some(tmp);
        }
        Backend::Postgres => {
            let base = postgres_url().expect("postgres variant needs TEST_DATABASE_URL");
            let schema = format!("t_{:016x}", rand::random::<u64>());
            settings.database.url = create_schema(&base, &schema);
            pg_schema = Some((base, schema));
            settings.redis.url = redis_url().unwrap_or_default();
        }
    }
    // Tests share one Redis: each app writes under its own prefix.
    settings.redis.key_prefix = format!("t{:016x}", rand::random::<u64>());
    let files = tempfile::tempdir().expect("temp dir");
    settings.attachments.dir = files.path().join("attachments").display().to_string();
    customize(&mut settings);
    let redis_keys = settings.redis_url().map(|url| (url.to_owned(), settings.redis.key_prefix.clone()));
    let database_url = settings.database.url.clone();
    let followers = atencion::reactions::followers(&settings.email);
    let app = Application::build(settings).await.expect("app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db.clone();
    let live = app.live.clone();
    let signer = app.signer.clone();
    tokio::spawn(app.run_until_stopped());
    let admin = db.write(|c| token_for(c, Role::Admin, "Admin de prueba")).await.expect("admin token");
    TestApp {
        address,
        client: reqwest::Client::new(),
        admin,
        db,
        live,
        signer,
        backend,
        database_url,
        followers,
        _dir: dir,
        _files: files,
        pg_schema,
        redis_keys,
    }
}

/// Creates an agent with `role` and returns a fresh token for it.
pub fn token_for(c: &mut DbConnection, role: Role, name: &str) -> Result<String, atencion::error::AppError> {
    let department_id = (role == Role::Department).then_some(2);
    let agent = directory::create_agent(
        c,
        CreateAgentRequest { name: name.into(), email: None, role, department_id, extension: None },
    )?;
    auth::issue_token(c, agent.id, name)
}

/// One test body, run once per configured backend.
macro_rules! on_all_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    let $app = crate::helpers::spawn(crate::helpers::Backend::Sqlite, |_| {}).await;
                    $body
                }

                #[tokio::test]
                async fn postgres() {
                    if crate::helpers::postgres_url().is_none() {
                        return;
                    }
                    let $app = crate::helpers::spawn(crate::helpers::Backend::Postgres, |_| {}).await;
                    $body
                }
            }
        )*
    };
}
pub(crate) use on_all_backends;

/// Runs each test on SQLite and (when configured) on Postgres, with `$backend` naming which.
macro_rules! on_both {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    let $backend = crate::helpers::Backend::Sqlite;
                    $body
                }

                #[tokio::test]
                async fn postgres() {
                    if crate::helpers::postgres_url().is_none() {
                        return;
                    }
                    let $backend = crate::helpers::Backend::Postgres;
                    $body
                }
            }
        )*
    };
}
pub(crate) use on_both;

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    /// Sets the followers' position back to the start of the log, lets several read it at once,
    /// then waits until they caught up: what following the log again does.
    pub async fn follow_again(&self) {
        use atencion::db::schema::log_follower;
        use atencion::tickets::followers;
        use diesel::prelude::*;
        let reset = diesel::update(log_follower::table).set(log_follower::last_event_id.eq(0));
        self.db.write(move |c| Ok(reset.execute(c)?)).await.unwrap();
        let runs = (0..3).map(|_| {
            let list = self.followers.clone();
            self.db.write(move |c| followers::step(c, &list))
        });
        for step in futures_util::future::join_all(runs).await {
            step.unwrap();
        }
        self.followed().await;
    }

    /// Waits until the followers of the committed log (notifications, acknowledgements, surveys)
    /// have followed every event committed before the call. Steps them here too, beside the app's
    /// background ones (one holds the log at a time), so it also works with those turned off.
    pub async fn followed(&self) {
        use atencion::db::schema::ticket_events;
        use atencion::tickets::followers;
        use diesel::prelude::*;
        let newest: i64 = self
            .db
            .read(|c| Ok(ticket_events::table.select(diesel::dsl::max(ticket_events::id)).first::<Option<i64>>(c)?))
            .await
            .unwrap()
            .unwrap_or(0);
        let started = std::time::Instant::now();
        loop {
            let list = self.followers.clone();
            self.db.write(move |c| followers::step(c, &list)).await.expect("follower step");
            if self.db.read(followers::position).await.unwrap() >= newest {
                return;
            }
            // A hole in the ids holds the position for a few seconds (see `kpi::projector::advance`).
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "the log's followers did not catch up");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        into_reply(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Some(&self.admin), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&self.admin), Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(&self.admin), Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, Some(&self.admin), None).await
    }

    pub async fn token(&self, role: Role) -> String {
        self.db.write(move |c| token_for(c, role, role.as_str())).await.expect("token")
    }

    /// Creates a ticket through the API and returns its JSON.
    pub async fn ticket(&self, subject: &str, email: &str) -> Value {
        let reply = self.post("/api/v1/tickets", ticket_body(subject, email)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }
}

pub async fn into_reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, headers, body }
}

pub fn ticket_body(subject: &str, email: &str) -> Value {
    json!({
        "subject": subject,
        "body": "No puedo ingresar a Mercado Público con mi clave.",
        "requester": {"name": "Ana Pérez", "email": email, "segment": "comprador", "organization": "Municipalidad de Providencia"},
        "category": "acceso-clave",
    })
}

/// Asserts a problem+json reply with `status`, returning the field names of its errors.
pub fn assert_problem(reply: &Reply, status: u16) -> Vec<String> {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(content_type, "application/problem+json", "body: {}", reply.body);
    assert_eq!(reply.body["status"], status);
    assert!(reply.body["type"].as_str().unwrap().starts_with("urn:atencion:problem:"));
    assert!(reply.body["title"].is_string());
    reply.body["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}
