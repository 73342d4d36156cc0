//! Live KPI benchmark: event → visible on the SSE stream, under ticket-creation load, and Redis
//! commands per event.
//!
//! A supervisor's stream (`GET /api/v1/kpis/stream?window=60`) stays connected while `--clients`
//! workers create tickets for `--duration-secs`. The k-th ticket whose creation returned is
//! visible once a pushed frame shows at least k more tickets created than the first frame did;
//! its latency is that frame's arrival minus the response's.
//!
//! Redis round trips per event: the server counts each request it sends to the live store's Redis
//! (a command or a pipeline) in `kpi_redis_round_trips_total{purpose}` on `/metrics`; the bench
//! divides what updating took (`apply`, `cursor`) by the events written meanwhile (rows of the
//! three event logs); reads for the stream (`snapshot`) are reported apart. With `--redis-url` (a
//! Redis the server alone uses) it also shows the commands Redis executed (`INFO commandstats`,
//! which counts each command inside a script or pipeline). The last line is `RESULT {json}`.
//!
//! ```text
//! kpi_latency --server http://127.0.0.1:8080 --token TOKEN --supervisor-token TOKEN \
//!             --database-url postgres://... [--redis-url redis://127.0.0.1:16379/] \
//!             --clients 4 --duration-secs 10
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{percentile, round};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use diesel::pg::PgConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use serde_json::{json, Value};

const P99_TARGET_MS: f64 = 250.0;
const ROUND_TRIPS_PER_EVENT_TARGET: f64 = 1.0;

#[derive(Parser, Debug)]
#[command(about = "Event → SSE latency of the live KPIs under ticket-creation load")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Token allowed to create tickets.
    #[arg(long)]
    token: String,
    /// Token of a supervisor (reads the stream).
    #[arg(long)]
    supervisor_token: String,
    /// The Postgres database the server uses (events are counted there).
    #[arg(long)]
    database_url: String,
    /// The Redis the server keeps its live KPIs in, used by nothing else during the run.
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value_t = 4)]
    clients: usize,
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
}

/// Frames seen on the stream: arrival and tickets created in the window.
type Frames = Arc<Mutex<Vec<(Instant, i64)>>>;

fn created_in(frame: &str) -> Option<i64> {
    let data = frame.lines().find_map(|l| l.strip_prefix("data: "))?;
    let value: Value = serde_json::from_str(data).ok()?;
    let all = value["scopes"].as_array()?.iter().find(|s| s["scope"] == "all")?;
    all["window"]["created"].as_i64()
}

/// Reads the stream until the process ends, recording every `kpis` frame.
async fn follow(response: reqwest::Response, frames: Frames) -> Result<()> {
    let mut response = response;
    let mut buffer = String::new();
    while let Some(chunk) = response.chunk().await? {
        let arrived = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(created) = created_in(&frame) {
                frames.lock().expect("frames").push((arrived, created));
            }
        }
    }
    bail!("the stream ended")
}

fn ticket_json(worker: usize, seq: u64) -> Value {
    json!({
        "subject": format!("No puedo adjuntar la oferta en la licitación ({worker}-{seq})"),
        "body": "Al subir el anexo técnico aparece un error y la oferta queda incompleta. Cierra mañana.",
        "requester": {
            "name": "Pedro Soto",
            "email": format!("pedro.soto+{}@proveedor.cl", rand::random::<u32>()),
            "segment": "proveedor",
        },
        "channel": "api",
        "category": "acceso-clave",
    })
}

/// Creates tickets until `until`; returns when each creation returned.
async fn create_until(
    client: reqwest::Client,
    url: String,
    token: String,
    worker: usize,
    until: Instant,
) -> Result<Vec<Instant>> {
    let mut done = Vec::new();
    for seq in 0.. {
        if Instant::now() >= until {
            break;
        }
        let response = client.post(&url).bearer_auth(&token).json(&ticket_json(worker, seq)).send().await?;
        let status = response.status();
        let body = response.text().await?;
        ensure!(status == reqwest::StatusCode::CREATED, "HTTP {status}: {body}");
        done.push(Instant::now());
    }
    Ok(done)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn events_written(conn: &mut PgConnection) -> Result<i64> {
    let sql = "SELECT (SELECT count(*) FROM ticket_events) + (SELECT count(*) FROM call_events) \
               + (SELECT count(*) FROM agent_presence_log) AS n";
    Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n)
}

/// Calls per command from `INFO commandstats`.
fn command_calls(url: &str) -> Result<BTreeMap<String, i64>> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut conn)?;
    Ok(info
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?.parse().ok()?;
            Some((name.to_owned(), calls))
        })
        .collect())
}

/// The server's `kpi_redis_round_trips_total` by purpose.
async fn round_trips(client: &reqwest::Client, base_url: &str) -> Result<BTreeMap<String, f64>> {
    let text = client.get(format!("{base_url}/metrics")).send().await?.text().await?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("kpi_redis_round_trips_total{purpose=\"")?;
            let (purpose, value) = rest.split_once("\"} ")?;
            Some((purpose.to_owned(), value.trim().parse().ok()?))
        })
        .collect())
}

