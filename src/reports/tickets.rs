//! Ticket reports: volume, first-reply and resolution times, SLA compliance and backlog.
//!
//! Definitions shared by these reports:
//! - A ticket belongs to the period in which it was created (`tickets.created_at`).
//! - Its first reply is the earliest of its first public agent message other than the one that
//!   opened it (which carries the ticket's creation instant) and its first answered call
//!   (`call_answered` event): the same facts that stop the SLA first-reply clock.
//! - It is resolved when solved (`solved_at`; reopening clears it) or, if never solved, closed
//!   (merged). Resolution time is wall-clock time from creation to `solved_at`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::QueryableByName;
use serde::Serialize;
use utoipa::ToSchema;

use super::buckets::{self, bucket_index, Bucket};
use super::params::{GroupBy, GroupParams, Interval, Period, SeriesParams};
use super::{load, rate, snapshot, Report};
use crate::db::{backend, DbConnection};
use crate::domain::kpi::Counters;
use crate::error::AppError;

/// Tickets created in one period and group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct VolumeRow {
    /// First day of the period (a Monday for weeks).
    pub period: NaiveDate,
    /// Channel, category slug, requester segment or queue slug; `null` when the ticket has none.
    pub group: Option<String>,
    pub tickets: i64,
}

/// First-reply and resolution times of the tickets created in the range, per group. Percentiles
/// are nearest-rank (always an observed value), in whole seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct ResponseTimesRow {
    pub group: Option<String>,
    /// Tickets created in the range.
    pub tickets: i64,
    /// Of those, tickets with a first reply.
    pub first_reply_count: i64,
    pub first_reply_p50_secs: Option<i64>,
    pub first_reply_p90_secs: Option<i64>,
    /// Of those, tickets solved now.
    pub resolution_count: i64,
    pub resolution_p50_secs: Option<i64>,
    pub resolution_p90_secs: Option<i64>,
}

/// SLA outcome of one metric for the tickets created in the range that an SLA policy applied to.
///
/// `breached`: the scanner fired the metric's breach (the `sla_breached` event; its row stays in
/// `sla_deadlines` with `fired_at` set). `met`: not breached and the clock stopped: first reply
/// given (first_reply) or solved (resolution). `running`: not breached, not stopped, ticket open.
/// `cancelled`: the rest, whose clock stopped without being owed (solved or merged without a
/// reply; closed by merging without being solved). `compliance` = met ÷ (met + breached).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct SlaRow {
    pub group: Option<String>,
    /// `first_reply` or `resolution`.
    pub metric: String,
    pub tickets: i64,
    pub met: i64,
    pub breached: i64,
    pub running: i64,
    pub cancelled: i64,
    pub compliance: Option<f64>,
}

/// Open tickets at the end of one day, per group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct BacklogRow {
    pub date: NaiveDate,
    pub group: Option<String>,
    /// Created that day.
    pub created: i64,
    /// Resolved that day (solved, or closed without being solved).
    pub resolved: i64,
    /// Created before the end of the day and not resolved by then.
    pub open_at_end: i64,
}

/// The SQL naming a ticket's group (`t` is the ticket), and the join it needs, for queries that
/// carry the group through per-ticket rows.
fn group_sql(by: GroupBy) -> (&'static str, &'static str) {
    match by {
        GroupBy::Channel => ("t.channel", ""),
        GroupBy::Category => ("c.slug", " LEFT JOIN categories c ON c.id = t.category_id"),
        GroupBy::Segment => ("r.segment", " JOIN requesters r ON r.id = t.requester_id"),
        GroupBy::Queue => ("q.slug", " LEFT JOIN queues q ON q.id = t.queue_id"),
    }
}

/// `kind, k, grp, n`: the tickets matching `filter` counted per bucket (`k`, an SQL expression) and
/// group. Queues and categories are counted by id and named afterwards, which keeps the join off
/// the per-ticket rows.
fn count_by(by: GroupBy, kind: i32, k: &str, filter: &str) -> String {
    let (key, join, label, label_join) = match by {
        GroupBy::Channel => ("t.channel", "", "x.key", ""),
        GroupBy::Category => ("t.category_id", "", "c.slug", " LEFT JOIN categories c ON c.id = x.key"),
        GroupBy::Segment => ("r.segment", " JOIN requesters r ON r.id = t.requester_id", "x.key", ""),
        GroupBy::Queue => ("t.queue_id", "", "q.slug", " LEFT JOIN queues q ON q.id = x.key"),
    };
    format!(
        "SELECT {kind} AS kind, x.k AS k, {label} AS grp, x.n AS n FROM (SELECT k, key, count(*) AS n FROM \
         (SELECT {k} AS k, {key} AS key FROM tickets t{join} WHERE {filter}) y GROUP BY k, key) x{label_join}"
    )
}

