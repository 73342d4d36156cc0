//! Automatic assignment: which agent gets the next item, in which order waiting items are served,
//! and forced rotation of agents among queues. Pure rules: presence, load and the current instant
//! are parameters, so the dispatcher, the supervisor screens and the tests share one answer.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ticket::{string_enum, UnknownValue};
use super::Channel;

string_enum!(
    /// Only `available` agents receive work; `after_call_work` is the wrap-up after a call.
    Presence {
        Available => "available",
        Busy => "busy",
        Away => "away",
        AfterCallWork => "after_call_work",
        Offline => "offline",
    }
);

string_enum!(
    /// How a queue hands out work: `manual` leaves items for agents to pick; `round_robin` takes turns;
    /// `least_loaded` favours whoever has the least open work.
    Strategy { Manual => "manual", RoundRobin => "round_robin", LeastLoaded => "least_loaded" }
);

/// Capacity per channel: how many open items of that channel an agent may hold at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    pub phone: u32,
    pub email: u32,
    pub web: u32,
    pub api: u32,
}

impl Default for Capacity {
    /// One call at a time (a call needs the whole agent); written channels can be juggled.
    fn default() -> Self {
        Capacity { phone: 1, email: 8, web: 8, api: 8 }
    }
}

impl Capacity {
    pub fn of(&self, channel: Channel) -> u32 {
        match channel {
            Channel::Phone => self.phone,
            Channel::Email => self.email,
            Channel::Web => self.web,
            Channel::Api => self.api,
        }
    }
}

/// Open work per channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Load {
    pub phone: u32,
    pub email: u32,
    pub web: u32,
    pub api: u32,
}

impl Load {
    pub fn of(&self, channel: Channel) -> u32 {
        match channel {
            Channel::Phone => self.phone,
            Channel::Email => self.email,
            Channel::Web => self.web,
            Channel::Api => self.api,
        }
    }

    /// Counts one more open item of `channel`.
    pub fn add(&mut self, channel: Channel) {
        let slot = match channel {
            Channel::Phone => &mut self.phone,
            Channel::Email => &mut self.email,
            Channel::Web => &mut self.web,
            Channel::Api => &mut self.api,
        };
        *slot = slot.saturating_add(1);
    }
}

/// An agent as the dispatcher sees them at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub agent_id: i64,
    pub presence: Presence,
    pub skills: Vec<String>,
    pub capacity: Capacity,
    pub load: Load,
    /// When the agent last received work (round robin gives the next item to whoever waited longest).
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl Candidate {
    /// Available, holding every required skill, and below capacity for the channel.
    pub fn can_take(&self, channel: Channel, required_skills: &[String]) -> bool {
        self.presence == Presence::Available
            && required_skills.iter().all(|skill| self.skills.contains(skill))
            && self.load.of(channel) < self.capacity.of(channel)
    }

    /// Open work weighted per channel: each item counts 1/capacity of its channel (a call weighs as
    /// much as a full email inbox); a channel with capacity 0 counts its items as 1 each.
    pub fn weighted_load(&self) -> f64 {
        Channel::ALL
            .iter()
            .map(|&channel| {
                let load = f64::from(self.load.of(channel));
                match self.capacity.of(channel) {
                    0 => load,
                    capacity => load / f64::from(capacity),
                }
            })
            .sum()
    }
}

/// The agent to give an item of `channel` to, or `None` (manual queue, or nobody can take it now:
/// the item waits). round_robin: among those who can take it, the one whose `last_assigned_at` is
/// oldest (never assigned first), ties by lowest agent id. least_loaded: lowest weighted load, ties by
/// oldest last_assigned_at, then lowest id.
pub fn choose(
    strategy: Strategy,
    candidates: &[Candidate],
    channel: Channel,
    required_skills: &[String],
) -> Option<i64> {
    let eligible = candidates.iter().filter(|c| c.can_take(channel, required_skills));
    // `None < Some(_)`, so agents who never received work come first.
    let turn = |c: &Candidate| (c.last_assigned_at, c.agent_id);
    let chosen = match strategy {
        Strategy::Manual => None,
        Strategy::RoundRobin => eligible.min_by_key(|c| turn(c)),
        Strategy::LeastLoaded => {
            eligible.min_by(|a, b| a.weighted_load().total_cmp(&b.weighted_load()).then_with(|| turn(a).cmp(&turn(b))))
        }
    };
    chosen.map(|c| c.agent_id)
}

