//! Phone channel endpoints: PBX events (native JSON and the generic CTI push), call records,
//! linking a call to a ticket, and blocked caller numbers.

use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde_json::json;

use super::email::read_body;
use super::extract::{Json, Query};
use crate::channels::phone::calls::{
    self, BlockRequest, BlockedNumber, CallDetail, CallFilter, CallView, Incoming, LinkRequest, Processed,
};
use crate::channels::phone::inbound::{CtiPush, NativeEvent};
use crate::domain::Permission;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, principal_for_token, Auth};
use crate::http::state::AppState;
use crate::tickets::model::Page;

/// Largest CTI push accepted: a few fields, never a document.
const MAX_CTI_BYTES: usize = 16 * 1024;

async fn apply(state: &AppState, incoming: Incoming) -> Result<Processed, AppError> {
    let settings = state.settings.phone.clone();
    let processed = state.db.write(move |c| calls::process(c, &settings, incoming)).await?;
    Ok(processed)
}

/// Report one call event from the PBX.
///
/// The call id is the idempotency key: repeated and out-of-order events are safe, and the call
/// record is re-derived from all of its events each time. `reject: true` in the answer to a
/// `call.queued` means the caller's number is blocked.
#[utoipa::path(tag = "phone", request_body = NativeEvent,
    responses(
        (status = 200, body = Processed),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[post("/channels/phone/events")]
pub async fn native_event(
    state: web::Data<AppState>,
    _p: Auth<perm::CreateTickets>,
    body: Json<NativeEvent>,
) -> Result<web::Json<Processed>, AppError> {
    let incoming = body.into_value()?.validate()?;
    Ok(web::Json(apply(&state, incoming).await?))
}

/// Generic CTI push (the format PBX connectors for Zammad speak), form-encoded or JSON.
///
/// `event` is `newCall`, `answer` or `hangup`; fields `callId`, `from`, `to`, `direction`
/// (`in`/`out`), `user[]`, `queue`, `answeringNumber`, `cause`, and optionally `timestamp` (RFC
/// 3339 or Unix seconds; else the time of arrival). The path carries an integration token,
/// because these connectors cannot send headers. The answer to a `newCall` from a blocked
/// number is `{"action":"reject"}`; otherwise `{}`.
#[utoipa::path(tag = "phone", params(("token" = String, Path, description = "An API token of an integration")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = Object, example = json!({"action": "reject"})),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/channels/phone/cti/{token}")]
pub async fn cti_push(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    principal_for_token(&state, &token).await?.require(Permission::CreateTickets)?;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let body = read_body(payload, MAX_CTI_BYTES).await?;
    let incoming = CtiPush::parse(content_type, &body)?.validate(Utc::now())?;
    let processed = apply(&state, incoming).await?;
    let answer = if processed.reject { json!({ "action": "reject" }) } else { json!({}) };
    Ok(HttpResponse::Ok().json(answer))
}

/// Calls, newest first.
#[utoipa::path(tag = "phone", params(CallFilter),
    responses((status = 200, body = Page<CallView>), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/calls")]
pub async fn list_calls(
    state: web::Data<AppState>,
    _p: Auth<perm::WorkTickets>,
    filter: Query<CallFilter>,
) -> Result<web::Json<Page<CallView>>, AppError> {
    let filter = filter.into_value()?;
    Ok(web::Json(state.db.read(move |c| calls::list(c, &filter)).await?))
}

/// One call with its event timeline (PBX events and the facts derived from them).
#[utoipa::path(tag = "phone", params(("id" = i64, Path)),
    responses((status = 200, body = CallDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/calls/{id}")]
pub async fn get_call(
    state: web::Data<AppState>,
    _p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
) -> Result<web::Json<CallDetail>, AppError> {
    let (id, settings) = (id.into_inner(), state.settings.phone.clone());
    Ok(web::Json(state.db.read(move |c| calls::detail(c, &settings, id)).await?))
}

/// Put an answered call on another open ticket of the same requester. Within the link window
/// (`phone.link_window_minutes`) the ticket created for the call is closed as merged into it.
#[utoipa::path(tag = "phone", params(("id" = i64, Path)), request_body = LinkRequest,
    responses((status = 200, body = CallView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/calls/{id}/link")]
pub async fn link_call(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: crate::audit::Origin,
    id: web::Path<i64>,
    body: Json<LinkRequest>,
) -> Result<web::Json<CallView>, AppError> {
    let (id, target, actor, settings) =
        (id.into_inner(), body.into_value()?.ticket_id, p.actor(), state.settings.phone.clone());
    Ok(web::Json(
        super::audited(&state, p.principal.clone(), origin, move |c, _| {
            let view = calls::link(c, &settings, id, actor, target)?;
            // Linking a call changes the ticket it lands on.
            let entry = match view.ticket_id {
                Some(ticket) => crate::audit::ticket_entry(c, crate::audit::CHANGE, ticket)?,
                None => None,
            };
            Ok((view, entry.into_iter().collect()))
        })
        .await?,
    ))
}

#[utoipa::path(tag = "phone", responses((status = 200, body = Vec<BlockedNumber>)), security(("bearer" = [])))]
#[get("/channels/phone/blocked-numbers")]
pub async fn list_blocked(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
) -> Result<web::Json<Vec<BlockedNumber>>, AppError> {
    Ok(web::Json(state.db.read(calls::list_blocked).await?))
}

/// Block a caller: their calls are rejected at `newCall` and owed no callback.
#[utoipa::path(tag = "phone", request_body = BlockRequest,
    responses((status = 201, body = BlockedNumber), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/channels/phone/blocked-numbers")]
pub async fn block_number(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    body: Json<BlockRequest>,
) -> Result<HttpResponse, AppError> {
    let req = body.into_value()?;
    Ok(HttpResponse::Created().json(state.db.write(move |c| calls::block(c, req)).await?))
}

#[utoipa::path(tag = "phone", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/channels/phone/blocked-numbers/{id}")]
pub async fn unblock_number(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.write(move |c| calls::unblock(c, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
