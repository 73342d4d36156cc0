//! SLA scanner over 1,000,000 open tickets on Postgres: `cargo bench --bench sla_scan` (release, no
//! criterion). Needs the database of `BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/atencion_bench`; create it once with
//! `psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE atencion_bench'`). Works in a fresh schema that
//! it drops at the end. Prints ms per scan tick and a final `RESULT {json}` line for scripts.
//!
//! Phases: (a) ticks with nothing due; (b) ticks that each fire 100 deadlines made due just before
//! (untimed), mixed and split into warnings only / breaches only, with the policy's real actions;
//! (c) the claim query alone in a rolled-back transaction, plus its `EXPLAIN (ANALYZE, BUFFERS)`.

use std::time::{Duration, Instant};

mod common;
use common::{percentile, round};

use anyhow::{bail, Context};
use atencion::config::Settings;
use atencion::db::types::UtcTime;
use atencion::db::{backend, DbConnection};
use atencion::domain::Priority;
use atencion::sla::{policies, scanner};
use atencion::startup::open_database;
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel::PgConnection;
use serde_json::json;

const TICKETS: i64 = 1_000_000;
/// Timed ticks per phase.
const TICKS: usize = 50;
/// Deadlines made due before each tick of phase (b).
const DUE_PER_TICK: i64 = 100;
/// Deadlines claimed per tick (`sla.scan_batch` default).
const BATCH: i64 = 200;
/// Budget per scan tick (issue requirement).
const TARGET_MS: f64 = 20.0;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

