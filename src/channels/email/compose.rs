//! Turns an outbox row into a mail: Spanish templates, threading headers, a signed reply
//! address, and the headers that keep auto-responders from answering us in a loop.

use diesel::prelude::*;
use lettre::message::header::ContentType;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::Message;
use serde::Deserialize;

use super::outbox::{OutboxRow, ACK, DEPARTMENT_ANSWER, INVITATION, SLA_NOTICE, TREND_ALERT};
use crate::attachments::{FileStore, ScanState};
use crate::config::EmailSettings;
use crate::db::schema::{attachments, email_messages, messages, outbox, requesters, ticket_ccs, tickets};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::secrets::Signer;

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
    #[serde(default = "built_in_invitation")]
    pub invitation: Template,
    #[serde(default = "built_in_department_answer")]
    pub department_answer: Template,
}

fn built_in_survey() -> Template {
    toml_from(BUILT_IN).expect("built-in templates are valid").survey
}

fn built_in_trend_alert() -> Template {
    toml_from(BUILT_IN).expect("built-in templates are valid").trend_alert
}

fn built_in_invitation() -> Template {
    toml_from(BUILT_IN).expect("built-in templates are valid").invitation
}

fn built_in_department_answer() -> Template {
    toml_from(BUILT_IN).expect("built-in templates are valid").department_answer
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

/// Where the requester follows the case: `{public_url}/casos/{token}`.
pub fn case_link(public_url: &str, signer: &Signer, ticket_id: i64) -> String {
    format!("{}/casos/{}", public_url.trim_end_matches('/'), signer.case_token(ticket_id))
}

/// `soporte+TOKEN@dominio` for `soporte@dominio`.
pub fn reply_address(settings: &EmailSettings, signer: &Signer, ticket_id: i64) -> String {
    let (local, domain) = settings.address.split_once('@').unwrap_or((&settings.address, "atencion.localhost"));
    format!("{local}+{}@{domain}", signer.reply_token(ticket_id))
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

/// A staff notice whose template's placeholders are all text fields of `detail` (written when it
/// was queued, so the mail says what was true then).
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

/// The files of public message `message_row_id`, as MIME parts, read from `files` now (so a
/// retried send carries them too). Internal notes never mail their files.
fn file_parts(
    conn: &mut DbConnection,
    files: &FileStore,
    message_row_id: i64,
) -> Result<Vec<lettre::message::SinglePart>, AppError> {
    let rows: Vec<(String, String, String)> = attachments::table
        .inner_join(messages::table)
        .filter(attachments::message_row_id.eq(message_row_id))
        .filter(messages::visibility.eq("public"))
        .order(attachments::id)
        .select((attachments::filename, attachments::content_type, attachments::sha256))
        .load(conn)?;
    let octets = || ContentType::parse("application/octet-stream").expect("a valid media type");
    let mut parts = Vec::with_capacity(rows.len());
    for (filename, media_type, sha256) in rows {
        let Some(bytes) = files.read(conn, &sha256)? else {
            // Malware is never mailed (the agent sees why in the workspace); a file still waiting
            // for its scan makes the send fail now and be retried later.
            if matches!(files.state(conn, &sha256)?, Some((ScanState::Infected, _))) {
                continue;
            }
            return Err(AppError::Internal(anyhow::anyhow!(
                "attachment {sha256} not offered yet (scan pending or bytes missing)"
            )));
        };
        let media_type = ContentType::parse(&media_type).unwrap_or_else(|_| octets());
        parts.push(Attachment::new(filename).body(bytes, media_type));
    }
    Ok(parts)
}

/// Builds the mail for outbox row `id`; `None` when there is nobody to send it to. A reply's
/// files are read from `files`.
pub fn compose(
    conn: &mut DbConnection,
    id: i64,
    settings: &EmailSettings,
    signer: &Signer,
    templates: &Templates,
    public_url: &str,
    files: &FileStore,
) -> Result<Option<Composed>, AppError> {
    let row: OutboxRow = outbox::table.find(id).select(OutboxRow::as_select()).first(conn)?;
    if row.kind == SLA_NOTICE {
        return staff_notice(conn, &row, settings, templates).map(Some);
    }
    if row.kind == TREND_ALERT {
        return detail_notice(&row, &templates.trend_alert, settings).map(Some);
    }
    if row.kind == INVITATION {
        return detail_notice(&row, &templates.invitation, settings).map(Some);
    }
    if row.kind == DEPARTMENT_ANSWER {
        return detail_notice(&row, &templates.department_answer, settings).map(Some);
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
        crate::quality::csat::link(public_url, signer, ticket_id, expires)
    } else {
        (case_link(public_url, signer, ticket_id), String::new())
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
        .reply_to(mailbox(Some(&settings.from_name), &reply_address(settings, signer, ticket_id))?)
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
    let parts = match row.message_row_id {
        Some(m) if row.kind == super::outbox::REPLY => file_parts(conn, files, m)?,
        _ => Vec::new(),
    };
    let body = MultiPart::alternative_plain_html(text, html);
    let body = if parts.is_empty() {
        body
    } else {
        parts.into_iter().fold(MultiPart::mixed().multipart(body), |mixed, part| mixed.singlepart(part))
    };
    let mut message = builder.multipart(body).map_err(|e| AppError::Internal(anyhow::anyhow!("building mail: {e}")))?;
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
    fn links_and_reply_addresses_carry_the_signed_tokens() {
        let signer = Signer::new("secreto", Vec::new());
        let link = case_link("https://mesa.example.cl/", &signer, 42);
        let token = link.strip_prefix("https://mesa.example.cl/casos/").unwrap();
        assert_eq!(signer.verify_case_token(token), Some(42));
        let settings = crate::config::Settings::defaults().email;
        let address = reply_address(&settings, &signer, 42);
        let token = address.strip_prefix("soporte+").and_then(|a| a.strip_suffix("@atencion.localhost")).unwrap();
        assert_eq!(signer.verify_reply_token(token), Some(42));
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
        assert!(t.invitation.text.contains("{enlace}") && t.invitation.text.contains("{vence}"));
        assert!(t.department_answer.text.contains("{respuesta}") && t.department_answer.subject.contains("{numero}"));
        // Not the [number] tag that threads mail into the case.
        assert!(!t.department_answer.subject.contains("[{numero}]"));
    }
}
