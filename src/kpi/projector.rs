//! Feeds the live KPI state from the database's event logs: ticket events, call facts and agent
//! presence changes. Incremental updates and a rebuild run the same code over the same rows, so
//! a rebuilt state equals the incrementally built one.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde_json::Value;

use crate::db::models::EventRow;
use crate::db::schema::{
    agent_presence_log, agents, call_events, calls, queue_members, sla_deadlines, ticket_events, tickets,
};
use crate::db::DbConnection;
use crate::domain::assignment::Presence;
use crate::domain::calendar::DEFAULT_TIME_ZONE as SANTIAGO;
use crate::domain::call::CallFact;
use crate::domain::live::{self, Counter, Gauge, Mark, Op};
use crate::domain::{EventKind, Status, TicketEvent};
use crate::error::AppError;
use crate::tickets::log;

/// One of the logs the live state is built from; each has its own cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Tickets,
    Calls,
    Presence,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Tickets, Source::Calls, Source::Presence];

    pub fn name(self) -> &'static str {
        match self {
            Source::Tickets => "ticket_events",
            Source::Calls => "call_events",
            Source::Presence => "agent_presence_log",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Source::Tickets => "t",
            Source::Calls => "c",
            Source::Presence => "a",
        }
    }
}

pub use super::store::Update;

/// The updates of the rows after a cursor, and how far the cursor may move.
#[derive(Debug, Default)]
pub struct Batch {
    pub updates: Vec<Update>,
    pub rows: usize,
    pub next_cursor: i64,
}

/// How long a hole in the ids may stay open: a transaction that took its id earlier may still
/// commit. After this, the hole is a rolled-back id.
const HOLE_GRACE: TimeDelta = TimeDelta::seconds(5);

/// The cursor after reading `rows` (id, time) past `cursor`: it stops before a recent hole in
/// the ids, so an event committed late is still read (replays are harmless: updates are idempotent).
pub fn advance(cursor: i64, rows: &[(i64, DateTime<Utc>)], now: DateTime<Utc>) -> i64 {
    let mut next = cursor;
    for (id, at) in rows {
        if *id != next + 1 && now - *at < HOLE_GRACE {
            break;
        }
        next = *id;
    }
    next
}

pub fn read(conn: &mut DbConnection, source: Source, after: i64, limit: i64) -> Result<Batch, AppError> {
    match source {
        Source::Tickets => ticket_batch(conn, after, limit),
        Source::Calls => call_batch(conn, after, limit),
        Source::Presence => presence_batch(conn, after, limit),
    }
}

fn update(source: Source, id: i64, at: DateTime<Utc>, ops: Vec<Op>) -> Update {
    Update { id: format!("{}:{id}", source.prefix()), minute: live::unix_minute(at), ops }
}

fn track(member: String, version: i64, marks: Vec<Mark>) -> Update {
    Update { id: String::new(), minute: 0, ops: vec![Op::Track { member, version, marks }] }
}

fn day(at: DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&SANTIAGO).date_naive()
}

// ----------------------------------------------------------------------------- tickets

struct TicketNow {
    channel: String,
    queue_id: Option<i64>,
    status: String,
    assignee_id: Option<i64>,
    created_at: DateTime<Utc>,
}

/// What the batch needs to know of each ticket's history.
#[derive(Default)]
struct History {
    /// (event id, from, to) of queue changes.
    queue_changes: Vec<(i64, Option<i64>, Option<i64>)>,
    first_reply: Option<i64>,
    /// When it last entered its queue or lost its assignee.
    waiting_since: Option<DateTime<Utc>>,
}

const HISTORY_KINDS: [EventKind; 5] = [
    EventKind::Created,
    EventKind::QueueChanged,
    EventKind::AssigneeChanged,
    EventKind::MessageAdded,
    EventKind::CallAnswered,
];

