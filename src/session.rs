//! People sign in with their email and a password (argon2id) and get a server-side session,
//! carried by an HttpOnly cookie. The session authenticates the same `/api/v1` endpoints as a
//! bearer token; unsafe requests made with it must also carry its CSRF token in a header.
//! Passwords are set from the command line or through a single-use link mailed to the person.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use rand::RngCore;

use crate::auth::{self};
use crate::config::SessionSettings;
use crate::db::schema::{agents, password_links, sessions, sign_in_failures};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::Principal;
use crate::domain::{signin, text};
use crate::error::AppError;

/// The session cookie's name.
pub const COOKIE: &str = "atencion_sesion";
/// The header that unsafe requests authenticated by the cookie must carry.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(anyhow::anyhow!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2: {e}")))
}

/// Whether `password` matches `hash`; with no hash (unknown account, no password yet) a decoy is
/// checked instead, so the answer takes as long and says nothing about the account.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    static DECOY: OnceLock<String> = OnceLock::new();
    let decoy = DECOY.get_or_init(|| hash_password("decoy-password-never-matches").unwrap_or_default());
    let Ok(parsed) = PasswordHash::new(hash.unwrap_or(decoy)) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && hash.is_some()
}

/// The account a sign-in names: its normalised email, and the active agent with that email and
/// their password hash, if any.
pub struct Account {
    pub key: String,
    pub agent: Option<(i64, Option<String>)>,
}

pub fn account(conn: &mut DbConnection, email: &str) -> Result<Account, AppError> {
    let key = text::normalize_email(email.trim()).unwrap_or_else(|| email.trim().to_lowercase());
    let agent = agents::table
        .filter(agents::email.eq(&key))
        .filter(agents::active.eq(true))
        .select((agents::id, agents::password_hash))
        .first::<(i64, Option<String>)>(conn)
        .optional()?;
    Ok(Account { key, agent })
}

/// 429 with `Retry-After` when the account or the IP failed too often recently.
pub fn check_limits(
    conn: &mut DbConnection,
    limits: &SessionSettings,
    account: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let window = TimeDelta::minutes(limits.failure_window_minutes.max(1));
    let since = UtcTime::from(now - window);
    let by_account: Vec<UtcTime> = sign_in_failures::table
        .filter(sign_in_failures::account.eq(account))
        .filter(sign_in_failures::at.gt(since))
        .select(sign_in_failures::at)
        .load(conn)?;
    let by_ip: Vec<UtcTime> = sign_in_failures::table
        .filter(sign_in_failures::ip.eq(ip))
        .filter(sign_in_failures::at.gt(since))
        .select(sign_in_failures::at)
        .load(conn)?;
    let wait = |failures: Vec<UtcTime>, max: i64| {
        let failures: Vec<DateTime<Utc>> = failures.into_iter().map(|t| t.0).collect();
        signin::wait_before_retry(&failures, max.max(0) as usize, window, now)
    };
    match wait(by_account, limits.max_failures_per_account).max(wait(by_ip, limits.max_failures_per_ip)) {
        Some(wait) => Err(AppError::RateLimited { retry_after_secs: signin::retry_after_secs(wait) }),
        None => Ok(()),
    }
}

