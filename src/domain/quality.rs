//! Quality of service, as pure rules: CSAT figures, QA scorecard maths, the sampling of
//! interactions to evaluate, and the weekly report's aggregation. No IO here.
//!
//! **Scorecard marks.** Each criterion has a `max` (1 = pass/fail, up to 10 for graded criteria);
//! an evaluation gives every criterion a mark `0..=max`, or `null` for "no aplica", which leaves
//! the criterion out of the weights. The score is the weighted percentage
//! `100 · Σ wᵢ·markᵢ/maxᵢ / Σ wᵢ` over the criteria that apply, rounded to one decimal; a mark of 0
//! on a critical criterion makes the whole score 0.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use chrono_tz::America::Santiago;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The State's satisfaction scale: 1 to 7.
pub const SCORE_MIN: u8 = 1;
pub const SCORE_MAX: u8 = 7;
/// CSAT counts 6 and 7 as satisfied.
pub const SATISFIED_FROM: u8 = 6;
/// A ticket answered with this score or less is always sampled for QA.
pub const LOW_CSAT_MAX: u8 = 4;

/// `part / whole` as a percentage with one decimal; `None` when there is nothing to divide.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round1(100.0 * part as f64 / whole as f64))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// CSAT figures of a set of survey answers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, ToSchema)]
pub struct CsatSummary {
    pub responses: u64,
    /// Answers with 6 or 7.
    pub satisfied: u64,
    /// Share of 6 and 7, in percent (one decimal); `null` without answers.
    pub csat: Option<f64>,
    /// Mean score on the 1–7 scale (two decimals).
    pub average_score: Option<f64>,
    /// Answers to "¿Se resolvió su problema?".
    pub fcr_answers: u64,
    /// First contact resolution: share of "sí" among those answers, in percent.
    pub fcr: Option<f64>,
}

/// Summarises `(score, resolved)` answers.
pub fn csat_summary(answers: impl IntoIterator<Item = (u8, Option<bool>)>) -> CsatSummary {
    let (mut responses, mut satisfied, mut total, mut fcr_answers, mut fcr_yes) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for (score, resolved) in answers {
        responses += 1;
        satisfied += u64::from(score >= SATISFIED_FROM);
        total += u64::from(score);
        if let Some(yes) = resolved {
            fcr_answers += 1;
            fcr_yes += u64::from(yes);
        }
    }
    CsatSummary {
        responses,
        satisfied,
        csat: percent(satisfied, responses),
        average_score: (responses > 0).then(|| round2(total as f64 / responses as f64)),
        fcr_answers,
        fcr: percent(fcr_yes, fcr_answers),
    }
}

/// One criterion of a scorecard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Short identifier, e.g. `saludo` (lowercase letters, digits, `-` and `_`).
    pub key: String,
    /// What the evaluator checks, e.g. «Exactitud de la información».
    pub name: String,
    /// Relative weight, 1–100.
    pub weight: u32,
    /// A mark of 0 on a critical criterion makes the whole evaluation 0.
    #[serde(default)]
    pub critical: bool,
    /// Highest mark: 1 = pass/fail (default), up to 10 for graded criteria.
    #[serde(default = "pass_fail")]
    pub max: u32,
}

fn pass_fail() -> u32 {
    1
}

pub const MAX_CRITERIA: usize = 30;

/// Problems of a criteria list, as `(field, message)`.
pub fn validate_criteria(criteria: &[Criterion]) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    if criteria.is_empty() || criteria.len() > MAX_CRITERIA {
        errors.push(("criteria".into(), format!("debe tener entre 1 y {MAX_CRITERIA} criterios")));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, c) in criteria.iter().enumerate() {
        let field = |name: &str| format!("criteria[{i}].{name}");
        let key_ok = !c.key.is_empty()
            && c.key.len() <= 40
            && c.key.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_');
        if !key_ok {
            errors.push((field("key"), "use de 1 a 40 letras minúsculas, dígitos, «-» o «_»".into()));
        } else if !seen.insert(c.key.as_str()) {
            errors.push((field("key"), format!("el criterio «{}» está repetido", c.key)));
        }
        if c.name.trim().is_empty() || c.name.chars().count() > 120 {
            errors.push((field("name"), "es obligatorio (máximo 120 caracteres)".into()));
        }
        if !(1..=100).contains(&c.weight) {
            errors.push((field("weight"), "debe estar entre 1 y 100".into()));
        }
        if !(1..=10).contains(&c.max) {
            errors.push((field("max"), "debe estar entre 1 y 10".into()));
        }
    }
    errors
}

