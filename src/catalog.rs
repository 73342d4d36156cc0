//! Queues and categories as each replica caches them: every ticket creation and change looks them
//! up by slug, and every assignment reads its queue's strategy. Writers mark them changed through
//! [`changed`], in the transaction that changes them.

use std::sync::Arc;

use diesel::prelude::*;

use crate::db::schema::{categories, queues};
use crate::db::types::JsonValue;
use crate::db::DbConnection;
use crate::domain::assignment::Strategy;
use crate::error::AppError;
use crate::reference::{self, Cache, Kind};

pub struct Queue {
    pub id: i64,
    pub slug: String,
    pub active: bool,
    pub strategy: Strategy,
    pub required_skills: Vec<String>,
}

pub struct Category {
    pub id: i64,
    pub slug: String,
    pub active: bool,
}

#[derive(Default)]
pub struct Catalog {
    queues: Vec<Queue>,
    categories: Vec<Category>,
}

impl Catalog {
    pub fn queue(&self, id: i64) -> Option<&Queue> {
        self.queues.iter().find(|q| q.id == id)
    }

    pub fn active_queue(&self, slug: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.active && q.slug == slug)
    }

    pub fn active_category(&self, slug: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.active && c.slug == slug)
    }
}

static CACHE: Cache<Catalog> = Cache::new(Kind::Catalog);

/// The queues and categories as of `conn`'s transaction.
pub fn get(conn: &mut DbConnection) -> Result<Arc<Catalog>, AppError> {
    CACHE.get(conn, load)
}

/// Marks queues and categories as changed by the current transaction.
pub fn changed(conn: &mut DbConnection) -> Result<(), AppError> {
    reference::changed(conn, Kind::Catalog)
}

fn load(conn: &mut DbConnection) -> Result<Catalog, AppError> {
    let queues: Vec<(i64, String, bool, String, JsonValue)> = queues::table
        .select((queues::id, queues::slug, queues::active, queues::strategy, queues::required_skills))
        .load(conn)?;
    let categories: Vec<(i64, String, bool)> =
        categories::table.select((categories::id, categories::slug, categories::active)).load(conn)?;
    Ok(Catalog {
        queues: queues
            .into_iter()
            .map(|(id, slug, active, strategy, skills)| Queue {
                id,
                slug,
                active,
                // A strategy this build does not know routes nothing by itself.
                strategy: strategy.parse().unwrap_or(Strategy::Manual),
                required_skills: serde_json::from_value(skills.0).unwrap_or_default(),
            })
            .collect(),
        categories: categories.into_iter().map(|(id, slug, active)| Category { id, slug, active }).collect(),
    })
}

/// The id of the active category `slug`, or an error on `field`.
pub fn category_id(conn: &mut DbConnection, field: &str, slug: &str) -> Result<i64, AppError> {
    get(conn)?
        .active_category(slug)
        .map(|c| c.id)
        .ok_or_else(|| AppError::field(field, format!("no existe la categoría «{slug}»")))
}

/// The id of the active queue `slug`, or an error on `field`.
pub fn queue_id(conn: &mut DbConnection, field: &str, slug: &str) -> Result<i64, AppError> {
    get(conn)?
        .active_queue(slug)
        .map(|q| q.id)
        .ok_or_else(|| AppError::field(field, format!("no existe la cola «{slug}»")))
}
