use atencion::directory::{self, UpdateAgentRequest};
use atencion::domain::Role;
use diesel::Connection;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

on_all_backends! {
    async fn requesters_crud(app) {
        let created = app.post("/api/v1/requesters", json!({
            "name": "Pedro Soto", "email": "Pedro.Soto@Empresa.cl", "rut": "11.111.117-0",
            "phone": "+56 9 1111 2222", "segment": "proveedor", "organization": "Tecnologías Austral Ltda."
        })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_i64().unwrap();
        assert_eq!(created.body["email"], "pedro.soto@empresa.cl");
        assert_eq!(created.body["rut"], "11111117-0");

        let duplicate = app.post("/api/v1/requesters", json!({"name": "Otro", "email": "pedro.soto@empresa.cl"})).await;
        assert_problem(&duplicate, 409);
        let invalid = app.post("/api/v1/requesters", json!({"name": "", "rut": "1-8"})).await;
        assert_eq!(assert_problem(&invalid, 422), ["rut", "name", "body"]);

        let found = app.get("/api/v1/requesters?rut=11111117-0").await;
        assert_eq!(found.body["items"][0]["id"], id);
        let by_phone = app.get("/api/v1/requesters?phone=911112222").await;
        assert_eq!(by_phone.body["items"][0]["id"], id);
        assert_eq!(app.get("/api/v1/requesters?email=nadie@x.cl").await.body["items"], json!([]));

        let patched = app.patch(&format!("/api/v1/requesters/{id}"), json!({"organization": "", "segment": "ciudadano"})).await;
        assert_eq!(patched.body["organization"], json!(null));
        assert_eq!(patched.body["segment"], "ciudadano");
        assert_eq!(patched.body["email"], "pedro.soto@empresa.cl");

        // With a ticket the requester cannot be deleted; without, it can.
        let t = app.post("/api/v1/tickets", json!({"subject": "x", "body": "y", "requester": {"id": id}})).await;
        assert_eq!(t.body["requester"]["id"], id);
        assert_problem(&app.delete(&format!("/api/v1/requesters/{id}")).await, 409);
        let other = app.post("/api/v1/requesters", json!({"name": "Sin tickets", "email": "solo@x.cl"})).await.body["id"].as_i64().unwrap();
        assert_eq!(app.delete(&format!("/api/v1/requesters/{other}")).await.status, StatusCode::NO_CONTENT);
        assert_problem(&app.get(&format!("/api/v1/requesters/{other}")).await, 404);
    }

    async fn reference_data_is_seeded(app) {
        let departments = app.get("/api/v1/departments").await.body;
        let slugs: Vec<_> = departments.as_array().unwrap().iter().map(|d| d["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, ["atencion-usuaria", "compradores", "proveedores", "diseno-servicios", "formacion"]);
        let categories = app.get("/api/v1/categories").await.body;
        let names: Vec<_> = categories.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"Compra Ágil") && names.contains(&"Convenio Marco") && names.contains(&"Licitaciones"), "{names:?}");
        assert_eq!(names.len(), 12);
        let queues = app.get("/api/v1/queues").await.body;
        assert_eq!(queues[0]["slug"], "mesa-de-ayuda");
        assert_eq!(queues[0]["department_id"], departments[0]["id"]);
    }

    async fn queues_departments_categories_crud(app) {
        let dep = app.post("/api/v1/departments", json!({"slug": "observatorio", "name": "Observatorio", "email": "observatorio@chilecompra.cl"})).await;
        assert_eq!(dep.status, StatusCode::CREATED, "{}", dep.body);
        let dep_id = dep.body["id"].as_i64().unwrap();
        let queue = app.post("/api/v1/queues", json!({"slug": "observatorio", "name": "Observatorio", "department_id": dep_id, "description": "Alertas"})).await;
        assert_eq!(queue.status, StatusCode::CREATED);
        let q = queue.body["id"].as_i64().unwrap();
        assert_problem(&app.post("/api/v1/queues", json!({"slug": "observatorio", "name": "Otra"})).await, 409);
        assert_eq!(assert_problem(&app.post("/api/v1/queues", json!({"slug": "Mal Slug", "name": "x", "email": "a@b.cl"})).await, 422), ["slug", "email"]);
        assert_eq!(assert_problem(&app.post("/api/v1/queues", json!({"slug": "q", "name": "x", "department_id": 9999})).await, 422), ["department_id"]);
        let renamed = app.patch(&format!("/api/v1/queues/{q}"), json!({"name": "Observatorio de Compras"})).await;
        assert_eq!(renamed.body["name"], "Observatorio de Compras");
        assert_eq!(renamed.body["slug"], "observatorio");

        let parent = app.get("/api/v1/categories").await.body.as_array().unwrap().iter().find(|c| c["slug"] == "licitaciones").unwrap()["id"].as_i64().unwrap();
        let sub = app.post("/api/v1/categories", json!({"slug": "licitaciones-errores-oferta", "name": "Errores en ofertas", "parent_id": parent})).await;
        assert_eq!(sub.body["parent_id"], parent);
        let sub_id = sub.body["id"].as_i64().unwrap();
        assert_eq!(assert_problem(&app.patch(&format!("/api/v1/categories/{sub_id}"), json!({"parent_id": sub_id})).await, 422), ["parent_id"]);

        // Deleting deactivates: still readable, no longer usable for new tickets.
        assert_eq!(app.delete(&format!("/api/v1/queues/{q}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/api/v1/queues/{q}")).await.body["active"], false);
        let mut body = ticket_body("x", "a@b.cl");
        body["queue"] = json!("observatorio");
        assert_eq!(assert_problem(&app.post("/api/v1/tickets", body).await, 422), ["queue"]);
        assert_problem(&app.delete("/api/v1/queues/99999").await, 404);
        assert_problem(&app.get("/api/v1/departments/99999").await, 404);
    }

    async fn agents_crud(app) {
        let created = app.post("/api/v1/agents", json!({"name": "Daniela Soto", "email": "Daniela.Soto@ChileCompra.cl", "role": "supervisor"})).await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(created.body["email"], "daniela.soto@chilecompra.cl");
        let id = created.body["id"].as_i64().unwrap();
        assert_eq!(assert_problem(&app.post("/api/v1/agents", json!({"name": "Depto", "role": "department"})).await, 422), ["department_id"]);
        assert_eq!(assert_problem(&app.post("/api/v1/agents", json!({"name": "X", "role": "root"})).await, 422), ["role"]);
        assert_problem(&app.post("/api/v1/agents", json!({"name": "Dup", "email": "daniela.soto@chilecompra.cl", "role": "agent"})).await, 409);
        let patched = app.patch(&format!("/api/v1/agents/{id}"), json!({"role": "agent"})).await;
        assert_eq!(patched.body["role"], "agent");
        let all = app.get("/api/v1/agents").await.body;
        assert!(all.as_array().unwrap().iter().any(|a| a["id"] == id));
    }
}

on_all_backends! {
    async fn the_last_active_admin_cannot_be_demoted_or_deactivated(app) {
        let me = app.get("/api/v1/agents/me").await.body["id"].as_i64().unwrap();
        let path = format!("/api/v1/agents/{me}");
        let refusals = [
            app.patch(&path, json!({"role": "supervisor"})).await,
            app.patch(&path, json!({"active": false})).await,
            app.delete(&path).await,
        ];
        for refused in &refusals {
            assert_problem(refused, 409);
            assert!(refused.body["detail"].as_str().unwrap().contains("último administrador activo"), "{}", refused.body);
        }
        let still = app.get(&path).await.body;
        assert_eq!((still["role"].as_str(), still["active"].as_bool()), (Some("admin"), Some(true)));
        // Other changes of the last admin go through.
        let renamed = app.patch(&path, json!({"name": "Administración", "role": "admin", "active": true})).await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);

        // With a second admin either may go, and then the other is the last one.
        let other = app.post("/api/v1/agents", json!({"name": "Segunda", "role": "admin"})).await.body["id"].as_i64().unwrap();
        let other_path = format!("/api/v1/agents/{other}");
        assert_eq!(app.delete(&other_path).await.status, StatusCode::NO_CONTENT);
        assert_problem(&app.patch(&path, json!({"role": "agent"})).await, 409);
        assert_eq!(app.patch(&other_path, json!({"active": true})).await.status, StatusCode::OK);

        // Two admins demoting each other at once: a demotion still uncommitted holds the check of
        // the other, which then sees it and refuses (without the lock both would pass).
        let (db, held) = (app.db.clone(), std::time::Duration::from_millis(800));
        let (started, running) = tokio::sync::oneshot::channel();
        let first = tokio::task::spawn_blocking(move || {
            let mut conn = db.get().unwrap();
            conn.transaction(|c| {
                let demote = UpdateAgentRequest { role: Some(Role::Supervisor), ..Default::default() };
                directory::update_agent(c, other, demote)?;
                started.send(()).unwrap();
                std::thread::sleep(held);
                Ok::<_, atencion::error::AppError>(())
            })
        });
        running.await.unwrap();
        let began = std::time::Instant::now();
        let demote = UpdateAgentRequest { role: Some(Role::Supervisor), ..Default::default() };
        let second = app.db.write(move |c| directory::update_agent(c, me, demote)).await;
        first.await.unwrap().unwrap();
        assert!(matches!(second, Err(atencion::error::AppError::Conflict(_))), "{second:?}");
        assert!(began.elapsed() >= held / 2, "the second demotion did not wait for the first");
        let admins: Vec<i64> = app.get("/api/v1/agents").await.body.as_array().unwrap().iter()
            .filter(|a| a["role"] == "admin" && a["active"] == true).map(|a| a["id"].as_i64().unwrap()).collect();
        assert_eq!(admins, [me]);
    }
}

