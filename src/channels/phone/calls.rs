//! Call records: every PBX event is kept verbatim, the call row is re-derived from all of them
//! (so duplicates and late events cannot corrupt it), and the tickets a call implies (an
//! automatic ticket when answered, a callback task when abandoned) are created exactly once.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::America::Santiago;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::config::PhoneSettings;
use crate::db::schema::{agents, blocked_numbers, call_events, calls, queues, tickets};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::{backend, DbConnection};
use crate::domain::call::{
    self, CallEvent, CallEventKind, CallFact, CallState, CallSummary, Direction, Outcome, Transfer, CALL_FACT_KINDS,
};
use crate::domain::event::{CallAnswered, CallMissed};
use crate::domain::{Actor, TicketEvent};
use crate::domain::{Priority, Status, TicketKind, Visibility};
use crate::error::AppError;
use crate::tickets::log;
use crate::tickets::model::{CreateMessageRequest, Page, RequesterData, UpdateTicketRequest};
use crate::tickets::store::{self, NewTicketInput};

/// Where an event came from: our JSON format, or the generic CTI push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Native,
    Cti,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Native => "native",
            Source::Cti => "cti",
        }
    }
}

/// One validated event of the call `call_id` (the PBX's id).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub call_id: String,
    pub source: Source,
    pub event: CallEvent,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calls)]
pub struct CallRow {
    pub id: i64,
    pub external_id: String,
    pub direction: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub queue_name: Option<String>,
    pub queue_id: Option<i64>,
    pub requester_id: Option<i64>,
    pub agent_ref: Option<String>,
    pub agent_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub callback_ticket_id: Option<i64>,
    pub ticket_created: bool,
    pub callback_created: bool,
    pub state: String,
    pub outcome: Option<String>,
    pub cause: Option<String>,
    pub queued_at: Option<UtcTime>,
    pub answered_at: Option<UtcTime>,
    pub ended_at: Option<UtcTime>,
    pub wrapup_ended_at: Option<UtcTime>,
    pub wait_seconds: Option<i64>,
    pub talk_seconds: Option<i64>,
    pub hold_seconds: i64,
    pub acw_seconds: Option<i64>,
    pub transfers: i64,
    pub voicemail_message_id: Option<i64>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallView {
    pub id: i64,
    /// The PBX's call id.
    pub call_id: String,
    /// `in` or `out`.
    pub direction: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The queue as the PBX named it.
    pub queue_name: Option<String>,
    pub queue_id: Option<i64>,
    pub requester_id: Option<i64>,
    /// The answering agent as the PBX named them (extension, email or name).
    pub agent_ref: Option<String>,
    pub agent_id: Option<i64>,
    /// The ticket the call is on (created for it, linked by the agent, or a callback it fulfils).
    pub ticket_id: Option<i64>,
    /// The callback task this unanswered call created or joined.
    pub callback_ticket_id: Option<i64>,
    pub state: CallState,
    pub outcome: Option<Outcome>,
    pub cause: Option<String>,
    pub queued_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub wrapup_ended_at: Option<DateTime<Utc>>,
    pub wait_seconds: Option<i64>,
    pub talk_seconds: Option<i64>,
    pub hold_seconds: i64,
    /// After-call work.
    pub acw_seconds: Option<i64>,
    pub transfers: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallEventView {
    pub id: i64,
    /// PBX events (`queued`, `answered`, …) and the contact-center facts derived from them
    /// (`kpi.call_queued`, `kpi.call_answered`, `kpi.call_abandoned`, `kpi.call_handled`).
    pub kind: String,
    /// `native`, `cti` or `derived`.
    pub source: String,
    #[schema(value_type = Object)]
    pub data: Value,
    /// The PBX's time.
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: CallView,
    pub transfer_list: Vec<Transfer>,
    /// In arrival order.
    pub events: Vec<CallEventView>,
}

/// What processing one event did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Processed {
    pub call: CallView,
    /// The same event had already been received: nothing changed.
    pub duplicate: bool,
    /// The caller's number is blocked: the PBX is told to reject the call.
    pub reject: bool,
}

fn view(row: CallRow) -> Result<CallView, AppError> {
    let bad = |what: &str| AppError::Internal(anyhow::anyhow!("call {} has an invalid {what}", row.id));
    Ok(CallView {
        id: row.id,
        state: row.state.parse().map_err(|_| bad("state"))?,
        outcome: row.outcome.as_deref().map(str::parse).transpose().map_err(|_| bad("outcome"))?,
        call_id: row.external_id,
        direction: row.direction,
        from: row.from_number,
        to: row.to_number,
        queue_name: row.queue_name,
        queue_id: row.queue_id,
        requester_id: row.requester_id,
        agent_ref: row.agent_ref,
        agent_id: row.agent_id,
        ticket_id: row.ticket_id,
        callback_ticket_id: row.callback_ticket_id,
        cause: row.cause,
        queued_at: row.queued_at.map(|t| t.0),
        answered_at: row.answered_at.map(|t| t.0),
        ended_at: row.ended_at.map(|t| t.0),
        wrapup_ended_at: row.wrapup_ended_at.map(|t| t.0),
        wait_seconds: row.wait_seconds,
        talk_seconds: row.talk_seconds,
        hold_seconds: row.hold_seconds,
        acw_seconds: row.acw_seconds,
        transfers: row.transfers,
        created_at: row.created_at.0,
        updated_at: row.updated_at.0,
    })
}

fn load(conn: &mut DbConnection, id: i64) -> Result<CallRow, AppError> {
    calls::table.find(id).select(CallRow::as_select()).first(conn).optional()?.ok_or(AppError::NotFound("la llamada"))
}

fn kind_name(kind: &CallEventKind) -> &'static str {
    match kind {
        CallEventKind::Queued { .. } => "queued",
        CallEventKind::Answered { .. } => "answered",
        CallEventKind::Held => "held",
        CallEventKind::Resumed => "resumed",
        CallEventKind::Transferred { .. } => "transferred",
        CallEventKind::Ended { .. } => "ended",
        CallEventKind::WrapupEnded { .. } => "wrapup_ended",
        CallEventKind::Voicemail { .. } => "voicemail",
        CallEventKind::Rejected => "rejected",
    }
}

