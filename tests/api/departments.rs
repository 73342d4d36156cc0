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
        let item = &inbox.body[0];
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
        assert_eq!((inbox[0]["requester"]["email"].as_str(), inbox[0]["requester"]["rut"].as_str()), (Some("contacto@pyme.cl"), Some("76086428-5")));
        let listed = app.get(&format!("/api/v1/tickets/{id}/escalations")).await.body;
        assert_eq!(listed.as_array().unwrap().len(), 1);

        // A department without a queue cannot receive transfers; unknown departments are named.
        let no_queue = app.post(&format!("/api/v1/tickets/{id}/escalations"), json!({"department": "formacion", "mode": "transfer", "reason": "x"})).await;
        assert_eq!(assert_problem(&no_queue, 422), ["department"]);
        let unknown = app.post(&format!("/api/v1/tickets/{id}/escalations"), json!({"department": "marte", "mode": "consult", "reason": "x"})).await;
        assert_eq!(assert_problem(&unknown, 422), ["department"]);
        assert_eq!(assert_problem(&app.post(&format!("/api/v1/tickets/{id}/escalations"), json!({"department": "formacion", "mode": "ask", "reason": "x"})).await, 422), ["mode"]);
        assert_eq!(app.get(&format!("/api/v1/departments/{formacion}/escalations")).await.body, json!([]));
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
        // The department does not see drafts' steps that are not theirs, nor skip ahead.
        assert_problem(&step(&dept, "sent", json!({})).await, 409);
        assert_eq!(step(&agent, "sent", json!({"comment": "Enviada a Diseño"})).await.body["status"], "sent");
        assert_problem(&step(&agent, "acknowledged", json!({})).await, 409);
        // Another department cannot see it at all.
        assert_problem(&as_user(&app, Method::GET, &format!("/api/v1/opportunities/{id}"), &other, None).await, 404);
        assert_problem(&step(&other, "acknowledged", json!({})).await, 404);
        assert_eq!(as_user(&app, Method::GET, "/api/v1/opportunities", &other, None).await.body, json!([]));
        assert_eq!(step(&dept, "acknowledged", json!({})).await.body["status"], "acknowledged");
        assert_eq!(step(&dept, "in_progress", json!({})).await.body["status"], "in_progress");
        assert_eq!(assert_problem(&step(&dept, "rejected", json!({})).await, 422), ["resolution"]);
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
        assert_eq!(listed.as_array().unwrap().len(), 1);

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
