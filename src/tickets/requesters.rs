//! Requesters as tickets meet them: found by what identifies them, or created.

use diesel::prelude::*;

use super::model::*;
use crate::db::models::*;
use crate::db::schema::requesters;
use crate::db::types::UtcTime;
use crate::db::{backend, DbConnection};
use crate::domain::segment;
use crate::error::AppError;

/// Finds the requester by id, email, RUT or phone (in that order) or creates one. Known
/// requesters keep their data; empty fields are filled from the new contact.
pub fn resolve_requester(
    conn: &mut DbConnection,
    id: Option<i64>,
    data: &RequesterData,
) -> Result<RequesterRow, AppError> {
    if let Some(id) = id {
        return requesters::table
            .find(id)
            .select(RequesterRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::field("requester.id", format!("no existe el solicitante {id}")));
    }
    if let Some(existing) = find_requester(conn, data)? {
        return fill_blanks(conn, existing, data);
    }
    // If a concurrent request created the same person first, the unique email/RUT skips this
    // insert, and that person is the one to use.
    match insert_requester_if_new(conn, data)? {
        Some(inserted) => Ok(inserted),
        None => match find_requester(conn, data)? {
            Some(existing) => fill_blanks(conn, existing, data),
            None => Err(AppError::Conflict("Ya existe un solicitante con esos datos.".into())),
        },
    }
}

fn find_requester(conn: &mut DbConnection, data: &RequesterData) -> Result<Option<RequesterRow>, AppError> {
    let by = |conn: &mut DbConnection, query: requesters::BoxedQuery<'_, crate::db::MultiBackend>| {
        query.select(RequesterRow::as_select()).order(requesters::id.asc()).first(conn).optional()
    };
    if let Some(email) = &data.email {
        if let Some(found) = by(conn, requesters::table.filter(requesters::email.eq(email)).into_boxed())? {
            return Ok(Some(found));
        }
    }
    if let Some(rut) = &data.rut {
        if let Some(found) = by(conn, requesters::table.filter(requesters::rut.eq(rut)).into_boxed())? {
            return Ok(Some(found));
        }
    }
    // A phone alone identifies someone only when nothing stronger was given.
    match (&data.phone, &data.email, &data.rut) {
        (Some(phone), None, None) => Ok(by(conn, requesters::table.filter(requesters::phone.eq(phone)).into_boxed())?),
        _ => Ok(None),
    }
}

fn fill_blanks(
    conn: &mut DbConnection,
    existing: RequesterRow,
    data: &RequesterData,
) -> Result<RequesterRow, AppError> {
    let needs = (existing.name.is_empty() && !data.name.is_empty())
        || (existing.phone.is_none() && data.phone.is_some())
        || (existing.organization.is_none() && data.organization.is_some());
    if !needs {
        return Ok(existing);
    }
    let name = if existing.name.is_empty() { data.name.clone() } else { existing.name.clone() };
    diesel::update(requesters::table.find(existing.id))
        .set((
            requesters::name.eq(&name),
            requesters::phone.eq(existing.phone.as_ref().or(data.phone.as_ref())),
            requesters::organization.eq(existing.organization.as_ref().or(data.organization.as_ref())),
            requesters::updated_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    Ok(requesters::table.find(existing.id).select(RequesterRow::as_select()).first(conn)?)
}

pub fn insert_requester(conn: &mut DbConnection, data: &RequesterData) -> Result<RequesterRow, AppError> {
    let (new, at) = new_requester(data);
    let id: i64 = diesel::insert_into(requesters::table).values(&new).returning(requesters::id).get_result(conn)?;
    Ok(requester_row(id, data, new.segment, at))
}

/// As [`insert_requester`], or `None` when someone with the same email or RUT exists.
fn insert_requester_if_new(conn: &mut DbConnection, data: &RequesterData) -> Result<Option<RequesterRow>, AppError> {
    let (new, at) = new_requester(data);
    let id = backend::insert_requester_if_new(conn, &new)?;
    Ok(id.map(|id| requester_row(id, data, new.segment, at)))
}

fn new_requester(data: &RequesterData) -> (NewRequester<'_>, UtcTime) {
    let at = UtcTime::now();
    // Not given: a public body's address or name makes a buyer, anyone else a citizen.
    let segment = data.segment.unwrap_or_else(|| segment::infer(data.email.as_deref(), data.organization.as_deref()));
    let new = NewRequester {
        name: &data.name,
        email: data.email.as_deref(),
        phone: data.phone.as_deref(),
        rut: data.rut.as_deref(),
        segment: segment.as_str(),
        organization: data.organization.as_deref(),
        created_at: at,
        updated_at: at,
    };
    (new, at)
}

fn requester_row(id: i64, data: &RequesterData, segment: &str, at: UtcTime) -> RequesterRow {
    RequesterRow {
        id,
        name: data.name.clone(),
        email: data.email.clone(),
        phone: data.phone.clone(),
        rut: data.rut.clone(),
        segment: segment.to_owned(),
        organization: data.organization.clone(),
        created_at: at,
        updated_at: at,
    }
}

pub fn requester_view(row: RequesterRow) -> Result<RequesterView, AppError> {
    Ok(RequesterView {
        id: row.id,
        segment: parse(&row.segment, "segment")?,
        name: row.name,
        email: row.email,
        phone: row.phone,
        rut: row.rut,
        organization: row.organization,
        created_at: row.created_at.0,
        updated_at: row.updated_at.0,
    })
}
