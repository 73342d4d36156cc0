//! The live feed of one replica: it follows the committed logs listed in [`SOURCES`] from its
//! own cursors (the same hole-grace rule as the KPI projector, so a late commit is not missed)
//! and the table of viewers, and broadcasts what it finds. Each agent's stream keeps what that
//! agent may see. Every replica runs its own feed: nothing is shared but the database.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::viewers::{self, ViewerView};
use crate::db::schema::{notifications, ticket_events, tickets};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::{Db, DbConnection};
use crate::domain::workspace::{sees, Concerned};
use crate::domain::{Principal, TicketEvent};
use crate::error::AppError;
use crate::kpi::projector::advance;

/// Rows read per source per poll.
const BATCH: i64 = 500;
/// Items a slow stream may fall behind before it skips some.
const CAPACITY: usize = 1024;

/// What the feed pushes.
#[derive(Debug, Clone)]
pub enum Item {
    /// A ticket event, for those the ticket concerns.
    Ticket { data: Value, concerned: Concerned },
    /// The viewers of a ticket changed.
    Viewers { ticket_id: i64, viewers: Vec<ViewerView>, concerned: Concerned },
    /// Something for one agent only (`event` names it in the stream).
    Personal { agent_id: i64, event: &'static str, data: Value },
}

impl Item {
    /// The Server-Sent Events frame of this item for `who` (member of `queues`), if they may see it.
    pub fn frame_for(&self, who: &Principal, queues: &[i64]) -> Option<String> {
        let (event, data) = match self {
            Item::Ticket { data, concerned } => {
                (sees(who.role, who.agent_id, queues, concerned).then_some("ticket")?, data.clone())
            }
            Item::Viewers { ticket_id, viewers, concerned } => {
                sees(who.role, who.agent_id, queues, concerned).then_some(())?;
                let others: Vec<&ViewerView> = viewers.iter().filter(|v| v.agent_id != who.agent_id).collect();
                ("viewers", json!({ "ticket_id": ticket_id, "viewers": others }))
            }
            Item::Personal { agent_id, event, data } => ((*agent_id == who.agent_id).then_some(*event)?, data.clone()),
        };
        Some(format!("event: {event}\ndata: {data}\n\n"))
    }
}

/// A row of a followed log: its id, when it was written, and what it pushes.
pub struct Row {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub item: Item,
}

/// A committed log the feed follows: where it starts (its end when the replica starts: the
/// stream is live, not a replay) and how its rows after a cursor are read.
pub struct Source {
    pub name: &'static str,
    pub end: fn(&mut DbConnection) -> Result<i64, AppError>,
    pub read: fn(&mut DbConnection, i64, i64) -> Result<Vec<Row>, AppError>,
}

/// The logs followed. A new kind of push is one more line here.
pub const SOURCES: &[Source] = &[
    Source { name: "ticket_events", end: ticket_events_end, read: ticket_event_rows },
    Source { name: "notifications", end: notifications_end, read: notification_rows },
];

fn ticket_events_end(conn: &mut DbConnection) -> Result<i64, AppError> {
    Ok(ticket_events::table.select(diesel::dsl::max(ticket_events::id)).first::<Option<i64>>(conn)?.unwrap_or(0))
}

fn notifications_end(conn: &mut DbConnection) -> Result<i64, AppError> {
    Ok(notifications::table.select(diesel::dsl::max(notifications::id)).first::<Option<i64>>(conn)?.unwrap_or(0))
}

/// Each new notification, for its agent only.
fn notification_rows(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Vec<Row>, AppError> {
    Ok(crate::notifications::since(conn, after, limit)?
        .into_iter()
        .map(|(agent_id, view)| Row {
            id: view.id,
            at: view.created_at,
            item: Item::Personal { agent_id, event: "notification", data: json!(view) },
        })
        .collect())
}

/// Ticket events with the ticket's number, queue and assignee; queue and assignee changes
/// concern the ticket's previous queue and assignee too.
fn ticket_event_rows(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Vec<Row>, AppError> {
    let events: Vec<(i64, i64, String, JsonValue, UtcTime)> = ticket_events::table
        .filter(ticket_events::id.gt(after))
        .order(ticket_events::id.asc())
        .limit(limit)
        .select((
            ticket_events::id,
            ticket_events::ticket_id,
            ticket_events::kind,
            ticket_events::data,
            ticket_events::created_at,
        ))
        .load(conn)?;
    let ids: Vec<i64> = events.iter().map(|e| e.1).collect();
    let now: HashMap<i64, (String, Option<i64>, Option<i64>)> = tickets::table
        .filter(tickets::id.eq_any(&ids))
        .select((tickets::id, tickets::number, tickets::queue_id, tickets::assignee_id))
        .load::<(i64, String, Option<i64>, Option<i64>)>(conn)?
        .into_iter()
        .map(|(id, number, queue, assignee)| (id, (number, queue, assignee)))
        .collect();
    Ok(events
        .into_iter()
        .map(|(id, ticket_id, kind, data, at)| {
            let (number, queue_id, assignee_id) = now.get(&ticket_id).cloned().unwrap_or_default();
            let mut concerned = Concerned { queues: vec![queue_id], assignees: vec![assignee_id] };
            match TicketEvent::parse(&kind, &data.0) {
                Ok(TicketEvent::QueueChanged(change)) => concerned.queues.push(change.from),
                Ok(TicketEvent::AssigneeChanged(change)) => concerned.assignees.extend([change.from, change.to]),
                _ => {}
            }
            let data = json!({
                "ticket_id": ticket_id, "number": number, "kind": kind,
                "queue_id": queue_id, "assignee_id": assignee_id, "event_id": id,
            });
            Row { id, at: at.0, item: Item::Ticket { data, concerned } }
        })
        .collect())
}

/// How far a source was read, and the ids past the cursor already pushed (read again while the
/// cursor waits at a hole: pushed once).
struct Cursor {
    at: i64,
    pushed: BTreeSet<i64>,
}

impl Cursor {
    /// The rows not pushed yet; moves the cursor as far as the hole-grace rule allows.
    fn take(&mut self, rows: Vec<Row>, now: DateTime<Utc>) -> Vec<Item> {
        let seen: Vec<(i64, DateTime<Utc>)> = rows.iter().map(|r| (r.id, r.at)).collect();
        let fresh = rows.into_iter().filter(|r| self.pushed.insert(r.id)).map(|r| r.item).collect();
        self.at = advance(self.at, &seen, now);
        let at = self.at;
        self.pushed.retain(|id| *id > at);
        fresh
    }
}

/// The feed of this replica.
pub struct Feed {
    sender: broadcast::Sender<Arc<Item>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed { sender: broadcast::channel(CAPACITY).0 }
    }
}

impl Feed {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Item>> {
        self.sender.subscribe()
    }

    /// Streams connected to this replica.
    pub fn streams(&self) -> usize {
        self.sender.receiver_count()
    }

    fn push(&self, item: Item) {
        // No stream connected is not an error.
        let _ = self.sender.send(Arc::new(item));
    }
}

/// The viewers of each ticket at the previous poll.
type Seen = HashMap<i64, Vec<ViewerView>>;

async fn poll_viewers(db: &Db, feed: &Feed, before: &mut Seen) -> Result<(), AppError> {
    let now = Utc::now();
    let rows = db.read(move |c| viewers::all(c, now)).await?;
    let mut current: Seen = HashMap::new();
    for (ticket_id, viewer) in rows {
        current.entry(ticket_id).or_default().push(viewer);
    }
    let mut changed: Vec<i64> = current.keys().filter(|t| before.get(t) != current.get(t)).copied().collect();
    changed.extend(before.keys().filter(|t| !current.contains_key(t)));
    if !changed.is_empty() {
        let ids = changed.clone();
        let owners: HashMap<i64, (Option<i64>, Option<i64>)> = db
            .read(move |c| {
                Ok(tickets::table
                    .filter(tickets::id.eq_any(&ids))
                    .select((tickets::id, tickets::queue_id, tickets::assignee_id))
                    .load::<(i64, Option<i64>, Option<i64>)>(c)?)
            })
            .await?
            .into_iter()
            .map(|(id, queue, assignee)| (id, (queue, assignee)))
            .collect();
        for ticket_id in changed {
            let (queue, assignee) = owners.get(&ticket_id).copied().unwrap_or_default();
            let concerned = Concerned { queues: vec![queue], assignees: vec![assignee] };
            let viewers = current.get(&ticket_id).cloned().unwrap_or_default();
            feed.push(Item::Viewers { ticket_id, viewers, concerned });
        }
    }
    *before = current;
    Ok(())
}

/// The feed loop of one replica: wakes on this process's commits, and every `interval` for the
/// other replicas' and for viewers who expire.
pub async fn run(db: Db, feed: Arc<Feed>, interval: Duration) {
    let mut cursors: Vec<Cursor> = Vec::new();
    for source in SOURCES {
        let at = loop {
            match db.read(source.end).await {
                Ok(at) => break at,
                Err(e) => {
                    tracing::warn!(error = %e, source = source.name, "workspace feed cannot start; retrying");
                    tokio::time::sleep(interval).await;
                }
            }
        };
        cursors.push(Cursor { at, pushed: BTreeSet::new() });
    }
    let mut seen = Seen::new();
    let mut commits = db.commits();
    loop {
        let mut full = false;
        for (source, cursor) in SOURCES.iter().zip(cursors.iter_mut()) {
            let (read, after) = (source.read, cursor.at);
            match db.read(move |c| read(c, after, BATCH)).await {
                Ok(rows) => {
                    full |= rows.len() as i64 >= BATCH;
                    for item in cursor.take(rows, Utc::now()) {
                        feed.push(item);
                    }
                }
                Err(e) => tracing::debug!(error = %e, source = source.name, "workspace feed read failed"),
            }
        }
        if let Err(e) = poll_viewers(&db, &feed, &mut seen).await {
            tracing::debug!(error = %e, "workspace viewers read failed");
        }
        if full {
            continue;
        }
        crate::db::next_commit(&mut commits, interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, at: DateTime<Utc>) -> Row {
        Row { id, at, item: Item::Personal { agent_id: 1, event: "x", data: json!(id) } }
    }

    fn ids(items: &[Item]) -> Vec<i64> {
        items
            .iter()
            .map(|i| match i {
                Item::Personal { data, .. } => data.as_i64().unwrap(),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn rows_past_a_recent_hole_are_pushed_once_and_the_late_one_too() {
        let now: DateTime<Utc> = "2026-12-06T12:00:10Z".parse().unwrap();
        let recent: DateTime<Utc> = "2026-12-06T12:00:09Z".parse().unwrap();
        let mut cursor = Cursor { at: 10, pushed: BTreeSet::new() };
        // 12 is not committed yet: the cursor waits at 11, 13 is pushed now.
        assert_eq!(ids(&cursor.take(vec![row(11, recent), row(13, recent)], now)), [11, 13]);
        assert_eq!(cursor.at, 11);
        // Read again from 11: 12 committed late, 13 is not pushed twice.
        assert_eq!(ids(&cursor.take(vec![row(12, recent), row(13, recent)], now)), [12]);
        assert_eq!(cursor.at, 13);
        assert!(cursor.pushed.is_empty());
    }

    #[test]
    fn frames_go_to_who_may_see_them() {
        let agent = Principal { agent_id: 7, role: crate::domain::Role::Agent };
        let item = Item::Ticket {
            data: json!({"ticket_id": 1}),
            concerned: Concerned { queues: vec![Some(2)], assignees: vec![None] },
        };
        assert_eq!(item.frame_for(&agent, &[2]).unwrap(), "event: ticket\ndata: {\"ticket_id\":1}\n\n");
        assert!(item.frame_for(&agent, &[3]).is_none());
        let personal = Item::Personal { agent_id: 8, event: "notification", data: json!({}) };
        assert!(personal.frame_for(&agent, &[2]).is_none());
    }
}
