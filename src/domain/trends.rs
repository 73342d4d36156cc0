//! Trend and spike detection: ticket counts of one hour or one day (America/Santiago) compared
//! with the same hour or day of the same weekday in the previous weeks (the seasonal baseline),
//! per category and per keyword cluster of subjects within a category.
//!
//! The rule, deterministic and explainable: with `h` the counts of the history buckets (weeks in
//! which the service already had tickets), mean `μ`, sample standard deviation `s` and
//! `σ = max(s, √μ)` (never below the Poisson spread, so a perfectly flat history does not alarm
//! at +1), a count `n` is a spike when
//!
//! * `n ≥ min_count` (1 → 3 is not news),
//! * `n > μ + k·σ` (the seasonal band), and
//! * when `μ < POISSON_BELOW` (small counts, where the band is rough): `P(X ≥ n | X ~ Poisson(μ)) < alpha`.
//!
//! The alert's `threshold` is the smallest count that meets all three, so "observed ≥ threshold"
//! is exactly the decision. Without history there is no baseline and no alert.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::{local_day_start, DEFAULT_TIME_ZONE as SANTIAGO};
use super::ticket::{string_enum, UnknownValue};

/// Below this baseline mean the Poisson tail test applies as well.
pub const POISSON_BELOW: f64 = 30.0;
/// Keyword clusters whose ticket sets overlap at least this much (Jaccard) are one cluster.
const SAME_CLUSTER: f64 = 0.5;

string_enum!(
    /// The size of a bucket: one hour or one day, in America/Santiago.
    Granularity { Hour => "hour", Day => "day" }
);

string_enum!(
    /// Which test decided: the seasonal band alone, or the band and the Poisson tail (small counts).
    Method { Seasonal => "seasonal", SeasonalPoisson => "seasonal_poisson" }
);

/// The knobs of the rule (`[trends]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Params {
    /// Weeks of history: the same hour or day of the same weekday in each.
    pub history_weeks: u32,
    /// Width of the seasonal band in standard deviations.
    pub k: f64,
    /// Significance of the Poisson tail test.
    pub alpha: f64,
    /// Fewest tickets in a bucket that may alarm.
    pub min_count: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params { history_weeks: 8, k: 3.0, alpha: 0.01, min_count: 5 }
    }
}

/// A half-open span of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Bucket {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        at >= self.start && at < self.end
    }
}

/// The last complete hour before `at`. Santiago's offsets are whole hours, so its hours start
/// where UTC hours do.
pub fn last_hour(at: DateTime<Utc>) -> Bucket {
    let end = at.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(at);
    Bucket { start: end - TimeDelta::hours(1), end }
}

/// The last complete Santiago day before `at`.
pub fn last_day(at: DateTime<Utc>) -> Bucket {
    let today = at.with_timezone(&SANTIAGO).date_naive();
    day_bucket(today.pred_opt().unwrap_or(today))
}

fn day_bucket(date: NaiveDate) -> Bucket {
    let start = local_day_start(&SANTIAGO, date).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let end = date.succ_opt().and_then(|d| local_day_start(&SANTIAGO, d)).unwrap_or(start);
    Bucket { start, end }
}

/// The local hour starting at `local`, if it exists (not in a spring-forward gap).
fn hour_bucket(local: NaiveDateTime) -> Option<Bucket> {
    let start = SANTIAGO.from_local_datetime(&local).earliest()?.to_utc();
    Some(Bucket { start, end: start + TimeDelta::hours(1) })
}

/// The same hour (or day) of the same weekday in each of the `weeks` previous weeks, oldest
/// first. Hours that do not exist that week (the DST gap) are left out.
pub fn history(bucket: Bucket, granularity: Granularity, weeks: u32) -> Vec<Bucket> {
    let local = bucket.start.with_timezone(&SANTIAGO).naive_local();
    (1..=i64::from(weeks))
        .rev()
        .filter_map(|w| {
            let then = local - TimeDelta::weeks(w);
            match granularity {
                Granularity::Hour => hour_bucket(then),
                Granularity::Day => Some(day_bucket(then.date())),
            }
        })
        .collect()
}

