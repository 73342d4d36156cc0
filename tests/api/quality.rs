//! Quality of service: the satisfaction survey end to end (mail through a real SMTP server, the
//! page answered as a browser does), CSAT figures, QA scorecards, sampling, evaluations and
//! disputes, and the weekly report.

use std::time::{Duration, Instant};

use atencion::domain::event::SlaFired;
use atencion::domain::sla::Metric;
use atencion::domain::{Actor, Role, TicketEvent};
use chrono::{TimeDelta, Utc};
use mail_parser::MessageParser;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::email::{header, spawn_with_smtp, text_of, SmtpSink};
use crate::helpers::*;

fn token_for_ticket(app: &TestApp, id: i64, days: i64) -> String {
    app.signer.survey_token(id, Utc::now() + TimeDelta::days(days))
}

async fn agent(app: &TestApp, name: &str) -> (i64, String) {
    let created = app.post("/api/v1/agents", json!({"name": name, "role": "agent"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    let token = app.post(&format!("/api/v1/agents/{id}/tokens"), json!({"name": "prueba"})).await;
    (id, token.body["token"].as_str().unwrap().to_owned())
}

/// A ticket on `channel`, assigned to `agent`; the requester has `email` (or only a phone).
async fn ticket(app: &TestApp, subject: &str, email: Option<&str>, agent: Option<i64>, channel: &str) -> i64 {
    let mut body = ticket_body(subject, email.unwrap_or("x@x.cl"));
    if email.is_none() {
        body["requester"] = json!({"name": "Pedro Soto", "phone": "+56 9 8765 4321", "segment": "proveedor"});
    }
    body["channel"] = json!(channel);
    body["assignee_id"] = json!(agent);
    let reply = app.post("/api/v1/tickets", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_i64().unwrap()
}

async fn set_status(app: &TestApp, id: i64, status: &str) {
    let reply = app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": status})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// Solves ticket `id` as the holder of `token`: the survey is credited to whoever solves.
async fn solve_as(app: &TestApp, token: &str, id: i64) {
    let body = json!({"status": "solved"});
    let reply = app.call(Method::PATCH, &format!("/api/v1/tickets/{id}"), Some(token), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn surveys_queued(app: &TestApp, id: i64) -> usize {
    app.followed().await;
    let rows = app.get(&format!("/api/v1/channels/email/outbox?ticket_id={id}")).await.body;
    rows.as_array().unwrap().iter().filter(|r| r["kind"] == "survey").count()
}

/// The JSON variant of the survey answer (no token: the link is the credential).
async fn answer_json(app: &TestApp, token: &str, body: Value) -> Reply {
    app.call(Method::POST, &format!("/api/v1/public/surveys/{token}"), None, Some(&body)).await
}

/// What a browser does: a GET of the page, and a form-encoded POST.
async fn browse(app: &TestApp, path: &str, form: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let url = format!("{}{path}", app.address);
    let request = match form {
        None => app.client.get(url),
        Some(form) => {
            app.client.post(url).header("content-type", "application/x-www-form-urlencoded").body(form.to_owned())
        }
    };
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

async fn survey_mail(sink: &SmtpSink) -> Vec<u8> {
    let started = Instant::now();
    loop {
        let found = sink.delivered().into_iter().find(|raw| {
            let parsed = MessageParser::default().parse(raw).unwrap();
            parsed.subject().unwrap_or("").contains("Encuesta de satisfacción")
        });
        if let Some(raw) = found {
            return raw;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "no survey mail arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn survey_end_to_end(backend: Backend) {
    let Some(sink) = SmtpSink::start() else { return };
    let app = spawn_with_smtp(backend, sink.port, |_| {}).await;
    let (agent_id, agent_token) = agent(&app, "Javiera Soto").await;
    let id = ticket(&app, "Clave bloqueada", Some("ana@municipalidad.cl"), Some(agent_id), "email").await;
    solve_as(&app, &agent_token, id).await;

    // The mail reaches the real SMTP server, to the requester only, with the one-time link.
    let raw = survey_mail(&sink).await;
    assert!(header(&raw, "To").contains("ana@municipalidad.cl"), "{}", header(&raw, "To"));
    assert_eq!(header(&raw, "Auto-Submitted"), "auto-generated");
    let text = text_of(&raw);
    assert!(text.contains("Estimado/a Ana Pérez") && text.contains("«Clave bloqueada»"), "{text}");
    let link = regex::Regex::new(r"/encuesta/(\d+-\d+-[0-9a-f]{32})").unwrap();
    let token = link.captures(&text).unwrap_or_else(|| panic!("no link in {text}"))[1].to_owned();
    assert!(token.starts_with(&format!("{id}-")));
    // The expiry in the link is 7 days after solving.
    let expires: i64 = token.split('-').nth(1).unwrap().parse().unwrap();
    let days = (expires - Utc::now().timestamp()) as f64 / 86_400.0;
    assert!((6.9..=7.0).contains(&days), "{days}");
    let path = format!("/encuesta/{token}");

    // The page: Spanish, no login, nothing from elsewhere, not cached.
    let (status, headers, html) = browse(&app, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("lang=\"es-CL\"") && html.contains("¿Cómo lo atendimos?"), "{html}");
    assert!(html.contains("¿Se resolvió su problema?") && html.contains("name=\"puntaje\" value=\"7\""));
    assert!(html.contains("name=\"viewport\""));
    assert!(!html.contains("https://") && !html.contains("<script"), "{html}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");

    // Answered like a browser posts the form.
    let form = "puntaje=7&resuelto=si&comentario=Muy+amable%2C+gracias";
    let (status, _, html) = browse(&app, &path, Some(form)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("¡Gracias por su respuesta!"), "{html}");

    // A second answer is refused: page and JSON variant; the page itself says so too.
    let (status, _, html) = browse(&app, &path, Some("puntaje=1")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("ya fue respondida"), "{html}");
    let again = answer_json(&app, &token, json!({"score": 1})).await;
    assert_problem(&again, 409);
    assert_eq!(browse(&app, &path, None).await.0, StatusCode::CONFLICT);

    // The ticket's log has the answer.
    let events = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    let answered: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["kind"] == "csat_answered").collect();
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["data"]["score"], 7);
    assert_eq!(answered[0]["data"]["comment"], "Muy amable, gracias");
    assert_eq!(answered[0]["actor_type"], "requester");

    // Solving it again sends no second survey.
    set_status(&app, id, "open").await;
    set_status(&app, id, "solved").await;
    assert_eq!(surveys_queued(&app, id).await, 1);

    // An expired link and a forged one.
    let expired = app.signer.survey_token(id, Utc::now() - TimeDelta::minutes(1));
    let (status, _, html) = browse(&app, &format!("/encuesta/{expired}"), None).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("Encuesta vencida"), "{html}");
    assert_eq!(browse(&app, &format!("/encuesta/{expired}"), Some("puntaje=5")).await.0, StatusCode::GONE);
    assert_problem(&answer_json(&app, &expired, json!({"score": 5})).await, 410);
    let forged = format!("{id}-{}-{}", expires, "0".repeat(32));
    assert_eq!(browse(&app, &format!("/encuesta/{forged}"), None).await.0, StatusCode::NOT_FOUND);
    assert_problem(&answer_json(&app, &forged, json!({"score": 5})).await, 404);

    // The figures.
    let figures = app.get("/api/v1/quality/csat?by=agent").await;
    assert_eq!(figures.status, StatusCode::OK, "{}", figures.body);
    let total = &figures.body["total"];
    assert_eq!((total["responses"].as_u64(), total["csat"].as_f64()), (Some(1), Some(100.0)));
    assert_eq!((total["average_score"].as_f64(), total["fcr"].as_f64()), (Some(7.0), Some(100.0)));
    let group = &figures.body["groups"][0];
    assert_eq!(
        (group["key"].as_str(), group["name"].as_str()),
        (Some(agent_id.to_string().as_str()), Some("Javiera Soto"))
    );
    assert_eq!(group["responses"], 1);

    // And in the live KPIs of its channel: one answer, satisfied.
    let live =
        crate::kpis::figures_until(&app, "?window=today", "ch:email", |s| s["window"]["csat_responses"] == 1).await;
    assert_eq!(live["window"]["csat"].as_f64(), Some(1.0));
}

#[tokio::test]
async fn survey_end_to_end_sqlite() {
    survey_end_to_end(Backend::Sqlite).await;
}

#[tokio::test]
async fn survey_end_to_end_postgres() {
    if postgres_url().is_some() {
        survey_end_to_end(Backend::Postgres).await;
    }
}

on_all_backends! {
    async fn survey_rules_and_figures_by_dimension(app) {
        let (ana, ana_token) = agent(&app, "Ana Rojas").await;
        let (beto, beto_token) = agent(&app, "Beto Díaz").await;
        // No email: no survey.
        let phone_only = ticket(&app, "Sin correo", None, Some(ana), "phone").await;
        set_status(&app, phone_only, "solved").await;
        assert_eq!(surveys_queued(&app, phone_only).await, 0);

        let a1 = ticket(&app, "Consulta 1", Some("uno@x.cl"), Some(ana), "email").await;
        let a2 = ticket(&app, "Consulta 2", Some("dos@x.cl"), Some(ana), "web").await;
        let b1 = ticket(&app, "Consulta 3", Some("tres@x.cl"), Some(beto), "email").await;
        let unassigned = ticket(&app, "Consulta 4", Some("cuatro@x.cl"), None, "email").await;
        for (id, solver) in [(a1, &ana_token), (a2, &ana_token), (b1, &beto_token)] {
            solve_as(&app, solver, id).await;
        }
        // Solved by the service itself, with nobody assigned: the answer has no agent.
        let solve = atencion::tickets::UpdateTicketRequest { status: Some(atencion::domain::Status::Solved), ..Default::default() };
        app.db.write(move |c| atencion::tickets::store::update(c, unassigned, Actor::System, solve)).await.unwrap();
        for id in [a1, a2, b1, unassigned] {
            assert_eq!(surveys_queued(&app, id).await, 1);
        }
        // Validation (JSON and the page), before anything is stored.
        let bad = answer_json(&app, &token_for_ticket(&app, a1, 7), json!({"score": 9, "comment": "x"})).await;
        assert_eq!(assert_problem(&bad, 422), ["score"]);
        let (status, _, html) = browse(&app, &format!("/encuesta/{}", token_for_ticket(&app, a1, 7)), Some("comentario=hola")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("Elija una nota de 1 a 7.") && html.contains(">hola</textarea>"), "{html}");

        for (id, score, resolved) in [(a1, 7, json!(true)), (a2, 5, json!(false)), (b1, 6, json!(null)), (unassigned, 2, json!(true))] {
            let reply = answer_json(&app, &token_for_ticket(&app, id, 7), json!({"score": score, "resolved": resolved})).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }
        // Reassigning afterwards does not move the answer: it was copied at answer time.
        app.patch(&format!("/api/v1/tickets/{a1}"), json!({"status": "open", "assignee_id": beto})).await;

        let figures = app.get("/api/v1/quality/csat?by=agent").await.body;
        assert_eq!(figures["total"]["responses"], 4);
        assert_eq!(figures["total"]["csat"], 50.0);
        assert_eq!(figures["total"]["average_score"], 5.0);
        assert_eq!(figures["total"]["fcr_answers"], 3);
        assert_eq!(figures["total"]["fcr"], 66.7);
        let groups = figures["groups"].as_array().unwrap();
        let of = |key: Option<String>| groups.iter().find(|g| g["key"].as_str().map(str::to_owned) == key).unwrap().clone();
        let ana_row = of(Some(ana.to_string()));
        assert_eq!((ana_row["name"].as_str(), ana_row["responses"].as_u64(), ana_row["csat"].as_f64()), (Some("Ana Rojas"), Some(2), Some(50.0)));
        assert_eq!(ana_row["fcr"], 50.0);
        assert_eq!(of(Some(beto.to_string()))["csat"], 100.0);
        assert_eq!(of(None)["name"], "(sin asignar)");

        let by_channel = app.get("/api/v1/quality/csat?by=channel").await.body;
        let channels: Vec<(String, u64)> = by_channel["groups"].as_array().unwrap().iter()
            .map(|g| (g["key"].as_str().unwrap().to_owned(), g["responses"].as_u64().unwrap())).collect();
        assert_eq!(channels, [("email".to_owned(), 3), ("web".to_owned(), 1)]);
        let by_segment = app.get("/api/v1/quality/csat?by=segment").await.body;
        assert_eq!(by_segment["groups"][0]["key"], "comprador");
        let by_category = app.get("/api/v1/quality/csat?by=category").await.body;
        assert_eq!(by_category["groups"][0]["key"], "acceso-clave");
        let by_queue = app.get("/api/v1/quality/csat?by=queue").await.body;
        assert_eq!(by_queue["groups"][0]["key"], "mesa-de-ayuda");
        assert_eq!(by_queue["groups"][0]["responses"], 4);

        // CSV on request.
        let csv = app.client.get(format!("{}/api/v1/quality/csat?by=channel", app.address))
            .bearer_auth(&app.admin).header("accept", "text/csv").send().await.unwrap();
        assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert_eq!(csv.text().await.unwrap(),
            "key,name,responses,satisfied,csat,average_score,fcr_answers,fcr\r\nemail,email,3,2,66.7,5.0,2,100.0\r\nweb,web,1,0,0.0,5.0,1,0.0\r\n");
        // And for a spreadsheet in Spanish: BOM, `;`, Spanish titles, decimal commas.
        let excel = app.client.get(format!("{}/api/v1/quality/csat?by=channel&formato=excel", app.address))
            .bearer_auth(&app.admin).send().await.unwrap();
        assert_eq!(excel.headers()["content-type"], "text/csv; charset=utf-8");
        assert_eq!(excel.headers()["content-disposition"], "attachment; filename=\"csat.csv\"");
        assert_eq!(excel.bytes().await.unwrap().as_ref(), "\u{feff}clave;nombre;respuestas;satisfechos (6 y 7);CSAT (%);\
            nota promedio;respuestas sobre resolución;FCR (%)\r\nemail;email;3;2;66,7;5;2;100\r\nweb;web;1;0;0;5;1;0\r\n".as_bytes());
        assert_eq!(assert_problem(&app.get("/api/v1/quality/csat?formato=pdf").await, 422), ["formato"]);

        // A period without answers, bad periods, bad dimensions, and who may look.
        let empty = app.get("/api/v1/quality/csat?from=2020-01-01&to=2020-01-31").await.body;
        assert_eq!((empty["total"]["responses"].as_u64(), empty["total"]["csat"].is_null()), (Some(0), true));
        assert_eq!(assert_problem(&app.get("/api/v1/quality/csat?from=ayer").await, 422), ["from"]);
        assert_problem(&app.get("/api/v1/quality/csat?by=planeta").await, 422);
        let agent_token = app.token(Role::Agent).await;
        assert_problem(&app.call(Method::GET, "/api/v1/quality/csat", Some(&agent_token), None).await, 403);

        // A ticket merged after its survey went out: the link no longer opens.
        let merged = ticket(&app, "Duplicado", Some("cinco@x.cl"), Some(ana), "email").await;
        set_status(&app, merged, "solved").await;
        app.db.write(move |c| atencion::tickets::store::merge_into(c, merged, Actor::System, b1, "AU")).await.unwrap();
        let (status, _, _) = browse(&app, &format!("/encuesta/{}", token_for_ticket(&app, merged, 7)), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_problem(&answer_json(&app, &token_for_ticket(&app, merged, 7), json!({"score": 7})).await, 404);
    }
}

on_all_backends! {
    async fn the_survey_is_credited_to_the_agent_who_solved_the_ticket(app) {
        let (ana, ana_token) = agent(&app, "Ana Rojas").await;
        let (beto, _) = agent(&app, "Beto Díaz").await;
        // Ana answers and solves a ticket nobody had (her reply makes it hers) ...
        let replied = ticket(&app, "Sin asignar, respondido", Some("uno@x.cl"), None, "email").await;
        let path = format!("/api/v1/tickets/{replied}/messages");
        let reply = json!({"body": "Quedó resuelto.", "status": "solved"});
        assert_eq!(app.call(Method::POST, &path, Some(&ana_token), Some(&reply)).await.status, StatusCode::CREATED);
        // ... solves another nobody had without a word, and one that is Beto's.
        let silent = ticket(&app, "Sin asignar, cerrado", Some("dos@x.cl"), None, "email").await;
        solve_as(&app, &ana_token, silent).await;
        let betos = ticket(&app, "De Beto", Some("tres@x.cl"), Some(beto), "email").await;
        solve_as(&app, &ana_token, betos).await;
        // Solving gives no ticket away: Beto's stays his, the silent one nobody's.
        assert_eq!(app.get(&format!("/api/v1/tickets/{betos}")).await.body["assignee_id"], beto);
        assert!(app.get(&format!("/api/v1/tickets/{silent}")).await.body["assignee_id"].is_null());

        for (id, score) in [(replied, 7), (silent, 6), (betos, 2)] {
            let answered = answer_json(&app, &token_for_ticket(&app, id, 7), json!({"score": score})).await;
            assert_eq!(answered.status, StatusCode::CREATED, "{}", answered.body);
        }
        let figures = app.get("/api/v1/quality/csat?by=agent").await.body;
        let groups: Vec<(Value, u64)> = figures["groups"].as_array().unwrap().iter()
            .map(|g| (g["key"].clone(), g["responses"].as_u64().unwrap())).collect();
        assert_eq!(groups, [(json!(ana.to_string()), 3)], "{figures}");
        let events = app.get(&format!("/api/v1/tickets/{betos}/events")).await.body;
        let answered = events.as_array().unwrap().iter().find(|e| e["kind"] == "csat_answered").unwrap();
        assert_eq!(answered["data"]["agent_id"], ana);

        // The requester panel lists a requester's own answers, newest first, to agents only.
        let requester = app.get(&format!("/api/v1/tickets/{betos}")).await.body["requester"]["id"].as_i64().unwrap();
        let path = format!("/api/v1/requesters/{requester}/surveys");
        let answers = app.call(Method::GET, &path, Some(&ana_token), None).await;
        assert_eq!(answers.status, StatusCode::OK, "{}", answers.body);
        let answers = answers.body.as_array().unwrap().clone();
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!((answers[0]["ticket_id"].as_i64(), answers[0]["score"].as_i64()), (Some(betos), Some(2)));
        assert_eq!(answers[0]["agent_id"], ana);
        assert_eq!(app.get("/api/v1/requesters/999999/surveys").await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn survey_answers_are_rate_limited_per_address() {
    let app = spawn(Backend::Sqlite, |s| s.web_form.rate_limit_per_minute = 2).await;
    let forged = format!("1-{}-{}", Utc::now().timestamp() + 3600, "0".repeat(32));
    for _ in 0..2 {
        assert_problem(&answer_json(&app, &forged, json!({"score": 7})).await, 404);
    }
    let limited = answer_json(&app, &forged, json!({"score": 7})).await;
    assert_problem(&limited, 429);
    assert!(limited.headers.get("retry-after").is_some());
    let (status, headers, html) = browse(&app, &format!("/encuesta/{forged}"), Some("puntaje=7")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_some() && html.contains("Demasiados intentos"));
    // The web form keeps its own budget.
    let form =
        json!({"name": "Ana", "email": "ana@x.cl", "segment": "ciudadano", "subject": "Hola", "body": "Consulta"});
    assert_eq!(app.call(Method::POST, "/api/v1/public/tickets", None, Some(&form)).await.status, StatusCode::CREATED);
}

fn scorecard() -> Value {
    json!({
        "name": "Pauta general 2026",
        "description": "Atención por correo, web y teléfono",
        "criteria": [
            {"key": "saludo", "name": "Saludo y presentación", "weight": 10},
            {"key": "exactitud", "name": "Exactitud de la información", "weight": 40, "critical": true, "max": 4},
            {"key": "normativa", "name": "Cumple la normativa de compras", "weight": 20, "critical": true},
            {"key": "empatia", "name": "Empatía", "weight": 20, "max": 4},
            {"key": "cierre", "name": "Cierre", "weight": 10}
        ]
    })
}

fn marks(values: [Option<u32>; 5]) -> Value {
    let keys = ["saludo", "exactitud", "normativa", "empatia", "cierre"];
    Value::Array(keys.iter().zip(values).map(|(k, m)| json!({"key": k, "mark": m})).collect())
}

on_all_backends! {
    async fn scorecards_sampling_evaluations_and_disputes(app) {
        // Scorecards: supervisors and admins only; validated; unique names.
        let (ana, ana_token) = agent(&app, "Ana Rojas").await;
        let (beto, beto_token) = agent(&app, "Beto Díaz").await;
        let supervisor = app.token(Role::Supervisor).await;
        assert_problem(&app.call(Method::POST, "/api/v1/quality/scorecards", Some(&ana_token), Some(&scorecard())).await, 403);
        let card = app.call(Method::POST, "/api/v1/quality/scorecards", Some(&supervisor), Some(&scorecard())).await;
        assert_eq!(card.status, StatusCode::CREATED, "{}", card.body);
        let card_id = card.body["id"].as_i64().unwrap();
        assert_eq!(card.body["criteria"][1]["critical"], true);
        assert_eq!(card.body["criteria"][0]["max"], 1);
        assert_problem(&app.post("/api/v1/quality/scorecards", scorecard()).await, 409);
        let bad = app.post("/api/v1/quality/scorecards", json!({"name": "Mala", "criteria": [{"key": "A", "name": "x", "weight": 0}]})).await;
        assert_eq!(assert_problem(&bad, 422), ["criteria[0].key", "criteria[0].weight"]);
        let listed = app.call(Method::GET, "/api/v1/quality/scorecards", Some(&ana_token), None).await;
        assert_eq!(listed.body.as_array().unwrap().len(), 1);

        // Ana solved 4 email and 2 phone tickets, plus one the requester scored 3; Beto 2 web.
        let mut ana_tickets = Vec::new();
        for (n, channel) in ["email", "email", "email", "email", "phone", "phone"].iter().enumerate() {
            ana_tickets.push(ticket(&app, &format!("Consulta {n}"), Some(&format!("r{n}@x.cl")), Some(ana), channel).await);
        }
        let low = ticket(&app, "Reclamo", Some("reclamo@x.cl"), Some(ana), "email").await;
        let beto_tickets = [
            ticket(&app, "Web 1", Some("w1@x.cl"), Some(beto), "web").await,
            ticket(&app, "Web 2", Some("w2@x.cl"), Some(beto), "web").await,
        ];
        for id in ana_tickets.iter().chain([&low]) {
            solve_as(&app, &ana_token, *id).await;
        }
        for id in &beto_tickets {
            solve_as(&app, &beto_token, *id).await;
        }
        assert_eq!(answer_json(&app, &token_for_ticket(&app, low, 7), json!({"score": 3})).await.status, StatusCode::CREATED);
        // One of Ana's tickets breached an SLA target.
        let breached = ana_tickets[0];
        let fired = SlaFired { metric: Metric::Resolution, instance: 1, due_at: Utc::now(), notify: None };
        let now = atencion::db::types::UtcTime::now();
        app.db.write(move |c| atencion::tickets::log::record(c, breached, Actor::System, TicketEvent::SlaBreached(fired), now)).await.unwrap();

        let (from, to) = ((Utc::now() - TimeDelta::days(1)).to_rfc3339(), (Utc::now() + TimeDelta::days(1)).to_rfc3339());
        let request = json!({"from": from, "to": to, "per_agent": 3, "seed": 99, "scorecard_id": card_id});
        assert_problem(&app.call(Method::POST, "/api/v1/quality/samples", Some(&ana_token), Some(&request)).await, 403);
        let sample = app.call(Method::POST, "/api/v1/quality/samples", Some(&supervisor), Some(&request)).await;
        assert_eq!(sample.status, StatusCode::CREATED, "{}", sample.body);
        assert_eq!((sample.body["created"].as_u64(), sample.body["already_sampled"].as_u64()), (Some(6), Some(0)));
        let drawn = sample.body["evaluations"].as_array().unwrap().clone();
        assert!(drawn.iter().all(|e| e["ticket_subject"].as_str().is_some_and(|s| !s.is_empty())), "{drawn:?}");
        let count = |agent: i64, reason: &str, channel: &str| drawn.iter()
            .filter(|e| e["agent_id"] == agent && e["reason"] == reason && (channel.is_empty() || e["channel"] == channel)).count();
        // 3 at random for Ana, stratified (4 email : 2 phone → 2 + 1), plus the low CSAT one.
        assert_eq!((count(ana, "random", "email"), count(ana, "random", "phone")), (2, 1));
        assert_eq!(count(ana, "low_csat", ""), 1);
        assert!(drawn.iter().any(|e| e["ticket_id"] == low && e["reason"] == "low_csat"));
        assert_eq!(count(beto, "random", "web"), 2);
        assert!(drawn.iter().all(|e| e["status"] == "pending" && e["scorecard_id"] == card_id));
        // Idempotent: the same draw again creates nothing.
        let again = app.call(Method::POST, "/api/v1/quality/samples", Some(&supervisor), Some(&request)).await;
        assert_eq!((again.body["created"].as_u64(), again.body["already_sampled"].as_u64()), (Some(0), Some(6)));
        assert_eq!(again.body["evaluations"], sample.body["evaluations"]);

        // Pending samples are not shown to the agent.
        let own = app.call(Method::GET, "/api/v1/quality/evaluations", Some(&ana_token), None).await;
        assert_eq!(own.body["items"].as_array().unwrap().len(), 0);

        // Evaluating: a failed critical criterion zeroes the score; a full one is 100.
        let low_eval = drawn.iter().find(|e| e["reason"] == "low_csat").unwrap()["id"].as_i64().unwrap();
        let path = format!("/api/v1/quality/evaluations/{low_eval}");
        let failed = json!({"marks": marks([Some(1), Some(4), Some(0), Some(4), Some(1)]), "comment": "Indicó un plazo que no corresponde"});
        assert_problem(&app.call(Method::PUT, &path, Some(&ana_token), Some(&failed)).await, 403);
        let missing = json!({"marks": [{"key": "saludo", "mark": 1}]});
        assert_problem(&app.call(Method::PUT, &path, Some(&supervisor), Some(&missing)).await, 422);
        let done = app.call(Method::PUT, &path, Some(&supervisor), Some(&failed)).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert_eq!((done.body["score"].as_f64(), done.body["status"].as_str()), (Some(0.0), Some("completed")));
        assert_eq!(done.body["critical_failed"], json!(["normativa"]));
        assert_problem(&app.call(Method::PUT, &path, Some(&supervisor), Some(&failed)).await, 409);
        let ana_random = drawn.iter().find(|e| e["agent_id"] == ana && e["reason"] == "random").unwrap()["id"].as_i64().unwrap();
        let full = json!({"marks": marks([Some(1), Some(3), Some(1), None, Some(1)])});
        let good = app.call(Method::PUT, &format!("/api/v1/quality/evaluations/{ana_random}"), Some(&supervisor), Some(&full)).await;
        // (10 + 30 + 20 + 10) / 80 with empatía not applicable.
        assert_eq!(good.body["score"], 87.5);
        // Outside sampling, for Beto.
        let manual = app.post("/api/v1/quality/evaluations", json!({"ticket_id": beto_tickets[0], "scorecard_id": card_id,
            "marks": marks([Some(1), Some(4), Some(1), Some(4), Some(1)])})).await;
        assert_eq!(manual.status, StatusCode::CREATED, "{}", manual.body);
        assert_eq!((manual.body["agent_id"].as_i64(), manual.body["reason"].as_str(), manual.body["score"].as_f64()), (Some(beto), Some("manual"), Some(100.0)));
        let beto_eval = manual.body["id"].as_i64().unwrap();

        // Agents see their own evaluations only.
        let own = app.call(Method::GET, "/api/v1/quality/evaluations", Some(&ana_token), None).await;
        let items = own.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|e| e["agent_id"] == ana));
        assert_problem(&app.call(Method::GET, &format!("/api/v1/quality/evaluations?agent_id={beto}"), Some(&ana_token), None).await, 404);
        assert_problem(&app.call(Method::GET, &format!("/api/v1/quality/evaluations/{beto_eval}"), Some(&ana_token), None).await, 404);
        let beto_sees = app.call(Method::GET, &format!("/api/v1/quality/evaluations/{beto_eval}"), Some(&beto_token), None).await;
        assert_eq!(beto_sees.body["score"], 100.0);
        let all = app.call(Method::GET, &format!("/api/v1/quality/evaluations?agent_id={ana}&status=pending"), Some(&supervisor), None).await;
        assert_eq!(all.body["items"].as_array().unwrap().len(), 2);

        // Disputes: the evaluated agent, once; a supervisor answers.
        let dispute = json!({"reason": "El plazo que indiqué es el del reglamento vigente"});
        let dispute_path = format!("{path}/dispute");
        assert_problem(&app.call(Method::POST, &dispute_path, Some(&beto_token), Some(&dispute)).await, 404);
        assert_eq!(assert_problem(&app.call(Method::POST, &dispute_path, Some(&ana_token), Some(&json!({"reason": " "}))).await, 422), ["reason"]);
        let disputed = app.call(Method::POST, &dispute_path, Some(&ana_token), Some(&dispute)).await;
        assert_eq!(disputed.status, StatusCode::OK, "{}", disputed.body);
        assert_eq!(disputed.body["status"], "disputed");
        assert_problem(&app.call(Method::POST, &dispute_path, Some(&ana_token), Some(&dispute)).await, 409);
        let resolution = json!({"resolution": "Tiene razón: el plazo era correcto", "marks": marks([Some(1), Some(4), Some(1), Some(2), Some(1)])});
        assert_problem(&app.call(Method::POST, &format!("{path}/resolution"), Some(&ana_token), Some(&resolution)).await, 403);
        let resolved = app.call(Method::POST, &format!("{path}/resolution"), Some(&supervisor), Some(&resolution)).await;
        assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
        assert_eq!((resolved.body["status"].as_str(), resolved.body["score"].as_f64()), (Some("resolved"), Some(90.0)));
        assert_eq!(resolved.body["dispute_reason"], dispute["reason"]);
        assert_problem(&app.call(Method::POST, &dispute_path, Some(&ana_token), Some(&dispute)).await, 409);
        assert_problem(&app.call(Method::POST, &format!("{path}/resolution"), Some(&supervisor), Some(&resolution)).await, 409);

        // The report: quality next to CSAT and SLA, per agent and week.
        assert_problem(&app.call(Method::GET, "/api/v1/quality/report", Some(&ana_token), None).await, 403);
        let report = app.call(Method::GET, &format!("/api/v1/quality/report?by=agent&from={}", &from[..10]), Some(&supervisor), None).await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.body);
        let rows = report.body["rows"].as_array().unwrap();
        let ana_row = rows.iter().find(|r| r["group"] == ana).unwrap();
        assert_eq!(ana_row["name"], "Ana Rojas");
        assert_eq!((ana_row["evaluations"].as_u64(), ana_row["quality_score"].as_f64()), (Some(2), Some(88.8)));
        assert_eq!((ana_row["csat"]["responses"].as_u64(), ana_row["csat"]["csat"].as_f64()), (Some(1), Some(0.0)));
        assert_eq!((ana_row["solved"].as_u64(), ana_row["sla_breached"].as_u64(), ana_row["sla_compliance"].as_f64()), (Some(7), Some(1), Some(85.7)));
        let beto_row = rows.iter().find(|r| r["group"] == beto).unwrap();
        assert_eq!((beto_row["quality_score"].as_f64(), beto_row["sla_compliance"].as_f64()), (Some(100.0), Some(100.0)));
        // Whole days (as the screens ask): the solved tickets come from the daily rollup, the same.
        let days = format!("/api/v1/quality/report?by=agent&from={}&to={}", &from[..10], &to[..10]);
        let by_days = app.call(Method::GET, &days, Some(&supervisor), None).await;
        assert_eq!(by_days.status, StatusCode::OK, "{}", by_days.body);
        let solved = |rows: &Value| {
            let mut found: Vec<(Value, Value, Value, Value)> = rows.as_array().unwrap().iter()
                .map(|r| (r["group"].clone(), r["week"].clone(), r["solved"].clone(), r["sla_breached"].clone())).collect();
            found.sort_by_key(|r| r.0.to_string());
            found
        };
        assert_eq!(solved(&by_days.body["rows"]), solved(&report.body["rows"]));
        let by_queue = app.get("/api/v1/quality/report?by=queue").await.body;
        let queue_rows = by_queue["rows"].as_array().unwrap();
        assert_eq!(queue_rows.len(), 1);
        assert_eq!((queue_rows[0]["name"].as_str(), queue_rows[0]["evaluations"].as_u64(), queue_rows[0]["solved"].as_u64()), (Some("Mesa de Ayuda"), Some(3), Some(9)));

        // A ticket solved without an agent: "(sin asignar)" in both ways of counting.
        let nobody = ticket(&app, "Sin agente", Some("nadie@x.cl"), None, "web").await;
        set_status(&app, nobody, "solved").await;
        let instants = app.call(Method::GET, &format!("/api/v1/quality/report?by=agent&from={}", &from[..10]), Some(&supervisor), None).await;
        let by_days = app.call(Method::GET, &days, Some(&supervisor), None).await;
        assert_eq!(solved(&by_days.body["rows"]), solved(&instants.body["rows"]));
        let unassigned = by_days.body["rows"].as_array().unwrap().iter().find(|r| r["group"].is_null()).expect("an unassigned row");
        assert_eq!((unassigned["name"].as_str(), unassigned["solved"].as_u64()), (Some("(sin asignar)"), Some(1)));
    }
}

on_all_backends! {
    async fn top_recurring_problems(app) {
        let create = |subject: &'static str, email: &'static str, category: Option<&'static str>| {
            let app = &app;
            async move {
                let mut body = ticket_body(subject, email);
                body["category"] = json!(category);
                let reply = app.post("/api/v1/tickets", body).await;
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            }
        };
        // Ana writes twice about her password: the second is a repeat contact, and the first was
        // not solved at first contact.
        create("Clave bloqueada", "ana@x.cl", Some("acceso-clave")).await;
        create("Sigo con la clave bloqueada", "ana@x.cl", Some("acceso-clave")).await;
        create("Olvidé mi clave", "beto@x.cl", Some("acceso-clave")).await;
        create("Error en Compra Ágil", "ana@x.cl", Some("compra-agil")).await;
        create("Pago atrasado", "carla@x.cl", None).await;

        let agent_token = app.token(Role::Agent).await;
        assert_problem(&app.call(Method::GET, "/api/v1/quality/recurring", Some(&agent_token), None).await, 403);
        let reply = app.get("/api/v1/quality/recurring").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let r = &reply.body;
        assert_eq!((r["tickets"].as_u64(), r["window_days"].as_i64()), (Some(5), Some(7)));
        assert_eq!(r["terms"][0], json!({"term": "clave", "tickets": 3}));
        assert_eq!(r["terms"][1], json!({"term": "bloqueada", "tickets": 2}));
        let first = &r["categories"][0];
        assert_eq!((first["category"].as_str(), first["name"].as_str()), (Some("acceso-clave"), Some("Acceso, clave y usuarios")));
        assert_eq!((first["tickets"].as_u64(), first["requesters"].as_u64(), first["repeat_contacts"].as_u64()), (Some(3), Some(2), Some(1)));
        assert_eq!((first["repeat_rate"].as_f64(), first["fcr"].as_f64()), (Some(33.3), Some(66.7)));
        assert_eq!(first["terms"][0]["term"], "clave");
        let categories = r["categories"].as_array().unwrap();
        assert_eq!(categories.len(), 3);
        // Ana's Compra Ágil ticket is another category: not a repeat.
        let compra = categories.iter().find(|c| c["category"] == "compra-agil").unwrap();
        assert_eq!((compra["repeat_contacts"].as_u64(), compra["fcr"].as_f64()), (Some(0), Some(100.0)));
        assert!(categories.iter().any(|c| c["category"].is_null() && c["name"] == "(sin categoría)"));
        let one = app.get("/api/v1/quality/recurring?limit=1").await.body;
        assert_eq!(one["categories"].as_array().unwrap().len(), 1);
        assert_eq!(assert_problem(&app.get("/api/v1/quality/recurring?limit=0").await, 422), ["limit"]);
    }
}
