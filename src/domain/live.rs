//! The live contact-center state: what each event adds to it, and the figures supervisors read
//! from it. Pure: the KPI store keeps the state, the projector feeds it from the event log.
//!
//! The state has three parts, all keyed by *scope* (`all`, `q:<queue id>`, `ch:<channel>`):
//! - counters per minute and per day (America/Santiago date), added to by facts ([`Op::Count`]);
//! - gauges (backlog by status, agents by presence, tickets at risk or breached) and the waiting
//!   list, which are the *current* contribution of each ticket, call or agent ([`Op::Track`]):
//!   a new contribution replaces the old one, so replays and reorderings cannot drift them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::assignment::Presence;
use super::kpi::Counters;
use super::sla::Metric as SlaMetric;
use super::Status;

/// Upper bounds (seconds) of the answered-call wait histogram. Service level for a target T uses
/// the largest bound ≤ T, so targets on a bound are exact.
pub const WAIT_BOUNDS: &[i64] = &[5, 10, 15, 20, 25, 30, 45, 60, 90, 120, 180, 300, 600, i64::MAX];
/// Upper bounds (seconds) of the first-reply time histogram; percentiles read as a bucket's bound.
pub const REPLY_BOUNDS: &[i64] = &[60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 172_800, i64::MAX];
/// How long minute counters are kept: the longest window plus margin for late events.
pub const MINUTES_KEPT: i64 = 180;
/// Windows served, in minutes; `today` is the fourth.
pub const WINDOWS: &[i64] = &[15, 30, 60];

/// Every live counter, named once: the projector counts them and the figures read them, so a
/// misspelt counter does not compile. [`Counter::name`] is the stored field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Created,
    Solved,
    /// Solved tickets that came back (the requester wrote again, or an agent reopened them).
    Reopened,
    /// Public replies of agents.
    Replies,
    CsatResponses,
    CsatSatisfied,
    /// Calls queued, answered, abandoned (short: before the short-abandon threshold), handled.
    Offered,
    Answered,
    Abandoned,
    ShortAbandoned,
    /// Seconds answered calls waited, and seconds handled calls took, summed.
    WaitSum,
    Handled,
    HandleSum,
    /// Answered calls whose wait fell in the bucket with this bound ([`WAIT_BOUNDS`]).
    Wait(i64),
    /// First replies whose time fell in the bucket with this bound ([`REPLY_BOUNDS`]).
    FirstReply(i64),
    SlaMet(SlaMetric),
    SlaBreached(SlaMetric),
}

impl Counter {
    /// The histogram counter of an answered call that waited `seconds`.
    pub fn wait(seconds: i64) -> Counter {
        Counter::Wait(bucket(WAIT_BOUNDS, seconds))
    }

    /// The histogram counter of a first reply after `seconds`.
    pub fn first_reply(seconds: i64) -> Counter {
        Counter::FirstReply(bucket(REPLY_BOUNDS, seconds))
    }

    pub fn name(self) -> String {
        let plain = match self {
            Counter::Created => "created",
            Counter::Solved => "solved",
            Counter::Reopened => "reopened",
            Counter::Replies => "replies",
            Counter::CsatResponses => "csat_responses",
            Counter::CsatSatisfied => "csat_satisfied",
            Counter::Offered => "offered",
            Counter::Answered => "answered",
            Counter::Abandoned => "abandoned",
            Counter::ShortAbandoned => "short_abandoned",
            Counter::WaitSum => "wait_sum",
            Counter::Handled => "handled",
            Counter::HandleSum => "handle_sum",
            Counter::Wait(bound) => return format!("wait:{bound}"),
            Counter::FirstReply(bound) => return format!("frt:{bound}"),
            Counter::SlaMet(metric) => return format!("sla_met:{metric}"),
            Counter::SlaBreached(metric) => return format!("sla_breached:{metric}"),
        };
        plain.to_owned()
    }
}

