//! Channel (c): each department may have a webhook. A worker on each replica leases due outbox
//! rows and POSTs their JSON payload, signed with the department's secret:
//! `X-Atencion-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, with
//! `X-Atencion-Timestamp` and `X-Atencion-Delivery` (the idempotency key). A 2xx answer delivers
//! it; anything else is retried with exponential backoff, and after a number of failures in a
//! row the webhook is disabled until an admin sets it again. Every request is logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use utoipa::ToSchema;

use crate::config::DepartmentSettings;
use crate::db::schema::{
    department_deliveries as dd, department_webhook_attempts as attempts, department_webhooks as hooks,
};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::{backend, Db, DbConnection};
use crate::domain::Principal;
use crate::domain::Role;
use crate::error::AppError;
use crate::tickets::model::Errors;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `https://…` (or `http://…` inside a trusted network).
    pub url: String,
    /// Signs every request; 16–256 characters. Never shown again; when changing only the URL it
    /// may be left out to keep the current one.
    #[schema(write_only)]
    pub secret: Option<String>,
}

/// A department's webhook (its secret is never shown).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    pub department_id: i64,
    pub url: String,
    pub enabled: bool,
    pub consecutive_failures: i32,
    /// After a failure, nothing is posted before this.
    pub retry_at: Option<DateTime<Utc>>,
    /// Why it was disabled; setting it again (PUT) enables it.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type HookRow = (i64, String, bool, i32, Option<UtcTime>, Option<String>, Option<UtcTime>, UtcTime, UtcTime);

fn load(conn: &mut DbConnection, department: i64) -> Result<Option<WebhookView>, AppError> {
    let row: Option<HookRow> = hooks::table
        .find(department)
        .select((
            hooks::department_id,
            hooks::url,
            hooks::enabled,
            hooks::consecutive_failures,
            hooks::retry_at,
            hooks::disabled_reason,
            hooks::disabled_at,
            hooks::created_at,
            hooks::updated_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(department_id, url, enabled, consecutive_failures, retry, reason, disabled, at, up)| WebhookView {
        department_id,
        url,
        enabled,
        consecutive_failures,
        retry_at: retry.map(|t| t.0),
        disabled_reason: reason,
        disabled_at: disabled.map(|t| t.0),
        created_at: at.0,
        updated_at: up.0,
    }))
}

/// The webhook of `department`, for admins, supervisors and the department's members.
pub fn get(conn: &mut DbConnection, who: &Principal, department: i64) -> Result<WebhookView, AppError> {
    super::visible(conn, who, department)?;
    load(conn, department)?.ok_or(AppError::NotFound("un webhook para este departamento"))
}

fn admin(who: &Principal) -> Result<(), AppError> {
    if who.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// Whether `url` is something the worker can post to.
fn valid_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<hyper::Uri>() else { return false };
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|h| !h.is_empty())
        && !uri.authority().is_some_and(|a| a.as_str().contains('@'))
}

