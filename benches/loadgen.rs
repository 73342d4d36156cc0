//! Load benchmark: raw single-row INSERT into Postgres vs `POST /api/v1/tickets`.
//!
//! In one run, for each concurrency level it measures (a) autocommit single-row INSERTs of a
//! ticket-sized row straight into Postgres and (b) ticket creation through the running service,
//! then prints (b)/(a) and checks the targets: (b) ≥ 50 % of (a) at each level, p99 ≤ 10 ms at 4
//! clients, server RSS ≤ 150 MB. The last line is `RESULT {json}` with every figure.
//!
//! Deliberately independent of the `atencion` library crate.
//!
//! ```text
//! loadgen --server http://127.0.0.1:8080 --token TOKEN --database-url postgres://... \
//!         --concurrency 1,4 --duration-secs 10 --warmup-secs 2 [--server-pid PID]
//! ```
//!
//! With `--rounds R --server-pid PID` it measures memory as tickets accumulate instead: `R` rounds
//! of ticket creation only (the first client count, `--duration-secs` each, all left open), the
//! server's RSS after each, and the growth per ticket from the end of round 1 to the end of the
//! last (the first round warms the server up). Target: ≤ 150 MB throughout and ≤
//! `GROWTH_TARGET_BYTES` per ticket, i.e. flat.

use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::{percentile, round};

use anyhow::{ensure, Context, Result};
use chrono::Utc;
use clap::Parser;
use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel::{Connection, RunQueryDsl};
use serde::Serialize;
use serde_json::json;

const RATIO_TARGET_PCT: f64 = 50.0;
const P99_TARGET_MS: f64 = 10.0;
const P99_TARGET_CLIENTS: usize = 4;
const RSS_TARGET_MB: f64 = 150.0;
/// "Flat as tickets accumulate": what an open ticket may add to the server's RSS.
const GROWTH_TARGET_BYTES: f64 = 200.0;

const BODY: &str = "Buenos días. Desde ayer no puedo ingresar a Mercado Público con mi Clave Única: \
    después de escribir la contraseña la página vuelve al inicio sin mostrar ningún mensaje de error. \
    Probé con otro navegador y borrando las cookies, pero sigue igual. Necesito publicar una licitación \
    antes del viernes. ¿Pueden revisar si mi usuario está bloqueado? Gracias.";

#[derive(Parser, Debug, Clone)]
#[command(about = "Raw Postgres INSERT vs POST /api/v1/tickets throughput and latency")]
struct Args {
    /// Base URL of the running atencion server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Bearer token of an agent allowed to create tickets.
    #[arg(long)]
    token: String,
    /// The Postgres database the server uses (the raw phase writes a scratch table there).
    #[arg(long)]
    database_url: String,
    /// Comma-separated client counts.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    concurrency: Vec<usize>,
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// PID of the server, to report its memory from /proc/PID/status.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Measure memory as tickets accumulate, over this many rounds (see the header).
    #[arg(long)]
    rounds: Option<usize>,
}

/// When a phase starts measuring and when it stops issuing operations.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    until: Instant,
}

impl Window {
    fn starting_now(args: &Args) -> Self {
        let measure_from = Instant::now() + Duration::from_secs(args.warmup_secs);
        Window { measure_from, until: measure_from + Duration::from_secs(args.duration_secs) }
    }
}

/// What one worker saw during the measured part of a phase.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    failures: u64,
    first_failure: Option<String>,
    last_done: Option<Instant>,
}

impl Sample {
    fn record(&mut self, started: Instant, result: Result<(), String>, window: &Window) {
        if started < window.measure_from {
            return; // warm-up
        }
        let done = Instant::now();
        self.last_done = Some(done);
        match result {
            Ok(()) => self.latencies.push(done - started),
            Err(e) => {
                self.failures += 1;
                self.first_failure.get_or_insert(e);
            }
        }
    }
}