pub fn is_blocked(conn: &mut DbConnection, number: &str) -> Result<bool, AppError> {
    let n: i64 = blocked_numbers::table.filter(blocked_numbers::number.eq(number)).count().get_result(conn)?;
    Ok(n > 0)
}

/// Stores `event` unless the same event (same kind, time and data) is already stored; returns
/// whether it was new.
fn store_event(conn: &mut DbConnection, call: i64, source: Source, event: &CallEvent) -> Result<bool, AppError> {
    let data = serde_json::to_value(&event.kind).map_err(anyhow::Error::from)?;
    let key = hex::encode(&Sha256::digest(format!("{}|{data}", event.at.timestamp_micros()).as_bytes())[..16]);
    let seen: i64 = call_events::table
        .filter(call_events::call_id.eq(call))
        .filter(call_events::dedup_key.eq(&key))
        .count()
        .get_result(conn)?;
    if seen > 0 {
        return Ok(false);
    }
    diesel::insert_into(call_events::table)
        .values((
            call_events::call_id.eq(call),
            call_events::kind.eq(kind_name(&event.kind)),
            call_events::source.eq(source.as_str()),
            call_events::dedup_key.eq(key),
            call_events::data.eq(JsonValue(data)),
            call_events::occurred_at.eq(UtcTime::from(event.at)),
            call_events::received_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    Ok(true)
}

fn pbx_events(conn: &mut DbConnection, call: i64) -> Result<Vec<CallEvent>, AppError> {
    let rows: Vec<(JsonValue, UtcTime)> = call_events::table
        .filter(call_events::call_id.eq(call))
        .filter(call_events::source.ne("derived"))
        .order(call_events::id.asc())
        .select((call_events::data, call_events::occurred_at))
        .load(conn)?;
    rows.into_iter()
        .map(|(data, at)| {
            let kind = serde_json::from_value(data.0).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
            Ok(CallEvent { at: at.0, kind })
        })
        .collect()
}

/// Applies one PBX event: stores it, re-derives the call, and creates what the call now implies.
pub fn process(conn: &mut DbConnection, settings: &PhoneSettings, incoming: Incoming) -> Result<Processed, AppError> {
    let id = backend::lock_call(conn, &incoming.call_id, UtcTime::now())?;
    let mut fresh = store_event(conn, id, incoming.source, &incoming.event)?;
    let mut reject = false;
    if let CallEventKind::Queued { direction: Direction::Inbound, from: Some(from), .. } = &incoming.event.kind {
        if is_blocked(conn, from)? {
            reject = true;
            let rejected = CallEvent { at: incoming.event.at, kind: CallEventKind::Rejected };
            fresh |= store_event(conn, id, incoming.source, &rejected)?;
        }
    }
    let mut row = load(conn, id)?;
    if fresh {
        let events = pbx_events(conn, id)?;
        let short = TimeDelta::seconds(settings.short_abandon_secs);
        let summary = call::summarize(&events, short).expect("the call has at least the event just stored");
        derive(conn, settings, &mut row, &summary)?;
        sync_facts(conn, &row, &summary)?;
        save(conn, &row)?;
    }
    Ok(Processed { call: view(row)?, duplicate: !fresh, reject })
}

/// Copies the summary into the row and resolves who and where: requester, agent, queue.
fn derive(
    conn: &mut DbConnection,
    settings: &PhoneSettings,
    row: &mut CallRow,
    s: &CallSummary,
) -> Result<(), AppError> {
    let secs = |d: TimeDelta| d.num_seconds();
    row.direction = s.direction.as_str().to_owned();
    row.from_number = s.from.clone();
    row.to_number = s.to.clone();
    if row.queue_name != s.queue || row.queue_id.is_none() {
        row.queue_id = match &s.queue {
            Some(slug) => queues::table.filter(queues::slug.eq(slug)).select(queues::id).first(conn).optional()?,
            None => None,
        };
        row.queue_name = s.queue.clone();
    }
    if row.agent_ref != s.answering_agent {
        row.agent_id = s.answering_agent.as_deref().map(|r| agent_by_ref(conn, r)).transpose()?.flatten();
        row.agent_ref = s.answering_agent.clone();
    }
    let caller = match s.direction {
        Direction::Inbound => &s.from,
        Direction::Outbound => &s.to,
    };
    if row.requester_id.is_none() {
        if let Some(number) = caller {
            let data = RequesterData { phone: Some(number.clone()), ..RequesterData::default() };
            row.requester_id = Some(crate::tickets::requesters::resolve_requester(conn, None, &data)?.id);
        }
    }
    row.state = s.state().as_str().to_owned();
    row.outcome = s.outcome.map(|o| o.as_str().to_owned());
    row.cause = s.cause.map(|c| c.as_str().to_owned());
    row.queued_at = Some(UtcTime::from(s.queued_at));
    row.answered_at = s.answered_at.map(UtcTime::from);
    row.ended_at = s.ended_at.map(UtcTime::from);
    row.wrapup_ended_at = s.wrapup_ended_at.map(UtcTime::from);
    row.wait_seconds = s.wait.map(secs);
    row.talk_seconds = s.talk.map(secs);
    row.hold_seconds = secs(s.hold);
    row.acw_seconds = s.acw.map(secs);
    row.transfers = s.transfers.len() as i64;
    if s.answered_at.is_some() {
        on_answered(conn, settings, row, s)?;
    }
    if matches!(s.outcome, Some(Outcome::Abandoned | Outcome::Voicemail)) && s.direction == Direction::Inbound {
        on_missed(conn, settings, row, s)?;
    }
    if let Some((url, transcript)) = &s.voicemail {
        on_voicemail(conn, row, url.as_deref(), transcript.as_deref())?;
    }
    Ok(())
}

/// The agent named by the PBX: by extension, then email, then exact name.
fn agent_by_ref(conn: &mut DbConnection, reference: &str) -> Result<Option<i64>, AppError> {
    let active = agents::table.filter(agents::active.eq(true)).filter(agents::role.ne("integration"));
    if let Some(id) = active.filter(agents::extension.eq(reference)).select(agents::id).first(conn).optional()? {
        return Ok(Some(id));
    }
    let email = reference.to_lowercase();
    if let Some(id) = active.filter(agents::email.eq(&email)).select(agents::id).first(conn).optional()? {
        return Ok(Some(id));
    }
    Ok(active.filter(agents::name.eq(reference)).select(agents::id).first(conn).optional()?)
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Santiago).format("%d-%m-%Y %H:%M").to_string()
}

fn queue_slug(conn: &mut DbConnection, settings: &PhoneSettings, row: &CallRow) -> Result<String, AppError> {
    match row.queue_id {
        Some(id) => Ok(queues::table.find(id).select(queues::slug).first(conn)?),
        None => Ok(settings.default_queue.clone()),
    }
}

/// A ticket of the phone channel about a call of `requester_id`, written by the service; routing
/// rules see the number that was dialled.
fn call_ticket(requester_id: i64, subject: String, body: String, queue: String, s: &CallSummary) -> NewTicketInput {
    NewTicketInput {
        subject,
        body,
        body_html: None,
        requester_id: Some(requester_id),
        requester: RequesterData::default(),
        channel: crate::domain::Channel::Phone,
        priority: Priority::Normal,
        category: None,
        queue: Some(queue),
        assignee_id: None,
        tags: Vec::new(),
        kind: TicketKind::Standard,
        origin: crate::routing::rules::Origin {
            mailbox: None,
            called_number: s.to.clone().filter(|_| s.direction == Direction::Inbound),
        },
        sender: None,
        acknowledge: false,
    }
}

/// The open callback task owed to this requester, if any.
fn open_callback(conn: &mut DbConnection, requester_id: i64) -> Result<Option<i64>, AppError> {
    Ok(tickets::table
        .filter(tickets::requester_id.eq(requester_id))
        .filter(tickets::kind.eq(TicketKind::Callback.as_str()))
        .filter(tickets::status.ne_all([Status::Solved.as_str(), Status::Closed.as_str()]))
        .order(tickets::id.asc())
        .select(tickets::id)
        .first(conn)
        .optional()?)
}

/// The `call_answered` event of the call `row` on a ticket.
fn answered_event(row: &CallRow) -> Result<CallAnswered, AppError> {
    Ok(CallAnswered {
        call: row.id,
        call_id: row.external_id.clone(),
        direction: direction_of(row)?,
        agent_id: row.agent_id,
        was_callback: false,
        linked_by: None,
    })
}

fn direction_of(row: &CallRow) -> Result<Direction, AppError> {
    row.direction
        .parse()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("call {} has direction {:?}", row.id, row.direction)))
}