/// Every live gauge: the current number of open tickets by status, of agents by presence, and of
/// tickets at risk or breached, per scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gauge {
    Backlog(Status),
    Agents(Presence),
    AtRisk,
    Breached,
}

impl Gauge {
    /// The stored field: `<gauge>|<scope>[|<state>]`.
    pub fn field(self, scope: &str) -> String {
        match self {
            Gauge::Backlog(status) => format!("backlog|{scope}|{status}"),
            Gauge::Agents(presence) => format!("agents|{scope}|{presence}"),
            Gauge::AtRisk => format!("at_risk|{scope}"),
            Gauge::Breached => format!("breached|{scope}"),
        }
    }

    /// The gauge and scope of a stored field (`None` for a field no gauge writes).
    pub fn parse(field: &str) -> Option<(Gauge, &str)> {
        let mut parts = field.splitn(3, '|');
        let (kind, scope, state) = (parts.next()?, parts.next()?, parts.next());
        let gauge = match (kind, state) {
            ("backlog", Some(state)) => Gauge::Backlog(state.parse().ok()?),
            ("agents", Some(state)) => Gauge::Agents(state.parse().ok()?),
            ("at_risk", None) => Gauge::AtRisk,
            ("breached", None) => Gauge::Breached,
            _ => return None,
        };
        Some((gauge, scope))
    }
}

/// One change to the live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Adds `by` to `field` in the counters of minute `minute` (Unix minutes) and of `day`.
    Count { minute: i64, day: NaiveDate, field: String, by: i64 },
    /// Replaces what `member` (`t:1`, `c:7`, `a:3`) contributes to gauges and the waiting list,
    /// unless what is stored comes from a later `version` (its event id).
    Track { member: String, version: i64, marks: Vec<Mark> },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mark {
    /// Adds one to a gauge, e.g. `backlog|q:3|open`.
    Gauge(String),
    /// Waits in `scope` since `since_ms` (Unix milliseconds).
    Waiting { scope: String, since_ms: i64 },
}

impl Mark {
    pub fn gauge(gauge: Gauge, scope: &str) -> Mark {
        Mark::Gauge(gauge.field(scope))
    }

    /// One line, the form the Redis script parses: `g\t<field>` or `w\t<scope>\t<ms>`.
    pub fn encode(&self) -> String {
        match self {
            Mark::Gauge(field) => format!("g\t{field}"),
            Mark::Waiting { scope, since_ms } => format!("w\t{scope}\t{since_ms}"),
        }
    }
}

/// Everything the figures are computed from, as read from a store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub gauges: HashMap<String, i64>,
    /// (scope, member, waiting since in Unix ms).
    pub waiting: Vec<(String, String, i64)>,
    /// Counters of the last minutes, by Unix minute.
    pub minutes: BTreeMap<i64, HashMap<String, i64>>,
    pub today: HashMap<String, i64>,
}

impl Snapshot {
    /// Sorted, zero-free copy, for comparing two states built in different ways.
    pub fn normalized(&self) -> Snapshot {
        let clean =
            |m: &HashMap<String, i64>| m.iter().filter(|(_, v)| **v != 0).map(|(k, v)| (k.clone(), *v)).collect();
        let mut waiting = self.waiting.clone();
        waiting.sort();
        Snapshot {
            gauges: clean(&self.gauges),
            waiting,
            minutes: self
                .minutes
                .iter()
                .map(|(m, c)| (*m, clean(c)))
                .filter(|(_, c): &(i64, HashMap<String, i64>)| !c.is_empty())
                .collect(),
            today: clean(&self.today),
        }
    }
}

