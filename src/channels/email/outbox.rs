//! The durable outbox: every mail to send is a row written in the same transaction as its cause;
//! a worker leases rows, sends them over SMTP and records the outcome, retrying with exponential
//! backoff and giving up (dead letter) after a number of attempts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use utoipa::ToSchema;

use super::compose::{self, Templates};
use crate::attachments::FileStore;
use crate::config::{EmailSettings, SmtpSettings};
use crate::db::schema::{email_messages, outbox, requesters};
use crate::db::types::UtcTime;
use crate::db::{backend, Db, DbConnection};
use crate::domain::event::Created;
use crate::domain::TicketEvent;
use crate::error::AppError;
use crate::secrets::Signer;
use crate::tickets::followers::{Followed, Follower};
use crate::tickets::reactions::{Cause, Change, Reaction, Settled};

/// What a mail is for; decides its template and headers.
pub const ACK: &str = "ack";
pub const REPLY: &str = "reply";
/// An SLA warning or breach, to an agent or supervisor.
pub const SLA_NOTICE: &str = "sla_notice";
/// A trend alert, to supervisors: about no single ticket.
pub const TREND_ALERT: &str = "trend_alert";
/// A department answered an escalation: to the agent who escalated.
pub const DEPARTMENT_ANSWER: &str = "department_answer";

/// A link to set a password, to a person of the service.
pub const INVITATION: &str = "invitation";

/// Notices to staff, which are no part of any conversation with a requester.
pub fn is_staff_notice(kind: &str) -> bool {
    kind == SLA_NOTICE || kind == TREND_ALERT || kind == INVITATION || kind == DEPARTMENT_ANSWER
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub ticket_id: Option<i64>,
    pub message_row_id: Option<i64>,
    pub recipient: String,
    pub message_id: String,
    pub detail: Option<String>,
    pub status: String,
    pub attempts: i32,
    #[schema(value_type = String)]
    pub next_attempt_at: UtcTime,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>)]
    pub sent_at: Option<UtcTime>,
    #[schema(value_type = String)]
    pub created_at: UtcTime,
}

/// Queues a mail in the caller's transaction. The Message-ID's local part is fixed now, so a
/// retried send carries the same id and receivers can drop duplicates.
pub fn enqueue(
    conn: &mut DbConnection,
    kind: &str,
    ticket_id: i64,
    message_row_id: Option<i64>,
    recipient: &str,
) -> Result<(), AppError> {
    enqueue_with(conn, kind, ticket_id, message_row_id, recipient, None)
}

