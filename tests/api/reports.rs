//! Historical reports: known tickets, messages, events and calls written with their own
//! timestamps, and the exact figures, CSV text, roles and parameter errors expected.

use atencion::db::schema::{calls, messages, queues, requesters, sla_deadlines, ticket_events, tickets};
use atencion::db::types::{JsonValue, UtcTime};
use atencion::db::DbConnection;
use atencion::directory::{self, CreateAgentRequest};
use atencion::domain::Role;
use atencion::error::AppError;
use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// An instant of March 2026 (Santiago is UTC−3 until April 5).
fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
}

fn feb(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, d, h, m, 0).unwrap()
}

fn at(t: DateTime<Utc>) -> UtcTime {
    UtcTime::from(t)
}

struct Ticket {
    channel: &'static str,
    requester: i64,
    assignee: Option<i64>,
    created: DateTime<Utc>,
    solved: Option<DateTime<Utc>>,
}

fn ticket(c: &mut DbConnection, number: &str, queue: i64, t: Ticket) -> Result<i64, AppError> {
    let status = if t.solved.is_some() { "solved" } else { "open" };
    Ok(diesel::insert_into(tickets::table)
        .values((
            tickets::number.eq(number),
            tickets::subject.eq("Consulta"),
            tickets::status.eq(status),
            tickets::priority.eq("normal"),
            tickets::channel.eq(t.channel),
            tickets::queue_id.eq(queue),
            tickets::assignee_id.eq(t.assignee),
            tickets::requester_id.eq(t.requester),
            tickets::created_at.eq(at(t.created)),
            tickets::updated_at.eq(at(t.created)),
            tickets::solved_at.eq(t.solved.map(at)),
            tickets::kind.eq("standard"),
        ))
        .returning(tickets::id)
        .get_result(c)?)
}

fn message(
    c: &mut DbConnection,
    ticket: i64,
    author: &str,
    agent: Option<i64>,
    visibility: &str,
    t: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::insert_into(messages::table)
        .values((
            messages::ticket_id.eq(ticket),
            messages::author_type.eq(author),
            messages::author_agent_id.eq(agent),
            messages::visibility.eq(visibility),
            messages::channel.eq("email"),
            messages::body_text.eq("Texto"),
            messages::created_at.eq(at(t)),
        ))
        .execute(c)?;
    Ok(())
}

fn event(c: &mut DbConnection, ticket: i64, kind: &str, t: DateTime<Utc>) -> Result<(), AppError> {
    diesel::insert_into(ticket_events::table)
        .values((
            ticket_events::ticket_id.eq(ticket),
            ticket_events::kind.eq(kind),
            ticket_events::actor_type.eq("system"),
            ticket_events::data.eq(JsonValue(json!({}))),
            ticket_events::created_at.eq(at(t)),
        ))
        .execute(c)?;
    Ok(())
}

fn breach(c: &mut DbConnection, ticket: i64, metric: &str, t: DateTime<Utc>) -> Result<(), AppError> {
    diesel::insert_into(sla_deadlines::table)
        .values((
            sla_deadlines::ticket_id.eq(ticket),
            sla_deadlines::metric.eq(metric),
            sla_deadlines::instance.eq(0),
            sla_deadlines::kind.eq("breach"),
            sla_deadlines::due_at.eq(at(t)),
            sla_deadlines::fired_at.eq(Some(at(t))),
        ))
        .execute(c)?;
    Ok(())
}

struct Call {
    direction: &'static str,
    outcome: &'static str,
    queued: DateTime<Utc>,
    wait: i64,
    agent: Option<i64>,
    /// talk, hold, after-call work
    handle: (i64, i64, i64),
}

fn call(c: &mut DbConnection, id: &str, queue: i64, k: Call) -> Result<(), AppError> {
    let answered = k.outcome == "answered";
    let (talk, hold, acw) = k.handle;
    diesel::insert_into(calls::table)
        .values((
            calls::external_id.eq(id),
            calls::direction.eq(k.direction),
            calls::queue_id.eq(queue),
            calls::agent_id.eq(k.agent),
            calls::state.eq("ended"),
            calls::outcome.eq(k.outcome),
            calls::queued_at.eq(at(k.queued)),
            calls::answered_at.eq(answered.then(|| at(k.queued + Duration::seconds(k.wait)))),
            calls::ended_at.eq(at(k.queued + Duration::seconds(k.wait + talk + hold))),
            calls::wait_seconds.eq(k.wait),
            calls::talk_seconds.eq(answered.then_some(talk)),
            calls::hold_seconds.eq(hold),
            calls::acw_seconds.eq(answered.then_some(acw)),
            calls::created_at.eq(at(k.queued)),
            calls::updated_at.eq(at(k.queued)),
        ))
        .execute(c)?;
    Ok(())
}

