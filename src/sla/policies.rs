//! Ordered SLA policies: the first active one whose conditions match a ticket applies.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{calendars, sla_policies};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::DbConnection;
use crate::domain::sla::{AppliedPolicy, Metric};
use crate::domain::{Channel, Priority, Segment, Status};
use crate::error::AppError;
use crate::reference::{self, Cache, Kind};
use crate::tickets::{line, Errors};

/// Which tickets a policy covers; an absent list matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
// Named apart from the routing rules' `Conditions`, which would otherwise replace it in the spec.
#[schema(as = SlaConditions)]
pub struct Conditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<Segment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priorities: Option<Vec<Priority>>,
    /// Category slugs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Queue slugs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
}

/// What a warning or a breach does besides logging an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionSet {
    /// Tell the assignee and the queue's supervisors.
    #[serde(default)]
    pub notify: bool,
    /// One step up: low → normal → high → urgent.
    #[serde(default)]
    pub raise_priority: bool,
    /// Queue slug to move the ticket to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to_queue: Option<String>,
    /// Escalate the ticket to a department (once while that escalation is open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate: Option<EscalateAction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateAction {
    /// Department slug.
    pub department: String,
    pub mode: crate::domain::EscalationMode,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SlaActions)]
pub struct Actions {
    #[serde(default)]
    pub warning: ActionSet,
    #[serde(default)]
    pub breach: ActionSet,
}

/// Minutes per metric and priority, e.g. `{"first_reply": {"urgent": 60, "normal": 540}}`.
pub type Targets = BTreeMap<Metric, BTreeMap<Priority, i64>>;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: i64,
    pub name: String,
    /// Lower positions are evaluated first.
    pub position: i32,
    pub active: bool,
    pub conditions: Conditions,
    #[schema(value_type = Object)]
    pub targets: Targets,
    /// Statuses that pause each metric, e.g. `{"resolution": ["pending"]}`.
    #[schema(value_type = Object)]
    pub pause_statuses: BTreeMap<Metric, Vec<Status>>,
    pub calendar_id: i64,
    /// Warn when this share of the target is consumed (1–99)…
    pub warn_percent: Option<i32>,
    /// …or this many business minutes before the due time.
    pub warn_before_minutes: Option<i32>,
    pub actions: Actions,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub name: Option<String>,
    pub position: Option<i32>,
    pub active: Option<bool>,
    pub conditions: Option<Conditions>,
    #[schema(value_type = Option<Object>)]
    pub targets: Option<Targets>,
    #[schema(value_type = Option<Object>)]
    pub pause_statuses: Option<BTreeMap<Metric, Vec<Status>>>,
    pub calendar_id: Option<i64>,
    pub warn_percent: Option<i32>,
    pub warn_before_minutes: Option<i32>,
    pub actions: Option<Actions>,
}

/// The ticket fields policies look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    pub segment: Segment,
    pub channel: Channel,
    pub priority: Priority,
    pub category: Option<String>,
    pub queue: Option<String>,
}

impl Conditions {
    pub fn matches(&self, t: &TicketFacts) -> bool {
        fn ok<T: PartialEq>(list: &Option<Vec<T>>, value: &T) -> bool {
            list.as_ref().is_none_or(|l| l.contains(value))
        }
        fn ok_opt(list: &Option<Vec<String>>, value: &Option<String>) -> bool {
            list.as_ref().is_none_or(|l| value.as_ref().is_some_and(|v| l.contains(v)))
        }
        ok(&self.segments, &t.segment)
            && ok(&self.channels, &t.channel)
            && ok(&self.priorities, &t.priority)
            && ok_opt(&self.categories, &t.category)
            && ok_opt(&self.queues, &t.queue)
    }
}

impl PolicyView {
    /// The snapshot recorded on a ticket: targets resolved for its priority.
    pub fn applied(&self, priority: Priority) -> AppliedPolicy {
        AppliedPolicy {
            policy_id: self.id,
            policy_name: self.name.clone(),
            calendar_id: self.calendar_id,
            targets: self.targets.iter().filter_map(|(m, by)| by.get(&priority).map(|min| (*m, *min))).collect(),
            pause: self.pause_statuses.clone(),
            warn_percent: self.warn_percent.map(i64::from),
            warn_before_minutes: self.warn_before_minutes.map(i64::from),
        }
    }
}

type Row = (
    (i64, String, i32, bool, JsonValue, JsonValue, JsonValue, i64),
    (Option<i32>, Option<i32>, JsonValue, UtcTime, UtcTime),
);

fn json<T: serde::de::DeserializeOwned>(v: JsonValue) -> Result<T, AppError> {
    serde_json::from_value(v.0).map_err(|e| AppError::Internal(anyhow::anyhow!("stored policy JSON: {e}")))
}

