//! The ticket event log: immutable rows, appended in the transaction of the change they record.

use crate::db::backend;
use crate::db::models::{EventRow, NewEvent};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::DbConnection;
use crate::domain::{Actor, EventKind};
use crate::error::AppError;
use crate::tickets::reactions;

/// Appends one immutable row to the ticket event log. Returns the row, for what the transaction
/// goes on to decide from the log.
pub fn record(
    conn: &mut DbConnection,
    ticket_id: i64,
    kind: EventKind,
    actor: Actor,
    data: serde_json::Value,
    at: UtcTime,
) -> Result<EventRow, AppError> {
    let mut rows = record_all(conn, ticket_id, vec![(kind, actor, data)], at)?;
    Ok(rows.pop().expect("one event appended"))
}

/// Appends `events` to the ticket's log, in order and in one statement, as [`record`] does one.
pub fn record_all(
    conn: &mut DbConnection,
    ticket_id: i64,
    events: Vec<(EventKind, Actor, serde_json::Value)>,
    at: UtcTime,
) -> Result<Vec<EventRow>, AppError> {
    reactions::appending(conn, ticket_id, &events, at)?;
    let new: Vec<NewEvent> = events
        .into_iter()
        .map(|(kind, actor, data)| NewEvent {
            ticket_id,
            kind: kind.as_str(),
            actor_type: actor.kind(),
            actor_id: actor.id(),
            data: JsonValue(data),
            created_at: at,
        })
        .collect();
    let ids = backend::insert_events(conn, &new)?;
    Ok(ids
        .into_iter()
        .zip(new)
        .map(|(id, e)| EventRow {
            id,
            ticket_id,
            kind: e.kind.to_owned(),
            actor_type: e.actor_type.to_owned(),
            actor_id: e.actor_id,
            data: e.data,
            created_at: at,
        })
        .collect())
}
