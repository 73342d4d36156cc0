//! The reactions to ticket changes, in the order they run (see [`crate::tickets::reactions`]).

use crate::tickets::reactions::{self, Reaction};

/// Registers them; [`crate::startup::open_database`] does, before anything can change a ticket.
pub fn install() {
    reactions::install(|| -> Vec<Box<dyn Reaction>> {
        vec![
            Box::new(crate::channels::email::outbox::ReplyMail),
            Box::new(crate::quality::csat::Survey),
            Box::new(crate::sla::engine::SlaClocks),
            Box::new(crate::routing::rules::RoutingRules),
            Box::new(crate::routing::assign::Assignment),
            Box::new(crate::departments::sla::DepartmentClocks),
        ]
    });
}
