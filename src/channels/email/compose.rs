//! Turns an outbox row into a mail: Spanish templates, threading headers, a signed reply
//! address, and the headers that keep auto-responders from answering us in a loop.

use diesel::prelude::*;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::outbox::{OutboxRow, ACK, SLA_NOTICE, TREND_ALERT};
use crate::config::EmailSettings;
use crate::db::schema::{email_messages, messages, outbox, requesters, ticket_ccs, tickets};
use crate::db::DbConnection;
use crate::error::AppError;

const BUILT_IN: &str = include_str!("../../../config/templates/es-CL.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Template {
    pub subject: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Templates {
    pub ack: Template,
    pub reply: Template,
    pub sla_notice: Template,
    /// Older template files without a survey keep working with the built-in one.
    #[serde(default = "built_in_survey")]
    pub survey: Template,
    #[serde(default = "built_in_trend_alert")]
    pub trend_alert: Template,
}

fn built_in_survey() -> Template {
    toml_from(BUILT_IN).expect("built-in templates are valid").survey
}

fn built_in_trend_alert() -> Template {
    toml_from(BUILT_IN).expect("built-in templates are valid").trend_alert
}

impl Templates {
    /// The file at `path`, or the built-in templates if it is missing or invalid (logged).
    pub fn load(path: &str) -> Templates {
        let built_in = || toml_from(BUILT_IN).expect("built-in templates are valid");
        match std::fs::read_to_string(path) {
            Ok(text) => toml_from(&text).unwrap_or_else(|e| {
                tracing::error!(%path, error = %e, "invalid mail templates; using the built-in ones");
                built_in()
            }),
            Err(_) => built_in(),
        }
    }
}

fn toml_from(text: &str) -> Result<Templates, config::ConfigError> {
    config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()?
        .try_deserialize()
}

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.trim().to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `t<id>k<mac>`: names the ticket and proves we issued it.
pub fn reply_token(secret: &str, ticket_id: i64) -> String {
    let mac = Sha256::digest(format!("{secret}:{ticket_id}").as_bytes());
    format!("t{ticket_id}k{}", &hex::encode(mac)[..12])
}

/// The ticket a reply token points at, if the token is genuine.
pub fn verify_token(secret: &str, token: &str) -> Option<i64> {
    let id: i64 = token.strip_prefix('t')?.split_once('k')?.0.parse().ok()?;
    // Some MTAs change the case of the local part.
    (reply_token(secret, id) == token.to_ascii_lowercase()).then_some(id)
}

/// `<id>-<mac>` for the public page of a case: long enough that links cannot be guessed, and
/// distinct from the reply token so one cannot be derived from the other.
pub fn case_token(secret: &str, ticket_id: i64) -> String {
    let mac = Sha256::digest(format!("case:{secret}:{ticket_id}").as_bytes());
    format!("{ticket_id}-{}", &hex::encode(mac)[..32])
}

/// The ticket a case token points at, if the token is genuine.
pub fn verify_case_token(secret: &str, token: &str) -> Option<i64> {
    let id: i64 = token.split_once('-')?.0.parse().ok()?;
    (case_token(secret, id) == token).then_some(id)
}

/// Where the requester follows the case: `{public_url}/casos/{token}`.
pub fn case_link(public_url: &str, secret: &str, ticket_id: i64) -> String {
    format!("{}/casos/{}", public_url.trim_end_matches('/'), case_token(secret, ticket_id))
}

/// `soporte+TOKEN@dominio` for `soporte@dominio`.
pub fn reply_address(settings: &EmailSettings, ticket_id: i64) -> String {
    let (local, domain) = settings.address.split_once('@').unwrap_or((&settings.address, "atencion.localhost"));
    format!("{local}+{}@{domain}", reply_token(&settings.token_secret, ticket_id))
}

pub struct Composed {
    pub message: Message,
    /// The full Message-ID, without angle brackets.
    pub full_id: String,
}

fn mailbox(name: Option<&str>, address: &str) -> Result<Mailbox, AppError> {
    let address = address.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("address {address}: {e}")))?;
    Ok(Mailbox::new(name.map(str::to_owned), address))
}

/// A header lettre has no type for (our loop header, Auto-Submitted).
fn add_header(message: &mut Message, name: &str, value: &str) -> Result<(), AppError> {
    let name = HeaderName::new_from_ascii(name.to_owned()).map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    message.headers_mut().insert_raw(HeaderValue::new(name, value.to_owned()));
    Ok(())
}

