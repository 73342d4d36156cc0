//! Stores an inbound mail: deduplicated by Message-ID per mailbox, threaded onto its ticket (or a
//! new one), with CCs, attachments and an acknowledgement unless a machine wrote it. One
//! transaction: the caller acknowledges the mail only after it committed.

use diesel::prelude::*;
use serde::Serialize;

use utoipa::ToSchema;

use super::outbox;
use super::parse::ParsedMail;
use crate::attachments::{self, FileStore};
use crate::config::EmailSettings;
use crate::db::schema::{email_messages, email_quarantine, messages, requesters, ticket_ccs, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::event::Linked;
use crate::domain::{Actor, TicketEvent};
use crate::domain::{Channel, Priority, SenderStatus, Status, TicketKind, TicketNumber};
use crate::error::AppError;
use crate::secrets::Signer;
use crate::tickets::log;
use crate::tickets::store::{self, NewTicketInput, Sender};
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

/// The mail as the helpdesk stores it, or why it goes to the quarantine instead (Spanish, shown to
/// administrators): unreadable, or more attachments than `[email]` allows (by count or by total
/// decoded size), which would otherwise become thousands of rows and files.
pub fn admit(settings: &EmailSettings, raw: &[u8]) -> Result<ParsedMail, String> {
    let mail = super::parse::parse(raw, &settings.loop_header).map_err(|e| e.to_string())?;
    let count = mail.attachments.len();
    if count > settings.max_attachments_per_message {
        return Err(format!(
            "trae {count} adjuntos; se admiten como máximo {} por correo",
            settings.max_attachments_per_message
        ));
    }
    let total: usize = mail.attachments.iter().map(|a| a.bytes.len()).sum();
    if total > settings.max_attachments_total_bytes {
        return Err(format!(
            "sus adjuntos suman {total} bytes; se admiten como máximo {} por correo",
            settings.max_attachments_total_bytes
        ));
    }
    Ok(mail)
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
pub fn ticket_by_token(settings: &EmailSettings, signer: &Signer, mail: &ParsedMail) -> Option<i64> {
    let (local, domain) = settings.address.split_once('@')?;
    mail.to.iter().chain(&mail.cc).find_map(|address| {
        let (user, host) = address.split_once('@')?;
        let token = user.strip_prefix(local)?.strip_prefix('+')?;
        (host == domain).then(|| signer.verify_reply_token(token)).flatten()
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

/// How the sender `email` relates to ticket `id`: its requester, one of its CCs, or a stranger.
fn sender_status(conn: &mut DbConnection, id: i64, email: &str) -> Result<SenderStatus, AppError> {
    let requester: Option<String> = tickets::table
        .inner_join(requesters::table)
        .filter(tickets::id.eq(id))
        .select(requesters::email)
        .first(conn)?;
    if requester.as_deref() == Some(email) {
        return Ok(SenderStatus::Requester);
    }
    let cc: i64 = ticket_ccs::table
        .filter(ticket_ccs::ticket_id.eq(id))
        .filter(ticket_ccs::email.eq(email))
        .count()
        .get_result(conn)?;
    Ok(if cc > 0 { SenderStatus::Cc } else { SenderStatus::Unknown })
}

/// The `[AU-2026-000123]` tag, honoured only for the requester or a CC of that ticket: guessing a
/// number must not let a stranger write into someone else's case.
fn ticket_by_subject(conn: &mut DbConnection, mail: &ParsedMail) -> Result<Option<i64>, AppError> {
    let Some(tag) = subject_tag(&mail.subject) else {
        return Ok(None);
    };
    let found: Option<i64> =
        tickets::table.filter(tickets::number.eq(tag.to_string())).select(tickets::id).first(conn).optional()?;
    let Some(id) = found else { return Ok(None) };
    Ok((sender_status(conn, id, &mail.from_email)? != SenderStatus::Unknown).then_some(id))
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

fn sender(mail: &ParsedMail, status: SenderStatus) -> Sender {
    Sender { email: mail.from_email.clone(), name: mail.from_name.clone(), status }
}

/// A new ticket whose requester is the mail's sender; `follow_up_of` is the closed ticket the mail
/// answered, with how the sender related to it.
fn new_ticket(
    conn: &mut DbConnection,
    mailbox: &str,
    mail: &ParsedMail,
    follow_up_of: Option<(i64, SenderStatus)>,
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
        sender: Some(sender(mail, SenderStatus::Requester)),
        // Never to a machine: two autoresponders would answer each other.
        acknowledge: mail.automatic.is_none(),
    };
    let ticket = store::create(conn, None, input)?;
    if let Some((old, status)) = follow_up_of {
        // A reply to a closed case opens a new one that points back to it (for a stranger too:
        // their own case, which shows them nothing of the closed one).
        let linked = TicketEvent::Linked(Linked { follow_up_of: old, sender_status: status });
        log::record(conn, ticket.id, Actor::System, linked, UtcTime::now())?;
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
    signer: &Signer,
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
        None => match ticket_by_token(settings, signer, mail) {
            Some(id) => Some(id),
            None => ticket_by_subject(conn, mail)?,
        },
    };
    let open_thread = match thread {
        Some(id) => {
            let (status, number): (String, String) =
                tickets::table.find(id).select((tickets::status, tickets::number)).first(conn)?;
            Some((id, number, status == Status::Closed.as_str(), sender_status(conn, id, &mail.from_email)?))
        }
        None => None,
    };
    let (outcome, ticket_id, number, message_row, status) = match open_thread {
        Some((id, number, false, status)) => {
            let reply = CreateMessageRequest {
                body: mail.text.clone(),
                body_html: mail.html.clone(),
                visibility: None,
                from_requester: true,
                status: None,
            };
            // The mail speaks for its sender only: the requester, a CC or a stranger.
            let actor = match status {
                SenderStatus::Requester => {
                    Actor::Requester(tickets::table.find(id).select(tickets::requester_id).first(conn)?)
                }
                SenderStatus::Cc | SenderStatus::Unknown => Actor::System,
            };
            let message = store::add_mail_message(conn, id, actor, reply, &sender(mail, status))?;
            (Outcome::Appended, id, number, message.id, status)
        }
        Some((closed, _, true, status)) => {
            let (id, number) = new_ticket(conn, mailbox, mail, Some((closed, status)))?;
            (Outcome::Created, id, number, first_message(conn, id)?, SenderStatus::Requester)
        }
        None => {
            let (id, number) = new_ticket(conn, mailbox, mail, None)?;
            (Outcome::Created, id, number, first_message(conn, id)?, SenderStatus::Requester)
        }
    };
    // A stranger cannot put people in copy of someone else's case.
    if status != SenderStatus::Unknown {
        save_ccs(conn, settings, ticket_id, mail)?;
    }
    attachments::save(conn, files, ticket_id, message_row, &mail.attachments)?;
    record_mail(conn, Some(ticket_id), Some(message_row))?;
    Ok(IntakeResult {
        outcome,
        ticket_id: Some(ticket_id),
        ticket_number: Some(number),
        message_id: Some(mail.message_id.clone()),
    })
}
