//! Fires SLA warnings and breaches when their time comes: each exactly once, also with several
//! replicas scanning the same database.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::policies;
use crate::db::backend::{self, DueDeadline};
use crate::db::schema::{sla_deadlines, ticket_events, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::departments::escalations::{self, EscalateRequest};
use crate::domain::event::{Notified, SlaFired};
use crate::domain::sla::{AppliedPolicy, Metric};
use crate::domain::{Actor, TicketEvent};
use crate::domain::{EventKind, Priority, Status};
use crate::error::AppError;
use crate::tickets::log;
use crate::tickets::store;
use crate::tickets::UpdateTicketRequest;

/// One scan: claims due deadlines, marks them fired, then logs and acts on each. Returns how many
/// fired. Run it inside one transaction ([`crate::db::Db::write`]).
pub fn tick(conn: &mut DbConnection, now: DateTime<Utc>, limit: i64) -> Result<usize, AppError> {
    let due = backend::claim_due_deadlines(conn, UtcTime::from(now), limit)?;
    let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
    // Marked before any action runs: actions change tickets, which rewrites their pending
    // deadlines, and a claimed row must not be recreated and fire again.
    diesel::update(sla_deadlines::table.filter(sla_deadlines::id.eq_any(&ids)))
        .set(sla_deadlines::fired_at.eq(UtcTime::from(now)))
        .execute(conn)?;
    let mut refreshed = Vec::new();
    for deadline in &due {
        if fire(conn, deadline, now)? {
            refreshed.push(deadline.ticket_id);
        }
    }
    // After the actions, which may have rewritten the pending deadlines. A ticket they changed
    // had its SLA refreshed, summary included, after its deadlines were marked fired.
    let mut tickets: Vec<i64> = due.iter().map(|d| d.ticket_id).filter(|t| !refreshed.contains(t)).collect();
    tickets.sort_unstable();
    tickets.dedup();
    for ticket_id in tickets {
        super::summary::store(conn, ticket_id)?;
    }
    Ok(due.len())
}

/// The background loop of one replica: scans, then sleeps `interval` (at once again while a
/// full batch suggests more is due).
pub async fn run(db: crate::db::Db, interval: std::time::Duration, batch: i64) {
    loop {
        match db.write(move |c| tick(c, Utc::now(), batch)).await {
            Ok(fired) if fired as i64 >= batch => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sla scan failed; retrying later"),
        }
        tokio::time::sleep(interval).await;
    }
}

fn current_policy(conn: &mut DbConnection, ticket_id: i64) -> Result<Option<AppliedPolicy>, AppError> {
    let data: Option<crate::db::types::JsonValue> = ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .filter(ticket_events::kind.eq(EventKind::SlaPolicyApplied.as_str()))
        .order(ticket_events::id.desc())
        .select(ticket_events::data)
        .first(conn)
        .optional()?;
    Ok(data.and_then(|d| serde_json::from_value(d.0).ok()))
}

fn raised(priority: Priority) -> Priority {
    match priority {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

/// Logs the fired deadline and runs its policy's actions; returns whether they changed the ticket
/// (which refreshes its SLA).
fn fire(conn: &mut DbConnection, d: &DueDeadline, now: DateTime<Utc>) -> Result<bool, AppError> {
    let breach = d.kind == "breach";
    // Marked fired already: a deadline no clock of this version knows is dropped, not retried
    // forever with the rest of its batch.
    let Ok(metric) = d.metric.parse::<Metric>() else {
        tracing::warn!(deadline = d.id, metric = %d.metric, "sla deadline of an unknown metric dropped");
        return Ok(false);
    };
    let (status, priority, assignee, queue): (String, String, Option<i64>, Option<i64>) = tickets::table
        .find(d.ticket_id)
        .select((tickets::status, tickets::priority, tickets::assignee_id, tickets::queue_id))
        .first(conn)?;
    let actions = match current_policy(conn, d.ticket_id)? {
        Some(applied) => {
            let policy = policies::get(conn, applied.policy_id).ok().map(|p| p.actions).unwrap_or_default();
            if breach {
                policy.breach
            } else {
                policy.warning
            }
        }
        None => policies::ActionSet::default(),
    };
    let fired = SlaFired {
        metric,
        instance: u32::try_from(d.instance).unwrap_or_default(),
        due_at: d.due_at.0,
        // Who is told: the assignee and the supervisors, mailed once this commits (`super::notices`).
        notify: actions.notify.then_some(Notified { assignee_id: assignee, queue_id: queue }),
    };
    let event = if breach { TicketEvent::SlaBreached(fired) } else { TicketEvent::SlaWarning(fired) };
    log::record(conn, d.ticket_id, Actor::System, event, UtcTime::from(now))?;
    tracing::info!(ticket_id = d.ticket_id, metric = %d.metric, kind = %d.kind, "sla deadline fired");

    let status: Status = status.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("bad status")))?;
    let priority: Priority = priority.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("bad priority")))?;
    if status == Status::Closed {
        return Ok(false);
    }
    let mut update = UpdateTicketRequest::default();
    if actions.raise_priority && raised(priority) != priority {
        update.priority = Some(raised(priority));
    }
    update.queue = actions.move_to_queue;
    let changed = update.priority.is_some() || update.queue.is_some();
    if changed {
        store::update(conn, d.ticket_id, Actor::System, update)?;
    }
    if let Some(e) = actions.escalate {
        let what = if breach { "incumplido" } else { "por vencer" };
        let req = EscalateRequest {
            department: e.department,
            mode: e.mode,
            reason: format!("SLA {} {what}", d.metric),
            grant_pii: false,
        };
        // In a savepoint: a department that since became unusable must not stop the scanner.
        if let Err(e) = conn.transaction(|c| escalations::escalate(c, d.ticket_id, Actor::System, req)) {
            tracing::warn!(ticket_id = d.ticket_id, error = %e, "SLA escalation failed");
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_rises_one_step_up_to_urgent() {
        assert_eq!(raised(Priority::Low), Priority::Normal);
        assert_eq!(raised(Priority::Normal), Priority::High);
        assert_eq!(raised(Priority::High), Priority::Urgent);
        assert_eq!(raised(Priority::Urgent), Priority::Urgent);
    }
}
