//! Ways contacts reach the department. Each channel turns its input into the same ticket use
//! cases in [`crate::tickets::store`].

pub mod email;
pub mod phone;
