//! Report parameters: the query strings as received (every value text, so a bad one is reported
//! with its field name) and their validated forms.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::buckets::day_start;
use crate::domain::kpi::{self, StaffingInput};
use crate::domain::ticket::{string_enum, UnknownValue};
use crate::error::AppError;
use crate::tickets::model::Errors;

/// Longest range of one report, in days.
pub const MAX_DAYS: i64 = 366;

/// Default answer target T of the service level, in seconds.
const DEFAULT_ANSWER_SECS: f64 = 20.0;
/// Default staffing targets: 80 % answered within T, at most 85 % occupancy, 30 % shrinkage.
const DEFAULT_TARGET: f64 = 0.8;
const DEFAULT_MAX_OCCUPANCY: f64 = 0.85;
const DEFAULT_SHRINKAGE: f64 = 0.3;

string_enum!(
    /// Length of a report period: a day, or a week starting on Monday.
    Interval { Day => "day", Week => "week" }
);

string_enum!(
    /// What ticket figures are split by: the ticket's channel, category, queue, or its requester's
    /// segment. Categories and queues are named by slug.
    GroupBy { Channel => "channel", Category => "category", Segment => "segment", Queue => "queue" }
);

/// America/Santiago days `from..=to` and the instants `[start, end)` they span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        Period { from, to, start: day_start(from), end: day_start(to + Days::new(1)) }
    }
}

/// `from` and `to`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD` in America/Santiago.
    #[param(value_type = String, format = Date, required = true)]
    pub from: Option<String>,
    /// Last day, included; at most 366 days after `from`.
    #[param(value_type = String, format = Date, required = true)]
    pub to: Option<String>,
}

/// `from`, `to` and `by`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    /// First day, `YYYY-MM-DD` in America/Santiago.
    #[param(value_type = String, format = Date, required = true)]
    pub from: Option<String>,
    /// Last day, included; at most 366 days after `from`.
    #[param(value_type = String, format = Date, required = true)]
    pub to: Option<String>,
    /// Split by `channel`, `category`, `segment` or `queue` (default depends on the report).
    #[param(value_type = Option<GroupBy>, inline)]
    pub by: Option<String>,
}

/// `from`, `to`, `interval` and `by`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// First day, `YYYY-MM-DD` in America/Santiago.
    #[param(value_type = String, format = Date, required = true)]
    pub from: Option<String>,
    /// Last day, included; at most 366 days after `from`.
    #[param(value_type = String, format = Date, required = true)]
    pub to: Option<String>,
    /// `day` (default) or `week` (Monday first; the first and last weeks are cut at the range).
    #[param(value_type = Option<Interval>, inline)]
    pub interval: Option<String>,
    /// Split by `channel` (default), `category`, `segment` or `queue`.
    #[param(value_type = Option<GroupBy>, inline)]
    pub by: Option<String>,
}

/// `from`, `to`, `interval`, `by` and `answer_secs`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AbandonmentQuery {
    /// First day, `YYYY-MM-DD` in America/Santiago.
    #[param(value_type = String, format = Date, required = true)]
    pub from: Option<String>,
    /// Last day, included; at most 366 days after `from`.
    #[param(value_type = String, format = Date, required = true)]
    pub to: Option<String>,
    /// `day` (default) or `week`.
    #[param(value_type = Option<Interval>, inline)]
    pub interval: Option<String>,
    /// `queue` (the only split of calls, and the default).
    pub by: Option<String>,
    /// Answer target T of the service level in seconds (default 20).
    #[param(value_type = Option<u32>)]
    pub answer_secs: Option<String>,
}

/// The day and the Erlang C targets of the staffing forecast.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StaffingQuery {
    /// The day, `YYYY-MM-DD` in America/Santiago.
    #[param(value_type = String, format = Date, required = true)]
    pub date: Option<String>,
    /// Only calls of this queue (slug); all queues if absent.
    pub queue: Option<String>,
    /// Share answered within `answer_secs` to reach, in (0, 1); default 0.8.
    #[param(value_type = Option<f64>)]
    pub target_service_level: Option<String>,
    /// Answer target T in seconds; default 20.
    #[param(value_type = Option<f64>)]
    pub answer_secs: Option<String>,
    /// Highest occupancy allowed, in (0, 1]; default 0.85.
    #[param(value_type = Option<f64>)]
    pub max_occupancy: Option<String>,
    /// Share of paid time not on the phones, in [0, 1); default 0.3.
    #[param(value_type = Option<f64>)]
    pub shrinkage: Option<String>,
}

