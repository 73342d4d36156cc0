//! SLA clocks computed by replaying a ticket's event log: a pure function of the events, the
//! policy snapshots recorded in them and the business calendars. The live view, the scanner's due
//! times and reports all use this one replay, so they cannot disagree.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ticket::{string_enum, UnknownValue};
use super::Status;

string_enum!(
    /// What an SLA target measures.
    Metric {
        FirstReply => "first_reply",
        NextReply => "next_reply",
        PeriodicUpdate => "periodic_update",
        Resolution => "resolution",
        Callback => "callback",
    }
);

string_enum!(MetricState { Active => "active", Paused => "paused", Met => "met", Breached => "breached", Cancelled => "cancelled" });

/// Counts open business time. Implemented by the business calendar; tests use simple clocks.
pub trait BusinessClock {
    /// The instant when `amount` of open time has elapsed after `start` (`None` if never).
    fn add_open_time(&self, start: DateTime<Utc>, amount: TimeDelta) -> Option<DateTime<Utc>>;
    /// Open time between two instants.
    fn open_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta;
}

/// Finds the clock of a calendar by id.
pub trait Clocks {
    fn clock(&self, calendar_id: i64) -> Option<&dyn BusinessClock>;
}

/// The policy in force for one ticket, resolved for its priority, as recorded in its event log
/// (`sla_policy_applied`). Recording the snapshot keeps history from being rewritten when an
/// administrator later edits the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppliedPolicy {
    pub policy_id: i64,
    pub policy_name: String,
    pub calendar_id: i64,
    /// Minutes per metric; a metric without a target is not measured.
    #[schema(value_type = Object)]
    pub targets: BTreeMap<Metric, i64>,
    /// Statuses that pause each metric.
    #[schema(value_type = Object)]
    pub pause: BTreeMap<Metric, Vec<Status>>,
    pub warn_percent: Option<i64>,
    pub warn_before_minutes: Option<i64>,
}

/// The events that move SLA clocks, already read from the event log.
#[derive(Debug, Clone, PartialEq)]
pub enum SlaEvent {
    Created,
    /// A public reply by an agent (not the ticket's first message).
    AgentReply,
    /// A public message from the requester (not the ticket's first message).
    RequesterMessage,
    StatusChanged(Status),
    PolicyApplied(AppliedPolicy),
    /// Merged into another ticket: every running clock is cancelled.
    Merged,
    /// The ticket is a call back owed to a caller: the call back replaces the first reply.
    CallbackRequested,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimedEvent {
    pub at: DateTime<Utc>,
    pub event: SlaEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Interval {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
}

/// One instance of a metric (first_reply and resolution have one; next_reply and periodic_update a
/// new one per turn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MetricTimeline {
    pub metric: Metric,
    pub instance: u32,
    pub state: MetricState,
    pub target_minutes: Option<i64>,
    pub calendar_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub warn_at: Option<DateTime<Utc>>,
    /// Open business time consumed so far.
    pub elapsed_minutes: i64,
    pub paused: Vec<Interval>,
    pub met_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

struct Clock {
    timeline: MetricTimeline,
    elapsed: TimeDelta,
    /// `Some` while the clock runs (not paused, not stopped).
    running_since: Option<DateTime<Utc>>,
    stopped: bool,
}

struct Replay<'a> {
    clocks: &'a dyn Clocks,
    status: Status,
    policy: Option<AppliedPolicy>,
    items: Vec<Clock>,
}

impl Replay<'_> {
    fn clock_of(&self) -> Option<&dyn BusinessClock> {
        self.policy.as_ref().and_then(|p| self.clocks.clock(p.calendar_id))
    }

