//! What happened to a ticket, typed: one variant per [`EventKind`], carrying the data its row of
//! the event log stores, and the decisions every follower of the log takes from it (is this an
//! agent's reply, what does it do to the SLA clocks). Writers build these; readers parse rows
//! back into them, so a field's name and type are written once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::call::Direction;
use super::opportunity::OpportunityStatus;
use super::sla::{AppliedPolicy, Metric, SlaEvent};
use super::ticket::{
    AuthorType, Channel, EscalationMode, EventKind, Priority, SenderStatus, Status, TicketKind, Visibility,
};

/// One event of a ticket's log. Serialised adjacently tagged (`{"kind": …, "data": …}`): the
/// tag is the row's `kind` column and the content its `data` column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum TicketEvent {
    Created(Created),
    MessageAdded(MessageAdded),
    StatusChanged(Changed<Status>),
    PriorityChanged(Changed<Priority>),
    QueueChanged(QueueChanged),
    AssigneeChanged(AssigneeChanged),
    CategoryChanged(CategoryChanged),
    TagsChanged(TagsChanged),
    SubjectChanged(Changed<String>),
    SlaPolicyApplied(AppliedPolicy),
    SlaWarning(SlaFired),
    SlaBreached(SlaFired),
    SlaMet(SlaMet),
    Linked(Linked),
    CallAnswered(CallAnswered),
    CallMissed(CallMissed),
    CallbackRequested(CallMissed),
    Merged(Merged),
    Routed(Routed),
    Escalated(Escalated),
    EscalationAnswered(EscalationAnswered),
    OpportunityOutcome(OpportunityOutcome),
    CsatAnswered(CsatAnswered),
}

/// The ticket as it was opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub number: String,
    pub subject: String,
    pub channel: Channel,
    pub priority: Priority,
    pub status: Status,
    /// The queue's slug.
    pub queue: Option<String>,
    /// The category's slug.
    pub category: Option<String>,
    pub assignee_id: Option<i64>,
    pub requester_id: i64,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Not written before callbacks existed: those tickets were standard.
    #[serde(default = "standard")]
    pub kind: TicketKind,
    /// The requester is to be told the ticket's number by mail (written only when so). The
    /// acknowledgement follows the committed log: before, it was queued in the creation itself,
    /// so rows of earlier versions read as not asking for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub acknowledge: bool,
}

fn standard() -> TicketKind {
    TicketKind::Standard
}

/// A message joined the conversation; what decides what it does to the clocks and the figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAdded {
    pub message_id: i64,
    pub author_type: AuthorType,
    pub visibility: Visibility,
    pub channel: Channel,
    /// The message that opened the ticket, which is not a reply to anything.
    #[serde(default)]
    pub initial: bool,
    /// How the sender of a mail related to the ticket: tells a CC from a stranger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_status: Option<SenderStatus>,
}

/// A field that changed from one value to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed<T> {
    pub from: T,
    pub to: T,
}

/// Queue ids; `queue` is the new queue's slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueChanged {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub queue: Option<String>,
    pub reason: Option<String>,
}

/// Agent ids; `to` is `None` when the ticket went back to its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssigneeChanged {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub reason: Option<String>,
}

/// Category ids; `category` is the new category's slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryChanged {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagsChanged {
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
}

/// An SLA deadline fired (a warning or a breach).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaFired {
    pub metric: Metric,
    pub instance: u32,
    pub due_at: DateTime<Utc>,
    /// Who was told by mail, when the policy says to tell.
    pub notify: Option<Notified>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    pub assignee_id: Option<i64>,
    pub queue_id: Option<i64>,
}

/// An SLA clock stopped before its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaMet {
    pub metric: Metric,
    pub instance: u32,
    /// Not written by the first versions.
    pub started_at: Option<DateTime<Utc>>,
}

/// A mail to a closed ticket opened this one, which points back to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Linked {
    pub follow_up_of: i64,
    pub sender_status: SenderStatus,
}