/// Sets the webhook of `department` (admins), enabled and with its failures forgotten; what was
/// waiting for it is due at once. Returns it and whether it is new.
pub fn put(
    conn: &mut DbConnection,
    who: &Principal,
    department: i64,
    input: WebhookInput,
) -> Result<(WebhookView, bool), AppError> {
    super::visible(conn, who, department)?;
    admin(who)?;
    let current = load(conn, department)?;
    let mut errors = Errors::default();
    let url = input.url.trim().to_owned();
    if url.len() > 2000 || !valid_url(&url) {
        errors.add("url", "indique una URL http:// o https:// válida, sin credenciales");
    }
    match &input.secret {
        Some(s) if !(16..=256).contains(&s.chars().count()) => {
            errors.add("secret", "debe tener entre 16 y 256 caracteres")
        }
        None if current.is_none() => errors.add("secret", "indique el secreto con que se firmarán las entregas"),
        _ => {}
    }
    errors.finish()?;
    let now = UtcTime::now();
    let reset = (
        hooks::url.eq(&url),
        hooks::enabled.eq(true),
        hooks::consecutive_failures.eq(0),
        hooks::retry_at.eq(None::<UtcTime>),
        hooks::disabled_reason.eq(None::<String>),
        hooks::disabled_at.eq(None::<UtcTime>),
        hooks::updated_at.eq(now),
    );
    match (&current, input.secret) {
        (None, Some(secret)) => {
            diesel::insert_into(hooks::table)
                .values((
                    reset,
                    hooks::department_id.eq(department),
                    hooks::secret.eq(secret),
                    hooks::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        (_, secret) => {
            diesel::update(hooks::table.find(department)).set(reset).execute(conn)?;
            if let Some(secret) = secret {
                diesel::update(hooks::table.find(department)).set(hooks::secret.eq(secret)).execute(conn)?;
            }
            diesel::update(dd::table.filter(dd::department_id.eq(department)).filter(dd::webhook_status.eq("pending")))
                .set(dd::webhook_next_at.eq(now))
                .execute(conn)?;
        }
    }
    let view = load(conn, department)?.ok_or(AppError::NotFound("un webhook para este departamento"))?;
    Ok((view, current.is_none()))
}

/// Removes the webhook (admins); what was still waiting for it is cancelled (it stays in the
/// inbox and on the stream).
pub fn delete(conn: &mut DbConnection, who: &Principal, department: i64) -> Result<(), AppError> {
    super::visible(conn, who, department)?;
    admin(who)?;
    let n = diesel::delete(hooks::table.find(department)).execute(conn)?;
    if n == 0 {
        return Err(AppError::NotFound("un webhook para este departamento"));
    }
    diesel::update(
        dd::table.filter(dd::department_id.eq(department)).filter(dd::webhook_status.eq_any(["pending", "sending"])),
    )
    .set((dd::webhook_status.eq("cancelled"), dd::webhook_next_at.eq(None::<UtcTime>)))
    .execute(conn)?;
    Ok(())
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new().chain_update(block.map(|b| b ^ 0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(block.map(|b| b ^ 0x5c)).chain_update(inner).finalize().into()
}

/// The `X-Atencion-Signature` header of `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac))
}

/// Why a request did not deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The receiver answered, but not 2xx (redirects are not followed).
    HttpStatus(u16),
    Timeout,
    Connection,
    Tls,
    InvalidUrl,
}

impl Failure {
    /// As shown in the delivery log.
    pub fn class(self) -> &'static str {
        match self {
            Failure::HttpStatus(_) => "http_status",
            Failure::Timeout => "timeout",
            Failure::Connection => "connection",
            Failure::Tls => "tls",
            Failure::InvalidUrl => "invalid_url",
        }
    }

    fn describe(self) -> String {
        match self {
            Failure::HttpStatus(code) => format!("respondió HTTP {code}"),
            Failure::Timeout => "no respondió a tiempo".into(),
            Failure::Connection => "no se pudo conectar".into(),
            Failure::Tls => "falló la conexión segura (TLS)".into(),
            Failure::InvalidUrl => "la URL no es válida".into(),
        }
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Posts over HTTP/1.1, plain or TLS (the public roots and `webhook_ca_file`).
pub struct Sender {
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl Sender {
    pub fn new(settings: &DepartmentSettings) -> anyhow::Result<Sender> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let path = settings.webhook_ca_file.trim();
        if !path.is_empty() {
            let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("webhook_ca_file {path}: {e}"))?;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                roots.add(cert.map_err(|e| anyhow::anyhow!("webhook_ca_file {path}: {e:?}"))?)?;
            }
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let timeout = Duration::from_millis(settings.webhook_timeout_ms.max(1));
        Ok(Sender { tls: tokio_rustls::TlsConnector::from(Arc::new(config)), timeout })
    }

    /// POSTs `body` as JSON with `headers`; the status code when it is 2xx.
    pub async fn post(&self, url: &str, headers: &[(&str, String)], body: String) -> Result<u16, Failure> {
        tokio::time::timeout(self.timeout, self.exchange(url, headers, body)).await.unwrap_or(Err(Failure::Timeout))
    }

    async fn exchange(&self, url: &str, headers: &[(&str, String)], body: String) -> Result<u16, Failure> {
        use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
        let uri: hyper::Uri = url.parse().map_err(|_| Failure::InvalidUrl)?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(Failure::InvalidUrl),
        };
        let authority = uri.authority().ok_or(Failure::InvalidUrl)?.as_str().to_owned();
        let host = uri.host().ok_or(Failure::InvalidUrl)?.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|_| Failure::Connection)?;
        let io: Box<dyn Stream> = if https {
            let name = rustls::pki_types::ServerName::try_from(host).map_err(|_| Failure::InvalidUrl)?;
            Box::new(self.tls.connect(name, tcp).await.map_err(|_| Failure::Tls)?)
        } else {
            Box::new(tcp)
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|_| Failure::Connection)?;
        let linger = self.timeout;
        tokio::spawn(async move { tokio::time::timeout(linger, connection).await });
        let mut request = hyper::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(HOST, authority)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("atencion/", env!("CARGO_PKG_VERSION")))
            .header(CONNECTION, "close");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(body).map_err(|_| Failure::InvalidUrl)?;
        let status = sender.send_request(request).await.map_err(|_| Failure::Connection)?.status().as_u16();
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(Failure::HttpStatus(status))
        }
    }
}

