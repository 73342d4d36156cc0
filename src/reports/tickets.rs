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

use super::buckets::{self, values_cte, Bucket};
use super::params::{GroupBy, GroupParams, Interval, Period, SeriesParams};
use super::{load, rate, Report};
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

/// The SQL naming a ticket's group (`t` is the ticket), and the join it needs.
fn group_sql(by: GroupBy) -> (&'static str, &'static str) {
    match by {
        GroupBy::Channel => ("t.channel", ""),
        GroupBy::Category => ("c.slug", " LEFT JOIN categories c ON c.id = t.category_id"),
        GroupBy::Segment => ("r.segment", " JOIN requesters r ON r.id = t.requester_id"),
        GroupBy::Queue => ("q.slug", " LEFT JOIN queues q ON q.id = t.queue_id"),
    }
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

/// `f`: per ticket created in the period, its group, creation, resolution and first reply
/// (`replied_at`), plus `extra` columns.
fn ticket_facts(conn: &DbConnection, by: GroupBy, period: &Period, extra: &str, filter: &str) -> String {
    let (grp, join) = group_sql(by);
    let created = created_in(conn, period);
    format!(
        "raw AS (SELECT {grp} AS grp, t.created_at AS created_at, t.solved_at AS solved_at, t.closed_at AS closed_at, \
         (SELECT min(m.created_at) FROM messages m WHERE m.ticket_id = t.id AND m.author_type = 'agent' \
          AND m.visibility = 'public' AND m.created_at > t.created_at) AS message_at, \
         (SELECT min(e.created_at) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'call_answered') AS call_at\
         {extra} FROM tickets t{join} WHERE {created}{filter}), \
         f AS (SELECT raw.*, CASE WHEN message_at IS NULL THEN call_at \
         WHEN call_at IS NULL OR message_at <= call_at THEN message_at ELSE call_at END AS replied_at FROM raw)"
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
    let periods = series(&p.period, p.interval);
    let (grp, join) = group_sql(p.by);
    let sql = format!(
        "{} SELECT 0 AS kind, b.k AS k, {grp} AS grp, count(*) AS n FROM b \
         JOIN tickets t ON t.created_at >= b.lo AND t.created_at < b.hi{join} GROUP BY b.k, {grp}",
        values_cte(conn, &periods)
    );
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
/// functions (rank ⌈p·n/100⌉ of the sorted durations, as `kpi::percentile`).
pub fn response_times(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<ResponseTimesRow>, AppError> {
    let reply = backend::seconds_between(conn, "created_at", "replied_at");
    let resolution = backend::seconds_between(conn, "created_at", "solved_at");
    let sql = format!(
        "WITH {facts}, \
         d AS (SELECT grp, 1 AS metric, {reply} AS secs FROM f WHERE replied_at IS NOT NULL \
         UNION ALL SELECT grp, 2 AS metric, {resolution} AS secs FROM f WHERE solved_at IS NOT NULL), \
         r AS (SELECT grp, metric, secs, row_number() OVER (PARTITION BY grp, metric ORDER BY secs) AS rn, \
         count(*) OVER (PARTITION BY grp, metric) AS n FROM d) \
         SELECT grp, metric, max(n) AS n, max(CASE WHEN rn = (n * 50 + 99) / 100 THEN secs END) AS p50, \
         max(CASE WHEN rn = (n * 90 + 99) / 100 THEN secs END) AS p90 FROM r GROUP BY grp, metric \
         UNION ALL SELECT grp, 0 AS metric, count(*) AS n, NULL AS p50, NULL AS p90 FROM f GROUP BY grp",
        facts = ticket_facts(conn, p.by, &p.period, "", ""),
    );
    let found: Vec<Durations> = load(conn, &sql)?;
    let mut rows: BTreeMap<Option<String>, ResponseTimesRow> = BTreeMap::new();
    for d in found {
        let row = rows.entry(d.grp.clone()).or_insert_with(|| ResponseTimesRow { group: d.grp, ..Default::default() });
        match d.metric {
            0 => row.tickets = d.n,
            1 => (row.first_reply_count, row.first_reply_p50_secs, row.first_reply_p90_secs) = (d.n, d.p50, d.p90),
            _ => (row.resolution_count, row.resolution_p50_secs, row.resolution_p90_secs) = (d.n, d.p50, d.p90),
        }
    }
    Ok(Report::new("response-times", &p.period, rows.into_values().collect()))
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

/// `EXISTS` a fired breach of `metric` for ticket `t`.
fn breached(metric: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM sla_deadlines d WHERE d.ticket_id = t.id AND d.metric = '{metric}' \
         AND d.kind = 'breach' AND d.fired_at IS NOT NULL)"
    )
}

/// SLA compliance of the first-reply and resolution metrics per group (see [`SlaRow`]). Only
/// tickets an SLA policy applied to count (an `sla_policy_applied` event). Metrics with several
/// instances per ticket (next reply, periodic update, callback) are left to the live KPIs.
pub fn sla(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<SlaRow>, AppError> {
    let extra = format!(", {} AS fr_breached, {} AS res_breached", breached("first_reply"), breached("resolution"));
    let filter =
        " AND EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'sla_policy_applied')";
    let count = |condition: &str| format!("sum(CASE WHEN {condition} THEN 1 ELSE 0 END)");
    let open = "solved_at IS NULL AND closed_at IS NULL";
    let sql = format!(
        "WITH {facts} SELECT grp, count(*) AS tickets, \
         {} AS fr_met, {} AS fr_breached, {} AS fr_running, {} AS res_met, {} AS res_breached, {} AS res_running \
         FROM f GROUP BY grp",
        count("NOT fr_breached AND replied_at IS NOT NULL"),
        count("fr_breached"),
        count(&format!("NOT fr_breached AND replied_at IS NULL AND {open}")),
        count("NOT res_breached AND solved_at IS NOT NULL"),
        count("res_breached"),
        count(&format!("NOT res_breached AND {open}")),
        facts = ticket_facts(conn, p.by, &p.period, &extra, filter),
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
}

/// Open tickets at the end of each day per group: those open at the start of the range, plus
/// each day's created minus resolved. A ticket counts as open from creation until its current
/// resolution (an earlier solve undone by a reopening is not seen).
pub fn backlog(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<BacklogRow>, AppError> {
    let days = buckets::days(p.period.from, p.period.to);
    let (grp, join) = group_sql(p.by);
    let start = backend::timestamp_literal(conn, p.period.start);
    let resolved = "COALESCE(t.solved_at, t.closed_at)";
    let sql = format!(
        "{cte} \
         SELECT 0 AS kind, 0 AS k, {grp} AS grp, count(*) AS n FROM tickets t{join} \
         WHERE t.solved_at IS NULL AND t.closed_at IS NULL AND t.created_at < {start} GROUP BY {grp} \
         UNION ALL SELECT 0 AS kind, 0 AS k, {grp} AS grp, count(*) AS n FROM tickets t{join} \
         WHERE {resolved} >= {start} AND t.created_at < {start} GROUP BY {grp} \
         UNION ALL SELECT 1 AS kind, b.k AS k, {grp} AS grp, count(*) AS n FROM b \
         JOIN tickets t ON t.created_at >= b.lo AND t.created_at < b.hi{join} GROUP BY b.k, {grp} \
         UNION ALL SELECT 2 AS kind, b.k AS k, {grp} AS grp, count(*) AS n FROM b \
         JOIN tickets t ON {resolved} >= b.lo AND {resolved} < b.hi{join} GROUP BY b.k, {grp}",
        cte = values_cte(conn, &days),
    );
    let counts: Vec<Count> = load(conn, &sql)?;
    let groups: BTreeSet<Option<String>> = counts.iter().map(|c| c.grp.clone()).collect();
    let mut opening: HashMap<Option<String>, i64> = HashMap::new();
    let mut daily: HashMap<(i32, i32, Option<String>), i64> = HashMap::new();
    for c in counts {
        match c.kind {
            0 => *opening.entry(c.grp).or_default() += c.n,
            kind => *daily.entry((kind, c.k, c.grp)).or_default() += c.n,
        }
    }
    let mut rows = Vec::with_capacity(days.len() * groups.len());
    for group in &groups {
        let mut open = opening.get(group).copied().unwrap_or(0);
        for (k, day) in days.iter().enumerate() {
            let of = |kind: i32| daily.get(&(kind, k as i32, group.clone())).copied().unwrap_or(0);
            let (created, resolved) = (of(1), of(2));
            open += created - resolved;
            rows.push(BacklogRow { date: day.period, group: group.clone(), created, resolved, open_at_end: open });
        }
    }
    rows.sort_by(|a, b| (a.date, &a.group).cmp(&(b.date, &b.group)));
    Ok(Report::new("backlog", &p.period, rows))
}
