//! Ticket use cases, each run inside one database transaction: every change and its event-log
//! row commit together or not at all. Each ends by handing what it appended to the registered
//! reactions ([`super::reactions`]): SLA clocks, routing rules and assignment are not called
//! from here.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::America::Santiago;
use diesel::prelude::*;

use super::log::{record, record_all, Logged};
use super::model::*;
use super::reactions::{self, Cause, Change};
use super::requesters::{requester_view, resolve_requester};
use crate::catalog;
use crate::db::models::*;
use crate::db::schema::{agents, categories, messages, queues, requesters, ticket_events, ticket_tags, tickets};
use crate::db::types::UtcTime;
use crate::db::{backend, DbConnection};
use crate::domain::event::{self, Changed};
use crate::domain::routing::Origin;
use crate::domain::text::sanitize_html;
use crate::domain::workspace::{SlaState, OPEN_STATUSES};
use crate::domain::{
    Actor, AuthorType, Channel, Priority, SenderStatus, Status, TicketEvent, TicketKind, TicketNumber, Visibility,
};
use crate::error::AppError;
use crate::paging::{cut_page, decode_cursor, page_limit};

pub const DEFAULT_QUEUE: &str = "mesa-de-ayuda";

/// Validated input of a new ticket.
#[derive(Debug, Clone)]
pub struct NewTicketInput {
    pub subject: String,
    pub body: String,
    pub body_html: Option<String>,
    pub requester_id: Option<i64>,
    pub requester: RequesterData,
    pub channel: Channel,
    pub priority: Priority,
    pub category: Option<String>,
    pub queue: Option<String>,
    pub assignee_id: Option<i64>,
    pub tags: Vec<String>,
    pub kind: TicketKind,
    /// Where it came in (mailbox, dialled number), for the routing rules.
    pub origin: Origin,
    /// The real sender, when the first message is a mail.
    pub sender: Option<Sender>,
    /// Mail the requester the acknowledgement (see [`event::Created::acknowledge`]).
    pub acknowledge: bool,
}

/// The real sender of an inbound mail (its From), and how they relate to the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub email: String,
    pub name: String,
    pub status: SenderStatus,
}

impl CreateTicketRequest {
    pub fn validate(self) -> Result<NewTicketInput, AppError> {
        let mut errors = Errors::default();
        let subject = line(&mut errors, "subject", &self.subject, MAX_SUBJECT);
        let body = body_text(&mut errors, "body", &self.body);
        let requester = self.requester.validate(&mut errors, "requester.");
        let no_contact = requester.email.is_none() && requester.rut.is_none() && requester.phone.is_none();
        let contact_rejected = errors.fields().any(|f| f.starts_with("requester."));
        if self.requester.id.is_none() && no_contact && !contact_rejected {
            errors.add("requester", "indique id, o al menos correo, RUT o teléfono");
        }
        let tags = tags(&mut errors, "tags", &self.tags);
        errors.finish()?;
        Ok(NewTicketInput {
            subject,
            body,
            body_html: self.body_html.as_deref().map(sanitize_html),
            requester_id: self.requester.id,
            requester,
            channel: self.channel.unwrap_or(Channel::Api),
            priority: self.priority.unwrap_or(Priority::Normal),
            category: self.category,
            queue: self.queue,
            assignee_id: self.assignee_id,
            tags,
            kind: TicketKind::Standard,
            origin: Default::default(),
            sender: None,
            acknowledge: self.acknowledge != Some(false),
        })
    }
}

fn now() -> UtcTime {
    UtcTime::now()
}

/// The name of agent `id` if tickets may go to them: active, and a person, not an integration.
pub fn assignable(conn: &mut DbConnection, id: i64) -> Result<Option<String>, AppError> {
    let agent: Option<(String, String)> = agents::table
        .filter(agents::id.eq(id))
        .filter(agents::active.eq(true))
        .select((agents::role, agents::name))
        .first(conn)
        .optional()?;
    Ok(agent.filter(|(role, _)| role != "integration").map(|(_, name)| name))
}

