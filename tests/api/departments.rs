//! Escalations to other departments: consult and transfer, scoped access with redacted contact
//! data, the department's answer, and the SLA action that escalates.

use atencion::domain::Role;
use atencion::sla::scanner;
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

pub(crate) async fn department(app: &TestApp, slug: &str) -> i64 {
    let all = app.get("/api/v1/departments").await.body;
    all.as_array().unwrap().iter().find(|d| d["slug"] == slug).unwrap_or_else(|| panic!("{slug}"))["id"]
        .as_i64()
        .unwrap()
}

/// A member of `department` and their token.
pub(crate) async fn member(app: &TestApp, department: i64, name: &str) -> (i64, String) {
    let created =
        app.post("/api/v1/agents", json!({"name": name, "role": "department", "department_id": department})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    let token = app.post(&format!("/api/v1/agents/{id}/tokens"), json!({"name": "prueba"})).await;
    (id, token.body["token"].as_str().unwrap().to_owned())
}

async fn as_user(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    app.call(method, path, Some(token), body.as_ref()).await
}

on_all_backends! {
    async fn a_consultation_is_answered_by_the_department_with_contact_data_hidden(app) {
        let compradores = department(&app, "compradores").await;
        let proveedores = department(&app, "proveedores").await;
        let (ana, ana_token) = member(&app, compradores, "Ana de Compradores").await;
        let (_, other_token) = member(&app, proveedores, "Pedro de Proveedores").await;
        let agent = app.token(Role::Agent).await;
        let ticket = app.ticket("Duda sobre plan de compras", "jefa@municipalidad.cl").await;
        let id = &ticket["id"];

        let asked = as_user(&app, Method::POST, &format!("/api/v1/tickets/{id}/escalations"), &agent,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "¿Aplica la excepción del art. 10?"}))).await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
        assert_eq!((asked.body["mode"].as_str(), asked.body["status"].as_str()), (Some("consult"), Some("open")));
        // Consulting keeps the ticket where it was.
        let same = app.get(&format!("/api/v1/tickets/{id}")).await.body;
        assert_eq!(same["queue"], ticket["queue"]);
        // Asking again while open returns the same escalation.
        let again = as_user(&app, Method::POST, &format!("/api/v1/tickets/{id}/escalations"), &agent,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "otra vez"}))).await;
        assert_eq!(again.body["id"], asked.body["id"]);

        // The department sees it, without the requester's contact data.
        let inbox = as_user(&app, Method::GET, &format!("/api/v1/departments/{compradores}/escalations?status=open"), &ana_token, None).await;
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
        let item = &inbox.body["items"][0];
        assert_eq!((item["subject"].as_str(), item["requester"]["name"].as_str()), (Some("Duda sobre plan de compras"), Some("Ana Pérez")));
        assert!(item["requester"]["email"].is_null() && item["requester"]["rut"].is_null());
        assert!(item["summary"].as_str().unwrap().contains("Mercado Público"));
        // Other departments cannot even tell it exists; department members cannot read tickets.
        assert_problem(&as_user(&app, Method::GET, &format!("/api/v1/departments/{compradores}/escalations"), &other_token, None).await, 404);
        assert_problem(&as_user(&app, Method::POST, &format!("/api/v1/escalations/{}/answer", item["id"]), &other_token, Some(json!({"body": "x"}))).await, 404);
        assert_problem(&as_user(&app, Method::GET, &format!("/api/v1/tickets/{id}"), &ana_token, None).await, 403);
        assert_problem(&as_user(&app, Method::GET, &format!("/api/v1/tickets/{id}/escalations"), &ana_token, None).await, 403);

        let answered = as_user(&app, Method::POST, &format!("/api/v1/escalations/{}/answer", item["id"]), &ana_token,
            Some(json!({"body": "Sí aplica, con resolución fundada."}))).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
        assert_eq!((answered.body["status"].as_str(), answered.body["answered_by"].as_i64()), (Some("answered"), Some(ana)));
        assert_problem(&as_user(&app, Method::POST, &format!("/api/v1/escalations/{}/answer", item["id"]), &ana_token, Some(json!({"body": "y"}))).await, 409);
        assert_eq!(assert_problem(&as_user(&app, Method::POST, &format!("/api/v1/escalations/{}/answer", item["id"]), &ana_token, Some(json!({"body": " "}))).await, 422), ["body"]);
        // Atención Usuaria reads the answer as an internal note; the requester never gets it by mail.
        let messages = app.get(&format!("/api/v1/tickets/{id}/messages")).await.body;
        let note = messages.as_array().unwrap().last().unwrap();
        assert_eq!((note["visibility"].as_str(), note["author_agent_id"].as_i64()), (Some("internal"), Some(ana)));
        assert!(note["body"].as_str().unwrap().contains("Sí aplica"));
        let events = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
        let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).filter(|k| k.starts_with("escalat")).collect();
        assert_eq!(kinds, ["escalated", "escalation_answered"]);
        let outbox = app.get(&format!("/api/v1/channels/email/outbox?ticket_id={id}")).await.body;
        assert!(outbox.as_array().unwrap().iter().all(|m| m["kind"] != "reply"), "{outbox}");
    }

    async fn a_transfer_moves_the_ticket_to_the_department_queue(app) {
        let proveedores = department(&app, "proveedores").await;
        let formacion = department(&app, "formacion").await;
        let queue = app.post("/api/v1/queues", json!({"slug": "dgpp", "name": "Proveedores (DGPP)", "department_id": proveedores})).await;
        assert_eq!(queue.status, StatusCode::CREATED, "{}", queue.body);
        let (_, token) = member(&app, proveedores, "Luis de Proveedores").await;
        let agent = app.token(Role::Agent).await;
        let me = app.get("/api/v1/agents").await.body.as_array().unwrap().iter().find(|a| a["role"] == "agent").unwrap()["id"].clone();
        let ticket = app.post("/api/v1/tickets", json!({"subject": "Inscripción en Registro de Proveedores", "body": "No puedo acreditarme.",
            "assignee_id": me, "requester": {"name": "Pyme Ltda.", "email": "contacto@pyme.cl", "rut": "76.086.428-5", "segment": "proveedor"}})).await.body;
        let id = &ticket["id"];
        let moved = as_user(&app, Method::POST, &format!("/api/v1/tickets/{id}/escalations"), &agent,
            Some(json!({"department": "proveedores", "mode": "transfer", "reason": "Requiere revisión de acreditación", "grant_pii": true}))).await;
        assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.body);
        let now = app.get(&format!("/api/v1/tickets/{id}")).await.body;
        assert_eq!((now["queue"].as_str(), now["assignee_id"].clone()), (Some("dgpp"), Value::Null));
        let inbox = as_user(&app, Method::GET, &format!("/api/v1/departments/{proveedores}/escalations"), &token, None).await.body;
        assert_eq!((inbox["items"][0]["requester"]["email"].as_str(), inbox["items"][0]["requester"]["rut"].as_str()), (Some("contacto@pyme.cl"), Some("76086428-5")));
        let listed = app.get(&format!("/api/v1/tickets/{id}/escalations")).await.body;
        assert_eq!(listed.as_array().unwrap().len(), 1);

        // A department without a queue cannot receive transfers; unknown departments are named.
        let no_queue = app.post(&format!("/api/v1/tickets/{id}/escalations"), json!({"department": "formacion", "mode": "transfer", "reason": "x"})).await;
        assert_eq!(assert_problem(&no_queue, 422), ["department"]);
        let unknown = app.post(&format!("/api/v1/tickets/{id}/escalations"), json!({"department": "marte", "mode": "consult", "reason": "x"})).await;
        assert_eq!(assert_problem(&unknown, 422), ["department"]);
        assert_eq!(assert_problem(&app.post(&format!("/api/v1/tickets/{id}/escalations"), json!({"department": "formacion", "mode": "ask", "reason": "x"})).await, 422), ["mode"]);
        assert_eq!(app.get(&format!("/api/v1/departments/{formacion}/escalations")).await.body, json!({"items": [], "next_cursor": null}));
    }

    async fn an_sla_breach_can_escalate_to_a_department_once(app) {
        let continuous = app.get("/api/v1/calendars").await.body.as_array().unwrap().iter().find(|c| c["slug"] == "continuo").unwrap()["id"].clone();
        let policy = app.post("/api/v1/sla/policies", json!({
            "name": "Reclamos", "position": 1, "conditions": {"categories": ["reclamos"]},
            "targets": {"first_reply": {"normal": 30}, "resolution": {"normal": 60}}, "calendar_id": continuous,
            "actions": {"breach": {"escalate": {"department": "diseno-servicios", "mode": "consult"}}}
        })).await;
        assert_eq!(policy.status, StatusCode::CREATED, "{}", policy.body);
        let bad = app.post("/api/v1/sla/policies", json!({"name": "x", "targets": {"first_reply": {"normal": 30}}, "calendar_id": continuous,
            "actions": {"warning": {"escalate": {"department": "marte", "mode": "consult"}}}})).await;
        assert_eq!(assert_problem(&bad, 422), ["actions.warning.escalate"]);

        let ticket = app.post("/api/v1/tickets", json!({"subject": "Reclamo por demora", "body": "Nadie responde.", "category": "reclamos",
            "requester": {"name": "Vecino", "email": "vecino@example.cl"}})).await.body;
        let id = ticket["id"].as_i64().unwrap();
        let created: chrono::DateTime<chrono::Utc> = ticket["created_at"].as_str().unwrap().parse().unwrap();
        // Both metrics breach: one escalation, reason naming the first.
        let later = created + Duration::minutes(61);
        let fired = app.db.write(move |c| scanner::tick(c, later, 100)).await.unwrap();
        assert!(fired >= 2, "{fired}");
        let escalations = app.get(&format!("/api/v1/tickets/{id}/escalations")).await.body;
        assert_eq!(escalations.as_array().unwrap().len(), 1, "{escalations}");
        assert_eq!((escalations[0]["department"].as_str(), escalations[0]["requested_by"].clone()), (Some("diseno-servicios"), Value::Null));
        assert!(escalations[0]["reason"].as_str().unwrap().starts_with("SLA "), "{escalations}");
    }
}

