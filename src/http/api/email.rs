//! Email channel endpoints: raw MIME intake (for an MTA pipe or a provider's hook), and the
//! outbox and quarantine for administrators.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Query;
use crate::channels::email::intake::{self, IntakeResult, Outcome};
use crate::channels::email::outbox::{self, OutboxRow};
use crate::db::schema::email_quarantine;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboundParams {
    /// Which mailbox received it (deduplication is per mailbox); defaults to the helpdesk address.
    pub mailbox: Option<String>,
}

pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, AppError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::BadRequest("No se pudo leer el mensaje.".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Deliver one raw RFC 5322 mail (`Content-Type: message/rfc822`).
///
/// Answers 2xx only after the mail is stored: 201 a new ticket or a message on an existing one,
/// 200 a duplicate (same Message-ID), 202 kept in quarantine (unreadable, or more attachments than
/// `[email] max_attachments_per_message` / `max_attachments_total_bytes` allow). Anything else
/// means the sender must retry.
#[utoipa::path(tag = "email", params(InboundParams),
    request_body(content = String, content_type = "message/rfc822", description = "The raw mail"),
    responses(
        (status = 201, body = IntakeResult), (status = 200, description = "Duplicate", body = IntakeResult),
        (status = 202, description = "Quarantined", body = IntakeResult),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `mailbox`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[post("/channels/email/inbound")]
pub async fn inbound(
    state: web::Data<AppState>,
    _p: Auth<perm::CreateTickets>,
    req: HttpRequest,
    params: Query<InboundParams>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.trim().to_ascii_lowercase().starts_with("message/rfc822") {
        return Err(AppError::UnsupportedMediaType);
    }
    let settings = state.settings.email.clone();
    let raw = read_body(payload, settings.max_message_bytes).await?;
    let mailbox = params.into_value()?.mailbox.unwrap_or_else(|| settings.address.clone());
    let result = match intake::admit(&settings, &raw) {
        Ok(mail) => {
            let mail = std::sync::Arc::new(mail);
            let attempt = || {
                let (settings, signer, files, mailbox, mail) =
                    (settings.clone(), state.signer.clone(), state.attachments.clone(), mailbox.clone(), mail.clone());
                state.db.write(move |c| intake::ingest(c, &settings, &signer, &files, &mailbox, &mail))
            };
            match attempt().await {
                // The same Message-ID delivered twice at once: the later insert hit the unique
                // index and rolled back; a second pass finds the stored mail and answers 200
                // (duplicate) instead of a 409 an MTA could take as a permanent failure.
                Err(AppError::Conflict(_)) => attempt().await?,
                other => other?,
            }
        }
        Err(reason) => {
            state.db.write(move |c| intake::quarantine(c, &mailbox, &raw, &reason)).await?;
            IntakeResult { outcome: Outcome::Quarantined, ticket_id: None, ticket_number: None, message_id: None }
        }
    };
    let status = match result.outcome {
        Outcome::Created | Outcome::Appended => actix_web::http::StatusCode::CREATED,
        Outcome::Quarantined => actix_web::http::StatusCode::ACCEPTED,
        Outcome::Duplicate | Outcome::Bounce => actix_web::http::StatusCode::OK,
    };
    if result.outcome == Outcome::Created {
        crate::metrics::ticket_created(crate::domain::Channel::Email);
    }
    Ok(HttpResponse::build(status).json(result))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    pub ticket_id: Option<i64>,
}

/// Mail queued, sent, bounced or given up (dead), oldest first.
#[utoipa::path(tag = "email", params(OutboxParams), responses((status = 200, body = Vec<OutboxRow>)), security(("bearer" = [])))]
#[get("/channels/email/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadAgents>,
    params: Query<OutboxParams>,
) -> Result<web::Json<Vec<OutboxRow>>, AppError> {
    let ticket = params.into_value()?.ticket_id;
    Ok(web::Json(state.db.read(move |c| outbox::list(c, ticket)).await?))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuarantinedMail {
    pub id: i64,
    pub mailbox: String,
    pub reason: String,
    pub size: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Mail that could not be processed; the raw bytes are kept.
#[utoipa::path(tag = "email", responses((status = 200, body = Vec<QuarantinedMail>)), security(("bearer" = [])))]
#[get("/channels/email/quarantine")]
pub async fn list_quarantine(
    state: web::Data<AppState>,
    _p: Auth<perm::ReadAgents>,
) -> Result<web::Json<Vec<QuarantinedMail>>, AppError> {
    let rows: Vec<(i64, String, String, i64, crate::db::types::UtcTime)> = state
        .db
        .read(|c| {
            Ok(email_quarantine::table
                .filter(email_quarantine::released_at.is_null())
                .order(email_quarantine::id)
                .select((
                    email_quarantine::id,
                    email_quarantine::mailbox,
                    email_quarantine::reason,
                    email_quarantine::size,
                    email_quarantine::created_at,
                ))
                .load(c)?)
        })
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(id, mailbox, reason, size, at)| QuarantinedMail { id, mailbox, reason, size, created_at: at.0 })
            .collect(),
    ))
}

/// Process a quarantined mail again (e.g. after a fix); on success it leaves the quarantine.
#[utoipa::path(tag = "email", params(("id" = i64, Path)),
    responses(
        (status = 200, body = IntakeResult),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Still unreadable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[post("/channels/email/quarantine/{id}/reprocess")]
pub async fn reprocess(
    state: web::Data<AppState>,
    _p: Auth<perm::ManageAgents>,
    id: web::Path<i64>,
) -> Result<web::Json<IntakeResult>, AppError> {
    let id = id.into_inner();
    let settings = state.settings.email.clone();
    let signer = state.signer.clone();
    let files = state.attachments.clone();
    let result = state
        .db
        .write(move |c| {
            let (mailbox, raw): (String, Vec<u8>) = email_quarantine::table
                .find(id)
                .filter(email_quarantine::released_at.is_null())
                .select((email_quarantine::mailbox, email_quarantine::raw))
                .first(c)
                .optional()?
                .ok_or(AppError::NotFound("ese correo en cuarentena"))?;
            let mail = intake::admit(&settings, &raw)
                .map_err(|e| AppError::field("raw", format!("sigue sin poder procesarse: {e}")))?;
            let result = intake::ingest(c, &settings, &signer, &files, &mailbox, &mail)?;
            diesel::update(email_quarantine::table.find(id))
                .set(email_quarantine::released_at.eq(crate::db::types::UtcTime::now()))
                .execute(c)?;
            Ok(result)
        })
        .await?;
    Ok(web::Json(result))
}
