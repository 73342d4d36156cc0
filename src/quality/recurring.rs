//! The "top recurring problems" report: the categories with most tickets, their repeat contacts
//! (the same requester — matched by email or RUT when the ticket came in — back on the same
//! category within 7 days), first contact resolution and most frequent subject terms.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Period;
use crate::db::schema::{categories, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::quality::{self, Contact, RecurringRow, TermCount, REPEAT_WINDOW_DAYS};
use crate::error::AppError;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecurringQuery {
    /// Start (RFC 3339 or date); default 30 days before `to`.
    pub from: Option<String>,
    /// End (exclusive; a date includes its day); default now.
    pub to: Option<String>,
    /// Categories to list, 1–50 (default 10).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecurringCategory {
    /// Category slug; `null` for tickets without a category.
    pub category: Option<String>,
    pub name: String,
    #[serde(flatten)]
    pub row: RecurringRow,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecurringReport {
    pub period: Period,
    pub window_days: i64,
    /// Tickets opened in the period.
    pub tickets: u64,
    /// Most tickets first.
    pub categories: Vec<RecurringCategory>,
    /// The most frequent subject terms across all categories.
    pub terms: Vec<TermCount>,
}

pub fn report(conn: &mut DbConnection, period: Period, limit: Option<usize>) -> Result<RecurringReport, AppError> {
    let limit = limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(AppError::field("limit", "debe estar entre 1 y 50"));
    }
    let window = TimeDelta::days(REPEAT_WINDOW_DAYS);
    let rows: Vec<(i64, i64, Option<i64>, UtcTime, String)> = tickets::table
        .filter(tickets::created_at.ge(UtcTime::from(period.from - window)))
        .filter(tickets::created_at.lt(UtcTime::from(period.to + window)))
        .select((tickets::id, tickets::requester_id, tickets::category_id, tickets::created_at, tickets::subject))
        .load(conn)?;
    let contacts: Vec<Contact> = rows
        .into_iter()
        .map(|(ticket_id, requester_id, category_id, at, subject)| Contact {
            ticket_id,
            requester_id,
            category_id,
            at: at.0,
            subject,
        })
        .collect();
    let inside = |at: DateTime<Utc>| at >= period.from && at < period.to;
    let in_period = contacts.iter().filter(|c| inside(c.at));
    let tickets = in_period.clone().count() as u64;
    let terms = quality::top_terms(in_period.map(|c| c.subject.as_str()), 10);
    let labels: HashMap<i64, (String, String)> = categories::table
        .select((categories::id, categories::slug, categories::name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, slug, name)| (id, (slug, name)))
        .collect();
    let categories = quality::recurring(&contacts, period.from, period.to, 5)
        .into_iter()
        .take(limit)
        .map(|row| {
            let (category, name) = match row.category_id.and_then(|id| labels.get(&id)) {
                Some((slug, name)) => (Some(slug.clone()), name.clone()),
                None => (None, "(sin categoría)".to_owned()),
            };
            RecurringCategory { category, name, row }
        })
        .collect();
    Ok(RecurringReport { period, window_days: REPEAT_WINDOW_DAYS, tickets, categories, terms })
}