on_all_backends! {
    async fn opportunities_go_through_their_lifecycle_by_the_right_side(app) {
        let diseno = department(&app, "diseno-servicios").await;
        let compradores = department(&app, "compradores").await;
        let (dept_id, dept) = member(&app, diseno, "Equipo UX").await;
        let (_, other) = member(&app, compradores, "Otra área").await;
        let agent = app.token(Role::Agent).await;
        let t1 = app.ticket("No encuentro el botón de ofertar", "a@proveedor.cl").await;
        let t2 = app.ticket("¿Dónde se oferta?", "b@proveedor.cl").await;
        let t3 = app.ticket("No encuentro dónde ofertar", "a@proveedor.cl").await;

        let draft = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(json!({
            "title": "Botón de ofertar poco visible", "description": "Varios proveedores no encuentran dónde ofertar.",
            "department": "diseno-servicios", "category": "licitaciones", "priority": "high", "ticket_ids": [t1["id"], t2["id"]]}))).await;
        assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
        let id = draft.body["id"].clone();
        assert_eq!((draft.body["status"].as_str(), draft.body["ticket_count"].as_u64(), draft.body["requester_count"].as_u64()), (Some("draft"), Some(2), Some(2)));
        let more = as_user(&app, Method::POST, &format!("/api/v1/opportunities/{id}/tickets"), &agent, Some(json!({"ticket_ids": [t3["id"], t1["id"]]}))).await;
        // The third ticket is from a requester already counted.
        assert_eq!((more.body["ticket_count"].as_u64(), more.body["requester_count"].as_u64()), (Some(3), Some(2)));

        let step = |token: &str, to: &str, extra: Value| {
            let mut body = json!({"to": to});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let (app, token, path) = (&app, token.to_owned(), format!("/api/v1/opportunities/{id}/transitions"));
            async move { as_user(app, Method::POST, &path, &token, Some(body)).await }
        };
        // A draft is edited before it is sent (by Atención Usuaria only), as creating validates.
        let path = format!("/api/v1/opportunities/{id}");
        let edit = |token: &str, body: Value| {
            let (app, token, path) = (&app, token.to_owned(), path.clone());
            async move { as_user(app, Method::PATCH, &path, &token, Some(body)).await }
        };
        assert_eq!(assert_problem(&edit(&agent, json!({"title": " ", "department": "no-existe"})).await, 422), ["title"]);
        assert_eq!(assert_problem(&edit(&agent, json!({"department": "no-existe"})).await, 422), ["department"]);
        assert_problem(&edit(&dept, json!({"title": "Otro"})).await, 403);
        let edited = edit(&agent, json!({"title": "Botón de ofertar difícil de encontrar"})).await;
        assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
        assert_eq!((edited.body["title"].as_str(), edited.body["description"].as_str(), edited.body["ticket_count"].as_u64()),
            (Some("Botón de ofertar difícil de encontrar"), Some("Varios proveedores no encuentran dónde ofertar."), Some(3)));
        // The department does not see drafts' steps that are not theirs, nor skip ahead.
        assert_problem(&step(&dept, "sent", json!({})).await, 409);
        assert_eq!(step(&agent, "sent", json!({"comment": "Enviada a Diseño"})).await.body["status"], "sent");
        // Sent, it is the department's: no more edits.
        assert_problem(&edit(&agent, json!({"title": "Otro"})).await, 409);
        assert_problem(&step(&agent, "acknowledged", json!({})).await, 409);
        // Another department cannot see it at all.
        assert_problem(&as_user(&app, Method::GET, &format!("/api/v1/opportunities/{id}"), &other, None).await, 404);
        assert_problem(&step(&other, "acknowledged", json!({})).await, 404);
        assert_eq!(as_user(&app, Method::GET, "/api/v1/opportunities", &other, None).await.body, json!({"items": [], "next_cursor": null}));
        assert_eq!(step(&dept, "acknowledged", json!({})).await.body["status"], "acknowledged");
        assert_eq!(step(&dept, "in_progress", json!({})).await.body["status"], "in_progress");
        // Both outcomes say what was done or why not (a blank one is no resolution either).
        for (outcome, extra, said) in [
            ("rejected", json!({}), "rechazo"),
            ("implemented", json!({}), "implementó"),
            ("implemented", json!({"resolution": null}), "implementó"),
            ("implemented", json!({"resolution": "  "}), "obligatorio"),
        ] {
            let missing = step(&dept, outcome, extra).await;
            assert_eq!(assert_problem(&missing, 422), ["resolution"], "{outcome}");
            assert!(missing.body["errors"][0]["message"].as_str().unwrap().contains(said), "{}", missing.body);
        }
        assert_eq!(as_user(&app, Method::GET, &format!("/api/v1/opportunities/{id}"), &dept, None).await.body["status"], "in_progress");
        let done = step(&dept, "implemented", json!({"resolution": "Se destacó el botón en la ficha de la licitación."})).await.body;
        assert_eq!((done["status"].as_str(), done["resolution"].as_str()), (Some("implemented"), Some("Se destacó el botón en la ficha de la licitación.")));
        let history: Vec<(Option<&str>, &str, Option<i64>)> = done["events"].as_array().unwrap().iter().map(|e| (e["from"].as_str(), e["to"].as_str().unwrap(), e["agent_id"].as_i64())).collect();
        assert_eq!(history.iter().map(|h| h.1).collect::<Vec<_>>(), ["draft", "sent", "acknowledged", "in_progress", "implemented"]);
        assert_eq!(history[4], (Some("in_progress"), "implemented", Some(dept_id)));
        // Closed: nothing moves it again; the evidence tickets tell their agents.
        assert_problem(&step(&dept, "rejected", json!({"resolution": "x"})).await, 409);
        for t in [&t1, &t2, &t3] {
            let events = app.get(&format!("/api/v1/tickets/{}/events", t["id"])).await.body;
            let outcome = events.as_array().unwrap().iter().find(|e| e["kind"] == "opportunity_outcome").expect("outcome event");
            assert_eq!(outcome["data"]["status"], "implemented");
        }
        let listed = as_user(&app, Method::GET, "/api/v1/opportunities?status=implemented", &dept, None).await.body;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);

        // Duplicates point at the original; bad input names the field.
        let copy = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(json!({"title": "Botón de ofertar", "description": "Igual.", "department": "diseno-servicios"}))).await.body;
        let path = format!("/api/v1/opportunities/{}/transitions", copy["id"]);
        assert_eq!(assert_problem(&as_user(&app, Method::POST, &path, &agent, Some(json!({"to": "duplicate"}))).await, 422), ["duplicate_of"]);
        let dup = as_user(&app, Method::POST, &path, &agent, Some(json!({"to": "duplicate", "duplicate_of": id}))).await.body;
        assert_eq!((dup["status"].as_str(), dup["duplicate_of"].clone()), (Some("duplicate"), id.clone()));
        let bad = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(json!({"title": "", "description": "x", "department": "marte"}))).await;
        assert_eq!(assert_problem(&bad, 422), ["title"]);
        let unknown = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(json!({"title": "x", "description": "x", "department": "marte"}))).await;
        assert_eq!(assert_problem(&unknown, 422), ["department"]);
        assert_problem(&as_user(&app, Method::POST, "/api/v1/opportunities", &dept, Some(json!({"title": "x", "description": "x", "department": "diseno-servicios"}))).await, 403);
    }
}