fn metric_name(metric: &str) -> &str {
    match metric {
        "first_reply" => "primera respuesta",
        "next_reply" => "siguiente respuesta",
        "periodic_update" => "actualización periódica",
        "resolution" => "resolución",
        "callback" => "devolución de llamada",
        "department_ack" => "acuse de recibo del departamento",
        "department_answer" => "respuesta del departamento",
        other => other,
    }
}

/// An internal notice to staff: plain, no reply token, no requester in copy.
fn staff_notice(
    conn: &mut DbConnection,
    row: &OutboxRow,
    settings: &EmailSettings,
    templates: &Templates,
) -> Result<Composed, AppError> {
    let ticket_id = row.ticket_id.unwrap_or_default();
    let (number, subject): (String, String) =
        tickets::table.find(ticket_id).select((tickets::number, tickets::subject)).first(conn)?;
    let detail: serde_json::Value =
        row.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
    let metric = metric_name(detail["metric"].as_str().unwrap_or(""));
    let aviso = if detail["kind"] == "breach" { "vencido" } else { "por vencer" };
    let due = detail["due_at"]
        .as_str()
        .and_then(|d| d.parse::<chrono::DateTime<chrono::Utc>>().ok())
        .map(|d| d.with_timezone(&chrono_tz::America::Santiago).format("%d-%m-%Y %H:%M").to_string())
        .unwrap_or_default();
    let values = [
        ("numero", number.as_str()),
        ("asunto", subject.as_str()),
        ("metrica", metric),
        ("aviso", aviso),
        ("vence", due.as_str()),
    ];
    let full_id = format!("{}@{}", row.message_id, settings.domain());
    let mut message = Message::builder()
        .from(mailbox(Some(&settings.from_name), &settings.address)?)
        .to(mailbox(None, &row.recipient)?)
        .subject(fill(&templates.sla_notice.subject, &values))
        .message_id(Some(format!("<{full_id}>")))
        .body(fill(&templates.sla_notice.text, &values))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("building mail: {e}")))?;
    add_header(&mut message, &settings.loop_header, &settings.address)?;
    Ok(Composed { message, full_id })
}

/// A notice about no ticket: its template's placeholders are the text fields of `detail`.
fn detail_notice(row: &OutboxRow, template: &Template, settings: &EmailSettings) -> Result<Composed, AppError> {
    let detail: serde_json::Map<String, serde_json::Value> =
        row.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
    let values: Vec<(&str, &str)> = detail.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))).collect();
    let full_id = format!("{}@{}", row.message_id, settings.domain());
    let mut message = Message::builder()
        .from(mailbox(Some(&settings.from_name), &settings.address)?)
        .to(mailbox(None, &row.recipient)?)
        .subject(fill(&template.subject, &values))
        .message_id(Some(format!("<{full_id}>")))
        .body(fill(&template.text, &values))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("building mail: {e}")))?;
    add_header(&mut message, &settings.loop_header, &settings.address)?;
    add_header(&mut message, "Auto-Submitted", "auto-generated")?;
    Ok(Composed { message, full_id })
}