/// [`enqueue`] with `detail`: template values that are not in the ticket.
pub fn enqueue_with(
    conn: &mut DbConnection,
    kind: &str,
    ticket_id: i64,
    message_row_id: Option<i64>,
    recipient: &str,
    detail: Option<serde_json::Value>,
) -> Result<(), AppError> {
    let now = UtcTime::now();
    let local = format!("atn.{ticket_id}.{:016x}", rand::random::<u64>());
    diesel::insert_into(outbox::table)
        .values((
            outbox::kind.eq(kind),
            outbox::ticket_id.eq(ticket_id),
            outbox::message_row_id.eq(message_row_id),
            outbox::recipient.eq(recipient),
            outbox::message_id.eq(local),
            outbox::detail.eq(detail.map(|d| d.to_string())),
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Queues a staff notice about no ticket (`detail` holds what its template shows).
pub fn enqueue_notice(
    conn: &mut DbConnection,
    kind: &str,
    recipient: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let now = UtcTime::now();
    diesel::insert_into(outbox::table)
        .values((
            outbox::kind.eq(kind),
            outbox::ticket_id.eq(None::<i64>),
            outbox::recipient.eq(recipient),
            outbox::message_id.eq(format!("atn.{kind}.{:016x}", rand::random::<u64>())),
            outbox::detail.eq(Some(detail.to_string())),
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether mail of `kind` (with `detail`, when given) is queued for ticket `ticket_id` already:
/// how the log's followers send nothing twice.
pub fn queued(conn: &mut DbConnection, ticket_id: i64, kind: &str, detail: Option<&str>) -> Result<bool, AppError> {
    let mut query = outbox::table.filter(outbox::ticket_id.eq(ticket_id)).filter(outbox::kind.eq(kind)).into_boxed();
    if let Some(detail) = detail {
        query = query.filter(outbox::detail.eq(detail));
    }
    Ok(query.count().get_result::<i64>(conn)? > 0)
}

/// Automatic answers sent to `recipient` in the last 24 hours (the loop-safety cap).
pub fn recent_automatic(conn: &mut DbConnection, recipient: &str, now: DateTime<Utc>) -> Result<i64, AppError> {
    Ok(outbox::table
        .filter(outbox::recipient.eq(recipient))
        .filter(outbox::kind.eq(ACK))
        .filter(outbox::created_at.gt(UtcTime::from(now - TimeDelta::hours(24))))
        .count()
        .get_result(conn)?)
}

/// Queues the acknowledgement of new ticket `ticket_id` (its number and the link to its case page)
/// to `recipient`, unless that address already got its automatic answers of the day (the
/// loop-safety cap). Returns whether it was queued.
pub fn acknowledge(
    conn: &mut DbConnection,
    settings: &EmailSettings,
    ticket_id: i64,
    recipient: &str,
) -> Result<bool, AppError> {
    if recent_automatic(conn, recipient, Utc::now())? >= settings.auto_replies_per_sender_per_day {
        return Ok(false);
    }
    enqueue(conn, ACK, ticket_id, None, recipient)?;
    Ok(true)
}

/// Marks our mail whose Message-ID local part is `local` as bounced.
pub fn mark_bounced(conn: &mut DbConnection, local: &str, reason: &str) -> Result<bool, AppError> {
    let n = diesel::update(outbox::table.filter(outbox::message_id.eq(local)))
        .set((outbox::status.eq("bounced"), outbox::last_error.eq(reason)))
        .execute(conn)?;
    Ok(n > 0)
}

pub fn list(conn: &mut DbConnection, ticket_id: Option<i64>) -> Result<Vec<OutboxRow>, AppError> {
    let mut query = outbox::table.select(OutboxRow::as_select()).order(outbox::id).into_boxed();
    if let Some(id) = ticket_id {
        query = query.filter(outbox::ticket_id.eq(id));
    }
    let mut rows: Vec<OutboxRow> = query.load(conn)?;
    // An invitation's detail holds its password link: whoever reads the outbox must not get it.
    rows.iter_mut().filter(|r| r.kind == INVITATION).for_each(|r| r.detail = None);
    Ok(rows)
}

fn backoff(settings: &SmtpSettings, attempts: i32) -> TimeDelta {
    let secs = settings.retry_base_secs.max(1).saturating_mul(1 << attempts.clamp(0, 16));
    TimeDelta::seconds(secs.min(3600))
}

/// How many due mails one flush leases.
const BATCH: usize = 20;

/// What mails are made of besides the rows: templates, the base of links, replies' files.
pub struct Content {
    pub templates: Templates,
    pub public_url: String,
    pub files: Arc<FileStore>,
}

/// Sends what is due once (at most [`BATCH`]); returns how many mails were sent.
pub async fn flush(
    db: &Db,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    email: &EmailSettings,
    signer: &Arc<Signer>,
    smtp: &SmtpSettings,
    content: &Arc<Content>,
) -> Result<usize, AppError> {
    let now = Utc::now();
    let lease = UtcTime::from(now + TimeDelta::seconds(smtp.lease_secs.max(1)));
    let ids = db
        .write(move |c| Ok(backend::lease_ids(c, &backend::OUTBOX, UtcTime::from(now), lease, BATCH as i64)?))
        .await?;
    let mut sent = 0;
    for id in ids {
        let (settings, signer) = (email.clone(), signer.clone());
        let content = content.clone();
        let composed = db
            .read(move |c| {
                let Content { templates, public_url, files } = &*content;
                compose::compose(c, id, &settings, &signer, templates, public_url, files)
            })
            .await;
        let outcome = match composed {
            Ok(Some(mail)) => transport.send(mail.message).await.map(|_| Some(mail.full_id)).map_err(|e| e.to_string()),
            // Nothing to say any more (e.g. the requester has no address): done.
            Ok(None) => Ok(None),
            Err(e) => Err(format!("no se pudo componer: {e}")),
        };
        let smtp = smtp.clone();
        let mailbox = email.address.clone();
        let ok = outcome.is_ok();
        db.write(move |c| record_outcome(c, id, outcome, &smtp, &mailbox)).await?;
        sent += usize::from(ok);
    }
    Ok(sent)
}

fn record_outcome(
    conn: &mut DbConnection,
    id: i64,
    outcome: Result<Option<String>, String>,
    smtp: &SmtpSettings,
    mailbox: &str,
) -> Result<(), AppError> {
    let row: OutboxRow = outbox::table.find(id).select(OutboxRow::as_select()).first(conn)?;
    let now = UtcTime::now();
    match outcome {
        Ok(full_id) => {
            diesel::update(outbox::table.find(id))
                .set((outbox::status.eq("sent"), outbox::sent_at.eq(now), outbox::attempts.eq(row.attempts + 1)))
                .execute(conn)?;
            // Staff notices are not part of the conversation with the requester.
            let threaded = !is_staff_notice(&row.kind);
            if let (Some(full_id), Some(ticket_id), true) = (full_id, row.ticket_id, threaded) {
                // Remembered for threading: an answer to this mail finds its ticket.
                diesel::insert_into(email_messages::table)
                    .values((
                        email_messages::ticket_id.eq(ticket_id),
                        email_messages::message_row_id.eq(row.message_row_id),
                        email_messages::direction.eq("out"),
                        email_messages::mailbox.eq(mailbox),
                        email_messages::message_id.eq(full_id),
                        email_messages::from_address.eq(mailbox),
                        email_messages::subject.eq(""),
                        email_messages::created_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        Err(error) => {
            let attempts = row.attempts + 1;
            let dead = attempts >= smtp.max_attempts;
            tracing::warn!(outbox_id = id, attempts, dead, %error, "mail not sent");
            diesel::update(outbox::table.find(id))
                .set((
                    outbox::status.eq(if dead { "dead" } else { "pending" }),
                    outbox::attempts.eq(attempts),
                    outbox::last_error.eq(error.chars().take(500).collect::<String>()),
                    outbox::next_attempt_at.eq(UtcTime::from(now.0 + backoff(smtp, row.attempts))),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The worker of one replica; `public_url` is the base of the links sent to requesters, signed
/// by `signer`; replies' files are read from `files` when they are sent.
pub async fn run(
    db: Db,
    email: EmailSettings,
    signer: Arc<Signer>,
    smtp: SmtpSettings,
    public_url: String,
    files: Arc<FileStore>,
) {
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url) {
        Ok(builder) => builder.timeout(Some(Duration::from_secs(20))).build(),
        Err(e) => {
            tracing::error!(error = %e, "invalid smtp.url; outbox worker not started");
            return;
        }
    };
    let content = Arc::new(Content { templates: Templates::load(&email.templates), public_url, files });
    loop {
        match flush(&db, &transport, &email, &signer, &smtp, &content).await {
            // A whole batch went out: more may be due, send on at once (sleeping here capped
            // delivery at one batch per poll interval).
            Ok(sent) if sent == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox flush failed"),
        }
        tokio::time::sleep(Duration::from_millis(smtp.poll_interval_ms.max(50))).await;
    }
}

/// An agent's public reply goes to the requester by email, sent after the change commits.
pub struct ReplyMail;

impl Reaction for ReplyMail {
    fn settle(&self, conn: &mut DbConnection, change: &Change<'_>, _: &mut Settled) -> Result<(), AppError> {
        let Cause::Message { before, message_id, .. } = change.cause else { return Ok(()) };
        if !change.is_public_reply() {
            return Ok(());
        }
        let email: Option<String> =
            requesters::table.find(before.requester_id).select(requesters::email).first(conn)?;
        match email {
            Some(email) => enqueue(conn, REPLY, change.ticket_id, Some(message_id), &email),
            None => Ok(()),
        }
    }
}

/// The acknowledgement of a new ticket follows the committed log: the creation records that the
/// requester is to be told (`Created::acknowledge`), and this sends it once, after the commit,
/// to the requester's address.
pub struct Acknowledgement {
    pub settings: EmailSettings,
}

impl Follower for Acknowledgement {
    fn follow(&self, conn: &mut DbConnection, event: &Followed) -> Result<usize, AppError> {
        let TicketEvent::Created(Created { acknowledge: true, requester_id, .. }) = event.logged.event else {
            return Ok(0);
        };
        // The requester's address, unless the acknowledgement is queued already: following the
        // log again (its position set back by hand) sends nothing twice.
        let queued = outbox::table.filter(outbox::ticket_id.eq(event.ticket_id)).filter(outbox::kind.eq(ACK));
        let email: Option<Option<String>> = requesters::table
            .find(requester_id)
            .filter(diesel::dsl::not(diesel::dsl::exists(queued)))
            .select(requesters::email)
            .first(conn)
            .optional()?;
        match email.flatten() {
            Some(email) => Ok(usize::from(acknowledge(conn, &self.settings, event.ticket_id, &email)?)),
            None => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let smtp = SmtpSettings {
            url: String::new(),
            poll_interval_ms: 1000,
            max_attempts: 8,
            retry_base_secs: 30,
            lease_secs: 120,
        };
        let delays: Vec<i64> = (0..9).map(|a| backoff(&smtp, a).num_seconds()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