/// `P(X ≥ n)` for `X ~ Poisson(lambda)`.
pub fn poisson_tail(n: u64, lambda: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    // pmf(i) in logs, so large counts do not overflow.
    let ln_fact = |i: u64| (2..=i).map(|j| (j as f64).ln()).sum::<f64>();
    let pmf = |i: u64| ((i as f64) * lambda.ln() - lambda - ln_fact(i)).exp();
    if (n as f64) <= lambda {
        // The lower part is the smaller sum here.
        let mut term = (-lambda).exp();
        let mut below = 0.0;
        for i in 0..n {
            below += term;
            term *= lambda / (i + 1) as f64;
        }
        return (1.0 - below).clamp(0.0, 1.0);
    }
    let mut term = pmf(n);
    let mut sum = 0.0;
    let mut i = n;
    while term > sum * 1e-17 && term > 0.0 {
        sum += term;
        i += 1;
        term *= lambda / i as f64;
    }
    sum.clamp(0.0, 1.0)
}

/// The verdict on one count and its history, with everything needed to explain it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Evaluation {
    pub observed: u64,
    /// Counts of the history buckets, oldest first.
    pub history: Vec<u64>,
    pub baseline_mean: f64,
    /// The standard deviation used: `max(sample σ, √mean)`.
    pub baseline_sigma: f64,
    /// Smallest count that is a spike.
    pub threshold: u64,
    /// `P(X ≥ observed)` under Poisson(mean).
    pub p_value: f64,
    pub method: Method,
    pub spike: bool,
}

