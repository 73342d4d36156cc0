//! QA: scorecards, the sampling of each agent's work, evaluations with their single dispute, and
//! the weekly report of quality next to CSAT and SLA compliance.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Period;
use crate::db::schema::{agents, csat_responses, qa_evaluations, qa_scorecards, queues, tickets};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::{backend, DbConnection};
use crate::domain::quality::{self, Candidate, Criterion, Mark, ReportFacts, ReportRow, SampleReason, SolvedFact};
use crate::domain::Principal;
use crate::domain::{EventKind, Role, Status};
use crate::error::{AppError, FieldError};
use crate::reports::rollup::{self, Dim, Samples};
use crate::reports::{self, buckets};
use crate::tickets::model::{line, Errors};

const MAX_TEXT: usize = 2000;

fn validation(errors: Vec<(String, String)>) -> AppError {
    AppError::Validation(errors.into_iter().map(|(f, m)| FieldError::new(f, m)).collect())
}

fn optional_text(errors: &mut Errors, field: &str, value: Option<String>) -> Option<String> {
    if value.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
        errors.add(field, format!("admite como máximo {MAX_TEXT} caracteres"));
    }
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    value
}

fn required_text(errors: &mut Errors, field: &str, raw: &str) -> String {
    let value = raw.trim().to_owned();
    if value.is_empty() {
        errors.add(field, "es obligatorio");
    } else if raw.chars().count() > MAX_TEXT {
        errors.add(field, format!("admite como máximo {MAX_TEXT} caracteres"));
    }
    value
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScorecardInput {
    pub name: String,
    pub description: Option<String>,
    pub criteria: Vec<Criterion>,
}

/// A scorecard ("pauta de evaluación"). Scorecards never change once created, so past
/// evaluations keep their meaning; make a new one to change the criteria.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScorecardView {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub criteria: Vec<Criterion>,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

type ScorecardRow = (i64, String, Option<String>, JsonValue, bool, Option<i64>, UtcTime);

fn scorecard_view(row: ScorecardRow) -> Result<ScorecardView, AppError> {
    let criteria = serde_json::from_value(row.3 .0)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("scorecard {} criteria: {e}", row.0)))?;
    Ok(ScorecardView {
        id: row.0,
        name: row.1,
        description: row.2,
        criteria,
        active: row.4,
        created_by: row.5,
        created_at: row.6 .0,
    })
}

macro_rules! scorecard_columns {
    () => {
        (
            qa_scorecards::id,
            qa_scorecards::name,
            qa_scorecards::description,
            qa_scorecards::criteria,
            qa_scorecards::active,
            qa_scorecards::created_by,
            qa_scorecards::created_at,
        )
    };
}

pub fn create_scorecard(
    conn: &mut DbConnection,
    who: &Principal,
    input: ScorecardInput,
) -> Result<ScorecardView, AppError> {
    let mut errors = Errors::default();
    let name = line(&mut errors, "name", &input.name, 120);
    let description = optional_text(&mut errors, "description", input.description);
    errors.finish()?;
    let problems = quality::validate_criteria(&input.criteria);
    if !problems.is_empty() {
        return Err(validation(problems));
    }
    let criteria: Vec<Criterion> =
        input.criteria.into_iter().map(|c| Criterion { name: c.name.trim().to_owned(), ..c }).collect();
    let id: i64 = diesel::insert_into(qa_scorecards::table)
        .values((
            qa_scorecards::name.eq(&name),
            qa_scorecards::description.eq(&description),
            qa_scorecards::criteria.eq(JsonValue(serde_json::to_value(&criteria).expect("criteria serialise"))),
            qa_scorecards::active.eq(true),
            qa_scorecards::created_by.eq(who.agent_id),
            qa_scorecards::created_at.eq(UtcTime::now()),
        ))
        .returning(qa_scorecards::id)
        .get_result(conn)
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(format!("Ya existe una pauta llamada «{name}».")),
            other => other,
        })?;
    get_scorecard(conn, id)
}

pub fn get_scorecard(conn: &mut DbConnection, id: i64) -> Result<ScorecardView, AppError> {
    let row: Option<ScorecardRow> =
        qa_scorecards::table.find(id).select(scorecard_columns!()).first(conn).optional()?;
    scorecard_view(row.ok_or(AppError::NotFound("la pauta de evaluación"))?)
}

