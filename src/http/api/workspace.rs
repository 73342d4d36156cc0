//! The agents' workspace: the counts of their lists, their live stream, and who is on a ticket.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{delete, get, put, web, HttpResponse};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use utoipa::ToSchema;

use super::extract::Json;
use crate::domain::workspace::ListView;
use crate::domain::Principal;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::tickets::store;
use crate::workspace::feed::Item;
use crate::workspace::viewers::{self, ViewerRequest, ViewersView};
use crate::workspace::views;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViewsView {
    pub views: Vec<ListView>,
}

/// The caller's lists with the number of open tickets in each: "Mis casos", each queue they
/// belong to, "Sin asignar", "En riesgo" and "Vencidos"; `query` is the query string of
/// `GET /api/v1/tickets` that lists it.
#[utoipa::path(tag = "tickets",
    responses((status = 200, body = ViewsView), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/tickets/views")]
pub async fn ticket_views(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
) -> Result<web::Json<ViewsView>, AppError> {
    let agent_id = principal.agent_id;
    Ok(web::Json(ViewsView { views: state.db.read(move |c| views::views(c, agent_id)).await? }))
}

/// Say the caller has the ticket open (`viewing`) or is writing on it (`typing`): a heartbeat,
/// valid for 30 s. Returns the other agents on it.
#[utoipa::path(tag = "tickets", params(("id" = String, Path, description = "Id or number")),
    request_body = ViewerRequest,
    responses((status = 200, body = ViewersView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[put("/tickets/{id}/viewers")]
pub async fn put_viewer(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
    id: web::Path<String>,
    body: Json<ViewerRequest>,
) -> Result<web::Json<ViewersView>, AppError> {
    let (key, agent_id, viewer) = (id.into_inner(), principal.agent_id, body.into_value()?);
    let now = chrono::Utc::now();
    let viewers = state
        .db
        .write(move |c| {
            let id = store::resolve_id(c, &key)?;
            viewers::heartbeat(c, id, agent_id, viewer.state, now)
        })
        .await?;
    Ok(web::Json(ViewersView { viewers }))
}

/// The caller left the ticket.
#[utoipa::path(tag = "tickets", params(("id" = String, Path, description = "Id or number")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/tickets/{id}/viewers")]
pub async fn delete_viewer(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (key, agent_id) = (id.into_inner(), principal.agent_id);
    state
        .db
        .write(move |c| {
            let id = store::resolve_id(c, &key)?;
            viewers::leave(c, id, agent_id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A comment line every so often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What one stream holds between frames.
struct Listener {
    state: web::Data<AppState>,
    who: Principal,
    queues: Vec<i64>,
    items: tokio::sync::broadcast::Receiver<Arc<Item>>,
    next_keep_alive: Instant,
}

impl Listener {
    /// The queues are read again at each keep-alive: membership changes reach open streams.
    async fn refresh_queues(&mut self) {
        let agent_id = self.who.agent_id;
        match self.state.db.read(move |c| views::member_queues(c, agent_id)).await {
            Ok(queues) => self.queues = queues.into_iter().map(|(id, _, _)| id).collect(),
            Err(e) => tracing::debug!(error = %e, "stream kept its queues"),
        }
    }

    /// The next frame for this agent: an item they may see, or a keep-alive.
    async fn next(&mut self) -> Option<web::Bytes> {
        loop {
            tokio::select! {
                item = self.items.recv() => match item {
                    Ok(item) => {
                        if let Some(frame) = item.frame_for(&self.who, &self.queues) {
                            return Some(web::Bytes::from(frame));
                        }
                    }
                    Err(RecvError::Lagged(skipped)) => tracing::warn!(skipped, "a workspace stream fell behind"),
                    Err(RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep_until(self.next_keep_alive) => {
                    self.next_keep_alive = Instant::now() + KEEP_ALIVE;
                    self.refresh_queues().await;
                    return Some(web::Bytes::from_static(b": keep-alive\n\n"));
                }
            }
        }
    }
}

/// The caller's live events (Server-Sent Events): `ticket` for events of tickets they may see
/// (their queues, assigned to them, unassigned outside any queue; all for supervisors and
/// admins), `viewers` when who is on a ticket changes, and a `: keep-alive` comment every 15 s.
#[utoipa::path(tag = "tickets",
    responses((status = 200, description = "text/event-stream of `ticket` and `viewers` events", content_type = "text/event-stream"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/stream")]
pub async fn live_stream(
    state: web::Data<AppState>,
    principal: Auth<perm::WorkTickets>,
) -> Result<HttpResponse, AppError> {
    let items = state.feed.subscribe();
    let mut listener = Listener {
        state,
        who: principal.principal.clone(),
        queues: Vec::new(),
        items,
        next_keep_alive: Instant::now() + KEEP_ALIVE,
    };
    listener.refresh_queues().await;
    // The first frame tells the client it is subscribed: what commits from now on reaches it.
    let hello =
        futures_util::stream::once(async { Ok::<_, actix_web::Error>(web::Bytes::from_static(b": conectado\n\n")) });
    let frames = futures_util::stream::unfold(listener, |mut listener| async move {
        let frame = listener.next().await?;
        Some((Ok::<_, actix_web::Error>(frame), listener))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::StreamExt::chain(hello, frames)))
}
