//! The ticket API's request and response shapes, and their validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{text, Channel, Priority, Rut, Segment, Status, TicketKind, Visibility};
use crate::error::{AppError, FieldError};

pub const MAX_SUBJECT: usize = 200;
pub const MAX_BODY: usize = 50_000;
pub const MAX_TAGS: usize = 20;

/// The requester of a new ticket: an existing one by id, or identified by email/RUT (found or
/// created).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterInput {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Chilean RUT, with or without dots; validated with its check digit.
    pub rut: Option<String>,
    /// When absent for a new requester: `comprador` if the email's domain or the organization is
    /// a public body's (`….gob.cl`, `Municipalidad de …`), `ciudadano` otherwise.
    pub segment: Option<Segment>,
    /// Public body (compradores) or company (proveedores).
    pub organization: Option<String>,
}

/// A requester whose fields passed validation and normalisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequesterData {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub rut: Option<String>,
    pub segment: Option<Segment>,
    pub organization: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    pub subject: String,
    /// First message, plain text.
    pub body: String,
    /// Optional HTML version of the first message; sanitised before it is stored.
    pub body_html: Option<String>,
    pub requester: RequesterInput,
    /// Defaults to `api`.
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    /// Category slug, e.g. `compra-agil`.
    pub category: Option<String>,
    /// Queue slug; defaults to `mesa-de-ayuda`.
    pub queue: Option<String>,
    pub assignee_id: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Mail the requester the acknowledgement (the ticket number and the link to follow the case)
    /// when they have an email address; default `true`. Subject to the daily cap of automatic
    /// answers per address (`[email] auto_replies_per_sender_per_day`).
    pub acknowledge: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicketRequest {
    pub subject: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    /// Queue slug.
    pub queue: Option<String>,
    /// Category slug; `null` removes it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    /// `null` unassigns.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Option<i64>>,
    /// Replaces the ticket's tags.
    pub tags: Option<Vec<String>>,
    /// Why the queue or assignee changes (transfers, reassignments); kept in the event log.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMessageRequest {
    pub body: String,
    pub body_html: Option<String>,
    /// Defaults to `public` (a reply the requester sees); `internal` notes are for staff only.
    pub visibility: Option<Visibility>,
    /// Record the message as written by the requester (e.g. told by phone or in person).
    #[serde(default)]
    pub from_requester: bool,
    /// Status to leave the ticket in after the message (e.g. reply and set `pending`).
    pub status: Option<Status>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequesterView {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub rut: Option<String>,
    pub segment: Segment,
    pub organization: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketView {
    pub id: i64,
    /// Human number, e.g. `AU-2026-000123`.
    pub number: String,
    pub subject: String,
    /// `callback` for a call back owed to a caller.
    pub kind: TicketKind,
    pub status: Status,
    pub priority: Priority,
    pub channel: Channel,
    pub category_id: Option<i64>,
    pub category: Option<String>,
    pub queue_id: Option<i64>,
    pub queue: Option<String>,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub requester: RequesterView,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The earliest pending SLA breach time (the next due time); `null` when no clock runs.
    pub next_due_at: Option<DateTime<Utc>>,
    /// `warning`: a clock was warned and still runs; `breached`: a clock breached; `null`: no
    /// SLA applies.
    pub sla_state: Option<crate::domain::workspace::SlaState>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub ticket_id: i64,
    /// `participant`: someone other than the requester who wrote by mail (see `sender_status`).
    pub author_type: crate::domain::AuthorType,
    pub author_agent_id: Option<i64>,
    /// The writing agent's name (agent messages), so a client needs no access to the agent list.
    pub author_name: Option<String>,
    pub author_requester_id: Option<i64>,
    pub visibility: Visibility,
    pub channel: Channel,
    pub body: String,
    pub body_html: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The real sender of a message that came by mail (its From address); `null` otherwise.
    pub sender_email: Option<String>,
    /// The display name of that sender, as the mail gave it (may be empty).
    pub sender_name: Option<String>,
    /// How the mail's sender related to the ticket when it arrived: `requester`; `cc` (a
    /// participant in copy, who answers for the requester: the message reopens and counts for
    /// SLA); or `unknown` — a stranger, shown flagged: the message changed nothing else (no
    /// reopening, no SLA clock). `null` for messages that did not come by mail.
    pub sender_status: Option<crate::domain::SenderStatus>,
    /// The files that came with the message.
    pub attachments: Vec<crate::attachments::AttachmentView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: crate::domain::EventKind,
    /// `agent`, `requester` or `system`.
    pub actor_type: String,
    pub actor_id: Option<i64>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A page of results; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TicketFilter {
    /// One status or several separated by commas.
    pub status: Option<String>,
    /// Queue slug.
    pub queue: Option<String>,
    /// Agent id, `me` (the caller's tickets) or `none` (unassigned tickets).
    pub assignee: Option<String>,
    pub requester_id: Option<i64>,
    /// Category slug.
    pub category: Option<String>,
    pub channel: Option<Channel>,
    pub kind: Option<TicketKind>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Words found anywhere in the ticket (number, subject, messages, requester; see `/search`),
    /// in any order; case, accents and plurals are ignored. Up to 200 characters; blank: no filter.
    pub q: Option<String>,
    /// Open tickets (`new`, `open`, `pending`, `on_hold`) `warning` (at risk: "En riesgo") or
    /// `breached` ("Vencidos").
    pub sla: Option<SlaFilter>,
    /// `created` (default), `updated`, `due` (next SLA due time; tickets without one last) or
    /// `priority`.
    pub sort: Option<TicketSort>,
    /// Default `asc` for `due`, `desc` otherwise.
    pub order: Option<SortOrder>,
    /// 1–100, default 25.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaFilter {
    Warning,
    Breached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketSort {
    #[default]
    Created,
    Updated,
    Due,
    Priority,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

impl TicketFilter {
    /// Reads `assignee=me` as the caller's own id.
    pub fn for_caller(mut self, agent_id: i64) -> TicketFilter {
        if self.assignee.as_deref() == Some("me") {
            self.assignee = Some(agent_id.to_string());
        }
        self
    }
}

/// Accumulates field errors so a client learns every problem at once.
#[derive(Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|e| e.field.as_str())
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

/// A one-line text field: trimmed, whitespace collapsed, length-checked.
pub fn line(errors: &mut Errors, field: &str, raw: &str, max: usize) -> String {
    let value = text::single_line(raw);
    if value.is_empty() {
        errors.add(field, "es obligatorio");
    } else if raw.chars().count() > max {
        errors.add(field, format!("admite como máximo {max} caracteres"));
    }
    value
}

pub fn body_text(errors: &mut Errors, field: &str, raw: &str) -> String {
    let value = raw.trim().to_owned();
    if value.is_empty() {
        errors.add(field, "es obligatorio");
    } else if raw.chars().count() > MAX_BODY {
        errors.add(field, format!("admite como máximo {MAX_BODY} caracteres"));
    }
    value
}

/// Tags: lower-case words of ASCII letters, digits, `-` and `_` (the same words routing rules
/// add); duplicates dropped, order kept.
pub fn tags(errors: &mut Errors, field: &str, values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let tag = value.trim().to_lowercase();
        let valid = !tag.is_empty()
            && tag.chars().count() <= 50
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            errors.add(field, format!("etiqueta no válida: «{value}» (letras, dígitos, - y _)"));
        } else if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        errors.add(field, format!("admite como máximo {MAX_TAGS} etiquetas"));
    }
    out
}

impl RequesterInput {
    /// Validates and normalises; `prefix` names the field path in errors.
    pub fn validate(&self, errors: &mut Errors, prefix: &str) -> RequesterData {
        let field = |name: &str| format!("{prefix}{name}");
        let email = self.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        let email = email.and_then(|e| {
            let normalised = text::normalize_email(e);
            if normalised.is_none() {
                errors.add(&field("email"), "no es un correo electrónico válido");
            }
            normalised
        });
        let phone = self.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let phone = phone.and_then(|p| {
            let normalised = crate::domain::phone::normalize(p);
            if normalised.is_none() {
                errors.add(&field("phone"), "no es un número de teléfono válido");
            }
            normalised
        });
        let rut = self.rut.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let rut = rut.and_then(|r| match Rut::parse(r) {
            Ok(rut) => Some(rut.to_string()),
            Err(e) => {
                errors.add(&field("rut"), e.to_string());
                None
            }
        });
        if self.name.as_ref().is_some_and(|n| n.chars().count() > 120) {
            errors.add(&field("name"), "admite como máximo 120 caracteres");
        }
        let name = self.name.as_deref().map(text::single_line).unwrap_or_default();
        if self.organization.as_ref().is_some_and(|o| o.chars().count() > 200) {
            errors.add(&field("organization"), "admite como máximo 200 caracteres");
        }
        let organization = self.organization.as_deref().map(text::single_line).filter(|o| !o.is_empty());
        RequesterData { name, email, phone, rut, segment: self.segment, organization }
    }
}

/// Allows telling an absent field (`None`) from an explicit `null` (`Some(None)`).
pub mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(de).map(Some)
    }
}

/// Whether an agent's public reply on a ticket nobody has makes it theirs (`[tickets]
/// assign_on_first_reply`). Requesters' messages and internal notes never assign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnReply {
    /// The replying agent takes the ticket.
    Assign,
    /// The ticket keeps its assignee, or stays without one.
    Keep,
}

