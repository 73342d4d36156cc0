//! Endpoints for requesters, agents, queues, departments and categories.

use actix_web::{delete, get, patch, post, web, HttpResponse};

use super::extract::{Json, Query};
use crate::auth::{self};
use crate::directory::{self as dir, *};
use crate::domain::Principal;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::tickets::{Page, RequesterInput, RequesterView};

type Resp<T> = Result<web::Json<T>, AppError>;

fn created<T: serde::Serialize>(value: T) -> HttpResponse {
    HttpResponse::Created().json(value)
}

// ---------------------------------------------------------------- requesters

/// Register a requester (buyer, supplier or citizen).
#[utoipa::path(tag = "requesters", request_body = RequesterInput,
    responses((status = 201, body = RequesterView), (status = 409, description = "Email or RUT already registered", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/requesters")]
pub async fn create_requester(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageRequesters>,
    body: Json<RequesterInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    Ok(created(state.db.write(move |c| dir::create_requester(c, input)).await?))
}

/// Find requesters by email, RUT or phone.
#[utoipa::path(tag = "requesters", params(RequesterFilter), responses((status = 200, body = Page<RequesterView>)), security(("bearer" = [])))]
#[get("/requesters")]
pub async fn list_requesters(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageRequesters>,
    filter: Query<RequesterFilter>,
) -> Resp<Page<RequesterView>> {
    let filter = filter.into_value()?;
    Ok(web::Json(state.db.read(move |c| dir::list_requesters(c, &filter)).await?))
}

#[utoipa::path(tag = "requesters", params(("id" = i64, Path)), responses((status = 200, body = RequesterView), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
#[get("/requesters/{id}")]
pub async fn get_requester(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageRequesters>,
    id: web::Path<i64>,
) -> Resp<RequesterView> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| dir::get_requester(c, id)).await?))
}