/// Friday 9 October 2026, 17:00 in Santiago (UTC-3): the Monday after is a holiday.
fn friday_before_holiday() -> chrono::DateTime<chrono::Utc> {
    "2026-10-09T20:00:00Z".parse().unwrap()
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().unwrap()
}

fn clock<'a>(view: &'a Value, metric: &str) -> &'a Value {
    view["sla"].as_array().unwrap().iter().find(|c| c["metric"] == metric).unwrap_or_else(|| panic!("{metric}: {view}"))
}

async fn fire(app: &TestApp, now: chrono::DateTime<chrono::Utc>) -> usize {
    app.db.write(move |c| atencion::departments::sla::tick(c, now, 100)).await.unwrap()
}

/// The department SLA items of `item_id` in the department's inbox, as (event, metric).
async fn sla_feed(app: &TestApp, department: i64, kind: &str, item_id: i64) -> Vec<(String, String)> {
    let inbox = app.get(&format!("/api/v1/departments/{department}/inbox?limit=100")).await.body;
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == kind && i["item_id"] == item_id && i["event"].as_str().unwrap().starts_with("sla_"))
        .map(|i| (i["event"].as_str().unwrap().to_owned(), i["payload"]["metric"].as_str().unwrap().to_owned()))
        .collect()
}

