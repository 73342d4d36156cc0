//! Bearer-token authentication: tokens are random, shown once, stored as SHA-256 hashes.

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
use crate::domain::{Permission, Role};
use crate::error::AppError;
use crate::startup::AppState;

/// Who is calling: an agent, supervisor, admin, department member or integration.
#[derive(Debug, Clone)]
pub struct Principal {
    pub agent_id: i64,
    pub role: Role,
}

impl Principal {
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.role.can(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::Agent(self.agent_id)
    }
}

/// Who made a change, as recorded in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Agent(i64),
    Requester(i64),
    System,
}

impl Actor {
    pub fn kind(self) -> &'static str {
        match self {
            Actor::Agent(_) => "agent",
            Actor::Requester(_) => "requester",
            Actor::System => "system",
        }
    }

    pub fn id(self) -> Option<i64> {
        match self {
            Actor::Agent(id) | Actor::Requester(id) => Some(id),
            Actor::System => None,
        }
    }
}

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
    row.map(|(agent_id, role)| {
        let role = role
            .parse()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("agent {agent_id} has unknown role {role}")))?;
        Ok(Principal { agent_id, role })
    })
    .transpose()
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

async fn authenticate(req: HttpRequest) -> Result<Principal, AppError> {
    let state =
        req.app_data::<web::Data<AppState>>().ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState missing")))?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AppError::Unauthorized)?;
    principal_for_token(state, token).await
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
