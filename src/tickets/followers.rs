//! What follows the committed ticket event log and must happen once: the agents' notifications,
//! the acknowledgement mail, the satisfaction survey and the SLA notices
//! (`crate::reactions::followers` lists them). Unlike the reactions ([`super::reactions`]), which
//! run inside the transaction that changes a ticket, these run after it commits, so a request does not wait for them; unlike the
//! live KPIs and the workspace's feed, which every replica keeps for itself, what they write is
//! written once for all replicas.
//!
//! One position in the log (the `log_follower` row) serves them all. A step claims it for its
//! transaction (with several replicas, one reads at a time and the others skip their turn),
//! reads the events after it once, hands each to every follower, and stores the new position in
//! the same transaction as what the followers wrote: each event is followed once, or, if the
//! step fails, not at all and again at the next step. The position waits at a hole in the ids
//! (a transaction that took its id earlier may still commit) for up to the projector's grace
//! (see [`advance`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;

use crate::db::schema::{log_follower, ticket_events};
use crate::db::types::UtcTime;
use crate::db::{backend, Db, DbConnection};
use crate::error::AppError;
use crate::kpi::projector::advance;
use crate::tickets::log::{self, Logged};

/// How many events one step reads.
pub const BATCH: i64 = 500;
/// How often other replicas' events are looked for (this process's commits wake it at once).
pub const POLL: Duration = Duration::from_secs(1);

/// One committed event, as the followers see it.
pub struct Followed {
    pub ticket_id: i64,
    /// Who did it (the row's actor id: an agent's or a requester's).
    pub actor_id: Option<i64>,
    pub logged: Logged,
}

/// A capability that follows the committed log.
pub trait Follower: Send + Sync {
    /// Follows one event, in the step's transaction; returns how many rows it wrote.
    fn follow(&self, conn: &mut DbConnection, event: &Followed) -> Result<usize, AppError>;
}

/// The followers, in the order each event reaches them.
pub type Followers = Arc<Vec<Box<dyn Follower>>>;

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    /// Events read (0 when another replica held the log, or nothing was new).
    pub events: usize,
    /// Rows the followers wrote.
    pub written: usize,
    /// The position after the step; `None` when another replica held the log.
    pub position: Option<i64>,
}

/// Reads the events after the stored position and hands them to `followers`; run in a write
/// transaction (`Db::write`) so what they write and the new position commit together.
pub fn step(conn: &mut DbConnection, followers: &[Box<dyn Follower>]) -> Result<Step, AppError> {
    let Some(position) = backend::claim_log_follower(conn)? else { return Ok(Step::default()) };
    let rows = log::rows_after(conn, position, BATCH)?;
    let times: Vec<_> = rows.iter().map(|r| (r.id, r.created_at.0)).collect();
    let next = advance(position, &times, Utc::now());
    let mut step = Step { events: 0, written: 0, position: Some(next) };
    for row in rows.iter().take_while(|r| r.id <= next) {
        step.events += 1;
        // A row that does not read as its kind was logged by `log::read`; nothing follows it.
        let Some(logged) = log::read(row) else { continue };
        let event = Followed { ticket_id: row.ticket_id, actor_id: row.actor_id, logged };
        for follower in followers {
            step.written += follower.follow(conn, &event)?;
        }
    }
    if next != position {
        diesel::update(log_follower::table.find(1))
            .set((log_follower::last_event_id.eq(next), log_follower::updated_at.eq(UtcTime::now())))
            .execute(conn)?;
    }
    Ok(step)
}

/// The stored position: every event up to it has been followed.
pub fn position(conn: &mut DbConnection) -> Result<i64, AppError> {
    Ok(log_follower::table.find(1).select(log_follower::last_event_id).first(conn)?)
}

/// Follows the log in the background: at once after this process commits, else every [`POLL`]
/// for the other replicas' events.
pub async fn run(db: Db, followers: Followers) {
    let mut commits = db.commits();
    let mut position: Option<i64> = None;
    loop {
        let newest: Result<Option<i64>, AppError> =
            db.read(|c| Ok(ticket_events::table.select(diesel::dsl::max(ticket_events::id)).first(c)?)).await;
        let behind = match (&newest, position) {
            (Ok(newest), Some(position)) => newest.unwrap_or(0) > position,
            _ => true,
        };
        if behind {
            let followers = followers.clone();
            match db.write(move |c| step(c, &followers)).await {
                Ok(step) if step.events as i64 >= BATCH => {
                    position = step.position;
                    continue;
                }
                Ok(step) => position = step.position.or(position),
                Err(e) => {
                    crate::metrics::log_followers_failed();
                    tracing::warn!(error = %e, "following the ticket event log failed; retried");
                }
            }
        }
        if let (Ok(newest), Some(position)) = (&newest, position) {
            crate::metrics::log_followers_behind(newest.unwrap_or(0) - position);
        }
        // This step's own commit is not news.
        commits.mark_unchanged();
        crate::db::next_commit(&mut commits, POLL).await;
    }
}
