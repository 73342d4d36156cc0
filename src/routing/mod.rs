//! Routing and assignment: rules put each new ticket in the right queue with the right fields;
//! queues hand their work to available, skilled agents within capacity; rotation plans move agents
//! between queues on a schedule.

pub mod assign;
pub mod rotation;
pub mod rules;

use diesel::prelude::*;

use crate::db::schema::ticket_watchers;
use crate::db::DbConnection;
use crate::error::AppError;

/// Adds a watcher to a ticket (once).
pub fn add_watcher(conn: &mut DbConnection, ticket: i64, agent: i64) -> Result<(), AppError> {
    let n: i64 = ticket_watchers::table
        .filter(ticket_watchers::ticket_id.eq(ticket))
        .filter(ticket_watchers::agent_id.eq(agent))
        .count()
        .get_result(conn)?;
    if n == 0 {
        diesel::insert_into(ticket_watchers::table)
            .values((ticket_watchers::ticket_id.eq(ticket), ticket_watchers::agent_id.eq(agent)))
            .execute(conn)?;
    }
    Ok(())
}

/// Agent ids watching a ticket.
pub fn watchers(conn: &mut DbConnection, ticket: i64) -> Result<Vec<i64>, AppError> {
    Ok(ticket_watchers::table
        .filter(ticket_watchers::ticket_id.eq(ticket))
        .order(ticket_watchers::agent_id)
        .select(ticket_watchers::agent_id)
        .load(conn)?)
}
