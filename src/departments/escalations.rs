//! Escalating a ticket to another department: a consultation (the department answers with an
//! internal note; Atención Usuaria keeps the conversation) or a transfer (the department's queue
//! owns the ticket). Department members see only what was escalated to their department, and the
//! requester's contact data only when the escalation grants it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use utoipa::{IntoParams, ToSchema};

use super::sla::{ACK, ANSWER};
use crate::db::schema::{departments, escalations, messages, queues, requesters, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::event::{Escalated, EscalationAnswered};
use crate::domain::{Actor, Principal, TicketEvent};
use crate::domain::{EscalationMode, EscalationStatus, Status, Visibility};
use crate::error::AppError;
use crate::tickets::log;
use crate::tickets::model::{body_text, line, CreateMessageRequest, Errors, Page, UpdateTicketRequest};
use crate::tickets::store;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// Department slug, e.g. `compradores`.
    pub department: String,
    pub mode: EscalationMode,
    /// What the department is asked, or why it receives the ticket.
    pub reason: String,
    /// Let the department see the requester's email, phone and RUT.
    #[serde(default)]
    pub grant_pii: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    pub body: String,
}

/// The requester as a department sees them: contact data only when granted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequesterSummary {
    pub name: String,
    pub segment: String,
    pub organization: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub rut: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationView {
    pub id: i64,
    pub ticket_id: i64,
    pub ticket_number: String,
    pub subject: String,
    /// The requester's first message.
    pub summary: String,
    pub department_id: i64,
    pub department: String,
    pub mode: EscalationMode,
    pub status: EscalationStatus,
    pub reason: String,
    pub grant_pii: bool,
    pub requester: RequesterSummary,
    /// `null` when the SLA engine escalated it.
    pub requested_by: Option<i64>,
    pub answer: Option<String>,
    pub answered_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    /// The department's internal SLA: `ack` (both modes) and `answer` (consultations).
    pub sla: Vec<super::sla::ClockView>,
}

type Row = (
    (i64, i64, i64, String, String, String, bool, Option<i64>, Option<String>, Option<i64>, UtcTime, Option<UtcTime>),
    (String, String),
    String,
    (String, String, Option<String>, Option<String>, Option<String>, Option<String>),
);

fn load(conn: &mut DbConnection, filter: Filter) -> Result<Vec<EscalationView>, AppError> {
    let mut query = escalations::table
        .inner_join(tickets::table.inner_join(requesters::table))
        .inner_join(departments::table)
        .select((
            (
                escalations::id,
                escalations::ticket_id,
                escalations::department_id,
                escalations::mode,
                escalations::status,
                escalations::reason,
                escalations::grant_pii,
                escalations::requested_by,
                escalations::answer,
                escalations::answered_by,
                escalations::created_at,
                escalations::answered_at,
            ),
            (tickets::number, tickets::subject),
            departments::slug,
            (
                requesters::name,
                requesters::segment,
                requesters::organization,
                requesters::email,
                requesters::phone,
                requesters::rut,
            ),
        ))
        .order(escalations::id.asc())
        .into_boxed();
    query = match filter {
        Filter::Id(id) => query.filter(escalations::id.eq(id)),
        Filter::Ticket(id) => query.filter(escalations::ticket_id.eq(id)),
        Filter::Department(id, ref f, limit) => {
            let mut query = query.filter(escalations::department_id.eq(id)).limit(limit + 1);
            if let Some(status) = f.status {
                query = query.filter(escalations::status.eq(status.as_str()));
            }
            if let Some(cursor) = &f.cursor {
                query = query.filter(escalations::id.gt(crate::paging::decode_cursor(cursor)?));
            }
            query
        }
    };
    let rows: Vec<Row> = query.load(conn)?;
    rows.into_iter().map(|row| view(conn, row)).collect()
}

enum Filter {
    Id(i64),
    Ticket(i64),
    /// A page of the department's (of this limit), read with one more to tell whether another follows.
    Department(i64, EscalationFilter, i64),
}

