//! Notification endpoints: each agent sees and marks only their own.

use actix_web::{get, post, web};

use super::extract::{Json, Query};
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::notifications::{self, NotificationFilter, NotificationPage, ReadRequest, UnreadCount};

/// The caller's notifications, newest first, with their unread count (`unread=true`: only the
/// unread ones). Kinds: `assigned`, `requester_replied`, `escalation_answered`, `sla_warning`,
/// `mention`.
#[utoipa::path(tag = "notifications", params(NotificationFilter),
    responses((status = 200, body = NotificationPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    filter: Query<NotificationFilter>,
) -> Result<web::Json<NotificationPage>, AppError> {
    let (agent, filter) = (p.agent_id, filter.into_value()?);
    Ok(web::Json(state.db.read(move |c| notifications::list(c, agent, &filter)).await?))
}

/// Mark notifications read: `{"ids": [...]}` (up to 1,000; ids that are not the caller's are
/// ignored) or `{"all": true}`. Answers how many stay unread.
#[utoipa::path(tag = "notifications", request_body = ReadRequest,
    responses((status = 200, body = UnreadCount), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/notifications/read")]
pub async fn read_notifications(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    body: Json<ReadRequest>,
) -> Result<web::Json<UnreadCount>, AppError> {
    let (agent, request) = (p.agent_id, body.into_value()?);
    Ok(web::Json(state.db.write(move |c| notifications::mark_read(c, agent, &request)).await?))
}
