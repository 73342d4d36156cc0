//! The daily rollup the ticket, agent and abandonment reports read (`report_days`): per
//! America/Santiago day, dimension (channel, category, segment, queue, agent, the queue of a call)
//! and group, the day's counts, SLA outcomes and the raw first-reply, resolution and call wait
//! times. A month is then ~1,000 small rows instead of 85,000 tickets joined with their messages,
//! and percentiles and the service level for any answer target stay exact.
//!
//! The rollup is derived state, kept exact by [`refresh`]: what changed since the last refresh
//! (ticket events, call events, requesters edited) names the days whose rows may be stale, and
//! each such day is recomputed whole from the base tables. Recomputing is idempotent, so reading
//! a change twice only costs time; the ticket and call cursors stop before recent holes in the
//! ids (`kpi::projector::advance`) so an event committed late is still read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::buckets::day_start;
use crate::db::schema::{
    call_events, calls, messages, report_days, report_rollup, requesters, sla_deadlines, ticket_events, tickets,
};
use crate::db::types::UtcTime;
use crate::db::{backend, DbConnection};
use crate::domain::calendar::DEFAULT_TIME_ZONE as SANTIAGO;
use crate::domain::EventKind;
use crate::error::AppError;
use crate::kpi::projector::advance;

/// The dimensions a rollup row is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    Channel,
    Category,
    Segment,
    Queue,
    /// The ticket's assignee, the author of a reply, the agent who handled a call.
    Agent,
    /// The queue a call entered: `q:<id>`, or `n:<name>` for a PBX queue with no queue of ours.
    CallQueue,
}

impl Dim {
    const TICKET: [Dim; 5] = [Dim::Channel, Dim::Category, Dim::Segment, Dim::Queue, Dim::Agent];

    pub fn name(self) -> &'static str {
        match self {
            Dim::Channel => "channel",
            Dim::Category => "category",
            Dim::Segment => "segment",
            Dim::Queue => "queue",
            Dim::Agent => "agent",
            Dim::CallQueue => "call_queue",
        }
    }
}

/// One day and group of one dimension: what [`report_days`] stores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayFacts {
    pub created: i64,
    pub resolved: i64,
    pub solved: i64,
    /// Of the tickets solved, those that breached an SLA target (any `sla_breached` event).
    pub solved_breached: i64,
    pub replies: i64,
    pub calls_handled: i64,
    pub handle_secs: i64,
    pub sla_tickets: i64,
    pub fr_met: i64,
    pub fr_breached: i64,
    pub fr_running: i64,
    pub res_met: i64,
    pub res_breached: i64,
    pub res_running: i64,
    pub first_reply_secs: Vec<u32>,
    pub resolution_secs: Vec<u32>,
    pub calls_offered: i64,
    pub calls_answered: i64,
    pub calls_abandoned: i64,
    pub calls_short: i64,
    /// Each answered call's wait; [`UNKNOWN_WAIT`] when the PBX did not say.
    pub call_wait_secs: Vec<u32>,
}

/// The wait of an answered call the PBX reported no wait for.
pub const UNKNOWN_WAIT: u32 = u32::MAX;

impl DayFacts {
    /// Adds another day's facts of the same group (durations are concatenated, not merged).
    pub fn add(&mut self, o: &DayFacts) {
        self.created += o.created;
        self.resolved += o.resolved;
        self.solved += o.solved;
        self.solved_breached += o.solved_breached;
        self.replies += o.replies;
        self.calls_handled += o.calls_handled;
        self.handle_secs += o.handle_secs;
        self.sla_tickets += o.sla_tickets;
        self.fr_met += o.fr_met;
        self.fr_breached += o.fr_breached;
        self.fr_running += o.fr_running;
        self.res_met += o.res_met;
        self.res_breached += o.res_breached;
        self.res_running += o.res_running;
        self.first_reply_secs.extend_from_slice(&o.first_reply_secs);
        self.resolution_secs.extend_from_slice(&o.resolution_secs);
        self.calls_offered += o.calls_offered;
        self.calls_answered += o.calls_answered;
        self.calls_abandoned += o.calls_abandoned;
        self.calls_short += o.calls_short;
        self.call_wait_secs.extend_from_slice(&o.call_wait_secs);
    }
}

fn encode(secs: &[u32]) -> Vec<u8> {
    secs.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn decode(bytes: &[u8]) -> Vec<u32> {
    bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&SANTIAGO).date_naive()
}

