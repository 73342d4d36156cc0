use reqwest::StatusCode;
use serde_json::json;

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
