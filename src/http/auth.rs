//! Who is calling, for the handlers: a bearer token or the session cookie, and the permission a
//! route needs, checked as the request is extracted.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};

use crate::auth::{hash_token, lookup, TOKEN_PREFIX};
use crate::domain::{Permission, Principal};
use crate::error::AppError;
use crate::http::state::AppState;
use crate::session;

/// A bearer token, else the session cookie. A request made with the cookie and an unsafe method
/// must also carry the session's CSRF token: a page on another site can make the browser send
/// the cookie, but cannot read the token.
async fn authenticate(req: HttpRequest) -> Result<Principal, AppError> {
    let state =
        req.app_data::<web::Data<AppState>>().ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState missing")))?;
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or(AppError::Unauthorized)?;
        return principal_for_token(state, token).await;
    }
    let cookie = req.cookie(session::COOKIE).ok_or(AppError::Unauthorized)?;
    let session = current_session(state, cookie.value()).await?.ok_or(AppError::Unauthorized)?;
    if !req.method().is_safe() {
        let sent = req.headers().get(session::CSRF_HEADER).and_then(|v| v.to_str().ok());
        if sent != Some(session.csrf_token.as_str()) {
            return Err(AppError::CsrfMismatch);
        }
    }
    Ok(session.principal)
}

/// The live session of the cookie `token`, marked as used.
pub async fn current_session(state: &AppState, token: &str) -> Result<Option<session::Session>, AppError> {
    let idle = chrono::TimeDelta::minutes(state.settings.session.idle_minutes.max(1));
    let now = chrono::Utc::now();
    let token = token.to_owned();
    let found = state.db.read(move |c| session::find(c, &token, idle, now)).await?;
    if let Some(s) = found.clone().filter(|s| s.needs_touch(now)) {
        state.db.write(move |c| session::touch(c, &s, now)).await?;
    }
    Ok(found)
}

/// The caller holding `token`, from the cache or the database. Also used where a connector can
/// only put the token in the URL (the CTI push).
pub async fn principal_for_token(state: &AppState, token: &str) -> Result<Principal, AppError> {
    let token = token.trim();
    if !token.starts_with(TOKEN_PREFIX) {
        return Err(AppError::Unauthorized);
    }
    let hash = hash_token(token);
    if let Some(principal) = state.tokens.get(&hash) {
        return Ok(principal);
    }
    let key = hash.clone();
    let principal = state.db.read(move |c| lookup(c, &key)).await?.ok_or(AppError::Unauthorized)?;
    state.tokens.put(hash, principal.clone());
    Ok(principal)
}

/// A permission checked during extraction, before the body is read: a caller without the role
/// gets 403 whatever they sent.
pub trait Needs {
    const PERMISSION: Permission;
}

/// Permission markers for [`Auth`], one per [`Permission`].
pub mod perm {
    use super::{Needs, Permission};

    macro_rules! markers {
        ($($name:ident),+) => {$(
            pub struct $name;
            impl Needs for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )+};
    }
    markers!(
        CreateTickets,
        WorkTickets,
        ReadReference,
        ManageReference,
        ManageRequesters,
        ReadAgents,
        ManageAgents,
        MonitorService
    );
}

/// An authenticated caller holding the permission `P`.
pub struct Auth<P: Needs> {
    pub principal: Principal,
    _permission: std::marker::PhantomData<P>,
}

impl<P: Needs> std::ops::Deref for Auth<P> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<P: Needs + 'static> FromRequest for Auth<P> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = authenticate(req).await?;
            principal.require(P::PERMISSION)?;
            Ok(Auth { principal, _permission: std::marker::PhantomData })
        })
    }
}

impl FromRequest for Principal {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Principal, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