fn histories(conn: &mut DbConnection, ids: &[i64]) -> Result<HashMap<i64, History>, AppError> {
    let rows: Vec<EventRow> = ticket_events::table
        .filter(ticket_events::ticket_id.eq_any(ids))
        .filter(ticket_events::kind.eq_any(HISTORY_KINDS.map(EventKind::as_str)))
        .order(ticket_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?;
    let mut out: HashMap<i64, History> = HashMap::new();
    for row in rows {
        let Some(e) = log::read(&row) else { continue };
        let h = out.entry(row.ticket_id).or_default();
        if let TicketEvent::QueueChanged(change) = &e.event {
            h.queue_changes.push((e.id, change.from, change.to));
        }
        if e.event.starts_waiting() {
            h.waiting_since = Some(e.at.0);
        }
        if e.event.is_agent_reply() && h.first_reply.is_none() {
            h.first_reply = Some(e.id);
        }
    }
    Ok(out)
}

/// The ticket's queue when event `id` happened, from its queue changes.
fn queue_at(current: Option<i64>, changes: &[(i64, Option<i64>, Option<i64>)], id: i64) -> Option<i64> {
    match changes.iter().rev().find(|(at, _, _)| *at <= id) {
        Some((_, _, to)) => *to,
        None => changes.first().map_or(current, |(_, from, _)| *from),
    }
}

fn tickets_now(conn: &mut DbConnection, ids: &[i64]) -> Result<HashMap<i64, TicketNow>, AppError> {
    type Row = (i64, String, Option<i64>, String, Option<i64>, crate::db::types::UtcTime);
    let rows: Vec<Row> = tickets::table
        .filter(tickets::id.eq_any(ids))
        .select((
            tickets::id,
            tickets::channel,
            tickets::queue_id,
            tickets::status,
            tickets::assignee_id,
            tickets::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, channel, queue_id, status, assignee_id, created_at)| {
            (id, TicketNow { channel, queue_id, status, assignee_id, created_at: created_at.0 })
        })
        .collect())
}

/// Tickets with a fired breach, and with a fired warning.
fn fired(conn: &mut DbConnection, ids: &[i64]) -> Result<(HashSet<i64>, HashSet<i64>), AppError> {
    let rows: Vec<(i64, String)> = sla_deadlines::table
        .filter(sla_deadlines::ticket_id.eq_any(ids))
        .filter(sla_deadlines::fired_at.is_not_null())
        .select((sla_deadlines::ticket_id, sla_deadlines::kind))
        .load(conn)?;
    let of = |kind: &str| rows.iter().filter(|(_, k)| k == kind).map(|(t, _)| *t).collect();
    Ok((of("breach"), of("warning")))
}

fn ticket_counts(e: &EventRow, t: &TicketNow, h: &History) -> Vec<Op> {
    let at = e.created_at.0;
    let scopes = live::scopes(queue_at(t.queue_id, &h.queue_changes, e.id), &t.channel);
    let count = |counter: Counter| live::count(&scopes, at, day(at), counter, 1);
    let mut ops = Vec::new();
    let Some(logged) = log::read(e) else { return ops };
    match &logged.event {
        TicketEvent::Created(_) => ops.extend(count(Counter::Created)),
        TicketEvent::StatusChanged(change) if change.to == Status::Solved => ops.extend(count(Counter::Solved)),
        TicketEvent::StatusChanged(change) if change.from == Status::Solved && change.to.is_open() => {
            ops.extend(count(Counter::Reopened))
        }
        TicketEvent::CsatAnswered(answer) => {
            ops.extend(count(Counter::CsatResponses));
            if answer.score >= i64::from(crate::domain::quality::SATISFIED_FROM) {
                ops.extend(count(Counter::CsatSatisfied));
            }
        }
        TicketEvent::SlaBreached(fired) => ops.extend(count(Counter::SlaBreached(fired.metric))),
        TicketEvent::SlaMet(met) => ops.extend(count(Counter::SlaMet(met.metric))),
        TicketEvent::MessageAdded(_) if logged.event.is_agent_reply() => ops.extend(count(Counter::Replies)),
        _ => {}
    }
    if h.first_reply == Some(e.id) {
        let seconds = (at - t.created_at).num_seconds().max(0);
        ops.extend(count(Counter::first_reply(seconds)));
    }
    ops
}

