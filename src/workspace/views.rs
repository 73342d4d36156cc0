//! The counts of the caller's lists, from one grouped query over the open tickets.

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::{queue_members, queues, tickets};
use crate::db::DbConnection;
use crate::domain::workspace::{self, ListView, MemberQueue, OpenCount, SlaState, OPEN_STATUSES};
use crate::error::AppError;

/// The active queues `agent_id` belongs to, by name.
pub fn member_queues(conn: &mut DbConnection, agent_id: i64) -> Result<Vec<MemberQueue>, AppError> {
    Ok(queue_members::table
        .inner_join(queues::table)
        .filter(queue_members::agent_id.eq(agent_id))
        .filter(queues::active.eq(true))
        .order((queues::name, queues::id))
        .select((queues::id, queues::slug, queues::name))
        .load(conn)?)
}

/// (queue, assignee, SLA state, open tickets) of one group.
type Group = (Option<i64>, Option<i64>, Option<String>, i64);

pub fn views(conn: &mut DbConnection, agent_id: i64) -> Result<Vec<ListView>, AppError> {
    let queues = member_queues(conn, agent_id)?;
    let rows: Vec<Group> = tickets::table
        .filter(tickets::status.eq_any(OPEN_STATUSES.map(|s| s.as_str())))
        .group_by((tickets::queue_id, tickets::assignee_id, tickets::sla_state))
        .select((tickets::queue_id, tickets::assignee_id, tickets::sla_state, count_star()))
        .load(conn)?;
    let counts: Vec<OpenCount> = rows
        .into_iter()
        .map(|(queue_id, assignee_id, state, count)| OpenCount {
            queue_id,
            assignee_id,
            sla_state: state.as_deref().and_then(SlaState::parse),
            count,
        })
        .collect();
    Ok(workspace::views(agent_id, &queues, &counts))
}
