//! Ticket endpoints: thin wrappers over [`crate::tickets::store`].

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};

use super::extract::{Json, Query};
use crate::attachments;
use crate::audit::{self, Origin};
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::idempotency::{self, Key};
use crate::http::state::AppState;
use crate::http::upload;
use crate::tickets::store;
use crate::tickets::*;

/// Reads from the ticket named by `key` (an id or a number such as `AU-2026-000123`).
pub async fn read_ticket<T, F>(state: &AppState, key: String, read: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConnection, i64) -> Result<T, AppError> + Send + 'static,
{
    state
        .db
        .read(move |c| {
            let id = store::resolve_id(c, &key)?;
            read(c, id)
        })
        .await
}

/// Like [`read_ticket`], with a `read` audit row when the ticket was escalated (written before
/// the data is handed out).
pub async fn audited_read<T, F>(
    state: &AppState,
    who: &crate::domain::Principal,
    origin: Origin,
    key: String,
    read: F,
) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConnection, i64) -> Result<T, AppError> + Send + 'static,
{
    let (value, entry) =
        read_ticket(state, key, move |c, id| Ok((read(c, id)?, audit::ticket_entry(c, audit::READ, id)?))).await?;
    super::record_reads(state, who, origin, entry.into_iter().collect()).await?;
    Ok(value)
}

/// Create a ticket.
///
/// Send `Idempotency-Key` to make retries safe: the same key and body return the first response.
#[utoipa::path(
    tag = "tickets",
    request_body = CreateTicketRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, description = "Created", body = TicketView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/tickets")]
pub async fn create_ticket(
    state: web::Data<AppState>,
    principal: Auth<perm::CreateTickets>,
    req: HttpRequest,
    body: Json<CreateTicketRequest>,
) -> Result<HttpResponse, AppError> {
    let key = Key::from_request(&req, format!("agent:{}", principal.agent_id), &body.raw)?;
    let request = body.into_value()?;
    let input = request.validate()?;
    let channel = input.channel;
    let actor = principal.actor();
    let response =
        idempotency::once(&state.db, key, StatusCode::CREATED, move |c| store::create(c, Some(actor), input)).await?;
    if response.headers().get("Idempotent-Replayed").is_none() {
        crate::metrics::ticket_created(channel);
    }
    Ok(response)
}

