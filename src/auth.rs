//! Authentication: bearer tokens (random, shown once, stored as SHA-256 hashes) for systems and
//! scripts, or the session cookie of a person signed in to the workspace (see [`crate::session`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::schema::{agents, api_tokens};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
pub use crate::domain::user::{Actor, Principal};
use crate::domain::Permission;
use crate::error::AppError;
use crate::session;
use crate::startup::AppState;

pub const TOKEN_PREFIX: &str = "atn_";

pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token for an existing agent and returns the clear text (the only time it exists).
pub fn issue_token(conn: &mut DbConnection, agent_id: i64, name: &str) -> Result<String, AppError> {
    let token = generate_token();
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::agent_id.eq(agent_id),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(hash_token(&token)),
            api_tokens::created_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    Ok(token)
}

fn lookup(conn: &mut DbConnection, hash: &str) -> Result<Option<Principal>, AppError> {
    let row: Option<(i64, String)> = api_tokens::table
        .inner_join(agents::table)
        .filter(api_tokens::token_hash.eq(hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(agents::active.eq(true))
        .select((agents::id, agents::role))
        .first(conn)
        .optional()?;
    row.map(|(agent_id, role)| principal(agent_id, &role)).transpose()
}

/// The principal of agent `agent_id` whose stored role is `role`.
pub fn principal(agent_id: i64, role: &str) -> Result<Principal, AppError> {
    let role =
        role.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("agent {agent_id} has unknown role {role}")))?;
    Ok(Principal { agent_id, role })
}

/// Short-lived cache of token lookups so that authentication is not a database round trip per
/// request. Revoking a token or deactivating an agent takes effect within `TTL`.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl TokenCache {
    const TTL: Duration = Duration::from_secs(30);
    const MAX_ENTRIES: usize = 10_000;

    fn get(&self, hash: &str) -> Option<Principal> {
        let entries = self.entries.lock().expect("token cache poisoned");
        entries.get(hash).filter(|(_, at)| at.elapsed() < Self::TTL).map(|(p, _)| p.clone())
    }

    /// Forgets every cached token (after an agent or token changes on this replica).
    pub fn clear(&self) {
        self.entries.lock().expect("token cache poisoned").clear();
    }

    fn put(&self, hash: String, principal: Principal) {
        let mut entries = self.entries.lock().expect("token cache poisoned");
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < Self::TTL);
        }
        entries.insert(hash, (principal, Instant::now()));
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert!(!hash_token(&a).contains(&a[4..]));
    }
}
