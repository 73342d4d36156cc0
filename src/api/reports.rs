//! Historical reports for supervisors, as JSON or, with `Accept: text/csv`, as a CSV download.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::{perm, Auth};
use crate::db::DbConnection;
use crate::error::{AppError, Problem};
use crate::reports::{
    self, AbandonmentQuery, AbandonmentRow, AgentRow, BacklogRow, GroupBy, GroupQuery, PeriodQuery, Report,
    ResponseTimesRow, SeriesQuery, SlaRow, StaffingQuery, StaffingRow, VolumeRow,
};
use crate::startup::AppState;

/// Reports are for the roles that oversee the service: admin and supervisor (those that may read
/// the agents list).
type Supervisors = perm::ReadAgents;

/// Whether the client listed `text/csv` among the types it accepts.
fn wants_csv(req: &HttpRequest) -> bool {
    req.headers().get_all(header::ACCEPT).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let csv = parts.next().is_some_and(|mime| mime.eq_ignore_ascii_case("text/csv"));
        let refused = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"));
        csv && !refused
    })
}

/// The query string, parsed after the role check (an extractor could answer 422 before 403).
fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, AppError> {
    web::Query::<T>::from_query(req.query_string()).map(web::Query::into_inner).map_err(|e| {
        let message = e.to_string();
        let message = message.trim_start_matches("Query deserialize error: ").to_owned();
        AppError::field("query", message)
    })
}

/// Runs a report that reads the daily rollup: brings the rollup up to date (usually nothing to
/// do: a background task keeps it fresh), then reads on a reader connection.
async fn fresh<R, F>(state: &AppState, report: F) -> Result<R, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<R, AppError> + Send + 'static,
    R: Send + 'static,
{
    state.db.write(reports::rollup::refresh).await?;
    state.db.read(report).await
}

/// The one way every report answers: JSON, or CSV of its rows with a header row.
fn respond<R: Serialize + Default>(req: &HttpRequest, report: Report<R>) -> Result<HttpResponse, AppError> {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::VARY, "Accept"));
    if !wants_csv(req) {
        return Ok(response.json(report));
    }
    let body = reports::csv::to_csv(&report.rows)?;
    let disposition = format!("attachment; filename=\"{}\"", report.csv_filename());
    Ok(response
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .body(body))
}

/// Tickets created per day or week, split by channel, category, requester segment or queue.
#[utoipa::path(tag = "reports", operation_id = "report_volume", params(SeriesQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv`",
            content((Report<VolumeRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[get("/reports/volume")]
pub async fn volume(
    state: web::Data<AppState>,
    _p: Auth<Supervisors>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = query::<SeriesQuery>(&req)?.validate()?;
    respond(&req, fresh(&state, move |c| reports::volume(c, &params)).await?)
}

/// First-reply and resolution times (p50/p90, seconds) of the tickets created in the range.
#[utoipa::path(tag = "reports", operation_id = "report_response_times", params(GroupQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv`; `by` defaults to `channel`",
            content((Report<ResponseTimesRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[get("/reports/response-times")]
pub async fn response_times(
    state: web::Data<AppState>,
    _p: Auth<Supervisors>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = query::<GroupQuery>(&req)?.validate(GroupBy::Channel)?;
    respond(&req, fresh(&state, move |c| reports::response_times(c, &params)).await?)
}

/// SLA compliance of the first-reply and resolution metrics: met, breached, running and cancelled
/// among the tickets created in the range that an SLA policy applied to.
#[utoipa::path(tag = "reports", operation_id = "report_sla", params(GroupQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv`; `by` defaults to `channel`",
            content((Report<SlaRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[get("/reports/sla")]
pub async fn sla(
    state: web::Data<AppState>,
    _p: Auth<Supervisors>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = query::<GroupQuery>(&req)?.validate(GroupBy::Channel)?;
    respond(&req, fresh(&state, move |c| reports::sla(c, &params)).await?)
}

/// Calls offered, answered and abandoned per day or week and queue, with abandonment rate,
/// service level (answered within `answer_secs`) and ASA.
#[utoipa::path(tag = "reports", operation_id = "report_abandonment", params(AbandonmentQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv`",
            content((Report<AbandonmentRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[get("/reports/abandonment")]
pub async fn abandonment(
    state: web::Data<AppState>,
    _p: Auth<Supervisors>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = query::<AbandonmentQuery>(&req)?.validate()?;
    respond(&req, fresh(&state, move |c| reports::abandonment(c, &params)).await?)
}

/// Open tickets at the end of each day, with the day's created and resolved, per queue (default),
/// channel, category or segment.
#[utoipa::path(tag = "reports", operation_id = "report_backlog", params(GroupQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv`; `by` defaults to `queue`",
            content((Report<BacklogRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[get("/reports/backlog")]
pub async fn backlog(
    state: web::Data<AppState>,
    _p: Auth<Supervisors>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = query::<GroupQuery>(&req)?.validate(GroupBy::Queue)?;
    respond(&req, fresh(&state, move |c| reports::backlog(c, &params)).await?)
}

/// Per agent: tickets assigned and solved, public replies, calls handled and their AHT.
#[utoipa::path(tag = "reports", operation_id = "report_agents", params(PeriodQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv`",
            content((Report<AgentRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[get("/reports/agents")]
pub async fn agents(
    state: web::Data<AppState>,
    _p: Auth<Supervisors>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let period = query::<PeriodQuery>(&req)?.validate()?;
    respond(&req, fresh(&state, move |c| reports::agents(c, &period)).await?)
}

/// Staffing forecast per 30-minute interval of a day: measured arrivals and AHT, and the agents
/// Erlang C requires for the target service level, answer time, maximum occupancy and shrinkage.
#[utoipa::path(tag = "reports", operation_id = "report_staffing", params(StaffingQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv`",
            content((Report<StaffingRow> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[get("/reports/staffing")]
pub async fn staffing(
    state: web::Data<AppState>,
    _p: Auth<Supervisors>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = query::<StaffingQuery>(&req)?.validate()?;
    respond(&req, state.db.read(move |c| reports::staffing(c, &params)).await?)
}