#[derive(Serialize, Clone, Debug)]
struct Phase {
    ops: u64,
    failures: u64,
    secs: f64,
    ops_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Phase {
    fn from_samples(name: &str, clients: usize, samples: Vec<Sample>, window: &Window) -> Phase {
        let last = samples.iter().filter_map(|s| s.last_done).max().unwrap_or(window.until);
        let secs = (last.max(window.until) - window.measure_from).as_secs_f64();
        let failures = samples.iter().map(|s| s.failures).sum();
        let first_failure = samples.iter().find_map(|s| s.first_failure.clone());
        let mut ms: Vec<f64> = samples.into_iter().flat_map(|s| s.latencies).map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let phase = Phase {
            ops: ms.len() as u64,
            failures,
            secs: round(secs, 2),
            ops_per_sec: round(ms.len() as f64 / secs, 2),
            p50_ms: round(percentile(&ms, 50.0), 2),
            p99_ms: round(percentile(&ms, 99.0), 2),
            max_ms: round(ms.last().copied().unwrap_or(0.0), 2),
        };
        println!(
            "{name:<7} c={clients}: {} ops in {:.2} s = {:.1} ops/s | p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms | {} failures",
            phase.ops, phase.secs, phase.ops_per_sec, phase.p50_ms, phase.p99_ms, phase.max_ms, phase.failures
        );
        if let Some(e) = first_failure {
            println!("        first failure: {e}");
        }
        phase
    }
}

fn subject(worker: usize, seq: u64) -> String {
    format!("No puedo ingresar a Mercado Público con mi Clave Única ({worker}-{seq})")
}

// ---------------------------------------------------------------- (a) raw INSERT

const RAW_TABLE: &str = "CREATE TABLE IF NOT EXISTS loadgen_raw_tickets (id BIGSERIAL PRIMARY KEY, \
    number TEXT NOT NULL, subject TEXT NOT NULL, status TEXT NOT NULL, \
    priority TEXT NOT NULL, channel TEXT NOT NULL, requester_id BIGINT NOT NULL, \
    created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)";

const RAW_INSERT: &str = "INSERT INTO loadgen_raw_tickets (number, subject, status, \
    priority, channel, requester_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

fn raw_insert(conn: &mut PgConnection, worker: usize, seq: u64) -> Result<(), String> {
    let subject = subject(worker, seq);
    let now = Utc::now();
    diesel::sql_query(RAW_INSERT)
        .bind::<Text, _>(format!("AU-2026-{:06}", worker as u64 * 1_000_000 + seq))
        .bind::<Text, _>(subject.as_str())
        .bind::<Text, _>("new")
        .bind::<Text, _>("normal")
        .bind::<Text, _>("api")
        .bind::<BigInt, _>(rand::random_range(1..100_000i64))
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .map(drop)
        .map_err(|e| format!("insert failed: {e}"))
}

fn run_raw(args: &Args, clients: usize) -> Result<Phase> {
    let conns = (0..clients)
        .map(|_| PgConnection::establish(&args.database_url).context("connecting to Postgres"))
        .collect::<Result<Vec<_>>>()?;
    let window = Window::starting_now(args);
    let samples = thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(worker, mut conn)| {
                scope.spawn(move || {
                    let mut sample = Sample::default();
                    for seq in 0.. {
                        let started = Instant::now();
                        if started >= window.until {
                            break;
                        }
                        let result = raw_insert(&mut conn, worker, seq);
                        sample.record(started, result, &window);
                    }
                    sample
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("raw worker panicked")).collect()
    });
    Ok(Phase::from_samples("raw", clients, samples, &window))
}

// ---------------------------------------------------------------- (b) service

fn ticket_json(worker: usize, seq: u64) -> serde_json::Value {
    json!({
        "subject": subject(worker, seq),
        "body": BODY,
        "requester": {
            "name": "Ana Pérez",
            "email": format!("ana.perez+{}@municipalidad.cl", rand::random::<u32>()),
            "segment": "comprador",
            "organization": "Municipalidad de Providencia",
        },
        "channel": "api",
        "priority": "normal",
        "category": "acceso-clave",
        "tags": ["bench"],
    })
}

async fn post_ticket(client: &reqwest::Client, url: &str, token: &str, worker: usize, seq: u64) -> Result<(), String> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&ticket_json(worker, seq))
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    // Read the whole body so the connection is reused.
    let body = response.text().await.map_err(|e| format!("reading response failed: {e}"))?;
    if status == reqwest::StatusCode::CREATED {
        Ok(())
    } else {
        Err(format!("HTTP {status}: {}", body.chars().take(500).collect::<String>()))
    }
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()
        .context("building HTTP client")
}

