//! The other departments of the División de Gestión Usuaria: what Atención Usuaria escalates to
//! them, and their answers.

pub mod escalations;
pub mod opportunities;