/// Latency of each creation: first frame showing it minus its response; `None` if never shown.
fn latencies(mut done: Vec<Instant>, frames: &[(Instant, i64)], base: i64) -> Vec<Option<f64>> {
    done.sort();
    done.iter()
        .enumerate()
        .map(|(k, at)| {
            let needed = base + k as i64 + 1;
            let (seen, _) = frames.iter().find(|(_, created)| *created >= needed)?;
            Some(seen.saturating_duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect()
}

async fn run(args: &Args) -> Result<Value> {
    let base_url = args.server.trim_end_matches('/');
    let sse = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let response = sse
        .get(format!("{base_url}/api/v1/kpis/stream?window=60"))
        .bearer_auth(&args.supervisor_token)
        .send()
        .await
        .context("connecting to the stream")?;
    ensure!(response.status().is_success(), "stream: HTTP {}", response.status());
    let frames: Frames = Arc::default();
    let follower = tokio::spawn(follow(response, frames.clone()));
    let first = Instant::now();
    let base = loop {
        if let Some((_, created)) = frames.lock().expect("frames").first() {
            break *created;
        }
        ensure!(first.elapsed() < Duration::from_secs(10), "no frame on the stream within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    let mut db = PgConnection::establish(&args.database_url).context("connecting to Postgres")?;
    let events_before = events_written(&mut db)?;
    let calls_before = args.redis_url.as_deref().map(command_calls).transpose()?;
    let trips_before = round_trips(&sse, base_url).await?;

    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration_secs);
    let mut workers = Vec::new();
    for worker in 0..args.clients {
        let client = reqwest::Client::builder().tcp_nodelay(true).timeout(Duration::from_secs(10)).build()?;
        let (url, token) = (format!("{base_url}/api/v1/tickets"), args.token.clone());
        workers.push(tokio::spawn(create_until(client, url, token, worker, until)));
    }
    let mut done = Vec::new();
    for worker in workers {
        done.extend(worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let target = base + done.len() as i64;
    let drain = Instant::now();
    while frames.lock().expect("frames").last().is_none_or(|(_, c)| *c < target)
        && drain.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    follower.abort();

    let frames = frames.lock().expect("frames").clone();
    let measured = latencies(done.clone(), &frames, base);
    let missing = measured.iter().filter(|l| l.is_none()).count();
    let mut ms: Vec<f64> = measured.into_iter().flatten().collect();
    ms.sort_by(f64::total_cmp);
    let (p50, p99, max) = (percentile(&ms, 50.0), percentile(&ms, 99.0), ms.last().copied().unwrap_or(0.0));
    println!(
        "tickets: {} in {elapsed:.1} s ({:.0}/s) with {} clients; frames pushed: {}",
        done.len(),
        done.len() as f64 / elapsed,
        args.clients,
        frames.len()
    );
    let pass_latency = missing == 0 && p99 <= P99_TARGET_MS;
    println!(
        "event → SSE: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms, never shown {missing} (target p99 ≤ {P99_TARGET_MS} ms: {})",
        if pass_latency { "PASS" } else { "FAIL" }
    );

    let events = events_written(&mut db)? - events_before;
    let trips_after = round_trips(&sse, base_url).await?;
    let trips = |purpose: &str| {
        trips_after.get(purpose).copied().unwrap_or(0.0) - trips_before.get(purpose).copied().unwrap_or(0.0)
    };
    let update_trips = trips("apply") + trips("cursor");
    let trips_per_event = update_trips / events.max(1) as f64;
    let trips_pass = trips_after.is_empty() || trips_per_event <= ROUND_TRIPS_PER_EVENT_TARGET;
    println!(
        "redis round trips: {update_trips} to apply {events} events = {trips_per_event:.3} per event (target ≤ {ROUND_TRIPS_PER_EVENT_TARGET}: {}); {} snapshot reads for the stream{}",
        if trips_pass { "PASS" } else { "FAIL" },
        trips("snapshot"),
        if trips_after.is_empty() { " (the server keeps its KPIs in process: no Redis)" } else { "" }
    );
    let redis = match (args.redis_url.as_deref(), calls_before) {
        (Some(url), Some(before)) => {
            // The stream and projector are idle by now; INFO itself is excluded.
            let after = command_calls(url)?;
            let delta: BTreeMap<String, i64> = after
                .into_iter()
                .filter(|(name, _)| name != "info")
                .map(|(name, calls)| {
                    let d = calls - before.get(&name).copied().unwrap_or(0);
                    (name, d)
                })
                .filter(|(_, d)| *d > 0)
                .collect();
            let scripts = delta.get("evalsha").copied().unwrap_or(0) + delta.get("eval").copied().unwrap_or(0);
            let total = delta.values().sum::<i64>();
            println!(
                "redis executed {scripts} scripts ({:.3} per event) and {total} commands in all ({:.3} per event): {delta:?}",
                scripts as f64 / events.max(1) as f64,
                total as f64 / events.max(1) as f64
            );
            Some(json!({ "scripts_per_event": round(scripts as f64 / events.max(1) as f64, 3),
                "commands_per_event": round(total as f64 / events.max(1) as f64, 3), "commands": delta }))
        }
        _ => None,
    };
    Ok(json!({
        "clients": args.clients,
        "tickets": done.len(),
        "tickets_per_sec": round(done.len() as f64 / elapsed, 2),
        "events": events,
        "sse_frames": frames.len(),
        "latency_ms": { "p50": round(p50, 2), "p99": round(p99, 2), "max": round(max, 2), "never_shown": missing },
        "latency_pass": pass_latency,
        "round_trips": { "update": update_trips, "per_event": round(trips_per_event, 3), "snapshot": trips("snapshot"), "pass": trips_pass },
        "redis": redis,
    }))
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.clients > 0 && args.duration_secs > 0, "--clients and --duration-secs must be ≥ 1");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(run(&args))?;
    println!("RESULT {result}");
    Ok(())
}