/// The name of the active agent `id`, or a field error.
fn assignee_name(conn: &mut DbConnection, field: &str, id: i64) -> Result<String, AppError> {
    assignable(conn, id)?.ok_or_else(|| AppError::field(field, format!("no existe un agente activo con id {id}")))
}

/// Year of creation in Chile: a ticket created on 31 December at 22:00 local time belongs to
/// that year even though it is already 1 January in UTC.
pub fn santiago_year(at: DateTime<Utc>) -> i32 {
    at.with_timezone(&Santiago).year()
}

/// Creates a ticket with its first message. `actor` is who logged it; `None` means the requester
/// themself (the public web form, an inbound email).
pub fn create(conn: &mut DbConnection, actor: Option<Actor>, input: NewTicketInput) -> Result<TicketView, AppError> {
    let category_id = input.category.as_deref().map(|c| catalog::category_id(conn, "category", c)).transpose()?;
    let queue_slug = input.queue.as_deref().unwrap_or(DEFAULT_QUEUE);
    let queue_id = catalog::queue_id(conn, "queue", queue_slug)?;
    let assignee_name = input.assignee_id.map(|id| assignee_name(conn, "assignee_id", id)).transpose()?;
    let requester = resolve_requester(conn, input.requester_id, &input.requester)?;
    let actor = actor.unwrap_or(Actor::Requester(requester.id));
    let at = now();
    let year = santiago_year(at.0);
    let number = TicketNumber { year, sequence: backend::next_ticket_sequence(conn, year)? }.to_string();
    let facts = crate::sla::policies::TicketFacts {
        segment: parse(&requester.segment, "segment")?,
        channel: input.channel,
        priority: input.priority,
        category: input.category.clone(),
        queue: Some(queue_slug.to_owned()),
    };
    let sla = crate::sla::engine::plan(conn, &facts, at.0)?;
    let id: i64 = diesel::insert_into(tickets::table)
        .values(NewTicket {
            number: &number,
            subject: &input.subject,
            status: Status::New.as_str(),
            priority: input.priority.as_str(),
            channel: input.channel.as_str(),
            category_id,
            queue_id: Some(queue_id),
            assignee_id: input.assignee_id,
            requester_id: requester.id,
            created_at: at,
            updated_at: at,
            kind: input.kind.as_str(),
            next_due_at: sla.next_due_at.map(UtcTime::from),
            sla_state: sla.state.map(|s| s.as_str()),
        })
        .returning(tickets::id)
        .get_result(conn)?;
    let created = TicketEvent::Created(event::Created {
        number: number.clone(),
        subject: input.subject.clone(),
        channel: input.channel,
        priority: input.priority,
        status: Status::New,
        queue: Some(queue_slug.to_owned()),
        category: input.category.clone(),
        assignee_id: input.assignee_id,
        requester_id: requester.id,
        tags: input.tags.clone(),
        kind: input.kind,
        acknowledge: input.acknowledge,
    });
    backend::insert_tags(conn, id, &input.tags)?;
    let author = match actor {
        Actor::Requester(_) => AuthorType::Requester,
        // Generated by the service itself (e.g. the summary of a phone call).
        Actor::System => AuthorType::System,
        Actor::Agent(_) if input.channel == Channel::Api => AuthorType::Agent,
        // A ticket logged by an integration for a channel (email, phone, web) carries the
        // requester's own words.
        Actor::Agent(_) => AuthorType::Requester,
    };
    let (_, message_added) = insert_message(
        conn,
        id,
        actor,
        author,
        requester.id,
        Visibility::Public,
        input.channel,
        &input.body,
        input.body_html.as_deref(),
        at,
        true,
        input.sender.as_ref(),
    )?;
    let mut events = vec![(actor, created), (actor, TicketEvent::MessageAdded(message_added))];
    events.extend(sla.policy.clone().map(|policy| (Actor::System, TicketEvent::SlaPolicyApplied(policy))));
    let logged = record_all(conn, id, events, at)?;
    crate::sla::engine::begin(conn, id, &sla)?;
    let cause = Cause::Created {
        body: &input.body,
        origin: &input.origin,
        queue_id,
        channel: input.channel,
        assignee_id: input.assignee_id,
    };
    if reactions::settle(conn, &Change { ticket_id: id, actor, at, events: &logged, cause })?.moved {
        return get(conn, id);
    }
    // Everything the view shows is known here.
    let row = TicketRow {
        id,
        number,
        subject: input.subject,
        status: Status::New.as_str().to_owned(),
        priority: input.priority.as_str().to_owned(),
        channel: input.channel.as_str().to_owned(),
        category_id,
        queue_id: Some(queue_id),
        assignee_id: input.assignee_id,
        requester_id: requester.id,
        created_at: at,
        updated_at: at,
        solved_at: None,
        closed_at: None,
        kind: input.kind.as_str().to_owned(),
        next_due_at: sla.next_due_at.map(UtcTime::from),
        sla_state: sla.state.map(|s| s.as_str().to_owned()),
    };
    view((row, requester, input.category, Some(queue_slug.to_owned()), assignee_name), input.tags)
}

