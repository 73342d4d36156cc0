//! Stores an inbound mail: deduplicated by Message-ID per mailbox, threaded onto its ticket (or a
//! new one), with CCs, attachments and an acknowledgement unless a machine wrote it. One
//! transaction: the caller acknowledges the mail only after it committed.

use std::path::{Path, PathBuf};

use chrono::Utc;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::compose::verify_token;
use super::outbox::{self, ACK};
use super::parse::{Attachment, ParsedMail};
use crate::auth::Actor;
use crate::config::EmailSettings;
use crate::db::schema::{attachments, email_messages, email_quarantine, messages, requesters, ticket_ccs, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::{Channel, EventKind, Priority, Status, TicketKind, TicketNumber};
use crate::error::AppError;
use crate::tickets::store::{self, NewTicketInput};
use crate::tickets::{CreateMessageRequest, RequesterData};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new ticket.
    Created,
    /// Added to an existing ticket.
    Appended,
    /// Already stored (same Message-ID in this mailbox): nothing new.
    Duplicate,
    /// A delivery report about our own mail.
    Bounce,
    /// Could not be processed; kept for an administrator.
    Quarantined,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntakeResult {
    pub outcome: Outcome,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub message_id: Option<String>,
}

/// Content-addressed attachment files: the same file sent twice is stored once.
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub fn new(root: impl AsRef<Path>) -> FileStore {
        FileStore { root: root.as_ref().to_owned() }
    }

    /// Writes the bytes (if new) and returns their SHA-256.
    pub fn put(&self, bytes: &[u8]) -> Result<String, AppError> {
        let hash = hex::encode(Sha256::digest(bytes));
        let dir = self.root.join(&hash[..2]);
        let path = dir.join(&hash);
        if !path.exists() {
            std::fs::create_dir_all(&dir).map_err(anyhow::Error::from)?;
            let tmp = dir.join(format!(".{hash}.{:08x}", rand::random::<u32>()));
            std::fs::write(&tmp, bytes).map_err(anyhow::Error::from)?;
            std::fs::rename(&tmp, &path).map_err(anyhow::Error::from)?;
        }
        Ok(hash)
    }
}

/// Keeps a mail that cannot be processed, so it is not lost and does not block the next one.
pub fn quarantine(conn: &mut DbConnection, mailbox: &str, raw: &[u8], reason: &str) -> Result<i64, AppError> {
    Ok(diesel::insert_into(email_quarantine::table)
        .values((
            email_quarantine::mailbox.eq(mailbox),
            email_quarantine::reason.eq(reason),
            email_quarantine::size.eq(raw.len() as i64),
            email_quarantine::raw.eq(raw),
            email_quarantine::created_at.eq(UtcTime::now()),
        ))
        .returning(email_quarantine::id)
        .get_result(conn)?)
}

fn ticket_by_parents(conn: &mut DbConnection, parents: &[String]) -> Result<Option<i64>, AppError> {
    if parents.is_empty() {
        return Ok(None);
    }
    let mut found: Vec<(String, Option<i64>)> = email_messages::table
        .filter(email_messages::message_id.eq_any(parents))
        .select((email_messages::message_id, email_messages::ticket_id))
        .load(conn)?;
    // Our own mail is known from the moment it is queued (its local part is fixed then), so an
    // answer that arrives before the worker recorded the send still finds its ticket.
    let ours: Vec<&str> =
        parents.iter().filter_map(|p| p.split_once('@')).map(|(l, _)| l).filter(|l| l.starts_with("atn.")).collect();
    if !ours.is_empty() {
        use crate::db::schema::outbox as queued_mail;
        let queued: Vec<(String, Option<i64>)> = queued_mail::table
            .filter(queued_mail::message_id.eq_any(&ours))
            .filter(queued_mail::kind.ne_all([outbox::SLA_NOTICE, outbox::TREND_ALERT]))
            .select((queued_mail::message_id, queued_mail::ticket_id))
            .load(conn)?;
        let full = |local: &str| parents.iter().find(|p| p.split_once('@').is_some_and(|(l, _)| l == local)).cloned();
        found.extend(queued.into_iter().filter_map(|(local, ticket)| Some((full(&local)?, ticket))));
    }
    // The nearest parent wins (In-Reply-To before older References).
    Ok(parents.iter().find_map(|p| found.iter().find(|(id, _)| id == p).and_then(|(_, t)| *t)))
}

