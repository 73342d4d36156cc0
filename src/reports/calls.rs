//! Call and agent reports: abandonment and service level, per-agent work, staffing forecast.
//!
//! A call belongs to the period in which it entered the queue (`calls.queued_at`). Offered calls
//! are the inbound ones that ended, except rejected ones (blocked numbers); voicemail and
//! forwarded calls are offered but neither answered nor abandoned. The ratios are those of
//! `domain::kpi::Counters`, the same as the live figures.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use serde::Serialize;
use utoipa::ToSchema;

use super::buckets::{self, bucket_index, TIME_ZONE};
use super::params::{AbandonmentParams, Period, StaffingParams};
use super::rollup::{self, DayFacts, Dim, Samples, UNKNOWN_WAIT};
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

/// The call counters of a queue's summed days, for the answer target `answer_secs` (T).
fn call_counters(f: &DayFacts, answer_secs: i64) -> Counters {
    let known = || f.call_wait_secs.iter().filter(|w| **w != UNKNOWN_WAIT).map(|w| i64::from(*w));
    Counters {
        queued: f.calls_offered as u64,
        answered: f.calls_answered as u64,
        answered_within_target: known().filter(|w| *w <= answer_secs).count() as u64,
        abandoned: f.calls_abandoned as u64,
        short_abandoned: f.calls_short as u64,
        wait_seconds_total: known().sum::<i64>() as u64,
        ..Counters::default()
    }
}

/// Offered, answered and abandoned calls per period and queue, with the abandonment rate, the
/// service level for the answer target and the ASA. Every period is listed for every queue that
/// has calls in the range. A queue is named by its slug, or by the PBX's name when it has none of
/// ours.
pub fn abandonment(conn: &mut DbConnection, p: &AbandonmentParams) -> Result<Report<AbandonmentRow>, AppError> {
    snapshot(conn, |conn| {
        let periods = buckets::series(&p.period, p.interval);
        let slugs: HashMap<i64, String> =
            queues::table.select((queues::id, queues::slug)).load(conn)?.into_iter().collect();
        let label = |group: Option<String>| match group.as_deref().and_then(|g| g.split_once(':')) {
            Some(("q", id)) => id.parse().ok().and_then(|id: i64| slugs.get(&id).cloned()),
            Some((_, name)) => Some(name.to_owned()),
            None => None,
        };
        let mut found: HashMap<(usize, Option<String>), DayFacts> = HashMap::new();
        for (day, group, facts) in rollup::read(conn, Dim::CallQueue, p.period.from, p.period.to, Samples::With)? {
            let Ok(day) = day.parse::<NaiveDate>() else { continue };
            if facts.calls_offered > 0 {
                found.entry((buckets::period_of(&periods, day), label(group))).or_default().add(&facts);
            }
        }
        let queues: BTreeSet<Option<String>> = found.keys().map(|(_, q)| q.clone()).collect();
        let none = DayFacts::default();
        let mut rows = Vec::with_capacity(periods.len() * queues.len());
        for (k, bucket) in periods.iter().enumerate() {
            for queue in &queues {
                let f = found.get(&(k, queue.clone())).unwrap_or(&none);
                let kpis = call_counters(f, p.answer_secs);
                rows.push(AbandonmentRow {
                    period: bucket.period,
                    queue: queue.clone(),
                    offered: f.calls_offered,
                    answered: f.calls_answered,
                    answered_within_target: kpis.answered_within_target as i64,
                    abandoned: f.calls_abandoned,
                    short_abandoned: f.calls_short,
                    abandonment_rate: rate(kpis.abandonment_rate()),
                    service_level: rate(kpis.service_level()),
                    asa_secs: tenths(kpis.asa_seconds()),
                });
            }
        }
        Ok(Report::new("abandonment", &p.period, rows))
    })
}

/// Per agent with any work in the range: tickets assigned and solved, replies, calls handled and
/// their AHT. Ordered by name.
pub fn agents(conn: &mut DbConnection, period: &Period) -> Result<Report<AgentRow>, AppError> {
    snapshot(conn, |conn| {
        let mut work: BTreeMap<i64, DayFacts> = BTreeMap::new();
        for (_, agent, facts) in rollup::read(conn, Dim::Agent, period.from, period.to, Samples::Without)? {
            if let Some(agent) = agent.and_then(|a| a.parse().ok()) {
                work.entry(agent).or_default().add(&facts);
            }
        }
        work.retain(|_, f| f.created + f.solved + f.replies + f.calls_handled > 0);
        let names: Vec<(i64, String)> =
            agents::table.filter(agents::id.eq_any(work.keys())).select((agents::id, agents::name)).load(conn)?;
        let mut rows: Vec<AgentRow> = names
            .into_iter()
            .map(|(id, name)| {
                let f = &work[&id];
                let calls = Counters {
                    handled: f.calls_handled as u64,
                    handle_seconds_total: f.handle_secs as u64,
                    ..Counters::default()
                };
                AgentRow {
                    agent_id: id,
                    agent: name,
                    tickets_assigned: f.created,
                    tickets_solved: f.solved,
                    replies: f.replies,
                    calls_handled: f.calls_handled,
                    aht_secs: tenths(calls.aht_seconds()),
                }
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