/// Writes a message and returns its id with its `message_added` event.
#[allow(clippy::too_many_arguments)]
fn insert_message(
    conn: &mut DbConnection,
    ticket_id: i64,
    actor: Actor,
    author: AuthorType,
    requester_id: i64,
    visibility: Visibility,
    channel: Channel,
    body: &str,
    body_html: Option<&str>,
    at: UtcTime,
    initial: bool,
    sender: Option<&Sender>,
) -> Result<(i64, event::MessageAdded), AppError> {
    let (agent_id, requester) = match (author, actor) {
        (AuthorType::Agent, Actor::Agent(id)) => (Some(id), None),
        (AuthorType::Requester, _) => (None, Some(requester_id)),
        _ => (None, None),
    };
    let message_id: i64 = diesel::insert_into(messages::table)
        .values(NewMessage {
            ticket_id,
            author_type: author.as_str(),
            author_agent_id: agent_id,
            author_requester_id: requester,
            visibility: visibility.as_str(),
            channel: channel.as_str(),
            body_text: body,
            body_html,
            created_at: at,
            sender_email: sender.map(|s| s.email.as_str()),
            sender_name: sender.map(|s| s.name.as_str()),
            sender_status: sender.map(|s| s.status.as_str()),
        })
        .returning(messages::id)
        .get_result(conn)?;
    // `initial`: the message that opened the ticket, which is not a reply to anything.
    let added = event::MessageAdded {
        message_id,
        author_type: author,
        visibility,
        channel,
        initial,
        // Followers of the log (the SLA clocks) tell a CC from a stranger by it.
        sender_status: sender.map(|s| s.status),
    };
    Ok((message_id, added))
}

type Joined = (TicketRow, RequesterRow, Option<String>, Option<String>, Option<String>);

fn view(row: Joined, tags: Vec<String>) -> Result<TicketView, AppError> {
    let (t, requester, category, queue, assignee_name) = row;
    Ok(TicketView {
        id: t.id,
        number: t.number,
        subject: t.subject,
        kind: parse(&t.kind, "kind")?,
        status: parse(&t.status, "status")?,
        priority: parse(&t.priority, "priority")?,
        channel: parse(&t.channel, "channel")?,
        category_id: t.category_id,
        category,
        queue_id: t.queue_id,
        queue,
        assignee_id: t.assignee_id,
        assignee_name,
        requester: requester_view(requester)?,
        tags,
        created_at: t.created_at.0,
        updated_at: t.updated_at.0,
        solved_at: t.solved_at.map(|t| t.0),
        closed_at: t.closed_at.map(|t| t.0),
        next_due_at: t.next_due_at.map(|t| t.0),
        sla_state: t.sla_state.as_deref().and_then(SlaState::parse),
    })
}

