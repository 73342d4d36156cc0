//! Each ticket's SLA summary (`tickets.next_due_at`, `tickets.sla_state`), rewritten from its
//! deadlines in the same transaction that changes them, so the workspace's lists filter and sort
//! by it through indexes instead of aggregating deadlines per row.

use diesel::prelude::*;

use crate::db::schema::{sla_deadlines, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::workspace::{sla_summary, Deadline};
use crate::error::AppError;

pub fn store(conn: &mut DbConnection, ticket_id: i64) -> Result<(), AppError> {
    let rows: Vec<(String, i32, String, UtcTime, Option<UtcTime>)> = sla_deadlines::table
        .filter(sla_deadlines::ticket_id.eq(ticket_id))
        .select((
            sla_deadlines::metric,
            sla_deadlines::instance,
            sla_deadlines::kind,
            sla_deadlines::due_at,
            sla_deadlines::fired_at,
        ))
        .load(conn)?;
    let deadlines: Vec<Deadline> = rows
        .into_iter()
        .map(|(metric, instance, kind, due_at, fired_at)| Deadline {
            metric,
            instance,
            kind,
            due_at: due_at.0,
            fired: fired_at.is_some(),
        })
        .collect();
    write(conn, ticket_id, &deadlines)
}

/// Stores the summary of `deadlines`, all of the ticket's.
pub fn write(conn: &mut DbConnection, ticket_id: i64, deadlines: &[Deadline]) -> Result<(), AppError> {
    let (next_due, state) = sla_summary(deadlines);
    diesel::update(tickets::table.find(ticket_id))
        .set((tickets::next_due_at.eq(next_due.map(UtcTime::from)), tickets::sla_state.eq(state.map(|s| s.as_str()))))
        .execute(conn)?;
    Ok(())
}
