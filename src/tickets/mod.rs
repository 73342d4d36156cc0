//! Tickets: the shapes of the API and the use cases that change tickets and log their events.

pub mod model;
pub mod store;

pub use model::*;