/// List tickets, newest first, with filters and cursor pagination (`assignee=me`: the caller's).
#[utoipa::path(
    tag = "tickets",
    params(TicketFilter),
    responses(
        (status = 200, body = Page<TicketView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tickets")]
pub async fn list_tickets(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
    origin: Origin,
    filter: Query<TicketFilter>,
) -> Result<web::Json<Page<TicketView>>, AppError> {
    let filter = filter.into_value()?.for_caller(principal.agent_id);
    let (page, entries) = state
        .db
        .read(move |c| {
            let page = store::list(c, &filter)?;
            let ids: Vec<i64> = page.items.iter().map(|t| t.id).collect();
            Ok((page, audit::ticket_entries(c, audit::READ, &ids)?))
        })
        .await?;
    // Escalated tickets listed are read too.
    super::record_reads(&state, &principal, origin, entries).await?;
    Ok(web::Json(page))
}

/// Get a ticket by id or by number (`AU-2026-000123`).
#[utoipa::path(
    tag = "tickets",
    params(("id" = String, Path, description = "Id or number")),
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tickets/{id}")]
pub async fn get_ticket(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<String>,
) -> Result<web::Json<TicketView>, AppError> {
    Ok(web::Json(audited_read(&state, &principal, origin, id.into_inner(), store::get).await?))
}

/// Change status, priority, queue, assignee, category, subject or tags. Every change is logged.
#[utoipa::path(
    tag = "tickets",
    params(("id" = String, Path, description = "Id or number")),
    request_body = UpdateTicketRequest,
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Transition not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/tickets/{id}")]
pub async fn update_ticket(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<String>,
    body: Json<UpdateTicketRequest>,
) -> Result<web::Json<TicketView>, AppError> {
    let key = id.into_inner();
    let actor = principal.actor();
    let update = body.into_value()?;
    Ok(web::Json(
        super::audited(&state, principal.principal.clone(), origin, move |c, _| {
            let id = store::resolve_id(c, &key)?;
            store::update(c, id, actor, update)?;
            let view = store::get(c, id)?;
            Ok((view, audit::ticket_entry(c, audit::CHANGE, id)?.into_iter().collect()))
        })
        .await?,
    ))
}

/// Add a public reply or an internal note, with files (`multipart/form-data`) or without (JSON).
///
/// A public reply on a ticket without assignee assigns it to the replying agent (unless
/// `[tickets] assign_on_first_reply` is off).
#[utoipa::path(
    tag = "tickets",
    params(
        ("id" = String, Path, description = "Id or number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")
    ),
    request_body(content((CreateMessageRequest = "application/json"))),
    responses(
        (status = 201, body = MessageView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Ticket closed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A file, the files or the text too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/tickets/{id}/messages")]
pub async fn add_message(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
    origin: Origin,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let limits = upload::Limits::replies(&state.settings.attachments, state.settings.server.max_body_bytes);
    let body = upload::read::<CreateMessageRequest>(&req, payload.into_inner(), &limits, &["from_requester"]).await?;
    let idem = Key::from_request(&req, format!("agent:{}", principal.agent_id), &body.digest)?;
    let key = id.into_inner();
    let (actor, who) = (principal.actor(), principal.principal.clone());
    let (message, files) = (body.value, body.files);
    let store_files = state.attachments.clone();
    let on_reply = crate::tickets::OnReply::from_setting(state.settings.tickets.assign_on_first_reply);
    idempotency::once(&state.db, idem, StatusCode::CREATED, move |c| {
        let id = store::resolve_id(c, &key)?;
        let mut view = store::add_message(c, id, actor, message, on_reply)?;
        if !files.is_empty() {
            // In the message's transaction: a reply is never sent without its files.
            attachments::save(c, &store_files, id, view.id, &files)?;
            attachments::attach(c, std::slice::from_mut(&mut view))?;
        }
        let entries: Vec<_> = audit::ticket_entry(c, audit::CHANGE, id)?.into_iter().collect();
        audit::record(c, &who, &origin, &entries)?;
        Ok(view)
    })
    .await
}

/// The ticket's messages, oldest first, each with its attachments and its agent's name.
#[utoipa::path(
    tag = "tickets",
    params(("id" = String, Path, description = "Id or number")),
    responses((status = 200, body = Vec<MessageView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []))
)]
#[get("/tickets/{id}/messages")]
pub async fn list_messages(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<String>,
) -> Result<web::Json<Vec<MessageView>>, AppError> {
    let read = |c: &mut crate::db::DbConnection, id| {
        let mut list = store::messages(c, id)?;
        crate::attachments::attach(c, &mut list)?;
        let names = crate::directory::agent_names(c, list.iter().filter_map(|m| m.author_agent_id))?;
        for m in &mut list {
            m.author_name = m.author_agent_id.and_then(|a| names.get(&a).cloned());
        }
        Ok(list)
    };
    Ok(web::Json(audited_read(&state, &principal, origin, id.into_inner(), read).await?))
}

/// The ticket's event log: every change, oldest first.
#[utoipa::path(
    tag = "tickets",
    params(("id" = String, Path, description = "Id or number")),
    responses((status = 200, body = Vec<EventView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []))
)]
#[get("/tickets/{id}/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
    origin: Origin,
    id: web::Path<String>,
) -> Result<web::Json<Vec<EventView>>, AppError> {
    Ok(web::Json(audited_read(&state, &principal, origin, id.into_inner(), store::events).await?))
}