/// The mark an evaluator gives one criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    pub key: String,
    /// `0..=max` of the criterion; `null` = no aplica.
    pub mark: Option<u32>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The result of scoring an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Score {
    /// 0–100 with one decimal.
    pub score: f64,
    /// Keys of the critical criteria marked 0 (then `score` is 0).
    pub critical_failed: Vec<String>,
}

/// Scores `marks` against `criteria`: every criterion must be marked exactly once (a mark or
/// `null`), within its `max`, and at least one must apply. Errors are `(field, message)`.
pub fn score(criteria: &[Criterion], marks: &[Mark]) -> Result<Score, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let by_key: HashMap<&str, &Criterion> = criteria.iter().map(|c| (c.key.as_str(), c)).collect();
    let mut given: HashMap<&str, Option<u32>> = HashMap::new();
    for (i, m) in marks.iter().enumerate() {
        match by_key.get(m.key.as_str()) {
            None => errors.push((format!("marks[{i}].key"), format!("la pauta no tiene el criterio «{}»", m.key))),
            Some(_) if given.contains_key(m.key.as_str()) => {
                errors.push((format!("marks[{i}].key"), format!("el criterio «{}» está repetido", m.key)))
            }
            Some(c) => {
                if m.mark.is_some_and(|v| v > c.max) {
                    errors.push((format!("marks[{i}].mark"), format!("debe estar entre 0 y {}", c.max)));
                }
                if m.comment.as_ref().is_some_and(|t| t.chars().count() > 2000) {
                    errors.push((format!("marks[{i}].comment"), "admite como máximo 2000 caracteres".into()));
                }
                given.insert(m.key.as_str(), m.mark);
            }
        }
    }
    for c in criteria {
        if !given.contains_key(c.key.as_str()) {
            errors.push(("marks".into(), format!("falta el criterio «{}» (use null si no aplica)", c.key)));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (mut earned, mut weights) = (0.0, 0u64);
    let mut critical_failed = Vec::new();
    for c in criteria {
        let Some(mark) = given[c.key.as_str()] else { continue };
        weights += u64::from(c.weight);
        earned += f64::from(c.weight) * f64::from(mark) / f64::from(c.max);
        if c.critical && mark == 0 {
            critical_failed.push(c.key.clone());
        }
    }
    if weights == 0 {
        return Err(vec![("marks".into(), "al menos un criterio debe aplicar".into())]);
    }
    let score = if critical_failed.is_empty() { round1(100.0 * earned / weights as f64) } else { 0.0 };
    Ok(Score { score, critical_failed })
}

/// A ticket an agent handled in the sampling period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub ticket_id: i64,
    pub agent_id: i64,
    pub channel: String,
    /// The requester's survey score, if answered.
    pub csat: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SampleReason {
    /// Drawn at random (stratified by channel).
    Random,
    /// Answered the survey with 4 or less: always evaluated.
    LowCsat,
    /// Chosen by a supervisor, outside sampling.
    Manual,
}

impl SampleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SampleReason::Random => "random",
            SampleReason::LowCsat => "low_csat",
            SampleReason::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub ticket_id: i64,
    pub agent_id: i64,
    pub channel: String,
    pub reason: SampleReason,
}

