//! Agents' in-app notifications (the workspace's bell): made by [`follower`] from the ticket event
//! log, listed and marked read by their agent only.

pub mod follower;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{notifications, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::notification::NotificationKind;
use crate::error::AppError;
use crate::paging::{decode_cursor, encode_cursor};

/// The most ids one request marks read.
pub const MAX_IDS: usize = 1000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    /// Grows with every notification: a client follows them by it.
    pub id: i64,
    pub kind: NotificationKind,
    pub ticket_id: i64,
    pub ticket_number: String,
    /// What happened, in Spanish ("Se le asignó el caso AU-2026-000123").
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationPage {
    /// Newest first.
    pub items: Vec<NotificationView>,
    /// The `cursor` of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
    /// The caller's unread notifications, all pages together.
    pub unread: i64,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NotificationFilter {
    /// Only the unread ones.
    pub unread: Option<bool>,
    /// Items per page, 1 to 100 (default 25).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Which notifications to mark read: `ids` (the caller's; others' are ignored) or `all`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    pub ids: Option<Vec<i64>>,
    pub all: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

type Row = (i64, String, i64, String, String, UtcTime, Option<UtcTime>);

/// The columns a [`Row`] is read from.
type Columns = (
    notifications::id,
    notifications::kind,
    notifications::ticket_id,
    tickets::number,
    notifications::title,
    notifications::created_at,
    notifications::read_at,
);
const COLUMNS: Columns = (
    notifications::id,
    notifications::kind,
    notifications::ticket_id,
    tickets::number,
    notifications::title,
    notifications::created_at,
    notifications::read_at,
);

fn view(row: Row) -> Result<NotificationView, AppError> {
    let (id, kind, ticket_id, ticket_number, title, created_at, read_at) = row;
    let kind = kind.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("notification {id}: kind {kind:?}")))?;
    Ok(NotificationView {
        id,
        kind,
        ticket_id,
        ticket_number,
        title,
        created_at: created_at.0,
        read_at: read_at.map(|t| t.0),
    })
}

pub fn unread(conn: &mut DbConnection, agent: i64) -> Result<i64, AppError> {
    Ok(notifications::table
        .filter(notifications::agent_id.eq(agent))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(conn)?)
}

/// A page of `agent`'s notifications, newest first.
pub fn list(conn: &mut DbConnection, agent: i64, filter: &NotificationFilter) -> Result<NotificationPage, AppError> {
    let limit = filter.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(AppError::field("limit", "debe estar entre 1 y 100"));
    }
    let mut query = notifications::table
        .inner_join(tickets::table)
        .filter(notifications::agent_id.eq(agent))
        .select(COLUMNS)
        .order(notifications::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(cursor) = filter.cursor.as_deref() {
        query = query.filter(notifications::id.lt(decode_cursor(cursor)?));
    }
    if filter.unread == Some(true) {
        query = query.filter(notifications::read_at.is_null());
    }
    let mut rows: Vec<Row> = query.load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| encode_cursor(r.0)) } else { None };
    let items = rows.into_iter().map(view).collect::<Result<_, _>>()?;
    Ok(NotificationPage { items, next_cursor, unread: unread(conn, agent)? })
}

/// Every agent's notifications after id `after`, oldest first, with their agent: what a follower
/// of the table (the live stream of each replica) reads from its own position.
pub fn since(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Vec<(i64, NotificationView)>, AppError> {
    let rows: Vec<(i64, Row)> = notifications::table
        .inner_join(tickets::table)
        .filter(notifications::id.gt(after))
        .order(notifications::id.asc())
        .limit(limit)
        .select((notifications::agent_id, COLUMNS))
        .load(conn)?;
    rows.into_iter().map(|(agent, row)| Ok((agent, view(row)?))).collect()
}

/// Marks the caller's notifications read; returns how many stay unread.
pub fn mark_read(conn: &mut DbConnection, agent: i64, request: &ReadRequest) -> Result<UnreadCount, AppError> {
    let mine = notifications::table.filter(notifications::agent_id.eq(agent)).filter(notifications::read_at.is_null());
    match (request.all, request.ids.as_deref()) {
        (Some(true), _) => {
            diesel::update(mine).set(notifications::read_at.eq(UtcTime::now())).execute(conn)?;
        }
        (_, Some(ids)) if ids.iter().any(|id| *id < 1) => {
            return Err(AppError::field("ids", "cada id es un entero positivo"));
        }
        (_, Some(ids)) if !ids.is_empty() && ids.len() <= MAX_IDS => {
            diesel::update(mine.filter(notifications::id.eq_any(ids)))
                .set(notifications::read_at.eq(UtcTime::now()))
                .execute(conn)?;
        }
        (_, Some(ids)) if ids.len() > MAX_IDS => {
            return Err(AppError::field("ids", format!("admite como máximo {MAX_IDS} elementos")));
        }
        _ => return Err(AppError::field("ids", "indique «ids» (al menos uno) o «all»: true")),
    }
    Ok(UnreadCount { unread: unread(conn, agent)? })
}