struct Stats {
    p50: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

/// Nearest-rank percentiles of milliseconds (with 50 samples p99 is the largest).
fn stats(samples: &[f64]) -> Stats {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let max = v.last().copied().unwrap_or(f64::NAN);
    Stats { p50: percentile(&v, 50.0), p99: percentile(&v, 99.0), max, mean: v.iter().sum::<f64>() / v.len() as f64 }
}

fn json_of(s: &Stats) -> serde_json::Value {
    let r = |x: f64| round(x, 3);
    json!({ "p50_ms": r(s.p50), "p99_ms": r(s.p99), "max_ms": r(s.max), "mean_ms": r(s.mean) })
}

fn print(label: &str, s: &Stats) {
    println!(
        "{label:<44} p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  mean {:>8.3} ms",
        s.p50, s.p99, s.max, s.mean
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pg(conn: &mut DbConnection) -> anyhow::Result<&mut PgConnection> {
    match conn {
        DbConnection::Pg(pg) => Ok(pg),
        _ => bail!("the SLA scan benchmark runs on Postgres only"),
    }
}

/// 1M open tickets (one requester), each with its `created` and `sla_policy_applied` events as a
/// real creation records them, and two pending deadlines (warning and breach of one metric) due
/// over the next 30 days.
fn load(conn: &mut PgConnection, applied: &serde_json::Value) -> anyhow::Result<()> {
    let step = |conn: &mut PgConnection, what: &str, sql: &str| -> anyhow::Result<()> {
        let began = Instant::now();
        conn.batch_execute(sql).with_context(|| format!("loading {what}"))?;
        println!("  {what:<40} {:>7.1} s", began.elapsed().as_secs_f64());
        Ok(())
    };
    step(
        conn,
        "requester",
        "INSERT INTO requesters (name, email, segment) VALUES ('Proveedor de prueba', 'bench@example.cl', 'proveedor')",
    )?;
    // Created in the last hour: after a breach raises the priority the re-evaluated deadlines lie in
    // the future, so every tick fires exactly what the benchmark made due.
    step(
        conn,
        "tickets",
        &format!(
            "INSERT INTO tickets (number, subject, status, priority, channel, requester_id, \
             created_at, updated_at) \
             SELECT 'AU-2026-' || lpad(g::text, 7, '0'), 'Consulta ' || g, 'open', 'normal', \
             'api', r.id, now() - (g % 60) * interval '1 minute', now() - (g % 60) * interval '1 minute' \
             FROM generate_series(1, {TICKETS}) g, requesters r"
        ),
    )?;
    step(
        conn,
        "events: created",
        "INSERT INTO ticket_events (ticket_id, kind, actor_type, actor_id, data, created_at) \
         SELECT id, 'created', 'system', NULL, jsonb_build_object('number', number, 'subject', subject, \
         'channel', 'api', 'priority', 'normal', 'status', 'new', 'queue', NULL, 'category', NULL, \
         'assignee_id', NULL, 'requester_id', requester_id, 'tags', '[]'::jsonb, 'kind', 'standard'), created_at \
         FROM tickets ORDER BY id",
    )?;
    let applied = applied.to_string().replace('\'', "''");
    step(
        conn,
        "events: sla_policy_applied",
        &format!(
            "INSERT INTO ticket_events (ticket_id, kind, actor_type, actor_id, data, created_at) \
             SELECT id, 'sla_policy_applied', 'system', NULL, '{applied}'::jsonb, created_at FROM tickets ORDER BY id"
        ),
    )?;
    // Breach 3 h … 30 days ahead (deterministic spread), warning 20 % of a 9 h target before it.
    step(
        conn,
        "sla_deadlines",
        "INSERT INTO sla_deadlines (ticket_id, metric, instance, kind, due_at) \
         SELECT t.id, CASE WHEN t.id % 2 = 1 THEN 'first_reply' ELSE 'resolution' END, 0, k.kind, \
         now() + ((180 + (t.id * 7919) % 43020) * interval '1 minute') - k.before * interval '1 minute' \
         FROM tickets t, (VALUES ('warning', 108), ('breach', 0)) AS k(kind, before) ORDER BY t.id, k.before DESC",
    )?;
    step(conn, "VACUUM ANALYZE", "VACUUM ANALYZE requesters, tickets, ticket_events, sla_deadlines")?;
    Ok(())
}

/// Makes `kinds.len()` deadlines due, one per ticket, on tickets no earlier call used (`slot`
/// < 10,000 picks them: ticket ids `j * 10,000 + slot + 1`).
fn make_due(conn: &mut PgConnection, now: DateTime<Utc>, slot: i64, kinds: &[&str]) -> anyhow::Result<usize> {
    let mut changed = 0;
    for kind in ["warning", "breach"] {
        let ids: Vec<i64> = (0..kinds.len() as i64)
            .filter(|j| kinds[*j as usize] == kind)
            .map(|j| j * (TICKETS / DUE_PER_TICK) + slot + 1)
            .collect();
        if ids.is_empty() {
            continue;
        }
        changed += diesel::sql_query(
            "UPDATE sla_deadlines SET due_at = $1 - interval '1 minute' \
             WHERE ticket_id = ANY($2) AND kind = $3 AND fired_at IS NULL",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Text, _>(kind)
        .execute(conn)?;
    }
    Ok(changed)
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the claim with `kinds` made due, in a rolled-back transaction.
fn explain_claim(conn: &mut DbConnection, slot: i64, kinds: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut plan = Vec::new();
    let mut failure = None;
    let _ = conn.transaction::<(), diesel::result::Error, _>(|c| {
        let attempt = (|| -> anyhow::Result<Vec<String>> {
            let now = Utc::now();
            let p = pg(c)?;
            make_due(p, now, slot, kinds)?;
            Ok(diesel::sql_query(format!(
                "EXPLAIN (ANALYZE, BUFFERS) {}",
                backend::claim_due_sql(&backend::TICKET_DEADLINES, true)
            ))
            .bind::<Timestamptz, _>(now)
            .bind::<BigInt, _>(BATCH)
            .load::<PlanLine>(p)?
            .into_iter()
            .map(|l| l.line)
            .collect())
        })();
        match attempt {
            Ok(lines) => plan = lines,
            Err(e) => failure = Some(e),
        }
        Err(diesel::result::Error::RollbackTransaction)
    });
    match failure {
        Some(e) => Err(e.context("explaining the claim query")),
        None => Ok(plan),
    }
}

struct Run {
    summary: serde_json::Value,
}

async fn run(settings: &Settings) -> anyhow::Result<Run> {
    let db = open_database(settings).await?;
    let mut setup = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let conn: &mut DbConnection = &mut setup;

    // The snapshot the seeded 'Estándar' policy records on a normal-priority ticket.
    let standard = policies::list(conn, true)?
        .into_iter()
        .find(|p| p.name == "Estándar")
        .context("seeded 'Estándar' policy missing")?;
    let applied = serde_json::to_value(standard.applied(Priority::Normal))?;

    println!("loading {TICKETS} open tickets:");
    let began = Instant::now();
    load(pg(conn)?, &applied)?;
    let load_s = began.elapsed().as_secs_f64();
    let (tickets, deadlines, events): (i64, i64, i64) = {
        #[derive(QueryableByName)]
        struct Counts {
            #[diesel(sql_type = BigInt)]
            t: i64,
            #[diesel(sql_type = BigInt)]
            d: i64,
            #[diesel(sql_type = BigInt)]
            e: i64,
        }
        let c: Counts = diesel::sql_query(
            "SELECT (SELECT count(*) FROM tickets WHERE status = 'open') AS t, \
             (SELECT count(*) FROM sla_deadlines WHERE fired_at IS NULL) AS d, \
             (SELECT count(*) FROM ticket_events) AS e",
        )
        .get_result(pg(conn)?)?;
        (c.t, c.d, c.e)
    };
    println!("loaded in {load_s:.1} s: {tickets} open tickets, {deadlines} pending deadlines, {events} events");

    let tick = |db: atencion::db::Db| async move {
        let now = Utc::now();
        let began = Instant::now();
        let fired = db.write(move |c| scanner::tick(c, now, BATCH)).await?;
        anyhow::Ok((ms(began.elapsed()), fired))
    };

    // (a) Nothing due: every pending deadline is more than 1 h ahead.
    for _ in 0..5 {
        tick(db.clone()).await?;
    }
    let mut idle = Vec::with_capacity(TICKS);
    for _ in 0..TICKS {
        let (t, fired) = tick(db.clone()).await?;
        anyhow::ensure!(fired == 0, "idle tick fired {fired}");
        idle.push(t);
    }
    let idle = stats(&idle);
    print("(a) idle tick (nothing due)", &idle);

    // (c) The claim query alone, in a transaction that is rolled back: first with nothing due,
    // then with 100 rows made due inside the same transaction.
    let mut slot = 0_i64;
    let mut claim_idle = Vec::with_capacity(TICKS);
    let mut claim_due = Vec::with_capacity(TICKS);
    let mixed: Vec<&str> = (0..DUE_PER_TICK).map(|j| if j % 2 == 0 { "warning" } else { "breach" }).collect();
    for _ in 0..TICKS {
        let now = Utc::now();
        let began = Instant::now();
        let n = backend::claim_due_deadlines(conn, UtcTime::from(now), BATCH)?.len();
        claim_idle.push(ms(began.elapsed()));
        anyhow::ensure!(n == 0, "idle claim found {n}");
    }
    for _ in 0..TICKS {
        let mut sample = (0.0, 0, 0);
        let result = conn.transaction::<(), diesel::result::Error, _>(|c| {
            let now = Utc::now();
            let made = make_due(pg(c).map_err(|_| diesel::result::Error::RollbackTransaction)?, now, slot, &mixed)
                .map_err(|_| diesel::result::Error::RollbackTransaction)?;
            let began = Instant::now();
            let claimed = backend::claim_due_deadlines(c, UtcTime::from(now), BATCH)?.len();
            sample = (ms(began.elapsed()), claimed, made);
            Err(diesel::result::Error::RollbackTransaction)
        });
        anyhow::ensure!(matches!(result, Err(diesel::result::Error::RollbackTransaction)), "claim: {result:?}");
        anyhow::ensure!(
            sample.1 == sample.2 && sample.2 == DUE_PER_TICK as usize,
            "claim found {} of {}",
            sample.1,
            sample.2
        );
        claim_due.push(sample.0);
        slot += 1;
    }
    let claim_idle = stats(&claim_idle);
    let claim_due = stats(&claim_due);
    print("(c) claim query alone, nothing due", &claim_idle);
    print("(c) claim query alone, 100 due", &claim_due);

    let plan = explain_claim(conn, slot, &mixed)?;
    slot += 1;
    println!("claim plan with 100 due (rolled back):");
    for line in &plan {
        println!("    {line}");
    }

    // (b) Ticks that fire 100 deadlines each: mixed, then warnings only, then breaches only.
    let mut phases = Vec::new();
    let warnings = vec!["warning"; DUE_PER_TICK as usize];
    let breaches = vec!["breach"; DUE_PER_TICK as usize];
    for (name, kinds, ticks) in
        [("mixed", &mixed, TICKS), ("warnings", &warnings, TICKS / 2), ("breaches", &breaches, TICKS / 2)]
    {
        let mut per_tick = Vec::with_capacity(ticks);
        for _ in 0..ticks {
            let made = make_due(pg(conn)?, Utc::now(), slot, kinds)?;
            anyhow::ensure!(made == DUE_PER_TICK as usize, "made {made} due, wanted {DUE_PER_TICK}");
            slot += 1;
            let (t, fired) = tick(db.clone()).await?;
            anyhow::ensure!(fired == made, "tick fired {fired}, {made} were due");
            per_tick.push(t);
        }
        let s = stats(&per_tick);
        print(&format!("(b) tick firing 100 ({name})"), &s);
        println!("{:<44} p50 {:>8.3} ms per fired deadline", "", s.p50 / DUE_PER_TICK as f64);
        let mut j = json_of(&s);
        j["ticks"] = json!(ticks);
        j["p50_ms_per_deadline"] = json!((s.p50 / DUE_PER_TICK as f64 * 1000.0).round() / 1000.0);
        phases.push((name, j));
    }

    // (a') Nothing due again, after 200 ticks' worth of fired rows left dead index entries behind.
    let mut idle_after = Vec::with_capacity(TICKS);
    for _ in 0..TICKS {
        let (t, fired) = tick(db.clone()).await?;
        anyhow::ensure!(fired == 0, "idle tick fired {fired}");
        idle_after.push(t);
    }
    let idle_after = stats(&idle_after);
    print("(a') idle tick after firing", &idle_after);
    println!("claim plan with nothing due, after firing (rolled back):");
    for line in explain_claim(conn, slot, &[])? {
        println!("    {line}");
    }

    let worst_due = phases.iter().map(|(_, j)| j["p99_ms"].as_f64().unwrap_or(f64::MAX)).fold(0.0, f64::max);
    let pass_idle = idle.p99 <= TARGET_MS && idle_after.p99 <= TARGET_MS;
    let pass_due = worst_due <= TARGET_MS;
    println!(
        "target {TARGET_MS} ms per tick: idle {}, with 100 due {}",
        if pass_idle { "ok" } else { "MISSED" },
        if pass_due { "ok" } else { "MISSED" }
    );
    let mut summary = json!({
        "bench": "sla_scan",
        "open_tickets": tickets,
        "pending_deadlines": deadlines,
        "events": events,
        "load_s": (load_s * 10.0).round() / 10.0,
        "ticks": TICKS,
        "batch": BATCH,
        "due_per_tick": DUE_PER_TICK,
        "idle_tick": json_of(&idle),
        "idle_tick_after": json_of(&idle_after),
        "claim_idle": json_of(&claim_idle),
        "claim_100_due": json_of(&claim_due),
        "target_ms": TARGET_MS,
        "pass_idle": pass_idle,
        "pass_due": pass_due,
    });
    for (name, j) in phases {
        summary[format!("tick_100_due_{name}")] = j;
    }
    Ok(Run { summary })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/atencion_bench".into());
    let mut admin = PgConnection::establish(&base)
        .with_context(|| "BENCH_DATABASE_URL unreachable (create the database first, see the file header)")?;
    let schema = format!("sla_bench_{:08x}", rand::random::<u32>());
    admin.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut settings = Settings::defaults();
    settings.database.url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    settings.database.pool_size = 2;
    settings.sla.scan_interval_secs = 0;

    let outcome = run(&settings).await;
    let dropped = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    let run = outcome?;
    dropped.context("dropping the benchmark schema")?;
    println!("RESULT {}", run.summary);
    Ok(())
}
