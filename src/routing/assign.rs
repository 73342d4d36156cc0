//! Assignment: queues hand their waiting tickets to members who are available, skilled and below
//! capacity, most urgent first. A ticket is claimed with a conditional update (never assigned
//! twice); on Postgres the agent is taken with a non-blocking lock so concurrent assigners neither
//! overfill an agent nor wait on each other in a cycle.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{agent_presence_log, agent_skills, agents, queue_members, queues, tickets};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::{backend, DbConnection};
use crate::domain::assignment::{self, Candidate, Capacity, Load, Presence, Strategy};
use crate::domain::event::AssigneeChanged;
use crate::domain::{Actor, TicketEvent};
use crate::domain::{Channel, EventKind, Role, Status};
use crate::error::AppError;
use crate::tickets::log;
use crate::tickets::model::OnReply;
use crate::tickets::model::TicketView;
use crate::tickets::reactions::{Cause, Change, Reaction, Settled};
use crate::tickets::store;

/// Waiting tickets looked at per drain or pull: bounds the work of one request.
const DRAIN_BATCH: usize = 100;

/// Statuses that hold an agent's capacity and that a queue hands out.
pub const OPEN: [&str; 4] = ["new", "open", "pending", "on_hold"];

fn capacity_of(value: JsonValue) -> Capacity {
    serde_json::from_value(value.0).unwrap_or_default()
}

fn skills_of(conn: &mut DbConnection, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>, AppError> {
    let rows: Vec<(i64, String)> = agent_skills::table
        .filter(agent_skills::agent_id.eq_any(ids))
        .order((agent_skills::agent_id, agent_skills::skill))
        .select((agent_skills::agent_id, agent_skills::skill))
        .load(conn)?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, skill) in rows {
        map.entry(id).or_default().push(skill);
    }
    Ok(map)
}

/// Open tickets per agent and channel.
fn loads_of(conn: &mut DbConnection, ids: &[i64]) -> Result<HashMap<i64, Load>, AppError> {
    let rows: Vec<(Option<i64>, String, i64)> = tickets::table
        .filter(tickets::assignee_id.eq_any(ids))
        .filter(tickets::status.eq_any(OPEN))
        .group_by((tickets::assignee_id, tickets::channel))
        .select((tickets::assignee_id, tickets::channel, diesel::dsl::count_star()))
        .load(conn)?;
    let mut map: HashMap<i64, Load> = HashMap::new();
    for (agent, channel, n) in rows {
        let (Some(agent), Ok(channel)) = (agent, channel.parse::<Channel>()) else { continue };
        let load = map.entry(agent).or_default();
        for _ in 0..n {
            load.add(channel);
        }
    }
    Ok(map)
}

type AgentRoutingRow = (i64, String, Option<UtcTime>, JsonValue);

fn candidates_from(conn: &mut DbConnection, rows: Vec<AgentRoutingRow>) -> Result<Vec<Candidate>, AppError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut skills = skills_of(conn, &ids)?;
    let mut loads = loads_of(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|(agent_id, presence, last, capacity)| Candidate {
            agent_id,
            presence: presence.parse().unwrap_or(Presence::Offline),
            skills: skills.remove(&agent_id).unwrap_or_default(),
            capacity: capacity_of(capacity),
            load: loads.remove(&agent_id).unwrap_or_default(),
            last_assigned_at: last.map(|t| t.0),
        })
        .collect())
}

/// The active members of a queue, as assignment sees them.
pub fn candidates(conn: &mut DbConnection, queue_id: i64) -> Result<Vec<Candidate>, AppError> {
    let rows: Vec<AgentRoutingRow> = queue_members::table
        .inner_join(agents::table)
        .filter(queue_members::queue_id.eq(queue_id))
        .filter(agents::active.eq(true))
        .order(agents::id)
        .select((agents::id, agents::presence, agents::last_assigned_at, agents::capacity))
        .load(conn)?;
    candidates_from(conn, rows)
}

