//! Reference data (business calendars with their holidays, SLA policies) cached by each replica.
//! Every kind has a version in `reference_versions`, changed in the transaction that changes its
//! data; a reader compares one small row with the version it cached and reloads only when it
//! moved. So a replica serves a change from the first transaction that can see it committed, and
//! the hot path (every ticket change replays SLA clocks) stops reading whole tables.

use std::sync::{Arc, Mutex};

use diesel::prelude::*;

use crate::db::schema::reference_versions;
use crate::db::DbConnection;
use crate::error::AppError;

/// The kinds of cached reference data (their rows in `reference_versions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Calendars,
    SlaPolicies,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Calendars => "calendars",
            Kind::SlaPolicies => "sla_policies",
        }
    }
}

/// One kind's data as last loaded by this replica, with the version it was loaded at.
pub struct Cache<T> {
    kind: Kind,
    slot: Mutex<Option<(i64, Arc<T>)>>,
}

impl<T> Cache<T> {
    pub const fn new(kind: Kind) -> Cache<T> {
        Cache { kind, slot: Mutex::new(None) }
    }

    /// The data as of `conn`'s transaction: the cached copy when its version is current, else
    /// `load`ed again (and kept).
    pub fn get(
        &self,
        conn: &mut DbConnection,
        load: impl FnOnce(&mut DbConnection) -> Result<T, AppError>,
    ) -> Result<Arc<T>, AppError> {
        let version = version(conn, self.kind)?;
        if let Some((cached, data)) = self.slot.lock().expect("reference cache poisoned").as_ref() {
            if *cached == version {
                return Ok(data.clone());
            }
        }
        let data = Arc::new(load(conn)?);
        *self.slot.lock().expect("reference cache poisoned") = Some((version, data.clone()));
        Ok(data)
    }
}

fn version(conn: &mut DbConnection, kind: Kind) -> Result<i64, AppError> {
    Ok(reference_versions::table.find(kind.name()).select(reference_versions::version).first(conn)?)
}

/// Marks `kind` as changed by the current transaction: every replica reloads it on next use.
/// Random, not incremented: versions of different databases must not meet in one process.
pub fn changed(conn: &mut DbConnection, kind: Kind) -> Result<(), AppError> {
    diesel::update(reference_versions::table.find(kind.name()))
        .set(reference_versions::version.eq(rand::random::<i64>() >> 12))
        .execute(conn)?;
    Ok(())
}
