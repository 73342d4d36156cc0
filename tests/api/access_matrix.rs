//! Every operation of the OpenAPI document the service serves × every kind of caller. The
//! expectations live in [`MATRIX`]; an operation of the document that the table does not
//! classify fails the test, so every new endpoint must be added here.

use std::collections::BTreeSet;

use atencion::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::departments::{department, member};
use crate::helpers::*;

/// The callers, in the order of each expectation string.
const CALLERS: [&str; 7] = ["admin", "supervisor", "agent", "department A", "department B", "integration", "anonymous"];

/// `(method, path, expected per caller)`: `y` allowed (any answer but 401 and 403: success, or a
/// validation or not-found error for the placeholder body; never 404 for department A), `n` denied (403; 401 when
/// anonymous), `h` hidden (404: the item is not revealed to that caller). Path parameters are
/// department A's items (the escalated ticket, its escalation, the opportunity sent to A,
/// department A itself).
const MATRIX: &[(&str, &str, &str)] = &[
    // Tickets: Atención Usuaria's staff; channels may create.
    ("POST", "/api/v1/tickets", "yyynnyn"),
    ("GET", "/api/v1/tickets", "yyynnnn"),
    ("GET", "/api/v1/tickets/{id}", "yyynnnn"),
    ("PATCH", "/api/v1/tickets/{id}", "yyynnnn"),
    ("GET", "/api/v1/tickets/{id}/messages", "yyynnnn"),
    ("POST", "/api/v1/tickets/{id}/messages", "yyynnnn"),
    ("GET", "/api/v1/tickets/{id}/events", "yyynnnn"),
    ("GET", "/api/v1/tickets/{id}/similar", "yyynnnn"),
    // Search: staff everything; a department member what is escalated to their department.
    ("GET", "/api/v1/search", "yyyyynn"),
    ("GET", "/api/v1/tickets/views", "yyynnnn"),
    ("PUT", "/api/v1/tickets/{id}/viewers", "yyynnnn"),
    ("DELETE", "/api/v1/tickets/{id}/viewers", "yyynnnn"),
    ("GET", "/api/v1/stream", "yyynnnn"),
    ("GET", "/api/v1/tickets/{id}/sla", "yyynnnn"),
    ("GET", "/api/v1/tickets/{id}/escalations", "yyynnnn"),
    ("GET", "/api/v1/attachments/{id}", "yyyhhnn"),
    ("POST", "/api/v1/tickets/{id}/escalations", "yyynnnn"),
    // Departments: their own items only; everyone else outside Atención Usuaria's supervision
    // gets 404.
    ("GET", "/api/v1/departments/{id}/escalations", "yyhyhhn"),
    ("POST", "/api/v1/escalations/{id}/answer", "yyhyhhn"),
    ("GET", "/api/v1/escalations/{id}", "yyhyhhn"),
    ("POST", "/api/v1/opportunities", "yyynnnn"),
    ("GET", "/api/v1/opportunities", "yyyyynn"),
    ("GET", "/api/v1/opportunities/{id}", "yyyyhhn"),
    ("PATCH", "/api/v1/opportunities/{id}", "yyynnnn"),
    ("POST", "/api/v1/opportunities/{id}/transitions", "yyyyhhn"),
    ("POST", "/api/v1/opportunities/{id}/tickets", "yyynnnn"),
    ("GET", "/api/v1/departments/{id}/inbox", "yyhyhhn"),
    ("GET", "/api/v1/departments/{id}/summary", "yyhyhhn"),
    ("POST", "/api/v1/departments/{id}/inbox/ack", "yyhyhhn"),
    ("GET", "/api/v1/departments/{id}/deliveries", "yyhyhhn"),
    ("GET", "/api/v1/departments/{id}/webhook", "yyhyhhn"),
    ("PUT", "/api/v1/departments/{id}/webhook", "ynhnhhn"),
    ("DELETE", "/api/v1/departments/{id}/webhook", "ynhnhhn"),
    ("GET", "/api/v1/departments/{id}/sla", "yyhyhhn"),
    ("PUT", "/api/v1/departments/{id}/sla", "ynhnhhn"),
    ("GET", "/api/v1/sla/department-items", "yynnnnn"),
    ("GET", "/api/v1/audit", "ynnnnnn"),
    // Directory.
    ("POST", "/api/v1/requesters", "yyynnnn"),
    ("GET", "/api/v1/requesters", "yyynnnn"),
    ("GET", "/api/v1/requesters/{id}", "yyynnnn"),
    ("GET", "/api/v1/requesters/{id}/surveys", "yyynnnn"),
    ("PATCH", "/api/v1/requesters/{id}", "yyynnnn"),
    ("DELETE", "/api/v1/requesters/{id}", "ynnnnnn"),
    ("POST", "/api/v1/agents", "ynnnnnn"),
    ("POST", "/api/v1/agents/{id}/invitation", "ynnnnnn"),
    // Sign-in: signing in and setting a password by link are public; who is signed in and
    // signing out, any authenticated caller.
    ("POST", "/api/v1/session", "yyyyyyy"),
    ("GET", "/api/v1/session", "yyyyyyn"),
    ("DELETE", "/api/v1/session", "yyyyyyn"),
    ("POST", "/api/v1/session/password", "yyyyyyy"),
    ("GET", "/api/v1/agents", "yynnnnn"),
    ("GET", "/api/v1/agents/me", "yyyyyyn"),
    ("GET", "/api/v1/agents/{id}", "yynnnnn"),
    ("PATCH", "/api/v1/agents/{id}", "ynnnnnn"),
    ("DELETE", "/api/v1/agents/{id}", "ynnnnnn"),
    ("POST", "/api/v1/agents/{id}/tokens", "ynnnnnn"),
    ("GET", "/api/v1/queues", "yyyyynn"),
    ("POST", "/api/v1/queues", "yynnnnn"),
    ("GET", "/api/v1/queues/{id}", "yyyyynn"),
    ("PATCH", "/api/v1/queues/{id}", "yynnnnn"),
    ("DELETE", "/api/v1/queues/{id}", "yynnnnn"),
    ("GET", "/api/v1/departments", "yyyyynn"),
    ("POST", "/api/v1/departments", "yynnnnn"),
    ("GET", "/api/v1/departments/{id}", "yyyyynn"),
    ("PATCH", "/api/v1/departments/{id}", "yynnnnn"),
    ("DELETE", "/api/v1/departments/{id}", "yynnnnn"),
    ("GET", "/api/v1/categories", "yyyyynn"),
    ("POST", "/api/v1/categories", "yynnnnn"),
    ("GET", "/api/v1/categories/{id}", "yyyyynn"),
    ("PATCH", "/api/v1/categories/{id}", "yynnnnn"),
    ("DELETE", "/api/v1/categories/{id}", "yynnnnn"),
    // SLA: calendars and policies.
    ("GET", "/api/v1/calendars", "yyyyynn"),
    ("POST", "/api/v1/calendars", "yynnnnn"),
    ("GET", "/api/v1/calendars/{id}", "yyyyynn"),
    ("PATCH", "/api/v1/calendars/{id}", "yynnnnn"),
    ("GET", "/api/v1/calendars/{id}/holidays", "yyyyynn"),
    ("PUT", "/api/v1/calendars/{id}/holidays", "yynnnnn"),
    ("DELETE", "/api/v1/calendars/{id}/holidays/{date}", "yynnnnn"),
    ("POST", "/api/v1/calendars/{id}/deadline", "yyyyynn"),
    ("POST", "/api/v1/calendars/{id}/business-minutes", "yyyyynn"),
    ("GET", "/api/v1/sla/policies", "yyyyynn"),
    ("POST", "/api/v1/sla/policies", "yynnnnn"),
    ("GET", "/api/v1/sla/policies/{id}", "yyyyynn"),
    ("PATCH", "/api/v1/sla/policies/{id}", "yynnnnn"),
    ("DELETE", "/api/v1/sla/policies/{id}", "yynnnnn"),
    // Channels.
    ("POST", "/api/v1/channels/email/inbound", "yyynnyn"),
    ("GET", "/api/v1/channels/email/outbox", "yynnnnn"),
    ("GET", "/api/v1/channels/email/quarantine", "yynnnnn"),
    ("POST", "/api/v1/channels/email/quarantine/{id}/reprocess", "ynnnnnn"),
    ("POST", "/api/v1/channels/phone/events", "yyynnyn"),
    // The token is in the URL (the integration's): the caller's header plays no part.
    ("POST", "/api/v1/channels/phone/cti/{token}", "yyyyyyy"),
    ("GET", "/api/v1/calls", "yyynnnn"),
    ("GET", "/api/v1/calls/{id}", "yyynnnn"),
    ("POST", "/api/v1/calls/{id}/link", "yyynnnn"),
    ("GET", "/api/v1/channels/phone/blocked-numbers", "yynnnnn"),
    ("POST", "/api/v1/channels/phone/blocked-numbers", "yynnnnn"),
    ("DELETE", "/api/v1/channels/phone/blocked-numbers/{id}", "yynnnnn"),
    ("POST", "/api/v1/public/tickets", "yyyyyyy"),
    ("GET", "/api/v1/public/categories", "yyyyyyy"),
    // Live figures and reports: supervisors.
    ("POST", "/api/v1/kpis/staffing", "yynnnnn"),
    ("GET", "/api/v1/kpis/realtime", "yynnnnn"),
    ("GET", "/api/v1/kpis/stream", "yynnnnn"),
    ("POST", "/api/v1/kpis/rebuild", "ynnnnnn"),
    ("GET", "/api/v1/reports/volume", "yynnnnn"),
    ("GET", "/api/v1/reports/response-times", "yynnnnn"),
    ("GET", "/api/v1/reports/sla", "yynnnnn"),
    ("GET", "/api/v1/reports/abandonment", "yynnnnn"),
    ("GET", "/api/v1/reports/backlog", "yynnnnn"),
    ("GET", "/api/v1/reports/agents", "yynnnnn"),
    ("GET", "/api/v1/reports/staffing", "yynnnnn"),
    // Routing.
    ("GET", "/api/v1/routing/rules", "yynnnnn"),
    ("POST", "/api/v1/routing/rules", "yynnnnn"),
    ("POST", "/api/v1/routing/rules/test", "yynnnnn"),
    ("GET", "/api/v1/routing/rules/{id}", "yynnnnn"),
    ("PUT", "/api/v1/routing/rules/{id}", "yynnnnn"),
    ("DELETE", "/api/v1/routing/rules/{id}", "yynnnnn"),
    ("GET", "/api/v1/queues/{id}/routing", "yynnnnn"),
    ("GET", "/api/v1/queues/{id}/waiting", "yynnnnn"),
    ("PATCH", "/api/v1/queues/{id}/routing", "yynnnnn"),
    ("POST", "/api/v1/queues/{id}/next", "yyynnnn"),
    // Another agent's routing and presence: agents only reach their own.
    ("GET", "/api/v1/routing/agents", "yynnnnn"),
    ("GET", "/api/v1/agents/{id}/routing", "yynnnnn"),
    ("PATCH", "/api/v1/agents/{id}/routing", "yynnnnn"),
    ("PUT", "/api/v1/agents/{id}/presence", "yynnnnn"),
    ("GET", "/api/v1/routing/rotations", "yynnnnn"),
    ("POST", "/api/v1/routing/rotations", "yynnnnn"),
    ("POST", "/api/v1/routing/rotations/preview", "yynnnnn"),
    ("GET", "/api/v1/routing/rotations/{id}", "yynnnnn"),
    ("GET", "/api/v1/routing/rotations/{id}/history", "yynnnnn"),
    ("DELETE", "/api/v1/routing/rotations/{id}", "yynnnnn"),
    // Quality.
    ("GET", "/api/v1/quality/csat", "yynnnnn"),
    ("POST", "/api/v1/public/surveys/{token}", "yyyyyyy"),
    ("POST", "/api/v1/quality/scorecards", "yynnnnn"),
    ("GET", "/api/v1/quality/scorecards", "yyynnnn"),
    ("GET", "/api/v1/quality/scorecards/{id}", "yyynnnn"),
    ("POST", "/api/v1/quality/samples", "yynnnnn"),
    ("GET", "/api/v1/quality/evaluations", "yyynnnn"),
    ("POST", "/api/v1/quality/evaluations", "yynnnnn"),
    ("GET", "/api/v1/quality/evaluations/{id}", "yyynnnn"),
    ("PUT", "/api/v1/quality/evaluations/{id}", "yynnnnn"),
    ("POST", "/api/v1/quality/evaluations/{id}/dispute", "yyynnnn"),
    ("POST", "/api/v1/quality/evaluations/{id}/resolution", "yynnnnn"),
    ("GET", "/api/v1/quality/report", "yynnnnn"),
    ("GET", "/api/v1/quality/recurring", "yynnnnn"),
    ("GET", "/api/v1/quality/trends", "yynnnnn"),
    ("POST", "/api/v1/quality/trends/scan", "ynnnnnn"),
    // Canned responses: Atención Usuaria's staff; the fixture's is a seeded shared one, which
    // agents use but do not change. Deleting it comes last.
    ("GET", "/api/v1/canned-responses", "yyynnnn"),
    ("POST", "/api/v1/canned-responses", "yyynnnn"),
    ("GET", "/api/v1/canned-responses/{id}", "yyynnnn"),
    ("PATCH", "/api/v1/canned-responses/{id}", "yynnnnn"),
    ("POST", "/api/v1/canned-responses/{id}/render", "yyynnnn"),
    ("DELETE", "/api/v1/canned-responses/{id}", "yynnnnn"),
    // Notifications: each agent their own.
    ("GET", "/api/v1/notifications", "yyynnnn"),
    ("POST", "/api/v1/notifications/read", "yyynnnn"),
    // System.
    ("GET", "/health", "yyyyyyy"),
    ("GET", "/ready", "yyyyyyy"),
    ("GET", "/metrics", "yyyyyyy"),
];

