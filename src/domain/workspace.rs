//! Rules of the agents' workspace: a ticket's SLA summary, the views and their counts, who sees
//! which live event, and how long a viewer stays.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Role, Status};

/// The statuses of a ticket someone still has to work on: the lists' "open".
pub const OPEN_STATUSES: [Status; 4] = [Status::New, Status::Open, Status::Pending, Status::OnHold];

/// Where a ticket stands against its SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// An SLA applies and nothing was warned or breached.
    Ok,
    /// A clock was warned and is still running: the ticket is at risk ("En riesgo").
    Warning,
    /// A clock breached ("Vencido").
    Breached,
}

impl SlaState {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Ok => "ok",
            SlaState::Warning => "warning",
            SlaState::Breached => "breached",
        }
    }

    pub fn parse(value: &str) -> Option<SlaState> {
        match value {
            "ok" => Some(SlaState::Ok),
            "warning" => Some(SlaState::Warning),
            "breached" => Some(SlaState::Breached),
            _ => None,
        }
    }
}

/// One row of a ticket's SLA deadlines (`sla_deadlines`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub metric: String,
    pub instance: i32,
    /// `warning` or `breach`.
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub fired: bool,
}

/// The ticket's earliest pending breach time and its SLA state; `(None, None)` without deadlines.
/// A warning counts while the breach of the same clock is still pending: once the clock is met
/// (its pending breach is gone) the ticket is no longer at risk. A breach stays a breach.
pub fn sla_summary(deadlines: &[Deadline]) -> (Option<DateTime<Utc>>, Option<SlaState>) {
    let pending_breach = |d: &Deadline| d.kind == "breach" && !d.fired;
    let next_due = deadlines.iter().filter(|d| pending_breach(d)).map(|d| d.due_at).min();
    if deadlines.is_empty() {
        return (None, None);
    }
    let breached = deadlines.iter().any(|d| d.kind == "breach" && d.fired);
    let warned = deadlines
        .iter()
        .filter(|w| w.kind == "warning" && w.fired)
        .any(|w| deadlines.iter().any(|b| pending_breach(b) && b.metric == w.metric && b.instance == w.instance));
    let state = if breached {
        SlaState::Breached
    } else if warned {
        SlaState::Warning
    } else {
        SlaState::Ok
    };
    (next_due, Some(state))
}

/// How long a viewer stays on a ticket without a heartbeat.
pub const VIEWER_TTL: TimeDelta = TimeDelta::seconds(30);

/// What an agent is doing on a ticket they have open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ViewerState {
    Viewing,
    /// Writing a reply or a note.
    Typing,
}

impl ViewerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ViewerState::Viewing => "viewing",
            ViewerState::Typing => "typing",
        }
    }

    pub fn parse(value: &str) -> Option<ViewerState> {
        match value {
            "viewing" => Some(ViewerState::Viewing),
            "typing" => Some(ViewerState::Typing),
            _ => None,
        }
    }
}

/// Whether a heartbeat seen at `seen_at` still holds at `now`.
pub fn viewer_alive(seen_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - seen_at < VIEWER_TTL
}

/// Who a ticket event concerns: the ticket's queues and assignees before and after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Concerned {
    pub queues: Vec<Option<i64>>,
    pub assignees: Vec<Option<i64>>,
}

/// Whether an agent sees a ticket's live events: supervisors and admins see all; agents the
/// tickets assigned to them (now or before the event), those of their queues, and unassigned
/// tickets outside any queue (nobody else would see them).
pub fn sees(role: Role, agent_id: i64, queues: &[i64], concerned: &Concerned) -> bool {
    match role {
        Role::Admin | Role::Supervisor => true,
        Role::Agent => {
            concerned.assignees.contains(&Some(agent_id))
                || concerned.queues.iter().flatten().any(|q| queues.contains(q))
                || (concerned.queues.iter().all(Option::is_none) && concerned.assignees.iter().all(Option::is_none))
        }
        Role::Department | Role::Integration => false,
    }
}

/// Open tickets counted by queue, assignee and SLA state (one grouped query's rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCount {
    pub queue_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub sla_state: Option<SlaState>,
    pub count: i64,
}

/// A list of the workspace's left column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ListView {
    /// `mine`, `unassigned`, `warning`, `breached` or `queue:<slug>`.
    pub key: String,
    pub name: String,
    pub count: i64,
    /// The query string of `GET /api/v1/tickets` that lists it.
    pub query: String,
}

/// A queue the caller belongs to: (id, slug, name).
pub type MemberQueue = (i64, String, String);

const OPEN_QUERY: &str = "status=new,open,pending,on_hold";