/// SplitMix64: a fixed, well-mixed hash, so a sample depends only on the seed and the ticket ids
/// (never on load order, library versions or the platform).
fn mix(seed: u64, value: i64) -> u64 {
    let mut z = seed ^ (value as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed derived from a text (e.g. the period), for runs that give none.
pub fn seed_from(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// Splits `n` draws over strata of sizes `counts` in proportion to their size (largest
/// remainders), giving every stratum at least one draw when `n` allows it; never more than a
/// stratum holds. When `n` is smaller than the number of strata, the largest strata get one each
/// (ties: earlier first).
pub fn allocate(counts: &[usize], n: usize) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    let n = n.min(total);
    let strata: Vec<usize> = (0..counts.len()).filter(|&k| counts[k] > 0).collect();
    let mut alloc = vec![0usize; counts.len()];
    if n == 0 {
        return alloc;
    }
    if n < strata.len() {
        let mut by_size = strata.clone();
        by_size.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        for &k in by_size.iter().take(n) {
            alloc[k] = 1;
        }
        return alloc;
    }
    // Quotas are n·cₖ/total; comparing aₖ·total with n·cₖ keeps the arithmetic exact.
    let (n128, t128) = (n as i128, total as i128);
    let over = |k: usize, a: usize| a as i128 * t128 - n128 * counts[k] as i128;
    for &k in &strata {
        alloc[k] = (n * counts[k] / total).clamp(1, counts[k]);
    }
    let mut sum: usize = alloc.iter().sum();
    while sum > n {
        let k = strata
            .iter()
            .copied()
            .filter(|&k| alloc[k] > 1)
            .max_by(|&a, &b| over(a, alloc[a]).cmp(&over(b, alloc[b])).then(b.cmp(&a)))
            .expect("n ≥ strata, so some stratum has more than one");
        alloc[k] -= 1;
        sum -= 1;
    }
    while sum < n {
        let k = strata
            .iter()
            .copied()
            .filter(|&k| alloc[k] < counts[k])
            .min_by(|&a, &b| over(a, alloc[a]).cmp(&over(b, alloc[b])).then(a.cmp(&b)))
            .expect("n ≤ total, so some stratum has room");
        alloc[k] += 1;
        sum += 1;
    }
    alloc
}

/// The QA sample of a period: for every agent, `per_agent` of their tickets drawn at random,
/// stratified by channel ([`allocate`]), plus every ticket whose survey scored
/// [`LOW_CSAT_MAX`] or less (those do not count towards `per_agent`). Deterministic given `seed`;
/// the order of `candidates` does not matter. Sorted by agent, reason, ticket.
pub fn sample(candidates: &[Candidate], per_agent: usize, seed: u64) -> Vec<Pick> {
    // agent → channel → tickets (deduplicated)
    let mut pools: BTreeMap<i64, BTreeMap<&str, Vec<i64>>> = BTreeMap::new();
    let mut low: BTreeMap<(i64, i64), &str> = BTreeMap::new();
    for c in candidates {
        if c.csat.is_some_and(|s| s <= LOW_CSAT_MAX) {
            low.insert((c.agent_id, c.ticket_id), &c.channel);
        }
    }
    for c in candidates {
        if !low.contains_key(&(c.agent_id, c.ticket_id)) {
            pools.entry(c.agent_id).or_default().entry(&c.channel).or_default().push(c.ticket_id);
        }
    }
    let mut picks: Vec<Pick> = low
        .iter()
        .map(|(&(agent_id, ticket_id), channel)| Pick {
            ticket_id,
            agent_id,
            channel: (*channel).to_owned(),
            reason: SampleReason::LowCsat,
        })
        .collect();
    for (agent_id, channels) in pools {
        let mut strata: Vec<(&str, Vec<i64>)> = channels.into_iter().collect();
        for (_, tickets) in &mut strata {
            tickets.sort_unstable();
            tickets.dedup();
            tickets.sort_by_key(|&t| (mix(seed, t), t));
        }
        let counts: Vec<usize> = strata.iter().map(|(_, t)| t.len()).collect();
        for ((channel, tickets), take) in strata.iter().zip(allocate(&counts, per_agent)) {
            for &ticket_id in &tickets[..take] {
                picks.push(Pick { ticket_id, agent_id, channel: (*channel).to_owned(), reason: SampleReason::Random });
            }
        }
    }
    picks.sort_by_key(|p| (p.agent_id, p.reason, p.ticket_id));
    picks
}

/// The Monday (in Santiago) of the week holding `at`.
pub fn week_of(at: DateTime<Utc>) -> NaiveDate {
    let local = at.with_timezone(&Santiago).date_naive();
    local - TimeDelta::days(i64::from(local.weekday().num_days_from_monday()))
}

/// A survey answer in the report: (group, when answered, score, resolved).
pub type CsatFact = (Option<i64>, DateTime<Utc>, u8, Option<bool>);

/// Solved tickets in the report: (group, an instant of the week, tickets solved, how many of them
/// breached an SLA target).
pub type SolvedFact = (Option<i64>, DateTime<Utc>, u64, u64);

/// What the weekly report adds up, per group (agent or queue; `None` = without one) and week.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportFacts {
    /// (group, when evaluated, score)
    pub evaluations: Vec<(Option<i64>, DateTime<Utc>, f64)>,
    pub csat: Vec<CsatFact>,
    pub solved: Vec<SolvedFact>,
}

/// One row of the weekly report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReportRow {
    /// Agent or queue id; `null` for work without one.
    pub group: Option<i64>,
    /// Monday of the week (America/Santiago).
    #[schema(value_type = String, format = Date)]
    pub week: NaiveDate,
    pub evaluations: u64,
    /// Mean QA score (0–100, one decimal).
    pub quality_score: Option<f64>,
    pub csat: CsatSummary,
    /// Tickets solved in the week.
    pub solved: u64,
    /// Of those, tickets with at least one SLA breach.
    pub sla_breached: u64,
    /// Share of solved tickets without a breach, in percent.
    pub sla_compliance: Option<f64>,
}

