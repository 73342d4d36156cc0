use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

/// Every route the service serves; the OpenAPI document must describe exactly these.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/tickets"),
    ("get", "/api/v1/tickets"),
    ("get", "/api/v1/tickets/{id}"),
    ("patch", "/api/v1/tickets/{id}"),
    ("post", "/api/v1/tickets/{id}/messages"),
    ("get", "/api/v1/tickets/{id}/messages"),
    ("get", "/api/v1/tickets/{id}/events"),
    ("get", "/api/v1/tickets/{id}/similar"),
    ("get", "/api/v1/search"),
    ("get", "/api/v1/attachments/{id}"),
    ("get", "/api/v1/tickets/views"),
    ("put", "/api/v1/tickets/{id}/viewers"),
    ("delete", "/api/v1/tickets/{id}/viewers"),
    ("get", "/api/v1/stream"),
    ("post", "/api/v1/requesters"),
    ("get", "/api/v1/requesters"),
    ("get", "/api/v1/requesters/{id}"),
    ("get", "/api/v1/requesters/{id}/surveys"),
    ("patch", "/api/v1/requesters/{id}"),
    ("delete", "/api/v1/requesters/{id}"),
    ("post", "/api/v1/agents"),
    ("get", "/api/v1/agents"),
    ("get", "/api/v1/agents/me"),
    ("post", "/api/v1/agents/{id}/invitation"),
    ("post", "/api/v1/session"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("post", "/api/v1/session/password"),
    ("get", "/api/v1/agents/{id}"),
    ("patch", "/api/v1/agents/{id}"),
    ("delete", "/api/v1/agents/{id}"),
    ("post", "/api/v1/agents/{id}/tokens"),
    ("get", "/api/v1/queues"),
    ("post", "/api/v1/queues"),
    ("get", "/api/v1/queues/{id}"),
    ("patch", "/api/v1/queues/{id}"),
    ("delete", "/api/v1/queues/{id}"),
    ("get", "/api/v1/departments"),
    ("post", "/api/v1/departments"),
    ("get", "/api/v1/departments/{id}"),
    ("patch", "/api/v1/departments/{id}"),
    ("delete", "/api/v1/departments/{id}"),
    ("get", "/api/v1/categories"),
    ("post", "/api/v1/categories"),
    ("get", "/api/v1/categories/{id}"),
    ("patch", "/api/v1/categories/{id}"),
    ("delete", "/api/v1/categories/{id}"),
    ("post", "/api/v1/public/tickets"),
    ("get", "/api/v1/public/categories"),
    ("get", "/api/v1/tickets/{id}/sla"),
    ("post", "/api/v1/channels/email/inbound"),
    ("post", "/api/v1/channels/phone/events"),
    ("post", "/api/v1/channels/phone/cti/{token}"),
    ("get", "/api/v1/calls"),
    ("get", "/api/v1/calls/{id}"),
    ("post", "/api/v1/calls/{id}/link"),
    ("get", "/api/v1/channels/phone/blocked-numbers"),
    ("post", "/api/v1/channels/phone/blocked-numbers"),
    ("delete", "/api/v1/channels/phone/blocked-numbers/{id}"),
    ("post", "/api/v1/kpis/staffing"),
    ("get", "/api/v1/kpis/realtime"),
    ("get", "/api/v1/kpis/stream"),
    ("post", "/api/v1/kpis/rebuild"),
    ("get", "/api/v1/reports/volume"),
    ("get", "/api/v1/reports/response-times"),
    ("get", "/api/v1/reports/sla"),
    ("get", "/api/v1/reports/abandonment"),
    ("get", "/api/v1/reports/backlog"),
    ("get", "/api/v1/reports/agents"),
    ("get", "/api/v1/reports/staffing"),
    ("post", "/api/v1/tickets/{id}/escalations"),
    ("get", "/api/v1/tickets/{id}/escalations"),
    ("get", "/api/v1/departments/{id}/escalations"),
    ("post", "/api/v1/escalations/{id}/answer"),
    ("get", "/api/v1/escalations/{id}"),
    ("post", "/api/v1/opportunities"),
    ("get", "/api/v1/opportunities"),
    ("get", "/api/v1/opportunities/{id}"),
    ("patch", "/api/v1/opportunities/{id}"),
    ("post", "/api/v1/opportunities/{id}/transitions"),
    ("post", "/api/v1/opportunities/{id}/tickets"),
    ("get", "/api/v1/departments/{id}/inbox"),
    ("get", "/api/v1/departments/{id}/summary"),
    ("post", "/api/v1/departments/{id}/inbox/ack"),
    ("get", "/api/v1/departments/{id}/deliveries"),
    ("get", "/api/v1/departments/{id}/webhook"),
    ("put", "/api/v1/departments/{id}/webhook"),
    ("delete", "/api/v1/departments/{id}/webhook"),
    ("get", "/api/v1/departments/{id}/sla"),
    ("put", "/api/v1/departments/{id}/sla"),
    ("get", "/api/v1/sla/department-items"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/routing/rules"),
    ("post", "/api/v1/routing/rules"),
    ("get", "/api/v1/routing/rules/{id}"),
    ("put", "/api/v1/routing/rules/{id}"),
    ("delete", "/api/v1/routing/rules/{id}"),
    ("post", "/api/v1/routing/rules/test"),
    ("get", "/api/v1/queues/{id}/routing"),
    ("get", "/api/v1/queues/{id}/waiting"),
    ("patch", "/api/v1/queues/{id}/routing"),
    ("post", "/api/v1/queues/{id}/next"),
    ("get", "/api/v1/routing/agents"),
    ("get", "/api/v1/agents/{id}/routing"),
    ("patch", "/api/v1/agents/{id}/routing"),
    ("put", "/api/v1/agents/{id}/presence"),
    ("get", "/api/v1/routing/rotations"),
    ("post", "/api/v1/routing/rotations"),
    ("post", "/api/v1/routing/rotations/preview"),
    ("get", "/api/v1/routing/rotations/{id}"),
    ("get", "/api/v1/routing/rotations/{id}/history"),
    ("delete", "/api/v1/routing/rotations/{id}"),
    ("get", "/api/v1/channels/email/outbox"),
    ("get", "/api/v1/channels/email/quarantine"),
    ("post", "/api/v1/channels/email/quarantine/{id}/reprocess"),
    ("get", "/api/v1/calendars"),
    ("post", "/api/v1/calendars"),
    ("get", "/api/v1/calendars/{id}"),
    ("patch", "/api/v1/calendars/{id}"),
    ("get", "/api/v1/calendars/{id}/holidays"),
    ("put", "/api/v1/calendars/{id}/holidays"),
    ("delete", "/api/v1/calendars/{id}/holidays/{date}"),
    ("post", "/api/v1/calendars/{id}/deadline"),
    ("post", "/api/v1/calendars/{id}/business-minutes"),
    ("get", "/api/v1/sla/policies"),
    ("post", "/api/v1/sla/policies"),
    ("get", "/api/v1/sla/policies/{id}"),
    ("patch", "/api/v1/sla/policies/{id}"),
    ("delete", "/api/v1/sla/policies/{id}"),
    ("get", "/api/v1/quality/csat"),
    ("post", "/api/v1/public/surveys/{token}"),
    ("post", "/api/v1/quality/scorecards"),
    ("get", "/api/v1/quality/scorecards"),
    ("get", "/api/v1/quality/scorecards/{id}"),
    ("post", "/api/v1/quality/samples"),
    ("get", "/api/v1/quality/evaluations"),
    ("post", "/api/v1/quality/evaluations"),
    ("get", "/api/v1/quality/evaluations/{id}"),
    ("put", "/api/v1/quality/evaluations/{id}"),
    ("post", "/api/v1/quality/evaluations/{id}/dispute"),
    ("post", "/api/v1/quality/evaluations/{id}/resolution"),
    ("get", "/api/v1/quality/report"),
    ("get", "/api/v1/quality/recurring"),
    ("get", "/api/v1/quality/trends"),
    ("post", "/api/v1/quality/trends/scan"),
    ("get", "/api/v1/canned-responses"),
    ("post", "/api/v1/canned-responses"),
    ("get", "/api/v1/canned-responses/{id}"),
    ("patch", "/api/v1/canned-responses/{id}"),
    ("delete", "/api/v1/canned-responses/{id}"),
    ("post", "/api/v1/canned-responses/{id}/render"),
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/read"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
];

on_all_backends! {
    async fn health_and_readiness(app) {
        let health = app.call(Method::GET, "/health", None, None).await;
        assert_eq!(health.body, serde_json::json!({"status": "ok"}));
        let ready = app.call(Method::GET, "/ready", None, None).await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
        let metrics = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
        match app.backend {
            Backend::Sqlite => {
                assert_eq!(ready.body["database"], "sqlite");
                assert_eq!(ready.body["redis"], "disabled");
                assert!(!metrics.contains("redis_up"), "{metrics}");
            }
            Backend::Postgres => {
                assert_eq!(ready.body["database"], "postgres");
                let expected = if redis_url().is_some() { "up" } else { "disabled" };
                assert_eq!(ready.body["redis"], expected);
                if redis_url().is_some() {
                    assert!(metrics.contains("\nredis_up 1\n"), "{metrics}");
                }
            }
        }
    }

    async fn metrics_expose_the_named_series(app) {
        let form = serde_json::json!({"name": "Ana", "email": "ana@x.cl", "segment": "ciudadano", "subject": "Hola", "body": "Consulta"});
        assert_eq!(app.call(Method::POST, "/api/v1/public/tickets", None, Some(&form)).await.status, StatusCode::CREATED);
        app.ticket("Consulta", "b@x.cl").await;
        let text = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
        for series in [
            "tickets_created_total{channel=\"web\"}",
            "tickets_created_total{channel=\"api\"}",
            "http_requests_total{method=\"POST\",route=\"/api/v1/public/tickets\",status=\"201\"}",
            "http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/tickets\",le=\"0.005\"}",
        ] {
            assert!(text.contains(series), "missing {series} in\n{text}");
        }
        // Ids never become label values.
        assert!(!text.contains("/api/v1/tickets/1\""), "{text}");
        // The live KPI projector (every 200 ms by default) times its steps.
        let mut steps = String::new();
        for _ in 0..50 {
            let text = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
            match text.lines().find(|l| l.starts_with("kpi_projector_step_seconds_count ")) {
                Some(line) => { steps = line.to_owned(); break; }
                None => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        let count: u64 = steps.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!(count > 0, "no projector step timed: {steps:?}");
        // How far the followers of the committed log are behind (the app's own follower sets it).
        app.followed().await;
        let mut behind = None;
        for _ in 0..50 {
            let text = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
            behind = text.lines().find(|l| l.starts_with("log_followers_behind ")).map(str::to_owned);
            if behind.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(behind.is_some(), "no log_followers_behind in /metrics");
    }
}

/// Readiness means the service can take writes: an unreachable Redis (live KPIs only) is
/// reported in the body and in /metrics, and tickets are still taken.
#[tokio::test]
async fn readiness_holds_when_redis_is_unreachable() {
    let app = spawn(Backend::Sqlite, |s| s.redis.url = "redis://127.0.0.1:1/".into()).await;
    let ready = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["redis"], "down");
    let metrics = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("# TYPE redis_up gauge\nredis_up 0\n"), "{metrics}");
    app.ticket("Sin Redis", "ana@example.cl").await;
}

/// A TCP proxy to Postgres that a test can cut (listener closed, every connection dropped) and
/// restore on the same port: the database "goes away" for the app as in a network outage.
struct Proxy {
    port: u16,
    target: std::net::SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr, port: u16) -> Proxy {
        let proxy = Proxy { port, target, tasks: Default::default() };
        proxy.listen().await;
        proxy
    }

    async fn listen(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.expect("proxy port");
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// `url` with its host and port replaced by 127.0.0.1:`port`.
fn via_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, rest) = rest.rsplit_once('@').map_or(("", rest), |(u, r)| (u, r));
    let path = &rest[rest.find(['/', '?']).unwrap_or(rest.len())..];
    let at = if userinfo.is_empty() { String::new() } else { format!("{userinfo}@") };
    format!("{scheme}://{at}127.0.0.1:{port}{path}")
}

/// Once the database is known to be down, /ready and API requests answer 503 at once instead of
/// each waiting the connect timeout for a pool connection; when it is back, they answer again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_fast_while_the_database_is_down() {
    use std::time::{Duration, Instant};
    let Some(base) = postgres_url() else { return };
    let authority = base.split_once("://").unwrap().1.rsplit_once('@').map_or(base.as_str(), |(_, r)| r);
    let host_port = authority.split(['/', '?']).next().unwrap();
    let target = tokio::net::lookup_host(if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    })
    .await
    .unwrap()
    .next()
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let proxy = Proxy::start(target, port).await;
    let app = spawn(Backend::Postgres, |s| {
        s.database.url = via_port(&s.database.url, port);
        s.database.connect_timeout_secs = 2;
    })
    .await;
    let ready = || async { app.call(Method::GET, "/ready", None, None).await };
    assert_eq!(ready().await.status, StatusCode::OK);

    proxy.cut();
    // The first requests find out (a dead pooled connection, or the connect timeout).
    let deadline = Instant::now() + Duration::from_secs(15);
    while ready().await.status != StatusCode::SERVICE_UNAVAILABLE {
        assert!(Instant::now() < deadline, "/ready never noticed the database is gone");
    }
    // From then on: 503 at once, for /ready and for the API.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let reply = ready().await;
        assert_problem(&reply, 503);
        assert!(started.elapsed() < Duration::from_millis(500), "/ready took {:?}", started.elapsed());
        let started = Instant::now();
        assert_problem(&app.get("/api/v1/tickets").await, 503);
        assert!(started.elapsed() < Duration::from_millis(500), "the API took {:?}", started.elapsed());
    }

    proxy.listen().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while ready().await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "/ready did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Writes work again (a pooled connection from before the cut may still fail once, with 503).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let created = app.post("/api/v1/tickets", ticket_body("De vuelta", "ana@example.cl")).await;
        if created.status == StatusCode::CREATED {
            break;
        }
        assert_problem(&created, 503);
        assert!(Instant::now() < deadline, "writes did not recover");
    }
}

