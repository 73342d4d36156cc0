//! The satisfaction survey: queued once when a ticket is solved, answered once through a signed
//! link that expires, and the CSAT figures by agent, queue, channel, category or segment.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::America::Santiago;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::Period;
use crate::auth::Actor;
use crate::channels::email::outbox;
use crate::db::schema::{agents, categories, csat_responses, queues, requesters, ticket_events, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::quality::{csat_summary, CsatSummary, SCORE_MAX, SCORE_MIN};
use crate::domain::EventKind;
use crate::error::{AppError, FieldError};
use crate::tickets::store;

/// The outbox kind of survey mail.
pub const SURVEY: &str = "survey";
pub const MAX_COMMENT: usize = 2000;

/// HMAC-SHA256 (RFC 2104) over sha2, the hash the service already uses.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

fn mac(secret: &str, ticket_id: i64, expires: i64) -> String {
    hex::encode(&hmac_sha256(secret.as_bytes(), format!("encuesta:{ticket_id}:{expires}").as_bytes())[..16])
}

/// `<ticket>-<expiry, Unix seconds>-<HMAC>`: names the ticket, says until when it may be answered,
/// and proves we issued both.
pub fn token(secret: &str, ticket_id: i64, expires: DateTime<Utc>) -> String {
    let expires = expires.timestamp();
    format!("{ticket_id}-{expires}-{}", mac(secret, ticket_id, expires))
}

/// What a survey token is worth at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid(i64),
    Expired(i64),
    Invalid,
}

pub fn check_token(secret: &str, token: &str, now: DateTime<Utc>) -> TokenCheck {
    let mut parts = token.splitn(3, '-');
    let (Some(id), Some(expires), Some(given)) = (parts.next(), parts.next(), parts.next()) else {
        return TokenCheck::Invalid;
    };
    let (Ok(id), Ok(expires)) = (id.parse::<i64>(), expires.parse::<i64>()) else { return TokenCheck::Invalid };
    let expected = mac(secret, id, expires);
    // Compared in full whatever the first difference, so timing says nothing about the MAC.
    let same =
        expected.len() == given.len() && expected.bytes().zip(given.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
    if !same {
        TokenCheck::Invalid
    } else if now.timestamp() >= expires {
        TokenCheck::Expired(id)
    } else {
        TokenCheck::Valid(id)
    }
}

/// When a survey queued at `queued_at` stops accepting answers.
pub fn expiry(queued_at: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    queued_at + TimeDelta::days(days.max(0))
}

/// The survey page's link and its last moment, as the mail shows them (Santiago time).
pub fn link(public_url: &str, secret: &str, ticket_id: i64, expires: DateTime<Utc>) -> (String, String) {
    let url = format!("{}/encuesta/{}", public_url.trim_end_matches('/'), token(secret, ticket_id, expires));
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

/// Called in the transaction that solves a ticket: queues the survey to the requester, once per
/// ticket (solving it again sends nothing), never for merged tickets or requesters without email.
pub fn on_solved(conn: &mut DbConnection, ticket_id: i64) -> Result<(), AppError> {
    let queued: i64 = crate::db::schema::outbox::table
        .filter(crate::db::schema::outbox::ticket_id.eq(ticket_id))
        .filter(crate::db::schema::outbox::kind.eq(SURVEY))
        .count()
        .get_result(conn)?;
    if queued > 0 || merged(conn, ticket_id)? {
        return Ok(());
    }
    let email: Option<String> = tickets::table
        .inner_join(requesters::table)
        .filter(tickets::id.eq(ticket_id))
        .select(requesters::email)
        .first(conn)?;
    match email {
        Some(email) => outbox::enqueue(conn, SURVEY, ticket_id, None, &email),
        None => Ok(()),
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
        let comment = self.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT) {
            errors.push(FieldError::new("comment", format!("admite como máximo {MAX_COMMENT} caracteres")));
        }
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

/// Stores the one answer of ticket `id`, with who handled it and where at this moment, and
/// records it in the ticket's log.
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
    let at = UtcTime::now();
    diesel::insert_into(csat_responses::table)
        .values((
            csat_responses::ticket_id.eq(id),
            csat_responses::score.eq(score),
            csat_responses::comment.eq(&comment),
            csat_responses::resolved.eq(resolved),
            csat_responses::answered_at.eq(at),
            csat_responses::agent_id.eq(assignee),
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
    let data = json!({ "score": score, "resolved": resolved, "comment": comment, "agent_id": assignee });
    store::record(conn, id, EventKind::CsatAnswered, Actor::Requester(requester), data, at)
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

/// The report as CSV: one line per group (or one "total" line).
pub fn to_csv(report: &CsatReport) -> String {
    use super::csv_field;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = String::from("key,name,responses,satisfied,csat,average_score,fcr_answers,fcr\r\n");
    let mut line = |key: &str, name: &str, f: &CsatSummary| {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            csv_field(key),
            csv_field(name),
            f.responses,
            f.satisfied,
            opt(f.csat),
            opt(f.average_score),
            f.fcr_answers,
            opt(f.fcr)
        ));
    };
    if report.groups.is_empty() {
        line("total", "Total", &report.total);
    }
    for g in &report.groups {
        line(g.key.as_deref().unwrap_or(""), &g.name, &g.figures);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn tokens_verify_expire_and_resist_tampering() {
        let expires = at("2026-12-09T12:00:00Z");
        let t = token("secreto", 42, expires);
        assert!(t.starts_with(&format!("42-{}-", expires.timestamp())));
        assert_eq!(check_token("secreto", &t, at("2026-12-02T12:00:00Z")), TokenCheck::Valid(42));
        assert_eq!(check_token("secreto", &t, expires), TokenCheck::Expired(42));
        assert_eq!(check_token("otro", &t, at("2026-12-02T12:00:00Z")), TokenCheck::Invalid);
        // Moving the expiry or the ticket breaks the MAC.
        let later = t.replacen(&expires.timestamp().to_string(), &(expires.timestamp() + 86400).to_string(), 1);
        assert_eq!(check_token("secreto", &later, at("2026-12-02T12:00:00Z")), TokenCheck::Invalid);
        assert_eq!(
            check_token("secreto", &t.replacen("42-", "43-", 1), at("2026-12-02T12:00:00Z")),
            TokenCheck::Invalid
        );
        for junk in ["", "42", "42-1", "x-y-z", "42-1-", "-1-abc"] {
            assert_eq!(check_token("secreto", junk, at("2026-12-02T12:00:00Z")), TokenCheck::Invalid, "{junk}");
        }
        // A case-page token is not a survey token.
        let case = crate::channels::email::compose::case_token("secreto", 42);
        assert_eq!(check_token("secreto", &case, at("2026-12-02T12:00:00Z")), TokenCheck::Invalid);
    }

    #[test]
    fn links_show_the_expiry_in_santiago() {
        let (url, until) = link("https://mesa.example.cl/", "s", 7, at("2026-12-09T15:30:00Z"));
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
            to_csv(&report),
            "key,name,responses,satisfied,csat,average_score,fcr_answers,fcr\r\n\
             5,\"Rojas, Javier\",1,1,100,7,1,100\r\n\
             ,(sin asignar),1,0,0,3,0,\r\n"
        );
    }
}
