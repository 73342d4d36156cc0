//! Trend and spike detection: the alerts with their explanation, and a scan on demand.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::extract::{parse_json, Query};
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::trends::scanner::{self, ScanRequest, ScanResult};
use crate::trends::{self, TrendAlert, TrendQuery};

/// Trend alerts, newest bucket first: per alert the category (and keyword cluster), the bucket
/// (UTC and America/Santiago), the observed count, the seasonal baseline (mean, σ and the weekly
/// history behind it), the threshold, the Poisson p-value, the method, a Spanish explanation, the
/// evidence tickets and the draft improvement opportunity proposed.
#[utoipa::path(tag = "quality", params(TrendQuery),
    responses((status = 200, body = Vec<TrendAlert>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/quality/trends")]
pub async fn list_trends(
    state: web::Data<AppState>,
    _p: Auth<perm::MonitorService>,
    query: Query<TrendQuery>,
) -> Result<web::Json<Vec<TrendAlert>>, AppError> {
    let q = query.into_value()?;
    Ok(web::Json(state.db.read(move |c| trends::list(c, q, Utc::now())).await?))
}

/// Run the trend scan now, or as of `at` (its last complete hour and day): raises the alerts
/// not raised before, mails the supervisors and proposes the draft opportunities. The body is
/// optional. Admins only.
#[utoipa::path(tag = "quality", request_body(content = Option<ScanRequest>, content_type = "application/json"),
    responses((status = 200, body = ScanResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/quality/trends/scan")]
pub async fn scan(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageAgents>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    // No body, or `null`, is a scan as of now.
    let request: ScanRequest = if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        ScanRequest::default()
    } else {
        let json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
        if !json {
            return Err(AppError::UnsupportedMediaType);
        }
        parse_json(&body)?
    };
    let at = request.at.unwrap_or_else(Utc::now);
    let params = state.settings.trends.params();
    let result = scanner::scan(&state.db, at, params, true).await?;
    if !result.raised.is_empty() {
        state.live.touch();
    }
    Ok(HttpResponse::Ok().json(result))
}
