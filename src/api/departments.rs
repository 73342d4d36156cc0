//! Escalations to departments: from a ticket, and each department's own list and answers.

use actix_web::{get, post, web, HttpResponse};

use super::extract::Json;
use super::tickets::read_ticket;
use crate::auth::{perm, Auth, Principal};
use crate::departments::escalations::{self, AnswerRequest, EscalateRequest, EscalationFilter, EscalationView};
use crate::error::{AppError, Problem};
use crate::startup::AppState;
use crate::tickets::store;

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
    id: web::Path<String>,
    body: Json<EscalateRequest>,
) -> Result<HttpResponse, AppError> {
    let (key, req, actor) = (id.into_inner(), body.into_value()?, p.actor());
    let view = state
        .db
        .write(move |c| {
            let id = store::resolve_id(c, &key)?;
            escalations::escalate(c, id, actor, req)
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
    _p: Auth<perm::WorkTickets>,
    id: web::Path<String>,
) -> Result<web::Json<Vec<EscalationView>>, AppError> {
    Ok(web::Json(read_ticket(&state, id.into_inner(), escalations::for_ticket).await?))
}

/// A department's escalations. Department members see only their own department (others answer
/// 404); contact data of the requester only where the escalation grants it.
#[utoipa::path(tag = "departments", params(("id" = i64, Path), EscalationFilter),
    responses((status = 200, body = Vec<EscalationView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/departments/{id}/escalations")]
pub async fn department_escalations(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
    filter: web::Query<EscalationFilter>,
) -> Result<web::Json<Vec<EscalationView>>, AppError> {
    let (id, status) = (id.into_inner(), filter.into_inner().status);
    Ok(web::Json(state.db.read(move |c| escalations::for_department(c, &who, id, status)).await?))
}

/// The department's answer, added to the ticket as an internal note.
#[utoipa::path(tag = "departments", params(("id" = i64, Path)), request_body = AnswerRequest,
    responses((status = 200, body = EscalationView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/escalations/{id}/answer")]
pub async fn answer(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<i64>,
    body: Json<AnswerRequest>,
) -> Result<web::Json<EscalationView>, AppError> {
    let (id, req) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.write(move |c| escalations::answer(c, &who, id, req)).await?))
}
