//! Authentication: bearer tokens (random, shown once, stored as SHA-256 hashes) for systems and
//! scripts, or the session cookie of a person signed in to the workspace (see [`crate::session`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::schema::{agents, api_tokens};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::Principal;
use crate::error::AppError;

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

pub fn lookup(conn: &mut DbConnection, hash: &str) -> Result<Option<Principal>, AppError> {
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

    pub fn get(&self, hash: &str) -> Option<Principal> {
        let entries = self.entries.lock().expect("token cache poisoned");
        entries.get(hash).filter(|(_, at)| at.elapsed() < Self::TTL).map(|(p, _)| p.clone())
    }

    /// Forgets every cached token (after an agent or token changes on this replica).
    pub fn clear(&self) {
        self.entries.lock().expect("token cache poisoned").clear();
    }

    pub fn put(&self, hash: String, principal: Principal) {
        let mut entries = self.entries.lock().expect("token cache poisoned");
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < Self::TTL);
        }
        entries.insert(hash, (principal, Instant::now()));
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
