//! Mixed-load benchmark against a running server (`benches/loadmix.sh` starts one on Postgres +
//! Redis): `--clients` workers drive a realistic mix for `--duration-secs` while a supervisor's
//! wallboard stream (`GET /api/v1/kpis/stream`) stays connected:
//!
//! | operation | share | request |
//! |---|---|---|
//! | `api_ticket` | 20 % | `POST /api/v1/tickets` |
//! | `web_form` | 10 % | `POST /api/v1/public/tickets` (the public form) |
//! | `email` | 20 % | `POST /api/v1/channels/email/inbound`, a new mail (new ticket) |
//! | `phone_call` | 10 % | four CTI events: queued, answered, ended, wrap-up ended |
//! | `reply` | 25 % | `POST /api/v1/tickets/{id}/messages`, an agent's public reply (mailed out) |
//! | `status` | 15 % | `PATCH /api/v1/tickets/{id}`, to `pending` or `solved` |
//!
//! Replies and status changes go to tickets the run created. Reported per operation: count, errors,
//! throughput, p50 / p99 (a phone call's latency is its four requests); the server's RSS (current
//! and peak) from `/proc`; and the event → SSE latency, measured with probe tickets: every
//! `--probe-ms` one ticket is created in a queue that receives nothing else (`--probe-queue`,
//! its id `--probe-queue-id`), and the k-th probe is visible once a frame shows that queue's
//! created count up by k; its latency is that frame's arrival minus the creation's response. Also
//! the live KPI projector's steps during the run (count, mean duration, share of the run spent in
//! them, from the server's `kpi_projector_step_seconds`) and the host's 1-minute load average, the
//! two things that event → SSE latency waits on. The last line is `RESULT {json}`. Exits non-zero on any 5xx or transport error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{percentile, round};

use anyhow::{bail, Context, Result};
use chrono::{SecondsFormat, Utc};
use clap::Parser;
use rand::Rng;
use serde_json::{json, Value};

const SSE_P99_TARGET_MS: f64 = 250.0;