pub fn unix_minute(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

/// Field of a counter in a scope: `<scope>|<name>`.
pub fn field(scope: &str, name: &str) -> String {
    format!("{scope}|{name}")
}

/// The histogram bucket (its bound) a value falls in.
pub fn bucket(bounds: &[i64], value: i64) -> i64 {
    *bounds.iter().find(|b| value <= **b).unwrap_or(&i64::MAX)
}

/// Counts `counter += by` at `at` in every scope.
pub fn count(scopes: &[String], at: DateTime<Utc>, day: NaiveDate, counter: Counter, by: i64) -> Vec<Op> {
    let minute = unix_minute(at);
    let name = counter.name();
    scopes.iter().map(|s| Op::Count { minute, day, field: field(s, &name), by }).collect()
}

/// The scopes a ticket or call is counted in.
pub fn scopes(queue_id: Option<i64>, channel: &str) -> Vec<String> {
    let mut out = vec!["all".to_owned(), format!("ch:{channel}")];
    out.extend(queue_id.map(|q| format!("q:{q}")));
    out
}

// ------------------------------------------------------------------------- figures

/// Met and breached clocks of one SLA metric.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct SlaFigures {
    pub met: i64,
    pub breached: i64,
    /// met ÷ (met + breached); `null` when neither happened.
    pub compliance: Option<f64>,
}

/// The figures of one scope over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct WindowFigures {
    pub created: i64,
    pub solved: i64,
    /// Solved tickets that came back.
    pub reopened: i64,
    pub replies: i64,
    /// Calls that entered a queue.
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub short_abandoned: i64,
    /// Answered within the target ÷ (answered + abandoned − short abandons).
    pub service_level: Option<f64>,
    pub asa_seconds: Option<f64>,
    /// Talk + hold + after-call work per handled call.
    pub aht_seconds: Option<f64>,
    pub abandonment_rate: Option<f64>,
    /// First-reply time percentiles, as the upper bound of the histogram bucket they fall in.
    pub first_reply_p50_seconds: Option<i64>,
    pub first_reply_p90_seconds: Option<i64>,
    /// Per SLA metric (`first_reply`, `next_reply`, `resolution`, `callback`).
    pub sla: BTreeMap<String, SlaFigures>,
    /// All metrics together.
    pub sla_compliance: Option<f64>,
    /// Satisfaction surveys answered.
    pub csat_responses: i64,
    /// CSAT: share of answers scoring 6 or 7 (of 7); `null` without answers.
    pub csat: Option<f64>,
}

/// The live state of one scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct ScopeFigures {
    /// `all`, `q:<id>` or `ch:<channel>`.
    pub scope: String,
    /// The scope's name for people (the queue's name).
    pub label: Option<String>,
    /// Open tickets by status (`new`, `open`, `pending`, `on_hold`).
    pub backlog: BTreeMap<String, i64>,
    pub backlog_total: i64,
    /// Contacts waiting for an agent now: calls in queue and unassigned tickets.
    pub waiting: i64,
    pub longest_wait_seconds: Option<i64>,
    /// Agents by presence (`available`, `busy`, `after_call_work`, `away`).
    pub agents: BTreeMap<String, i64>,
    /// Busy and wrap-up agents ÷ agents signed in (not away), now.
    pub occupancy: Option<f64>,
    /// Open tickets with an SLA warning but no breach, and open tickets with a breach.
    pub at_risk: i64,
    pub breached: i64,
    pub window: WindowFigures,
}

/// Sums the counters of `scope` over the minutes in `[from, to]`.
fn window_counters(snapshot: &Snapshot, from: i64, to: i64) -> HashMap<String, i64> {
    let mut sum: HashMap<String, i64> = HashMap::new();
    for (_, counters) in snapshot.minutes.range(from..=to) {
        for (k, v) in counters {
            *sum.entry(k.clone()).or_default() += v;
        }
    }
    sum
}