/// The ids the path parameters are filled with.
struct Fixture {
    dept_a: i64,
    victim_department: i64,
    ticket: i64,
    escalation: i64,
    opportunity: i64,
    agent: i64,
    requester: i64,
    queue: i64,
    category: i64,
    calendar: i64,
    policy: i64,
    rule: i64,
    rotation: i64,
    blocked: i64,
    scorecard: i64,
    call: i64,
    canned: i64,
    integration: String,
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let reply = app.post(path, body).await;
    assert!(reply.status.is_success(), "{path}: {}", reply.body);
    reply.body
}

async fn fixture(app: &TestApp) -> (Fixture, Vec<Option<String>>) {
    let dept_a = department(app, "compradores").await;
    let dept_b = department(app, "proveedores").await;
    let (_, a) = member(app, dept_a, "Miembro de Compradores").await;
    let (_, b) = member(app, dept_b, "Miembro de Proveedores").await;
    let integration = app.token(Role::Integration).await;
    let tokens = vec![
        Some(app.admin.clone()),
        Some(app.token(Role::Supervisor).await),
        Some(app.token(Role::Agent).await),
        Some(a),
        Some(b),
        Some(integration.clone()),
        None,
    ];
    let ticket = app.ticket("Consulta derivada", "derivada@example.cl").await["id"].as_i64().unwrap();
    let escalation = created(
        app,
        &format!("/api/v1/tickets/{ticket}/escalations"),
        json!({"department": "compradores", "mode": "consult", "reason": "¿Aplica?"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let opportunity = created(
        app,
        "/api/v1/opportunities",
        json!({"title": "Mejora", "description": "Evidencia.", "department": "compradores", "ticket_ids": [ticket]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    created(app, &format!("/api/v1/opportunities/{opportunity}/transitions"), json!({"to": "sent"})).await;
    let hook = json!({"url": "http://127.0.0.1:9/webhook", "secret": "secreto-de-la-matriz-de-acceso"});
    let put =
        app.call(Method::PUT, &format!("/api/v1/departments/{dept_a}/webhook"), Some(&app.admin), Some(&hook)).await;
    assert!(put.status.is_success(), "{}", put.body);
    let requester = app.ticket("Otra consulta", "otra@example.cl").await["requester"]["id"].as_i64().unwrap();
    let agent = created(app, "/api/v1/agents", json!({"name": "Agente de la matriz", "role": "agent"})).await["id"]
        .as_i64()
        .unwrap();
    let queue =
        created(app, "/api/v1/queues", json!({"slug": "matriz", "name": "Matriz"})).await["id"].as_i64().unwrap();
    let category =
        created(app, "/api/v1/categories", json!({"slug": "matriz", "name": "Matriz"})).await["id"].as_i64().unwrap();
    let victim_department =
        created(app, "/api/v1/departments", json!({"slug": "observatorio", "name": "Observatorio"})).await["id"]
            .as_i64()
            .unwrap();
    let calendars = app.get("/api/v1/calendars").await.body;
    let calendar =
        calendars.as_array().unwrap().iter().find(|c| c["slug"] == "horario-habil").unwrap()["id"].as_i64().unwrap();
    let policy = created(
        app,
        "/api/v1/sla/policies",
        json!({"name": "Matriz", "position": 50, "targets": {"first_reply": {"normal": 30}}, "calendar_id": calendar}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let rule = created(
        app,
        "/api/v1/routing/rules",
        json!({"name": "Matriz", "position": 90, "actions": {"tags": ["matriz"]}}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let plan = json!({"name": "Matriz", "agents": [agent], "queues": ["matriz"], "period": "weekly", "weekday": "monday",
        "at": "09:00", "start": "2026-08-31"});
    let rotation = created(app, "/api/v1/routing/rotations", plan).await["id"].as_i64().unwrap();
    let blocked =
        created(app, "/api/v1/channels/phone/blocked-numbers", json!({"number": "9 1111 2222", "reason": "prueba"}))
            .await["id"]
            .as_i64()
            .unwrap();
    let card = json!({"name": "Pauta de la matriz", "criteria": [{"key": "saludo", "name": "Saludo", "weight": 100}]});
    let scorecard = created(app, "/api/v1/quality/scorecards", card).await["id"].as_i64().unwrap();
    let event = json!({"event": "call.queued", "call_id": "matriz-1", "at": chrono::Utc::now(), "from": "9 2222 3333",
        "to": "600 7000 600", "queue": "mesa-de-ayuda"});
    let queued = app.call(Method::POST, "/api/v1/channels/phone/events", Some(&integration), Some(&event)).await;
    assert!(queued.status.is_success(), "{}", queued.body);
    let calls = app.get("/api/v1/calls").await.body;
    let call = calls["items"].as_array().unwrap().iter().find(|c| c["call_id"] == "matriz-1").expect("call")["id"]
        .as_i64()
        .unwrap();
    let canned = app.get("/api/v1/canned-responses").await.body;
    let canned = canned.as_array().unwrap().iter().find(|r| r["scope"] == "shared").expect("a seeded response")["id"]
        .as_i64()
        .unwrap();
    let fixture = Fixture {
        dept_a,
        victim_department,
        ticket,
        escalation,
        opportunity,
        agent,
        requester,
        queue,
        category,
        calendar,
        policy,
        rule,
        rotation,
        blocked,
        scorecard,
        call,
        canned,
        integration,
    };
    (fixture, tokens)
}

/// `template` with its parameters filled: department A's items where the path names one.
fn fill(f: &Fixture, template: &str) -> String {
    let id = |prefix: &str| template.starts_with(prefix);
    let value = if id("/api/v1/tickets/") {
        f.ticket
    } else if id("/api/v1/escalations/") {
        f.escalation
    } else if id("/api/v1/opportunities/") {
        f.opportunity
    } else if template == "/api/v1/departments/{id}" {
        // Deactivating department A would change what the other operations see.
        f.victim_department
    } else if id("/api/v1/departments/") {
        f.dept_a
    } else if id("/api/v1/agents/") {
        f.agent
    } else if id("/api/v1/requesters/") {
        f.requester
    } else if id("/api/v1/queues/") {
        f.queue
    } else if id("/api/v1/categories/") {
        f.category
    } else if id("/api/v1/calendars/") {
        f.calendar
    } else if id("/api/v1/sla/policies/") {
        f.policy
    } else if id("/api/v1/routing/rules/") {
        f.rule
    } else if id("/api/v1/routing/rotations/") {
        f.rotation
    } else if id("/api/v1/channels/phone/blocked-numbers/") {
        f.blocked
    } else if id("/api/v1/quality/scorecards/") {
        f.scorecard
    } else if id("/api/v1/calls/") {
        f.call
    } else if id("/api/v1/canned-responses/") {
        f.canned
    } else {
        // QA evaluations and quarantined mail: none exist, so allowed callers get 404.
        1
    };
    let token = if id("/api/v1/channels/phone/cti/") { f.integration.as_str() } else { "desconocido" };
    template.replace("{id}", &value.to_string()).replace("{date}", "2031-01-02").replace("{token}", token)
}

/// A realistic body for the allowed callers; denied callers get the same answer whatever they
/// send (see `callers_without_access_never_reach_the_body_or_the_query`).
fn body(method: &str, template: &str) -> Option<Value> {
    if method == "GET" || method == "DELETE" {
        return None;
    }
    Some(match template {
        "/api/v1/escalations/{id}/answer" => json!({"body": "Respuesta de la matriz."}),
        "/api/v1/opportunities" => json!({"title": "x", "description": "y", "department": "compradores"}),
        "/api/v1/opportunities/{id}/transitions" => json!({"to": "acknowledged"}),
        "/api/v1/opportunities/{id}/tickets" => json!({"ticket_ids": []}),
        "/api/v1/departments/{id}/webhook" => json!({"url": "no es una url"}),
        _ => json!({}),
    })
}

fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// Paths of department A's own items, which must never look missing to it.
fn scoped(template: &str) -> bool {
    ["/api/v1/departments/{id}/", "/api/v1/escalations/", "/api/v1/opportunities"]
        .iter()
        .any(|p| template.starts_with(p))
}

fn outcome(expected: char, caller: usize, status: u16, scoped: bool) -> bool {
    match expected {
        'y' if scoped && CALLERS[caller] == "department A" => ![401, 403, 404].contains(&status),
        'y' => status != 401 && status != 403,
        'n' if CALLERS[caller] == "anonymous" => status == 401,
        'n' => status == 403,
        'h' => status == 404,
        other => panic!("unknown expectation {other}"),
    }
}

on_all_backends! {
    async fn every_operation_answers_every_role_as_the_matrix_says(app) {
        let spec = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.body;
        let ops = operations(&spec);
        let table: BTreeSet<(String, String)> = MATRIX.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
        let unclassified: Vec<_> = ops.difference(&table).collect();
        assert!(unclassified.is_empty(), "operations without an expectation in MATRIX: {unclassified:?}");
        let stale: Vec<_> = table.difference(&ops).collect();
        assert!(stale.is_empty(), "MATRIX rows for operations the document does not have: {stale:?}");
        for (_, _, expected) in MATRIX {
            assert_eq!(expected.len(), CALLERS.len(), "{expected}");
        }

        let (f, tokens) = fixture(&app).await;
        let mut failures = Vec::new();
        for (method, template, expected) in MATRIX {
            let path = fill(&f, template);
            let body = body(method, template);
            let expected: Vec<char> = expected.chars().collect();
            // Denied callers first, admins last: what an allowed caller changes (answering,
            // deleting) never decides another caller's outcome.
            for caller in (0..CALLERS.len()).rev() {
                let mut request = app.client.request(method.parse().unwrap(), format!("{}{path}", app.address));
                if let Some(token) = &tokens[caller] {
                    request = request.bearer_auth(token);
                }
                if let Some(body) = &body {
                    request = request.json(body);
                }
                // Only the status: some answers are streams that never end.
                let status = request.send().await.expect("request sent").status().as_u16();
                if !outcome(expected[caller], caller, status, scoped(template)) {
                    failures.push(format!("{method} {path} as {}: {status}, expected {}", CALLERS[caller], expected[caller]));
                }
            }
        }
        assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    }
}

/// What a denied caller sends in [`callers_without_access_never_reach_the_body_or_the_query`]:
/// (query string, content type, body). None of it may decide the answer.
const BAD_INPUTS: &[(&str, Option<&str>, &str)] = &[
    ("?limit=abc&desconocido=1&cursor=%00", Some("application/json"), "{}"),
    ("", Some("application/json"), "{"),
    ("", None, ""),
    ("", Some("text/plain"), "hola"),
    ("", Some("application/json"), r#"{"\u0000": "\u0000", "limit": -1, "body": 7}"#),
];

/// The agent behind `token`, to give it a fresh token: the first request with a token misses the
/// token cache, which is when a slow role check could lose the race with a fast query error.
async fn agent_of(app: &TestApp, token: &str) -> i64 {
    use atencion::db::schema::api_tokens;
    use diesel::prelude::*;
    let hash = atencion::auth::hash_token(token);
    app.db
        .read(move |c| {
            Ok(api_tokens::table.filter(api_tokens::token_hash.eq(hash)).select(api_tokens::agent_id).first(c)?)
        })
        .await
        .expect("token's agent")
}

on_all_backends! {
    // Role before body: a caller the matrix denies gets its 401, 403 or 404 whatever the body
    // (empty, malformed, of another type, with NUL) and the query string, never a 400, 415 or 422
    // that would show it what the operation expects.
    async fn callers_without_access_never_reach_the_body_or_the_query(app) {
        let spec = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.body;
        let table: BTreeSet<(String, String)> = MATRIX.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
        assert_eq!(operations(&spec), table, "MATRIX must list every operation of the document");
        let (f, tokens) = fixture(&app).await;
        let mut agents = Vec::new();
        for token in &tokens {
            agents.push(match token {
                Some(token) => Some(agent_of(&app, token).await),
                None => None,
            });
        }
        let (mut failures, mut checked) = (Vec::new(), 0);
        for (method, template, expected) in MATRIX {
            let path = fill(&f, template);
            for (caller, expected) in expected.chars().enumerate() {
                if expected == 'y' {
                    continue;
                }
                for (i, (query, content_type, body)) in BAD_INPUTS.iter().enumerate() {
                    let token = match (agents[caller], i) {
                        (Some(agent), 0) => {
                            Some(app.db.write(move |c| atencion::auth::issue_token(c, agent, "fresca")).await.unwrap())
                        }
                        _ => tokens[caller].clone(),
                    };
                    let url = format!("{}{path}{query}", app.address);
                    let mut request = app.client.request(method.parse().unwrap(), url).body(body.to_string());
                    if let Some(token) = token {
                        request = request.bearer_auth(token);
                    }
                    if let Some(content_type) = content_type {
                        request = request.header("content-type", *content_type);
                    }
                    let status = request.send().await.expect("request sent").status().as_u16();
                    checked += 1;
                    if !outcome(expected, caller, status, false) {
                        failures.push(format!(
                            "{method} {path}{query} as {} with {content_type:?} {body:?}: {status}, expected {expected}",
                            CALLERS[caller]
                        ));
                    }
                }
            }
        }
        assert!(checked > 1000, "only {checked} requests");
        assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    }
}