/// The caller's views, counted from the open tickets' grouped counts: "Mis casos", each of their
/// queues, "Sin asignar", "En riesgo" and "Vencidos".
pub fn views(agent_id: i64, queues: &[MemberQueue], counts: &[OpenCount]) -> Vec<ListView> {
    let sum = |keep: &dyn Fn(&OpenCount) -> bool| counts.iter().filter(|c| keep(c)).map(|c| c.count).sum::<i64>();
    let view =
        |key: String, name: &str, count: i64, query: String| ListView { key, name: name.to_owned(), count, query };
    let mut out = vec![view(
        "mine".into(),
        "Mis casos",
        sum(&|c| c.assignee_id == Some(agent_id)),
        format!("assignee=me&{OPEN_QUERY}"),
    )];
    for (id, slug, name) in queues {
        let count = sum(&|c| c.queue_id == Some(*id));
        out.push(view(format!("queue:{slug}"), name, count, format!("queue={slug}&{OPEN_QUERY}")));
    }
    out.push(view(
        "unassigned".into(),
        "Sin asignar",
        sum(&|c| c.assignee_id.is_none()),
        format!("assignee=none&{OPEN_QUERY}"),
    ));
    for (state, key, name) in
        [(SlaState::Warning, "warning", "En riesgo"), (SlaState::Breached, "breached", "Vencidos")]
    {
        let count = sum(&|c| c.sla_state == Some(state));
        out.push(view(key.into(), name, count, format!("sla={key}&{OPEN_QUERY}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn deadline(metric: &str, kind: &str, due: &str, fired: bool) -> Deadline {
        Deadline { metric: metric.into(), instance: 1, kind: kind.into(), due_at: at(due), fired }
    }

    #[test]
    fn the_summary_takes_the_earliest_pending_breach() {
        assert_eq!(sla_summary(&[]), (None, None));
        let ok = [
            deadline("first_reply", "warning", "2026-12-01T10:00:00Z", false),
            deadline("first_reply", "breach", "2026-12-01T11:00:00Z", false),
            deadline("resolution", "breach", "2026-12-03T11:00:00Z", false),
        ];
        assert_eq!(sla_summary(&ok), (Some(at("2026-12-01T11:00:00Z")), Some(SlaState::Ok)));
    }

    #[test]
    fn a_warning_counts_while_its_clock_runs_and_a_breach_stays() {
        let warned = [
            deadline("first_reply", "warning", "2026-12-01T10:00:00Z", true),
            deadline("first_reply", "breach", "2026-12-01T11:00:00Z", false),
        ];
        assert_eq!(sla_summary(&warned).1, Some(SlaState::Warning));
        // The first reply came: its pending breach is gone, a later clock runs.
        let met = [
            deadline("first_reply", "warning", "2026-12-01T10:00:00Z", true),
            deadline("next_reply", "breach", "2026-12-02T11:00:00Z", false),
        ];
        assert_eq!(sla_summary(&met), (Some(at("2026-12-02T11:00:00Z")), Some(SlaState::Ok)));
        let breached = [
            deadline("first_reply", "warning", "2026-12-01T10:00:00Z", true),
            deadline("first_reply", "breach", "2026-12-01T11:00:00Z", true),
        ];
        assert_eq!(sla_summary(&breached), (None, Some(SlaState::Breached)));
    }

    #[test]
    fn agents_see_their_queues_their_tickets_and_nobodys() {
        let of = |queues: &[Option<i64>], assignees: &[Option<i64>]| Concerned {
            queues: queues.to_vec(),
            assignees: assignees.to_vec(),
        };
        assert!(sees(Role::Agent, 7, &[1], &of(&[Some(1)], &[Some(9)])));
        assert!(!sees(Role::Agent, 7, &[1], &of(&[Some(2)], &[None])));
        assert!(sees(Role::Agent, 7, &[], &of(&[Some(2)], &[Some(7), Some(9)])), "taken from them");
        assert!(sees(Role::Agent, 7, &[], &of(&[None], &[None])));
        assert!(sees(Role::Supervisor, 7, &[], &of(&[Some(2)], &[Some(9)])));
        assert!(!sees(Role::Department, 7, &[2], &of(&[Some(2)], &[None])));
    }

    #[test]
    fn views_add_up_the_grouped_counts() {
        let count = |queue_id, assignee_id, sla_state, count| OpenCount { queue_id, assignee_id, sla_state, count };
        let counts = [
            count(Some(1), Some(7), Some(SlaState::Warning), 2),
            count(Some(1), None, Some(SlaState::Breached), 3),
            count(Some(2), Some(8), Some(SlaState::Ok), 5),
            count(Some(2), None, None, 1),
        ];
        let views = views(7, &[(1, "mesa".into(), "Mesa de Ayuda".into())], &counts);
        let got: Vec<(&str, i64)> = views.iter().map(|v| (v.key.as_str(), v.count)).collect();
        assert_eq!(got, [("mine", 2), ("queue:mesa", 5), ("unassigned", 4), ("warning", 2), ("breached", 3)]);
        assert_eq!(views[1].query, "queue=mesa&status=new,open,pending,on_hold");
        assert_eq!(views[0].name, "Mis casos");
    }

    #[test]
    fn viewers_expire_after_thirty_seconds() {
        assert!(viewer_alive(at("2026-12-01T10:00:00Z"), at("2026-12-01T10:00:29Z")));
        assert!(!viewer_alive(at("2026-12-01T10:00:00Z"), at("2026-12-01T10:00:30Z")));
    }
}