/// Change a requester; an empty string clears an optional field.
#[utoipa::path(tag = "requesters", params(("id" = i64, Path)), request_body = RequesterPatch,
    responses((status = 200, body = RequesterView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[patch("/requesters/{id}")]
pub async fn update_requester(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageRequesters>,
    id: web::Path<i64>,
    body: Json<RequesterPatch>,
) -> Resp<RequesterView> {
    let (id, patch) = (id.into_inner(), body.into_value()?);
    Ok(web::Json(state.db.write(move |c| dir::update_requester(c, id, patch)).await?))
}

/// Delete a requester with no tickets (admin only).
#[utoipa::path(tag = "requesters", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "Has tickets", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/requesters/{id}")]
pub async fn delete_requester(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageAgents>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.write(move |c| dir::delete_requester(c, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- agents

#[utoipa::path(tag = "agents", request_body = CreateAgentRequest,
    responses((status = 201, body = AgentView), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/agents")]
pub async fn create_agent(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageAgents>,
    body: Json<CreateAgentRequest>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    Ok(created(state.db.write(move |c| dir::create_agent(c, input)).await?))
}

#[utoipa::path(tag = "agents", responses((status = 200, body = Vec<AgentView>)), security(("bearer" = [])))]
#[get("/agents")]
pub async fn list_agents(state: web::Data<AppState>, _p: Auth<perm::ReadAgents>) -> Resp<Vec<AgentView>> {
    Ok(web::Json(state.db.read(dir::list_agents).await?))
}

/// The caller's own profile, whatever their role: role, department, presence, queues, skills,
/// capacity and open work.
#[utoipa::path(tag = "agents",
    responses((status = 200, body = AgentProfile), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/agents/me")]
pub async fn get_me(state: web::Data<AppState>, me: Principal) -> Resp<AgentProfile> {
    let id = me.agent_id;
    Ok(web::Json(state.db.read(move |c| dir::profile(c, id)).await?))
}

#[utoipa::path(tag = "agents", params(("id" = i64, Path)), responses((status = 200, body = AgentView), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
#[get("/agents/{id}")]
pub async fn get_agent(state: web::Data<AppState>, _p: Auth<perm::ReadAgents>, id: web::Path<i64>) -> Resp<AgentView> {
    let id = id.into_inner();
    Ok(web::Json(state.db.read(move |c| dir::get_agent(c, id)).await?))
}

/// Change an agent. Demoting or deactivating the last active admin is refused (409).
#[utoipa::path(tag = "agents", params(("id" = i64, Path)), request_body = UpdateAgentRequest,
    responses((status = 200, body = AgentView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "The last active admin", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[patch("/agents/{id}")]
pub async fn update_agent(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageAgents>,
    id: web::Path<i64>,
    body: Json<UpdateAgentRequest>,
) -> Resp<AgentView> {
    let (id, input) = (id.into_inner(), body.into_value()?);
    let agent = state.db.write(move |c| dir::update_agent(c, id, input)).await?;
    state.tokens.clear();
    Ok(web::Json(agent))
}

/// Deactivate an agent: their history stays, their tokens stop working. The last active admin
/// cannot be deactivated (409).
#[utoipa::path(tag = "agents", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "The last active admin", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
#[delete("/agents/{id}")]
pub async fn delete_agent(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageAgents>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.write(move |c| dir::deactivate_agent(c, id)).await?;
    state.tokens.clear();
    Ok(HttpResponse::NoContent().finish())
}

/// Issue an API token for an agent or integration; the token is shown only in this response.
#[utoipa::path(tag = "agents", params(("id" = i64, Path)), request_body = CreateTokenRequest,
    responses((status = 201, body = TokenView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/agents/{id}/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageAgents>,
    id: web::Path<i64>,
    body: Json<CreateTokenRequest>,
) -> Result<HttpResponse, AppError> {
    let (agent_id, name) = (id.into_inner(), body.into_value()?.name);
    let token = state
        .db
        .write(move |c| {
            dir::get_agent(c, agent_id)?;
            auth::issue_token(c, agent_id, &name)
        })
        .await?;
    Ok(created(TokenView { agent_id, token }))
}

// ---------------------------------------------------------------- queues, departments, categories

/// Generates list/get/create/update/deactivate endpoints for one kind of reference record.
macro_rules! reference_endpoints {
    ($tag:literal, $path:literal, $item:literal, $view:ty, $kind:expr, $save:path, $get:path, $list:expr,
     $list_fn:ident, $get_fn:ident, $create_fn:ident, $update_fn:ident, $delete_fn:ident) => {
        #[utoipa::path(tag = $tag, responses((status = 200, body = Vec<$view>)), security(("bearer" = [])))]
        #[get($path)]
        pub async fn $list_fn(state: web::Data<AppState>, _p: Auth<perm::ReadReference>) -> Resp<Vec<$view>> {
            Ok(web::Json(state.db.read($list).await?))
        }

        #[utoipa::path(tag = $tag, params(("id" = i64, Path)), responses((status = 200, body = $view), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
        #[get($item)]
        pub async fn $get_fn(state: web::Data<AppState>, _p: Auth<perm::ReadReference>, id: web::Path<i64>) -> Resp<$view> {
            let id = id.into_inner();
            Ok(web::Json(state.db.read(move |c| $get(c, id)).await?))
        }

        #[utoipa::path(tag = $tag, request_body = ReferenceInput,
            responses((status = 201, body = $view), (status = 409, description = "Slug taken", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        #[post($path)]
        pub async fn $create_fn(state: web::Data<AppState>, _p: Auth<perm::ManageReference>, body: Json<ReferenceInput>) -> Result<HttpResponse, AppError> {
            let input = body.into_value()?;
            Ok(created(state.db.write(move |c| $save(c, None, input)).await?))
        }

        #[utoipa::path(tag = $tag, params(("id" = i64, Path)), request_body = ReferenceInput,
            responses((status = 200, body = $view), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        #[patch($item)]
        pub async fn $update_fn(state: web::Data<AppState>, _p: Auth<perm::ManageReference>, id: web::Path<i64>, body: Json<ReferenceInput>) -> Resp<$view> {
            let (id, input) = (id.into_inner(), body.into_value()?);
            Ok(web::Json(state.db.write(move |c| $save(c, Some(id), input)).await?))
        }

        /// Deactivate (history keeps referring to it).
        #[utoipa::path(tag = $tag, params(("id" = i64, Path)), responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
        #[delete($item)]
        pub async fn $delete_fn(state: web::Data<AppState>, _p: Auth<perm::ManageReference>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
            let id = id.into_inner();
            state.db.write(move |c| dir::deactivate(c, $kind, id)).await?;
            Ok(HttpResponse::NoContent().finish())
        }
    };
}

reference_endpoints!(
    "queues",
    "/queues",
    "/queues/{id}",
    QueueView,
    ReferenceKind::Queue,
    dir::save_queue,
    dir::get_queue,
    dir::list_queues,
    list_queues,
    get_queue,
    create_queue,
    update_queue,
    delete_queue
);
reference_endpoints!(
    "departments",
    "/departments",
    "/departments/{id}",
    DepartmentView,
    ReferenceKind::Department,
    dir::save_department,
    dir::get_department,
    dir::list_departments,
    list_departments,
    get_department,
    create_department,
    update_department,
    delete_department
);
reference_endpoints!(
    "categories",
    "/categories",
    "/categories/{id}",
    CategoryView,
    ReferenceKind::Category,
    dir::save_category,
    dir::get_category,
    |c: &mut crate::db::DbConnection| dir::list_categories(c, false),
    list_categories,
    get_category,
    create_category,
    update_category,
    delete_category
);
