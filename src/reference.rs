//! Reference data (business calendars with their holidays, SLA policies, routing rules, queues and
//! categories) cached by each replica. Every kind has a version in `reference_versions`, changed in
//! the transaction that changes its data; a reader compares the versions (one small table, read
//! once per transaction) with the version it cached and reloads only when it moved. So a replica
//! serves a change from the first transaction that can see it committed, and the hot path (every
//! ticket change replays SLA clocks) stops reading whole tables.

use std::cell::RefCell;
use std::collections::HashMap;
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
    RoutingRules,
    /// Queues and categories.
    Catalog,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Calendars => "calendars",
            Kind::SlaPolicies => "sla_policies",
            Kind::RoutingRules => "routing_rules",
            Kind::Catalog => "catalog",
        }
    }
}

/// One kind's data as loaded by this replica, with the versions it was loaded at: the last few, so
/// that databases sharing one process (the test suite's) do not evict each other's.
pub struct Cache<T> {
    kind: Kind,
    /// Least recently used first.
    slots: Mutex<Vec<(i64, Arc<T>)>>,
}

const KEPT: usize = 8;

impl<T> Cache<T> {
    pub const fn new(kind: Kind) -> Cache<T> {
        Cache { kind, slots: Mutex::new(Vec::new()) }
    }

    /// The data as of `conn`'s transaction: the cached copy when its version is current, else
    /// `load`ed again (and kept).
    pub fn get(
        &self,
        conn: &mut DbConnection,
        load: impl FnOnce(&mut DbConnection) -> Result<T, AppError>,
    ) -> Result<Arc<T>, AppError> {
        let version = version(conn, self.kind)?;
        {
            let mut slots = self.slots.lock().expect("reference cache poisoned");
            if let Some(at) = slots.iter().position(|(cached, _)| *cached == version) {
                let slot = slots.remove(at);
                let data = slot.1.clone();
                slots.push(slot);
                return Ok(data);
            }
        }
        let data = Arc::new(load(conn)?);
        let mut slots = self.slots.lock().expect("reference cache poisoned");
        if slots.len() >= KEPT {
            slots.remove(0);
        }
        slots.push((version, data.clone()));
        Ok(data)
    }
}

thread_local! {
    /// The versions as read by the transaction open on this thread (keyed by its number).
    static READ: RefCell<Option<(u64, HashMap<String, i64>)>> = const { RefCell::new(None) };
}

/// `kind`'s version as of `conn`'s transaction. Inside one, every version is read by the first
/// asking and kept until it ends: only committed writes change them, and its own writes go through
/// [`changed`].
fn version(conn: &mut DbConnection, kind: Kind) -> Result<i64, AppError> {
    let transaction = crate::db::statements::transaction();
    let kept = READ.with_borrow(|read| match (read, transaction) {
        (Some((t, versions)), Some(now)) if *t == now => versions.get(kind.name()).copied(),
        _ => None,
    });
    if let Some(version) = kept {
        return Ok(version);
    }
    let versions: HashMap<String, i64> = reference_versions::table
        .select((reference_versions::name, reference_versions::version))
        .load(conn)?
        .into_iter()
        .collect();
    let version = versions.get(kind.name()).copied();
    if let Some(t) = transaction {
        READ.set(Some((t, versions)));
    }
    version.ok_or_else(|| AppError::Internal(anyhow::anyhow!("no reference version for {}", kind.name())))
}

/// Marks `kind` as changed by the current transaction: every replica reloads it on next use.
/// Random, not incremented: versions of different databases must not meet in one process.
pub fn changed(conn: &mut DbConnection, kind: Kind) -> Result<(), AppError> {
    let version = rand::random::<i64>() >> 12;
    diesel::update(reference_versions::table.find(kind.name()))
        .set(reference_versions::version.eq(version))
        .execute(conn)?;
    READ.with_borrow_mut(|read| {
        if let Some((_, versions)) = read.as_mut() {
            versions.insert(kind.name().to_owned(), version);
        }
    });
    Ok(())
}
