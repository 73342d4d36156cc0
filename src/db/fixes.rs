//! Data fixes that need the service's own Rust code, which a SQL migration cannot run: each runs
//! once, after the SQL migrations and under the same lock, and is recorded in `data_fixes`.

use diesel::prelude::*;

use super::schema::{blocked_numbers, calls, data_fixes, requesters};
use super::types::UtcTime;
use super::DbConnection;
use crate::domain::phone;

type Fix = fn(&mut DbConnection) -> QueryResult<()>;

/// In the order they run; a name never changes once released.
const FIXES: [(&str, Fix); 1] = [("phone_forms", phone_forms)];

/// Runs the fixes not yet recorded, each in its own transaction with its record. Returns their names.
pub fn run(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let mut applied = Vec::new();
    for (name, fix) in FIXES {
        let ran = conn.transaction(|c| {
            let done = data_fixes::table.find(name).count().get_result::<i64>(c)? > 0;
            if !done {
                fix(c)?;
                diesel::insert_into(data_fixes::table)
                    .values((data_fixes::name.eq(name), data_fixes::applied_at.eq(UtcTime::now())))
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(!done)
        })?;
        if ran {
            applied.push(name.to_owned());
        }
    }
    Ok(applied)
}

/// The stored form of a number written in an older form, if it differs.
fn rewritten(stored: &str) -> Option<String> {
    phone::normalize(stored).filter(|n| n != stored)
}

/// Numbers stored before there was one normalisation (`domain/phone.rs`) are rewritten to the
/// stored form, so searches and blocks match them. Text that is not a number is left as it was.
fn phone_forms(c: &mut DbConnection) -> QueryResult<()> {
    let rows: Vec<(i64, String)> = requesters::table
        .filter(requesters::phone.is_not_null())
        .select((requesters::id, requesters::phone.assume_not_null()))
        .load(c)?;
    for (id, new) in rows.iter().filter_map(|(id, p)| Some((*id, rewritten(p)?))) {
        diesel::update(requesters::table.find(id)).set(requesters::phone.eq(new)).execute(c)?;
    }
    let rows: Vec<(i64, Option<String>, Option<String>)> = calls::table
        .filter(calls::from_number.is_not_null().or(calls::to_number.is_not_null()))
        .select((calls::id, calls::from_number, calls::to_number))
        .load(c)?;
    for (id, from, to) in rows {
        let (new_from, new_to) = (from.as_deref().and_then(rewritten), to.as_deref().and_then(rewritten));
        if new_from.is_some() || new_to.is_some() {
            diesel::update(calls::table.find(id))
                .set((calls::from_number.eq(new_from.or(from)), calls::to_number.eq(new_to.or(to))))
                .execute(c)?;
        }
    }
    // Blocked numbers are unique: a number blocked in two forms keeps one entry.
    let rows: Vec<(i64, String)> = blocked_numbers::table
        .select((blocked_numbers::id, blocked_numbers::number))
        .order(blocked_numbers::id)
        .load(c)?;
    for (id, new) in rows.iter().filter_map(|(id, n)| Some((*id, rewritten(n)?))) {
        let taken = blocked_numbers::table.filter(blocked_numbers::number.eq(&new)).count().get_result::<i64>(c)? > 0;
        if taken {
            diesel::delete(blocked_numbers::table.find(id)).execute(c)?;
        } else {
            diesel::update(blocked_numbers::table.find(id)).set(blocked_numbers::number.eq(new)).execute(c)?;
        }
    }
    Ok(())
}
