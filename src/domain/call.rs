//! Phone calls: the PBX reports a call as a series of timestamped events that may arrive
//! duplicated, repeated or out of order. `summarize` folds all events of one call into a summary
//! that depends only on the set of events, so late or replayed webhooks cannot change history.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ticket::{string_enum, UnknownValue};

/// `string_enum!` with each variant's JSON spelled exactly as its text. `string_enum!` derives the
/// JSON spelling from the variant name in snake_case, which differs from the text for these two.
/// The text is taken as `tt`, not `literal`: a `literal` fragment reaches the derives wrapped in
/// an invisible group that utoipa does not see through, and the schema would list variant names.
macro_rules! exact_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const TEXTS: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { expected: $name::TEXTS }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

exact_enum!(
    /// Who placed the call: `in` from a customer, `out` by an agent.
    Direction { Inbound => "in", Outbound => "out" }
);

exact_enum!(
    /// Hangup causes of the generic CTI format (Zammad's), camelCase as the PBX connectors send them.
    Cause {
        NormalClearing => "normalClearing",
        Busy => "busy",
        Cancel => "cancel",
        NoAnswer => "noAnswer",
        Congestion => "congestion",
        NotFound => "notFound",
        Forwarded => "forwarded",
    }
);

string_enum!(
    /// How the call ended.
    Outcome {
        Answered => "answered",
        Abandoned => "abandoned",
        ShortAbandoned => "short_abandoned",
        Voicemail => "voicemail",
        Unanswered => "unanswered",
        Forwarded => "forwarded",
        Rejected => "rejected",
    }
);

string_enum!(CallState { Queued => "queued", Talking => "talking", Ended => "ended" });

/// One event as reported by the PBX (already validated; phone numbers already normalised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallEventKind {
    Queued {
        direction: Direction,
        from: Option<String>,
        to: Option<String>,
        queue: Option<String>,
    },
    Answered {
        agent: Option<String>,
    },
    Held,
    Resumed,
    Transferred {
        queue: Option<String>,
        agent: Option<String>,
    },
    Ended {
        cause: Option<Cause>,
    },
    WrapupEnded {
        agent: Option<String>,
    },
    Voicemail {
        url: Option<String>,
        transcript: Option<String>,
    },
    /// We told the PBX to reject the call (blocked number).
    Rejected,
}

/// An event with the PBX's own timestamp (not the time we received it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    pub at: DateTime<Utc>,
    pub kind: CallEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Transfer {
    pub at: DateTime<Utc>,
    pub queue: Option<String>,
    pub agent: Option<String>,
}

/// What is known about a call so far. Durations are never negative, even with skewed PBX clocks.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSummary {
    /// From the first `Queued`; `Inbound` if there is none.
    pub direction: Direction,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The first `Queued`'s queue, replaced by each transfer that names a queue (last wins).
    pub queue: Option<String>,
    /// Earliest `Queued`, else the earliest event of any kind.
    pub queued_at: DateTime<Utc>,
    /// Earliest `Answered`.
    pub answered_at: Option<DateTime<Utc>>,
    /// Agent of the earliest `Answered` that names one.
    pub answering_agent: Option<String>,
    /// The answering agent, replaced by each later transfer that names an agent (last wins).
    pub current_agent: Option<String>,
    /// Earliest `Ended`; for a rejected call without `Ended`, the earliest `Rejected`.
    pub ended_at: Option<DateTime<Utc>>,
    /// Cause of the earliest `Ended`.
    pub cause: Option<Cause>,
    /// Earliest `WrapupEnded` at or after `ended_at`; earlier ones are stale and ignored.
    pub wrapup_ended_at: Option<DateTime<Utc>>,
    /// Until answered, or until the end if never answered.
    pub wait: Option<TimeDelta>,
    /// From answer to end, minus hold.
    pub talk: Option<TimeDelta>,
    pub hold: TimeDelta,
    /// After-call work: from the end to the end of wrap-up.
    pub acw: Option<TimeDelta>,
    /// In time order; an exact duplicate is counted once.
    pub transfers: Vec<Transfer>,
    /// Url and transcript of the earliest voicemail.
    pub voicemail: Option<(Option<String>, Option<String>)>,
    /// `None` while the call is not finished.
    pub outcome: Option<Outcome>,
}

impl CallSummary {
    pub fn state(&self) -> CallState {
        if self.outcome.is_some() {
            CallState::Ended
        } else if self.answered_at.is_some() {
            CallState::Talking
        } else {
            CallState::Queued
        }
    }

    /// Talk + hold + after-call work: the agent time the call consumed.
    pub fn handle_time(&self) -> Option<TimeDelta> {
        Some(self.talk? + self.hold + self.acw.unwrap_or_else(TimeDelta::zero))
    }
}

/// Orders kinds sharing a timestamp in the order they happen in a real call.
fn rank(kind: &CallEventKind) -> u8 {
    use CallEventKind::*;
    match kind {
        Queued { .. } => 0,
        Rejected => 1,
        Answered { .. } => 2,
        Held => 3,
        Resumed => 4,
        Transferred { .. } => 5,
        Voicemail { .. } => 6,
        Ended { .. } => 7,
        WrapupEnded { .. } => 8,
    }
}

