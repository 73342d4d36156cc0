//! Canned responses: shared ones (managed by supervisors and admins) and each agent's personal
//! ones, which nobody else sees (a personal response of someone else is "not found", whoever
//! asks). Rendering one fills its placeholders for a ticket and counts the use.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{agents, canned_responses, categories, requesters, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::canned::{self, Values};
use crate::domain::Principal;
use crate::domain::{text, Role};
use crate::error::AppError;
use crate::tickets::model::{line, Errors};

/// The longest text of a response.
pub const MAX_BODY: usize = 10_000;
/// The longest title.
pub const MAX_TITLE: usize = 120;
/// What `{nombre}` becomes for a requester without a name.
pub const NO_NAME: &str = "usuario(a)";

/// `shared`: every agent sees it, supervisors and admins manage it; `personal`: only its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CannedScope {
    Shared,
    Personal,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CannedResponseView {
    pub id: i64,
    /// What agents type after `::` in the composer.
    pub shortcut: String,
    pub title: String,
    /// The text, with placeholders `{nombre}`, `{numero}`, `{agente}`, `{asunto}`, `{enlace}`.
    pub body: String,
    /// The slug of its category.
    pub category: Option<String>,
    pub scope: CannedScope,
    /// The agent a personal response belongs to; `null` for shared ones.
    pub owner_id: Option<i64>,
    /// How many times it was inserted (rendered) for a ticket.
    pub usage_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new response (`scope` defaults to `personal`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub scope: Option<CannedScope>,
}

/// A change: the fields sent are replaced (`category: null` removes it). The scope is kept.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedPatch {
    pub shortcut: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    #[serde(default, with = "crate::tickets::model::double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    /// The ticket's id or number (`AU-2026-000123`).
    pub ticket_id: TicketKey,
}

/// A ticket's id (number or numeric text) or its number.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TicketKey {
    Id(i64),
    Text(String),
}

