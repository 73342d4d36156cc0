//! The scan: the last complete hour and day (America/Santiago) of every category and keyword
//! cluster against their seasonal baseline. Each new alert is stored with its explanation, and
//! in the same transaction the supervisors are mailed (outbox) and a draft improvement
//! opportunity is proposed to the category's department. The alert's unique key decides which
//! replica does that: exactly one, however many scan the same database.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::TrendAlert;
use crate::channels::email::outbox::{enqueue_notice, TREND_ALERT};
use crate::db::backend;
use crate::db::schema::{agents, categories, departments, tickets, trend_alerts};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::{Db, DbConnection};
use crate::departments::opportunities::{propose_automatic, AutomaticProposal};
use crate::domain::trends::{self, Bucket, Finding, Granularity, Item, Method, Params};
use crate::error::AppError;

/// Evidence tickets linked to one opportunity, at most (the alert keeps the count).
const MAX_EVIDENCE: usize = 200;
/// The department that receives what no other does.
const FALLBACK_DEPARTMENT: &str = "atencion-usuaria";

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Evaluate as of this instant (default now): its last complete hour and day.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScanResult {
    pub at: DateTime<Utc>,
    pub hour: Bucket,
    pub day: Bucket,
    /// Spikes found, including those already raised by an earlier scan.
    pub spikes: usize,
    /// The alerts this scan raised (and acted on).
    pub raised: Vec<TrendAlert>,
    /// Spikes whose alert could not be raised (logged); a later scan of the same instant retries them.
    pub failed: usize,
}

/// The categorised tickets created in `bucket`.
fn items(conn: &mut DbConnection, bucket: Bucket) -> Result<Vec<Item>, AppError> {
    let rows: Vec<(i64, Option<i64>, String)> = tickets::table
        .filter(tickets::created_at.ge(UtcTime::from(bucket.start)))
        .filter(tickets::created_at.lt(UtcTime::from(bucket.end)))
        .filter(tickets::category_id.is_not_null())
        .select((tickets::id, tickets::category_id, tickets::subject))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(ticket_id, category, subject)| Some(Item { ticket_id, category_id: category?, subject }))
        .collect())
}

/// The findings of one bucket. History buckets from before the first ticket ever are left out:
/// the service did not exist then, so they are no evidence of quiet.
fn findings(
    conn: &mut DbConnection,
    bucket: Bucket,
    granularity: Granularity,
    params: &Params,
    first: Option<DateTime<Utc>>,
) -> Result<Vec<Finding>, AppError> {
    let Some(first) = first else { return Ok(Vec::new()) };
    let current = items(conn, bucket)?;
    if current.is_empty() {
        return Ok(Vec::new());
    }
    let mut history = Vec::new();
    for past in trends::history(bucket, granularity, params.history_weeks) {
        if past.end > first {
            history.push(items(conn, past)?);
        }
    }
    Ok(trends::detect(&current, &history, params))
}

/// A spike found by a scan: what [`raise`] stores and acts on.
#[derive(Debug, Clone)]
pub struct Spike {
    granularity: Granularity,
    bucket: Bucket,
    finding: Finding,
}

/// Step one of a scan as of `at`, read only: the spikes of its last complete hour and, with
/// `day`, of its last complete day. Always in the same order (granularity, category, keyword), so concurrent scanners claim keys
/// in the same order and never wait on each other in a cycle.
pub fn detect(conn: &mut DbConnection, at: DateTime<Utc>, params: &Params, day: bool) -> Result<Vec<Spike>, AppError> {
    let first: Option<UtcTime> =
        tickets::table.order(tickets::created_at).select(tickets::created_at).first(conn).optional()?;
    let first = first.map(|t| t.0);
    let mut spikes = Vec::new();
    let days = day.then(|| (Granularity::Day, trends::last_day(at)));
    for (granularity, bucket) in days.into_iter().chain([(Granularity::Hour, trends::last_hour(at))]) {
        for finding in findings(conn, bucket, granularity, params, first)? {
            spikes.push(Spike { granularity, bucket, finding });
        }
    }
    Ok(spikes)
}

/// Step two, in one transaction ([`Db::write`]): raises the spikes not raised before, each in
/// its own savepoint, so one that fails (logged and counted) does not hold back the others.
pub fn raise_all(
    conn: &mut DbConnection,
    spikes: &[Spike],
    params: &Params,
) -> Result<(Vec<TrendAlert>, usize), AppError> {
    let (mut raised, mut failed) = (Vec::new(), 0);
    for s in spikes {
        match conn.transaction(|c| raise(c, s.granularity, s.bucket, &s.finding, params)) {
            Ok(Some(alert)) => raised.push(alert),
            Ok(None) => {}
            Err(e) => {
                failed += 1;
                tracing::warn!(error = %e, category = s.finding.category_id, "trend alert not raised");
            }
        }
    }
    Ok((raised, failed))
}

