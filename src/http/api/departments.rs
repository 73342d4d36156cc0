//! Escalations to departments: from a ticket, and each department's own list and answers; its
//! queue (inbox, delivery log and webhook).

use actix_web::{delete, get, patch, post, put, web, HttpResponse};

use super::audited;
use super::extract::{Json, Query};
use super::tickets::audited_read;
use crate::audit::{Entry, Origin, OPPORTUNITY, TICKET};
use crate::db::DbConnection;
use crate::departments::delivery::{self, AckRequest, AckResult, DeliveryLogPage, FeedQuery, InboxPage};
use crate::departments::escalations::{self, AnswerRequest, EscalateRequest, EscalationFilter, EscalationView};
use crate::departments::opportunities::{
    self, LinkTickets, OpportunityFilter, OpportunityInput, OpportunityPatch, OpportunityView, TransitionRequest,
};
use crate::departments::sla::{self, DepartmentItem, DepartmentSla, DepartmentSlaInput, ItemsFilter};
use crate::departments::summary::{self, DepartmentSummary};
use crate::departments::webhooks::{self, WebhookInput, WebhookView};
use crate::domain::Principal;
use crate::domain::Role;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::reports::PeriodQuery;
use crate::tickets::model::Page;
use crate::tickets::store;

/// What only admins may change on a department, checked before its body is read: hidden (404)
/// from those who may not see the department, forbidden (403) to the others.
fn admin_of(c: &mut DbConnection, who: &Principal, department: i64) -> Result<(), AppError> {
    crate::departments::visible(c, who, department)?;
    if who.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// Escalate a ticket: `consult` (the department answers with an internal note) or `transfer` (the
/// ticket moves to the department's queue, unassigned). `grant_pii` lets the department see the
/// requester's email, phone and RUT.
#[utoipa::path(tag = "departments", params(("id" = String, Path, description = "Id or number")), request_body = EscalateRequest,
    responses((status = 201, body = EscalationView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/tickets/{id}/escalations")]
pub async fn escalate(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<String>,
    body: Json<EscalateRequest>,
) -> Result<HttpResponse, AppError> {
    let (key, req, actor) = (id.into_inner(), body.into_value()?, p.actor());
    let view = audited(&state, p.principal.clone(), origin, move |c, _| {
        let id = store::resolve_id(c, &key)?;
        let view = escalations::escalate(c, id, actor, req)?;
        let entry = Entry::change(TICKET, view.ticket_id, Some(view.department_id));
        Ok((view, vec![entry]))
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Where a ticket is waiting: its escalations, oldest first.
#[utoipa::path(tag = "departments", params(("id" = String, Path, description = "Id or number")),
    responses((status = 200, body = Vec<EscalationView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/tickets/{id}/escalations")]
pub async fn ticket_escalations(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<String>,
) -> Result<web::Json<Vec<EscalationView>>, AppError> {
    Ok(web::Json(audited_read(&state, &p, origin, id.into_inner(), escalations::for_ticket).await?))
}

/// A department's escalations. Department members see only their own department (others answer
/// 404); contact data of the requester only where the escalation grants it.
#[utoipa::path(tag = "departments", params(("id" = i64, Path), EscalationFilter),
    responses((status = 200, body = Page<EscalationView>), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/departments/{id}/escalations")]
pub async fn department_escalations(
    state: web::Data<AppState>,
    who: Principal,
    origin: Origin,
    id: web::Path<i64>,
    filter: Query<EscalationFilter>,
) -> Result<web::Json<Page<EscalationView>>, AppError> {
    let (id, filter) = (id.into_inner(), filter.into_value());
    Ok(web::Json(
        audited(&state, who, origin, move |c, who| {
            if !crate::departments::may_see(c, who, id)? {
                return Err(AppError::NotFound("el departamento"));
            }
            let page = escalations::for_department(c, who, id, filter?)?;
            let entries = page.items.iter().map(|e| Entry::read(TICKET, e.ticket_id, Some(id))).collect();
            Ok((page, entries))
        })
        .await?,
    ))
}

/// The department's answer, added to the ticket as an internal note and mailed (through the
/// outbox, kind `department_answer`) to the agent who escalated, or to the ticket's assignee when
/// the SLA engine escalated, if they have an email. An escalation is answered once (409 after).
#[utoipa::path(tag = "departments", params(("id" = i64, Path)), request_body = AnswerRequest,
    responses((status = 200, body = EscalationView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/escalations/{id}/answer")]
pub async fn answer(
    state: web::Data<AppState>,
    who: Principal,
    origin: Origin,
    id: web::Path<i64>,
    body: Json<AnswerRequest>,
) -> Result<web::Json<EscalationView>, AppError> {
    let (id, req) = (id.into_inner(), body.into_value());
    Ok(web::Json(
        audited(&state, who, origin, move |c, who| {
            let department = escalations::one(c, id)?.department_id;
            if !crate::departments::may_see(c, who, department)? {
                return Err(AppError::NotFound("la derivación"));
            }
            let view = escalations::answer(c, who, id, req?)?;
            let entry = Entry::change(TICKET, view.ticket_id, Some(view.department_id));
            Ok((view, vec![entry]))
        })
        .await?,
    ))
}

/// One escalation, as its department sees it (contact data only where granted); 404 for anyone
/// outside that department.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)),
    responses((status = 200, body = EscalationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/escalations/{id}")]
pub async fn get_escalation(
    state: web::Data<AppState>,
    who: Principal,
    origin: Origin,
    id: web::Path<i64>,
) -> Result<web::Json<EscalationView>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(
        audited(&state, who, origin, move |c, who| {
            let view = escalations::one(c, id)?;
            if !crate::departments::may_see(c, who, view.department_id)? {
                return Err(AppError::NotFound("la derivación"));
            }
            let entry = Entry::read(TICKET, view.ticket_id, Some(view.department_id));
            Ok((view, vec![entry]))
        })
        .await?,
    ))
}

/// A department's month by month figures over `from`–`to` (America/Santiago days, at most 366):
/// received, acknowledged and answered within its internal SLA, opportunities implemented and
/// rejected.
#[utoipa::path(tag = "departments", params(("id" = i64, Path), PeriodQuery),
    responses((status = 200, body = DepartmentSummary), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/departments/{id}/summary")]
pub async fn department_summary(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
    query: Query<PeriodQuery>,
) -> Result<web::Json<DepartmentSummary>, AppError> {
    let (id, query) = (id.into_inner(), query.into_value());
    Ok(web::Json(
        state
            .db
            .read(move |c| {
                crate::departments::visible(c, &who, id)?;
                summary::summary(c, id, query?.validate()?)
            })
            .await?,
    ))
}

/// The audit row of a change to an opportunity.
fn changed(view: OpportunityView) -> Result<(OpportunityView, Vec<Entry>), AppError> {
    let entry = Entry::change(OPPORTUNITY, view.id, Some(view.department_id));
    Ok((view, vec![entry]))
}

/// Draft an improvement opportunity for a department, with tickets as evidence (Atención
/// Usuaria's staff).
#[utoipa::path(tag = "departments", request_body = OpportunityInput,
    responses((status = 201, body = OpportunityView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/opportunities")]
pub async fn create_opportunity(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: Origin,
    body: Json<OpportunityInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    let view =
        audited(&state, p.principal, origin, move |c, who| changed(opportunities::create(c, who, input)?)).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Improvement opportunities, newest first; department members see only their department's.
#[utoipa::path(tag = "departments", params(OpportunityFilter),
    responses((status = 200, body = Page<OpportunityView>), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/opportunities")]
pub async fn list_opportunities(
    state: web::Data<AppState>,
    who: Principal,
    origin: Origin,
    filter: Query<OpportunityFilter>,
) -> Result<web::Json<Page<OpportunityView>>, AppError> {
    if !opportunities::may_read(&who) {
        return Err(AppError::Forbidden);
    }
    let filter = filter.into_value()?;
    Ok(web::Json(
        audited(&state, who, origin, move |c, who| {
            let page = opportunities::list(c, who, &filter)?;
            let entries = page.items.iter().map(|o| Entry::read(OPPORTUNITY, o.id, Some(o.department_id))).collect();
            Ok((page, entries))
        })
        .await?,
    ))
}

/// One opportunity with its evidence, impact and history.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)),
    responses((status = 200, body = OpportunityView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/opportunities/{id}")]
pub async fn get_opportunity(
    state: web::Data<AppState>,
    who: Principal,
    origin: Origin,
    id: web::Path<i64>,
) -> Result<web::Json<OpportunityView>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(
        audited(&state, who, origin, move |c, who| {
            let view = opportunities::get(c, who, id)?;
            let entry = Entry::read(OPPORTUNITY, view.id, Some(view.department_id));
            Ok((view, vec![entry]))
        })
        .await?,
    ))
}

/// Move an opportunity: Atención Usuaria sends drafts; the department acknowledges, starts and
/// closes them (`implemented` or `rejected`, both with a `resolution`); either side marks a
/// `duplicate` (`duplicate_of`). Closing it leaves an event on each evidence ticket.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)), request_body = TransitionRequest,
    responses((status = 200, body = OpportunityView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/opportunities/{id}/transitions")]
pub async fn transition_opportunity(
    state: web::Data<AppState>,
    who: Principal,
    origin: Origin,
    id: web::Path<i64>,
    body: Json<TransitionRequest>,
) -> Result<web::Json<OpportunityView>, AppError> {
    let (id, req) = (id.into_inner(), body.into_value());
    Ok(web::Json(
        audited(&state, who, origin, move |c, who| {
            // 404 for those who may not see it, whatever the body.
            opportunities::get(c, who, id)?;
            changed(opportunities::transition(c, who, id, req?)?)
        })
        .await?,
    ))
}

/// Edit a draft before sending it (Atención Usuaria): title, description, department. A sent
/// opportunity belongs to its department: 409.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)), request_body = OpportunityPatch,
    responses((status = 200, body = OpportunityView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[patch("/opportunities/{id}")]
pub async fn update_opportunity(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<i64>,
    body: Json<OpportunityPatch>,
) -> Result<web::Json<OpportunityView>, AppError> {
    let (id, patch) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(
        audited(&state, p.principal, origin, move |c, who| changed(opportunities::update_draft(c, who, id, patch)?))
            .await?,
    ))
}

/// Add evidence tickets to an open opportunity.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)), request_body = LinkTickets,
    responses((status = 200, body = OpportunityView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/opportunities/{id}/tickets")]
pub async fn link_opportunity_tickets(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<i64>,
    body: Json<LinkTickets>,
) -> Result<web::Json<OpportunityView>, AppError> {
    let (id, req) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(
        audited(&state, p.principal, origin, move |c, who| changed(opportunities::add_tickets(c, who, id, req)?))
            .await?,
    ))
}

/// The department's inbox: what was sent to it (escalations, the requester's replies on them,
/// opportunities), oldest first; by default only what it has not acknowledged. Each item carries
/// the idempotency `key` that the stream and the webhook also use.
#[utoipa::path(tag = "departments", params(("id" = i64, Path), FeedQuery),
    responses((status = 200, body = InboxPage), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/departments/{id}/inbox")]
pub async fn inbox(
    state: web::Data<AppState>,
    who: Principal,
    origin: Origin,
    id: web::Path<i64>,
    query: Query<FeedQuery>,
) -> Result<web::Json<InboxPage>, AppError> {
    let (id, query) = (id.into_inner(), query.into_value());
    Ok(web::Json(
        audited(&state, who, origin, move |c, who| {
            crate::departments::visible(c, who, id)?;
            let page = delivery::inbox(c, who, id, &query?)?;
            let entries = inbox_entries(c, id, &page)?;
            Ok((page, entries))
        })
        .await?,
    ))
}

/// What an inbox page shows: the tickets of its escalations and its opportunities.
fn inbox_entries(c: &mut crate::db::DbConnection, department: i64, page: &InboxPage) -> Result<Vec<Entry>, AppError> {
    use crate::db::schema::escalations as e;
    use diesel::prelude::*;
    let ids = |kind: &str| page.items.iter().filter(|i| i.kind == kind).map(|i| i.item_id).collect::<Vec<_>>();
    let tickets: Vec<i64> =
        e::table.filter(e::id.eq_any(ids(delivery::ESCALATION))).select(e::ticket_id).distinct().load(c)?;
    let read = |kind, id| Entry::read(kind, id, Some(department));
    let mut entries: Vec<Entry> = tickets.into_iter().map(|t| read(TICKET, t)).collect();
    entries.extend(ids(delivery::OPPORTUNITY).into_iter().map(|o| read(OPPORTUNITY, o)));
    Ok(entries)
}

/// Acknowledge inbox items: `ids`, or everything `up_to` a cursor.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)), request_body = AckRequest,
    responses((status = 200, body = AckResult), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/departments/{id}/inbox/ack")]
pub async fn ack_inbox(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
    body: Json<AckRequest>,
) -> Result<web::Json<AckResult>, AppError> {
    let (id, req) = (id.into_inner(), body.into_value());
    Ok(web::Json(
        state
            .db
            .write(move |c| {
                crate::departments::visible(c, &who, id)?;
                delivery::ack(c, &who, id, req?)
            })
            .await?,
    ))
}

/// How each delivery went: on the Redis stream, and every webhook request with its answer.
#[utoipa::path(tag = "departments", params(("id" = i64, Path), FeedQuery),
    responses((status = 200, body = DeliveryLogPage), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/departments/{id}/deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
    query: Query<FeedQuery>,
) -> Result<web::Json<DeliveryLogPage>, AppError> {
    let (id, query) = (id.into_inner(), query.into_value());
    Ok(web::Json(
        state
            .db
            .read(move |c| {
                crate::departments::visible(c, &who, id)?;
                delivery::log(c, &who, id, &query?)
            })
            .await?,
    ))
}

/// The department's webhook (admins, supervisors and the department); the secret is never shown.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/departments/{id}/webhook")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<WebhookView>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| webhooks::get(c, &who, id)).await?))
}

/// Set the department's webhook (admins): URL and signing secret. Setting it again enables it,
/// forgets its failures and makes what was waiting due at once.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)), request_body = WebhookInput,
    responses((status = 200, body = WebhookView), (status = 201, body = WebhookView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[put("/departments/{id}/webhook")]
pub async fn put_webhook(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
    body: Json<WebhookInput>,
) -> Result<HttpResponse, AppError> {
    let (id, input) = (id.into_inner(), body.into_value());
    let (view, created) = state
        .db
        .write(move |c| {
            admin_of(c, &who, id)?;
            webhooks::put(c, &who, id, input?)
        })
        .await?;
    Ok(if created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(view))
}

/// Remove the department's webhook (admins); what was waiting for it is cancelled.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/departments/{id}/webhook")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.write(move |c| webhooks::delete(c, &who, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The department's internal SLA: business minutes to acknowledge and to answer, the warning
/// share and the calendar (admins, supervisors and the department).
#[utoipa::path(tag = "departments", params(("id" = i64, Path)),
    responses((status = 200, body = DepartmentSla), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/departments/{id}/sla")]
pub async fn get_department_sla(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<DepartmentSla>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(
        state
            .db
            .read(move |c| {
                crate::departments::visible(c, &who, id)?;
                sla::targets(c, id)
            })
            .await?,
    ))
}

/// Change the department's internal SLA (admins). Clocks already running keep their targets.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)), request_body = DepartmentSlaInput,
    responses((status = 200, body = DepartmentSla), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[put("/departments/{id}/sla")]
pub async fn put_department_sla(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
    body: Json<DepartmentSlaInput>,
) -> Result<web::Json<DepartmentSla>, AppError> {
    let (id, input) = (id.into_inner(), body.into_value());
    Ok(web::Json(
        state
            .db
            .write(move |c| {
                admin_of(c, &who, id)?;
                sla::set_targets(c, &who, id, input?)
            })
            .await?,
    ))
}

/// Escalations and opportunities whose department SLA is at risk or breached, most urgent first
/// (supervisors and admins).
#[utoipa::path(tag = "departments", params(ItemsFilter),
    responses((status = 200, body = Vec<DepartmentItem>), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/sla/department-items")]
pub async fn department_sla_items(
    state: web::Data<AppState>,
    p: Auth<perm::MonitorService>,
    filter: Query<ItemsFilter>,
) -> Result<web::Json<Vec<DepartmentItem>>, AppError> {
    let (filter, who) = (filter.into_value()?, p.principal);
    Ok(web::Json(state.db.read(move |c| sla::at_risk(c, &who, &filter)).await?))
}
