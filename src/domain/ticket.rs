//! Tickets: the enumerations people see, the status state machine and human ticket numbers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares a closed set of values with one spelling shared by JSON, the database and the CLI.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        expected: &[$($text),+],
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

/// A string that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("valor no válido; valores aceptados: {}", expected.join(", "))]
pub struct UnknownValue {
    pub expected: &'static [&'static str],
}

string_enum!(
    /// `pending` waits on the requester, `on_hold` on a third party; `closed` is final.
    Status { New => "new", Open => "open", Pending => "pending", OnHold => "on_hold", Solved => "solved", Closed => "closed" }
);
string_enum!(Priority { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" });
string_enum!(Channel { Email => "email", Web => "web", Phone => "phone", Api => "api" });
string_enum!(
    /// `consult`: the department answers with an internal note, Atención Usuaria keeps the
    /// conversation; `transfer`: the department's queue owns the ticket.
    EscalationMode { Consult => "consult", Transfer => "transfer" }
);
string_enum!(EscalationStatus { Open => "open", Answered => "answered" });
string_enum!(
    /// `callback`: a call back owed to a caller who hung up before being answered.
    TicketKind { Standard => "standard", Callback => "callback" }
);
string_enum!(
    /// Requester segment: officials of public bodies, suppliers, and citizens.
    Segment { Comprador => "comprador", Proveedor => "proveedor", Ciudadano => "ciudadano" }
);
string_enum!(Visibility { Public => "public", Internal => "internal" });
string_enum!(
    /// Who wrote a message. `participant`: someone other than the requester writing in from
    /// outside (a CC of the ticket, or a sender the ticket does not know: see [`SenderStatus`]).
    AuthorType { Requester => "requester", Agent => "agent", System => "system", Participant => "participant" }
);
string_enum!(
    /// How the sender of an inbound mail related to its ticket when it arrived: the `requester`,
    /// one of the ticket's `cc`s, or `unknown` (a stranger, flagged for agents).
    SenderStatus { Requester => "requester", Cc => "cc", Unknown => "unknown" }
);

impl SenderStatus {
    /// The author of a mail from this sender: only the requester writes as the requester.
    pub fn author(self) -> AuthorType {
        match self {
            SenderStatus::Requester => AuthorType::Requester,
            SenderStatus::Cc | SenderStatus::Unknown => AuthorType::Participant,
        }
    }
}

impl AuthorType {
    /// Whom a message counts as for the ticket's status and SLA clocks: a CC (copied on every
    /// reply) answers for the requester's side; a stranger for nobody, so their message moves
    /// nothing.
    pub fn counts_as(self, sender: Option<SenderStatus>) -> AuthorType {
        match (self, sender) {
            (AuthorType::Participant, Some(SenderStatus::Cc)) => AuthorType::Requester,
            (author, _) => author,
        }
    }
}
string_enum!(
    /// What happened to a ticket; one immutable row per change in the ticket event log.
    /// `call_answered`: a call with the requester was answered (a live reply); `call_missed`: an
    /// unanswered call the ticket already owes a call back for; `callback_requested`: the ticket
    /// became a callback task; `merged`: folded into another ticket; `routed`: routing rules applied;
    /// `escalated` / `escalation_answered`: sent to another department, and its answer;
    /// `opportunity_outcome`: an improvement opportunity this ticket is evidence of was closed;
    /// `sla_met`: an SLA clock stopped before its target;
    /// `csat_answered`: the requester answered the satisfaction survey.
    EventKind {
        Created => "created",
        MessageAdded => "message_added",
        StatusChanged => "status_changed",
        PriorityChanged => "priority_changed",
        QueueChanged => "queue_changed",
        AssigneeChanged => "assignee_changed",
        CategoryChanged => "category_changed",
        TagsChanged => "tags_changed",
        SubjectChanged => "subject_changed",
        SlaPolicyApplied => "sla_policy_applied",
        SlaWarning => "sla_warning",
        SlaBreached => "sla_breached",
        SlaMet => "sla_met",
        Linked => "linked",
        CallAnswered => "call_answered",
        CallMissed => "call_missed",
        CallbackRequested => "callback_requested",
        Merged => "merged",
        Routed => "routed",
        Escalated => "escalated",
        EscalationAnswered => "escalation_answered",
        OpportunityOutcome => "opportunity_outcome",
        CsatAnswered => "csat_answered",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("un ticket cerrado no admite cambios; cree un ticket nuevo")]
    Closed,
    #[error("no se puede volver al estado «new»")]
    BackToNew,
    #[error("solo un ticket resuelto puede cerrarse")]
    CloseUnsolved,
}

impl Status {
    /// Whether `self → to` is a legal transition. Staying put is always legal (and not a change).
    pub fn check_transition(self, to: Status) -> Result<(), TransitionError> {
        use Status::*;
        match (self, to) {
            (from, to) if from == to => Ok(()),
            (Closed, _) => Err(TransitionError::Closed),
            (_, New) => Err(TransitionError::BackToNew),
            (from, Closed) if from != Solved => Err(TransitionError::CloseUnsolved),
            _ => Ok(()),
        }
    }

    /// The status after a message is added, before any explicit status the author asks for.
    /// A requester writing on a pending or solved ticket reopens it; an agent's first public
    /// reply takes a new ticket to open. Internal notes never move the ticket.
    pub fn after_message(self, author: AuthorType, visibility: Visibility) -> Result<Status, TransitionError> {
        use Status::*;
        if self == Closed {
            return Err(TransitionError::Closed);
        }
        Ok(match (author, visibility, self) {
            (_, Visibility::Internal, s) => s,
            (AuthorType::Requester, _, Pending | Solved) => Open,
            (AuthorType::Agent, _, New) => Open,
            (_, _, s) => s,
        })
    }

    /// Statuses that count as open work (backlog).
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Solved | Status::Closed)
    }
}