fn candidate(conn: &mut DbConnection, agent_id: i64) -> Result<Candidate, AppError> {
    let rows: Vec<AgentRoutingRow> = agents::table
        .filter(agents::id.eq(agent_id))
        .select((agents::id, agents::presence, agents::last_assigned_at, agents::capacity))
        .load(conn)?;
    candidates_from(conn, rows)?.pop().ok_or(AppError::NotFound("el agente"))
}

/// A queue's strategy and required skills.
pub fn queue_routing(conn: &mut DbConnection, queue_id: i64) -> Result<(Strategy, Vec<String>), AppError> {
    let catalog = crate::catalog::get(conn)?;
    let queue = catalog.queue(queue_id).ok_or(AppError::NotFound("la cola"))?;
    Ok((queue.strategy, queue.required_skills.clone()))
}

/// Gives ticket `id` to `agent` if nobody has it yet; records why.
fn claim(conn: &mut DbConnection, id: i64, agent: i64, actor: Actor, reason: &str) -> Result<bool, AppError> {
    let at = UtcTime::now();
    let taken = diesel::update(tickets::table.find(id).filter(tickets::assignee_id.is_null()))
        .set((tickets::assignee_id.eq(agent), tickets::updated_at.eq(at)))
        .execute(conn)?;
    if taken == 0 {
        return Ok(false);
    }
    diesel::update(agents::table.find(agent)).set(agents::last_assigned_at.eq(at)).execute(conn)?;
    let change = AssigneeChanged { from: None, to: Some(agent), reason: Some(reason.to_owned()) };
    log::record(conn, id, actor, TicketEvent::AssigneeChanged(change), at)?;
    Ok(true)
}

/// Takes the agent for this transaction if nobody else is assigning to them, then re-reads their
/// load (committed work of earlier assigners included) and checks the item still fits.
fn reserve(conn: &mut DbConnection, agent: i64, channel: Channel, skills: &[String]) -> Result<bool, AppError> {
    if !backend::try_lock_agent(conn, agent)? {
        return Ok(false);
    }
    let fresh = candidate(conn, agent)?;
    Ok(fresh.can_take(channel, skills))
}

/// Assigns the waiting ticket `id` by its queue's strategy; `None` if it has to wait.
pub fn try_assign(conn: &mut DbConnection, id: i64) -> Result<Option<i64>, AppError> {
    let (queue, channel, assignee, status): (Option<i64>, String, Option<i64>, String) = tickets::table
        .find(id)
        .select((tickets::queue_id, tickets::channel, tickets::assignee_id, tickets::status))
        .first(conn)?;
    let (Some(queue), None, true) = (queue, assignee, OPEN.contains(&status.as_str())) else { return Ok(None) };
    let channel: Channel = channel.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("ticket {id} channel")))?;
    assign_waiting(conn, id, queue, channel)
}

/// Assigns ticket `id`, known to be open, unassigned and waiting in `queue`, by the queue's
/// strategy (as [`try_assign`], for a transaction that already knows the ticket).
pub fn assign_waiting(conn: &mut DbConnection, id: i64, queue: i64, channel: Channel) -> Result<Option<i64>, AppError> {
    let (strategy, skills) = queue_routing(conn, queue)?;
    if strategy == Strategy::Manual {
        return Ok(None);
    }
    let mut pool = candidates(conn, queue)?;
    while let Some(agent) = assignment::choose(strategy, &pool, channel, &skills) {
        if reserve(conn, agent, channel, &skills)? {
            let reason = format!("asignación automática ({strategy})");
            return Ok(claim(conn, id, agent, Actor::System, &reason)?.then_some(agent));
        }
        pool.retain(|c| c.agent_id != agent);
    }
    Ok(None)
}

