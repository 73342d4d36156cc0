//! Phone channel: call events from the PBX become call records, tickets for answered calls,
//! callback tasks for missed ones, and the contact-center facts the live KPIs consume.

pub mod calls;
pub mod inbound;
