//! Contact-center KPIs over counters of one window, and Erlang C staffing. Pure formulas: the
//! counters are gathered elsewhere, so dashboards, reports and the planner share one definition
//! of each figure. Where the industry uses several variants, the one used here is named.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Counters of one window (a queue, a channel or everything; 15/30/60 min or today).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Counters {
    /// Contacts that entered the queue.
    pub queued: u64,
    pub answered: u64,
    /// Answered within the answer target T (default 20 s).
    pub answered_within_target: u64,
    /// Abandoned while waiting, including short abandons.
    pub abandoned: u64,
    /// Abandoned before the short-abandon threshold S (default 5 s): wrong numbers and the like.
    pub short_abandoned: u64,
    /// Total wait of answered contacts.
    pub wait_seconds_total: u64,
    pub handled: u64,
    /// Talk + hold + after-call work of handled contacts.
    pub handle_seconds_total: u64,
    pub created: u64,
    pub solved: u64,
    pub replies: u64,
    pub sla_met: u64,
    pub sla_breached: u64,
}

impl Counters {
    /// Field-wise (saturating) sum, to roll intervals up into longer windows or queues into totals.
    /// Ratios are recomputed from the summed counters, never averaged.
    pub fn add(&mut self, other: &Counters) {
        // Destructured so that a new field cannot be forgotten here.
        let Counters {
            queued,
            answered,
            answered_within_target,
            abandoned,
            short_abandoned,
            wait_seconds_total,
            handled,
            handle_seconds_total,
            created,
            solved,
            replies,
            sla_met,
            sla_breached,
        } = other;
        let sum = |mine: &mut u64, theirs: &u64| *mine = mine.saturating_add(*theirs);
        sum(&mut self.queued, queued);
        sum(&mut self.answered, answered);
        sum(&mut self.answered_within_target, answered_within_target);
        sum(&mut self.abandoned, abandoned);
        sum(&mut self.short_abandoned, short_abandoned);
        sum(&mut self.wait_seconds_total, wait_seconds_total);
        sum(&mut self.handled, handled);
        sum(&mut self.handle_seconds_total, handle_seconds_total);
        sum(&mut self.created, created);
        sum(&mut self.solved, solved);
        sum(&mut self.replies, replies);
        sum(&mut self.sla_met, sla_met);
        sum(&mut self.sla_breached, sla_breached);
    }

    /// Service level, variant "short abandons excluded": answered within T ÷ (answered + abandoned
    /// − short abandons). Abandons after S count against it, whether or not they waited longer than
    /// T (unlike Amazon Connect, which counts abandoned-within-T as met). `None` when the
    /// denominator is 0.
    pub fn service_level(&self) -> Option<f64> {
        let offered = self.answered.saturating_add(self.abandoned).saturating_sub(self.short_abandoned);
        ratio(self.answered_within_target, offered)
    }

    /// Average speed of answer: total wait of answered ÷ answered. Abandoned contacts' waits are
    /// not included. `None` when nothing was answered.
    pub fn asa_seconds(&self) -> Option<f64> {
        ratio(self.wait_seconds_total, self.answered)
    }

    /// Average handle time: (talk + hold + after-call work) ÷ handled. `None` when nothing was handled.
    pub fn aht_seconds(&self) -> Option<f64> {
        ratio(self.handle_seconds_total, self.handled)
    }

    /// Abandonment rate, variant "short abandons excluded from both sides": (abandoned − short
    /// abandons) ÷ (queued − short abandons), so wrong numbers hung up within S do not inflate it.
    /// `None` when the denominator is 0.
    pub fn abandonment_rate(&self) -> Option<f64> {
        ratio(self.abandoned.saturating_sub(self.short_abandoned), self.queued.saturating_sub(self.short_abandoned))
    }