/// Builds the mail for outbox row `id`; `None` when there is nobody to send it to.
pub fn compose(
    conn: &mut DbConnection,
    id: i64,
    settings: &EmailSettings,
    templates: &Templates,
    public_url: &str,
) -> Result<Option<Composed>, AppError> {
    let row: OutboxRow = outbox::table.find(id).select(OutboxRow::as_select()).first(conn)?;
    if row.kind == SLA_NOTICE {
        return staff_notice(conn, &row, settings, templates).map(Some);
    }
    if row.kind == TREND_ALERT {
        return detail_notice(&row, &templates.trend_alert, settings).map(Some);
    }
    let Some(ticket_id) = row.ticket_id else { return Ok(None) };
    let (number, subject, name, email): (String, String, String, Option<String>) = tickets::table
        .inner_join(requesters::table)
        .filter(tickets::id.eq(ticket_id))
        .select((tickets::number, tickets::subject, requesters::name, requesters::email))
        .first(conn)?;
    let Some(email) = email else { return Ok(None) };
    let survey = row.kind == crate::quality::csat::SURVEY;
    if survey && !crate::quality::csat::still_wanted(conn, ticket_id)? {
        return Ok(None);
    }
    // The survey is the requester's own: no copies.
    let ccs: Vec<String> = if survey {
        Vec::new()
    } else {
        ticket_ccs::table
            .filter(ticket_ccs::ticket_id.eq(ticket_id))
            .select(ticket_ccs::email)
            .load::<String>(conn)?
            .into_iter()
            .filter(|cc| *cc != email && *cc != settings.address)
            .collect()
    };
    let thread: Vec<String> = email_messages::table
        .filter(email_messages::ticket_id.eq(ticket_id))
        .order(email_messages::id.asc())
        .select(email_messages::message_id)
        .load(conn)?;
    let body = match row.message_row_id {
        Some(m) if row.kind != ACK => messages::table.find(m).select(messages::body_text).first::<String>(conn)?,
        _ => String::new(),
    };
    let template = match row.kind.as_str() {
        ACK => &templates.ack,
        _ if survey => &templates.survey,
        _ => &templates.reply,
    };
    let greeting = if name.is_empty() { email.clone() } else { name.clone() };
    let (link, until) = if survey {
        let expires = crate::quality::csat::expiry(row.created_at.0, settings.survey_expiry_days);
        crate::quality::csat::link(public_url, &settings.token_secret, ticket_id, expires)
    } else {
        (case_link(public_url, &settings.token_secret, ticket_id), String::new())
    };
    let values = [
        ("numero", number.as_str()),
        ("asunto", subject.as_str()),
        ("nombre", greeting.as_str()),
        ("mensaje", body.as_str()),
        ("enlace", link.as_str()),
        ("vence", until.as_str()),
    ];
    let text = fill(&template.text, &values);
    let html = format!(
        "<div style=\"font-family:Arial,sans-serif;font-size:15px;line-height:1.5\">{}</div>",
        escape_html(&text).replace('\n', "<br>")
    );
    let full_id = format!("{}@{}", row.message_id, settings.domain());
    let mut builder = Message::builder()
        .from(mailbox(Some(&settings.from_name), &settings.address)?)
        .reply_to(mailbox(Some(&settings.from_name), &reply_address(settings, ticket_id))?)
        .to(mailbox((!name.is_empty()).then_some(name.as_str()), &email)?)
        .subject(fill(&template.subject, &values))
        .message_id(Some(format!("<{full_id}>")));
    for cc in &ccs {
        builder = builder.cc(mailbox(None, cc)?);
    }
    if let Some(last) = thread.last() {
        builder = builder.in_reply_to(format!("<{last}>"));
        let references: Vec<String> = thread.iter().rev().take(20).rev().map(|id| format!("<{id}>")).collect();
        builder = builder.references(references.join(" "));
    }
    let mut message = builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("building mail: {e}")))?;
    add_header(&mut message, &settings.loop_header, &settings.address)?;
    if row.kind == ACK {
        add_header(&mut message, "Auto-Submitted", "auto-replied")?;
    } else if survey {
        add_header(&mut message, "Auto-Submitted", "auto-generated")?;
    }
    Ok(Some(Composed { message, full_id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_resist_guessing() {
        let token = reply_token("secreto", 42);
        assert!(token.starts_with("t42k"));
        assert_eq!(verify_token("secreto", &token), Some(42));
        assert_eq!(verify_token("otro", &token), None);
        assert_eq!(verify_token("secreto", &token.replace("t42", "t43")), None);
        assert_eq!(verify_token("secreto", "t42kdeadbeef0000"), None);
        assert_eq!(verify_token("secreto", "basura"), None);
    }

    #[test]
    fn case_links_verify_and_differ_from_reply_tokens() {
        let link = case_link("https://mesa.example.cl/", "secreto", 42);
        let token = link.strip_prefix("https://mesa.example.cl/casos/").unwrap();
        assert_eq!(token.len(), "42-".len() + 32);
        assert_eq!(verify_case_token("secreto", token), Some(42));
        assert_eq!(verify_case_token("otro", token), None);
        assert_eq!(verify_case_token("secreto", &token.replacen("42-", "43-", 1)), None);
        assert_eq!(verify_case_token("secreto", &reply_token("secreto", 42)), None);
        assert_eq!(verify_case_token("secreto", "42"), None);
    }

    #[test]
    fn built_in_templates_fill_in() {
        let t = toml_from(BUILT_IN).unwrap();
        let s = fill(&t.ack.subject, &[("numero", "AU-2026-000001"), ("asunto", "Clave")]);
        assert_eq!(s, "[AU-2026-000001] Recibimos su solicitud: Clave");
        assert!(t.reply.text.contains("{mensaje}"));
        assert!(t.ack.text.contains("{enlace}") && t.reply.text.contains("{enlace}"));
        assert!(t.survey.text.contains("{enlace}") && t.survey.text.contains("{vence}"));
        assert!(t.trend_alert.text.contains("{umbral}") && t.trend_alert.subject.contains("{categoria}"));
    }
}
