//! Historical reports for supervisors, as JSON or as a CSV download (`Accept: text/csv` or
//! `?formato=csv|excel`, see [`super::csv`]).

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::csv::{self, Format, FormatQuery};
use crate::db::DbConnection;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::reports::{
    self, AbandonmentQuery, AbandonmentRow, AgentRow, BacklogRow, GroupBy, GroupQuery, PeriodQuery, Report,
    ResponseTimesRow, SeriesQuery, SlaRow, StaffingQuery, StaffingRow, VolumeRow,
};

/// Reports are for the roles that oversee the service: admin and supervisor (those that may read
/// the agents list).
type Supervisors = perm::ReadAgents;

/// Runs a report that reads the daily rollup: brings the rollup up to date (usually nothing to
/// do: a background task keeps it fresh; reports asked for together share one refresh), then
/// reads on a reader connection.
async fn fresh<R, F>(state: &AppState, report: F) -> Result<R, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<R, AppError> + Send + 'static,
    R: Send + 'static,
{
    state.reports.ensure(&state.db).await?;
    state.db.read(report).await
}

/// The one way every report answers: JSON, or CSV of its rows with a header row.
fn respond<R: Serialize + Default>(format: Format, report: Report<R>) -> Result<HttpResponse, AppError> {
    csv::respond(format, &report, &report.rows, &report.csv_filename())
}

/// Tickets created per day or week, split by channel, category, requester segment or queue.
#[utoipa::path(tag = "reports", operation_id = "report_volume", params(SeriesQuery, FormatQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv` or `formato`",
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
    let (format, query) = csv::request::<SeriesQuery>(&req)?;
    let params = query.validate()?;
    respond(format, fresh(&state, move |c| reports::volume(c, &params)).await?)
}

/// First-reply and resolution times (p50/p90, seconds) of the tickets created in the range.
#[utoipa::path(tag = "reports", operation_id = "report_response_times", params(GroupQuery, FormatQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv` or `formato`; `by` defaults to `channel`",
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
    let (format, query) = csv::request::<GroupQuery>(&req)?;
    let params = query.validate(GroupBy::Channel)?;
    respond(format, fresh(&state, move |c| reports::response_times(c, &params)).await?)
}

/// SLA compliance of the first-reply and resolution metrics: met, breached, running and cancelled
/// among the tickets created in the range that an SLA policy applied to.
#[utoipa::path(tag = "reports", operation_id = "report_sla", params(GroupQuery, FormatQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv` or `formato`; `by` defaults to `channel`",
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
    let (format, query) = csv::request::<GroupQuery>(&req)?;
    let params = query.validate(GroupBy::Channel)?;
    respond(format, fresh(&state, move |c| reports::sla(c, &params)).await?)
}

/// Calls offered, answered and abandoned per day or week and queue, with abandonment rate,
/// service level (answered within `answer_secs`) and ASA.
#[utoipa::path(tag = "reports", operation_id = "report_abandonment", params(AbandonmentQuery, FormatQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv` or `formato`",
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
    let (format, query) = csv::request::<AbandonmentQuery>(&req)?;
    let params = query.validate()?;
    respond(format, fresh(&state, move |c| reports::abandonment(c, &params)).await?)
}

/// Open tickets at the end of each day, with the day's created and resolved, per queue (default),
/// channel, category or segment.
#[utoipa::path(tag = "reports", operation_id = "report_backlog", params(GroupQuery, FormatQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv` or `formato`; `by` defaults to `queue`",
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
    let (format, query) = csv::request::<GroupQuery>(&req)?;
    let params = query.validate(GroupBy::Queue)?;
    respond(format, fresh(&state, move |c| reports::backlog(c, &params)).await?)
}

/// Per agent: tickets assigned and solved, public replies, calls handled and their AHT.
#[utoipa::path(tag = "reports", operation_id = "report_agents", params(PeriodQuery, FormatQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv` or `formato`",
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
    let (format, query) = csv::request::<PeriodQuery>(&req)?;
    let period = query.validate()?;
    respond(format, fresh(&state, move |c| reports::agents(c, &period)).await?)
}

/// Staffing forecast per 30-minute interval of a day: measured arrivals and AHT, and the agents
/// Erlang C requires for the target service level, answer time, maximum occupancy and shrinkage.
#[utoipa::path(tag = "reports", operation_id = "report_staffing", params(StaffingQuery, FormatQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `Accept: text/csv` or `formato`",
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
    let (format, query) = csv::request::<StaffingQuery>(&req)?;
    let params = query.validate()?;
    respond(format, state.db.read(move |c| reports::staffing(c, &params)).await?)
}
