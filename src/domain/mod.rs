//! Pure types and rules of the helpdesk: no IO here, everything unit-tested.

pub mod assignment;
pub mod calendar;
pub mod call;
pub mod canned;
pub mod department_summary;
pub mod event;
pub mod kpi;
pub mod live;
pub mod media;
pub mod notification;
pub mod opportunity;
pub mod phone;
pub mod quality;
pub mod routing;
pub mod rut;
pub mod search;
pub mod segment;
pub mod signin;
pub mod sla;
pub mod text;
pub mod ticket;
pub mod trends;
pub mod user;
pub mod workspace;

pub use event::TicketEvent;
pub use rut::Rut;
pub use ticket::{
    AuthorType, Channel, EscalationMode, EscalationStatus, EventKind, Priority, Segment, SenderStatus, Status,
    TicketKind, TicketNumber, UnknownValue, Visibility,
};
pub use user::{Actor, Permission, Principal, Role};