fn agent(c: &mut DbConnection, name: &str) -> Result<i64, AppError> {
    let request =
        CreateAgentRequest { name: name.into(), email: None, role: Role::Agent, department_id: None, extension: None };
    Ok(directory::create_agent(c, request)?.id)
}

fn queue_id(c: &mut DbConnection) -> Result<i64, AppError> {
    Ok(queues::table.filter(queues::slug.eq("mesa-de-ayuda")).select(queues::id).first(c)?)
}

/// The seeded service, 2026-03-02 (Monday) to 2026-03-04 in Santiago (UTC−3):
///
/// | ticket | channel | segment | created (UTC) | first reply | solved | SLA |
/// |---|---|---|---|---|---|---|
/// | T1 | email | comprador | 03-02 12:00 | +600 s | +3600 s | policy |
/// | T2 | email | proveedor | 03-02 15:00 | +1200 s | +7200 s | policy, first reply breached |
/// | T3 | phone | comprador | 03-03 02:30 (03-02 23:30 local) | call +60 s | — | policy |
/// | T4 | web | proveedor | 03-03 03:30 (03-03 00:30 local) | — (note, requester message) | — | policy |
/// | T9 | web | comprador | 03-03 15:00 | — | +600 s | policy |
/// | T5 | email | comprador | 03-04 13:00 (opened by an agent) | +1800 s | +5400 s | policy, resolution breached |
/// | T8 | email | proveedor | 03-04 14:00 | +100 s | — | no policy |
/// | T6 | email | comprador | 02-28 12:00 | — | — | before the range, open |
/// | T7 | email | comprador | 02-27 12:00 | — | 03-03 12:00 | before the range |
///
/// Calls of mesa-de-ayuda on 03-02: answered after 5, 15, 20 and 40 s (Ana), abandoned after 30
/// and 60 s, a short abandon, a voicemail, plus a rejected and an outbound call; on 03-03 one
/// answered after 10 s at 23:59 local.
async fn seed(app: &TestApp) -> (i64, i64) {
    app.db
        .write(|c| {
            let queue = queue_id(c)?;
            let ana = agent(c, "Ana Agente")?;
            let bruno = agent(c, "Bruno Agente")?;
            let mut requester = |segment: &str, email: &str| -> Result<i64, AppError> {
                Ok(diesel::insert_into(requesters::table)
                    .values((
                        requesters::name.eq("Persona"),
                        requesters::email.eq(email),
                        requesters::segment.eq(segment),
                        requesters::created_at.eq(at(feb(1, 0, 0))),
                        requesters::updated_at.eq(at(feb(1, 0, 0))),
                    ))
                    .returning(requesters::id)
                    .get_result(c)?)
            };
            let (buyer, supplier) = (requester("comprador", "c@example.cl")?, requester("proveedor", "p@example.cl")?);
            let mut n = 0;
            let mut add = |c: &mut DbConnection, t: Ticket| {
                n += 1;
                ticket(c, &format!("AU-2026-{n:06}"), queue, t)
            };
            let sec = Duration::seconds;
            let t = |channel, requester, assignee, created, solved| Ticket {
                channel,
                requester,
                assignee,
                created,
                solved,
            };

            let t1 = add(c, t("email", buyer, Some(ana), utc(2, 12, 0), Some(utc(2, 13, 0))))?;
            message(c, t1, "requester", None, "public", utc(2, 12, 0))?;
            message(c, t1, "agent", Some(ana), "public", utc(2, 12, 10))?;
            let t2 = add(c, t("email", supplier, Some(ana), utc(2, 15, 0), Some(utc(2, 17, 0))))?;
            message(c, t2, "agent", Some(ana), "public", utc(2, 15, 20))?;
            breach(c, t2, "first_reply", utc(2, 15, 10))?;
            let t3 = add(c, t("phone", buyer, None, utc(3, 2, 30), None))?;
            event(c, t3, "call_answered", utc(3, 2, 31))?;
            message(c, t3, "agent", None, "public", utc(3, 2, 35))?;
            let t4 = add(c, t("web", supplier, None, utc(3, 3, 30), None))?;
            message(c, t4, "requester", None, "public", utc(3, 3, 31))?;
            message(c, t4, "agent", Some(bruno), "internal", utc(3, 3, 32))?;
            let t9 = add(c, t("web", buyer, None, utc(3, 15, 0), Some(utc(3, 15, 10))))?;
            let t5 = add(c, t("email", buyer, Some(bruno), utc(4, 13, 0), Some(utc(4, 14, 30))))?;
            message(c, t5, "agent", Some(bruno), "public", utc(4, 13, 0))?;
            message(c, t5, "agent", Some(bruno), "public", utc(4, 13, 30))?;
            breach(c, t5, "resolution", utc(4, 14, 0))?;
            let t8 = add(c, t("email", supplier, None, utc(4, 14, 0), None))?;
            message(c, t8, "agent", Some(ana), "public", utc(4, 14, 0) + sec(100))?;
            add(c, t("email", buyer, None, feb(28, 12, 0), None))?;
            let t7 = add(c, t("email", buyer, None, feb(27, 12, 0), Some(utc(3, 12, 0))))?;
            event(c, t7, "status_changed", utc(3, 12, 0))?;
            let with_policy =
                [(t1, 2, 12, 0), (t2, 2, 15, 0), (t3, 3, 2, 30), (t4, 3, 3, 30), (t9, 3, 15, 0), (t5, 4, 13, 0)];
            for (id, d, h, m) in with_policy {
                event(c, id, "sla_policy_applied", utc(d, h, m))?;
            }

            let mut calls = 0;
            let mut add_call = |c: &mut DbConnection, k: Call| {
                calls += 1;
                call(c, &format!("call-{calls}"), queue, k)
            };
            let answered = |wait, handle, queued| Call {
                direction: "in",
                outcome: "answered",
                queued,
                wait,
                agent: Some(ana),
                handle,
            };
            let other = |direction, outcome, wait, queued| Call {
                direction,
                outcome,
                queued,
                wait,
                agent: None,
                handle: (0, 0, 0),
            };
            add_call(c, answered(5, (100, 20, 30), utc(2, 13, 0)))?;
            add_call(c, answered(15, (200, 0, 50), utc(2, 13, 5)))?;
            add_call(c, answered(20, (100, 0, 0), utc(2, 13, 10)))?;
            add_call(c, answered(40, (300, 0, 0), utc(2, 13, 15)))?;
            add_call(c, other("in", "abandoned", 30, utc(2, 14, 0)))?;
            add_call(c, other("in", "abandoned", 60, utc(2, 14, 5)))?;
            add_call(c, other("in", "short_abandoned", 2, utc(2, 14, 10)))?;
            add_call(c, other("in", "voicemail", 25, utc(2, 14, 15)))?;
            add_call(c, other("in", "rejected", 0, utc(2, 14, 20)))?;
            add_call(c, other("out", "answered", 3, utc(2, 14, 25)))?;
            add_call(c, Call { agent: None, ..answered(10, (60, 0, 0), utc(4, 2, 59)) })?;
            // Rows written straight into the tables, not through the event log, as an import
            // would: the reports' daily rollup is rebuilt as `atencion reports rebuild` does.
            atencion::reports::rollup::reset(c)?;
            Ok((ana, bruno))
        })
        .await
        .expect("seed")
}

