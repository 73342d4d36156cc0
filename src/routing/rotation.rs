//! Forced rotation ("rotación forzada"): at each period boundary a plan moves its agents to the
//! next queue of its list. Open work stays with its agent; each rotation is logged. The period is
//! claimed with a conditional update, so with several replicas each rotation happens once.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::db::schema::{queue_members, queues, rotation_log, rotation_plans};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::DbConnection;
use crate::domain::assignment::{self, Period, RotationPlan};
use crate::error::{AppError, FieldError};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationInput {
    pub name: String,
    /// Agent ids, in rotation order.
    pub agents: Vec<i64>,
    /// Queue slugs: agent i works queue (i + period) mod n.
    pub queues: Vec<String>,
    pub period: Period,
    /// Weekly plans: `monday` … `sunday`.
    pub weekday: Option<String>,
    /// Local time of the boundary, `HH:MM`.
    pub at: String,
    /// IANA time zone; defaults to `America/Santiago`.
    pub timezone: Option<String>,
    /// First boundary date (weekly plans start on the first `weekday` on or after it).
    pub start: NaiveDate,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Membership {
    pub agent_id: i64,
    pub queue: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RotationPreview {
    pub period_index: u32,
    pub starts_at: DateTime<Utc>,
    pub memberships: Vec<Membership>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RotationView {
    pub id: i64,
    pub name: String,
    pub agents: Vec<i64>,
    pub queues: Vec<String>,
    pub period: Period,
    pub weekday: String,
    pub at: String,
    pub timezone: String,
    pub start: NaiveDate,
    /// The last period applied (`null`: none yet).
    pub applied_index: Option<u32>,
    /// The next rotation: when, and who goes where.
    pub next: RotationPreview,
}

type PlanRow = (i64, String, JsonValue, JsonValue, String, String, String, String, String, i64);

fn plan_of(row: &PlanRow) -> Result<RotationPlan, AppError> {
    let bad = |what: &str| AppError::Internal(anyhow::anyhow!("rotation plan {} has an invalid {what}", row.0));
    Ok(RotationPlan {
        agents: serde_json::from_value(row.2 .0.clone()).map_err(|_| bad("agents"))?,
        queues: serde_json::from_value(row.3 .0.clone()).map_err(|_| bad("queues"))?,
        period: row.4.parse().map_err(|_| bad("period"))?,
        weekday: Weekday::from_str(&row.5).map_err(|_| bad("weekday"))?,
        at: NaiveTime::parse_from_str(&row.6, "%H:%M").map_err(|_| bad("time"))?,
        timezone: row.7.parse().map_err(|_| bad("time zone"))?,
        start: row.8.parse().map_err(|_| bad("start"))?,
    })
}

fn preview(plan: &RotationPlan, k: u32) -> RotationPreview {
    let memberships = plan.memberships(k).into_iter().map(|(agent_id, queue)| Membership { agent_id, queue }).collect();
    RotationPreview { period_index: k, starts_at: plan.boundary(k), memberships }
}

/// The first period that starts after `now`.
fn next_index(plan: &RotationPlan, now: DateTime<Utc>) -> u32 {
    plan.period_index(now).map_or(0, |k| k + 1)
}

fn view(row: PlanRow, now: DateTime<Utc>) -> Result<RotationView, AppError> {
    let plan = plan_of(&row)?;
    let next = next_index(&plan, now);
    Ok(RotationView {
        id: row.0,
        name: row.1,
        agents: plan.agents.clone(),
        queues: plan.queues.clone(),
        period: plan.period,
        weekday: row.5.to_lowercase(),
        at: row.6,
        timezone: row.7,
        start: plan.start,
        applied_index: u32::try_from(row.9).ok(),
        next: preview(&plan, next),
    })
}

fn rows(conn: &mut DbConnection) -> Result<Vec<PlanRow>, AppError> {
    Ok(rotation_plans::table
        .filter(rotation_plans::active.eq(true))
        .order(rotation_plans::id)
        .select((
            rotation_plans::id,
            rotation_plans::name,
            rotation_plans::agents,
            rotation_plans::queues,
            rotation_plans::period,
            rotation_plans::weekday,
            rotation_plans::at_time,
            rotation_plans::timezone,
            rotation_plans::start_date,
            rotation_plans::applied_index,
        ))
        .load(conn)?)
}

pub fn list(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<RotationView>, AppError> {
    rows(conn)?.into_iter().map(|r| view(r, now)).collect()
}

pub fn get(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<RotationView, AppError> {
    rows(conn)?.into_iter().find(|r| r.0 == id).map(|r| view(r, now)).transpose()?.ok_or(AppError::NotFound("el plan"))
}

/// The plan `input` describes, or every field error it has (as creating it would answer).
fn validate(conn: &mut DbConnection, input: &RotationInput) -> Result<RotationPlan, AppError> {
    let mut errors: Vec<FieldError> = match assignment::validate_plan(&input.agents, &input.queues) {
        Ok(()) => Vec::new(),
        Err(found) => found.into_iter().map(|(f, m)| FieldError::new(f, m)).collect(),
    };
    let name = input.name.trim().to_owned();
    if name.is_empty() || input.name.chars().count() > 120 {
        errors.push(FieldError::new("name", "debe tener entre 1 y 120 caracteres"));
    }
    let weekday = match (input.period, input.weekday.as_deref()) {
        (Period::Weekly, None) => {
            errors.push(FieldError::new("weekday", "es obligatorio en planes semanales"));
            Weekday::Mon
        }
        (_, Some(w)) => Weekday::from_str(w).unwrap_or_else(|_| {
            errors.push(FieldError::new("weekday", "valores aceptados: monday … sunday"));
            Weekday::Mon
        }),
        (Period::Daily, None) => Weekday::Mon,
    };
    let at = NaiveTime::parse_from_str(&input.at, "%H:%M").ok();
    if at.is_none() {
        errors.push(FieldError::new("at", "use HH:MM, p. ej. 09:00"));
    }
    let timezone = input.timezone.as_deref().unwrap_or("America/Santiago").parse::<Tz>().ok();
    if timezone.is_none() {
        errors.push(FieldError::new("timezone", "no es una zona horaria IANA"));
    }
    for agent in &input.agents {
        if crate::directory::get_agent(conn, *agent).map(|a| !a.active).unwrap_or(true) {
            errors.push(FieldError::new("agents", format!("no existe un agente activo con id {agent}")));
        }
    }
    for slug in &input.queues {
        let n: i64 =
            queues::table.filter(queues::slug.eq(slug)).filter(queues::active.eq(true)).count().get_result(conn)?;
        if n == 0 {
            errors.push(FieldError::new("queues", format!("no existe la cola «{slug}»")));
        }
    }
    match (at, timezone) {
        (Some(at), Some(timezone)) if errors.is_empty() => Ok(RotationPlan {
            agents: input.agents.clone(),
            queues: input.queues.clone(),
            period: input.period,
            weekday,
            at,
            timezone,
            start: input.start,
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

/// The next `count` rotations of an unsaved plan, from now: what saving it would do.
pub fn preview_draft(
    conn: &mut DbConnection,
    input: &RotationInput,
    now: DateTime<Utc>,
    count: u32,
) -> Result<Vec<RotationPreview>, AppError> {
    let plan = validate(conn, input)?;
    let next = next_index(&plan, now);
    Ok((next..next + count).map(|k| preview(&plan, k)).collect())
}

pub fn create(conn: &mut DbConnection, input: RotationInput, now: DateTime<Utc>) -> Result<RotationView, AppError> {
    let plan = validate(conn, &input)?;
    let name = input.name.trim().to_owned();
    let at = UtcTime::now();
    let id: i64 = diesel::insert_into(rotation_plans::table)
        .values((
            rotation_plans::name.eq(name),
            rotation_plans::agents.eq(JsonValue(json!(input.agents))),
            rotation_plans::queues.eq(JsonValue(json!(input.queues))),
            rotation_plans::period.eq(input.period.as_str()),
            rotation_plans::weekday.eq(plan.weekday.to_string()),
            rotation_plans::at_time.eq(&input.at),
            rotation_plans::timezone.eq(plan.timezone.name()),
            rotation_plans::start_date.eq(input.start.to_string()),
            rotation_plans::created_at.eq(at),
            rotation_plans::updated_at.eq(at),
        ))
        .returning(rotation_plans::id)
        .get_result(conn)?;
    get(conn, id, now)
}

pub fn deactivate(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    let n = diesel::update(rotation_plans::table.find(id).filter(rotation_plans::active.eq(true)))
        .set((rotation_plans::active.eq(false), rotation_plans::updated_at.eq(UtcTime::now())))
        .execute(conn)?;
    if n == 0 {
        return Err(AppError::NotFound("el plan"));
    }
    Ok(())
}

/// Applies every plan whose current period has not been applied yet; returns how many rotated.
pub fn tick(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let mut rotated = 0;
    for row in rows(conn)? {
        let plan = plan_of(&row)?;
        let Some(k) = plan.period_index(now) else { continue };
        if i64::from(k) <= row.9 {
            continue;
        }
        // Only the replica whose update moves the marker applies this period.
        let claimed =
            diesel::update(rotation_plans::table.find(row.0).filter(rotation_plans::applied_index.lt(i64::from(k))))
                .set(rotation_plans::applied_index.eq(i64::from(k)))
                .execute(conn)?;
        if claimed == 1 {
            apply(conn, row.0, &plan, k, now)?;
            rotated += 1;
        }
    }
    Ok(rotated)
}

fn apply(
    conn: &mut DbConnection,
    plan_id: i64,
    plan: &RotationPlan,
    k: u32,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let queue_ids: Vec<(i64, String)> =
        queues::table.filter(queues::slug.eq_any(&plan.queues)).select((queues::id, queues::slug)).load(conn)?;
    let ids: Vec<i64> = queue_ids.iter().map(|q| q.0).collect();
    diesel::delete(
        queue_members::table
            .filter(queue_members::agent_id.eq_any(&plan.agents))
            .filter(queue_members::queue_id.eq_any(&ids)),
    )
    .execute(conn)?;
    let memberships = plan.memberships(k);
    for (agent, slug) in &memberships {
        let Some((queue, _)) = queue_ids.iter().find(|q| &q.1 == slug) else { continue };
        diesel::insert_into(queue_members::table)
            .values((
                queue_members::queue_id.eq(queue),
                queue_members::agent_id.eq(agent),
                queue_members::rotation_plan_id.eq(plan_id),
                queue_members::created_at.eq(UtcTime::from(now)),
            ))
            .execute(conn)?;
    }
    let logged: Vec<_> = memberships.iter().map(|(a, q)| json!({ "agent_id": a, "queue": q })).collect();
    diesel::insert_into(rotation_log::table)
        .values((
            rotation_log::plan_id.eq(plan_id),
            rotation_log::period_index.eq(i64::from(k)),
            rotation_log::memberships.eq(JsonValue(json!(logged))),
            rotation_log::at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    tracing::info!(plan = plan_id, period = k, "rotation applied");
    for queue in ids {
        super::assign::drain(conn, queue)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RotationLogEntry {
    pub period_index: i64,
    pub memberships: Vec<Membership>,
    pub at: DateTime<Utc>,
}

pub fn history(conn: &mut DbConnection, plan_id: i64) -> Result<Vec<RotationLogEntry>, AppError> {
    let rows: Vec<(i64, JsonValue, UtcTime)> = rotation_log::table
        .filter(rotation_log::plan_id.eq(plan_id))
        .order(rotation_log::period_index)
        .select((rotation_log::period_index, rotation_log::memberships, rotation_log::at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(period_index, m, at)| {
            let memberships = m.0.as_array().into_iter().flatten().filter_map(|e| {
                Some(Membership { agent_id: e.get("agent_id")?.as_i64()?, queue: e.get("queue")?.as_str()?.to_owned() })
            });
            RotationLogEntry { period_index, memberships: memberships.collect(), at: at.0 }
        })
        .collect())
}

/// Rotates plans as their boundaries pass, every `interval`.
pub async fn run(db: crate::db::Db, interval: std::time::Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        if let Err(e) = db.write(|c| tick(c, Utc::now())).await {
            tracing::warn!(error = %e, "rotation tick failed");
        }
    }
}