/// A call with the requester was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAnswered {
    /// The call's id, and the PBX's.
    pub call: i64,
    pub call_id: String,
    pub direction: Direction,
    pub agent_id: Option<i64>,
    /// The call had first been taken for unanswered, and its callback task became its ticket.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub was_callback: bool,
    /// The agent who linked the call to this ticket by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_by: Option<i64>,
}

/// A call nobody answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallMissed {
    pub call: i64,
    pub call_id: String,
    pub wait_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    pub into: i64,
    pub into_number: String,
}

/// The routing rules that matched, and what they set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routed {
    pub rules: Vec<RuleRef>,
    pub queue: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub watchers: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalated {
    pub escalation_id: i64,
    /// The department's slug.
    pub department: String,
    pub mode: EscalationMode,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationAnswered {
    pub escalation_id: i64,
    /// The department's name.
    pub department: String,
}

/// An improvement opportunity this ticket is evidence of was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpportunityOutcome {
    pub opportunity_id: i64,
    pub title: String,
    pub status: OpportunityStatus,
    pub resolution: Option<String>,
}

/// The requester answered the satisfaction survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsatAnswered {
    pub score: i64,
    pub resolved: Option<bool>,
    pub comment: Option<String>,
    /// The agent the answer is about.
    pub agent_id: Option<i64>,
}

impl TicketEvent {
    /// The row's `kind`.
    pub fn kind(&self) -> EventKind {
        use TicketEvent as E;
        match self {
            E::Created(_) => EventKind::Created,
            E::MessageAdded(_) => EventKind::MessageAdded,
            E::StatusChanged(_) => EventKind::StatusChanged,
            E::PriorityChanged(_) => EventKind::PriorityChanged,
            E::QueueChanged(_) => EventKind::QueueChanged,
            E::AssigneeChanged(_) => EventKind::AssigneeChanged,
            E::CategoryChanged(_) => EventKind::CategoryChanged,
            E::TagsChanged(_) => EventKind::TagsChanged,
            E::SubjectChanged(_) => EventKind::SubjectChanged,
            E::SlaPolicyApplied(_) => EventKind::SlaPolicyApplied,
            E::SlaWarning(_) => EventKind::SlaWarning,
            E::SlaBreached(_) => EventKind::SlaBreached,
            E::SlaMet(_) => EventKind::SlaMet,
            E::Linked(_) => EventKind::Linked,
            E::CallAnswered(_) => EventKind::CallAnswered,
            E::CallMissed(_) => EventKind::CallMissed,
            E::CallbackRequested(_) => EventKind::CallbackRequested,
            E::Merged(_) => EventKind::Merged,
            E::Routed(_) => EventKind::Routed,
            E::Escalated(_) => EventKind::Escalated,
            E::EscalationAnswered(_) => EventKind::EscalationAnswered,
            E::OpportunityOutcome(_) => EventKind::OpportunityOutcome,
            E::CsatAnswered(_) => EventKind::CsatAnswered,
        }
    }

