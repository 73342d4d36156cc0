//! The satisfaction survey: queued once when a ticket is solved, answered once through a signed
//! link that expires, and the CSAT figures by agent, queue, channel, category or segment.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::America::Santiago;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use utoipa::{IntoParams, ToSchema};

use super::Period;
use crate::channels::email::outbox;
use crate::db::schema::{agents, categories, csat_responses, queues, requesters, ticket_events, tickets};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::DbConnection;
use crate::domain::event::CsatAnswered;
use crate::domain::quality::{csat_summary, CsatSummary, SCORE_MAX, SCORE_MIN};
use crate::domain::{Actor, EventKind, Status, TicketEvent};
use crate::error::{AppError, FieldError};
use crate::secrets::Signer;
pub use crate::secrets::TokenCheck;
use crate::tickets::followers::{Followed, Follower};
use crate::tickets::log;

/// The outbox kind of survey mail.
pub const SURVEY: &str = "survey";
pub const MAX_COMMENT: usize = 2000;

/// When a survey queued at `queued_at` stops accepting answers.
pub fn expiry(queued_at: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    queued_at + TimeDelta::days(days.max(0))
}

/// The survey page's link and its last moment, as the mail shows them (Santiago time).
pub fn link(public_url: &str, signer: &Signer, ticket_id: i64, expires: DateTime<Utc>) -> (String, String) {
    let url = format!("{}/encuesta/{}", public_url.trim_end_matches('/'), signer.survey_token(ticket_id, expires));
    (url, expires.with_timezone(&Santiago).format("%d-%m-%Y a las %H:%M").to_string())
}