/// Breaks ties between events of the same kind and time by their payload, so that the order is
/// total and no result depends on the order the events arrived in.
fn payload_cmp(a: &CallEventKind, b: &CallEventKind) -> Ordering {
    use CallEventKind::*;
    match (a, b) {
        (
            Queued { direction: d1, from: f1, to: t1, queue: q1 },
            Queued { direction: d2, from: f2, to: t2, queue: q2 },
        ) => (d1, f1, t1, q1).cmp(&(d2, f2, t2, q2)),
        (Answered { agent: a1 }, Answered { agent: a2 }) => a1.cmp(a2),
        (Transferred { queue: q1, agent: a1 }, Transferred { queue: q2, agent: a2 }) => (q1, a1).cmp(&(q2, a2)),
        (Ended { cause: c1 }, Ended { cause: c2 }) => c1.cmp(c2),
        (WrapupEnded { agent: a1 }, WrapupEnded { agent: a2 }) => a1.cmp(a2),
        (Voicemail { url: u1, transcript: t1 }, Voicemail { url: u2, transcript: t2 }) => (u1, t1).cmp(&(u2, t2)),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The events in canonical order, exact duplicates removed.
fn canonical(events: &[CallEvent]) -> Vec<&CallEvent> {
    let mut sorted: Vec<&CallEvent> = events.iter().collect();
    sorted.sort_by(|a, b| {
        a.at.cmp(&b.at).then_with(|| rank(&a.kind).cmp(&rank(&b.kind))).then_with(|| payload_cmp(&a.kind, &b.kind))
    });
    sorted.dedup();
    sorted
}

/// Sum of Held→Resumed intervals while talking. A hold still running at the end ends there; one
/// still running on a call in progress is not counted yet.
fn hold_time(events: &[&CallEvent], answered_at: DateTime<Utc>, ended_at: Option<DateTime<Utc>>) -> TimeDelta {
    let mut total = TimeDelta::zero();
    let mut since = None;
    let talking = events.iter().filter(|e| e.at >= answered_at && ended_at.is_none_or(|end| e.at <= end));
    for e in talking {
        match e.kind {
            CallEventKind::Held if since.is_none() => since = Some(e.at),
            CallEventKind::Resumed => {
                if let Some(start) = since.take() {
                    total += e.at - start;
                }
            }
            _ => {}
        }
    }
    if let (Some(start), Some(end)) = (since, ended_at) {
        total += end - start;
    }
    total
}

fn non_negative(d: TimeDelta) -> TimeDelta {
    d.max(TimeDelta::zero())
}

/// How a finished call ended; `None` while it is not finished.
fn outcome(s: &CallSummary, rejected: bool, short_abandon: TimeDelta) -> Option<Outcome> {
    s.ended_at?;
    Some(if rejected {
        Outcome::Rejected
    } else if s.answered_at.is_some() {
        Outcome::Answered
    } else if s.voicemail.is_some() {
        Outcome::Voicemail
    } else if s.cause == Some(Cause::Forwarded) {
        Outcome::Forwarded
    } else if s.direction == Direction::Outbound {
        Outcome::Unanswered
    } else if s.wait.unwrap_or_else(TimeDelta::zero) < short_abandon {
        // Callers who hang up within seconds usually dialled by mistake; they are not counted
        // against the queue.
        Outcome::ShortAbandoned
    } else {
        Outcome::Abandoned
    })
}

/// Folds all events of one call, in any order, into its summary; `None` without events.
/// `short_abandon` is the wait under which an unanswered inbound call is a short abandon.
pub fn summarize(events: &[CallEvent], short_abandon: TimeDelta) -> Option<CallSummary> {
    use CallEventKind::*;
    let events = canonical(events);
    let mut s = CallSummary {
        direction: Direction::Inbound,
        from: None,
        to: None,
        queue: None,
        queued_at: events.first()?.at,
        answered_at: None,
        answering_agent: None,
        current_agent: None,
        ended_at: None,
        cause: None,
        wrapup_ended_at: None,
        wait: None,
        talk: None,
        hold: TimeDelta::zero(),
        acw: None,
        transfers: Vec::new(),
        voicemail: None,
        outcome: None,
    };
    let mut queued = false;
    let mut transfer_queue = None;
    let mut rejected_at = None;
    for e in &events {
        match &e.kind {
            Queued { direction, from, to, queue } if !queued => {
                queued = true;
                s.direction = *direction;
                s.from.clone_from(from);
                s.to.clone_from(to);
                s.queue.clone_from(queue);
                s.queued_at = e.at;
            }
            Answered { agent } => {
                s.answered_at.get_or_insert(e.at);
                if let (None, Some(agent)) = (&s.answering_agent, agent) {
                    s.answering_agent = Some(agent.clone());
                    s.current_agent = Some(agent.clone());
                }
            }
            Transferred { queue, agent } => {
                // Transfers always follow queueing, whatever the clocks say; the agent, though,
                // is whoever took the call last in time.
                if queue.is_some() {
                    transfer_queue.clone_from(queue);
                }
                if agent.is_some() {
                    s.current_agent.clone_from(agent);
                }
                s.transfers.push(Transfer { at: e.at, queue: queue.clone(), agent: agent.clone() });
            }
            Ended { cause } if s.ended_at.is_none() => {
                s.ended_at = Some(e.at);
                s.cause = *cause;
            }
            Voicemail { url, transcript } if s.voicemail.is_none() => {
                s.voicemail = Some((url.clone(), transcript.clone()));
            }
            Rejected if rejected_at.is_none() => rejected_at = Some(e.at),
            _ => {}
        }
    }
    if transfer_queue.is_some() {
        s.queue = transfer_queue;
    }
    s.ended_at = s.ended_at.or(rejected_at);
    if let Some(end) = s.ended_at {
        s.wrapup_ended_at = events.iter().find(|e| matches!(e.kind, WrapupEnded { .. }) && e.at >= end).map(|e| e.at);
    }
    if let Some(answered) = s.answered_at {
        s.hold = hold_time(&events, answered, s.ended_at);
    }
    s.wait = s.answered_at.or(s.ended_at).map(|t| non_negative(t - s.queued_at));
    s.talk = s.answered_at.zip(s.ended_at).map(|(answered, end)| non_negative(end - answered - s.hold));
    s.acw = s.ended_at.zip(s.wrapup_ended_at).map(|(end, wrapup)| wrapup - end);
    s.outcome = outcome(&s, rejected_at.is_some(), short_abandon);
    Some(s)
}

/// A contact-center fact a call implies, derived again from all of its events each time one
/// arrives. Stored in `call_events` (source `derived`) under its kind; the latest version of a
/// kind is the truth for the call, and a retraction (`{"retracted": true}`) withdraws a fact that
/// no longer holds. The live figures count them; the readers of the stored rows parse them here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data")]
pub enum CallFact {
    /// An inbound call entered a queue (offered).
    #[serde(rename = "kpi.call_queued")]
    Queued { queue: Option<String> },
    #[serde(rename = "kpi.call_answered")]
    Answered { queue: Option<String>, direction: Direction, agent_id: Option<i64>, wait_seconds: Option<i64> },
    /// The caller hung up before being answered; `short`: before the short-abandon threshold.
    #[serde(rename = "kpi.call_abandoned")]
    Abandoned { queue: Option<String>, wait_seconds: Option<i64>, short: bool },
    #[serde(rename = "kpi.call_handled")]
    Handled {
        queue: Option<String>,
        agent_id: Option<i64>,
        talk_seconds: Option<i64>,
        hold_seconds: i64,
        acw_seconds: Option<i64>,
        handle_seconds: i64,
    },
}

/// Every kind of [`CallFact`], as stored.
pub const CALL_FACT_KINDS: [&str; 4] =
    ["kpi.call_queued", "kpi.call_answered", "kpi.call_abandoned", "kpi.call_handled"];

impl CallFact {
    /// The stored row's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallFact::Queued { .. } => CALL_FACT_KINDS[0],
            CallFact::Answered { .. } => CALL_FACT_KINDS[1],
            CallFact::Abandoned { .. } => CALL_FACT_KINDS[2],
            CallFact::Handled { .. } => CALL_FACT_KINDS[3],
        }
    }

    /// The stored row's `data`.
    pub fn data(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut tagged)) => tagged.remove("data").unwrap_or_default(),
            _ => unreachable!("a call fact serialises to an object"),
        }
    }

    /// The data of a retraction of a fact.
    pub fn retraction() -> serde_json::Value {
        serde_json::json!({ "retracted": true })
    }

    /// A stored version: the fact, `None` for a retraction, or why it does not read as its kind.
    pub fn parse(kind: &str, data: &serde_json::Value) -> Result<Option<CallFact>, serde_json::Error> {
        if data.get("retracted").is_some() {
            return Ok(None);
        }
        serde_json::from_value(serde_json::json!({ "kind": kind, "data": data })).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use CallEventKind::*;

    const SHORT: TimeDelta = TimeDelta::seconds(5);

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, h, m, s).unwrap()
    }

    fn secs(n: i64) -> TimeDelta {
        TimeDelta::seconds(n)
    }

    fn ev(at: DateTime<Utc>, kind: CallEventKind) -> CallEvent {
        CallEvent { at, kind }
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    fn queued(at: DateTime<Utc>) -> CallEvent {
        ev(
            at,
            Queued {
                direction: Direction::Inbound,
                from: some("+56221234567"),
                to: some("600"),
                queue: some("soporte"),
            },
        )
    }

    fn outbound(at: DateTime<Utc>) -> CallEvent {
        ev(at, Queued { direction: Direction::Outbound, from: some("ana"), to: some("+56998765432"), queue: None })
    }

    fn answered(at: DateTime<Utc>, agent: Option<&str>) -> CallEvent {
        ev(at, Answered { agent: agent.map(str::to_string) })
    }

    fn ended(at: DateTime<Utc>, cause: Cause) -> CallEvent {
        ev(at, Ended { cause: Some(cause) })
    }

    fn transferred(at: DateTime<Utc>, queue: Option<&str>, agent: Option<&str>) -> CallEvent {
        ev(at, Transferred { queue: queue.map(str::to_string), agent: agent.map(str::to_string) })
    }

    fn wrapup(at: DateTime<Utc>) -> CallEvent {
        ev(at, WrapupEnded { agent: some("ana") })
    }

    fn summary(events: &[CallEvent]) -> CallSummary {
        summarize(events, SHORT).expect("events are not empty")
    }

    /// Every ordering of `items` (n! of them).
    fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for mut tail in permutations(&rest) {
                tail.insert(0, first.clone());
                out.push(tail);
            }
        }
        out
    }

    fn assert_order_independent(events: &[CallEvent]) -> CallSummary {
        let expected = summary(events);
        let all = permutations(events);
        assert_eq!(all.len(), (1..=events.len()).product::<usize>());
        for order in all {
            assert_eq!(summary(&order), expected, "order: {order:?}");
        }
        expected
    }

    fn answered_call() -> Vec<CallEvent> {
        vec![
            queued(t(10, 0, 0)),
            answered(t(10, 0, 12), Some("ana")),
            ev(t(10, 1, 0), Held),
            ev(t(10, 1, 30), Resumed),
            ended(t(10, 5, 0), Cause::NormalClearing),
            wrapup(t(10, 6, 0)),
        ]
    }

    #[test]
    fn answered_call_with_hold_and_wrapup() {
        let s = summary(&answered_call());
        assert_eq!(
            s,
            CallSummary {
                direction: Direction::Inbound,
                from: some("+56221234567"),
                to: some("600"),
                queue: some("soporte"),
                queued_at: t(10, 0, 0),
                answered_at: Some(t(10, 0, 12)),
                answering_agent: some("ana"),
                current_agent: some("ana"),
                ended_at: Some(t(10, 5, 0)),
                cause: Some(Cause::NormalClearing),
                wrapup_ended_at: Some(t(10, 6, 0)),
                wait: Some(secs(12)),
                talk: Some(secs(258)),
                hold: secs(30),
                acw: Some(secs(60)),
                transfers: vec![],
                voicemail: None,
                outcome: Some(Outcome::Answered),
            }
        );
        assert_eq!(s.handle_time(), Some(secs(348)));
        assert_eq!(s.state(), CallState::Ended);
    }

    #[test]
    fn handle_time_without_wrapup_is_talk_plus_hold() {
        let mut events = answered_call();
        events.pop();
        let s = summary(&events);
        assert_eq!((s.wrapup_ended_at, s.acw), (None, None));
        assert_eq!(s.handle_time(), Some(secs(288)));
    }

    #[test]
    fn abandoned_after_forty_seconds() {
        let s = summary(&[queued(t(10, 0, 0)), ended(t(10, 0, 40), Cause::Cancel)]);
        assert_eq!(s.outcome, Some(Outcome::Abandoned));
        assert_eq!(s.wait, Some(secs(40)));
        assert_eq!((s.answered_at, s.talk, s.acw, s.hold), (None, None, None, secs(0)));
        assert_eq!(s.ended_at, Some(t(10, 0, 40)));
        assert_eq!(s.cause, Some(Cause::Cancel));
        assert_eq!(s.handle_time(), None);
        assert_eq!(s.state(), CallState::Ended);
    }

    #[test]
    fn short_abandon_after_three_seconds() {
        let s = summary(&[queued(t(10, 0, 0)), ended(t(10, 0, 3), Cause::Cancel)]);
        assert_eq!(s.outcome, Some(Outcome::ShortAbandoned));
        assert_eq!(s.wait, Some(secs(3)));
    }

    #[test]
    fn wait_equal_to_the_threshold_is_abandoned() {
        let at_threshold = summary(&[queued(t(10, 0, 0)), ended(t(10, 0, 5), Cause::Cancel)]);
        assert_eq!(at_threshold.outcome, Some(Outcome::Abandoned));
        let just_under = [queued(t(10, 0, 0)), ev(t(10, 0, 5) - TimeDelta::milliseconds(1), Ended { cause: None })];
        assert_eq!(summary(&just_under).outcome, Some(Outcome::ShortAbandoned));
        // The threshold is the caller's: with none, every unanswered inbound call is abandoned.
        let none = summarize(&[queued(t(10, 0, 0)), ended(t(10, 0, 1), Cause::Cancel)], TimeDelta::zero());
        assert_eq!(none.unwrap().outcome, Some(Outcome::Abandoned));
    }

    #[test]
    fn hangup_before_the_answer_arrives_gives_the_same_summary() {
        let in_order =
            [queued(t(10, 0, 0)), answered(t(10, 0, 8), Some("ana")), ended(t(10, 2, 0), Cause::NormalClearing)];
        let arrived = [in_order[2].clone(), in_order[0].clone(), in_order[1].clone()];
        let s = summary(&in_order);
        assert_eq!(summary(&arrived), s);
        assert_eq!(s.outcome, Some(Outcome::Answered));
        assert_eq!((s.wait, s.talk), (Some(secs(8)), Some(secs(112))));
        // Before the answer arrives the call looks abandoned; the late answer corrects it.
        assert_eq!(summary(&arrived[..2]).outcome, Some(Outcome::Abandoned));
    }

    #[test]
    fn every_permutation_of_a_call_gives_the_same_summary() {
        let s = assert_order_independent(&answered_call());
        assert_eq!(s.handle_time(), Some(secs(348)));
    }

    #[test]
    fn every_permutation_with_ties_gives_the_same_summary() {
        // Events sharing a timestamp, including same-kind events with different payloads.
        let at = t(10, 0, 5);
        let events = [
            queued(t(10, 0, 0)),
            answered(at, None),
            answered(at, Some("beto")),
            ev(at, Held),
            ended(t(10, 1, 0), Cause::Busy),
            ended(t(10, 1, 0), Cause::NormalClearing),
        ];
        let s = assert_order_independent(&events);
        assert_eq!(s.answered_at, Some(at));
        assert_eq!(s.answering_agent, some("beto"));
        // Held right at the answer and never resumed: the whole call was on hold.
        assert_eq!((s.hold, s.talk), (secs(55), Some(secs(0))));
        assert_eq!(s.cause, Some(Cause::NormalClearing));
    }

    #[test]
    fn every_permutation_with_transfers_and_voicemail_gives_the_same_summary() {
        let events = [
            queued(t(10, 0, 0)),
            transferred(t(10, 0, 20), Some("ventas"), None),
            transferred(t(10, 0, 20), Some("cobranza"), None),
            ended(t(10, 0, 50), Cause::NoAnswer),
            ev(t(10, 0, 51), Voicemail { url: some("https://pbx/vm/2.wav"), transcript: None }),
            ev(t(10, 0, 51), Voicemail { url: some("https://pbx/vm/1.wav"), transcript: some("hola") }),
        ];
        let s = assert_order_independent(&events);
        assert_eq!(s.outcome, Some(Outcome::Voicemail));
        assert_eq!(s.transfers.len(), 2);
    }

    #[test]
    fn duplicates_change_nothing() {
        let mut events = answered_call();
        events.push(transferred(t(10, 2, 0), Some("ventas"), Some("beto")));
        let once = summary(&events);
        let mut twice: Vec<CallEvent> = events.iter().chain(events.iter()).cloned().collect();
        twice.extend(events.iter().rev().cloned());
        let s = summary(&twice);
        assert_eq!(s, once);
        assert_eq!(s.transfers, vec![Transfer { at: t(10, 2, 0), queue: some("ventas"), agent: some("beto") }]);
        assert_eq!(s.hold, secs(30));
    }

    #[test]
    fn repeated_answer_keeps_the_earliest() {
        let s = summary(&[
            queued(t(10, 0, 0)),
            answered(t(10, 0, 20), Some("beto")),
            answered(t(10, 0, 12), Some("ana")),
            ended(t(10, 1, 12), Cause::NormalClearing),
        ]);
        assert_eq!(s.answered_at, Some(t(10, 0, 12)));
        assert_eq!(s.answering_agent, some("ana"));
        assert_eq!(s.current_agent, some("ana"));
        assert_eq!((s.wait, s.talk), (Some(secs(12)), Some(secs(60))));
    }

    #[test]
    fn answering_agent_comes_from_the_earliest_answer_that_names_one() {
        let s = summary(&[
            queued(t(10, 0, 0)),
            answered(t(10, 0, 12), None),
            answered(t(10, 0, 13), Some("ana")),
            answered(t(10, 0, 14), Some("beto")),
        ]);
        assert_eq!(s.answered_at, Some(t(10, 0, 12)));
        assert_eq!(s.answering_agent, some("ana"));
        assert_eq!(s.current_agent, some("ana"));
    }

    #[test]
    fn transfers_replace_queue_and_current_agent() {
        let s = summary(&[
            transferred(t(10, 3, 0), Some("facturacion"), None),
            transferred(t(10, 2, 0), Some("ventas"), Some("beto")),
            ended(t(10, 4, 0), Cause::NormalClearing),
            answered(t(10, 0, 10), Some("ana")),
            queued(t(10, 0, 0)),
        ]);
        assert_eq!(s.queue, some("facturacion"));
        assert_eq!(s.answering_agent, some("ana"));
        // A transfer that names no agent leaves the current one as it was.
        assert_eq!(s.current_agent, some("beto"));
        assert_eq!(
            s.transfers,
            vec![
                Transfer { at: t(10, 2, 0), queue: some("ventas"), agent: some("beto") },
                Transfer { at: t(10, 3, 0), queue: some("facturacion"), agent: None },
            ]
        );
        assert_eq!(s.talk, Some(secs(230)));
        assert_eq!(s.outcome, Some(Outcome::Answered));
    }

    #[test]
    fn transfer_without_queue_keeps_the_queue_and_whoever_answers_holds_the_call() {
        let s = summary(&[
            queued(t(10, 0, 0)),
            transferred(t(10, 0, 5), None, Some("carla")),
            answered(t(10, 0, 9), Some("ana")),
            transferred(t(10, 1, 0), None, Some("beto")),
            transferred(t(10, 1, 5), None, None),
        ]);
        assert_eq!(s.queue, some("soporte"));
        assert_eq!(s.answering_agent, some("ana"));
        assert_eq!(s.current_agent, some("beto"));
        assert_eq!(s.transfers.len(), 3);
        let before_answer = summary(&[
            queued(t(10, 0, 0)),
            transferred(t(10, 0, 5), None, Some("carla")),
            answered(t(10, 0, 9), Some("ana")),
        ]);
        assert_eq!(before_answer.current_agent, some("ana"));
    }

    #[test]
    fn unanswered_call_with_voicemail() {
        let s = summary(&[
            queued(t(10, 0, 0)),
            ended(t(10, 0, 30), Cause::NoAnswer),
            ev(t(10, 0, 45), Voicemail { url: some("https://pbx/vm/2.wav"), transcript: None }),
            ev(t(10, 0, 31), Voicemail { url: some("https://pbx/vm/1.wav"), transcript: some("necesito ayuda") }),
        ]);
        assert_eq!(s.outcome, Some(Outcome::Voicemail));
        assert_eq!(s.voicemail, Some((some("https://pbx/vm/1.wav"), some("necesito ayuda"))));
        assert_eq!((s.wait, s.talk), (Some(secs(30)), None));
    }

    #[test]
    fn answered_call_with_voicemail_is_answered() {
        let mut events = answered_call();
        events.push(ev(t(10, 5, 1), Voicemail { url: None, transcript: None }));
        let s = summary(&events);
        assert_eq!(s.outcome, Some(Outcome::Answered));
        assert_eq!(s.voicemail, Some((None, None)));
    }

    #[test]
    fn voicemail_before_the_end_does_not_finish_the_call() {
        let s = summary(&[queued(t(10, 0, 0)), ev(t(10, 0, 20), Voicemail { url: None, transcript: None })]);
        assert_eq!((s.outcome, s.state()), (None, CallState::Queued));
    }

    #[test]
    fn outbound_call_not_answered() {
        let s = summary(&[outbound(t(10, 0, 0)), ended(t(10, 0, 2), Cause::NoAnswer)]);
        assert_eq!(s.direction, Direction::Outbound);
        assert_eq!((s.from, s.to, s.queue), (some("ana"), some("+56998765432"), None));
        // Not a short abandon, however short: nobody was waiting for us.
        assert_eq!(s.outcome, Some(Outcome::Unanswered));
        let busy = summary(&[outbound(t(10, 0, 0)), ended(t(10, 0, 40), Cause::Busy)]);
        assert_eq!(busy.outcome, Some(Outcome::Unanswered));
    }

    #[test]
    fn outbound_call_answered() {
        let s =
            summary(&[outbound(t(10, 0, 0)), answered(t(10, 0, 15), None), ended(t(10, 3, 15), Cause::NormalClearing)]);
        assert_eq!(s.outcome, Some(Outcome::Answered));
        assert_eq!((s.wait, s.talk, s.answering_agent), (Some(secs(15)), Some(secs(180)), None));
    }

    #[test]
    fn forwarded_call() {
        let s = summary(&[queued(t(10, 0, 0)), ended(t(10, 0, 2), Cause::Forwarded)]);
        assert_eq!(s.outcome, Some(Outcome::Forwarded));
        assert_eq!(s.cause, Some(Cause::Forwarded));
        let outbound = summary(&[outbound(t(10, 0, 0)), ended(t(10, 0, 2), Cause::Forwarded)]);
        assert_eq!(outbound.outcome, Some(Outcome::Forwarded));
    }

    #[test]
    fn rejected_call_ends_when_rejected() {
        let s = summary(&[ev(t(10, 0, 1), Rejected), queued(t(10, 0, 0))]);
        assert_eq!(s.ended_at, Some(t(10, 0, 1)));
        assert_eq!(s.cause, None);
        assert_eq!(s.wait, Some(secs(1)));
        assert_eq!(s.outcome, Some(Outcome::Rejected));
        assert_eq!(s.state(), CallState::Ended);
        assert_eq!(s.handle_time(), None);
    }

    #[test]
    fn rejected_call_with_a_hangup_keeps_the_hangup_time() {
        let s = summary(&[queued(t(10, 0, 0)), ev(t(10, 0, 1), Rejected), ended(t(10, 0, 2), Cause::Busy)]);
        assert_eq!((s.ended_at, s.cause), (Some(t(10, 0, 2)), Some(Cause::Busy)));
        assert_eq!(s.outcome, Some(Outcome::Rejected));
        // Rejected wins even over an answer (the PBX may report the rejection as answered).
        let answered = summary(&[queued(t(10, 0, 0)), answered(t(10, 0, 0), None), ev(t(10, 0, 0), Rejected)]);
        assert_eq!(answered.outcome, Some(Outcome::Rejected));
        assert_eq!((answered.ended_at, answered.talk), (Some(t(10, 0, 0)), Some(secs(0))));
    }

    #[test]
    fn hold_without_resume_runs_until_the_end() {
        let s = summary(&[
            queued(t(10, 0, 0)),
            answered(t(10, 0, 10), Some("ana")),
            ev(t(10, 1, 0), Held),
            ended(t(10, 2, 0), Cause::NormalClearing),
            ev(t(10, 2, 30), Resumed),
        ]);
        assert_eq!(s.hold, secs(60));
        assert_eq!(s.talk, Some(secs(50)));
        assert_eq!(s.handle_time(), Some(secs(110)));
    }

    #[test]
    fn hold_before_the_answer_is_ignored() {
        let s = summary(&[
            queued(t(10, 0, 0)),
            ev(t(10, 0, 5), Held),
            ev(t(10, 0, 8), Resumed),
            answered(t(10, 0, 10), Some("ana")),
            ended(t(10, 1, 10), Cause::NormalClearing),
        ]);
        assert_eq!((s.hold, s.talk), (secs(0), Some(secs(60))));
        // Neither does a hold that started before the answer count when resumed after it.
        let straddling = summary(&[
            queued(t(10, 0, 0)),
            ev(t(10, 0, 5), Held),
            answered(t(10, 0, 10), Some("ana")),
            ev(t(10, 0, 20), Resumed),
            ended(t(10, 1, 10), Cause::NormalClearing),
        ]);
        assert_eq!((straddling.hold, straddling.talk), (secs(0), Some(secs(60))));
    }

    #[test]
    fn several_holds_add_up_and_a_second_held_is_ignored() {
        let s = summary(&[
            queued(t(10, 0, 0)),
            answered(t(10, 0, 0), Some("ana")),
            ev(t(10, 1, 0), Held),
            ev(t(10, 1, 10), Held),
            ev(t(10, 1, 30), Resumed),
            ev(t(10, 1, 40), Resumed),
            ev(t(10, 2, 0), Held),
            ev(t(10, 2, 15), Resumed),
            ev(t(10, 5, 0), Held),
            ended(t(10, 10, 0), Cause::NormalClearing),
            ev(t(10, 11, 0), Held),
        ]);
        // 10:01:00–10:01:30, 10:02:00–10:02:15, and 10:05:00 until the end at 10:10:00.
        assert_eq!(s.hold, secs(30 + 15 + 300));
        assert_eq!(s.talk, Some(secs(600 - 345)));
    }

    #[test]
    fn call_in_progress_has_no_outcome() {
        let waiting = summary(&[queued(t(10, 0, 0))]);
        assert_eq!((waiting.outcome, waiting.state()), (None, CallState::Queued));
        assert_eq!((waiting.wait, waiting.talk, waiting.ended_at), (None, None, None));
        assert_eq!(waiting.handle_time(), None);

        let talking = summary(&[
            queued(t(10, 0, 0)),
            answered(t(10, 0, 7), Some("ana")),
            ev(t(10, 1, 0), Held),
            ev(t(10, 1, 20), Resumed),
            ev(t(10, 2, 0), Held),
            wrapup(t(10, 3, 0)),
        ]);
        assert_eq!((talking.outcome, talking.state()), (None, CallState::Talking));
        assert_eq!(talking.wait, Some(secs(7)));
        // The finished hold counts; the running one does not yet.
        assert_eq!(talking.hold, secs(20));
        assert_eq!((talking.talk, talking.wrapup_ended_at, talking.acw), (None, None, None));
        assert_eq!(talking.handle_time(), None);
    }

    #[test]
    fn wrapup_before_the_end_is_ignored() {
        let mut events = answered_call();
        events.push(wrapup(t(10, 4, 0)));
        events.push(wrapup(t(10, 7, 0)));
        let s = summary(&events);
        assert_eq!(s.wrapup_ended_at, Some(t(10, 6, 0)));
        assert_eq!(s.acw, Some(secs(60)));
        let only_early = summary(&[queued(t(10, 0, 0)), wrapup(t(10, 0, 30)), ended(t(10, 1, 0), Cause::Cancel)]);
        assert_eq!((only_early.wrapup_ended_at, only_early.acw), (None, None));
        let at_end = summary(&[queued(t(10, 0, 0)), wrapup(t(10, 1, 0)), ended(t(10, 1, 0), Cause::Cancel)]);
        assert_eq!((at_end.wrapup_ended_at, at_end.acw), (Some(t(10, 1, 0)), Some(secs(0))));
    }

    #[test]
    fn without_queued_the_call_starts_at_its_earliest_event() {
        let s = summary(&[ended(t(10, 1, 0), Cause::NormalClearing), answered(t(10, 0, 30), Some("ana"))]);
        assert_eq!(s.direction, Direction::Inbound);
        assert_eq!((s.from, s.to, s.queue), (None, None, None));
        assert_eq!(s.queued_at, t(10, 0, 30));
        assert_eq!((s.wait, s.talk), (Some(secs(0)), Some(secs(30))));
        assert_eq!(s.outcome, Some(Outcome::Answered));
    }

    #[test]
    fn first_queued_wins() {
        let s = summary(&[
            ev(
                t(10, 0, 3),
                Queued { direction: Direction::Outbound, from: some("x"), to: some("y"), queue: some("otra") },
            ),
            queued(t(10, 0, 0)),
        ]);
        assert_eq!((s.direction, s.queue, s.queued_at), (Direction::Inbound, some("soporte"), t(10, 0, 0)));
    }

    #[test]
    fn skewed_clocks_never_give_negative_durations() {
        let s = summary(&[
            queued(t(10, 0, 10)),
            answered(t(10, 0, 5), Some("ana")),
            ended(t(10, 0, 0), Cause::NormalClearing),
        ]);
        assert_eq!((s.wait, s.talk, s.hold), (Some(secs(0)), Some(secs(0)), secs(0)));
        let unanswered = summary(&[queued(t(10, 0, 10)), ended(t(10, 0, 0), Cause::Cancel)]);
        assert_eq!(unanswered.wait, Some(secs(0)));
        assert_eq!(unanswered.outcome, Some(Outcome::ShortAbandoned));
    }

    #[test]
    fn no_events_no_summary() {
        assert_eq!(summarize(&[], SHORT), None);
    }

    #[test]
    fn event_kinds_round_trip_through_json() {
        let kinds = [
            Queued { direction: Direction::Inbound, from: some("+56221234567"), to: None, queue: some("soporte") },
            Answered { agent: some("ana") },
            Held,
            Resumed,
            Transferred { queue: None, agent: some("beto") },
            Ended { cause: Some(Cause::NormalClearing) },
            Ended { cause: None },
            WrapupEnded { agent: None },
            Voicemail { url: some("https://pbx/vm/1.wav"), transcript: some("hola") },
            Rejected,
        ];
        for kind in kinds {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<CallEventKind>(&json).unwrap(), kind, "{json}");
        }
        let ended = serde_json::to_value(Ended { cause: Some(Cause::NormalClearing) }).unwrap();
        assert_eq!(ended, serde_json::json!({"type": "ended", "cause": "normalClearing"}));
        let queued =
            serde_json::to_value(Queued { direction: Direction::Outbound, from: None, to: None, queue: None }).unwrap();
        assert_eq!(
            queued,
            serde_json::json!({"type": "queued", "direction": "out", "from": null, "to": null, "queue": null})
        );
        assert_eq!(serde_json::to_value(WrapupEnded { agent: None }).unwrap()["type"], "wrapup_ended");
        let parsed: CallEventKind = serde_json::from_str(r#"{"type":"ended","cause":"noAnswer"}"#).unwrap();
        assert_eq!(parsed, Ended { cause: Some(Cause::NoAnswer) });
        assert!(serde_json::from_str::<CallEventKind>(r#"{"type":"ended","cause":"no_answer"}"#).is_err());
        let event = ev(t(10, 0, 0), Held);
        assert_eq!(serde_json::from_value::<CallEvent>(serde_json::to_value(&event).unwrap()).unwrap(), event);
    }

    #[test]
    fn cause_uses_the_connectors_camel_case_everywhere() {
        assert_eq!(serde_json::to_string(&Cause::NormalClearing).unwrap(), "\"normalClearing\"");
        for c in Cause::ALL {
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Cause>(&format!("\"{c}\"")).unwrap(), *c);
            assert_eq!(c.as_str().parse::<Cause>(), Ok(*c));
        }
        assert_eq!(Cause::ALL.len(), Cause::TEXTS.len());
        let err = "normal_clearing".parse::<Cause>().unwrap_err();
        assert_eq!(err.expected, Cause::TEXTS);
        assert!(err.to_string().contains("normalClearing"));
        let schema = serde_json::to_value(<Cause as utoipa::PartialSchema>::schema()).unwrap();
        let texts: Vec<&str> = schema["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(texts, Cause::TEXTS);
    }

    #[test]
    fn other_enums_use_one_spelling() {
        for d in Direction::ALL {
            assert_eq!(serde_json::to_string(d).unwrap(), format!("\"{}\"", d.as_str()));
            assert_eq!(d.as_str().parse::<Direction>(), Ok(*d));
        }
        assert_eq!(serde_json::to_string(&Direction::Inbound).unwrap(), "\"in\"");
        let schema = serde_json::to_value(<Direction as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(["in", "out"]));
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_string(o).unwrap(), format!("\"{}\"", o.as_str()));
        }
        for s in CallState::ALL {
            assert_eq!(s.as_str().parse::<CallState>(), Ok(*s));
        }
        assert_eq!("short_abandoned".parse::<Outcome>(), Ok(Outcome::ShortAbandoned));
    }

    #[test]
    fn call_facts_read_back_from_their_rows_and_retractions_withdraw_them() {
        let facts = [
            CallFact::Queued { queue: Some("general".into()) },
            CallFact::Answered {
                queue: None,
                direction: Direction::Outbound,
                agent_id: Some(2),
                wait_seconds: Some(9),
            },
            CallFact::Abandoned { queue: None, wait_seconds: None, short: true },
            CallFact::Handled {
                queue: None,
                agent_id: None,
                talk_seconds: Some(60),
                hold_seconds: 0,
                acw_seconds: None,
                handle_seconds: 60,
            },
        ];
        let kinds: Vec<&str> = facts.iter().map(CallFact::kind).collect();
        assert_eq!(kinds, CALL_FACT_KINDS);
        for fact in facts {
            assert_eq!(serde_json::to_value(&fact).unwrap()["kind"], fact.kind());
            assert_eq!(CallFact::parse(fact.kind(), &fact.data()).unwrap(), Some(fact.clone()));
            assert_eq!(CallFact::parse(fact.kind(), &CallFact::retraction()).unwrap(), None);
        }
        assert_eq!(
            CallFact::Abandoned { queue: Some("q".into()), wait_seconds: Some(3), short: false }.data(),
            serde_json::json!({"queue": "q", "wait_seconds": 3, "short": false})
        );
        assert!(CallFact::parse("kpi.call_parked", &serde_json::json!({})).is_err());
        assert!(CallFact::parse("kpi.call_abandoned", &serde_json::json!({"queue": null})).is_err());
    }
}