/// Hands out a queue's waiting tickets, most urgent first, while someone can take them.
pub fn drain(conn: &mut DbConnection, queue: i64) -> Result<usize, AppError> {
    if queue_routing(conn, queue)?.0 == Strategy::Manual {
        return Ok(0);
    }
    let (mut assigned, mut seen) = (0, Vec::new());
    while let Some((id, _)) = backend::next_waiting(conn, queue, &seen)? {
        if try_assign(conn, id)?.is_some() {
            assigned += 1;
        }
        seen.push(id);
        if seen.len() >= DRAIN_BATCH {
            break;
        }
    }
    Ok(assigned)
}

/// Capacity of `agent` freed up (work solved or moved, presence back to available): every queue
/// they serve gets a chance to hand out waiting work.
pub fn capacity_freed(conn: &mut DbConnection, agent: i64) -> Result<(), AppError> {
    let queues: Vec<i64> =
        queue_members::table.filter(queue_members::agent_id.eq(agent)).select(queue_members::queue_id).load(conn)?;
    for queue in queues {
        drain(conn, queue)?;
    }
    Ok(())
}

/// What a ticket change means for assignment: work that left an agent frees their capacity, and a
/// ticket left without an agent (new queue, unassigned, reopened) looks for one.
pub fn after_change(
    conn: &mut DbConnection,
    id: i64,
    before_assignee: Option<i64>,
    before_status: &str,
) -> Result<(), AppError> {
    let (assignee, status, queue): (Option<i64>, String, Option<i64>) =
        tickets::table.find(id).select((tickets::assignee_id, tickets::status, tickets::queue_id)).first(conn)?;
    let open = OPEN.contains(&status.as_str());
    if let Some(agent) = before_assignee.filter(|a| assignee != Some(*a) || (!open && OPEN.contains(&before_status))) {
        capacity_freed(conn, agent)?;
    }
    if assignee.is_none() && open && queue.is_some() {
        try_assign(conn, id)?;
    }
    Ok(())
}

/// Why a ticket went to the agent who replied to it.
pub const TAKEN_ON_REPLY: &str = "respondió el ticket sin asignar";

/// An agent's public reply on a ticket nobody has makes it theirs: the same conditional claim as
/// taking it from the queue (an assignment that got there first wins), logged and counted in their
/// open work. Like a manual assignment it does not wait for capacity: they are already on it.
pub fn take_on_reply(conn: &mut DbConnection, id: i64, agent: i64) -> Result<bool, AppError> {
    if store::assignable(conn, agent)?.is_none() {
        return Ok(false);
    }
    claim(conn, id, agent, Actor::Agent(agent), TAKEN_ON_REPLY)
}