    fn open_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        match self.clock_of() {
            Some(clock) => clock.open_time_between(from, to),
            None => (to - from).max(TimeDelta::zero()),
        }
    }

    fn add_time(&self, start: DateTime<Utc>, amount: TimeDelta) -> Option<DateTime<Utc>> {
        let amount = amount.max(TimeDelta::zero());
        match self.clock_of() {
            Some(clock) => clock.add_open_time(start, amount),
            None => Some(start + amount),
        }
    }

    fn paused_by(&self, metric: Metric, status: Status) -> bool {
        self.policy.as_ref().and_then(|p| p.pause.get(&metric)).is_some_and(|statuses| statuses.contains(&status))
    }

    fn target(&self, metric: Metric) -> Option<i64> {
        self.policy.as_ref().and_then(|p| p.targets.get(&metric).copied())
    }

    fn active(&mut self, metric: Metric) -> Option<&mut Clock> {
        self.items.iter_mut().rev().find(|c| c.timeline.metric == metric && !c.stopped)
    }

    fn start(&mut self, metric: Metric, at: DateTime<Utc>) {
        let instance = self.items.iter().filter(|c| c.timeline.metric == metric).count() as u32;
        let running = !self.paused_by(metric, self.status);
        let mut timeline = MetricTimeline {
            metric,
            instance,
            state: MetricState::Active,
            target_minutes: self.target(metric),
            calendar_id: self.policy.as_ref().map(|p| p.calendar_id),
            started_at: at,
            due_at: None,
            warn_at: None,
            elapsed_minutes: 0,
            paused: Vec::new(),
            met_at: None,
            breached_at: None,
            cancelled_at: None,
        };
        if !running {
            timeline.paused.push(Interval { from: at, to: None });
        }
        self.items.push(Clock {
            timeline,
            elapsed: TimeDelta::zero(),
            running_since: running.then_some(at),
            stopped: false,
        });
    }

    /// Due instant of a running clock: when its consumed time reaches the target.
    fn due(&self, c: &Clock) -> Option<DateTime<Utc>> {
        let target = c.timeline.target_minutes?;
        let since = c.running_since?;
        self.add_time(since, TimeDelta::minutes(target) - c.elapsed)
    }

    /// Marks breaches that happened before `t`.
    fn advance(&mut self, t: DateTime<Utc>) {
        for i in 0..self.items.len() {
            let c = &self.items[i];
            if c.stopped || c.timeline.breached_at.is_some() {
                continue;
            }
            if let Some(due) = self.due(c).filter(|due| *due <= t) {
                self.items[i].timeline.breached_at = Some(due);
            }
        }
    }

    fn pause(&mut self, i: usize, t: DateTime<Utc>) {
        if let Some(since) = self.items[i].running_since {
            let spent = self.open_time(since, t);
            let c = &mut self.items[i];
            c.elapsed += spent;
            c.running_since = None;
            c.timeline.paused.push(Interval { from: t, to: None });
        }
    }

    fn resume(&mut self, i: usize, t: DateTime<Utc>) {
        let c = &mut self.items[i];
        if c.running_since.is_none() && !c.stopped {
            c.running_since = Some(t);
            if let Some(last) = c.timeline.paused.last_mut() {
                last.to = Some(t);
            }
        }
    }

    /// Stops a clock: met (`cancel == false`) or cancelled.
    fn stop(&mut self, metric: Metric, t: DateTime<Utc>, cancel: bool) {
        let Some(i) = self.items.iter().rposition(|c| c.timeline.metric == metric && !c.stopped) else { return };
        let consumed = self.items[i].running_since.map(|since| self.open_time(since, t));
        let c = &mut self.items[i];
        match consumed {
            Some(spent) => c.elapsed += spent,
            None => {
                if let Some(open) = c.timeline.paused.last_mut().filter(|p| p.to.is_none()) {
                    open.to = Some(t);
                }
            }
        }
        c.running_since = None;
        c.stopped = true;
        if cancel {
            c.timeline.cancelled_at = Some(t);
        } else {
            c.timeline.met_at = Some(t);
        }
    }

    fn apply(&mut self, t: DateTime<Utc>, event: &SlaEvent) {
        self.advance(t);
        match event {
            SlaEvent::Created => {
                self.start(Metric::FirstReply, t);
                self.start(Metric::Resolution, t);
            }
            SlaEvent::PolicyApplied(policy) => self.retarget(t, policy.clone()),
            SlaEvent::AgentReply => {
                for metric in [Metric::FirstReply, Metric::NextReply, Metric::PeriodicUpdate, Metric::Callback] {
                    self.stop(metric, t, false);
                }
                if self.status.is_open() && self.target(Metric::PeriodicUpdate).is_some() {
                    self.start(Metric::PeriodicUpdate, t);
                }
            }
            SlaEvent::RequesterMessage => {
                let first_reply_pending = self.active(Metric::FirstReply).is_some();
                if !first_reply_pending && self.active(Metric::NextReply).is_none() {
                    self.start(Metric::NextReply, t);
                }
            }
            SlaEvent::StatusChanged(to) => self.change_status(t, *to),
            SlaEvent::Merged => {
                for metric in Metric::ALL {
                    self.stop(*metric, t, true);
                }
            }
            SlaEvent::CallbackRequested => {
                self.stop(Metric::FirstReply, t, true);
                if self.active(Metric::Callback).is_none() {
                    self.start(Metric::Callback, t);
                }
            }
        }
    }

    fn change_status(&mut self, t: DateTime<Utc>, to: Status) {
        let from = std::mem::replace(&mut self.status, to);
        if to == Status::Solved {
            // Solved without any reply: the first reply was never owed.
            self.stop(Metric::FirstReply, t, true);
            self.stop(Metric::NextReply, t, false);
            self.stop(Metric::PeriodicUpdate, t, true);
            self.stop(Metric::Resolution, t, false);
            // Solving a callback task without a recorded call: the agent reached the caller
            // some other way, so the call back is done.
            self.stop(Metric::Callback, t, false);
        }
        if matches!(from, Status::Solved | Status::Closed) && to.is_open() {
            // A reopen continues the same resolution clock: time adds up across reopenings.
            if let Some(c) = self.items.iter_mut().rev().find(|c| c.timeline.metric == Metric::Resolution) {
                if c.timeline.cancelled_at.is_none() {
                    c.stopped = false;
                    c.timeline.met_at = None;
                    c.running_since = Some(t);
                }
            }
        }
        for i in 0..self.items.len() {
            if self.items[i].stopped {
                continue;
            }
            let metric = self.items[i].timeline.metric;
            match (self.paused_by(metric, to), self.items[i].running_since.is_some()) {
                (true, true) => self.pause(i, t),
                (false, false) => self.resume(i, t),
                _ => {}
            }
        }
    }

    /// A new policy or target: due times are recomputed from the original start minus paused
    /// time; a clock already past its new target is breached at once.
    fn retarget(&mut self, t: DateTime<Utc>, policy: AppliedPolicy) {
        // Time consumed so far is measured with the calendar that was in force.
        for i in 0..self.items.len() {
            if let (false, Some(since)) = (self.items[i].stopped, self.items[i].running_since) {
                let spent = self.open_time(since, t);
                let c = &mut self.items[i];
                c.elapsed += spent;
                c.running_since = Some(t);
            }
        }
        self.policy = Some(policy);
        for i in 0..self.items.len() {
            let target = self.target(self.items[i].timeline.metric);
            let calendar = self.policy.as_ref().map(|p| p.calendar_id);
            let c = &mut self.items[i];
            if c.stopped {
                continue;
            }
            c.timeline.target_minutes = target;
            c.timeline.calendar_id = calendar;
            if let Some(target) = target {
                if c.elapsed >= TimeDelta::minutes(target) && c.timeline.breached_at.is_none() {
                    c.timeline.breached_at = Some(t);
                }
            }
        }
    }

    fn finish(mut self, now: DateTime<Utc>) -> Vec<MetricTimeline> {
        self.advance(now);
        let mut out = Vec::with_capacity(self.items.len());
        for i in 0..self.items.len() {
            let c = &self.items[i];
            let mut elapsed = c.elapsed;
            if let Some(since) = c.running_since.filter(|_| !c.stopped) {
                elapsed += self.open_time(since, now.max(since));
            }
            let due = if c.stopped { None } else { self.due(c) };
            let warn = if c.stopped { None } else { self.warn_at(c) };
            let mut timeline = c.timeline.clone();
            timeline.elapsed_minutes = elapsed.num_minutes();
            timeline.due_at = due;
            timeline.warn_at = warn;
            timeline.state = if timeline.cancelled_at.is_some() {
                MetricState::Cancelled
            } else if timeline.breached_at.is_some() {
                MetricState::Breached
            } else if timeline.met_at.is_some() {
                MetricState::Met
            } else if c.running_since.is_none() {
                MetricState::Paused
            } else {
                MetricState::Active
            };
            out.push(timeline);
        }
        out
    }

    /// When the warning is due: a share of the target consumed, or minutes before the due time.
    fn warn_at(&self, c: &Clock) -> Option<DateTime<Utc>> {
        let policy = self.policy.as_ref()?;
        let target_secs = c.timeline.target_minutes? * 60;
        let threshold = match (policy.warn_percent, policy.warn_before_minutes) {
            (Some(pct), _) => target_secs * pct.clamp(1, 99) / 100,
            (None, Some(before)) => (target_secs - before * 60).max(0),
            (None, None) => return None,
        };
        self.add_time(c.running_since?, TimeDelta::seconds(threshold) - c.elapsed)
    }
}