on_all_backends! {
    async fn department_sla_warns_and_breaches_once_on_business_time(app) {
        let compradores = department(&app, "compradores").await;
        let agent = app.token(Role::Agent).await;
        // Targets are the admin's: a department member or a supervisor cannot change them.
        let (_, member_token) = member(&app, compradores, "Ana de Compradores").await;
        let supervisor = app.token(Role::Supervisor).await;
        let targets = json!({"ack_minutes": 540, "answer_minutes": 1080, "warn_percent": 80});
        for token in [&member_token, &supervisor] {
            assert_problem(&as_user(&app, Method::PUT, &format!("/api/v1/departments/{compradores}/sla"), token, Some(targets.clone())).await, 403);
        }
        let set = app.call(Method::PUT, &format!("/api/v1/departments/{compradores}/sla"), Some(&app.admin), Some(&targets)).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        assert_eq!((set.body["ack_minutes"].as_i64(), set.body["warn_percent"].as_i64()), (Some(540), Some(80)));
        let bad = app.call(Method::PUT, &format!("/api/v1/departments/{compradores}/sla"), Some(&app.admin), Some(&json!({"warn_percent": 120, "ack_minutes": 0}))).await;
        assert_eq!(assert_problem(&bad, 422), ["ack_minutes", "warn_percent"]);
        let read = as_user(&app, Method::GET, &format!("/api/v1/departments/{compradores}/sla"), &member_token, None).await;
        assert_eq!(read.body["answer_minutes"], 1080);

        let draft = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(json!({
            "title": "Plan de compras", "description": "Dudas repetidas.", "department": "compradores"}))).await.body;
        let id = draft["id"].as_i64().unwrap();
        assert_eq!(draft["sla"], json!([]), "no clock while a draft");
        let sent = as_user(&app, Method::POST, &format!("/api/v1/opportunities/{id}/transitions"), &agent, Some(json!({"to": "sent"}))).await.body;
        assert_eq!(clock(&sent, "ack")["state"], "on_time");
        // As if it had been sent on Friday at 17:00: one business hour that day, Monday is a
        // holiday, so the 9 hours to acknowledge end on Tuesday at 17:00.
        let friday = friday_before_holiday();
        app.db.write(move |c| atencion::departments::sla::start(c, compradores, ("opportunity", id), &["ack", "answer"], friday)).await.unwrap();
        let view = app.get(&format!("/api/v1/opportunities/{id}")).await.body;
        let ack = clock(&view, "ack");
        assert_eq!((at(ack["warn_at"].as_str().unwrap()), at(ack["due_at"].as_str().unwrap())), (at("2026-10-13T18:12:00Z"), at("2026-10-13T20:00:00Z")));
        let answer = clock(&view, "answer");
        assert_eq!((at(answer["warn_at"].as_str().unwrap()), at(answer["due_at"].as_str().unwrap())), (at("2026-10-14T16:24:00Z"), at("2026-10-14T20:00:00Z")));
        assert_eq!(ack["state"], "breached");

        // Nothing over the holiday weekend; each instant fires its event once, also scanned twice.
        let second = Duration::seconds(1);
        assert_eq!(fire(&app, at("2026-10-12T23:00:00Z")).await, 0);
        assert_eq!(fire(&app, at("2026-10-13T18:12:00Z") - second).await, 0);
        assert_eq!(fire(&app, at("2026-10-13T18:12:00Z")).await, 1);
        assert_eq!(fire(&app, at("2026-10-13T18:12:00Z")).await, 0);
        assert_eq!(fire(&app, at("2026-10-13T20:00:00Z") - second).await, 0);
        assert_eq!(fire(&app, at("2026-10-13T20:00:00Z")).await, 1);
        assert_eq!(fire(&app, at("2026-10-14T16:24:00Z")).await, 1);
        assert_eq!(fire(&app, at("2026-10-14T20:00:00Z")).await, 1);
        assert_eq!(fire(&app, at("2026-12-01T00:00:00Z")).await, 0);
        let feed = sla_feed(&app, compradores, "opportunity", id).await;
        let expected = [("sla_warning", "ack"), ("sla_breached", "ack"), ("sla_warning", "answer"), ("sla_breached", "answer")];
        assert_eq!(feed, expected.map(|(e, m)| (e.to_owned(), m.to_owned())));

        // Supervisors list what is late; agents may not.
        let late = as_user(&app, Method::GET, "/api/v1/sla/department-items?state=breached&department=compradores", &supervisor, None).await;
        assert_eq!(late.status, StatusCode::OK, "{}", late.body);
        let items: Vec<(&str, i64, &str)> = late.body.as_array().unwrap().iter().map(|i| (i["kind"].as_str().unwrap(), i["item_id"].as_i64().unwrap(), i["clock"]["metric"].as_str().unwrap())).collect();
        assert_eq!(items, [("opportunity", id, "ack"), ("opportunity", id, "answer")]);
        assert_eq!(as_user(&app, Method::GET, "/api/v1/sla/department-items?state=at_risk", &supervisor, None).await.body, json!([]));
        assert_problem(&as_user(&app, Method::GET, "/api/v1/sla/department-items", &agent, None).await, 403);
        assert_problem(&as_user(&app, Method::GET, "/api/v1/sla/department-items?state=met", &supervisor, None).await, 422);
    }

    async fn acknowledging_in_time_stops_the_department_ack_clock(app) {
        let proveedores = department(&app, "proveedores").await;
        let queue = app.post("/api/v1/queues", json!({"slug": "dgpp", "name": "Proveedores (DGPP)", "department_id": proveedores})).await;
        assert_eq!(queue.status, StatusCode::CREATED, "{}", queue.body);
        let (_, token) = member(&app, proveedores, "Luis de Proveedores").await;
        let agent = app.token(Role::Agent).await;

        // An opportunity acknowledged at once: only the answer clock keeps running.
        let draft = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(json!({
            "title": "Acreditación", "description": "Proceso confuso.", "department": "proveedores"}))).await.body;
        let id = draft["id"].as_i64().unwrap();
        let path = format!("/api/v1/opportunities/{id}/transitions");
        as_user(&app, Method::POST, &path, &agent, Some(json!({"to": "sent"}))).await;
        let acked = as_user(&app, Method::POST, &path, &token, Some(json!({"to": "acknowledged"}))).await.body;
        assert_eq!(clock(&acked, "ack")["state"], "met");
        assert!(clock(&acked, "ack")["stopped_at"].is_string());
        assert_eq!(clock(&acked, "answer")["state"], "on_time");

        // A transfer taken through the inbox: its ack clock stops; a transfer has no answer clock.
        let ticket = app.ticket("Acreditación pendiente", "pyme@example.cl").await;
        let moved = as_user(&app, Method::POST, &format!("/api/v1/tickets/{}/escalations", ticket["id"]), &agent,
            Some(json!({"department": "proveedores", "mode": "transfer", "reason": "Revisión"}))).await.body;
        let metrics: Vec<&str> = moved["sla"].as_array().unwrap().iter().map(|c| c["metric"].as_str().unwrap()).collect();
        assert_eq!(metrics, ["ack"]);
        let inbox = as_user(&app, Method::GET, &format!("/api/v1/departments/{proveedores}/inbox"), &token, None).await.body;
        let item = inbox["items"].as_array().unwrap().iter().find(|i| i["kind"] == "escalation").unwrap()["id"].clone();
        let ack = as_user(&app, Method::POST, &format!("/api/v1/departments/{proveedores}/inbox/ack"), &token, Some(json!({"ids": [item]}))).await;
        assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
        let listed = app.get(&format!("/api/v1/tickets/{}/escalations", ticket["id"])).await.body;
        assert_eq!(clock(&listed[0], "ack")["state"], "met");

        // Much later only the opportunity's answer clock fires (warning and breach).
        let later = chrono::Utc::now() + Duration::days(60);
        assert_eq!(fire(&app, later).await, 2);
        assert_eq!(sla_feed(&app, proveedores, "opportunity", id).await.len(), 2);
        assert!(sla_feed(&app, proveedores, "escalation", moved["id"].as_i64().unwrap()).await.is_empty());
    }

    async fn department_clocks_stop_when_the_department_acts_or_the_ticket_closes(app) {
        let proveedores = department(&app, "proveedores").await;
        let queue = app.post("/api/v1/queues", json!({"slug": "dgpp", "name": "Proveedores (DGPP)", "department_id": proveedores})).await;
        assert_eq!(queue.status, StatusCode::CREATED, "{}", queue.body);
        // The department's own agents work the transferred tickets in its queue.
        let created = app.post("/api/v1/agents", json!({"name": "Luis de Proveedores", "role": "agent", "department_id": proveedores})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let worker = app.post(&format!("/api/v1/agents/{}/tokens", created.body["id"]), json!({"name": "prueba"})).await;
        let member_token = worker.body["token"].as_str().unwrap().to_owned();
        let agent = app.token(Role::Agent).await;
        let escalate = |ticket: Value, mode: &'static str| {
            let (app, agent) = (&app, agent.clone());
            async move {
                let path = format!("/api/v1/tickets/{}/escalations", ticket["id"]);
                let body = json!({"department": "proveedores", "mode": mode, "reason": "Revisión"});
                as_user(app, Method::POST, &path, &agent, Some(body)).await.body
            }
        };

        // A transfer the department works on in its own queue, never opening its inbox.
        let worked = app.ticket("Boleta de garantía", "pyme@example.cl").await;
        let transfer = escalate(worked.clone(), "transfer").await;
        assert_eq!(clock(&transfer, "ack")["state"], "on_time");
        let path = format!("/api/v1/tickets/{}/messages", worked["id"]);
        let reply = as_user(&app, Method::POST, &path, &member_token, Some(json!({"body": "Revisamos su boleta."}))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let listed = app.get(&format!("/api/v1/tickets/{}/escalations", worked["id"])).await.body;
        assert_eq!(clock(&listed[0], "ack")["state"], "met");

        // A consultation whose ticket is closed before anyone answers: nothing is owed any more.
        // An agent of Atención Usuaria acting on it does not stop the department's clocks.
        let closed = app.ticket("Consulta de inhabilidad", "otra@example.cl").await;
        let consult = escalate(closed.clone(), "consult").await;
        let path = format!("/api/v1/tickets/{}", closed["id"]);
        assert_eq!(as_user(&app, Method::PATCH, &path, &agent, Some(json!({"status": "solved"}))).await.status, StatusCode::OK);
        let listed = app.get(&format!("/api/v1/tickets/{}/escalations", closed["id"])).await.body;
        assert_eq!((clock(&listed[0], "ack")["state"].as_str(), clock(&listed[0], "answer")["state"].as_str()), (Some("on_time"), Some("on_time")));
        assert_eq!(as_user(&app, Method::PATCH, &path, &agent, Some(json!({"status": "closed"}))).await.status, StatusCode::OK);
        let listed = app.get(&format!("/api/v1/tickets/{}/escalations", closed["id"])).await.body;
        assert!(clock(&listed[0], "ack")["stopped_at"].is_string() && clock(&listed[0], "answer")["stopped_at"].is_string(), "{listed}");

        // Much later, neither fires.
        assert_eq!(fire(&app, chrono::Utc::now() + Duration::days(60)).await, 0);
        for id in [&transfer["id"], &consult["id"]] {
            assert!(sla_feed(&app, proveedores, "escalation", id.as_i64().unwrap()).await.is_empty());
        }
    }

    async fn concurrent_department_sla_scans_fire_each_event_once(app) {
        let formacion = department(&app, "formacion").await;
        let agent = app.token(Role::Agent).await;
        let boss = app.post("/api/v1/agents", json!({"name": "Supervisora", "role": "supervisor", "email": "supervisora@chilecompra.cl"})).await;
        assert_eq!(boss.status, StatusCode::CREATED, "{}", boss.body);
        let mut escalations = Vec::new();
        let mut tickets = Vec::new();
        for n in 0..4 {
            let ticket = app.ticket(&format!("Consulta {n}"), &format!("r{n}@example.cl")).await;
            tickets.push(ticket["id"].clone());
            let e = as_user(&app, Method::POST, &format!("/api/v1/tickets/{}/escalations", ticket["id"]), &agent,
                Some(json!({"department": "formacion", "mode": "consult", "reason": "¿Hay curso?"}))).await.body;
            escalations.push(e["id"].as_i64().unwrap());
        }
        // Two replicas scanning at once: every warning and breach of the 8 clocks fires once.
        let later = chrono::Utc::now() + Duration::days(60);
        let (a, b) = (app.db.clone(), app.db.clone());
        let (x, y) = tokio::join!(
            a.write(move |c| atencion::departments::sla::tick(c, later, 100)),
            b.write(move |c| atencion::departments::sla::tick(c, later, 100)),
        );
        assert_eq!(x.unwrap() + y.unwrap(), 16);
        assert_eq!(fire(&app, later).await, 0);
        for e in escalations {
            assert_eq!(sla_feed(&app, formacion, "escalation", e).await.len(), 4);
        }
        // Each breach (ack and answer) is mailed once to the supervisor, as an SLA notice.
        for t in tickets {
            let outbox = app.get(&format!("/api/v1/channels/email/outbox?ticket_id={t}")).await.body;
            let notices: Vec<&Value> = outbox.as_array().unwrap().iter().filter(|m| m["kind"] == "sla_notice").collect();
            assert_eq!(notices.len(), 2, "{outbox}");
            assert!(notices.iter().all(|m| m["recipient"] == "supervisora@chilecompra.cl"), "{outbox}");
        }
    }
}

