//! The page where a requester follows their case, reached by the link in our mails
//! (`/casos/{token}`): status and the public conversation, never internal notes. The token is a
//! MAC of the ticket id, so links cannot be guessed; no login is needed.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use chrono_tz::America::Santiago;
use diesel::prelude::*;

use super::page::{escape, public_page};
use std::collections::HashMap;

use crate::attachments::ScanState;
use crate::db::schema::{attachment_files, attachments, messages, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::{AuthorType, SenderStatus, Status, Visibility};
use crate::error::AppError;
use crate::http::state::AppState;

struct Case {
    number: String,
    subject: String,
    status: Status,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// (author, text, when, files), oldest first.
    messages: Vec<(AuthorType, String, DateTime<Utc>, Vec<File>)>,
}

/// A file of a public message: (attachment id, name, size).
type File = (i64, String, i64);

/// The messages the requester sees: public, not the system's, not a stranger's mail.
macro_rules! shown_messages {
    ($ticket:expr) => {
        messages::table
            .filter(messages::ticket_id.eq($ticket))
            .filter(messages::visibility.eq(Visibility::Public.as_str()))
            .filter(messages::author_type.ne(AuthorType::System.as_str()))
            // A stranger's mail never reaches the requester's page.
            .filter(messages::sender_status.is_null().or(messages::sender_status.ne(SenderStatus::Unknown.as_str())))
    };
}

/// The files of the shown messages of ticket `id`, by message.
fn files(conn: &mut DbConnection, id: i64) -> Result<HashMap<i64, Vec<File>>, AppError> {
    let rows: Vec<(i64, i64, String, i64)> = shown_messages!(id)
        .inner_join(attachments::table.on(attachments::message_row_id.eq(messages::id.nullable())))
        .inner_join(attachment_files::table.on(attachment_files::sha256.eq(attachments::sha256)))
        // Only what downloads: not a file waiting for its malware scan, never an infected one.
        .filter(attachment_files::scan.eq_any([ScanState::Unscanned.as_str(), ScanState::Clean.as_str()]))
        .order(attachments::id.asc())
        .select((messages::id, attachments::id, attachments::filename, attachments::size))
        .load(conn)?;
    let mut by_message: HashMap<i64, Vec<File>> = HashMap::new();
    for (message, id, name, size) in rows {
        by_message.entry(message).or_default().push((id, name, size));
    }
    Ok(by_message)
}

fn load(conn: &mut DbConnection, id: i64) -> Result<Option<Case>, AppError> {
    let ticket: Option<(String, String, String, UtcTime, UtcTime)> = tickets::table
        .find(id)
        .select((tickets::number, tickets::subject, tickets::status, tickets::created_at, tickets::updated_at))
        .first(conn)
        .optional()?;
    let Some((number, subject, status, created, updated)) = ticket else { return Ok(None) };
    let rows: Vec<(i64, String, String, UtcTime)> = shown_messages!(id)
        .order(messages::id.asc())
        .select((messages::id, messages::author_type, messages::body_text, messages::created_at))
        .load(conn)?;
    let mut files = files(conn, id)?;
    Ok(Some(Case {
        number,
        subject,
        status: status.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("ticket {id} status")))?,
        created_at: created.0,
        updated_at: updated.0,
        messages: rows
            .into_iter()
            .map(|(message, author, body, at)| {
                let author = author.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("author {author}")))?;
                Ok((author, body, at.0, files.remove(&message).unwrap_or_default()))
            })
            .collect::<Result<_, AppError>>()?,
    }))
}

fn status_text(status: Status) -> &'static str {
    match status {
        Status::New => "Recibido",
        Status::Open => "En atención",
        Status::Pending => "Esperando su respuesta",
        Status::OnHold => "En espera de un tercero",
        Status::Solved => "Resuelto",
        Status::Closed => "Cerrado",
    }
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Santiago).format("%d-%m-%Y %H:%M").to_string()
}

