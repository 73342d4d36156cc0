//! Business calendars and their holidays, as stored; the arithmetic is in
//! [`crate::domain::calendar`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{calendars, holidays};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::DbConnection;
use crate::domain::calendar::{BusinessCalendar, Window};
use crate::error::AppError;
use crate::reference::{self, Cache, Kind};
use crate::tickets::{line, Errors};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// IANA time zone, e.g. `America/Santiago`.
    pub time_zone: String,
    /// Seven lists of opening windows in local time, Monday first.
    pub week: Vec<Vec<Window>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarInput {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub time_zone: Option<String>,
    /// Seven lists (Monday first) of `{"start": "09:00", "end": "18:00"}`; `"24:00"` ends a day.
    pub week: Option<Vec<Vec<Window>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HolidayFilter {
    /// Only this year's holidays.
    pub year: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineRequest {
    pub start: DateTime<Utc>,
    /// Business minutes to add (0 to 5,256,000 — ten years).
    pub minutes: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadlineResponse {
    pub deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessMinutesRequest {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BusinessMinutesResponse {
    pub minutes: i64,
}

type Row = (i64, String, String, String, JsonValue, UtcTime, UtcTime);

fn view(row: Row) -> Result<CalendarView, AppError> {
    let (id, slug, name, time_zone, week, created_at, updated_at) = row;
    let week = serde_json::from_value(week.0).map_err(|e| AppError::Internal(e.into()))?;
    Ok(CalendarView { id, slug, name, time_zone, week, created_at: created_at.0, updated_at: updated_at.0 })
}

fn select() -> (
    calendars::id,
    calendars::slug,
    calendars::name,
    calendars::time_zone,
    calendars::week,
    calendars::created_at,
    calendars::updated_at,
) {
    (
        calendars::id,
        calendars::slug,
        calendars::name,
        calendars::time_zone,
        calendars::week,
        calendars::created_at,
        calendars::updated_at,
    )
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<CalendarView, AppError> {
    let row: Row = calendars::table
        .find(id)
        .select(select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("el calendario"))?;
    view(row)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<CalendarView>, AppError> {
    calendars::table.order(calendars::id).select(select()).load::<Row>(conn)?.into_iter().map(view).collect()
}

fn parse_tz(errors: &mut Errors, name: &str) -> Option<Tz> {
    let tz = name.parse::<Tz>().ok();
    if tz.is_none() {
        errors.add(
            "time_zone",
            format!("zona horaria desconocida «{name}» (use un nombre IANA, p. ej. America/Santiago)"),
        );
    }
    tz
}

fn check_week(errors: &mut Errors, tz: Option<Tz>, week: &[Vec<Window>]) -> Option<[Vec<Window>; 7]> {
    let Ok(week): Result<[Vec<Window>; 7], _> = week.to_vec().try_into() else {
        errors.add("week", "debe tener siete días, comenzando el lunes");
        return None;
    };
    if let Err(e) = BusinessCalendar::new(tz.unwrap_or(Tz::UTC), week.clone(), []) {
        errors.add("week", e.to_string());
        return None;
    }
    Some(week)
}

pub fn save(conn: &mut DbConnection, id: Option<i64>, input: CalendarInput) -> Result<CalendarView, AppError> {
    let current = id.map(|id| get(conn, id)).transpose()?;
    let mut errors = Errors::default();
    let name = input.name.as_deref().map(|n| line(&mut errors, "name", n, 120));
    let slug = input.slug.clone();
    if let Some(slug) = &slug {
        let valid = !slug.is_empty() && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            errors.add("slug", "use minúsculas sin tildes, dígitos y guiones");
        }
    }
    let tz_name = input.time_zone.clone().or_else(|| current.as_ref().map(|c| c.time_zone.clone()));
    let tz = parse_tz(&mut errors, tz_name.as_deref().unwrap_or("America/Santiago"));
    let week = match (&input.week, &current) {
        (Some(week), _) => check_week(&mut errors, tz, week),
        (None, Some(c)) => c.week.clone().try_into().ok(),
        (None, None) => {
            errors.add("week", "es obligatorio");
            None
        }
    };
    if current.is_none() {
        if slug.is_none() {
            errors.add("slug", "es obligatorio");
        }
        if name.is_none() {
            errors.add("name", "es obligatorio");
        }
    }
    errors.finish()?;
    let week = JsonValue(serde_json::to_value(week.expect("validated")).map_err(anyhow::Error::from)?);
    let tz_name = tz.expect("validated").name().to_owned();
    let now = UtcTime::now();
    let id = match current {
        None => diesel::insert_into(calendars::table)
            .values((
                calendars::slug.eq(slug.unwrap_or_default()),
                calendars::name.eq(name.unwrap_or_default()),
                calendars::time_zone.eq(tz_name),
                calendars::week.eq(week),
                calendars::created_at.eq(now),
                calendars::updated_at.eq(now),
            ))
            .returning(calendars::id)
            .get_result(conn)?,
        Some(c) => {
            diesel::update(calendars::table.find(c.id))
                .set((
                    calendars::slug.eq(slug.unwrap_or(c.slug)),
                    calendars::name.eq(name.unwrap_or(c.name)),
                    calendars::time_zone.eq(tz_name),
                    calendars::week.eq(week),
                    calendars::updated_at.eq(now),
                ))
                .execute(conn)?;
            c.id
        }
    };
    reference::changed(conn, Kind::Calendars)?;
    get(conn, id)
}

pub fn list_holidays(conn: &mut DbConnection, id: i64, filter: &HolidayFilter) -> Result<Vec<Holiday>, AppError> {
    get(conn, id)?;
    let mut query = holidays::table.filter(holidays::calendar_id.eq(id)).into_boxed();
    if let Some(year) = filter.year {
        if !(1900..=2999).contains(&year) {
            return Err(AppError::field("year", "debe estar entre 1900 y 2999"));
        }
        let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid");
        let last = NaiveDate::from_ymd_opt(year, 12, 31).expect("valid");
        query = query.filter(holidays::day.between(first, last));
    }
    let rows: Vec<(NaiveDate, String)> =
        query.order(holidays::day).select((holidays::day, holidays::name)).load(conn)?;
    Ok(rows.into_iter().map(|(date, name)| Holiday { date, name }).collect())
}

/// Adds or renames a holiday (one-off and election holidays happen).
pub fn put_holiday(conn: &mut DbConnection, id: i64, holiday: Holiday) -> Result<Holiday, AppError> {
    get(conn, id)?;
    let mut errors = Errors::default();
    let name = line(&mut errors, "name", &holiday.name, 120);
    errors.finish()?;
    let key = holidays::table.find((id, holiday.date));
    if diesel::update(key).set(holidays::name.eq(&name)).execute(conn)? == 0 {
        diesel::insert_into(holidays::table)
            .values((holidays::calendar_id.eq(id), holidays::day.eq(holiday.date), holidays::name.eq(&name)))
            .execute(conn)?;
    }
    touch(conn, id)?;
    Ok(Holiday { date: holiday.date, name })
}

pub fn delete_holiday(conn: &mut DbConnection, id: i64, date: NaiveDate) -> Result<(), AppError> {
    if diesel::delete(holidays::table.find((id, date))).execute(conn)? == 0 {
        return Err(AppError::NotFound("ese feriado en el calendario"));
    }
    touch(conn, id)
}

fn touch(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    diesel::update(calendars::table.find(id)).set(calendars::updated_at.eq(UtcTime::now())).execute(conn)?;
    reference::changed(conn, Kind::Calendars)
}

/// Every calendar with all its holidays, as this replica caches them ([`crate::reference`]).
#[derive(Default)]
pub struct Calendars {
    by_id: HashMap<i64, Arc<BusinessCalendar>>,
    by_slug: HashMap<String, i64>,
}

static CACHE: Cache<Calendars> = Cache::new(Kind::Calendars);

fn load_all(conn: &mut DbConnection) -> Result<Calendars, AppError> {
    let mut days: HashMap<i64, BTreeSet<NaiveDate>> = HashMap::new();
    for (id, day) in holidays::table.select((holidays::calendar_id, holidays::day)).load::<(i64, NaiveDate)>(conn)? {
        days.entry(id).or_default().insert(day);
    }
    let mut all = Calendars::default();
    for calendar in list(conn)? {
        let id = calendar.id;
        let tz: Tz =
            calendar.time_zone.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("bad tz in calendar {id}")))?;
        let week: [Vec<Window>; 7] =
            calendar.week.try_into().map_err(|_| AppError::Internal(anyhow::anyhow!("calendar {id} week")))?;
        let business = BusinessCalendar::new(tz, week, days.remove(&id).unwrap_or_default())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("calendar {id}: {e}")))?;
        all.by_id.insert(id, Arc::new(business));
        all.by_slug.insert(calendar.slug, id);
    }
    Ok(all)
}

/// Calendar `id` with its holidays.
pub fn business(conn: &mut DbConnection, id: i64) -> Result<Arc<BusinessCalendar>, AppError> {
    CACHE.get(conn, load_all)?.by_id.get(&id).cloned().ok_or(AppError::NotFound("el calendario"))
}

/// The id of the calendar named `slug`.
pub fn id_of(conn: &mut DbConnection, slug: &str) -> Result<Option<i64>, AppError> {
    Ok(CACHE.get(conn, load_all)?.by_slug.get(slug).copied())
}

pub const MAX_MINUTES: i64 = 10 * 365 * 24 * 60;

pub fn deadline(conn: &mut DbConnection, id: i64, req: DeadlineRequest) -> Result<DeadlineResponse, AppError> {
    if !(0..=MAX_MINUTES).contains(&req.minutes) {
        return Err(AppError::field("minutes", format!("debe estar entre 0 y {MAX_MINUTES}")));
    }
    let calendar = business(conn, id)?;
    let deadline = calendar.add_business_minutes(req.start, req.minutes).ok_or_else(|| {
        AppError::field("minutes", "el calendario no tiene horario de atención en los próximos 20 años")
    })?;
    Ok(DeadlineResponse { deadline })
}

pub fn business_minutes(
    conn: &mut DbConnection,
    id: i64,
    req: BusinessMinutesRequest,
) -> Result<BusinessMinutesResponse, AppError> {
    if req.to < req.from {
        return Err(AppError::field("to", "debe ser posterior a «from»"));
    }
    if (req.to - req.from).num_days() > 3660 {
        return Err(AppError::field("to", "el intervalo no puede superar diez años"));
    }
    let calendar = business(conn, id)?;
    Ok(BusinessMinutesResponse { minutes: calendar.business_minutes_between(req.from, req.to) })
}
