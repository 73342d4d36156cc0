//! The phone channel: realistic call sequences through the native and the CTI endpoints.

use atencion::domain::Role;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const EVENTS: &str = "/api/v1/channels/phone/events";

fn at(base: DateTime<Utc>, seconds: i64) -> String {
    (base + Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sends native events in order, returning the last reply.
async fn send(app: &TestApp, token: &str, events: &[Value]) -> Reply {
    let mut last = None;
    for event in events {
        let reply = app.call(Method::POST, EVENTS, Some(token), Some(event)).await;
        assert_eq!(reply.status, StatusCode::OK, "{event} → {}", reply.body);
        last = Some(reply);
    }
    last.expect("at least one event")
}

fn queued(call: &str, base: DateTime<Utc>, s: i64, from: &str) -> Value {
    json!({"event": "call.queued", "call_id": call, "at": at(base, s), "from": from, "to": "600 7000 600", "queue": "mesa-de-ayuda"})
}

fn answered(call: &str, base: DateTime<Utc>, s: i64, agent: &str) -> Value {
    json!({"event": "call.answered", "call_id": call, "at": at(base, s), "agent": agent})
}

fn ended(call: &str, base: DateTime<Utc>, s: i64, cause: &str) -> Value {
    json!({"event": "call.ended", "call_id": call, "at": at(base, s), "cause": cause})
}

async fn agent_with_extension(app: &TestApp, name: &str, extension: &str) -> i64 {
    let reply = app.post("/api/v1/agents", json!({"name": name, "role": "agent", "extension": extension})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["extension"], extension);
    reply.body["id"].as_i64().unwrap()
}

async fn call_by_external(app: &TestApp, external: &str) -> Value {
    let list = app.get("/api/v1/calls?limit=100").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let id =
        list.body["items"].as_array().unwrap().iter().find(|c| c["call_id"] == external).expect("call")["id"].clone();
    let detail = app.get(&format!("/api/v1/calls/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    detail.body
}

/// The latest version of a derived contact-center fact.
fn fact<'a>(call: &'a Value, kind: &str) -> Option<&'a Value> {
    call["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == kind && e["source"] == "derived")
        .map(|e| &e["data"])
}

fn metric<'a>(sla: &'a Value, name: &str) -> &'a Value {
    sla["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == name).unwrap_or_else(|| panic!("{name} in {sla}"))
}

async fn tickets_of(app: &TestApp, requester_id: &Value) -> Vec<Value> {
    let reply = app.get(&format!("/api/v1/tickets?requester_id={requester_id}&limit=100")).await;
    reply.body["items"].as_array().unwrap().clone()
}

on_all_backends! {
    async fn answered_call_with_hold_and_wrapup_becomes_a_ticket_for_the_agent(app) {
        let pbx = app.token(Role::Integration).await;
        let ana = agent_with_extension(&app, "Ana Rojas", "101").await;
        let base = Utc::now() - Duration::minutes(8);
        let first = send(&app, &pbx, &[queued("c-1", base, 0, "9 8765 4321")]).await;
        assert_eq!((first.body["duplicate"].as_bool(), first.body["reject"].as_bool()), (Some(false), Some(false)));
        assert_eq!(first.body["call"]["state"], "queued");
        send(&app, &pbx, &[
            answered("c-1", base, 12, "101"),
            json!({"event": "call.held", "call_id": "c-1", "at": at(base, 60)}),
            json!({"event": "call.resumed", "call_id": "c-1", "at": at(base, 90)}),
            ended("c-1", base, 300, "normalClearing"),
            json!({"event": "call.wrapup_ended", "call_id": "c-1", "at": at(base, 360), "agent": "101"}),
        ]).await;

        let call = call_by_external(&app, "c-1").await;
        assert_eq!(call["from"], "+56987654321");
        assert_eq!(call["to"], "6007000600");
        assert_eq!((call["state"].as_str(), call["outcome"].as_str(), call["cause"].as_str()), (Some("ended"), Some("answered"), Some("normalClearing")));
        assert_eq!([&call["wait_seconds"], &call["hold_seconds"], &call["talk_seconds"], &call["acw_seconds"]], [12, 30, 258, 60]);
        assert_eq!(call["agent_id"], ana);
        assert_eq!(call["queue_name"], "mesa-de-ayuda");
        assert!(call["queue_id"].is_i64());
        let pbx_events: Vec<&str> = call["events"].as_array().unwrap().iter().filter(|e| e["source"] == "native").map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(pbx_events, ["queued", "answered", "held", "resumed", "ended", "wrapup_ended"]);
        // The contact-center facts the live KPIs consume; handle time = talk + hold + ACW.
        assert_eq!(fact(&call, "kpi.call_queued").unwrap()["queue"], "mesa-de-ayuda");
        assert_eq!(fact(&call, "kpi.call_answered").unwrap()["wait_seconds"], 12);
        let handled = fact(&call, "kpi.call_handled").unwrap();
        assert_eq!([&handled["talk_seconds"], &handled["hold_seconds"], &handled["acw_seconds"], &handled["handle_seconds"]], [258, 30, 60, 348]);
        assert!(fact(&call, "kpi.call_abandoned").is_none());

        let ticket = app.get(&format!("/api/v1/tickets/{}", call["ticket_id"])).await.body;
        assert_eq!((ticket["channel"].as_str(), ticket["kind"].as_str(), ticket["status"].as_str()), (Some("phone"), Some("standard"), Some("open")));
        assert_eq!(ticket["assignee_id"], ana);
        assert_eq!(ticket["requester"]["phone"], "+56987654321");
        assert_eq!(ticket["requester"]["id"], call["requester_id"]);
        // A live answer is the first reply.
        let sla = app.get(&format!("/api/v1/tickets/{}/sla", ticket["id"])).await.body;
        assert_eq!(metric(&sla, "first_reply")["state"], "met");

        // During or after the call the agent adds a note and the category.
        let agent = app.token(Role::Agent).await;
        let id = &ticket["id"];
        let note = app.call(Method::POST, &format!("/api/v1/tickets/{id}/messages"), Some(&agent), Some(&json!({"body": "Consulta por clave de acceso", "visibility": "internal"}))).await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
        let categorised = app.call(Method::PATCH, &format!("/api/v1/tickets/{id}"), Some(&agent), Some(&json!({"category": "acceso-clave"}))).await;
        assert_eq!(categorised.body["category"], "acceso-clave");
        let calls_of_ticket = app.get(&format!("/api/v1/calls?ticket_id={id}")).await.body;
        assert_eq!(calls_of_ticket["items"].as_array().unwrap().len(), 1);
        // Filters and cursor pagination, newest first.
        send(&app, &pbx, &[queued("c-1b", base, 900, "9 8765 4321"), queued("c-1c", base, 950, "+56 2 2000 0000")]).await;
        let page = app.get("/api/v1/calls?limit=2").await.body;
        assert_eq!(page["items"].as_array().unwrap().iter().map(|c| c["call_id"].as_str().unwrap()).collect::<Vec<_>>(), ["c-1c", "c-1b"]);
        let rest = app.get(&format!("/api/v1/calls?limit=2&cursor={}", page["next_cursor"].as_str().unwrap())).await.body;
        assert_eq!(rest["items"][0]["call_id"], "c-1");
        assert!(rest["next_cursor"].is_null());
        let by_number = app.get("/api/v1/calls?number=987654321&outcome=answered").await.body;
        assert_eq!(by_number["items"].as_array().unwrap().len(), 1);
        let waiting = app.get("/api/v1/calls?number=%2B56987654321").await.body;
        assert_eq!(waiting["items"].as_array().unwrap().len(), 2);
    }

    async fn duplicated_and_out_of_order_events_make_one_call_and_one_ticket(app) {
        let pbx = app.token(Role::Integration).await;
        let ana = agent_with_extension(&app, "Ana Rojas", "101").await;
        let base = Utc::now() - Duration::minutes(5);
        // The hangup arrives before the answer: for a moment the call looks abandoned.
        send(&app, &pbx, &[queued("c-2", base, 0, "+56 9 2222 3333"), ended("c-2", base, 100, "normalClearing")]).await;
        let looked_abandoned = call_by_external(&app, "c-2").await;
        assert_eq!(looked_abandoned["outcome"], "abandoned");
        assert!(looked_abandoned["callback_ticket_id"].is_i64());
        assert_eq!(fact(&looked_abandoned, "kpi.call_abandoned").unwrap()["wait_seconds"], 100);

        let late = send(&app, &pbx, &[answered("c-2", base, 10, "101")]).await;
        assert_eq!(late.body["duplicate"], false);
        let again = send(&app, &pbx, &[answered("c-2", base, 10, "101")]).await;
        assert_eq!(again.body["duplicate"], true);
        // A second answer at another time, and the first event again: the earliest answer wins.
        send(&app, &pbx, &[answered("c-2", base, 11, "101"), queued("c-2", base, 0, "+56 9 2222 3333")]).await;

        let call = call_by_external(&app, "c-2").await;
        assert_eq!((call["outcome"].as_str(), call["wait_seconds"].as_i64(), call["talk_seconds"].as_i64()), (Some("answered"), Some(10), Some(90)));
        assert_eq!(call["agent_id"], ana);
        assert!(call["callback_ticket_id"].is_null());
        assert_eq!(call["events"].as_array().unwrap().iter().filter(|e| e["source"] == "native").count(), 4);
        // The abandon was retracted; the answer stands.
        assert_eq!(fact(&call, "kpi.call_abandoned").unwrap()["retracted"], true);
        assert_eq!(fact(&call, "kpi.call_answered").unwrap()["wait_seconds"], 10);

        let tickets = tickets_of(&app, &call["requester_id"]).await;
        assert_eq!(tickets.len(), 1, "{tickets:?}");
        assert_eq!(tickets[0]["id"], call["ticket_id"]);
        assert_eq!((tickets[0]["kind"].as_str(), tickets[0]["status"].as_str()), (Some("standard"), Some("open")));
        assert_eq!(tickets[0]["assignee_id"], ana);
        let calls = app.get("/api/v1/calls").await.body;
        assert_eq!(calls["items"].as_array().unwrap().len(), 1);
    }

    async fn abandoned_calls_owe_one_callback_which_an_outbound_call_fulfils(app) {
        let pbx = app.token(Role::Integration).await;
        let base = Utc::now() - Duration::minutes(30);
        send(&app, &pbx, &[queued("a-1", base, 0, "+56 9 4444 5555"), ended("a-1", base, 40, "cancel")]).await;
        let first = call_by_external(&app, "a-1").await;
        assert_eq!((first["outcome"].as_str(), first["wait_seconds"].as_i64()), (Some("abandoned"), Some(40)));
        let callback_id = first["callback_ticket_id"].clone();
        let callback = app.get(&format!("/api/v1/tickets/{callback_id}")).await.body;
        assert_eq!((callback["kind"].as_str(), callback["channel"].as_str(), callback["queue"].as_str()), (Some("callback"), Some("phone"), Some("mesa-de-ayuda")));
        assert_eq!(callback["subject"], "Devolver llamada a +56944445555");
        let sla = app.get(&format!("/api/v1/tickets/{callback_id}/sla")).await.body;
        assert_eq!((metric(&sla, "callback")["state"].as_str(), metric(&sla, "callback")["target_minutes"].as_i64()), (Some("active"), Some(120)));
        assert_eq!(metric(&sla, "first_reply")["state"], "cancelled");

        // The same caller abandons again: the open callback is reused.
        send(&app, &pbx, &[queued("a-2", base, 300, "+56944445555"), ended("a-2", base, 330, "cancel")]).await;
        let second = call_by_external(&app, "a-2").await;
        assert_eq!(second["callback_ticket_id"], callback_id);
        let events = app.get(&format!("/api/v1/tickets/{callback_id}/events")).await.body;
        assert!(events.as_array().unwrap().iter().any(|e| e["kind"] == "call_missed"));
        // A short abandon (a misdial) is counted apart and owed nothing.
        send(&app, &pbx, &[queued("a-3", base, 600, "+56944445555"), ended("a-3", base, 603, "cancel")]).await;
        let short = call_by_external(&app, "a-3").await;
        assert_eq!(short["outcome"], "short_abandoned");
        assert!(short["callback_ticket_id"].is_null());
        assert_eq!(fact(&short, "kpi.call_abandoned").unwrap()["short"], true);
        assert_eq!(tickets_of(&app, &first["requester_id"]).await.len(), 1);

        // The agent calls back (CTI push, outbound) and is answered: the callback is met.
        let cti = format!("/api/v1/channels/phone/cti/{pbx}");
        for form in [
            "event=newCall&direction=out&from=101&to=%2B56944445555&callId=o-1&user%5B%5D=Ana",
            "event=answer&direction=out&callId=o-1&user%5B%5D=Ana&answeringNumber=%2B56944445555",
            "event=hangup&direction=out&callId=o-1&cause=normalClearing",
        ] {
            let reply = app.client.post(format!("{}{cti}", app.address)).header("content-type", "application/x-www-form-urlencoded").body(form).send().await.unwrap();
            assert_eq!(reply.status(), StatusCode::OK);
        }
        let outbound = call_by_external(&app, "o-1").await;
        assert_eq!((outbound["direction"].as_str(), outbound["outcome"].as_str()), (Some("out"), Some("answered")));
        assert_eq!(outbound["ticket_id"], callback_id);
        let sla = app.get(&format!("/api/v1/tickets/{callback_id}/sla")).await.body;
        assert_eq!(metric(&sla, "callback")["state"], "met");
        assert_eq!(tickets_of(&app, &first["requester_id"]).await.len(), 1);

        // Another caller hangs up, but calls again and gets through before the hangup is
        // reported: no callback is owed.
        send(&app, &pbx, &[
            queued("b-1", base, 1000, "+56 9 6666 7777"),
            queued("b-2", base, 1060, "+56 9 6666 7777"),
            answered("b-2", base, 1070, "Ana"),
            ended("b-2", base, 1200, "normalClearing"),
            ended("b-1", base, 1030, "cancel"),
        ]).await;
        let gave_up = call_by_external(&app, "b-1").await;
        assert_eq!(gave_up["outcome"], "abandoned");
        assert!(gave_up["callback_ticket_id"].is_null());
        let theirs = tickets_of(&app, &gave_up["requester_id"]).await;
        assert_eq!(theirs.iter().map(|t| t["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["standard"]);
    }

    async fn voicemail_becomes_a_callback_with_the_transcript(app) {
        let pbx = app.token(Role::Integration).await;
        let base = Utc::now() - Duration::minutes(20);
        send(&app, &pbx, &[
            queued("v-1", base, 0, "+56 2 2345 6789"),
            json!({"event": "voicemail", "call_id": "v-1", "at": at(base, 45), "recording_url": "https://pbx.example.cl/rec/v-1.wav", "transcript": "Necesito ayuda con mi orden de compra 1234-56-SE26."}),
            ended("v-1", base, 90, "noAnswer"),
        ]).await;
        let call = call_by_external(&app, "v-1").await;
        assert_eq!(call["outcome"], "voicemail");
        let messages = app.get(&format!("/api/v1/tickets/{}/messages", call["callback_ticket_id"])).await.body;
        let bodies: Vec<&str> = messages.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        assert!(bodies[1].contains("orden de compra 1234-56-SE26") && bodies[1].contains("https://pbx.example.cl/rec/v-1.wav"));

        // The recording reported after the hangup lands on the callback already created.
        send(&app, &pbx, &[queued("v-2", base, 600, "+56 2 2345 6789"), ended("v-2", base, 640, "cancel")]).await;
        send(&app, &pbx, &[json!({"event": "voicemail", "call_id": "v-2", "at": at(base, 641), "transcript": "Vuelvo a llamar por lo mismo."})]).await;
        let second = call_by_external(&app, "v-2").await;
        assert_eq!(second["callback_ticket_id"], call["callback_ticket_id"]);
        let messages = app.get(&format!("/api/v1/tickets/{}/messages", call["callback_ticket_id"])).await.body;
        assert_eq!(messages.as_array().unwrap().len(), 3);
        assert!(messages[2]["body"].as_str().unwrap().contains("Vuelvo a llamar"));
    }

    async fn transfers_are_counted_and_the_answering_agent_kept(app) {
        let pbx = app.token(Role::Integration).await;
        let ana = agent_with_extension(&app, "Ana Rojas", "101").await;
        agent_with_extension(&app, "Luis Soto", "102").await;
        let base = Utc::now() - Duration::minutes(3);
        send(&app, &pbx, &[
            queued("t-1", base, 0, "+56987650000"),
            answered("t-1", base, 5, "101"),
            json!({"event": "call.transferred", "call_id": "t-1", "at": at(base, 50), "to_queue": "segundo-nivel", "to_agent": "102"}),
            ended("t-1", base, 120, "normalClearing"),
        ]).await;
        let call = call_by_external(&app, "t-1").await;
        assert_eq!((call["transfers"].as_i64(), call["queue_name"].as_str()), (Some(1), Some("segundo-nivel")));
        assert!(call["queue_id"].is_null(), "no queue of ours is called segundo-nivel");
        assert_eq!(call["agent_id"], ana);
        assert_eq!(call["transfer_list"], json!([{"at": at(base, 50), "queue": "segundo-nivel", "agent": "102"}]));
    }

    async fn cti_push_in_both_formats_with_a_blocked_caller(app) {
        let pbx = app.token(Role::Integration).await;
        let ana = agent_with_extension(&app, "Ana Rojas", "101").await;
        let url = format!("{}/api/v1/channels/phone/cti/{pbx}", app.address);
        let form = |body: &'static str| app.client.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body);

        let new_call = form("event=newCall&direction=in&from=%2B56987654321&to=6007000600&callId=z-1&queue=mesa-de-ayuda&user%5B%5D=Ana&user%5B%5D=Luis").send().await.unwrap();
        assert_eq!(new_call.status(), StatusCode::OK);
        assert_eq!(new_call.json::<Value>().await.unwrap(), json!({}));
        form("event=answer&direction=in&callId=z-1&user%5B%5D=Ana&answeringNumber=101&timestamp=2026-12-02T10%3A00%3A07-03%3A00").send().await.unwrap();
        form("event=hangup&direction=in&callId=z-1&cause=normalClearing&answeringNumber=101&timestamp=2026-12-02T10%3A05%3A07-03%3A00").send().await.unwrap();
        // Connectors retry: the same pushes again (and in another order) change nothing.
        form("event=hangup&direction=in&callId=z-1&cause=normalClearing&answeringNumber=101&timestamp=2026-12-02T10%3A05%3A07-03%3A00").send().await.unwrap();
        form("event=answer&direction=in&callId=z-1&user%5B%5D=Ana&answeringNumber=101&timestamp=2026-12-02T10%3A00%3A07-03%3A00").send().await.unwrap();
        let call = call_by_external(&app, "z-1").await;
        assert_eq!((call["outcome"].as_str(), call["talk_seconds"].as_i64()), (Some("answered"), Some(300)));
        assert_eq!(call["events"].as_array().unwrap().iter().filter(|e| e["source"] == "cti").count(), 3);
        assert_eq!(tickets_of(&app, &call["requester_id"]).await.len(), 1);
        assert_eq!(call["agent_id"], ana);
        assert!(call["events"].as_array().unwrap().iter().filter(|e| e["source"] != "derived").all(|e| e["source"] == "cti"));

        // JSON, with `user` as an array.
        let json_push = |body: Value| app.client.post(&url).json(&body).send();
        let reply = json_push(json!({"event": "newCall", "direction": "in", "from": "+56 9 1234 0000", "to": "600 7000 600", "callId": "z-2", "user": ["Ana"], "timestamp": "2026-12-02T13:00:00Z"})).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        json_push(json!({"event": "hangup", "callId": "z-2", "cause": "cancel", "timestamp": "2026-12-02T13:00:25Z"})).await.unwrap();
        let abandoned = call_by_external(&app, "z-2").await;
        assert_eq!((abandoned["outcome"].as_str(), abandoned["wait_seconds"].as_i64()), (Some("abandoned"), Some(25)));

        // A blocked caller is rejected and owed nothing.
        let blocked = app.post("/api/v1/channels/phone/blocked-numbers", json!({"number": "9 1111 2222", "reason": "llamadas abusivas"})).await;
        assert_eq!(blocked.status, StatusCode::CREATED, "{}", blocked.body);
        assert_eq!(blocked.body["number"], "+56911112222");
        assert_problem(&app.post("/api/v1/channels/phone/blocked-numbers", json!({"number": "+56911112222"})).await, 409);
        assert_eq!(assert_problem(&app.post("/api/v1/channels/phone/blocked-numbers", json!({"number": "llámame"})).await, 422), ["number"]);
        let reject = form("event=newCall&direction=in&from=%2B56911112222&to=6007000600&callId=z-3").send().await.unwrap();
        assert_eq!(reject.json::<Value>().await.unwrap(), json!({"action": "reject"}));
        form("event=hangup&callId=z-3&cause=cancel").send().await.unwrap();
        let rejected = call_by_external(&app, "z-3").await;
        assert_eq!(rejected["outcome"], "rejected");
        assert!(rejected["callback_ticket_id"].is_null() && rejected["ticket_id"].is_null());
        let list = app.get("/api/v1/channels/phone/blocked-numbers").await.body;
        let id = list[0]["id"].clone();
        assert_eq!(app.delete(&format!("/api/v1/channels/phone/blocked-numbers/{id}")).await.status, StatusCode::NO_CONTENT);
        assert_problem(&app.delete(&format!("/api/v1/channels/phone/blocked-numbers/{id}")).await, 404);

        // Bad pushes: a clear 4xx, and nothing stored.
        let bad_token = app.client.post(format!("{}/api/v1/channels/phone/cti/atn_nope", app.address)).body("event=newCall&callId=x").send().await.unwrap();
        assert_problem(&into_reply(bad_token).await, 401);
        assert_eq!(assert_problem(&into_reply(form("event=ring&callId=x").send().await.unwrap()).await, 422), ["event"]);
        assert_eq!(assert_problem(&into_reply(form("event=hangup&callId=x&cause=colgó").send().await.unwrap()).await, 422), ["cause"]);
        assert_eq!(assert_problem(&into_reply(form("event=answer").send().await.unwrap()).await, 422), ["callId"]);
        assert_problem(&into_reply(app.client.post(&url).header("content-type", "application/json").body("{").send().await.unwrap()).await, 400);
        let huge = app.client.post(&url).header("content-type", "application/x-www-form-urlencoded").body(format!("event=newCall&callId=x&queue={}", "a".repeat(20_000))).send().await.unwrap();
        assert_problem(&into_reply(huge).await, 413);
        let department = app.token(Role::Department).await;
        let forbidden = app.client.post(format!("{}/api/v1/channels/phone/cti/{department}", app.address)).body("event=newCall&callId=x").send().await.unwrap();
        assert_problem(&into_reply(forbidden).await, 403);
        let calls = app.get("/api/v1/calls?limit=100").await.body;
        assert_eq!(calls["items"].as_array().unwrap().len(), 3);
    }

    async fn native_events_reject_bad_input_with_the_field(app) {
        let pbx = app.token(Role::Integration).await;
        let shared = &app;
        let post = |body: Value| {
            let pbx = pbx.clone();
            async move { shared.call(Method::POST, EVENTS, Some(&pbx), Some(&body)).await }
        };
        let now = at(Utc::now(), 0);
        assert_eq!(assert_problem(&post(json!({"event": "call.ringing", "call_id": "x", "at": now})).await, 422), ["event"]);
        assert_eq!(assert_problem(&post(json!({"event": "call.queued", "call_id": "x"})).await, 422), ["at"]);
        assert_eq!(assert_problem(&post(json!({"event": "call.queued", "call_id": "x", "at": "ayer"})).await, 422), ["at"]);
        assert_eq!(assert_problem(&post(json!({"event": "call.queued", "call_id": " ", "at": now})).await, 422), ["call_id"]);
        assert_eq!(assert_problem(&post(json!({"event": "call.transferred", "call_id": "x", "at": now})).await, 422), ["to_queue"]);
        assert_eq!(assert_problem(&post(json!({"event": "call.ended", "call_id": "x", "at": now, "cause": "colgó"})).await, 422), ["cause"]);
        assert_eq!(assert_problem(&post(json!({"event": "voicemail", "call_id": "x", "at": now, "recording_url": "ftp://x"})).await, 422), ["recording_url"]);
        assert_eq!(assert_problem(&post(json!({"event": "call.queued", "call_id": "x", "at": now, "colour": "red"})).await, 422), ["colour"]);
        assert_problem(&app.call(Method::POST, EVENTS, None, Some(&json!({}))).await, 401);
        let department = app.token(Role::Department).await;
        assert_problem(&app.call(Method::POST, EVENTS, Some(&department), Some(&json!({}))).await, 403);
        assert_eq!(app.get("/api/v1/calls").await.body["items"], json!([]));
        assert_eq!(assert_problem(&app.get("/api/v1/calls?outcome=lost").await, 422), ["outcome"]);
        assert_problem(&app.get("/api/v1/calls/999").await, 404);
        // Extensions identify agents, so they are unique.
        agent_with_extension(&app, "Ana Rojas", "101").await;
        let taken = app.post("/api/v1/agents", json!({"name": "Otra", "role": "agent", "extension": "101"})).await;
        assert_eq!(assert_problem(&taken, 422), ["extension"]);
    }

    async fn an_answered_call_can_be_linked_to_the_requesters_open_ticket(app) {
        let pbx = app.token(Role::Integration).await;
        let agent = app.token(Role::Agent).await;
        let open = app.post("/api/v1/tickets", json!({"subject": "Problema con orden de compra", "body": "Detalle", "requester": {"name": "Pedro Díaz", "phone": "+56 9 3333 4444"}})).await.body;
        let base = Utc::now() - Duration::minutes(2);
        send(&app, &pbx, &[queued("l-1", base, 0, "9 3333 4444"), answered("l-1", base, 4, "101")]).await;
        let call = call_by_external(&app, "l-1").await;
        assert_eq!(call["requester_id"], open["requester"]["id"]);
        let created = call["ticket_id"].clone();
        assert_ne!(created, open["id"]);

        let shared = &app;
        let link = |call: Value, ticket: Value| {
            let agent = agent.clone();
            async move { shared.call(Method::POST, &format!("/api/v1/calls/{call}/link"), Some(&agent), Some(&json!({"ticket_id": ticket}))).await }
        };
        let other = app.ticket("Otro", "otra@example.cl").await;
        assert_eq!(assert_problem(&link(call["id"].clone(), other["id"].clone()).await, 422), ["ticket_id"]);
        let linked = link(call["id"].clone(), open["id"].clone()).await;
        assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
        assert_eq!(linked.body["ticket_id"], open["id"]);
        let merged = app.get(&format!("/api/v1/tickets/{created}")).await.body;
        assert_eq!(merged["status"], "closed");
        let merged_events = app.get(&format!("/api/v1/tickets/{created}/events")).await.body;
        let merge = merged_events.as_array().unwrap().iter().find(|e| e["kind"] == "merged").expect("merged event");
        assert_eq!(merge["data"]["into"], open["id"]);
        // Merged: its clocks are cancelled, not breached; the live answer met its first reply.
        let sla = app.get(&format!("/api/v1/tickets/{created}/sla")).await.body;
        assert_eq!((metric(&sla, "first_reply")["state"].as_str(), metric(&sla, "resolution")["state"].as_str()), (Some("met"), Some("cancelled")));
        let target_events = app.get(&format!("/api/v1/tickets/{}/events", open["id"])).await.body;
        assert!(target_events.as_array().unwrap().iter().any(|e| e["kind"] == "call_answered"));
        // Only answered calls, and only within the window.
        send(&app, &pbx, &[queued("l-2", base, 0, "9 3333 4444")]).await;
        let waiting = call_by_external(&app, "l-2").await;
        assert_eq!(assert_problem(&link(waiting["id"].clone(), open["id"].clone()).await, 422), ["call"]);
        let old = Utc::now() - Duration::hours(1);
        send(&app, &pbx, &[queued("l-3", old, 0, "9 3333 4444"), answered("l-3", old, 4, "101")]).await;
        let late = call_by_external(&app, "l-3").await;
        assert_eq!(assert_problem(&link(late["id"].clone(), open["id"].clone()).await, 422), ["call"]);
    }

    async fn concurrent_deliveries_of_one_call_make_one_record_and_one_ticket(app) {
        let pbx = app.token(Role::Integration).await;
        let base = Utc::now() - Duration::minutes(1);
        let events = [queued("r-1", base, 0, "+56955556666"), answered("r-1", base, 3, "101"), ended("r-1", base, 60, "normalClearing")];
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (client, url, pbx) = (app.client.clone(), format!("{}{EVENTS}", app.address), pbx.clone());
            let mut order = events.to_vec();
            order.rotate_left(i % 3);
            tasks.push(tokio::spawn(async move {
                for event in order {
                    let reply = client.post(&url).bearer_auth(&pbx).json(&event).send().await.unwrap();
                    assert_eq!(reply.status(), StatusCode::OK, "{}", reply.text().await.unwrap());
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let call = call_by_external(&app, "r-1").await;
        assert_eq!((call["outcome"].as_str(), call["wait_seconds"].as_i64(), call["talk_seconds"].as_i64()), (Some("answered"), Some(3), Some(57)));
        assert_eq!(call["events"].as_array().unwrap().iter().filter(|e| e["source"] == "native").count(), 3);
        assert_eq!(app.get("/api/v1/calls").await.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(tickets_of(&app, &call["requester_id"]).await.len(), 1);
    }
}

on_all_backends! {
    async fn callers_are_recognised_however_their_number_is_written(app) {
        let pbx = app.token(Role::Integration).await;
        let requester = app.post("/api/v1/requesters", json!({"name": "Marta Díaz", "phone": "2 2555 0000"})).await;
        assert_eq!(requester.status, StatusCode::CREATED, "{}", requester.body);
        let base: DateTime<Utc> = "2026-12-02T13:00:00Z".parse().unwrap();
        // The PBX sends the caller with the trunk 0: the same requester, no new one.
        send(&app, &pbx, &[queued("n-1", base, 0, "0225550000"), ended("n-1", base, 30, "cancel")]).await;
        let call = call_by_external(&app, "n-1").await;
        assert_eq!((call["from"].as_str(), call["to"].as_str()), (Some("+56225550000"), Some("6007000600")));
        assert_eq!(call["requester_id"], requester.body["id"]);
        // Calls are found by any writing of the caller's or the called number.
        for number in ["2 2555 0000", "+56225550000", "600 7000 600", "+56 600 7000 600"] {
            let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("number", number).finish();
            let found = app.get(&format!("/api/v1/calls?{query}")).await.body;
            assert_eq!(found["items"].as_array().unwrap().len(), 1, "{number}: {found}");
        }

        // A number blocked as written with the trunk 0 rejects the caller in every PBX format.
        let blocked = app.post("/api/v1/channels/phone/blocked-numbers", json!({"number": "02 2555 0003"})).await;
        assert_eq!(blocked.body["number"], "+56225550003");
        assert_problem(&app.post("/api/v1/channels/phone/blocked-numbers", json!({"number": "+56 2 2555 0003"})).await, 409);
        let url = format!("{}/api/v1/channels/phone/cti/{pbx}", app.address);
        for (i, from) in ["2 2555 0003", "sip:+56225550003@pbx.local", "0056225550003"].iter().enumerate() {
            let push = json!({"event": "newCall", "direction": "in", "from": from, "to": "6007000600", "callId": format!("b-{i}")});
            let reply = app.client.post(&url).json(&push).send().await.unwrap();
            assert_eq!(reply.json::<Value>().await.unwrap(), json!({"action": "reject"}), "{from}");
        }
    }
}