/// Figures of one scope from a set of summed counters.
pub fn window_figures(counters: &HashMap<String, i64>, scope: &str, answer_target_secs: i64) -> WindowFigures {
    let get = |counter: Counter| counters.get(&field(scope, &counter.name())).copied().unwrap_or(0).max(0);
    let within: i64 = WAIT_BOUNDS.iter().filter(|b| **b <= answer_target_secs).map(|b| get(Counter::Wait(*b))).sum();
    let c = Counters {
        queued: get(Counter::Offered) as u64,
        answered: get(Counter::Answered) as u64,
        answered_within_target: within as u64,
        abandoned: get(Counter::Abandoned) as u64,
        short_abandoned: get(Counter::ShortAbandoned) as u64,
        wait_seconds_total: get(Counter::WaitSum) as u64,
        handled: get(Counter::Handled) as u64,
        handle_seconds_total: get(Counter::HandleSum) as u64,
        created: get(Counter::Created) as u64,
        solved: get(Counter::Solved) as u64,
        replies: get(Counter::Replies) as u64,
        sla_met: 0,
        sla_breached: 0,
    };
    let histogram: Vec<(i64, i64)> = REPLY_BOUNDS.iter().map(|b| (*b, get(Counter::FirstReply(*b)))).collect();
    let mut sla = BTreeMap::new();
    let (mut met_all, mut breached_all) = (0, 0);
    for metric in [SlaMetric::FirstReply, SlaMetric::NextReply, SlaMetric::Resolution, SlaMetric::Callback] {
        let (met, breached) = (get(Counter::SlaMet(metric)), get(Counter::SlaBreached(metric)));
        met_all += met;
        breached_all += breached;
        if met + breached > 0 {
            sla.insert(metric.to_string(), SlaFigures { met, breached, compliance: ratio(met, met + breached) });
        }
    }
    WindowFigures {
        created: c.created as i64,
        solved: c.solved as i64,
        reopened: get(Counter::Reopened),
        replies: c.replies as i64,
        offered: c.queued as i64,
        answered: c.answered as i64,
        abandoned: c.abandoned as i64,
        short_abandoned: c.short_abandoned as i64,
        service_level: c.service_level(),
        asa_seconds: c.asa_seconds(),
        aht_seconds: c.aht_seconds(),
        abandonment_rate: c.abandonment_rate(),
        first_reply_p50_seconds: histogram_percentile(&histogram, 50),
        first_reply_p90_seconds: histogram_percentile(&histogram, 90),
        sla,
        sla_compliance: ratio(met_all, met_all + breached_all),
        csat_responses: get(Counter::CsatResponses),
        csat: ratio(get(Counter::CsatSatisfied), get(Counter::CsatResponses)),
    }
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Nearest-rank percentile over (bound, count) buckets: the bound of the bucket holding rank
/// ⌈p·n/100⌉. `None` when empty; the open last bucket reads as its lower neighbour's bound.
pub fn histogram_percentile(buckets: &[(i64, i64)], p: u8) -> Option<i64> {
    let n: i64 = buckets.iter().map(|(_, c)| c.max(&0)).sum();
    if n == 0 {
        return None;
    }
    let rank = ((p.min(100) as i64 * n) + 99) / 100;
    let mut seen = 0;
    let mut previous = 0;
    for (bound, count) in buckets {
        seen += count.max(&0);
        if seen >= rank.max(1) {
            return Some(if *bound == i64::MAX { previous } else { *bound });
        }
        previous = *bound;
    }
    Some(previous)
}

/// Which window to read: the last N minutes (ending at `now`'s minute) or the Santiago day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Minutes(i64),
    Today,
}

impl std::str::FromStr for Window {
    type Err = ();
    fn from_str(s: &str) -> Result<Window, ()> {
        match s {
            "today" | "hoy" => Ok(Window::Today),
            m => m.parse().ok().filter(|m| WINDOWS.contains(m)).map(Window::Minutes).ok_or(()),
        }
    }
}

impl Window {
    pub fn label(self) -> String {
        match self {
            Window::Minutes(m) => m.to_string(),
            Window::Today => "today".into(),
        }
    }
}

