//! Routing endpoints: rules (and their tester), queue strategy and members, agents' skills,
//! capacity and presence, pull mode, and rotation plans.

use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use chrono::Utc;

use super::extract::{Json, Query};
use crate::domain::routing::Decision;
use crate::domain::Role;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::routing::assign::{
    self, AgentRouting, AgentRoutingPatch, PresenceRequest, QueueRouting, QueueRoutingPatch, WaitingQuery,
};
use crate::routing::rotation::{self, RotationInput, RotationLogEntry, RotationPreview, RotationView};
use crate::routing::rules::{self, RuleInput, RuleView, TestTicket};
use crate::tickets::model::TicketView;

type Resp<T> = Result<web::Json<T>, AppError>;

/// Routing rules in evaluation order.
#[utoipa::path(tag = "routing", responses((status = 200, body = Vec<RuleView>)), security(("bearer" = [])))]
#[get("/routing/rules")]
pub async fn list_rules(state: web::Data<AppState>, _p: Auth<perm::ManageReference>) -> Resp<Vec<RuleView>> {
    Ok(web::Json(state.db.read(rules::list).await?))
}

/// Create a rule. Conditions (all must match; lists match any value): `channel`, `segment`,
/// `organization`, `category`, `priority`, `keywords`, `subject_regex`, `body_regex`, `mailbox`,
/// `called_number`, `business_hours`. Actions: `queue`, `category`, `priority`, `tags`,
/// `watcher_id`, `stop`. A bad regex, unknown field, queue, category or agent is a 422 naming it.
#[utoipa::path(tag = "routing", request_body = RuleInput,
    responses((status = 201, body = RuleView), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/routing/rules")]
pub async fn create_rule(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    body: Json<RuleInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    Ok(HttpResponse::Created().json(state.db.write(move |c| rules::save(c, None, input)).await?))
}

#[utoipa::path(tag = "routing", params(("id" = i64, Path)),
    responses((status = 200, body = RuleView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/routing/rules/{id}")]
pub async fn get_rule(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
) -> Resp<RuleView> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| rules::get(c, id)).await?))
}

/// Replace a rule.
#[utoipa::path(tag = "routing", params(("id" = i64, Path)), request_body = RuleInput,
    responses((status = 200, body = RuleView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[put("/routing/rules/{id}")]
pub async fn update_rule(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
    body: Json<RuleInput>,
) -> Resp<RuleView> {
    let (id, input) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.write(move |c| rules::save(c, Some(id), input)).await?))
}