async fn run_service(args: &Args, url: &str, clients: usize) -> Result<Phase> {
    let window = Window::starting_now(args);
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let (client, url, token) = (http_client()?, url.to_owned(), args.token.clone());
        tasks.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            for seq in 0.. {
                let started = Instant::now();
                if started >= window.until {
                    break;
                }
                let result = post_ticket(&client, &url, &token, worker, seq).await;
                sample.record(started, result, &window);
            }
            sample
        }));
    }
    let mut samples = Vec::with_capacity(clients);
    for task in tasks {
        samples.push(task.await.context("service worker panicked")?);
    }
    Ok(Phase::from_samples("service", clients, samples, &window))
}

// ---------------------------------------------------------------- memory as tickets accumulate

#[derive(Serialize)]
struct Round {
    tickets: u64,
    rss_kb: u64,
}

async fn accumulate(args: &Args, url: &str, rounds: usize) -> Result<()> {
    let pid = args.server_pid.context("--rounds needs --server-pid")?;
    ensure!(rounds >= 2, "--rounds needs at least 2 rounds (the first warms up)");
    let clients = args.concurrency[0];
    let mut tickets = 0;
    let mut done = Vec::with_capacity(rounds);
    println!("round | tickets created | server RSS MB");
    for round_no in 1..=rounds {
        let phase = run_service(&Args { warmup_secs: 0, ..args.clone() }, url, clients).await?;
        ensure!(phase.failures == 0, "round {round_no}: {} creations failed", phase.failures);
        tickets += phase.ops;
        let memory = read_memory(pid)?;
        println!("{round_no:>5} | {tickets:>15} | {:>13.1}", mb(memory.rss_kb));
        done.push(Round { tickets, rss_kb: memory.rss_kb });
    }
    let (first, last) = (&done[0], &done[rounds - 1]);
    let growth = (last.rss_kb as f64 - first.rss_kb as f64) * 1024.0 / (last.tickets - first.tickets).max(1) as f64;
    let peak_mb = round(mb(read_memory(pid)?.hwm_kb), 1);
    let pass = peak_mb <= RSS_TARGET_MB && growth <= GROWTH_TARGET_BYTES;
    println!(
        "growth after round 1: {growth:.0} bytes per ticket (target ≤{GROWTH_TARGET_BYTES:.0}); peak {peak_mb:.1} MB \
         (target ≤{RSS_TARGET_MB:.0}): {}",
        verdict(pass)
    );
    let result = json!({
        "clients": clients, "secs_per_round": args.duration_secs, "rounds": done,
        "growth_bytes_per_ticket": round(growth, 0), "peak_rss_mb": peak_mb, "pass": pass,
    });
    println!("RESULT {result}");
    Ok(())
}

// ---------------------------------------------------------------- memory and report

#[derive(Serialize, Clone, Copy, Debug)]
struct Memory {
    rss_kb: u64,
    hwm_kb: u64,
}