/// Groups the facts by (group, week), in that order.
pub fn weekly_report(facts: &ReportFacts) -> Vec<ReportRow> {
    #[derive(Default)]
    struct Acc {
        scores: Vec<f64>,
        answers: Vec<(u8, Option<bool>)>,
        solved: u64,
        breached: u64,
    }
    let mut acc: BTreeMap<(Option<i64>, NaiveDate), Acc> = BTreeMap::new();
    for &(g, at, score) in &facts.evaluations {
        acc.entry((g, week_of(at))).or_default().scores.push(score);
    }
    for &(g, at, score, resolved) in &facts.csat {
        acc.entry((g, week_of(at))).or_default().answers.push((score, resolved));
    }
    for &(g, at, solved, breached) in &facts.solved {
        let a = acc.entry((g, week_of(at))).or_default();
        a.solved += solved;
        a.breached += breached;
    }
    acc.into_iter()
        .map(|((group, week), a)| ReportRow {
            group,
            week,
            evaluations: a.scores.len() as u64,
            quality_score: (!a.scores.is_empty()).then(|| round1(a.scores.iter().sum::<f64>() / a.scores.len() as f64)),
            csat: csat_summary(a.answers),
            solved: a.solved,
            sla_breached: a.breached,
            sla_compliance: percent(a.solved - a.breached, a.solved),
        })
        .collect()
}

/// Same requester, same category, within this many days: a repeat contact.
pub const REPEAT_WINDOW_DAYS: i64 = 7;

/// A ticket as the recurring-problems report sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub ticket_id: i64,
    pub requester_id: i64,
    pub category_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub subject: String,
}

/// A subject term and the number of tickets whose subject holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TermCount {
    pub term: String,
    pub tickets: u64,
}

/// One category in the recurring-problems report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RecurringRow {
    /// `null`: tickets without a category.
    pub category_id: Option<i64>,
    pub tickets: u64,
    /// Distinct requesters behind them.
    pub requesters: u64,
    /// Tickets opened by a requester who had opened another in the same category in the 7 days
    /// before.
    pub repeat_contacts: u64,
    /// `repeat_contacts / tickets`, in percent.
    pub repeat_rate: Option<f64>,
    /// First contact resolution: share of the tickets that no new ticket of the same requester and
    /// category followed within 7 days (as known when the report is made), in percent.
    pub fcr: Option<f64>,
    /// The most frequent subject terms.
    pub terms: Vec<TermCount>,
}

/// Words that say nothing about the problem.
const STOPWORDS: &[&str] = &[
    "al",
    "con",
    "como",
    "del",
    "desde",
    "el",
    "en",
    "es",
    "esta",
    "este",
    "estimado",
    "estimada",
    "fw",
    "fwd",
    "hola",
    "la",
    "las",
    "lo",
    "los",
    "mas",
    "mi",
    "mis",
    "muy",
    "no",
    "para",
    "pero",
    "por",
    "que",
    "re",
    "rv",
    "se",
    "sin",
    "sobre",
    "solicitud",
    "su",
    "sus",
    "un",
    "una",
    "urgente",
    "consulta",
    "favor",
    "ayuda",
    "tengo",
    "puedo",
    "hay",
    "ser",
    "son",
    "ya",
    "les",
    "nos",
    "han",
    "fue",
    "the",
];

/// The distinct terms of a subject: folded words of three letters or more, not numbers, not
/// stopwords, not ticket numbers.
pub fn terms(subject: &str) -> Vec<String> {
    let folded = super::text::fold(subject);
    let mut out: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()) && !STOPWORDS.contains(w))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The `limit` terms found in most subjects (ties: alphabetical).
pub fn top_terms<'a>(subjects: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<TermCount> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for subject in subjects {
        for term in terms(subject) {
            *counts.entry(term).or_default() += 1;
        }
    }
    let mut all: Vec<TermCount> = counts.into_iter().map(|(term, tickets)| TermCount { term, tickets }).collect();
    all.sort_by(|a, b| b.tickets.cmp(&a.tickets).then_with(|| a.term.cmp(&b.term)));
    all.truncate(limit);
    all
}

