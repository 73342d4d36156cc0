//! Each department's internal SLA: business time to acknowledge and to answer what Atención
//! Usuaria sends it, counted on the department's business calendar (America/Santiago with
//! Chile's holidays by default) with the calendar arithmetic of [`crate::sla`].
//!
//! Clocks, per item and metric:
//! - opportunity: `ack` from `sent` to `acknowledged` (or any later step); `answer` from `sent`
//!   to an outcome (`implemented`, `rejected`, `duplicate`).
//! - consultation: `ack` from the escalation to the department acknowledging it in its inbox or
//!   answering; `answer` until its answer note.
//! - transfer: only `ack` (inbox acknowledgement or answer note). The ticket then sits in the
//!   department's queue, where the ticket SLA policies measure the replies to the requester.
//!
//! A clock keeps the targets in force when it started (editing a department's targets does not
//! rewrite running clocks). The scanner fires each warning and breach once, also with several
//! replicas: it claims clocks through [`backend::claim_due`], and records the event in the
//! department's feed (inbox, Redis stream and webhook), the path departments already consume; a
//! breached escalation is also mailed to the supervisors like a ticket SLA notice.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::delivery::ESCALATION;
use crate::db::backend::{self, DEPARTMENT_CLOCKS};
use crate::db::schema::{agents, calendars, department_sla_clocks as clocks, departments, escalations};
use crate::db::types::{Tstz, UtcTime};
use crate::db::DbConnection;
use crate::domain::ticket::{EscalationStatus, EventKind, Status};
use crate::domain::{Actor, AuthorType, Principal, TicketEvent};
use crate::domain::{Permission, Role};
use crate::error::AppError;
use crate::sla::calendars as business;
use crate::tickets::reactions::{Cause, Change, Reaction, Settled};

pub const ACK: &str = "ack";
pub const ANSWER: &str = "answer";

/// Where a clock stands: `met` once stopped in time; `at_risk` past the warning; `breached`
/// past the due time (running, or stopped late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    OnTime,
    AtRisk,
    Breached,
    Met,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockView {
    /// `ack` or `answer`.
    pub metric: String,
    /// Business minutes allowed.
    pub target_minutes: i32,
    pub started_at: DateTime<Utc>,
    pub warn_at: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub state: ClockState,
}

/// A department's internal SLA targets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentSla {
    pub department_id: i64,
    /// Business minutes to acknowledge.
    pub ack_minutes: i32,
    /// Business minutes to answer.
    pub answer_minutes: i32,
    /// Share of the target (1–99) when a warning fires; 0 for none.
    pub warn_percent: i32,
    pub calendar_id: i64,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentSlaInput {
    pub ack_minutes: Option<i32>,
    pub answer_minutes: Option<i32>,
    pub warn_percent: Option<i32>,
    pub calendar_id: Option<i64>,
}

type ClockRow = (String, i32, UtcTime, Option<UtcTime>, UtcTime, Option<UtcTime>);

