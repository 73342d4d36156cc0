//! Sign-in for people: the session behind the workspace's cookie, and the links that set a
//! password.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Json;
use crate::channels::email::outbox;
use crate::directory::{self, AgentView};
use crate::domain::signin;
use crate::domain::Principal;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::public::client_ip;
use crate::http::state::AppState;
use crate::session;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schema(example = "javier.rojas@chilecompra.cl", max_length = 254, pattern = r"^[^\u0000]*$")]
    pub email: String,
    /// Any text without NUL (U+0000), like every request text.
    #[schema(format = Password, max_length = 200, pattern = r"^[^\u0000]*$")]
    pub password: String,
}

/// Who is signed in, and the token that unsafe requests made with the cookie must send in the
/// `X-CSRF-Token` header (none for a bearer token, which needs no such header).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub agent: AgentView,
    pub csrf_token: Option<String>,
    /// Minutes without use after which the session ends.
    pub idle_minutes: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// The token of the invitation or reset link.
    #[schema(max_length = 128)]
    pub token: String,
    /// 10 to 200 characters, not only spaces, no control characters.
    #[schema(format = Password, min_length = 10, max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f\s][^\u0000-\u001f\u007f-\u009f]*$")]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub agent_id: i64,
    /// The mail was queued to this address.
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

fn session_cookie<'a>(state: &AppState, value: &'a str) -> Cookie<'a> {
    Cookie::build(session::COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.server.public_url.starts_with("https://"))
        .finish()
}

fn view(state: &AppState, agent: AgentView, csrf_token: Option<String>) -> SessionView {
    SessionView { agent, csrf_token, idle_minutes: state.settings.session.idle_minutes }
}

/// Sign in with email and password: sets the HttpOnly session cookie. Failed attempts are
/// limited per account and per client address (429 with `Retry-After`); the error never says
/// whether the email exists.
#[utoipa::path(tag = "session", request_body = SignInRequest,
    responses((status = 200, body = SessionView, headers(("Set-Cookie" = String, description = "atencion_sesion, HttpOnly, SameSite=Strict"))),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
#[post("/session")]
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SignInRequest>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    if input.password.chars().count() > signin::MAX_PASSWORD_CHARS {
        return Err(AppError::BadCredentials);
    }
    let ip = client_ip(&req, state.settings.web_form.trust_proxy_headers);
    let now = Utc::now();
    let limits = state.settings.session.clone();
    let (email, address) = (input.email.clone(), ip.clone());
    let account = state
        .db
        .read(move |c| {
            let account = session::account(c, &email)?;
            session::check_limits(c, &limits, &account.key, &address, now)?;
            Ok(account)
        })
        .await?;
    let hash = account.agent.as_ref().and_then(|(_, h)| h.clone());
    let password = input.password;
    let matches = tokio::task::spawn_blocking(move || session::verify_password(hash.as_deref(), &password))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let key = account.key;
    let Some((agent_id, _)) = account.agent.filter(|_| matches) else {
        state.db.write(move |c| session::record_failure(c, &key, &ip, now)).await?;
        return Err(AppError::BadCredentials);
    };
    let idle = chrono::TimeDelta::minutes(state.settings.session.idle_minutes.max(1));
    let (opened, agent) = state
        .db
        .write(move |c| {
            session::forget_idle(c, idle, now)?;
            let opened = session::open(c, agent_id, &key, now)?;
            Ok((opened, directory::get_agent(c, agent_id)?))
        })
        .await?;
    tracing::info!(agent_id, "signed in");
    Ok(HttpResponse::Ok().cookie(session_cookie(&state, &opened.token)).json(view(
        &state,
        agent,
        Some(opened.csrf_token),
    )))
}

/// Who is signed in (with the session cookie, or the holder of a bearer token).
#[utoipa::path(tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/session")]
pub async fn current(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Principal,
) -> Result<web::Json<SessionView>, AppError> {
    let csrf_token = match req.cookie(session::COOKIE) {
        Some(cookie) if req.headers().get(actix_web::http::header::AUTHORIZATION).is_none() => {
            crate::http::auth::current_session(&state, cookie.value()).await?.map(|s| s.csrf_token)
        }
        _ => None,
    };
    let agent_id = who.agent_id;
    let agent = state.db.read(move |c| directory::get_agent(c, agent_id)).await?;
    Ok(web::Json(view(&state, agent, csrf_token)))
}

/// Sign out: ends the session and clears the cookie (needs `X-CSRF-Token`).
#[utoipa::path(tag = "session",
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[delete("/session")]
pub async fn sign_out(state: web::Data<AppState>, req: HttpRequest, _who: Principal) -> Result<HttpResponse, AppError> {
    if let Some(cookie) = req.cookie(session::COOKIE) {
        let token = cookie.value().to_owned();
        state.db.write(move |c| session::close(c, &token)).await?;
    }
    let mut gone = session_cookie(&state, "");
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

/// Set a password with the token of an invitation or reset link (single use, expires). Ends
/// every session the person had.
#[utoipa::path(tag = "session", request_body = SetPasswordRequest,
    responses((status = 204), (status = 404, description = "Unknown, used or expired link", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/session/password")]
pub async fn set_password(
    state: web::Data<AppState>,
    body: Json<SetPasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_value()?;
    signin::check_password(&input.password).map_err(|m| AppError::field("password", format!("La contraseña {m}.")))?;
    let password = input.password;
    let hash = tokio::task::spawn_blocking(move || session::hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.into()))??;
    let now = Utc::now();
    let agent_id = state.db.write(move |c| session::redeem_link(c, &input.token, &hash, now)).await?;
    state.tokens.clear();
    tracing::info!(agent_id, "password set through a link");
    Ok(HttpResponse::NoContent().finish())
}

/// Mail an agent a single-use link to set their password (an invitation, or a reset: earlier
/// links stop working).
#[utoipa::path(tag = "agents", params(("id" = i64, Path, minimum = 1)),
    responses((status = 202, body = InvitationView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The agent has no email or is inactive", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/agents/{id}/invitation")]
pub async fn invite(
    state: web::Data<AppState>,
    _admin: Auth<perm::ManageAgents>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let hours = state.settings.session.invitation_hours;
    let base = state.settings.server.public_url.trim_end_matches('/').to_owned();
    let now = Utc::now();
    let invitation = state
        .db
        .write(move |c| {
            let agent = directory::get_agent(c, id)?;
            if !agent.active {
                return Err(AppError::Conflict("El agente está desactivado: actívelo antes de invitarlo.".into()));
            }
            let email = agent.email.clone().ok_or_else(|| {
                AppError::Conflict("El agente no tiene correo electrónico: agréguelo antes de invitarlo.".into())
            })?;
            let (token, expires_at) = session::create_link(c, id, hours, now)?;
            let until = expires_at.with_timezone(&chrono_tz::America::Santiago).format("%d-%m-%Y %H:%M").to_string();
            let detail = serde_json::json!({
                "nombre": agent.name,
                "enlace": format!("{base}/app/clave#{token}"),
                "vence": until,
            });
            outbox::enqueue_notice(c, outbox::INVITATION, &email, detail)?;
            Ok(InvitationView { agent_id: id, email, expires_at })
        })
        .await?;
    Ok(HttpResponse::Accepted().json(invitation))
}
