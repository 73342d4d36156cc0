//! The ticket event log: immutable rows, appended in the transaction of the change they record.

use diesel::prelude::*;

use crate::db::backend;
use crate::db::models::{EventRow, NewEvent};
use crate::db::schema::ticket_events;
use crate::db::types::{JsonValue, UtcTime};
use crate::db::DbConnection;
use crate::domain::{Actor, TicketEvent};
use crate::error::AppError;
use crate::tickets::reactions;

/// An event of the log with its row's id and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub id: i64,
    pub at: UtcTime,
    pub event: TicketEvent,
}

/// Appends one immutable event to the ticket's log. Returns it with its id, for what the
/// transaction goes on to decide from the log.
pub fn record(
    conn: &mut DbConnection,
    ticket_id: i64,
    actor: Actor,
    event: TicketEvent,
    at: UtcTime,
) -> Result<Logged, AppError> {
    let mut logged = record_all(conn, ticket_id, vec![(actor, event)], at)?;
    Ok(logged.pop().expect("one event appended"))
}

/// Appends `events` to the ticket's log, in order and in one statement, as [`record`] does one.
pub fn record_all(
    conn: &mut DbConnection,
    ticket_id: i64,
    events: Vec<(Actor, TicketEvent)>,
    at: UtcTime,
) -> Result<Vec<Logged>, AppError> {
    reactions::appending(conn, ticket_id, &events, at)?;
    let new: Vec<NewEvent> = events
        .iter()
        .map(|(actor, event)| NewEvent {
            ticket_id,
            kind: event.kind().as_str(),
            actor_type: actor.kind(),
            actor_id: actor.id(),
            data: JsonValue(event.data()),
            created_at: at,
        })
        .collect();
    let ids = backend::insert_events(conn, &new)?;
    Ok(ids.into_iter().zip(events).map(|(id, (_, event))| Logged { id, at, event }).collect())
}

/// The ticket's whole log, oldest first. A row that does not read as its kind (written by a
/// later version, or damaged) is left out with a warning: it cannot mean anything here.
pub fn load(conn: &mut DbConnection, ticket_id: i64) -> Result<Vec<Logged>, AppError> {
    let rows: Vec<EventRow> = ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .order(ticket_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?;
    Ok(rows.iter().filter_map(read).collect())
}

/// The rows of every ticket's log after id `after`, oldest first, at most `limit`: what the
/// followers of the committed log read.
pub fn rows_after(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Vec<EventRow>, AppError> {
    Ok(ticket_events::table
        .filter(ticket_events::id.gt(after))
        .order(ticket_events::id.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)?)
}

/// A row of the log as its event, or `None` (with a warning) when it does not read as one.
pub fn read(row: &EventRow) -> Option<Logged> {
    match row.event() {
        Ok(event) => Some(Logged { id: row.id, at: row.created_at, event }),
        Err(error) => {
            tracing::warn!(event_id = row.id, kind = %row.kind, %error, "ticket event does not read as its kind");
            None
        }
    }
}