fn read_memory(pid: u32) -> Result<Memory> {
    let (rss_kb, hwm_kb) = common::memory_kb(pid)?;
    Ok(Memory { rss_kb, hwm_kb })
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

#[derive(Serialize)]
struct Level {
    concurrency: usize,
    raw: Phase,
    service: Phase,
    ratio_pct: f64,
    ratio_pass: bool,
    /// Only judged at 4 clients.
    p99_pass: Option<bool>,
}

#[derive(Serialize)]
struct MemoryReport {
    before: Memory,
    after: Memory,
    peak_mb: f64,
    pass: bool,
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(!args.concurrency.is_empty() && !args.concurrency.contains(&0), "--concurrency needs client counts ≥ 1");
    ensure!(args.duration_secs > 0, "--duration-secs must be ≥ 1");
    let url = format!("{}/api/v1/tickets", args.server.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    let before = args.server_pid.map(read_memory).transpose()?;
    runtime
        .block_on(post_ticket(&http_client()?, &url, &args.token, 0, 0))
        .map_err(|e| anyhow::anyhow!("preflight POST {url} failed: {e}"))?;

    if let Some(rounds) = args.rounds {
        return runtime.block_on(accumulate(&args, &url, rounds));
    }

    let mut setup = PgConnection::establish(&args.database_url).context("connecting to Postgres")?;
    // Made anew each run: a table left by an older loadgen may have another shape.
    diesel::sql_query("DROP TABLE IF EXISTS loadgen_raw_tickets")
        .execute(&mut setup)
        .context("dropping loadgen_raw_tickets")?;
    diesel::sql_query(RAW_TABLE).execute(&mut setup).context("creating loadgen_raw_tickets")?;
    let measured = (|| -> Result<Vec<Level>> {
        let mut levels = Vec::new();
        for &c in &args.concurrency {
            println!("== {c} client(s): {} s warm-up + {} s measured per phase", args.warmup_secs, args.duration_secs);
            diesel::sql_query("TRUNCATE loadgen_raw_tickets").execute(&mut setup)?;
            let raw = run_raw(&args, c)?;
            let service = runtime.block_on(run_service(&args, &url, c))?;
            let ratio_pct =
                if raw.ops_per_sec > 0.0 { round(100.0 * service.ops_per_sec / raw.ops_per_sec, 2) } else { 0.0 };
            let p99_pass =
                (c == P99_TARGET_CLIENTS).then_some(service.failures == 0 && service.p99_ms <= P99_TARGET_MS);
            let ratio_pass = service.failures == 0 && ratio_pct >= RATIO_TARGET_PCT;
            levels.push(Level { concurrency: c, raw, service, ratio_pct, ratio_pass, p99_pass });
        }
        Ok(levels)
    })();
    let dropped = diesel::sql_query("DROP TABLE IF EXISTS loadgen_raw_tickets").execute(&mut setup);
    let levels = measured?;
    dropped.context("dropping loadgen_raw_tickets")?;

    println!();
    println!("clients |   raw ops/s | service ops/s | (b)/(a) | target ≥{RATIO_TARGET_PCT:.0}% | service p99 ms | p99 ≤{P99_TARGET_MS:.0} ms");
    for l in &levels {
        let p99_check = l.p99_pass.map_or("-", verdict);
        println!(
            "{:>7} | {:>11.1} | {:>13.1} | {:>6.1}% | {:>11} | {:>14.2} | {:>9}",
            l.concurrency,
            l.raw.ops_per_sec,
            l.service.ops_per_sec,
            l.ratio_pct,
            verdict(l.ratio_pass),
            l.service.p99_ms,
            p99_check
        );
    }
    if !levels.iter().any(|l| l.concurrency == P99_TARGET_CLIENTS) {
        println!("(p99 target not judged: no run at {P99_TARGET_CLIENTS} clients)");
    }

    let memory = match (args.server_pid, before) {
        (Some(pid), Some(before)) => {
            let after = read_memory(pid)?;
            let peak_mb = round(mb(after.hwm_kb.max(after.rss_kb)), 2);
            let pass = peak_mb <= RSS_TARGET_MB;
            println!(
                "server RSS: before {:.1} MB, after {:.1} MB, peak (VmHWM) {:.1} MB, target ≤{RSS_TARGET_MB:.0} MB: {}",
                mb(before.rss_kb),
                mb(after.rss_kb),
                peak_mb,
                verdict(pass)
            );
            Some(MemoryReport { before, after, peak_mb, pass })
        }
        _ => {
            println!("server RSS: not measured (no --server-pid)");
            None
        }
    };

    let pass =
        levels.iter().all(|l| l.ratio_pass && l.p99_pass != Some(false)) && memory.as_ref().is_none_or(|m| m.pass);
    println!("overall: {}", verdict(pass));
    let result = json!({
        "server": args.server,
        "duration_secs": args.duration_secs,
        "warmup_secs": args.warmup_secs,
        "targets": {
            "ratio_pct_min": RATIO_TARGET_PCT,
            "p99_ms_max": P99_TARGET_MS,
            "p99_clients": P99_TARGET_CLIENTS,
            "rss_mb_max": RSS_TARGET_MB,
        },
        "levels": levels,
        "memory": memory,
        "pass": pass,
    });
    println!("RESULT {result}");
    Ok(())
}
