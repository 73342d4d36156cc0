//! Call and agent reports: abandonment and service level, per-agent work, staffing forecast.
//!
//! A call belongs to the period in which it entered the queue (`calls.queued_at`). Offered calls
//! are the inbound ones that ended, except rejected ones (blocked numbers); voicemail and
//! forwarded calls are offered but neither answered nor abandoned. The ratios are those of
//! `domain::kpi::Counters`, the same as the live figures.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use serde::Serialize;
use utoipa::ToSchema;

use super::buckets::{self, bucket_index, TIME_ZONE};
use super::params::{AbandonmentParams, Interval, Period, StaffingParams};
use super::{load, rate, snapshot, tenths, Report};
use crate::db::schema::{agents, queues};
use crate::db::{backend, DbConnection};
use crate::domain::kpi::{self, Counters, StaffingInput};
use crate::error::AppError;

/// Agent time a handled call consumed: talk + hold + after-call work.
const HANDLE_SECS: &str = "COALESCE(c.talk_seconds, 0) + c.hold_seconds + COALESCE(c.acw_seconds, 0)";

/// Calls of one period and queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct AbandonmentRow {
    /// First day of the period (a Monday for weeks).
    pub period: NaiveDate,
    /// Our queue's slug, or the PBX's queue name when it matches none; `null` without either.
    pub queue: Option<String>,
    pub offered: i64,
    pub answered: i64,
    /// Answered after waiting at most `answer_secs`.
    pub answered_within_target: i64,
    /// Hung up while waiting, short abandons included.
    pub abandoned: i64,
    /// Hung up within `phone.short_abandon_secs`: not counted against the queue.
    pub short_abandoned: i64,
    /// (abandoned − short) ÷ (offered − short).
    pub abandonment_rate: Option<f64>,
    /// Answered within T ÷ (answered + abandoned − short).
    pub service_level: Option<f64>,
    /// Average wait of answered calls.
    pub asa_secs: Option<f64>,
}

/// One agent's work in the range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct AgentRow {
    pub agent_id: i64,
    pub agent: String,
    /// Tickets created in the range that are assigned to the agent now.
    pub tickets_assigned: i64,
    /// Tickets solved in the range that are assigned to the agent now.
    pub tickets_solved: i64,
    /// Public messages the agent wrote in the range (a ticket logged through the API opens with one).
    pub replies: i64,
    /// Calls queued in the range that the agent answered.
    pub calls_handled: i64,
    /// Average handle time of those calls: talk + hold + after-call work.
    pub aht_secs: Option<f64>,
}

/// One 30-minute interval of the day: measured load and the agents Erlang C asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct StaffingRow {
    /// Start, local time with its UTC offset.
    #[schema(value_type = String, format = DateTime)]
    pub start: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub end: DateTime<FixedOffset>,
    /// Inbound calls that entered the queue (rejected ones excepted).
    pub arrivals: i64,
    /// Of those, answered.
    pub handled: i64,
    /// The interval's AHT, or the day's when none of its calls was handled; `null` if the day
    /// has no handled call (nor, then, a forecast).
    pub aht_secs: Option<f64>,
    /// Offered traffic in Erlangs.
    pub traffic: Option<f64>,
    /// Agents needed on the phones.
    pub agents: Option<u32>,
    /// Agents to schedule, shrinkage included.
    pub scheduled: Option<u32>,
    /// Erlang C probability that a call waits, with `agents`.
    pub probability_of_waiting: Option<f64>,
    pub service_level: Option<f64>,
    pub asa_secs: Option<f64>,
    pub occupancy: Option<f64>,
}

/// `c.queued_at` within the period.
fn queued_in(conn: &DbConnection, period: &Period) -> String {
    let (start, end) = (backend::timestamp_literal(conn, period.start), backend::timestamp_literal(conn, period.end));
    format!("c.queued_at >= {start} AND c.queued_at < {end}")
}

