use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn post_with_key(app: &TestApp, key: &str, body: &serde_json::Value) -> Reply {
    let request = app
        .client
        .post(format!("{}/api/v1/tickets", app.address))
        .bearer_auth(&app.admin)
        .header("Idempotency-Key", key)
        .json(body);
    into_reply(request.send().await.unwrap()).await
}

async fn count_tickets(app: &TestApp) -> usize {
    app.get("/api/v1/tickets?limit=100").await.body["items"].as_array().unwrap().len()
}

on_all_backends! {
    async fn retry_returns_the_first_response_and_creates_once(app) {
        let body = ticket_body("Clave bloqueada", "a@b.cl");
        let first = post_with_key(&app, "retry-1", &body).await;
        assert_eq!(first.status, StatusCode::CREATED);
        assert!(first.headers.get("idempotent-replayed").is_none());
        let second = post_with_key(&app, "retry-1", &body).await;
        assert_eq!(second.status, StatusCode::CREATED);
        assert_eq!(second.headers.get("idempotent-replayed").unwrap(), "true");
        assert_eq!(second.body, first.body);
        assert_eq!(count_tickets(&app).await, 1);
        // Another key is another request.
        let other = post_with_key(&app, "retry-2", &body).await;
        assert_ne!(other.body["id"], first.body["id"]);
        assert_eq!(count_tickets(&app).await, 2);
    }

    async fn same_key_with_another_body_is_rejected(app) {
        post_with_key(&app, "k", &ticket_body("Uno", "a@b.cl")).await;
        let reply = post_with_key(&app, "k", &ticket_body("Dos", "a@b.cl")).await;
        assert_eq!(assert_problem(&reply, 422), ["Idempotency-Key"]);
        assert_eq!(count_tickets(&app).await, 1);
        let bad = post_with_key(&app, &"x".repeat(256), &ticket_body("Tres", "a@b.cl")).await;
        assert_eq!(assert_problem(&bad, 422), ["Idempotency-Key"]);
    }

    async fn concurrent_twins_create_one_ticket(app) {
        let body = ticket_body("Doble clic", "doble@clic.cl");
        let twins = (0..6).map(|_| post_with_key(&app, "twin", &body));
        let replies = futures_util::future::join_all(twins).await;
        for reply in &replies {
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            assert_eq!(reply.body["id"], replies[0].body["id"]);
        }
        assert_eq!(count_tickets(&app).await, 1);
    }

    async fn keys_are_scoped_to_the_caller(app) {
        let body = ticket_body("Consulta", "a@b.cl");
        post_with_key(&app, "shared", &body).await;
        let other = app.token(atencion::domain::Role::Agent).await;
        let request = app.client.post(format!("{}/api/v1/tickets", app.address)).bearer_auth(&other).header("Idempotency-Key", "shared").json(&body);
        let reply = into_reply(request.send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        assert!(reply.headers.get("idempotent-replayed").is_none());
        assert_eq!(count_tickets(&app).await, 2);
    }

    async fn messages_accept_keys_too(app) {
        let t = app.ticket("Consulta", "a@b.cl").await;
        let url = format!("{}/api/v1/tickets/{}/messages", app.address, t["id"]);
        for _ in 0..3 {
            let request = app.client.post(&url).bearer_auth(&app.admin).header("Idempotency-Key", "reply-1").json(&json!({"body": "Respuesta"}));
            assert_eq!(request.send().await.unwrap().status(), StatusCode::CREATED);
        }
        let messages = app.get(&format!("/api/v1/tickets/{}/messages", t["id"])).await.body;
        assert_eq!(messages.as_array().unwrap().len(), 2);
    }
}
