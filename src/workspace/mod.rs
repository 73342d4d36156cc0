//! The agents' workspace: its screens at `/app` (`page`), the counts of its lists, who is looking
//! at which ticket, and the live feed each signed-in agent's stream reads from.

pub mod feed;
pub mod viewers;
pub mod views;