async fn openapi(app: &TestApp) -> Value {
    let reply = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body
}

#[tokio::test]
async fn openapi_lists_every_endpoint_and_each_exists() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let doc = openapi(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<_> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, expected);
    // Every documented operation is really served (not the 404 of an unknown route).
    for (method, path) in ROUTES {
        let concrete = path.replace("{id}", "1").replace("{date}", "2026-09-18").replace("{token}", "atn_x");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let request = app.client.request(method.clone(), format!("{}{concrete}", app.address)).bearer_auth(&app.admin);
        let response = request.send().await.unwrap();
        // The live stream never ends: its answer is its status.
        let streaming = response.headers().get("content-type").is_some_and(|v| v == "text/event-stream");
        if streaming {
            assert_eq!(response.status(), StatusCode::OK, "{method} {concrete}");
            continue;
        }
        let reply = into_reply(response).await;
        let unknown = reply.status == StatusCode::NOT_FOUND
            && reply.body["detail"].as_str().is_some_and(|d| d.contains("dirección"));
        assert!(!unknown, "{method} {concrete} is documented but not routed");
    }
    // Every operation documents its error responses as problem documents.
    let problem_ref = doc["paths"]["/api/v1/tickets"]["post"]["responses"]["422"]["content"]
        ["application/problem+json"]["schema"]["$ref"]
        .clone();
    assert_eq!(problem_ref, "#/components/schemas/Problem");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// Validates the document with a real OpenAPI validator (Python `openapi-spec-validator`,
