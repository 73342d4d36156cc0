//! Quality of service: CSAT figures, QA scorecards, sampling, evaluations and disputes, the
//! weekly report, and the JSON variant of the survey answer.

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::csv::{self, FormatQuery};
use super::extract::{Json, Query};
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::http::survey;
use crate::quality::csat::{self, CsatQuery, CsatReport, SurveyAnswer, SurveyAnswerView, SurveyReceipt, TokenCheck};
use crate::quality::qa::{
    self, DisputeRequest, EvaluationFilter, EvaluationInput, EvaluationPage, EvaluationView, NewEvaluation,
    QualityReport, ReportBy, ReportQuery, ResolveRequest, SampleRequest, SampleResult, ScorecardInput, ScorecardView,
};
use crate::quality::recurring::{self, RecurringQuery, RecurringReport};
use crate::quality::Period;
use crate::reports;

/// CSAT (share of 6 and 7 on the 1–7 scale), average score and FCR (share of "sí" to "¿Se
/// resolvió su problema?") of the answers given in the period, overall and by agent, queue,
/// channel, category or segment. `Accept: text/csv` or `formato` gives the same as CSV.
#[utoipa::path(tag = "quality", params(CsatQuery, FormatQuery),
    responses((status = 200, description = "JSON, or CSV with `Accept: text/csv` or `formato`",
            content((CsatReport = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/quality/csat")]
pub async fn csat_figures(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadAgents>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let (format, q) = csv::request::<CsatQuery>(&req)?;
    let period = Period::parse(q.from.as_deref(), q.to.as_deref())?;
    let report = state.db.read(move |c| csat::figures(c, period, q.by)).await?;
    csv::respond(format, &report, &csat::csv_rows(&report), "csat.csv")
}

/// Answer a satisfaction survey as JSON (the page at `/encuesta/{token}` posts a form instead).
/// One answer per ticket: a second one is 409; an expired link 410; a link that is not ours 404.
#[utoipa::path(tag = "quality", params(("token" = String, Path, description = "The token of the survey link")),
    request_body = SurveyAnswer,
    responses((status = 201, body = SurveyReceipt),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The link expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
#[post("/public/surveys/{token}")]
pub async fn answer_survey(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: Json<SurveyAnswer>,
) -> Result<HttpResponse, AppError> {
    survey::rate_limit(&state, &req)?;
    let id = match state.signer.check_survey_token(&token, Utc::now()) {
        TokenCheck::Invalid => return Err(AppError::NotFound("la encuesta")),
        TokenCheck::Expired(_) => return Ok(survey::expired_problem()),
        TokenCheck::Valid(id) => id,
    };
    let answer = body.into_value()?;
    state.db.write(move |c| csat::answer(c, id, answer)).await?;
    Ok(HttpResponse::Created().json(SurveyReceipt { message: "¡Gracias por su respuesta!".into() }))
}

/// Create a scorecard: criteria with weights; a critical criterion marked 0 makes the score 0.
/// Scorecards do not change afterwards (create a new one instead).
#[utoipa::path(tag = "quality", request_body = ScorecardInput,
    responses((status = 201, body = ScorecardView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/quality/scorecards")]
pub async fn create_scorecard(
    state: web::Data<AppState>,
    p: Auth<perm::ReadAgents>,
    body: Json<ScorecardInput>,
) -> Result<HttpResponse, AppError> {
    let (input, who) = (body.into_value()?, p.principal.clone());
    let view = state.db.write(move |c| qa::create_scorecard(c, &who, input)).await?;
    Ok(HttpResponse::Created().json(view))
}

/// The requester's survey answers (the 50 most recent, newest first), for the agent's requester panel.
#[utoipa::path(tag = "quality", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = Vec<SurveyAnswerView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/requesters/{id}/surveys")]
pub async fn requester_surveys(
    state: web::Data<AppState>,
    _p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
) -> Result<web::Json<Vec<SurveyAnswerView>>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| csat::answers_of(c, id, 50)).await?))
}

/// Every scorecard, oldest first.
#[utoipa::path(tag = "quality", responses((status = 200, body = Vec<ScorecardView>)), security(("bearer" = [])))]
#[get("/quality/scorecards")]
pub async fn list_scorecards(
    state: web::Data<AppState>,
    _p: Auth<perm::WorkTickets>,
) -> Result<web::Json<Vec<ScorecardView>>, AppError> {
    Ok(web::Json(state.db.read(qa::list_scorecards).await?))
}

#[utoipa::path(tag = "quality", params(("id" = i64, Path)),
    responses((status = 200, body = ScorecardView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/quality/scorecards/{id}")]
pub async fn get_scorecard(
    state: web::Data<AppState>,
    _p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
) -> Result<web::Json<ScorecardView>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| qa::get_scorecard(c, id)).await?))
}

/// Draw the QA sample of a period: `per_agent` tickets per agent at random, stratified by
/// channel, plus every ticket whose survey scored 4 or less. Creates pending evaluations; running
/// it again for the same period (and seed) creates nothing new.
#[utoipa::path(tag = "quality", request_body = SampleRequest,
    responses((status = 201, body = SampleResult),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/quality/samples")]
pub async fn run_sampling(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadAgents>,
    body: Json<SampleRequest>,
) -> Result<HttpResponse, AppError> {
    let req = body.into_value()?;
    let result = state.db.write(move |c| qa::run_sampling(c, req)).await?;
    Ok(HttpResponse::Created().json(result))
}

/// Evaluations, newest first. Agents get only their own, once evaluated (asking for another
/// agent's is 404); supervisors filter by agent, status, ticket and creation period.
#[utoipa::path(tag = "quality", params(EvaluationFilter),
    responses((status = 200, body = EvaluationPage), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/quality/evaluations")]
pub async fn list_evaluations(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    filter: Query<EvaluationFilter>,
) -> Result<web::Json<EvaluationPage>, AppError> {
    let (filter, who) = (filter.into_value()?, p.principal.clone());
    Ok(web::Json(state.db.read(move |c| qa::list_evaluations(c, &who, &filter)).await?))
}

/// Evaluate a ticket outside sampling (the agent defaults to the ticket's assignee).
#[utoipa::path(tag = "quality", request_body = NewEvaluation,
    responses((status = 201, body = EvaluationView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/quality/evaluations")]
pub async fn create_evaluation(
    state: web::Data<AppState>,
    p: Auth<perm::ReadAgents>,
    body: Json<NewEvaluation>,
) -> Result<HttpResponse, AppError> {
    let (req, who) = (body.into_value()?, p.principal.clone());
    let view = state.db.write(move |c| qa::create_evaluation(c, &who, req)).await?;
    Ok(HttpResponse::Created().json(view))
}

/// One evaluation (agents: only their own).
#[utoipa::path(tag = "quality", params(("id" = i64, Path)),
    responses((status = 200, body = EvaluationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/quality/evaluations/{id}")]
pub async fn get_evaluation(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
) -> Result<web::Json<EvaluationView>, AppError> {
    let (id, who) = (id.into_inner(), p.principal.clone());
    Ok(web::Json(state.db.read(move |c| qa::get_evaluation(c, &who, id)).await?))
}

/// Fill in a sampled evaluation: a mark for every criterion (`null` = no aplica) and comments.
/// Only pending ones (409 otherwise).
#[utoipa::path(tag = "quality", params(("id" = i64, Path)), request_body = EvaluationInput,
    responses((status = 200, body = EvaluationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[put("/quality/evaluations/{id}")]
pub async fn submit_evaluation(
    state: web::Data<AppState>,
    p: Auth<perm::ReadAgents>,
    id: web::Path<i64>,
    body: Json<EvaluationInput>,
) -> Result<web::Json<EvaluationView>, AppError> {
    let (id, req, who) = (id.into_inner(), body.into_value()?, p.principal.clone());
    Ok(web::Json(state.db.write(move |c| qa::submit(c, &who, id, req)).await?))
}

/// The evaluated agent disputes their evaluation, once (a second dispute is 409).
#[utoipa::path(tag = "quality", params(("id" = i64, Path)), request_body = DisputeRequest,
    responses((status = 200, body = EvaluationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/quality/evaluations/{id}/dispute")]
pub async fn dispute(
    state: web::Data<AppState>,
    p: Auth<perm::WorkTickets>,
    id: web::Path<i64>,
    body: Json<DisputeRequest>,
) -> Result<web::Json<EvaluationView>, AppError> {
    let (id, req, who) = (id.into_inner(), body.into_value()?, p.principal.clone());
    Ok(web::Json(state.db.write(move |c| qa::dispute(c, &who, id, req)).await?))
}

/// A supervisor answers a dispute: upholds the evaluation, or revises its marks.
#[utoipa::path(tag = "quality", params(("id" = i64, Path)), request_body = ResolveRequest,
    responses((status = 200, body = EvaluationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/quality/evaluations/{id}/resolution")]
pub async fn resolve_dispute(
    state: web::Data<AppState>,
    p: Auth<perm::ReadAgents>,
    id: web::Path<i64>,
    body: Json<ResolveRequest>,
) -> Result<web::Json<EvaluationView>, AppError> {
    let (id, req, who) = (id.into_inner(), body.into_value()?, p.principal.clone());
    Ok(web::Json(state.db.write(move |c| qa::resolve(c, &who, id, req)).await?))
}

/// Average quality score per agent or queue and week (Monday, Santiago), next to CSAT and SLA
/// compliance (share of the week's solved tickets without an `sla_breached` event).
#[utoipa::path(tag = "quality", params(ReportQuery),
    responses((status = 200, body = QualityReport),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/quality/report")]
pub async fn quality_report(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadAgents>,
    query: Query<ReportQuery>,
) -> Result<web::Json<QualityReport>, AppError> {
    let q = query.into_value()?;
    let period = Period::parse(q.from.as_deref(), q.to.as_deref())?;
    let by = q.by.unwrap_or(ReportBy::Agent);
    // Its solved tickets come from the daily rollup (for whole days): up to date first, as the reports.
    state.reports.ensure(&state.db).await?;
    Ok(web::Json(state.db.read(move |c| reports::snapshot(c, |c| qa::report(c, period, by))).await?))
}

/// The top recurring problems: categories with most tickets in the period, their repeat contacts
/// (same requester, same category, within 7 days), first contact resolution and most frequent
/// subject terms.
#[utoipa::path(tag = "quality", params(RecurringQuery),
    responses((status = 200, body = RecurringReport),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/quality/recurring")]
pub async fn recurring_problems(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadAgents>,
    query: Query<RecurringQuery>,
) -> Result<web::Json<RecurringReport>, AppError> {
    let q = query.into_value()?;
    let period = Period::parse(q.from.as_deref(), q.to.as_deref())?;
    Ok(web::Json(state.db.read(move |c| reports::snapshot(c, |c| recurring::report(c, period, q.limit))).await?))
}