/// Requests each worker makes per round, one after another.
const BATCH: i64 = 20;

fn backoff(base_ms: u64, failures: i32) -> TimeDelta {
    let ms = base_ms.max(1).saturating_mul(1 << failures.clamp(0, 30));
    TimeDelta::milliseconds(ms.min(3_600_000) as i64)
}

struct Due {
    id: i64,
    department: i64,
    key: String,
    payload: JsonValue,
    url: String,
    secret: String,
}

/// Posts what is due once; returns how many deliveries were delivered.
pub async fn flush(db: &Db, sender: &Sender, settings: &DepartmentSettings) -> Result<usize, AppError> {
    let now = Utc::now();
    // Long enough for the whole round, so no other replica takes a row while it is being posted.
    let lease = now + TimeDelta::from_std(sender.timeout * (BATCH as u32 + 1)).unwrap_or(TimeDelta::hours(1));
    let (now, lease) = (UtcTime::from(now), UtcTime::from(lease));
    let ids = db.write(move |c| Ok(backend::lease_ids(c, &backend::WEBHOOK_DELIVERIES, now, lease, BATCH)?)).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let rows: Vec<(i64, i64, String, JsonValue, String, String)> = db
        .read(move |c| {
            Ok(dd::table
                .inner_join(hooks::table.on(hooks::department_id.eq(dd::department_id)))
                .filter(dd::id.eq_any(ids))
                .order(dd::id.asc())
                .select((dd::id, dd::department_id, dd::idempotency_key, dd::payload, hooks::url, hooks::secret))
                .load(c)?)
        })
        .await?;
    let mut failing: Vec<i64> = Vec::new();
    let mut delivered = 0;
    for (id, department, key, payload, url, secret) in rows {
        let due = Due { id, department, key, payload, url, secret };
        if failing.contains(&due.department) {
            // Its webhook just failed: the row waits for the webhook's backoff, untried.
            db.write(move |c| {
                diesel::update(dd::table.find(id).filter(dd::webhook_status.eq("sending")))
                    .set((dd::webhook_status.eq("pending"), dd::webhook_next_at.eq(UtcTime::now())))
                    .execute(c)?;
                Ok(())
            })
            .await?;
            continue;
        }
        let (outcome, elapsed) = attempt(sender, &due).await;
        match outcome {
            Ok(_) => delivered += 1,
            Err(_) => failing.push(due.department),
        }
        let settings = settings.clone();
        db.write(move |c| record_outcome(c, &due, outcome, elapsed, &settings)).await?;
    }
    Ok(delivered)
}

async fn attempt(sender: &Sender, due: &Due) -> (Result<u16, Failure>, i64) {
    let body = due.payload.0.to_string();
    let timestamp = Utc::now().timestamp();
    let headers = [
        ("x-atencion-timestamp", timestamp.to_string()),
        ("x-atencion-signature", signature(&due.secret, timestamp, &body)),
        ("x-atencion-delivery", due.key.clone()),
    ];
    let started = Instant::now();
    let outcome = sender.post(&due.url, &headers, body).await;
    (outcome, i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX))
}