/// The requesters found by `phone` (written any way), as ids.
async fn by_phone(app: &TestApp, phone: &str) -> Vec<i64> {
    let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("phone", phone).finish();
    let reply = app.get(&format!("/api/v1/requesters?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{phone}: {}", reply.body);
    reply.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

on_all_backends! {
    async fn requesters_are_found_by_any_writing_of_their_phone(app) {
        let app = &app;
        let create = |name: &str, phone: &str| {
            let body = json!({"name": name, "phone": phone});
            async move { app.post("/api/v1/requesters", body).await }
        };
        // Written as a person says it, found by its E.164 form and every other writing.
        let spoken = create("Marta Díaz", "2 2555 0000").await;
        assert_eq!(spoken.status, StatusCode::CREATED, "{}", spoken.body);
        assert_eq!(spoken.body["phone"], "+56225550000");
        let marta = spoken.body["id"].as_i64().unwrap();
        for writing in ["+56225550000", "0225550000", "(02) 2555-0000", "56 2 2555 0000", "+56 (0)2 2555 0000"] {
            assert_eq!(by_phone(app, writing).await, [marta], "{writing}");
        }
        // And the other way round: stored from E.164 or with the trunk 0, found as spoken.
        let e164 = create("Jorge Díaz", "+56225550001").await.body["id"].as_i64().unwrap();
        assert_eq!(by_phone(app, "2 2555 0001").await, [e164]);
        let trunk = create("Rosa Díaz", "0225550002").await;
        assert_eq!(trunk.body["phone"], "+56225550002");
        assert_eq!(by_phone(app, "2 2555 0002").await, [trunk.body["id"].as_i64().unwrap()]);
        // Mobiles, service numbers kept national, foreign numbers in E.164.
        let mobile = create("Luis Díaz", "56912345678").await;
        assert_eq!(mobile.body["phone"], "+56912345678");
        assert_eq!(by_phone(app, "9 1234 5678").await, [mobile.body["id"].as_i64().unwrap()]);
        let service = create("Mesa de un organismo", "800 104 800").await;
        assert_eq!(service.body["phone"], "800104800");
        assert_eq!(by_phone(app, "+56 800 104 800").await, [service.body["id"].as_i64().unwrap()]);
        let foreign = create("Proveedor argentino", "+54 11 4444 5555").await;
        assert_eq!(foreign.body["phone"], "+541144445555");
        assert_eq!(by_phone(app, "0054 11 4444 5555").await, [foreign.body["id"].as_i64().unwrap()]);

        // A change and a ticket by phone alone use the same form: the same person.
        let patched = app.patch(&format!("/api/v1/requesters/{e164}"), json!({"phone": "02 2555 0009"})).await;
        assert_eq!(patched.body["phone"], "+56225550009");
        let ticket = app.post("/api/v1/tickets", json!({"subject": "Llamó", "body": "Consulta", "requester": {"phone": "0225550000"}})).await;
        assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.body);
        assert_eq!(ticket.body["requester"]["id"], marta);
        assert_eq!(assert_problem(&app.get("/api/v1/requesters?phone=llamar").await, 422), ["phone"]);
    }
}

on_all_backends! {
    async fn requesters_of_public_bodies_are_buyers_unless_told_otherwise(app) {
        let segment_of = |body: Value| {
            let app = &app;
            async move {
                let reply = app.post("/api/v1/requesters", body).await;
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
                (reply.body["id"].as_i64().unwrap(), reply.body["segment"].as_str().unwrap().to_owned())
            }
        };
        // A State domain, a municipality's domain, a public body's name: buyers.
        assert_eq!(segment_of(json!({"name": "Ana", "email": "compras@minsal.gob.cl"})).await.1, "comprador");
        assert_eq!(segment_of(json!({"name": "Beto", "email": "adquisiciones@munistgo.cl"})).await.1, "comprador");
        let (_, segment) = segment_of(json!({"name": "Carla", "email": "carla@gmail.com", "organization": "Ilustre Municipalidad de Maipú"})).await;
        assert_eq!(segment, "comprador");
        // Anyone else is a citizen; what the request says always wins.
        let (citizen, segment) = segment_of(json!({"name": "Diego", "email": "diego@gmail.com"})).await;
        assert_eq!(segment, "ciudadano");
        assert_eq!(segment_of(json!({"name": "Eva", "email": "eva@sag.gob.cl", "segment": "ciudadano"})).await.1, "ciudadano");
        let (supplier, segment) = segment_of(json!({"name": "Fito", "email": "ventas@empresa.cl", "segment": "proveedor"})).await;
        assert_eq!(segment, "proveedor");

        // A citizen who turns out to work at a hospital becomes a buyer; a supplier stays one.
        let moved = app.patch(&format!("/api/v1/requesters/{citizen}"), json!({"organization": "Hospital del Salvador"})).await;
        assert_eq!(moved.body["segment"], "comprador");
        let kept = app.patch(&format!("/api/v1/requesters/{supplier}"), json!({"email": "fito@dipres.gob.cl"})).await;
        assert_eq!(kept.body["segment"], "proveedor");

        // Tickets through the API and by mail create requesters the same way.
        let ticket = app.post("/api/v1/tickets", json!({"subject": "Clave", "body": "No puedo ingresar.",
            "requester": {"name": "Gina", "email": "gina@serviciodesalud.gob.cl"}})).await;
        assert_eq!(ticket.body["requester"]["segment"], "comprador", "{}", ticket.body);
        let mail = "From: Hugo <hugo@subtel.gob.cl>\r\nTo: soporte@atencion.localhost\r\nSubject: Consulta\r\n\
            Message-ID: <segmento-1@subtel.gob.cl>\r\n\r\nNo encuentro la orden de compra.\r\n";
        let delivered = app.client.post(format!("{}/api/v1/channels/email/inbound", app.address)).bearer_auth(&app.admin)
            .header("content-type", "message/rfc822").body(mail).send().await.unwrap();
        let delivered = into_reply(delivered).await;
        let id = &delivered.body["ticket_id"];
        assert!(id.is_i64(), "{}", delivered.body);
        assert_eq!(app.get(&format!("/api/v1/tickets/{id}")).await.body["requester"]["segment"], "comprador");
    }
}
