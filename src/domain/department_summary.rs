//! A department's month by month figures: what it received, what it acknowledged and answered
//! within its internal SLA, and how its improvement opportunities ended. Months are
//! America/Santiago calendar months.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::America::Santiago;
use serde::Serialize;
use utoipa::ToSchema;

/// One clock of an item sent to the department. Every item gets exactly one acknowledgement
/// clock when it is sent, so those count what was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockFact {
    pub answer: bool,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
}

impl ClockFact {
    fn in_time(&self) -> bool {
        self.stopped_at.is_some_and(|at| at <= self.due_at)
    }
}

/// How an opportunity ended, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub implemented: bool,
    pub at: DateTime<Utc>,
}

/// One month's figures; clocks count in the month they started, outcomes in the month reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    /// Escalations and opportunities sent to the department.
    pub received: u32,
    pub acknowledged_in_time: u32,
    /// Items with an answer target: consultations and opportunities (transfers have none).
    pub to_answer: u32,
    pub answered_in_time: u32,
    pub implemented: u32,
    pub rejected: u32,
}

fn month_of(at: DateTime<Utc>) -> (i32, u32) {
    let local = at.with_timezone(&Santiago);
    (local.year(), local.month())
}

/// The months from `from` to `to` (both included), every one listed even when empty.
pub fn monthly(from: NaiveDate, to: NaiveDate, clocks: &[ClockFact], outcomes: &[Outcome]) -> Vec<MonthFigures> {
    let mut months: Vec<((i32, u32), MonthFigures)> = Vec::new();
    let (mut year, mut month) = (from.year(), from.month());
    while (year, month) <= (to.year(), to.month()) {
        months.push(((year, month), MonthFigures { month: format!("{year:04}-{month:02}"), ..Default::default() }));
        (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    }
    fn of(months: &mut [((i32, u32), MonthFigures)], at: DateTime<Utc>) -> Option<&mut MonthFigures> {
        months.iter_mut().find(|(key, _)| *key == month_of(at)).map(|(_, figures)| figures)
    }
    for clock in clocks {
        let Some(m) = of(&mut months, clock.started_at) else { continue };
        let in_time = u32::from(clock.in_time());
        if clock.answer {
            m.to_answer += 1;
            m.answered_in_time += in_time;
        } else {
            m.received += 1;
            m.acknowledged_in_time += in_time;
        }
    }
    for outcome in outcomes {
        let Some(m) = of(&mut months, outcome.at) else { continue };
        if outcome.implemented {
            m.implemented += 1;
        } else {
            m.rejected += 1;
        }
    }
    months.into_iter().map(|(_, figures)| figures).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn clock(answer: bool, started: DateTime<Utc>, stopped_after_hours: Option<i64>) -> ClockFact {
        let due = started + chrono::Duration::hours(8);
        ClockFact {
            answer,
            started_at: started,
            due_at: due,
            stopped_at: stopped_after_hours.map(|h| started + chrono::Duration::hours(h)),
        }
    }

    #[test]
    fn every_month_of_the_range_is_listed_across_the_year_end() {
        let months = monthly(day(2026, 11, 15), day(2027, 2, 3), &[], &[]);
        let names: Vec<&str> = months.iter().map(|m| m.month.as_str()).collect();
        assert_eq!(names, ["2026-11", "2026-12", "2027-01", "2027-02"]);
        assert!(months.iter().all(|m| m.received == 0 && m.implemented == 0));
    }

    #[test]
    fn acknowledgements_and_answers_count_in_time_only_when_stopped_by_the_due_time() {
        let start = at(2026, 11, 10, 14);
        let clocks = [
            clock(false, start, Some(2)), // acknowledged in time
            clock(false, start, Some(9)), // acknowledged late
            clock(false, start, None),    // not yet
            clock(true, start, Some(8)),  // answered exactly at the due time
            clock(true, start, None),
        ];
        let m = &monthly(day(2026, 11, 1), day(2026, 11, 30), &clocks, &[])[0];
        assert_eq!((m.received, m.acknowledged_in_time), (3, 1));
        assert_eq!((m.to_answer, m.answered_in_time), (2, 1));
    }

    #[test]
    fn months_are_santiago_months() {
        // 1 Dec 02:00 UTC is still 30 Nov in Santiago (UTC−3 in summer).
        let clocks = [clock(false, at(2026, 12, 1, 2), None), clock(false, at(2026, 12, 1, 4), None)];
        let months = monthly(day(2026, 11, 1), day(2026, 12, 31), &clocks, &[]);
        assert_eq!((months[0].received, months[1].received), (1, 1));
    }

    #[test]
    fn outcomes_count_in_the_month_reached_and_outside_the_range_not_at_all() {
        let outcomes = [
            Outcome { implemented: true, at: at(2026, 10, 5, 15) },
            Outcome { implemented: false, at: at(2026, 10, 6, 15) },
            Outcome { implemented: true, at: at(2026, 10, 7, 15) },
            Outcome { implemented: true, at: at(2026, 9, 7, 15) },
        ];
        let months = monthly(day(2026, 10, 1), day(2026, 10, 31), &[], &outcomes);
        assert_eq!(months.len(), 1);
        assert_eq!((months[0].implemented, months[0].rejected), (2, 1));
    }
}
