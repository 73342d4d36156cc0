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
