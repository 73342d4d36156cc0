//! Improvement opportunities: drafted by Atención Usuaria with tickets as evidence, sent to a
//! department, which acknowledges, works on and closes them. Every step is logged with who made
//! it; when one closes, the tickets that are its evidence get an event so their agents can tell
//! the requesters.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{categories, departments, opportunities, opportunity_events, opportunity_tickets, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::event::OpportunityOutcome;
use crate::domain::opportunity::{OpportunityStatus, Side};
use crate::domain::{Principal, TicketEvent};
use crate::domain::{Priority, Role};
use crate::error::AppError;
use crate::tickets::log;
use crate::tickets::model::{body_text, line, Errors, Page};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityInput {
    pub title: String,
    pub description: String,
    /// Department slug it is meant for.
    pub department: String,
    /// Category slug.
    pub category: Option<String>,
    pub priority: Option<Priority>,
    /// Tickets that are evidence of it.
    #[serde(default)]
    pub ticket_ids: Vec<i64>,
}

/// A change to a draft before it is sent: the fields given are replaced.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    /// Department slug it is meant for.
    pub department: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: OpportunityStatus,
    pub comment: Option<String>,
    /// Required for `implemented` (what was done) and `rejected` (why not).
    pub resolution: Option<String>,
    /// Required for `duplicate`: the opportunity it repeats.
    pub duplicate_of: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTickets {
    pub ticket_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpportunityEvent {
    pub agent_id: Option<i64>,
    pub from: Option<OpportunityStatus>,
    pub to: OpportunityStatus,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvidenceTicket {
    pub id: i64,
    pub number: String,
    pub subject: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpportunityView {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub department_id: i64,
    pub department: String,
    pub category: Option<String>,
    pub priority: Priority,
    pub status: OpportunityStatus,
    pub resolution: Option<String>,
    pub duplicate_of: Option<i64>,
    /// `null` when proposed automatically.
    pub proposed_by: Option<i64>,
    /// `agent` (drafted by a person) or `trend_detection` (proposed by a trend alert).
    pub source: String,
    pub ticket_ids: Vec<i64>,
    /// The same tickets, with their number and subject (what a department sees of them).
    pub evidence: Vec<EvidenceTicket>,
    /// Its impact: linked tickets and the distinct requesters behind them.
    pub ticket_count: usize,
    pub requester_count: usize,
    pub events: Vec<OpportunityEvent>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The department's internal SLA, from when it was sent: `ack` and `answer`.
    pub sla: Vec<super::sla::ClockView>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OpportunityFilter {
    pub status: Option<OpportunityStatus>,
    /// Department slug (department members always see only their own).
    pub department: Option<String>,
    /// Page size, 1–100 (default 25).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub fn may_read(who: &Principal) -> bool {
    matches!(who.role, Role::Admin | Role::Supervisor | Role::Agent | Role::Department)
}

type Row = (
    i64,
    String,
    String,
    i64,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    UtcTime,
    UtcTime,
    String,
);

fn rows(
    conn: &mut DbConnection,
    id: Option<i64>,
    f: &OpportunityFilter,
    only: Option<i64>,
    limit: Option<i64>,
) -> Result<Vec<Row>, AppError> {
    let mut query = opportunities::table
        .inner_join(departments::table)
        .left_join(categories::table)
        .select((
            opportunities::id,
            opportunities::title,
            opportunities::description,
            opportunities::department_id,
            departments::slug,
            categories::slug.nullable(),
            opportunities::priority,
            opportunities::status,
            opportunities::resolution,
            opportunities::duplicate_of,
            opportunities::proposed_by,
            opportunities::created_at,
            opportunities::updated_at,
            opportunities::source,
        ))
        .order(opportunities::id.desc())
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(opportunities::id.eq(id));
    }
    if let Some(status) = f.status {
        query = query.filter(opportunities::status.eq(status.as_str()));
    }
    if let Some(slug) = &f.department {
        query = query.filter(departments::slug.eq(slug.clone()));
    }
    if let Some(department) = only {
        query = query.filter(opportunities::department_id.eq(department));
    }
    if let Some(cursor) = &f.cursor {
        query = query.filter(opportunities::id.lt(crate::paging::decode_cursor(cursor)?));
    }
    if let Some(limit) = limit {
        // One more than the page, to tell whether another follows.
        query = query.limit(limit + 1);
    }
    Ok(query.load(conn)?)
}

type EventRow = (Option<i64>, Option<String>, String, Option<String>, UtcTime);

fn view(conn: &mut DbConnection, row: Row) -> Result<OpportunityView, AppError> {
    let (
        id,
        title,
        description,
        department_id,
        department,
        category,
        priority,
        status,
        resolution,
        dup,
        by,
        at,
        up,
        source,
    ) = row;
    let bad = |what: &str| AppError::Internal(anyhow::anyhow!("opportunity {id} has an invalid {what}"));
    let linked: Vec<(i64, i64, String, String)> = opportunity_tickets::table
        .inner_join(tickets::table)
        .filter(opportunity_tickets::opportunity_id.eq(id))
        .order(tickets::id)
        .select((tickets::id, tickets::requester_id, tickets::number, tickets::subject))
        .load(conn)?;
    let events: Vec<EventRow> = opportunity_events::table
        .filter(opportunity_events::opportunity_id.eq(id))
        .order(opportunity_events::id)
        .select((
            opportunity_events::agent_id,
            opportunity_events::from_status,
            opportunity_events::to_status,
            opportunity_events::comment,
            opportunity_events::at,
        ))
        .load(conn)?;
    let requesters: BTreeSet<i64> = linked.iter().map(|(_, r, _, _)| *r).collect();
    Ok(OpportunityView {
        id,
        title,
        description,
        department_id,
        department,
        category,
        priority: priority.parse().map_err(|_| bad("priority"))?,
        status: status.parse().map_err(|_| bad("status"))?,
        resolution,
        duplicate_of: dup,
        proposed_by: by,
        source,
        ticket_count: linked.len(),
        requester_count: requesters.len(),
        ticket_ids: linked.iter().map(|(t, ..)| *t).collect(),
        evidence: linked.into_iter().map(|(id, _, number, subject)| EvidenceTicket { id, number, subject }).collect(),
        events: events
            .into_iter()
            .map(|(agent_id, from, to, comment, at)| {
                Ok(OpportunityEvent {
                    agent_id,
                    from: from.map(|f| f.parse()).transpose().map_err(|_| bad("event"))?,
                    to: to.parse().map_err(|_| bad("event"))?,
                    comment,
                    at: at.0,
                })
            })
            .collect::<Result<_, AppError>>()?,
        created_at: at.0,
        updated_at: up.0,
        sla: super::sla::clocks_of(conn, super::delivery::OPPORTUNITY, id)?,
    })
}

/// One opportunity, if `who` may see it (department members: only their department's; others
/// get 404, which does not reveal that it exists).
pub fn get(conn: &mut DbConnection, who: &Principal, id: i64) -> Result<OpportunityView, AppError> {
    let only = super::own_department(conn, who)?;
    let row = rows(conn, Some(id), &OpportunityFilter::default(), only, None)?.pop();
    match row {
        Some(row) if may_read(who) => view(conn, row),
        _ => Err(AppError::NotFound("la oportunidad")),
    }
}

/// A page of opportunities, newest first.
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    f: &OpportunityFilter,
) -> Result<Page<OpportunityView>, AppError> {
    if !may_read(who) {
        return Err(AppError::Forbidden);
    }
    let only = super::own_department(conn, who)?;
    let limit = crate::paging::page_limit(f.limit)?;
    let (found, next_cursor) = crate::paging::cut_page(rows(conn, None, f, only, Some(limit))?, limit, |r| r.0);
    let items = found.into_iter().map(|r| view(conn, r)).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

fn log(
    conn: &mut DbConnection,
    id: i64,
    who: Option<i64>,
    from: Option<OpportunityStatus>,
    to: OpportunityStatus,
    comment: Option<&str>,
) -> Result<(), AppError> {
    diesel::insert_into(opportunity_events::table)
        .values((
            opportunity_events::opportunity_id.eq(id),
            opportunity_events::agent_id.eq(who),
            opportunity_events::from_status.eq(from.map(|f| f.as_str())),
            opportunity_events::to_status.eq(to.as_str()),
            opportunity_events::comment.eq(comment),
            opportunity_events::at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    Ok(())
}

fn link(conn: &mut DbConnection, id: i64, ticket_ids: &[i64]) -> Result<(), AppError> {
    for ticket in ticket_ids {
        let exists: i64 = tickets::table.filter(tickets::id.eq(ticket)).count().get_result(conn)?;
        if exists == 0 {
            return Err(AppError::field("ticket_ids", format!("no existe el ticket {ticket}")));
        }
        let linked: i64 = opportunity_tickets::table
            .filter(opportunity_tickets::opportunity_id.eq(id))
            .filter(opportunity_tickets::ticket_id.eq(ticket))
            .count()
            .get_result(conn)?;
        if linked == 0 {
            diesel::insert_into(opportunity_tickets::table)
                .values((opportunity_tickets::opportunity_id.eq(id), opportunity_tickets::ticket_id.eq(ticket)))
                .execute(conn)?;
        }
    }
    Ok(())
}

fn staff(who: &Principal) -> Result<(), AppError> {
    match who.role {
        Role::Admin | Role::Supervisor | Role::Agent => Ok(()),
        _ => Err(AppError::Forbidden),
    }
}

/// A new draft, proposed by a member of Atención Usuaria.
pub fn create(conn: &mut DbConnection, who: &Principal, input: OpportunityInput) -> Result<OpportunityView, AppError> {
    staff(who)?;
    let mut errors = Errors::default();
    let title = line(&mut errors, "title", &input.title, 200);
    let description = body_text(&mut errors, "description", &input.description);
    errors.finish()?;
    let department = department_id(conn, &input.department)?;
    let category = match &input.category {
        Some(slug) => Some(
            categories::table
                .filter(categories::slug.eq(slug))
                .select(categories::id)
                .first::<i64>(conn)
                .optional()?
                .ok_or_else(|| AppError::field("category", format!("no existe la categoría «{slug}»")))?,
        ),
        None => None,
    };
    let at = UtcTime::now();
    let id: i64 = diesel::insert_into(opportunities::table)
        .values((
            opportunities::title.eq(&title),
            opportunities::description.eq(&description),
            opportunities::category_id.eq(category),
            opportunities::department_id.eq(department),
            opportunities::priority.eq(input.priority.unwrap_or(Priority::Normal).as_str()),
            opportunities::status.eq(OpportunityStatus::Draft.as_str()),
            opportunities::proposed_by.eq(who.agent_id),
            opportunities::source.eq(FROM_AGENT),
            opportunities::created_at.eq(at),
            opportunities::updated_at.eq(at),
        ))
        .returning(opportunities::id)
        .get_result(conn)?;
    link(conn, id, &input.ticket_ids)?;
    log(conn, id, Some(who.agent_id), None, OpportunityStatus::Draft, None)?;
    get(conn, who, id)
}

/// An active department by slug, or a 422 naming `department`.
fn department_id(conn: &mut DbConnection, slug: &str) -> Result<i64, AppError> {
    departments::table
        .filter(departments::slug.eq(slug))
        .filter(departments::active.eq(true))
        .select(departments::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::field("department", format!("no existe el departamento «{slug}»")))
}

/// Edits a draft (Atención Usuaria), e.g. one that trend detection proposed, before sending it:
/// once sent, the department owns it and it is a 409.
pub fn update_draft(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    patch: OpportunityPatch,
) -> Result<OpportunityView, AppError> {
    staff(who)?;
    if get(conn, who, id)?.status != OpportunityStatus::Draft {
        return Err(AppError::Conflict("Solo se edita un borrador: esta oportunidad ya fue enviada.".into()));
    }
    let mut errors = Errors::default();
    let title = patch.title.as_deref().map(|t| line(&mut errors, "title", t, 200));
    let description = patch.description.as_deref().map(|d| body_text(&mut errors, "description", d));
    errors.finish()?;
    let department = patch.department.as_deref().map(|slug| department_id(conn, slug)).transpose()?;
    diesel::update(opportunities::table.find(id))
        .set((
            title.map(|t| opportunities::title.eq(t)),
            description.map(|d| opportunities::description.eq(d)),
            department.map(|d| opportunities::department_id.eq(d)),
            opportunities::updated_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    get(conn, who, id)
}

/// Where an opportunity came from.
pub const FROM_AGENT: &str = "agent";
pub const FROM_TRENDS: &str = "trend_detection";

/// What trend detection proposes: a draft with no agent behind it.
pub struct AutomaticProposal<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub department_id: i64,
    pub category_id: Option<i64>,
    pub ticket_ids: &'a [i64],
}

/// A draft proposed by the system (`proposed_by` is `null`, `source` tells why); Atención
/// Usuaria reviews it and decides whether to send it. Returns its id.
pub fn propose_automatic(conn: &mut DbConnection, p: AutomaticProposal<'_>, comment: &str) -> Result<i64, AppError> {
    let at = UtcTime::now();
    let id: i64 = diesel::insert_into(opportunities::table)
        .values((
            opportunities::title.eq(p.title),
            opportunities::description.eq(p.description),
            opportunities::category_id.eq(p.category_id),
            opportunities::department_id.eq(p.department_id),
            opportunities::priority.eq(Priority::Normal.as_str()),
            opportunities::status.eq(OpportunityStatus::Draft.as_str()),
            opportunities::proposed_by.eq(None::<i64>),
            opportunities::source.eq(FROM_TRENDS),
            opportunities::created_at.eq(at),
            opportunities::updated_at.eq(at),
        ))
        .returning(opportunities::id)
        .get_result(conn)?;
    link(conn, id, p.ticket_ids)?;
    log(conn, id, None, None, OpportunityStatus::Draft, Some(comment))?;
    Ok(id)
}

/// Adds evidence tickets (Atención Usuaria, while the opportunity is open).
pub fn add_tickets(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    req: LinkTickets,
) -> Result<OpportunityView, AppError> {
    staff(who)?;
    let current = get(conn, who, id)?;
    if current.status.is_final() {
        return Err(AppError::Conflict("La oportunidad ya está cerrada.".into()));
    }
    link(conn, id, &req.ticket_ids)?;
    get(conn, who, id)
}

/// The department's SLA clocks follow the lifecycle: both start when it is sent; acknowledging
/// (or starting work) stops `ack`; an outcome stops both. Before the delivery, which locks the
/// department's feed: the scanner locks clocks first too.
fn move_clocks(
    conn: &mut DbConnection,
    current: &OpportunityView,
    to: OpportunityStatus,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    use super::sla::{self, ACK, ANSWER};
    let kind = super::delivery::OPPORTUNITY;
    match to {
        OpportunityStatus::Sent => sla::start(conn, current.department_id, (kind, current.id), &[ACK, ANSWER], at),
        OpportunityStatus::Acknowledged | OpportunityStatus::InProgress => {
            sla::stop(conn, kind, &[current.id], &[ACK], at)
        }
        _ if to.is_final() => sla::stop(conn, kind, &[current.id], &[ACK, ANSWER], at),
        _ => Ok(()),
    }
}

/// Moves an opportunity along its lifecycle, by the side the step belongs to.
pub fn transition(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    req: TransitionRequest,
) -> Result<OpportunityView, AppError> {
    let current = get(conn, who, id)?;
    let sides: &[Side] = match who.role {
        Role::Admin => &[Side::AtencionUsuaria, Side::Department],
        Role::Supervisor | Role::Agent => &[Side::AtencionUsuaria],
        Role::Department => &[Side::Department],
        Role::Integration => &[],
    };
    let from = current.status;
    let checks: Vec<Result<(), &str>> = sides.iter().map(|side| from.check(req.to, *side)).collect();
    if !checks.iter().any(Result::is_ok) {
        let reason = checks.into_iter().find_map(Result::err).unwrap_or("no puede cambiar esta oportunidad");
        return Err(AppError::Conflict(format!("No se puede pasar de «{from}» a «{}»: {reason}.", req.to)));
    }
    let mut errors = Errors::default();
    let resolution = req.resolution.as_deref().map(|r| body_text(&mut errors, "resolution", r));
    if let (Some(message), None) = (req.to.missing_resolution(), &resolution) {
        errors.add("resolution", message);
    }
    let comment = req.comment.as_deref().map(|c| body_text(&mut errors, "comment", c));
    errors.finish()?;
    if req.to == OpportunityStatus::Duplicate {
        let original =
            req.duplicate_of.ok_or_else(|| AppError::field("duplicate_of", "indique la oportunidad original"))?;
        if original == id || get(conn, who, original).is_err() {
            return Err(AppError::field("duplicate_of", format!("no existe la oportunidad {original}")));
        }
    }
    let now = UtcTime::now();
    diesel::update(opportunities::table.find(id))
        .set((
            opportunities::status.eq(req.to.as_str()),
            opportunities::resolution.eq(resolution.as_ref().or(current.resolution.as_ref())),
            opportunities::duplicate_of.eq(req.duplicate_of.or(current.duplicate_of)),
            opportunities::updated_at.eq(now),
        ))
        .execute(conn)?;
    move_clocks(conn, &current, req.to, now.0)?;
    log(conn, id, Some(who.agent_id), Some(from), req.to, comment.as_deref())?;
    if req.to.is_final() {
        // The agents of the evidence tickets learn the outcome, to tell their requesters.
        let outcome = TicketEvent::OpportunityOutcome(OpportunityOutcome {
            opportunity_id: id,
            title: current.title.clone(),
            status: req.to,
            resolution: resolution.clone(),
        });
        for ticket in &current.ticket_ids {
            log::record(conn, *ticket, who.actor(), outcome.clone(), UtcTime::now())?;
        }
    }
    let view = get(conn, who, id)?;
    super::delivery::opportunity_moved(conn, &view, from, who)?;
    Ok(view)
}
