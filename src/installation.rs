//! The installation's identity, kept in its own database (one row, written by the first replica
//! that starts): a random id, which live state kept outside the database (the KPIs in Redis)
//! records so it can tell whose it is, and the signing secret generated when `[email]
//! token_secret` is not configured, shared by every replica.

use diesel::prelude::*;

use crate::db::schema::installation;
use crate::db::types::UtcTime;
use crate::db::{backend, Db};
use crate::error::AppError;

#[derive(Clone)]
pub struct Installation {
    pub id: String,
    /// Signs tokens when no secret is configured.
    pub token_secret: String,
}

/// The installation's row, created on first start: insert-if-absent then read, so replicas
/// starting together agree on the values.
pub async fn load(db: &Db) -> Result<Installation, AppError> {
    db.write(|c| {
        let id = hex::encode(rand::random::<[u8; 16]>());
        backend::insert_installation_if_absent(c, &id, &crate::secrets::generate(), UtcTime::now())?;
        let (id, token_secret) = installation::table
            .find(1)
            .select((installation::installation_id, installation::token_secret))
            .first::<(String, String)>(c)?;
        Ok(Installation { id, token_secret })
    })
    .await
}