/// The audit rows of one object, oldest first, as (actor, action, department, method path).
async fn audit_of(app: &TestApp, kind: &str, id: &Value) -> Vec<(i64, String, Option<i64>, String)> {
    let page = app.get(&format!("/api/v1/audit?object_type={kind}&object_id={id}&limit=100")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let mut rows: Vec<_> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["actor_id"].as_i64().unwrap(),
                r["action"].as_str().unwrap().to_owned(),
                r["department_id"].as_i64(),
                format!("{} {}", r["method"].as_str().unwrap(), r["path"].as_str().unwrap()),
            )
        })
        .collect();
    rows.reverse();
    rows
}

async fn agent_id(app: &TestApp, role: &str) -> i64 {
    let agents = app.get("/api/v1/agents").await.body;
    agents.as_array().unwrap().iter().rev().find(|a| a["role"] == role).unwrap()["id"].as_i64().unwrap()
}

on_all_backends! {
    async fn reads_and_changes_of_escalated_items_are_audited(app) {
        let compradores = department(&app, "compradores").await;
        let (ana, ana_token) = member(&app, compradores, "Ana de Compradores").await;
        let agent = app.token(Role::Agent).await;
        let agent_id = agent_id(&app, "agent").await;
        let plain = app.ticket("Sin derivar", "x@example.cl").await;
        let ticket = app.ticket("Duda de compradores", "jefa@municipalidad.cl").await;
        let id = &ticket["id"];

        // Tickets never escalated are not audited.
        as_user(&app, Method::GET, &format!("/api/v1/tickets/{}", plain["id"]), &agent, None).await;
        assert!(audit_of(&app, "ticket", &plain["id"]).await.is_empty());

        let asked = as_user(&app, Method::POST, &format!("/api/v1/tickets/{id}/escalations"), &agent,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "¿Aplica?"}))).await;
        assert_eq!(asked.status, StatusCode::CREATED);
        for suffix in ["", "/messages", "/events"] {
            let read = as_user(&app, Method::GET, &format!("/api/v1/tickets/{id}{suffix}"), &agent, None).await;
            assert_eq!(read.status, StatusCode::OK);
        }
        as_user(&app, Method::PATCH, &format!("/api/v1/tickets/{id}"), &agent, Some(json!({"priority": "high"}))).await;
        // Listed is read too (the plain ticket on the same page is not audited).
        let listed = as_user(&app, Method::GET, "/api/v1/tickets?limit=100", &agent, None).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 2, "{}", listed.body);
        // A failed read leaves no row and returns nothing.
        assert_problem(&as_user(&app, Method::GET, "/api/v1/tickets/999999", &agent, None).await, 404);
        as_user(&app, Method::GET, &format!("/api/v1/departments/{compradores}/escalations"), &ana_token, None).await;
        as_user(&app, Method::GET, &format!("/api/v1/departments/{compradores}/inbox"), &ana_token, None).await;
        let answered = as_user(&app, Method::POST, &format!("/api/v1/escalations/{}/answer", asked.body["id"]), &ana_token, Some(json!({"body": "Sí."}))).await;
        assert_eq!(answered.status, StatusCode::OK);

        let d = Some(compradores);
        let expected = [
            (agent_id, "change", d, format!("POST /api/v1/tickets/{id}/escalations")),
            (agent_id, "read", d, format!("GET /api/v1/tickets/{id}")),
            (agent_id, "read", d, format!("GET /api/v1/tickets/{id}/messages")),
            (agent_id, "read", d, format!("GET /api/v1/tickets/{id}/events")),
            (agent_id, "change", d, format!("PATCH /api/v1/tickets/{id}")),
            (agent_id, "read", d, "GET /api/v1/tickets".to_owned()),
            (ana, "read", d, format!("GET /api/v1/departments/{compradores}/escalations")),
            (ana, "read", d, format!("GET /api/v1/departments/{compradores}/inbox")),
            (ana, "change", d, format!("POST /api/v1/escalations/{}/answer", asked.body["id"])),
        ];
        assert_eq!(audit_of(&app, "ticket", id).await, expected.map(|(a, b, c, e)| (a, b.to_owned(), c, e)));

        // Opportunities: created and sent by the agent, read by the department.
        let draft = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(json!({
            "title": "Plan de compras", "description": "Dudas repetidas.", "department": "compradores"}))).await.body;
        let oid = &draft["id"];
        as_user(&app, Method::POST, &format!("/api/v1/opportunities/{oid}/transitions"), &agent, Some(json!({"to": "sent"}))).await;
        as_user(&app, Method::GET, &format!("/api/v1/opportunities/{oid}"), &ana_token, None).await;
        as_user(&app, Method::GET, "/api/v1/opportunities", &ana_token, None).await;
        let rows = audit_of(&app, "opportunity", oid).await;
        let actions: Vec<(i64, &str)> = rows.iter().map(|r| (r.0, r.1.as_str())).collect();
        assert_eq!(actions, [(agent_id, "change"), (agent_id, "change"), (ana, "read"), (ana, "read")]);
        assert!(rows.iter().all(|r| r.2 == d));

        // Filters: by actor, and by time.
        let mine = app.get(&format!("/api/v1/audit?actor={ana}&limit=100")).await.body;
        assert!(mine["items"].as_array().unwrap().iter().all(|r| r["actor_id"] == ana && r["actor_role"] == "department"));
        assert_eq!(mine["items"].as_array().unwrap().len(), 5);
        let none = app.get("/api/v1/audit?until=2000-01-01T00:00:00Z").await.body;
        assert_eq!(none["items"], json!([]));
        let since = app.get("/api/v1/audit?since=2000-01-01T00:00:00Z&limit=100").await.body;
        assert_eq!(since["items"].as_array().unwrap().len(), app.get("/api/v1/audit?limit=100").await.body["items"].as_array().unwrap().len());
    }

    async fn the_audit_api_is_for_admins_with_cursor_pages_and_strict_params(app) {
        let agent = app.token(Role::Agent).await;
        let ticket = app.ticket("Consulta", "a@example.cl").await;
        as_user(&app, Method::POST, &format!("/api/v1/tickets/{}/escalations", ticket["id"]), &agent,
            Some(json!({"department": "formacion", "mode": "consult", "reason": "¿Curso?"}))).await;
        for _ in 0..6 {
            as_user(&app, Method::GET, &format!("/api/v1/tickets/{}", ticket["id"]), &agent, None).await;
        }
        let all: Vec<i64> = app.get("/api/v1/audit?limit=100").await.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(all.len(), 7);
        assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first: {all:?}");
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor { Some(c) => format!("/api/v1/audit?limit=3&cursor={c}"), None => "/api/v1/audit?limit=3".into() };
            let page = app.get(&path).await.body;
            paged.extend(page["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()));
            match page["next_cursor"].as_str() { Some(c) => cursor = Some(c.to_owned()), None => break }
        }
        assert_eq!(paged, all);

        for role in [Role::Supervisor, Role::Agent, Role::Department, Role::Integration] {
            let token = app.token(role).await;
            assert_problem(&as_user(&app, Method::GET, "/api/v1/audit", &token, None).await, 403);
        }
        assert_problem(&app.call(Method::GET, "/api/v1/audit", None, None).await, 401);
        for bad in ["object_type=user", "object_id=abc", "actor=1.5", "since=ayer", "until=2026-13-01", "cursor=zz", "limit=0", "limit=500", "orden=asc"] {
            let reply = app.get(&format!("/api/v1/audit?{bad}")).await;
            assert_problem(&reply, 400);
        }
    }
}

