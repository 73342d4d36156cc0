//! Full-text search (`GET /search`) and similar solved cases (`GET /tickets/{id}/similar`).

use actix_web::{get, web};

use super::extract::Query;
use crate::audit::{self, Origin};
use crate::domain::Principal;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::search::{self, Scope, SearchParams, SearchResults, SimilarCases, SimilarParams};
use crate::tickets::store;

/// Search tickets by words (Spanish: accents, case and plurals ignored; any order), ticket number
/// or requester RUT in any format, over the number, subject, every message and the requester's
/// name, email and RUT. Ranked best first, each with the matching fragment (plain text and the
/// character ranges to mark). Agents, supervisors and admins search everything (internal notes
/// too); a department member the number and subject of the tickets escalated to their department.
#[utoipa::path(
    tag = "tickets",
    params(SearchParams),
    responses(
        (status = 200, body = SearchResults),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/search")]
pub async fn search_tickets(
    state: web::Data<AppState>,
    who: Principal,
    origin: Origin,
    params: Query<SearchParams>,
) -> Result<web::Json<SearchResults>, AppError> {
    let caller = who.clone();
    let (results, entries) = state
        .db
        .read(move |c| {
            let scope = Scope::of(c, &caller)?;
            let results = search::search(c, scope, &params.into_value()?)?;
            let ids: Vec<i64> = results.items.iter().map(|t| t.id).collect();
            Ok((results, audit::ticket_entries(c, audit::READ, &ids)?))
        })
        .await?;
    // Escalated tickets found are read too.
    super::record_reads(&state, &who, origin, entries).await?;
    Ok(web::Json(results))
}

/// The solved tickets most similar to this one (words of its subject and first messages; the same
/// category ranks higher), each with the public agent reply that solved it.
#[utoipa::path(
    tag = "tickets",
    params(("id" = String, Path, description = "Id or number"), SimilarParams),
    responses(
        (status = 200, body = SimilarCases),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tickets/{id}/similar")]
pub async fn similar_tickets(
    state: web::Data<AppState>,
    _who: Auth<perm::WorkTickets>,
    id: web::Path<String>,
    params: Query<SimilarParams>,
) -> Result<web::Json<SimilarCases>, AppError> {
    let key = id.into_inner();
    let cases = state
        .db
        .read(move |c| {
            let params = params.into_value()?;
            let id = store::resolve_id(c, &key)?;
            search::similar(c, id, &params)
        })
        .await?;
    Ok(web::Json(cases))
}