fn ticket_marks(t: &TicketNow, h: Option<&History>, breached: bool, warned: bool) -> Vec<Mark> {
    if matches!(t.status.as_str(), "solved" | "closed") {
        return Vec::new();
    }
    let scopes = live::scopes(t.queue_id, &t.channel);
    let Ok(status) = t.status.parse() else { return Vec::new() };
    let mut marks: Vec<Mark> = scopes.iter().map(|s| Mark::gauge(Gauge::Backlog(status), s)).collect();
    if breached {
        marks.extend(scopes.iter().map(|s| Mark::gauge(Gauge::Breached, s)));
    } else if warned {
        marks.extend(scopes.iter().map(|s| Mark::gauge(Gauge::AtRisk, s)));
    }
    if t.assignee_id.is_none() && t.queue_id.is_some() && matches!(t.status.as_str(), "new" | "open") {
        let since = h.and_then(|h| h.waiting_since).unwrap_or(t.created_at).timestamp_millis();
        marks.extend(scopes.iter().map(|s| Mark::Waiting { scope: s.clone(), since_ms: since }));
    }
    marks
}

/// The current contribution of each ticket, versioned by `versions` (its latest event id).
fn ticket_tracks(conn: &mut DbConnection, versions: &BTreeMap<i64, i64>) -> Result<Vec<Update>, AppError> {
    let ids: Vec<i64> = versions.keys().copied().collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let now = tickets_now(conn, chunk)?;
        let histories = histories(conn, chunk)?;
        let (breached, warned) = fired(conn, chunk)?;
        for id in chunk {
            let Some(t) = now.get(id) else { continue };
            let marks = ticket_marks(t, histories.get(id), breached.contains(id), warned.contains(id));
            out.push(track(format!("t:{id}"), versions[id], marks));
        }
    }
    Ok(out)
}

