//! Quality of service: the satisfaction survey and its figures ([`csat`]), its public page
//! ([`page`]), QA scorecards, sampling, evaluations and the weekly report ([`qa`]), and the top
//! recurring problems ([`recurring`]). The maths lives in [`crate::domain::quality`].

pub mod csat;
pub mod qa;
pub mod recurring;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::America::Santiago;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, FieldError};

/// A half-open reporting period `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
// Not `Period`: that is the rotation plans' period, and one name would describe both.
#[schema(as = QualityPeriod)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// An instant: RFC 3339, or a date (`YYYY-MM-DD`) meaning midnight in Santiago; with `end`, a date
/// means the end of that day (so `to=2026-12-31` includes the 31st).
pub(crate) fn instant(field: &str, value: &str, end: bool) -> Result<DateTime<Utc>, FieldError> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, "use una fecha AAAA-MM-DD o un instante RFC 3339"))?;
    let date = if end { date.succ_opt().unwrap_or(date) } else { date };
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A missing local midnight (DST starts at 00:00 in Santiago) means the first instant after it.
    let local = midnight
        .and_local_timezone(Santiago)
        .earliest()
        .or_else(|| (midnight + TimeDelta::hours(1)).and_local_timezone(Santiago).earliest())
        .ok_or_else(|| FieldError::new(field, "fecha no válida"))?;
    Ok(local.with_timezone(&Utc))
}

impl Period {
    /// `from`/`to` as given; by default the 30 days up to now.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, AppError> {
        Period::parse_at(from, to, Utc::now())
    }

    pub fn parse_at(from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> Result<Period, AppError> {
        let mut errors = Vec::new();
        let to = match to.map(|v| instant("to", v, true)).transpose() {
            Ok(t) => t.unwrap_or(now),
            Err(e) => {
                errors.push(e);
                now
            }
        };
        let from = match from.map(|v| instant("from", v, false)).transpose() {
            Ok(f) => f.unwrap_or(to - TimeDelta::days(30)),
            Err(e) => {
                errors.push(e);
                to
            }
        };
        if errors.is_empty() && from >= to {
            errors.push(FieldError::new("to", "debe ser posterior a «from»"));
        }
        if errors.is_empty() && to - from > TimeDelta::days(400) {
            errors.push(FieldError::new("to", "el periodo admite como máximo 400 días"));
        }
        if errors.is_empty() {
            Ok(Period { from, to })
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_take_dates_in_santiago_and_instants() {
        let now = at("2026-12-02T12:00:00Z");
        let p = Period::parse_at(Some("2026-12-01"), Some("2026-12-01"), now).unwrap();
        assert_eq!((p.from, p.to), (at("2026-12-01T03:00:00Z"), at("2026-12-02T03:00:00Z")));
        let p = Period::parse_at(Some("2026-11-01T00:00:00Z"), None, now).unwrap();
        assert_eq!((p.from, p.to), (at("2026-11-01T00:00:00Z"), now));
        let p = Period::parse_at(None, None, now).unwrap();
        assert_eq!(p.to - p.from, TimeDelta::days(30));
        // Santiago's DST starts at midnight on 6 September 2026: the day begins at 01:00 local.
        let p = Period::parse_at(Some("2026-09-06"), Some("2026-09-06"), now).unwrap();
        assert_eq!(p.from, at("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn bad_periods_name_the_field() {
        let now = at("2026-12-02T12:00:00Z");
        let fields = |r: Result<Period, AppError>| match r {
            Err(AppError::Validation(e)) => e.into_iter().map(|e| e.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(fields(Period::parse_at(Some("ayer"), Some("x"), now)), ["to", "from"]);
        assert_eq!(fields(Period::parse_at(Some("2026-12-05"), Some("2026-12-01"), now)), ["to"]);
        assert_eq!(fields(Period::parse_at(Some("2020-01-01"), Some("2026-12-01"), now)), ["to"]);
    }
}