const STYLE: &str = "body{font-family:Arial,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}\
main{max-width:720px;margin:0 auto;padding:16px}h1{font-size:1.3em}.estado{display:inline-block;padding:4px 10px;\
border-radius:12px;background:#0b5394;color:#fff}.msg{background:#fff;border-radius:8px;padding:12px;margin:12px 0;\
white-space:pre-wrap}.msg.usted{border-left:4px solid #6aa84f}.msg.mesa{border-left:4px solid #0b5394}\
.meta{color:#5b6b7b;font-size:.85em;margin-bottom:6px}";

fn page(status: u16, title: &str, body: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or_default();
    public_page(status, title, STYLE, body, "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
}

/// The list of a message's files, each a link under the case's own (signed) address.
fn file_list(token: &str, files: &[File]) -> String {
    if files.is_empty() {
        return String::new();
    }
    let items: String = files
        .iter()
        .map(|(id, name, size)| {
            format!(
                "<li><a href=\"/casos/{}/archivos/{id}\">{}</a> ({})</li>",
                escape(token),
                escape(name),
                crate::http::upload::size(usize::try_from(*size).unwrap_or(0))
            )
        })
        .collect();
    format!("<ul class=\"archivos\" aria-label=\"Archivos adjuntos\">{items}</ul>")
}

fn render(case: &Case, token: &str) -> HttpResponse {
    let mut body = format!(
        "<h1>Caso {} · {}</h1><p><span class=\"estado\">{}</span></p>\
         <p class=\"meta\">Creado el {} · última actualización {}</p>",
        escape(&case.number),
        escape(&case.subject),
        status_text(case.status),
        local(case.created_at),
        local(case.updated_at),
    );
    for (author, text, at, files) in &case.messages {
        let (class, who) = match author {
            AuthorType::Requester => ("usted", "Usted"),
            // A CC of the case writing by mail.
            AuthorType::Participant => ("usted", "Participante en copia"),
            AuthorType::Agent | AuthorType::System => ("mesa", "Mesa de Ayuda"),
        };
        body.push_str(&format!(
            "<div class=\"msg {class}\"><div class=\"meta\">{who} · {}</div>{}{}</div>",
            local(*at),
            escape(text),
            file_list(token, files)
        ));
    }
    body.push_str("<p>Para agregar información, responda el último correo que recibió de nosotros.</p>");
    page(200, &format!("Caso {}", case.number), &body)
}

fn not_found() -> HttpResponse {
    page(
        404,
        "Enlace no válido",
        "<h1>Enlace no válido</h1><p>Revise que copió el enlace completo desde el correo.</p>",
    )
}

/// `GET /casos/{token}`.
pub async fn case_page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let Some(id) = state.signer.verify_case_token(&token) else { return not_found() };
    match state.db.read(move |c| load(c, id)).await {
        Ok(Some(case)) => render(&case, &token),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::warn!(error = %e, "case page unavailable");
            page(
                503,
                "Servicio no disponible",
                "<h1>Servicio no disponible</h1><p>Intente nuevamente en unos minutos.</p>",
            )
        }
    }
}

/// `GET /casos/{token}/archivos/{id}`: a file of a message shown on that case page. The token
/// proves the ticket; a file of another ticket, of an internal note or of a stranger's mail is
/// a 404 like a wrong token.
pub async fn case_file(state: web::Data<AppState>, path: web::Path<(String, i64)>) -> HttpResponse {
    let (token, file) = path.into_inner();
    let Some(ticket) = state.signer.verify_case_token(&token) else { return not_found() };
    let found = state
        .db
        .read(move |c| {
            let shown: Option<i64> = shown_messages!(ticket)
                .inner_join(attachments::table.on(attachments::message_row_id.eq(messages::id.nullable())))
                .filter(attachments::id.eq(file))
                .select(attachments::id)
                .first(c)
                .optional()?;
            shown.map(|id| crate::attachments::find(c, id)).transpose()
        })
        .await;
    let outcome = match found {
        Ok(Some(stored)) if stored.ticket_id == ticket => {
            crate::http::api::attachments::serve(&state, file, &stored).await
        }
        Ok(_) => return not_found(),
        Err(e) => Err(e),
    };
    outcome.unwrap_or_else(|e| match e {
        AppError::NotFound(_) => not_found(),
        e => actix_web::ResponseError::error_response(&e),
    })
}