fn ticket_batch(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Batch, AppError> {
    let rows = crate::tickets::log::rows_after(conn, after, limit)?;
    let mut versions = BTreeMap::new();
    for e in &rows {
        versions.insert(e.ticket_id, e.id);
    }
    let ids: Vec<i64> = versions.keys().copied().collect();
    let now = tickets_now(conn, &ids)?;
    let histories = histories(conn, &ids)?;
    let empty = History::default();
    let mut updates: Vec<Update> = rows
        .iter()
        .filter_map(|e| {
            let t = now.get(&e.ticket_id)?;
            let ops = ticket_counts(e, t, histories.get(&e.ticket_id).unwrap_or(&empty));
            (!ops.is_empty()).then(|| update(Source::Tickets, e.id, e.created_at.0, ops))
        })
        .collect();
    updates.extend(ticket_tracks(conn, &versions)?);
    let seen: Vec<(i64, DateTime<Utc>)> = rows.iter().map(|e| (e.id, e.created_at.0)).collect();
    Ok(Batch { updates, rows: rows.len(), next_cursor: advance(after, &seen, Utc::now()) })
}

// ----------------------------------------------------------------------------- calls

#[derive(Queryable)]
struct CallEventRow {
    id: i64,
    call_id: i64,
    kind: String,
    source: String,
    data: crate::db::types::JsonValue,
    occurred_at: crate::db::types::UtcTime,
    received_at: crate::db::types::UtcTime,
}

/// What a stored version of a call fact counts (`sign` -1 takes it back). A retraction, or a row
/// that does not read as its kind, counts nothing.
fn fact_ops(kind: &str, data: &Value, at: DateTime<Utc>, queue: Option<i64>, sign: i64) -> Vec<Op> {
    let fact = match CallFact::parse(kind, data) {
        Ok(Some(fact)) => fact,
        Ok(None) => return Vec::new(),
        Err(error) => {
            tracing::warn!(kind, %error, "call fact does not read as its kind");
            return Vec::new();
        }
    };
    let scopes = live::scopes(queue, "phone");
    let count = |counter: Counter, by: i64| live::count(&scopes, at, day(at), counter, by * sign);
    let secs = |seconds: Option<i64>| seconds.unwrap_or(0).max(0);
    match fact {
        CallFact::Queued { .. } => count(Counter::Offered, 1),
        CallFact::Answered { wait_seconds, .. } => {
            let wait = secs(wait_seconds);
            [count(Counter::Answered, 1), count(Counter::WaitSum, wait), count(Counter::wait(wait), 1)].concat()
        }
        CallFact::Abandoned { short, .. } => {
            [count(Counter::Abandoned, 1), if short { count(Counter::ShortAbandoned, 1) } else { Vec::new() }].concat()
        }
        CallFact::Handled { handle_seconds, .. } => {
            [count(Counter::Handled, 1), count(Counter::HandleSum, secs(Some(handle_seconds)))].concat()
        }
    }
}

fn call_batch(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Batch, AppError> {
    let rows: Vec<CallEventRow> = call_events::table
        .filter(call_events::id.gt(after))
        .order(call_events::id.asc())
        .limit(limit)
        .select((
            call_events::id,
            call_events::call_id,
            call_events::kind,
            call_events::source,
            call_events::data,
            call_events::occurred_at,
            call_events::received_at,
        ))
        .load(conn)?;
    let mut versions = BTreeMap::new();
    for e in &rows {
        versions.insert(e.call_id, e.id);
    }
    let ids: Vec<i64> = versions.keys().copied().collect();
    let queues: HashMap<i64, Option<i64>> = calls::table
        .filter(calls::id.eq_any(&ids))
        .select((calls::id, calls::queue_id))
        .load(conn)?
        .into_iter()
        .collect();
    // Earlier versions of the same facts, to take back what they counted.
    let derived: Vec<CallEventRow> = call_events::table
        .filter(call_events::call_id.eq_any(&ids))
        .filter(call_events::source.eq("derived"))
        .order(call_events::id.asc())
        .select((
            call_events::id,
            call_events::call_id,
            call_events::kind,
            call_events::source,
            call_events::data,
            call_events::occurred_at,
            call_events::received_at,
        ))
        .load(conn)?;
    let mut updates = Vec::new();
    for e in rows.iter().filter(|e| e.source == "derived") {
        let queue = queues.get(&e.call_id).copied().flatten();
        let previous = derived.iter().rev().find(|p| p.call_id == e.call_id && p.kind == e.kind && p.id < e.id);
        let mut ops = previous.map_or_else(Vec::new, |p| fact_ops(&p.kind, &p.data.0, p.occurred_at.0, queue, -1));
        ops.extend(fact_ops(&e.kind, &e.data.0, e.occurred_at.0, queue, 1));
        if !ops.is_empty() {
            updates.push(update(Source::Calls, e.id, e.occurred_at.0, ops));
        }
    }
    updates.extend(call_tracks(conn, &versions)?);
    let seen: Vec<(i64, DateTime<Utc>)> = rows.iter().map(|e| (e.id, e.received_at.0)).collect();
    Ok(Batch { updates, rows: rows.len(), next_cursor: advance(after, &seen, Utc::now()) })
}

/// A call waits in its queue from entering it until it is answered or ends.
fn call_tracks(conn: &mut DbConnection, versions: &BTreeMap<i64, i64>) -> Result<Vec<Update>, AppError> {
    let ids: Vec<i64> = versions.keys().copied().collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        type Row = (i64, Option<i64>, Option<crate::db::types::UtcTime>, bool, bool);
        let rows: Vec<Row> = calls::table
            .filter(calls::id.eq_any(chunk))
            .select((
                calls::id,
                calls::queue_id,
                calls::queued_at,
                calls::answered_at.is_not_null(),
                calls::ended_at.is_not_null(),
            ))
            .load(conn)?;
        for (id, queue, queued_at, answered, ended) in rows {
            let marks = match queued_at {
                Some(since) if !answered && !ended => live::scopes(queue, "phone")
                    .into_iter()
                    .map(|scope| Mark::Waiting { scope, since_ms: since.0.timestamp_millis() })
                    .collect(),
                _ => Vec::new(),
            };
            out.push(track(format!("c:{id}"), versions[&id], marks));
        }
    }
    Ok(out)
}

// ----------------------------------------------------------------------------- agents

fn presence_batch(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Batch, AppError> {
    let rows: Vec<(i64, i64, crate::db::types::UtcTime)> = agent_presence_log::table
        .filter(agent_presence_log::id.gt(after))
        .order(agent_presence_log::id.asc())
        .limit(limit)
        .select((agent_presence_log::id, agent_presence_log::agent_id, agent_presence_log::at))
        .load(conn)?;
    let mut versions = BTreeMap::new();
    for (id, agent, _) in &rows {
        versions.insert(*agent, *id);
    }
    let seen: Vec<(i64, DateTime<Utc>)> = rows.iter().map(|(id, _, at)| (*id, at.0)).collect();
    Ok(Batch {
        updates: agent_tracks(conn, &versions)?,
        rows: rows.len(),
        next_cursor: advance(after, &seen, Utc::now()),
    })
}

/// Each agent counts once per presence state, overall and in every queue it belongs to.
fn agent_tracks(conn: &mut DbConnection, versions: &BTreeMap<i64, i64>) -> Result<Vec<Update>, AppError> {
    let ids: Vec<i64> = versions.keys().copied().collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, String, bool)> = agents::table
            .filter(agents::id.eq_any(chunk))
            .select((agents::id, agents::presence, agents::active))
            .load(conn)?;
        let memberships: Vec<(i64, i64)> = queue_members::table
            .filter(queue_members::agent_id.eq_any(chunk))
            .select((queue_members::agent_id, queue_members::queue_id))
            .load(conn)?;
        for (id, presence, active) in rows {
            let marks = match presence.parse::<Presence>() {
                Ok(presence) if active && presence != Presence::Offline => {
                    let queues = memberships.iter().filter(|(a, _)| *a == id).map(|(_, q)| format!("q:{q}"));
                    std::iter::once("all".to_owned())
                        .chain(queues)
                        .map(|s| Mark::gauge(Gauge::Agents(presence), &s))
                        .collect()
                }
                _ => Vec::new(),
            };
            out.push(track(format!("a:{id}"), versions[&id], marks));
        }
    }
    Ok(out)
}

