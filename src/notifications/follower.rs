//! Makes the notifications from the committed ticket event log, as one of its followers
//! ([`crate::tickets::followers`]: each event is followed once); the unique (agent, kind, event)
//! of a notification makes following an event again harmless all the same.

use diesel::prelude::*;

use crate::db::schema::{agents, departments, escalations, messages, tickets};
use crate::db::types::UtcTime;
use crate::db::{backend, DbConnection};
use crate::domain::event::{AssigneeChanged, Created};
use crate::domain::notification::{self as rules, MessageFrom, NotificationKind};
use crate::domain::TicketEvent;
use crate::error::AppError;
use crate::tickets::followers::{Followed, Follower};
use crate::tickets::log::Logged;

/// The agents' notifications follow the committed log ([`crate::tickets::followers`]).
pub struct Notifications;

impl Follower for Notifications {
    fn follow(&self, conn: &mut DbConnection, event: &Followed) -> Result<usize, AppError> {
        on_event(conn, event)
    }
}

/// The notifications of one event: (recipient, kind, who for the title, metric for the title).
fn on_event(conn: &mut DbConnection, followed: &Followed) -> Result<usize, AppError> {
    let Followed { ticket_id, actor_id: actor, logged: Logged { id: event_id, ref event, .. } } = *followed;
    // Most events notify nobody: the ticket is read only when one does.
    let mut ticket = None;
    let mut out: Vec<(i64, NotificationKind, String, String)> = Vec::new();
    match event {
        TicketEvent::Created(Created { assignee_id: to, .. })
        | TicketEvent::AssigneeChanged(AssigneeChanged { to, .. }) => {
            if let Some(agent) = rules::assignment_notifies(*to, actor) {
                out.push((agent, NotificationKind::Assigned, String::new(), String::new()));
            }
        }
        TicketEvent::MessageAdded(message) => match rules::message_from(message) {
            MessageFrom::RequesterSide => {
                let assignee = current(conn, ticket_id, &mut ticket)?.1;
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
            let waiting = match asked_by {
                Some(agent) => Some(agent),
                None => current(conn, ticket_id, &mut ticket)?.1,
            };
            if let Some(agent) = waiting {
                out.push((agent, NotificationKind::EscalationAnswered, department, String::new()));
            }
        }
        TicketEvent::SlaWarning(fired) => {
            let metric = fired.metric.as_str().to_owned();
            let assignee = current(conn, ticket_id, &mut ticket)?.1;
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
        let number = &current(conn, ticket_id, &mut ticket)?.0;
        let title = rules::title(kind, number, &who, &metric);
        created +=
            usize::from(backend::insert_notification(conn, agent, kind.as_str(), ticket_id, event_id, &title, now)?);
    }
    Ok(created)
}

/// The ticket's number and assignee now, read once.
fn current<'t>(
    conn: &mut DbConnection,
    ticket_id: i64,
    ticket: &'t mut Option<(String, Option<i64>)>,
) -> Result<&'t (String, Option<i64>), AppError> {
    if ticket.is_none() {
        *ticket = Some(tickets::table.find(ticket_id).select((tickets::number, tickets::assignee_id)).first(conn)?);
    }
    Ok(ticket.as_ref().expect("read above"))
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
