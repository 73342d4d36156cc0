//! The reactions to ticket changes, in the order they run (see [`crate::tickets::reactions`]),
//! and the followers of the committed log (see [`crate::tickets::followers`]).

use std::sync::Arc;

use crate::config::EmailSettings;
use crate::tickets::followers::Followers;
use crate::tickets::reactions::{self, Reaction};

/// Registers them; [`crate::startup::open_database`] does, before anything can change a ticket.
pub fn install() {
    reactions::install(|| -> Vec<Box<dyn Reaction>> {
        vec![
            Box::new(crate::channels::email::outbox::ReplyMail),
            Box::new(crate::sla::engine::SlaClocks),
            Box::new(crate::routing::rules::RoutingRules),
            Box::new(crate::routing::assign::Assignment),
            Box::new(crate::departments::sla::DepartmentClocks),
        ]
    });
}

/// What follows the committed log, in the order each event reaches them: what a request need not
/// wait for and must happen once.
pub fn followers(email: &EmailSettings) -> Followers {
    Arc::new(vec![
        Box::new(crate::notifications::follower::Notifications),
        Box::new(crate::channels::email::outbox::Acknowledgement { settings: email.clone() }),
        Box::new(crate::quality::csat::Survey),
        Box::new(crate::sla::notices::SlaNotice),
    ])
}
