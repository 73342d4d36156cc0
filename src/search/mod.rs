//! Full-text search over tickets (number, subject, messages, requester), the same `q` for the
//! ticket list, and the solved tickets most similar to one. The index is kept by triggers (see
//! the migration `000050_ticket_fulltext`); the query rules are in [`crate::domain::search`].
//!
//! Ranking: Postgres ranks (`ts_rank`, by weight) the most recent [`RANK_WINDOW`] matches, so a
//! word found in half the tickets costs the same as a rare one; SQLite ranks every match (bm25).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{agents, messages, queues, requesters, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::search::{fragment, Fragment, Query, QueryError};
use crate::domain::Principal;
use crate::domain::{Priority, Role, Status};
use crate::error::{AppError, FieldError};

/// How many of the most recent matches Postgres ranks.
pub const RANK_WINDOW: i64 = 1000;
/// Similar solved tickets returned at most.
pub const MAX_SIMILAR: i64 = 20;

/// What a caller may search: staff everything (internal notes too); a department member the
/// number and subject of the tickets escalated to their department (what its escalation list
/// shows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Staff,
    Department(i64),
}

impl Scope {
    pub fn of(conn: &mut DbConnection, who: &Principal) -> Result<Scope, AppError> {
        match who.role {
            Role::Admin | Role::Supervisor | Role::Agent => Ok(Scope::Staff),
            // A member without a department sees nothing (no department has id 0).
            Role::Department => Ok(Scope::Department(crate::departments::own_department(conn, who)?.unwrap_or(0))),
            Role::Integration => Err(AppError::Forbidden),
        }
    }

    fn weights(self) -> Option<&'static str> {
        match self {
            Scope::Staff => None,
            Scope::Department(_) => Some("A"),
        }
    }

    fn columns(self) -> Option<&'static str> {
        match self {
            Scope::Staff => None,
            Scope::Department(_) => Some("head"),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words (any order; accents, case and plural ignored), a ticket number (`AU-2026-000123` or
    /// `000123`) or a RUT in any format. 1 to 200 characters, not blank; at most 12 words count.
    pub q: String,
    /// One status or several separated by commas.
    pub status: Option<String>,
    /// Queue slug.
    pub queue: Option<String>,
    /// Created at or after: RFC 3339, or a date (midnight in Santiago).
    #[param(value_type = Option<crate::values::Instant>)]
    pub from: Option<String>,
    /// Created before: RFC 3339, or a date (that whole day included).
    #[param(value_type = Option<crate::values::Instant>)]
    pub to: Option<String>,
    /// 1–100, default 25.
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// The filters of a search, checked.
struct Filters {
    statuses: Vec<String>,
    queue: Option<i64>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// A `q` checked, as a 422 naming the field.
pub fn parse_q(q: &str) -> Result<Query, AppError> {
    Query::parse(q).map_err(|e| match e {
        QueryError::Empty | QueryError::TooLong => AppError::field("q", e.to_string()),
    })
}

fn filters(conn: &mut DbConnection, p: &SearchParams) -> Result<Filters, AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut keep = |r: Result<Option<DateTime<Utc>>, FieldError>| {
        r.unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    };
    let from = keep(p.from.as_deref().map(|v| crate::quality::instant("from", v, false)).transpose());
    let to = keep(p.to.as_deref().map(|v| crate::quality::instant("to", v, true)).transpose());
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let statuses = p.status.as_deref().map(crate::tickets::status_list).transpose()?.unwrap_or_default();
    let queue = p.queue.as_deref().map(|slug| crate::catalog::queue_id(conn, "queue", slug)).transpose()?;
    Ok(Filters { statuses, queue, from, to })
}

#[derive(QueryableByName)]
struct Ranked {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Double)]
    rank: f64,
}

