//! Historical reports from the database: ticket volume, first-reply and resolution times, SLA
//! compliance, backlog, call abandonment, per-agent work and the staffing forecast. Queries only,
//! no HTTP. Every report is a [`Report`] of flat rows that serialise to JSON and, through
//! [`csv::to_csv`], to CSV, so no report has export code of its own.
//!
//! Every report but staffing sums the daily rollup (`rollup`), which the caller brings up to date
//! first (`rollup::refresh`, in a write transaction) and a background task keeps fresh. Staffing
//! reads one day's calls directly.
//!
//! Dates are America/Santiago calendar days. Periods (days, Monday-first weeks, half hours) are
//! turned into UTC instants here, DST included; in SQL a call finds its half hour through a tree
//! of timestamp comparisons, the same on both backends. Each report runs in one read-only
//! transaction.

pub mod buckets;
mod calls;
pub mod csv;
mod params;
pub mod rollup;
mod tickets;

use chrono::NaiveDate;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel::{Connection, QueryableByName};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{backend, DbConnection};
use crate::error::AppError;

pub use buckets::TIME_ZONE;
pub use calls::{abandonment, agents, staffing, AbandonmentRow, AgentRow, StaffingRow};
pub use params::{
    AbandonmentParams, AbandonmentQuery, GroupBy, GroupParams, GroupQuery, Interval, Period, PeriodQuery, SeriesParams,
    SeriesQuery, StaffingParams, StaffingQuery, MAX_DAYS,
};
pub use tickets::{backlog, response_times, sla, volume, BacklogRow, ResponseTimesRow, SlaRow, VolumeRow};

/// One report: the days it covers and its rows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report<R> {
    /// Report name, e.g. `volume`.
    pub report: String,
    /// Time zone of `from`, `to` and every period.
    pub time_zone: String,
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered (included).
    pub to: NaiveDate,
    pub rows: Vec<R>,
}

impl<R> Report<R> {
    fn new(report: &str, period: &Period, rows: Vec<R>) -> Self {
        Report {
            report: report.to_owned(),
            time_zone: TIME_ZONE.name().to_owned(),
            from: period.from,
            to: period.to,
            rows,
        }
    }

    /// Name of the CSV download, e.g. `volume_2026-03-01_2026-03-31.csv`.
    pub fn csv_filename(&self) -> String {
        format!("{}_{}_{}.csv", self.report, self.from, self.to)
    }
}

/// Runs one report in a read-only transaction, so that all its statements see one snapshot (and,
/// on Postgres, without JIT: see [`backend::prepare_report`]).
pub fn snapshot<T>(
    conn: &mut DbConnection,
    report: impl FnOnce(&mut DbConnection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    conn.transaction(|c| {
        backend::prepare_report(c)?;
        report(c)
    })
}

/// Runs one report query. The SQL is the same on both backends (the differences are in
/// `db::backend`); only the row decoding is per backend.
pub fn load<R>(conn: &mut DbConnection, sql: &str) -> Result<Vec<R>, AppError>
where
    R: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
{
    Ok(match conn {
        DbConnection::Pg(pg) => diesel::RunQueryDsl::load(diesel::sql_query(sql), pg)?,
        DbConnection::Sqlite(lite) => diesel::RunQueryDsl::load(diesel::sql_query(sql), lite)?,
    })
}

/// A ratio rounded to 4 decimals.
fn rate(value: Option<f64>) -> Option<f64> {
    value.map(|v| (v * 10_000.0).round() / 10_000.0)
}

/// Seconds rounded to 0.1 s.
fn tenths(value: Option<f64>) -> Option<f64> {
    value.map(|v| (v * 10.0).round() / 10.0)
}