impl OnReply {
    pub fn from_setting(assign_on_first_reply: bool) -> OnReply {
        if assign_on_first_reply {
            OnReply::Assign
        } else {
            OnReply::Keep
        }
    }
}

/// A value read back from the database, which wrote it valid.
pub(crate) fn parse<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, AppError> {
    value.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("stored {what} {value:?} is not valid")))
}

/// A comma-separated `status` filter, as the stored names.
pub fn status_list(value: &str) -> Result<Vec<String>, AppError> {
    value
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<Status>()
                .map(|s| s.as_str().to_owned())
                .map_err(|e| AppError::field("status", e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requester_fields_are_normalised() {
        let input = RequesterInput {
            id: None,
            name: Some("  Ana   Pérez ".into()),
            email: Some(" Ana@Municipalidad.CL".into()),
            phone: Some("9 8765 4321".into()),
            rut: Some("12.345.678-5".into()),
            segment: Some(Segment::Comprador),
            organization: Some(" Municipalidad de Ñuñoa ".into()),
        };
        let mut errors = Errors::default();
        let data = input.validate(&mut errors, "requester.");
        errors.finish().unwrap();
        assert_eq!(data.name, "Ana Pérez");
        assert_eq!(data.email.as_deref(), Some("ana@municipalidad.cl"));
        assert_eq!(data.phone.as_deref(), Some("+56987654321"));
        assert_eq!(data.rut.as_deref(), Some("12345678-5"));
        assert_eq!(data.organization.as_deref(), Some("Municipalidad de Ñuñoa"));
    }

    /// The published `maxLength` counts what was sent, so white space trimmed later still counts
    /// (schemathesis sent a body of 50,000 characters after a leading newline, and it was taken).
    #[test]
    fn lengths_count_the_characters_sent() {
        let mut errors = Errors::default();
        body_text(&mut errors, "body", &format!("\n{}", "a".repeat(MAX_BODY)));
        line(&mut errors, "subject", &format!("{}  ", "a".repeat(199)), 200);
        body_text(&mut errors, "ok", &"a".repeat(MAX_BODY));
        let fields: Vec<_> = errors.fields().collect();
        assert_eq!(fields, ["body", "subject"]);
    }

    #[test]
    fn every_bad_requester_field_is_reported() {
        let input = RequesterInput {
            id: None,
            name: Some("x".repeat(121)),
            email: Some("no-es-correo".into()),
            phone: Some("abc".into()),
            rut: Some("12.345.678-9".into()),
            segment: None,
            organization: None,
        };
        let mut errors = Errors::default();
        input.validate(&mut errors, "requester.");
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["requester.email", "requester.phone", "requester.rut", "requester.name"]);
    }

    #[test]
    fn tags_are_normalised_and_checked() {
        let mut errors = Errors::default();
        let out = tags(&mut errors, "tags", &["Urgente".into(), "urgente".into(), "compra_agil".into()]);
        assert_eq!(out, ["urgente", "compra_agil"]);
        errors.finish().unwrap();
        let mut errors = Errors::default();
        tags(&mut errors, "tags", &["con espacio".into(), "".into()]);
        assert_eq!(errors.0.len(), 2);
    }

    #[test]
    fn lines_are_required_and_bounded() {
        let mut errors = Errors::default();
        assert_eq!(line(&mut errors, "subject", "  Clave\n bloqueada ", 200), "Clave bloqueada");
        line(&mut errors, "subject", "   ", 200);
        line(&mut errors, "subject", &"á".repeat(201), 200);
        assert_eq!(errors.0.len(), 2);
    }

    #[test]
    fn update_tells_null_from_absent() {
        let absent: UpdateTicketRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.assignee_id, None);
        let null: UpdateTicketRequest = serde_json::from_str(r#"{"assignee_id": null}"#).unwrap();
        assert_eq!(null.assignee_id, Some(None));
        let set: UpdateTicketRequest = serde_json::from_str(r#"{"assignee_id": 7}"#).unwrap();
        assert_eq!(set.assignee_id, Some(Some(7)));
    }
}