fn view(conn: &mut DbConnection, row: Row) -> Result<EscalationView, AppError> {
    let (
        (id, ticket_id, department_id, mode, status, reason, grant_pii, by, answer, answered_by, at, answered_at),
        t,
        dept,
        r,
    ) = row;
    let bad = |what: &str| AppError::Internal(anyhow::anyhow!("escalation {id} has an invalid {what}"));
    let summary: String = messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .order(messages::id.asc())
        .select(messages::body_text)
        .first(conn)?;
    let (name, segment, organization, email, phone, rut) = r;
    let sla = super::sla::clocks_of(conn, super::delivery::ESCALATION, id)?;
    let shown = |v: Option<String>| v.filter(|_| grant_pii);
    Ok(EscalationView {
        id,
        ticket_id,
        ticket_number: t.0,
        subject: t.1,
        summary,
        department_id,
        department: dept,
        mode: mode.parse().map_err(|_| bad("mode"))?,
        status: status.parse().map_err(|_| bad("status"))?,
        reason,
        grant_pii,
        requester: RequesterSummary {
            name,
            segment,
            organization,
            email: shown(email),
            phone: shown(phone),
            rut: shown(rut),
        },
        requested_by: by,
        answer,
        answered_by,
        created_at: at.0,
        answered_at: answered_at.map(|t| t.0),
        sla,
    })
}

pub fn one(conn: &mut DbConnection, id: i64) -> Result<EscalationView, AppError> {
    load(conn, Filter::Id(id))?.pop().ok_or(AppError::NotFound("la derivación"))
}

/// Sends ticket `id` to a department. Asking again while an escalation to the same department is
/// open returns that one (so an SLA breach on several metrics escalates once).
pub fn escalate(
    conn: &mut DbConnection,
    id: i64,
    actor: Actor,
    req: EscalateRequest,
) -> Result<EscalationView, AppError> {
    let mut errors = Errors::default();
    let reason = line(&mut errors, "reason", &req.reason, 500);
    errors.finish()?;
    let department: Option<(i64, String)> = departments::table
        .filter(departments::slug.eq(&req.department))
        .filter(departments::active.eq(true))
        .select((departments::id, departments::slug))
        .first(conn)
        .optional()?;
    let (department, slug) = department
        .ok_or_else(|| AppError::field("department", format!("no existe el departamento «{}»", req.department)))?;
    let status: String = tickets::table
        .find(id)
        .select(tickets::status)
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("el ticket"))?;
    if status == Status::Closed.as_str() {
        return Err(crate::domain::ticket::TransitionError::Closed.into());
    }
    let open: Option<i64> = escalations::table
        .filter(escalations::ticket_id.eq(id))
        .filter(escalations::department_id.eq(department))
        .filter(escalations::status.eq(EscalationStatus::Open.as_str()))
        .select(escalations::id)
        .first(conn)
        .optional()?;
    if let Some(existing) = open {
        return one(conn, existing);
    }
    if req.mode == EscalationMode::Transfer {
        let queue: Option<String> = queues::table
            .filter(queues::department_id.eq(department))
            .filter(queues::active.eq(true))
            .order(queues::id)
            .select(queues::slug)
            .first(conn)
            .optional()?;
        let queue = queue
            .ok_or_else(|| AppError::field("department", "el departamento no tiene una cola para recibir traspasos"))?;
        let update = UpdateTicketRequest {
            queue: Some(queue),
            assignee_id: Some(None),
            reason: Some(format!("traspaso a {slug}: {reason}")),
            ..UpdateTicketRequest::default()
        };
        store::update(conn, id, actor, update)?;
    }
    let at = UtcTime::now();
    let escalation: i64 = diesel::insert_into(escalations::table)
        .values((
            escalations::ticket_id.eq(id),
            escalations::department_id.eq(department),
            escalations::mode.eq(req.mode.as_str()),
            escalations::reason.eq(&reason),
            escalations::grant_pii.eq(req.grant_pii),
            escalations::requested_by.eq(match actor {
                Actor::Agent(a) => Some(a),
                _ => None,
            }),
            escalations::created_at.eq(at),
        ))
        .returning(escalations::id)
        .get_result(conn)?;
    let escalated = Escalated { escalation_id: escalation, department: slug.to_owned(), mode: req.mode, reason };
    log::record(conn, id, actor, TicketEvent::Escalated(escalated), at)?;
    let metrics: &[&str] = match req.mode {
        EscalationMode::Consult => &[ACK, ANSWER],
        EscalationMode::Transfer => &[ACK],
    };
    // Before the delivery: clocks are locked before the department's feed, as the scanner does.
    super::sla::start(conn, department, (super::delivery::ESCALATION, escalation), metrics, at.0)?;
    let view = one(conn, escalation)?;
    super::delivery::escalation_created(conn, &view)?;
    Ok(view)
}