fn merged(conn: &mut DbConnection, ticket_id: i64) -> Result<bool, AppError> {
    let n: i64 = ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .filter(ticket_events::kind.eq(EventKind::Merged.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Queues the survey of a solved ticket to the requester, once per ticket (solving it again sends
/// nothing), never for merged tickets or requesters without email. Returns the mails queued.
pub fn on_solved(conn: &mut DbConnection, ticket_id: i64) -> Result<usize, AppError> {
    if outbox::queued(conn, ticket_id, SURVEY, None)? || merged(conn, ticket_id)? {
        return Ok(0);
    }
    let email: Option<String> = tickets::table
        .inner_join(requesters::table)
        .filter(tickets::id.eq(ticket_id))
        .select(requesters::email)
        .first(conn)?;
    match email {
        Some(email) => outbox::enqueue(conn, SURVEY, ticket_id, None, &email).map(|()| 1),
        None => Ok(0),
    }
}

/// Whether a queued survey should still go out when its turn comes (not merged, not answered).
pub fn still_wanted(conn: &mut DbConnection, ticket_id: i64) -> Result<bool, AppError> {
    Ok(!merged(conn, ticket_id)? && !answered(conn, ticket_id)?)
}

fn answered(conn: &mut DbConnection, ticket_id: i64) -> Result<bool, AppError> {
    let n: i64 = csat_responses::table.filter(csat_responses::ticket_id.eq(ticket_id)).count().get_result(conn)?;
    Ok(n > 0)
}

/// The requester's answer, from the page's form or the JSON endpoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswer {
    /// 1 (muy malo) to 7 (muy bueno).
    pub score: i64,
    pub comment: Option<String>,
    /// "¿Se resolvió su problema?"
    pub resolved: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SurveyReceipt {
    pub message: String,
}

/// The refusal of a second answer (also when a concurrent twin won the unique `ticket_id`).
pub const ALREADY_ANSWERED: &str = "Esta encuesta ya fue respondida. Gracias por su opinión.";

impl SurveyAnswer {
    fn validate(self) -> Result<(i32, Option<String>, Option<bool>), AppError> {
        let mut errors = Vec::new();
        if !(i64::from(SCORE_MIN)..=i64::from(SCORE_MAX)).contains(&self.score) {
            errors.push(FieldError::new("score", "elija una nota de 1 a 7"));
        }
        if self.comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT) {
            errors.push(FieldError::new("comment", format!("admite como máximo {MAX_COMMENT} caracteres")));
        }
        let comment = self.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        if errors.is_empty() {
            Ok((self.score as i32, comment, self.resolved))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// Checks that the survey of ticket `id` (from a valid token) can still be answered: 404 when
/// the ticket is gone or was merged, 409 once answered.
pub fn open_survey(conn: &mut DbConnection, id: i64) -> Result<(String, String), AppError> {
    let ticket: Option<(String, String)> =
        tickets::table.find(id).select((tickets::number, tickets::subject)).first(conn).optional()?;
    let Some(ticket) = ticket else { return Err(AppError::NotFound("la encuesta")) };
    if merged(conn, id)? {
        return Err(AppError::NotFound("la encuesta"));
    }
    if answered(conn, id)? {
        return Err(AppError::Conflict(ALREADY_ANSWERED.into()));
    }
    Ok(ticket)
}

/// The person who last solved ticket `id`, from its log: the survey rates their work, whoever
/// holds the ticket now. `None` when nobody solved it or the service or an integration did.
fn solver(conn: &mut DbConnection, id: i64) -> Result<Option<i64>, AppError> {
    let changes: Vec<(String, Option<i64>, JsonValue)> = ticket_events::table
        .filter(ticket_events::ticket_id.eq(id))
        .filter(ticket_events::kind.eq(EventKind::StatusChanged.as_str()))
        .order(ticket_events::id.desc())
        .select((ticket_events::actor_type, ticket_events::actor_id, ticket_events::data))
        .load(conn)?;
    let solves = |data: &JsonValue| {
        TicketEvent::parse(EventKind::StatusChanged.as_str(), &data.0)
            .is_ok_and(|e| e.moved_to() == Some(Status::Solved))
    };
    let last_solve = changes.into_iter().find(|(_, _, data)| solves(data));
    let Some(("agent", Some(agent))) = last_solve.as_ref().map(|(kind, id, _)| (kind.as_str(), *id)) else {
        return Ok(None);
    };
    let role: Option<String> = agents::table.find(agent).select(agents::role).first(conn).optional()?;
    Ok(role.filter(|r| r != "integration").map(|_| agent))
}

/// Stores the one answer of ticket `id`, with who solved it (else its assignee) and where it is at
/// this moment, and records it in the ticket's log.
pub fn answer(conn: &mut DbConnection, id: i64, answer: SurveyAnswer) -> Result<(), AppError> {
    let (score, comment, resolved) = answer.validate()?;
    open_survey(conn, id)?;
    let (assignee, queue, channel, category, requester, segment): (
        Option<i64>,
        Option<i64>,
        String,
        Option<i64>,
        i64,
        String,
    ) = tickets::table
        .inner_join(requesters::table)
        .filter(tickets::id.eq(id))
        .select((
            tickets::assignee_id,
            tickets::queue_id,
            tickets::channel,
            tickets::category_id,
            tickets::requester_id,
            requesters::segment,
        ))
        .first(conn)?;
    let agent = solver(conn, id)?.or(assignee);
    let at = UtcTime::now();
    diesel::insert_into(csat_responses::table)
        .values((
            csat_responses::ticket_id.eq(id),
            csat_responses::score.eq(score),
            csat_responses::comment.eq(&comment),
            csat_responses::resolved.eq(resolved),
            csat_responses::answered_at.eq(at),
            csat_responses::agent_id.eq(agent),
            csat_responses::queue_id.eq(queue),
            csat_responses::channel.eq(&channel),
            csat_responses::category_id.eq(category),
            csat_responses::segment.eq(&segment),
        ))
        .execute(conn)
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(ALREADY_ANSWERED.into()),
            other => other,
        })?;
    let answered = CsatAnswered { score: i64::from(score), resolved, comment: comment.clone(), agent_id: agent };
    log::record(conn, id, Actor::Requester(requester), TicketEvent::CsatAnswered(answered), at)?;
    Ok(())
}

/// What CSAT figures are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CsatBy {
    Agent,
    Queue,
    Channel,
    Category,
    Segment,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CsatQuery {
    /// Start (inclusive): RFC 3339, or a date meaning midnight in Santiago. Default: 30 days
    /// before `to`.
    pub from: Option<String>,
    /// End (exclusive): RFC 3339, or a date whose whole day is included. Default: now.
    pub to: Option<String>,
    pub by: Option<CsatBy>,
}

/// The figures of one group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CsatGroup {
    /// Agent id, queue or category slug, channel or segment; `null` for answers without one.
    pub key: Option<String>,
    pub name: String,
    #[serde(flatten)]
    pub figures: CsatSummary,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CsatReport {
    pub period: Period,
    pub by: Option<CsatBy>,
    /// All answers of the period.
    pub total: CsatSummary,
    /// One entry per group (when `by` is given), by key.
    pub groups: Vec<CsatGroup>,
}

/// (score, resolved)
type Scored = (u8, Option<bool>);

type Answer = (i32, Option<bool>, Option<i64>, Option<i64>, String, Option<i64>, String);

/// (key, name) of each agent, queue or category id.
fn labels(conn: &mut DbConnection, by: CsatBy) -> Result<HashMap<i64, (String, String)>, AppError> {
    let rows: Vec<(i64, String, String)> = match by {
        CsatBy::Agent => agents::table.select((agents::id, agents::name, agents::name)).load(conn)?,
        CsatBy::Queue => queues::table.select((queues::id, queues::slug, queues::name)).load(conn)?,
        CsatBy::Category => {
            categories::table.select((categories::id, categories::slug, categories::name)).load(conn)?
        }
        CsatBy::Channel | CsatBy::Segment => Vec::new(),
    };
    Ok(rows
        .into_iter()
        .map(|(id, slug, name)| (id, (if by == CsatBy::Agent { id.to_string() } else { slug }, name)))
        .collect())
}

/// CSAT, average score and FCR of the answers given in `period`, overall and by `by`.
pub fn figures(conn: &mut DbConnection, period: Period, by: Option<CsatBy>) -> Result<CsatReport, AppError> {
    let rows: Vec<Answer> = csat_responses::table
        .filter(csat_responses::answered_at.ge(UtcTime::from(period.from)))
        .filter(csat_responses::answered_at.lt(UtcTime::from(period.to)))
        .select((
            csat_responses::score,
            csat_responses::resolved,
            csat_responses::agent_id,
            csat_responses::queue_id,
            csat_responses::channel,
            csat_responses::category_id,
            csat_responses::segment,
        ))
        .load(conn)?;
    let total = csat_summary(rows.iter().map(|r| (r.0 as u8, r.1)));
    let groups = match by {
        None => Vec::new(),
        Some(by) => {
            let labels = labels(conn, by)?;
            let label = |id: Option<i64>| -> (Option<String>, String) {
                match id {
                    Some(id) => labels
                        .get(&id)
                        .cloned()
                        .map(|(k, n)| (Some(k), n))
                        .unwrap_or((Some(id.to_string()), id.to_string())),
                    None => (None, "(sin asignar)".to_owned()),
                }
            };
            let mut grouped: BTreeMap<(Option<String>, String), Vec<Scored>> = BTreeMap::new();
            for r in &rows {
                let group = match by {
                    CsatBy::Agent => label(r.2),
                    CsatBy::Queue => label(r.3),
                    CsatBy::Category => label(r.5),
                    CsatBy::Channel => (Some(r.4.clone()), r.4.clone()),
                    CsatBy::Segment => (Some(r.6.clone()), r.6.clone()),
                };
                grouped.entry(group).or_default().push((r.0 as u8, r.1));
            }
            grouped
                .into_iter()
                .map(|((key, name), answers)| CsatGroup { key, name, figures: csat_summary(answers) })
                .collect()
        }
    };
    Ok(CsatReport { period, by, total, groups })
}

/// One line of the CSV form of the figures (written by [`crate::reports::csv`], like every CSV).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CsatRow {
    /// The group's key (`total` for the whole period); empty for answers without one.
    pub key: Option<String>,
    pub name: String,
    pub responses: u64,
    pub satisfied: u64,
    pub csat: Option<f64>,
    pub average_score: Option<f64>,
    pub fcr_answers: u64,
    pub fcr: Option<f64>,
}

impl CsatRow {
    fn new(key: Option<&str>, name: &str, f: &CsatSummary) -> Self {
        CsatRow {
            key: key.map(str::to_owned),
            name: name.to_owned(),
            responses: f.responses,
            satisfied: f.satisfied,
            csat: f.csat,
            average_score: f.average_score,
            fcr_answers: f.fcr_answers,
            fcr: f.fcr,
        }
    }
}

/// The CSV lines of the report: one per group, or one "total" line when it has no groups.
pub fn csv_rows(report: &CsatReport) -> Vec<CsatRow> {
    if report.groups.is_empty() {
        return vec![CsatRow::new(Some("total"), "Total", &report.total)];
    }
    report.groups.iter().map(|g| CsatRow::new(g.key.as_deref(), &g.name, &g.figures)).collect()
}

/// The survey goes out when a ticket is solved, following the committed log.
pub struct Survey;

impl Follower for Survey {
    fn follow(&self, conn: &mut DbConnection, event: &Followed) -> Result<usize, AppError> {
        if event.logged.event.moved_to() != Some(Status::Solved) {
            return Ok(0);
        }
        on_solved(conn, event.ticket_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn links_show_the_expiry_in_santiago() {
        let (url, until) =
            link("https://mesa.example.cl/", &Signer::new("s", Vec::new()), 7, at("2026-12-09T15:30:00Z"));
        assert!(url.starts_with("https://mesa.example.cl/encuesta/7-"), "{url}");
        assert_eq!(until, "09-12-2026 a las 12:30");
        assert_eq!(expiry(at("2026-12-02T15:30:00Z"), 7), at("2026-12-09T15:30:00Z"));
    }

    #[test]
    fn answers_are_validated() {
        let ok = SurveyAnswer { score: 7, comment: Some("  Muy buena atención ".into()), resolved: Some(true) };
        assert_eq!(ok.validate().unwrap(), (7, Some("Muy buena atención".into()), Some(true)));
        let blank = SurveyAnswer { score: 1, comment: Some("   ".into()), resolved: None };
        assert_eq!(blank.validate().unwrap(), (1, None, None));
        let bad = SurveyAnswer { score: 8, comment: Some("x".repeat(MAX_COMMENT + 1)), resolved: None };
        match bad.validate() {
            Err(AppError::Validation(e)) => {
                assert_eq!(e.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["score", "comment"])
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            SurveyAnswer { score: 0, comment: None, resolved: None }.validate(),
            Err(AppError::Validation(_))
        ));
    }

    #[test]
    fn csv_has_one_line_per_group() {
        use crate::reports::csv::{to_csv, Dialect};
        let report = CsatReport {
            period: Period { from: at("2026-12-01T00:00:00Z"), to: at("2026-12-02T00:00:00Z") },
            by: Some(CsatBy::Agent),
            total: csat_summary([(7, Some(true)), (3, None)]),
            groups: vec![
                CsatGroup {
                    key: Some("5".into()),
                    name: "Rojas, Javier".into(),
                    figures: csat_summary([(7, Some(true))]),
                },
                CsatGroup { key: None, name: "(sin asignar)".into(), figures: csat_summary([(3, None)]) },
            ],
        };
        assert_eq!(
            to_csv(&csv_rows(&report), Dialect::Rfc4180).unwrap(),
            "key,name,responses,satisfied,csat,average_score,fcr_answers,fcr\r\n\
             5,\"Rojas, Javier\",1,1,100.0,7.0,1,100.0\r\n\
             ,(sin asignar),1,0,0.0,3.0,0,\r\n"
        );
        let total = CsatReport { by: None, groups: Vec::new(), ..report };
        assert_eq!(csv_rows(&total), [CsatRow::new(Some("total"), "Total", &total.total)]);
    }
}

/// One survey answer of a requester, as the agent's requester panel shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SurveyAnswerView {
    pub ticket_id: i64,
    pub ticket_number: String,
    pub score: i32,
    pub comment: Option<String>,
    /// Whether the requester said the problem was solved (`null`: not asked or not answered).
    pub resolved: Option<bool>,
    pub answered_at: DateTime<Utc>,
    /// The agent credited with the ticket.
    pub agent_id: Option<i64>,
}

/// The requester's most recent survey answers, newest first (404 for an unknown requester).
pub fn answers_of(conn: &mut DbConnection, requester_id: i64, limit: i64) -> Result<Vec<SurveyAnswerView>, AppError> {
    let exists = requesters::table.find(requester_id).count().get_result::<i64>(conn)? > 0;
    if !exists {
        return Err(AppError::NotFound("el solicitante"));
    }
    type Row = (i64, String, i32, Option<String>, Option<bool>, UtcTime, Option<i64>);
    let rows: Vec<Row> = csat_responses::table
        .inner_join(tickets::table)
        .filter(tickets::requester_id.eq(requester_id))
        .order((csat_responses::answered_at.desc(), csat_responses::id.desc()))
        .limit(limit)
        .select((
            tickets::id,
            tickets::number,
            csat_responses::score,
            csat_responses::comment,
            csat_responses::resolved,
            csat_responses::answered_at,
            csat_responses::agent_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(ticket_id, ticket_number, score, comment, resolved, at, agent_id)| SurveyAnswerView {
            ticket_id,
            ticket_number,
            score,
            comment,
            resolved,
            answered_at: at.0,
            agent_id,
        })
        .collect())
}
