//! What follows a change to a ticket inside the transaction that makes it: the SLA clocks, the
//! routing rules, assignment, the reply mail, the CSAT survey and the departments' clocks.
//!
//! Each capability registers its reaction once, when the database opens (`crate::reactions`
//! lists them in the order they run). The ticket use cases and the event log run them without
//! naming them, so none of those capabilities is a dependency of `tickets::store`: they may use
//! it, as the routing rules do to apply what they decide.

use std::sync::OnceLock;

use crate::db::models::TicketRow;
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::routing::Origin;
use crate::domain::{Actor, AuthorType, Channel, EventKind, Status, TicketEvent, Visibility};
use crate::error::AppError;
use crate::tickets::log::Logged;
use crate::tickets::model::OnReply;

/// One capability's reaction to ticket changes. Both hooks default to doing nothing.
pub trait Reaction: Send + Sync {
    /// Rows about to be appended to `ticket`'s log, by any writer of the log.
    fn appending(
        &self,
        _conn: &mut DbConnection,
        _ticket: i64,
        _events: &[(Actor, TicketEvent)],
        _at: UtcTime,
    ) -> Result<(), AppError> {
        Ok(())
    }

    /// The end of a use case on one ticket, over everything it did. Reactions registered
    /// earlier have run; `settled` carries what they did.
    fn settle(&self, _conn: &mut DbConnection, _change: &Change<'_>, _settled: &mut Settled) -> Result<(), AppError> {
        Ok(())
    }
}

/// A use case's change to one ticket, as its reactions see it.
pub struct Change<'a> {
    pub ticket_id: i64,
    pub actor: Actor,
    pub at: UtcTime,
    /// What the use case itself appended to the log, in order.
    pub events: &'a [Logged],
    pub cause: Cause<'a>,
}

/// Which use case made a [`Change`], with what it knows that the log does not say.
pub enum Cause<'a> {
    /// A new ticket and its first message.
    Created { body: &'a str, origin: &'a Origin, queue_id: i64, channel: Channel, assignee_id: Option<i64> },
    /// Fields of the ticket changed; `reason` as the request gave it.
    Updated { before: &'a TicketRow, reason: Option<&'a str> },
    /// A message was added. `side` is whose side it answers for (a CC's counts as the requester's).
    Message {
        before: &'a TicketRow,
        message_id: i64,
        author: AuthorType,
        side: AuthorType,
        visibility: Visibility,
        on_reply: OnReply,
    },
    /// Folded into another ticket.
    Merged,
}

/// What the reactions did, for the ones after them and for the use case.
#[derive(Debug, Default)]
pub struct Settled {
    /// A reaction changed the ticket after the use case wrote it (routed or assigned it), so
    /// what the use case knows of the ticket is stale.
    pub moved: bool,
}

impl Change<'_> {
    /// Whether the use case appended an event of `kind`.
    pub fn has(&self, kind: EventKind) -> bool {
        self.events.iter().any(|e| e.event.kind() == kind)
    }

    /// Whether the use case moved the ticket to `status`.
    pub fn moved_to(&self, status: Status) -> bool {
        self.events.iter().any(|e| e.event.moved_to() == Some(status))
    }

    /// An agent's public message: what the requester hears about and what may assign them.
    pub fn is_public_reply(&self) -> bool {
        matches!(self.cause, Cause::Message { author: AuthorType::Agent, visibility: Visibility::Public, .. })
    }
}

static REGISTERED: OnceLock<Vec<Box<dyn Reaction>>> = OnceLock::new();

/// Registers the reactions, in the order they run. Only the first call counts.
pub fn install(make: impl FnOnce() -> Vec<Box<dyn Reaction>>) {
    REGISTERED.get_or_init(make);
}

fn registered() -> Result<&'static [Box<dyn Reaction>], AppError> {
    // A change without its reactions would leave clocks and queues wrong: refuse it instead.
    REGISTERED
        .get()
        .map(Vec::as_slice)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("ticket reactions are not installed")))
}

/// Runs every reaction's [`Reaction::appending`].
pub fn appending(
    conn: &mut DbConnection,
    ticket: i64,
    events: &[(Actor, TicketEvent)],
    at: UtcTime,
) -> Result<(), AppError> {
    for reaction in registered()? {
        reaction.appending(conn, ticket, events, at)?;
    }
    Ok(())
}

/// Runs every reaction's [`Reaction::settle`] over `change`, in order.
pub fn settle(conn: &mut DbConnection, change: &Change<'_>) -> Result<Settled, AppError> {
    let mut settled = Settled::default();
    for reaction in registered()? {
        reaction.settle(conn, change, &mut settled)?;
    }
    Ok(settled)
}
