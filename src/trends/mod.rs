//! Trend and spike detection: a periodic scan ([`scanner`]) compares each category's (and keyword
//! cluster's) tickets of the last complete hour and day with their seasonal baseline
//! ([`crate::domain::trends`]) and raises alerts, which supervisors read here, in the live KPIs
//! and by email, each with a draft improvement opportunity for the department concerned.

pub mod scanner;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{categories, departments, trend_alerts};
use crate::db::types::{JsonValue, UtcTime};
use crate::db::DbConnection;
use crate::domain::calendar::{local_day_start, DEFAULT_TIME_ZONE as SANTIAGO};
use crate::domain::trends::{bucket_label, Bucket, Granularity, Method, Params};
use crate::error::AppError;

/// An alert with everything that explains it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendAlert {
    pub id: i64,
    pub granularity: Granularity,
    /// Category slug and name.
    pub category: String,
    pub category_name: String,
    /// The keyword naming the cluster; `null` for the whole category.
    pub keyword: Option<String>,
    /// Other keywords of the cluster, or the top keywords of a category alert.
    pub related_terms: Vec<String>,
    pub bucket_start: DateTime<Utc>,
    pub bucket_end: DateTime<Utc>,
    /// The same bucket in America/Santiago (RFC 3339 with its offset).
    pub bucket_start_local: String,
    pub bucket_end_local: String,
    /// The bucket as people read it, e.g. "miércoles 18-11-2026 15:00–16:00".
    pub period: String,
    pub observed: i64,
    pub baseline_mean: f64,
    /// The standard deviation used: the history's, never below √mean.
    pub baseline_sigma: f64,
    /// The smallest count that raises an alert: observed ≥ threshold.
    pub threshold: i64,
    /// P(X ≥ observed) for X ~ Poisson(baseline_mean).
    pub p_value: f64,
    pub method: Method,
    /// Counts of the same hour or day in the previous weeks, oldest first.
    pub history: Vec<u64>,
    pub params: Params,
    /// One sentence, in Spanish.
    pub explanation: String,
    /// The tickets behind the count.
    pub ticket_ids: Vec<i64>,
    /// Slug of the department the opportunity was proposed to.
    pub department: Option<String>,
    pub opportunity_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// What is kept in `trend_alerts.detail`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Detail {
    history: Vec<u64>,
    related: Vec<String>,
    ticket_ids: Vec<i64>,
    params: Option<Params>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// Alerts whose bucket starts at or after this (RFC 3339, or a date meaning its midnight in
    /// Santiago); default 7 days ago.
    pub since: Option<String>,
    /// `hour` or `day`.
    pub granularity: Option<Granularity>,
    /// Category slug.
    pub category: Option<String>,
}

/// Which alerts to read.
#[derive(Debug, Clone, Default)]
struct Filter {
    id: Option<i64>,
    bucket_from: Option<DateTime<Utc>>,
    created_from: Option<DateTime<Utc>>,
    granularity: Option<Granularity>,
    category: Option<i64>,
}

type Row = (
    (i64, String, String, String, String, UtcTime, UtcTime, i64, f64, f64, i64, f64, String),
    (Option<JsonValue>, String, Option<String>, Option<i64>, UtcTime),
);

