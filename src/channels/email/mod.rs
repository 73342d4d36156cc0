//! The email channel: raw RFC 5322 intake (MTA pipe or provider hook), threading, loop safety and
//! replies through a durable outbox.

pub mod compose;
pub mod imap;
pub mod intake;
pub mod outbox;
pub mod parse;
