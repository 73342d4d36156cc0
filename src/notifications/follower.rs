//! Makes the notifications from the committed ticket event log: a background task reads the
//! events after its position, stored in the database and claimed for the transaction, so with
//! several replicas each event is read by one of them at a time; the unique (agent, kind, event)
//! of a notification makes reading an event again (after a hole in the ids, see
//! [`advance`]) harmless.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;

use crate::db::models::EventRow;
use crate::db::schema::{agents, departments, escalations, messages, notification_follower, ticket_events, tickets};
use crate::db::types::UtcTime;
use crate::db::{backend, Db, DbConnection};
use crate::domain::event::{AssigneeChanged, Created};
use crate::domain::notification::{self as rules, MessageFrom, NotificationKind};
use crate::domain::TicketEvent;
use crate::error::AppError;
use crate::kpi::projector::advance;
use crate::tickets::log::{self, Logged};

/// How many events one step reads.
pub const BATCH: i64 = 500;
/// How often other replicas' events are looked for (this process's commits wake it at once).
pub const POLL: Duration = Duration::from_secs(1);

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    /// Events read (0 when another replica held the log, or nothing was new).
    pub events: usize,
    /// Notifications added.
    pub created: usize,
    /// The position after the step; `None` when another replica held the log.
    pub position: Option<i64>,
}

/// Reads the events after the stored position and adds their notifications; run in a write
/// transaction (`Db::write`) so the notifications and the new position commit together.
pub fn step(conn: &mut DbConnection) -> Result<Step, AppError> {
    let Some(position) = backend::claim_notification_follower(conn)? else { return Ok(Step::default()) };
    let rows: Vec<EventRow> = ticket_events::table
        .filter(ticket_events::id.gt(position))
        .order(ticket_events::id.asc())
        .limit(BATCH)
        .select(EventRow::as_select())
        .load(conn)?;
    let times: Vec<_> = rows.iter().map(|r| (r.id, r.created_at.0)).collect();
    let next = advance(position, &times, Utc::now());
    let mut step = Step { events: 0, created: 0, position: Some(next) };
    for row in rows.iter().take_while(|r| r.id <= next) {
        step.events += 1;
        step.created += on_event(conn, row)?;
    }
    if next != position {
        diesel::update(notification_follower::table.find(1))
            .set((notification_follower::last_event_id.eq(next), notification_follower::updated_at.eq(UtcTime::now())))
            .execute(conn)?;
    }
    Ok(step)
}

/// The notifications of one event: (recipient, kind, who for the title, metric for the title).
fn on_event(conn: &mut DbConnection, row: &EventRow) -> Result<usize, AppError> {
    let Some(Logged { id: event_id, event, .. }) = log::read(row) else { return Ok(0) };
    let (ticket_id, actor) = (row.ticket_id, row.actor_id);
    let (number, assignee): (String, Option<i64>) =
        tickets::table.find(ticket_id).select((tickets::number, tickets::assignee_id)).first(conn)?;
    let mut out: Vec<(i64, NotificationKind, String, String)> = Vec::new();
    match &event {
        TicketEvent::Created(Created { assignee_id: to, .. })
        | TicketEvent::AssigneeChanged(AssigneeChanged { to, .. }) => {
            if let Some(agent) = rules::assignment_notifies(*to, actor) {
                out.push((agent, NotificationKind::Assigned, String::new(), String::new()));
            }
        }
        TicketEvent::MessageAdded(message) => match rules::message_from(message) {
            MessageFrom::RequesterSide => {
                out.extend(assignee.map(|a| (a, NotificationKind::RequesterReplied, String::new(), String::new())));
            }
            MessageFrom::InternalNote => {
                if let Some(author) = actor {
                    out.extend(mentioned(conn, author, message.message_id)?);
                }
            }
            MessageFrom::Other => {}
        },
        TicketEvent::EscalationAnswered(answered) => {
            let escalation: Option<(Option<i64>, String)> = escalations::table
                .inner_join(departments::table)
                .filter(escalations::id.eq(answered.escalation_id))
                .select((escalations::requested_by, departments::name))
                .first(conn)
                .optional()?;
            let (asked_by, department) = escalation.unwrap_or((None, "el departamento".to_owned()));
            // The SLA engine escalates on its own: then the ticket's assignee is waiting for it.
            if let Some(agent) = asked_by.or(assignee) {
                out.push((agent, NotificationKind::EscalationAnswered, department, String::new()));
            }
        }
        TicketEvent::SlaWarning(fired) => {
            let metric = fired.metric.as_str().to_owned();
            out.extend(assignee.map(|a| (a, NotificationKind::SlaWarning, String::new(), metric)));
        }
        _ => {}
    }
    let mut created = 0;
    let now = UtcTime::now();
    for (agent, kind, who, metric) in out {
        if !is_person(conn, agent)? {
            continue;
        }
        let title = rules::title(kind, &number, &who, &metric);
        created +=
            usize::from(backend::insert_notification(conn, agent, kind.as_str(), ticket_id, event_id, &title, now)?);
    }
    Ok(created)
}

/// Notifications reach active people who work tickets, not integrations or departments.
fn is_person(conn: &mut DbConnection, agent: i64) -> Result<bool, AppError> {
    let n: i64 = agents::table
        .filter(agents::id.eq(agent))
        .filter(agents::active.eq(true))
        .filter(agents::role.eq_any(["admin", "supervisor", "agent"]))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The agents an internal note names (`@` + the local part of their email), but its author.
fn mentioned(
    conn: &mut DbConnection,
    author: i64,
    message: i64,
) -> Result<Vec<(i64, NotificationKind, String, String)>, AppError> {
    let body: Option<String> = messages::table.find(message).select(messages::body_text).first(conn).optional()?;
    let names = rules::mentions(body.as_deref().unwrap_or_default());
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let author_name: String = agents::table.find(author).select(agents::name).first(conn)?;
    let people: Vec<(i64, Option<String>)> = agents::table
        .filter(agents::email.is_not_null())
        .filter(agents::id.ne(author))
        .select((agents::id, agents::email))
        .load(conn)?;
    Ok(people
        .into_iter()
        .filter(|(_, email)| {
            let local = email.as_deref().and_then(|e| e.split_once('@')).map(|(l, _)| l.to_ascii_lowercase());
            local.is_some_and(|l| names.contains(&l))
        })
        .map(|(id, _)| (id, NotificationKind::Mention, author_name.clone(), String::new()))
        .collect())
}

/// Keeps the notifications up to date in the background: at once after this process commits,
/// else every [`POLL`] for the other replicas' events.
pub async fn run(db: Db) {
    let mut commits = db.commits();
    let mut position: Option<i64> = None;
    loop {
        let newest: Result<Option<i64>, AppError> =
            db.read(|c| Ok(ticket_events::table.select(diesel::dsl::max(ticket_events::id)).first(c)?)).await;
        let behind = match (&newest, position) {
            (Ok(newest), Some(position)) => newest.unwrap_or(0) > position,
            _ => true,
        };
        if behind {
            match db.write(step).await {
                Ok(step) if step.events as i64 >= BATCH => {
                    position = step.position;
                    continue;
                }
                Ok(step) => position = step.position.or(position),
                Err(e) => tracing::debug!(error = %e, "notification step failed"),
            }
        }
        // This step's own commit is not news.
        commits.mark_unchanged();
        crate::db::next_commit(&mut commits, POLL).await;
    }
}
