//! Tickets: the shapes of the API and the use cases that change tickets and log their events.

pub mod followers;
pub mod log;
pub mod model;
pub mod reactions;
pub mod requesters;
pub mod store;

pub use model::*;