    /// The row's `data`.
    pub fn data(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut tagged)) => tagged.remove("data").unwrap_or(Value::Null),
            // Every payload is plain data with string keys: it always serialises.
            _ => unreachable!("a ticket event serialises to an object"),
        }
    }

    /// The event a row of the log stores, or why it does not read as one.
    pub fn parse(kind: &str, data: &Value) -> Result<TicketEvent, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "kind": kind, "data": data }))
    }

    /// Whether this is an agent's reply to the requester: a public message of an agent after the
    /// first, or an answered call. One decision for the SLA clocks and the live figures.
    pub fn is_agent_reply(&self) -> bool {
        match self {
            TicketEvent::CallAnswered(_) => true,
            TicketEvent::MessageAdded(m) => m.answers_for() == Some(AuthorType::Agent),
            _ => false,
        }
    }

    /// The status the ticket moved to, for a change of status.
    pub fn moved_to(&self) -> Option<Status> {
        match self {
            TicketEvent::StatusChanged(change) => Some(change.to),
            _ => None,
        }
    }

    /// Whether this opens the ticket (its creation, or its first message): it answers nothing and
    /// acts on nothing that could exist before the ticket.
    pub fn opens_ticket(&self) -> bool {
        match self {
            TicketEvent::Created(_) => true,
            TicketEvent::MessageAdded(m) => m.initial,
            _ => false,
        }
    }

    /// Whether the ticket starts waiting for an agent again: it was opened, moved to a queue, or
    /// lost its assignee.
    pub fn starts_waiting(&self) -> bool {
        match self {
            TicketEvent::Created(_) | TicketEvent::QueueChanged(_) => true,
            TicketEvent::AssigneeChanged(change) => change.to.is_none(),
            _ => false,
        }
    }

    /// What the event does to the SLA clocks, if anything.
    pub fn sla_event(&self) -> Option<SlaEvent> {
        Some(match self {
            TicketEvent::Created(_) => SlaEvent::Created,
            TicketEvent::MessageAdded(m) => match m.answers_for()? {
                AuthorType::Agent => SlaEvent::AgentReply,
                _ => SlaEvent::RequesterMessage,
            },
            TicketEvent::StatusChanged(change) => SlaEvent::StatusChanged(change.to),
            TicketEvent::SlaPolicyApplied(policy) => SlaEvent::PolicyApplied(policy.clone()),
            TicketEvent::Merged(_) => SlaEvent::Merged,
            TicketEvent::CallAnswered(_) => SlaEvent::AgentReply,
            TicketEvent::CallbackRequested(_) => SlaEvent::CallbackRequested,
            _ => return None,
        })
    }
}