/// One scan as of `at` (its last day too with `day`): detection on a read connection, so the write transaction (SQLite's one
/// writer) is held only while alerts are raised. Detection is deterministic, and a spike raised
/// meanwhile by another replica is simply skipped.
pub async fn scan(db: &Db, at: DateTime<Utc>, params: Params, day: bool) -> Result<ScanResult, AppError> {
    let spikes = db.read(move |c| detect(c, at, &params, day)).await?;
    let count = spikes.len();
    let (raised, failed) =
        if spikes.is_empty() { (Vec::new(), 0) } else { db.write(move |c| raise_all(c, &spikes, &params)).await? };
    Ok(ScanResult { at, hour: trends::last_hour(at), day: trends::last_day(at), spikes: count, raised, failed })
}

/// How far back a replica catches up on hours it did not scan (at start, or after scans failed).
const CATCH_UP: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The instants to scan now: one per hour since the last complete scan (at most [`CATCH_UP`]
/// back), then `now`. Rescanning an instant is harmless: raised alerts are skipped.
fn due_instants(done: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let floor = now - CATCH_UP;
    let mut at = done.unwrap_or(floor).max(floor) + chrono::TimeDelta::hours(1);
    let mut out = Vec::new();
    while at < now {
        out.push(at);
        at += chrono::TimeDelta::hours(1);
    }
    out.push(now);
    out
}

/// The background loop of one replica; `live` streams are woken when it raises alerts. Hours
/// missed while no scan succeeded (the service down, the database unreachable) are scanned late.
pub async fn run(db: Db, live: std::sync::Arc<crate::kpi::Live>, interval: std::time::Duration, params: Params) {
    let mut done: Option<DateTime<Utc>> = None;
    // The last day scanned: catching up on 24 hours evaluates each day once, not once an hour.
    let mut day_done = None;
    loop {
        for at in due_instants(done, Utc::now()) {
            let day = day_done != Some(trends::last_day(at));
            match scan(&db, at, params, day).await {
                Ok(result) => {
                    if !result.raised.is_empty() {
                        tracing::info!(alerts = result.raised.len(), "trend alerts raised");
                        live.touch();
                    }
                    if result.failed > 0 {
                        break;
                    }
                    done = Some(at);
                    day_done = Some(result.day);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "trend scan failed; retrying later");
                    break;
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// The department of `category`, or Atención Usuaria when it has none (or it is inactive).
fn department_of(conn: &mut DbConnection, category: i64) -> Result<(i64, String, String), AppError> {
    let mapped: Option<(i64, String, String)> = categories::table
        .inner_join(departments::table)
        .filter(categories::id.eq(category))
        .filter(departments::active.eq(true))
        .select((departments::id, departments::slug, departments::name))
        .first(conn)
        .optional()?;
    match mapped {
        Some(d) => Ok(d),
        None => Ok(departments::table
            .filter(departments::slug.eq(FALLBACK_DEPARTMENT))
            .select((departments::id, departments::slug, departments::name))
            .first(conn)?),
    }
}

/// Whether the whole category already has an alert for the bucket starting at `start`.
fn category_alerted(
    conn: &mut DbConnection,
    granularity: Granularity,
    category: i64,
    start: UtcTime,
) -> Result<bool, AppError> {
    let found: i64 = trend_alerts::table
        .filter(trend_alerts::granularity.eq(granularity.as_str()))
        .filter(trend_alerts::category_id.eq(category))
        .filter(trend_alerts::keyword.eq(""))
        .filter(trend_alerts::bucket_start.eq(start))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// Stores `finding` as a new alert and acts on it; `None` when it was raised before, or when it
/// is a keyword cluster of a category alerted as a whole for the same bucket.
fn raise(
    conn: &mut DbConnection,
    granularity: Granularity,
    bucket: Bucket,
    finding: &Finding,
    params: &Params,
) -> Result<Option<TrendAlert>, AppError> {
    let keyword = finding.keyword.clone().unwrap_or_default();
    let key = (UtcTime::from(bucket.start), UtcTime::from(bucket.end));
    if finding.keyword.is_some() && category_alerted(conn, granularity, finding.category_id, key.0)? {
        // One event, one alert: detection keeps keyword clusters out of a spiking category, and
        // this keeps them out after a category alert raised by an earlier scan (tickets
        // reclassified since can leave the category below its threshold but a cluster above).
        return Ok(None);
    }
    let now = UtcTime::now();
    let Some(id) = backend::claim_trend_alert(conn, granularity.as_str(), finding.category_id, &keyword, key, now)?
    else {
        return Ok(None);
    };
    let e = &finding.evaluation;
    let explanation = trends::explain(e, granularity, bucket);
    let (department_id, _, department_name) = department_of(conn, finding.category_id)?;
    let category_name: String = categories::table.find(finding.category_id).select(categories::name).first(conn)?;
    let what = match &finding.keyword {
        Some(k) => format!("«{category_name}», palabra clave «{k}»"),
        None => format!("«{category_name}»"),
    };
    let evidence: Vec<i64> = finding.ticket_ids.iter().take(MAX_EVIDENCE).copied().collect();
    let description = format!(
        "La detección de tendencias encontró un aumento inusual de casos en {what}.\n\n{explanation}\n\n\
         Casos observados: {}. Línea base: promedio {:.1}, desviación {:.1}. Umbral de alerta: {} casos. \
         Método: {}.\nSe vinculan como evidencia {} casos del periodo.",
        e.observed,
        e.baseline_mean,
        e.baseline_sigma,
        e.threshold,
        method_name(e.method),
        evidence.len(),
    );
    let title: String = format!("Alza de casos en {what}").chars().take(200).collect();
    let opportunity = propose_automatic(
        conn,
        AutomaticProposal {
            title: &title,
            description: &description,
            department_id,
            category_id: Some(finding.category_id),
            ticket_ids: &evidence,
        },
        &format!("Propuesta automáticamente por la alerta de tendencia {id}."),
    )?;
    let detail = json!({
        "history": e.history, "related": finding.related, "ticket_ids": finding.ticket_ids, "params": params,
    });
    diesel::update(trend_alerts::table.find(id))
        .set((
            trend_alerts::observed.eq(e.observed as i64),
            trend_alerts::baseline_mean.eq(e.baseline_mean),
            trend_alerts::baseline_sigma.eq(e.baseline_sigma),
            trend_alerts::threshold.eq(e.threshold as i64),
            trend_alerts::p_value.eq(e.p_value),
            trend_alerts::method.eq(e.method.as_str()),
            trend_alerts::detail.eq(Some(JsonValue(detail))),
            trend_alerts::explanation.eq(&explanation),
            trend_alerts::department_id.eq(department_id),
            trend_alerts::opportunity_id.eq(opportunity),
        ))
        .execute(conn)?;
    let alert = super::get(conn, id)?;
    notify(conn, &alert, &department_name)?;
    tracing::info!(alert = id, category = %alert.category, keyword = %keyword, observed = e.observed,
        threshold = e.threshold, "trend alert raised");
    Ok(Some(alert))
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Seasonal => "banda estacional (promedio + k·σ)",
        Method::SeasonalPoisson => "banda estacional y cola de Poisson",
    }
}

/// Mails every active supervisor, through the outbox (sent after this commits).
fn notify(conn: &mut DbConnection, alert: &TrendAlert, department: &str) -> Result<(), AppError> {
    let mut recipients: Vec<String> = agents::table
        .filter(agents::active.eq(true))
        .filter(agents::role.eq("supervisor"))
        .filter(agents::email.is_not_null())
        .select(agents::email.assume_not_null())
        .load(conn)?;
    recipients.sort();
    recipients.dedup();
    let detail = json!({
        "categoria": alert.category_name,
        "palabra_clave": alert.keyword.clone().unwrap_or_else(|| "todas".into()),
        "periodo": alert.period,
        "observado": alert.observed.to_string(),
        "promedio": format!("{:.1}", alert.baseline_mean),
        "desviacion": format!("{:.1}", alert.baseline_sigma),
        "umbral": alert.threshold.to_string(),
        "probabilidad": format!("{:.2e}", alert.p_value),
        "metodo": method_name(alert.method),
        "semanas": alert.history.len().to_string(),
        "explicacion": alert.explanation,
        "departamento": department,
        "oportunidad": alert.opportunity_id.map(|o| o.to_string()).unwrap_or_default(),
        "alerta": alert.id.to_string(),
    });
    for email in recipients {
        enqueue_notice(conn, TREND_ALERT, &email, detail.clone())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn scans_catch_up_hourly_on_what_was_missed_and_no_further_than_a_day() {
        let now = t("2026-12-03T12:30:00Z");
        assert_eq!(due_instants(Some(t("2026-12-03T12:25:00Z")), now), [now]);
        assert_eq!(
            due_instants(Some(t("2026-12-03T09:30:00Z")), now),
            [t("2026-12-03T10:30:00Z"), t("2026-12-03T11:30:00Z"), now]
        );
        let first = due_instants(None, now);
        assert_eq!((first.len(), first[0]), (24, t("2026-12-02T13:30:00Z")));
        assert_eq!(due_instants(Some(t("2026-11-01T00:00:00Z")), now).len(), 24);
    }
}