/// Every scope present in the snapshot, with its figures for `window`.
pub fn figures(snapshot: &Snapshot, now: DateTime<Utc>, window: Window, answer_target_secs: i64) -> Vec<ScopeFigures> {
    let counters = match window {
        Window::Minutes(m) => {
            let to = unix_minute(now);
            window_counters(snapshot, to - m + 1, to)
        }
        Window::Today => snapshot.today.clone(),
    };
    let mut by_scope: BTreeMap<String, ScopeFigures> = BTreeMap::new();
    fn entry<'a>(map: &'a mut BTreeMap<String, ScopeFigures>, scope: &str) -> &'a mut ScopeFigures {
        map.entry(scope.to_owned()).or_insert_with(|| ScopeFigures { scope: scope.to_owned(), ..Default::default() })
    }
    entry(&mut by_scope, "all");
    for (key, value) in snapshot.gauges.iter().filter(|(_, v)| **v > 0) {
        let Some((gauge, scope)) = Gauge::parse(key) else { continue };
        let s = entry(&mut by_scope, scope);
        match gauge {
            Gauge::Backlog(status) => {
                s.backlog.insert(status.to_string(), *value);
                s.backlog_total += value;
            }
            Gauge::Agents(presence) => {
                s.agents.insert(presence.to_string(), *value);
            }
            Gauge::AtRisk => s.at_risk += value,
            Gauge::Breached => s.breached += value,
        }
    }
    let now_ms = now.timestamp_millis();
    for (scope, _, since) in &snapshot.waiting {
        let s = entry(&mut by_scope, scope);
        s.waiting += 1;
        let waited = (now_ms - since).max(0) / 1000;
        s.longest_wait_seconds = Some(s.longest_wait_seconds.map_or(waited, |w| w.max(waited)));
    }
    for scope in counters.keys().filter_map(|k| k.split_once('|').map(|(s, _)| s.to_owned())) {
        entry(&mut by_scope, &scope);
    }
    by_scope
        .into_values()
        .map(|mut s| {
            s.window = window_figures(&counters, &s.scope, answer_target_secs);
            let agent = |p: Presence| s.agents.get(p.as_str()).copied().unwrap_or(0);
            let working = agent(Presence::Busy) + agent(Presence::AfterCallWork);
            s.occupancy = ratio(working, working + agent(Presence::Available));
            s
        })
        .collect()
}

/// Minutes whose counters a window ending at `now` may need.
pub fn minutes_needed(now: DateTime<Utc>) -> std::ops::RangeInclusive<i64> {
    let to = unix_minute(now);
    to - WINDOWS.iter().max().copied().unwrap_or(60) + 1..=to
}

/// When a minute's counters may be dropped.
pub fn minute_expiry(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minute * 60, 0).unwrap_or_default() + TimeDelta::minutes(MINUTES_KEPT + 10)
}