pub fn list_scorecards(conn: &mut DbConnection) -> Result<Vec<ScorecardView>, AppError> {
    let rows: Vec<ScorecardRow> =
        qa_scorecards::table.order(qa_scorecards::id).select(scorecard_columns!()).load(conn)?;
    rows.into_iter().map(scorecard_view).collect()
}

// ---- evaluations ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationStatus {
    /// Sampled, waiting for an evaluator.
    Pending,
    Completed,
    /// The agent disputed it; waiting for a supervisor.
    Disputed,
    /// A supervisor answered the dispute.
    Resolved,
}

impl EvaluationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EvaluationStatus::Pending => "pending",
            EvaluationStatus::Completed => "completed",
            EvaluationStatus::Disputed => "disputed",
            EvaluationStatus::Resolved => "resolved",
        }
    }

    fn parse(s: &str) -> Result<Self, AppError> {
        Ok(match s {
            "pending" => EvaluationStatus::Pending,
            "completed" => EvaluationStatus::Completed,
            "disputed" => EvaluationStatus::Disputed,
            "resolved" => EvaluationStatus::Resolved,
            other => return Err(AppError::Internal(anyhow::anyhow!("evaluation status {other:?}"))),
        })
    }
}

fn reason_parse(s: &str) -> Result<SampleReason, AppError> {
    Ok(match s {
        "random" => SampleReason::Random,
        "low_csat" => SampleReason::LowCsat,
        "manual" => SampleReason::Manual,
        other => return Err(AppError::Internal(anyhow::anyhow!("evaluation reason {other:?}"))),
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvaluationView {
    pub id: i64,
    pub ticket_id: i64,
    pub ticket_number: String,
    pub ticket_subject: String,
    /// The agent evaluated.
    pub agent_id: i64,
    pub queue_id: Option<i64>,
    pub channel: String,
    pub scorecard_id: Option<i64>,
    /// The sampling period (`null` for evaluations made outside sampling).
    pub period_from: Option<DateTime<Utc>>,
    pub period_to: Option<DateTime<Utc>>,
    pub reason: SampleReason,
    pub status: EvaluationStatus,
    pub marks: Option<Vec<Mark>>,
    /// 0–100; 0 when a critical criterion failed.
    pub score: Option<f64>,
    pub critical_failed: Vec<String>,
    pub comment: Option<String>,
    pub evaluator_id: Option<i64>,
    pub evaluated_at: Option<DateTime<Utc>>,
    pub dispute_reason: Option<String>,
    pub disputed_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = qa_evaluations)]
struct EvaluationRow {
    id: i64,
    ticket_id: i64,
    agent_id: i64,
    queue_id: Option<i64>,
    channel: String,
    scorecard_id: Option<i64>,
    period_from: Option<UtcTime>,
    period_to: Option<UtcTime>,
    reason: String,
    status: String,
    marks: Option<JsonValue>,
    score: Option<f64>,
    comment: Option<String>,
    evaluator_id: Option<i64>,
    evaluated_at: Option<UtcTime>,
    dispute_reason: Option<String>,
    disputed_at: Option<UtcTime>,
    resolution: Option<String>,
    resolved_by: Option<i64>,
    resolved_at: Option<UtcTime>,
    created_at: UtcTime,
}

fn evaluation_view(
    conn: &mut DbConnection,
    cards: &mut HashMap<i64, Vec<Criterion>>,
    row: EvaluationRow,
    (number, subject): (String, String),
) -> Result<EvaluationView, AppError> {
    let marks: Option<Vec<Mark>> = row
        .marks
        .map(|m| serde_json::from_value(m.0))
        .transpose()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("evaluation {} marks: {e}", row.id)))?;
    let critical_failed = match (row.scorecard_id, &marks) {
        (Some(card), Some(marks)) => {
            if let std::collections::hash_map::Entry::Vacant(slot) = cards.entry(card) {
                slot.insert(get_scorecard(conn, card)?.criteria);
            }
            quality::score(&cards[&card], marks).map(|s| s.critical_failed).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    Ok(EvaluationView {
        id: row.id,
        ticket_id: row.ticket_id,
        ticket_number: number,
        ticket_subject: subject,
        agent_id: row.agent_id,
        queue_id: row.queue_id,
        channel: row.channel,
        scorecard_id: row.scorecard_id,
        period_from: row.period_from.map(|t| t.0),
        period_to: row.period_to.map(|t| t.0),
        reason: reason_parse(&row.reason)?,
        status: EvaluationStatus::parse(&row.status)?,
        marks,
        score: row.score,
        critical_failed,
        comment: row.comment,
        evaluator_id: row.evaluator_id,
        evaluated_at: row.evaluated_at.map(|t| t.0),
        dispute_reason: row.dispute_reason,
        disputed_at: row.disputed_at.map(|t| t.0),
        resolution: row.resolution,
        resolved_by: row.resolved_by,
        resolved_at: row.resolved_at.map(|t| t.0),
        created_at: row.created_at.0,
    })
}

fn load(conn: &mut DbConnection, id: i64) -> Result<EvaluationRow, AppError> {
    qa_evaluations::table
        .find(id)
        .select(EvaluationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("la evaluación"))
}

fn view_of(conn: &mut DbConnection, row: EvaluationRow) -> Result<EvaluationView, AppError> {
    let ticket = tickets::table.find(row.ticket_id).select((tickets::number, tickets::subject)).first(conn)?;
    evaluation_view(conn, &mut HashMap::new(), row, ticket)
}

fn reload(conn: &mut DbConnection, id: i64) -> Result<EvaluationView, AppError> {
    let row = load(conn, id)?;
    view_of(conn, row)
}

/// Agents see only their own evaluations, and only once evaluated; anything else is "not found".
fn visible_to(who: &Principal, row: &EvaluationRow) -> bool {
    match who.role {
        Role::Admin | Role::Supervisor => true,
        _ => row.agent_id == who.agent_id && row.status != EvaluationStatus::Pending.as_str(),
    }
}

pub fn get_evaluation(conn: &mut DbConnection, who: &Principal, id: i64) -> Result<EvaluationView, AppError> {
    let row = load(conn, id)?;
    if !visible_to(who, &row) {
        return Err(AppError::NotFound("la evaluación"));
    }
    view_of(conn, row)
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvaluationFilter {
    /// Agents may only ask for their own id (others answer 404); it is their default.
    pub agent_id: Option<i64>,
    pub status: Option<EvaluationStatus>,
    pub ticket_id: Option<i64>,
    /// Evaluations created from (RFC 3339 or date).
    pub from: Option<String>,
    pub to: Option<String>,
    /// 1–100, default 25.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvaluationPage {
    pub items: Vec<EvaluationView>,
    pub next_cursor: Option<String>,
}

pub fn list_evaluations(
    conn: &mut DbConnection,
    who: &Principal,
    filter: &EvaluationFilter,
) -> Result<EvaluationPage, AppError> {
    use crate::paging::{decode_cursor, encode_cursor, page_limit};
    let limit = page_limit(filter.limit)?;
    let mut query = qa_evaluations::table
        .inner_join(tickets::table)
        .select((EvaluationRow::as_select(), (tickets::number, tickets::subject)))
        .into_boxed();
    let staff = matches!(who.role, Role::Admin | Role::Supervisor);
    if !staff {
        if filter.agent_id.is_some_and(|id| id != who.agent_id) {
            return Err(AppError::NotFound("el agente"));
        }
        query = query
            .filter(qa_evaluations::agent_id.eq(who.agent_id))
            .filter(qa_evaluations::status.ne(EvaluationStatus::Pending.as_str()));
    } else if let Some(agent) = filter.agent_id {
        query = query.filter(qa_evaluations::agent_id.eq(agent));
    }
    if let Some(status) = filter.status {
        query = query.filter(qa_evaluations::status.eq(status.as_str()));
    }
    if let Some(ticket) = filter.ticket_id {
        query = query.filter(qa_evaluations::ticket_id.eq(ticket));
    }
    if filter.from.is_some() || filter.to.is_some() {
        let period = Period::parse(filter.from.as_deref(), filter.to.as_deref())?;
        query = query
            .filter(qa_evaluations::created_at.ge(UtcTime::from(period.from)))
            .filter(qa_evaluations::created_at.lt(UtcTime::from(period.to)));
    }
    if let Some(cursor) = &filter.cursor {
        query = query.filter(qa_evaluations::id.lt(decode_cursor(cursor)?));
    }
    let mut rows: Vec<(EvaluationRow, (String, String))> =
        query.order(qa_evaluations::id.desc()).limit(limit + 1).load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| encode_cursor(rows.last().expect("more implies rows").0.id));
    let mut cards = HashMap::new();
    let items = rows
        .into_iter()
        .map(|(row, ticket)| evaluation_view(conn, &mut cards, row, ticket))
        .collect::<Result<_, _>>()?;
    Ok(EvaluationPage { items, next_cursor })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleRequest {
    /// Period start: RFC 3339 or a date (midnight in Santiago).
    pub from: String,
    /// Period end (exclusive): RFC 3339, or a date whose whole day is included.
    pub to: String,
    /// Tickets drawn at random per agent (0–100); low-CSAT tickets come on top.
    pub per_agent: u32,
    /// Makes the draw reproducible; default: derived from the period, so a rerun draws the same.
    pub seed: Option<u64>,
    /// Scorecard the evaluators should use (optional; can be chosen when evaluating).
    pub scorecard_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SampleResult {
    pub period: Period,
    pub seed: u64,
    /// New pending evaluations.
    pub created: u64,
    /// Drawn again but already assigned for this agent, ticket and period.
    pub already_sampled: u64,
    /// Every evaluation of the draw (new and existing), by agent.
    pub evaluations: Vec<EvaluationView>,
}

/// The queue of each candidate ticket.
type TicketQueues = HashMap<i64, Option<i64>>;
/// (ticket, assignee, channel, queue, CSAT score)
type Handled = (i64, Option<i64>, String, Option<i64>, Option<i32>);
/// (ticket, agent at answer time, channel, queue, score)
type Answered = (i64, Option<i64>, String, Option<i64>, i32);

/// Tickets each agent handled in `period`: those they solved (still solved or closed), and those
/// whose survey was answered in the period about them, each with its CSAT score if any.
fn candidates(conn: &mut DbConnection, period: Period) -> Result<(Vec<Candidate>, TicketQueues), AppError> {
    let (from, to) = (UtcTime::from(period.from), UtcTime::from(period.to));
    let solved: Vec<Handled> = tickets::table
        .left_join(csat_responses::table)
        .filter(tickets::solved_at.ge(from))
        .filter(tickets::solved_at.lt(to))
        .filter(tickets::status.eq_any([Status::Solved.as_str(), Status::Closed.as_str()]))
        .filter(tickets::assignee_id.is_not_null())
        .select((
            tickets::id,
            tickets::assignee_id,
            tickets::channel,
            tickets::queue_id,
            csat_responses::score.nullable(),
        ))
        .load(conn)?;
    let answered: Vec<Answered> = csat_responses::table
        .filter(csat_responses::answered_at.ge(from))
        .filter(csat_responses::answered_at.lt(to))
        .filter(csat_responses::agent_id.is_not_null())
        .select((
            csat_responses::ticket_id,
            csat_responses::agent_id,
            csat_responses::channel,
            csat_responses::queue_id,
            csat_responses::score,
        ))
        .load(conn)?;
    let mut queues = HashMap::new();
    let mut all = Vec::new();
    let rows = solved.into_iter().chain(answered.into_iter().map(|(t, a, c, q, s)| (t, a, c, q, Some(s))));
    for (ticket_id, agent, channel, queue, csat) in rows {
        let Some(agent_id) = agent else { continue };
        queues.insert(ticket_id, queue);
        all.push(Candidate { ticket_id, agent_id, channel, csat: csat.map(|s| s.clamp(0, 255) as u8) });
    }
    Ok((all, queues))
}

/// Draws the period's sample and creates a pending evaluation for every pick not yet assigned
/// for that agent, ticket and period (so running it twice creates nothing new).
pub fn run_sampling(conn: &mut DbConnection, req: SampleRequest) -> Result<SampleResult, AppError> {
    let period = Period::parse(Some(&req.from), Some(&req.to))?;
    if req.per_agent > 100 {
        return Err(AppError::field("per_agent", "debe estar entre 0 y 100"));
    }
    if let Some(card) = req.scorecard_id {
        get_scorecard(conn, card).map_err(|_| AppError::field("scorecard_id", "no existe esa pauta"))?;
    }
    // 53 bits: the seed survives a round trip through any JSON client.
    let seed = req.seed.unwrap_or_else(|| {
        quality::seed_from(&format!("{}/{}", period.from.to_rfc3339(), period.to.to_rfc3339())) & ((1 << 53) - 1)
    });
    let (candidates, queues) = candidates(conn, period)?;
    let picks = quality::sample(&candidates, req.per_agent as usize, seed);
    let (from, to, now) = (UtcTime::from(period.from), UtcTime::from(period.to), UtcTime::now());
    let (mut created, mut already) = (0, 0);
    let mut ids = Vec::new();
    for pick in picks {
        let existing: Option<i64> = qa_evaluations::table
            .filter(qa_evaluations::agent_id.eq(pick.agent_id))
            .filter(qa_evaluations::ticket_id.eq(pick.ticket_id))
            .filter(qa_evaluations::period_from.eq(from))
            .filter(qa_evaluations::period_to.eq(to))
            .select(qa_evaluations::id)
            .first(conn)
            .optional()?;
        if let Some(id) = existing {
            already += 1;
            ids.push(id);
            continue;
        }
        let id: i64 = diesel::insert_into(qa_evaluations::table)
            .values((
                qa_evaluations::ticket_id.eq(pick.ticket_id),
                qa_evaluations::agent_id.eq(pick.agent_id),
                qa_evaluations::queue_id.eq(queues.get(&pick.ticket_id).copied().flatten()),
                qa_evaluations::channel.eq(&pick.channel),
                qa_evaluations::scorecard_id.eq(req.scorecard_id),
                qa_evaluations::period_from.eq(from),
                qa_evaluations::period_to.eq(to),
                qa_evaluations::reason.eq(pick.reason.as_str()),
                qa_evaluations::status.eq(EvaluationStatus::Pending.as_str()),
                qa_evaluations::created_at.eq(now),
            ))
            .returning(qa_evaluations::id)
            .get_result(conn)?;
        created += 1;
        ids.push(id);
    }
    let rows: Vec<(EvaluationRow, (String, String))> = qa_evaluations::table
        .inner_join(tickets::table)
        .filter(qa_evaluations::id.eq_any(&ids))
        .order((qa_evaluations::agent_id, qa_evaluations::id))
        .select((EvaluationRow::as_select(), (tickets::number, tickets::subject)))
        .load(conn)?;
    let mut cards = HashMap::new();
    let evaluations = rows
        .into_iter()
        .map(|(row, ticket)| evaluation_view(conn, &mut cards, row, ticket))
        .collect::<Result<_, _>>()?;
    Ok(SampleResult { period, seed, created, already_sampled: already, evaluations })
}

/// Marks for a sampled evaluation (`PUT`), or the revised marks of a dispute's resolution.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationInput {
    /// Required unless the sample already names one.
    pub scorecard_id: Option<i64>,
    pub marks: Vec<Mark>,
    pub comment: Option<String>,
}

/// An evaluation made outside sampling (`POST`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvaluation {
    pub ticket_id: i64,
    /// The agent evaluated; default: the ticket's assignee.
    pub agent_id: Option<i64>,
    pub scorecard_id: i64,
    pub marks: Vec<Mark>,
    pub comment: Option<String>,
}

/// Validates and scores `marks` against scorecard `card`: (marks JSON, score, comment).
fn scored(
    conn: &mut DbConnection,
    card: i64,
    marks: Vec<Mark>,
    comment: Option<String>,
) -> Result<(JsonValue, f64, Option<String>), AppError> {
    let criteria =
        get_scorecard(conn, card).map_err(|_| AppError::field("scorecard_id", "no existe esa pauta"))?.criteria;
    let mut errors = Errors::default();
    let comment = optional_text(&mut errors, "comment", comment);
    errors.finish()?;
    let score = quality::score(&criteria, &marks).map_err(validation)?;
    let marks: Vec<Mark> = marks
        .into_iter()
        .map(|m| Mark { comment: m.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()), ..m })
        .collect();
    Ok((JsonValue(serde_json::to_value(&marks).expect("marks serialise")), score.score, comment))
}

pub fn create_evaluation(
    conn: &mut DbConnection,
    who: &Principal,
    req: NewEvaluation,
) -> Result<EvaluationView, AppError> {
    let ticket: Option<(Option<i64>, Option<i64>, String)> = tickets::table
        .find(req.ticket_id)
        .select((tickets::assignee_id, tickets::queue_id, tickets::channel))
        .first(conn)
        .optional()?;
    let (assignee, queue, channel) = ticket.ok_or_else(|| AppError::field("ticket_id", "no existe ese ticket"))?;
    let agent = req
        .agent_id
        .or(assignee)
        .ok_or_else(|| AppError::field("agent_id", "el ticket no tiene agente asignado; indíquelo"))?;
    let exists: i64 = agents::table.filter(agents::id.eq(agent)).count().get_result(conn)?;
    if exists == 0 {
        return Err(AppError::field("agent_id", "no existe ese agente"));
    }
    let (marks, score, comment) = scored(conn, req.scorecard_id, req.marks, req.comment)?;
    let now = UtcTime::now();
    let id: i64 = diesel::insert_into(qa_evaluations::table)
        .values((
            qa_evaluations::ticket_id.eq(req.ticket_id),
            qa_evaluations::agent_id.eq(agent),
            qa_evaluations::queue_id.eq(queue),
            qa_evaluations::channel.eq(&channel),
            qa_evaluations::scorecard_id.eq(req.scorecard_id),
            qa_evaluations::reason.eq(SampleReason::Manual.as_str()),
            qa_evaluations::status.eq(EvaluationStatus::Completed.as_str()),
            qa_evaluations::marks.eq(marks),
            qa_evaluations::score.eq(score),
            qa_evaluations::comment.eq(comment),
            qa_evaluations::evaluator_id.eq(who.agent_id),
            qa_evaluations::evaluated_at.eq(now),
            qa_evaluations::created_at.eq(now),
        ))
        .returning(qa_evaluations::id)
        .get_result(conn)?;
    reload(conn, id)
}

/// Fills in a sampled (pending) evaluation.
pub fn submit(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    req: EvaluationInput,
) -> Result<EvaluationView, AppError> {
    let row = load(conn, id)?;
    if row.status != EvaluationStatus::Pending.as_str() {
        return Err(AppError::Conflict(
            "Esta evaluación ya fue hecha; si el agente la objeta, resuelva la objeción.".into(),
        ));
    }
    let card = req
        .scorecard_id
        .or(row.scorecard_id)
        .ok_or_else(|| AppError::field("scorecard_id", "indique la pauta de evaluación"))?;
    let (marks, score, comment) = scored(conn, card, req.marks, req.comment)?;
    let now = UtcTime::now();
    diesel::update(qa_evaluations::table.find(id))
        .set((
            qa_evaluations::scorecard_id.eq(card),
            qa_evaluations::status.eq(EvaluationStatus::Completed.as_str()),
            qa_evaluations::marks.eq(marks),
            qa_evaluations::score.eq(score),
            qa_evaluations::comment.eq(comment),
            qa_evaluations::evaluator_id.eq(who.agent_id),
            qa_evaluations::evaluated_at.eq(now),
        ))
        .execute(conn)?;
    reload(conn, id)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeRequest {
    /// Why the agent disagrees.
    pub reason: String,
}

/// The evaluated agent disputes their evaluation, once.
pub fn dispute(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    req: DisputeRequest,
) -> Result<EvaluationView, AppError> {
    let mut errors = Errors::default();
    let reason = required_text(&mut errors, "reason", &req.reason);
    let row = load(conn, id)?;
    if !visible_to(who, &row) {
        return Err(AppError::NotFound("la evaluación"));
    }
    if row.agent_id != who.agent_id {
        return Err(AppError::Forbidden);
    }
    if row.dispute_reason.is_some() {
        return Err(AppError::Conflict("Una evaluación se puede objetar una sola vez.".into()));
    }
    if row.status != EvaluationStatus::Completed.as_str() {
        return Err(AppError::Conflict("Solo se puede objetar una evaluación ya hecha.".into()));
    }
    errors.finish()?;
    diesel::update(qa_evaluations::table.find(id))
        .set((
            qa_evaluations::status.eq(EvaluationStatus::Disputed.as_str()),
            qa_evaluations::dispute_reason.eq(&reason),
            qa_evaluations::disputed_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    reload(conn, id)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// The supervisor's answer to the agent.
    pub resolution: String,
    /// Revised marks (same scorecard); omit to uphold the evaluation.
    pub marks: Option<Vec<Mark>>,
}

/// A supervisor answers a dispute, upholding the evaluation or revising its marks.
pub fn resolve(
    conn: &mut DbConnection,
    who: &Principal,
    id: i64,
    req: ResolveRequest,
) -> Result<EvaluationView, AppError> {
    let mut errors = Errors::default();
    let resolution = required_text(&mut errors, "resolution", &req.resolution);
    errors.finish()?;
    let row = load(conn, id)?;
    if row.status != EvaluationStatus::Disputed.as_str() {
        return Err(AppError::Conflict("Esta evaluación no tiene una objeción pendiente.".into()));
    }
    if let (Some(marks), Some(card)) = (req.marks, row.scorecard_id) {
        let (marks, score, _) = scored(conn, card, marks, None)?;
        diesel::update(qa_evaluations::table.find(id))
            .set((qa_evaluations::marks.eq(marks), qa_evaluations::score.eq(score)))
            .execute(conn)?;
    }
    diesel::update(qa_evaluations::table.find(id))
        .set((
            qa_evaluations::status.eq(EvaluationStatus::Resolved.as_str()),
            qa_evaluations::resolution.eq(&resolution),
            qa_evaluations::resolved_by.eq(who.agent_id),
            qa_evaluations::resolved_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    reload(conn, id)
}

// ---- report ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportBy {
    Agent,
    Queue,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Start (RFC 3339 or date); default 30 days before `to`.
    pub from: Option<String>,
    /// End (exclusive; a date includes its day); default now.
    pub to: Option<String>,
    /// `agent` (default) or `queue`.
    pub by: Option<ReportBy>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportLine {
    /// The agent's or queue's name.
    pub name: String,
    #[serde(flatten)]
    pub row: ReportRow,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QualityReport {
    pub period: Period,
    pub by: ReportBy,
    pub rows: Vec<ReportLine>,
}

/// (agent, queue, evaluated at, score)
type EvaluatedRow = (i64, Option<i64>, Option<UtcTime>, Option<f64>);
/// (agent, queue, answered at, score, resolved)
type AnswerRow = (Option<i64>, Option<i64>, UtcTime, i32, Option<bool>);
/// The solved tickets of the period per group, from the daily rollup when the period is whole
/// Santiago days (as the screens ask), else counted in SQL per week.
fn solved_facts(conn: &mut DbConnection, period: &Period, by: ReportBy) -> Result<Vec<SolvedFact>, AppError> {
    let local = |t: DateTime<Utc>| t.with_timezone(&buckets::TIME_ZONE).date_naive();
    let (first, last) = (local(period.from), local(period.to - TimeDelta::microseconds(1)));
    if buckets::day_start(first) == period.from && buckets::day_start(last + Days::new(1)) == period.to {
        solved_per_day(conn, first, last, by)
    } else {
        solved_per_week(conn, period, first, last, by)
    }
}

/// From the rollup: each day's solved and breached tickets per queue, or per agent (whose rows
/// leave out the unassigned: the day's total, by channel, less the agents').
fn solved_per_day(
    conn: &mut DbConnection,
    first: NaiveDate,
    last: NaiveDate,
    by: ReportBy,
) -> Result<Vec<SolvedFact>, AppError> {
    let start = |day: &str| NaiveDate::parse_from_str(day, "%Y-%m-%d").map(buckets::day_start).ok();
    let dim = if by == ReportBy::Agent { Dim::Agent } else { Dim::Queue };
    let mut out = Vec::new();
    let mut assigned: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (day, group, f) in rollup::read(conn, dim, first, last, Samples::Without)? {
        let (Some(at), true) = (start(&day), f.solved > 0) else { continue };
        out.push((group.and_then(|g| g.parse().ok()), at, f.solved as u64, f.solved_breached as u64));
        let sum = assigned.entry(day).or_default();
        *sum = (sum.0 + f.solved, sum.1 + f.solved_breached);
    }
    if by == ReportBy::Agent {
        let mut total: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (day, _, f) in rollup::read(conn, Dim::Channel, first, last, Samples::Without)? {
            let sum = total.entry(day).or_default();
            *sum = (sum.0 + f.solved, sum.1 + f.solved_breached);
        }
        for (day, (solved, breached)) in total {
            let (by_agents, breached_by_agents) = assigned.get(&day).copied().unwrap_or_default();
            if let (Some(at), true) = (start(&day), solved > by_agents) {
                out.push((None, at, (solved - by_agents) as u64, (breached - breached_by_agents) as u64));
            }
        }
    }
    Ok(out)
}

/// Tickets solved in a week of the period by one agent or queue, and how many breached an SLA.
#[derive(QueryableByName)]
struct SolvedWeek {
    #[diesel(sql_type = Nullable<BigInt>)]
    grp: Option<i64>,
    #[diesel(sql_type = Integer)]
    k: i32,
    #[diesel(sql_type = BigInt)]
    solved: i64,
    #[diesel(sql_type = BigInt)]
    breached: i64,
}

/// Counted in SQL per group and Santiago week (a month holds ~75,000 solved tickets at 1M a
/// year); a breach is any `sla_breached` event (a partial index).
fn solved_per_week(
    conn: &mut DbConnection,
    period: &Period,
    first: NaiveDate,
    last: NaiveDate,
    by: ReportBy,
) -> Result<Vec<SolvedFact>, AppError> {
    let weeks = buckets::weeks(first, last);
    let group = match by {
        ReportBy::Agent => "tickets.assignee_id",
        ReportBy::Queue => "tickets.queue_id",
    };
    let (from, to) = (backend::timestamp_literal(conn, period.from), backend::timestamp_literal(conn, period.to));
    let sql = format!(
        "SELECT {group} AS grp, {week} AS k, COUNT(*) AS solved, \
           SUM(CASE WHEN EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = tickets.id \
             AND e.kind = '{breach}') THEN 1 ELSE 0 END) AS breached \
         FROM tickets WHERE tickets.solved_at >= {from} AND tickets.solved_at < {to} \
           AND tickets.status IN ('{solved_status}', '{closed}') \
         GROUP BY 1, 2",
        week = buckets::bucket_index(conn, "tickets.solved_at", &weeks),
        breach = EventKind::SlaBreached.as_str(),
        solved_status = Status::Solved.as_str(),
        closed = Status::Closed.as_str(),
    );
    let rows: Vec<SolvedWeek> = reports::load(conn, &sql)?;
    Ok(rows.into_iter().map(|r| (r.grp, weeks[r.k as usize].start, r.solved as u64, r.breached as u64)).collect())
}

/// Quality score per agent or queue and week, next to CSAT and SLA compliance: evaluations by
/// when they were made (the dispute's revision counts), survey answers by when they were given,
/// SLA by the tickets solved that week (breached = any `sla_breached` event).
pub fn report(conn: &mut DbConnection, period: Period, by: ReportBy) -> Result<QualityReport, AppError> {
    let (from, to) = (UtcTime::from(period.from), UtcTime::from(period.to));
    let evaluations: Vec<EvaluatedRow> = qa_evaluations::table
        .filter(qa_evaluations::evaluated_at.ge(from))
        .filter(qa_evaluations::evaluated_at.lt(to))
        .filter(qa_evaluations::score.is_not_null())
        .select((
            qa_evaluations::agent_id,
            qa_evaluations::queue_id,
            qa_evaluations::evaluated_at,
            qa_evaluations::score,
        ))
        .load(conn)?;
    let answers: Vec<AnswerRow> = csat_responses::table
        .filter(csat_responses::answered_at.ge(from))
        .filter(csat_responses::answered_at.lt(to))
        .select((
            csat_responses::agent_id,
            csat_responses::queue_id,
            csat_responses::answered_at,
            csat_responses::score,
            csat_responses::resolved,
        ))
        .load(conn)?;
    let solved = solved_facts(conn, &period, by)?;
    let pick = |agent: Option<i64>, queue: Option<i64>| if by == ReportBy::Agent { agent } else { queue };
    let facts = ReportFacts {
        evaluations: evaluations.into_iter().filter_map(|(a, q, at, s)| Some((pick(Some(a), q), at?.0, s?))).collect(),
        csat: answers.into_iter().map(|(a, q, at, s, r)| (pick(a, q), at.0, s.clamp(0, 255) as u8, r)).collect(),
        solved,
    };
    let names: BTreeMap<i64, String> = match by {
        ReportBy::Agent => agents::table.select((agents::id, agents::name)).load(conn)?.into_iter().collect(),
        ReportBy::Queue => queues::table.select((queues::id, queues::name)).load(conn)?.into_iter().collect(),
    };
    let rows = quality::weekly_report(&facts)
        .into_iter()
        .map(|row| {
            let name = match row.group {
                Some(id) => names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                None => "(sin asignar)".to_owned(),
            };
            ReportLine { name, row }
        })
        .collect();
    Ok(QualityReport { period, by, rows })
}
