//! Report queries over 1,000,000 tickets on Postgres: `cargo bench --bench reports` (release, no
//! criterion). Needs the database of `BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/atencion_bench`; create it once with
//! `psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE atencion_bench'`). Works in a fresh schema that
//! it drops at the end. Prints ms per report and a final `RESULT {json}` line for scripts.
//!
//! The data: a year (2025, America/Santiago) of 1M tickets spread evenly over 100 agents, 10 queues,
//! the seeded categories and 200,000 requesters, with their messages (2.4M), event log (5.6M rows),
//! fired and pending SLA deadlines, a backlog of about 14,000 open tickets, and 500,000 calls; then
//! `VACUUM ANALYZE`. Each report runs through `atencion::reports` (its transaction, SQL, decoding
//! and assembly, as the API runs it) once to warm up and then `RUNS` times, over the last month of
//! the data, a month mid-year and the whole year. The target is ≤ 50 ms per report over a month;
//! the year (12× the rows) is reported for information.
//!
//! `REPORTS_KEEP_SCHEMA=1` keeps the loaded schema and `REPORTS_SCHEMA=<name>` reuses it without
//! loading; `REPORTS_EXPLAIN=1` instead of timing runs each report once over the last month under
//! `auto_explain`, whose plans (`EXPLAIN ANALYZE`) go to the server's log.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use atencion::config::Settings;
use atencion::db::DbConnection;
use atencion::domain::live::Window;
use atencion::kpi::{KpiStore, Live};
use atencion::reports::{
    self, AbandonmentParams, GroupBy, GroupParams, Interval, Period, SeriesParams, StaffingParams,
};
use atencion::startup::open_database;
use atencion::tickets::{store, TicketFilter};
use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::PgConnection;
use serde_json::json;

const TICKETS: i64 = 1_000_000;
const CALLS: i64 = 500_000;
const REQUESTERS: i64 = 200_000;
const AGENTS: i64 = 100;
/// Timed runs per report and range.
const RUNS: usize = 10;
/// Budget per report query over a month (issue requirement).
const TARGET_MS: f64 = 50.0;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pg(conn: &mut DbConnection) -> anyhow::Result<&mut PgConnection> {
    match conn {
        DbConnection::Pg(pg) => Ok(pg),
        _ => bail!("the reports benchmark runs on Postgres only"),
    }
}