fn actor_of(row: &CallRow) -> Actor {
    row.agent_id.map(Actor::Agent).unwrap_or(Actor::System)
}

/// Records on `ticket` that the call with its requester was answered (a live reply for SLA).
fn record_answered(
    conn: &mut DbConnection,
    ticket: i64,
    row: &CallRow,
    answered: CallAnswered,
) -> Result<(), AppError> {
    log::record(conn, ticket, actor_of(row), TicketEvent::CallAnswered(answered), UtcTime::now())?;
    crate::sla::engine::refresh(conn, ticket, Utc::now())?;
    Ok(())
}

/// An answered call fulfils the requester's open callback; it also gets its own ticket unless it
/// is the outbound call that returns that callback.
fn on_answered(
    conn: &mut DbConnection,
    settings: &PhoneSettings,
    row: &mut CallRow,
    s: &CallSummary,
) -> Result<(), AppError> {
    if row.ticket_id.is_some() {
        return Ok(());
    }
    if let (Some(own), true) = (row.callback_ticket_id, row.callback_created) {
        return answered_late(conn, row, own, s);
    }
    if let Some(requester) = row.requester_id {
        lock_requester(conn, requester)?;
    }
    let callback = row.requester_id.map(|r| open_callback(conn, r)).transpose()?.flatten();
    if let Some(callback) = callback {
        record_answered(conn, callback, row, answered_event(row)?)?;
        if s.direction == Direction::Outbound {
            row.ticket_id = Some(callback);
            return Ok(());
        }
    }
    let Some(requester_id) = row.requester_id else {
        return Ok(()); // An anonymous caller: the agent logs a ticket by hand if needed.
    };
    let number = s.from.as_deref().filter(|_| s.direction == Direction::Inbound).or(s.to.as_deref()).unwrap_or("");
    let (subject, what) = match s.direction {
        Direction::Inbound => (format!("Llamada de {number}"), "Llamada entrante atendida"),
        Direction::Outbound => (format!("Llamada a {number}"), "Llamada saliente contestada"),
    };
    let answered = s.answered_at.unwrap_or(s.queued_at);
    let queue = queue_slug(conn, settings, row)?;
    let wait = s.wait.map(|w| w.num_seconds()).unwrap_or(0);
    let body = format!("{what} el {} (cola {queue}, espera {wait} s).", local(answered));
    let input = NewTicketInput { assignee_id: row.agent_id, ..call_ticket(requester_id, subject, body, queue, s) };
    let ticket = store::create(conn, Some(Actor::System), input)?;
    row.ticket_id = Some(ticket.id);
    row.ticket_created = true;
    record_answered(conn, ticket.id, row, answered_event(row)?)?;
    let open = UpdateTicketRequest { status: Some(Status::Open), ..UpdateTicketRequest::default() };
    store::update(conn, ticket.id, actor_of(row), open)?;
    Ok(())
}

