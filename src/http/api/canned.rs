//! Canned response endpoints: thin wrappers over [`crate::canned`].

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Query};
use crate::audit::{self, Origin};
use crate::canned::{self, CannedInput, CannedPatch, CannedResponseView, RenderRequest, Rendered};
use crate::channels::email::compose::case_link;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;

type Resp<T> = Result<web::Json<T>, AppError>;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CannedFilter {
    /// Start of the short name (a leading `::` is ignored) or of a word of the title; case and
    /// accents do not matter.
    pub q: Option<String>,
}

/// The shared responses and the caller's personal ones, most used first.
#[utoipa::path(tag = "canned responses", params(CannedFilter),
    responses((status = 200, body = Vec<CannedResponseView>)), security(("bearer" = [])))]
#[get("/canned-responses")]
pub async fn list_canned(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    filter: Query<CannedFilter>,
) -> Resp<Vec<CannedResponseView>> {
    let (agent, q) = (p.agent_id, filter.into_value()?.q);
    Ok(web::Json(state.db.read(move |c| canned::list(c, agent, q.as_deref())).await?))
}

/// Create a response: `personal` (the default) for the caller, or `shared` (supervisors and
/// admins). Placeholders: `{nombre}`, `{numero}`, `{agente}`, `{asunto}`, `{enlace}`; any other
/// word in braces is a 422 naming `body`. A short name already used in the same scope (shared, or
/// the caller's own) is a 409.
#[utoipa::path(tag = "canned responses", request_body = CannedInput,
    responses((status = 201, body = CannedResponseView),
        (status = 409, description = "Short name in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/canned-responses")]
pub async fn create_canned(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    body: Json<CannedInput>,
) -> Result<HttpResponse, AppError> {
    let (who, input) = (p.principal.clone(), body.into_value()?);
    Ok(HttpResponse::Created().json(state.db.write(move |c| canned::create(c, &who, input)).await?))
}

/// A response the caller sees (someone else's personal one is a 404).
#[utoipa::path(tag = "canned responses", params(("id" = i64, Path)),
    responses((status = 200, body = CannedResponseView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/canned-responses/{id}")]
pub async fn get_canned(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
) -> Resp<CannedResponseView> {
    let (agent, id) = (p.agent_id, id.into_inner());
    Ok(web::Json(state.db.read(move |c| canned::get(c, agent, id)).await?))
}

/// Change a response: shared ones by supervisors and admins (403 for agents), personal ones by
/// their owner (404 for everyone else).
#[utoipa::path(tag = "canned responses", params(("id" = i64, Path)), request_body = CannedPatch,
    responses((status = 200, body = CannedResponseView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Short name in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[patch("/canned-responses/{id}")]
pub async fn update_canned(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
    body: Json<CannedPatch>,
) -> Resp<CannedResponseView> {
    // Someone else's personal response is a 404 whatever the body: the body is looked at after.
    let (who, id, patch) = (p.principal.clone(), id.into_inner(), body.into_value());
    Ok(web::Json(state.db.write(move |c| canned::update(c, &who, id, patch)).await?))
}

/// Delete a response (same rules as changing it).
#[utoipa::path(tag = "canned responses", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/canned-responses/{id}")]
pub async fn delete_canned(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (p.principal.clone(), id.into_inner());
    state.db.write(move |c| canned::delete(c, &who, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The response's text filled for a ticket (`ticket_id`: its id or number): `{nombre}` the
/// requester's name, `{numero}` the ticket's number, `{agente}` the caller's name, `{asunto}` the
/// subject, `{enlace}` the requester's link to their case page. Counts one use.
#[utoipa::path(tag = "canned responses", params(("id" = i64, Path)), request_body = RenderRequest,
    responses((status = 200, body = Rendered), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such ticket", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/canned-responses/{id}/render")]
pub async fn render_canned(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<i64>,
    body: Json<RenderRequest>,
) -> Resp<Rendered> {
    // The body is looked at once the response is known to be the caller's to use.
    let (id, request) = (id.into_inner(), body.into_value());
    let (public_url, signer) = (state.settings.server.public_url.clone(), state.signer.clone());
    let rendered = super::audited(&state, p.principal.clone(), origin, move |c, who| {
        // The response first: someone else's personal one is a 404 whatever the body says.
        canned::get(c, who.agent_id, id)?;
        let ticket = canned::ticket_of(c, &request?)?;
        let rendered = canned::render(c, who, id, ticket, |t| case_link(&public_url, &signer, t))?;
        // Filling reads the ticket: an escalated one gets its read audit row.
        Ok((rendered, audit::ticket_entry(c, audit::READ, ticket)?.into_iter().collect()))
    })
    .await?;
    Ok(web::Json(rendered))
}
