//! Canned responses: shared ones managed by supervisors and admins, personal ones that only their
//! owner sees, placeholders checked when saved and filled for a ticket, usage counted, the
//! Spanish seed set.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// A person with `role` (and an email) and their token.
pub(crate) async fn person(app: &TestApp, name: &str, email: &str, role: &str) -> (i64, String) {
    let created = app.post("/api/v1/agents", json!({"name": name, "email": email, "role": role})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    let token = app.post(&format!("/api/v1/agents/{id}/tokens"), json!({"name": "prueba"})).await;
    (id, token.body["token"].as_str().unwrap().to_owned())
}

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    app.call(method, path, Some(token), body.as_ref()).await
}

fn shortcuts(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|r| r["shortcut"].as_str().unwrap()).collect()
}

on_all_backends! {
    async fn a_fresh_install_has_the_spanish_shared_set(app) {
        let (_, agent) = person(&app, "Javier Rojas", "javier.rojas@chilecompra.cl", "agent").await;
        let list = call(&app, Method::GET, "/api/v1/canned-responses", &agent, None).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let names = shortcuts(&list.body);
        for expected in ["clave", "registro-proveedores", "compra-agil", "orden-de-compra", "licitaciones",
            "convenio-marco", "ficha-proveedor", "capacitacion", "reclamo"] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        assert!((8..=12).contains(&names.len()), "{names:?}");
        let clave = list.body.as_array().unwrap().iter().find(|r| r["shortcut"] == "clave").unwrap();
        assert_eq!((clave["scope"].as_str(), clave["category"].as_str()), (Some("shared"), Some("acceso-clave")));
        assert!(clave["owner_id"].is_null() && clave["usage_count"] == 0);
        assert!(clave["body"].as_str().unwrap().contains("{nombre}"));
        // Every seeded text passes the rule new ones must pass: re-saving each changes nothing.
        for r in list.body.as_array().unwrap() {
            let same = app.patch(&format!("/api/v1/canned-responses/{}", r["id"]), json!({"body": r["body"]})).await;
            assert_eq!(same.status, StatusCode::OK, "{}: {}", r["shortcut"], same.body);
        }
        // Searching by the start of the short name or of a word of the title, accents aside.
        let found = call(&app, Method::GET, "/api/v1/canned-responses?q=::compra-a", &agent, None).await.body;
        assert_eq!(shortcuts(&found), ["compra-agil"]);
        let found = call(&app, Method::GET, "/api/v1/canned-responses?q=AGIL", &agent, None).await.body;
        assert_eq!(shortcuts(&found), ["compra-agil"]);
    }

    async fn shared_ones_are_managed_by_supervisors_and_personal_ones_only_by_their_owner(app) {
        let (_, ana) = person(&app, "Ana Soto", "ana.soto@chilecompra.cl", "agent").await;
        let (_, pedro) = person(&app, "Pedro Díaz", "pedro.diaz@chilecompra.cl", "agent").await;
        let (_, supervisor) = person(&app, "Carla Muñoz", "carla.munoz@chilecompra.cl", "supervisor").await;

        // An agent may not create, change or delete shared ones (403), but sees them.
        let shared = json!({"shortcut": "espera", "title": "En espera", "body": "Seguimos revisando su caso {numero}.", "scope": "shared"});
        assert_problem(&call(&app, Method::POST, "/api/v1/canned-responses", &ana, Some(shared.clone())).await, 403);
        let created = call(&app, Method::POST, "/api/v1/canned-responses", &supervisor, Some(shared)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!((created.body["scope"].as_str(), created.body["owner_id"].as_i64()), (Some("shared"), None));
        let shared_id = created.body["id"].as_i64().unwrap();
        let path = format!("/api/v1/canned-responses/{shared_id}");
        assert_eq!(call(&app, Method::GET, &path, &ana, None).await.status, StatusCode::OK);
        assert_problem(&call(&app, Method::PATCH, &path, &ana, Some(json!({"title": "Otro"}))).await, 403);
        assert_problem(&call(&app, Method::DELETE, &path, &ana, None).await, 403);
        let renamed = call(&app, Method::PATCH, &path, &supervisor, Some(json!({"title": "Caso en revisión", "category": "reclamos"}))).await;
        assert_eq!((renamed.body["title"].as_str(), renamed.body["category"].as_str()), (Some("Caso en revisión"), Some("reclamos")));
        let cleared = call(&app, Method::PATCH, &path, &supervisor, Some(json!({"category": null}))).await;
        assert!(cleared.body["category"].is_null(), "{}", cleared.body);
        // An empty category is a mistake, not a removal (schemathesis: it was taken as none).
        let empty = call(&app, Method::PATCH, &path, &supervisor, Some(json!({"category": ""}))).await;
        assert_eq!(assert_problem(&empty, 422), ["category"]);

        // A personal one (the default scope): its owner sees and changes it; anyone else, even an
        // admin, gets 404.
        let mine = call(&app, Method::POST, "/api/v1/canned-responses", &ana,
            Some(json!({"shortcut": "::Mi-Firma", "title": "Mi firma", "body": "Saludos, {agente}"}))).await;
        assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);
        assert_eq!((mine.body["scope"].as_str(), mine.body["shortcut"].as_str()), (Some("personal"), Some("mi-firma")));
        let mine_path = format!("/api/v1/canned-responses/{}", mine.body["id"]);
        for (method, body) in [(Method::GET, None), (Method::PATCH, Some(json!({"title": "Robada"}))), (Method::DELETE, None)] {
            assert_problem(&call(&app, method.clone(), &mine_path, &pedro, body.clone()).await, 404);
            assert_problem(&app.call(method, &mine_path, Some(&app.admin), body.as_ref()).await, 404);
        }
        assert!(!shortcuts(&call(&app, Method::GET, "/api/v1/canned-responses", &pedro, None).await.body).contains(&"mi-firma"));
        assert!(shortcuts(&call(&app, Method::GET, "/api/v1/canned-responses", &ana, None).await.body).contains(&"mi-firma"));
        let changed = call(&app, Method::PATCH, &mine_path, &ana, Some(json!({"body": "Atte., {agente}"}))).await;
        assert_eq!(changed.body["body"], "Atte., {agente}");

        // Short names are unique per scope: 409 within it, free across scopes and owners.
        let again = call(&app, Method::POST, "/api/v1/canned-responses", &ana,
            Some(json!({"shortcut": "mi-firma", "title": "Otra", "body": "x"}))).await;
        assert_problem(&again, 409);
        assert!(again.body["detail"].as_str().unwrap().contains("::mi-firma"), "{}", again.body);
        let pedros = call(&app, Method::POST, "/api/v1/canned-responses", &pedro,
            Some(json!({"shortcut": "mi-firma", "title": "Firma de Pedro", "body": "Pedro"}))).await;
        assert_eq!(pedros.status, StatusCode::CREATED, "{}", pedros.body);
        let clash = call(&app, Method::POST, "/api/v1/canned-responses", &supervisor,
            Some(json!({"shortcut": "clave", "title": "Otra clave", "body": "x", "scope": "shared"}))).await;
        assert_problem(&clash, 409);
        assert_problem(&call(&app, Method::PATCH, &path, &supervisor, Some(json!({"shortcut": "clave"}))).await, 409);
        let personal_clave = call(&app, Method::POST, "/api/v1/canned-responses", &ana,
            Some(json!({"shortcut": "clave", "title": "Mi versión", "body": "x"}))).await;
        assert_eq!(personal_clave.status, StatusCode::CREATED, "{}", personal_clave.body);

        assert_eq!(call(&app, Method::DELETE, &mine_path, &ana, None).await.status, StatusCode::NO_CONTENT);
        assert_problem(&call(&app, Method::GET, &mine_path, &ana, None).await, 404);
        assert_eq!(call(&app, Method::DELETE, &path, &supervisor, None).await.status, StatusCode::NO_CONTENT);
    }

    async fn unknown_placeholders_and_bad_fields_are_422_naming_them(app) {
        let (_, agent) = person(&app, "Ana Soto", "ana.soto@chilecompra.cl", "agent").await;
        let post = |body: Value| call(&app, Method::POST, "/api/v1/canned-responses", &agent, Some(body));
        let typo = post(json!({"shortcut": "x", "title": "X", "body": "Hola {nombre}, su caso {número} y {rut}"})).await;
        assert_eq!(assert_problem(&typo, 422), ["body"]);
        let message = typo.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("{número}") && message.contains("{rut}") && message.contains("{numero}"), "{message}");
        // Braces that are not a placeholder are text.
        let braces = post(json!({"shortcut": "llaves", "title": "Llaves", "body": "Use el formato {\"id\": 1} o { nombre } y {}."})).await;
        assert_eq!(braces.status, StatusCode::CREATED, "{}", braces.body);
        let fields = assert_problem(&post(json!({"shortcut": "con espacio", "title": " ", "body": " ", "category": "marte"})).await, 422);
        assert_eq!(fields, ["shortcut", "title", "body", "category"]);
        let long = post(json!({"shortcut": "largo", "title": "Largo", "body": "x".repeat(10_001)})).await;
        assert_eq!(assert_problem(&long, 422), ["body"]);
        let nul = post(json!({"shortcut": "nul", "title": "Nul", "body": "a\u{0}b"})).await;
        assert_eq!(assert_problem(&nul, 422), ["body"]);
        let id = braces.body["id"].as_i64().unwrap();
        let patch = call(&app, Method::PATCH, &format!("/api/v1/canned-responses/{id}"), &agent, Some(json!({"body": "{asunto} {nonbre}"}))).await;
        assert_eq!(assert_problem(&patch, 422), ["body"]);
    }

    async fn rendering_fills_every_placeholder_and_counts_the_use(app) {
        let (_, agent) = person(&app, "Javier Rojas", "javier.rojas@chilecompra.cl", "agent").await;
        let (_, other) = person(&app, "Pedro Díaz", "pedro.diaz@chilecompra.cl", "agent").await;
        let ticket = app.ticket("No puedo ingresar a Mercado Público", "ana.perez@municipalidad.cl").await;
        let (id, number) = (ticket["id"].as_i64().unwrap(), ticket["number"].as_str().unwrap().to_owned());
        let created = call(&app, Method::POST, "/api/v1/canned-responses", &agent, Some(json!({"shortcut": "todo", "title": "Todo",
            "body": "Hola {nombre}: caso {numero}, «{asunto}», atiende {agente}. Siga su caso en {enlace} ({numero})."}))).await;
        let canned = created.body["id"].as_i64().unwrap();
        let app_ref = &app;
        let render = |key: Value, token: String| {
            let path = format!("/api/v1/canned-responses/{canned}/render");
            async move { call(app_ref, Method::POST, &path, &token, Some(json!({"ticket_id": key}))).await }
        };
        let by_number = render(json!(number), agent.clone()).await;
        assert_eq!(by_number.status, StatusCode::OK, "{}", by_number.body);
        let token = app.signer.case_token(id);
        let filled = by_number.body["body"].as_str().unwrap();
        let (before, after) = filled.split_once(" Siga su caso en ").unwrap();
        assert_eq!(before, format!("Hola Ana Pérez: caso {number}, «No puedo ingresar a Mercado Público», atiende Javier Rojas."));
        let link = after.strip_suffix(&format!(" ({number}).")).unwrap();
        assert!(link.starts_with("http") && link.ends_with(&format!("/casos/{token}")), "{link}");
        // The link opens the requester's case page.
        let page = app.client.get(format!("{}/casos/{token}", app.address)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let by_id = render(json!(id), agent.clone()).await;
        assert_eq!(by_id.body, by_number.body);
        let got = call(&app, Method::GET, &format!("/api/v1/canned-responses/{canned}"), &agent, None).await.body;
        assert_eq!(got["usage_count"], 2);
        // Most used first.
        let list = call(&app, Method::GET, "/api/v1/canned-responses", &agent, None).await.body;
        assert_eq!(shortcuts(&list)[0], "todo");

        // A shared one fills the caller's name; an unknown ticket is a 422 naming `ticket_id`;
        // someone else's personal one is a 404 whatever the body.
        let clave = list.as_array().unwrap().iter().find(|r| r["shortcut"] == "clave").unwrap()["id"].as_i64().unwrap();
        let shared = call(&app, Method::POST, &format!("/api/v1/canned-responses/{clave}/render"), &other, Some(json!({"ticket_id": id}))).await;
        assert!(shared.body["body"].as_str().unwrap().contains("Pedro Díaz"), "{}", shared.body);
        assert!(!shared.body["body"].as_str().unwrap().contains('{'), "{}", shared.body);
        let missing = render(json!("AU-2020-999999"), agent.clone()).await;
        assert_eq!(assert_problem(&missing, 422), ["ticket_id"]);
        assert_eq!(assert_problem(&render(json!(999_999), agent.clone()).await, 422), ["ticket_id"]);
        assert_problem(&render(json!(id), other.clone()).await, 404);
        assert_problem(&call(&app, Method::POST, &format!("/api/v1/canned-responses/{canned}/render"), &other, Some(json!({}))).await, 404);
        let got = call(&app, Method::GET, &format!("/api/v1/canned-responses/{canned}"), &agent, None).await.body;
        assert_eq!(got["usage_count"], 2, "failed renders count nothing");
    }
}