fn state(
    due: DateTime<Utc>,
    warn: Option<DateTime<Utc>>,
    stopped: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ClockState {
    match stopped {
        Some(at) if at <= due => ClockState::Met,
        Some(_) => ClockState::Breached,
        None if now >= due => ClockState::Breached,
        None if warn.is_some_and(|w| now >= w) => ClockState::AtRisk,
        None => ClockState::OnTime,
    }
}

fn clock_view(row: ClockRow, now: DateTime<Utc>) -> ClockView {
    let (metric, target_minutes, started, warn, due, stopped) = row;
    ClockView {
        metric,
        target_minutes,
        started_at: started.0,
        warn_at: warn.map(|t| t.0),
        due_at: due.0,
        stopped_at: stopped.map(|t| t.0),
        state: state(due.0, warn.map(|t| t.0), stopped.map(|t| t.0), now),
    }
}

/// The clocks of one item (`kind` is [`super::delivery::ESCALATION`] or `OPPORTUNITY`).
pub fn clocks_of(conn: &mut DbConnection, kind: &str, item: i64) -> Result<Vec<ClockView>, AppError> {
    let rows: Vec<ClockRow> = clocks::table
        .filter(clocks::item_kind.eq(kind))
        .filter(clocks::item_id.eq(item))
        .order(clocks::id)
        .select((
            clocks::metric,
            clocks::target_minutes,
            clocks::started_at,
            clocks::warn_at,
            clocks::due_at,
            clocks::stopped_at,
        ))
        .load(conn)?;
    let now = Utc::now();
    Ok(rows.into_iter().map(|r| clock_view(r, now)).collect())
}

/// The targets of `department` (404 if it does not exist).
pub fn targets(conn: &mut DbConnection, department: i64) -> Result<DepartmentSla, AppError> {
    let (ack, answer, warn, calendar): (i32, i32, i32, Option<i64>) = departments::table
        .find(department)
        .select((
            departments::sla_ack_minutes,
            departments::sla_answer_minutes,
            departments::sla_warn_percent,
            departments::sla_calendar_id,
        ))
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("el departamento"))?;
    let calendar = match calendar {
        Some(id) => id,
        // Departments created before a calendar was chosen use the office hours.
        None => calendars::table.filter(calendars::slug.eq("horario-habil")).select(calendars::id).first(conn)?,
    };
    Ok(DepartmentSla {
        department_id: department,
        ack_minutes: ack,
        answer_minutes: answer,
        warn_percent: warn,
        calendar_id: calendar,
    })
}

/// Changes a department's targets (admins). Clocks already running keep theirs.
pub fn set_targets(
    conn: &mut DbConnection,
    who: &Principal,
    department: i64,
    input: DepartmentSlaInput,
) -> Result<DepartmentSla, AppError> {
    super::visible(conn, who, department)?;
    if who.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    let current = targets(conn, department)?;
    let mut errors = crate::tickets::Errors::default();
    let max = i32::try_from(business::MAX_MINUTES).unwrap_or(i32::MAX);
    for (field, value) in [("ack_minutes", input.ack_minutes), ("answer_minutes", input.answer_minutes)] {
        if value.is_some_and(|v| !(1..=max).contains(&v)) {
            errors.add(field, format!("debe estar entre 1 y {max} minutos hábiles"));
        }
    }
    if input.warn_percent.is_some_and(|p| !(0..=99).contains(&p)) {
        errors.add("warn_percent", "debe estar entre 0 (sin aviso) y 99");
    }
    if let Some(id) = input.calendar_id {
        let exists: i64 = calendars::table.filter(calendars::id.eq(id)).count().get_result(conn)?;
        if exists == 0 {
            errors.add("calendar_id", format!("no existe el calendario {id}"));
        }
    }
    errors.finish()?;
    diesel::update(departments::table.find(department))
        .set((
            departments::sla_ack_minutes.eq(input.ack_minutes.unwrap_or(current.ack_minutes)),
            departments::sla_answer_minutes.eq(input.answer_minutes.unwrap_or(current.answer_minutes)),
            departments::sla_warn_percent.eq(input.warn_percent.unwrap_or(current.warn_percent)),
            departments::sla_calendar_id.eq(input.calendar_id.unwrap_or(current.calendar_id)),
        ))
        .execute(conn)?;
    targets(conn, department)
}

