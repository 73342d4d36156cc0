//! Who has a ticket open: a heartbeat row per agent and ticket in `ticket_viewers`, shared by
//! every replica, that counts for [`VIEWER_TTL`] after its last heartbeat.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{agents, ticket_viewers, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::workspace::{ViewerState, VIEWER_TTL};
use crate::error::AppError;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewerRequest {
    /// `typing` while writing a reply or a note.
    pub state: ViewerState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ViewerView {
    pub agent_id: i64,
    pub name: String,
    pub state: ViewerState,
    /// Since when they have the ticket open.
    pub since: DateTime<Utc>,
}

/// The other agents on a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViewersView {
    pub viewers: Vec<ViewerView>,
}

fn cutoff(now: DateTime<Utc>) -> UtcTime {
    UtcTime::from(now - VIEWER_TTL)
}

fn exists(conn: &mut DbConnection, ticket_id: i64) -> Result<(), AppError> {
    let found: i64 = tickets::table.filter(tickets::id.eq(ticket_id)).count().get_result(conn)?;
    if found == 0 {
        return Err(AppError::NotFound("el ticket"));
    }
    Ok(())
}

/// Records that `agent_id` has the ticket open (and whether typing); returns the others on it.
pub fn heartbeat(
    conn: &mut DbConnection,
    ticket_id: i64,
    agent_id: i64,
    state: ViewerState,
    now: DateTime<Utc>,
) -> Result<Vec<ViewerView>, AppError> {
    exists(conn, ticket_id)?;
    // Expired rows go here, where rows are written anyway; readers skip them by time.
    diesel::delete(ticket_viewers::table.filter(ticket_viewers::seen_at.le(cutoff(now)))).execute(conn)?;
    let row = ticket_viewers::table
        .filter(ticket_viewers::ticket_id.eq(ticket_id))
        .filter(ticket_viewers::agent_id.eq(agent_id));
    let updated = diesel::update(row)
        .set((ticket_viewers::state.eq(state.as_str()), ticket_viewers::seen_at.eq(UtcTime::from(now))))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(ticket_viewers::table)
            .values((
                ticket_viewers::ticket_id.eq(ticket_id),
                ticket_viewers::agent_id.eq(agent_id),
                ticket_viewers::state.eq(state.as_str()),
                ticket_viewers::since.eq(UtcTime::from(now)),
                ticket_viewers::seen_at.eq(UtcTime::from(now)),
            ))
            .execute(conn)?;
    }
    Ok(on_ticket(conn, ticket_id, now)?.into_iter().filter(|v| v.agent_id != agent_id).collect())
}

/// `agent_id` left the ticket.
pub fn leave(conn: &mut DbConnection, ticket_id: i64, agent_id: i64) -> Result<(), AppError> {
    exists(conn, ticket_id)?;
    diesel::delete(
        ticket_viewers::table
            .filter(ticket_viewers::ticket_id.eq(ticket_id))
            .filter(ticket_viewers::agent_id.eq(agent_id)),
    )
    .execute(conn)?;
    Ok(())
}

type Row = (i64, i64, String, String, UtcTime);

fn viewer(row: Row) -> (i64, ViewerView) {
    let (ticket_id, agent_id, name, state, since) = row;
    let state = ViewerState::parse(&state).unwrap_or(ViewerState::Viewing);
    (ticket_id, ViewerView { agent_id, name, state, since: since.0 })
}

pub fn on_ticket(conn: &mut DbConnection, ticket_id: i64, now: DateTime<Utc>) -> Result<Vec<ViewerView>, AppError> {
    let rows: Vec<Row> = ticket_viewers::table
        .inner_join(agents::table)
        .filter(ticket_viewers::ticket_id.eq(ticket_id))
        .filter(ticket_viewers::seen_at.gt(cutoff(now)))
        .order((ticket_viewers::since, ticket_viewers::agent_id))
        .select((ticket_viewers::ticket_id, agents::id, agents::name, ticket_viewers::state, ticket_viewers::since))
        .load(conn)?;
    Ok(rows.into_iter().map(|r| viewer(r).1).collect())
}

/// Every live viewer, by ticket: what the feed compares between two polls.
pub fn all(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<(i64, ViewerView)>, AppError> {
    let rows: Vec<Row> = ticket_viewers::table
        .inner_join(agents::table)
        .filter(ticket_viewers::seen_at.gt(cutoff(now)))
        .order((ticket_viewers::ticket_id, ticket_viewers::since, ticket_viewers::agent_id))
        .select((ticket_viewers::ticket_id, agents::id, agents::name, ticket_viewers::state, ticket_viewers::since))
        .load(conn)?;
    Ok(rows.into_iter().map(viewer).collect())
}
