//! The page where a requester follows their case, reached by the link in our mails
//! (`/casos/{token}`): status and the public conversation, never internal notes. The token is a
//! MAC of the ticket id, so links cannot be guessed; no login is needed.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use chrono_tz::America::Santiago;
use diesel::prelude::*;

use super::page::{escape, public_page};
use crate::channels::email::compose::verify_case_token;
use crate::db::schema::{messages, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::{AuthorType, Status, Visibility};
use crate::error::AppError;
use crate::startup::AppState;

struct Case {
    number: String,
    subject: String,
    status: Status,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// (from the requester?, text, when), oldest first.
    messages: Vec<(bool, String, DateTime<Utc>)>,
}

fn load(conn: &mut DbConnection, id: i64) -> Result<Option<Case>, AppError> {
    let ticket: Option<(String, String, String, UtcTime, UtcTime)> = tickets::table
        .find(id)
        .select((tickets::number, tickets::subject, tickets::status, tickets::created_at, tickets::updated_at))
        .first(conn)
        .optional()?;
    let Some((number, subject, status, created, updated)) = ticket else { return Ok(None) };
    let rows: Vec<(String, String, UtcTime)> = messages::table
        .filter(messages::ticket_id.eq(id))
        .filter(messages::visibility.eq(Visibility::Public.as_str()))
        .filter(messages::author_type.ne(AuthorType::System.as_str()))
        .order(messages::id.asc())
        .select((messages::author_type, messages::body_text, messages::created_at))
        .load(conn)?;
    Ok(Some(Case {
        number,
        subject,
        status: status.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("ticket {id} status")))?,
        created_at: created.0,
        updated_at: updated.0,
        messages: rows.into_iter().map(|(a, body, at)| (a == AuthorType::Requester.as_str(), body, at.0)).collect(),
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

fn render(case: &Case) -> HttpResponse {
    let mut body = format!(
        "<h1>Caso {} · {}</h1><p><span class=\"estado\">{}</span></p>\
         <p class=\"meta\">Creado el {} · última actualización {}</p>",
        escape(&case.number),
        escape(&case.subject),
        status_text(case.status),
        local(case.created_at),
        local(case.updated_at),
    );
    for (from_requester, text, at) in &case.messages {
        let (class, who) = if *from_requester { ("usted", "Usted") } else { ("mesa", "Mesa de Ayuda") };
        body.push_str(&format!(
            "<div class=\"msg {class}\"><div class=\"meta\">{who} · {}</div>{}</div>",
            local(*at),
            escape(text)
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
    let Some(id) = verify_case_token(&state.settings.email.token_secret, &token) else { return not_found() };
    match state.db.read(move |c| load(c, id)).await {
        Ok(Some(case)) => render(&case),
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