/// installed by `.ci/run`); required in CI, skipped locally when missing.
#[tokio::test]
async fn openapi_document_validates() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let doc = openapi(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let check = std::process::Command::new("python3")
        .args(["-c", "import sys; from openapi_spec_validator import validate; from openapi_spec_validator.readers import read_from_filename; validate(read_from_filename(sys.argv[1])[0]); print('valid')"])
        .arg(&file)
        .output();
    match check {
        Ok(out) if out.status.success() => assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "valid"),
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") && std::env::var("CI").is_err() => {
            eprintln!("openapi-spec-validator not installed: validation skipped locally");
        }
        Ok(out) => panic!("OpenAPI document invalid:\n{}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => panic!("python3 not runnable: {e}"),
    }
}

#[tokio::test]
async fn docs_page_works_offline() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let page = app.client.get(format!("{}/docs/", app.address)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    assert!(!html.contains("https://"), "docs page must not load anything from the network");
    let init = app
        .client
        .get(format!("{}/docs/swagger-initializer.js", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
}

/// The workspace's page names its stylesheet and modules under the version of their bytes: those
/// addresses are kept for a year, so a later page load asks only for the page. Any other version,
/// and the plain addresses, are revalidated.
#[tokio::test]
async fn workspace_assets_are_kept_under_their_version() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let get = |path: String| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.address);
        async move { client.get(url).send().await.unwrap() }
    };
    let page = get("/app/informes".into()).await;
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    let addresses: Vec<&str> =
        html.split("\"/app/assets/").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect();
    assert!(addresses.len() >= 4, "stylesheet, app.js and the reports' modules: {addresses:?}");
    let version = addresses[0].split('/').next().unwrap();
    assert_eq!(version.len(), 16, "{addresses:?}");
    for address in &addresses {
        let (v, name) = address.split_once('/').unwrap();
        assert_eq!(v, version);
        let kept = get(format!("/app/assets/{address}")).await;
        assert_eq!(kept.status(), StatusCode::OK, "{address}");
        assert_eq!(kept.headers()["cache-control"], "public, max-age=31536000, immutable", "{address}");
        let plain = get(format!("/app/assets/{name}")).await;
        assert_eq!(plain.headers()["cache-control"], "no-cache", "{name}");
        assert_eq!(kept.bytes().await.unwrap(), plain.bytes().await.unwrap(), "{name}");
    }
    let stale = get("/app/assets/0000000000000000/app.js".into()).await;
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(stale.headers()["cache-control"], "no-cache");
}