/// Whole seconds from `from` to `to`, rounded half away from zero as the SQL reports did;
/// negative or absurd spans (clock skew in imported data) are clamped into `u32`.
fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u32 {
    let micros = (to - from).num_microseconds().unwrap_or(i64::MAX);
    (micros as f64 / 1e6).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

// ----------------------------------------------------------------------------- reading

type Row = (String, Option<String>, DayFacts);

/// Counts of a stored row: (day, group, 8 ticket counts, 6 SLA outcomes, 4 call counts).
type StoredCounts = (
    String,
    Option<String>,
    (i64, i64, i64, i64, i64, i64, i64, i64),
    (i64, i64, i64, i64, i64, i64),
    (i64, i64, i64, i64),
);

/// The samples of a stored row: first-reply, resolution and call wait times, encoded.
type StoredSamples = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Whether [`read`] loads the samples too (first-reply, resolution and call wait times: only the
/// response-times and abandonment reports need them; they are most of a row's bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Samples {
    With,
    Without,
}

/// The rollup rows of `dim` for the days `from..=to`: (day, group, facts).
pub fn read(
    conn: &mut DbConnection,
    dim: Dim,
    from: NaiveDate,
    to: NaiveDate,
    samples: Samples,
) -> Result<Vec<Row>, AppError> {
    let rows = || {
        report_days::table
            .filter(report_days::dim.eq(dim.name()))
            .filter(report_days::day.ge(from.to_string()))
            .filter(report_days::day.le(to.to_string()))
    };
    let counts = (
        report_days::day,
        report_days::grp,
        (
            report_days::created,
            report_days::resolved,
            report_days::solved,
            report_days::replies,
            report_days::calls_handled,
            report_days::handle_secs,
            report_days::sla_tickets,
            report_days::solved_breached,
        ),
        (
            report_days::fr_met,
            report_days::fr_breached,
            report_days::fr_running,
            report_days::res_met,
            report_days::res_breached,
            report_days::res_running,
        ),
        (
            report_days::calls_offered,
            report_days::calls_answered,
            report_days::calls_abandoned,
            report_days::calls_short,
        ),
    );
    let stored: Vec<(StoredCounts, StoredSamples)> = match samples {
        Samples::With => rows()
            .select((
                counts,
                (report_days::first_reply_secs, report_days::resolution_secs, report_days::call_wait_secs),
            ))
            .load(conn)?,
        Samples::Without => {
            let found: Vec<StoredCounts> = rows().select(counts).load(conn)?;
            found.into_iter().map(|c| (c, Default::default())).collect()
        }
    };
    Ok(stored
        .into_iter()
        .map(|((day, grp, a, b, c), (fr, res, wait))| {
            let facts = DayFacts {
                created: a.0,
                resolved: a.1,
                solved: a.2,
                replies: a.3,
                calls_handled: a.4,
                handle_secs: a.5,
                sla_tickets: a.6,
                solved_breached: a.7,
                fr_met: b.0,
                fr_breached: b.1,
                fr_running: b.2,
                res_met: b.3,
                res_breached: b.4,
                res_running: b.5,
                first_reply_secs: decode(&fr),
                resolution_secs: decode(&res),
                calls_offered: c.0,
                calls_answered: c.1,
                calls_abandoned: c.2,
                calls_short: c.3,
                call_wait_secs: decode(&wait),
            };
            (day, grp, facts)
        })
        .collect())
}

// ----------------------------------------------------------------------------- computing

/// The facts of the days `from..=to`, keyed by (day, dimension, group).
pub type Facts = BTreeMap<(NaiveDate, Dim, Option<String>), DayFacts>;

/// A ticket with the values of every dimension.
struct TicketFacts {
    id: i64,
    groups: [Option<String>; 5],
    created_at: DateTime<Utc>,
    solved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
}

impl TicketFacts {
    /// The rows the ticket counts in on `day`: one per dimension, but none of the agent
    /// dimension while it is unassigned.
    fn keys(&self, day: NaiveDate) -> impl Iterator<Item = (NaiveDate, Dim, Option<String>)> + '_ {
        Dim::TICKET
            .into_iter()
            .zip(&self.groups)
            .filter(|(dim, group)| *dim != Dim::Agent || group.is_some())
            .map(move |(dim, group)| (day, dim, group.clone()))
    }
}

type TicketTuple =
    (i64, String, Option<i64>, String, Option<i64>, Option<i64>, UtcTime, Option<UtcTime>, Option<UtcTime>);

fn ticket_facts(t: TicketTuple) -> TicketFacts {
    let (id, channel, category, segment, queue, assignee, created_at, solved_at, closed_at) = t;
    TicketFacts {
        id,
        groups: [
            Some(channel),
            category.map(|c| c.to_string()),
            Some(segment),
            queue.map(|q| q.to_string()),
            assignee.map(|a| a.to_string()),
        ],
        created_at: created_at.0,
        solved_at: solved_at.map(|t| t.0),
        closed_at: closed_at.map(|t| t.0),
    }
}