/// A range of days split by a ticket attribute.
#[derive(Debug, Clone, Copy)]
pub struct GroupParams {
    pub period: Period,
    pub by: GroupBy,
}

/// A series of days or weeks split by a ticket attribute.
#[derive(Debug, Clone, Copy)]
pub struct SeriesParams {
    pub period: Period,
    pub interval: Interval,
    pub by: GroupBy,
}

/// A series of days or weeks of calls per queue, with the answer target.
#[derive(Debug, Clone, Copy)]
pub struct AbandonmentParams {
    pub period: Period,
    pub interval: Interval,
    pub answer_secs: i64,
}

/// One day of calls (of a queue or all) and the Erlang C targets.
#[derive(Debug, Clone)]
pub struct StaffingParams {
    pub date: NaiveDate,
    pub queue: Option<String>,
    pub target_service_level: f64,
    pub answer_secs: f64,
    pub max_occupancy: f64,
    pub shrinkage: f64,
}

impl PeriodQuery {
    pub fn validate(self) -> Result<Period, AppError> {
        let mut errors = Errors::default();
        let period = period(&mut errors, self.from.as_deref(), self.to.as_deref());
        errors.finish()?;
        Ok(period.expect("no errors"))
    }
}

impl GroupQuery {
    /// `default_by` when `by` is absent.
    pub fn validate(self, default_by: GroupBy) -> Result<GroupParams, AppError> {
        let mut errors = Errors::default();
        let period = period(&mut errors, self.from.as_deref(), self.to.as_deref());
        let by = choice(&mut errors, "by", self.by.as_deref(), default_by);
        errors.finish()?;
        Ok(GroupParams { period: period.expect("no errors"), by: by.expect("no errors") })
    }
}

impl SeriesQuery {
    pub fn validate(self) -> Result<SeriesParams, AppError> {
        let mut errors = Errors::default();
        let period = period(&mut errors, self.from.as_deref(), self.to.as_deref());
        let interval = choice(&mut errors, "interval", self.interval.as_deref(), Interval::Day);
        let by = choice(&mut errors, "by", self.by.as_deref(), GroupBy::Channel);
        errors.finish()?;
        let ok = "no errors";
        Ok(SeriesParams { period: period.expect(ok), interval: interval.expect(ok), by: by.expect(ok) })
    }
}

impl AbandonmentQuery {
    pub fn validate(self) -> Result<AbandonmentParams, AppError> {
        let mut errors = Errors::default();
        let period = period(&mut errors, self.from.as_deref(), self.to.as_deref());
        let interval = choice(&mut errors, "interval", self.interval.as_deref(), Interval::Day);
        if self.by.as_deref().is_some_and(|by| by != GroupBy::Queue.as_str()) {
            errors.add("by", "las llamadas solo se separan por cola (queue)");
        }
        let answer_secs = number(&mut errors, "answer_secs", self.answer_secs.as_deref(), DEFAULT_ANSWER_SECS);
        if answer_secs.is_some_and(|t| !(0.0..=86_400.0).contains(&t) || t.fract() != 0.0) {
            errors.add("answer_secs", "debe ser un número entero de segundos entre 0 y 86400");
        }
        errors.finish()?;
        let ok = "no errors";
        Ok(AbandonmentParams {
            period: period.expect(ok),
            interval: interval.expect(ok),
            answer_secs: answer_secs.expect(ok) as i64,
        })
    }
}

impl StaffingQuery {
    pub fn validate(self) -> Result<StaffingParams, AppError> {
        let mut errors = Errors::default();
        let date = date(&mut errors, "date", self.date.as_deref());
        let queue = self.queue.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
        let target = number(&mut errors, "target_service_level", self.target_service_level.as_deref(), DEFAULT_TARGET);
        let answer = number(&mut errors, "answer_secs", self.answer_secs.as_deref(), DEFAULT_ANSWER_SECS);
        let occupancy = number(&mut errors, "max_occupancy", self.max_occupancy.as_deref(), DEFAULT_MAX_OCCUPANCY);
        let shrinkage = number(&mut errors, "shrinkage", self.shrinkage.as_deref(), DEFAULT_SHRINKAGE);
        // The formula's own checks, so the limits live in one place (a value that is not a
        // number is already reported; its valid default stands in).
        let probe = StaffingInput {
            arrivals: 0.0,
            interval_secs: 1800.0,
            aht_secs: 1.0,
            target_service_level: target.unwrap_or(DEFAULT_TARGET),
            answer_secs: answer.unwrap_or(DEFAULT_ANSWER_SECS),
            max_occupancy: occupancy.unwrap_or(DEFAULT_MAX_OCCUPANCY),
            shrinkage: shrinkage.unwrap_or(DEFAULT_SHRINKAGE),
        };
        if let Err(problems) = kpi::staffing(&probe) {
            for (field, message) in problems {
                errors.add(&field, message);
            }
        }
        errors.finish()?;
        let ok = "no errors";
        Ok(StaffingParams {
            date: date.expect(ok),
            queue,
            target_service_level: target.expect(ok),
            answer_secs: answer.expect(ok),
            max_occupancy: occupancy.expect(ok),
            shrinkage: shrinkage.expect(ok),
        })
    }
}