macro_rules! joined_tickets {
    () => {
        tickets::table
            .inner_join(requesters::table)
            .left_join(categories::table)
            .left_join(queues::table)
            .left_join(agents::table)
            .select((
                TicketRow::as_select(),
                RequesterRow::as_select(),
                categories::slug.nullable(),
                queues::slug.nullable(),
                agents::name.nullable(),
            ))
    };
}

fn tags_of(conn: &mut DbConnection, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>, AppError> {
    let rows: Vec<(i64, String)> = ticket_tags::table
        .filter(ticket_tags::ticket_id.eq_any(ids))
        .order((ticket_tags::ticket_id, ticket_tags::tag))
        .select((ticket_tags::ticket_id, ticket_tags::tag))
        .load(conn)?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, tag) in rows {
        map.entry(id).or_default().push(tag);
    }
    Ok(map)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<TicketView, AppError> {
    let row: Joined =
        joined_tickets!().filter(tickets::id.eq(id)).first(conn).optional()?.ok_or(AppError::NotFound("el ticket"))?;
    let tags = tags_of(conn, &[id])?.remove(&id).unwrap_or_default();
    view(row, tags)
}

/// Accepts a numeric id or a human number such as `AU-2026-000123`.
pub fn resolve_id(conn: &mut DbConnection, key: &str) -> Result<i64, AppError> {
    if let Ok(id) = key.parse::<i64>() {
        return Ok(id);
    }
    let number = TicketNumber::parse(key).ok_or(AppError::NotFound("el ticket"))?;
    tickets::table
        .filter(tickets::number.eq(number.to_string()))
        .select(tickets::id)
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("el ticket"))
}

/// Priorities from the least to the most urgent: the order of `sort=priority`.
const PRIORITY_RANKS: [&str; 4] = ["low", "normal", "high", "urgent"];
const PRIORITY_RANK: &str =
    "CASE tickets.priority WHEN 'urgent' THEN 3 WHEN 'high' THEN 2 WHEN 'normal' THEN 1 ELSE 0 END";

/// The sort key of the ticket a cursor names: (id, updated_at, next_due_at, priority).
type SortKey = (i64, UtcTime, Option<UtcTime>, String);