/// Tickets read per query. The days' facts are sums, so the tickets of a busy day are counted a
/// chunk at a time: what a refresh holds stays bounded (reading a whole day at once made the
/// server's memory grow with the day's tickets, `benches/accumulate.sh`).
const CHUNK: i64 = 2_000;

/// Hands `each` the tickets matching `filter` (an SQL condition on `tickets`), with their
/// requester's segment, in chunks of ascending ids.
fn for_tickets(
    conn: &mut DbConnection,
    filter: &str,
    chunk_size: i64,
    mut each: impl FnMut(&mut DbConnection, &[TicketFacts]) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let mut after = 0;
    loop {
        let rows: Vec<TicketTuple> = tickets::table
            .inner_join(requesters::table)
            .filter(sql::<Bool>(filter))
            .filter(tickets::id.gt(after))
            .order(tickets::id)
            .limit(chunk_size)
            .select((
                tickets::id,
                tickets::channel,
                tickets::category_id,
                requesters::segment,
                tickets::queue_id,
                tickets::assignee_id,
                tickets::created_at,
                tickets::solved_at,
                tickets::closed_at,
            ))
            .load(conn)?;
        let chunk: Vec<TicketFacts> = rows.into_iter().map(ticket_facts).collect();
        let Some(last) = chunk.last() else { return Ok(()) };
        after = last.id;
        each(conn, &chunk)?;
        if (chunk.len() as i64) < chunk_size {
            return Ok(());
        }
    }
}

/// Computes the facts of the days `from..=to` from the base tables. The definitions are the
/// reports' (see `reports::tickets`): a ticket's first reply is the earliest public agent
/// message after its creation or answered call; it is resolved when solved, else when closed.
pub fn compute(conn: &mut DbConnection, from: NaiveDate, to: NaiveDate) -> Result<Facts, AppError> {
    compute_in_chunks(conn, from, to, CHUNK)
}

/// [`compute`], reading `chunk` tickets per query (any size gives the same facts).
pub fn compute_in_chunks(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    chunk: i64,
) -> Result<Facts, AppError> {
    let (start, end) = (day_start(from), day_start(to + Days::new(1)));
    let within = |column: &str| {
        let (a, b) = (backend::timestamp_literal(conn, start), backend::timestamp_literal(conn, end));
        format!("{column} >= {a} AND {column} < {b}")
    };
    let (created_in, resolved_in) =
        (within("tickets.created_at"), within("COALESCE(tickets.solved_at, tickets.closed_at)"));
    let mut facts = Facts::new();
    for_tickets(conn, &created_in, chunk, |conn, created| add_created(conn, created, &mut facts))?;
    // The resolved tickets that ever breached, through the partial index on those events.
    let breached: BTreeSet<i64> = ticket_events::table
        .inner_join(tickets::table)
        .filter(ticket_events::kind.eq(EventKind::SlaBreached.as_str()))
        .filter(sql::<Bool>(&resolved_in))
        .select(ticket_events::ticket_id)
        .distinct()
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    for_tickets(conn, &resolved_in, chunk, |_, resolved| {
        for t in resolved {
            let Some(resolved_at) = t.solved_at.or(t.closed_at) else { continue };
            let solved = t.solved_at.is_some();
            for key in t.keys(day_of(resolved_at)) {
                let row = facts.entry(key).or_default();
                row.resolved += 1;
                row.solved += i64::from(solved);
                row.solved_breached += i64::from(solved && breached.contains(&t.id));
            }
        }
        Ok(())
    })?;
    add_agent_work(conn, start, end, &mut facts)?;
    add_call_queues(conn, start, end, &mut facts)?;
    Ok(facts)
}