/// Categories by tickets opened in `[from, to)`, with their repeat contacts, FCR and top subject
/// terms. `contacts` should also hold the tickets of the 7 days around the period, which decide
/// repeats at its start and follow-ups at its end. Most tickets first (ties: more repeats, then
/// category id).
pub fn recurring(
    contacts: &[Contact],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    terms_per_row: usize,
) -> Vec<RecurringRow> {
    let window = TimeDelta::days(REPEAT_WINDOW_DAYS);
    // (requester, category) → contact times, sorted.
    let mut history: HashMap<(i64, Option<i64>), Vec<DateTime<Utc>>> = HashMap::new();
    for c in contacts {
        history.entry((c.requester_id, c.category_id)).or_default().push(c.at);
    }
    for times in history.values_mut() {
        times.sort();
    }
    #[derive(Default)]
    struct Acc<'a> {
        tickets: u64,
        requesters: std::collections::BTreeSet<i64>,
        repeats: u64,
        followed: u64,
        subjects: Vec<&'a str>,
    }
    let mut rows: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for c in contacts.iter().filter(|c| c.at >= from && c.at < to) {
        if !seen.insert(c.ticket_id) {
            continue;
        }
        let times = &history[&(c.requester_id, c.category_id)];
        let repeat = times.iter().any(|&t| t < c.at && c.at - t <= window);
        let followed = times.iter().any(|&t| t > c.at && t - c.at <= window);
        let acc = rows.entry(c.category_id).or_default();
        acc.tickets += 1;
        acc.requesters.insert(c.requester_id);
        acc.repeats += u64::from(repeat);
        acc.followed += u64::from(followed);
        acc.subjects.push(&c.subject);
    }
    let mut out: Vec<RecurringRow> = rows
        .into_iter()
        .map(|(category_id, a)| RecurringRow {
            category_id,
            tickets: a.tickets,
            requesters: a.requesters.len() as u64,
            repeat_contacts: a.repeats,
            repeat_rate: percent(a.repeats, a.tickets),
            fcr: percent(a.tickets - a.followed, a.tickets),
            terms: top_terms(a.subjects.iter().copied(), terms_per_row),
        })
        .collect();
    out.sort_by(|a, b| {
        b.tickets
            .cmp(&a.tickets)
            .then(b.repeat_contacts.cmp(&a.repeat_contacts))
            .then(a.category_id.cmp(&b.category_id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crit(key: &str, weight: u32, critical: bool, max: u32) -> Criterion {
        Criterion { key: key.into(), name: key.into(), weight, critical, max }
    }

    fn mark(key: &str, mark: Option<u32>) -> Mark {
        Mark { key: key.into(), mark, comment: None }
    }

    fn card() -> Vec<Criterion> {
        vec![
            crit("saludo", 10, false, 1),
            crit("exactitud", 40, true, 4),
            crit("normativa", 20, true, 1),
            crit("empatia", 20, false, 4),
            crit("cierre", 10, false, 1),
        ]
    }

    #[test]
    fn csat_counts_six_and_seven_as_satisfied() {
        let s = csat_summary([(7, Some(true)), (6, None), (5, Some(false)), (1, Some(true))]);
        assert_eq!(s.responses, 4);
        assert_eq!(s.satisfied, 2);
        assert_eq!(s.csat, Some(50.0));
        assert_eq!(s.average_score, Some(4.75));
        assert_eq!(s.fcr_answers, 3);
        assert_eq!(s.fcr, Some(66.7));
        assert_eq!(csat_summary([]), CsatSummary::default());
        assert_eq!(csat_summary([(6, None)]).fcr, None);
    }

    #[test]
    fn full_marks_score_100_and_weights_apply() {
        let all = |v: [u32; 5]| -> Vec<Mark> {
            ["saludo", "exactitud", "normativa", "empatia", "cierre"]
                .iter()
                .zip(v)
                .map(|(k, m)| mark(k, Some(m)))
                .collect()
        };
        assert_eq!(score(&card(), &all([1, 4, 1, 4, 1])).unwrap().score, 100.0);
        // saludo failed (10) and empatía 2/4 (10 of 20): 80.
        assert_eq!(score(&card(), &all([0, 4, 1, 2, 1])).unwrap().score, 80.0);
        // exactitud 3/4 = 30 of 40; empatía 1/4 = 5 of 20: 10+30+20+5+10 = 75.
        assert_eq!(score(&card(), &all([1, 3, 1, 1, 1])).unwrap().score, 75.0);
        // Thirds round to one decimal.
        let thirds = vec![crit("a", 1, false, 3), crit("b", 2, false, 1)];
        assert_eq!(score(&thirds, &[mark("a", Some(1)), mark("b", Some(1))]).unwrap().score, 77.8);
    }

    #[test]
    fn a_failed_critical_criterion_zeroes_the_score() {
        let marks = vec![
            mark("saludo", Some(1)),
            mark("exactitud", Some(4)),
            mark("normativa", Some(0)),
            mark("empatia", Some(4)),
            mark("cierre", Some(1)),
        ];
        let s = score(&card(), &marks).unwrap();
        assert_eq!(s, Score { score: 0.0, critical_failed: vec!["normativa".into()] });
        // A low but non-zero mark on a graded critical criterion is not a failure.
        let mut partial = marks.clone();
        partial[1].mark = Some(1);
        partial[2].mark = Some(1);
        let s = score(&card(), &partial).unwrap();
        assert_eq!((s.score, s.critical_failed.len()), (70.0, 0));
        // Two failed criticals are both named.
        partial[1].mark = Some(0);
        partial[2].mark = Some(0);
        assert_eq!(score(&card(), &partial).unwrap().critical_failed, ["exactitud", "normativa"]);
    }

    #[test]
    fn not_applicable_criteria_leave_the_weights() {
        let marks = vec![
            mark("saludo", Some(1)),
            mark("exactitud", Some(2)),
            mark("normativa", None),
            mark("empatia", None),
            mark("cierre", Some(0)),
        ];
        // (10 + 20 + 0) / (10 + 40 + 10) = 50 %.
        assert_eq!(score(&card(), &marks).unwrap().score, 50.0);
        let none: Vec<Mark> = card().iter().map(|c| mark(&c.key, None)).collect();
        assert_eq!(score(&card(), &none).unwrap_err()[0].0, "marks");
    }

    #[test]
    fn marks_are_validated_by_field() {
        let marks = vec![
            mark("saludo", Some(2)),
            mark("exactitud", Some(4)),
            mark("exactitud", Some(4)),
            mark("otro", Some(1)),
            mark("empatia", Some(5)),
        ];
        let fields: Vec<String> = score(&card(), &marks).unwrap_err().into_iter().map(|e| e.0).collect();
        assert_eq!(fields, ["marks[0].mark", "marks[2].key", "marks[3].key", "marks[4].mark", "marks", "marks"]);
    }

    #[test]
    fn criteria_are_validated_by_field() {
        assert!(validate_criteria(&card()).is_empty());
        assert_eq!(validate_criteria(&[])[0].0, "criteria");
        let bad = vec![crit("Saludo", 0, false, 1), crit("ok", 5, false, 11), crit("ok", 101, false, 1)];
        let fields: Vec<String> = validate_criteria(&bad).into_iter().map(|e| e.0).collect();
        assert_eq!(
            fields,
            ["criteria[0].key", "criteria[0].weight", "criteria[1].max", "criteria[2].key", "criteria[2].weight"]
        );
        let mut unnamed = card();
        unnamed[0].name = "  ".into();
        assert_eq!(validate_criteria(&unnamed)[0].0, "criteria[0].name");
    }

    #[test]
    fn allocation_is_proportional_with_one_per_channel() {
        assert_eq!(allocate(&[6, 3, 1], 5), [3, 1, 1]);
        assert_eq!(allocate(&[6, 3, 1], 4), [2, 1, 1]);
        assert_eq!(allocate(&[6, 3, 1], 10), [6, 3, 1]);
        assert_eq!(allocate(&[6, 3, 1], 50), [6, 3, 1]);
        // One channel dominating still leaves one for each of the others.
        assert_eq!(allocate(&[98, 1, 1], 3), [1, 1, 1]);
        assert_eq!(allocate(&[98, 1, 1], 10), [8, 1, 1]);
        // Largest remainders: quotas 2.5, 2.5, 1 → the tie goes to the first.
        assert_eq!(allocate(&[5, 5, 2], 6), [3, 2, 1]);
        // Fewer draws than channels: the biggest channels, ties by order.
        assert_eq!(allocate(&[2, 9, 2], 2), [1, 1, 0]);
        assert_eq!(allocate(&[2, 9, 2], 1), [0, 1, 0]);
        assert_eq!(allocate(&[4, 0, 4], 4), [2, 0, 2]);
        assert_eq!(allocate(&[], 4), Vec::<usize>::new());
        assert_eq!(allocate(&[3, 3], 0), [0, 0]);
    }

    #[test]
    fn allocation_always_sums_to_n_within_bounds() {
        for a in 0..7usize {
            for b in 0..7usize {
                for c in 0..7usize {
                    for n in 0..20usize {
                        let counts = [a, b, c];
                        let alloc = allocate(&counts, n);
                        assert_eq!(alloc.iter().sum::<usize>(), n.min(a + b + c), "{counts:?} {n}");
                        assert!(alloc.iter().zip(counts).all(|(x, c)| *x <= c), "{counts:?} {n} {alloc:?}");
                        let present = counts.iter().filter(|&&c| c > 0).count();
                        if n >= present {
                            assert!(alloc.iter().zip(counts).all(|(x, c)| c == 0 || *x >= 1), "{counts:?} {n}");
                        }
                    }
                }
            }
        }
    }

    fn cand(ticket_id: i64, agent_id: i64, channel: &str, csat: Option<u8>) -> Candidate {
        Candidate { ticket_id, agent_id, channel: channel.into(), csat }
    }

    fn pool() -> Vec<Candidate> {
        let mut all = Vec::new();
        for t in 1..=12 {
            all.push(cand(t, 1, if t <= 8 { "email" } else { "phone" }, None));
        }
        for t in 101..=103 {
            all.push(cand(t, 2, "web", None));
        }
        all.push(cand(200, 1, "email", Some(4)));
        all.push(cand(201, 1, "email", Some(5)));
        all.push(cand(202, 2, "web", Some(1)));
        all
    }

    #[test]
    fn sampling_is_stratified_and_adds_every_low_csat() {
        let picks = sample(&pool(), 4, 42);
        let of = |agent: i64, reason: SampleReason| -> Vec<&Pick> {
            picks.iter().filter(|p| p.agent_id == agent && p.reason == reason).collect()
        };
        let random1 = of(1, SampleReason::Random);
        assert_eq!(random1.len(), 4);
        // 9 email (8 + the 5-scored one) and 4 phone: quotas 2.8 and 1.2 → 3 and 1.
        assert_eq!(random1.iter().filter(|p| p.channel == "email").count(), 3);
        assert_eq!(random1.iter().filter(|p| p.channel == "phone").count(), 1);
        let low1: Vec<i64> = of(1, SampleReason::LowCsat).iter().map(|p| p.ticket_id).collect();
        assert_eq!(low1, [200]);
        // Agent 2 has 3 tickets besides the low one: all of them, plus the low one.
        assert_eq!(of(2, SampleReason::Random).len(), 3);
        assert_eq!(of(2, SampleReason::LowCsat)[0].ticket_id, 202);
        // A low-CSAT ticket is never drawn again at random.
        assert!(!random1.iter().any(|p| p.ticket_id == 200));
    }

    #[test]
    fn sampling_is_deterministic_given_the_seed_and_ignores_order() {
        let a = sample(&pool(), 3, 7);
        let mut reversed = pool();
        reversed.reverse();
        assert_eq!(a, sample(&reversed, 3, 7));
        // Some seed draws another set (the draw really depends on it).
        assert!((0..20u64).any(|s| sample(&pool(), 3, s) != a));
        // Duplicated rows count once.
        let mut doubled = pool();
        doubled.extend(pool());
        assert_eq!(sample(&doubled, 3, 7), a);
        // Zero per agent still yields the low-CSAT tickets.
        let only_low = sample(&pool(), 0, 7);
        assert!(only_low.iter().all(|p| p.reason == SampleReason::LowCsat));
        assert_eq!(only_low.len(), 2);
    }

    #[test]
    fn seeds_from_text_are_stable() {
        assert_eq!(seed_from(""), 0xCBF2_9CE4_8422_2325);
        assert_ne!(seed_from("2026-11"), seed_from("2026-12"));
        assert_eq!(mix(1, 2), mix(1, 2));
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_start_on_monday_in_santiago() {
        // Monday 2026-11-30 02:00 UTC is still Sunday 29 in Santiago (UTC-3).
        assert_eq!(week_of(at("2026-11-30T02:00:00Z")), NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(week_of(at("2026-11-30T04:00:00Z")), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(week_of(at("2026-12-06T20:00:00Z")), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    }

    #[test]
    fn weekly_report_puts_quality_next_to_csat_and_sla() {
        let facts = ReportFacts {
            evaluations: vec![
                (Some(1), at("2026-12-01T15:00:00Z"), 80.0),
                (Some(1), at("2026-12-02T15:00:00Z"), 95.0),
                (Some(2), at("2026-12-09T15:00:00Z"), 0.0),
            ],
            csat: vec![
                (Some(1), at("2026-12-01T15:00:00Z"), 7, Some(true)),
                (None, at("2026-12-01T15:00:00Z"), 3, None),
            ],
            solved: vec![(Some(1), at("2026-12-01T15:00:00Z"), 1, 0), (Some(1), at("2026-12-03T15:00:00Z"), 3, 1)],
        };
        let rows = weekly_report(&facts);
        assert_eq!(rows.len(), 3);
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!((rows[0].group, rows[0].week, rows[0].csat.responses), (None, monday, 1));
        let r = &rows[1];
        assert_eq!((r.group, r.week, r.evaluations, r.quality_score), (Some(1), monday, 2, Some(87.5)));
        assert_eq!((r.csat.csat, r.csat.fcr), (Some(100.0), Some(100.0)));
        assert_eq!((r.solved, r.sla_breached, r.sla_compliance), (4, 1, Some(75.0)));
        let r = &rows[2];
        assert_eq!((r.group, r.week.to_string().as_str(), r.quality_score), (Some(2), "2026-12-07", Some(0.0)));
        assert_eq!((r.solved, r.sla_compliance), (0, None));
    }
    fn contact(ticket_id: i64, requester_id: i64, category_id: Option<i64>, at_: &str, subject: &str) -> Contact {
        Contact { ticket_id, requester_id, category_id, at: at(at_), subject: subject.into() }
    }

    #[test]
    fn subject_terms_skip_noise() {
        assert_eq!(
            terms("RE: [AU-2026-000123] No puedo ingresar a Mercado Público"),
            ["ingresar", "mercado", "publico"]
        );
        assert_eq!(terms("Clave bloqueada, clave BLOQUEADA 2026"), ["bloqueada", "clave"]);
        let top = top_terms(["Clave bloqueada", "Olvidé mi clave", "Compra Ágil: error", "compra agil"], 2);
        assert_eq!(
            top,
            [TermCount { term: "agil".into(), tickets: 2 }, TermCount { term: "clave".into(), tickets: 2 }]
        );
    }

    #[test]
    fn repeat_contacts_and_fcr_per_category() {
        let contacts = vec![
            // Before the period: makes ticket 2 a repeat.
            contact(1, 10, Some(1), "2026-11-28T12:00:00Z", "Clave bloqueada"),
            contact(2, 10, Some(1), "2026-12-02T12:00:00Z", "Clave bloqueada otra vez"),
            // Same requester, 8 days later: not a repeat; same day, other category: not either.
            contact(3, 11, Some(1), "2026-12-01T12:00:00Z", "Clave caducada"),
            contact(4, 11, Some(1), "2026-12-09T13:00:00Z", "Clave"),
            contact(5, 11, Some(2), "2026-12-01T13:00:00Z", "Compra Ágil"),
            // Followed within 7 days, after the period: ticket 6 was not resolved at first contact.
            contact(6, 12, None, "2026-12-09T12:00:00Z", "Pago"),
            contact(7, 12, None, "2026-12-12T12:00:00Z", "Pago pendiente"),
        ];
        let rows = recurring(&contacts, at("2026-12-01T00:00:00Z"), at("2026-12-11T00:00:00Z"), 1);
        assert_eq!(rows.len(), 3);
        let r = &rows[0];
        assert_eq!((r.category_id, r.tickets, r.requesters, r.repeat_contacts), (Some(1), 3, 2, 1));
        assert_eq!((r.repeat_rate, r.fcr), (Some(33.3), Some(100.0)));
        assert_eq!(r.terms, [TermCount { term: "clave".into(), tickets: 3 }]);
        // One ticket each: no category sorts before category 2 (None < Some).
        assert_eq!((rows[1].category_id, rows[1].fcr), (None, Some(0.0)));
        assert_eq!((rows[2].category_id, rows[2].repeat_contacts, rows[2].fcr), (Some(2), 0, Some(100.0)));
    }
}