/// A required `YYYY-MM-DD` date between the years 1900 and 2999.
fn date(errors: &mut Errors, field: &str, value: Option<&str>) -> Option<NaiveDate> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        errors.add(field, "es obligatorio");
        return None;
    };
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(d) if (1900..=2999).contains(&d.year()) => Some(d),
        Ok(_) => {
            errors.add(field, "debe estar entre los años 1900 y 2999");
            None
        }
        Err(_) => {
            errors.add(field, "debe ser una fecha AAAA-MM-DD");
            None
        }
    }
}

fn period(errors: &mut Errors, from: Option<&str>, to: Option<&str>) -> Option<Period> {
    let (from, to) = (date(errors, "from", from), date(errors, "to", to));
    let (from, to) = (from?, to?);
    let days = (to - from).num_days() + 1;
    if days < 1 {
        errors.add("to", "debe ser igual o posterior a «from»");
        None
    } else if days > MAX_DAYS {
        errors.add("to", format!("el rango admite como máximo {MAX_DAYS} días"));
        None
    } else {
        Some(Period::new(from, to))
    }
}

/// One of an enumeration's values, `default` when absent.
fn choice<T>(errors: &mut Errors, field: &str, value: Option<&str>, default: T) -> Option<T>
where
    T: FromStr<Err = UnknownValue>,
{
    match value.map(str::trim) {
        None | Some("") => Some(default),
        Some(text) => text.parse().map_err(|e: UnknownValue| errors.add(field, e.to_string())).ok(),
    }
}

/// A finite number, `default` when absent.
fn number(errors: &mut Errors, field: &str, value: Option<&str>, default: f64) -> Option<f64> {
    match value.map(str::trim) {
        None | Some("") => Some(default),
        Some(text) => match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                errors.add(field, "debe ser un número");
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: AppError) -> Vec<String> {
        match err {
            AppError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn series(from: &str, to: &str, interval: Option<&str>, by: Option<&str>) -> Result<SeriesParams, AppError> {
        SeriesQuery {
            from: Some(from.into()),
            to: Some(to.into()),
            interval: interval.map(Into::into),
            by: by.map(Into::into),
        }
        .validate()
    }

    #[test]
    fn ranges_are_checked_with_field_names() {
        let ok = series("2026-03-01", "2026-03-31", None, None).unwrap();
        assert_eq!((ok.interval, ok.by), (Interval::Day, GroupBy::Channel));
        assert_eq!(ok.period.start.to_rfc3339(), "2026-03-01T03:00:00+00:00");
        assert_eq!(ok.period.end.to_rfc3339(), "2026-04-01T03:00:00+00:00");
        assert_eq!(fields(series("2026-03-31", "2026-03-01", None, None).unwrap_err()), ["to"]);
        assert_eq!(fields(series("2025-01-01", "2026-01-02", None, None).unwrap_err()), ["to"]);
        assert!(series("2025-01-01", "2026-01-01", None, None).is_ok(), "366 days are allowed");
        assert_eq!(
            fields(series("2026-02-30", "x", Some("month"), Some("agent")).unwrap_err()),
            ["from", "to", "interval", "by"]
        );
        assert_eq!(fields(PeriodQuery::default().validate().unwrap_err()), ["from", "to"]);
    }

    #[test]
    fn staffing_targets_use_the_formula_limits() {
        let query = |target: &str| StaffingQuery {
            date: Some("2026-03-02".into()),
            target_service_level: Some(target.into()),
            shrinkage: Some("1".into()),
            ..StaffingQuery::default()
        };
        assert_eq!(fields(query("1.5").validate().unwrap_err()), ["target_service_level", "shrinkage"]);
        // A value that is not a number is reported once; the others are still checked.
        assert_eq!(fields(query("abc").validate().unwrap_err()), ["target_service_level", "shrinkage"]);
    }
}