/// SQL conditions on `t` (tickets) and `{id}` (the matched ticket's id) for the filters and the
/// scope. Only checked values are inlined: statuses parsed from the enum, ids, timestamps.
fn conditions(conn: &DbConnection, id: &str, f: &Filters, scope: Scope) -> (bool, String) {
    let mut sql = String::new();
    if !f.statuses.is_empty() {
        let list = f.statuses.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
        sql.push_str(&format!(" AND t.status IN ({list})"));
    }
    if let Some(queue) = f.queue {
        sql.push_str(&format!(" AND t.queue_id = {queue}"));
    }
    if let Some(from) = f.from {
        sql.push_str(&format!(" AND t.created_at >= {}", crate::db::backend::timestamp_literal(conn, from)));
    }
    if let Some(to) = f.to {
        sql.push_str(&format!(" AND t.created_at < {}", crate::db::backend::timestamp_literal(conn, to)));
    }
    let join = !sql.is_empty();
    if let Scope::Department(department) = scope {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM escalations e WHERE e.ticket_id = {id} AND e.department_id = {department})"
        ));
    }
    (join, sql)
}

/// One page of ranked ticket ids (read with one more, to tell whether another page follows).
fn ranked(
    conn: &mut DbConnection,
    query: &Query,
    scope: Scope,
    f: &Filters,
    offset: i64,
    limit: i64,
) -> Result<Vec<Ranked>, AppError> {
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let rows = match conn {
        DbConnection::Pg(_) => {
            let (join, cond) = conditions(conn, "s.ticket_id", f, scope);
            let join = if join { "JOIN tickets t ON t.id = s.ticket_id" } else { "" };
            let sql = format!(
                "SELECT ticket_id AS id, ts_rank(doc, to_tsquery('spanish', $1))::float8 AS rank FROM ( \
                   SELECT s.ticket_id, s.doc FROM ticket_search s {join} \
                   WHERE s.doc @@ to_tsquery('spanish', $1){cond} \
                   ORDER BY s.ticket_id DESC LIMIT {RANK_WINDOW}) hits \
                 ORDER BY rank DESC, ticket_id DESC LIMIT {limit} OFFSET {offset}"
            );
            let DbConnection::Pg(pg) = conn else { unreachable!() };
            diesel::sql_query(sql).bind::<Text, _>(query.tsquery(false, scope.weights())).load(pg)?
        }
        DbConnection::Sqlite(_) => {
            let (join, cond) = conditions(conn, "ticket_fts.rowid", f, scope);
            let join = if join { "JOIN tickets t ON t.id = ticket_fts.rowid" } else { "" };
            let sql = format!(
                "SELECT ticket_fts.rowid AS id, -bm25(ticket_fts, 10.0, 5.0, 2.0, 1.0) AS rank \
                 FROM ticket_fts {join} WHERE ticket_fts MATCH ?{cond} \
                 ORDER BY rank DESC, ticket_fts.rowid DESC LIMIT {limit} OFFSET {offset}"
            );
            let DbConnection::Sqlite(lite) = conn else { unreachable!() };
            diesel::sql_query(sql).bind::<Text, _>(query.fts5(false, scope.columns())).load(lite)?
        }
    };
    Ok(rows)
}

/// One search result: the ticket and where the words were found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub id: i64,
    /// Human number, e.g. `AU-2026-000123`.
    pub number: String,
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    /// Queue slug.
    pub queue: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Higher is better; comparable within one result list only.
    pub rank: f64,
    /// Where the words were found (subject, a message, the requester), with them marked; `null`
    /// when the match was on the number or the RUT.
    pub fragment: Option<Fragment>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

type HitRow = (i64, String, String, String, String, Option<String>, UtcTime, UtcTime);

/// The search of `GET /api/v1/search`.
pub fn search(conn: &mut DbConnection, scope: Scope, p: &SearchParams) -> Result<SearchResults, AppError> {
    let query = parse_q(&p.q)?;
    let limit = crate::paging::page_limit(p.limit)?;
    let f = filters(conn, p)?;
    let offset = p.after.as_deref().map(crate::paging::decode_cursor).transpose()?.unwrap_or(0);
    let mut rows = ranked(conn, &query, scope, &f, offset, limit + 1)?;
    let next_cursor = (rows.len() as i64 > limit).then(|| crate::paging::encode_cursor(offset + limit));
    rows.truncate(limit as usize);
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let found: Vec<HitRow> = tickets::table
        .left_join(queues::table)
        .filter(tickets::id.eq_any(&ids))
        .select((
            tickets::id,
            tickets::number,
            tickets::subject,
            tickets::status,
            tickets::priority,
            queues::slug.nullable(),
            tickets::created_at,
            tickets::updated_at,
        ))
        .load(conn)?;
    let texts = texts_of(conn, &ids, scope)?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(t) = found.iter().find(|t| t.0 == r.id) else { continue };
        let fragment = std::iter::once(t.2.as_str())
            .chain(texts.iter().filter(|(id, _)| *id == r.id).map(|(_, text)| text.as_str()))
            .find_map(|text| fragment(text, &query));
        items.push(SearchHit {
            id: t.0,
            number: t.1.clone(),
            subject: t.2.clone(),
            status: t.3.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("status: {e}")))?,
            priority: t.4.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("priority: {e}")))?,
            queue: t.5.clone(),
            created_at: t.6 .0,
            updated_at: t.7 .0,
            rank: r.rank,
            fragment,
        });
    }
    Ok(SearchResults { items, next_cursor })
}