#[utoipa::path(tag = "routing", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/routing/rules/{id}")]
pub async fn delete_rule(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.write(move |c| rules::delete(c, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Which rules would match a ticket-shaped body, and the result; changes nothing.
#[utoipa::path(tag = "routing", request_body = TestTicket,
    responses((status = 200, body = Decision), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/routing/rules/test")]
pub async fn test_rules(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    body: Json<TestTicket>,
) -> Resp<Decision> {
    let ticket = body.into_value()?;
    Ok(web::Json(state.db.read(move |c| rules::test(c, ticket)).await?))
}

/// A queue's strategy (`manual`, `round_robin`, `least_loaded`), required skills, members and
/// waiting count.
#[utoipa::path(tag = "routing", params(("id" = i64, Path)),
    responses((status = 200, body = QueueRouting), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/queues/{id}/routing")]
pub async fn get_queue_routing(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadAgents>,
    id: web::Path<i64>,
) -> Resp<QueueRouting> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| assign::queue_view(c, id)).await?))
}

/// The queue's waiting tickets (open, without an agent) in the order assignment takes them:
/// earliest SLA breach time (tickets without one last), then priority, then age.
#[utoipa::path(tag = "routing", params(("id" = i64, Path), WaitingQuery),
    responses((status = 200, body = Vec<TicketView>), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/queues/{id}/waiting")]
pub async fn queue_waiting(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadAgents>,
    id: web::Path<i64>,
    query: Query<WaitingQuery>,
) -> Resp<Vec<TicketView>> {
    let (id, query) = (id.into_inner(), query.into_value()?);
    Ok(web::Json(state.db.read(move |c| assign::waiting(c, id, &query)).await?))
}

/// Change a queue's strategy, required skills or members; waiting work is handed out at once.
#[utoipa::path(tag = "routing", params(("id" = i64, Path)), request_body = QueueRoutingPatch,
    responses((status = 200, body = QueueRouting), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[patch("/queues/{id}/routing")]
pub async fn patch_queue_routing(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
    body: Json<QueueRoutingPatch>,
) -> Resp<QueueRouting> {
    let (id, patch) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.write(move |c| assign::patch_queue(c, id, patch)).await?))
}

/// Pull mode: the calling agent takes the most urgent waiting ticket they may handle (204 if none).
#[utoipa::path(tag = "routing", params(("id" = i64, Path)),
    responses((status = 200, body = TicketView), (status = 204, description = "Nothing waiting for you"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/queues/{id}/next")]
pub async fn next_ticket(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: crate::audit::Origin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (queue, agent) = (id.into_inner(), p.agent_id);
    let next = super::audited(&state, p.principal.clone(), origin, move |c, _| {
        let ticket = assign::next_for(c, queue, agent)?;
        // Taking a ticket assigns it: a change when it was escalated.
        let entry = match &ticket {
            Some(t) => crate::audit::ticket_entry(c, crate::audit::CHANGE, t.id)?,
            None => None,
        };
        Ok((ticket, entry.into_iter().collect()))
    })
    .await?;
    match next {
        Some(ticket) => Ok(HttpResponse::Ok().json(ticket)),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

fn self_or_supervisor(p: &crate::domain::Principal, agent: i64) -> Result<(), AppError> {
    match p.role {
        Role::Admin | Role::Supervisor => Ok(()),
        _ if p.agent_id == agent => Ok(()),
        _ => Err(AppError::Forbidden),
    }
}

/// The team at a glance (supervisors): every active agent's presence and since when, skills,
/// capacity, open work per channel and queues, ordered by name.
#[utoipa::path(tag = "routing", responses((status = 200, body = Vec<AgentRouting>),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/routing/agents")]
pub async fn team_routing(state: web::Data<AppState>, _p: Auth<perm::MonitorService>) -> Resp<Vec<AgentRouting>> {
    Ok(web::Json(state.db.read(assign::team_routing).await?))
}

/// An agent's presence, skills, capacity, open work per channel and queues.
#[utoipa::path(tag = "routing", params(("id" = i64, Path)),
    responses((status = 200, body = AgentRouting), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/agents/{id}/routing")]
pub async fn get_agent_routing(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
) -> Resp<AgentRouting> {
    let id = id.into_inner();
    self_or_supervisor(&p, id)?;
    Ok(web::Json(state.db.read(move |c| assign::agent_routing(c, id)).await?))
}

/// Set an agent's skills and per-channel capacity.
#[utoipa::path(tag = "routing", params(("id" = i64, Path)), request_body = AgentRoutingPatch,
    responses((status = 200, body = AgentRouting), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[patch("/agents/{id}/routing")]
pub async fn patch_agent_routing(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
    body: Json<AgentRoutingPatch>,
) -> Resp<AgentRouting> {
    let (id, patch) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.write(move |c| assign::patch_agent(c, id, patch)).await?))
}

/// Set presence (`available`, `busy`, `away`, `after_call_work`, `offline`): agents their own,
/// supervisors anyone's. Becoming available hands out waiting work.
#[utoipa::path(tag = "routing", params(("id" = i64, Path)), request_body = PresenceRequest,
    responses((status = 200, body = AgentRouting), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[put("/agents/{id}/presence")]
pub async fn set_presence(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
    body: Json<PresenceRequest>,
) -> Resp<AgentRouting> {
    let id = id.into_inner();
    self_or_supervisor(&p, id)?;
    let req = body.into_value()?;
    Ok(web::Json(state.db.write(move |c| assign::set_presence(c, id, req)).await?))
}

#[utoipa::path(tag = "routing", responses((status = 200, body = Vec<RotationView>)), security(("bearer" = [])))]
#[get("/routing/rotations")]
pub async fn list_rotations(state: web::Data<AppState>, _p: Auth<perm::ManageReference>) -> Resp<Vec<RotationView>> {
    Ok(web::Json(state.db.read(|c| rotation::list(c, Utc::now())).await?))
}

/// Create a rotation plan: agent i works queue (i + k) mod n during period k.
#[utoipa::path(tag = "routing", request_body = RotationInput,
    responses((status = 201, body = RotationView), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/routing/rotations")]
pub async fn create_rotation(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    body: Json<RotationInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    Ok(HttpResponse::Created().json(state.db.write(move |c| rotation::create(c, input, Utc::now())).await?))
}

/// What an unsaved plan would do: its next four rotations (when, and who goes where), or the
/// same field errors as creating it.
#[utoipa::path(tag = "routing", request_body = RotationInput,
    responses((status = 200, body = Vec<RotationPreview>), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/routing/rotations/preview")]
pub async fn preview_rotation(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    body: Json<RotationInput>,
) -> Resp<Vec<RotationPreview>> {
    let input = body.into_value()?;
    Ok(web::Json(state.db.read(move |c| rotation::preview_draft(c, &input, Utc::now(), 4)).await?))
}

/// A plan with a preview of its next rotation (`next`: when, and who goes where).
#[utoipa::path(tag = "routing", params(("id" = i64, Path)),
    responses((status = 200, body = RotationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/routing/rotations/{id}")]
pub async fn get_rotation(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
) -> Resp<RotationView> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| rotation::get(c, id, Utc::now())).await?))
}

/// The rotations a plan applied, oldest first.
#[utoipa::path(tag = "routing", params(("id" = i64, Path)), responses((status = 200, body = Vec<RotationLogEntry>)),
    security(("bearer" = [])))]
#[get("/routing/rotations/{id}/history")]
pub async fn rotation_history(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
) -> Resp<Vec<RotationLogEntry>> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| rotation::history(c, id)).await?))
}

/// Stop a plan (memberships stay as they are).
#[utoipa::path(tag = "routing", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/routing/rotations/{id}")]
pub async fn delete_rotation(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.write(move |c| rotation::deactivate(c, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