#[derive(QueryableByName)]
struct CallCounts {
    #[diesel(sql_type = Integer)]
    k: i32,
    #[diesel(sql_type = Nullable<Text>)]
    grp: Option<String>,
    #[diesel(sql_type = BigInt)]
    offered: i64,
    #[diesel(sql_type = BigInt)]
    answered: i64,
    #[diesel(sql_type = BigInt)]
    within: i64,
    #[diesel(sql_type = BigInt)]
    abandoned: i64,
    #[diesel(sql_type = BigInt)]
    short: i64,
    #[diesel(sql_type = BigInt)]
    wait: i64,
}

fn counters(c: &CallCounts) -> Counters {
    Counters {
        queued: c.offered as u64,
        answered: c.answered as u64,
        answered_within_target: c.within as u64,
        abandoned: c.abandoned as u64,
        short_abandoned: c.short as u64,
        wait_seconds_total: c.wait as u64,
        ..Counters::default()
    }
}

/// Offered, answered and abandoned calls per period and queue, with the abandonment rate, the
/// service level for the answer target and the ASA. Every period is listed for every queue that
/// has calls in the range.
pub fn abandonment(conn: &mut DbConnection, p: &AbandonmentParams) -> Result<Report<AbandonmentRow>, AppError> {
    snapshot(conn, |conn| {
        let periods = match p.interval {
            Interval::Day => buckets::days(p.period.from, p.period.to),
            Interval::Week => buckets::weeks(p.period.from, p.period.to),
        };
        let count = |condition: &str| format!("sum(CASE WHEN {condition} THEN 1 ELSE 0 END)");
        let sql = format!(
        "SELECT k, grp, count(*) AS offered, {answered} AS answered, {within} AS within, {abandoned} AS abandoned, \
         {short} AS short, CAST(sum(CASE WHEN outcome = 'answered' THEN COALESCE(wait_seconds, 0) ELSE 0 END) AS BIGINT) AS wait \
         FROM (SELECT {k} AS k, COALESCE(q.slug, c.queue_name) AS grp, c.outcome AS outcome, c.wait_seconds AS wait_seconds \
         FROM calls c LEFT JOIN queues q ON q.id = c.queue_id \
         WHERE {queued} AND c.direction = 'in' AND c.outcome IS NOT NULL AND c.outcome <> 'rejected') x \
         GROUP BY k, grp",
        k = bucket_index(conn, "c.queued_at", &periods),
        queued = queued_in(conn, &p.period),
        answered = count("outcome = 'answered'"),
        within = count(&format!("outcome = 'answered' AND wait_seconds <= {}", p.answer_secs)),
        abandoned = count("outcome IN ('abandoned', 'short_abandoned')"),
        short = count("outcome = 'short_abandoned'"),
    );
        let found: Vec<CallCounts> = load(conn, &sql)?;
        let queues: BTreeSet<Option<String>> = found.iter().map(|c| c.grp.clone()).collect();
        let found: HashMap<(i32, Option<String>), CallCounts> =
            found.into_iter().map(|c| ((c.k, c.grp.clone()), c)).collect();
        let mut rows = Vec::with_capacity(periods.len() * queues.len());
        for (k, bucket) in periods.iter().enumerate() {
            for queue in &queues {
                let c = found.get(&(k as i32, queue.clone()));
                let kpis = c.map(counters).unwrap_or_default();
                rows.push(AbandonmentRow {
                    period: bucket.period,
                    queue: queue.clone(),
                    offered: c.map_or(0, |c| c.offered),
                    answered: c.map_or(0, |c| c.answered),
                    answered_within_target: c.map_or(0, |c| c.within),
                    abandoned: c.map_or(0, |c| c.abandoned),
                    short_abandoned: c.map_or(0, |c| c.short),
                    abandonment_rate: rate(kpis.abandonment_rate()),
                    service_level: rate(kpis.service_level()),
                    asa_secs: tenths(kpis.asa_seconds()),
                });
            }
        }
        Ok(Report::new("abandonment", &p.period, rows))
    })
}