/// Human ticket number: `AU-<year>-<sequence>`, sequence zero-padded to six digits and restarting
/// every year (the year of creation in America/Santiago).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketNumber {
    pub year: i32,
    pub sequence: i64,
}

impl TicketNumber {
    pub const PREFIX: &'static str = "AU";

    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.trim().splitn(3, '-');
        let prefix = parts.next()?;
        let year = parts.next()?;
        let seq = parts.next()?;
        if !prefix.eq_ignore_ascii_case(Self::PREFIX) || year.len() != 4 || seq.is_empty() {
            return None;
        }
        if !year.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(TicketNumber { year: year.parse().ok()?, sequence: seq.parse().ok()? })
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:06}", Self::PREFIX, self.year, self.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn enum_round_trip_through_text_and_json() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        assert_eq!("on_hold".parse::<Status>(), Ok(OnHold));
        let err = "abierto".parse::<Status>().unwrap_err();
        assert!(err.to_string().contains("on_hold"));
        assert_eq!("comprador".parse::<Segment>(), Ok(Segment::Comprador));
    }

    #[test]
    fn every_transition_is_decided() {
        for &from in Status::ALL {
            for &to in Status::ALL {
                let result = from.check_transition(to);
                let expected = if from == to {
                    Ok(())
                } else if from == Closed {
                    Err(TransitionError::Closed)
                } else if to == New {
                    Err(TransitionError::BackToNew)
                } else if to == Closed && from != Solved {
                    Err(TransitionError::CloseUnsolved)
                } else {
                    Ok(())
                };
                assert_eq!(result, expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn explicit_examples() {
        assert!(Solved.check_transition(Closed).is_ok());
        assert!(Solved.check_transition(Open).is_ok());
        assert!(New.check_transition(Pending).is_ok());
        assert_eq!(Open.check_transition(Closed), Err(TransitionError::CloseUnsolved));
        assert_eq!(Closed.check_transition(Open), Err(TransitionError::Closed));
        assert_eq!(Open.check_transition(New), Err(TransitionError::BackToNew));
    }

    #[test]
    fn requester_reply_reopens_solved_and_pending() {
        let r = AuthorType::Requester;
        assert_eq!(Solved.after_message(r, Visibility::Public), Ok(Open));
        assert_eq!(Pending.after_message(r, Visibility::Public), Ok(Open));
        assert_eq!(OnHold.after_message(r, Visibility::Public), Ok(OnHold));
        assert_eq!(New.after_message(r, Visibility::Public), Ok(New));
        assert_eq!(Closed.after_message(r, Visibility::Public), Err(TransitionError::Closed));
    }

    #[test]
    fn agent_reply_opens_new_and_notes_change_nothing() {
        let a = AuthorType::Agent;
        assert_eq!(New.after_message(a, Visibility::Public), Ok(Open));
        assert_eq!(New.after_message(a, Visibility::Internal), Ok(New));
        assert_eq!(Pending.after_message(a, Visibility::Public), Ok(Pending));
        assert_eq!(Solved.after_message(AuthorType::Requester, Visibility::Internal), Ok(Solved));
    }

    #[test]
    fn a_cc_answers_for_the_requester_and_a_stranger_for_nobody() {
        let cc = SenderStatus::Cc.author().counts_as(Some(SenderStatus::Cc));
        assert_eq!(cc, AuthorType::Requester);
        assert_eq!(Solved.after_message(cc, Visibility::Public), Ok(Open));
        let stranger = SenderStatus::Unknown.author();
        assert_eq!(stranger, AuthorType::Participant);
        assert_eq!(stranger.counts_as(Some(SenderStatus::Unknown)), AuthorType::Participant);
        for status in [New, Open, Pending, OnHold, Solved] {
            assert_eq!(status.after_message(stranger, Visibility::Public), Ok(status));
        }
        assert_eq!(SenderStatus::Requester.author().counts_as(Some(SenderStatus::Requester)), AuthorType::Requester);
        assert_eq!(AuthorType::Agent.counts_as(None), AuthorType::Agent);
    }

    #[test]
    fn open_statuses() {
        let open: Vec<_> = Status::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [&New, &Open, &Pending, &OnHold]);
    }

    #[test]
    fn ticket_numbers() {
        let n = TicketNumber { year: 2026, sequence: 123 };
        assert_eq!(n.to_string(), "AU-2026-000123");
        assert_eq!(TicketNumber::parse("AU-2026-000123"), Some(n));
        assert_eq!(TicketNumber::parse("au-2026-123"), Some(n));
        assert_eq!(TicketNumber::parse("AU-2026-1234567").unwrap().to_string(), "AU-2026-1234567");
        for bad in ["", "AU-2026", "XX-2026-000001", "AU-26-000001", "AU-2026-", "AU-2026-12a", "42"] {
            assert_eq!(TicketNumber::parse(bad), None, "{bad}");
        }
    }
}
