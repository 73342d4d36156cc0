//! SLA endpoints: calendars and holidays, policies, and each ticket's clocks.

use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use chrono::{NaiveDate, Utc};

use super::extract::{Json, Query};
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::sla::calendars::{self, *};
use crate::sla::engine::{self, TicketSla};
use crate::sla::policies::{self, PolicyInput, PolicyView};

type Resp<T> = Result<web::Json<T>, AppError>;

/// Each SLA metric of a ticket: target, due time, elapsed business minutes, pauses and state.
#[utoipa::path(tag = "sla", params(("id" = String, Path, description = "Id or number")),
    responses((status = 200, body = TicketSla), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/tickets/{id}/sla")]
pub async fn ticket_sla(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    origin: crate::audit::Origin,
    id: web::Path<String>,
) -> Resp<TicketSla> {
    let read = |c: &mut crate::db::DbConnection, id| engine::view(c, id, Utc::now());
    Ok(web::Json(super::tickets::audited_read(&state, &p, origin, id.into_inner(), read).await?))
}

#[utoipa::path(tag = "sla", responses((status = 200, body = Vec<CalendarView>)), security(("bearer" = [])))]
#[get("/calendars")]
pub async fn list_calendars(state: web::Data<AppState>, _p: Auth<perm::ReadReference>) -> Resp<Vec<CalendarView>> {
    Ok(web::Json(state.db.read(calendars::list).await?))
}

#[utoipa::path(tag = "sla", params(("id" = i64, Path)), responses((status = 200, body = CalendarView), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
#[get("/calendars/{id}")]
pub async fn get_calendar(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadReference>,
    id: web::Path<i64>,
) -> Resp<CalendarView> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| calendars::get(c, id)).await?))
}

/// Create a calendar: time zone, weekly windows (several per day allowed).
#[utoipa::path(tag = "sla", request_body = CalendarInput,
    responses((status = 201, body = CalendarView), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/calendars")]
pub async fn create_calendar(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    body: Json<CalendarInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    Ok(HttpResponse::Created().json(state.db.write(move |c| calendars::save(c, None, input)).await?))
}

#[utoipa::path(tag = "sla", params(("id" = i64, Path)), request_body = CalendarInput,
    responses((status = 200, body = CalendarView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[patch("/calendars/{id}")]
pub async fn update_calendar(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
    body: Json<CalendarInput>,
) -> Resp<CalendarView> {
    let (id, input) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.write(move |c| calendars::save(c, Some(id), input)).await?))
}

#[utoipa::path(tag = "sla", params(("id" = i64, Path), HolidayFilter),
    responses((status = 200, body = Vec<Holiday>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/calendars/{id}/holidays")]
pub async fn list_holidays(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadReference>,
    id: web::Path<i64>,
    filter: Query<HolidayFilter>,
) -> Resp<Vec<Holiday>> {
    let (id, filter) = (id.into_inner(), filter.into_value()?);
    Ok(web::Json(state.db.read(move |c| calendars::list_holidays(c, id, &filter)).await?))
}

/// Add (or rename) a holiday, e.g. a one-off election holiday.
#[utoipa::path(tag = "sla", params(("id" = i64, Path)), request_body = Holiday,
    responses((status = 200, body = Holiday), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[put("/calendars/{id}/holidays")]
pub async fn put_holiday(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
    body: Json<Holiday>,
) -> Resp<Holiday> {
    let (id, holiday) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.write(move |c| calendars::put_holiday(c, id, holiday)).await?))
}

#[utoipa::path(tag = "sla", params(("id" = i64, Path), ("date" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/calendars/{id}/holidays/{date}")]
pub async fn delete_holiday(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    path: web::Path<(i64, NaiveDate)>,
) -> Result<HttpResponse, AppError> {
    let (id, date) = path.into_inner();
    state.db.write(move |c| calendars::delete_holiday(c, id, date)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The instant when `minutes` business minutes have elapsed after `start` ("due by").
#[utoipa::path(tag = "sla", params(("id" = i64, Path)), request_body = DeadlineRequest,
    responses((status = 200, body = DeadlineResponse), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/calendars/{id}/deadline")]
pub async fn deadline(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadReference>,
    id: web::Path<i64>,
    body: Json<DeadlineRequest>,
) -> Resp<DeadlineResponse> {
    let (id, req) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.read(move |c| calendars::deadline(c, id, req)).await?))
}

/// Open business minutes between two instants.
#[utoipa::path(tag = "sla", params(("id" = i64, Path)), request_body = BusinessMinutesRequest,
    responses((status = 200, body = BusinessMinutesResponse), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/calendars/{id}/business-minutes")]
pub async fn business_minutes(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadReference>,
    id: web::Path<i64>,
    body: Json<BusinessMinutesRequest>,
) -> Resp<BusinessMinutesResponse> {
    let (id, req) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.read(move |c| calendars::business_minutes(c, id, req)).await?))
}

/// SLA policies in evaluation order.
#[utoipa::path(tag = "sla", responses((status = 200, body = Vec<PolicyView>)), security(("bearer" = [])))]
#[get("/sla/policies")]
pub async fn list_policies(state: web::Data<AppState>, _p: Auth<perm::ReadReference>) -> Resp<Vec<PolicyView>> {
    Ok(web::Json(state.db.read(|c| policies::list(c, false)).await?))
}

#[utoipa::path(tag = "sla", params(("id" = i64, Path)), responses((status = 200, body = PolicyView), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
#[get("/sla/policies/{id}")]
pub async fn get_policy(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadReference>,
    id: web::Path<i64>,
) -> Resp<PolicyView> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| policies::get(c, id)).await?))
}

/// Create a policy. It applies to tickets from their next change on.
#[utoipa::path(tag = "sla", request_body = PolicyInput,
    responses((status = 201, body = PolicyView), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/sla/policies")]
pub async fn create_policy(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    body: Json<PolicyInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    Ok(HttpResponse::Created().json(state.db.write(move |c| policies::save(c, None, input)).await?))
}

#[utoipa::path(tag = "sla", params(("id" = i64, Path)), request_body = PolicyInput,
    responses((status = 200, body = PolicyView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[patch("/sla/policies/{id}")]
pub async fn update_policy(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
    body: Json<PolicyInput>,
) -> Resp<PolicyView> {
    let (id, input) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.write(move |c| policies::save(c, Some(id), input)).await?))
}

/// Deactivate a policy (tickets' history keeps referring to it).
#[utoipa::path(tag = "sla", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
#[delete("/sla/policies/{id}")]
pub async fn delete_policy(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageReference>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.write(move |c| policies::deactivate(c, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
