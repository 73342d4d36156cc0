use atencion::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

on_all_backends! {
    async fn create_then_read_with_event_log(app) {
        let created = app.ticket("  No puedo   ingresar ", "Ana.Perez@Providencia.CL").await;
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(created["number"], format!("AU-{year}-000001"));
        assert_eq!(created["subject"], "No puedo ingresar");
        assert_eq!(created["status"], "new");
        assert_eq!(created["priority"], "normal");
        assert_eq!(created["channel"], "api");
        assert_eq!(created["category"], "acceso-clave");
        assert_eq!(created["queue"], "mesa-de-ayuda");
        assert_eq!(created["requester"]["email"], "ana.perez@providencia.cl");
        assert_eq!(created["requester"]["segment"], "comprador");

        let id = created["id"].as_i64().unwrap();
        let by_id = app.get(&format!("/api/v1/tickets/{id}")).await;
        assert_eq!(by_id.status, StatusCode::OK);
        assert_eq!(by_id.body, created);
        let by_number = app.get(&format!("/api/v1/tickets/{}", created["number"].as_str().unwrap())).await;
        assert_eq!(by_number.body["id"], id);

        let events = app.get(&format!("/api/v1/tickets/{id}/events")).await;
        let kinds: Vec<_> = events.body.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
        assert_eq!(kinds, ["created", "message_added", "sla_policy_applied"]);
        assert_eq!(events.body[0]["data"]["number"], created["number"]);
        assert_eq!(events.body[2]["data"]["policy_name"], "Estándar");
        assert_eq!(events.body[0]["actor_type"], "agent");

        let messages = app.get(&format!("/api/v1/tickets/{id}/messages")).await;
        assert_eq!(messages.body.as_array().unwrap().len(), 1);
        assert_eq!(messages.body[0]["body"], "No puedo ingresar a Mercado Público con mi clave.");
        assert_eq!(messages.body[0]["visibility"], "public");
    }

    async fn numbers_are_sequential_and_unique_under_concurrency(app) {
        let creations = (0..12).map(|i| {
            let app = &app;
            async move { app.ticket(&format!("Consulta {i}"), &format!("p{i}@empresa.cl")).await }
        });
        let tickets = futures_util::future::join_all(creations).await;
        let mut numbers: Vec<String> = tickets.iter().map(|t| t["number"].as_str().unwrap().to_owned()).collect();
        numbers.sort();
        let year = chrono::Utc::now().format("%Y").to_string();
        let expected: Vec<String> = (1..=12).map(|n| format!("AU-{year}-{n:06}")).collect();
        assert_eq!(numbers, expected);
    }

    async fn concurrent_first_contacts_of_one_person_share_a_requester(app) {
        let creations = (0..8).map(|i| {
            let app = &app;
            async move { app.post("/api/v1/tickets", ticket_body(&format!("Consulta {i}"), "nueva@empresa.cl")).await }
        });
        let replies = futures_util::future::join_all(creations).await;
        for reply in &replies {
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            assert_eq!(reply.body["requester"]["id"], replies[0].body["requester"]["id"]);
        }
        let found = app.get("/api/v1/requesters?email=nueva@empresa.cl").await.body;
        assert_eq!(found["items"].as_array().unwrap().len(), 1);
    }

    async fn requester_is_found_again_by_email_or_rut(app) {
        let first = app.post("/api/v1/tickets", json!({
            "subject": "Pago atrasado", "body": "Factura sin pagar",
            "requester": {"name": "Comercial Andes", "email": "ventas@andes.cl", "rut": "76.086.428-5", "segment": "proveedor"}
        })).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        assert_eq!(first.body["requester"]["rut"], "76086428-5");
        let by_rut = app.post("/api/v1/tickets", json!({
            "subject": "Otra consulta", "body": "Detalle", "requester": {"rut": "760864285", "phone": "9 8765 4321"}
        })).await;
        assert_eq!(by_rut.body["requester"]["id"], first.body["requester"]["id"]);
        // The known requester's empty phone was filled from the new contact.
        assert_eq!(by_rut.body["requester"]["phone"], "+56987654321");
        assert_eq!(by_rut.body["requester"]["segment"], "proveedor");
    }

    async fn invalid_input_gets_field_errors(app) {
        let reply = app.post("/api/v1/tickets", json!({
            "subject": " ", "body": "",
            "requester": {"email": "no-es-correo", "rut": "12.345.678-9", "phone": "abc"},
            "tags": ["con espacio"]
        })).await;
        let fields = assert_problem(&reply, 422);
        assert_eq!(fields, ["subject", "body", "requester.email", "requester.phone", "requester.rut", "tags"]);
        assert!(reply.body["errors"][4]["message"].as_str().unwrap().contains("dígito verificador"));

        let no_contact = app.post("/api/v1/tickets", json!({"subject": "x", "body": "y", "requester": {"name": "Sin datos"}})).await;
        assert_eq!(assert_problem(&no_contact, 422), ["requester"]);

        let bad_enum = app.post("/api/v1/tickets", json!({"subject": "x", "body": "y", "priority": "altísima", "requester": {"email": "a@b.cl"}})).await;
        assert_eq!(assert_problem(&bad_enum, 422), ["priority"]);

        let unknown_category = app.post("/api/v1/tickets", json!({"subject": "x", "body": "y", "category": "nope", "requester": {"email": "a@b.cl"}})).await;
        assert_eq!(assert_problem(&unknown_category, 422), ["category"]);

        let unknown_assignee = app.post("/api/v1/tickets", json!({"subject": "x", "body": "y", "assignee_id": 999_999, "requester": {"email": "a@b.cl"}})).await;
        assert_eq!(assert_problem(&unknown_assignee, 422), ["assignee_id"]);

        // Nothing of the rejected requests was stored.
        let list = app.get("/api/v1/tickets").await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    }

    async fn malformed_wrong_type_and_oversized_bodies(app) {
        let url = format!("{}/api/v1/tickets", app.address);
        let send = |body: Vec<u8>, content_type: &'static str| {
            let request = app.client.post(&url).bearer_auth(&app.admin).header("content-type", content_type).body(body);
            async move { into_reply(request.send().await.unwrap()).await }
        };
        assert_problem(&send(b"{\"subject\": ".to_vec(), "application/json").await, 400);
        assert_problem(&send(b"subject=x".to_vec(), "application/x-www-form-urlencoded").await, 415);
        assert_problem(&send(b"{}".to_vec(), "text/plain").await, 415);
        let huge = format!("{{\"subject\": \"x\", \"body\": \"{}\"}}", "a".repeat(300 * 1024));
        assert_problem(&send(huge.into_bytes(), "application/json").await, 413);
        // application/*+json is JSON too.
        let ok = send(serde_json::to_vec(&ticket_body("Consulta", "x@y.cl")).unwrap(), "application/merge-patch+json").await;
        assert_eq!(ok.status, StatusCode::CREATED);
    }

    async fn not_found_problems(app) {
        assert_problem(&app.get("/api/v1/tickets/999999").await, 404);
        assert_problem(&app.get("/api/v1/tickets/AU-2020-000001").await, 404);
        assert_problem(&app.get("/api/v1/tickets/garbage").await, 404);
        assert_problem(&app.get("/api/v1/tickets/999999/events").await, 404);
        assert_problem(&app.get("/api/v1/nothing-here").await, 404);
        assert_problem(&app.patch("/api/v1/tickets/424242", json!({"status": "open"})).await, 404);
    }

    async fn patch_changes_fields_and_logs_each_change(app) {
        let t = app.ticket("Orden de compra", "comprador@organismo.gob.cl").await;
        let id = t["id"].as_i64().unwrap();
        let agent_id = app.post("/api/v1/agents", json!({"name": "Javier Rojas", "role": "agent"})).await.body["id"].as_i64().unwrap();
        let queue = app.post("/api/v1/queues", json!({"slug": "compradores", "name": "Soporte a Compradores"})).await;
        assert_eq!(queue.status, StatusCode::CREATED);
        let reply = app.patch(&format!("/api/v1/tickets/{id}"), json!({
            "status": "open", "priority": "high", "queue": "compradores", "category": "ordenes-de-compra",
            "assignee_id": agent_id, "tags": ["OC", "urgente"], "subject": "Orden de compra sin aceptar"
        })).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let b = &reply.body;
        assert_eq!((b["status"].as_str(), b["priority"].as_str(), b["queue"].as_str()), (Some("open"), Some("high"), Some("compradores")));
        assert_eq!(b["category"], "ordenes-de-compra");
        assert_eq!(b["assignee_id"], agent_id);
        assert_eq!(b["assignee_name"], "Javier Rojas");
        assert_eq!(b["tags"], json!(["oc", "urgente"]));
        assert_eq!(b["subject"], "Orden de compra sin aceptar");

        let events = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
        let events: Vec<_> = events.as_array().unwrap().iter().filter(|e| e["kind"] != "sla_policy_applied").cloned().collect();
        let kinds: Vec<_> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["created", "message_added", "status_changed", "subject_changed", "priority_changed",
            "queue_changed", "category_changed", "assignee_changed", "tags_changed"]);
        assert_eq!(events[2]["data"], json!({"from": "new", "to": "open"}));
        assert_eq!(events[8]["data"], json!({"added": ["oc", "urgente"], "removed": []}));
        // The higher priority brought tighter SLA targets, recorded as a new snapshot.
        let all = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
        let snapshots: Vec<_> = all.as_array().unwrap().iter().filter(|e| e["kind"] == "sla_policy_applied").collect();
        assert_eq!(snapshots.len(), 2);
        assert_eq!(snapshots[1]["data"]["targets"]["first_reply"], 240);

        // The same values again change nothing and log nothing.
        app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "open", "priority": "high", "tags": ["urgente", "oc"]})).await;
        let again = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
        assert_eq!(again.as_array().unwrap().len(), 11);

        // Unassign and remove the category with explicit nulls.
        let cleared = app.patch(&format!("/api/v1/tickets/{id}"), json!({"assignee_id": null, "category": null})).await;
        assert_eq!(cleared.body["assignee_id"], json!(null));
        assert_eq!(cleared.body["category"], json!(null));
    }

    async fn failed_change_leaves_no_event(app) {
        let t = app.ticket("Consulta", "a@b.cl").await;
        let id = t["id"].as_i64().unwrap();
        // The status change is applied first inside the transaction, then the unknown assignee
        // fails it: nothing of it may remain.
        let reply = app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "solved", "assignee_id": 987_654})).await;
        assert_eq!(assert_problem(&reply, 422), ["assignee_id"]);
        let after = app.get(&format!("/api/v1/tickets/{id}")).await.body;
        assert_eq!(after["status"], "new");
        assert_eq!(after["solved_at"], json!(null));
        let events = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
        assert_eq!(events.as_array().unwrap().len(), 3, "{events}");
    }

    async fn state_machine_through_the_api(app) {
        let t = app.ticket("Licitación", "p@empresa.cl").await;
        let path = format!("/api/v1/tickets/{}", t["id"]);
        let status = |reply: &Reply| reply.body["status"].as_str().unwrap().to_owned();

        // Closing an unsolved ticket and going back to new are refused with 409.
        assert_problem(&app.patch(&path, json!({"status": "closed"})).await, 409);
        // An agent's public reply opens a new ticket; an internal note changes nothing.
        let note = app.post(&format!("{path}/messages"), json!({"body": "Revisar bases", "visibility": "internal"})).await;
        assert_eq!(note.status, StatusCode::CREATED);
        assert_eq!(status(&app.get(&path).await), "new");
        app.post(&format!("{path}/messages"), json!({"body": "Estimado, revisamos su caso.", "status": "pending"})).await;
        assert_eq!(status(&app.get(&path).await), "pending");
        assert_problem(&app.patch(&path, json!({"status": "new"})).await, 409);
        // The requester answering reopens it.
        app.post(&format!("{path}/messages"), json!({"body": "Adjunto lo pedido", "from_requester": true})).await;
        assert_eq!(status(&app.get(&path).await), "open");
        let solved = app.patch(&path, json!({"status": "solved"})).await;
        assert!(solved.body["solved_at"].is_string());
        // A requester reply on a solved ticket reopens it too.
        app.post(&format!("{path}/messages"), json!({"body": "Sigue sin funcionar", "from_requester": true})).await;
        let reopened = app.get(&path).await;
        assert_eq!(status(&reopened), "open");
        assert_eq!(reopened.body["solved_at"], json!(null));
        app.patch(&path, json!({"status": "solved"})).await;
        let closed = app.patch(&path, json!({"status": "closed"})).await;
        assert_eq!(status(&closed), "closed");
        assert!(closed.body["closed_at"].is_string() && closed.body["solved_at"].is_string());
        // Closed is final: no changes, no messages.
        assert_problem(&app.patch(&path, json!({"status": "open"})).await, 409);
        assert_problem(&app.patch(&path, json!({"priority": "urgent"})).await, 409);
        assert_problem(&app.post(&format!("{path}/messages"), json!({"body": "¿Hola?", "from_requester": true})).await, 409);
        // Each agent message carries its writer's name; the requester's carry none.
        let messages = app.get(&format!("{path}/messages")).await.body;
        let authors: Vec<(&str, &Value)> = messages.as_array().unwrap().iter()
            .map(|m| (m["author_type"].as_str().unwrap(), &m["author_name"])).collect();
        assert!(authors.iter().any(|(t, _)| *t == "agent"), "{messages}");
        for (author_type, name) in authors {
            assert_eq!(name.is_string(), author_type == "agent", "{messages}");
        }

        let events = app.get(&format!("{path}/events")).await.body;
        let transitions: Vec<String> = events.as_array().unwrap().iter()
            .filter(|e| e["kind"] == "status_changed")
            .map(|e| format!("{}>{}", e["data"]["from"].as_str().unwrap(), e["data"]["to"].as_str().unwrap()))
            .collect();
        assert_eq!(transitions, ["new>open", "open>pending", "pending>open", "open>solved", "solved>open", "open>solved", "solved>closed"]);
    }

    async fn message_validation(app) {
        let t = app.ticket("Consulta", "a@b.cl").await;
        let path = format!("/api/v1/tickets/{}/messages", t["id"]);
        assert_eq!(assert_problem(&app.post(&path, json!({"body": "  "})).await, 422), ["body"]);
        let internal_requester = app.post(&path, json!({"body": "x", "from_requester": true, "visibility": "internal"})).await;
        assert_eq!(assert_problem(&internal_requester, 422), ["visibility"]);
        let html = app.post(&path, json!({"body": "Hola", "body_html": "<p>Hola<script>alert(1)</script></p>"})).await;
        assert_eq!(html.body["body_html"], "<p>Hola</p>");
    }

    async fn list_filters(app) {
        let a = app.ticket("Compra Ágil: error al cotizar", "a@b.cl").await;
        let b = app.ticket("Clave bloqueada", "c@d.cl").await;
        app.patch(&format!("/api/v1/tickets/{}", b["id"]), json!({"status": "open", "category": "compra-agil"})).await;
        let ids = |reply: Reply| -> Vec<i64> { reply.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect() };
        let (a, b) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
        assert_eq!(ids(app.get("/api/v1/tickets").await), [b, a]);
        assert_eq!(ids(app.get("/api/v1/tickets?status=open").await), [b]);
        assert_eq!(ids(app.get("/api/v1/tickets?status=new,open").await), [b, a]);
        assert_eq!(ids(app.get("/api/v1/tickets?category=compra-agil").await), [b]);
        assert_eq!(ids(app.get("/api/v1/tickets?q=COMPRA%20agil").await), [a]);
        assert_eq!(ids(app.get("/api/v1/tickets?q=100%25").await), Vec::<i64>::new());
        assert_eq!(ids(app.get("/api/v1/tickets?assignee=none&channel=api").await), [b, a]);
        assert_eq!(ids(app.get("/api/v1/tickets?queue=mesa-de-ayuda").await), [b, a]);
        let requester = app.get(&format!("/api/v1/tickets/{a}")).await.body["requester"]["id"].as_i64().unwrap();
        assert_eq!(ids(app.get(&format!("/api/v1/tickets?requester_id={requester}")).await), [a]);
        assert_eq!(ids(app.get("/api/v1/tickets?created_from=2000-01-01T00:00:00Z&created_to=2100-01-01T00:00:00Z").await), [b, a]);
        assert_eq!(ids(app.get("/api/v1/tickets?created_to=2000-01-01T00:00:00Z").await), Vec::<i64>::new());

        assert_eq!(assert_problem(&app.get("/api/v1/tickets?status=abierto").await, 422), ["status"]);
        assert_eq!(assert_problem(&app.get("/api/v1/tickets?limit=0").await, 422), ["limit"]);
        assert_eq!(assert_problem(&app.get("/api/v1/tickets?cursor=xyz").await, 422), ["cursor"]);
        assert_eq!(assert_problem(&app.get("/api/v1/tickets?created_from=ayer").await, 422), ["created_from"]);
        assert_eq!(assert_problem(&app.get("/api/v1/tickets?queue=no-existe").await, 422), ["queue"]);
    }

    async fn pagination_is_stable_while_tickets_arrive(app) {
        let mut created = Vec::new();
        for i in 0..7 {
            created.push(app.ticket(&format!("Consulta {i}"), "a@b.cl").await["id"].as_i64().unwrap());
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tickets?limit=3&cursor={c}"),
                None => "/api/v1/tickets?limit=3".to_owned(),
            };
            let page = app.get(&path).await.body;
            pages += 1;
            seen.extend(page["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()));
            // A ticket arriving mid-walk must not shift or repeat what the next page shows.
            if pages == 1 {
                app.ticket("Llega durante la paginación", "z@y.cl").await;
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        created.reverse();
        assert_eq!(seen, created);
        assert_eq!(pages, 3);
    }
}

#[tokio::test]
async fn integration_tokens_create_but_cannot_read() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let integration = app.token(Role::Integration).await;
    let created = app.call(Method::POST, "/api/v1/tickets", Some(&integration), Some(&json!({
        "subject": "Llamada", "body": "Transcripción", "channel": "phone", "requester": {"phone": "+56 2 2345 6789"}
    }))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["channel"], "phone");
    assert_eq!(created.body["requester"]["segment"], "ciudadano");
    let messages = app.get(&format!("/api/v1/tickets/{}/messages", created.body["id"])).await;
    // A channel integration relays the requester's own words.
    assert_eq!(messages.body[0]["author_type"], "requester");
    assert_problem(&app.call(Method::GET, "/api/v1/tickets", Some(&integration), None).await, 403);
}

/// An agent of role `agent` and a token for them.
async fn staff(app: &TestApp, name: &str) -> (i64, String) {
    let created = app.post("/api/v1/agents", json!({"name": name, "role": "agent"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    let token = app.post(&format!("/api/v1/agents/{id}/tokens"), json!({"name": "prueba"})).await;
    (id, token.body["token"].as_str().unwrap().to_owned())
}

async fn say(app: &TestApp, token: &str, ticket: i64, body: serde_json::Value) {
    let path = format!("/api/v1/tickets/{ticket}/messages");
    let reply = app.call(Method::POST, &path, Some(token), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

async fn assignee(app: &TestApp, ticket: i64) -> serde_json::Value {
    app.get(&format!("/api/v1/tickets/{ticket}")).await.body["assignee_id"].clone()
}

on_all_backends! {
    async fn an_agents_first_public_reply_makes_an_unassigned_ticket_theirs(app) {
        let (javier, javier_token) = staff(&app, "Javier Rojas").await;
        let (_, carla_token) = staff(&app, "Carla Muñoz").await;
        let t = app.ticket("Sin dueño", "a@b.cl").await;
        let (id, queue) = (t["id"].as_i64().unwrap(), t["queue_id"].as_i64().unwrap());
        assert!(t["assignee_id"].is_null());
        // An internal note, or what the requester said by phone, assigns nobody.
        say(&app, &javier_token, id, json!({"body": "Reviso con TI", "visibility": "internal"})).await;
        say(&app, &javier_token, id, json!({"body": "Llamó para insistir", "from_requester": true})).await;
        assert!(assignee(&app, id).await.is_null());
        assert_eq!(app.get(&format!("/api/v1/queues/{queue}/routing")).await.body["waiting"], 1);

        // The first public reply does, in the log and in the routing figures.
        say(&app, &javier_token, id, json!({"body": "Estimada Ana, ya revisamos su clave."})).await;
        let ticket = app.get(&format!("/api/v1/tickets/{id}")).await.body;
        assert_eq!((ticket["assignee_id"].as_i64(), ticket["status"].as_str()), (Some(javier), Some("open")));
        let events = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
        let taken: Vec<_> = events.as_array().unwrap().iter().filter(|e| e["kind"] == "assignee_changed").collect();
        assert_eq!(taken.len(), 1, "{events}");
        assert_eq!((taken[0]["data"]["from"].clone(), taken[0]["data"]["to"].as_i64()), (json!(null), Some(javier)));
        assert_eq!((taken[0]["actor_type"].as_str(), taken[0]["actor_id"].as_i64()), (Some("agent"), Some(javier)));
        assert_eq!(app.get(&format!("/api/v1/agents/{javier}/routing")).await.body["load"]["api"], 1);
        assert_eq!(app.get(&format!("/api/v1/queues/{queue}/routing")).await.body["waiting"], 0);
        // It is Javier's now: a colleague's reply does not take it over.
        say(&app, &carla_token, id, json!({"body": "Complemento la respuesta."})).await;
        assert_eq!(assignee(&app, id).await, javier);
        // Reopened by the requester, it is still his.
        let solve = json!({"status": "solved"});
        assert_eq!(app.call(Method::PATCH, &format!("/api/v1/tickets/{id}"), Some(&javier_token), Some(&solve)).await.status, StatusCode::OK);
        say(&app, &javier_token, id, json!({"body": "Sigue sin funcionar", "from_requester": true})).await;
        let reopened = app.get(&format!("/api/v1/tickets/{id}")).await.body;
        assert_eq!((reopened["status"].as_str(), reopened["assignee_id"].as_i64()), (Some("open"), Some(javier)));
    }

    async fn my_tickets_and_my_profile(app) {
        let (javier, javier_token) = staff(&app, "Javier Rojas").await;
        let mine = app.post("/api/v1/tickets", {
            let mut body = ticket_body("Para Javier", "a@b.cl");
            body["assignee_id"] = json!(javier);
            body
        }).await.body["id"].as_i64().unwrap();
        let nobodys = app.ticket("De nadie", "c@d.cl").await["id"].as_i64().unwrap();
        let admins = app.ticket("Del admin", "e@f.cl").await["id"].as_i64().unwrap();
        let admin_id = app.get("/api/v1/agents/me").await.body["id"].as_i64().unwrap();
        app.patch(&format!("/api/v1/tickets/{admins}"), json!({"assignee_id": admin_id})).await;
        let ids = |reply: Reply| -> Vec<i64> {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            reply.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
        };
        assert_eq!(ids(app.call(Method::GET, "/api/v1/tickets?assignee=me", Some(&javier_token), None).await), [mine]);
        assert_eq!(ids(app.get("/api/v1/tickets?assignee=me").await), [admins]);
        assert_eq!(ids(app.get("/api/v1/tickets?assignee=none").await), [nobodys]);
        assert_eq!(assert_problem(&app.get("/api/v1/tickets?assignee=yo").await, 422), ["assignee"]);

        // Every role reads its own profile: role, department, presence and queues.
        let queue = app.get("/api/v1/queues").await.body[0]["id"].as_i64().unwrap();
        app.patch(&format!("/api/v1/queues/{queue}/routing"), json!({"members": [javier]})).await;
        let presence = json!({"presence": "away"});
        let set = app.call(Method::PUT, &format!("/api/v1/agents/{javier}/presence"), Some(&javier_token), Some(&presence)).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        let me = app.call(Method::GET, "/api/v1/agents/me", Some(&javier_token), None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        assert_eq!((me.body["id"].as_i64(), me.body["name"].as_str(), me.body["role"].as_str()), (Some(javier), Some("Javier Rojas"), Some("agent")));
        assert_eq!((me.body["routing"]["presence"].as_str(), me.body["routing"]["queues"].clone()), (Some("away"), json!(["mesa-de-ayuda"])));
        assert_eq!(me.body["routing"]["load"]["api"], 1);
        assert!(me.body["department"].is_null());
        for role in [Role::Admin, Role::Supervisor, Role::Agent, Role::Department, Role::Integration] {
            let token = app.token(role).await;
            let me = app.call(Method::GET, "/api/v1/agents/me", Some(&token), None).await;
            assert_eq!(me.status, StatusCode::OK, "{role}: {}", me.body);
            assert_eq!((me.body["name"].as_str(), me.body["role"].as_str()), (Some(role.as_str()), Some(role.as_str())));
            assert_eq!(me.body["routing"]["agent_id"], me.body["id"]);
            let department = if role == Role::Department { json!("compradores") } else { json!(null) };
            assert_eq!(me.body["department"]["slug"], department);
        }
        assert_problem(&app.call(Method::GET, "/api/v1/agents/me", None, None).await, 401);
        // Documented.
        let spec = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.body;
        assert!(spec["paths"]["/api/v1/agents/me"]["get"].is_object());
        let assignee_doc = spec["paths"]["/api/v1/tickets"]["get"]["parameters"].as_array().unwrap().iter()
            .find(|p| p["name"] == "assignee").unwrap()["description"].as_str().unwrap().to_owned();
        assert!(assignee_doc.contains("`me`"), "{assignee_doc}");
    }
}

async fn reply_without_taking(backend: Backend) {
    let app = spawn(backend, |s| s.tickets.assign_on_first_reply = false).await;
    let (_, token) = staff(&app, "Javier Rojas").await;
    let id = app.ticket("Sin dueño", "a@b.cl").await["id"].as_i64().unwrap();
    say(&app, &token, id, json!({"body": "Estimada Ana, ya revisamos su clave."})).await;
    let ticket = app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!((ticket["status"].as_str(), ticket["assignee_id"].clone()), (Some("open"), json!(null)));
    let events = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    assert!(!events.as_array().unwrap().iter().any(|e| e["kind"] == "assignee_changed"), "{events}");
}

#[tokio::test]
async fn with_assign_on_first_reply_off_a_reply_leaves_the_ticket_unassigned_sqlite() {
    reply_without_taking(Backend::Sqlite).await;
}

#[tokio::test]
async fn with_assign_on_first_reply_off_a_reply_leaves_the_ticket_unassigned_postgres() {
    if postgres_url().is_some() {
        reply_without_taking(Backend::Postgres).await;
    }
}

on_all_backends! {
    // Like mail tickets, API tickets with a requester address are acknowledged, unless asked not to.
    async fn api_tickets_are_acknowledged_unless_asked_not_to(app) {
        let acks = |id: i64| {
            let app = &app;
            async move {
                app.followed().await;
                let rows = app.get(&format!("/api/v1/channels/email/outbox?ticket_id={id}")).await.body;
                rows.as_array().unwrap().iter().filter(|r| r["kind"] == "ack").map(|r| r["recipient"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        let with_email = app.ticket("Clave bloqueada", "Ana.Perez@Providencia.CL").await;
        assert_eq!(acks(with_email["id"].as_i64().unwrap()).await, ["ana.perez@providencia.cl"]);

        let mut quiet = ticket_body("Registro interno", "ana.perez@providencia.cl");
        quiet["acknowledge"] = json!(false);
        let quiet = app.post("/api/v1/tickets", quiet).await;
        assert_eq!(quiet.status, StatusCode::CREATED, "{}", quiet.body);
        assert_eq!(acks(quiet.body["id"].as_i64().unwrap()).await, Vec::<String>::new());

        let no_email = app
            .post("/api/v1/tickets", json!({"subject": "Llamada", "body": "Consulta por teléfono", "requester": {"rut": "12.345.678-5"}}))
            .await;
        assert_eq!(no_email.status, StatusCode::CREATED, "{}", no_email.body);
        assert_eq!(acks(no_email.body["id"].as_i64().unwrap()).await, Vec::<String>::new());

        let mut wrong = ticket_body("x", "a@b.cl");
        wrong["acknowledge"] = json!("no");
        assert_problem(&app.post("/api/v1/tickets", wrong).await, 422);
    }
}

// Issue 21 holds creation to few round trips (the target is 8): a new requester's ticket, once
// the replica's reference data is cached, counted inside its transaction. The least of three
// creations counts: the tests running beside this one, in the same process, load their own
// reference data into the same caches.
on_all_backends! {
    async fn creation_sends_few_statements(app) {
        app.ticket("Primero", "primero@providencia.cl").await;
        let mut counts = Vec::new();
        for n in 0..3 {
            let body = ticket_body(&format!("Segundo {n}"), &format!("segundo{n}@providencia.cl"));
            let input = serde_json::from_value::<atencion::tickets::CreateTicketRequest>(body).unwrap().validate().unwrap();
            let (created, sent) = app
                .db
                .write(move |c| {
                    let (created, sent) = atencion::db::statements::counted(|| {
                        atencion::tickets::store::create(c, Some(atencion::domain::Actor::System), input)
                    });
                    Ok((created?, sent))
                })
                .await
                .unwrap();
            assert_eq!(created.subject, format!("Segundo {n}"));
            assert_eq!(created.sla_state, Some(atencion::domain::workspace::SlaState::Ok));
            counts.push(sent);
        }
        let sent = counts.into_iter().min().unwrap();
        // 29 on both before: the SLA clocks are now planned before the ticket's row and started from
        // what the creation wrote, the log's rows go in one statement, and the reference versions
        // are read once per transaction. SQLite, in process, inserts rows one by one.
        let bound = match app.backend {
            Backend::Postgres => 8,
            Backend::Sqlite => 15,
        };
        eprintln!("statements per creation: {sent} (bound {bound})");
        assert!(sent <= bound, "creation sent {sent} statements, more than {bound}");
    }
}

// Queues and categories are cached by each replica: a change made through one is seen by the
// next request to another, which had them cached already.
on_both! {
    async fn a_queue_changed_on_one_replica_is_seen_by_another_at_once(backend) {
        let first = spawn(backend, |_| {}).await;
        let url = first.database_url.clone();
        let second = spawn(backend, move |s| s.database.url = url).await;
        let mut body = ticket_body("Antes del cambio", "antes@providencia.cl");
        assert_eq!(second.post("/api/v1/tickets", body.clone()).await.status, StatusCode::CREATED);

        let queue = first.post("/api/v1/queues", json!({ "slug": "grandes-compras", "name": "Grandes Compras" })).await;
        assert_eq!(queue.status, StatusCode::CREATED, "{}", queue.body);
        body["queue"] = json!("grandes-compras");
        let created = second.post("/api/v1/tickets", body.clone()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.body["queue"], "grandes-compras");

        let gone = first.delete(&format!("/api/v1/queues/{}", queue.body["id"])).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
        let refused = second.post("/api/v1/tickets", body).await;
        assert_eq!(assert_problem(&refused, 422), ["queue"]);
    }
}