string_enum!(Period { Daily => "daily", Weekly => "weekly" });

impl Period {
    fn days(self) -> u64 {
        match self {
            Period::Daily => 1,
            Period::Weekly => 7,
        }
    }
}

/// Forced rotation ("rotación forzada"): a supervisor rotates a set of agents among a set of queues
/// every period, so nobody stays on the hardest queue for good.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationPlan {
    /// In plan order.
    pub agents: Vec<i64>,
    /// Queue slugs, in plan order.
    pub queues: Vec<String>,
    pub period: Period,
    /// Weekly plans: the weekday of the boundary. Daily plans ignore it.
    pub weekday: Weekday,
    /// Local wall-clock time of the boundary, e.g. 09:00.
    pub at: NaiveTime,
    pub timezone: Tz,
    /// The first boundary (local date); period 0 starts there. Weekly plans start on the first
    /// `weekday` on or after it (see [`RotationPlan::first_date`]), so callers need not align it.
    pub start: NaiveDate,
}

impl RotationPlan {
    /// The local date of the first boundary: `start` for daily plans, the first `weekday` on or after
    /// `start` for weekly ones.
    pub fn first_date(&self) -> NaiveDate {
        match self.period {
            Period::Daily => self.start,
            Period::Weekly => {
                let ahead = (7 + self.weekday.num_days_from_monday() - self.start.weekday().num_days_from_monday()) % 7;
                self.start.checked_add_days(Days::new(u64::from(ahead))).unwrap_or(NaiveDate::MAX)
            }
        }
    }

    /// The index of the period `now` falls in (0 from the first boundary; `None` before it). Counted
    /// in local wall-clock days so daylight-saving changes never shift the boundary time.
    pub fn period_index(&self, now: DateTime<Utc>) -> Option<u32> {
        let local = now.with_timezone(&self.timezone).naive_local();
        let mut days = (local.date() - self.first_date()).num_days();
        if local.time() < self.at {
            days -= 1;
        }
        // The wall-clock estimate can be one period off next to a DST change, where a boundary
        // resolves away from its nominal local time (gap, or the second pass of a repeated hour):
        // settle it against the boundary instants themselves, so both methods always agree.
        let mut k = days.div_euclid(self.period.days() as i64);
        while k >= 0 && self.start_of(k).is_none_or(|start| now < start) {
            k -= 1;
        }
        while self.start_of(k + 1).is_some_and(|start| start <= now) {
            k += 1;
        }
        u32::try_from(k).ok()
    }