fn view(row: Row) -> Result<PolicyView, AppError> {
    let (
        (id, name, position, active, conditions, targets, pause, calendar_id),
        (warn_percent, warn_before, actions, c, u),
    ) = row;
    Ok(PolicyView {
        id,
        name,
        position,
        active,
        conditions: json(conditions)?,
        targets: json(targets)?,
        pause_statuses: json(pause)?,
        calendar_id,
        warn_percent,
        warn_before_minutes: warn_before,
        actions: json(actions)?,
        created_at: c.0,
        updated_at: u.0,
    })
}

macro_rules! columns {
    () => {
        (
            (
                sla_policies::id,
                sla_policies::name,
                sla_policies::position,
                sla_policies::active,
                sla_policies::conditions,
                sla_policies::targets,
                sla_policies::pause_statuses,
                sla_policies::calendar_id,
            ),
            (
                sla_policies::warn_percent,
                sla_policies::warn_before_minutes,
                sla_policies::actions,
                sla_policies::created_at,
                sla_policies::updated_at,
            ),
        )
    };
}

pub fn list(conn: &mut DbConnection, only_active: bool) -> Result<Vec<PolicyView>, AppError> {
    let mut query =
        sla_policies::table.select(columns!()).order((sla_policies::position, sla_policies::id)).into_boxed();
    if only_active {
        query = query.filter(sla_policies::active.eq(true));
    }
    query.load::<Row>(conn)?.into_iter().map(view).collect()
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<PolicyView, AppError> {
    let row: Row = sla_policies::table
        .find(id)
        .select(columns!())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("la política de SLA"))?;
    view(row)
}

/// The active policies in order, as this replica caches them ([`crate::reference`]).
static ACTIVE: Cache<Vec<PolicyView>> = Cache::new(Kind::SlaPolicies);

/// The first active policy that matches, in order.
pub fn matching(conn: &mut DbConnection, facts: &TicketFacts) -> Result<Option<PolicyView>, AppError> {
    let active = ACTIVE.get(conn, |c| list(c, true))?;
    Ok(active.iter().find(|p| p.conditions.matches(facts)).cloned())
}

fn validate(conn: &mut DbConnection, input: &PolicyInput, creating: bool) -> Result<Option<String>, AppError> {
    let mut errors = Errors::default();
    let name = input.name.as_deref().map(|n| line(&mut errors, "name", n, 120));
    if creating {
        for (field, missing) in [
            ("name", input.name.is_none()),
            ("targets", input.targets.is_none()),
            ("calendar_id", input.calendar_id.is_none()),
        ] {
            if missing {
                errors.add(field, "es obligatorio");
            }
        }
    }
    for (metric, by_priority) in input.targets.iter().flatten() {
        if by_priority.values().any(|m| !(1..=super::calendars::MAX_MINUTES).contains(m)) {
            errors.add(&format!("targets.{metric}"), "los minutos deben ser positivos (máximo diez años)");
        }
    }
    if input.warn_percent.is_some_and(|p| !(1..=99).contains(&p)) {
        errors.add("warn_percent", "debe estar entre 1 y 99");
    }
    if input.warn_before_minutes.is_some_and(|m| m < 1) {
        errors.add("warn_before_minutes", "debe ser positivo");
    }
    if let Some(id) = input.calendar_id {
        let exists: i64 = calendars::table.filter(calendars::id.eq(id)).count().get_result(conn)?;
        if exists == 0 {
            errors.add("calendar_id", format!("no existe el calendario {id}"));
        }
    }
    for (kind, set) in input.actions.iter().flat_map(|a| [("warning", &a.warning), ("breach", &a.breach)]) {
        if let Some(e) = &set.escalate {
            let exists: i64 = crate::db::schema::departments::table
                .filter(crate::db::schema::departments::slug.eq(&e.department))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                errors
                    .add(&format!("actions.{kind}.escalate"), format!("no existe el departamento «{}»", e.department));
            }
        }
        // The scanner moves the ticket there at the warning or the breach: it must exist now.
        if let Some(queue) = &set.move_to_queue {
            let exists: i64 = crate::db::schema::queues::table
                .filter(crate::db::schema::queues::slug.eq(queue))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                errors.add(&format!("actions.{kind}.move_to_queue"), format!("no existe la cola «{queue}»"));
            }
        }
    }
    errors.finish()?;
    Ok(name)
}

fn to_json<T: Serialize>(value: &T) -> Result<JsonValue, AppError> {
    Ok(JsonValue(serde_json::to_value(value).map_err(anyhow::Error::from)?))
}