/// The hangup arrived before the answer: the call was answered after all, so the callback task
/// it created becomes its ticket (one call, one ticket).
fn answered_late(conn: &mut DbConnection, row: &mut CallRow, own: i64, s: &CallSummary) -> Result<(), AppError> {
    diesel::update(tickets::table.find(own)).set(tickets::kind.eq(TicketKind::Standard.as_str())).execute(conn)?;
    record_answered(conn, own, row, CallAnswered { was_callback: true, ..answered_event(row)? })?;
    let update = UpdateTicketRequest {
        subject: Some(format!("Llamada de {}", s.from.as_deref().unwrap_or(""))),
        status: Some(Status::Open),
        assignee_id: Some(row.agent_id),
        ..UpdateTicketRequest::default()
    };
    store::update(conn, own, actor_of(row), update)?;
    row.ticket_id = Some(own);
    row.ticket_created = true;
    row.callback_ticket_id = None;
    row.callback_created = false;
    Ok(())
}

/// Serialises the decisions about one requester's callbacks across concurrent calls (a row lock
/// on Postgres; SQLite has one writer anyway).
fn lock_requester(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    use crate::db::schema::requesters;
    diesel::update(requesters::table.find(id)).set(requesters::id.eq(requesters::id)).execute(conn)?;
    Ok(())
}