#[derive(Parser, Debug)]
#[command(about = "Mixed load (web, API, email, phone, replies, status) with the wallboard stream connected")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Integration token: creates tickets, posts mail and call events.
    #[arg(long)]
    token: String,
    /// Agent token: replies and status changes.
    #[arg(long)]
    agent_token: String,
    /// The agent's email, named in the calls it answers.
    #[arg(long)]
    agent_email: String,
    /// Supervisor token: reads the stream.
    #[arg(long)]
    supervisor_token: String,
    #[arg(long)]
    probe_queue: String,
    #[arg(long)]
    probe_queue_id: i64,
    #[arg(long, default_value_t = 250)]
    probe_ms: u64,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
    /// PID of the server, to read its memory.
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    ApiTicket,
    WebForm,
    Email,
    PhoneCall,
    Reply,
    Status,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::ApiTicket => "api_ticket",
            Op::WebForm => "web_form",
            Op::Email => "email",
            Op::PhoneCall => "phone_call",
            Op::Reply => "reply",
            Op::Status => "status",
        }
    }

    /// The mix, in percent.
    fn pick(roll: u32) -> Op {
        match roll {
            0..20 => Op::ApiTicket,
            20..30 => Op::WebForm,
            30..50 => Op::Email,
            50..60 => Op::PhoneCall,
            60..85 => Op::Reply,
            _ => Op::Status,
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    /// Non-2xx answers by status.
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
}

struct Shared {
    args: Args,
    client: reqwest::Client,
    tickets: Mutex<Vec<i64>>,
    tallies: Mutex<BTreeMap<Op, Tally>>,
}

impl Shared {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.args.server)
    }

    fn record(&self, op: Op, began: Instant, outcome: Result<u16, reqwest::Error>) {
        let mut tallies = self.tallies.lock().expect("tallies");
        let tally = tallies.entry(op).or_default();
        match outcome {
            Ok(status) if (200..300).contains(&status) => tally.latencies_ms.push(ms(began.elapsed())),
            Ok(status) => *tally.statuses.entry(status).or_default() += 1,
            Err(_) => tally.transport_errors += 1,
        }
    }

    fn some_ticket(&self) -> Option<i64> {
        let tickets = self.tickets.lock().expect("tickets");
        (!tickets.is_empty()).then(|| tickets[rand::rng().random_range(0..tickets.len())])
    }

    fn remember(&self, body: &Value, field: &str) {
        if let Some(id) = body[field].as_i64() {
            let mut tickets = self.tickets.lock().expect("tickets");
            if tickets.len() < 50_000 {
                tickets.push(id);
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn ticket_json(n: u64, queue: Option<&str>) -> Value {
    json!({
        "subject": format!("No puedo adjuntar la oferta en la licitación ({n})"),
        "body": "Al subir el anexo técnico aparece un error y la oferta queda incompleta. Cierra mañana.",
        "requester": { "name": "Pedro Soto", "email": format!("pedro.soto+{}@proveedor.cl", n % 2_000), "segment": "proveedor" },
        "channel": "api",
        "queue": queue,
    })
}

fn mail(n: u64) -> String {
    format!(
        "From: Compradora {n} <compras{}@municipalidad.cl>\r\nTo: soporte@atencion.localhost\r\n\
         Subject: Orden de compra {n} rechazada\r\nMessage-ID: <{:032x}@loadmix.municipalidad.cl>\r\n\
         Date: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         La orden de compra {n} aparece rechazada sin motivo. ¿Pueden revisarla?\r\n",
        n % 500,
        rand::random::<u128>(),
        Utc::now().to_rfc2822()
    )
}

/// Sends one request; returns the status and the JSON body (or `Null`).
async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn run_op(s: &Shared, op: Op, n: u64) {
    let a = &s.args;
    let began = Instant::now();
    let outcome = match op {
        Op::ApiTicket => {
            let r =
                send(s.client.post(s.url("/api/v1/tickets")).bearer_auth(&a.token).json(&ticket_json(n, None))).await;
            r.map(|(status, body)| {
                s.remember(&body, "id");
                status
            })
        }
        Op::WebForm => {
            let form = json!({"name": "Camila Rojas", "email": format!("camila{}@gmail.com", n % 1_000),
                "segment": "ciudadano", "subject": format!("Consulta sobre compra ágil {n}"),
                "body": "¿Cómo participo en una compra ágil como persona natural?"});
            send(s.client.post(s.url("/api/v1/public/tickets")).json(&form)).await.map(|(status, _)| status)
        }
        Op::Email => {
            let r = send(
                s.client
                    .post(s.url("/api/v1/channels/email/inbound"))
                    .bearer_auth(&a.token)
                    .header("Content-Type", "message/rfc822")
                    .body(mail(n)),
            )
            .await;
            r.map(|(status, body)| {
                s.remember(&body, "ticket_id");
                status
            })
        }
        Op::PhoneCall => phone_call(s, n).await,
        Op::Reply => {
            let Some(id) = s.some_ticket() else { return };
            let body =
                json!({"body": "Gracias por escribirnos. Revisamos su caso y le confirmamos que ya está corregido."});
            let url = s.url(&format!("/api/v1/tickets/{id}/messages"));
            send(s.client.post(url).bearer_auth(&a.agent_token).json(&body)).await.map(|(status, _)| status)
        }
        Op::Status => {
            let Some(id) = s.some_ticket() else { return };
            let status = if n % 2 == 0 { "pending" } else { "solved" };
            let url = s.url(&format!("/api/v1/tickets/{id}"));
            send(s.client.patch(url).bearer_auth(&a.agent_token).json(&json!({ "status": status })))
                .await
                .map(|(status, _)| status)
        }
    };
    // A reply or status change on a ticket another worker just closed is a legitimate 409.
    let outcome = match outcome {
        Ok(409) if matches!(op, Op::Reply | Op::Status) => Ok(200),
        other => other,
    };
    s.record(op, began, outcome);
}

/// One answered call: queued, answered by the agent, ended, wrap-up ended. The first non-2xx
/// answer ends the sequence.
async fn phone_call(s: &Shared, n: u64) -> Result<u16, reqwest::Error> {
    let a = &s.args;
    let call_id = format!("loadmix-{:032x}", rand::random::<u128>());
    let from = format!("+5622{:07}", n % 10_000_000);
    let events = [
        json!({"event": "call.queued", "call_id": call_id, "at": now(), "from": from, "to": "+56226000000", "queue": "mesa-de-ayuda"}),
        json!({"event": "call.answered", "call_id": call_id, "at": now(), "agent": a.agent_email}),
        json!({"event": "call.ended", "call_id": call_id, "at": now(), "cause": "normalClearing"}),
        json!({"event": "call.wrapup_ended", "call_id": call_id, "at": now(), "agent": a.agent_email}),
    ];
    for event in events {
        let url = s.url("/api/v1/channels/phone/events");
        let (status, _) = send(s.client.post(url).bearer_auth(&a.token).json(&event)).await?;
        if !(200..300).contains(&status) {
            return Ok(status);
        }
    }
    Ok(200)
}

async fn worker(s: Arc<Shared>, until: Instant, first: u64) {
    let mut n = first;
    while Instant::now() < until {
        let op = Op::pick(rand::rng().random_range(0..100));
        run_op(&s, op, n).await;
        n += 1;
    }
}

/// Frames seen on the stream: arrival and the probe queue's created count.
type Frames = Arc<Mutex<Vec<(Instant, i64)>>>;

fn probe_created(frame: &str, scope: &str) -> Option<i64> {
    let data = frame.lines().find_map(|l| l.strip_prefix("data: "))?;
    let value: Value = serde_json::from_str(data).ok()?;
    let found = value["scopes"].as_array()?.iter().find(|s| s["scope"] == scope);
    // A queue with nothing yet has no scope in the frame.
    Some(found.map_or(0, |s| s["window"]["created"].as_i64().unwrap_or(0)))
}

async fn follow(mut response: reqwest::Response, scope: String, frames: Frames) -> Result<()> {
    let mut buffer = String::new();
    while let Some(chunk) = response.chunk().await? {
        let arrived = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(created) = probe_created(&frame, &scope) {
                frames.lock().expect("frames").push((arrived, created));
            }
        }
    }
    bail!("the stream ended")
}

/// Creates one probe ticket every `probe_ms` until `until`; returns when each creation returned.
async fn probes(s: Arc<Shared>, until: Instant) -> Result<Vec<Instant>> {
    let mut done = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(s.args.probe_ms));
    for n in 0.. {
        tick.tick().await;
        if Instant::now() >= until {
            break;
        }
        let body = ticket_json(1_000_000_000 + n, Some(&s.args.probe_queue));
        let (status, body) =
            send(s.client.post(s.url("/api/v1/tickets")).bearer_auth(&s.args.token).json(&body)).await?;
        if status != 201 {
            bail!("probe ticket: HTTP {status}: {body}");
        }
        done.push(Instant::now());
    }
    Ok(done)
}

/// The server's projector steps so far: (count, total seconds), from `/metrics`.
async fn projector_steps(client: &reqwest::Client, server: &str) -> Result<(f64, f64)> {
    let text = client.get(format!("{server}/metrics")).send().await?.text().await?;
    let value =
        |name: &str| -> f64 { text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0) };
    Ok((value("kpi_projector_step_seconds_count "), value("kpi_projector_step_seconds_sum ")))
}