/// The texts of `ids` the scope may read, besides the subject: messages (oldest first; internal
/// notes for staff only), then the requester's name and email (staff only).
fn texts_of(conn: &mut DbConnection, ids: &[i64], scope: Scope) -> Result<Vec<(i64, String)>, AppError> {
    if scope != Scope::Staff {
        return Ok(Vec::new());
    }
    let mut texts: Vec<(i64, String)> = messages::table
        .filter(messages::ticket_id.eq_any(ids))
        .order(messages::id.asc())
        .select((messages::ticket_id, messages::body_text))
        .load(conn)?;
    let people: Vec<(i64, String, Option<String>)> = tickets::table
        .inner_join(requesters::table)
        .filter(tickets::id.eq_any(ids))
        .select((tickets::id, requesters::name, requesters::email))
        .load(conn)?;
    texts.extend(people.into_iter().map(|(id, name, email)| (id, format!("{name} {}", email.unwrap_or_default()))));
    Ok(texts)
}

/// Matches the ticket list looks up by id rather than through the index of its sort: up to this
/// many. Postgres estimates a full-text condition as a fixed share of the table, so for a rare
/// word (a ticket number, a surname) it walks the newest tickets until enough match, which is
/// the whole table when one does (1 s at 1M tickets). Given the ids, the walk goes through them.
const FEW_MATCHES: usize = 5_000;