    /// The instant period `k` starts. A boundary that falls in a skipped local hour (Santiago's clocks
    /// jump 00:00→01:00 in September) moves to the first instant after the gap; an ambiguous one (the
    /// hour repeated in April) takes the earlier instant. Saturates at chrono's latest instant for a
    /// `k` beyond the representable calendar.
    pub fn boundary(&self, k: u32) -> DateTime<Utc> {
        self.start_of(i64::from(k)).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Queue of each agent in period k: agent i works queues[(i + k) % queues.len()].
    pub fn memberships(&self, k: u32) -> Vec<(i64, String)> {
        if self.queues.is_empty() {
            return Vec::new();
        }
        let len = self.queues.len() as u64;
        self.agents
            .iter()
            .enumerate()
            .map(|(i, &agent)| (agent, self.queues[((i as u64 + u64::from(k)) % len) as usize].clone()))
            .collect()
    }

    /// `boundary` for any index: `None` below 0 or past the end of the calendar.
    fn start_of(&self, k: i64) -> Option<DateTime<Utc>> {
        let k = u64::try_from(k).ok()?;
        let date = self.first_date().checked_add_days(Days::new(k.checked_mul(self.period.days())?))?;
        let local = date.and_time(self.at);
        match self.timezone.from_local_datetime(&local) {
            LocalResult::Single(at) => Some(at.to_utc()),
            LocalResult::Ambiguous(earlier, later) => Some(earlier.to_utc().min(later.to_utc())),
            LocalResult::None => GapInfo::new(&local, &self.timezone)?.end.map(|at| at.to_utc()),
        }
    }
}

/// Checks a rotation plan's members: at least one agent and one queue, none repeated.
/// Errors are (field, message) pairs for the form.
pub fn validate_plan(agents: &[i64], queues: &[String]) -> Result<(), Vec<(String, String)>> {
    let mut errors = Vec::new();
    if agents.is_empty() {
        errors.push(("agents".to_owned(), "indique al menos un agente".to_owned()));
    }
    for agent in repeated(agents) {
        errors.push(("agents".to_owned(), format!("el agente {agent} está repetido")));
    }
    if queues.is_empty() {
        errors.push(("queues".to_owned(), "indique al menos una cola".to_owned()));
    }
    for queue in repeated(queues) {
        errors.push(("queues".to_owned(), format!("la cola «{queue}» está repetida")));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Values that occur more than once, each reported once, in order of first repetition.
fn repeated<T: Ord>(items: &[T]) -> Vec<&T> {
    let mut seen = BTreeSet::new();
    let mut reported = BTreeSet::new();
    items.iter().filter(|item| !seen.insert(*item) && reported.insert(*item)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeDelta};
    use chrono_tz::America::Santiago;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn skills(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn agent(id: i64) -> Candidate {
        Candidate {
            agent_id: id,
            presence: Presence::Available,
            skills: skills(&["compras", "licitaciones"]),
            capacity: Capacity::default(),
            load: Load::default(),
            last_assigned_at: None,
        }
    }

    #[test]
    fn enums_use_their_spelling() {
        assert_eq!("after_call_work".parse::<Presence>(), Ok(Presence::AfterCallWork));
        assert_eq!(Strategy::LeastLoaded.to_string(), "least_loaded");
        assert_eq!(serde_json::to_string(&Period::Weekly).unwrap(), "\"weekly\"");
        assert!("rotating".parse::<Strategy>().is_err());
    }

    #[test]
    fn capacity_and_load_per_channel() {
        let capacity = Capacity::default();
        assert_eq!(capacity, Capacity { phone: 1, email: 8, web: 8, api: 8 });
        assert_eq!(capacity.of(Channel::Phone), 1);
        assert_eq!(capacity.of(Channel::Web), 8);
        let mut load = Load::default();
        load.add(Channel::Email);
        load.add(Channel::Email);
        load.add(Channel::Api);
        assert_eq!(load, Load { phone: 0, email: 2, web: 0, api: 1 });
        assert_eq!(load.of(Channel::Email), 2);
        assert_eq!(load.of(Channel::Phone), 0);
    }

    #[test]
    fn can_take() {
        let required = skills(&["compras"]);
        assert!(agent(1).can_take(Channel::Email, &required));
        assert!(agent(1).can_take(Channel::Email, &[]));
        for &presence in Presence::ALL.iter().filter(|&&p| p != Presence::Available) {
            let c = Candidate { presence, ..agent(1) };
            assert!(!c.can_take(Channel::Email, &required), "{presence}");
        }
        assert!(!agent(1).can_take(Channel::Email, &skills(&["compras", "proveedores"])));
        // Exact comparison: callers lowercase skills.
        assert!(!agent(1).can_take(Channel::Email, &skills(&["Compras"])));

        let mut full = agent(1);
        for _ in 0..8 {
            full.load.add(Channel::Web);
        }
        assert!(!full.can_take(Channel::Web, &required));
        assert!(full.can_take(Channel::Email, &required));

        let mut on_call = agent(1);
        on_call.load.add(Channel::Phone);
        assert!(!on_call.can_take(Channel::Phone, &required));
        assert!(on_call.can_take(Channel::Email, &required));

        let no_phone = Candidate { capacity: Capacity { phone: 0, ..Capacity::default() }, ..agent(1) };
        assert!(!no_phone.can_take(Channel::Phone, &[]));
    }

    #[test]
    fn weighted_load() {
        let mut c = agent(1);
        assert_eq!(c.weighted_load(), 0.0);
        c.load.add(Channel::Phone);
        assert_eq!(c.weighted_load(), 1.0);
        c.load.add(Channel::Email);
        c.load.add(Channel::Email);
        assert_eq!(c.weighted_load(), 1.25);
        c.capacity.api = 0;
        c.load.add(Channel::Api);
        c.load.add(Channel::Api);
        assert_eq!(c.weighted_load(), 3.25);
    }

    #[test]
    fn round_robin_is_fair_and_rotates_in_order() {
        let big = Capacity { phone: 10_000, email: 10_000, web: 10_000, api: 10_000 };
        // Slice order must not matter: the turn comes from last_assigned_at, then id.
        let mut candidates: Vec<Candidate> =
            [3, 1, 5, 2, 4].into_iter().map(|id| Candidate { capacity: big.clone(), ..agent(id) }).collect();
        let t0 = t("2026-05-04T12:00:00Z");
        let mut counts = [0u32; 6];
        for i in 0..1000 {
            let chosen = choose(Strategy::RoundRobin, &candidates, Channel::Email, &skills(&["compras"])).unwrap();
            assert_eq!(chosen, i % 5 + 1, "assignment {i}");
            counts[chosen as usize] += 1;
            let c = candidates.iter_mut().find(|c| c.agent_id == chosen).unwrap();
            c.last_assigned_at = Some(t0 + TimeDelta::seconds(i));
            c.load.add(Channel::Email);
        }
        assert_eq!(counts[1..], [200; 5]);
    }

    #[test]
    fn round_robin_skips_those_who_cannot_take_it() {
        let early = t("2026-05-04T12:00:00Z");
        let late = t("2026-05-04T13:00:00Z");
        let candidates = vec![
            Candidate { presence: Presence::Away, ..agent(1) },
            Candidate { last_assigned_at: Some(late), ..agent(2) },
            Candidate { last_assigned_at: Some(early), ..agent(3) },
            Candidate { last_assigned_at: Some(early), ..agent(4) },
        ];
        assert_eq!(choose(Strategy::RoundRobin, &candidates, Channel::Web, &[]), Some(3));
        assert_eq!(choose(Strategy::RoundRobin, &candidates[1..2], Channel::Web, &[]), Some(2));
    }

    #[test]
    fn least_loaded_picks_lowest_weighted_load() {
        let mut on_call = agent(1);
        on_call.load.add(Channel::Phone); // 1/1 = 1.0
        let mut emails = agent(2);
        for _ in 0..3 {
            emails.load.add(Channel::Email); // 3/8 = 0.375
        }
        let idle_but_away = Candidate { presence: Presence::Offline, ..agent(3) };
        let candidates = vec![on_call, emails, idle_but_away];
        assert_eq!(choose(Strategy::LeastLoaded, &candidates, Channel::Email, &[]), Some(2));
    }

    #[test]
    fn least_loaded_tie_breaks() {
        let early = t("2026-05-04T12:00:00Z");
        let late = t("2026-05-04T13:00:00Z");
        let with = |id: i64, channel: Channel, last: Option<DateTime<Utc>>| {
            let mut c = Candidate { last_assigned_at: last, ..agent(id) };
            c.load.add(channel);
            c
        };
        // Equal weighted load (1/8) on different channels: the longest wait wins.
        let candidates = vec![with(1, Channel::Email, Some(late)), with(2, Channel::Web, Some(early))];
        assert_eq!(choose(Strategy::LeastLoaded, &candidates, Channel::Api, &[]), Some(2));
        // Never assigned beats any instant.
        let candidates = vec![with(1, Channel::Email, Some(early)), with(2, Channel::Web, None)];
        assert_eq!(choose(Strategy::LeastLoaded, &candidates, Channel::Api, &[]), Some(2));
        // Everything equal: lowest id.
        let candidates = vec![with(9, Channel::Email, Some(early)), with(4, Channel::Web, Some(early))];
        assert_eq!(choose(Strategy::LeastLoaded, &candidates, Channel::Api, &[]), Some(4));
        // Load decides before waiting time.
        let candidates = vec![with(1, Channel::Phone, None), with(2, Channel::Email, Some(late))];
        assert_eq!(choose(Strategy::LeastLoaded, &candidates, Channel::Email, &[]), Some(2));
    }

    #[test]
    fn manual_or_nobody_eligible_leaves_the_item_waiting() {
        let candidates = vec![agent(1), agent(2)];
        assert_eq!(choose(Strategy::Manual, &candidates, Channel::Email, &[]), None);
        for strategy in [Strategy::RoundRobin, Strategy::LeastLoaded] {
            assert_eq!(choose(strategy, &[], Channel::Email, &[]), None);
            assert_eq!(choose(strategy, &candidates, Channel::Email, &skills(&["reclamos"])), None);
            let busy: Vec<_> = Presence::ALL
                .iter()
                .filter(|&&p| p != Presence::Available)
                .enumerate()
                .map(|(i, &presence)| Candidate { presence, ..agent(i as i64) })
                .collect();
            assert_eq!(choose(strategy, &busy, Channel::Email, &[]), None);
            let mut on_call = agent(1);
            on_call.load.add(Channel::Phone);
            assert_eq!(choose(strategy, &[on_call], Channel::Phone, &[]), None);
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    /// A wall-clock time in Santiago (the earlier instant if it happens twice).
    fn santiago(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Santiago.from_local_datetime(&date(y, mo, d).and_time(hm(h, mi))).earliest().unwrap().to_utc()
    }

    /// Santiago's UTC offset at `at`, in hours.
    fn offset_hours(at: DateTime<Utc>) -> i32 {
        let offset: FixedOffset = at.with_timezone(&Santiago).fixed_offset().timezone();
        offset.local_minus_utc() / 3600
    }

    /// Agents 10, 20, 30 over compras, proveedores and reclamos, Mondays 09:00 from 2026-08-31.
    fn weekly_monday_nine() -> RotationPlan {
        RotationPlan {
            agents: vec![10, 20, 30],
            queues: skills(&["compras", "proveedores", "reclamos"]),
            period: Period::Weekly,
            weekday: Weekday::Mon,
            at: hm(9, 0),
            timezone: Santiago,
            start: date(2026, 8, 31),
        }
    }

    fn daily(at: NaiveTime, start: NaiveDate) -> RotationPlan {
        RotationPlan { period: Period::Daily, at, start, ..weekly_monday_nine() }
    }

    #[test]
    fn santiago_2026_transitions() {
        // September: local 2026-09-06 00:00–00:59 does not exist (-04 → -03).
        let skipped = date(2026, 9, 6).and_time(hm(0, 30));
        assert_eq!(Santiago.from_local_datetime(&skipped), LocalResult::None);
        assert_eq!(offset_hours(t("2026-09-06T03:59:59Z")), -4);
        assert_eq!(offset_hours(t("2026-09-06T04:00:00Z")), -3);
        // April: local 2026-04-04 23:00–23:59 happens twice (-03 then -04).
        let repeated = date(2026, 4, 4).and_time(hm(23, 30));
        assert!(matches!(Santiago.from_local_datetime(&repeated), LocalResult::Ambiguous(..)));
        assert_eq!(offset_hours(t("2026-04-05T02:59:59Z")), -3);
        assert_eq!(offset_hours(t("2026-04-05T03:00:00Z")), -4);
    }

    #[test]
    fn weekly_rotation_periods_and_memberships() {
        let plan = weekly_monday_nine();
        assert_eq!(plan.period_index(santiago(2026, 8, 31, 8, 59)), None);
        assert_eq!(plan.period_index(t("2020-01-01T00:00:00Z")), None);
        assert_eq!(plan.period_index(santiago(2026, 8, 31, 9, 0)), Some(0));
        assert_eq!(plan.period_index(santiago(2026, 9, 7, 8, 59)), Some(0));
        assert_eq!(plan.period_index(santiago(2026, 9, 7, 9, 0)), Some(1));
        assert_eq!(plan.period_index(santiago(2026, 9, 10, 15, 0)), Some(1));
        assert_eq!(plan.period_index(santiago(2026, 9, 14, 9, 0)), Some(2));

        let m = |pairs: &[(i64, &str)]| pairs.iter().map(|&(a, q)| (a, q.to_owned())).collect::<Vec<_>>();
        assert_eq!(plan.memberships(0), m(&[(10, "compras"), (20, "proveedores"), (30, "reclamos")]));
        assert_eq!(plan.memberships(1), m(&[(10, "proveedores"), (20, "reclamos"), (30, "compras")]));
        assert_eq!(plan.memberships(3), plan.memberships(0));
        assert_eq!(plan.memberships(u32::MAX), plan.memberships(u32::MAX % 3));
    }

    #[test]
    fn memberships_with_more_agents_than_queues_and_empty_plans() {
        let plan = RotationPlan { agents: vec![1, 2, 3], queues: skills(&["a", "b"]), ..weekly_monday_nine() };
        let m = |pairs: &[(i64, &str)]| pairs.iter().map(|&(a, q)| (a, q.to_owned())).collect::<Vec<_>>();
        assert_eq!(plan.memberships(0), m(&[(1, "a"), (2, "b"), (3, "a")]));
        assert_eq!(plan.memberships(1), m(&[(1, "b"), (2, "a"), (3, "b")]));
        assert!(RotationPlan { agents: vec![], ..weekly_monday_nine() }.memberships(1).is_empty());
        assert!(RotationPlan { queues: vec![], ..weekly_monday_nine() }.memberships(1).is_empty());
    }

    #[test]
    fn weekly_boundary_keeps_local_time_across_september_dst() {
        let plan = weekly_monday_nine();
        assert_eq!(plan.boundary(0), t("2026-08-31T13:00:00Z"));
        assert_eq!(offset_hours(plan.boundary(0)), -4);
        assert_eq!(plan.boundary(1), t("2026-09-07T12:00:00Z"));
        assert_eq!(offset_hours(plan.boundary(1)), -3);
        assert_eq!(plan.boundary(2), t("2026-09-14T12:00:00Z"));
        // 09:00 local on 2026-09-07 is 12:00 UTC; the old offset's 13:00 UTC is already 10:00.
        assert_eq!(plan.period_index(t("2026-09-07T11:59:59Z")), Some(0));
        assert_eq!(plan.period_index(t("2026-09-07T12:00:00Z")), Some(1));
    }

    #[test]
    fn weekly_plan_starts_on_the_first_matching_weekday() {
        // Thursday 2026-08-27: the first Monday on or after it is 2026-08-31.
        let plan = RotationPlan { start: date(2026, 8, 27), ..weekly_monday_nine() };
        assert_eq!(plan.first_date(), date(2026, 8, 31));
        assert_eq!(plan.boundary(0), weekly_monday_nine().boundary(0));
        assert_eq!(plan.period_index(santiago(2026, 8, 28, 12, 0)), None);
        assert_eq!(plan.period_index(santiago(2026, 9, 7, 9, 0)), Some(1));
        // An aligned start is kept; daily plans ignore the weekday.
        assert_eq!(weekly_monday_nine().first_date(), date(2026, 8, 31));
        assert_eq!(daily(hm(9, 0), date(2026, 8, 27)).first_date(), date(2026, 8, 27));
        let sunday = RotationPlan { weekday: Weekday::Sun, ..weekly_monday_nine() };
        assert_eq!(sunday.first_date(), date(2026, 9, 6));
    }

    #[test]
    fn daily_boundary_in_the_skipped_hour_moves_after_the_gap() {
        let plan = daily(hm(0, 30), date(2026, 9, 6));
        // 00:30 does not exist that day: the clocks jump from 00:00 -04 to 01:00 -03.
        assert_eq!(plan.boundary(0), t("2026-09-06T04:00:00Z"));
        assert_eq!(plan.boundary(0).with_timezone(&Santiago).time(), hm(1, 0));
        assert_eq!(plan.period_index(t("2026-09-06T03:59:59Z")), None);
        assert_eq!(plan.period_index(t("2026-09-06T04:00:00Z")), Some(0));
        assert_eq!(plan.boundary(1), t("2026-09-07T03:30:00Z"));

        let earlier = daily(hm(0, 30), date(2026, 9, 4));
        assert_eq!(earlier.boundary(1), t("2026-09-05T04:30:00Z"));
        assert_eq!(earlier.boundary(2), t("2026-09-06T04:00:00Z"));
        assert_eq!(earlier.period_index(t("2026-09-06T03:59:59Z")), Some(1));
        assert_eq!(earlier.period_index(t("2026-09-06T04:00:00Z")), Some(2));
    }

    #[test]
    fn daily_boundary_in_the_repeated_hour_takes_the_earlier_instant() {
        // Saturday 2026-04-04: 23:30 happens at -03 (02:30 UTC) and again at -04 (03:30 UTC).
        let plan = daily(hm(23, 30), date(2026, 4, 3));
        assert_eq!(plan.boundary(0), t("2026-04-04T02:30:00Z"));
        assert_eq!(plan.boundary(1), t("2026-04-05T02:30:00Z"));
        assert_eq!(plan.boundary(2), t("2026-04-06T03:30:00Z"));
        assert_eq!(plan.period_index(t("2026-04-05T02:29:59Z")), Some(0));
        assert_eq!(plan.period_index(t("2026-04-05T02:30:00Z")), Some(1));
        // Back at 23:00 local (-04), wall-clock before 23:30, but period 1 has already begun.
        assert_eq!(plan.period_index(t("2026-04-05T03:00:00Z")), Some(1));
        assert_eq!(plan.period_index(t("2026-04-05T03:30:00Z")), Some(1));

        let starting_there = daily(hm(23, 30), date(2026, 4, 4));
        assert_eq!(starting_there.period_index(t("2026-04-05T02:29:59Z")), None);
        assert_eq!(starting_there.period_index(t("2026-04-05T03:15:00Z")), Some(0));
    }

    #[test]
    fn boundary_and_period_index_agree() {
        let plans = [
            weekly_monday_nine(),
            RotationPlan { at: hm(0, 30), weekday: Weekday::Sun, ..weekly_monday_nine() },
            daily(hm(0, 30), date(2026, 8, 1)),
            daily(hm(23, 30), date(2026, 3, 10)),
            daily(hm(0, 0), date(2026, 3, 10)),
            daily(hm(0, 0), date(2026, 8, 1)),
            RotationPlan { timezone: Tz::UTC, ..daily(hm(9, 0), date(2026, 1, 1)) },
        ];
        for plan in &plans {
            assert_eq!(plan.period_index(plan.boundary(0)), Some(0), "{plan:?}");
            assert_eq!(plan.period_index(plan.boundary(0) - TimeDelta::seconds(1)), None, "{plan:?}");
            for k in 1..60 {
                let b = plan.boundary(k);
                assert!(plan.boundary(k - 1) < b, "{plan:?} k={k}");
                assert_eq!(plan.period_index(b), Some(k), "{plan:?} k={k}");
                assert_eq!(plan.period_index(b - TimeDelta::seconds(1)), Some(k - 1), "{plan:?} k={k}");
            }
        }
    }

    #[test]
    fn boundary_saturates_past_the_calendar() {
        let plan = weekly_monday_nine();
        assert_eq!(plan.boundary(u32::MAX), DateTime::<Utc>::MAX_UTC);
        assert!(plan.period_index(DateTime::<Utc>::MAX_UTC).is_some());
    }

    #[test]
    fn validate_plan_errors() {
        let q = skills(&["compras", "reclamos"]);
        assert_eq!(validate_plan(&[1, 2], &q), Ok(()));
        let err =
            |pairs: &[(&str, &str)]| Err(pairs.iter().map(|&(f, m)| (f.to_owned(), m.to_owned())).collect::<Vec<_>>());
        assert_eq!(validate_plan(&[], &q), err(&[("agents", "indique al menos un agente")]));
        assert_eq!(validate_plan(&[1, 2], &[]), err(&[("queues", "indique al menos una cola")]));
        assert_eq!(
            validate_plan(&[7, 3, 7, 7, 3], &q),
            err(&[("agents", "el agente 7 está repetido"), ("agents", "el agente 3 está repetido")])
        );
        assert_eq!(
            validate_plan(&[], &skills(&["compras", "compras"])),
            err(&[("agents", "indique al menos un agente"), ("queues", "la cola «compras» está repetida")])
        );
    }
}
