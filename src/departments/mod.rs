//! The other departments of the División de Gestión Usuaria: what Atención Usuaria escalates to
//! them, and their answers.

pub mod delivery;
pub mod escalations;
pub mod notices;
pub mod opportunities;
pub mod sla;
pub mod stream;
pub mod summary;
pub mod webhooks;

use diesel::prelude::*;

use crate::db::schema::{agents, departments};
use crate::db::DbConnection;
use crate::domain::Principal;
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

/// Admins and supervisors see every department; a department member only their own.
pub fn may_see(conn: &mut DbConnection, who: &Principal, department: i64) -> Result<bool, AppError> {
    Ok(match who.role {
        Role::Admin | Role::Supervisor => true,
        Role::Department => own_department(conn, who)? == Some(department),
        _ => false,
    })
}

/// Fails with 404 unless `department` exists and `who` may see it (its existence is not revealed
/// to anyone else).
pub fn visible(conn: &mut DbConnection, who: &Principal, department: i64) -> Result<(), AppError> {
    let exists: i64 = departments::table.filter(departments::id.eq(department)).count().get_result(conn)?;
    if exists == 0 || !may_see(conn, who, department)? {
        return Err(AppError::NotFound("el departamento"));
    }
    Ok(())
}
