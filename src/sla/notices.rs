//! SLA notices: when a ticket's warning or breach fired with its policy's `notify`, the assignee
//! and the supervisors are mailed. The scanner records who is to be told in the fired event;
//! this follows the committed log ([`crate::tickets::followers`]), so the scan's transaction does
//! not wait for the mail.

use diesel::prelude::*;
use serde_json::json;

use crate::channels::email::outbox::{enqueue_with, queued, SLA_NOTICE};
use crate::db::schema::agents;
use crate::db::DbConnection;
use crate::domain::event::{Notified, SlaFired};
use crate::domain::TicketEvent;
use crate::error::AppError;
use crate::tickets::followers::{Followed, Follower};

pub struct SlaNotice;

impl Follower for SlaNotice {
    fn follow(&self, conn: &mut DbConnection, event: &Followed) -> Result<usize, AppError> {
        let (fired, kind) = match &event.logged.event {
            TicketEvent::SlaWarning(fired) => (fired, "warning"),
            TicketEvent::SlaBreached(fired) => (fired, "breach"),
            _ => return Ok(0),
        };
        let SlaFired { metric, due_at, notify: Some(Notified { assignee_id, .. }), .. } = fired else { return Ok(0) };
        let detail = json!({"metric": metric.as_str(), "kind": kind, "due_at": due_at});
        // Following the log again (its position set back by hand) sends nothing twice.
        if queued(conn, event.ticket_id, SLA_NOTICE, Some(&detail.to_string()))? {
            return Ok(0);
        }
        let mut recipients: Vec<String> = agents::table
            .filter(agents::active.eq(true))
            .filter(agents::role.eq("supervisor").or(agents::id.nullable().eq(assignee_id)))
            .filter(agents::email.is_not_null())
            .select(agents::email.assume_not_null())
            .load(conn)?;
        recipients.sort();
        recipients.dedup();
        for email in &recipients {
            enqueue_with(conn, SLA_NOTICE, event.ticket_id, None, email, Some(detail.clone()))?;
        }
        Ok(recipients.len())
    }
}
