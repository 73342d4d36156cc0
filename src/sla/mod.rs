//! SLA engine: business calendars, ordered policies, clocks replayed from each ticket's event log
//! ([`crate::domain::sla`]), and the scanner that fires warnings and breaches exactly once.

pub mod calendars;
pub mod engine;
pub mod notices;
pub mod policies;
pub mod scanner;
pub mod summary;

use crate::domain::calendar::BusinessCalendar;
use crate::domain::sla::BusinessClock;
use chrono::{DateTime, TimeDelta, Utc};

impl BusinessClock for BusinessCalendar {
    fn add_open_time(&self, start: DateTime<Utc>, amount: TimeDelta) -> Option<DateTime<Utc>> {
        self.add_business_time(start, amount)
    }

    fn open_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        self.business_time_between(from, to)
    }
}
