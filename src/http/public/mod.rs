//! The public web form: a Spanish page served by the service and the unauthenticated endpoint it
//! posts to (strict validation, rate limit per client IP, honeypot against bots).

pub mod case;
pub mod page;
mod rate_limit;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use rate_limit::RateLimiter;

use diesel::prelude::*;

use crate::attachments;
use crate::db::schema::messages;
use crate::directory::{self, CategoryView};
use crate::domain::{Channel, Priority, Segment, TicketKind};
use crate::error::{AppError, Problem};
use crate::http::idempotency::{self, Key};
use crate::http::state::AppState;
use crate::http::upload;
use crate::tickets::store::{self, NewTicketInput};
use crate::tickets::{body_text, line, Errors, RequesterInput, MAX_SUBJECT};

const FORM_PAGE: &str = include_str!("formulario.html");

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicTicketRequest {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub rut: Option<String>,
    pub segment: Segment,
    pub organization: Option<String>,
    /// Category slug from `GET /api/v1/public/categories`.
    pub category: Option<String>,
    pub subject: String,
    pub body: String,
    /// Must stay empty: a hidden field only bots fill in.
    #[serde(default)]
    pub hp_field: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicTicketResponse {
    /// The number to quote in any follow-up, e.g. `AU-2026-000123`.
    pub number: String,
    pub message: String,
}

impl PublicTicketRequest {
    fn validate(self) -> Result<NewTicketInput, AppError> {
        let mut errors = Errors::default();
        let subject = line(&mut errors, "subject", &self.subject, MAX_SUBJECT);
        let body = body_text(&mut errors, "body", &self.body);
        let requester = RequesterInput {
            id: None,
            name: Some(self.name),
            email: Some(self.email),
            phone: self.phone,
            rut: self.rut,
            segment: Some(self.segment),
            organization: self.organization,
        }
        .validate(&mut errors, "");
        if requester.name.is_empty() {
            errors.add("name", "es obligatorio");
        }
        if requester.email.is_none() && !errors_mention(&errors, "email") {
            errors.add("email", "es obligatorio");
        }
        errors.finish()?;
        Ok(NewTicketInput {
            subject,
            body,
            body_html: None,
            requester_id: None,
            requester,
            channel: Channel::Web,
            priority: Priority::Normal,
            category: self.category.filter(|c| !c.is_empty()),
            queue: None,
            assignee_id: None,
            tags: Vec::new(),
            kind: TicketKind::Standard,
            origin: Default::default(),
            sender: None,
            // The number and the case link by mail, as the page promises (the form requires an address).
            acknowledge: true,
        })
    }
}

fn errors_mention(errors: &Errors, field: &str) -> bool {
    errors.fields().any(|f| f == field)
}

/// The client's address: the peer, or the proxy's `Forwarded` header when it is trusted.
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> String {
    let info = req.connection_info();
    let ip = if trust_proxy { info.realip_remote_addr() } else { info.peer_addr() };
    ip.unwrap_or("unknown").to_owned()
}

/// Submit the public contact form (no authentication).
#[utoipa::path(
    tag = "web form",
    request_body = PublicTicketRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, body = PublicTicketResponse),
        (status = 400, description = "Malformed or rejected", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/public/tickets")]
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&req, state.settings.web_form.trust_proxy_headers);
    state.rate_limiter.check(&ip)?;
    let limits = upload::Limits::form(&state.settings.attachments, state.settings.server.max_body_bytes);
    let body = upload::read::<PublicTicketRequest>(&req, payload.into_inner(), &limits, &[]).await?;
    let key = Key::from_request(&req, "public".into(), &body.digest)?;
    let (request, files) = (body.value, body.files);
    let store_files = state.attachments.clone();
    if !request.hp_field.is_empty() {
        tracing::info!(%ip, "web form honeypot filled; request dropped");
        return Err(AppError::BadRequest("Solicitud rechazada.".into()));
    }
    let input = request.validate()?;
    let response = idempotency::once(&state.db, key, StatusCode::CREATED, move |c| {
        let ticket = store::create(c, None, input)?;
        if !files.is_empty() {
            // The files belong to the message that opened the ticket.
            let first: i64 = messages::table
                .filter(messages::ticket_id.eq(ticket.id))
                .order(messages::id.asc())
                .select(messages::id)
                .first(c)?;
            attachments::save(c, &store_files, ticket.id, first, &files)?;
        }
        Ok(PublicTicketResponse {
            message: format!(
                "Su solicitud fue recibida con el número {}. Le responderemos al correo indicado.",
                ticket.number
            ),
            number: ticket.number,
        })
    })
    .await?;
    if response.headers().get("Idempotent-Replayed").is_none() {
        crate::metrics::ticket_created(Channel::Web);
    }
    Ok(response)
}

/// Active categories for the form's topic list.
#[utoipa::path(tag = "web form", responses((status = 200, body = Vec<CategoryView>)))]
#[get("/public/categories")]
pub async fn categories(state: web::Data<AppState>) -> Result<web::Json<Vec<CategoryView>>, AppError> {
    Ok(web::Json(state.db.read(|c| directory::list_categories(c, true)).await?))
}

/// The form page itself (at `/` and `/formulario`), stating the configured file limits.
pub async fn page(state: web::Data<AppState>) -> HttpResponse {
    let limits = &state.settings.attachments;
    let html = FORM_PAGE
        .replace("{{MAX_FILES}}", &limits.form_max_files.to_string())
        .replace("{{TYPES}}", &upload::type_names(&limits.form_media_types))
        .replace("{{MAX_SIZE}}", &upload::size(limits.max_file_bytes))
        .replace("{{MAX_BYTES}}", &limits.max_file_bytes.to_string())
        .replace("{{ACCEPT}}", &page::escape(&limits.form_media_types.join(",")));
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"))
        .body(html)
}