/// Replays `events` (in log order) and returns every metric instance as of `now`.
pub fn replay(events: &[TimedEvent], clocks: &dyn Clocks, now: DateTime<Utc>) -> Vec<MetricTimeline> {
    let mut replay = Replay { clocks, status: Status::New, policy: None, items: Vec::new() };
    for event in events {
        replay.apply(event.at, &event.event);
    }
    replay.finish(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    /// Open 09:00–18:00 UTC every day: enough to test the replay rules without a time zone.
    struct NineToSix;

    impl NineToSix {
        fn open_range(day_start: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
            (day_start + Duration::hours(9), day_start + Duration::hours(18))
        }
    }

    fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
        Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).unwrap())
    }

    impl BusinessClock for NineToSix {
        fn add_open_time(&self, start: DateTime<Utc>, amount: TimeDelta) -> Option<DateTime<Utc>> {
            let mut seconds = amount.num_seconds();
            let mut day = day_start(start);
            let mut t = start;
            loop {
                let (open, close) = Self::open_range(day);
                let from = t.max(open);
                if from < close {
                    let available = (close - from).num_seconds();
                    if seconds <= available {
                        return Some(from + Duration::seconds(seconds));
                    }
                    seconds -= available;
                }
                day += Duration::days(1);
                t = day;
            }
        }

        fn open_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
            let mut total = 0;
            let mut day = day_start(from);
            while day < to {
                let (open, close) = Self::open_range(day);
                let (a, b) = (from.max(open), to.min(close));
                if a < b {
                    total += (b - a).num_seconds();
                }
                day += Duration::days(1);
            }
            TimeDelta::seconds(total)
        }
    }

    struct One(NineToSix);

    impl Clocks for One {
        fn clock(&self, _: i64) -> Option<&dyn BusinessClock> {
            Some(&self.0)
        }
    }

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
    }

    fn policy(targets: &[(Metric, i64)]) -> AppliedPolicy {
        AppliedPolicy {
            policy_id: 1,
            policy_name: "Estándar".into(),
            calendar_id: 1,
            targets: targets.iter().copied().collect(),
            pause: [(Metric::Resolution, vec![Status::Pending]), (Metric::PeriodicUpdate, vec![Status::Pending])]
                .into_iter()
                .collect(),
            warn_percent: Some(80),
            warn_before_minutes: None,
        }
    }

    fn ev(at: DateTime<Utc>, event: SlaEvent) -> TimedEvent {
        TimedEvent { at, event }
    }

    fn run(events: &[TimedEvent], now: DateTime<Utc>) -> Vec<MetricTimeline> {
        replay(events, &One(NineToSix), now)
    }

    fn get(out: &[MetricTimeline], metric: Metric, instance: u32) -> &MetricTimeline {
        out.iter().find(|m| m.metric == metric && m.instance == instance).expect("metric instance")
    }

    fn standard() -> AppliedPolicy {
        policy(&[(Metric::FirstReply, 60), (Metric::NextReply, 120), (Metric::Resolution, 540)])
    }

    #[test]
    fn first_reply_met_in_business_time() {
        // Created 17:30: 30 minutes today, due 09:30 next day.
        let events = [ev(at(2, 17, 30), SlaEvent::Created), ev(at(2, 17, 30), SlaEvent::PolicyApplied(standard()))];
        let out = run(&events, at(2, 17, 40));
        let first = get(&out, Metric::FirstReply, 0);
        assert_eq!(first.state, MetricState::Active);
        assert_eq!(first.due_at, Some(at(3, 9, 30)));
        assert_eq!(first.warn_at, Some(at(3, 9, 18)));
        assert_eq!(first.elapsed_minutes, 10);
        let mut replied = events.to_vec();
        replied.push(ev(at(3, 9, 10), SlaEvent::AgentReply));
        let out = run(&replied, at(3, 12, 0));
        let first = get(&out, Metric::FirstReply, 0);
        assert_eq!((first.state, first.met_at, first.due_at), (MetricState::Met, Some(at(3, 9, 10)), None));
        assert_eq!(first.elapsed_minutes, 40);
    }

    #[test]
    fn callback_replaces_first_reply_and_is_met_by_an_answered_call() {
        let with_callback = || {
            let mut p = standard();
            p.targets.insert(Metric::Callback, 120);
            p
        };
        let events = [
            ev(at(2, 17, 0), SlaEvent::Created),
            ev(at(2, 17, 0), SlaEvent::PolicyApplied(with_callback())),
            ev(at(2, 17, 0), SlaEvent::CallbackRequested),
        ];
        let out = run(&events, at(2, 17, 30));
        let first = get(&out, Metric::FirstReply, 0);
        assert_eq!((first.state, first.cancelled_at), (MetricState::Cancelled, Some(at(2, 17, 0))));
        // Two business hours from 17:00: one today, one tomorrow from 09:00.
        let callback = get(&out, Metric::Callback, 0);
        assert_eq!((callback.state, callback.due_at), (MetricState::Active, Some(at(3, 10, 0))));
        let mut called = events.to_vec();
        called.push(ev(at(3, 9, 15), SlaEvent::AgentReply));
        let out = run(&called, at(3, 12, 0));
        let callback = get(&out, Metric::Callback, 0);
        assert_eq!(
            (callback.state, callback.met_at, callback.elapsed_minutes),
            (MetricState::Met, Some(at(3, 9, 15)), 75)
        );
        // Without a call, solving the task also ends the clock; past due it stays breached.
        let mut solved = events.to_vec();
        solved.push(ev(at(3, 11, 0), SlaEvent::StatusChanged(Status::Solved)));
        let out = run(&solved, at(3, 12, 0));
        let callback = get(&out, Metric::Callback, 0);
        assert_eq!((callback.state, callback.breached_at), (MetricState::Breached, Some(at(3, 10, 0))));
    }

    #[test]
    fn created_outside_hours_starts_at_next_opening() {
        let events = [ev(at(2, 22, 0), SlaEvent::Created), ev(at(2, 22, 0), SlaEvent::PolicyApplied(standard()))];
        let out = run(&events, at(2, 23, 0));
        assert_eq!(get(&out, Metric::FirstReply, 0).due_at, Some(at(3, 10, 0)));
        assert_eq!(get(&out, Metric::FirstReply, 0).elapsed_minutes, 0);
    }

    #[test]
    fn breach_is_dated_at_the_due_time_and_kept_when_met_late() {
        let events = [
            ev(at(2, 10, 0), SlaEvent::Created),
            ev(at(2, 10, 0), SlaEvent::PolicyApplied(standard())),
            ev(at(2, 12, 0), SlaEvent::AgentReply),
        ];
        let out = run(&events, at(2, 13, 0));
        let first = get(&out, Metric::FirstReply, 0);
        assert_eq!(first.state, MetricState::Breached);
        assert_eq!(first.breached_at, Some(at(2, 11, 0)));
        assert_eq!(first.met_at, Some(at(2, 12, 0)));
        // Still running and past due: breached now.
        let out = run(&events[..2], at(2, 11, 30));
        assert_eq!(get(&out, Metric::FirstReply, 0).state, MetricState::Breached);
    }

    #[test]
    fn pending_pauses_resolution_but_not_first_reply() {
        let events = [
            ev(at(2, 9, 0), SlaEvent::Created),
            ev(at(2, 9, 0), SlaEvent::PolicyApplied(standard())),
            ev(at(2, 9, 30), SlaEvent::AgentReply),
            ev(at(2, 9, 30), SlaEvent::StatusChanged(Status::Pending)),
            ev(at(2, 15, 0), SlaEvent::RequesterMessage),
            ev(at(2, 15, 0), SlaEvent::StatusChanged(Status::Open)),
        ];
        let out = run(&events, at(2, 16, 0));
        let resolution = get(&out, Metric::Resolution, 0);
        assert_eq!(resolution.state, MetricState::Active);
        assert_eq!(resolution.paused, vec![Interval { from: at(2, 9, 30), to: Some(at(2, 15, 0)) }]);
        // 30 min before the pause + 60 min after it.
        assert_eq!(resolution.elapsed_minutes, 90);
        // 540 − 30 = 510 minutes from 15:00: 180 today, 330 tomorrow → 14:30.
        assert_eq!(resolution.due_at, Some(at(3, 14, 30)));
        let next = get(&out, Metric::NextReply, 0);
        assert_eq!((next.state, next.started_at, next.due_at), (MetricState::Active, at(2, 15, 0), Some(at(2, 17, 0))));
    }

    #[test]
    fn next_reply_gets_an_instance_per_requester_turn() {
        let events = [
            ev(at(2, 9, 0), SlaEvent::Created),
            ev(at(2, 9, 0), SlaEvent::PolicyApplied(standard())),
            // Before the first reply, requester follow-ups belong to first_reply.
            ev(at(2, 9, 10), SlaEvent::RequesterMessage),
            ev(at(2, 9, 20), SlaEvent::AgentReply),
            ev(at(2, 10, 0), SlaEvent::RequesterMessage),
            ev(at(2, 10, 5), SlaEvent::RequesterMessage),
            ev(at(2, 11, 0), SlaEvent::AgentReply),
            ev(at(2, 13, 0), SlaEvent::RequesterMessage),
        ];
        let out = run(&events, at(2, 14, 0));
        let instances: Vec<_> = out.iter().filter(|m| m.metric == Metric::NextReply).collect();
        assert_eq!(instances.len(), 2);
        assert_eq!((instances[0].started_at, instances[0].met_at), (at(2, 10, 0), Some(at(2, 11, 0))));
        assert_eq!((instances[1].state, instances[1].due_at), (MetricState::Active, Some(at(2, 15, 0))));
    }

    #[test]
    fn solved_without_reply_cancels_first_reply_and_reopen_continues_resolution() {
        let events = [
            ev(at(2, 9, 0), SlaEvent::Created),
            ev(at(2, 9, 0), SlaEvent::PolicyApplied(standard())),
            ev(at(2, 10, 0), SlaEvent::StatusChanged(Status::Solved)),
        ];
        let out = run(&events, at(2, 12, 0));
        assert_eq!(get(&out, Metric::FirstReply, 0).state, MetricState::Cancelled);
        let resolution = get(&out, Metric::Resolution, 0);
        assert_eq!((resolution.state, resolution.met_at), (MetricState::Met, Some(at(2, 10, 0))));

        let mut reopened = events.to_vec();
        reopened.push(ev(at(2, 14, 0), SlaEvent::RequesterMessage));
        reopened.push(ev(at(2, 14, 0), SlaEvent::StatusChanged(Status::Open)));
        let out = run(&reopened, at(2, 15, 0));
        let resolution = get(&out, Metric::Resolution, 0);
        assert_eq!(resolution.state, MetricState::Active);
        assert_eq!(resolution.met_at, None);
        // 60 minutes before solving + 60 since reopening; the solved gap does not count.
        assert_eq!(resolution.elapsed_minutes, 120);
        // 480 minutes left at 14:00: 240 today, 240 tomorrow.
        assert_eq!(resolution.due_at, Some(at(3, 13, 0)));
        assert_eq!(out.iter().filter(|m| m.metric == Metric::Resolution).count(), 1);
    }

    #[test]
    fn priority_change_recomputes_from_the_original_start() {
        let events = [
            ev(at(2, 9, 0), SlaEvent::Created),
            ev(at(2, 9, 0), SlaEvent::PolicyApplied(standard())),
            ev(at(2, 9, 20), SlaEvent::PolicyApplied(policy(&[(Metric::FirstReply, 30), (Metric::Resolution, 240)]))),
        ];
        let out = run(&events, at(2, 9, 25));
        let first = get(&out, Metric::FirstReply, 0);
        assert_eq!((first.target_minutes, first.due_at), (Some(30), Some(at(2, 9, 30))));
        // A target already exceeded breaches at the change itself.
        let late = [
            ev(at(2, 9, 0), SlaEvent::Created),
            ev(at(2, 9, 0), SlaEvent::PolicyApplied(standard())),
            ev(at(2, 9, 45), SlaEvent::PolicyApplied(policy(&[(Metric::FirstReply, 30)]))),
        ];
        let out = run(&late, at(2, 9, 50));
        let first = get(&out, Metric::FirstReply, 0);
        assert_eq!((first.state, first.breached_at), (MetricState::Breached, Some(at(2, 9, 45))));
        // A metric the new policy does not measure has no target any more.
        assert_eq!(get(&out, Metric::Resolution, 0).target_minutes, None);
    }

    #[test]
    fn periodic_update_restarts_at_each_reply_and_pauses_when_pending() {
        let p = policy(&[(Metric::FirstReply, 60), (Metric::PeriodicUpdate, 240)]);
        let events = [
            ev(at(2, 9, 0), SlaEvent::Created),
            ev(at(2, 9, 0), SlaEvent::PolicyApplied(p)),
            ev(at(2, 9, 0), SlaEvent::StatusChanged(Status::Open)),
            ev(at(2, 9, 30), SlaEvent::AgentReply),
            ev(at(2, 10, 30), SlaEvent::AgentReply),
            ev(at(2, 11, 30), SlaEvent::StatusChanged(Status::Pending)),
        ];
        let out = run(&events, at(2, 17, 0));
        let updates: Vec<_> = out.iter().filter(|m| m.metric == Metric::PeriodicUpdate).collect();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].met_at, Some(at(2, 10, 30)));
        assert_eq!((updates[1].state, updates[1].elapsed_minutes, updates[1].due_at), (MetricState::Paused, 60, None));
    }

    #[test]
    fn merge_cancels_everything_running() {
        let events = [
            ev(at(2, 9, 0), SlaEvent::Created),
            ev(at(2, 9, 0), SlaEvent::PolicyApplied(standard())),
            ev(at(2, 9, 5), SlaEvent::Merged),
        ];
        let out = run(&events, at(3, 9, 0));
        assert!(out.iter().all(|m| m.state == MetricState::Cancelled), "{out:?}");
    }

    #[test]
    fn without_a_policy_nothing_is_due() {
        let out = run(&[ev(at(2, 9, 0), SlaEvent::Created)], at(9, 9, 0));
        assert!(out.iter().all(|m| m.due_at.is_none() && m.state == MetricState::Active));
    }
}
