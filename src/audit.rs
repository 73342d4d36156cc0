//! Audit log of who read or changed escalated tickets and improvement opportunities. Rows are
//! written in the same transaction as the read or change they describe, before its data leaves
//! the service: a request whose audit row cannot be written fails and returns nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{audit_log, escalations};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::Principal;
use crate::domain::Role;
use crate::error::AppError;

pub const READ: &str = "read";
pub const CHANGE: &str = "change";
pub const TICKET: &str = "ticket";
pub const OPPORTUNITY: &str = "opportunity";

/// The request being served: its method and path, for the audit row.
#[derive(Debug, Clone)]
pub struct Origin {
    pub method: String,
    pub path: String,
}

/// One object read or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub action: &'static str,
    pub object_type: &'static str,
    pub object_id: i64,
    pub department_id: Option<i64>,
}

impl Entry {
    pub fn read(object_type: &'static str, object_id: i64, department_id: Option<i64>) -> Entry {
        Entry { action: READ, object_type, object_id, department_id }
    }

    pub fn change(object_type: &'static str, object_id: i64, department_id: Option<i64>) -> Entry {
        Entry { action: CHANGE, object_type, object_id, department_id }
    }
}

/// Writes the audit rows of one request (each object once).
pub fn record(conn: &mut DbConnection, who: &Principal, origin: &Origin, entries: &[Entry]) -> Result<(), AppError> {
    let at = UtcTime::now();
    let mut seen: Vec<&Entry> = Vec::new();
    for e in entries {
        if seen.contains(&e) {
            continue;
        }
        seen.push(e);
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::actor_id.eq(who.agent_id),
                audit_log::actor_role.eq(who.role.as_str()),
                audit_log::action.eq(e.action),
                audit_log::object_type.eq(e.object_type),
                audit_log::object_id.eq(e.object_id),
                audit_log::department_id.eq(e.department_id),
                audit_log::method.eq(&origin.method),
                audit_log::path.eq(&origin.path),
                audit_log::at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The audit entry for `action` on ticket `ticket` when it has been escalated (scoped to the
/// department of its latest escalation); `None` for tickets never escalated.
pub fn ticket_entry(conn: &mut DbConnection, action: &'static str, ticket: i64) -> Result<Option<Entry>, AppError> {
    let department: Option<i64> = escalations::table
        .filter(escalations::ticket_id.eq(ticket))
        .order(escalations::id.desc())
        .select(escalations::department_id)
        .first(conn)
        .optional()?;
    Ok(department.map(|d| Entry { action, object_type: TICKET, object_id: ticket, department_id: Some(d) }))
}

/// [`ticket_entry`] for several tickets at once, in one query; tickets never escalated get none.
pub fn ticket_entries(conn: &mut DbConnection, action: &'static str, tickets: &[i64]) -> Result<Vec<Entry>, AppError> {
    let rows: Vec<(i64, i64)> = escalations::table
        .filter(escalations::ticket_id.eq_any(tickets))
        .order(escalations::id.desc())
        .select((escalations::ticket_id, escalations::department_id))
        .load(conn)?;
    let mut entries: Vec<Entry> = Vec::new();
    for (ticket, department) in rows {
        // The latest escalation of each ticket comes first.
        if !entries.iter().any(|e| e.object_id == ticket) {
            entries.push(Entry { action, object_type: TICKET, object_id: ticket, department_id: Some(department) });
        }
    }
    Ok(entries)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: i64,
    pub actor_role: String,
    /// `read` or `change`.
    pub action: String,
    /// `ticket` or `opportunity`.
    pub object_type: String,
    pub object_id: i64,
    pub department_id: Option<i64>,
    pub method: String,
    pub path: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// Filters of the audit log. Any malformed or unknown parameter is a 400.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `ticket` or `opportunity`.
    pub object_type: Option<String>,
    pub object_id: Option<i64>,
    /// Agent id of the actor.
    pub actor: Option<i64>,
    /// From this instant (RFC 3339), inclusive.
    pub since: Option<DateTime<Utc>>,
    /// Up to this instant (RFC 3339), exclusive.
    pub until: Option<DateTime<Utc>>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100 (default 50).
    pub limit: Option<i64>,
}

fn bad(param: &str, what: &str) -> AppError {
    AppError::BadRequest(format!("Parámetro «{param}» no válido: {what}."))
}

impl AuditQuery {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<AuditQuery, AppError> {
        let mut q = AuditQuery::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let int = |v: &str| v.parse::<i64>().map_err(|_| bad(&key, "se espera un número entero"));
            let time = |v: &str| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| bad(&key, "se espera una fecha RFC 3339"))
            };
            match key.as_ref() {
                "object_type" if [TICKET, OPPORTUNITY].contains(&value.as_ref()) => {
                    q.object_type = Some(value.into_owned())
                }
                "object_type" => return Err(bad(&key, "use «ticket» u «opportunity»")),
                "object_id" => q.object_id = Some(int(&value)?),
                "actor" => q.actor = Some(int(&value)?),
                "since" => q.since = Some(time(&value)?),
                "until" => q.until = Some(time(&value)?),
                "cursor" => {
                    crate::paging::decode_cursor(&value).map_err(|_| bad(&key, "cursor desconocido"))?;
                    q.cursor = Some(value.into_owned());
                }
                "limit" => match int(&value)? {
                    n @ 1..=100 => q.limit = Some(n),
                    _ => return Err(bad(&key, "debe estar entre 1 y 100")),
                },
                other => return Err(bad(other, "parámetro desconocido")),
            }
        }
        Ok(q)
    }
}

