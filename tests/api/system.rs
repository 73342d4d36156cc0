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
    ("post", "/api/v1/requesters"),
    ("get", "/api/v1/requesters"),
    ("get", "/api/v1/requesters/{id}"),
    ("patch", "/api/v1/requesters/{id}"),
    ("delete", "/api/v1/requesters/{id}"),
    ("post", "/api/v1/agents"),
    ("get", "/api/v1/agents"),
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
    ("post", "/api/v1/opportunities"),
    ("get", "/api/v1/opportunities"),
    ("get", "/api/v1/opportunities/{id}"),
    ("post", "/api/v1/opportunities/{id}/transitions"),
    ("post", "/api/v1/opportunities/{id}/tickets"),
    ("get", "/api/v1/departments/{id}/inbox"),
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
    ("patch", "/api/v1/queues/{id}/routing"),
    ("post", "/api/v1/queues/{id}/next"),
    ("get", "/api/v1/agents/{id}/routing"),
    ("patch", "/api/v1/agents/{id}/routing"),
    ("put", "/api/v1/agents/{id}/presence"),
    ("get", "/api/v1/routing/rotations"),
    ("post", "/api/v1/routing/rotations"),
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
        match app.backend {
            Backend::Sqlite => {
                assert_eq!(ready.body["database"], "sqlite");
                assert_eq!(ready.body["redis"], "not_configured");
            }
            Backend::Postgres => {
                assert_eq!(ready.body["database"], "postgres");
                let expected = if redis_url().is_some() { "ok" } else { "not_configured" };
                assert_eq!(ready.body["redis"], expected);
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
    }
}

#[tokio::test]
async fn readiness_fails_when_redis_is_unreachable() {
    let app = spawn(Backend::Sqlite, |s| s.redis.url = "redis://127.0.0.1:1/".into()).await;
    let ready = app.call(Method::GET, "/ready", None, None).await;
    assert_problem(&ready, 503);
    assert_eq!(ready.headers.get("retry-after").unwrap(), "5");
    // The internal cause stays in the logs.
    assert!(!ready.body.to_string().contains("127.0.0.1"), "{}", ready.body);
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
        let reply = app.call(method.clone(), &concrete, Some(&app.admin), None).await;
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