fn record_outcome(
    conn: &mut DbConnection,
    due: &Due,
    outcome: Result<u16, Failure>,
    elapsed_ms: i64,
    settings: &DepartmentSettings,
) -> Result<(), AppError> {
    let now = UtcTime::now();
    diesel::insert_into(attempts::table)
        .values((
            attempts::delivery_id.eq(due.id),
            attempts::url.eq(&due.url),
            attempts::status_code.eq(match outcome {
                Ok(code) | Err(Failure::HttpStatus(code)) => Some(i32::from(code)),
                Err(_) => None,
            }),
            attempts::error.eq(outcome.err().map(Failure::class)),
            attempts::duration_ms.eq(elapsed_ms),
            attempts::at.eq(now),
        ))
        .execute(conn)?;
    let tries: i32 = dd::table.find(due.id).select(dd::webhook_attempts).first(conn)?;
    // Unless the webhook was removed meanwhile (the row is then cancelled).
    let row = dd::table.find(due.id).filter(dd::webhook_status.eq("sending"));
    // Only the webhook that was tried: one set again meanwhile starts afresh.
    let hook = hooks::table.find(due.department).filter(hooks::url.eq(&due.url));
    let failure = match outcome {
        Ok(_) => {
            diesel::update(row)
                .set((
                    dd::webhook_status.eq("delivered"),
                    dd::webhook_attempts.eq(tries + 1),
                    dd::webhook_delivered_at.eq(now),
                    dd::webhook_next_at.eq(None::<UtcTime>),
                ))
                .execute(conn)?;
            diesel::update(hook)
                .set((hooks::consecutive_failures.eq(0), hooks::retry_at.eq(None::<UtcTime>)))
                .execute(conn)?;
            return Ok(());
        }
        Err(failure) => failure,
    };
    diesel::update(row)
        .set((
            dd::webhook_status.eq("pending"),
            dd::webhook_attempts.eq(tries + 1),
            dd::webhook_next_at.eq(UtcTime::from(now.0 + backoff(settings.retry_base_ms, tries))),
        ))
        .execute(conn)?;
    diesel::update(hook).set(hooks::consecutive_failures.eq(hooks::consecutive_failures + 1)).execute(conn)?;
    let failures: Option<i32> = hook.select(hooks::consecutive_failures).first(conn).optional()?;
    let Some(failures) = failures else { return Ok(()) };
    tracing::warn!(delivery = due.id, department = due.department, failures, error = failure.class(), "webhook failed");
    diesel::update(hook)
        .set(hooks::retry_at.eq(UtcTime::from(now.0 + backoff(settings.retry_base_ms, failures - 1))))
        .execute(conn)?;
    if failures >= settings.max_consecutive_failures.max(1) {
        let reason = format!("Se desactivó tras {failures} fallos seguidos; el último: {}.", failure.describe());
        diesel::update(hook)
            .set((hooks::enabled.eq(false), hooks::disabled_reason.eq(reason), hooks::disabled_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// The webhook worker of one replica.
pub async fn run(db: Db, settings: DepartmentSettings) {
    let sender = match Sender::new(&settings) {
        Ok(sender) => sender,
        Err(e) => {
            tracing::error!(error = %e, "department webhooks: invalid TLS settings; worker not started");
            return;
        }
    };
    loop {
        match flush(&db, &sender, &settings).await {
            // A whole batch delivered: more may be due, go on at once.
            Ok(delivered) if delivered as i64 == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "department webhooks: round failed"),
        }
        tokio::time::sleep(Duration::from_millis(settings.poll_interval_ms.max(10))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        let short = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(short), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // A key longer than the block is hashed first.
        let long = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(long), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let signed = signature("secreto-de-prueba-123", 1_767_225_600, r#"{"a":1}"#);
        let expected = hex::encode(hmac_sha256(b"secreto-de-prueba-123", br#"1767225600.{"a":1}"#));
        assert_eq!(signed, format!("t=1767225600,v1={expected}"));
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let delays: Vec<i64> = (0..4).map(|n| backoff(30_000, n).num_seconds()).collect();
        assert_eq!(delays, [30, 60, 120, 240]);
        assert_eq!(backoff(30_000, 40).num_seconds(), 3600);
        assert_eq!(backoff(5, 1).num_milliseconds(), 10);
    }

    #[test]
    fn only_http_urls_without_credentials() {
        assert!(valid_url("https://depto.chilecompra.cl/hooks/atencion?x=1"));
        assert!(valid_url("http://127.0.0.1:8081/"));
        assert!(!valid_url("ftp://example.cl/"));
        assert!(!valid_url("https://user:pass@example.cl/"));
        assert!(!valid_url("no es una url"));
    }
}