    /// SLA compliance of tickets: met ÷ (met + breached); clocks still running are not counted.
    /// `None` when nothing was met or breached.
    pub fn sla_compliance(&self) -> Option<f64> {
        ratio(self.sla_met, self.sla_met.saturating_add(self.sla_breached))
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Occupancy = handling time ÷ (handling time + available idle time); None if both are 0.
/// Time in breaks or other unavailable states is in neither term.
pub fn occupancy(handling_seconds: u64, idle_seconds: u64) -> Option<f64> {
    let total = handling_seconds as f64 + idle_seconds as f64;
    (total > 0.0).then(|| handling_seconds as f64 / total)
}

/// Nearest-rank percentile (p in 0..=100) of unsorted samples; None if empty.
/// The value at rank ⌈p/100 · n⌉ (at least 1) of the sorted samples, so it is always an observed
/// value, never interpolated. p above 100 is read as 100.
pub fn percentile(samples: &[u64], p: u8) -> Option<u64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let rank = (usize::from(p.min(100)) * n).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// Erlang B blocking probability by the stable recursion B0 = 1, Bk = A·B(k−1) / (k + A·B(k−1)).
/// Every step stays in [0, 1], so large N neither overflows nor loses precision as factorials would.
pub fn erlang_b(agents: u32, traffic: f64) -> f64 {
    (1..=agents).fold(1.0, |b, k| next_erlang_b(b, k, traffic))
}

/// One step of the Erlang B recursion: B(k) from B(k−1).
fn next_erlang_b(previous: f64, k: u32, traffic: f64) -> f64 {
    let ab = traffic * previous;
    ab / (f64::from(k) + ab)
}

/// Probability that a contact waits (Erlang C): Pw = N·B / (N − A·(1 − B)); 1.0 when N ≤ A (unstable queue).
pub fn erlang_c(agents: u32, traffic: f64) -> f64 {
    erlang_c_from_b(agents, traffic, erlang_b(agents, traffic))
}

fn erlang_c_from_b(agents: u32, traffic: f64, b: f64) -> f64 {
    let n = f64::from(agents);
    if n <= traffic {
        return 1.0;
    }
    n * b / (n - traffic * (1.0 - b))
}

/// Share answered within `answer_secs`: 1 − Pw·e^(−(N−A)·T/AHT); 0.0 when N ≤ A.
/// Erlang C assumes nobody abandons, so this is pessimistic when callers hang up.
pub fn service_level(agents: u32, traffic: f64, aht_secs: f64, answer_secs: f64) -> f64 {
    service_level_from_pw(agents, traffic, aht_secs, answer_secs, erlang_c(agents, traffic))
}

fn service_level_from_pw(agents: u32, traffic: f64, aht_secs: f64, answer_secs: f64, pw: f64) -> f64 {
    let n = f64::from(agents);
    if n <= traffic {
        return 0.0;
    }
    1.0 - pw * (-(n - traffic) * answer_secs / aht_secs).exp()
}

/// Average speed of answer: Pw·AHT/(N−A); f64::INFINITY when N ≤ A.
pub fn asa_seconds(agents: u32, traffic: f64, aht_secs: f64) -> f64 {
    asa_from_pw(agents, traffic, aht_secs, erlang_c(agents, traffic))
}

fn asa_from_pw(agents: u32, traffic: f64, aht_secs: f64, pw: f64) -> f64 {
    let n = f64::from(agents);
    if n <= traffic {
        return f64::INFINITY;
    }
    pw * aht_secs / (n - traffic)
}

/// Upper bound of the staffing search, so absurd inputs fail instead of looping for ever.
pub const MAX_AGENTS: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffingInput {
    /// Contacts arriving in the interval.
    pub arrivals: f64,
    pub interval_secs: f64,
    pub aht_secs: f64,
    /// e.g. 0.8 for 80 %.
    pub target_service_level: f64,
    /// T in "answered within T seconds", e.g. 20.
    pub answer_secs: f64,
    /// e.g. 0.85; the staffing also keeps traffic/agents ≤ this.
    pub max_occupancy: f64,
    /// Share of paid time not available for contacts (breaks, training), e.g. 0.3.
    pub shrinkage: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Staffing {
    /// Offered traffic in Erlangs: arrivals × AHT ÷ interval.
    pub traffic: f64,
    /// Agents needed on the phones.
    pub agents: u32,
    /// Agents to schedule: agents ÷ (1 − shrinkage), rounded up.
    pub scheduled: u32,
    pub probability_of_waiting: f64,
    pub service_level: f64,
    pub asa_seconds: f64,
    /// Traffic ÷ agents.
    pub occupancy: f64,
}

/// Smallest N with service level ≥ target and occupancy ≤ max (0 agents when there are no arrivals).
/// Errors (Spanish messages with the field name) for non-finite or out-of-range inputs:
/// arrivals < 0, interval ≤ 0, aht ≤ 0, target not in (0, 1), answer_secs < 0, max_occupancy not in (0, 1], shrinkage not in [0, 1).
/// All errors are reported at once. Also an error (on `arrivals`) when more than [`MAX_AGENTS`] would be needed.
///
/// With no arrivals nobody waits: 0 agents, probability of waiting 0, service level 1, ASA 0, occupancy 0.
pub fn staffing(input: &StaffingInput) -> Result<Staffing, Vec<(String, String)>> {
    validate(input)?;
    let traffic = input.arrivals * input.aht_secs / input.interval_secs;
    if traffic == 0.0 {
        return Ok(Staffing {
            traffic,
            agents: 0,
            scheduled: 0,
            probability_of_waiting: 0.0,
            service_level: 1.0,
            asa_seconds: 0.0,
            occupancy: 0.0,
        });
    }
    let too_many = || {
        vec![("arrivals".to_owned(), format!("un tráfico de {traffic:.1} Erlang exige más de {MAX_AGENTS} agentes"))]
    };
    if !traffic.is_finite() || traffic >= f64::from(MAX_AGENTS) {
        return Err(too_many());
    }
    // Fewer agents than this are unstable (N ≤ A) or exceed the occupancy cap; both bounds are
    // below MAX_AGENTS because traffic is and max_occupancy ≤ 1 (checked again below anyway).
    let stable = traffic.floor() as u32 + 1;
    let by_occupancy = (traffic / input.max_occupancy).ceil().min(f64::from(MAX_AGENTS)) as u32;
    let mut agents = stable.max(by_occupancy).max(1);
    // B(N) is carried from one candidate to the next, so the search is linear in N.
    let mut b = erlang_b(agents, traffic);
    loop {
        let pw = erlang_c_from_b(agents, traffic, b);
        let sl = service_level_from_pw(agents, traffic, input.aht_secs, input.answer_secs, pw);
        let occupancy = traffic / f64::from(agents);
        if sl >= input.target_service_level && occupancy <= input.max_occupancy {
            return Ok(Staffing {
                traffic,
                agents,
                scheduled: scheduled(agents, input.shrinkage),
                probability_of_waiting: pw,
                service_level: sl,
                asa_seconds: asa_from_pw(agents, traffic, input.aht_secs, pw),
                occupancy,
            });
        }
        if agents >= MAX_AGENTS {
            return Err(too_many());
        }
        agents += 1;
        b = next_erlang_b(b, agents, traffic);
    }
}

/// agents ÷ (1 − shrinkage) rounded up; the tolerance keeps float noise (20.000000000000004)
/// from adding a whole agent.
fn scheduled(agents: u32, shrinkage: f64) -> u32 {
    let raw = f64::from(agents) / (1.0 - shrinkage);
    (raw - 1e-9).ceil().max(f64::from(agents)) as u32
}

fn validate(input: &StaffingInput) -> Result<(), Vec<(String, String)>> {
    let checks: [(&str, f64, bool, &str); 7] = [
        ("arrivals", input.arrivals, input.arrivals >= 0.0, "debe ser un número mayor o igual que 0"),
        ("interval_secs", input.interval_secs, input.interval_secs > 0.0, "debe ser un número mayor que 0"),
        ("aht_secs", input.aht_secs, input.aht_secs > 0.0, "debe ser un número mayor que 0"),
        (
            "target_service_level",
            input.target_service_level,
            input.target_service_level > 0.0 && input.target_service_level < 1.0,
            "debe estar entre 0 y 1, sin incluirlos (p. ej. 0.8)",
        ),
        ("answer_secs", input.answer_secs, input.answer_secs >= 0.0, "debe ser un número mayor o igual que 0"),
        (
            "max_occupancy",
            input.max_occupancy,
            input.max_occupancy > 0.0 && input.max_occupancy <= 1.0,
            "debe ser mayor que 0 y a lo más 1 (p. ej. 0.85)",
        ),
        (
            "shrinkage",
            input.shrinkage,
            input.shrinkage >= 0.0 && input.shrinkage < 1.0,
            "debe ser al menos 0 y menor que 1 (p. ej. 0.3)",
        ),
    ];
    let errors: Vec<(String, String)> = checks
        .into_iter()
        .filter(|(_, value, in_range, _)| !value.is_finite() || !in_range)
        .map(|(field, _, _, message)| (field.to_owned(), message.to_owned()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!((actual - expected).abs() <= tolerance, "{actual} is not within {tolerance} of {expected}");
    }

    /// 100 calls per 30 min with AHT 180 s: 10 Erlangs.
    fn published() -> StaffingInput {
        StaffingInput {
            arrivals: 100.0,
            interval_secs: 1800.0,
            aht_secs: 180.0,
            target_service_level: 0.8,
            answer_secs: 20.0,
            max_occupancy: 1.0,
            shrinkage: 0.0,
        }
    }

    #[test]
    fn erlang_b_matches_the_recursion_by_hand() {
        close(erlang_b(0, 10.0), 1.0, 1e-12);
        // B1 = 1·1 / (1 + 1) = 0.5.
        close(erlang_b(1, 1.0), 0.5, 1e-12);
        // B1 = 2 / 3; B2 = 2·(2/3) / (2 + 4/3) = 0.4.
        close(erlang_b(2, 2.0), 0.4, 1e-12);
        // A = 10, N = 14, carrying the recursion step by step.
        let mut b = 1.0;
        for k in 1..=14 {
            b = 10.0 * b / (f64::from(k) + 10.0 * b);
        }
        close(erlang_b(14, 10.0), b, 1e-12);
        close(erlang_b(14, 10.0), 0.0568, 0.0001);
        // Large N does not overflow.
        let large = erlang_b(20_000, 19_000.0);
        assert!(large.is_finite() && (0.0..1.0).contains(&large), "{large}");
    }

    #[test]
    fn published_check_with_14_agents() {
        let input = published();
        let traffic = input.arrivals * input.aht_secs / input.interval_secs;
        close(traffic, 10.0, 1e-12);
        close(erlang_c(14, traffic), 0.1741, 0.0005);
        close(service_level(14, traffic, 180.0, 20.0), 0.888, 0.001);
        close(asa_seconds(14, traffic, 180.0), 7.84, 0.01);
    }

    #[test]
    fn staffing_for_80_in_20_seconds() {
        // The brief expected 13 agents, but the math says 14: with 13 agents Pw ≈ 0.2853 and
        // SL = 1 − 0.2853·e^(−3·20/180) ≈ 0.7956 < 0.8; with 14 it is ≈ 0.8884.
        close(service_level(12, 10.0, 180.0, 20.0), 0.6402, 0.0001);
        close(service_level(13, 10.0, 180.0, 20.0), 0.7956, 0.0001);
        let s = staffing(&published()).unwrap();
        assert_eq!((s.agents, s.scheduled), (14, 14));
        close(s.traffic, 10.0, 1e-12);
        close(s.probability_of_waiting, 0.1741, 0.0005);
        close(s.service_level, 0.888, 0.001);
        close(s.asa_seconds, 7.84, 0.01);
        close(s.occupancy, 10.0 / 14.0, 1e-12);

        // With 30 % shrinkage: ceil(14 / 0.7) = 20, not 21 from float noise.
        let s = staffing(&StaffingInput { shrinkage: 0.3, ..published() }).unwrap();
        assert_eq!((s.agents, s.scheduled), (14, 20));
        let s = staffing(&StaffingInput { shrinkage: 0.25, ..published() }).unwrap();
        assert_eq!(s.scheduled, 19); // 14 / 0.75 = 18.67
    }

    #[test]
    fn unstable_queue_when_agents_do_not_exceed_traffic() {
        for agents in [0, 5, 10] {
            assert_eq!(erlang_c(agents, 10.0), 1.0);
            assert_eq!(service_level(agents, 10.0, 180.0, 20.0), 0.0);
            assert_eq!(asa_seconds(agents, 10.0, 180.0), f64::INFINITY);
        }
        assert!(erlang_c(11, 10.0) < 1.0);
    }

    #[test]
    fn max_occupancy_forces_more_agents_than_service_level() {
        // A 30 % target is met by 11 agents (SL ≈ 0.39), but 10/11 ≈ 0.91 occupancy.
        let loose = StaffingInput { target_service_level: 0.3, ..published() };
        assert_eq!(staffing(&loose).unwrap().agents, 11);
        let capped = staffing(&StaffingInput { max_occupancy: 0.85, ..loose }).unwrap();
        // 10/12 ≈ 0.833 ≤ 0.85.
        assert_eq!(capped.agents, 12);
        assert!(capped.occupancy <= 0.85);
        assert!(capped.service_level > 0.6);
    }

    #[test]
    fn no_arrivals_needs_no_agents() {
        let s = staffing(&StaffingInput { arrivals: 0.0, shrinkage: 0.3, ..published() }).unwrap();
        assert_eq!(
            s,
            Staffing {
                traffic: 0.0,
                agents: 0,
                scheduled: 0,
                probability_of_waiting: 0.0,
                service_level: 1.0,
                asa_seconds: 0.0,
                occupancy: 0.0,
            }
        );
    }

    #[test]
    fn tiny_and_huge_traffic() {
        let s = staffing(&StaffingInput { arrivals: 1.0, interval_secs: 3600.0, ..published() }).unwrap();
        assert_eq!(s.agents, 1);
        let err = staffing(&StaffingInput { arrivals: 1e9, ..published() }).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].0, "arrivals");
        let err = staffing(&StaffingInput { arrivals: 1e300, aht_secs: 1e300, ..published() }).unwrap_err();
        assert_eq!(err[0].0, "arrivals");
    }

    #[test]
    fn invalid_inputs_report_every_field_at_once() {
        let input = StaffingInput {
            arrivals: -1.0,
            interval_secs: 0.0,
            aht_secs: f64::NAN,
            target_service_level: 1.0,
            answer_secs: -5.0,
            max_occupancy: 0.0,
            shrinkage: 1.0,
        };
        let fields: Vec<String> = staffing(&input).unwrap_err().into_iter().map(|(field, _)| field).collect();
        assert_eq!(
            fields,
            [
                "arrivals",
                "interval_secs",
                "aht_secs",
                "target_service_level",
                "answer_secs",
                "max_occupancy",
                "shrinkage"
            ]
        );
        let err = staffing(&StaffingInput { arrivals: f64::INFINITY, max_occupancy: 1.5, ..published() }).unwrap_err();
        assert_eq!(
            err,
            vec![
                ("arrivals".to_owned(), "debe ser un número mayor o igual que 0".to_owned()),
                ("max_occupancy".to_owned(), "debe ser mayor que 0 y a lo más 1 (p. ej. 0.85)".to_owned()),
            ]
        );
        // The bounds that are allowed.
        assert!(
            staffing(&StaffingInput { answer_secs: 0.0, max_occupancy: 1.0, shrinkage: 0.0, ..published() }).is_ok()
        );
        assert!(staffing(&StaffingInput { target_service_level: 0.0, ..published() }).is_err());
    }

    #[test]
    fn counters_service_level_excludes_short_abandons() {
        let c = Counters {
            answered: 80,
            answered_within_target: 60,
            abandoned: 25,
            short_abandoned: 5,
            ..Default::default()
        };
        close(c.service_level().unwrap(), 0.6, 1e-12);
        let c = Counters { queued: 105, abandoned: 25, short_abandoned: 5, ..c };
        // (25 − 5) ÷ (105 − 5).
        close(c.abandonment_rate().unwrap(), 0.2, 1e-12);
    }

    #[test]
    fn counters_averages_and_compliance() {
        let c = Counters {
            answered: 4,
            wait_seconds_total: 50,
            handled: 3,
            handle_seconds_total: 600,
            sla_met: 9,
            sla_breached: 1,
            ..Default::default()
        };
        close(c.asa_seconds().unwrap(), 12.5, 1e-12);
        close(c.aht_seconds().unwrap(), 200.0, 1e-12);
        close(c.sla_compliance().unwrap(), 0.9, 1e-12);
    }

    #[test]
    fn zero_denominators_are_none() {
        let empty = Counters::default();
        assert_eq!(empty.service_level(), None);
        assert_eq!(empty.asa_seconds(), None);
        assert_eq!(empty.aht_seconds(), None);
        assert_eq!(empty.abandonment_rate(), None);
        assert_eq!(empty.sla_compliance(), None);
        // Only short abandons: nothing offered that counts.
        let short = Counters { queued: 3, abandoned: 3, short_abandoned: 3, ..Default::default() };
        assert_eq!(short.service_level(), None);
        assert_eq!(short.abandonment_rate(), None);
    }

    #[test]
    fn add_sums_every_field() {
        let one = Counters {
            queued: 1,
            answered: 2,
            answered_within_target: 3,
            abandoned: 4,
            short_abandoned: 5,
            wait_seconds_total: 6,
            handled: 7,
            handle_seconds_total: 8,
            created: 9,
            solved: 10,
            replies: 11,
            sla_met: 12,
            sla_breached: 13,
        };
        let mut total = one.clone();
        total.add(&one);
        assert_eq!(
            total,
            Counters {
                queued: 2,
                answered: 4,
                answered_within_target: 6,
                abandoned: 8,
                short_abandoned: 10,
                wait_seconds_total: 12,
                handled: 14,
                handle_seconds_total: 16,
                created: 18,
                solved: 20,
                replies: 22,
                sla_met: 24,
                sla_breached: 26,
            }
        );
        let mut full = Counters { queued: u64::MAX, ..Default::default() };
        full.add(&one);
        assert_eq!(full.queued, u64::MAX);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let samples = [40, 15, 50, 35, 20];
        assert_eq!(percentile(&samples, 50), Some(35));
        assert_eq!(percentile(&samples, 90), Some(50));
        assert_eq!(percentile(&samples, 0), Some(15));
        assert_eq!(percentile(&samples, 100), Some(50));
        assert_eq!(percentile(&samples, 20), Some(15));
        assert_eq!(percentile(&samples, 21), Some(20));
        assert_eq!(percentile(&samples, 255), Some(50));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 1), Some(7));
    }

    #[test]
    fn occupancy_of_handling_and_idle_time() {
        close(occupancy(1800, 600).unwrap(), 0.75, 1e-12);
        assert_eq!(occupancy(0, 600), Some(0.0));
        assert_eq!(occupancy(600, 0), Some(1.0));
        assert_eq!(occupancy(0, 0), None);
    }
}
