//! Delivery to department queues. Everything sent to a department is a row of a durable outbox
//! (`department_deliveries`) written in the same transaction as its cause, with an idempotency
//! key that stays the same on every channel and retry. Departments pull the rows from their inbox
//! (and acknowledge them), or receive them on their Redis stream ([`super::stream`]) and webhook
//! ([`super::webhooks`]), which workers publish from the same rows.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::escalations::{self, EscalationView};
use super::opportunities::OpportunityView;
use crate::db::schema::{department_deliveries as dd, department_webhook_attempts as attempts, department_webhooks};
use crate::db::schema::{messages, queues, tickets};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::{backend, DbConnection};
use crate::domain::opportunity::OpportunityStatus;
use crate::domain::Principal;
use crate::domain::{EscalationMode, EscalationStatus, Role};
use crate::error::AppError;

/// Item kinds.
pub const ESCALATION: &str = "escalation";
pub const OPPORTUNITY: &str = "opportunity";

/// Writes one delivery for `department` in the caller's transaction. A key already recorded is
/// not recorded again. Deliveries of one department are written one transaction at a time, so
/// their ids grow in commit order and an inbox cursor never skips a row committed late.
fn record(
    conn: &mut DbConnection,
    department: i64,
    (kind, item_id, event): (&str, i64, &str),
    key: String,
    fields: Value,
) -> Result<(), AppError> {
    backend::lock_department_feed(conn, department)?;
    let known: i64 = dd::table.filter(dd::idempotency_key.eq(&key)).count().get_result(conn)?;
    if known > 0 {
        return Ok(());
    }
    let now = UtcTime::now();
    let mut payload = json!({
        "key": key, "kind": kind, "event": event, "department_id": department, "occurred_at": now.0,
    });
    if let (Some(envelope), Value::Object(fields)) = (payload.as_object_mut(), fields) {
        envelope.extend(fields);
    }
    // Only departments with a webhook (even a disabled one, which resumes when set again) get
    // their deliveries posted.
    let webhook: i64 = department_webhooks::table
        .filter(department_webhooks::department_id.eq(department))
        .count()
        .get_result(conn)?;
    diesel::insert_into(dd::table)
        .values((
            dd::department_id.eq(department),
            dd::item_kind.eq(kind),
            dd::item_id.eq(item_id),
            dd::event.eq(event),
            dd::idempotency_key.eq(&key),
            dd::payload.eq(JsonValue(payload)),
            dd::created_at.eq(now),
            dd::webhook_status.eq((webhook > 0).then_some("pending")),
            dd::webhook_next_at.eq((webhook > 0).then_some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A ticket was escalated to a department. The escalation is shown as the department sees it:
/// the requester's contact data only when the escalation grants it.
pub fn escalation_created(conn: &mut DbConnection, e: &EscalationView) -> Result<(), AppError> {
    let key = format!("{ESCALATION}:{}:created", e.id);
    record(conn, e.department_id, (ESCALATION, e.id, "created"), key, json!({ "escalation": e }))
}

/// The requester wrote again on ticket `ticket`: the departments still waiting on it (an open
/// escalation, or a transfer whose ticket is still in one of their queues) get the message.
pub fn requester_replied(conn: &mut DbConnection, ticket: i64, message: i64) -> Result<(), AppError> {
    let escalated = escalations::for_ticket(conn, ticket)?;
    if escalated.is_empty() {
        return Ok(());
    }
    let owner: Option<i64> = tickets::table
        .inner_join(queues::table)
        .filter(tickets::id.eq(ticket))
        .select(queues::department_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
    let (body, channel, at): (String, String, UtcTime) = messages::table
        .find(message)
        .select((messages::body_text, messages::channel, messages::created_at))
        .first(conn)?;
    // The newest escalation of each department, departments in id order (the lock order).
    let mut latest: Vec<&EscalationView> = Vec::new();
    for e in escalated.iter().rev() {
        if !latest.iter().any(|l| l.department_id == e.department_id) {
            latest.push(e);
        }
    }
    latest.sort_by_key(|e| e.department_id);
    for e in latest {
        let waiting = e.status == EscalationStatus::Open
            || (e.mode == EscalationMode::Transfer && owner == Some(e.department_id));
        if !waiting {
            continue;
        }
        let key = format!("{ESCALATION}:{}:requester_reply:{message}", e.id);
        let fields = json!({
            "escalation": e,
            "message": { "id": message, "channel": channel, "body": body, "created_at": at.0 },
        });
        record(conn, e.department_id, (ESCALATION, e.id, "requester_reply"), key, fields)?;
    }
    Ok(())
}

/// An opportunity moved to `o.status` from `from`, by `who`. The department gets it when it is
/// sent, and then every step it did not take itself (e.g. Atención Usuaria marks a duplicate).
pub fn opportunity_moved(
    conn: &mut DbConnection,
    o: &OpportunityView,
    from: OpportunityStatus,
    who: &Principal,
) -> Result<(), AppError> {
    let concerns =
        o.status == OpportunityStatus::Sent || (from != OpportunityStatus::Draft && who.role != Role::Department);
    if !concerns {
        return Ok(());
    }
    let key = format!("{OPPORTUNITY}:{}:{}", o.id, o.status);
    record(conn, o.department_id, (OPPORTUNITY, o.id, o.status.as_str()), key, json!({ "opportunity": o }))
}

/// A department SLA warning or breach (`event` is `sla_warning` or `sla_breached`): the
/// department learns it through its feed, like everything else it is sent; the key makes it one
/// item however often it is recorded.
pub fn sla_fired(conn: &mut DbConnection, clock: &super::sla::DueClock, event: &str) -> Result<(), AppError> {
    let key = format!("{}:{}:{event}:{}", clock.item_kind, clock.item_id, clock.metric);
    let fields = json!({
        "item_kind": clock.item_kind, "item_id": clock.item_id, "metric": clock.metric,
        "warn_at": clock.warn_at.map(|t| t.0), "due_at": clock.due_at.0,
    });
    record(conn, clock.department_id, (clock.item_kind.as_str(), clock.item_id, event), key, fields)
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// `next_cursor` of the previous page: only later items.
    pub after: Option<String>,
    /// 1–100, default 25.
    pub limit: Option<i64>,
    /// Inbox only: also list acknowledged items (default: only those not acknowledged yet).
    pub include_acknowledged: Option<bool>,
}

/// Something sent to the department, as its systems receive it on every channel.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxItem {
    pub id: i64,
    /// Idempotency key, e.g. `escalation:12:created`: the same on the inbox, the stream and the
    /// webhook, and on every retry.
    pub key: String,
    /// `escalation` or `opportunity`.
    pub kind: String,
    pub item_id: i64,
    /// `created` or `requester_reply` (escalations); the status reached (opportunities).
    pub event: String,
    /// What a webhook receives as its body and a stream entry in its `payload` field.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// Oldest first. `next_cursor` follows the last item listed (or repeats `after` when there is
/// none): pass it as `after` to continue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Acknowledge these items.
    pub ids: Option<Vec<i64>>,
    /// Or everything up to this cursor (a `next_cursor`), included.
    pub up_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AckResult {
    /// Items acknowledged now (already acknowledged ones are not counted again).
    pub acknowledged: usize,
}

fn after(q: &FeedQuery) -> Result<i64, AppError> {
    cursor("after", q.after.as_deref())
}

fn cursor(field: &str, value: Option<&str>) -> Result<i64, AppError> {
    value.map_or(Ok(0), |c| crate::paging::decode_cursor(c).map_err(|_| AppError::field(field, "cursor no válido")))
}

type ItemRow = (i64, String, String, i64, String, JsonValue, UtcTime, Option<UtcTime>);

/// The department's inbox: what was sent to it and it has not acknowledged yet.
pub fn inbox(conn: &mut DbConnection, who: &Principal, department: i64, q: &FeedQuery) -> Result<InboxPage, AppError> {
    super::visible(conn, who, department)?;
    let limit = crate::paging::page_limit(q.limit)?;
    let mut query = dd::table
        .filter(dd::department_id.eq(department))
        .filter(dd::id.gt(after(q)?))
        .order(dd::id.asc())
        .limit(limit)
        .select((
            dd::id,
            dd::idempotency_key,
            dd::item_kind,
            dd::item_id,
            dd::event,
            dd::payload,
            dd::created_at,
            dd::acknowledged_at,
        ))
        .into_boxed();
    if !q.include_acknowledged.unwrap_or(false) {
        query = query.filter(dd::acknowledged_at.is_null());
    }
    let rows: Vec<ItemRow> = query.load(conn)?;
    let items: Vec<InboxItem> = rows
        .into_iter()
        .map(|(id, key, kind, item_id, event, payload, at, ack)| InboxItem {
            id,
            key,
            kind,
            item_id,
            event,
            payload: payload.0,
            created_at: at.0,
            acknowledged_at: ack.map(|t| t.0),
        })
        .collect();
    let next_cursor = items.last().map(|i| crate::paging::encode_cursor(i.id)).or_else(|| q.after.clone());
    Ok(InboxPage { items, next_cursor })
}

/// Marks inbox items as acknowledged by `who`.
pub fn ack(conn: &mut DbConnection, who: &Principal, department: i64, req: AckRequest) -> Result<AckResult, AppError> {
    super::visible(conn, who, department)?;
    let now = UtcTime::now();
    let set = (dd::acknowledged_at.eq(now), dd::acknowledged_by.eq(who.agent_id));
    let waiting = dd::table.filter(dd::department_id.eq(department)).filter(dd::acknowledged_at.is_null());
    let n = match (req.ids, req.up_to) {
        (Some(ids), None) if !ids.is_empty() && ids.len() <= 1000 => {
            diesel::update(waiting.filter(dd::id.eq_any(ids))).set(set).execute(conn)?
        }
        (None, Some(up_to)) => {
            let last = cursor("up_to", Some(&up_to))?;
            diesel::update(waiting.filter(dd::id.le(last))).set(set).execute(conn)?
        }
        (Some(_), None) => return Err(AppError::field("ids", "indique entre 1 y 1000 elementos")),
        _ => return Err(AppError::field("ids", "indique «ids» o «up_to», uno de los dos")),
    };
    // Acknowledging an escalation in the inbox is the department taking it: its `ack` clock stops.
    let escalations: Vec<i64> = dd::table
        .filter(dd::department_id.eq(department))
        .filter(dd::item_kind.eq(ESCALATION))
        .filter(dd::acknowledged_at.eq(now))
        .filter(dd::acknowledged_by.eq(who.agent_id))
        .select(dd::item_id)
        .load(conn)?;
    super::sla::stop(conn, ESCALATION, &escalations, &[super::sla::ACK], now.0)?;
    Ok(AckResult { acknowledged: n })
}

/// One request to the department's webhook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub at: DateTime<Utc>,
    pub url: String,
    /// The receiver's answer, when there was one.
    pub status_code: Option<i32>,
    /// `null` when delivered; else `http_status`, `timeout`, `connection`, `tls` or `invalid_url`.
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// How one delivery went on each channel.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryLog {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub item_id: i64,
    pub event: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was added to the department's Redis stream (`null`: not yet, or no Redis).
    pub streamed_at: Option<DateTime<Utc>>,
    pub stream_entry_id: Option<String>,
    /// `null` when the department had no webhook; else `pending`, `sending`, `delivered` or
    /// `cancelled` (the webhook was removed).
    pub webhook_status: Option<String>,
    /// When the next request is due (pending), or until when it is taken (sending).
    pub webhook_next_attempt_at: Option<DateTime<Utc>>,
    pub webhook_delivered_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub webhook_attempts: Vec<WebhookAttempt>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryLogPage {
    pub items: Vec<DeliveryLog>,
    pub next_cursor: Option<String>,
}

type LogRow = (
    (i64, String, String, i64, String, UtcTime, Option<UtcTime>),
    (Option<UtcTime>, Option<String>, Option<String>, Option<UtcTime>, Option<UtcTime>),
);

type AttemptRow = (i64, UtcTime, String, Option<i32>, Option<String>, i64);

/// The delivery log of a department, oldest first.
pub fn log(
    conn: &mut DbConnection,
    who: &Principal,
    department: i64,
    q: &FeedQuery,
) -> Result<DeliveryLogPage, AppError> {
    super::visible(conn, who, department)?;
    let limit = crate::paging::page_limit(q.limit)?;
    let rows: Vec<LogRow> = dd::table
        .filter(dd::department_id.eq(department))
        .filter(dd::id.gt(after(q)?))
        .order(dd::id.asc())
        .limit(limit)
        .select((
            (dd::id, dd::idempotency_key, dd::item_kind, dd::item_id, dd::event, dd::created_at, dd::acknowledged_at),
            (dd::streamed_at, dd::stream_entry_id, dd::webhook_status, dd::webhook_next_at, dd::webhook_delivered_at),
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0 .0).collect();
    let tries: Vec<AttemptRow> = attempts::table
        .filter(attempts::delivery_id.eq_any(ids))
        .order(attempts::id.asc())
        .select((
            attempts::delivery_id,
            attempts::at,
            attempts::url,
            attempts::status_code,
            attempts::error,
            attempts::duration_ms,
        ))
        .load(conn)?;
    let items: Vec<DeliveryLog> = rows
        .into_iter()
        .map(|((id, key, kind, item_id, event, at, ack), (streamed, entry, status, next, delivered))| DeliveryLog {
            id,
            key,
            kind,
            item_id,
            event,
            created_at: at.0,
            acknowledged_at: ack.map(|t| t.0),
            streamed_at: streamed.map(|t| t.0),
            stream_entry_id: entry,
            webhook_status: status,
            webhook_next_attempt_at: next.map(|t| t.0),
            webhook_delivered_at: delivered.map(|t| t.0),
            webhook_attempts: tries
                .iter()
                .filter(|t| t.0 == id)
                .map(|(_, at, url, status_code, error, duration_ms)| WebhookAttempt {
                    at: at.0,
                    url: url.clone(),
                    status_code: *status_code,
                    error: error.clone(),
                    duration_ms: *duration_ms,
                })
                .collect(),
        })
        .collect();
    let next_cursor = items.last().map(|i| crate::paging::encode_cursor(i.id)).or_else(|| q.after.clone());
    Ok(DeliveryLogPage { items, next_cursor })
}