/// An inbound call nobody answered: a callback task is owed, unless the caller has since got
/// through, or already has one open (then this call joins it).
fn on_missed(
    conn: &mut DbConnection,
    settings: &PhoneSettings,
    row: &mut CallRow,
    s: &CallSummary,
) -> Result<(), AppError> {
    let (Some(requester_id), Some(number)) = (row.requester_id, s.from.as_deref()) else { return Ok(()) };
    if row.callback_ticket_id.is_some() || row.ticket_id.is_some() {
        return Ok(());
    }
    lock_requester(conn, requester_id)?;
    let got_through: i64 = calls::table
        .filter(calls::from_number.eq(number))
        .filter(calls::id.ne(row.id))
        .filter(calls::answered_at.ge(UtcTime::from(s.queued_at)))
        .count()
        .get_result(conn)?;
    if got_through > 0 {
        return Ok(());
    }
    let missed = CallMissed { call: row.id, call_id: row.external_id.clone(), wait_seconds: row.wait_seconds };
    if let Some(callback) = open_callback(conn, requester_id)? {
        row.callback_ticket_id = Some(callback);
        log::record(conn, callback, Actor::System, TicketEvent::CallMissed(missed), UtcTime::now())?;
        return Ok(());
    }
    let queue = queue_slug(conn, settings, row)?;
    let ended = s.ended_at.unwrap_or(s.queued_at);
    let wait = s.wait.map(|w| w.num_seconds()).unwrap_or(0);
    let subject = format!("Devolver llamada a {number}");
    let body = format!(
        "Llamada no atendida el {} en la cola {queue}: el llamante colgó tras {wait} s de espera.",
        local(ended)
    );
    let input = NewTicketInput { kind: TicketKind::Callback, ..call_ticket(requester_id, subject, body, queue, s) };
    let ticket = store::create(conn, Some(Actor::System), input)?;
    row.callback_ticket_id = Some(ticket.id);
    row.callback_created = true;
    log::record(conn, ticket.id, Actor::System, TicketEvent::CallbackRequested(missed), UtcTime::now())?;
    crate::sla::engine::refresh(conn, ticket.id, Utc::now())?;
    Ok(())
}

