//! Report periods in America/Santiago as UTC instants, and the SQL table that carries them.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use super::params::{Interval, Period};
use crate::db::{backend, DbConnection};
use crate::domain::calendar::{local_day_start, DEFAULT_TIME_ZONE};

/// The time zone of every report date.
pub const TIME_ZONE: Tz = DEFAULT_TIME_ZONE;

/// One period `[start, end)`, named by its first local day (for a week, its Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub period: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The instant local `date` begins. Report dates are validated to lie far inside chrono's range.
pub fn day_start(date: NaiveDate) -> DateTime<Utc> {
    local_day_start(&TIME_ZONE, date).expect("report dates are validated to a representable range")
}

fn next_day(date: NaiveDate) -> NaiveDate {
    date + Days::new(1)
}

/// One bucket per local day of `from..=to` (23 or 25 hours long on DST changes).
pub fn days(from: NaiveDate, to: NaiveDate) -> Vec<Bucket> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .map(|d| Bucket { period: d, start: day_start(d), end: day_start(next_day(d)) })
        .collect()
}

/// One bucket per Monday-first week touching `from..=to`, named by its Monday and cut at the
/// range's ends.
pub fn weeks(from: NaiveDate, to: NaiveDate) -> Vec<Bucket> {
    let first_monday = from - Days::new(u64::from(from.weekday().num_days_from_monday()));
    first_monday
        .iter_weeks()
        .take_while(|monday| *monday <= to)
        .map(|monday| {
            let first = monday.max(from);
            let last = (monday + Days::new(6)).min(to);
            Bucket { period: monday, start: day_start(first), end: day_start(next_day(last)) }
        })
        .collect()
}

/// One bucket per day or week of the period.
pub fn series(period: &Period, interval: Interval) -> Vec<Bucket> {
    match interval {
        Interval::Day => days(period.from, period.to),
        Interval::Week => weeks(period.from, period.to),
    }
}

/// The index of the bucket `day` falls in (`buckets` sorted, the first starting on or before it).
pub fn period_of(buckets: &[Bucket], day: NaiveDate) -> usize {
    buckets.partition_point(|b| b.period <= day).saturating_sub(1)
}

/// The 30-minute intervals of local `date`, from its first instant to the next day's (46 or 50
/// on DST changes).
pub fn half_hours(date: NaiveDate) -> Vec<Bucket> {
    let (start, end) = (day_start(date), day_start(next_day(date)));
    let step = TimeDelta::minutes(30);
    let mut buckets = Vec::with_capacity(50);
    let mut at = start;
    while at < end {
        let next = (at + step).min(end);
        buckets.push(Bucket { period: date, start: at, end: next });
        at = next;
    }
    buckets
}

/// SQL: the index of the bucket that `column` (a timestamp) falls in, for rows already limited to
/// `column >= buckets[0].start`: a balanced tree of comparisons with the buckets' starts, so a row
/// costs log₂ n comparisons, the SQL is the same on both backends, and the rows come from one
/// index range scan. Values at or past the last bucket's start map to the last bucket.
pub fn bucket_index(conn: &DbConnection, column: &str, buckets: &[Bucket]) -> String {
    fn node(conn: &DbConnection, column: &str, buckets: &[Bucket], lo: usize, hi: usize, sql: &mut String) {
        if lo == hi {
            let _ = write!(sql, "{lo}");
            return;
        }
        let mid = (lo + hi).div_ceil(2);
        let _ = write!(sql, "CASE WHEN {column} < {} THEN ", backend::timestamp_literal(conn, buckets[mid].start));
        node(conn, column, buckets, lo, mid - 1, sql);
        sql.push_str(" ELSE ");
        node(conn, column, buckets, mid, hi, sql);
        sql.push_str(" END");
    }
    let mut sql = String::new();
    node(conn, column, buckets, 0, buckets.len().saturating_sub(1), &mut sql);
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn days_follow_santiago_midnight_across_dst() {
        // 2026-04-04 ends at 24:00 summer time, when clocks go back to 23:00: 25 hours.
        let autumn = days(date(2026, 4, 4), date(2026, 4, 5));
        assert_eq!(autumn[0].start, utc(2026, 4, 4, 3));
        assert_eq!(autumn[0].end, utc(2026, 4, 5, 4));
        assert_eq!(autumn[1].start, autumn[0].end);
        // 2026-09-06: midnight does not exist (clocks jump to 01:00), so the day starts then: 23 hours.
        let spring = days(date(2026, 9, 6), date(2026, 9, 6));
        assert_eq!((spring[0].start, spring[0].end), (utc(2026, 9, 6, 4), utc(2026, 9, 7, 3)));
        assert_eq!(half_hours(date(2026, 9, 6)).len(), 46);
        assert_eq!(half_hours(date(2026, 4, 4)).len(), 50);
        assert_eq!(half_hours(date(2026, 3, 2)).len(), 48);
    }

    #[test]
    fn bucket_index_finds_the_bucket_of_every_instant() {
        use diesel::{Connection, RunQueryDsl};

        #[derive(diesel::QueryableByName)]
        struct K {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            k: i32,
        }
        let mut conn = DbConnection::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        let seven = days(date(2026, 3, 1), date(2026, 3, 7));
        let second = TimeDelta::seconds(1);
        let probes = [
            (0, seven[0].start),
            (0, seven[1].start - second),
            (1, seven[1].start),
            (3, seven[3].start + TimeDelta::hours(12)),
            (5, seven[6].start - second),
            (6, seven[6].start),
            (6, seven[6].end + TimeDelta::days(30)),
        ];
        for (expected, at) in probes {
            let instant = backend::timestamp_literal(&conn, at);
            let sql = format!("SELECT {} AS k", bucket_index(&conn, &instant, &seven));
            let DbConnection::Sqlite(lite) = &mut conn else { unreachable!() };
            let found: K = diesel::sql_query(sql).get_result(lite).unwrap();
            assert_eq!(found.k, expected, "{at}");
        }
    }

    #[test]
    fn weeks_start_on_monday_and_are_cut_at_the_range() {
        // 2026-03-04 is a Wednesday; 2026-03-16 a Monday.
        let w = weeks(date(2026, 3, 4), date(2026, 3, 16));
        let periods: Vec<NaiveDate> = w.iter().map(|b| b.period).collect();
        assert_eq!(periods, [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]);
        assert_eq!(w[0].start, day_start(date(2026, 3, 4)));
        assert_eq!(w[0].end, day_start(date(2026, 3, 9)));
        assert_eq!(w[2].end, day_start(date(2026, 3, 17)));
    }
}