/// How far back a rebuild replays facts: the start of the Santiago day or the minutes kept,
/// whichever is earlier.
pub fn replay_horizon(now: DateTime<Utc>, day_start: DateTime<Utc>) -> DateTime<Utc> {
    day_start.min(now - TimeDelta::minutes(MINUTES_KEPT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
    }

    fn apply(snapshot: &mut Snapshot, ops: &[Op]) {
        for op in ops {
            if let Op::Count { minute, field, by, .. } = op {
                *snapshot.minutes.entry(*minute).or_default().entry(field.clone()).or_default() += by;
                *snapshot.today.entry(field.clone()).or_default() += by;
            }
        }
    }

    #[test]
    fn buckets_take_the_first_bound_at_or_above_the_value() {
        assert_eq!(bucket(WAIT_BOUNDS, 0), 5);
        assert_eq!(bucket(WAIT_BOUNDS, 20), 20);
        assert_eq!(bucket(WAIT_BOUNDS, 21), 25);
        assert_eq!(bucket(WAIT_BOUNDS, 10_000), i64::MAX);
        assert_eq!(Counter::wait(7), Counter::Wait(10));
        assert_eq!(Counter::first_reply(61), Counter::FirstReply(300));
    }

    #[test]
    fn histogram_percentiles_are_nearest_rank_bounds() {
        let h = [(60, 5), (300, 4), (900, 1), (i64::MAX, 0)];
        assert_eq!(histogram_percentile(&h, 50), Some(60));
        assert_eq!(histogram_percentile(&h, 51), Some(300));
        assert_eq!(histogram_percentile(&h, 90), Some(300));
        assert_eq!(histogram_percentile(&h, 100), Some(900));
        assert_eq!(histogram_percentile(&[(60, 0)], 50), None);
        assert_eq!(histogram_percentile(&[(60, 1), (i64::MAX, 3)], 90), Some(60));
    }

    #[test]
    fn scopes_include_the_queue_only_when_there_is_one() {
        assert_eq!(scopes(Some(3), "email"), ["all", "ch:email", "q:3"]);
        assert_eq!(scopes(None, "phone"), ["all", "ch:phone"]);
    }

    #[test]
    fn window_figures_follow_the_kpi_definitions() {
        let now = at("2026-12-02T15:00:30Z");
        let scopes = scopes(Some(1), "phone");
        let mut s = Snapshot::default();
        // 10 offered: 8 answered (6 within 20 s), 2 abandoned of which 1 short.
        apply(&mut s, &count(&scopes, now, day(), Counter::Offered, 10));
        apply(&mut s, &count(&scopes, now, day(), Counter::Answered, 8));
        apply(&mut s, &count(&scopes, now, day(), Counter::wait(10), 6));
        apply(&mut s, &count(&scopes, now, day(), Counter::wait(40), 2));
        apply(&mut s, &count(&scopes, now, day(), Counter::WaitSum, 160));
        apply(&mut s, &count(&scopes, now, day(), Counter::Abandoned, 2));
        apply(&mut s, &count(&scopes, now, day(), Counter::ShortAbandoned, 1));
        apply(&mut s, &count(&scopes, now, day(), Counter::Handled, 4));
        apply(&mut s, &count(&scopes, now, day(), Counter::HandleSum, 800));
        apply(&mut s, &count(&scopes, now, day(), Counter::SlaMet(SlaMetric::FirstReply), 3));
        apply(&mut s, &count(&scopes, now, day(), Counter::SlaBreached(SlaMetric::FirstReply), 1));
        // 4 surveys answered, 3 with 6 or 7.
        apply(&mut s, &count(&scopes, now, day(), Counter::CsatResponses, 4));
        apply(&mut s, &count(&scopes, now, day(), Counter::CsatSatisfied, 3));
        // An hour ago: outside the 15-minute window, inside today.
        apply(&mut s, &count(&scopes, now - TimeDelta::minutes(61), day(), Counter::Answered, 5));
        let figures = figures(&s, now, Window::Minutes(15), 20);
        let q = figures.iter().find(|f| f.scope == "q:1").unwrap();
        assert_eq!((q.window.offered, q.window.answered, q.window.abandoned), (10, 8, 2));
        assert_eq!(q.window.service_level, Some(6.0 / 9.0));
        assert_eq!(q.window.asa_seconds, Some(20.0));
        assert_eq!(q.window.aht_seconds, Some(200.0));
        assert_eq!(q.window.abandonment_rate, Some(1.0 / 9.0));
        assert_eq!(q.window.sla["first_reply"], SlaFigures { met: 3, breached: 1, compliance: Some(0.75) });
        assert_eq!(q.window.sla_compliance, Some(0.75));
        assert_eq!((q.window.csat_responses, q.window.csat), (4, Some(0.75)));
        let today = super::figures(&s, now, Window::Today, 20);
        assert_eq!(today.iter().find(|f| f.scope == "all").unwrap().window.answered, 13);
        // A 45 s target also counts the waits in the 25–45 s buckets.
        assert_eq!(super::figures(&s, now, Window::Minutes(15), 45)[0].window.service_level, Some(8.0 / 9.0));
    }

    #[test]
    fn gauges_and_waiting_become_scope_figures() {
        let now = at("2026-12-02T15:00:00Z");
        let mut s = Snapshot::default();
        for (k, v) in [
            ("backlog|q:2|new", 3),
            ("backlog|q:2|open", 2),
            ("agents|q:2|available", 1),
            ("agents|q:2|busy", 2),
            ("agents|q:2|after_call_work", 1),
            ("at_risk|q:2", 1),
            ("breached|q:2", 2),
            ("backlog|all|new", 0),
        ] {
            s.gauges.insert(k.into(), v);
        }
        let ms = now.timestamp_millis();
        s.waiting = vec![("q:2".into(), "c:1".into(), ms - 95_000), ("q:2".into(), "t:4".into(), ms - 5_000)];
        let figures = figures(&s, now, Window::Minutes(15), 20);
        let q = figures.iter().find(|f| f.scope == "q:2").unwrap();
        assert_eq!(q.backlog_total, 5);
        assert_eq!(q.backlog["new"], 3);
        assert_eq!((q.waiting, q.longest_wait_seconds), (2, Some(95)));
        assert_eq!((q.at_risk, q.breached), (1, 2));
        assert_eq!(q.occupancy, Some(0.75));
        let all = figures.iter().find(|f| f.scope == "all").unwrap();
        assert_eq!((all.backlog_total, all.waiting, all.longest_wait_seconds), (0, 0, None));
    }

    /// The stored names are the ones Redis already holds: renaming one would lose a day's figures.
    #[test]
    fn counters_and_gauges_keep_their_stored_names() {
        assert_eq!(Counter::ShortAbandoned.name(), "short_abandoned");
        assert_eq!(Counter::wait(12).name(), "wait:15");
        assert_eq!(Counter::first_reply(61).name(), "frt:300");
        assert_eq!(Counter::SlaBreached(SlaMetric::NextReply).name(), "sla_breached:next_reply");
        for gauge in
            [Gauge::Backlog(Status::Pending), Gauge::Agents(Presence::AfterCallWork), Gauge::AtRisk, Gauge::Breached]
        {
            let field = gauge.field("q:7");
            assert_eq!(Gauge::parse(&field), Some((gauge, "q:7")), "{field}");
        }
        assert_eq!(Gauge::Backlog(Status::New).field("all"), "backlog|all|new");
        assert_eq!(Gauge::parse("backlog|all|nada"), None);
        assert_eq!(Gauge::parse("at_risk|all|extra"), None);
    }

    #[test]
    fn windows_parse_and_reject_others() {
        assert_eq!("15".parse(), Ok(Window::Minutes(15)));
        assert_eq!("today".parse(), Ok(Window::Today));
        assert_eq!("45".parse::<Window>(), Err(()));
        assert_eq!(Window::Minutes(60).label(), "60");
    }

    #[test]
    fn marks_encode_on_one_line() {
        assert_eq!(Mark::Gauge("backlog|all|new".into()).encode(), "g\tbacklog|all|new");
        assert_eq!(Mark::Waiting { scope: "q:1".into(), since_ms: 42 }.encode(), "w\tq:1\t42");
    }

    #[test]
    fn normalized_snapshots_ignore_zeros_and_order() {
        let mut a = Snapshot::default();
        a.gauges.insert("x".into(), 0);
        a.minutes.insert(1, HashMap::from([("y".into(), 0)]));
        a.waiting = vec![("b".into(), "1".into(), 1), ("a".into(), "2".into(), 2)];
        let b =
            Snapshot { waiting: vec![("a".into(), "2".into(), 2), ("b".into(), "1".into(), 1)], ..Default::default() };
        assert_eq!(a.normalized(), b.normalized());
    }

    #[test]
    fn rebuild_horizon_is_the_earlier_of_day_start_and_minutes_kept() {
        let now = at("2026-12-02T04:00:00Z");
        let day_start = at("2026-12-02T03:00:00Z");
        assert_eq!(replay_horizon(now, day_start), at("2026-12-02T01:00:00Z"));
        assert_eq!(replay_horizon(at("2026-12-02T20:00:00Z"), day_start), day_start);
        assert_eq!(minute_expiry(0), at("1970-01-01T03:10:00Z"));
        assert_eq!(minutes_needed(at("1970-01-01T01:00:00Z")), 1..=60);
    }
}