type Row = (i64, i64, String, String, String, i64, Option<i64>, String, String, UtcTime);

/// The audit log, newest first (admins only).
pub fn list(conn: &mut DbConnection, who: &Principal, q: &AuditQuery) -> Result<AuditPage, AppError> {
    if who.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    let limit = q.limit.unwrap_or(50);
    let mut query = audit_log::table
        .order(audit_log::id.desc())
        .limit(limit)
        .select((
            audit_log::id,
            audit_log::actor_id,
            audit_log::actor_role,
            audit_log::action,
            audit_log::object_type,
            audit_log::object_id,
            audit_log::department_id,
            audit_log::method,
            audit_log::path,
            audit_log::at,
        ))
        .into_boxed();
    if let Some(t) = &q.object_type {
        query = query.filter(audit_log::object_type.eq(t.clone()));
    }
    if let Some(id) = q.object_id {
        query = query.filter(audit_log::object_id.eq(id));
    }
    if let Some(actor) = q.actor {
        query = query.filter(audit_log::actor_id.eq(actor));
    }
    if let Some(since) = q.since {
        query = query.filter(audit_log::at.ge(UtcTime::from(since)));
    }
    if let Some(until) = q.until {
        query = query.filter(audit_log::at.lt(UtcTime::from(until)));
    }
    if let Some(cursor) = &q.cursor {
        query = query.filter(audit_log::id.lt(crate::paging::decode_cursor(cursor)?));
    }
    let rows: Vec<Row> = query.load(conn)?;
    let items: Vec<AuditEntry> = rows
        .into_iter()
        .map(|(id, actor_id, actor_role, action, object_type, object_id, department_id, method, path, at)| AuditEntry {
            id,
            actor_id,
            actor_role,
            action,
            object_type,
            object_id,
            department_id,
            method,
            path,
            at: at.0,
        })
        .collect();
    let full = items.len() as i64 == limit;
    let next_cursor = items.last().filter(|_| full).map(|e| crate::paging::encode_cursor(e.id));
    Ok(AuditPage { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_or_are_bad_requests() {
        let q =
            AuditQuery::parse("object_type=ticket&object_id=7&actor=2&since=2026-12-01T00:00:00Z&limit=10").unwrap();
        assert_eq!(
            (q.object_type.as_deref(), q.object_id, q.actor, q.limit),
            (Some("ticket"), Some(7), Some(2), Some(10))
        );
        for bad in ["object_type=user", "object_id=x", "since=ayer", "limit=0", "limit=101", "cursor=zz", "order=asc"] {
            assert!(matches!(AuditQuery::parse(bad), Err(AppError::BadRequest(_))), "{bad}");
        }
    }
}
