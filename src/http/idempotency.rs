//! `Idempotency-Key`: a retried request returns the first response and creates nothing new.
//! The key row is written in the same transaction as what the request created, so a crash can
//! never leave one without the other.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::idempotency_keys;
use crate::db::types::UtcTime;
use crate::db::{Db, DbConnection};
use crate::error::AppError;

pub const HEADER: &str = "Idempotency-Key";

/// A key presented by a client, bound to who presented it and what they sent.
#[derive(Debug, Clone)]
pub struct Key {
    scope: String,
    key: String,
    request_hash: String,
}

/// A stored response to replay.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    pub body: String,
}

impl Key {
    /// Reads the header; `None` when absent. Keys are 1–255 visible ASCII characters.
    pub fn from_request(req: &HttpRequest, scope: String, body: &[u8]) -> Result<Option<Key>, AppError> {
        let Some(value) = req.headers().get(HEADER) else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| AppError::field("Idempotency-Key", "debe tener entre 1 y 255 caracteres ASCII visibles"))?;
        let mut hasher = Sha256::new();
        hasher.update(req.method().as_str());
        hasher.update(b" ");
        hasher.update(req.path());
        hasher.update(b"\n");
        hasher.update(body);
        Ok(Some(Key { scope, key: key.to_owned(), request_hash: hex::encode(hasher.finalize()) }))
    }

    /// The stored response for this key, if any. The same key with a different request is an
    /// error rather than a silent replay of something else.
    pub fn lookup(&self, conn: &mut DbConnection) -> Result<Option<Stored>, AppError> {
        let row: Option<(String, i32, String)> = idempotency_keys::table
            .find((&self.scope, &self.key))
            .select((idempotency_keys::request_hash, idempotency_keys::status_code, idempotency_keys::response_body))
            .first(conn)
            .optional()?;
        match row {
            None => Ok(None),
            Some((hash, _, _)) if hash != self.request_hash => {
                Err(AppError::field("Idempotency-Key", "esta clave ya se usó con una solicitud distinta"))
            }
            Some((_, status, body)) => Ok(Some(Stored { status: status as u16, body })),
        }
    }

    /// Saves the response in the caller's transaction. A concurrent twin that committed first
    /// makes this insert fail, rolling back the duplicate work.
    pub fn save(&self, conn: &mut DbConnection, status: u16, body: &str) -> Result<(), AppError> {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::scope.eq(&self.scope),
                idempotency_keys::key.eq(&self.key),
                idempotency_keys::request_hash.eq(&self.request_hash),
                idempotency_keys::status_code.eq(i32::from(status)),
                idempotency_keys::response_body.eq(body),
                idempotency_keys::created_at.eq(UtcTime::now()),
            ))
            .execute(conn)?;
        Ok(())
    }
}

impl Stored {
    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK))
            .content_type("application/json")
            .insert_header(("Idempotent-Replayed", "true"))
            .body(self.body.clone())
    }
}

/// Runs `create` (which returns a serialisable resource) once per key: new requests run in one
/// transaction with the key row; retries, and twins that lose a race, get the stored response.
pub async fn once<T, F>(db: &Db, key: Option<Key>, status: StatusCode, create: F) -> Result<HttpResponse, AppError>
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
{
    let Some(key) = key else {
        let value = db.write(create).await?;
        return Ok(HttpResponse::build(status).json(value));
    };
    let attempt_key = key.clone();
    let attempt = db
        .write(move |c| {
            if let Some(stored) = attempt_key.lookup(c)? {
                return Ok((stored, true));
            }
            let body = serde_json::to_string(&create(c)?).map_err(anyhow::Error::from)?;
            attempt_key.save(c, status.as_u16(), &body)?;
            Ok((Stored { status: status.as_u16(), body }, false))
        })
        .await;
    match attempt {
        Ok((stored, true)) => Ok(stored.response()),
        Ok((stored, false)) => Ok(HttpResponse::build(status).content_type("application/json").body(stored.body)),
        // Lost a race with a concurrent twin: its committed response is the answer.
        Err(AppError::Conflict(_)) => match db.read(move |c| key.lookup(c)).await? {
            Some(stored) => Ok(stored.response()),
            None => Err(AppError::Conflict("Conflicto al guardar la solicitud; reintente.".into())),
        },
        Err(e) => Err(e),
    }
}