/// Every id of a cursor-paged list, following `next_cursor` to the end.
async fn all_pages(app: &TestApp, path: &str, token: &str) -> Vec<i64> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let page = as_user(app, Method::GET, &url, token, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        ids.extend(page.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

on_all_backends! {
    async fn department_escalations_and_opportunities_come_in_cursor_pages(app) {
        let formacion = department(&app, "formacion").await;
        let (_, staff) = member(&app, formacion, "Equipo de formación").await;
        let agent = app.token(Role::Agent).await;
        let mut escalated = Vec::new();
        let mut proposed = Vec::new();
        for n in 0..5 {
            let ticket = app.ticket(&format!("Capacitación {n}"), &format!("c{n}@municipio.cl")).await;
            let asked = as_user(&app, Method::POST, &format!("/api/v1/tickets/{}/escalations", ticket["id"]), &agent,
                Some(json!({"department": "formacion", "mode": "consult", "reason": "¿Hay curso?"}))).await;
            escalated.push(asked.body["id"].as_i64().unwrap());
            let idea = as_user(&app, Method::POST, "/api/v1/opportunities", &agent,
                Some(json!({"title": format!("Curso {n}"), "description": "Piden capacitación.", "department": "formacion"}))).await;
            proposed.push(idea.body["id"].as_i64().unwrap());
        }
        // Escalations oldest first, opportunities newest first; pages of 2 cover each once.
        assert_eq!(all_pages(&app, &format!("/api/v1/departments/{formacion}/escalations?limit=2"), &staff).await, escalated);
        proposed.reverse();
        assert_eq!(all_pages(&app, "/api/v1/opportunities?limit=2&department=formacion", &agent).await, proposed);
        let first = as_user(&app, Method::GET, &format!("/api/v1/departments/{formacion}/escalations?status=open&limit=5"), &staff, None).await.body;
        assert_eq!((first["items"].as_array().unwrap().len(), first["next_cursor"].clone()), (5, Value::Null));
        for bad in ["limit=0", "limit=101", "cursor=zz"] {
            let field = bad.split('=').next().unwrap();
            let escalations = as_user(&app, Method::GET, &format!("/api/v1/departments/{formacion}/escalations?{bad}"), &staff, None).await;
            assert_eq!(assert_problem(&escalations, 422), [field]);
            let opportunities = as_user(&app, Method::GET, &format!("/api/v1/opportunities?{bad}"), &agent, None).await;
            assert_eq!(assert_problem(&opportunities, 422), [field]);
        }
    }
}

on_all_backends! {
    async fn an_escalated_ticket_is_not_shown_when_its_audit_row_cannot_be_written(app) {
        let agent = app.token(Role::Agent).await;
        let plain = app.ticket("Sin derivar", "x@example.cl").await;
        let ticket = app.ticket("Derivada", "y@example.cl").await;
        let asked = as_user(&app, Method::POST, &format!("/api/v1/tickets/{}/escalations", ticket["id"]), &agent,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "¿Aplica?"}))).await;
        assert_eq!(asked.status, StatusCode::CREATED);
        app.db.write(|c| {
            use diesel::connection::SimpleConnection;
            c.batch_execute("ALTER TABLE audit_log RENAME TO audit_log_unavailable").map_err(|e| atencion::error::AppError::Internal(e.into()))
        }).await.unwrap();
        // The read fails as a whole: no ticket data leaves without its audit row.
        let reply = as_user(&app, Method::GET, &format!("/api/v1/tickets/{}", ticket["id"]), &agent, None).await;
        assert_problem(&reply, 500);
        assert!(!reply.body.to_string().contains("Derivada"), "{}", reply.body);
        let opportunity = as_user(&app, Method::GET, "/api/v1/opportunities", &agent, None).await;
        assert_eq!(opportunity.status, StatusCode::OK, "nothing to audit, nothing written");
        assert_eq!(as_user(&app, Method::GET, &format!("/api/v1/tickets/{}", plain["id"]), &agent, None).await.status, StatusCode::OK);
    }
}