// ----------------------------------------------------------------------------- rebuild

/// Where a rebuild starts reading each log: facts since `horizon`, and the current contribution
/// of every open ticket, waiting call and agent.
pub struct RebuildPlan {
    pub starts: Vec<(Source, i64)>,
    pub tracks: Vec<Update>,
}

pub fn rebuild_plan(conn: &mut DbConnection, horizon: DateTime<Utc>) -> Result<RebuildPlan, AppError> {
    let horizon_at = crate::db::types::UtcTime::from(horizon);
    let ticket_start: i64 = ticket_events::table
        .filter(ticket_events::created_at.lt(horizon_at))
        .select(diesel::dsl::max(ticket_events::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);
    let call_start: i64 = call_events::table
        .filter(call_events::received_at.lt(horizon_at))
        .select(diesel::dsl::max(call_events::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);
    let presence_end: i64 = agent_presence_log::table
        .select(diesel::dsl::max(agent_presence_log::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);

    let open: Vec<(i64, Option<i64>)> = tickets::table
        .left_join(ticket_events::table)
        .filter(tickets::status.ne_all(["solved", "closed"]))
        .group_by(tickets::id)
        .select((tickets::id, diesel::dsl::max(ticket_events::id.nullable())))
        .load(conn)?;
    let tickets: BTreeMap<i64, i64> = open.into_iter().map(|(id, v)| (id, v.unwrap_or(0))).collect();
    let waiting: Vec<(i64, Option<i64>)> = calls::table
        .left_join(call_events::table)
        .filter(calls::queued_at.is_not_null().and(calls::answered_at.is_null()).and(calls::ended_at.is_null()))
        .group_by(calls::id)
        .select((calls::id, diesel::dsl::max(call_events::id.nullable())))
        .load(conn)?;
    let calls: BTreeMap<i64, i64> = waiting.into_iter().map(|(id, v)| (id, v.unwrap_or(0))).collect();
    let latest: Vec<(i64, Option<i64>)> = agents::table
        .left_join(agent_presence_log::table)
        .group_by(agents::id)
        .select((agents::id, diesel::dsl::max(agent_presence_log::id.nullable())))
        .load(conn)?;
    let agents: BTreeMap<i64, i64> = latest.into_iter().map(|(id, v)| (id, v.unwrap_or(0))).collect();

    let mut tracks = ticket_tracks(conn, &tickets)?;
    tracks.extend(call_tracks(conn, &calls)?);
    tracks.extend(agent_tracks(conn, &agents)?);
    Ok(RebuildPlan {
        starts: vec![(Source::Tickets, ticket_start), (Source::Calls, call_start), (Source::Presence, presence_end)],
        tracks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::call::Direction;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_cursor_stops_before_a_recent_hole_and_skips_an_old_one() {
        let now = at("2026-12-02T12:00:10Z");
        let old = at("2026-12-02T12:00:00Z");
        let recent = at("2026-12-02T12:00:08Z");
        assert_eq!(advance(10, &[(11, recent), (12, recent)], now), 12);
        assert_eq!(advance(10, &[(11, recent), (13, recent)], now), 11);
        assert_eq!(advance(10, &[(11, old), (13, old), (14, recent)], now), 14);
        assert_eq!(advance(10, &[(12, recent)], now), 10);
        assert_eq!(advance(10, &[], now), 10);
    }

    #[test]
    fn an_event_counts_in_the_queue_the_ticket_was_in_then() {
        let changes = [(5, Some(1), Some(2)), (9, Some(2), Some(3))];
        assert_eq!(queue_at(Some(3), &changes, 1), Some(1));
        assert_eq!(queue_at(Some(3), &changes, 5), Some(2));
        assert_eq!(queue_at(Some(3), &changes, 7), Some(2));
        assert_eq!(queue_at(Some(3), &changes, 12), Some(3));
        assert_eq!(queue_at(Some(4), &[], 12), Some(4));
        assert_eq!(queue_at(None, &[(3, None, Some(1))], 1), None);
    }

    #[test]
    fn a_new_fact_version_takes_back_the_previous_one() {
        let t = at("2026-12-02T12:00:00Z");
        let answered =
            CallFact::Answered { queue: None, direction: Direction::Inbound, agent_id: None, wait_seconds: Some(12) };
        let ops = fact_ops(answered.kind(), &answered.data(), t, Some(2), -1);
        assert!(ops.contains(&Op::Count {
            minute: live::unix_minute(t),
            day: day(t),
            field: "q:2|wait:15".into(),
            by: -1
        }));
        assert!(ops.contains(&Op::Count {
            minute: live::unix_minute(t),
            day: day(t),
            field: "all|wait_sum".into(),
            by: -12
        }));
        assert!(fact_ops(answered.kind(), &CallFact::retraction(), t, None, 1).is_empty());
        assert!(fact_ops(answered.kind(), &serde_json::json!({"wait_seconds": 12}), t, None, 1).is_empty());
        let abandoned = CallFact::Abandoned { queue: None, wait_seconds: Some(4), short: true };
        let short = fact_ops(abandoned.kind(), &abandoned.data(), t, None, 1);
        assert_eq!(short.len(), 4, "abandoned and short abandoned in all and ch:phone");
    }

    #[test]
    fn open_tickets_contribute_backlog_risk_and_waiting() {
        let created = at("2026-12-02T12:00:00Z");
        let t = TicketNow {
            channel: "web".into(),
            queue_id: Some(4),
            status: "new".into(),
            assignee_id: None,
            created_at: created,
        };
        let marks = ticket_marks(&t, None, false, true);
        assert!(marks.contains(&Mark::Gauge("backlog|q:4|new".into())));
        assert!(marks.contains(&Mark::Gauge("at_risk|ch:web".into())));
        assert!(marks.contains(&Mark::Waiting { scope: "all".into(), since_ms: created.timestamp_millis() }));
        assert_eq!(marks.len(), 9);
        let breached = ticket_marks(&TicketNow { assignee_id: Some(1), status: "open".into(), ..t }, None, true, true);
        assert_eq!(breached.len(), 6, "backlog and breached, not waiting: {breached:?}");
        let solved = TicketNow {
            channel: "web".into(),
            queue_id: None,
            status: "solved".into(),
            assignee_id: None,
            created_at: created,
        };
        assert!(ticket_marks(&solved, None, true, false).is_empty());
    }
}