fn series(period: &Period, interval: Interval) -> Vec<Bucket> {
    match interval {
        Interval::Day => buckets::days(period.from, period.to),
        Interval::Week => buckets::weeks(period.from, period.to),
    }
}

/// `t.created_at` within the period.
fn created_in(conn: &DbConnection, period: &Period) -> String {
    let (start, end) = (backend::timestamp_literal(conn, period.start), backend::timestamp_literal(conn, period.end));
    format!("t.created_at >= {start} AND t.created_at < {end}")
}

/// The period's ticket ids lie in a narrow range (ids grow with creation time), so per-ticket
/// facts are read with one index range scan over `span` and joined, instead of one lookup per
/// ticket. A ticket created out of order only widens the range; the joins keep the result exact.
const SPAN: &str = "span AS (SELECT min(id) AS lo, max(id) AS hi FROM t0)";

/// `x.ticket_id` within `span`.
fn in_span(alias: &str) -> String {
    format!("{alias}.ticket_id >= span.lo AND {alias}.ticket_id <= span.hi")
}

/// CTEs `t0` (the tickets created in the period: id, group, creation, resolution), `span` and `f`
/// (`t0` with `replied_at`, the first reply).
fn ticket_facts(conn: &DbConnection, by: GroupBy, period: &Period) -> String {
    let (grp, join) = group_sql(by);
    format!(
        "t0 AS MATERIALIZED (SELECT t.id AS id, {grp} AS grp, t.created_at AS created_at, t.solved_at AS solved_at, \
         t.closed_at AS closed_at FROM tickets t{join} WHERE {created}), {SPAN}, \
         replies AS (SELECT t0.id AS id, min(m.created_at) AS at FROM span, messages m JOIN t0 ON t0.id = m.ticket_id \
         WHERE {messages} AND m.author_type = 'agent' AND m.visibility = 'public' AND m.created_at > t0.created_at \
         GROUP BY t0.id \
         UNION ALL SELECT e.ticket_id AS id, min(e.created_at) AS at FROM span, ticket_events e \
         WHERE {events} AND e.kind = 'call_answered' GROUP BY e.ticket_id), \
         f AS (SELECT t0.id AS id, t0.grp AS grp, t0.created_at AS created_at, t0.solved_at AS solved_at, \
         t0.closed_at AS closed_at, r.at AS replied_at FROM t0 \
         LEFT JOIN (SELECT id, min(at) AS at FROM replies GROUP BY id) r ON r.id = t0.id)",
        created = created_in(conn, period),
        messages = in_span("m"),
        events = in_span("e"),
    )
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    kind: i32,
    #[diesel(sql_type = Integer)]
    k: i32,
    #[diesel(sql_type = Nullable<Text>)]
    grp: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Tickets created per period and group. Every period is listed for every group that has
/// tickets in the range (0 where it had none).
pub fn volume(conn: &mut DbConnection, p: &SeriesParams) -> Result<Report<VolumeRow>, AppError> {
    snapshot(conn, |conn| {
        let periods = series(&p.period, p.interval);
        let k = bucket_index(conn, "t.created_at", &periods);
        let sql = count_by(p.by, 0, &k, &created_in(conn, &p.period));
        let counts: Vec<Count> = load(conn, &sql)?;
        let groups: BTreeSet<Option<String>> = counts.iter().map(|c| c.grp.clone()).collect();
        let found: HashMap<(i32, Option<String>), i64> = counts.into_iter().map(|c| ((c.k, c.grp), c.n)).collect();
        let mut rows = Vec::with_capacity(periods.len() * groups.len());
        for (k, bucket) in periods.iter().enumerate() {
            for group in &groups {
                let tickets = found.get(&(k as i32, group.clone())).copied().unwrap_or(0);
                rows.push(VolumeRow { period: bucket.period, group: group.clone(), tickets });
            }
        }
        Ok(Report::new("volume", &p.period, rows))
    })
}

#[derive(QueryableByName)]
struct Durations {
    #[diesel(sql_type = Nullable<Text>)]
    grp: Option<String>,
    /// 0: tickets, 1: first reply, 2: resolution.
    #[diesel(sql_type = Integer)]
    metric: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    p50: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    p90: Option<i64>,
}

/// First-reply and resolution time percentiles per group, computed in the database with window
/// functions (rank ⌈p·n/100⌉ of the sorted durations, as `kpi::percentile`). Both windows share one
/// ordering, so the durations are sorted once.
pub fn response_times(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<ResponseTimesRow>, AppError> {
    snapshot(conn, |conn| {
        let reply = backend::seconds_between(conn, "created_at", "replied_at");
        let resolution = backend::seconds_between(conn, "created_at", "solved_at");
        let sql = format!(
            "WITH {facts}, \
         d AS (SELECT grp, 1 AS metric, {reply} AS secs FROM f WHERE replied_at IS NOT NULL \
         UNION ALL SELECT grp, 2 AS metric, {resolution} AS secs FROM f WHERE solved_at IS NOT NULL), \
         r AS (SELECT grp, metric, secs, row_number() OVER (PARTITION BY grp, metric ORDER BY secs) AS rn, \
         count(*) OVER (PARTITION BY grp, metric ORDER BY secs ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) \
         AS n FROM d) \
         SELECT grp, metric, max(n) AS n, max(CASE WHEN rn = (n * 50 + 99) / 100 THEN secs END) AS p50, \
         max(CASE WHEN rn = (n * 90 + 99) / 100 THEN secs END) AS p90 FROM r GROUP BY grp, metric \
         UNION ALL SELECT grp, 0 AS metric, count(*) AS n, NULL AS p50, NULL AS p90 FROM f GROUP BY grp",
            facts = ticket_facts(conn, p.by, &p.period),
        );
        let found: Vec<Durations> = load(conn, &sql)?;
        let mut rows: BTreeMap<Option<String>, ResponseTimesRow> = BTreeMap::new();
        for d in found {
            let row =
                rows.entry(d.grp.clone()).or_insert_with(|| ResponseTimesRow { group: d.grp, ..Default::default() });
            match d.metric {
                0 => row.tickets = d.n,
                1 => (row.first_reply_count, row.first_reply_p50_secs, row.first_reply_p90_secs) = (d.n, d.p50, d.p90),
                _ => (row.resolution_count, row.resolution_p50_secs, row.resolution_p90_secs) = (d.n, d.p50, d.p90),
            }
        }
        Ok(Report::new("response-times", &p.period, rows.into_values().collect()))
    })
}

#[derive(QueryableByName)]
struct SlaCounts {
    #[diesel(sql_type = Nullable<Text>)]
    grp: Option<String>,
    #[diesel(sql_type = BigInt)]
    tickets: i64,
    #[diesel(sql_type = BigInt)]
    fr_met: i64,
    #[diesel(sql_type = BigInt)]
    fr_breached: i64,
    #[diesel(sql_type = BigInt)]
    fr_running: i64,
    #[diesel(sql_type = BigInt)]
    res_met: i64,
    #[diesel(sql_type = BigInt)]
    res_breached: i64,
    #[diesel(sql_type = BigInt)]
    res_running: i64,
}

/// SLA compliance of the first-reply and resolution metrics per group (see [`SlaRow`]). Only
/// tickets an SLA policy applied to count (an `sla_policy_applied` event). Metrics with several
/// instances per ticket (next reply, periodic update, callback) are left to the live KPIs.
pub fn sla(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<SlaRow>, AppError> {
    snapshot(conn, |conn| {
        let count = |condition: &str| format!("sum(CASE WHEN {condition} THEN 1 ELSE 0 END)");
        let open = "solved_at IS NULL AND closed_at IS NULL";
        let sql = format!(
            "WITH {facts}, \
         breaches AS (SELECT d.ticket_id AS id, max(CASE WHEN d.metric = 'first_reply' THEN 1 ELSE 0 END) AS fr, \
         max(CASE WHEN d.metric = 'resolution' THEN 1 ELSE 0 END) AS res FROM span, sla_deadlines d \
         WHERE {deadlines} AND d.kind = 'breach' AND d.fired_at IS NOT NULL GROUP BY d.ticket_id), \
         policy AS (SELECT DISTINCT e.ticket_id AS id FROM span, ticket_events e \
         WHERE {events} AND e.kind = 'sla_policy_applied'), \
         s AS (SELECT f.grp AS grp, f.replied_at AS replied_at, f.solved_at AS solved_at, f.closed_at AS closed_at, \
         COALESCE(b.fr, 0) AS fr_breached, COALESCE(b.res, 0) AS res_breached \
         FROM f JOIN policy ON policy.id = f.id LEFT JOIN breaches b ON b.id = f.id) \
         SELECT grp, count(*) AS tickets, \
         {} AS fr_met, {} AS fr_breached, {} AS fr_running, {} AS res_met, {} AS res_breached, {} AS res_running \
         FROM s GROUP BY grp",
            count("fr_breached = 0 AND replied_at IS NOT NULL"),
            count("fr_breached = 1"),
            count(&format!("fr_breached = 0 AND replied_at IS NULL AND {open}")),
            count("res_breached = 0 AND solved_at IS NOT NULL"),
            count("res_breached = 1"),
            count(&format!("res_breached = 0 AND {open}")),
            facts = ticket_facts(conn, p.by, &p.period),
            deadlines = in_span("d"),
            events = in_span("e"),
        );
        let mut found: Vec<SlaCounts> = load(conn, &sql)?;
        found.sort_by(|a, b| a.grp.cmp(&b.grp));
        let mut rows = Vec::with_capacity(found.len() * 2);
        for c in found {
            for (metric, met, breached, running) in [
                ("first_reply", c.fr_met, c.fr_breached, c.fr_running),
                ("resolution", c.res_met, c.res_breached, c.res_running),
            ] {
                let counters = Counters { sla_met: met as u64, sla_breached: breached as u64, ..Counters::default() };
                rows.push(SlaRow {
                    group: c.grp.clone(),
                    metric: metric.to_owned(),
                    tickets: c.tickets,
                    met,
                    breached,
                    running,
                    cancelled: c.tickets - met - breached - running,
                    compliance: rate(counters.sla_compliance()),
                });
            }
        }
        Ok(Report::new("sla", &p.period, rows))
    })
}

/// Open tickets at the end of each day per group. Counted backwards from now, so the cost follows
/// the activity since the range began, not the whole history: open at instant E = open now +
/// resolved since E − created since E. A ticket counts as open from creation until its current
/// resolution (an earlier solve undone by a reopening is not seen).
pub fn backlog(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<BacklogRow>, AppError> {
    snapshot(conn, |conn| {
        let days = buckets::days(p.period.from, p.period.to);
        // One more bucket for everything after the range.
        let mut buckets = days.clone();
        buckets.push(Bucket { period: p.period.to, start: p.period.end, end: p.period.end });
        let start = backend::timestamp_literal(conn, p.period.start);
        let resolved = "COALESCE(t.solved_at, t.closed_at)";
        let sql = [
            count_by(p.by, 0, "0", "t.solved_at IS NULL AND t.closed_at IS NULL"),
            count_by(p.by, 1, &bucket_index(conn, "t.created_at", &buckets), &format!("t.created_at >= {start}")),
            count_by(p.by, 2, &bucket_index(conn, resolved, &buckets), &format!("{resolved} >= {start}")),
        ]
        .join(" UNION ALL ");
        let counts: Vec<Count> = load(conn, &sql)?;
        let groups: BTreeSet<Option<String>> = counts.iter().map(|c| c.grp.clone()).collect();
        let mut open_now: HashMap<Option<String>, i64> = HashMap::new();
        // Per group, created (kind 1) and resolved (kind 2) per bucket.
        let mut per_bucket: HashMap<(i32, Option<String>), Vec<i64>> = HashMap::new();
        for c in counts {
            match c.kind {
                0 => *open_now.entry(c.grp).or_default() += c.n,
                kind => per_bucket.entry((kind, c.grp)).or_insert_with(|| vec![0; buckets.len()])[c.k as usize] += c.n,
            }
        }
        let none = vec![0; buckets.len()];
        let mut rows = Vec::with_capacity(days.len() * groups.len());
        for group in &groups {
            let created = per_bucket.get(&(1, group.clone())).unwrap_or(&none);
            let resolved = per_bucket.get(&(2, group.clone())).unwrap_or(&none);
            // Walking back from now: after day k come the buckets k + 1 … (the last is "after the range").
            let mut open = open_now.get(group).copied().unwrap_or(0);
            let mut group_rows = Vec::with_capacity(days.len());
            for k in (0..days.len()).rev() {
                open += resolved[k + 1] - created[k + 1];
                group_rows.push(BacklogRow {
                    date: days[k].period,
                    group: group.clone(),
                    created: created[k],
                    resolved: resolved[k],
                    open_at_end: open,
                });
            }
            rows.extend(group_rows);
        }
        rows.sort_by(|a, b| (a.date, &a.group).cmp(&(b.date, &b.group)));
        Ok(Report::new("backlog", &p.period, rows))
    })
}