/// A Postgres session that dies under a request (a server restart, an administrator terminating
/// it) answers 503 — never 500 — and the dead connection is not handed to the next request: with a
/// one-connection pool, the very next query succeeds on a fresh connection.
#[tokio::test]
async fn a_lost_postgres_connection_is_unavailable_and_not_reused() {
    use actix_web::ResponseError;
    use atencion::db::{DatabaseUrl, Db, DbConnection};
    use atencion::error::AppError;
    use diesel::connection::SimpleConnection;

    let Some(base) = postgres_url() else { return };
    let db = Db::connect(&DatabaseUrl::parse(&base).unwrap(), 1, std::time::Duration::from_secs(5)).unwrap();
    fn kill(c: &mut DbConnection) -> Result<(), AppError> {
        Ok(c.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")?)
    }
    fn ping(c: &mut DbConnection) -> Result<(), AppError> {
        Ok(c.batch_execute("SELECT 1")?)
    }
    for in_transaction in [false, true] {
        let err = if in_transaction { db.write(kill).await } else { db.read(kill).await }.unwrap_err();
        assert_eq!(err.status_code(), actix_web::http::StatusCode::SERVICE_UNAVAILABLE, "{err:?}");
        db.read(ping).await.expect("the next request gets a live connection");
        db.write(ping).await.expect("and so does the next transaction");
    }
}

/// The field a 422 names, and its message, asserting there is exactly one.
fn only_error(reply: &Reply) -> (String, String) {
    let fields = assert_problem(reply, 422);
    assert_eq!(fields.len(), 1, "{}", reply.body);
    (fields[0].clone(), reply.body["errors"][0]["message"].as_str().unwrap().to_owned())
}

on_all_backends! {
    // A NUL character in any text is the same 422 naming the field on both backends (it was a 500
    // on Postgres and a 201 on SQLite), and nothing is stored.
    async fn nul_characters_are_a_422_naming_the_field(app) {
        use serde_json::json;
        let nul = "Ana\u{0}Pérez";
        let ticket = app.ticket("Consulta", "ana@example.cl").await;
        let id = ticket["id"].as_i64().unwrap();
        let queue = app.post("/api/v1/queues", json!({"slug": "nulos", "name": "Nulos"})).await;
        assert_eq!(queue.status, StatusCode::CREATED, "{}", queue.body);
        let calendar = app.get("/api/v1/calendars").await.body[0]["id"].as_i64().unwrap();
        let mut with_nul_requester = ticket_body("Consulta", "b@example.cl");
        with_nul_requester["requester"]["name"] = json!(nul);
        let cases = [
            (Method::POST, "/api/v1/tickets".to_owned(), with_nul_requester, "requester.name"),
            (Method::POST, "/api/v1/tickets".to_owned(), ticket_body(nul, "c@example.cl"), "subject"),
            (Method::PATCH, format!("/api/v1/tickets/{id}"), json!({"tags": ["a", nul]}), "tags[1]"),
            (Method::POST, format!("/api/v1/tickets/{id}/messages"), json!({"body": nul}), "body"),
            (Method::POST, "/api/v1/requesters".to_owned(), json!({"name": nul, "email": "d@example.cl"}), "name"),
            (Method::POST, "/api/v1/queues".to_owned(), json!({"slug": "otra", "name": nul}), "name"),
            (Method::PATCH, format!("/api/v1/queues/{}", queue.body["id"]), json!({"description": nul}), "description"),
            (Method::POST, "/api/v1/routing/rules".to_owned(),
                json!({"name": nul, "position": 5, "actions": {"tags": ["x"]}}), "name"),
            (Method::POST, "/api/v1/routing/rules".to_owned(),
                json!({"name": "Palabras", "conditions": {"keywords": [nul]}, "actions": {"tags": ["x"]}}), "conditions.keywords[0]"),
            (Method::PATCH, format!("/api/v1/calendars/{calendar}"), json!({"name": nul}), "name"),
        ];
        for (method, path, body, field) in cases {
            let reply = app.call(method.clone(), &path, Some(&app.admin), Some(&body)).await;
            let (named, message) = only_error(&reply);
            assert_eq!(named, field, "{method} {path}");
            assert!(message.contains("carácter nulo"), "{message}");
        }
        let form = json!({"name": "Ana", "email": "e@example.cl", "segment": "ciudadano", "subject": "Hola", "body": nul});
        let public = app.call(Method::POST, "/api/v1/public/tickets", None, Some(&form)).await;
        assert_eq!(only_error(&public).0, "body");
        let search = app.call(Method::GET, "/api/v1/tickets?q=a%00b", Some(&app.admin), None).await;
        assert_eq!(only_error(&search).0, "q");
        let integration = app.token(atencion::domain::Role::Integration).await;
        let cti = app.client.post(format!("{}/api/v1/channels/phone/cti/{integration}", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("event=newCall&callId=nul&queue=Mesa%00").send().await.unwrap();
        assert_eq!(only_error(&into_reply(cti).await).0, "queue");
        // Nothing was stored: still the one ticket and its requester, no new queue or rule.
        assert_eq!(app.get("/api/v1/tickets").await.body["items"].as_array().unwrap().len(), 1);
        let queues = app.get("/api/v1/queues").await.body;
        assert!(queues.as_array().unwrap().iter().all(|q| q["slug"] != "otra"), "{queues}");
        assert_eq!(app.get("/api/v1/routing/rules").await.body.as_array().unwrap().len(), 0);
        assert!(app.get(&format!("/api/v1/tickets/{id}")).await.body["tags"].as_array().unwrap().is_empty());
    }

    // What people read in a 422 is Spanish and names the field, for bodies and query strings.
    async fn validation_messages_are_spanish(app) {
        use serde_json::json;
        let id = app.ticket("Consulta", "ana@example.cl").await["id"].as_i64().unwrap();
        let staffing = json!({"arrivals": 10.0, "interval_secs": 1800.0, "aht_secs": 300.0,
            "target_service_level": 0.8, "answer_secs": 20.0, "max_occupancy": 0.85});
        let reply = app.post("/api/v1/kpis/staffing", staffing).await;
        assert_eq!(only_error(&reply), ("shrinkage".into(), "Falta el campo «shrinkage».".into()));
        let reply = app.post(&format!("/api/v1/tickets/{id}/messages"), json!({"answer": "Hola"})).await;
        let (field, message) = only_error(&reply);
        assert_eq!(field, "answer");
        assert_eq!(message, "Campo desconocido «answer»; se esperaba uno de: body, body_html, visibility, from_requester, status.");
        let reply = app.patch(&format!("/api/v1/tickets/{id}"), json!({"priority": "altísima"})).await;
        let (field, message) = only_error(&reply);
        assert_eq!(field, "priority");
        assert!(message.starts_with("Valor desconocido «altísima»; se esperaba uno de: "), "{message}");
        let reply = app.patch(&format!("/api/v1/tickets/{id}"), json!({"subject": 7})).await;
        assert_eq!(only_error(&reply), ("subject".into(), "Tipo no válido: se esperaba un texto.".into()));
        let reply = app.get("/api/v1/tickets?limit=diez").await;
        assert_eq!(only_error(&reply), ("limit".into(), "Se esperaba un número entero.".into()));
        let reply = app.get("/api/v1/quality/recurring?limit=muchos").await;
        assert_eq!(only_error(&reply), ("limit".into(), "Se esperaba un número entero.".into()));
        for english in ["missing field", "unknown field", "invalid type", "expected"] {
            assert!(!reply.body.to_string().contains(english), "{}", reply.body);
        }
    }

    // A known address asked with a method it does not answer: 405 with `Allow`; OPTIONS lists the
    // methods; an unknown address stays a 404.
    async fn unknown_methods_on_known_addresses_are_405_with_allow(app) {
        let call = |method: &str, path: &str| {
            app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", app.address))
                .bearer_auth(&app.admin).send()
        };
        for (method, path, allow) in [
            ("TRACE", "/api/v1/tickets", "GET, POST"),
            ("DELETE", "/api/v1/tickets", "GET, POST"),
            ("PUT", "/api/v1/tickets/1", "GET, PATCH"),
            ("TRACE", "/api/v1/routing/rules/test", "POST"),
            ("POST", "/health", "GET"),
            ("DELETE", "/encuesta/abc", "GET, POST"),
        ] {
            let reply = into_reply(call(method, path).await.unwrap()).await;
            assert_problem(&reply, 405);
            assert_eq!(reply.headers.get("allow").unwrap(), allow, "{method} {path}");
            assert_eq!(reply.body["title"], "Método no permitido");
            assert!(reply.body["detail"].as_str().unwrap().contains(allow), "{}", reply.body);
        }
        let options = call("OPTIONS", "/api/v1/calendars/1").await.unwrap();
        assert_eq!(options.status(), StatusCode::NO_CONTENT);
        assert_eq!(options.headers().get("allow").unwrap(), "GET, PATCH");
        assert_problem(&into_reply(call("TRACE", "/api/v1/nada").await.unwrap()).await, 404);
    }
}