fn load(conn: &mut DbConnection, f: &Filter) -> Result<Vec<TrendAlert>, AppError> {
    let mut query = trend_alerts::table
        .inner_join(categories::table)
        .left_join(departments::table)
        .select((
            (
                trend_alerts::id,
                trend_alerts::granularity,
                categories::slug,
                categories::name,
                trend_alerts::keyword,
                trend_alerts::bucket_start,
                trend_alerts::bucket_end,
                trend_alerts::observed,
                trend_alerts::baseline_mean,
                trend_alerts::baseline_sigma,
                trend_alerts::threshold,
                trend_alerts::p_value,
                trend_alerts::method,
            ),
            (
                trend_alerts::detail,
                trend_alerts::explanation,
                departments::slug.nullable(),
                trend_alerts::opportunity_id,
                trend_alerts::created_at,
            ),
        ))
        .order((trend_alerts::bucket_start.desc(), trend_alerts::id.desc()))
        .into_boxed();
    if let Some(id) = f.id {
        query = query.filter(trend_alerts::id.eq(id));
    }
    if let Some(from) = f.bucket_from {
        query = query.filter(trend_alerts::bucket_start.ge(UtcTime::from(from)));
    }
    if let Some(from) = f.created_from {
        query = query.filter(trend_alerts::created_at.ge(UtcTime::from(from)));
    }
    if let Some(g) = f.granularity {
        query = query.filter(trend_alerts::granularity.eq(g.as_str()));
    }
    if let Some(c) = f.category {
        query = query.filter(trend_alerts::category_id.eq(c));
    }
    let rows: Vec<Row> = query.limit(500).load(conn)?;
    rows.into_iter().map(view).collect()
}

fn view(row: Row) -> Result<TrendAlert, AppError> {
    let (
        (id, granularity, category, category_name, keyword, start, end, observed, mean, sigma, threshold, p, method),
        rest,
    ) = row;
    let (detail, explanation, department, opportunity_id, created_at) = rest;
    let bad = |what: &str| AppError::Internal(anyhow::anyhow!("trend alert {id} has an invalid {what}"));
    let granularity: Granularity = granularity.parse().map_err(|_| bad("granularity"))?;
    let detail: Detail = detail.and_then(|d| serde_json::from_value(d.0).ok()).unwrap_or_default();
    let bucket = Bucket { start: start.0, end: end.0 };
    let local = |t: DateTime<Utc>| t.with_timezone(&SANTIAGO).to_rfc3339();
    Ok(TrendAlert {
        id,
        granularity,
        category,
        category_name,
        keyword: Some(keyword).filter(|k| !k.is_empty()),
        related_terms: detail.related,
        bucket_start: bucket.start,
        bucket_end: bucket.end,
        bucket_start_local: local(bucket.start),
        bucket_end_local: local(bucket.end),
        period: bucket_label(bucket, granularity),
        observed,
        baseline_mean: mean,
        baseline_sigma: sigma,
        threshold,
        p_value: p,
        method: method.parse().map_err(|_| bad("method"))?,
        history: detail.history,
        params: detail.params.unwrap_or_default(),
        explanation,
        ticket_ids: detail.ticket_ids,
        department,
        opportunity_id,
        created_at: created_at.0,
    })
}

/// Alerts for the API's filters.
pub fn list(conn: &mut DbConnection, q: TrendQuery, now: DateTime<Utc>) -> Result<Vec<TrendAlert>, AppError> {
    let since = match q.since.as_deref() {
        Some(s) => crate::quality::instant("since", s, false).map_err(|e| AppError::Validation(vec![e]))?,
        None => now - TimeDelta::days(7),
    };
    let category = match &q.category {
        Some(slug) => Some(
            categories::table
                .filter(categories::slug.eq(slug))
                .select(categories::id)
                .first::<i64>(conn)
                .optional()?
                .ok_or_else(|| AppError::field("category", format!("no existe la categoría «{slug}»")))?,
        ),
        None => None,
    };
    let filter = Filter { bucket_from: Some(since), granularity: q.granularity, category, ..Filter::default() };
    load(conn, &filter)
}

/// The alerts raised today (Santiago): what the live KPIs show.
pub fn today(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<TrendAlert>, AppError> {
    let date = now.with_timezone(&SANTIAGO).date_naive();
    let from = local_day_start(&SANTIAGO, date).unwrap_or(now - TimeDelta::days(1));
    load(conn, &Filter { created_from: Some(from), ..Filter::default() })
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<TrendAlert, AppError> {
    load(conn, &Filter { id: Some(id), ..Filter::default() })?.pop().ok_or(AppError::NotFound("la alerta"))
}