fn rows(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["rows"].as_array().expect("rows").clone()
}

/// Selected fields of each row, for compact comparisons.
fn pick(rows: &[Value], fields: &[&str]) -> Vec<Value> {
    rows.iter().map(|r| Value::Array(fields.iter().map(|f| r[*f].clone()).collect())).collect()
}

async fn csv(app: &TestApp, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(&app.admin)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

const RANGE: &str = "from=2026-03-02&to=2026-03-04";

on_all_backends! {
    async fn volume_counts_tickets_per_santiago_day_and_week(app) {
        seed(&app).await;
        let day = app.get(&format!("/api/v1/reports/volume?{RANGE}&interval=day&by=channel")).await;
        assert_eq!(day.body["report"], "volume");
        assert_eq!(day.body["time_zone"], "America/Santiago");
        assert_eq!((day.body["from"].as_str(), day.body["to"].as_str()), (Some("2026-03-02"), Some("2026-03-04")));
        // T3 was created at 02:30 UTC on the 3rd: 23:30 on the 2nd in Santiago.
        assert_eq!(pick(&rows(&day), &["period", "group", "tickets"]), [
            json!(["2026-03-02", "email", 2]), json!(["2026-03-02", "phone", 1]), json!(["2026-03-02", "web", 0]),
            json!(["2026-03-03", "email", 0]), json!(["2026-03-03", "phone", 0]), json!(["2026-03-03", "web", 2]),
            json!(["2026-03-04", "email", 2]), json!(["2026-03-04", "phone", 0]), json!(["2026-03-04", "web", 0]),
        ]);
        let third = app.get("/api/v1/reports/volume?from=2026-03-03&to=2026-03-03").await;
        assert_eq!(pick(&rows(&third), &["period", "group", "tickets"]), [json!(["2026-03-03", "web", 2])]);

        let week = app.get(&format!("/api/v1/reports/volume?{RANGE}&interval=week&by=segment")).await;
        assert_eq!(pick(&rows(&week), &["period", "group", "tickets"]), [
            json!(["2026-03-02", "comprador", 4]), json!(["2026-03-02", "proveedor", 3]),
        ]);
        let by_queue = app.get(&format!("/api/v1/reports/volume?{RANGE}&interval=week&by=queue")).await;
        assert_eq!(pick(&rows(&by_queue), &["period", "group", "tickets"]), [json!(["2026-03-02", "mesa-de-ayuda", 7])]);
        let by_category = app.get(&format!("/api/v1/reports/volume?{RANGE}&interval=week&by=category")).await;
        assert_eq!(pick(&rows(&by_category), &["period", "group", "tickets"]), [json!(["2026-03-02", null, 7])]);
    }

    async fn response_times_give_nearest_rank_percentiles(app) {
        seed(&app).await;
        let reply = app.get(&format!("/api/v1/reports/response-times?{RANGE}")).await;
        let fields = ["group", "tickets", "first_reply_count", "first_reply_p50_secs", "first_reply_p90_secs",
            "resolution_count", "resolution_p50_secs", "resolution_p90_secs"];
        // email first replies 100, 600, 1200, 1800 s (T5's opening agent message is not a reply);
        // phone: the answered call at +60 s; internal notes and requester messages never count.
        assert_eq!(pick(&rows(&reply), &fields), [
            json!(["email", 4, 4, 600, 1800, 3, 5400, 7200]),
            json!(["phone", 1, 1, 60, 60, 0, null, null]),
            json!(["web", 2, 0, null, null, 1, 600, 600]),
        ]);
        let by_segment = app.get(&format!("/api/v1/reports/response-times?{RANGE}&by=segment")).await;
        assert_eq!(pick(&rows(&by_segment), &fields), [
            json!(["comprador", 4, 3, 600, 1800, 3, 3600, 5400]),
            json!(["proveedor", 3, 2, 100, 1200, 1, 7200, 7200]),
        ]);
    }

    async fn sla_report_counts_met_breached_running_and_cancelled(app) {
        seed(&app).await;
        let reply = app.get(&format!("/api/v1/reports/sla?{RANGE}&by=channel")).await;
        // T8 has no SLA policy and is not counted.
        assert_eq!(pick(&rows(&reply), &["group", "metric", "tickets", "met", "breached", "running", "cancelled", "compliance"]), [
            json!(["email", "first_reply", 3, 2, 1, 0, 0, 0.6667]),
            json!(["email", "resolution", 3, 2, 1, 0, 0, 0.6667]),
            json!(["phone", "first_reply", 1, 1, 0, 0, 0, 1.0]),
            json!(["phone", "resolution", 1, 0, 0, 1, 0, null]),
            json!(["web", "first_reply", 2, 0, 0, 1, 1, null]),
            json!(["web", "resolution", 2, 1, 0, 1, 0, 1.0]),
        ]);
    }

    async fn backlog_is_open_tickets_at_the_end_of_each_day(app) {
        seed(&app).await;
        let reply = app.get(&format!("/api/v1/reports/backlog?{RANGE}&by=channel")).await;
        // Two email tickets were open when the range began (T6, and T7 until the 3rd).
        assert_eq!(pick(&rows(&reply), &["date", "group", "created", "resolved", "open_at_end"]), [
            json!(["2026-03-02", "email", 2, 2, 2]), json!(["2026-03-02", "phone", 1, 0, 1]), json!(["2026-03-02", "web", 0, 0, 0]),
            json!(["2026-03-03", "email", 0, 1, 1]), json!(["2026-03-03", "phone", 0, 0, 1]), json!(["2026-03-03", "web", 2, 1, 1]),
            json!(["2026-03-04", "email", 2, 1, 2]), json!(["2026-03-04", "phone", 0, 0, 1]), json!(["2026-03-04", "web", 0, 0, 1]),
        ]);
        let by_queue = app.get("/api/v1/reports/backlog?from=2026-03-04&to=2026-03-04").await;
        assert_eq!(pick(&rows(&by_queue), &["date", "group", "created", "resolved", "open_at_end"]), [
            json!(["2026-03-04", "mesa-de-ayuda", 2, 1, 4]),
        ]);
    }

    async fn reports_follow_the_event_log_and_equal_a_rebuild(app) {
        let (ana, _) = seed(&app).await;
        const WIDE: &str = "from=2026-03-01&to=2026-03-06";
        let paths = [
            format!("/api/v1/reports/volume?{WIDE}&by=segment"),
            format!("/api/v1/reports/volume?{WIDE}&by=queue&interval=week"),
            format!("/api/v1/reports/response-times?{WIDE}&by=channel"),
            format!("/api/v1/reports/response-times?{WIDE}&by=segment"),
            format!("/api/v1/reports/sla?{WIDE}&by=queue"),
            format!("/api/v1/reports/backlog?{WIDE}&by=channel"),
            format!("/api/v1/reports/backlog?{WIDE}&by=category"),
            format!("/api/v1/reports/agents?{WIDE}"),
            format!("/api/v1/reports/abandonment?{WIDE}&answer_secs=15"),
        ];
        let all = |app: &TestApp| {
            let paths = paths.clone();
            let (address, client, admin) = (app.address.clone(), app.client.clone(), app.admin.clone());
            async move {
                let mut out = Vec::new();
                for path in paths {
                    let response = client.get(format!("{address}{path}")).bearer_auth(&admin).send().await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK, "{path}");
                    out.push(response.json::<Value>().await.unwrap()["rows"].clone());
                }
                out
            }
        };
        let before = all(&app).await;
        // Changes as the service records them: the row and its event, at the event's time.
        let id = |c: &mut DbConnection, number: &str| -> Result<i64, AppError> {
            Ok(tickets::table.filter(tickets::number.eq(number)).select(tickets::id).first(c)?)
        };
        // T7 (created 02-27, solved 03-03) reopened on 03-05: the 3rd loses a resolution,
        // though the new event names only the 5th and the 27th.
        app.db.write(move |c| {
            let t7 = id(c, "AU-2026-000009")?;
            diesel::update(tickets::table.find(t7))
                .set((tickets::status.eq("open"), tickets::solved_at.eq(None::<UtcTime>)))
                .execute(c)?;
            event(c, t7, "status_changed", utc(5, 12, 0))
        }).await.unwrap();
        let backlog = app.get(&format!("/api/v1/reports/backlog?{WIDE}&by=channel")).await;
        let email: Vec<Value> = rows(&backlog).into_iter().filter(|r| r["group"] == "email").collect();
        assert_eq!(pick(&email, &["date", "created", "resolved", "open_at_end"]), [
            json!(["2026-03-01", 0, 0, 2]), json!(["2026-03-02", 2, 2, 2]), json!(["2026-03-03", 0, 0, 2]),
            json!(["2026-03-04", 2, 1, 3]), json!(["2026-03-05", 0, 0, 3]), json!(["2026-03-06", 0, 0, 3]),
        ]);
        app.db.write(move |c| {
            // T4 (web, created 03-03) gets its first reply on 03-05, by Ana.
            let t4 = id(c, "AU-2026-000004")?;
            message(c, t4, "agent", Some(ana), "public", utc(5, 13, 0))?;
            event(c, t4, "message_added", utc(5, 13, 0))?;
            // T2 moves to another queue.
            let input = directory::ReferenceInput {
                slug: Some("proveedores".into()),
                name: Some("Proveedores".into()),
                ..Default::default()
            };
            let other = directory::save_queue(c, None, input)?.id;
            let t2 = id(c, "AU-2026-000002")?;
            diesel::update(tickets::table.find(t2)).set(tickets::queue_id.eq(other)).execute(c)?;
            event(c, t2, "queue_changed", utc(5, 14, 0))?;
            // The supplier turns out to be a buyer (no ticket event: the requester was edited).
            diesel::update(requesters::table.filter(requesters::email.eq("p@example.cl")))
                .set((requesters::segment.eq("comprador"), requesters::updated_at.eq(at(Utc::now()))))
                .execute(c)?;
            Ok(())
        }).await.unwrap();
        let after = all(&app).await;

        let times = app.get(&format!("/api/v1/reports/response-times?{WIDE}")).await;
        let web: Vec<Value> = rows(&times).into_iter().filter(|r| r["group"] == "web").collect();
        // T4's first reply came 2 days, 9 hours and 30 minutes after it was created.
        assert_eq!(pick(&web, &["tickets", "first_reply_count", "first_reply_p50_secs"]), [json!([2, 1, 207_000])]);
        let segments = app.get(&format!("/api/v1/reports/volume?{WIDE}&by=segment&interval=week")).await;
        assert_eq!(pick(&rows(&segments), &["period", "group", "tickets"]), [
            json!(["2026-02-23", "comprador", 0]), json!(["2026-03-02", "comprador", 7]),
        ]);
        let agents = app.get(&format!("/api/v1/reports/agents?{WIDE}")).await;
        assert_eq!(pick(&rows(&agents)[..1], &["agent", "replies"]), [json!(["Ana Agente", 4])]);
        assert_ne!(before, after);

        // Rebuilt from scratch, the rollup gives the same reports as the one kept incrementally.
        let days = app.db.write(|c| {
            atencion::reports::rollup::reset(c)?;
            atencion::reports::rollup::refresh(c)
        }).await.unwrap();
        assert!(days >= 8, "rebuilt {days} days"); // 02-27 … today
        assert_eq!(all(&app).await, after);
    }

    async fn the_rollup_counts_a_day_a_chunk_of_tickets_at_a_time(app) {
        seed(&app).await;
        let (from, to) = ("2026-02-01".parse().unwrap(), "2026-03-31".parse().unwrap());
        let (whole, chunked) = app.db.read(move |c| {
            let whole = atencion::reports::rollup::compute_in_chunks(c, from, to, 1_000)?;
            Ok((whole, atencion::reports::rollup::compute_in_chunks(c, from, to, 2)?))
        }).await.unwrap();
        let created: i64 = whole.iter().filter(|(k, _)| k.1 == atencion::reports::rollup::Dim::Channel).map(|(_, f)| f.created).sum();
        assert!(created >= 7, "the seeded tickets are counted ({created})");
        assert_eq!(chunked, whole);
    }

    async fn call_reports_give_abandonment_service_level_and_agents(app) {
        let (ana, bruno) = seed(&app).await;
        let reply = app.get(&format!("/api/v1/reports/abandonment?{RANGE}")).await;
        let fields = ["period", "queue", "offered", "answered", "answered_within_target", "abandoned", "short_abandoned",
            "abandonment_rate", "service_level", "asa_secs"];
        // 03-02: 8 offered (the rejected and the outbound call are not); SL = 3 ÷ (4 + 3 − 1);
        // abandonment = (3 − 1) ÷ (8 − 1). The call at 02:59 UTC on the 4th is the 3rd's.
        assert_eq!(pick(&rows(&reply), &fields), [
            json!(["2026-03-02", "mesa-de-ayuda", 8, 4, 3, 3, 1, 0.2857, 0.5, 20.0]),
            json!(["2026-03-03", "mesa-de-ayuda", 1, 1, 1, 0, 0, 0.0, 1.0, 10.0]),
            json!(["2026-03-04", "mesa-de-ayuda", 0, 0, 0, 0, 0, null, null, null]),
        ]);
        let strict = app.get("/api/v1/reports/abandonment?from=2026-03-02&to=2026-03-02&answer_secs=15&by=queue").await;
        assert_eq!(pick(&rows(&strict), &["answered_within_target", "service_level"]), [json!([2, 0.3333])]);
        let weekly = app.get(&format!("/api/v1/reports/abandonment?{RANGE}&interval=week")).await;
        assert_eq!(pick(&rows(&weekly), &["period", "offered", "answered", "abandonment_rate"]), [json!(["2026-03-02", 9, 5, 0.25])]);

        let reply = app.get(&format!("/api/v1/reports/agents?{RANGE}")).await;
        // Ana: replies on T1, T2, T8; calls of 150, 250, 100 and 300 s. Bruno: T5's opening
        // message and reply (his internal note is not one).
        assert_eq!(pick(&rows(&reply), &["agent_id", "agent", "tickets_assigned", "tickets_solved", "replies", "calls_handled", "aht_secs"]), [
            json!([ana, "Ana Agente", 2, 2, 3, 4, 200.0]),
            json!([bruno, "Bruno Agente", 1, 1, 2, 0, null]),
        ]);
    }

    async fn staffing_forecast_from_measured_calls_matches_erlang_c(app) {
        app.db.write(|c| {
            let queue = queue_id(c)?;
            // 100 calls between 09:00 and 09:30 on Thursday 2026-03-05 in Santiago, AHT 180 s.
            for i in 0..100 {
                let queued = utc(5, 12, 0) + Duration::seconds(i * 18);
                call(c, &format!("s-{i}"), queue, Call { direction: "in", outcome: "answered", queued, wait: 5, agent: None, handle: (150, 10, 20) })?;
            }
            Ok(())
        }).await.unwrap();
        let reply = app.get("/api/v1/reports/staffing?date=2026-03-05&target_service_level=0.8&answer_secs=20&shrinkage=0.3").await;
        let all = rows(&reply);
        assert_eq!(all.len(), 48);
        assert_eq!((reply.body["from"].as_str(), reply.body["to"].as_str()), (Some("2026-03-05"), Some("2026-03-05")));
        let busy = &all[18];
        assert_eq!((busy["start"].as_str(), busy["end"].as_str()), (Some("2026-03-05T09:00:00-03:00"), Some("2026-03-05T09:30:00-03:00")));
        assert_eq!(pick(&all[18..19], &["arrivals", "handled", "aht_secs", "traffic", "agents", "scheduled"]), [json!([100, 100, 180.0, 10.0, 14, 20])]);
        assert!((busy["probability_of_waiting"].as_f64().unwrap() - 0.1741).abs() < 0.0005, "{busy}");
        assert!((busy["service_level"].as_f64().unwrap() - 0.888).abs() < 0.001, "{busy}");
        assert!((busy["asa_secs"].as_f64().unwrap() - 7.8).abs() < 0.05, "{busy}");
        // A quiet interval: nobody needed, the day's AHT shown.
        assert_eq!(pick(&all[0..1], &["start", "arrivals", "aht_secs", "agents"]), [json!(["2026-03-05T00:00:00-03:00", 0, 180.0, 0])]);
        let queue = rows(&app.get("/api/v1/reports/staffing?date=2026-03-05&queue=mesa-de-ayuda").await);
        assert_eq!(queue[18]["agents"], 14);
        // Days with a DST change have 50 or 46 intervals; a day without calls has no AHT to plan with.
        let fold = rows(&app.get("/api/v1/reports/staffing?date=2026-04-04").await);
        assert_eq!(fold.len(), 50);
        assert_eq!(pick(&fold[0..1], &["arrivals", "aht_secs", "agents"]), [json!([0, null, null])]);
    }

    async fn every_report_exports_csv(app) {
        seed(&app).await;
        let (status, headers, text) = csv(&app, &format!("/api/v1/reports/volume?{RANGE}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert_eq!(headers["content-disposition"], "attachment; filename=\"volume_2026-03-02_2026-03-04.csv\"");
        assert_eq!(headers["vary"], "Accept");
        assert_eq!(text, "period,group,tickets\r\n\
            2026-03-02,email,2\r\n2026-03-02,phone,1\r\n2026-03-02,web,0\r\n\
            2026-03-03,email,0\r\n2026-03-03,phone,0\r\n2026-03-03,web,2\r\n\
            2026-03-04,email,2\r\n2026-03-04,phone,0\r\n2026-03-04,web,0\r\n");
        let (_, _, sla) = csv(&app, &format!("/api/v1/reports/sla?{RANGE}&by=segment")).await;
        assert_eq!(sla, "group,metric,tickets,met,breached,running,cancelled,compliance\r\n\
            comprador,first_reply,4,3,0,0,1,1.0\r\ncomprador,resolution,4,2,1,1,0,0.6667\r\n\
            proveedor,first_reply,2,0,1,1,0,0.0\r\nproveedor,resolution,2,1,0,1,0,1.0\r\n");
        let (_, headers, agents) = csv(&app, &format!("/api/v1/reports/agents?{RANGE}")).await;
        assert_eq!(headers["content-disposition"], "attachment; filename=\"agents_2026-03-02_2026-03-04.csv\"");
        assert!(agents.starts_with("agent_id,agent,tickets_assigned,tickets_solved,replies,calls_handled,aht_secs\r\n"), "{agents}");
        assert!(agents.ends_with(",Bruno Agente,1,1,2,0,\r\n"), "{agents}");
        // An empty report still names its columns; every report has a CSV form.
        let (_, _, empty) = csv(&app, "/api/v1/reports/response-times?from=2025-01-01&to=2025-01-01").await;
        assert_eq!(empty, "group,tickets,first_reply_count,first_reply_p50_secs,first_reply_p90_secs,\
            resolution_count,resolution_p50_secs,resolution_p90_secs\r\n");
        for path in ["backlog", "abandonment"] {
            let (status, headers, text) = csv(&app, &format!("/api/v1/reports/{path}?{RANGE}")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
            // One queue, three days.
            assert_eq!(text.lines().count(), 4, "{text}");
        }
        let (_, _, staffing) = csv(&app, "/api/v1/reports/staffing?date=2026-03-02").await;
        assert!(staffing.starts_with("start,end,arrivals,handled,aht_secs,traffic,agents,scheduled,probability_of_waiting,\
            service_level,asa_secs,occupancy\r\n2026-03-02T00:00:00-03:00,2026-03-02T00:30:00-03:00,0,0,200.0,0.0,0,0,0.0,1.0,0.0,0.0\r\n"), "{staffing}");
        // JSON unless CSV is asked for.
        let json_reply = app.get(&format!("/api/v1/reports/volume?{RANGE}")).await;
        assert_eq!(json_reply.headers["content-type"], "application/json");
    }

    async fn reports_are_for_supervisors_and_check_their_parameters(app) {
        let paths = ["volume", "response-times", "sla", "abandonment", "backlog", "agents"]
            .map(|p| format!("/api/v1/reports/{p}?{RANGE}"));
        let staffing = "/api/v1/reports/staffing?date=2026-03-02".to_owned();
        for role in [Role::Agent, Role::Department, Role::Integration] {
            let token = app.token(role).await;
            for path in paths.iter().chain([&staffing]) {
                assert_problem(&app.call(Method::GET, path, Some(&token), None).await, 403);
            }
        }
        let supervisor = app.token(Role::Supervisor).await;
        for path in paths.iter().chain([&staffing]) {
            let reply = app.call(Method::GET, path, Some(&supervisor), None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        }
        assert_problem(&app.call(Method::GET, &staffing, None, None).await, 401);

        let fields = |path: &str| {
            let app = &app;
            let path = path.to_owned();
            async move { assert_problem(&app.get(&path).await, 422) }
        };
        assert_eq!(fields("/api/v1/reports/volume").await, ["from", "to"]);
        assert_eq!(fields("/api/v1/reports/volume?from=2026-03-05&to=2026-03-01").await, ["to"]);
        assert_eq!(fields("/api/v1/reports/backlog?from=2025-01-01&to=2026-06-01").await, ["to"]);
        assert_eq!(fields("/api/v1/reports/volume?from=2026-13-01&to=2026-03-01&interval=month&by=agent").await, ["from", "interval", "by"]);
        assert_eq!(fields("/api/v1/reports/sla?from=2026-03-01&to=2026-03-02&by=status").await, ["by"]);
        assert_eq!(fields("/api/v1/reports/abandonment?from=2026-03-01&to=2026-03-02&by=channel&answer_secs=-1").await, ["by", "answer_secs"]);
        assert_eq!(fields("/api/v1/reports/agents?from=03/01/2026&to=2026-03-02").await, ["from"]);
        assert_eq!(fields("/api/v1/reports/staffing").await, ["date"]);
        assert_eq!(fields("/api/v1/reports/staffing?date=2026-03-02&target_service_level=2&max_occupancy=x").await, ["max_occupancy", "target_service_level"]);
        assert_eq!(fields("/api/v1/reports/staffing?date=2026-03-02&queue=no-existe").await, ["queue"]);
        assert_eq!(fields(&format!("/api/v1/reports/volume?{RANGE}&desde=2026-03-01")).await, ["desde"]);
    }
}

/// A report asked for with `formato` (no `Accept`): status, headers and the raw bytes.
async fn download(app: &TestApp, token: &str, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app.client.get(format!("{}{path}", app.address)).bearer_auth(token).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

const BOM: &[u8] = b"\xef\xbb\xbf";

on_all_backends! {
    async fn reports_open_in_columns_in_a_spanish_spreadsheet(app) {
        seed(&app).await;
        let admin = app.admin.clone();
        let (status, headers, bytes) = download(&app, &admin, &format!("/api/v1/reports/sla?{RANGE}&by=segment&formato=excel")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert_eq!(headers["content-disposition"], "attachment; filename=\"sla_2026-03-02_2026-03-04.csv\"");
        // A UTF-8 BOM, `;`, Spanish titles, decimal commas: the same figures as the RFC 4180 file.
        let text = std::str::from_utf8(bytes.strip_prefix(BOM).expect("UTF-8 BOM")).unwrap();
        assert_eq!(text, "grupo;indicador;casos;cumplidos;incumplidos;en curso;cancelados;cumplimiento\r\n\
            comprador;first_reply;4;3;0;0;1;1\r\ncomprador;resolution;4;2;1;1;0;0,6667\r\n\
            proveedor;first_reply;2;0;1;1;0;0\r\nproveedor;resolution;2;1;0;1;0;1\r\n");
        let (_, _, staffing) = download(&app, &admin, "/api/v1/reports/staffing?date=2026-03-02&formato=excel").await;
        let staffing = String::from_utf8(staffing).unwrap();
        assert!(staffing.starts_with("\u{feff}inicio;fin;llamadas entrantes;llamadas atendidas;tiempo medio de atención (s);\
            tráfico (Erlang);agentes necesarios;agentes a programar;probabilidad de espera;nivel de servicio;\
            tiempo medio de espera (s);ocupación\r\n"), "{staffing}");
        // Every report has the variant; `formato` wins over `Accept`.
        for path in ["volume", "response-times", "backlog", "abandonment", "agents"] {
            let (status, headers, bytes) = download(&app, &admin, &format!("/api/v1/reports/{path}?{RANGE}&formato=excel")).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers["content-type"], "text/csv; charset=utf-8", "{path}");
            assert!(bytes.starts_with(BOM) && !bytes[3..].starts_with(b"\xef"), "{path}");
            let header = String::from_utf8(bytes).unwrap().lines().next().unwrap().to_owned();
            assert!(header.contains(';') && !header.contains(','), "{path}: {header}");
        }
        let (_, headers, rfc) = download(&app, &admin, &format!("/api/v1/reports/volume?{RANGE}&formato=csv")).await;
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert!(rfc.starts_with(b"period,group,tickets\r\n"), "RFC 4180 stays the CSV default");
        let (_, headers, _) = download(&app, &admin, &format!("/api/v1/reports/volume?{RANGE}&formato=json")).await;
        assert_eq!(headers["content-type"], "application/json");

        // A bad value names the field; the role is checked first.
        assert_eq!(assert_problem(&app.get(&format!("/api/v1/reports/volume?{RANGE}&formato=xlsx")).await, 422), ["formato"]);
        let agent = app.token(Role::Agent).await;
        assert_problem(&app.call(Method::GET, &format!("/api/v1/reports/volume?{RANGE}&formato=xlsx"), Some(&agent), None).await, 403);
    }
}