/// The year 2025 in Santiago starts at 03:00 UTC (summer time, UTC−3); tickets and calls are
/// spread evenly over its 365 days.
fn load(conn: &mut PgConnection) -> anyhow::Result<()> {
    let step = |conn: &mut PgConnection, what: &str, sql: &str| -> anyhow::Result<()> {
        let began = Instant::now();
        conn.batch_execute(sql).with_context(|| format!("loading {what}"))?;
        println!("  {what:<40} {:>7.1} s", began.elapsed().as_secs_f64());
        Ok(())
    };
    step(
        conn,
        "agents, queues",
        &format!(
            "INSERT INTO agents (name, email, role) SELECT 'Agente ' || g, 'agente' || g || '@example.cl', 'agent' \
             FROM generate_series(1, {AGENTS}) g; \
             INSERT INTO queues (slug, name) SELECT 'cola-' || g, 'Cola ' || g FROM generate_series(1, 9) g"
        ),
    )?;
    step(
        conn,
        "requesters",
        &format!(
            "INSERT INTO requesters (name, email, segment) SELECT 'Persona ' || g, 'persona' || g || '@example.cl', \
             (ARRAY['comprador', 'proveedor', 'ciudadano'])[1 + g % 3] FROM generate_series(1, {REQUESTERS}) g"
        ),
    )?;
    // Solved (a fifth of those closed) except 0.2 % of all and, among the last week's, half open,
    // pending or new: a backlog of about 14,000. 10 % unassigned.
    step(
        conn,
        "tickets",
        &format!(
            "WITH c AS (SELECT array_agg(id ORDER BY id) a, count(*) n FROM categories), \
             q AS (SELECT array_agg(id ORDER BY id) a, count(*) n FROM queues), \
             ag AS (SELECT array_agg(id ORDER BY id) a FROM agents WHERE role = 'agent'), \
             r AS (SELECT min(id) lo FROM requesters), \
             s AS (SELECT g, TIMESTAMPTZ '2025-01-01 03:00:00+00' + (g - 1) * interval '31.536 seconds' AS at, \
                   CASE WHEN g % 500 = 0 THEN 'open' WHEN g > {TICKETS} - 20000 AND g % 4 = 0 THEN 'open' \
                        WHEN g > {TICKETS} - 20000 AND g % 4 = 1 THEN 'pending' WHEN g > {TICKETS} - 5000 AND g % 4 = 2 THEN 'new' \
                        WHEN g % 5 = 3 THEN 'closed' ELSE 'solved' END AS status \
                   FROM generate_series(1::bigint, {TICKETS}) g) \
             INSERT INTO tickets (number, subject, status, priority, channel, category_id, queue_id, \
                 assignee_id, requester_id, created_at, updated_at, solved_at, closed_at, kind) \
             SELECT 'AU-2025-' || lpad(s.g::text, 7, '0'), 'Consulta ' || s.g, s.status, 'normal', \
                 (ARRAY['email', 'web', 'phone', 'api'])[(1 + s.g % 4)::int], c.a[(1 + s.g % c.n)::int], q.a[(1 + (s.g / 7) % q.n)::int], \
                 CASE WHEN s.g % 10 = 5 THEN NULL ELSE ag.a[(1 + s.g % {AGENTS})::int] END, r.lo + s.g % {REQUESTERS}, \
                 s.at, s.at, \
                 CASE WHEN s.status IN ('solved', 'closed') THEN s.at + ((s.g * 7919) % 172800 + 600) * interval '1 second' END, \
                 CASE WHEN s.status = 'closed' THEN s.at + ((s.g * 7919) % 172800 + 600) * interval '1 second' + interval '3 days' END, \
                 'standard' \
             FROM s, c, q, ag, r ORDER BY s.g"
        ),
    )?;
    // The opening message; a public agent reply on 90 %, a second one on 30 %, an internal note on 20 %.
    step(
        conn,
        "messages",
        "INSERT INTO messages (ticket_id, author_type, author_agent_id, author_requester_id, visibility, channel, body_text, created_at) \
         SELECT id, 'requester', NULL, requester_id, 'public', channel, 'Consulta', created_at FROM tickets \
         UNION ALL SELECT id, 'agent', assignee_id, NULL, 'public', channel, 'Respuesta', \
             created_at + ((id * 104729) % 28800 + 60) * interval '1 second' FROM tickets WHERE id % 10 <> 3 \
         UNION ALL SELECT id, 'agent', assignee_id, NULL, 'internal', channel, 'Nota', created_at + interval '30 minutes' \
             FROM tickets WHERE id % 5 = 0 \
         UNION ALL SELECT id, 'agent', assignee_id, NULL, 'public', channel, 'Seguimiento', created_at + interval '1 day' \
             FROM tickets WHERE id % 10 IN (1, 4, 7) ORDER BY 8",
    )?;
    step(
        conn,
        "ticket_events",
        "INSERT INTO ticket_events (ticket_id, kind, actor_type, actor_id, data, created_at) \
         SELECT id, 'created', 'system', NULL::bigint, jsonb_build_object('number', number, 'subject', subject, \
             'channel', channel, 'priority', priority, 'status', 'new', 'queue', NULL, 'category', NULL, \
             'assignee_id', assignee_id, 'requester_id', requester_id, 'tags', '[]'::jsonb, 'kind', 'standard'), \
             created_at FROM tickets \
         UNION ALL SELECT id, 'sla_policy_applied', 'system', NULL, '{\"policy_id\": 1, \"policy_name\": \"Estándar\", \
             \"calendar_id\": 1, \"targets\": {}, \"pause\": {}, \"warn_percent\": null, \"warn_before_minutes\": null}'::jsonb, \
             created_at FROM tickets \
         UNION ALL SELECT ticket_id, 'message_added', author_type, author_agent_id, jsonb_build_object('message_id', id, \
             'author_type', author_type, 'visibility', visibility, 'channel', channel, 'initial', false), created_at \
             FROM messages \
         UNION ALL SELECT id, 'status_changed', 'agent', assignee_id, '{\"from\": \"open\", \"to\": \"solved\"}'::jsonb, \
             solved_at FROM tickets WHERE solved_at IS NOT NULL \
         UNION ALL SELECT id, 'call_answered', 'agent', assignee_id, jsonb_build_object('call', id, 'call_id', 'bench-' || id, \
             'direction', 'in', 'agent_id', assignee_id), created_at + interval '30 seconds' \
             FROM tickets WHERE channel = 'phone' ORDER BY 6",
    )?;
    // Fired breaches (first reply on 10 %, resolution on 4 %), fired warnings, pending deadlines of open tickets.
    step(
        conn,
        "sla_deadlines",
        "INSERT INTO sla_deadlines (ticket_id, metric, instance, kind, due_at, fired_at) \
         SELECT id, 'first_reply', 0, 'breach', created_at + interval '9 hours', created_at + interval '9 hours' \
             FROM tickets WHERE id % 10 = 0 \
         UNION ALL SELECT id, 'resolution', 0, 'breach', created_at + interval '45 hours', created_at + interval '45 hours' \
             FROM tickets WHERE id % 25 = 1 \
         UNION ALL SELECT id, 'first_reply', 0, 'warning', created_at + interval '7 hours', created_at + interval '7 hours' \
             FROM tickets WHERE id % 7 = 0 \
         UNION ALL SELECT id, 'resolution', 0, 'breach', created_at + interval '45 hours', NULL \
             FROM tickets WHERE solved_at IS NULL AND closed_at IS NULL AND id % 25 <> 1",
    )?;
    // 80 % answered, 10 % abandoned, 3 % short abandons, 3 % voicemail, 1 % rejected, 3 % forwarded;
    // one in 50 outbound.
    step(
        conn,
        "calls",
        &format!(
            "WITH q AS (SELECT array_agg(id ORDER BY id) a, count(*) n FROM queues), \
             ag AS (SELECT array_agg(id ORDER BY id) a FROM agents WHERE role = 'agent'), \
             s AS (SELECT g, TIMESTAMPTZ '2025-01-01 03:00:00+00' + (g - 1) * interval '63.072 seconds' AS at, \
                   CASE WHEN g % 100 < 80 THEN 'answered' WHEN g % 100 < 90 THEN 'abandoned' \
                        WHEN g % 100 < 93 THEN 'short_abandoned' WHEN g % 100 < 96 THEN 'voicemail' \
                        WHEN g % 100 < 97 THEN 'rejected' ELSE 'forwarded' END AS outcome, \
                   (g * 31) % 120 AS wait FROM generate_series(1::bigint, {CALLS}) g) \
             INSERT INTO calls (external_id, direction, queue_id, agent_id, state, outcome, queued_at, answered_at, \
                 ended_at, wait_seconds, talk_seconds, hold_seconds, acw_seconds, created_at, updated_at) \
             SELECT 'pbx-' || s.g, CASE WHEN s.g % 50 = 0 THEN 'out' ELSE 'in' END, q.a[(1 + s.g % q.n)::int], \
                 CASE WHEN s.outcome = 'answered' THEN ag.a[(1 + s.g % {AGENTS})::int] END, 'ended', s.outcome, s.at, \
                 CASE WHEN s.outcome = 'answered' THEN s.at + s.wait * interval '1 second' END, \
                 s.at + (s.wait + 300) * interval '1 second', s.wait, \
                 CASE WHEN s.outcome = 'answered' THEN 60 + (s.g * 17) % 600 END, \
                 CASE WHEN s.outcome = 'answered' THEN (s.g % 4) * 10 ELSE 0 END, \
                 CASE WHEN s.outcome = 'answered' THEN 15 + s.g % 60 END, s.at, s.at \
             FROM s, q, ag ORDER BY s.g"
        ),
    )?;
    step(
        conn,
        "VACUUM ANALYZE",
        "VACUUM ANALYZE agents, queues, requesters, tickets, ticket_search, messages, ticket_events, sla_deadlines, calls",
    )?;
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, table: &str) -> anyhow::Result<i64> {
    Ok(diesel::sql_query(format!("SELECT count(*) AS n FROM {table}")).get_result::<Count>(conn)?.n)
}