/// Starts (or restarts) the `metrics` clocks of an item sent to `department` at `at`.
pub fn start(
    conn: &mut DbConnection,
    department: i64,
    (kind, item): (&str, i64),
    metrics: &[&str],
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let t = targets(conn, department)?;
    let calendar = business::business(conn, t.calendar_id)?;
    diesel::delete(
        clocks::table
            .filter(clocks::item_kind.eq(kind))
            .filter(clocks::item_id.eq(item))
            .filter(clocks::metric.eq_any(metrics)),
    )
    .execute(conn)?;
    for metric in metrics {
        let target = if *metric == ACK { t.ack_minutes } else { t.answer_minutes };
        let Some(due) = calendar.add_business_minutes(at, i64::from(target)) else {
            tracing::warn!(department, calendar = t.calendar_id, "department SLA calendar never opens; no clock");
            continue;
        };
        let warn = (t.warn_percent > 0)
            .then(|| calendar.add_business_minutes(at, i64::from(target) * i64::from(t.warn_percent) / 100))
            .flatten()
            .filter(|w| *w < due);
        diesel::insert_into(clocks::table)
            .values((
                clocks::department_id.eq(department),
                clocks::item_kind.eq(kind),
                clocks::item_id.eq(item),
                clocks::metric.eq(metric),
                clocks::target_minutes.eq(target),
                clocks::started_at.eq(UtcTime::from(at)),
                clocks::warn_at.eq(warn.map(UtcTime::from)),
                clocks::due_at.eq(UtcTime::from(due)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Stops the running `metrics` clocks of items `ids` of `kind` at `at`.
pub fn stop(
    conn: &mut DbConnection,
    kind: &str,
    ids: &[i64],
    metrics: &[&str],
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::update(
        clocks::table
            .filter(clocks::item_kind.eq(kind))
            .filter(clocks::item_id.eq_any(ids))
            .filter(clocks::metric.eq_any(metrics))
            .filter(clocks::stopped_at.is_null()),
    )
    .set(clocks::stopped_at.eq(UtcTime::from(at)))
    .execute(conn)?;
    Ok(())
}

/// Stops the escalation clocks a ticket event makes no longer owed: all of them when the ticket
/// is closed (final; merging closes it too), and the acknowledgement of an escalation once a
/// member of its department acts on the ticket (a reply, a note, a change), with or without the
/// inbox's ack. Called for every event ([`crate::tickets::log::record`]); most return after
/// one indexed lookup, or none.
pub fn on_ticket_event(
    conn: &mut DbConnection,
    ticket: i64,
    event: &TicketEvent,
    actor: Actor,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let closed = event.moved_to() == Some(Status::Closed);
    // What opens a ticket (its creation, its first message) acts on no escalation: none exists yet.
    let agent = match actor {
        Actor::Agent(agent) if !event.opens_ticket() && event.kind() != EventKind::Escalated => Some(agent),
        _ => None,
    };
    if !closed && agent.is_none() {
        return Ok(());
    }
    let open: Vec<(i64, i64)> = escalations::table
        .filter(escalations::ticket_id.eq(ticket))
        .filter(escalations::status.eq(EscalationStatus::Open.as_str()))
        .select((escalations::id, escalations::department_id))
        .load(conn)?;
    if open.is_empty() {
        return Ok(());
    }
    if closed {
        let ids: Vec<i64> = open.iter().map(|(id, _)| *id).collect();
        return stop(conn, ESCALATION, &ids, &[ACK, ANSWER], at);
    }
    let Some(agent) = agent else { return Ok(()) };
    let department: Option<i64> =
        agents::table.find(agent).select(agents::department_id).first(conn).optional()?.flatten();
    let acted: Vec<i64> = open.iter().filter(|(_, d)| Some(*d) == department).map(|(id, _)| *id).collect();
    if acted.is_empty() {
        return Ok(());
    }
    stop(conn, ESCALATION, &acted, &[ACK], at)
}

/// A clock whose warning or breach is due, claimed by this transaction.
#[derive(Debug, QueryableByName)]
pub struct DueClock {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub department_id: i64,
    #[diesel(sql_type = Text)]
    pub item_kind: String,
    #[diesel(sql_type = BigInt)]
    pub item_id: i64,
    #[diesel(sql_type = Text)]
    pub metric: String,
    #[diesel(sql_type = Nullable<Tstz>)]
    pub warn_at: Option<UtcTime>,
    #[diesel(sql_type = Tstz)]
    pub due_at: UtcTime,
    #[diesel(sql_type = Nullable<Tstz>)]
    pub warned_at: Option<UtcTime>,
    #[diesel(sql_type = Nullable<Tstz>)]
    pub breached_at: Option<UtcTime>,
}

/// One scan: claims due clocks, marks what fires and records each warning and breach in the
/// department's feed. Returns how many fired. Run it inside one transaction.
pub fn tick(conn: &mut DbConnection, now: DateTime<Utc>, limit: i64) -> Result<usize, AppError> {
    let mut due: Vec<DueClock> = backend::claim_due(conn, &DEPARTMENT_CLOCKS, UtcTime::from(now), limit)?;
    // Each department's feed lock is taken in department order, so two replicas' scans never
    // wait on each other in a cycle.
    due.sort_by_key(|c| (c.department_id, c.id));
    let mut fired = 0;
    for clock in &due {
        let warn = clock.warned_at.is_none() && clock.warn_at.is_some_and(|w| w.0 <= now);
        let breach = clock.breached_at.is_none() && clock.due_at.0 <= now;
        let at = UtcTime::from(now);
        if warn {
            diesel::update(clocks::table.find(clock.id)).set(clocks::warned_at.eq(at)).execute(conn)?;
            super::delivery::sla_fired(conn, clock, "sla_warning")?;
            fired += 1;
        }
        if breach {
            diesel::update(clocks::table.find(clock.id)).set(clocks::breached_at.eq(at)).execute(conn)?;
            // Mail before the feed: the feed's lock is always the last one taken.
            mail_breach(conn, clock)?;
            super::delivery::sla_fired(conn, clock, "sla_breached")?;
            fired += 1;
        }
        tracing::info!(item = clock.item_id, kind = %clock.item_kind, metric = %clock.metric, warn, breach, "department SLA fired");
    }
    Ok(fired)
}

/// A breached escalation is also mailed, as a ticket SLA notice, to the supervisors and to the
/// agent who escalated it (opportunities have no ticket: supervisors list them instead).
fn mail_breach(conn: &mut DbConnection, clock: &DueClock) -> Result<(), AppError> {
    use crate::channels::email::outbox::{enqueue_with, SLA_NOTICE};
    use crate::db::schema::{agents, escalations};
    if clock.item_kind != super::delivery::ESCALATION {
        return Ok(());
    }
    let (ticket, by): (i64, Option<i64>) = escalations::table
        .find(clock.item_id)
        .select((escalations::ticket_id, escalations::requested_by))
        .first(conn)?;
    let mut recipients: Vec<String> = agents::table
        .filter(agents::active.eq(true))
        .filter(agents::role.eq(Role::Supervisor.as_str()).or(agents::id.nullable().eq(by)))
        .filter(agents::email.is_not_null())
        .select(agents::email.assume_not_null())
        .load(conn)?;
    recipients.sort();
    recipients.dedup();
    let metric = format!("department_{}", clock.metric);
    let detail = serde_json::json!({"metric": metric, "kind": "breach", "due_at": clock.due_at.0});
    for email in recipients {
        enqueue_with(conn, SLA_NOTICE, ticket, None, &email, Some(detail.clone()))?;
    }
    Ok(())
}

/// The background loop of one replica, like the ticket SLA scanner's.
pub async fn run(db: crate::db::Db, interval: std::time::Duration, batch: i64) {
    loop {
        match db.write(move |c| tick(c, Utc::now(), batch)).await {
            Ok(fired) if fired as i64 >= batch => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "department SLA scan failed; retrying later"),
        }
        tokio::time::sleep(interval).await;
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ItemsFilter {
    /// `at_risk` (running, past the warning) or `breached` (past the due time); both when absent.
    pub state: Option<ClockState>,
    /// Department slug.
    pub department: Option<String>,
}

/// An item sent to a department whose clock is at risk or breached.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentItem {
    /// `escalation` or `opportunity`.
    pub kind: String,
    pub item_id: i64,
    pub department_id: i64,
    pub department: String,
    pub clock: ClockView,
}

type ItemRow = (String, i64, i64, String, ClockRow);

/// Department items at risk or breached now (clocks still running), most overdue first
/// (supervisors and admins).
pub fn at_risk(conn: &mut DbConnection, who: &Principal, f: &ItemsFilter) -> Result<Vec<DepartmentItem>, AppError> {
    who.require(Permission::MonitorService)?;
    if matches!(f.state, Some(ClockState::OnTime | ClockState::Met)) {
        return Err(AppError::field("state", "use «at_risk» o «breached»"));
    }
    let now = Utc::now();
    let mut query = clocks::table
        .inner_join(departments::table)
        .filter(clocks::warn_at.le(UtcTime::from(now)).or(clocks::due_at.le(UtcTime::from(now))))
        // Late answers already given are history (the reports' business), not something to act on.
        .filter(clocks::stopped_at.is_null())
        .order((clocks::due_at, clocks::id))
        .select((
            clocks::item_kind,
            clocks::item_id,
            clocks::department_id,
            departments::slug,
            (
                clocks::metric,
                clocks::target_minutes,
                clocks::started_at,
                clocks::warn_at,
                clocks::due_at,
                clocks::stopped_at,
            ),
        ))
        .limit(500)
        .into_boxed();
    if let Some(slug) = &f.department {
        query = query.filter(departments::slug.eq(slug.clone()));
    }
    // The state is chosen before the limit, so old breaches cannot crowd out the rest.
    match f.state {
        Some(ClockState::AtRisk) => query = query.filter(clocks::due_at.gt(UtcTime::from(now))),
        Some(ClockState::Breached) => query = query.filter(clocks::due_at.le(UtcTime::from(now))),
        _ => {}
    }
    let rows: Vec<ItemRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(kind, item_id, department_id, department, clock)| DepartmentItem {
            kind,
            item_id,
            department_id,
            department,
            clock: clock_view(clock, now),
        })
        .filter(|i| match f.state {
            Some(s) => i.clock.state == s,
            None => matches!(i.clock.state, ClockState::AtRisk | ClockState::Breached),
        })
        .collect())
}

/// The departments' clocks: an agent of the department acting on an escalated ticket
/// acknowledges it, closing the ticket stops its clocks, and a requester's reply reaches the
/// departments still waiting on the ticket.
pub struct DepartmentClocks;

impl Reaction for DepartmentClocks {
    fn appending(
        &self,
        conn: &mut DbConnection,
        ticket: i64,
        events: &[(Actor, TicketEvent)],
        at: UtcTime,
    ) -> Result<(), AppError> {
        for (actor, event) in events {
            on_ticket_event(conn, ticket, event, *actor, at.0)?;
        }
        Ok(())
    }

    fn settle(&self, conn: &mut DbConnection, change: &Change<'_>, _: &mut Settled) -> Result<(), AppError> {
        if let Cause::Message { side: AuthorType::Requester, message_id, .. } = change.cause {
            // Last of the reactions: it takes the departments' locks.
            super::delivery::requester_replied(conn, change.ticket_id, message_id)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn states_follow_warning_due_and_stop() {
        let t = |h: u32| Utc.with_ymd_and_hms(2026, 10, 13, h, 0, 0).unwrap();
        let (warn, due) = (Some(t(10)), t(12));
        assert_eq!(state(due, warn, None, t(9)), ClockState::OnTime);
        assert_eq!(state(due, warn, None, t(10)), ClockState::AtRisk);
        assert_eq!(state(due, warn, None, t(12)), ClockState::Breached);
        assert_eq!(state(due, warn, Some(t(11)), t(20)), ClockState::Met);
        assert_eq!(state(due, warn, Some(t(13)), t(20)), ClockState::Breached);
        assert_eq!(state(due, None, None, t(11)), ClockState::OnTime);
    }
}