/// The recording and its transcript become a message from the caller on the call's callback
/// task (or its ticket), once.
fn on_voicemail(
    conn: &mut DbConnection,
    row: &mut CallRow,
    url: Option<&str>,
    transcript: Option<&str>,
) -> Result<(), AppError> {
    let Some(ticket) = row.callback_ticket_id.or(row.ticket_id) else { return Ok(()) };
    if row.voicemail_message_id.is_some() {
        return Ok(());
    }
    let mut body = format!("Mensaje de voz:\n\n{}", transcript.unwrap_or("(sin transcripción)"));
    if let Some(url) = url {
        body.push_str(&format!("\n\nGrabación: {url}"));
    }
    let requester: i64 = tickets::table.find(ticket).select(tickets::requester_id).first(conn)?;
    let message = CreateMessageRequest {
        body,
        body_html: None,
        visibility: Some(Visibility::Public),
        from_requester: true,
        status: None,
    };
    let added = store::add_message(conn, ticket, Actor::Requester(requester), message, crate::tickets::OnReply::Keep)?;
    row.voicemail_message_id = Some(added.id);
    Ok(())
}

fn save(conn: &mut DbConnection, row: &CallRow) -> Result<(), AppError> {
    diesel::update(calls::table.find(row.id))
        .set((
            calls::direction.eq(&row.direction),
            calls::from_number.eq(&row.from_number),
            calls::to_number.eq(&row.to_number),
            calls::queue_name.eq(&row.queue_name),
            calls::queue_id.eq(row.queue_id),
            calls::requester_id.eq(row.requester_id),
            calls::agent_ref.eq(&row.agent_ref),
            calls::agent_id.eq(row.agent_id),
            calls::ticket_id.eq(row.ticket_id),
            calls::callback_ticket_id.eq(row.callback_ticket_id),
            calls::ticket_created.eq(row.ticket_created),
            calls::callback_created.eq(row.callback_created),
            calls::state.eq(&row.state),
            calls::outcome.eq(&row.outcome),
            calls::cause.eq(&row.cause),
            calls::queued_at.eq(row.queued_at),
            calls::answered_at.eq(row.answered_at),
            calls::ended_at.eq(row.ended_at),
            calls::wrapup_ended_at.eq(row.wrapup_ended_at),
            calls::wait_seconds.eq(row.wait_seconds),
            calls::talk_seconds.eq(row.talk_seconds),
            calls::hold_seconds.eq(row.hold_seconds),
            calls::acw_seconds.eq(row.acw_seconds),
            calls::transfers.eq(row.transfers),
            calls::voicemail_message_id.eq(row.voicemail_message_id),
            calls::updated_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------- contact-center facts

/// The contact-center facts a call implies now, one per kind. The live KPI store consumes
/// them; each kind's latest version is the truth for the call.
fn facts(row: &CallRow, s: &CallSummary) -> Vec<(CallFact, DateTime<Utc>)> {
    let secs = |d: Option<TimeDelta>| d.map(|d| d.num_seconds());
    let queue = || row.queue_name.clone();
    let mut out = Vec::new();
    if s.direction == Direction::Inbound {
        out.push((CallFact::Queued { queue: queue() }, s.queued_at));
    }
    if let Some(at) = s.answered_at {
        let answered = CallFact::Answered {
            queue: queue(),
            direction: s.direction,
            agent_id: row.agent_id,
            wait_seconds: secs(s.wait),
        };
        out.push((answered, at));
    }
    if let (Some(o @ (Outcome::Abandoned | Outcome::ShortAbandoned)), Some(at)) = (s.outcome, s.ended_at) {
        let short = o == Outcome::ShortAbandoned;
        out.push((CallFact::Abandoned { queue: queue(), wait_seconds: secs(s.wait), short }, at));
    }
    if let (Some(handle), Some(at)) = (s.handle_time(), s.ended_at) {
        let handled = CallFact::Handled {
            queue: queue(),
            agent_id: row.agent_id,
            talk_seconds: secs(s.talk),
            hold_seconds: s.hold.num_seconds(),
            acw_seconds: secs(s.acw),
            handle_seconds: handle.num_seconds(),
        };
        out.push((handled, at));
    }
    out
}

/// Appends a new version of each fact that changed, and a retraction of each fact that no
/// longer holds (e.g. an "abandoned" call whose late `answered` event arrived).
fn sync_facts(conn: &mut DbConnection, row: &CallRow, s: &CallSummary) -> Result<(), AppError> {
    let stored: Vec<(String, JsonValue)> = call_events::table
        .filter(call_events::call_id.eq(row.id))
        .filter(call_events::source.eq("derived"))
        .order(call_events::id.asc())
        .select((call_events::kind, call_events::data))
        .load(conn)?;
    let latest = |kind: &str| stored.iter().rev().find(|(k, _)| k == kind).map(|(_, d)| &d.0);
    let versions = |kind: &str| stored.iter().filter(|(k, _)| k == kind).count();
    let wanted = facts(row, s);
    let mut append = Vec::new();
    for (fact, at) in &wanted {
        let data = fact.data();
        if latest(fact.kind()) != Some(&data) {
            append.push((fact.kind(), *at, data));
        }
    }
    for kind in CALL_FACT_KINDS {
        let held = latest(kind).is_some_and(|d| d.get("retracted").is_none());
        if held && !wanted.iter().any(|(fact, _)| fact.kind() == kind) {
            append.push((kind, Utc::now(), CallFact::retraction()));
        }
    }
    for (kind, at, data) in append {
        diesel::insert_into(call_events::table)
            .values((
                call_events::call_id.eq(row.id),
                call_events::kind.eq(kind),
                call_events::source.eq("derived"),
                call_events::dedup_key.eq(format!("{kind}#{}", versions(kind) + 1)),
                call_events::data.eq(JsonValue(data)),
                call_events::occurred_at.eq(UtcTime::from(at)),
                call_events::received_at.eq(UtcTime::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- reading and linking

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallFilter {
    /// `in` or `out`.
    pub direction: Option<Direction>,
    pub outcome: Option<Outcome>,
    /// Queue name as the PBX sent it.
    pub queue: Option<String>,
    pub agent_id: Option<i64>,
    pub requester_id: Option<i64>,
    pub ticket_id: Option<i64>,
    /// A phone number, caller or called (any Chilean format).
    pub number: Option<String>,
    /// Queued at or after.
    pub from: Option<DateTime<Utc>>,
    /// Queued before.
    pub to: Option<DateTime<Utc>>,
    /// 1–100, default 25.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Newest first, by cursor.
pub fn list(conn: &mut DbConnection, f: &CallFilter) -> Result<Page<CallView>, AppError> {
    let limit = crate::paging::page_limit(f.limit)?;
    let mut query = calls::table.select(CallRow::as_select()).into_boxed();
    if let Some(cursor) = &f.cursor {
        query = query.filter(calls::id.lt(crate::paging::decode_cursor(cursor)?));
    }
    if let Some(d) = f.direction {
        query = query.filter(calls::direction.eq(d.as_str()));
    }
    if let Some(o) = f.outcome {
        query = query.filter(calls::outcome.eq(o.as_str()));
    }
    if let Some(q) = &f.queue {
        query = query.filter(calls::queue_name.eq(q.clone()));
    }
    if let Some(a) = f.agent_id {
        query = query.filter(calls::agent_id.eq(a));
    }
    if let Some(r) = f.requester_id {
        query = query.filter(calls::requester_id.eq(r));
    }
    if let Some(t) = f.ticket_id {
        query = query.filter(calls::ticket_id.eq(t).or(calls::callback_ticket_id.eq(t)));
    }
    if let Some(n) = &f.number {
        let n = crate::domain::phone::normalize(n).ok_or_else(|| AppError::field("number", "no es un teléfono"))?;
        query = query.filter(calls::from_number.eq(n.clone()).or(calls::to_number.eq(n)));
    }
    if let Some(from) = f.from {
        query = query.filter(calls::queued_at.ge(UtcTime::from(from)));
    }
    if let Some(to) = f.to {
        query = query.filter(calls::queued_at.lt(UtcTime::from(to)));
    }
    let rows: Vec<CallRow> = query.order(calls::id.desc()).limit(limit + 1).load(conn)?;
    let more = rows.len() as i64 > limit;
    let items: Vec<CallView> = rows.into_iter().take(limit as usize).map(view).collect::<Result<_, _>>()?;
    let next_cursor = if more { items.last().map(|c| crate::paging::encode_cursor(c.id)) } else { None };
    Ok(Page { items, next_cursor })
}

pub fn detail(conn: &mut DbConnection, settings: &PhoneSettings, id: i64) -> Result<CallDetail, AppError> {
    let row = load(conn, id)?;
    let events: Vec<(i64, String, String, JsonValue, UtcTime, UtcTime)> = call_events::table
        .filter(call_events::call_id.eq(id))
        .order(call_events::id.asc())
        .select((
            call_events::id,
            call_events::kind,
            call_events::source,
            call_events::data,
            call_events::occurred_at,
            call_events::received_at,
        ))
        .load(conn)?;
    let short = TimeDelta::seconds(settings.short_abandon_secs);
    let transfer_list = call::summarize(&pbx_events(conn, id)?, short).map(|s| s.transfers).unwrap_or_default();
    let events = events
        .into_iter()
        .map(|(id, kind, source, data, occurred, received)| CallEventView {
            id,
            kind,
            source,
            data: data.0,
            occurred_at: occurred.0,
            received_at: received.0,
        })
        .collect();
    Ok(CallDetail { call: view(row)?, transfer_list, events })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// An open ticket of the same requester.
    pub ticket_id: i64,
}

/// Moves an answered call onto another open ticket of its requester. The ticket created for the
/// call, if still within the link window, is closed as merged into it.
pub fn link(
    conn: &mut DbConnection,
    settings: &PhoneSettings,
    id: i64,
    actor: Actor,
    target: i64,
) -> Result<CallView, AppError> {
    let mut row = load(conn, id)?;
    let answered = row.answered_at.ok_or_else(|| AppError::field("call", "la llamada no fue atendida"))?;
    if row.ticket_id == Some(target) {
        return view(row);
    }
    let (requester, status): (i64, String) = tickets::table
        .find(target)
        .select((tickets::requester_id, tickets::status))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::field("ticket_id", format!("no existe el ticket {target}")))?;
    if Some(requester) != row.requester_id {
        return Err(AppError::field("ticket_id", "el ticket es de otro solicitante"));
    }
    if !status.parse::<Status>().map(Status::is_open).unwrap_or(false) {
        return Err(AppError::field("ticket_id", "el ticket no está abierto"));
    }
    let window = TimeDelta::minutes(settings.link_window_minutes);
    if Utc::now() - answered.0 > window {
        return Err(AppError::field(
            "call",
            format!("solo se puede vincular dentro de {} minutos desde que se atendió", settings.link_window_minutes),
        ));
    }
    if let (Some(created), true) = (row.ticket_id, row.ticket_created) {
        let number: String = tickets::table.find(target).select(tickets::number).first(conn)?;
        store::merge_into(conn, created, actor, target, &number)?;
    }
    record_answered(conn, target, &row, CallAnswered { linked_by: actor.id(), ..answered_event(&row)? })?;
    row.ticket_id = Some(target);
    row.ticket_created = false;
    diesel::update(calls::table.find(id))
        .set((calls::ticket_id.eq(target), calls::ticket_created.eq(false), calls::updated_at.eq(UtcTime::now())))
        .execute(conn)?;
    view(load(conn, id)?)
}

// ---------------------------------------------------------------- blocked numbers

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlockedNumber {
    pub id: i64,
    /// E.164 (or as dialled for special numbers).
    pub number: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// Any Chilean or international format.
    pub number: String,
    pub reason: Option<String>,
}

pub fn list_blocked(conn: &mut DbConnection) -> Result<Vec<BlockedNumber>, AppError> {
    let rows: Vec<(i64, String, Option<String>, UtcTime)> = blocked_numbers::table
        .order(blocked_numbers::id)
        .select((blocked_numbers::id, blocked_numbers::number, blocked_numbers::reason, blocked_numbers::created_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, number, reason, at)| BlockedNumber { id, number, reason, created_at: at.0 })
        .collect())
}

pub fn block(conn: &mut DbConnection, req: BlockRequest) -> Result<BlockedNumber, AppError> {
    let number = crate::domain::phone::normalize(&req.number)
        .ok_or_else(|| AppError::field("number", "no es un número de teléfono"))?;
    let reason = req.reason.map(|r| r.trim().chars().take(200).collect::<String>()).filter(|r| !r.is_empty());
    if is_blocked(conn, &number)? {
        return Err(AppError::Conflict(format!("El número {number} ya está bloqueado.")));
    }
    let at = UtcTime::now();
    let id: i64 = diesel::insert_into(blocked_numbers::table)
        .values((
            blocked_numbers::number.eq(&number),
            blocked_numbers::reason.eq(&reason),
            blocked_numbers::created_at.eq(at),
        ))
        .returning(blocked_numbers::id)
        .get_result(conn)?;
    Ok(BlockedNumber { id, number, reason, created_at: at.0 })
}

pub fn unblock(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    match diesel::delete(blocked_numbers::table.find(id)).execute(conn)? {
        0 => Err(AppError::NotFound("el número bloqueado")),
        _ => Ok(()),
    }
}
