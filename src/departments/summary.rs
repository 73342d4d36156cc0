//! A department's monthly summary: its clocks and its opportunities' outcomes over a period,
//! counted by [`crate::domain::department_summary`].

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{department_sla_clocks as clocks, opportunities, opportunity_events};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::department_summary::{monthly, ClockFact, MonthFigures, Outcome};
use crate::domain::opportunity::OpportunityStatus;
use crate::error::AppError;
use crate::reports::Period;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentSummary {
    pub department_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every month of the period, oldest first.
    pub months: Vec<MonthFigures>,
}

pub fn summary(conn: &mut DbConnection, department: i64, period: Period) -> Result<DepartmentSummary, AppError> {
    let (start, end) = (UtcTime::from(period.start), UtcTime::from(period.end));
    let rows: Vec<(String, UtcTime, UtcTime, Option<UtcTime>)> = clocks::table
        .filter(clocks::department_id.eq(department))
        .filter(clocks::started_at.ge(start))
        .filter(clocks::started_at.lt(end))
        .select((clocks::metric, clocks::started_at, clocks::due_at, clocks::stopped_at))
        .load(conn)?;
    let facts: Vec<ClockFact> = rows
        .into_iter()
        .map(|(metric, started, due, stopped)| ClockFact {
            answer: metric == super::sla::ANSWER,
            started_at: started.0,
            due_at: due.0,
            stopped_at: stopped.map(|t| t.0),
        })
        .collect();
    let (implemented, rejected) = (OpportunityStatus::Implemented.as_str(), OpportunityStatus::Rejected.as_str());
    let ends: Vec<(String, UtcTime)> = opportunity_events::table
        .inner_join(opportunities::table)
        .filter(opportunities::department_id.eq(department))
        .filter(opportunity_events::to_status.eq_any([implemented, rejected]))
        .filter(opportunity_events::at.ge(start))
        .filter(opportunity_events::at.lt(end))
        .select((opportunity_events::to_status, opportunity_events::at))
        .load(conn)?;
    let outcomes: Vec<Outcome> =
        ends.into_iter().map(|(to, at)| Outcome { implemented: to == implemented, at: at.0 }).collect();
    Ok(DepartmentSummary {
        department_id: department,
        from: period.from,
        to: period.to,
        months: monthly(period.from, period.to, &facts, &outcomes),
    })
}
