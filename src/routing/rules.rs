//! Routing rules: stored in order, compiled once per replica (recompiled when the rules change
//! anywhere), and applied to each new ticket, leaving a `routed` event that says why.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use utoipa::ToSchema;

use crate::db::schema::{agents, categories, queues, requesters, routing_rules, tickets};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::DbConnection;
use crate::domain::event::{Routed, RuleRef};
pub use crate::domain::routing::Origin;
use crate::domain::routing::{self, Actions, Conditions, Decision, Facts, Rule};
use crate::domain::{segment, Channel, EventKind, Priority, Segment};
use crate::domain::{Actor, TicketEvent};
use crate::error::{AppError, FieldError};
use crate::reference::{self, Cache, Kind};
use crate::tickets::log;
use crate::tickets::model::UpdateTicketRequest;
use crate::tickets::reactions::{Cause, Change, Reaction, Settled};
use crate::tickets::store;

/// The reason recorded on changes made by the rules.
pub const ROUTED: &str = "regla de enrutamiento";

/// Calendar whose opening hours the `business_hours` condition follows.
pub const SERVICE_CALENDAR: &str = "horario-habil";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    /// Evaluation order, lowest first; defaults to after the last rule.
    pub position: Option<i64>,
    pub active: Option<bool>,
    /// Also run when a person changes the ticket's category or priority (default: only on creation).
    pub on_update: Option<bool>,
    #[serde(default)]
    pub conditions: Conditions,
    pub actions: Actions,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub active: bool,
    pub on_update: bool,
    pub conditions: Conditions,
    pub actions: Actions,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type RuleRow = (i64, String, i64, bool, bool, JsonValue, JsonValue, UtcTime, UtcTime);

fn view(row: RuleRow) -> Result<RuleView, AppError> {
    let (id, name, position, active, on_update, conditions, actions, created, updated) = row;
    let bad = |e: serde_json::Error| AppError::Internal(anyhow::anyhow!("routing rule {id}: {e}"));
    Ok(RuleView {
        id,
        name,
        position,
        active,
        on_update,
        conditions: serde_json::from_value(conditions.0).map_err(bad)?,
        actions: serde_json::from_value(actions.0).map_err(bad)?,
        created_at: created.0,
        updated_at: updated.0,
    })
}

