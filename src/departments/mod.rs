//! The other departments of the División de Gestión Usuaria: what Atención Usuaria escalates to
//! them, and their answers.

pub mod escalations;
pub mod opportunities;

use diesel::prelude::*;

use crate::auth::Principal;
use crate::db::schema::agents;
use crate::db::DbConnection;
use crate::domain::Role;
use crate::error::AppError;

/// The department of a caller with the `department` role (`None` for everyone else): what such a
/// caller may see is limited to it.
pub fn own_department(conn: &mut DbConnection, who: &Principal) -> Result<Option<i64>, AppError> {
    match who.role {
        Role::Department => Ok(agents::table.find(who.agent_id).select(agents::department_id).first(conn)?),
        _ => Ok(None),
    }
}
