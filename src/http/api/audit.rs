//! The audit log of escalated tickets and improvement opportunities (admins).

use actix_web::{get, web, HttpRequest};

use crate::audit::{self, AuditPage, AuditQuery};
use crate::domain::Principal;
use crate::error::{AppError, Problem};
use crate::http::state::AppState;

/// Who read or changed escalated tickets and opportunities, newest first, with cursor
/// pagination. Malformed or unknown parameters are a 400.
#[utoipa::path(tag = "departments", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/audit")]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> Result<web::Json<AuditPage>, AppError> {
    // Parsed here, after authentication: callers without the role get 403 whatever they sent.
    if who.role != crate::domain::Role::Admin {
        return Err(AppError::Forbidden);
    }
    let query = AuditQuery::parse(req.query_string())?;
    Ok(web::Json(state.db.read(move |c| audit::list(c, &who, &query)).await?))
}
