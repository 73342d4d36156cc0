use atencion::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

on_all_backends! {
    async fn missing_and_wrong_tokens_are_401(app) {
        let none = app.call(Method::GET, "/api/v1/tickets", None, None).await;
        assert_problem(&none, 401);
        assert_eq!(none.headers.get("www-authenticate").unwrap(), "Bearer");
        assert_problem(&app.call(Method::GET, "/api/v1/tickets", Some("atn_0000"), None).await, 401);
        assert_problem(&app.call(Method::GET, "/api/v1/tickets", Some("not-even-a-token"), None).await, 401);
    }

    async fn roles_are_enforced_on_every_endpoint(app) {
        let ticket = app.ticket("Consulta", "a@b.cl").await;
        let t = ticket["id"].as_i64().unwrap();
        let requester = ticket["requester"]["id"].as_i64().unwrap();
        let body = json!({});
        // (method, path, roles allowed); everyone else must get 403.
        let matrix: Vec<(Method, String, &[Role])> = vec![
            (Method::GET, "/api/v1/tickets".into(), &[Role::Admin, Role::Supervisor, Role::Agent]),
            (Method::GET, format!("/api/v1/tickets/{t}"), &[Role::Admin, Role::Supervisor, Role::Agent]),
            (Method::GET, format!("/api/v1/tickets/{t}/events"), &[Role::Admin, Role::Supervisor, Role::Agent]),
            (Method::GET, format!("/api/v1/tickets/{t}/messages"), &[Role::Admin, Role::Supervisor, Role::Agent]),
            (Method::PATCH, format!("/api/v1/tickets/{t}"), &[Role::Admin, Role::Supervisor, Role::Agent]),
            (Method::POST, "/api/v1/tickets".into(), &[Role::Admin, Role::Supervisor, Role::Agent, Role::Integration]),
            (Method::GET, "/api/v1/requesters".into(), &[Role::Admin, Role::Supervisor, Role::Agent]),
            (Method::GET, format!("/api/v1/requesters/{requester}"), &[Role::Admin, Role::Supervisor, Role::Agent]),
            (Method::DELETE, format!("/api/v1/requesters/{requester}"), &[Role::Admin]),
            (Method::GET, "/api/v1/agents".into(), &[Role::Admin, Role::Supervisor]),
            (Method::POST, "/api/v1/agents".into(), &[Role::Admin]),
            (Method::POST, "/api/v1/agents/1/tokens".into(), &[Role::Admin]),
            (Method::GET, "/api/v1/queues".into(), &[Role::Admin, Role::Supervisor, Role::Agent, Role::Department]),
            (Method::POST, "/api/v1/queues".into(), &[Role::Admin, Role::Supervisor]),
            (Method::GET, "/api/v1/categories".into(), &[Role::Admin, Role::Supervisor, Role::Agent, Role::Department]),
            (Method::PATCH, "/api/v1/categories/1".into(), &[Role::Admin, Role::Supervisor]),
            (Method::GET, "/api/v1/departments".into(), &[Role::Admin, Role::Supervisor, Role::Agent, Role::Department]),
            (Method::DELETE, "/api/v1/departments/1".into(), &[Role::Admin, Role::Supervisor]),
        ];
        for role in Role::ALL {
            let token = app.token(*role).await;
            for (method, path, allowed) in &matrix {
                let with_body = [Method::POST, Method::PATCH].contains(method).then_some(&body);
                let reply = app.call(method.clone(), path, Some(&token), with_body).await;
                if allowed.contains(role) {
                    assert_ne!(reply.status, StatusCode::FORBIDDEN, "{role} {method} {path}: {}", reply.body);
                    assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{role} {method} {path}");
                } else {
                    assert_problem(&reply, 403);
                }
            }
        }
    }

    async fn deactivated_agents_lose_access(app) {
        let agent = app.post("/api/v1/agents", json!({"name": "Temporal", "role": "agent"})).await.body;
        let id = agent["id"].as_i64().unwrap();
        let token = app.post(&format!("/api/v1/agents/{id}/tokens"), json!({"name": "portátil"})).await;
        assert_eq!(token.status, StatusCode::CREATED);
        let token = token.body["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("atn_"));
        assert_eq!(app.call(Method::GET, "/api/v1/tickets", Some(&token), None).await.status, StatusCode::OK);
        assert_eq!(app.delete(&format!("/api/v1/agents/{id}")).await.status, StatusCode::NO_CONTENT);
        assert_problem(&app.call(Method::GET, "/api/v1/tickets", Some(&token), None).await, 401);
        assert_eq!(app.get(&format!("/api/v1/agents/{id}")).await.body["active"], false);
    }
}