#[derive(QueryableByName)]
struct AgentCount {
    /// 1 assigned, 2 solved, 3 replies, 4 calls.
    #[diesel(sql_type = Integer)]
    kind: i32,
    #[diesel(sql_type = BigInt)]
    agent: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    secs: i64,
}

/// Per agent with any work in the range: tickets assigned and solved, replies, calls handled and
/// their AHT. Ordered by name.
pub fn agents(conn: &mut DbConnection, period: &Period) -> Result<Report<AgentRow>, AppError> {
    snapshot(conn, |conn| {
        let (start, end) =
            (backend::timestamp_literal(conn, period.start), backend::timestamp_literal(conn, period.end));
        let within = |column: &str| format!("{column} >= {start} AND {column} < {end}");
        let sql = format!(
        "SELECT 1 AS kind, t.assignee_id AS agent, count(*) AS n, CAST(0 AS BIGINT) AS secs FROM tickets t \
         WHERE {created} AND t.assignee_id IS NOT NULL GROUP BY t.assignee_id \
         UNION ALL SELECT 2 AS kind, t.assignee_id AS agent, count(*) AS n, CAST(0 AS BIGINT) AS secs FROM tickets t \
         WHERE {solved} AND t.assignee_id IS NOT NULL GROUP BY t.assignee_id \
         UNION ALL SELECT 3 AS kind, m.author_agent_id AS agent, count(*) AS n, CAST(0 AS BIGINT) AS secs FROM messages m \
         WHERE {written} AND m.author_type = 'agent' AND m.visibility = 'public' AND m.author_agent_id IS NOT NULL \
         GROUP BY m.author_agent_id \
         UNION ALL SELECT 4 AS kind, c.agent_id AS agent, count(*) AS n, CAST(sum({HANDLE_SECS}) AS BIGINT) AS secs \
         FROM calls c WHERE {queued} AND c.outcome = 'answered' AND c.agent_id IS NOT NULL GROUP BY c.agent_id",
        created = within("t.created_at"),
        solved = within("t.solved_at"),
        written = within("m.created_at"),
        queued = within("c.queued_at"),
    );
        let found: Vec<AgentCount> = load(conn, &sql)?;
        let ids: BTreeSet<i64> = found.iter().map(|c| c.agent).collect();
        let names: Vec<(i64, String)> =
            agents::table.filter(agents::id.eq_any(&ids)).select((agents::id, agents::name)).load(conn)?;
        let mut rows: HashMap<i64, (AgentRow, Counters)> = names
            .into_iter()
            .map(|(id, name)| {
                (id, (AgentRow { agent_id: id, agent: name, ..AgentRow::default() }, Counters::default()))
            })
            .collect();
        for c in found {
            let Some((row, calls)) = rows.get_mut(&c.agent) else { continue };
            match c.kind {
                1 => row.tickets_assigned = c.n,
                2 => row.tickets_solved = c.n,
                3 => row.replies = c.n,
                _ => {
                    row.calls_handled = c.n;
                    (calls.handled, calls.handle_seconds_total) = (c.n as u64, c.secs as u64);
                }
            }
        }
        let mut rows: Vec<AgentRow> = rows
            .into_values()
            .map(|(mut row, calls)| {
                row.aht_secs = tenths(calls.aht_seconds());
                row
            })
            .collect();
        rows.sort_by(|a, b| (&a.agent, a.agent_id).cmp(&(&b.agent, b.agent_id)));
        Ok(Report::new("agents", period, rows))
    })
}

#[derive(QueryableByName)]
struct IntervalLoad {
    #[diesel(sql_type = Integer)]
    k: i32,
    #[diesel(sql_type = BigInt)]
    arrivals: i64,
    #[diesel(sql_type = BigInt)]
    handled: i64,
    #[diesel(sql_type = BigInt)]
    handle_secs: i64,
}

