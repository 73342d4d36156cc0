//! Trend and spike detection on synthetic series: eight weeks of tickets written with their own
//! creation times, then the scan as of a chosen instant. An injected spike raises exactly one
//! alert (mail through a real SMTP server, draft opportunity, live KPIs); a normal Monday peak
//! raises none; scans repeated or run by two replicas at once act once.

use std::time::{Duration as StdDuration, Instant};

use atencion::db::schema::{categories, outbox, requesters, tickets, trend_alerts};
use atencion::db::types::UtcTime;
use atencion::domain::Role;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use mail_parser::MessageParser;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::email::{header, spawn_with_smtp, text_of, SmtpSink};
use crate::helpers::*;
use crate::kpis::next_event;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Wednesday 18 November 2026, 15:00–16:00 in Santiago (UTC−3): the spike's hour.
const SPIKE_HOUR: &str = "2026-11-18T18:00:00Z";
/// Five past the hour: the scan's instant, whose last complete hour is the spike's.
const SCAN_AT: &str = "2026-11-18T19:05:00Z";
/// Compra Ágil tickets in the same hour of the eight previous Wednesdays, oldest first.
const HISTORY: [usize; 8] = [3, 4, 5, 4, 3, 5, 4, 4];

async fn category(app: &TestApp, slug: &'static str) -> i64 {
    app.db
        .read(move |c| Ok(categories::table.filter(categories::slug.eq(slug)).select(categories::id).first(c)?))
        .await
        .unwrap()
}

/// Writes `n` tickets of `category` created from `start` on, a minute apart; returns their ids.
async fn tickets_at(app: &TestApp, category: i64, subject: &str, start: DateTime<Utc>, n: usize) -> Vec<i64> {
    let subject = subject.to_owned();
    app.db
        .write(move |c| {
            let requester: i64 = diesel::insert_into(requesters::table)
                .values((
                    requesters::name.eq("Persona de prueba"),
                    requesters::email.eq(format!("p{:x}@example.cl", rand::random::<u32>())),
                    requesters::segment.eq("comprador"),
                    requesters::created_at.eq(UtcTime::from(start)),
                    requesters::updated_at.eq(UtcTime::from(start)),
                ))
                .returning(requesters::id)
                .get_result(c)?;
            let mut ids = Vec::new();
            for i in 0..n {
                let created = UtcTime::from(start + Duration::minutes(i as i64));
                ids.push(
                    diesel::insert_into(tickets::table)
                        .values((
                            tickets::number.eq(format!("TR-{:016x}", rand::random::<u64>())),
                            tickets::subject.eq(&subject),
                            tickets::status.eq("open"),
                            tickets::priority.eq("normal"),
                            tickets::channel.eq("web"),
                            tickets::category_id.eq(category),
                            tickets::requester_id.eq(requester),
                            tickets::created_at.eq(created),
                            tickets::updated_at.eq(created),
                            tickets::kind.eq("standard"),
                        ))
                        .returning(tickets::id)
                        .get_result(c)?,
                );
            }
            Ok(ids)
        })
        .await
        .unwrap()
}

/// Eight calm weeks (Compra Ágil per [`HISTORY`], Acceso 2 a week) and the spike hour: 20
/// tickets about one problem in Compra Ágil, 2 ordinary ones in Acceso. Returns the spike's ids.
async fn spike_series(app: &TestApp) -> Vec<i64> {
    spike_series_at(app, at(SPIKE_HOUR)).await
}

/// The same series with its spike in the hour starting at `hour` (the browser test's is recent).
pub(crate) async fn spike_series_at(app: &TestApp, hour: DateTime<Utc>) -> Vec<i64> {
    let (agil, acceso) = (category(app, "compra-agil").await, category(app, "acceso-clave").await);
    let subjects = ["Cómo cotizar en Compra Ágil", "Plazo de cotización", "Estado de mi cotización"];
    for (i, n) in HISTORY.iter().enumerate() {
        let week = hour - Duration::weeks(8 - i as i64) + Duration::minutes(5);
        for (j, subject) in subjects.iter().enumerate() {
            let count = n / 3 + usize::from(j < n % 3);
            tickets_at(app, agil, subject, week + Duration::minutes(10 * j as i64), count).await;
        }
        tickets_at(app, acceso, "Clave bloqueada", week, 2).await;
    }
    tickets_at(app, acceso, "Clave bloqueada", hour, 2).await;
    tickets_at(app, agil, "Error al emitir orden de compra en Compra Ágil", hour + Duration::minutes(3), 20).await
}