/// The per-ticket facts of the tickets created in the days: counts, first reply, resolution, SLA.
fn add_created(conn: &mut DbConnection, created: &[TicketFacts], facts: &mut Facts) -> Result<(), AppError> {
    let (Some(lo), Some(hi)) = (created.iter().map(|t| t.id).min(), created.iter().map(|t| t.id).max()) else {
        return Ok(());
    };
    // The days' ticket ids lie in a narrow range (ids grow with creation time): one index range
    // scan per fact table over it, instead of one lookup per ticket.
    let replies: Vec<(i64, UtcTime)> = messages::table
        .filter(messages::ticket_id.between(lo, hi))
        .filter(messages::author_type.eq("agent"))
        .filter(messages::visibility.eq("public"))
        .select((messages::ticket_id, messages::created_at))
        .load(conn)?;
    let events: Vec<(i64, String, UtcTime)> = ticket_events::table
        .filter(ticket_events::ticket_id.between(lo, hi))
        .filter(ticket_events::kind.eq_any([EventKind::CallAnswered.as_str(), EventKind::SlaPolicyApplied.as_str()]))
        .select((ticket_events::ticket_id, ticket_events::kind, ticket_events::created_at))
        .load(conn)?;
    let breaches: Vec<(i64, String)> = sla_deadlines::table
        .filter(sla_deadlines::ticket_id.between(lo, hi))
        .filter(sla_deadlines::kind.eq("breach"))
        .filter(sla_deadlines::fired_at.is_not_null())
        .select((sla_deadlines::ticket_id, sla_deadlines::metric))
        .load(conn)?;
    let created_at: HashMap<i64, DateTime<Utc>> = created.iter().map(|t| (t.id, t.created_at)).collect();
    let mut first_reply: HashMap<i64, DateTime<Utc>> = HashMap::new();
    let mut policy: BTreeSet<i64> = BTreeSet::new();
    let replied = replies.into_iter().filter(|(id, at)| created_at.get(id).is_some_and(|c| at.0 > *c));
    let answered = events.iter().filter(|e| e.1 == EventKind::CallAnswered.as_str()).map(|e| (e.0, e.2));
    for (id, at) in replied.chain(answered) {
        let first = first_reply.entry(id).or_insert(at.0);
        *first = (*first).min(at.0);
    }
    policy.extend(events.iter().filter(|e| e.1 == EventKind::SlaPolicyApplied.as_str()).map(|e| e.0));
    let breached: BTreeSet<(i64, &str)> = breaches.iter().map(|(id, m)| (*id, m.as_str())).collect();
    for t in created {
        let replied_at = first_reply.get(&t.id).copied();
        let open = t.solved_at.is_none() && t.closed_at.is_none();
        let fr_breached = breached.contains(&(t.id, "first_reply"));
        let res_breached = breached.contains(&(t.id, "resolution"));
        for key in t.keys(day_of(t.created_at)) {
            let row = facts.entry(key).or_default();
            row.created += 1;
            if let Some(at) = replied_at {
                row.first_reply_secs.push(secs_between(t.created_at, at));
            }
            if let Some(at) = t.solved_at {
                row.resolution_secs.push(secs_between(t.created_at, at));
            }
            if policy.contains(&t.id) {
                row.sla_tickets += 1;
                row.fr_breached += i64::from(fr_breached);
                row.fr_met += i64::from(!fr_breached && replied_at.is_some());
                row.fr_running += i64::from(!fr_breached && replied_at.is_none() && open);
                row.res_breached += i64::from(res_breached);
                row.res_met += i64::from(!res_breached && t.solved_at.is_some());
                row.res_running += i64::from(!res_breached && open);
            }
        }
    }
    Ok(())
}

/// Replies written and calls handled by each agent in `[start, end)`.
fn add_agent_work(
    conn: &mut DbConnection,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    facts: &mut Facts,
) -> Result<(), AppError> {
    let (start, end) = (UtcTime(start), UtcTime(end));
    let written: Vec<(Option<i64>, UtcTime)> = messages::table
        .filter(messages::created_at.ge(start))
        .filter(messages::created_at.lt(end))
        .filter(messages::author_type.eq("agent"))
        .filter(messages::visibility.eq("public"))
        .filter(messages::author_agent_id.is_not_null())
        .select((messages::author_agent_id, messages::created_at))
        .load(conn)?;
    for (agent, at) in written {
        let key = (day_of(at.0), Dim::Agent, agent.map(|a| a.to_string()));
        facts.entry(key).or_default().replies += 1;
    }
    type Handled = (Option<i64>, Option<UtcTime>, Option<i64>, i64, Option<i64>);
    let handled: Vec<Handled> = calls::table
        .filter(calls::queued_at.ge(start))
        .filter(calls::queued_at.lt(end))
        .filter(calls::outcome.eq("answered"))
        .filter(calls::agent_id.is_not_null())
        .select((calls::agent_id, calls::queued_at, calls::talk_seconds, calls::hold_seconds, calls::acw_seconds))
        .load(conn)?;
    for (agent, queued_at, talk, hold, acw) in handled {
        let Some(queued_at) = queued_at else { continue };
        let row = facts.entry((day_of(queued_at.0), Dim::Agent, agent.map(|a| a.to_string()))).or_default();
        row.calls_handled += 1;
        row.handle_secs += talk.unwrap_or(0) + hold + acw.unwrap_or(0);
    }
    Ok(())
}