impl MessageAdded {
    /// Whom the message answers for: `Agent` (a reply) or `Requester` (a CC answers for the
    /// requester). `None` for what moves nothing: an internal note, the ticket's first message,
    /// a stranger's mail, the system's.
    pub fn answers_for(&self) -> Option<AuthorType> {
        if self.visibility != Visibility::Public || self.initial {
            return None;
        }
        match self.author_type.counts_as(self.sender_status) {
            author @ (AuthorType::Agent | AuthorType::Requester) => Some(author),
            AuthorType::Participant | AuthorType::System => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn at() -> DateTime<Utc> {
        "2026-12-07T12:00:00Z".parse().unwrap()
    }

    fn message(author_type: AuthorType, visibility: Visibility) -> MessageAdded {
        MessageAdded {
            message_id: 7,
            author_type,
            visibility,
            channel: Channel::Email,
            initial: false,
            sender_status: None,
        }
    }

    fn policy() -> AppliedPolicy {
        AppliedPolicy {
            policy_id: 1,
            policy_name: "Estándar".into(),
            calendar_id: 2,
            targets: BTreeMap::from([(Metric::FirstReply, 60)]),
            pause: BTreeMap::new(),
            warn_percent: Some(80),
            warn_before_minutes: None,
        }
    }

    /// One event of every kind, as the writers build them.
    fn one_of_each() -> Vec<TicketEvent> {
        use TicketEvent as E;
        let fired = SlaFired {
            metric: Metric::FirstReply,
            instance: 1,
            due_at: at(),
            notify: Some(Notified { assignee_id: Some(3), queue_id: None }),
        };
        let missed = CallMissed { call: 4, call_id: "pbx-1".into(), wait_seconds: Some(31) };
        vec![
            E::Created(Created {
                number: "AU-2026-000001".into(),
                subject: "Clave".into(),
                channel: Channel::Web,
                priority: Priority::Normal,
                status: Status::New,
                queue: Some("general".into()),
                category: None,
                assignee_id: None,
                requester_id: 9,
                tags: vec!["clave".into()],
                kind: TicketKind::Standard,
                acknowledge: true,
            }),
            E::MessageAdded(message(AuthorType::Agent, Visibility::Public)),
            E::StatusChanged(Changed { from: Status::New, to: Status::Open }),
            E::PriorityChanged(Changed { from: Priority::Normal, to: Priority::High }),
            E::QueueChanged(QueueChanged { from: None, to: Some(2), queue: Some("pagos".into()), reason: None }),
            E::AssigneeChanged(AssigneeChanged { from: Some(1), to: None, reason: Some("vuelve".into()) }),
            E::CategoryChanged(CategoryChanged { from: None, to: Some(5), category: Some("clave".into()) }),
            E::TagsChanged(TagsChanged { added: vec!["a".into()], removed: vec![] }),
            E::SubjectChanged(Changed { from: "a".into(), to: "b".into() }),
            E::SlaPolicyApplied(policy()),
            E::SlaWarning(fired.clone()),
            E::SlaBreached(SlaFired { notify: None, ..fired }),
            E::SlaMet(SlaMet { metric: Metric::Resolution, instance: 1, started_at: Some(at()) }),
            E::Linked(Linked { follow_up_of: 3, sender_status: SenderStatus::Cc }),
            E::CallAnswered(CallAnswered {
                call: 4,
                call_id: "pbx-1".into(),
                direction: Direction::Inbound,
                agent_id: Some(2),
                was_callback: true,
                linked_by: None,
            }),
            E::CallMissed(missed.clone()),
            E::CallbackRequested(missed),
            E::Merged(Merged { into: 8, into_number: "AU-2026-000008".into() }),
            E::Routed(Routed {
                rules: vec![RuleRef { id: 1, name: "Pagos".into() }],
                queue: Some("pagos".into()),
                category: None,
                priority: Some(Priority::High),
                tags: vec![],
                watchers: vec![4],
            }),
            E::Escalated(Escalated {
                escalation_id: 1,
                department: "compradores".into(),
                mode: EscalationMode::Consult,
                reason: "¿Plazo?".into(),
            }),
            E::EscalationAnswered(EscalationAnswered { escalation_id: 1, department: "Compradores".into() }),
            E::OpportunityOutcome(OpportunityOutcome {
                opportunity_id: 1,
                title: "Clave".into(),
                status: OpportunityStatus::Implemented,
                resolution: Some("Listo".into()),
            }),
            E::CsatAnswered(CsatAnswered { score: 5, resolved: Some(true), comment: None, agent_id: Some(2) }),
        ]
    }

    #[test]
    fn every_kind_has_an_event_and_reads_back_from_its_row() {
        let events = one_of_each();
        let kinds: Vec<EventKind> = events.iter().map(TicketEvent::kind).collect();
        assert_eq!(kinds, EventKind::ALL, "one sample per kind, in the order of the kinds");
        for event in events {
            let tagged = serde_json::to_value(&event).unwrap();
            assert_eq!(tagged["kind"], event.kind().as_str(), "the serde tag is the kind column");
            assert_eq!(TicketEvent::parse(event.kind().as_str(), &event.data()).unwrap(), event);
        }
    }

    #[test]
    fn the_stored_data_keeps_the_shape_readers_of_the_log_see() {
        let message = TicketEvent::MessageAdded(message(AuthorType::Requester, Visibility::Public));
        assert_eq!(
            message.data(),
            json!({"message_id": 7, "author_type": "requester", "visibility": "public", "channel": "email", "initial": false})
        );
        let answered = TicketEvent::CallAnswered(CallAnswered {
            call: 1,
            call_id: "x".into(),
            direction: Direction::Outbound,
            agent_id: None,
            was_callback: false,
            linked_by: Some(3),
        });
        assert_eq!(
            answered.data(),
            json!({"call": 1, "call_id": "x", "direction": "out", "agent_id": null, "linked_by": 3})
        );
        let assignee = TicketEvent::AssigneeChanged(AssigneeChanged { from: None, to: Some(2), reason: None });
        assert_eq!(assignee.data(), json!({"from": null, "to": 2, "reason": null}));
    }

    #[test]
    fn a_row_that_does_not_read_as_its_kind_is_refused() {
        assert!(TicketEvent::parse("status_changed", &json!({"from": "new", "to": "pending_forever"})).is_err());
        assert!(TicketEvent::parse("no_such_kind", &json!({})).is_err());
        assert!(TicketEvent::parse("merged", &json!(null)).is_err());
        // Fields a later version adds are ignored by an earlier reader.
        let merged = TicketEvent::parse("merged", &json!({"into": 2, "into_number": "AU-1", "extra": true})).unwrap();
        assert_eq!(merged, TicketEvent::Merged(Merged { into: 2, into_number: "AU-1".into() }));
    }

    #[test]
    fn events_as_the_first_versions_wrote_them_still_read() {
        let created = json!({"number": "AU-2026-000001", "subject": "Clave", "channel": "web", "priority": "normal",
            "status": "new", "queue": "general", "category": null, "assignee_id": null, "requester_id": 1, "tags": []});
        let TicketEvent::Created(created) = TicketEvent::parse("created", &created).unwrap() else { panic!() };
        assert_eq!(created.kind, TicketKind::Standard);
        assert!(!created.acknowledge, "their acknowledgement was queued with the ticket");
        let message = json!({"message_id": 1, "author_type": "agent", "visibility": "public", "channel": "web"});
        let message = TicketEvent::parse("message_added", &message).unwrap();
        assert!(message.is_agent_reply(), "a message without `initial` is not the first one");
        let queue = TicketEvent::parse("queue_changed", &json!({"from": 1, "to": 2, "queue": "pagos"})).unwrap();
        assert!(queue.starts_waiting());
        let met = TicketEvent::parse("sla_met", &json!({"metric": "first_reply", "instance": 0})).unwrap();
        assert_eq!(met, TicketEvent::SlaMet(SlaMet { metric: Metric::FirstReply, instance: 0, started_at: None }));
    }

    #[test]
    fn what_a_message_answers_for() {
        let mut m = message(AuthorType::Agent, Visibility::Public);
        assert_eq!(m.answers_for(), Some(AuthorType::Agent));
        m.initial = true;
        assert_eq!(m.answers_for(), None, "the first message answers nothing");
        let note = message(AuthorType::Agent, Visibility::Internal);
        assert_eq!(note.answers_for(), None);
        let cc = MessageAdded {
            sender_status: Some(SenderStatus::Cc),
            ..message(AuthorType::Participant, Visibility::Public)
        };
        assert_eq!(cc.answers_for(), Some(AuthorType::Requester), "a CC answers for the requester");
        let stranger = MessageAdded { sender_status: Some(SenderStatus::Unknown), ..cc };
        assert_eq!(stranger.answers_for(), None);
        assert_eq!(message(AuthorType::System, Visibility::Public).answers_for(), None);
    }

    #[test]
    fn the_decisions_of_each_kind() {
        for event in one_of_each() {
            let kind = event.kind();
            let reply = matches!(kind, EventKind::CallAnswered | EventKind::MessageAdded);
            assert_eq!(event.is_agent_reply(), reply, "{kind}");
            assert_eq!(event.opens_ticket(), kind == EventKind::Created, "{kind}");
            let waits = matches!(kind, EventKind::Created | EventKind::QueueChanged | EventKind::AssigneeChanged);
            assert_eq!(event.starts_waiting(), waits, "{kind}");
            assert_eq!(event.moved_to().is_some(), kind == EventKind::StatusChanged, "{kind}");
            let clocks = [
                EventKind::Created,
                EventKind::MessageAdded,
                EventKind::StatusChanged,
                EventKind::SlaPolicyApplied,
                EventKind::Merged,
                EventKind::CallAnswered,
                EventKind::CallbackRequested,
            ];
            assert_eq!(event.sla_event().is_some(), clocks.contains(&kind), "{kind}");
        }
        let assigned = TicketEvent::AssigneeChanged(AssigneeChanged { from: None, to: Some(1), reason: None });
        assert!(!assigned.starts_waiting(), "an assigned ticket no longer waits");
        let from_requester = TicketEvent::MessageAdded(message(AuthorType::Requester, Visibility::Public));
        assert_eq!(from_requester.sla_event(), Some(SlaEvent::RequesterMessage));
        assert!(!from_requester.is_agent_reply());
        let first = TicketEvent::MessageAdded(MessageAdded {
            initial: true,
            ..message(AuthorType::Requester, Visibility::Public)
        });
        assert!(first.opens_ticket());
        assert_eq!(first.sla_event(), None);
    }
}