async fn scan(app: &TestApp, token: &str, instant: &str) -> Reply {
    app.call(Method::POST, "/api/v1/quality/trends/scan", Some(token), Some(&json!({"at": instant}))).await
}

async fn supervisor(app: &TestApp, name: &str, email: &str) -> String {
    let created = app.post("/api/v1/agents", json!({"name": name, "role": "supervisor", "email": email})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    let token = app.post(&format!("/api/v1/agents/{id}/tokens"), json!({"name": "prueba"})).await;
    token.body["token"].as_str().unwrap().to_owned()
}

/// (alerts, trend-detection opportunities, trend mails queued) in the database.
async fn side_effects(app: &TestApp) -> (i64, i64, i64) {
    app.db
        .read(|c| {
            use atencion::db::schema::opportunities;
            let alerts = trend_alerts::table.count().get_result(c)?;
            let drafts =
                opportunities::table.filter(opportunities::source.eq("trend_detection")).count().get_result(c)?;
            let mails = outbox::table.filter(outbox::kind.eq("trend_alert")).count().get_result(c)?;
            Ok((alerts, drafts, mails))
        })
        .await
        .unwrap()
}

async fn trend_mail(sink: &SmtpSink) -> Vec<u8> {
    let started = Instant::now();
    loop {
        let found = sink.delivered().into_iter().find(|raw| {
            let parsed = MessageParser::default().parse(raw).unwrap();
            parsed.subject().unwrap_or("").contains("Alerta de tendencia")
        });
        if let Some(raw) = found {
            return raw;
        }
        assert!(started.elapsed() < StdDuration::from_secs(15), "no trend alert mail arrived");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

async fn injected_spike(backend: Backend) {
    let Some(sink) = SmtpSink::start() else { return };
    let app = spawn_with_smtp(backend, sink.port, |_| {}).await;
    let boss = supervisor(&app, "Carolina Jefa", "jefa@chilecompra.cl").await;
    let created = app.post("/api/v1/agents", json!({"name": "Pablo", "role": "agent", "email": "pablo@x.cl"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let spike = spike_series(&app).await;
    let mut stream =
        app.client.get(format!("{}/api/v1/kpis/stream", app.address)).bearer_auth(&boss).send().await.unwrap();
    assert_eq!(next_event(&mut stream).await["trend_alerts"], json!([]));

    let scanned = Instant::now();
    let reply = scan(&app, &app.admin, SCAN_AT).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // The live KPI stream pushes the new alert at once (not at its next 5-second refresh).
    loop {
        let event = next_event(&mut stream).await;
        if let Some([shown]) = event["trend_alerts"].as_array().map(Vec::as_slice) {
            assert_eq!(shown["observed"], 20);
            break;
        }
    }
    assert!(scanned.elapsed() < StdDuration::from_secs(2), "pushed after {:?}", scanned.elapsed());
    assert_eq!(reply.body["hour"]["start"], "2026-11-18T18:00:00Z");
    assert_eq!(reply.body["day"]["start"], "2026-11-17T03:00:00Z");
    let raised = reply.body["raised"].as_array().unwrap();
    assert_eq!(raised.len(), 1, "{}", reply.body);
    let alert = &raised[0];
    assert_eq!(alert["granularity"], "hour");
    assert_eq!(alert["category"], "compra-agil");
    assert_eq!(alert["keyword"], Value::Null);
    assert_eq!(alert["bucket_start_local"], "2026-11-18T15:00:00-03:00");
    assert_eq!(alert["bucket_end_local"], "2026-11-18T16:00:00-03:00");
    assert_eq!(alert["period"], "miércoles 18-11-2026 15:00–16:00");
    assert_eq!(alert["observed"], 20);
    assert_eq!(alert["history"], json!(HISTORY));
    assert_eq!(alert["baseline_mean"], 4.0);
    // The sample σ (0.76) is below √4 = 2; band 4 + 3·2 = 10; P(X ≥ 11 | 4) < 0.01.
    assert_eq!(alert["baseline_sigma"], 2.0);
    assert_eq!(alert["threshold"], 11);
    assert_eq!(alert["method"], "seasonal_poisson");
    assert!(alert["p_value"].as_f64().unwrap() < 1e-6);
    assert_eq!(alert["params"], json!({"history_weeks": 8, "k": 3.0, "alpha": 0.01, "min_count": 5}));
    assert_eq!(alert["ticket_ids"], json!(spike));
    assert_eq!(alert["department"], "compradores");
    let terms = alert["related_terms"].as_array().unwrap();
    assert!(terms.contains(&json!("emitir")) && terms.contains(&json!("orden")), "{terms:?}");
    let explanation = alert["explanation"].as_str().unwrap();
    assert!(explanation.contains("20 tickets frente a un promedio de 4.0"), "{explanation}");

    // The draft opportunity: for the mapped department, proposed by no one, the spike as evidence.
    let opportunity = app.get(&format!("/api/v1/opportunities/{}", alert["opportunity_id"])).await;
    assert_eq!(opportunity.status, StatusCode::OK, "{}", opportunity.body);
    let o = &opportunity.body;
    assert_eq!((o["status"].as_str(), o["department"].as_str()), (Some("draft"), Some("compradores")));
    assert_eq!((o["source"].as_str(), o["proposed_by"].clone()), (Some("trend_detection"), Value::Null));
    assert_eq!((o["category"].as_str(), o["ticket_ids"].clone()), (Some("compra-agil"), json!(spike)));
    let description = o["description"].as_str().unwrap();
    assert!(description.contains("Casos observados: 20") && description.contains("Umbral de alerta: 11"));
    assert!(description.contains("promedio 4.0"), "{description}");

    // The supervisors' mail reaches the real SMTP server; agents get none.
    let raw = trend_mail(&sink).await;
    assert_eq!(header(&raw, "To"), "jefa@chilecompra.cl");
    assert_eq!(header(&raw, "Auto-Submitted"), "auto-generated");
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert!(parsed.subject().unwrap().contains("Compra Ágil"), "{:?}", parsed.subject());
    let text = text_of(&raw);
    for expected in [
        "Casos observados: 20",
        "promedio 4.0, desviación 2.0",
        "Umbral de alerta: 11 casos",
        "miércoles 18-11-2026 15:00–16:00",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    assert!(text.contains(&format!("oportunidad de mejora N° {}", alert["opportunity_id"])), "{text}");
    assert_eq!(side_effects(&app).await, (1, 1, 1));

    // Supervisors read it, with filters.
    let listed = app.call(Method::GET, "/api/v1/quality/trends?since=2026-11-01", Some(&boss), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["id"], alert["id"]);
    for (query, n) in
        [("granularity=day", 0), ("granularity=hour", 1), ("category=acceso-clave", 0), ("category=compra-agil", 1)]
    {
        let reply = app.get(&format!("/api/v1/quality/trends?since=2026-11-01&{query}")).await;
        assert_eq!(reply.body.as_array().map(Vec::len), Some(n), "{query}: {}", reply.body);
    }
    // The default period is the last 7 days: this bucket is older.
    assert_eq!(app.get("/api/v1/quality/trends").await.body, json!([]));

    // The live KPIs show today's alerts.
    let live = app.call(Method::GET, "/api/v1/kpis/realtime", Some(&boss), None).await;
    assert_eq!(live.status, StatusCode::OK);
    let shown = live.body["trend_alerts"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{}", live.body);
    assert_eq!((shown[0]["id"].clone(), shown[0]["threshold"].clone()), (alert["id"].clone(), json!(11)));

    // A later scan of the same hour finds the spike again and does nothing more.
    let again = scan(&app, &app.admin, "2026-11-18T19:40:00Z").await;
    assert_eq!((again.body["spikes"].as_u64(), again.body["raised"].clone()), (Some(1), json!([])));
    assert_eq!(side_effects(&app).await, (1, 1, 1));
}

#[tokio::test]
async fn injected_spike_sqlite() {
    injected_spike(Backend::Sqlite).await;
}

#[tokio::test]
async fn injected_spike_postgres() {
    if postgres_url().is_some() {
        injected_spike(Backend::Postgres).await;
    }
}

on_all_backends! {
    async fn normal_monday_peak_is_not_an_alert(app) {
        let licitaciones = category(&app, "licitaciones").await;
        // Mondays 10:00–11:00 (13:00Z) always bring about 30 tickets; Tuesdays 3.
        let monday = at("2026-11-16T13:00:00Z");
        for (w, n) in [28, 31, 30, 32, 29, 30, 31, 29].into_iter().enumerate() {
            let week = monday - Duration::weeks(8 - w as i64);
            tickets_at(&app, licitaciones, "Consulta sobre bases de licitación", week, n).await;
            tickets_at(&app, licitaciones, "Consulta sobre bases de licitación", week + Duration::days(1), 3).await;
        }
        tickets_at(&app, licitaciones, "Consulta sobre bases de licitación", monday, 31).await;
        let reply = scan(&app, &app.admin, "2026-11-16T14:05:00Z").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!((reply.body["spikes"].as_u64(), reply.body["raised"].clone()), (Some(0), json!([])));

        // The same 31 on a Tuesday are a spike: the baseline is the weekday's own.
        tickets_at(&app, licitaciones, "Consulta sobre bases de licitación", monday + Duration::days(1), 31).await;
        let reply = scan(&app, &app.admin, "2026-11-17T14:05:00Z").await;
        let raised = reply.body["raised"].as_array().unwrap();
        assert_eq!(raised.len(), 1, "{}", reply.body);
        assert_eq!((raised[0]["observed"].as_u64(), raised[0]["baseline_mean"].as_f64()), (Some(31), Some(3.0)));
        // Its day (Monday the 16th, as busy as every Monday) raised nothing.
        assert_eq!(raised[0]["granularity"], "hour");
        assert_eq!(raised[0]["department"], "compradores");
    }

    async fn no_history_no_alert(app) {
        // The very first tickets of the service: no baseline, so no alert however many.
        let pagos = category(&app, "pagos").await;
        tickets_at(&app, pagos, "Pago atrasado", at(SPIKE_HOUR), 40).await;
        let reply = scan(&app, &app.admin, SCAN_AT).await;
        assert_eq!((reply.body["spikes"].as_u64(), reply.body["raised"].clone()), (Some(0), json!([])));
    }

    async fn repeated_and_concurrent_scans_act_once(app) {
        supervisor(&app, "Carolina Jefa", "jefa@chilecompra.cl").await;
        spike_series(&app).await;
        let (a, b, c) = tokio::join!(
            scan(&app, &app.admin, SCAN_AT),
            scan(&app, &app.admin, SCAN_AT),
            scan(&app, &app.admin, SCAN_AT)
        );
        let raised: usize = [a, b, c]
            .iter()
            .map(|r| {
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                r.body["raised"].as_array().unwrap().len()
            })
            .sum();
        assert_eq!(raised, 1);
        assert_eq!(side_effects(&app).await, (1, 1, 1));
    }

    async fn a_cluster_left_after_reclassification_is_not_alerted_under_its_category_alert(app) {
        supervisor(&app, "Carolina Jefa", "jefa@chilecompra.cl").await;
        let spike = spike_series(&app).await;
        let first = scan(&app, &app.admin, SCAN_AT).await;
        let raised = first.body["raised"].as_array().unwrap();
        assert_eq!(raised.len(), 1, "{}", first.body);
        assert!(raised[0]["keyword"].is_null(), "{}", first.body);
        // Agents take 14 of the 20 tickets out of Compra Ágil: six are below the category's
        // threshold, but still a cluster of "emitir orden" where there were none.
        let moved = spike[..14].to_vec();
        app.db
            .write(move |c| {
                Ok(diesel::update(tickets::table.filter(tickets::id.eq_any(moved)))
                    .set(tickets::category_id.eq(None::<i64>))
                    .execute(c)?)
            })
            .await
            .unwrap();
        let again = scan(&app, &app.admin, SCAN_AT).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.body);
        assert!(again.body["spikes"].as_u64().unwrap() >= 1, "the cluster is still a spike: {}", again.body);
        assert_eq!(again.body["raised"], json!([]));
        assert_eq!(side_effects(&app).await, (1, 1, 1));
    }

    async fn trend_endpoints_check_input_and_roles(app) {
        let agent = app.token(Role::Agent).await;
        let boss = app.token(Role::Supervisor).await;
        for (query, field) in [("granularity=week", "granularity"), ("since=ayer", "since"), ("category=nada", "category"), ("otro=1", "otro")] {
            let reply = app.get(&format!("/api/v1/quality/trends?{query}")).await;
            assert_eq!(assert_problem(&reply, 422), [field], "{query}");
        }
        let post = |token: &str, body: Option<&str>, content_type: &str| {
            let mut request = app.client.post(format!("{}/api/v1/quality/trends/scan", app.address)).bearer_auth(token);
            if let Some(body) = body {
                request = request.header("content-type", content_type).body(body.to_owned());
            }
            async move { into_reply(request.send().await.unwrap()).await }
        };
        assert_eq!(assert_problem(&post(&app.admin, Some(r#"{"at": "mañana"}"#), "application/json").await, 422), ["at"]);
        assert_eq!(assert_problem(&post(&app.admin, Some(r#"{"cuando": 1}"#), "application/json").await, 422), ["cuando"]);
        assert_problem(&post(&app.admin, Some("{"), "application/json").await, 400);
        assert_problem(&post(&app.admin, Some("at=1"), "text/plain").await, 415);
        // No body: as of now.
        let now = post(&app.admin, None, "").await;
        assert_eq!(now.status, StatusCode::OK, "{}", now.body);

        // Supervisors read alerts but do not run scans; agents do neither; nobody without a token.
        assert_eq!(app.call(Method::GET, "/api/v1/quality/trends", Some(&boss), None).await.status, StatusCode::OK);
        assert_problem(&app.call(Method::GET, "/api/v1/quality/trends", Some(&agent), None).await, 403);
        assert_problem(&post(&boss, Some("{}"), "application/json").await, 403);
        assert_problem(&post(&agent, Some("{}"), "application/json").await, 403);
        assert_problem(&app.call(Method::GET, "/api/v1/quality/trends", None, None).await, 401);
        assert_problem(&app.call(Method::GET, "/api/v1/kpis/realtime", Some(&agent), None).await, 403);

        // Categories carry the department their problems go to, editable with the category.
        let agil = category(&app, "compra-agil").await;
        let shown = app.get(&format!("/api/v1/categories/{agil}")).await;
        let compradores = shown.body["department_id"].as_i64().expect("seeded mapping");
        let moved = app.patch(&format!("/api/v1/categories/{agil}"), json!({"department_id": compradores + 1})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
        assert_eq!(moved.body["department_id"], compradores + 1);
        let bad = app.patch(&format!("/api/v1/categories/{agil}"), json!({"department_id": 9999})).await;
        assert_eq!(assert_problem(&bad, 422), ["department_id"]);
        let acceso = app.get(&format!("/api/v1/categories/{}", category(&app, "acceso-clave").await)).await;
        assert_eq!(acceso.body["department_id"], Value::Null);
    }
}

/// Two replicas on one Postgres database scan the same instant at once, several times: one alert,
/// one opportunity, one mail per supervisor.
#[tokio::test]
async fn two_replicas_raise_each_alert_once() {
    if postgres_url().is_none() {
        return;
    }
    let first = spawn(Backend::Postgres, |_| {}).await;
    let url = first.database_url.clone();
    let second = spawn(Backend::Postgres, move |s| s.database.url = url).await;
    supervisor(&first, "Carolina Jefa", "jefa@chilecompra.cl").await;
    supervisor(&first, "Rodrigo Jefe", "jefe@chilecompra.cl").await;
    spike_series(&first).await;
    let mut raised = 0;
    for _ in 0..3 {
        let (a, b) = tokio::join!(scan(&first, &first.admin, SCAN_AT), scan(&second, &second.admin, SCAN_AT));
        for r in [a, b] {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            raised += r.body["raised"].as_array().unwrap().len();
        }
    }
    assert_eq!(raised, 1);
    assert_eq!(side_effects(&first).await, (1, 1, 2));
    assert_eq!(side_effects(&second).await, (1, 1, 2));
}