/// The `department_answer` mails queued for `ticket`.
async fn answer_notices(app: &TestApp, ticket: &Value) -> Vec<Value> {
    let outbox = app.get(&format!("/api/v1/channels/email/outbox?ticket_id={ticket}")).await.body;
    outbox.as_array().unwrap().iter().filter(|m| m["kind"] == "department_answer").cloned().collect()
}

/// An outbox row as the worker would send it: (subject, text).
async fn composed(app: &TestApp, outbox_id: i64) -> (String, String) {
    let signer = app.signer.clone();
    let raw = app
        .db
        .read(move |c| {
            let settings = test_settings();
            let templates = atencion::channels::email::compose::Templates::load("/no/such/templates.toml");
            let mail = atencion::channels::email::compose::compose(
                c,
                outbox_id,
                &settings.email,
                &signer,
                &templates,
                "http://x",
                &atencion::attachments::FileStore::new("/no/such/files"),
            )?;
            Ok(mail.expect("a mail to send").message.formatted())
        })
        .await
        .unwrap();
    let mail = mail_parser::MessageParser::default().parse(&raw).unwrap();
    (mail.subject().unwrap_or_default().to_owned(), mail.body_text(0).unwrap_or_default().into_owned())
}

on_all_backends! {
    async fn the_answer_is_mailed_once_to_the_agent_who_escalated(app) {
        let compradores = department(&app, "compradores").await;
        let (_, ana_token) = member(&app, compradores, "Ana de Compradores").await;
        let javier = app.post("/api/v1/agents", json!({"name": "Javier Rojas", "role": "agent", "email": "Javier.Rojas@chilecompra.cl"})).await;
        assert_eq!(javier.status, StatusCode::CREATED, "{}", javier.body);
        let javier_token = app.post(&format!("/api/v1/agents/{}/tokens", javier.body["id"]), json!({"name": "prueba"})).await.body["token"].as_str().unwrap().to_owned();
        let ticket = app.ticket("Duda sobre plan de compras", "jefa@municipalidad.cl").await;
        let (id, number) = (&ticket["id"], ticket["number"].as_str().unwrap());
        let asked = as_user(&app, Method::POST, &format!("/api/v1/tickets/{id}/escalations"), &javier_token,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "¿Aplica la excepción del art. 10?"}))).await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
        assert!(answer_notices(&app, id).await.is_empty(), "nothing is mailed before the answer");

        let path = format!("/api/v1/escalations/{}/answer", asked.body["id"]);
        let answered = as_user(&app, Method::POST, &path, &ana_token, Some(json!({"body": "Sí aplica, con resolución fundada."}))).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
        // A second answer is refused and mails nothing more.
        assert_problem(&as_user(&app, Method::POST, &path, &ana_token, Some(json!({"body": "Otra"}))).await, 409);
        let notices = answer_notices(&app, id).await;
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!((notices[0]["recipient"].as_str(), notices[0]["status"].as_str()), (Some("javier.rojas@chilecompra.cl"), Some("pending")));
        // The mail names the case, the department, the question and the answer.
        let (subject, text) = composed(&app, notices[0]["id"].as_i64().unwrap()).await;
        assert!(subject.contains(number) && subject.contains("Compradores") && !subject.contains('['), "{subject}");
        assert!(text.contains(number) && text.contains("Sí aplica, con resolución fundada.") && text.contains("art. 10"), "{text}");

        // Escalated by the SLA engine (no agent): the ticket's assignee is told; an agent without
        // an email gets no mail.
        let other = app.ticket("Consulta sin correo", "jefa@municipalidad.cl").await;
        let nobody = app.token(Role::Agent).await;
        let asked = as_user(&app, Method::POST, &format!("/api/v1/tickets/{}/escalations", other["id"]), &nobody,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "¿Quién firma?"}))).await;
        let path = format!("/api/v1/escalations/{}/answer", asked.body["id"]);
        assert_eq!(as_user(&app, Method::POST, &path, &ana_token, Some(json!({"body": "El jefe de servicio."}))).await.status, StatusCode::OK);
        assert!(answer_notices(&app, &other["id"]).await.is_empty());
        let third = app.ticket("Consulta automática", "jefa@municipalidad.cl").await;
        app.patch(&format!("/api/v1/tickets/{}", third["id"]), json!({"assignee_id": javier.body["id"]})).await;
        let tid = third["id"].as_i64().unwrap();
        let escalation = app.db.write(move |c| {
            let request = atencion::departments::escalations::EscalateRequest {
                department: "compradores".into(), mode: atencion::domain::EscalationMode::Consult,
                reason: "SLA vencido".into(), grant_pii: false,
            };
            atencion::departments::escalations::escalate(c, tid, atencion::domain::Actor::System, request)
        }).await.unwrap();
        assert!(escalation.requested_by.is_none());
        let path = format!("/api/v1/escalations/{}/answer", escalation.id);
        assert_eq!(as_user(&app, Method::POST, &path, &ana_token, Some(json!({"body": "Revisado."}))).await.status, StatusCode::OK);
        let notices = answer_notices(&app, &third["id"]).await;
        assert_eq!(notices.iter().map(|n| n["recipient"].as_str().unwrap()).collect::<Vec<_>>(), ["javier.rojas@chilecompra.cl"]);
    }
}