/// Pull mode: the most urgent ticket of the queue that `agent` may take, now theirs.
pub fn next_for(conn: &mut DbConnection, queue: i64, agent: i64) -> Result<Option<TicketView>, AppError> {
    let member: i64 = queue_members::table
        .filter(queue_members::queue_id.eq(queue))
        .filter(queue_members::agent_id.eq(agent))
        .count()
        .get_result(conn)?;
    if member == 0 {
        return Err(AppError::Conflict("No es miembro de esta cola.".into()));
    }
    let (_, skills) = queue_routing(conn, queue)?;
    if !backend::try_lock_agent(conn, agent)? {
        return Err(AppError::Conflict("Ya se le está asignando trabajo; intente de nuevo.".into()));
    }
    let me = Candidate { presence: Presence::Available, ..candidate(conn, agent)? };
    let mut seen = Vec::new();
    while let Some((id, channel)) = backend::next_waiting(conn, queue, &seen)? {
        let channel: Channel = channel.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("ticket {id}")))?;
        if me.can_take(channel, &skills) && claim(conn, id, agent, Actor::Agent(agent), "tomado de la cola")? {
            return Ok(Some(store::get(conn, id)?));
        }
        seen.push(id);
        if seen.len() >= DRAIN_BATCH {
            break;
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------- agents' routing profile

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentRouting {
    pub agent_id: i64,
    pub presence: Presence,
    pub presence_since: Option<DateTime<Utc>>,
    pub skills: Vec<String>,
    pub capacity: Capacity,
    /// Open tickets per channel.
    #[schema(value_type = Object)]
    pub load: HashMap<String, u32>,
    /// Slugs of the queues the agent serves.
    pub queues: Vec<String>,
}

pub fn agent_routing(conn: &mut DbConnection, agent: i64) -> Result<AgentRouting, AppError> {
    routings(conn, &[agent])?.pop().ok_or(AppError::NotFound("el agente"))
}

/// Every active agent, supervisor and admin: what a supervisor watches (presence and since when,
/// open work per channel, queues), by name.
pub fn team_routing(conn: &mut DbConnection) -> Result<Vec<AgentRouting>, AppError> {
    let staff: Vec<i64> = agents::table
        .filter(agents::active.eq(true))
        .filter(agents::role.eq_any([Role::Agent.as_str(), Role::Supervisor.as_str(), Role::Admin.as_str()]))
        .order((agents::name, agents::id))
        .select(agents::id)
        .load(conn)?;
    routings(conn, &staff)
}

/// The routing view of the agents `ids`, in that order: the same few queries for one agent or for
/// the whole team (a wallboard asks for the team every 15 s).
fn routings(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<AgentRouting>, AppError> {
    let rows: Vec<(AgentRoutingRow, Option<UtcTime>)> = agents::table
        .filter(agents::id.eq_any(ids))
        .select(((agents::id, agents::presence, agents::last_assigned_at, agents::capacity), agents::presence_since))
        .load(conn)?;
    let mut since: HashMap<i64, Option<UtcTime>> = rows.iter().map(|(r, at)| (r.0, *at)).collect();
    let mut candidates: HashMap<i64, Candidate> = candidates_from(conn, rows.into_iter().map(|(r, _)| r).collect())?
        .into_iter()
        .map(|c| (c.agent_id, c))
        .collect();
    let mut queues_of: HashMap<i64, Vec<String>> = HashMap::new();
    let memberships: Vec<(i64, String)> = queue_members::table
        .inner_join(queues::table)
        .filter(queue_members::agent_id.eq_any(ids))
        .order(queues::slug)
        .select((queue_members::agent_id, queues::slug))
        .load(conn)?;
    for (agent, slug) in memberships {
        queues_of.entry(agent).or_default().push(slug);
    }
    Ok(ids
        .iter()
        .filter_map(|id| candidates.remove(id))
        .map(|c| AgentRouting {
            agent_id: c.agent_id,
            presence: c.presence,
            presence_since: since.remove(&c.agent_id).flatten().map(|t| t.0),
            load: Channel::ALL.iter().map(|ch| (ch.as_str().to_owned(), c.load.of(*ch))).collect(),
            queues: queues_of.remove(&c.agent_id).unwrap_or_default(),
            skills: c.skills,
            capacity: c.capacity,
        })
        .collect())
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRoutingPatch {
    /// Replaces the agent's skills (e.g. `convenio_marco`, `licitaciones`, `proveedores`).
    pub skills: Option<Vec<String>>,
    pub capacity: Option<Capacity>,
}

/// Skills are lowercase words: letters, digits, `_` and `-`.
pub fn skill_list(field: &str, values: &[String]) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let s = v.trim().to_lowercase();
        let ok = (1..=50).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(AppError::field(field, format!("«{v}» no es una habilidad válida (a-z, 0-9, _ y -)")));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

pub fn patch_agent(conn: &mut DbConnection, agent: i64, patch: AgentRoutingPatch) -> Result<AgentRouting, AppError> {
    crate::directory::get_agent(conn, agent)?;
    if let Some(skills) = &patch.skills {
        let skills = skill_list("skills", skills)?;
        diesel::delete(agent_skills::table.filter(agent_skills::agent_id.eq(agent))).execute(conn)?;
        for skill in skills {
            diesel::insert_into(agent_skills::table)
                .values((agent_skills::agent_id.eq(agent), agent_skills::skill.eq(skill)))
                .execute(conn)?;
        }
    }
    if let Some(capacity) = &patch.capacity {
        let value = serde_json::to_value(capacity).map_err(anyhow::Error::from)?;
        diesel::update(agents::table.find(agent)).set(agents::capacity.eq(JsonValue(value))).execute(conn)?;
    }
    // More skills or room may let waiting work through.
    capacity_freed(conn, agent)?;
    agent_routing(conn, agent)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    pub presence: Presence,
    /// Going offline: give the agent's unstarted (`new`) tickets back to their queues.
    #[serde(default)]
    pub return_work: bool,
}

pub fn set_presence(conn: &mut DbConnection, agent: i64, req: PresenceRequest) -> Result<AgentRouting, AppError> {
    let current = candidate(conn, agent)?;
    let at = UtcTime::now();
    if current.presence != req.presence {
        diesel::update(agents::table.find(agent))
            .set((agents::presence.eq(req.presence.as_str()), agents::presence_since.eq(at)))
            .execute(conn)?;
        diesel::insert_into(agent_presence_log::table)
            .values((
                agent_presence_log::agent_id.eq(agent),
                agent_presence_log::presence.eq(req.presence.as_str()),
                agent_presence_log::at.eq(at),
            ))
            .execute(conn)?;
    }
    if req.presence == Presence::Offline && req.return_work {
        let unstarted: Vec<(i64, Option<i64>)> = tickets::table
            .filter(tickets::assignee_id.eq(agent))
            .filter(tickets::status.eq(Status::New.as_str()))
            .select((tickets::id, tickets::queue_id))
            .load(conn)?;
        let mut queues = Vec::new();
        for (id, queue) in unstarted {
            diesel::update(tickets::table.find(id))
                .set((tickets::assignee_id.eq(None::<i64>), tickets::updated_at.eq(at)))
                .execute(conn)?;
            let reason = Some("agente desconectado: vuelve a la cola".to_owned());
            let change = TicketEvent::AssigneeChanged(AssigneeChanged { from: Some(agent), to: None, reason });
            log::record(conn, id, Actor::Agent(agent), change, at)?;
            queues.extend(queue.filter(|q| !queues.contains(q)));
        }
        for queue in queues {
            drain(conn, queue)?;
        }
    }
    if req.presence == Presence::Available {
        capacity_freed(conn, agent)?;
    }
    agent_routing(conn, agent)
}

// ---------------------------------------------------------------- queues' routing settings

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueRouting {
    pub queue_id: i64,
    pub strategy: Strategy,
    pub required_skills: Vec<String>,
    /// Agent ids.
    pub members: Vec<i64>,
    /// Open tickets without an agent.
    pub waiting: i64,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueRoutingPatch {
    pub strategy: Option<Strategy>,
    pub required_skills: Option<Vec<String>>,
    /// Replaces the members (agent ids).
    pub members: Option<Vec<i64>>,
}

/// A page size for [`waiting`]: 1–100, default 25.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitingQuery {
    /// How many, 1–100 (default 25).
    pub limit: Option<i64>,
}

/// The queue's waiting tickets in the order assignment takes them: earliest SLA breach time
/// (tickets without one last), then priority, then age.
pub fn waiting(conn: &mut DbConnection, queue: i64, q: &WaitingQuery) -> Result<Vec<TicketView>, AppError> {
    crate::directory::get_queue(conn, queue)?;
    let limit = crate::paging::page_limit(q.limit)?;
    let ids = backend::waiting_order(conn, queue, limit)?;
    ids.into_iter().map(|id| store::get(conn, id)).collect()
}

pub fn queue_view(conn: &mut DbConnection, queue: i64) -> Result<QueueRouting, AppError> {
    crate::directory::get_queue(conn, queue)?;
    let (strategy, required_skills) = queue_routing(conn, queue)?;
    let members = queue_members::table
        .filter(queue_members::queue_id.eq(queue))
        .order(queue_members::agent_id)
        .select(queue_members::agent_id)
        .load(conn)?;
    let waiting = tickets::table
        .filter(tickets::queue_id.eq(queue))
        .filter(tickets::assignee_id.is_null())
        .filter(tickets::status.eq_any(OPEN))
        .count()
        .get_result(conn)?;
    Ok(QueueRouting { queue_id: queue, strategy, required_skills, members, waiting })
}

pub fn set_members(conn: &mut DbConnection, queue: i64, agents_ids: &[i64], plan: Option<i64>) -> Result<(), AppError> {
    for agent in agents_ids {
        let ok: i64 = agents::table
            .filter(agents::id.eq(agent))
            .filter(agents::active.eq(true))
            .filter(agents::role.ne("integration"))
            .count()
            .get_result(conn)?;
        if ok == 0 {
            return Err(AppError::field("members", format!("no existe un agente activo con id {agent}")));
        }
    }
    diesel::delete(queue_members::table.filter(queue_members::queue_id.eq(queue))).execute(conn)?;
    for agent in agents_ids {
        diesel::insert_into(queue_members::table)
            .values((
                queue_members::queue_id.eq(queue),
                queue_members::agent_id.eq(agent),
                queue_members::rotation_plan_id.eq(plan),
                queue_members::created_at.eq(UtcTime::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn patch_queue(conn: &mut DbConnection, queue: i64, patch: QueueRoutingPatch) -> Result<QueueRouting, AppError> {
    crate::directory::get_queue(conn, queue)?;
    if let Some(strategy) = patch.strategy {
        diesel::update(queues::table.find(queue)).set(queues::strategy.eq(strategy.as_str())).execute(conn)?;
    }
    if let Some(skills) = &patch.required_skills {
        let skills = skill_list("required_skills", skills)?;
        let value = serde_json::to_value(skills).map_err(anyhow::Error::from)?;
        diesel::update(queues::table.find(queue)).set(queues::required_skills.eq(JsonValue(value))).execute(conn)?;
    }
    if patch.strategy.is_some() || patch.required_skills.is_some() {
        crate::catalog::changed(conn)?;
    }
    if let Some(members) = &patch.members {
        set_members(conn, queue, members, None)?;
    }
    drain(conn, queue)?;
    queue_view(conn, queue)
}

/// Assignment after a change: a new ticket goes to its queue's next agent (unless the rules
/// already moved it), an agent's first public reply may make the ticket theirs, and a ticket
/// that left someone's open work or came back unassigned frees or takes capacity.
pub struct Assignment;

impl Reaction for Assignment {
    fn settle(&self, conn: &mut DbConnection, change: &Change<'_>, settled: &mut Settled) -> Result<(), AppError> {
        let id = change.ticket_id;
        match change.cause {
            Cause::Created { queue_id, channel, assignee_id: None, .. } if !settled.moved => {
                settled.moved |= assign_waiting(conn, id, queue_id, channel)?.is_some();
            }
            Cause::Created { .. } | Cause::Merged => {}
            Cause::Updated { before, .. } => after_change(conn, id, before.assignee_id, &before.status)?,
            Cause::Message { before, on_reply, .. } => {
                let unassigned = before.assignee_id.is_none();
                if let (true, true, OnReply::Assign, Actor::Agent(agent)) =
                    (change.is_public_reply(), unassigned, on_reply, change.actor)
                {
                    // Before `after_change`: an opened ticket without assignee would go to the queue.
                    take_on_reply(conn, id, agent)?;
                }
                if change.has(EventKind::StatusChanged) {
                    after_change(conn, id, before.assignee_id, &before.status)?;
                }
            }
        }
        Ok(())
    }
}
