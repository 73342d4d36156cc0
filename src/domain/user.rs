//! Who may do what: the roles of API principals.

use super::ticket::string_enum;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

use super::ticket::UnknownValue;

string_enum!(
    /// `department` staff see only what is escalated to them; `integration` tokens are for
    /// channels and systems (PBX, MTA, web portals), not people.
    Role { Admin => "admin", Supervisor => "supervisor", Agent => "agent", Department => "department", Integration => "integration" }
);

/// Coarse permissions checked by every endpoint; one table instead of checks spread in handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Create tickets (agents and channel integrations).
    CreateTickets,
    /// Read, update and reply to tickets.
    WorkTickets,
    /// Read reference data: queues, categories, departments.
    ReadReference,
    /// Create or change queues, categories and departments.
    ManageReference,
    /// Read and change requesters.
    ManageRequesters,
    /// Read the list of agents.
    ReadAgents,
    /// Create or change agents and their tokens.
    ManageAgents,
    /// Watch the service: live KPIs, wallboard and reports.
    MonitorService,
}

impl Role {
    pub fn can(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            CreateTickets => matches!(self, Admin | Supervisor | Agent | Integration),
            WorkTickets | ManageRequesters => matches!(self, Admin | Supervisor | Agent),
            ReadReference => matches!(self, Admin | Supervisor | Agent | Department),
            ManageReference | ReadAgents | MonitorService => matches!(self, Admin | Supervisor),
            ManageAgents => self == Admin,
        }
    }
}

/// Who is calling: an agent, supervisor, admin, department member or integration.
#[derive(Debug, Clone)]
pub struct Principal {
    pub agent_id: i64,
    pub role: Role,
}

impl Principal {
    pub fn require(&self, permission: Permission) -> Result<(), Forbidden> {
        if self.role.can(permission) {
            Ok(())
        } else {
            Err(Forbidden)
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::Agent(self.agent_id)
    }
}

/// Who made a change, as recorded in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Agent(i64),
    Requester(i64),
    System,
}

impl Actor {
    pub fn kind(self) -> &'static str {
        match self {
            Actor::Agent(_) => "agent",
            Actor::Requester(_) => "requester",
            Actor::System => "system",
        }
    }

    pub fn id(self) -> Option<i64> {
        match self {
            Actor::Agent(id) | Actor::Requester(id) => Some(id),
            Actor::System => None,
        }
    }
}

/// A caller lacked the permission an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden;

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn permission_matrix() {
        let all = [
            CreateTickets,
            WorkTickets,
            ReadReference,
            ManageReference,
            ManageRequesters,
            ReadAgents,
            ManageAgents,
            MonitorService,
        ];
        let expect = |role: Role| -> Vec<bool> { all.iter().map(|p| role.can(*p)).collect() };
        assert_eq!(expect(Role::Admin), [true; 8]);
        assert_eq!(expect(Role::Supervisor), [true, true, true, true, true, true, false, true]);
        assert_eq!(expect(Role::Agent), [true, true, true, false, true, false, false, false]);
        assert_eq!(expect(Role::Department), [false, false, true, false, false, false, false, false]);
        assert_eq!(expect(Role::Integration), [true, false, false, false, false, false, false, false]);
    }

    #[test]
    fn roles_parse() {
        assert_eq!("supervisor".parse::<Role>(), Ok(Role::Supervisor));
        assert!("root".parse::<Role>().is_err());
    }
}
