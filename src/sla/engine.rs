//! Keeps each ticket's SLA state current: records the policy in force when it changes, replays
//! the event log, and rewrites the ticket's pending deadlines for the scanner.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::{calendars, policies};
use crate::db::backend;
use crate::db::models::NewDeadline;
use crate::db::schema::{categories, queues, requesters, sla_deadlines, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::event::SlaMet;
use crate::domain::sla::{self, AppliedPolicy, BusinessClock, Clocks, MetricTimeline, SlaEvent, TimedEvent};
use crate::domain::workspace::{sla_summary, Deadline, SlaState};
use crate::domain::{Actor, TicketEvent};
use crate::error::AppError;
use crate::tickets::log::{self, Logged};
use crate::tickets::reactions::{Cause, Change, Reaction, Settled};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketSla {
    pub ticket_id: i64,
    /// The policy in force, as recorded on the ticket (`null` if none matches).
    pub policy: Option<AppliedPolicy>,
    pub metrics: Vec<MetricTimeline>,
}

fn facts(conn: &mut DbConnection, ticket_id: i64) -> Result<policies::TicketFacts, AppError> {
    let (segment, channel, priority, category, queue): (String, String, String, Option<String>, Option<String>) =
        tickets::table
            .inner_join(requesters::table)
            .left_join(categories::table)
            .left_join(queues::table)
            .filter(tickets::id.eq(ticket_id))
            .select((
                requesters::segment,
                tickets::channel,
                tickets::priority,
                categories::slug.nullable(),
                queues::slug.nullable(),
            ))
            .first(conn)?;
    let bad = |what: &str| AppError::Internal(anyhow::anyhow!("ticket {ticket_id} has an invalid {what}"));
    Ok(policies::TicketFacts {
        segment: segment.parse().map_err(|_| bad("segment"))?,
        channel: channel.parse().map_err(|_| bad("channel"))?,
        priority: priority.parse().map_err(|_| bad("priority"))?,
        category,
        queue,
    })
}

/// Reads the SLA-relevant events out of the log.
pub fn sla_events(log: &[Logged]) -> Vec<TimedEvent> {
    log.iter().filter_map(|e| Some(TimedEvent { at: e.at.0, event: e.event.sla_event()? })).collect()
}

struct Loaded(HashMap<i64, Arc<BusinessCalendar>>);

impl Clocks for Loaded {
    fn clock(&self, calendar_id: i64) -> Option<&dyn BusinessClock> {
        self.0.get(&calendar_id).map(|c| c.as_ref() as &dyn BusinessClock)
    }
}

fn replay(conn: &mut DbConnection, events: &[TimedEvent], now: DateTime<Utc>) -> Result<Vec<MetricTimeline>, AppError> {
    let mut loaded = HashMap::new();
    for event in events {
        if let SlaEvent::PolicyApplied(p) = &event.event {
            if let std::collections::hash_map::Entry::Vacant(slot) = loaded.entry(p.calendar_id) {
                slot.insert(calendars::business(conn, p.calendar_id)?);
            }
        }
    }
    Ok(sla::replay(events, &Loaded(loaded), now))
}

/// Re-evaluates the policy (recording it when it changed), replays the log and rewrites the
/// ticket's pending deadlines. Called in the same transaction as every ticket change.
pub fn refresh(conn: &mut DbConnection, ticket_id: i64, now: DateTime<Utc>) -> Result<TicketSla, AppError> {
    let facts = facts(conn, ticket_id)?;
    let mut rows = log::load(conn, ticket_id)?;
    let wanted = policies::matching(conn, &facts)?.map(|p| p.applied(facts.priority));
    if let Some(policy) = wanted.filter(|w| current_policy(&rows).as_ref() != Some(w)) {
        let applied = TicketEvent::SlaPolicyApplied(policy);
        rows.push(log::record(conn, ticket_id, Actor::System, applied, UtcTime::from(now))?);
    }
    let events = sla_events(&rows);
    let metrics = replay(conn, &events, now)?;
    let fired = fired_deadlines(conn, ticket_id)?;
    let kept = fired.len();
    let deadlines = deadlines_of(&metrics, fired);
    insert_deadlines(conn, ticket_id, &deadlines[kept..])?;
    super::summary::write(conn, ticket_id, &deadlines)?;
    record_met(conn, ticket_id, &rows, &metrics)?;
    Ok(TicketSla { ticket_id, policy: current_policy(&rows), metrics })
}

/// The SLA of a ticket about to be created, worked out before anything is written, from its facts
/// and its opening event (the opening message answers nothing): the ticket's row is inserted with
/// its summary, and its log and deadlines follow.
pub struct Plan {
    /// The policy to record after the ticket's own events (`sla_policy_applied`), if one
    /// applies.
    pub policy: Option<AppliedPolicy>,
    deadlines: Vec<Deadline>,
    pub next_due_at: Option<DateTime<Utc>>,
    pub state: Option<SlaState>,
}

pub fn plan(conn: &mut DbConnection, facts: &policies::TicketFacts, at: DateTime<Utc>) -> Result<Plan, AppError> {
    let policy = policies::matching(conn, facts)?.map(|p| p.applied(facts.priority));
    let opening = [SlaEvent::Created].into_iter().chain(policy.clone().map(SlaEvent::PolicyApplied));
    let events: Vec<TimedEvent> = opening.map(|event| TimedEvent { at, event }).collect();
    let deadlines = deadlines_of(&replay(conn, &events, at)?, Vec::new());
    let (next_due_at, state) = sla_summary(&deadlines);
    Ok(Plan { policy, deadlines, next_due_at, state })
}

/// Writes the planned deadlines of ticket `ticket_id`, now created.
pub fn begin(conn: &mut DbConnection, ticket_id: i64, plan: &Plan) -> Result<(), AppError> {
    insert_deadlines(conn, ticket_id, &plan.deadlines)
}

fn current_policy(log: &[Logged]) -> Option<AppliedPolicy> {
    log.iter().rev().find_map(|e| match &e.event {
        TicketEvent::SlaPolicyApplied(policy) => Some(policy.clone()),
        _ => None,
    })
}

/// Records `sla_met` once per metric instance that stopped in time, so live KPIs can count met
/// clocks from the event log as they count breached ones.
fn record_met(
    conn: &mut DbConnection,
    ticket_id: i64,
    log: &[Logged],
    metrics: &[MetricTimeline],
) -> Result<(), AppError> {
    let recorded = |m: &MetricTimeline| {
        log.iter().any(
            |e| matches!(&e.event, TicketEvent::SlaMet(met) if met.metric == m.metric && met.instance == m.instance),
        )
    };
    for m in metrics.iter().filter(|m| m.state == sla::MetricState::Met && m.target_minutes.is_some()) {
        if let (Some(at), false) = (m.met_at, recorded(m)) {
            let met =
                TicketEvent::SlaMet(SlaMet { metric: m.metric, instance: m.instance, started_at: Some(m.started_at) });
            log::record(conn, ticket_id, Actor::System, met, UtcTime::from(at))?;
        }
    }
    Ok(())
}

/// The ticket's SLA as of `now`, without changing anything.
pub fn view(conn: &mut DbConnection, ticket_id: i64, now: DateTime<Utc>) -> Result<TicketSla, AppError> {
    let rows = log::load(conn, ticket_id)?;
    if rows.is_empty() {
        return Err(AppError::NotFound("el ticket"));
    }
    let events = sla_events(&rows);
    let metrics = replay(conn, &events, now)?;
    Ok(TicketSla { ticket_id, policy: current_policy(&rows), metrics })
}

/// The ticket's deadlines: the `fired` ones, which stay, so each warning and breach of a metric
/// instance fires at most once, then the pending ones of `metrics`.
fn deadlines_of(metrics: &[MetricTimeline], fired: Vec<Deadline>) -> Vec<Deadline> {
    let mut deadlines = fired;
    let kept = deadlines.len();
    for m in metrics {
        let Some(due) = m.due_at else { continue };
        let warn = m.warn_at.filter(|w| *w < due);
        for (kind, at) in [("warning", warn), ("breach", Some(due))] {
            let Some(at) = at else { continue };
            let (metric, instance) = (m.metric.as_str(), m.instance as i32);
            if deadlines[..kept].iter().any(|d| d.metric == metric && d.instance == instance && d.kind == kind) {
                continue;
            }
            let deadline =
                Deadline { metric: metric.to_owned(), instance, kind: kind.to_owned(), due_at: at, fired: false };
            deadlines.push(deadline);
        }
    }
    deadlines
}

fn insert_deadlines(conn: &mut DbConnection, ticket_id: i64, pending: &[Deadline]) -> Result<(), AppError> {
    let rows: Vec<NewDeadline> = pending
        .iter()
        .map(|d| NewDeadline {
            ticket_id,
            metric: &d.metric,
            instance: d.instance,
            kind: &d.kind,
            due_at: UtcTime::from(d.due_at),
        })
        .collect();
    backend::insert_deadlines(conn, &rows)?;
    Ok(())
}

/// Drops the pending deadlines and returns the fired ones, which stay.
fn fired_deadlines(conn: &mut DbConnection, ticket_id: i64) -> Result<Vec<Deadline>, AppError> {
    diesel::delete(
        sla_deadlines::table.filter(sla_deadlines::ticket_id.eq(ticket_id)).filter(sla_deadlines::fired_at.is_null()),
    )
    .execute(conn)?;
    let fired: Vec<(String, i32, String, UtcTime)> = sla_deadlines::table
        .filter(sla_deadlines::ticket_id.eq(ticket_id))
        .select((sla_deadlines::metric, sla_deadlines::instance, sla_deadlines::kind, sla_deadlines::due_at))
        .load(conn)?;
    Ok(fired
        .into_iter()
        .map(|(metric, instance, kind, due_at)| Deadline { metric, instance, kind, due_at: due_at.0, fired: true })
        .collect())
}

/// Recomputes the SLA clocks after every change but a creation, whose clocks
/// [`begin`] started from its plan.
pub struct SlaClocks;

impl Reaction for SlaClocks {
    fn settle(&self, conn: &mut DbConnection, change: &Change<'_>, _: &mut Settled) -> Result<(), AppError> {
        if !matches!(change.cause, Cause::Created { .. }) {
            refresh(conn, change.ticket_id, change.at.0)?;
        }
        Ok(())
    }
}