impl TicketKey {
    fn as_text(&self) -> String {
        match self {
            TicketKey::Id(id) => id.to_string(),
            TicketKey::Text(text) => text.trim().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rendered {
    /// The text with its placeholders filled for the ticket.
    pub body: String,
}

type Row = (i64, String, String, String, Option<String>, Option<i64>, i64, UtcTime, UtcTime);

fn view(row: Row) -> CannedResponseView {
    let (id, shortcut, title, body, category, owner_id, usage_count, created, updated) = row;
    let scope = if owner_id.is_some() { CannedScope::Personal } else { CannedScope::Shared };
    CannedResponseView {
        id,
        shortcut,
        title,
        body,
        category,
        scope,
        owner_id,
        usage_count,
        created_at: created.0,
        updated_at: updated.0,
    }
}

/// The responses `agent` sees: the shared ones and their own.
fn visible(conn: &mut DbConnection, agent: i64, id: Option<i64>) -> Result<Vec<CannedResponseView>, AppError> {
    let mut query = canned_responses::table
        .left_join(categories::table)
        .filter(canned_responses::owner_id.is_null().or(canned_responses::owner_id.eq(agent)))
        .select((
            canned_responses::id,
            canned_responses::shortcut,
            canned_responses::title,
            canned_responses::body,
            categories::slug.nullable(),
            canned_responses::owner_id,
            canned_responses::usage_count,
            canned_responses::created_at,
            canned_responses::updated_at,
        ))
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(canned_responses::id.eq(id));
    }
    Ok(query.load::<Row>(conn)?.into_iter().map(view).collect())
}

/// What the caller sees matching `q` (a prefix of the short name or of a word of the title,
/// ignoring case and accents), most used first.
pub fn list(conn: &mut DbConnection, agent: i64, q: Option<&str>) -> Result<Vec<CannedResponseView>, AppError> {
    let q = q.map(|q| text::fold(q.trim().trim_start_matches("::"))).filter(|q| !q.is_empty());
    let mut found: Vec<CannedResponseView> =
        visible(conn, agent, None)?.into_iter().filter(|r| q.as_deref().is_none_or(|q| matches(r, q))).collect();
    found.sort_by(|a, b| b.usage_count.cmp(&a.usage_count).then_with(|| a.shortcut.cmp(&b.shortcut)));
    Ok(found)
}

fn matches(r: &CannedResponseView, q: &str) -> bool {
    let title = text::fold(&r.title);
    r.shortcut.starts_with(q) || title.starts_with(q) || title.split_whitespace().any(|w| w.starts_with(q))
}

/// One response the caller sees; someone else's personal one is "not found".
pub fn get(conn: &mut DbConnection, agent: i64, id: i64) -> Result<CannedResponseView, AppError> {
    visible(conn, agent, Some(id))?.pop().ok_or(AppError::NotFound("la respuesta predefinida"))
}

fn may_manage_shared(who: &Principal) -> bool {
    matches!(who.role, Role::Admin | Role::Supervisor)
}

/// A shared response is changed by supervisors and admins; a personal one by its owner (others
/// never see it, so for them it does not exist).
fn check_may_change(who: &Principal, r: &CannedResponseView) -> Result<(), AppError> {
    match r.owner_id {
        None if may_manage_shared(who) => Ok(()),
        None => Err(AppError::Forbidden),
        Some(owner) if owner == who.agent_id => Ok(()),
        Some(_) => Err(AppError::NotFound("la respuesta predefinida")),
    }
}

fn shortcut(errors: &mut Errors, value: &str) -> String {
    canned::normalize_shortcut(value).unwrap_or_else(|message| {
        errors.add("shortcut", message);
        String::new()
    })
}

fn body(errors: &mut Errors, raw: &str) -> String {
    let value = raw.trim().to_owned();
    if value.is_empty() {
        errors.add("body", "es obligatorio");
    } else if raw.chars().count() > MAX_BODY {
        errors.add("body", format!("admite como máximo {MAX_BODY} caracteres"));
    } else if let Some(message) = canned::check_placeholders(&value) {
        errors.add("body", message);
    }
    value
}

fn category(conn: &mut DbConnection, errors: &mut Errors, slug: Option<&str>) -> Result<Option<i64>, AppError> {
    let Some(slug) = slug.map(str::trim) else { return Ok(None) };
    if slug.is_empty() {
        // `null` removes the category; an empty name is a mistake, not a removal.
        errors.add("category", "indique el nombre corto de una categoría, o null para ninguna");
        return Ok(None);
    }
    let id: Option<i64> = categories::table
        .filter(categories::slug.eq(slug))
        .filter(categories::active.eq(true))
        .select(categories::id)
        .first(conn)
        .optional()?;
    if id.is_none() {
        errors.add("category", format!("no existe la categoría «{slug}»"));
    }
    Ok(id)
}

/// Refuses a short name already used in the same scope (shared, or the owner's own).
fn check_unique(conn: &mut DbConnection, shortcut: &str, owner: Option<i64>, except: i64) -> Result<(), AppError> {
    let mut query = canned_responses::table
        .filter(canned_responses::shortcut.eq(shortcut))
        .filter(canned_responses::id.ne(except))
        .into_boxed();
    query = match owner {
        Some(owner) => query.filter(canned_responses::owner_id.eq(owner)),
        None => query.filter(canned_responses::owner_id.is_null()),
    };
    let taken: i64 = query.count().get_result(conn)?;
    if taken > 0 {
        let whose = if owner.is_some() { "sus respuestas personales" } else { "las respuestas compartidas" };
        return Err(AppError::Conflict(format!("Ya existe «::{shortcut}» entre {whose}; elija otro nombre corto.")));
    }
    Ok(())
}

pub fn create(conn: &mut DbConnection, who: &Principal, input: CannedInput) -> Result<CannedResponseView, AppError> {
    let scope = input.scope.unwrap_or(CannedScope::Personal);
    if scope == CannedScope::Shared && !may_manage_shared(who) {
        return Err(AppError::Forbidden);
    }
    let mut errors = Errors::default();
    let shortcut = shortcut(&mut errors, &input.shortcut);
    let title = line(&mut errors, "title", &input.title, MAX_TITLE);
    let body = body(&mut errors, &input.body);
    let category_id = category(conn, &mut errors, input.category.as_deref())?;
    errors.finish()?;
    let owner = (scope == CannedScope::Personal).then_some(who.agent_id);
    check_unique(conn, &shortcut, owner, 0)?;
    let now = UtcTime::now();
    let id: i64 = diesel::insert_into(canned_responses::table)
        .values((
            canned_responses::shortcut.eq(&shortcut),
            canned_responses::title.eq(&title),
            canned_responses::body.eq(&body),
            canned_responses::category_id.eq(category_id),
            canned_responses::owner_id.eq(owner),
            canned_responses::created_at.eq(now),
            canned_responses::updated_at.eq(now),
        ))
        .returning(canned_responses::id)
        .get_result(conn)?;
    get(conn, who.agent_id, id)
}

pub fn update(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    patch: Result<CannedPatch, AppError>,
) -> Result<CannedResponseView, AppError> {
    let current = get(conn, who.agent_id, id)?;
    check_may_change(who, &current)?;
    let patch = patch?;
    let mut errors = Errors::default();
    let shortcut = patch.shortcut.as_deref().map(|s| shortcut(&mut errors, s));
    let title = patch.title.as_deref().map(|t| line(&mut errors, "title", t, MAX_TITLE));
    let body = patch.body.as_deref().map(|b| body(&mut errors, b));
    let category_id = match &patch.category {
        Some(slug) => Some(category(conn, &mut errors, slug.as_deref())?),
        None => None,
    };
    errors.finish()?;
    if let Some(shortcut) = &shortcut {
        check_unique(conn, shortcut, current.owner_id, id)?;
    }
    diesel::update(canned_responses::table.find(id))
        .set((
            canned_responses::shortcut.eq(shortcut.unwrap_or(current.shortcut)),
            canned_responses::title.eq(title.unwrap_or(current.title)),
            canned_responses::body.eq(body.unwrap_or(current.body)),
            canned_responses::updated_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    if let Some(category_id) = category_id {
        diesel::update(canned_responses::table.find(id))
            .set(canned_responses::category_id.eq(category_id))
            .execute(conn)?;
    }
    get(conn, who.agent_id, id)
}

pub fn delete(conn: &mut DbConnection, who: &Principal, id: i64) -> Result<(), AppError> {
    let current = get(conn, who.agent_id, id)?;
    check_may_change(who, &current)?;
    diesel::delete(canned_responses::table.find(id)).execute(conn)?;
    Ok(())
}

/// Resolves the ticket a render names; an unknown one is a 422 naming `ticket_id` (it is a field
/// of the body, not the address).
pub fn ticket_of(conn: &mut DbConnection, request: &RenderRequest) -> Result<i64, AppError> {
    let missing = || AppError::field("ticket_id", "no existe el ticket");
    let id = crate::tickets::store::resolve_id(conn, &request.ticket_id.as_text()).map_err(|_| missing())?;
    let exists: i64 = tickets::table.filter(tickets::id.eq(id)).count().get_result(conn)?;
    if exists == 0 {
        return Err(missing());
    }
    Ok(id)
}

/// Fills response `id` for ticket `ticket` as `who` inserts it, and counts the use. `link` makes
/// the requester's case link of a ticket.
pub fn render(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    ticket: i64,
    link: impl FnOnce(i64) -> String,
) -> Result<Rendered, AppError> {
    let response = get(conn, who.agent_id, id)?;
    let (number, subject, name): (String, String, String) = tickets::table
        .inner_join(requesters::table)
        .filter(tickets::id.eq(ticket))
        .select((tickets::number, tickets::subject, requesters::name))
        .first(conn)?;
    let agent: String = agents::table.find(who.agent_id).select(agents::name).first(conn)?;
    let values = Values {
        nombre: Some(name.trim().to_owned()).filter(|n| !n.is_empty()).unwrap_or_else(|| NO_NAME.into()),
        numero: number,
        agente: agent,
        asunto: subject,
        enlace: link(ticket),
    };
    diesel::update(canned_responses::table.find(id))
        .set(canned_responses::usage_count.eq(canned_responses::usage_count + 1))
        .execute(conn)?;
    Ok(Rendered { body: canned::fill(&response.body, &values) })
}