/// The inbound calls queued in `[start, end)` that ended, per queue, as the abandonment report
/// counts them: offered (rejected ones excepted), answered with their waits, abandoned and short
/// abandoned.
fn add_call_queues(
    conn: &mut DbConnection,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    facts: &mut Facts,
) -> Result<(), AppError> {
    type Offered = (Option<i64>, Option<String>, Option<UtcTime>, Option<String>, Option<i64>);
    let offered: Vec<Offered> = calls::table
        .filter(calls::queued_at.ge(UtcTime(start)))
        .filter(calls::queued_at.lt(UtcTime(end)))
        .filter(calls::direction.eq("in"))
        .filter(calls::outcome.is_not_null())
        .filter(calls::outcome.ne("rejected"))
        .select((calls::queue_id, calls::queue_name, calls::queued_at, calls::outcome, calls::wait_seconds))
        .load(conn)?;
    for (queue, name, queued_at, outcome, wait) in offered {
        let Some(queued_at) = queued_at else { continue };
        let group = queue.map(|q| format!("q:{q}")).or(name.map(|n| format!("n:{n}")));
        let row = facts.entry((day_of(queued_at.0), Dim::CallQueue, group)).or_default();
        row.calls_offered += 1;
        match outcome.as_deref() {
            Some("answered") => {
                row.calls_answered += 1;
                let wait = wait.and_then(|w| u32::try_from(w).ok()).filter(|w| *w != UNKNOWN_WAIT);
                row.call_wait_secs.push(wait.unwrap_or(UNKNOWN_WAIT));
            }
            Some("abandoned") => row.calls_abandoned += 1,
            Some("short_abandoned") => {
                row.calls_abandoned += 1;
                row.calls_short += 1;
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = report_days)]
struct NewDay {
    day: String,
    dim: &'static str,
    grp: Option<String>,
    created: i64,
    resolved: i64,
    solved: i64,
    solved_breached: i64,
    replies: i64,
    calls_handled: i64,
    handle_secs: i64,
    sla_tickets: i64,
    fr_met: i64,
    fr_breached: i64,
    fr_running: i64,
    res_met: i64,
    res_breached: i64,
    res_running: i64,
    first_reply_secs: Vec<u8>,
    resolution_secs: Vec<u8>,
    calls_offered: i64,
    calls_answered: i64,
    calls_abandoned: i64,
    calls_short: i64,
    call_wait_secs: Vec<u8>,
}

/// Replaces the rows of the days `from..=to` with freshly computed ones.
fn rebuild_days(conn: &mut DbConnection, from: NaiveDate, to: NaiveDate) -> Result<(), AppError> {
    let facts = compute(conn, from, to)?;
    diesel::delete(
        report_days::table.filter(report_days::day.ge(from.to_string())).filter(report_days::day.le(to.to_string())),
    )
    .execute(conn)?;
    let rows: Vec<NewDay> = facts
        .into_iter()
        .filter(|((day, _, _), _)| (from..=to).contains(day))
        .map(|((day, dim, grp), f)| NewDay {
            day: day.to_string(),
            dim: dim.name(),
            grp,
            created: f.created,
            resolved: f.resolved,
            solved: f.solved,
            solved_breached: f.solved_breached,
            replies: f.replies,
            calls_handled: f.calls_handled,
            handle_secs: f.handle_secs,
            sla_tickets: f.sla_tickets,
            fr_met: f.fr_met,
            fr_breached: f.fr_breached,
            fr_running: f.fr_running,
            res_met: f.res_met,
            res_breached: f.res_breached,
            res_running: f.res_running,
            first_reply_secs: encode(&f.first_reply_secs),
            resolution_secs: encode(&f.resolution_secs),
            calls_offered: f.calls_offered,
            calls_answered: f.calls_answered,
            calls_abandoned: f.calls_abandoned,
            calls_short: f.calls_short,
            call_wait_secs: encode(&f.call_wait_secs),
        })
        .collect();
    match conn {
        // Multi-row inserts (24 values per row: chunks stay well under any limit on parameters).
        DbConnection::Pg(pg) => {
            for chunk in rows.chunks(500) {
                diesel::insert_into(report_days::table).values(chunk).execute(pg)?;
            }
        }
        // SQLite runs in-process: one statement per row costs no round trip.
        DbConnection::Sqlite(lite) => {
            for row in &rows {
                diesel::insert_into(report_days::table).values(row).execute(lite)?;
            }
        }
    }
    Ok(())
}

// ----------------------------------------------------------------------------- refreshing

/// How many events one read of a log takes; a refresh reads until it has caught up.
const EVENT_BATCH: i64 = 20_000;
/// The most days recomputed in one pass (a longer run of dirty days is cut).
const MAX_RUN_DAYS: u64 = 31;
/// How many of the last events a first build reads again afterwards.
const REREAD_AFTER_BUILD: i64 = 1_000;
/// Requesters edited this recently are read again next time: an edit may commit late.
const EDIT_GRACE: TimeDelta = TimeDelta::seconds(5);
/// The events that solve or reopen a ticket: the days of its earlier ones are counted again.
const RESOLVING: [&str; 2] = [EventKind::StatusChanged.as_str(), EventKind::Merged.as_str()];

/// Brings the rollup up to date; returns how many days it recomputed. Run in a write transaction
/// (`Db::write`): refreshes of all replicas are serialised and the new rows and cursors commit
/// together.
pub fn refresh(conn: &mut DbConnection) -> Result<usize, AppError> {
    backend::lock_report_rollup(conn)?;
    let now = Utc::now();
    let (built, mut ticket_cursor, mut call_cursor, requesters_seen): (bool, i64, i64, Option<UtcTime>) =
        report_rollup::table
            .select((
                report_rollup::built,
                report_rollup::ticket_cursor,
                report_rollup::call_cursor,
                report_rollup::requesters_seen,
            ))
            .first(conn)?;
    let read_up_to = (ticket_cursor, call_cursor);
    let mut dirty = BTreeSet::new();
    if built {
        ticket_cursor = ticket_days(conn, ticket_cursor, now, &mut dirty)?;
        call_cursor = call_days(conn, call_cursor, now, &mut dirty)?;
        requester_days(conn, requesters_seen.map(|t| t.0), &mut dirty)?;
    } else {
        // First build: every day with data, then follow the logs from near their ends (a few
        // events back, in case one with a lower id was still committing: reread, it only
        // recomputes its day again).
        let end = |max: Option<i64>| (max.unwrap_or(0) - REREAD_AFTER_BUILD).max(0);
        ticket_cursor = end(ticket_events::table.select(diesel::dsl::max(ticket_events::id)).first(conn)?);
        call_cursor = end(call_events::table.select(diesel::dsl::max(call_events::id)).first(conn)?);
        let first_ticket: Option<UtcTime> =
            tickets::table.order(tickets::created_at.asc()).select(tickets::created_at).first(conn).optional()?;
        let first_call: Option<UtcTime> = calls::table
            .filter(calls::queued_at.is_not_null())
            .order(calls::queued_at.asc())
            .select(calls::queued_at.assume_not_null())
            .first(conn)
            .optional()?;
        if let Some(first) = first_ticket.into_iter().chain(first_call).map(|t| day_of(t.0)).min() {
            dirty.extend(first.iter_days().take_while(|d| *d <= day_of(now)));
        }
    }
    let recomputed = dirty.len();
    if built && recomputed == 0 && read_up_to == (ticket_cursor, call_cursor) {
        // Nothing changed: nothing to commit (edited requesters are looked for from the same
        // instant next time).
        return Ok(0);
    }
    for (from, to) in runs(&dirty) {
        rebuild_days(conn, from, to)?;
    }
    diesel::update(report_rollup::table)
        .set((
            report_rollup::built.eq(true),
            report_rollup::ticket_cursor.eq(ticket_cursor),
            report_rollup::call_cursor.eq(call_cursor),
            report_rollup::requesters_seen.eq(Some(UtcTime(now - EDIT_GRACE))),
            report_rollup::refreshed_at.eq(Some(UtcTime(now))),
        ))
        .execute(conn)?;
    Ok(recomputed)
}

/// Forgets the rollup: the next refresh rebuilds every day (`atencion reports rebuild`).
pub fn reset(conn: &mut DbConnection) -> Result<(), AppError> {
    diesel::delete(report_days::table).execute(conn)?;
    diesel::update(report_rollup::table)
        .set((report_rollup::built.eq(false), report_rollup::ticket_cursor.eq(0), report_rollup::call_cursor.eq(0)))
        .execute(conn)?;
    Ok(())
}

/// Runs of consecutive days, each at most [`MAX_RUN_DAYS`] long.
fn runs(days: &BTreeSet<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &day in days {
        match out.last_mut() {
            Some((from, to)) if *to + Days::new(1) == day && day < *from + Days::new(MAX_RUN_DAYS) => *to = day,
            _ => out.push((day, day)),
        }
    }
    out
}

/// The days a ticket's rows live on: its creation day and its resolution day.
fn ticket_rows_days(conn: &mut DbConnection, ids: &[i64], dirty: &mut BTreeSet<NaiveDate>) -> Result<(), AppError> {
    for chunk in ids.chunks(1_000) {
        let found: Vec<(UtcTime, Option<UtcTime>, Option<UtcTime>)> = tickets::table
            .filter(tickets::id.eq_any(chunk))
            .select((tickets::created_at, tickets::solved_at, tickets::closed_at))
            .load(conn)?;
        for (created, solved, closed) in found {
            dirty.insert(day_of(created.0));
            dirty.extend(solved.or(closed).map(|t| day_of(t.0)));
        }
    }
    Ok(())
}

/// Follows a log from `cursor` to its end, a batch at a time: `read` loads the batch after a
/// cursor, marks the days it touches and returns each event's (id, time); returns the new cursor.
fn follow(
    mut cursor: i64,
    now: DateTime<Utc>,
    mut read: impl FnMut(i64) -> Result<Vec<(i64, DateTime<Utc>)>, AppError>,
) -> Result<i64, AppError> {
    loop {
        let events = read(cursor)?;
        let next = advance(cursor, &events, now);
        if (events.len() as i64) < EVENT_BATCH || next == cursor {
            return Ok(next);
        }
        cursor = next;
    }
}

/// Reads the ticket events after `cursor` and marks the days they touch; returns the new cursor.
/// An event touches its own day (a reply, a resolution) and the days its ticket's rows live on;
/// a status change also the days of the ticket's earlier status changes, where a resolution now
/// undone by a reopening was counted.
fn ticket_days(
    conn: &mut DbConnection,
    cursor: i64,
    now: DateTime<Utc>,
    dirty: &mut BTreeSet<NaiveDate>,
) -> Result<i64, AppError> {
    follow(cursor, now, |cursor| {
        let rows: Vec<(i64, i64, String, UtcTime)> = ticket_events::table
            .filter(ticket_events::id.gt(cursor))
            .order(ticket_events::id.asc())
            .limit(EVENT_BATCH)
            .select((ticket_events::id, ticket_events::ticket_id, ticket_events::kind, ticket_events::created_at))
            .load(conn)?;
        let touched: BTreeSet<i64> = rows.iter().map(|r| r.1).collect();
        let resolutions: Vec<i64> = rows.iter().filter(|r| RESOLVING.contains(&r.2.as_str())).map(|r| r.1).collect();
        dirty.extend(rows.iter().map(|r| day_of(r.3 .0)));
        ticket_rows_days(conn, &touched.into_iter().collect::<Vec<_>>(), dirty)?;
        for chunk in resolutions.chunks(1_000) {
            let earlier: Vec<UtcTime> = ticket_events::table
                .filter(ticket_events::ticket_id.eq_any(chunk))
                .filter(ticket_events::kind.eq_any(RESOLVING))
                .select(ticket_events::created_at)
                .load(conn)?;
            dirty.extend(earlier.into_iter().map(|t| day_of(t.0)));
        }
        Ok(rows.iter().map(|r| (r.0, r.3 .0)).collect())
    })
}

/// Reads the call events after `cursor` and marks the days their calls were queued on.
fn call_days(
    conn: &mut DbConnection,
    cursor: i64,
    now: DateTime<Utc>,
    dirty: &mut BTreeSet<NaiveDate>,
) -> Result<i64, AppError> {
    follow(cursor, now, |cursor| {
        let rows: Vec<(i64, Option<UtcTime>, UtcTime)> = call_events::table
            .inner_join(calls::table)
            .filter(call_events::id.gt(cursor))
            .order(call_events::id.asc())
            .limit(EVENT_BATCH)
            .select((call_events::id, calls::queued_at, call_events::received_at))
            .load(conn)?;
        dirty.extend(rows.iter().filter_map(|r| r.1.as_ref().map(|t| day_of(t.0))));
        Ok(rows.iter().map(|r| (r.0, r.2 .0)).collect())
    })
}

/// Marks the days of the tickets of requesters edited since `seen` (a segment may have changed).
fn requester_days(
    conn: &mut DbConnection,
    seen: Option<DateTime<Utc>>,
    dirty: &mut BTreeSet<NaiveDate>,
) -> Result<(), AppError> {
    let Some(seen) = seen else { return Ok(()) };
    let edited: Vec<i64> =
        requesters::table.filter(requesters::updated_at.gt(UtcTime(seen))).select(requesters::id).load(conn)?;
    for chunk in edited.chunks(1_000) {
        let ids: Vec<i64> =
            tickets::table.filter(tickets::requester_id.eq_any(chunk)).select(tickets::id).load(conn)?;
        ticket_rows_days(conn, &ids, dirty)?;
    }
    Ok(())
}

/// Brings the rollup up to date for the reports of one process, sharing refreshes between the
/// reports that arrive together: a screen asks for six at once, and six refreshes would queue
/// behind the rollup's lock one after another. A report waits for a refresh that started after
/// it arrived (which sees everything committed before), and runs one only if none did.
#[derive(Default)]
pub struct Freshness {
    /// When the last refresh that succeeded started.
    last_started: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl Freshness {
    pub async fn ensure(&self, db: &crate::db::Db) -> Result<(), AppError> {
        self.share(|| db.write_derived(refresh)).await.map(drop)
    }

    /// Runs `refresh` unless one that started after this call already succeeded; says whether
    /// it ran.
    async fn share<T, F>(&self, refresh: impl FnOnce() -> F) -> Result<bool, AppError>
    where
        F: std::future::Future<Output = Result<T, AppError>>,
    {
        let arrived = std::time::Instant::now();
        let mut last_started = self.last_started.lock().await;
        if last_started.is_some_and(|started| started >= arrived) {
            return Ok(false);
        }
        let started = std::time::Instant::now();
        refresh().await?;
        *last_started = Some(started);
        Ok(true)
    }
}

/// Keeps the rollup fresh in the background, so a report rarely has days to recompute first.
pub async fn run(db: crate::db::Db, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db.write_derived(refresh).await {
            Ok(days) if days > 0 => tracing::debug!(days, "report rollup refreshed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "report rollup refresh failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn reports_asked_for_together_share_refreshes() {
        let freshness = Freshness::default();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let refresh = || async {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok::<_, AppError>(())
        };
        let ran = futures_util::future::join_all((0..6).map(|_| freshness.share(refresh))).await;
        // The first runs one; those that arrived during it share a second one (which sees what
        // committed before they arrived).
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(ran.iter().filter(|r| matches!(r, Ok(true))).count(), 2);
        // One that arrives afterwards runs its own.
        assert!(freshness.share(refresh).await.unwrap());
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_refresh_is_not_shared() {
        let freshness = Freshness::default();
        let failed = freshness.share(|| async { Err::<(), _>(AppError::Internal(anyhow::anyhow!("caída"))) });
        assert!(failed.await.is_err());
        assert!(freshness.share(|| async { Ok::<_, AppError>(()) }).await.unwrap());
    }

    #[test]
    fn durations_round_trip_through_bytes() {
        let secs = vec![0, 1, 59, 3_600, u32::MAX];
        assert_eq!(decode(&encode(&secs)), secs);
        assert_eq!(encode(&[1]), vec![1, 0, 0, 0]);
    }

    #[test]
    fn seconds_round_half_away_from_zero_and_clamp() {
        let t0: DateTime<Utc> = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(secs_between(t0, t0 + TimeDelta::milliseconds(1_499)), 1);
        assert_eq!(secs_between(t0, t0 + TimeDelta::milliseconds(1_500)), 2);
        assert_eq!(secs_between(t0, t0 - TimeDelta::seconds(5)), 0);
    }

    #[test]
    fn days_are_santiago_days() {
        // 02:30 UTC on 1 March is still 28 February in Santiago (UTC−3 in summer).
        assert_eq!(day_of("2026-03-01T02:30:00Z".parse().unwrap()), d("2026-02-28"));
        assert_eq!(day_of("2026-03-01T03:00:00Z".parse().unwrap()), d("2026-03-01"));
    }

    #[test]
    fn dirty_days_group_into_bounded_runs() {
        let days: BTreeSet<NaiveDate> =
            [d("2026-01-01"), d("2026-01-02"), d("2026-01-03"), d("2026-01-05")].into_iter().collect();
        assert_eq!(runs(&days), vec![(d("2026-01-01"), d("2026-01-03")), (d("2026-01-05"), d("2026-01-05"))]);
        let long: BTreeSet<NaiveDate> = d("2026-01-01").iter_days().take(40).collect();
        assert_eq!(runs(&long), vec![(d("2026-01-01"), d("2026-01-31")), (d("2026-02-01"), d("2026-02-09"))]);
        assert!(runs(&BTreeSet::new()).is_empty());
    }

    #[test]
    fn adding_days_sums_counts_and_concatenates_samples() {
        let mut a = DayFacts { created: 2, fr_met: 1, first_reply_secs: vec![10], ..DayFacts::default() };
        let b = DayFacts { created: 3, fr_met: 2, first_reply_secs: vec![20, 5], ..DayFacts::default() };
        a.add(&b);
        assert_eq!((a.created, a.fr_met, a.first_reply_secs), (5, 3, vec![10, 20, 5]));
    }
}