/// The `tickets.id IN (…)` condition of the ticket list's `q` (the list is for staff: every
/// word, internal notes included); `None` for a blank `q` (no filter).
pub fn list_condition(
    conn: &mut DbConnection,
    q: &str,
) -> Result<Option<diesel::expression::SqlLiteral<diesel::sql_types::Bool>>, AppError> {
    if q.trim().is_empty() {
        return Ok(None);
    }
    let query = parse_q(q)?;
    if query.is_empty() {
        return Ok(Some(diesel::dsl::sql("1 = 0")));
    }
    // Terms are [a-z0-9]+ (and FTS5 quotes): safe to inline, which keeps the list's boxed query
    // free of a bind whose placeholder differs per backend.
    let DbConnection::Pg(pg) = conn else {
        let fts = query.fts5(false, None);
        return Ok(Some(diesel::dsl::sql(&format!(
            "tickets.id IN (SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH '{fts}')"
        ))));
    };
    let matching = format!(
        "SELECT ticket_id AS id FROM ticket_search WHERE doc @@ to_tsquery('spanish', '{}')",
        query.tsquery(false, None)
    );
    let few: Vec<Id> = diesel::sql_query(format!("{matching} LIMIT {}", FEW_MATCHES + 1)).load(pg)?;
    Ok(Some(diesel::dsl::sql(&match few.len() {
        0 => "1 = 0".to_owned(),
        n if n <= FEW_MATCHES => {
            format!("tickets.id IN ({})", few.iter().map(|m| m.id.to_string()).collect::<Vec<_>>().join(","))
        }
        _ => format!("tickets.id IN ({matching})"),
    })))
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimilarParams {
    /// 1–20, default 5.
    pub limit: Option<i64>,
}

/// The public agent reply that solved a ticket (its last before it was solved).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SolvingReply {
    pub message_id: i64,
    pub body: String,
    pub author_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimilarCase {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub status: Status,
    /// Category slug.
    pub category: Option<String>,
    pub solved_at: Option<DateTime<Utc>>,
    /// Higher is more similar (same category counts half again).
    pub rank: f64,
    /// `null` when no agent answered publicly.
    pub reply: Option<SolvingReply>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimilarCases {
    pub items: Vec<SimilarCase>,
}

/// The solved tickets most similar to `id`: those sharing words of its subject and first public
/// messages (any of them; more shared words rank higher), the same category ranking higher.
pub fn similar(conn: &mut DbConnection, id: i64, p: &SimilarParams) -> Result<SimilarCases, AppError> {
    let limit = p.limit.unwrap_or(5);
    if !(1..=MAX_SIMILAR).contains(&limit) {
        return Err(AppError::field("limit", format!("debe estar entre 1 y {MAX_SIMILAR}")));
    }
    let (subject, category): (String, Option<i64>) = tickets::table
        .find(id)
        .select((tickets::subject, tickets::category_id))
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("el ticket"))?;
    let first: Vec<String> = messages::table
        .filter(messages::ticket_id.eq(id))
        .filter(messages::visibility.eq("public"))
        .filter(messages::author_type.ne("agent"))
        .order(messages::id.asc())
        .limit(2)
        .select(messages::body_text)
        .load(conn)?;
    let query = Query::from_text(&format!("{subject} {}", first.join(" ")));
    if query.is_empty() {
        return Ok(SimilarCases { items: Vec::new() });
    }
    let category = category.unwrap_or(0);
    let solved = format!("t.solved_at IS NOT NULL AND t.status IN ('solved', 'closed') AND t.id <> {id}");
    let rows: Vec<Ranked> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(format!(
            "SELECT ticket_id AS id, (ts_rank(doc, to_tsquery('spanish', $1)) \
                 * CASE WHEN category_id = {category} THEN 1.5 ELSE 1.0 END)::float8 AS rank FROM ( \
               SELECT s.ticket_id, s.doc, t.category_id FROM ticket_search s JOIN tickets t ON t.id = s.ticket_id \
               WHERE s.doc @@ to_tsquery('spanish', $1) AND {solved} \
               ORDER BY s.ticket_id DESC LIMIT {RANK_WINDOW}) hits \
             ORDER BY rank DESC, ticket_id DESC LIMIT {limit}"
        ))
        .bind::<Text, _>(query.tsquery(true, Some("AC")))
        .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(format!(
            "SELECT ticket_fts.rowid AS id, -bm25(ticket_fts, 10.0, 0.0, 2.0, 0.0) \
                 * CASE WHEN t.category_id = {category} THEN 1.5 ELSE 1.0 END AS rank \
             FROM ticket_fts JOIN tickets t ON t.id = ticket_fts.rowid \
             WHERE ticket_fts MATCH ? AND {solved} ORDER BY rank DESC, ticket_fts.rowid DESC LIMIT {limit}"
        ))
        .bind::<Text, _>(query.fts5(true, Some("head body")))
        .load(lite)?,
    };
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(similar_case(conn, r)?);
    }
    Ok(SimilarCases { items })
}

fn similar_case(conn: &mut DbConnection, r: Ranked) -> Result<SimilarCase, AppError> {
    use crate::db::schema::categories;
    let (number, subject, status, category, solved_at): (String, String, String, Option<String>, Option<UtcTime>) =
        tickets::table
            .left_join(categories::table)
            .filter(tickets::id.eq(r.id))
            .select((
                tickets::number,
                tickets::subject,
                tickets::status,
                categories::slug.nullable(),
                tickets::solved_at,
            ))
            .first(conn)?;
    let mut reply = messages::table
        .left_join(agents::table.on(agents::id.nullable().eq(messages::author_agent_id)))
        .filter(messages::ticket_id.eq(r.id))
        .filter(messages::author_type.eq("agent"))
        .filter(messages::visibility.eq("public"))
        .select((messages::id, messages::body_text, agents::name.nullable(), messages::created_at))
        .order(messages::id.desc())
        .into_boxed();
    if let Some(at) = solved_at {
        reply = reply.filter(messages::created_at.le(at));
    }
    let reply: Option<(i64, String, Option<String>, UtcTime)> = reply.first(conn).optional()?;
    Ok(SimilarCase {
        id: r.id,
        number,
        subject,
        status: status.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("status: {e}")))?,
        category,
        solved_at: solved_at.map(|t| t.0),
        rank: r.rank,
        reply: reply.map(|(message_id, body, author_name, at)| SolvingReply {
            message_id,
            body,
            author_name,
            created_at: at.0,
        }),
    })
}