/// The ticket named by a `+token` in the mail's recipients, if the token is genuine (pure: public
/// so the fuzz targets exercise it).
pub fn ticket_by_token(settings: &EmailSettings, mail: &ParsedMail) -> Option<i64> {
    let (local, domain) = settings.address.split_once('@')?;
    mail.to.iter().chain(&mail.cc).find_map(|address| {
        let (user, host) = address.split_once('@')?;
        let token = user.strip_prefix(local)?.strip_prefix('+')?;
        (host == domain).then(|| verify_token(&settings.token_secret, token)).flatten()
    })
}

/// The first `[AU-2026-000123]` tag in a subject.
pub fn subject_tag(subject: &str) -> Option<TicketNumber> {
    subject.split('[').skip(1).find_map(|s| s.split(']').next().and_then(TicketNumber::parse))
}

/// The subject and first message a mail opens a ticket with: placeholders for empty ones, the
/// subject cut to the ticket limit.
pub fn ticket_text(mail: &ParsedMail) -> (String, String) {
    let subject =
        if mail.subject.is_empty() { "(sin asunto)".to_owned() } else { mail.subject.chars().take(200).collect() };
    let body = if mail.text.trim().is_empty() { "(mensaje sin texto)".to_owned() } else { mail.text.clone() };
    (subject, body)
}

/// The `[AU-2026-000123]` tag, honoured only for the requester or a CC of that ticket: guessing a
/// number must not let a stranger write into someone else's case.
fn ticket_by_subject(conn: &mut DbConnection, mail: &ParsedMail) -> Result<Option<i64>, AppError> {
    let Some(tag) = subject_tag(&mail.subject) else {
        return Ok(None);
    };
    let found: Option<(i64, Option<String>)> = tickets::table
        .inner_join(requesters::table)
        .filter(tickets::number.eq(tag.to_string()))
        .select((tickets::id, requesters::email))
        .first(conn)
        .optional()?;
    let Some((id, requester_email)) = found else { return Ok(None) };
    let is_cc: i64 = ticket_ccs::table
        .filter(ticket_ccs::ticket_id.eq(id))
        .filter(ticket_ccs::email.eq(&mail.from_email))
        .count()
        .get_result(conn)?;
    Ok((requester_email.as_deref() == Some(mail.from_email.as_str()) || is_cc > 0).then_some(id))
}

fn save_ccs(
    conn: &mut DbConnection,
    settings: &EmailSettings,
    ticket_id: i64,
    mail: &ParsedMail,
) -> Result<(), AppError> {
    let (local, domain) = settings.address.split_once('@').unwrap_or((&settings.address, ""));
    let ours =
        |a: &str| a == settings.address || (a.starts_with(&format!("{local}+")) && a.ends_with(&format!("@{domain}")));
    for cc in mail.cc.iter().chain(mail.to.iter()) {
        if ours(cc) || *cc == mail.from_email {
            continue;
        }
        let exists: i64 = ticket_ccs::table.find((ticket_id, cc)).count().get_result(conn)?;
        if exists == 0 {
            diesel::insert_into(ticket_ccs::table)
                .values((ticket_ccs::ticket_id.eq(ticket_id), ticket_ccs::email.eq(cc)))
                .execute(conn)?;
        }
    }
    Ok(())
}