/// Records a failed sign-in; failures older than a day are dropped on the way.
pub fn record_failure(conn: &mut DbConnection, account: &str, ip: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::delete(sign_in_failures::table.filter(sign_in_failures::at.lt(UtcTime::from(now - TimeDelta::days(1)))))
        .execute(conn)?;
    diesel::insert_into(sign_in_failures::table)
        .values((
            sign_in_failures::account.eq(account),
            sign_in_failures::ip.eq(ip),
            sign_in_failures::at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A session just opened: the cookie's value and the CSRF token, both shown only now.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

/// Opens a session for `agent_id` and forgets the account's failed attempts.
pub fn open(conn: &mut DbConnection, agent_id: i64, account: &str, now: DateTime<Utc>) -> Result<NewSession, AppError> {
    let session = NewSession { token: random_hex(), csrf_token: random_hex() };
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(auth::hash_token(&session.token)),
            sessions::csrf_token.eq(&session.csrf_token),
            sessions::agent_id.eq(agent_id),
            sessions::created_at.eq(UtcTime::from(now)),
            sessions::last_seen_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    diesel::delete(sign_in_failures::table.filter(sign_in_failures::account.eq(account))).execute(conn)?;
    Ok(session)
}

/// Deletes the sessions idle for `idle` or longer (done at each sign-in: no scanner needed).
pub fn forget_idle(conn: &mut DbConnection, idle: TimeDelta, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::delete(sessions::table.filter(sessions::last_seen_at.le(UtcTime::from(now - idle)))).execute(conn)?;
    Ok(())
}

/// A live session: who it belongs to and its CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub csrf_token: String,
    last_seen: DateTime<Utc>,
    id: i64,
}

/// The session whose cookie is `token`, unless it ended (signed out, idle too long, agent
/// deactivated or password changed). A read: idle sessions are deleted by [`open`].
pub fn find(
    conn: &mut DbConnection,
    token: &str,
    idle: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Option<Session>, AppError> {
    let row: Option<(i64, String, UtcTime, i64, String)> = sessions::table
        .inner_join(agents::table)
        .filter(sessions::token_hash.eq(auth::hash_token(token)))
        .filter(agents::active.eq(true))
        .select((sessions::id, sessions::csrf_token, sessions::last_seen_at, agents::id, agents::role))
        .first(conn)
        .optional()?;
    let Some((id, csrf_token, last_seen, agent_id, role)) = row else { return Ok(None) };
    if signin::idle_expired(last_seen.0, idle, now) {
        return Ok(None);
    }
    let principal = auth::principal(agent_id, &role)?;
    Ok(Some(Session { principal, csrf_token, last_seen: last_seen.0, id }))
}

impl Session {
    /// Use is recorded at most once a minute: idle expiry needs no finer grain, and a write per
    /// request would cost more than the request.
    pub fn needs_touch(&self, now: DateTime<Utc>) -> bool {
        now - self.last_seen >= TimeDelta::minutes(1)
    }
}

pub fn touch(conn: &mut DbConnection, session: &Session, now: DateTime<Utc>) -> Result<(), AppError> {
    diesel::update(sessions::table.find(session.id))
        .set(sessions::last_seen_at.eq(UtcTime::from(now)))
        .execute(conn)?;
    Ok(())
}

pub fn close(conn: &mut DbConnection, token: &str) -> Result<(), AppError> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(auth::hash_token(token)))).execute(conn)?;
    Ok(())
}

/// Sets an agent's password (already hashed) and ends every session they had.
pub fn set_password(conn: &mut DbConnection, agent_id: i64, hash: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    let changed = diesel::update(agents::table.find(agent_id))
        .set((
            agents::password_hash.eq(hash),
            agents::password_changed_at.eq(UtcTime::from(now)),
            agents::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(AppError::NotFound("el agente"));
    }
    diesel::delete(sessions::table.filter(sessions::agent_id.eq(agent_id))).execute(conn)?;
    Ok(())
}

/// Creates a single-use link token to set the password of `agent_id`; earlier unused links of
/// the agent stop working, so only the latest mail counts.
pub fn create_link(
    conn: &mut DbConnection,
    agent_id: i64,
    hours: i64,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), AppError> {
    diesel::update(
        password_links::table.filter(password_links::agent_id.eq(agent_id)).filter(password_links::used_at.is_null()),
    )
    .set(password_links::used_at.eq(UtcTime::from(now)))
    .execute(conn)?;
    let token = random_hex();
    let expires = now + TimeDelta::hours(hours.max(1));
    diesel::insert_into(password_links::table)
        .values((
            password_links::agent_id.eq(agent_id),
            password_links::token_hash.eq(auth::hash_token(&token)),
            password_links::expires_at.eq(UtcTime::from(expires)),
            password_links::created_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok((token, expires))
}

/// Uses the link `token` to set the password: once, before it expires, for an active agent.
pub fn redeem_link(conn: &mut DbConnection, token: &str, hash: &str, now: DateTime<Utc>) -> Result<i64, AppError> {
    let link: Option<(i64, i64)> = password_links::table
        .inner_join(agents::table)
        .filter(password_links::token_hash.eq(auth::hash_token(token)))
        .filter(password_links::used_at.is_null())
        .filter(password_links::expires_at.gt(UtcTime::from(now)))
        .filter(agents::active.eq(true))
        .select((password_links::id, password_links::agent_id))
        .first(conn)
        .optional()?;
    let (id, agent_id) = link.ok_or(AppError::NotFound("ese enlace (puede haber vencido o ya haberse usado)"))?;
    // The update's own filter makes two concurrent uses of one link a single success.
    let used = diesel::update(password_links::table.find(id).filter(password_links::used_at.is_null()))
        .set(password_links::used_at.eq(UtcTime::from(now)))
        .execute(conn)?;
    if used == 0 {
        return Err(AppError::NotFound("ese enlace (puede haber vencido o ya haberse usado)"));
    }
    set_password(conn, agent_id, hash, now)?;
    Ok(agent_id)
}
