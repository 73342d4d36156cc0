//! Contact-center figures for supervisors: staffing forecast (Erlang C).

use actix_web::{post, web};

use super::extract::Json;
use crate::auth::{perm, Auth};
use crate::domain::kpi::{self, Staffing, StaffingInput};
use crate::error::{AppError, FieldError, Problem};

/// Agents required for an interval by Erlang C, from the expected arrivals and AHT, the target
/// service level (answered within `answer_secs`), the maximum occupancy and the shrinkage.
#[utoipa::path(tag = "kpis", request_body = StaffingInput,
    responses((status = 200, body = Staffing), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/kpis/staffing")]
pub async fn staffing(_p: Auth<perm::ReadAgents>, body: Json<StaffingInput>) -> Result<web::Json<Staffing>, AppError> {
    let input = body.into_value()?;
    kpi::staffing(&input)
        .map(web::Json)
        .map_err(|errors| AppError::Validation(errors.into_iter().map(|(f, m)| FieldError::new(f, m)).collect()))
}
