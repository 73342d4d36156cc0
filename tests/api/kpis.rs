//! Contact-center figures through the API.

use std::time::Instant;

use atencion::domain::Role;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

on_all_backends! {
    async fn staffing_forecast_matches_the_published_erlang_c_values(app) {
        // 100 calls per 30 minutes, AHT 180 s: 10 Erlangs; 80 % within 20 s needs 14 agents.
        let input = json!({"arrivals": 100.0, "interval_secs": 1800.0, "aht_secs": 180.0, "target_service_level": 0.8,
            "answer_secs": 20.0, "max_occupancy": 1.0, "shrinkage": 0.3});
        let reply = app.post("/api/v1/kpis/staffing", input.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let s = &reply.body;
        assert_eq!((s["traffic"].as_f64(), s["agents"].as_u64(), s["scheduled"].as_u64()), (Some(10.0), Some(14), Some(20)));
        assert!((s["probability_of_waiting"].as_f64().unwrap() - 0.1741).abs() < 0.0005, "{s}");
        assert!((s["service_level"].as_f64().unwrap() - 0.888).abs() < 0.001, "{s}");
        assert!((s["asa_seconds"].as_f64().unwrap() - 7.84).abs() < 0.01, "{s}");

        let bad = json!({"arrivals": -1.0, "interval_secs": 0.0, "aht_secs": 180.0, "target_service_level": 1.5,
            "answer_secs": 20.0, "max_occupancy": 1.0, "shrinkage": 0.3});
        assert_eq!(assert_problem(&app.post("/api/v1/kpis/staffing", bad).await, 422), ["arrivals", "interval_secs", "target_service_level"]);
        let agent = app.token(Role::Agent).await;
        assert_problem(&app.call(Method::POST, "/api/v1/kpis/staffing", Some(&agent), Some(&input)).await, 403);
    }
}

// ------------------------------------------------------------------------- live KPIs

const PHONE: &str = "/api/v1/channels/phone/events";

fn at(base: DateTime<Utc>, seconds: i64) -> String {
    (base + TimeDelta::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Polls the realtime figures until `ready` holds for the `scope` (the projector runs every
/// 200 ms), failing with the last figures after 10 s.
pub async fn figures_until(app: &TestApp, query: &str, scope: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = app.get(&format!("/api/v1/kpis/realtime{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let found = reply.body["scopes"].as_array().unwrap().iter().find(|s| s["scope"] == scope).cloned();
        if let Some(s) = found.filter(|s| ready(s)) {
            return s;
        }
        assert!(Instant::now() < deadline, "figures of {scope} never became ready: {}", reply.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn queue_id(app: &TestApp, slug: &str) -> i64 {
    let queues = app.get("/api/v1/queues").await;
    queues.body["items"].as_array().or(queues.body.as_array()).unwrap().iter().find(|q| q["slug"] == slug).unwrap()
        ["id"]
        .as_i64()
        .unwrap()
}

// A solved ticket the requester writes to again counts as reopened, in the window and today.
on_all_backends! {
    async fn a_solved_ticket_that_comes_back_counts_as_reopened(app) {
        let body = json!({"subject": "Clave", "body": "No puedo entrar", "requester": {"name": "Ana", "email": "re@example.cl"}});
        let id = app.post("/api/v1/tickets", body).await.body["id"].as_i64().unwrap();
        assert_eq!(app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "solved"})).await.status, StatusCode::OK);
        let s = figures_until(&app, "", "all", |s| s["window"]["solved"] == 1).await;
        assert_eq!(s["window"]["reopened"].as_i64(), Some(0), "{s}");
        let again = app.post(&format!("/api/v1/tickets/{id}/messages"), json!({"body": "Sigue igual", "from_requester": true})).await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
        assert_eq!(app.get(&format!("/api/v1/tickets/{id}")).await.body["status"], "open");
        let s = figures_until(&app, "", "all", |s| s["window"]["reopened"] == 1).await;
        assert_eq!(s["window"]["solved"].as_i64(), Some(1), "{s}");
        let today = figures_until(&app, "?window=today", "all", |_| true).await;
        assert_eq!(today["window"]["reopened"].as_i64(), Some(1), "{today}");
    }
}

on_all_backends! {
    async fn live_kpis_follow_tickets_calls_and_agents_and_a_rebuild_gives_the_same_state(app) {
        let q = queue_id(&app, "mesa-de-ayuda").await;
        let scope = format!("q:{q}");
        // Tickets: two new in the queue, one answered by an agent and solved.
        let mut ids = Vec::new();
        for n in 0..3 {
            let body = json!({"subject": format!("Consulta {n}"), "body": "Detalle", "queue": "mesa-de-ayuda",
                "requester": {"name": "Ana", "email": format!("kpi{n}@example.cl")}});
            let reply = app.post("/api/v1/tickets", body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            ids.push(reply.body["id"].as_i64().unwrap());
        }
        let reply = app.post(&format!("/api/v1/tickets/{}/messages", ids[0]), json!({"body": "Respuesta", "visibility": "public"})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(app.patch(&format!("/api/v1/tickets/{}", ids[0]), json!({"status": "solved"})).await.status, StatusCode::OK);

        // Calls: answered after 12 s, answered after 40 s, abandoned after 30 s, short abandon, one still waiting.
        let pbx = app.token(Role::Integration).await;
        let agent = app.post("/api/v1/agents", json!({"name": "Ana Rojas", "role": "agent", "extension": "101"})).await;
        let agent_id = agent.body["id"].as_i64().unwrap();
        let base = Utc::now() - TimeDelta::minutes(5);
        let queued = |id: &str, s: i64| json!({"event": "call.queued", "call_id": id, "at": at(base, s), "from": "+56 9 8765 4321", "queue": "mesa-de-ayuda"});
        let answered = |id: &str, s: i64| json!({"event": "call.answered", "call_id": id, "at": at(base, s), "agent": "101"});
        let ended = |id: &str, s: i64, cause: &str| json!({"event": "call.ended", "call_id": id, "at": at(base, s), "cause": cause});
        let waiting_since = Utc::now() - TimeDelta::seconds(30);
        for event in [
            queued("k1", 0), answered("k1", 12), ended("k1", 100, "normalClearing"),
            queued("k2", 0), answered("k2", 40), ended("k2", 200, "normalClearing"),
            queued("k3", 0), ended("k3", 30, "cancel"),
            queued("k4", 0), ended("k4", 2, "cancel"),
            json!({"event": "call.queued", "call_id": "k5", "at": waiting_since.to_rfc3339_opts(SecondsFormat::Secs, true), "from": "+56 9 1111 2222", "queue": "mesa-de-ayuda"}),
        ] {
            let reply = app.call(Method::POST, PHONE, Some(&pbx), Some(&event)).await;
            assert_eq!(reply.status, StatusCode::OK, "{event} → {}", reply.body);
        }
        let presence = app.call(Method::PUT, &format!("/api/v1/agents/{agent_id}/presence"), Some(&app.admin), Some(&json!({"presence": "available"}))).await;
        assert_eq!(presence.status, StatusCode::OK, "{}", presence.body);

        let s = figures_until(&app, "", &scope, |s| s["window"]["offered"] == 5 && s["window"]["abandoned"] == 2 && s["window"]["solved"] == 1 && s["waiting"] == 3).await;
        let w = &s["window"];
        assert_eq!(s["label"], "Mesa de Ayuda", "{s}");
        assert_eq!((w["offered"].as_i64(), w["answered"].as_i64(), w["abandoned"].as_i64(), w["short_abandoned"].as_i64()), (Some(5), Some(2), Some(2), Some(1)));
        // 1 of (2 answered + 2 abandoned − 1 short) within 20 s.
        assert_eq!(w["service_level"].as_f64(), Some(1.0 / 3.0), "{s}");
        assert_eq!(w["asa_seconds"].as_f64(), Some(26.0));
        assert_eq!(w["abandonment_rate"].as_f64(), Some(0.25), "(2 − 1) ÷ (5 − 1)");
        // Answered calls open tickets for the agent: 3 web/API tickets + 2 phone tickets created.
        assert_eq!(w["created"].as_i64(), Some(5), "{s}");
        assert_eq!(w["solved"].as_i64(), Some(1));
        assert_eq!(w["replies"].as_i64(), Some(1));
        assert!(w["first_reply_p50_seconds"].as_i64().is_some(), "{s}");
        // The waiting call k5 and the two unassigned new tickets.
        assert_eq!(s["waiting"].as_i64(), Some(3), "{s}");
        assert!(s["longest_wait_seconds"].as_i64().unwrap() >= 29, "{s}");
        assert_eq!(s["backlog"]["new"].as_i64(), Some(2), "{s}");
        let all = figures_until(&app, "", "all", |s| s["agents"]["available"] == 1).await;
        assert_eq!(all["window"]["created"].as_i64(), Some(5));
        let phone = figures_until(&app, "?channel=phone&window=today", "ch:phone", |_| true).await;
        assert_eq!(phone["window"]["answered"].as_i64(), Some(2));

        // Rebuilding from the event logs gives exactly the state built event by event.
        let now = Utc::now();
        let incremental = app.live.store.snapshot(now).await.unwrap().normalized();
        let rebuilt = app.post("/api/v1/kpis/rebuild", json!({})).await;
        assert_eq!(rebuilt.status, StatusCode::OK, "{}", rebuilt.body);
        let rebuilt = app.live.store.snapshot(now).await.unwrap().normalized();
        assert_eq!(rebuilt, incremental);
        assert!(!incremental.minutes.is_empty() && !incremental.gauges.is_empty() && !incremental.waiting.is_empty());
    }

    async fn realtime_checks_its_parameters_and_the_role(app) {
        assert_eq!(assert_problem(&app.get("/api/v1/kpis/realtime?window=45").await, 422), ["window"]);
        assert_eq!(assert_problem(&app.get("/api/v1/kpis/realtime?queue=no-existe").await, 422), ["queue"]);
        assert_eq!(assert_problem(&app.get("/api/v1/kpis/realtime?queue=mesa-de-ayuda&channel=web").await, 422), ["queue"]);
        assert_eq!(assert_problem(&app.get("/api/v1/kpis/realtime?colour=red").await, 422), ["colour"]);
        for role in [Role::Agent, Role::Department, Role::Integration] {
            let token = app.token(role).await;
            assert_problem(&app.call(Method::GET, "/api/v1/kpis/realtime", Some(&token), None).await, 403);
            assert_problem(&app.call(Method::GET, "/api/v1/kpis/stream", Some(&token), None).await, 403);
        }
        let supervisor = app.token(Role::Supervisor).await;
        let reply = app.call(Method::GET, "/api/v1/kpis/realtime?window=today", Some(&supervisor), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["window"], "today");
        assert_eq!(reply.body["stale"], false);
        assert_eq!(reply.body["store"], if app.backend == Backend::Postgres { "redis" } else { "memory" });
        assert_problem(&app.call(Method::POST, "/api/v1/kpis/rebuild", Some(&supervisor), None).await, 403);
    }

    async fn the_stream_pushes_a_new_ticket_within_a_second(app) {
        let mut stream = app
            .client
            .get(format!("{}/api/v1/kpis/stream?queue=mesa-de-ayuda", app.address))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        assert_eq!(stream.headers()["content-type"], "text/event-stream");
        let first = next_event(&mut stream).await;
        assert_eq!(first["scopes"][0]["window"]["created"], 0, "{first}");
        let sent = Instant::now();
        let body = json!({"subject": "En la cola", "body": "x", "queue": "mesa-de-ayuda", "requester": {"name": "B", "email": "sse2@example.cl"}});
        assert_eq!(app.post("/api/v1/tickets", body).await.status, StatusCode::CREATED);
        loop {
            let event = next_event(&mut stream).await;
            if event["scopes"][0]["window"]["created"] == 1 {
                assert_eq!(event["scopes"][0]["backlog"]["new"], 1, "{event}");
                break;
            }
        }
        assert!(sent.elapsed() < std::time::Duration::from_secs(1), "pushed after {:?}", sent.elapsed());
    }
}

/// The next `kpis` event of a stream (keep-alive comments skipped).
pub(crate) async fn next_event(stream: &mut reqwest::Response) -> Value {
    let mut buffer = String::new();
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("stream open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                return serde_json::from_str(data).unwrap();
            }
        }
    }
}

/// Both stores follow the same rules: counters once per event id, tracked contributions
/// replaced by newer versions only, waiting entries with their scope.
#[tokio::test]
async fn memory_and_redis_stores_agree() {
    use atencion::domain::live::{Mark, Op};
    use atencion::kpi::KpiStore;
    let mut stores = vec![KpiStore::memory()];
    if let Some(url) = redis_url() {
        stores.push(KpiStore::redis(redis::Client::open(url).unwrap(), &format!("t{:016x}", rand::random::<u64>())));
    }
    let now = Utc::now();
    let minute = now.timestamp().div_euclid(60);
    let day = now.with_timezone(&chrono_tz::America::Santiago).date_naive();
    let count = |field: &str, by: i64| Op::Count { minute, day, field: field.into(), by };
    let track = |member: &str, version: i64, marks: Vec<Mark>| Op::Track { member: member.into(), version, marks };
    let mut snapshots = Vec::new();
    for store in &stores {
        assert!(store.is_empty().await.unwrap());
        assert!(store.apply("t:1", minute, &[count("all|created", 1), count("q:1|created", 1)]).await.unwrap());
        assert!(!store.apply("t:1", minute, &[count("all|created", 1)]).await.unwrap(), "replayed event");
        assert!(store.apply("t:2", minute, &[count("all|created", 1)]).await.unwrap());
        let waiting = |since_ms| Mark::Waiting { scope: "q:1".into(), since_ms };
        store
            .apply("", 0, &[track("t:1", 5, vec![Mark::Gauge("backlog|q:1|new".into()), waiting(1000)])])
            .await
            .unwrap();
        store.apply("", 0, &[track("t:1", 7, vec![Mark::Gauge("backlog|q:1|open".into())])]).await.unwrap();
        // An older version arriving late changes nothing.
        store.apply("", 0, &[track("t:1", 6, vec![Mark::Gauge("backlog|q:1|pending".into())])]).await.unwrap();
        store
            .apply("", 0, &[track("t:2", 3, vec![Mark::Gauge("backlog|q:1|open".into()), waiting(2000)])])
            .await
            .unwrap();
        store.apply("", 0, &[track("t:3", 1, vec![Mark::Gauge("backlog|q:1|new".into())])]).await.unwrap();
        store.apply("", 0, &[track("t:3", 2, vec![])]).await.unwrap();
        assert!(store.raise_cursor("ticket_events", 9, "inst").await.unwrap());
        assert!(store.raise_cursor("ticket_events", 4, "inst").await.unwrap());
        assert_eq!(store.cursor("ticket_events").await.unwrap(), 9, "{}", store.kind());
        // State recorded for another installation (database) is not advanced.
        store.set_installation("otra").await.unwrap();
        assert_eq!(store.installation().await.unwrap().as_deref(), Some("otra"));
        assert!(!store.raise_cursor("ticket_events", 12, "inst").await.unwrap());
        assert_eq!(store.cursor("ticket_events").await.unwrap(), 9, "{}", store.kind());
        store.set_installation("inst").await.unwrap();
        assert!(!store.is_empty().await.unwrap());
        let snapshot = store.snapshot(now).await.unwrap().normalized();
        assert_eq!(snapshot.gauges.get("backlog|q:1|open"), Some(&2), "{}: {snapshot:?}", store.kind());
        assert_eq!(snapshot.gauges.get("backlog|q:1|new"), None, "{}: {snapshot:?}", store.kind());
        assert_eq!(snapshot.waiting, [("q:1".to_owned(), "t:2".to_owned(), 2000)]);
        assert_eq!(snapshot.today.get("all|created"), Some(&2));
        assert_eq!(snapshot.minutes[&minute].get("q:1|created"), Some(&1));
        snapshots.push(snapshot);
        store.reset().await.unwrap();
        assert!(store.is_empty().await.unwrap());
        assert_eq!(store.snapshot(now).await.unwrap().normalized(), Default::default());
    }
    if let [memory, redis] = &snapshots[..] {
        assert_eq!(memory, redis);
    }
}

/// A Redis of the test's own, on a free port, that the test can stop and start again.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    pub fn start(port: u16) -> PrivateRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        // Owned at once, so the process is stopped and reaped even if it never answers.
        let redis = PrivateRedis { port, child: Some(child) };
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        for _ in 0..100 {
            if client.get_connection().is_ok() {
                return redis;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("private redis-server did not come up on port {port}");
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: an outage that loses nothing, where
    /// requests sent meanwhile may still be executed later.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = std::process::Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Redis down: tickets are still taken, the figures say they are stale; when Redis is back the
/// live state is rebuilt from the database and includes what arrived meanwhile.
#[tokio::test]
async fn redis_outage_keeps_ingesting_and_rebuilds_when_redis_returns() {
    if !std::path::Path::new("/usr/bin/redis-server").exists() {
        assert!(std::env::var("CI").is_err(), "CI must install redis-server");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut redis = PrivateRedis::start(port);
    let app = spawn(Backend::Sqlite, |s| s.redis.url = format!("redis://127.0.0.1:{}/", redis.port)).await;
    let create = |n: u32| {
        let body = json!({"subject": format!("Consulta {n}"), "body": "x", "queue": "mesa-de-ayuda",
            "requester": {"name": "Ana", "email": format!("outage{n}@example.cl")}});
        let app = &app;
        async move {
            let reply = app.post("/api/v1/tickets", body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }
    };
    create(1).await;
    figures_until(&app, "", "all", |s| s["window"]["created"] == 1).await;
    assert_eq!(app.get("/api/v1/kpis/realtime").await.body["store"], "redis");

    redis.stop();
    create(2).await;
    create(3).await;
    // Generous: each failed attempt on the stopped Redis may wait out its timeouts, and a loaded
    // machine once took more than 10 s to show the skipped updates.
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let reply = app.get("/api/v1/kpis/realtime").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if reply.body["stale"] == true && reply.body["skipped_updates"].as_u64() > Some(0) {
            // The last figures read are still served.
            let all = reply.body["scopes"].as_array().unwrap().iter().find(|s| s["scope"] == "all").unwrap().clone();
            assert_eq!(all["window"]["created"], 1, "{all}");
            break;
        }
        assert!(Instant::now() < deadline, "never stale: {}", reply.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.get("/api/v1/tickets?limit=10").await.body["items"].as_array().unwrap().len(), 3);

    let _redis = PrivateRedis::start(port);
    let all = figures_until(&app, "", "all", |s| s["window"]["created"] == 3).await;
    assert_eq!(all["backlog_total"], 3, "{all}");
    // The rebuild writes the figures before it clears the flag (its last step): a read in
    // between still says stale, so wait for the flag rather than read it once.
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = app.get("/api/v1/kpis/realtime").await.body;
        if reply["stale"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "still stale after the rebuild: {reply}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Live state belongs to one database. A second database pointed at the same Redis key prefix
/// (a new or restored one) must not trust the first one's cursors, which are past every event id
/// it has: it rebuilds, and its live figures move with its own tickets.
async fn another_database_under_the_same_prefix_rebuilds(backend: Backend) {
    let Some(redis) = redis_url() else { return };
    let prefix = format!("t{:016x}", rand::random::<u64>());
    let shared = |s: &mut atencion::config::Settings| {
        s.redis.url = redis.clone();
        s.redis.key_prefix = prefix.clone();
    };
    let first = spawn(backend, shared).await;
    for n in 0..6 {
        first.ticket(&format!("Consulta {n}"), &format!("primera{n}@example.cl")).await;
    }
    figures_until(&first, "", "all", |s| s["window"]["created"] == 6).await;

    let second = spawn(backend, shared).await;
    second.ticket("Otra base de datos", "segunda@example.cl").await;
    let all = figures_until(&second, "", "all", |s| s["window"]["created"] == 1).await;
    assert_eq!(all["backlog_total"], 1, "{all}");
}

#[tokio::test]
async fn live_state_of_another_database_under_the_same_prefix_is_rebuilt_sqlite() {
    another_database_under_the_same_prefix_rebuilds(Backend::Sqlite).await;
}

#[tokio::test]
async fn live_state_of_another_database_under_the_same_prefix_is_rebuilt_postgres() {
    if postgres_url().is_some() {
        another_database_under_the_same_prefix_rebuilds(Backend::Postgres).await;
    }
}