/// The host's load average over the last minute (runnable processes; 2 cores here).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn memory_mb(pid: u32) -> Option<(f64, f64)> {
    let (rss, hwm) = common::memory_kb(pid).ok()?;
    Some((rss as f64 / 1024.0, hwm as f64 / 1024.0))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let stream = client
        .get(format!("{}/api/v1/kpis/stream?window=60", args.server))
        .bearer_auth(&args.supervisor_token)
        .send()
        .await
        .context("connecting to the stream")?;
    if !stream.status().is_success() {
        bail!("stream: HTTP {}", stream.status());
    }
    let frames: Frames = Arc::default();
    tokio::spawn(follow(stream, format!("q:{}", args.probe_queue_id), frames.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = frames.lock().expect("frames").last().map(|f| f.1).context("no frame on the stream")?;

    let (clients, duration) = (args.clients, Duration::from_secs(args.duration_secs));
    let pid = args.server_pid;
    let steps_before = projector_steps(&client, &args.server).await?;
    let shared = Arc::new(Shared { args, client, tickets: Mutex::default(), tallies: Mutex::default() });
    let began = Instant::now();
    let until = began + duration;
    let probe = tokio::spawn(probes(shared.clone(), until));
    let workers: Vec<_> =
        (0..clients).map(|w| tokio::spawn(worker(shared.clone(), until, w as u64 * 1_000_000))).collect();
    for w in workers {
        w.await?;
    }
    let probe_done = probe.await??;
    let elapsed = began.elapsed().as_secs_f64();
    let load = load_average();
    let steps_after = projector_steps(&shared.client, &shared.args.server).await?;
    let (steps, step_secs) = (steps_after.0 - steps_before.0, steps_after.1 - steps_before.1);
    let mean_step_ms = 1e3 * step_secs / steps.max(1.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let memory = pid.and_then(memory_mb);

    let frames = frames.lock().expect("frames").clone();
    let mut sse: Vec<f64> = Vec::new();
    let mut missing = 0;
    for (k, responded) in probe_done.iter().enumerate() {
        let needed = base + k as i64 + 1;
        match frames.iter().find(|(at, created)| *created >= needed && at >= responded) {
            Some((at, _)) => sse.push(ms(*at - *responded)),
            // A frame that arrived before the response was read: visible at once.
            None if frames.iter().any(|(_, created)| *created >= needed) => sse.push(0.0),
            None => missing += 1,
        }
    }
    sse.sort_by(f64::total_cmp);

    let tallies = std::mem::take(&mut *shared.tallies.lock().expect("tallies"));
    let mut ops = Vec::new();
    let mut failed = false;
    let mut total = 0;
    println!(
        "{:<12} {:>8} {:>8} {:>9} {:>9} {:>9}  errors",
        "operation", "count", "per s", "p50 ms", "p99 ms", "max ms"
    );
    for (op, mut t) in tallies {
        t.latencies_ms.sort_by(f64::total_cmp);
        let n = t.latencies_ms.len();
        total += n;
        let (p50, p99, max) = (
            percentile(&t.latencies_ms, 50.0),
            percentile(&t.latencies_ms, 99.0),
            t.latencies_ms.last().copied().unwrap_or(f64::NAN),
        );
        failed |= t.transport_errors > 0 || t.statuses.keys().any(|s| *s >= 500);
        println!(
            "{:<12} {n:>8} {:>8.1} {p50:>9.1} {p99:>9.1} {max:>9.1}  {:?} transport {}",
            op.name(),
            n as f64 / elapsed,
            t.statuses,
            t.transport_errors
        );
        ops.push(json!({"op": op.name(), "count": n, "per_sec": round(n as f64 / elapsed, 1), "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1), "max_ms": round(max, 1), "errors": t.statuses, "transport_errors": t.transport_errors}));
    }
    let sse_p99 = percentile(&sse, 99.0);
    println!(
        "total {total} operations in {elapsed:.1} s ({:.1}/s); event → SSE over {} probes: p50 {:.1} ms, p99 {sse_p99:.1} ms, max {:.1} ms, {missing} never seen (target p99 ≤ {SSE_P99_TARGET_MS} ms: {})",
        total as f64 / elapsed,
        sse.len(),
        percentile(&sse, 50.0),
        sse.last().copied().unwrap_or(f64::NAN),
        if sse_p99 <= SSE_P99_TARGET_MS && missing == 0 { "met" } else { "MISSED" }
    );
    println!(
        "projector: {steps} steps, mean {mean_step_ms:.1} ms, busy {:.0} % of the run; load average {}",
        100.0 * step_secs / elapsed,
        load.map_or("?".into(), |l| format!("{l:.2}"))
    );
    if let Some((rss, peak)) = memory {
        println!("server memory: RSS {rss:.1} MB, peak {peak:.1} MB");
    }
    let result = json!({
        "bench": "loadmix", "clients": clients, "duration_s": round(elapsed, 1), "operations": total,
        "per_sec": round(total as f64 / elapsed, 1), "ops": ops,
        "sse": {"probes": sse.len(), "missing": missing, "p50_ms": round(percentile(&sse, 50.0), 1), "p99_ms": round(sse_p99, 1),
            "max_ms": round(sse.last().copied().unwrap_or(f64::NAN), 1)},
        "rss_mb": memory.map(|m| round(m.0, 1)), "peak_rss_mb": memory.map(|m| round(m.1, 1)),
        "projector": {"steps": steps, "mean_step_ms": round(mean_step_ms, 1), "busy_pct": round(100.0 * step_secs / elapsed, 1)},
        "load_average_1m": load,
    });
    println!("RESULT {result}");
    if failed || missing > 0 {
        bail!("server errors, transport errors or probes never seen on the stream");
    }
    Ok(())
}
