//! Rows as stored. Enumerations are kept as their text spelling here and parsed at the edge.

use diesel::prelude::*;

use super::schema::*;
use super::types::{JsonValue, UtcTime};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
pub struct TicketRow {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub channel: String,
    pub category_id: Option<i64>,
    pub queue_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub requester_id: i64,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
    pub solved_at: Option<UtcTime>,
    pub closed_at: Option<UtcTime>,
    pub kind: String,
    pub next_due_at: Option<UtcTime>,
    pub sla_state: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tickets)]
pub struct NewTicket<'a> {
    pub number: &'a str,
    pub subject: &'a str,
    pub status: &'a str,
    pub priority: &'a str,
    pub channel: &'a str,
    pub category_id: Option<i64>,
    pub queue_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub requester_id: i64,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
    pub kind: &'a str,
    pub next_due_at: Option<UtcTime>,
    pub sla_state: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = requesters)]
pub struct RequesterRow {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub rut: Option<String>,
    pub segment: String,
    pub organization: Option<String>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = requesters)]
pub struct NewRequester<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub rut: Option<&'a str>,
    pub segment: &'a str,
    pub organization: Option<&'a str>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    pub id: i64,
    pub ticket_id: i64,
    pub author_type: String,
    pub author_agent_id: Option<i64>,
    pub author_requester_id: Option<i64>,
    pub visibility: String,
    pub channel: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub created_at: UtcTime,
    pub sender_email: Option<String>,
    pub sender_name: Option<String>,
    pub sender_status: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage<'a> {
    pub ticket_id: i64,
    pub author_type: &'a str,
    pub author_agent_id: Option<i64>,
    pub author_requester_id: Option<i64>,
    pub visibility: &'a str,
    pub channel: &'a str,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub created_at: UtcTime,
    pub sender_email: Option<&'a str>,
    pub sender_name: Option<&'a str>,
    pub sender_status: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ticket_events)]
pub struct EventRow {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: String,
    pub actor_type: String,
    pub actor_id: Option<i64>,
    pub data: JsonValue,
    pub created_at: UtcTime,
}

impl EventRow {
    /// The typed event the row stores.
    pub fn event(&self) -> Result<crate::domain::TicketEvent, serde_json::Error> {
        crate::domain::TicketEvent::parse(&self.kind, &self.data.0)
    }
}

/// A pending SLA deadline, for the scanner to fire.
#[derive(Debug, Insertable)]
#[diesel(table_name = sla_deadlines)]
pub struct NewDeadline<'a> {
    pub ticket_id: i64,
    pub metric: &'a str,
    pub instance: i32,
    pub kind: &'a str,
    pub due_at: UtcTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = ticket_events)]
pub struct NewEvent<'a> {
    pub ticket_id: i64,
    pub kind: &'a str,
    pub actor_type: &'a str,
    pub actor_id: Option<i64>,
    pub data: JsonValue,
    pub created_at: UtcTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agents)]
pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub role: String,
    pub department_id: Option<i64>,
    pub active: bool,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
    pub extension: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = queues)]
pub struct QueueRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub department_id: Option<i64>,
    pub active: bool,
    pub created_at: UtcTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = categories)]
pub struct CategoryRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub active: bool,
    pub created_at: UtcTime,
    pub department_id: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = departments)]
pub struct DepartmentRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    pub created_at: UtcTime,
}
