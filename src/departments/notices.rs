//! What Atención Usuaria's staff are told about the departments' work. A department's answer is
//! written by the answer use case itself ([`super::escalations::answer`]), so the notice is
//! queued in the same transaction: it exists exactly when the answer does, once (an escalation is
//! answered once), and needs no log follower of its own. Today the notice is a mail through the
//! outbox. The in-app notification is not made here: like every reaction to ticket changes, it
//! follows the committed event log (`escalation_answered` events, see
//! `crate::notifications::follower`).

use diesel::prelude::*;
use serde_json::json;

use super::escalations::EscalationView;
use crate::channels::email::outbox;
use crate::db::schema::{agents, departments, tickets};
use crate::db::DbConnection;
use crate::error::AppError;

/// Who is told about an answer: the agent who escalated, or, when the SLA engine escalated, the
/// ticket's assignee now. Only an active person with an email gets a mail.
fn recipient(conn: &mut DbConnection, e: &EscalationView) -> Result<Option<String>, AppError> {
    let agent = match e.requested_by {
        Some(agent) => Some(agent),
        None => tickets::table.find(e.ticket_id).select(tickets::assignee_id).first::<Option<i64>>(conn)?,
    };
    let Some(agent) = agent else { return Ok(None) };
    let email: Option<Option<String>> = agents::table
        .filter(agents::id.eq(agent))
        .filter(agents::active.eq(true))
        .filter(agents::role.ne("integration"))
        .select(agents::email)
        .first(conn)
        .optional()?;
    Ok(email.flatten().filter(|e| !e.is_empty()))
}

/// Department `e` answered `answer`: tell the agent waiting for it, in the caller's transaction.
pub fn escalation_answered(conn: &mut DbConnection, e: &EscalationView, answer: &str) -> Result<(), AppError> {
    let Some(to) = recipient(conn, e)? else { return Ok(()) };
    let department: String = departments::table.find(e.department_id).select(departments::name).first(conn)?;
    let detail = json!({
        "numero": e.ticket_number,
        "asunto": e.subject,
        "departamento": department,
        "consulta": e.reason,
        "respuesta": answer,
    });
    outbox::enqueue_with(conn, outbox::DEPARTMENT_ANSWER, e.ticket_id, None, &to, Some(detail))
}
