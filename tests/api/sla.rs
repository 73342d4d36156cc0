use atencion::db::schema::{sla_deadlines, ticket_events, ticket_tags};
use atencion::sla::scanner;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn metric<'a>(sla: &'a Value, name: &str, instance: u64) -> &'a Value {
    sla["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == name && m["instance"] == instance)
        .unwrap_or_else(|| panic!("{name} in {sla}"))
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn calendar_id(app: &TestApp, slug: &str) -> i64 {
    let all = app.get("/api/v1/calendars").await.body;
    all.as_array().unwrap().iter().find(|c| c["slug"] == slug).unwrap()["id"].as_i64().unwrap()
}

async fn count_events(app: &TestApp, kind: &'static str) -> i64 {
    app.db
        .read(move |c| Ok(ticket_events::table.filter(ticket_events::kind.eq(kind)).count().get_result::<i64>(c)?))
        .await
        .unwrap()
}

/// Two business hours from Thursday 1 October 2026, 17:00 in Santiago, on calendar `id`.
async fn two_hours_from_thursday_evening(app: &TestApp, id: i64) -> Value {
    let path = format!("/api/v1/calendars/{id}/deadline");
    app.post(&path, json!({"start": "2026-10-01T20:00:00Z", "minutes": 120})).await.body["deadline"].clone()
}

on_all_backends! {
    async fn business_calendar_deadlines_skip_holidays(app) {
        let id = calendar_id(&app, "horario-habil").await;
        // Thursday 17 September 2026, 17:00 in Santiago; Friday 18 is Fiestas Patrias.
        let start = "2026-09-17T20:00:00Z";
        let due = app.post(&format!("/api/v1/calendars/{id}/deadline"), json!({"start": start, "minutes": 120})).await;
        assert_eq!(due.status, StatusCode::OK, "{}", due.body);
        assert_eq!(due.body["deadline"], "2026-09-21T13:00:00Z");
        let minutes = app.post(&format!("/api/v1/calendars/{id}/business-minutes"), json!({"from": start, "to": "2026-09-21T13:00:00Z"})).await;
        assert_eq!(minutes.body["minutes"], 120);

        // A one-off holiday (say, an election Monday) moves the deadline; removing it moves it back.
        let added = app.call(reqwest::Method::PUT, &format!("/api/v1/calendars/{id}/holidays"), Some(&app.admin), Some(&json!({"date": "2026-09-21", "name": "Feriado electoral"}))).await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        let moved = app.post(&format!("/api/v1/calendars/{id}/deadline"), json!({"start": start, "minutes": 120})).await;
        assert_eq!(moved.body["deadline"], "2026-09-22T13:00:00Z");
        let listed = app.get(&format!("/api/v1/calendars/{id}/holidays?year=2026")).await.body;
        assert!(listed.as_array().unwrap().iter().any(|h| h["date"] == "2026-09-21" && h["name"] == "Feriado electoral"));
        assert!(listed.as_array().unwrap().iter().any(|h| h["date"] == "2026-09-18"));
        assert_eq!(app.delete(&format!("/api/v1/calendars/{id}/holidays/2026-09-21")).await.status, StatusCode::NO_CONTENT);
        let back = app.post(&format!("/api/v1/calendars/{id}/deadline"), json!({"start": start, "minutes": 120})).await;
        assert_eq!(back.body["deadline"], "2026-09-21T13:00:00Z");

        assert_eq!(assert_problem(&app.post(&format!("/api/v1/calendars/{id}/deadline"), json!({"start": start, "minutes": -1})).await, 422), ["minutes"]);
        assert_eq!(assert_problem(&app.post(&format!("/api/v1/calendars/{id}/business-minutes"), json!({"from": start, "to": "2026-01-01T00:00:00Z"})).await, 422), ["to"]);
        assert_eq!(assert_problem(&app.post(&format!("/api/v1/calendars/{id}/deadline"), json!({"start": "ayer", "minutes": 5})).await, 422), ["start"]);
        assert_problem(&app.post("/api/v1/calendars/9999/deadline", json!({"start": start, "minutes": 5})).await, 404);
        assert_problem(&app.delete(&format!("/api/v1/calendars/{id}/holidays/2026-13-01")).await, 404);
    }

    // Calendars and policies are cached per replica; a change through one replica reaches the
    // next request of another (the version row), with no wait.
    async fn a_holiday_added_on_one_replica_moves_deadlines_on_another(app) {
        let database_url = app.database_url.clone();
        let replica = spawn(app.backend, move |s| s.database.url = database_url).await;
        let id = calendar_id(&app, "horario-habil").await;
        // Friday at 10:00; Monday at 10:00 once Friday is a holiday.
        assert_eq!(two_hours_from_thursday_evening(&replica, id).await, "2026-10-02T13:00:00Z");
        let holiday = json!({"date": "2026-10-02", "name": "Feriado regional"});
        let added = app.call(reqwest::Method::PUT, &format!("/api/v1/calendars/{id}/holidays"), Some(&app.admin), Some(&holiday)).await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        assert_eq!(two_hours_from_thursday_evening(&replica, id).await, "2026-10-05T13:00:00Z");
        assert_eq!(app.delete(&format!("/api/v1/calendars/{id}/holidays/2026-10-02")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(two_hours_from_thursday_evening(&replica, id).await, "2026-10-02T13:00:00Z");
    }

    async fn calendars_with_split_windows_and_validation(app) {
        let day = json!([{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}]);
        let created = app.post("/api/v1/calendars", json!({
            "slug": "magallanes", "name": "Oficina Punta Arenas", "time_zone": "America/Punta_Arenas",
            "week": [day, day, day, day, day, [], []]
        })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_i64().unwrap();
        // Monday 2 March 2026, 12:30 local (UTC−3 all year): 30 min before lunch, then 14:00 + 30.
        let due = app.post(&format!("/api/v1/calendars/{id}/deadline"), json!({"start": "2026-03-02T15:30:00Z", "minutes": 60})).await;
        assert_eq!(due.body["deadline"], "2026-03-02T17:30:00Z");

        let overlap = json!([{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "18:00"}]);
        let bad = app.post("/api/v1/calendars", json!({"slug": "malo", "name": "x", "week": [overlap, [], [], [], [], [], []]})).await;
        assert_eq!(assert_problem(&bad, 422), ["week"]);
        let short = app.post("/api/v1/calendars", json!({"slug": "corto", "name": "x", "week": [[]]})).await;
        assert_eq!(assert_problem(&short, 422), ["week"]);
        let tz = app.post("/api/v1/calendars", json!({"slug": "tz", "name": "x", "time_zone": "Chile/Marte", "week": [[], [], [], [], [], [], []]})).await;
        assert_eq!(assert_problem(&tz, 422), ["time_zone"]);
        let time = app.post("/api/v1/calendars", json!({"slug": "hora", "name": "x", "week": [[{"start": "09:00", "end": "25:00"}], [], [], [], [], [], []]})).await;
        assert_eq!(assert_problem(&time, 422), ["week[0][0].end"]);
        let renamed = app.patch(&format!("/api/v1/calendars/{id}"), json!({"name": "Punta Arenas"})).await;
        assert_eq!((renamed.body["name"].as_str(), renamed.body["time_zone"].as_str()), (Some("Punta Arenas"), Some("America/Punta_Arenas")));
    }

    async fn ticket_clocks_follow_the_conversation(app) {
        let t = app.ticket("Clave bloqueada", "ana@municipalidad.cl").await;
        let id = t["id"].as_i64().unwrap();
        let sla = app.get(&format!("/api/v1/tickets/{id}/sla")).await;
        assert_eq!(sla.status, StatusCode::OK, "{}", sla.body);
        assert_eq!(sla.body["policy"]["policy_name"], "Estándar");
        let first = metric(&sla.body, "first_reply", 0);
        assert_eq!(first["state"], "active");
        assert_eq!(first["target_minutes"], 540);
        // The due time is the calendar's: the same as asking the calendar directly.
        let calendar = calendar_id(&app, "horario-habil").await;
        let expected = app.post(&format!("/api/v1/calendars/{calendar}/deadline"), json!({"start": t["created_at"], "minutes": 540})).await;
        assert_eq!(first["due_at"], expected.body["deadline"]);
        assert_eq!(metric(&sla.body, "resolution", 0)["target_minutes"], 2700);

        // An internal note is not a reply; a public reply meets first_reply.
        app.post(&format!("/api/v1/tickets/{id}/messages"), json!({"body": "nota", "visibility": "internal"})).await;
        assert_eq!(metric(&app.get(&format!("/api/v1/tickets/{id}/sla")).await.body, "first_reply", 0)["state"], "active");
        app.post(&format!("/api/v1/tickets/{id}/messages"), json!({"body": "Le ayudamos.", "status": "pending"})).await;
        let sla = app.get(&format!("/api/v1/tickets/{id}/sla")).await.body;
        assert_eq!(metric(&sla, "first_reply", 0)["state"], "met");
        // Pending pauses resolution.
        assert_eq!(metric(&sla, "resolution", 0)["state"], "paused");
        assert_eq!(metric(&sla, "resolution", 0)["due_at"], Value::Null);
        // The requester answers: resolution runs again and a next_reply clock starts.
        app.post(&format!("/api/v1/tickets/{id}/messages"), json!({"body": "Sigue igual", "from_requester": true})).await;
        let sla = app.get(&format!("/api/v1/tickets/{id}/sla")).await.body;
        assert_eq!(metric(&sla, "resolution", 0)["state"], "active");
        assert_eq!(metric(&sla, "resolution", 0)["paused"].as_array().unwrap().len(), 1);
        assert_eq!(metric(&sla, "next_reply", 0)["state"], "active");
        app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "solved"})).await;
        let sla = app.get(&format!("/api/v1/tickets/{id}/sla")).await.body;
        assert_eq!(metric(&sla, "resolution", 0)["state"], "met");
        assert_eq!(metric(&sla, "next_reply", 0)["state"], "met");
        // Nothing left for the scanner.
        let pending: i64 = app.db.read(move |c| Ok(sla_deadlines::table.filter(sla_deadlines::ticket_id.eq(id)).filter(sla_deadlines::fired_at.is_null()).count().get_result(c)?)).await.unwrap();
        assert_eq!(pending, 0);
    }

    async fn first_matching_policy_applies_and_is_recorded(app) {
        let continuous = calendar_id(&app, "continuo").await;
        let policy = app.post("/api/v1/sla/policies", json!({
            "name": "Proveedores por teléfono", "position": 1,
            "conditions": {"segments": ["proveedor"], "channels": ["phone"]},
            "targets": {"first_reply": {"normal": 30, "high": 15}, "resolution": {"normal": 480}},
            "pause_statuses": {"resolution": ["pending", "on_hold"]},
            "calendar_id": continuous, "warn_before_minutes": 10,
            "actions": {"breach": {"raise_priority": true, "move_to_queue": "mesa-de-ayuda"}}
        })).await;
        assert_eq!(policy.status, StatusCode::CREATED, "{}", policy.body);
        let policy_id = policy.body["id"].as_i64().unwrap();

        let supplier = app.post("/api/v1/tickets", json!({"subject": "Pago", "body": "Factura", "channel": "phone",
            "requester": {"phone": "+56 9 5555 4444", "segment": "proveedor"}})).await.body;
        let sla = app.get(&format!("/api/v1/tickets/{}/sla", supplier["id"])).await.body;
        assert_eq!(sla["policy"]["policy_id"], policy_id);
        let first = metric(&sla, "first_reply", 0);
        // 24×7 calendar: exactly 30 minutes, warning 10 minutes before.
        assert_eq!(time(&first["due_at"]) - time(&supplier["created_at"]), Duration::minutes(30));
        assert_eq!(time(&first["due_at"]) - time(&first["warn_at"]), Duration::minutes(10));

        let buyer = app.ticket("Otra", "comprador@organismo.cl").await;
        let sla = app.get(&format!("/api/v1/tickets/{}/sla", buyer["id"])).await.body;
        assert_eq!(sla["policy"]["policy_name"], "Estándar");

        // A priority change re-evaluates: tighter target from the original start.
        app.patch(&format!("/api/v1/tickets/{}", supplier["id"]), json!({"priority": "high"})).await;
        let sla = app.get(&format!("/api/v1/tickets/{}/sla", supplier["id"])).await.body;
        assert_eq!(time(&metric(&sla, "first_reply", 0)["due_at"]) - time(&supplier["created_at"]), Duration::minutes(15));

        let invalid = app.post("/api/v1/sla/policies", json!({"name": "x", "targets": {"first_reply": {"normal": 0}}, "calendar_id": 999, "warn_percent": 120})).await;
        assert_eq!(assert_problem(&invalid, 422), ["targets.first_reply", "warn_percent", "calendar_id"]);
        let unknown_metric = app.post("/api/v1/sla/policies", json!({"name": "x", "targets": {"first_answer": {}}, "calendar_id": continuous})).await;
        assert_eq!(assert_problem(&unknown_metric, 422), ["targets"]);
        assert_eq!(app.delete(&format!("/api/v1/sla/policies/{policy_id}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/api/v1/sla/policies/{policy_id}")).await.body["active"], false);
    }

    async fn scanner_fires_warning_and_breach_once_and_acts(app) {
        let t = app.ticket("Consulta", "a@b.cl").await;
        let id = t["id"].as_i64().unwrap();
        let due = time(&metric(&app.get(&format!("/api/v1/tickets/{id}/sla")).await.body, "first_reply", 0)["due_at"]);
        // Nothing is due yet.
        let fired = app.db.write(move |c| scanner::tick(c, due - Duration::days(30), 100)).await.unwrap();
        assert_eq!(fired, 0);
        // Past the first-reply due time: its warning and breach fire (resolution's warning may too).
        let later = due + Duration::minutes(1);
        let fired = app.db.write(move |c| scanner::tick(c, later, 100)).await.unwrap();
        assert!(fired >= 2, "{fired}");
        let events = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
        let of = |kind: &str, metric: &str| events.as_array().unwrap().iter().filter(|e| e["kind"] == kind && e["data"]["metric"] == metric).count();
        assert_eq!(of("sla_warning", "first_reply"), 1);
        assert_eq!(of("sla_breached", "first_reply"), 1);
        let breach = events.as_array().unwrap().iter().find(|e| e["kind"] == "sla_breached").unwrap();
        assert_eq!(breach["actor_type"], "system");
        assert_eq!(breach["data"]["notify"]["queue_id"], t["queue_id"]);
        // The standard policy raises the priority on breach.
        assert_eq!(app.get(&format!("/api/v1/tickets/{id}")).await.body["priority"], "high");
        // Scanning again fires nothing new, even though the priority change re-planned deadlines.
        let again = app.db.write(move |c| scanner::tick(c, later, 100)).await.unwrap();
        assert_eq!(again, 0);
        let events = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
        let breaches = events.as_array().unwrap().iter().filter(|e| e["kind"] == "sla_breached" && e["data"]["metric"] == "first_reply").count();
        assert_eq!(breaches, 1);
    }

    async fn concurrent_scanners_fire_each_deadline_once(app) {
        for i in 0..25 {
            app.ticket(&format!("Consulta {i}"), &format!("u{i}@x.cl")).await;
        }
        let total: i64 = app.db.read(|c| Ok(sla_deadlines::table.count().get_result(c)?)).await.unwrap();
        assert!(total >= 50, "{total}");
        let far = Utc::now() + Duration::days(400);
        let scanners = (0..3).map(|_| {
            let db = app.db.clone();
            tokio::spawn(async move {
                let mut fired = 0;
                loop {
                    let n = db.write(move |c| scanner::tick(c, far, 7)).await.unwrap();
                    if n == 0 {
                        break fired;
                    }
                    fired += n;
                }
            })
        });
        let fired: usize = futures_util::future::join_all(scanners).await.into_iter().map(|r| r.unwrap()).sum();
        let rows: i64 = app.db.read(|c| Ok(sla_deadlines::table.count().get_result(c)?)).await.unwrap();
        let unfired: i64 = app.db.read(|c| Ok(sla_deadlines::table.filter(sla_deadlines::fired_at.is_null()).count().get_result(c)?)).await.unwrap();
        let events = count_events(&app, "sla_warning").await + count_events(&app, "sla_breached").await;
        // Breach actions (raised priority) can plan and fire further deadlines; whatever fired,
        // fired once: one event per fired row, none left behind.
        assert_eq!(unfired, 0);
        assert_eq!(fired as i64, rows);
        assert_eq!(events, rows);
    }
}

/// A ticket that another transaction only references (inserting its tag, its event, its
/// notification) is not passed by: the scan locks it as an update would, not exclusively. With
/// an exclusive lock it skipped the ticket until the next scan (a flaky notifications test: the
/// follower writing a notification raced the scan).
#[tokio::test]
async fn a_scan_does_not_pass_by_a_ticket_another_transaction_references() {
    if postgres_url().is_none() {
        return;
    }
    let app = spawn(Backend::Postgres, |_| {}).await;
    let id = app.ticket("Consulta", "a@b.cl").await["id"].as_i64().unwrap();
    let (held, is_held) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let db = app.db.clone();
    let holder = tokio::spawn(async move {
        db.write(move |c| {
            diesel::insert_into(ticket_tags::table)
                .values((ticket_tags::ticket_id.eq(id), ticket_tags::tag.eq("retenido")))
                .execute(c)?;
            held.send(()).unwrap();
            released.recv().unwrap();
            Ok(())
        })
        .await
    });
    tokio::task::spawn_blocking(move || is_held.recv().unwrap()).await.unwrap();
    let far = Utc::now() + Duration::days(400);
    let fired = app.db.write(move |c| scanner::tick(c, far, 100)).await;
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    let fired = fired.unwrap();
    assert!(fired >= 2, "the ticket's deadlines fire while its tag is being inserted: {fired}");
}

// A deadline whose metric this version does not know (a row of a later version, or damaged) is
// dropped with a warning; the scan goes on and fires the rest of its batch.
on_all_backends! {
    async fn a_deadline_of_an_unknown_metric_does_not_stop_the_scan(app) {
        let id = app.ticket("Consulta", "a@b.cl").await["id"].as_i64().unwrap();
        let past = atencion::db::types::UtcTime::from(Utc::now() - Duration::minutes(1));
        app.db
            .write(move |c| {
                diesel::insert_into(sla_deadlines::table)
                    .values((
                        sla_deadlines::ticket_id.eq(id),
                        sla_deadlines::metric.eq("no_such_metric"),
                        sla_deadlines::instance.eq(0),
                        sla_deadlines::kind.eq("breach"),
                        sla_deadlines::due_at.eq(past),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .await
            .unwrap();
        let far = Utc::now() + Duration::days(400);
        let fired = app.db.write(move |c| scanner::tick(c, far, 100)).await.expect("the scan goes on");
        assert!(fired >= 2, "the unknown one and the ticket's own: {fired}");
        assert!(count_events(&app, "sla_breached").await >= 1, "the ticket's own breach is recorded");
        let unknown_left: i64 = app
            .db
            .read(move |c| {
                Ok(sla_deadlines::table
                    .filter(sla_deadlines::metric.eq("no_such_metric"))
                    .filter(sla_deadlines::fired_at.is_null())
                    .count()
                    .get_result(c)?)
            })
            .await
            .unwrap();
        assert_eq!(unknown_left, 0, "dropped, not claimed again");
    }
}
