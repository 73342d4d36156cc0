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

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;
use utoipa::ToSchema;

use super::buckets;
use super::params::{GroupBy, GroupParams, Period, SeriesParams};
use super::rollup::{self, DayFacts, Dim, Samples};
use super::{load, rate, snapshot, Report};
use crate::db::schema::{categories, queues};
use crate::db::DbConnection;
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

/// `grp, n`: the tickets open now per group. Queues and categories are counted by id and named
/// afterwards, which keeps the join off the per-ticket rows.
fn count_open(by: GroupBy) -> String {
    let (key, join, label, label_join) = match by {
        GroupBy::Channel => ("t.channel", "", "x.key", ""),
        GroupBy::Category => ("t.category_id", "", "c.slug", " LEFT JOIN categories c ON c.id = x.key"),
        GroupBy::Segment => ("r.segment", " JOIN requesters r ON r.id = t.requester_id", "x.key", ""),
        GroupBy::Queue => ("t.queue_id", "", "q.slug", " LEFT JOIN queues q ON q.id = x.key"),
    };
    format!(
        "SELECT {label} AS grp, x.n AS n FROM (SELECT {key} AS key, count(*) AS n \
         FROM tickets t{join} WHERE t.solved_at IS NULL AND t.closed_at IS NULL GROUP BY {key}) x{label_join}"
    )
}

fn dim(by: GroupBy) -> Dim {
    match by {
        GroupBy::Channel => Dim::Channel,
        GroupBy::Category => Dim::Category,
        GroupBy::Segment => Dim::Segment,
        GroupBy::Queue => Dim::Queue,
    }
}

/// The rollup rows of `by` for the days `from..=to` with their groups' labels: the channel, the
/// segment, or the slug of the category or queue (`None` for none, or one that no longer exists).
fn labelled(
    conn: &mut DbConnection,
    by: GroupBy,
    (from, to): (NaiveDate, NaiveDate),
    samples: Samples,
) -> Result<Vec<(NaiveDate, Option<String>, DayFacts)>, AppError> {
    let rows = rollup::read(conn, dim(by), from, to, samples)?;
    let slugs: HashMap<String, String> = match by {
        GroupBy::Category => {
            categories::table.select((categories::id, categories::slug)).load::<(i64, String)>(conn)?
        }
        GroupBy::Queue => queues::table.select((queues::id, queues::slug)).load::<(i64, String)>(conn)?,
        GroupBy::Channel | GroupBy::Segment => Vec::new(),
    }
    .into_iter()
    .map(|(id, slug)| (id.to_string(), slug))
    .collect();
    let named = matches!(by, GroupBy::Category | GroupBy::Queue);
    Ok(rows
        .into_iter()
        .filter_map(|(day, group, facts)| {
            let day = day.parse().ok()?;
            let group = if named { group.and_then(|id| slugs.get(&id).cloned()) } else { group };
            Some((day, group, facts))
        })
        .collect())
}

/// The facts of the days `from..=to` summed per group, for the groups with tickets created then.
fn per_group(
    conn: &mut DbConnection,
    by: GroupBy,
    period: &Period,
    samples: Samples,
) -> Result<BTreeMap<Option<String>, DayFacts>, AppError> {
    let mut groups: BTreeMap<Option<String>, DayFacts> = BTreeMap::new();
    for (_, group, facts) in labelled(conn, by, (period.from, period.to), samples)? {
        if facts.created > 0 {
            groups.entry(group).or_default().add(&facts);
        }
    }
    Ok(groups)
}

/// Nearest-rank p50 and p90 (rank ⌈p·n/100⌉, as `kpi::percentile`), sorting the samples once.
fn p50_p90(samples: &mut [u32]) -> (Option<i64>, Option<i64>) {
    samples.sort_unstable();
    let at = |p: usize| {
        let rank = (p * samples.len()).div_ceil(100).max(1);
        samples.get(rank - 1).map(|s| i64::from(*s))
    };
    (at(50), at(90))
}

/// Tickets created per period and group. Every period is listed for every group that has
/// tickets in the range (0 where it had none).
pub fn volume(conn: &mut DbConnection, p: &SeriesParams) -> Result<Report<VolumeRow>, AppError> {
    snapshot(conn, |conn| {
        let periods = buckets::series(&p.period, p.interval);
        let mut found: HashMap<(usize, Option<String>), i64> = HashMap::new();
        for (day, group, facts) in labelled(conn, p.by, (p.period.from, p.period.to), Samples::Without)? {
            if facts.created > 0 {
                *found.entry((buckets::period_of(&periods, day), group)).or_default() += facts.created;
            }
        }
        let groups: BTreeSet<Option<String>> = found.keys().map(|(_, g)| g.clone()).collect();
        let mut rows = Vec::with_capacity(periods.len() * groups.len());
        for (k, bucket) in periods.iter().enumerate() {
            for group in &groups {
                let tickets = found.get(&(k, group.clone())).copied().unwrap_or(0);
                rows.push(VolumeRow { period: bucket.period, group: group.clone(), tickets });
            }
        }
        Ok(Report::new("volume", &p.period, rows))
    })
}