struct Stats {
    p50: f64,
    max: f64,
    rows: usize,
}

/// Runs `report` once to warm up, then `RUNS` times.
fn time<F>(conn: &mut DbConnection, mut report: F) -> anyhow::Result<Stats>
where
    F: FnMut(&mut DbConnection) -> anyhow::Result<usize>,
{
    let rows = report(conn)?;
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let began = Instant::now();
        report(conn)?;
        samples.push(ms(began.elapsed()));
    }
    samples.sort_by(f64::total_cmp);
    Ok(Stats { p50: samples[(RUNS - 1) / 2], max: samples[RUNS - 1], rows })
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

type Report = (&'static str, Box<dyn Fn(&mut DbConnection, &Period) -> anyhow::Result<usize>>);

fn report(name: &'static str, run: impl Fn(&mut DbConnection, &Period) -> anyhow::Result<usize> + 'static) -> Report {
    (name, Box::new(run))
}

/// A report that reads the daily rollup, as the API runs it: the rollup's refresh (a write
/// transaction, with nothing to recompute here) and then the report.
fn fresh<R>(
    conn: &mut DbConnection,
    report: impl FnOnce(&mut DbConnection) -> Result<R, atencion::error::AppError>,
) -> anyhow::Result<R> {
    conn.transaction(reports::rollup::refresh)?;
    Ok(report(conn)?)
}

/// Every report, as the API runs it with its default or typical parameters.
fn catalogue() -> Vec<Report> {
    let series = |interval, by| move |period: &Period| SeriesParams { period: *period, interval, by };
    let grouped = |by| move |period: &Period| GroupParams { period: *period, by };
    let day_channel = series(Interval::Day, GroupBy::Channel);
    let week_segment = series(Interval::Week, GroupBy::Segment);
    let day_queue = series(Interval::Day, GroupBy::Queue);
    let (channel, segment, queue) = (grouped(GroupBy::Channel), grouped(GroupBy::Segment), grouped(GroupBy::Queue));
    vec![
        report("volume day×channel", move |c, p| Ok(fresh(c, |c| reports::volume(c, &day_channel(p)))?.rows.len())),
        report("volume week×segment", move |c, p| Ok(fresh(c, |c| reports::volume(c, &week_segment(p)))?.rows.len())),
        report("volume day×queue", move |c, p| Ok(fresh(c, |c| reports::volume(c, &day_queue(p)))?.rows.len())),
        report("response-times by channel", move |c, p| {
            Ok(fresh(c, |c| reports::response_times(c, &channel(p)))?.rows.len())
        }),
        report("response-times by segment", move |c, p| {
            Ok(fresh(c, |c| reports::response_times(c, &segment(p)))?.rows.len())
        }),
        report("sla by channel", move |c, p| Ok(fresh(c, |c| reports::sla(c, &channel(p)))?.rows.len())),
        report("backlog by queue", move |c, p| Ok(fresh(c, |c| reports::backlog(c, &queue(p)))?.rows.len())),
        report("abandonment day×queue", |c, p| {
            let params = AbandonmentParams { period: *p, interval: Interval::Day, answer_secs: 20 };
            Ok(fresh(c, |c| reports::abandonment(c, &params))?.rows.len())
        }),
        report("agents", |c, p| Ok(fresh(c, |c| reports::agents(c, p))?.rows.len())),
    ]
}

fn staffing(queue: Option<&str>) -> StaffingParams {
    StaffingParams {
        date: date(2025, 6, 16),
        queue: queue.map(str::to_owned),
        target_service_level: 0.8,
        answer_secs: 20.0,
        max_occupancy: 0.85,
        shrinkage: 0.3,
    }
}

async fn run(settings: &Settings, reuse: bool) -> anyhow::Result<serde_json::Value> {
    let db = open_database(settings).await?;
    let mut pooled = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let conn: &mut DbConnection = &mut pooled;

    let began = Instant::now();
    if reuse {
        println!("reusing the loaded schema");
    } else {
        println!("loading {TICKETS} tickets and {CALLS} calls:");
        load(pg(conn)?)?;
    }
    let load_s = began.elapsed().as_secs_f64();
    let mut sizes = json!({});
    for table in ["tickets", "messages", "ticket_events", "sla_deadlines", "calls"] {
        sizes[table] = json!(count(pg(conn)?, table)?);
    }
    println!("loaded in {load_s:.1} s: {sizes}");
    let began = Instant::now();
    let days = conn.transaction(reports::rollup::refresh)?;
    let rollup_s = began.elapsed().as_secs_f64();
    println!("daily rollup built in {rollup_s:.1} s ({days} days)");

    let ranges = [
        ("last month", Period::new(date(2025, 12, 1), date(2025, 12, 31))),
        ("mid-year month", Period::new(date(2025, 6, 1), date(2025, 6, 30))),
        ("year", Period::new(date(2025, 1, 1), date(2025, 12, 31))),
    ];
    if std::env::var("REPORTS_EXPLAIN").is_ok_and(|v| v == "1") {
        // Plans go to the server's log (auto_explain needs a superuser).
        pg(conn)?.batch_execute(
            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; \
             SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on",
        )?;
        for (name, report) in catalogue() {
            println!("explaining {name} (last month)");
            report(conn, &ranges[0].1)?;
        }
        reports::staffing(conn, &staffing(None))?;
        pg(conn)?.batch_execute("SET auto_explain.log_min_duration = -1")?;
        return Ok(json!({ "bench": "reports", "explained": true }));
    }

    let mut results = Vec::new();
    let mut pass = true;
    print!("{:<28}", "report (p50 / max, ms)");
    for (range, _) in &ranges {
        print!(" {range:>22}");
    }
    println!();
    for (name, report) in catalogue() {
        print!("{name:<28}");
        let mut result = json!({ "report": name });
        for (i, (range, period)) in ranges.iter().enumerate() {
            let t = time(conn, |c| report(c, period))?;
            // The target applies to month ranges; the year is for information.
            let missed = i < 2 && t.p50 > TARGET_MS;
            pass &= !missed;
            print!(" {:>9.1} / {:>7.1}{}", t.p50, t.max, if missed { "!" } else { " " });
            result[range.replace(' ', "_")] = json!({ "p50_ms": round(t.p50), "max_ms": round(t.max), "rows": t.rows });
        }
        println!();
        results.push(result);
    }
    for (name, queue) in [("staffing (a day)", None), ("staffing (a day, one queue)", Some("cola-3"))] {
        let params = staffing(queue);
        let t = time(conn, |c| Ok(reports::staffing(c, &params)?.rows.len()))?;
        pass &= t.p50 <= TARGET_MS;
        println!("{name:<28} {:>9.1} / {:>7.1}{}", t.p50, t.max, if t.p50 > TARGET_MS { "!" } else { " " });
        results
            .push(json!({ "report": name, "day": { "p50_ms": round(t.p50), "max_ms": round(t.max), "rows": t.rows } }));
    }
    println!("target {TARGET_MS} ms per report over a month: {}", if pass { "ok" } else { "MISSED" });
    drop(pooled);
    let lists = ticket_lists(&db)?;
    let live = live_kpis(&db).await?;
    Ok(json!({
        "bench": "reports",
        "rows": sizes,
        "load_s": (load_s * 10.0).round() / 10.0,
        "rollup_build_s": (rollup_s * 10.0).round() / 10.0,
        "runs": RUNS,
        "target_ms": TARGET_MS,
        "pass": pass,
        "reports": results,
        "ticket_lists": lists,
        "live_kpis": live,
    }))
}

/// The agents' ticket lists at this size, as `GET /api/v1/tickets` runs them (first page of 25).
fn ticket_lists(db: &atencion::db::Db) -> anyhow::Result<serde_json::Value> {
    let mut pooled = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let conn: &mut DbConnection = &mut pooled;
    let filters = [
        ("newest", TicketFilter::default()),
        (
            "open in one queue",
            TicketFilter { status: Some("new,open".into()), queue: Some("cola-3".into()), ..Default::default() },
        ),
        ("unassigned", TicketFilter { assignee: Some("none".into()), ..Default::default() }),
        ("search a number", TicketFilter { q: Some("654321".into()), ..Default::default() }),
        ("search a word", TicketFilter { q: Some("consulta".into()), ..Default::default() }),
    ];
    let mut out = Vec::new();
    for (name, filter) in filters {
        let t = time(conn, |c| Ok(store::list(c, &filter)?.items.len()))?;
        println!("list {name:<23} {:>9.1} / {:>7.1}", t.p50, t.max);
        out.push(json!({ "list": name, "p50_ms": round(t.p50), "max_ms": round(t.max), "rows": t.rows }));
    }
    Ok(json!(out))
}

/// The wallboard at this size: rebuilding the live state (every open ticket's contribution) into
/// the in-process store, then computing the figures a stream frame carries.
async fn live_kpis(db: &atencion::db::Db) -> anyhow::Result<serde_json::Value> {
    let live = Live::new(KpiStore::memory(), "bench".into(), 20, 0.8);
    let began = Instant::now();
    live.rebuild(db).await?;
    let rebuild_ms = ms(began.elapsed());
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let began = Instant::now();
        live.realtime(Window::Today).await;
        samples.push(ms(began.elapsed()));
    }
    samples.sort_by(f64::total_cmp);
    println!("live KPIs: rebuild {rebuild_ms:.1} ms, figures p50 {:.2} ms", samples[(RUNS - 1) / 2]);
    Ok(json!({ "rebuild_ms": round(rebuild_ms), "figures_p50_ms": samples[(RUNS - 1) / 2] }))
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/atencion_bench".into());
    let mut admin = PgConnection::establish(&base)
        .with_context(|| "BENCH_DATABASE_URL unreachable (create the database first, see the file header)")?;
    // REPORTS_SCHEMA reuses a schema kept by an earlier run (REPORTS_KEEP_SCHEMA=1) without reloading.
    let reuse = std::env::var("REPORTS_SCHEMA").ok().filter(|s| !s.is_empty());
    let schema = match &reuse {
        Some(schema) => schema.clone(),
        None => {
            let schema = format!("reports_bench_{:08x}", rand::random::<u32>());
            admin.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
            schema
        }
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut settings = Settings::defaults();
    settings.database.url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    settings.database.pool_size = 2;

    let outcome = run(&settings, reuse.is_some()).await;
    let keep = reuse.is_some() || std::env::var("REPORTS_KEEP_SCHEMA").is_ok_and(|v| v == "1");
    if keep {
        println!("schema {schema} kept");
    } else {
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).context("dropping the benchmark schema")?;
    }
    println!("RESULT {}", outcome?);
    Ok(())
}