pub fn save(conn: &mut DbConnection, id: Option<i64>, input: PolicyInput) -> Result<PolicyView, AppError> {
    let current = id.map(|id| get(conn, id)).transpose()?;
    let name = validate(conn, &input, current.is_none())?;
    let now = UtcTime::now();
    let id = match current {
        None => diesel::insert_into(sla_policies::table)
            .values((
                sla_policies::name.eq(name.unwrap_or_default()),
                sla_policies::position.eq(input.position.unwrap_or(10)),
                sla_policies::active.eq(input.active.unwrap_or(true)),
                sla_policies::conditions.eq(to_json(&input.conditions.unwrap_or_default())?),
                sla_policies::targets.eq(to_json(&input.targets.unwrap_or_default())?),
                sla_policies::pause_statuses.eq(to_json(&input.pause_statuses.unwrap_or_default())?),
                sla_policies::calendar_id.eq(input.calendar_id.unwrap_or_default()),
                sla_policies::warn_percent.eq(input.warn_percent),
                sla_policies::warn_before_minutes.eq(input.warn_before_minutes),
                sla_policies::actions.eq(to_json(&input.actions.unwrap_or_default())?),
                sla_policies::created_at.eq(now),
                sla_policies::updated_at.eq(now),
            ))
            .returning(sla_policies::id)
            .get_result(conn)?,
        Some(c) => {
            diesel::update(sla_policies::table.find(c.id))
                .set((
                    sla_policies::name.eq(name.unwrap_or(c.name)),
                    sla_policies::position.eq(input.position.unwrap_or(c.position)),
                    sla_policies::active.eq(input.active.unwrap_or(c.active)),
                    sla_policies::conditions.eq(to_json(&input.conditions.unwrap_or(c.conditions))?),
                    sla_policies::targets.eq(to_json(&input.targets.unwrap_or(c.targets))?),
                    sla_policies::pause_statuses.eq(to_json(&input.pause_statuses.unwrap_or(c.pause_statuses))?),
                    sla_policies::calendar_id.eq(input.calendar_id.unwrap_or(c.calendar_id)),
                    sla_policies::warn_percent.eq(input.warn_percent.or(c.warn_percent)),
                    sla_policies::warn_before_minutes.eq(input.warn_before_minutes.or(c.warn_before_minutes)),
                    sla_policies::actions.eq(to_json(&input.actions.unwrap_or(c.actions))?),
                    sla_policies::updated_at.eq(now),
                ))
                .execute(conn)?;
            c.id
        }
    };
    reference::changed(conn, Kind::SlaPolicies)?;
    get(conn, id)
}

/// Policies are deactivated, not deleted: tickets' history refers to them.
pub fn deactivate(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    let n = diesel::update(sla_policies::table.find(id)).set(sla_policies::active.eq(false)).execute(conn)?;
    if n == 0 {
        return Err(AppError::NotFound("la política de SLA"));
    }
    reference::changed(conn, Kind::SlaPolicies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> TicketFacts {
        TicketFacts {
            segment: Segment::Proveedor,
            channel: Channel::Phone,
            priority: Priority::High,
            category: Some("pagos".into()),
            queue: None,
        }
    }

    #[test]
    fn empty_conditions_match_everything() {
        assert!(Conditions::default().matches(&facts()));
    }

    #[test]
    fn every_listed_condition_must_hold() {
        let c = Conditions {
            segments: Some(vec![Segment::Proveedor]),
            categories: Some(vec!["pagos".into(), "licitaciones".into()]),
            ..Default::default()
        };
        assert!(c.matches(&facts()));
        let wrong_channel = Conditions { channels: Some(vec![Channel::Email]), ..c.clone() };
        assert!(!wrong_channel.matches(&facts()));
        // A ticket without a queue does not match a queue condition.
        let queue = Conditions { queues: Some(vec!["mesa-de-ayuda".into()]), ..Default::default() };
        assert!(!queue.matches(&facts()));
    }

    #[test]
    fn snapshot_resolves_targets_for_the_priority() {
        let policy = PolicyView {
            id: 3,
            name: "Proveedores".into(),
            position: 1,
            active: true,
            conditions: Conditions::default(),
            targets: [
                (Metric::FirstReply, [(Priority::High, 120), (Priority::Normal, 540)].into_iter().collect()),
                (Metric::Resolution, [(Priority::Normal, 2700)].into_iter().collect()),
            ]
            .into_iter()
            .collect(),
            pause_statuses: BTreeMap::new(),
            calendar_id: 1,
            warn_percent: Some(75),
            warn_before_minutes: None,
            actions: Actions::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let applied = policy.applied(Priority::High);
        assert_eq!(applied.targets, [(Metric::FirstReply, 120)].into_iter().collect());
        assert_eq!(applied.warn_percent, Some(75));
    }
}