/// Per 30-minute interval of the day: the calls that arrived (of `queue`, or all) and their AHT,
/// and the agents Erlang C requires for the targets (`domain::kpi::staffing`).
pub fn staffing(conn: &mut DbConnection, p: &StaffingParams) -> Result<Report<StaffingRow>, AppError> {
    snapshot(conn, |conn| {
        let queue_filter = match &p.queue {
            Some(slug) => {
                let id: i64 = queues::table
                    .filter(queues::slug.eq(slug))
                    .select(queues::id)
                    .first(conn)
                    .optional()?
                    .ok_or_else(|| AppError::field("queue", format!("no existe la cola «{slug}»")))?;
                format!(" AND c.queue_id = {id}")
            }
            None => String::new(),
        };
        let intervals = buckets::half_hours(p.date);
        let sql = format!(
            "SELECT k, count(*) AS arrivals, sum(CASE WHEN handle IS NULL THEN 0 ELSE 1 END) AS handled, \
         CAST(COALESCE(sum(handle), 0) AS BIGINT) AS handle_secs \
         FROM (SELECT {k} AS k, CASE WHEN c.outcome = 'answered' THEN {HANDLE_SECS} END AS handle FROM calls c \
         WHERE {queued} AND c.direction = 'in' AND (c.outcome IS NULL OR c.outcome <> 'rejected'){queue_filter}) x \
         GROUP BY k",
            k = bucket_index(conn, "c.queued_at", &intervals),
            queued = queued_in(conn, &Period::new(p.date, p.date)),
        );
        let found: HashMap<i32, IntervalLoad> =
            load::<IntervalLoad>(conn, &sql)?.into_iter().map(|l| (l.k, l)).collect();
        let day = Counters {
            handled: found.values().map(|l| l.handled as u64).sum(),
            handle_seconds_total: found.values().map(|l| l.handle_secs as u64).sum(),
            ..Counters::default()
        };
        let rows = intervals
            .iter()
            .enumerate()
            .map(|(k, interval)| {
                let measured = found.get(&(k as i32));
                let (arrivals, handled) = measured.map_or((0, 0), |l| (l.arrivals, l.handled));
                let own = Counters {
                    handled: handled as u64,
                    handle_seconds_total: measured.map_or(0, |l| l.handle_secs as u64),
                    ..Counters::default()
                };
                let aht = own.aht_seconds().or_else(|| day.aht_seconds());
                let forecast = aht.and_then(|aht| {
                    kpi::staffing(&StaffingInput {
                        arrivals: arrivals as f64,
                        interval_secs: (interval.end - interval.start).num_seconds() as f64,
                        aht_secs: aht,
                        target_service_level: p.target_service_level,
                        answer_secs: p.answer_secs,
                        max_occupancy: p.max_occupancy,
                        shrinkage: p.shrinkage,
                    })
                    .ok()
                });
                let local = |t: DateTime<chrono::Utc>| t.with_timezone(&TIME_ZONE).fixed_offset();
                StaffingRow {
                    start: local(interval.start),
                    end: local(interval.end),
                    arrivals,
                    handled,
                    aht_secs: tenths(aht),
                    traffic: forecast.as_ref().map(|s| (s.traffic * 1000.0).round() / 1000.0),
                    agents: forecast.as_ref().map(|s| s.agents),
                    scheduled: forecast.as_ref().map(|s| s.scheduled),
                    probability_of_waiting: rate(forecast.as_ref().map(|s| s.probability_of_waiting)),
                    service_level: rate(forecast.as_ref().map(|s| s.service_level)),
                    asa_secs: tenths(forecast.as_ref().map(|s| s.asa_seconds)),
                    occupancy: rate(forecast.as_ref().map(|s| s.occupancy)),
                }
            })
            .collect();
        Ok(Report::new("staffing", &Period::new(p.date, p.date), rows))
    })
}