/// A page of a department's escalations, oldest first; 404 for anyone outside the department
/// (its existence is not revealed).
pub fn for_department(
    conn: &mut DbConnection,
    who: &Principal,
    department: i64,
    filter: EscalationFilter,
) -> Result<Page<EscalationView>, AppError> {
    if !super::may_see(conn, who, department)? {
        return Err(AppError::NotFound("el departamento"));
    }
    let limit = crate::paging::page_limit(filter.limit)?;
    let rows = load(conn, Filter::Department(department, filter, limit))?;
    let (items, next_cursor) = crate::paging::cut_page(rows, limit, |e| e.id);
    Ok(Page { items, next_cursor })
}

pub fn for_ticket(conn: &mut DbConnection, ticket: i64) -> Result<Vec<EscalationView>, AppError> {
    tickets::table
        .find(ticket)
        .select(tickets::id)
        .first::<i64>(conn)
        .optional()?
        .ok_or(AppError::NotFound("el ticket"))?;
    load(conn, Filter::Ticket(ticket))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EscalationFilter {
    /// `open` or `answered`; all when absent.
    pub status: Option<EscalationStatus>,
    /// Page size, 1–100 (default 25).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The department's answer: an internal note on the ticket for Atención Usuaria's agents, and a
/// notice to the agent who asked ([`super::notices`]).
pub fn answer(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    req: AnswerRequest,
) -> Result<EscalationView, AppError> {
    let mut errors = Errors::default();
    let body = body_text(&mut errors, "body", &req.body);
    errors.finish()?;
    let current = one(conn, id)?;
    if !super::may_see(conn, who, current.department_id)? {
        return Err(AppError::NotFound("la derivación"));
    }
    let answered = || AppError::Conflict("La derivación ya fue respondida.".into());
    if current.status == EscalationStatus::Answered {
        return Err(answered());
    }
    let at = UtcTime::now();
    // Only an open escalation is answered: of two concurrent answers, the second changes no row
    // (Postgres re-checks the condition after the first commits) and is a 409, so the ticket gets
    // one note and the agent one notice.
    let changed = diesel::update(escalations::table.find(id))
        .filter(escalations::status.eq(EscalationStatus::Open.as_str()))
        .set((
            escalations::status.eq(EscalationStatus::Answered.as_str()),
            escalations::answer.eq(&body),
            escalations::answered_by.eq(who.agent_id),
            escalations::answered_at.eq(at),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(answered());
    }
    let note = CreateMessageRequest {
        body: format!("Respuesta de {}: {body}", current.department),
        body_html: None,
        visibility: Some(Visibility::Internal),
        from_requester: false,
        status: None,
    };
    store::add_message(conn, current.ticket_id, who.actor(), note, crate::tickets::OnReply::Keep)?;
    super::sla::stop(conn, super::delivery::ESCALATION, &[id], &[ACK, ANSWER], at.0)?;
    let answered = EscalationAnswered { escalation_id: id, department: current.department.clone() };
    log::record(conn, current.ticket_id, who.actor(), TicketEvent::EscalationAnswered(answered), at)?;
    super::notices::escalation_answered(conn, &current, &body)?;
    one(conn, id)
}