fn rows(conn: &mut DbConnection, only_active: bool) -> Result<Vec<RuleRow>, AppError> {
    let mut query = routing_rules::table
        .select((
            routing_rules::id,
            routing_rules::name,
            routing_rules::position,
            routing_rules::active,
            routing_rules::on_update,
            routing_rules::conditions,
            routing_rules::actions,
            routing_rules::created_at,
            routing_rules::updated_at,
        ))
        .order((routing_rules::position.asc(), routing_rules::id.asc()))
        .into_boxed();
    if only_active {
        query = query.filter(routing_rules::active.eq(true));
    }
    Ok(query.load(conn)?)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<RuleView>, AppError> {
    rows(conn, false)?.into_iter().map(view).collect()
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<RuleView, AppError> {
    rows(conn, false)?.into_iter().find(|r| r.0 == id).map(view).transpose()?.ok_or(AppError::NotFound("la regla"))
}

/// Validates a rule, including that the queues, categories and agents it names exist.
fn check(conn: &mut DbConnection, input: &RuleInput) -> Result<(), AppError> {
    let mut errors: Vec<FieldError> = match Rule::new(0, &input.name, input.conditions.clone(), input.actions.clone()) {
        Ok(_) => Vec::new(),
        Err(found) => found.into_iter().map(|e| FieldError::new(e.field, e.message)).collect(),
    };
    if let Some(queue) = input.actions.queue.as_deref().filter(|q| !q.is_empty()) {
        let n: i64 =
            queues::table.filter(queues::slug.eq(queue)).filter(queues::active.eq(true)).count().get_result(conn)?;
        if n == 0 {
            errors.push(FieldError::new("actions.queue", format!("no existe la cola «{queue}»")));
        }
    }
    let mut slugs: Vec<(&str, &str)> = Vec::new();
    if let Some(c) = input.actions.category.as_deref().filter(|c| !c.is_empty()) {
        slugs.push(("actions.category", c));
    }
    for c in input.conditions.category.iter().flatten() {
        slugs.push(("conditions.category", c));
    }
    for (field, slug) in slugs {
        let n: i64 = categories::table.filter(categories::slug.eq(slug)).count().get_result(conn)?;
        if n == 0 {
            errors.push(FieldError::new(field, format!("no existe la categoría «{slug}»")));
        }
    }
    if let Some(agent) = input.actions.watcher_id {
        let n: i64 =
            agents::table.filter(agents::id.eq(agent)).filter(agents::active.eq(true)).count().get_result(conn)?;
        if n == 0 {
            errors.push(FieldError::new("actions.watcher_id", format!("no existe un agente activo con id {agent}")));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

fn bump_version(conn: &mut DbConnection) -> Result<(), AppError> {
    reference::changed(conn, Kind::RoutingRules)
}

pub fn save(conn: &mut DbConnection, id: Option<i64>, input: RuleInput) -> Result<RuleView, AppError> {
    check(conn, &input)?;
    let at = UtcTime::now();
    let position = match input.position {
        Some(p) => p,
        None => {
            let last: Option<i64> =
                routing_rules::table.select(diesel::dsl::max(routing_rules::position)).first(conn)?;
            last.unwrap_or(0) + 10
        }
    };
    let conditions = serde_json::to_value(&input.conditions).map_err(anyhow::Error::from)?;
    let actions = serde_json::to_value(&input.actions).map_err(anyhow::Error::from)?;
    let values = (
        routing_rules::name.eq(input.name.trim().to_owned()),
        routing_rules::position.eq(position),
        routing_rules::active.eq(input.active.unwrap_or(true)),
        routing_rules::on_update.eq(input.on_update.unwrap_or(false)),
        routing_rules::conditions.eq(JsonValue(conditions)),
        routing_rules::actions.eq(JsonValue(actions)),
        routing_rules::updated_at.eq(at),
    );
    let id = match id {
        Some(id) => {
            if diesel::update(routing_rules::table.find(id)).set(values).execute(conn)? == 0 {
                return Err(AppError::NotFound("la regla"));
            }
            id
        }
        None => diesel::insert_into(routing_rules::table)
            .values((values, routing_rules::created_at.eq(at)))
            .returning(routing_rules::id)
            .get_result(conn)?,
    };
    bump_version(conn)?;
    get(conn, id)
}

pub fn delete(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    if diesel::delete(routing_rules::table.find(id)).execute(conn)? == 0 {
        return Err(AppError::NotFound("la regla"));
    }
    bump_version(conn)
}

/// The compiled active rules of the database at `version`, shared by this replica's requests.
static CACHE: Cache<RuleSet> = Cache::new(Kind::RoutingRules);

/// The compiled active rules: all of them (run on creation) and those that also run on updates.
#[derive(Default)]
struct RuleSet {
    all: Vec<Rule>,
    on_update: Vec<Rule>,
}

fn active_rules(conn: &mut DbConnection) -> Result<Arc<RuleSet>, AppError> {
    CACHE.get(conn, compile)
}

fn compile(conn: &mut DbConnection) -> Result<RuleSet, AppError> {
    let mut compiled = RuleSet::default();
    for row in rows(conn, true)? {
        let v = view(row)?;
        match Rule::new(v.id, &v.name, v.conditions, v.actions) {
            Ok(rule) => {
                if v.on_update {
                    compiled.on_update.push(rule.clone());
                }
                compiled.all.push(rule);
            }
            // Stored rules were validated; one that no longer compiles is skipped, not fatal.
            Err(e) => tracing::warn!(rule = v.id, errors = ?e, "routing rule skipped"),
        }
    }
    Ok(compiled)
}

/// A ticket-shaped body for the rule tester.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTicket {
    pub channel: Channel,
    #[serde(default)]
    pub segment: Option<Segment>,
    pub organization: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    pub mailbox: Option<String>,
    pub called_number: Option<String>,
    /// When it arrives (decides `business_hours`); defaults to now.
    pub at: Option<DateTime<Utc>>,
    /// A rule not saved yet, tried as if it were active, after the saved ones (where a new rule
    /// goes by default): an administrator sees what it would do before creating it. Its errors
    /// are named `draft.<field>`.
    pub draft: Option<RuleInput>,
}

fn is_open(conn: &mut DbConnection, at: DateTime<Utc>) -> Result<bool, AppError> {
    match crate::sla::calendars::id_of(conn, SERVICE_CALENDAR)? {
        Some(id) => Ok(crate::sla::calendars::business(conn, id)?.is_open(at)),
        None => Ok(true),
    }
}

/// What the rules would do with `ticket`, changing nothing.
pub fn test(conn: &mut DbConnection, ticket: TestTicket) -> Result<Decision, AppError> {
    let set = active_rules(conn)?;
    let mut rules = set.all.clone();
    if let Some(draft) = &ticket.draft {
        let prefixed = |errors: Vec<FieldError>| {
            errors.into_iter().map(|e| FieldError::new(format!("draft.{}", e.field), e.message)).collect()
        };
        match check(conn, draft) {
            Err(AppError::Validation(errors)) => return Err(AppError::Validation(prefixed(errors))),
            other => other?,
        }
        let rule = Rule::new(0, &draft.name, draft.conditions.clone(), draft.actions.clone())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("a checked draft rule did not compile: {e:?}")))?;
        rules.push(rule);
    }
    let rules = &rules;
    let at = ticket.at.unwrap_or_else(Utc::now);
    let facts = Facts {
        channel: ticket.channel,
        // As a new requester's segment would be inferred.
        segment: ticket.segment.unwrap_or_else(|| segment::infer(None, ticket.organization.as_deref())),
        organization: ticket.organization,
        category: ticket.category,
        priority: ticket.priority.unwrap_or(Priority::Normal),
        subject: ticket.subject,
        body: ticket.body,
        mailbox: ticket.mailbox,
        called_number: ticket.called_number,
        business_hours: needs_hours(rules) && is_open(conn, at)?,
    };
    Ok(routing::evaluate(rules, &facts))
}

fn needs_hours(rules: &[Rule]) -> bool {
    rules.iter().any(|r| r.conditions.business_hours.is_some())
}

/// When rules run: on creation all of them; on a person's change of category or priority only
/// those marked `on_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Created,
    Updated,
}

/// Applies the rules to ticket `id` (whose first message is `body`).
pub fn route(
    conn: &mut DbConnection,
    id: i64,
    body: &str,
    origin: &Origin,
    trigger: Trigger,
) -> Result<Option<Decision>, AppError> {
    let set = active_rules(conn)?;
    let rules = match trigger {
        Trigger::Created => &set.all,
        Trigger::Updated => &set.on_update,
    };
    if rules.is_empty() {
        return Ok(None);
    }
    let (channel, priority, subject, segment, organization, category): RouteRow = tickets::table
        .inner_join(requesters::table)
        .left_join(categories::table)
        .filter(tickets::id.eq(id))
        .select((
            tickets::channel,
            tickets::priority,
            tickets::subject,
            requesters::segment,
            requesters::organization,
            categories::slug.nullable(),
        ))
        .first(conn)?;
    let bad = |what: &str| AppError::Internal(anyhow::anyhow!("ticket {id} has an invalid {what}"));
    let facts = Facts {
        channel: channel.parse().map_err(|_| bad("channel"))?,
        segment: segment.parse().map_err(|_| bad("segment"))?,
        organization,
        category,
        priority: priority.parse().map_err(|_| bad("priority"))?,
        subject,
        body: body.to_owned(),
        mailbox: origin.mailbox.clone(),
        called_number: origin.called_number.clone(),
        business_hours: needs_hours(rules) && is_open(conn, Utc::now())?,
    };
    let decision = routing::evaluate(rules, &facts);
    if decision.applied.is_empty() {
        return Ok(None);
    }
    apply(conn, id, &decision)?;
    Ok(Some(decision))
}

/// Re-runs the `on_update` rules after a person changed the category or priority. Changes made
/// by the rules themselves do not trigger them again, so rules cannot loop.
pub fn reroute(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    if active_rules(conn)?.on_update.is_empty() {
        return Ok(());
    }
    let body: Option<String> = crate::db::schema::messages::table
        .filter(crate::db::schema::messages::ticket_id.eq(id))
        .order(crate::db::schema::messages::id.asc())
        .select(crate::db::schema::messages::body_text)
        .first(conn)
        .optional()?;
    route(conn, id, body.as_deref().unwrap_or(""), &Origin::default(), Trigger::Updated)?;
    Ok(())
}

type RouteRow = (String, String, String, String, Option<String>, Option<String>);

fn apply(conn: &mut DbConnection, id: i64, decision: &Decision) -> Result<(), AppError> {
    let tags = if decision.tags.is_empty() {
        None
    } else {
        let mut all = store::get(conn, id)?.tags;
        all.extend(decision.tags.iter().filter(|t| !all.contains(t)).cloned().collect::<Vec<_>>());
        Some(all)
    };
    let routed = Routed {
        rules: decision.applied.iter().map(|a| RuleRef { id: a.rule_id, name: a.rule_name.clone() }).collect(),
        queue: decision.queue.clone(),
        category: decision.category.clone(),
        priority: decision.priority,
        tags: decision.tags.clone(),
        watchers: decision.watchers.clone(),
    };
    log::record(conn, id, Actor::System, TicketEvent::Routed(routed), UtcTime::now())?;
    let update = UpdateTicketRequest {
        queue: decision.queue.clone(),
        category: decision.category.clone().map(Some),
        priority: decision.priority,
        tags,
        reason: Some(ROUTED.into()),
        ..UpdateTicketRequest::default()
    };
    store::update(conn, id, Actor::System, update)?;
    for agent in &decision.watchers {
        super::add_watcher(conn, id, *agent)?;
    }
    Ok(())
}

/// The rules run on a new ticket, and again when it is reclassified by anyone but the rules.
pub struct RoutingRules;

impl Reaction for RoutingRules {
    fn settle(&self, conn: &mut DbConnection, change: &Change<'_>, settled: &mut Settled) -> Result<(), AppError> {
        match change.cause {
            Cause::Created { body, origin, .. } => {
                // Rules that change the queue also trigger assignment (through `store::update`).
                settled.moved |= route(conn, change.ticket_id, body, origin, Trigger::Created)?.is_some();
            }
            Cause::Updated { reason, .. } => {
                let reclassified = change.has(EventKind::PriorityChanged) || change.has(EventKind::CategoryChanged);
                if reclassified && reason != Some(ROUTED) {
                    reroute(conn, change.ticket_id)?;
                }
            }
            Cause::Message { .. } | Cause::Merged => {}
        }
        Ok(())
    }
}