/// Judges `observed` against `history`; `None` without history (no baseline, no alert).
pub fn evaluate(observed: u64, history: &[u64], params: &Params) -> Option<Evaluation> {
    if history.is_empty() {
        return None;
    }
    let n = history.len() as f64;
    let mean = history.iter().sum::<u64>() as f64 / n;
    let sample = if history.len() > 1 {
        (history.iter().map(|&h| (h as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let sigma = sample.max(mean.sqrt());
    let method = if mean < POISSON_BELOW { Method::SeasonalPoisson } else { Method::Seasonal };
    let band = mean + params.k * sigma;
    // The smallest integer above the band, then up until the tail test passes too.
    let mut threshold = ((band.floor() as u64) + 1).max(params.min_count).max(1);
    if method == Method::SeasonalPoisson {
        while poisson_tail(threshold, mean) >= params.alpha {
            threshold += 1;
        }
    }
    Some(Evaluation {
        observed,
        history: history.to_vec(),
        baseline_mean: mean,
        baseline_sigma: sigma,
        threshold,
        p_value: poisson_tail(observed, mean),
        method,
        spike: observed >= threshold,
    })
}

/// A ticket as detection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub ticket_id: i64,
    pub category_id: i64,
    pub subject: String,
}

/// A spike found in one bucket: of a whole category (`keyword == None`), or of a keyword
/// cluster within it, whose other terms are `related`.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub category_id: i64,
    pub keyword: Option<String>,
    pub related: Vec<String>,
    pub evaluation: Evaluation,
    /// The bucket's tickets behind the count: the evidence.
    pub ticket_ids: Vec<i64>,
}

/// The keywords of a subject: folded, without Spanish stopwords (see [`super::quality::terms`]).
pub fn keywords(subject: &str) -> Vec<String> {
    super::quality::terms(subject)
}

/// Spikes in `current` (the bucket's tickets) against `history` (the tickets of each history
/// bucket). A category that spikes is reported once, with its top keywords as `related`;
/// keyword clusters are looked at only in categories that did not spike as a whole, so one
/// event raises one alert. Sorted by category, then keyword.
pub fn detect(current: &[Item], history: &[Vec<Item>], params: &Params) -> Vec<Finding> {
    let mut by_category: BTreeMap<i64, Vec<&Item>> = BTreeMap::new();
    for item in current {
        by_category.entry(item.category_id).or_default().push(item);
    }
    let mut findings = Vec::new();
    for (category, items) in by_category {
        // The keywords of each past ticket of the category, extracted once.
        let past: Vec<Vec<Vec<String>>> = history
            .iter()
            .map(|bucket| bucket.iter().filter(|i| i.category_id == category).map(|i| keywords(&i.subject)).collect())
            .collect();
        let counts: Vec<u64> = past.iter().map(|b| b.len() as u64).collect();
        let Some(evaluation) = evaluate(items.len() as u64, &counts, params) else { continue };
        let terms = term_sets(&items);
        if evaluation.spike {
            let mut top: Vec<(&String, usize)> = terms.iter().map(|(t, ids)| (t, ids.len())).collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            findings.push(Finding {
                category_id: category,
                keyword: None,
                related: top.into_iter().take(5).map(|(t, _)| t.clone()).collect(),
                evaluation,
                ticket_ids: sorted(items.iter().map(|i| i.ticket_id)),
            });
            continue;
        }
        findings.extend(keyword_spikes(category, &terms, &past, params));
    }
    findings
}

fn sorted(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let set: BTreeSet<i64> = ids.collect();
    set.into_iter().collect()
}

/// Each keyword of the items and the tickets that carry it.
fn term_sets(items: &[&Item]) -> BTreeMap<String, BTreeSet<i64>> {
    let mut terms: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for item in items {
        for term in keywords(&item.subject) {
            terms.entry(term).or_default().insert(item.ticket_id);
        }
    }
    terms
}

/// The spiking keywords of one category, merged into clusters: terms that mostly name the same
/// tickets ("orden", "compra", "emitir" in "Error al emitir orden de compra") are one alert,
/// named after the term with most tickets (ties: alphabetical).
fn keyword_spikes(
    category: i64,
    terms: &BTreeMap<String, BTreeSet<i64>>,
    past: &[Vec<Vec<String>>],
    params: &Params,
) -> Vec<Finding> {
    let mut spiking: Vec<(&String, &BTreeSet<i64>, Evaluation)> = terms
        .iter()
        .filter(|(_, ids)| ids.len() as u64 >= params.min_count)
        .filter_map(|(term, ids)| {
            let counts: Vec<u64> =
                past.iter().map(|bucket| bucket.iter().filter(|terms| terms.contains(term)).count() as u64).collect();
            let evaluation = evaluate(ids.len() as u64, &counts, params)?;
            evaluation.spike.then_some((term, ids, evaluation))
        })
        .collect();
    spiking.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    let mut taken = vec![false; spiking.len()];
    let mut findings = Vec::new();
    for i in 0..spiking.len() {
        if taken[i] {
            continue;
        }
        let (term, ids, evaluation) = &spiking[i];
        let mut related = Vec::new();
        for j in i + 1..spiking.len() {
            if !taken[j] && jaccard(ids, spiking[j].1) >= SAME_CLUSTER {
                taken[j] = true;
                related.push(spiking[j].0.clone());
            }
        }
        related.sort();
        findings.push(Finding {
            category_id: category,
            keyword: Some((*term).clone()),
            related,
            evaluation: evaluation.clone(),
            ticket_ids: ids.iter().copied().collect(),
        });
    }
    findings.sort_by(|a, b| a.keyword.cmp(&b.keyword));
    findings
}

fn jaccard(a: &BTreeSet<i64>, b: &BTreeSet<i64>) -> f64 {
    let both = a.intersection(b).count() as f64;
    let either = a.union(b).count() as f64;
    if either == 0.0 {
        0.0
    } else {
        both / either
    }
}

/// The bucket as people read it: "miércoles 18-11-2026 15:00–16:00" or "martes 17-11-2026".
pub fn bucket_label(bucket: Bucket, granularity: Granularity) -> String {
    const DAYS: [&str; 7] = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"];
    use chrono::Datelike;
    let start = bucket.start.with_timezone(&SANTIAGO);
    let day = DAYS[start.weekday().num_days_from_monday() as usize];
    match granularity {
        Granularity::Hour => {
            let end = bucket.end.with_timezone(&SANTIAGO);
            format!("{day} {} {}–{}", start.format("%d-%m-%Y"), start.format("%H:%M"), end.format("%H:%M"))
        }
        Granularity::Day => format!("{day} {}", start.format("%d-%m-%Y")),
    }
}

/// One sentence, in Spanish, that explains the decision.
pub fn explain(e: &Evaluation, granularity: Granularity, bucket: Bucket) -> String {
    let same = match granularity {
        Granularity::Hour => "la misma hora del mismo día de la semana",
        Granularity::Day => "el mismo día de la semana",
    };
    let poisson = match e.method {
        Method::SeasonalPoisson => format!(" y probabilidad de Poisson P(X ≥ {}) = {:.2e}", e.observed, e.p_value),
        Method::Seasonal => String::new(),
    };
    format!(
        "{}: {} tickets frente a un promedio de {:.1} (σ = {:.1}) en {same} de las últimas {} semanas; \
         umbral de alerta {} tickets{poisson}.",
        bucket_label(bucket, granularity),
        e.observed,
        e.baseline_mean,
        e.baseline_sigma,
        e.history.len(),
        e.threshold,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn item(ticket_id: i64, category_id: i64, subject: &str) -> Item {
        Item { ticket_id, category_id, subject: subject.into() }
    }

    /// `n` tickets of `category` with `subject`, ids from `first`.
    fn items(first: i64, n: usize, category: i64, subject: &str) -> Vec<Item> {
        (0..n).map(|i| item(first + i as i64, category, subject)).collect()
    }

    #[test]
    fn buckets_are_the_last_complete_hour_and_day_in_santiago() {
        // 16:05 in Santiago (UTC−3 in summer).
        let now = at("2026-11-18T19:05:00Z");
        assert_eq!(last_hour(now), Bucket { start: at("2026-11-18T18:00:00Z"), end: at("2026-11-18T19:00:00Z") });
        assert_eq!(last_day(now), Bucket { start: at("2026-11-17T03:00:00Z"), end: at("2026-11-18T03:00:00Z") });
        // 00:30 local on the 18th is still the 17th in UTC: yesterday is the 17th locally.
        assert_eq!(last_day(at("2026-11-18T03:30:00Z")).start, at("2026-11-17T03:00:00Z"));
        assert_eq!(bucket_label(last_hour(now), Granularity::Hour), "miércoles 18-11-2026 15:00–16:00");
        assert_eq!(bucket_label(last_day(now), Granularity::Day), "martes 17-11-2026");
    }

    #[test]
    fn history_is_the_same_local_hour_of_the_same_weekday_across_dst() {
        let bucket = last_hour(at("2026-09-16T14:30:00Z")); // Wednesday 10:00–11:00 local, UTC−3
        let past = history(bucket, Granularity::Hour, 3);
        // 2 and 9 September were still UTC−4: the same local hour is an hour later in UTC.
        assert_eq!(
            past.iter().map(|b| b.start).collect::<Vec<_>>(),
            [at("2026-08-26T14:00:00Z"), at("2026-09-02T14:00:00Z"), at("2026-09-09T13:00:00Z")]
        );
        let days = history(last_day(at("2026-11-18T19:05:00Z")), Granularity::Day, 2);
        assert_eq!(days[1], Bucket { start: at("2026-11-10T03:00:00Z"), end: at("2026-11-11T03:00:00Z") });
        // Midnight of 6 September does not exist in Santiago: the day starts at 01:00.
        let dst = history(day_bucket(NaiveDate::from_ymd_opt(2026, 9, 13).unwrap()), Granularity::Day, 1);
        assert_eq!(dst[0].start, at("2026-09-06T04:00:00Z"));
        assert_eq!(dst[0].end - dst[0].start, TimeDelta::hours(23));
    }

    #[test]
    fn poisson_tail_matches_known_values() {
        assert_eq!(poisson_tail(0, 3.0), 1.0);
        assert_eq!(poisson_tail(1, 0.0), 0.0);
        assert!((poisson_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        // P(X ≥ 10 | λ = 4) = 0.00813, P(X ≥ 9 | λ = 4) = 0.02136.
        assert!((poisson_tail(10, 4.0) - 0.008_132).abs() < 1e-5);
        assert!((poisson_tail(9, 4.0) - 0.021_363).abs() < 1e-5);
        // Both branches agree around the mean, and large counts do not overflow.
        assert!((poisson_tail(50, 50.0) - 0.518_81).abs() < 1e-4);
        assert!((poisson_tail(51, 50.0) - 0.462_48).abs() < 1e-4);
        assert!(poisson_tail(2_000, 1_000.0) < 1e-100);
    }

    #[test]
    fn an_injected_spike_is_detected_with_its_explanation() {
        let e = evaluate(20, &[3, 4, 5, 4, 3, 5, 4, 4], &Params::default()).unwrap();
        assert!(e.spike);
        assert_eq!(e.baseline_mean, 4.0);
        // σ: the sample deviation (0.76) is below √4, so 2 is used; band 4 + 3·2 = 10.
        assert_eq!(e.baseline_sigma, 2.0);
        assert_eq!(e.method, Method::SeasonalPoisson);
        // 11 is the first count above the band, and P(X ≥ 11 | 4) = 0.0028 < 0.01.
        assert_eq!(e.threshold, 11);
        assert!(e.p_value < 1e-6);
        let text = explain(&e, Granularity::Hour, last_hour(at("2026-11-18T19:05:00Z")));
        assert!(text.contains("20 tickets frente a un promedio de 4.0 (σ = 2.0)"), "{text}");
        assert!(text.contains("umbral de alerta 11 tickets"), "{text}");
        assert!(!evaluate(10, &[3, 4, 5, 4, 3, 5, 4, 4], &Params::default()).unwrap().spike);
    }

    #[test]
    fn a_normal_monday_peak_is_not_a_spike() {
        // Mondays at 10:00 always bring about 60 tickets; other days bring 5.
        let mondays = [58, 61, 64, 57, 60, 62, 59, 63];
        let e = evaluate(66, &mondays, &Params::default()).unwrap();
        assert_eq!(e.method, Method::Seasonal);
        assert!(!e.spike, "{e:?}");
        // The seasonal threshold is far above what any other day's baseline would give.
        assert!(e.threshold > 80, "{e:?}");
        assert!(evaluate(66, &[5; 8], &Params::default()).unwrap().spike);
    }

    #[test]
    fn small_counts_need_the_minimum_and_the_poisson_tail() {
        let p = Params::default();
        // 1 → 3: far above a mean of 1, but below the minimum count.
        let e = evaluate(3, &[1, 1, 0, 1, 2, 1, 0, 1], &p).unwrap();
        assert!(!e.spike);
        assert!(e.threshold >= 5);
        // A flat history does not alarm at +1: σ is at least √mean.
        assert!(!evaluate(7, &[6; 8], &p).unwrap().spike);
        // A category that never had tickets at that hour alarms at the minimum count.
        let e = evaluate(5, &[0; 8], &p).unwrap();
        assert!(e.spike);
        assert_eq!((e.threshold, e.p_value), (5, 0.0));
        // A stricter alpha raises the threshold.
        let strict = Params { alpha: 0.0001, ..p };
        let loose = evaluate(0, &[2; 8], &p).unwrap().threshold;
        assert!(evaluate(0, &[2; 8], &strict).unwrap().threshold > loose);
        // At the threshold both tests pass.
        let e = evaluate(0, &[2, 3, 2, 1, 2, 3, 2, 1], &p).unwrap();
        assert!(poisson_tail(e.threshold, e.baseline_mean) < p.alpha);
        assert!(e.threshold as f64 > e.baseline_mean + p.k * e.baseline_sigma);
    }

    #[test]
    fn no_history_means_no_alert() {
        assert_eq!(evaluate(100, &[], &Params::default()), None);
        assert!(detect(&items(1, 50, 7, "Caída del sistema"), &[], &Params::default()).is_empty());
        // A single week of history is a baseline (σ from Poisson).
        assert!(evaluate(100, &[2], &Params::default()).unwrap().spike);
    }

    #[test]
    fn keywords_are_folded_without_stopwords() {
        assert_eq!(keywords("Consulta: ERROR al emitir la Orden de Compra"), ["compra", "emitir", "error", "orden"]);
        assert_eq!(keywords("Clave única bloqueada, ¿cómo la recupero?"), ["bloqueada", "clave", "recupero", "unica"]);
        assert!(keywords("Re: Fwd: hola 12345").is_empty());
    }

    /// Eight weeks of one category with varied subjects, `per_week` tickets each.
    fn calm_history(category: i64, per_week: usize) -> Vec<Vec<Item>> {
        let subjects = ["Clave bloqueada", "Cómo ofertar", "Estado de mi pago", "Cambio de administrador"];
        (0..8)
            .map(|w| {
                (0..per_week)
                    .map(|i| item(1_000 * (w + 1) + i as i64, category, subjects[i % subjects.len()]))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_category_spike_is_one_finding_with_its_top_keywords() {
        let mut current = items(1, 18, 3, "Error al emitir orden de compra");
        current.extend(items(100, 2, 3, "Clave bloqueada"));
        current.extend(items(200, 2, 4, "Clave bloqueada"));
        let mut history = calm_history(3, 4);
        history.iter_mut().for_each(|week| week.extend(items(9_000, 2, 4, "Clave bloqueada")));
        let found = detect(&current, &history, &Params::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].category_id, found[0].keyword.as_deref()), (3, None));
        assert_eq!(found[0].evaluation.observed, 20);
        assert_eq!(found[0].ticket_ids.len(), 20);
        assert_eq!(found[0].related[..4], ["compra", "emitir", "error", "orden"]);
    }

    #[test]
    fn a_keyword_spike_inside_a_busy_category_is_one_clustered_finding() {
        // A category with 60 tickets an hour, where "licencia" normally appears once or twice.
        let history: Vec<Vec<Item>> = (0..8)
            .map(|w| {
                let mut week = items(w * 1_000, 58 + (w as usize % 3), 5, "Cómo ofertar en licitación");
                week.extend(items(w * 1_000 + 500, 1 + (w as usize % 2), 5, "Licencia médica del administrador"));
                week
            })
            .collect();
        let mut current = items(1, 55, 5, "Cómo ofertar en licitación");
        current.extend(items(100, 9, 5, "Licencia médica rechazada administrador"));
        let found = detect(&current, &history, &Params::default());
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        // "licencia", "medica" and "administrador" name the same tickets: one cluster.
        assert_eq!(f.keyword.as_deref(), Some("administrador"));
        assert!(f.related.contains(&"licencia".to_owned()) && f.related.contains(&"medica".to_owned()), "{f:?}");
        assert_eq!(f.ticket_ids, (100..109).collect::<Vec<_>>());
        assert_eq!(f.evaluation.observed, 9);
    }

    #[test]
    fn the_same_counts_give_the_same_findings() {
        let current = items(1, 20, 3, "Caída del portal");
        let history = calm_history(3, 4);
        let a = detect(&current, &history, &Params::default());
        let mut reversed = current.clone();
        reversed.reverse();
        assert_eq!(a, detect(&reversed, &history, &Params::default()));
    }
}