/// Filtered and sorted (newest first by default). The cursor is the last id seen: the next page
/// starts past that ticket's sort key, so pages stay stable while tickets arrive.
pub fn list(conn: &mut DbConnection, filter: &TicketFilter) -> Result<Page<TicketView>, AppError> {
    let limit = page_limit(filter.limit)?;
    let mut query = joined_tickets!().into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(tickets::status.eq_any(status_list(status)?));
    }
    if let Some(queue) = &filter.queue {
        query = query.filter(tickets::queue_id.eq(catalog::queue_id(conn, "queue", queue)?));
    }
    match filter.assignee.as_deref() {
        None => {}
        Some("none") => query = query.filter(tickets::assignee_id.is_null()),
        Some(id) => {
            let id: i64 = id.parse().map_err(|_| AppError::field("assignee", "debe ser un id, «me» o «none»"))?;
            query = query.filter(tickets::assignee_id.eq(id));
        }
    }
    if let Some(id) = filter.requester_id {
        query = query.filter(tickets::requester_id.eq(id));
    }
    if let Some(category) = &filter.category {
        query = query.filter(tickets::category_id.eq(catalog::category_id(conn, "category", category)?));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(tickets::channel.eq(channel.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(tickets::kind.eq(kind.as_str()));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(tickets::created_at.ge(UtcTime::from(from)));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(tickets::created_at.lt(UtcTime::from(to)));
    }
    if let Some(matching) = filter.q.as_deref().map(|q| crate::search::list_condition(conn, q)).transpose()?.flatten() {
        query = query.filter(matching);
    }
    if let Some(sla) = filter.sla {
        let state = match sla {
            SlaFilter::Warning => SlaState::Warning,
            SlaFilter::Breached => SlaState::Breached,
        };
        query = query
            .filter(tickets::sla_state.eq(state.as_str()))
            .filter(tickets::status.eq_any(OPEN_STATUSES.map(|s| s.as_str())));
    }
    let sort = filter.sort.unwrap_or_default();
    let desc = filter.order.map_or(sort != TicketSort::Due, |o| o == SortOrder::Desc);
    let after = filter.cursor.as_deref().map(decode_cursor).transpose()?;
    let key: Option<SortKey> = match after {
        Some(id) if sort != TicketSort::Created => {
            let key = tickets::table
                .find(id)
                .select((tickets::id, tickets::updated_at, tickets::next_due_at, tickets::priority))
                .first(conn)
                .optional()?;
            // Tickets are never deleted: a cursor naming none was not handed out, and has nothing after it.
            let Some(key) = key else { return Ok(Page { items: Vec::new(), next_cursor: None }) };
            Some(key)
        }
        _ => None,
    };
    match sort {
        TicketSort::Created => {
            if let Some(id) = after {
                query = if desc { query.filter(tickets::id.lt(id)) } else { query.filter(tickets::id.gt(id)) };
            }
            query = if desc { query.order(tickets::id.desc()) } else { query.order(tickets::id.asc()) };
        }
        TicketSort::Updated => {
            if let Some((id, at, _, _)) = key {
                query = if desc {
                    query.filter(tickets::updated_at.lt(at).or(tickets::updated_at.eq(at).and(tickets::id.lt(id))))
                } else {
                    query.filter(tickets::updated_at.gt(at).or(tickets::updated_at.eq(at).and(tickets::id.gt(id))))
                };
            }
            query = if desc {
                query.order((tickets::updated_at.desc(), tickets::id.desc()))
            } else {
                query.order((tickets::updated_at.asc(), tickets::id.asc()))
            };
        }
        // Tickets without a due time come last in both orders.
        TicketSort::Due => {
            let due = tickets::next_due_at;
            query = match (key, desc) {
                (None, _) => query,
                (Some((id, _, Some(v), _)), false) => {
                    query.filter(due.gt(v).or(due.eq(v).and(tickets::id.gt(id))).or(due.is_null()))
                }
                (Some((id, _, Some(v), _)), true) => {
                    query.filter(due.lt(v).or(due.eq(v).and(tickets::id.lt(id))).or(due.is_null()))
                }
                (Some((id, _, None, _)), false) => query.filter(due.is_null().and(tickets::id.gt(id))),
                (Some((id, _, None, _)), true) => query.filter(due.is_null().and(tickets::id.lt(id))),
            };
            query = if desc {
                query.order((due.is_null(), due.desc(), tickets::id.desc()))
            } else {
                query.order((due.is_null(), due.asc(), tickets::id.asc()))
            };
        }
        TicketSort::Priority => {
            if let Some((id, _, _, priority)) = key {
                let rank = PRIORITY_RANKS.iter().position(|p| *p == priority).unwrap_or(0);
                let same = tickets::priority.eq(priority);
                query = if desc {
                    let below = PRIORITY_RANKS[..rank].to_vec();
                    query.filter(tickets::priority.eq_any(below).or(same.and(tickets::id.lt(id))))
                } else {
                    let above = PRIORITY_RANKS[rank + 1..].to_vec();
                    query.filter(tickets::priority.eq_any(above).or(same.and(tickets::id.gt(id))))
                };
            }
            let rank = diesel::dsl::sql::<diesel::sql_types::Integer>(PRIORITY_RANK);
            query = if desc {
                query.order((rank.desc(), tickets::id.desc()))
            } else {
                query.order((rank.asc(), tickets::id.asc()))
            };
        }
    }
    let rows: Vec<Joined> = query.limit(limit + 1).load(conn)?;
    let (rows, next_cursor) = cut_page(rows, limit, |row| row.0.id);
    let ids: Vec<i64> = rows.iter().map(|r| r.0.id).collect();
    let mut tags = tags_of(conn, &ids)?;
    let items = rows
        .into_iter()
        .map(|row| {
            let id = row.0.id;
            view(row, tags.remove(&id).unwrap_or_default())
        })
        .collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// Moves the ticket to `to` if legal, stamping solved/closed times and recording the event.
fn change_status(
    conn: &mut DbConnection,
    t: &TicketRow,
    to: Status,
    actor: Actor,
    at: UtcTime,
) -> Result<Option<Logged>, AppError> {
    let from: Status = parse(&t.status, "status")?;
    from.check_transition(to)?;
    if from == to {
        return Ok(None);
    }
    let solved_at = match to {
        Status::Solved => Some(at),
        Status::Closed => t.solved_at,
        _ => None,
    };
    let closed_at = (to == Status::Closed).then_some(at);
    diesel::update(tickets::table.find(t.id))
        .set((tickets::status.eq(to.as_str()), tickets::solved_at.eq(solved_at), tickets::closed_at.eq(closed_at)))
        .execute(conn)?;
    Ok(Some(record(conn, t.id, actor, TicketEvent::StatusChanged(Changed { from, to }), at)?))
}

/// Closes `id` as folded into the ticket `into` (number `into_number`): merging is the one way to
/// close a ticket that was never solved. Every SLA clock of the merged ticket is cancelled.
pub fn merge_into(
    conn: &mut DbConnection,
    id: i64,
    actor: Actor,
    into: i64,
    into_number: &str,
) -> Result<(), AppError> {
    let t = load_row(conn, id)?;
    let from: Status = parse(&t.status, "status")?;
    if from == Status::Closed {
        return Err(crate::domain::ticket::TransitionError::Closed.into());
    }
    let at = now();
    diesel::update(tickets::table.find(id))
        .set((tickets::status.eq(Status::Closed.as_str()), tickets::closed_at.eq(at), tickets::updated_at.eq(at)))
        .execute(conn)?;
    let logged = vec![
        record(conn, id, actor, TicketEvent::Merged(event::Merged { into, into_number: into_number.to_owned() }), at)?,
        record(conn, id, actor, TicketEvent::StatusChanged(Changed { from, to: Status::Closed }), at)?,
    ];
    reactions::settle(conn, &Change { ticket_id: id, actor, at, events: &logged, cause: Cause::Merged })?;
    Ok(())
}

fn load_row(conn: &mut DbConnection, id: i64) -> Result<TicketRow, AppError> {
    tickets::table
        .find(id)
        .select(TicketRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("el ticket"))
}

/// Changes the fields `req` names (validated first; a closed ticket refuses) and runs the
/// reactions; [`get`] shows the result to whoever needs it.
pub fn update(conn: &mut DbConnection, id: i64, actor: Actor, req: UpdateTicketRequest) -> Result<(), AppError> {
    let mut errors = Errors::default();
    let subject = req.subject.as_deref().map(|s| line(&mut errors, "subject", s, MAX_SUBJECT));
    let new_tags = req.tags.as_deref().map(|t| tags(&mut errors, "tags", t));
    errors.finish()?;

    let t = load_row(conn, id)?;
    let current: Status = parse(&t.status, "status")?;
    if current == Status::Closed {
        return Err(crate::domain::ticket::TransitionError::Closed.into());
    }
    let at = now();
    let mut logged = Vec::new();
    if let Some(to) = req.status {
        logged.extend(change_status(conn, &t, to, actor, at)?);
    }
    // The other fields and `updated_at` in one statement, their events in another.
    let mut set = Columns { updated_at: Some(at), ..Columns::default() };
    let mut events = Vec::new();
    if let Some(subject) = subject.filter(|s| *s != t.subject) {
        events.push(TicketEvent::SubjectChanged(Changed { from: t.subject.clone(), to: subject.clone() }));
        set.subject = Some(subject);
    }
    if let Some(priority) = req.priority.filter(|p| p.as_str() != t.priority) {
        events.push(TicketEvent::PriorityChanged(Changed { from: parse(&t.priority, "priority")?, to: priority }));
        set.priority = Some(priority.as_str());
    }
    if let Some(slug) = &req.queue {
        let new = catalog::queue_id(conn, "queue", slug)?;
        if Some(new) != t.queue_id {
            let change = event::QueueChanged {
                from: t.queue_id,
                to: Some(new),
                queue: Some(slug.clone()),
                reason: req.reason.clone(),
            };
            events.push(TicketEvent::QueueChanged(change));
            set.queue_id = Some(Some(new));
        }
    }
    if let Some(category) = &req.category {
        let new = category.as_deref().map(|c| catalog::category_id(conn, "category", c)).transpose()?;
        if new != t.category_id {
            events.push(TicketEvent::CategoryChanged(event::CategoryChanged {
                from: t.category_id,
                to: new,
                category: category.clone(),
            }));
            set.category_id = Some(new);
        }
    }
    if let Some(assignee) = req.assignee_id {
        if let Some(agent) = assignee {
            assignee_name(conn, "assignee_id", agent)?;
        }
        if assignee != t.assignee_id {
            let change = event::AssigneeChanged { from: t.assignee_id, to: assignee, reason: req.reason.clone() };
            events.push(TicketEvent::AssigneeChanged(change));
            set.assignee_id = Some(assignee);
        }
    }
    diesel::update(tickets::table.find(id)).set(&set).execute(conn)?;
    if let Some(new_tags) = new_tags {
        let old = tags_of(conn, &[id])?.remove(&id).unwrap_or_default();
        let added: Vec<String> = new_tags.iter().filter(|t| !old.contains(t)).cloned().collect();
        let removed: Vec<String> = old.iter().filter(|t| !new_tags.contains(t)).cloned().collect();
        if !added.is_empty() || !removed.is_empty() {
            diesel::delete(ticket_tags::table.filter(ticket_tags::ticket_id.eq(id))).execute(conn)?;
            backend::insert_tags(conn, id, &new_tags)?;
            events.push(TicketEvent::TagsChanged(event::TagsChanged { added, removed }));
        }
    }
    if !events.is_empty() {
        logged.extend(record_all(conn, id, events.into_iter().map(|e| (actor, e)).collect(), at)?);
    }
    let cause = Cause::Updated { before: &t, reason: req.reason.as_deref() };
    reactions::settle(conn, &Change { ticket_id: id, actor, at, events: &logged, cause })?;
    Ok(())
}

/// The columns an update sets besides the status; `None` leaves one as it is.
#[derive(AsChangeset, Default)]
#[diesel(table_name = tickets)]
struct Columns {
    subject: Option<String>,
    priority: Option<&'static str>,
    queue_id: Option<Option<i64>>,
    category_id: Option<Option<i64>>,
    assignee_id: Option<Option<i64>>,
    updated_at: Option<UtcTime>,
}

fn touch(conn: &mut DbConnection, id: i64, at: UtcTime) -> Result<(), AppError> {
    diesel::update(tickets::table.find(id)).set(tickets::updated_at.eq(at)).execute(conn)?;
    Ok(())
}

pub fn add_message(
    conn: &mut DbConnection,
    id: i64,
    actor: Actor,
    req: CreateMessageRequest,
    on_reply: OnReply,
) -> Result<MessageView, AppError> {
    append(conn, id, actor, req, None, on_reply)
}

/// Adds an inbound mail from `sender` (its real From): written by the requester only when the
/// sender is the requester; a CC's answers for the requester's side (reopens, counts for SLA); a
/// stranger's is stored and flagged, and changes nothing else.
pub fn add_mail_message(
    conn: &mut DbConnection,
    id: i64,
    actor: Actor,
    req: CreateMessageRequest,
    sender: &Sender,
) -> Result<MessageView, AppError> {
    append(conn, id, actor, req, Some(sender), OnReply::Keep)
}

fn append(
    conn: &mut DbConnection,
    id: i64,
    actor: Actor,
    req: CreateMessageRequest,
    sender: Option<&Sender>,
    on_reply: OnReply,
) -> Result<MessageView, AppError> {
    let mut errors = Errors::default();
    let body = body_text(&mut errors, "body", &req.body);
    errors.finish()?;
    let t = load_row(conn, id)?;
    let visibility = req.visibility.unwrap_or(Visibility::Public);
    let author = match sender {
        Some(sender) => sender.status.author(),
        None if req.from_requester => AuthorType::Requester,
        None => AuthorType::Agent,
    };
    if author != AuthorType::Agent && visibility == Visibility::Internal {
        return Err(AppError::field("visibility", "un mensaje del solicitante no puede ser una nota interna"));
    }
    // A CC answers for the requester; a stranger for nobody.
    let side = author.counts_as(sender.map(|s| s.status));
    let current: Status = parse(&t.status, "status")?;
    let after = current.after_message(side, visibility)?;
    let at = now();
    // A mail is a message by mail, whatever channel opened the ticket.
    let channel: Channel = if sender.is_some() { Channel::Email } else { parse(&t.channel, "channel")? };
    let html = req.body_html.as_deref().map(sanitize_html);
    let (message_id, added) = insert_message(
        conn,
        id,
        actor,
        author,
        t.requester_id,
        visibility,
        channel,
        &body,
        html.as_deref(),
        at,
        false,
        sender,
    )?;
    let mut logged = vec![record(conn, id, actor, TicketEvent::MessageAdded(added), at)?];
    let target = req.status.unwrap_or(after);
    if target != current {
        logged.extend(change_status(conn, &t, after, actor, at)?);
        if target != after {
            let moved = load_row(conn, id)?;
            logged.extend(change_status(conn, &moved, target, actor, at)?);
        }
    }
    touch(conn, id, at)?;
    let cause = Cause::Message { before: &t, message_id, author, side, visibility, on_reply };
    reactions::settle(conn, &Change { ticket_id: id, actor, at, events: &logged, cause })?;
    message(conn, message_id)
}

fn message_view(m: MessageRow) -> Result<MessageView, AppError> {
    Ok(MessageView {
        id: m.id,
        ticket_id: m.ticket_id,
        author_type: parse(&m.author_type, "author_type")?,
        author_agent_id: m.author_agent_id,
        author_name: None,
        author_requester_id: m.author_requester_id,
        visibility: parse(&m.visibility, "visibility")?,
        channel: parse(&m.channel, "channel")?,
        body: m.body_text,
        body_html: m.body_html,
        created_at: m.created_at.0,
        sender_email: m.sender_email,
        sender_name: m.sender_name,
        sender_status: m.sender_status.as_deref().map(|s| parse(s, "sender_status")).transpose()?,
        attachments: Vec::new(),
    })
}

fn message(conn: &mut DbConnection, id: i64) -> Result<MessageView, AppError> {
    message_view(messages::table.find(id).select(MessageRow::as_select()).first(conn)?)
}

pub fn messages(conn: &mut DbConnection, ticket_id: i64) -> Result<Vec<MessageView>, AppError> {
    load_row(conn, ticket_id)?;
    messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .order(messages::id.asc())
        .select(MessageRow::as_select())
        .load(conn)?
        .into_iter()
        .map(message_view)
        .collect()
}

pub fn events(conn: &mut DbConnection, ticket_id: i64) -> Result<Vec<EventView>, AppError> {
    load_row(conn, ticket_id)?;
    ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .order(ticket_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|e| {
            Ok(EventView {
                id: e.id,
                ticket_id: e.ticket_id,
                kind: parse(&e.kind, "event kind")?,
                actor_type: e.actor_type,
                actor_id: e.actor_id,
                data: e.data.0,
                created_at: e.created_at.0,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn santiago_year_uses_local_date() {
        let new_year_eve = DateTime::parse_from_rfc3339("2027-01-01T01:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(santiago_year(new_year_eve), 2026);
        let after = DateTime::parse_from_rfc3339("2027-01-01T03:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(santiago_year(after), 2027);
    }
}