/// First-reply and resolution time percentiles per group, over every sample of the range.
pub fn response_times(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<ResponseTimesRow>, AppError> {
    snapshot(conn, |conn| {
        let rows = per_group(conn, p.by, &p.period, Samples::With)?
            .into_iter()
            .map(|(group, mut f)| {
                let (first_reply_p50_secs, first_reply_p90_secs) = p50_p90(&mut f.first_reply_secs);
                let (resolution_p50_secs, resolution_p90_secs) = p50_p90(&mut f.resolution_secs);
                ResponseTimesRow {
                    group,
                    tickets: f.created,
                    first_reply_count: f.first_reply_secs.len() as i64,
                    first_reply_p50_secs,
                    first_reply_p90_secs,
                    resolution_count: f.resolution_secs.len() as i64,
                    resolution_p50_secs,
                    resolution_p90_secs,
                }
            })
            .collect();
        Ok(Report::new("response-times", &p.period, rows))
    })
}

/// SLA compliance of the first-reply and resolution metrics per group (see [`SlaRow`]). Only
/// tickets an SLA policy applied to count (an `sla_policy_applied` event). Metrics with several
/// instances per ticket (next reply, periodic update, callback) are left to the live KPIs.
pub fn sla(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<SlaRow>, AppError> {
    snapshot(conn, |conn| {
        let mut rows = Vec::new();
        for (group, f) in per_group(conn, p.by, &p.period, Samples::Without)? {
            if f.sla_tickets == 0 {
                continue;
            }
            for (metric, met, breached, running) in [
                ("first_reply", f.fr_met, f.fr_breached, f.fr_running),
                ("resolution", f.res_met, f.res_breached, f.res_running),
            ] {
                let counters = Counters { sla_met: met as u64, sla_breached: breached as u64, ..Counters::default() };
                rows.push(SlaRow {
                    group: group.clone(),
                    metric: metric.to_owned(),
                    tickets: f.sla_tickets,
                    met,
                    breached,
                    running,
                    cancelled: f.sla_tickets - met - breached - running,
                    compliance: rate(counters.sla_compliance()),
                });
            }
        }
        Ok(Report::new("sla", &p.period, rows))
    })
}

/// Open tickets at the end of each day per group. Counted backwards from now, so the cost follows
/// the days since the range began, not the whole history: open at the end of day D = open now +
/// resolved after D − created after D. A ticket counts as open from creation until its current
/// resolution (an earlier solve undone by a reopening is not seen).
pub fn backlog(conn: &mut DbConnection, p: &GroupParams) -> Result<Report<BacklogRow>, AppError> {
    snapshot(conn, |conn| {
        let days = buckets::days(p.period.from, p.period.to);
        let open_now: Vec<Count> = load(conn, &count_open(p.by))?;
        // Per group, created and resolved per day of the range, and after it (the last slot).
        let mut per_day: BTreeMap<Option<String>, Vec<(i64, i64)>> = BTreeMap::new();
        let future = p.period.to.max(chrono::Utc::now().date_naive()) + Days::new(1);
        for (day, group, f) in labelled(conn, p.by, (p.period.from, future), Samples::Without)? {
            if f.created == 0 && f.resolved == 0 {
                continue;
            }
            let k = (day - p.period.from).num_days().min(days.len() as i64) as usize;
            let slot = &mut per_day.entry(group).or_insert_with(|| vec![(0, 0); days.len() + 1])[k];
            (slot.0, slot.1) = (slot.0 + f.created, slot.1 + f.resolved);
        }
        let mut open: BTreeMap<Option<String>, i64> = open_now.into_iter().map(|c| (c.grp, c.n)).collect();
        for group in per_day.keys() {
            open.entry(group.clone()).or_default();
        }
        let none = vec![(0, 0); days.len() + 1];
        let mut rows = Vec::with_capacity(days.len() * open.len());
        for (group, mut open) in open {
            let counts = per_day.get(&group).unwrap_or(&none);
            // Walking back from now: after day k come the days k + 1 … (the last slot is "after the range").
            for k in (0..days.len()).rev() {
                open += counts[k + 1].1 - counts[k + 1].0;
                rows.push(BacklogRow {
                    date: days[k].period,
                    group: group.clone(),
                    created: counts[k].0,
                    resolved: counts[k].1,
                    open_at_end: open,
                });
            }
        }
        rows.sort_by(|a, b| (a.date, &a.group).cmp(&(b.date, &b.group)));
        Ok(Report::new("backlog", &p.period, rows))
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Nullable<Text>)]
    grp: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kpi::percentile;

    #[test]
    fn p50_p90_are_the_nearest_ranks_of_kpi_percentile() {
        for n in [1_u32, 2, 3, 9, 10, 11, 100, 101] {
            let samples: Vec<u32> = (0..n).map(|i| (i * 7919) % 1_000).collect();
            let wide: Vec<u64> = samples.iter().map(|s| u64::from(*s)).collect();
            let expected = (percentile(&wide, 50).map(|v| v as i64), percentile(&wide, 90).map(|v| v as i64));
            assert_eq!(p50_p90(&mut samples.clone()), expected, "n = {n}");
        }
        assert_eq!(p50_p90(&mut []), (None, None));
    }

    #[test]
    fn a_day_falls_in_its_week() {
        let from: NaiveDate = "2026-03-04".parse().unwrap(); // a Wednesday
        let weeks = buckets::weeks(from, "2026-03-20".parse().unwrap());
        assert_eq!(buckets::period_of(&weeks, from), 0);
        assert_eq!(buckets::period_of(&weeks, "2026-03-08".parse().unwrap()), 0); // Sunday
        assert_eq!(buckets::period_of(&weeks, "2026-03-09".parse().unwrap()), 1); // Monday
        assert_eq!(buckets::period_of(&weeks, "2026-03-20".parse().unwrap()), 2);
    }
}