fn save_attachments(
    conn: &mut DbConnection,
    files: &FileStore,
    ticket_id: i64,
    message: i64,
    list: &[Attachment],
) -> Result<(), AppError> {
    for a in list {
        let sha = files.put(&a.bytes)?;
        diesel::insert_into(attachments::table)
            .values((
                attachments::ticket_id.eq(ticket_id),
                attachments::message_row_id.eq(message),
                attachments::filename.eq(&a.filename),
                attachments::content_type.eq(&a.content_type),
                attachments::size.eq(a.bytes.len() as i64),
                attachments::sha256.eq(sha),
                attachments::content_id.eq(&a.content_id),
                attachments::created_at.eq(UtcTime::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn new_ticket(
    conn: &mut DbConnection,
    mailbox: &str,
    mail: &ParsedMail,
    follow_up_of: Option<i64>,
) -> Result<(i64, String), AppError> {
    let (subject, body) = ticket_text(mail);
    let input = NewTicketInput {
        subject,
        body,
        body_html: mail.html.clone(),
        requester_id: None,
        requester: RequesterData {
            name: mail.from_name.clone(),
            email: Some(mail.from_email.clone()),
            ..Default::default()
        },
        channel: Channel::Email,
        priority: Priority::Normal,
        category: None,
        queue: None,
        assignee_id: None,
        tags: Vec::new(),
        kind: TicketKind::Standard,
        origin: crate::routing::rules::Origin { mailbox: Some(mailbox.to_owned()), called_number: None },
    };
    let ticket = store::create(conn, None, input)?;
    if let Some(old) = follow_up_of {
        // A reply to a closed case opens a new one that points back to it.
        store::record(conn, ticket.id, EventKind::Linked, Actor::System, json!({"follow_up_of": old}), UtcTime::now())?;
    }
    Ok((ticket.id, ticket.number))
}

fn first_message(conn: &mut DbConnection, ticket_id: i64) -> Result<i64, AppError> {
    Ok(messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .order(messages::id.asc())
        .select(messages::id)
        .first(conn)?)
}

pub fn ingest(
    conn: &mut DbConnection,
    settings: &EmailSettings,
    files: &FileStore,
    mailbox: &str,
    mail: &ParsedMail,
) -> Result<IntakeResult, AppError> {
    let existing: Option<Option<i64>> = email_messages::table
        .filter(email_messages::mailbox.eq(mailbox))
        .filter(email_messages::direction.eq("in"))
        .filter(email_messages::message_id.eq(&mail.message_id))
        .select(email_messages::ticket_id)
        .first(conn)
        .optional()?;
    if let Some(ticket_id) = existing {
        let number =
            ticket_id.map(|id| tickets::table.find(id).select(tickets::number).first::<String>(conn)).transpose()?;
        return Ok(IntakeResult {
            outcome: Outcome::Duplicate,
            ticket_id,
            ticket_number: number,
            message_id: Some(mail.message_id.clone()),
        });
    }
    let record_mail =
        |conn: &mut DbConnection, ticket_id: Option<i64>, message_row: Option<i64>| -> Result<(), AppError> {
            diesel::insert_into(email_messages::table)
                .values((
                    email_messages::ticket_id.eq(ticket_id),
                    email_messages::message_row_id.eq(message_row),
                    email_messages::direction.eq("in"),
                    email_messages::mailbox.eq(mailbox),
                    email_messages::message_id.eq(&mail.message_id),
                    email_messages::from_address.eq(&mail.from_email),
                    email_messages::subject.eq(&mail.subject),
                    email_messages::automatic.eq(mail.automatic),
                    email_messages::created_at.eq(UtcTime::now()),
                ))
                .execute(conn)?;
            Ok(())
        };
    if let Some(bounced) = &mail.bounce_of {
        let local = bounced.split('@').next().unwrap_or(bounced);
        outbox::mark_bounced(conn, local, "rebotado por el servidor de destino")?;
        record_mail(conn, None, None)?;
        return Ok(IntakeResult {
            outcome: Outcome::Bounce,
            ticket_id: None,
            ticket_number: None,
            message_id: Some(mail.message_id.clone()),
        });
    }

    let thread = match ticket_by_parents(conn, &mail.parents)? {
        Some(id) => Some(id),
        None => match ticket_by_token(settings, mail) {
            Some(id) => Some(id),
            None => ticket_by_subject(conn, mail)?,
        },
    };
    let open_thread = match thread {
        Some(id) => {
            let (status, number): (String, String) =
                tickets::table.find(id).select((tickets::status, tickets::number)).first(conn)?;
            Some((id, number, status == Status::Closed.as_str()))
        }
        None => None,
    };
    let (outcome, ticket_id, number, message_row) = match open_thread {
        Some((id, number, false)) => {
            let reply = CreateMessageRequest {
                body: mail.text.clone(),
                body_html: mail.html.clone(),
                visibility: None,
                from_requester: true,
                status: None,
            };
            let requester_id: i64 = tickets::table.find(id).select(tickets::requester_id).first(conn)?;
            let message = store::add_message(conn, id, Actor::Requester(requester_id), reply)?;
            (Outcome::Appended, id, number, message.id)
        }
        Some((closed, _, true)) => {
            let (id, number) = new_ticket(conn, mailbox, mail, Some(closed))?;
            (Outcome::Created, id, number, first_message(conn, id)?)
        }
        None => {
            let (id, number) = new_ticket(conn, mailbox, mail, None)?;
            (Outcome::Created, id, number, first_message(conn, id)?)
        }
    };
    save_ccs(conn, settings, ticket_id, mail)?;
    save_attachments(conn, files, ticket_id, message_row, &mail.attachments)?;
    record_mail(conn, Some(ticket_id), Some(message_row))?;
    let capped =
        outbox::recent_automatic(conn, &mail.from_email, Utc::now())? >= settings.auto_replies_per_sender_per_day;
    if outcome == Outcome::Created && mail.automatic.is_none() && !capped {
        outbox::enqueue(conn, ACK, ticket_id, None, &mail.from_email)?;
    }
    Ok(IntakeResult {
        outcome,
        ticket_id: Some(ticket_id),
        ticket_number: Some(number),
        message_id: Some(mail.message_id.clone()),
    })
}