on_all_backends! {
    async fn one_escalation_and_the_monthly_summary_are_the_departments_own(app) {
        let compradores = department(&app, "compradores").await;
        let proveedores = department(&app, "proveedores").await;
        let (_, ana) = member(&app, compradores, "Ana de Compradores").await;
        let (_, pedro) = member(&app, proveedores, "Pedro de Proveedores").await;
        let ticket = app.ticket("Consulta por orden de compra", "jefa@municipalidad.cl").await;
        let asked = app.post(&format!("/api/v1/tickets/{}/escalations", ticket["id"]),
            json!({"department": "compradores", "mode": "consult", "reason": "¿Se puede anular?"})).await;
        let id = asked.body["id"].as_i64().unwrap();

        let own = as_user(&app, Method::GET, &format!("/api/v1/escalations/{id}"), &ana, None).await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.body);
        assert_eq!((own.body["reason"].as_str(), own.body["ticket_number"].clone()), (Some("¿Se puede anular?"), ticket["number"].clone()));
        assert!(own.body["requester"]["email"].is_null(), "contact data not granted");
        let other = as_user(&app, Method::GET, &format!("/api/v1/escalations/{id}"), &pedro, None).await;
        assert_problem(&other, 404);
        assert_problem(&app.get("/api/v1/escalations/999999").await, 404);

        // An opportunity with this ticket as evidence, implemented this month.
        let draft = app.post("/api/v1/opportunities", json!({"title": "Guía de anulación", "description": "Se repite la duda.",
            "department": "compradores", "ticket_ids": [ticket["id"]]})).await.body;
        let opportunity = draft["id"].as_i64().unwrap();
        assert_eq!(draft["evidence"][0]["number"], ticket["number"]);
        app.post(&format!("/api/v1/opportunities/{opportunity}/transitions"), json!({"to": "sent"})).await;
        let done = as_user(&app, Method::POST, &format!("/api/v1/opportunities/{opportunity}/transitions"), &ana,
            Some(json!({"to": "implemented", "resolution": "Guía publicada."}))).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let answered = as_user(&app, Method::POST, &format!("/api/v1/escalations/{id}/answer"), &ana,
            Some(json!({"body": "Sí, antes de la aceptación."}))).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);

        let today = chrono::Utc::now().with_timezone(&chrono_tz::America::Santiago).date_naive();
        let from = today - chrono::Days::new(40);
        let path = format!("/api/v1/departments/{compradores}/summary?from={from}&to={today}");
        let summary = as_user(&app, Method::GET, &path, &ana, None).await;
        assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
        let months = summary.body["months"].as_array().unwrap();
        assert!(months.len() >= 2, "{months:?}");
        let now = months.last().unwrap();
        assert_eq!(now["month"], today.format("%Y-%m").to_string());
        // Received: the escalation and the opportunity; both answered in time (the answer also
        // acknowledges); one opportunity implemented.
        assert_eq!((now["received"].as_u64(), now["acknowledged_in_time"].as_u64()), (Some(2), Some(2)), "{now}");
        assert_eq!((now["to_answer"].as_u64(), now["answered_in_time"].as_u64()), (Some(2), Some(2)), "{now}");
        assert_eq!((now["implemented"].as_u64(), now["rejected"].as_u64()), (Some(1), Some(0)), "{now}");
        // Another department's summary is hidden; its own is empty.
        assert_problem(&as_user(&app, Method::GET, &path, &pedro, None).await, 404);
        let theirs = as_user(&app, Method::GET, &path.replace(&format!("/{compradores}/"), &format!("/{proveedores}/")), &pedro, None).await;
        assert_eq!(theirs.body["months"].as_array().unwrap().last().unwrap()["received"], 0);

        // Bad periods name their field.
        let reversed = format!("/api/v1/departments/{compradores}/summary?from={today}&to={from}");
        assert!(!assert_problem(&as_user(&app, Method::GET, &reversed, &ana, None).await, 422).is_empty());
        let garbage = format!("/api/v1/departments/{compradores}/summary?from=ayer&to={today}");
        assert_eq!(assert_problem(&as_user(&app, Method::GET, &garbage, &ana, None).await, 422), ["from"]);
        let missing = format!("/api/v1/departments/{compradores}/summary");
        assert!(!assert_problem(&as_user(&app, Method::GET, &missing, &ana, None).await, 422).is_empty());
    }
}
