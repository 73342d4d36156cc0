//! Agents' notifications: which kinds exist, who gets one for an event of the ticket log, the
//! `@mención` rule and the Spanish sentence each one shows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::event::MessageAdded;
use super::ticket::string_enum;
use super::ticket::{AuthorType, UnknownValue, Visibility};
use std::fmt;
use std::str::FromStr;

string_enum!(
    /// `assigned`: the ticket was given to me by someone else; `requester_replied`: the requester
    /// (or one of the ticket's CCs) wrote on my ticket; `escalation_answered`: a department answered
    /// my escalation; `sla_warning`: a clock of my ticket is about to run out; `mention`: someone
    /// named me (`@` + the local part of my email) in an internal note.
    NotificationKind {
        Assigned => "assigned",
        RequesterReplied => "requester_replied",
        EscalationAnswered => "escalation_answered",
        SlaWarning => "sla_warning",
        Mention => "mention",
    }
);

/// An SLA metric as agents say it.
pub fn metric_name(metric: &str) -> &'static str {
    match metric {
        "first_reply" => "primera respuesta",
        "next_reply" => "siguiente respuesta",
        "periodic_update" => "actualización periódica",
        "resolution" => "resolución",
        "callback" => "devolución de llamada",
        _ => "atención",
    }
}

/// The sentence a notification shows. `who` is the department (escalation answered) or the
/// author of the note (mention); `metric` the SLA metric of a warning.
pub fn title(kind: NotificationKind, number: &str, who: &str, metric: &str) -> String {
    match kind {
        NotificationKind::Assigned => format!("Se le asignó el caso {number}"),
        NotificationKind::RequesterReplied => format!("El requirente respondió en el caso {number}"),
        NotificationKind::EscalationAnswered => format!("Respuesta de {who} a la derivación del caso {number}"),
        NotificationKind::SlaWarning => {
            format!("El plazo de {} del caso {number} está por vencer", metric_name(metric))
        }
        NotificationKind::Mention => format!("{who} lo mencionó en una nota interna del caso {number}"),
    }
}

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '%')
}

/// The names mentioned in `text` (`@javier.rojas` → `javier.rojas`), in lower case, each once.
/// An `@` inside a word (an email address such as `ana@example.cl`) is not a mention, and a
/// trailing dot ends a sentence rather than the name.
pub fn mentions(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts = c == '@' && !previous.is_some_and(|p| p.is_alphanumeric() || is_local_char(p));
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[at + 1..];
        let end = rest.find(|c: char| !is_local_char(c)).unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches(['.', '-', '_']).to_ascii_lowercase();
        // A name followed by `@` is an address (`@ana@example.cl`), not a mention.
        if !name.is_empty() && !rest[end..].starts_with('@') && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

/// Who a message event concerns, as far as notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFrom {
    /// The requester, or a CC answering for them.
    RequesterSide,
    /// An agent's internal note.
    InternalNote,
    Other,
}

/// Classifies a `message_added` event by its data: the message that opened the ticket answers
/// nothing.
pub fn message_from(message: &MessageAdded) -> MessageFrom {
    let internal_by_agent = message.author_type == AuthorType::Agent && message.visibility == Visibility::Internal;
    match message.answers_for() {
        Some(AuthorType::Requester) => MessageFrom::RequesterSide,
        _ if internal_by_agent && !message.initial => MessageFrom::InternalNote,
        _ => MessageFrom::Other,
    }
}

/// Whether a change of assignee to `to` made by `actor` (an agent's id, `None` for the system)
/// notifies `to`: only when someone else did it.
pub fn assignment_notifies(to: Option<i64>, actor: Option<i64>) -> Option<i64> {
    to.filter(|to| actor != Some(*to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_local_parts_after_an_at_sign() {
        assert_eq!(mentions("@javier.rojas ¿puedes revisar?"), vec!["javier.rojas"]);
        assert_eq!(mentions("Hola @Javier.Rojas y @ana_perez, gracias"), vec!["javier.rojas", "ana_perez"]);
        assert_eq!(mentions("(@ana) @ana otra vez"), vec!["ana"]);
        assert_eq!(mentions("Lo vio @javier.rojas."), vec!["javier.rojas"]);
    }

    #[test]
    fn addresses_and_lone_at_signs_are_not_mentions() {
        assert!(mentions("escribió desde ana@example.cl").is_empty());
        assert!(mentions("@ sola, @@ y @.").is_empty());
        assert!(mentions("@ana@example.cl").is_empty());
        assert_eq!(mentions("cc:@ana"), vec!["ana"]);
    }

    #[test]
    fn a_reply_from_the_requester_or_a_cc_notifies_but_not_the_opening_message() {
        let from = |author: &str, visibility: &str, sender: Option<&str>, initial: bool| {
            let data = serde_json::json!({"message_id": 1, "channel": "email", "author_type": author,
                "visibility": visibility, "sender_status": sender, "initial": initial});
            message_from(&serde_json::from_value(data).unwrap())
        };
        assert_eq!(from("requester", "public", None, false), MessageFrom::RequesterSide);
        assert_eq!(from("participant", "public", Some("cc"), false), MessageFrom::RequesterSide);
        assert_eq!(from("participant", "public", Some("unknown"), false), MessageFrom::Other);
        assert_eq!(from("requester", "public", None, true), MessageFrom::Other);
        assert_eq!(from("agent", "internal", None, false), MessageFrom::InternalNote);
        assert_eq!(from("agent", "internal", None, true), MessageFrom::Other);
        assert_eq!(from("agent", "public", None, false), MessageFrom::Other);
    }

    #[test]
    fn only_assignments_by_someone_else_notify() {
        assert_eq!(assignment_notifies(Some(4), Some(1)), Some(4));
        assert_eq!(assignment_notifies(Some(4), None), Some(4));
        assert_eq!(assignment_notifies(Some(4), Some(4)), None);
        assert_eq!(assignment_notifies(None, Some(1)), None);
    }

    #[test]
    fn titles_are_spanish_sentences() {
        let n = "AU-2026-000123";
        assert_eq!(title(NotificationKind::Assigned, n, "", ""), "Se le asignó el caso AU-2026-000123");
        assert_eq!(
            title(NotificationKind::SlaWarning, n, "", "first_reply"),
            "El plazo de primera respuesta del caso AU-2026-000123 está por vencer"
        );
        assert_eq!(
            title(NotificationKind::Mention, n, "Javier Rojas", ""),
            "Javier Rojas lo mencionó en una nota interna del caso AU-2026-000123"
        );
        assert_eq!(
            title(NotificationKind::EscalationAnswered, n, "Departamento de Compradores", ""),
            "Respuesta de Departamento de Compradores a la derivación del caso AU-2026-000123"
        );
        assert_eq!("mention".parse::<NotificationKind>(), Ok(NotificationKind::Mention));
    }
}
