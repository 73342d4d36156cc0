use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::email::{header, spawn_with_smtp, text_of, SmtpSink};
use crate::helpers::*;

fn form(email: &str) -> Value {
    json!({
        "name": "Camila Fuentes", "email": email, "phone": "9 1234 5678", "rut": "12.345.678-5",
        "segment": "proveedor", "organization": "Comercial Andes SpA", "category": "compra-agil",
        "subject": "Error al enviar cotización en Compra Ágil",
        "body": "Al enviar la cotización el sistema muestra un error.", "hp_field": ""
    })
}

async fn submit(app: &TestApp, body: &Value) -> Reply {
    app.call(Method::POST, "/api/v1/public/tickets", None, Some(body)).await
}

on_all_backends! {
    async fn the_form_creates_a_web_ticket_without_login(app) {
        let reply = submit(&app, &form("camila@andes.cl")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let number = reply.body["number"].as_str().unwrap().to_owned();
        assert!(reply.body["message"].as_str().unwrap().contains(&number));
        // Nothing else about the ticket or the requester is echoed to an anonymous caller.
        assert_eq!(reply.body.as_object().unwrap().len(), 2);

        let ticket = app.get(&format!("/api/v1/tickets/{number}")).await.body;
        assert_eq!(ticket["channel"], "web");
        assert_eq!(ticket["category"], "compra-agil");
        assert_eq!(ticket["requester"]["rut"], "12345678-5");
        assert_eq!(ticket["requester"]["phone"], "+56912345678");
        assert_eq!(ticket["requester"]["segment"], "proveedor");
        let events = app.get(&format!("/api/v1/tickets/{number}/events")).await.body;
        assert_eq!(events[0]["actor_type"], "requester");
        assert_eq!(events[0]["actor_id"], ticket["requester"]["id"]);
        let messages = app.get(&format!("/api/v1/tickets/{number}/messages")).await.body;
        assert_eq!(messages[0]["author_type"], "requester");
    }

    async fn the_form_validates_strictly(app) {
        let mut bad = form("no-es-correo");
        bad["rut"] = json!("12.345.678-0");
        bad["subject"] = json!("");
        assert_eq!(assert_problem(&submit(&app, &bad).await, 422), ["subject", "email", "rut"]);
        let mut missing = form("a@b.cl");
        missing.as_object_mut().unwrap().remove("email");
        assert_eq!(assert_problem(&submit(&app, &missing).await, 422), ["email"]);
        let mut extra = form("a@b.cl");
        extra["priority"] = json!("urgent");
        assert_eq!(assert_problem(&submit(&app, &extra).await, 422), ["priority"]);
        let mut blank_email = form("  ");
        blank_email["name"] = json!(" ");
        assert_eq!(assert_problem(&submit(&app, &blank_email).await, 422), ["name", "email"]);
        assert_eq!(app.get("/api/v1/tickets").await.body["items"], json!([]));
    }

    async fn bots_filling_the_honeypot_are_dropped(app) {
        let mut bot = form("bot@spam.example");
        bot["hp_field"] = json!("http://spam.example");
        assert_problem(&submit(&app, &bot).await, 400);
        assert_eq!(app.get("/api/v1/tickets").await.body["items"], json!([]));
    }

    async fn public_categories_and_page(app) {
        let categories = app.call(Method::GET, "/api/v1/public/categories", None, None).await.body;
        assert_eq!(categories.as_array().unwrap().len(), 12);
        for path in ["/", "/formulario"] {
            let page = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
            let html = page.text().await.unwrap();
            for needle in ["lang=\"es-CL\"", "id=\"formulario\"", "/api/v1/public/tickets", "name=\"hp_field\"", "600 7000 600"] {
                assert!(html.contains(needle), "{path} lacks {needle}");
            }
            assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external resources");
        }
    }
}

#[tokio::test]
async fn the_form_is_rate_limited_per_client() {
    let app = spawn(Backend::Sqlite, |s| s.web_form.rate_limit_per_minute = 2).await;
    for i in 0..2 {
        assert_eq!(submit(&app, &form(&format!("u{i}@x.cl"))).await.status, StatusCode::CREATED);
    }
    let limited = submit(&app, &form("u3@x.cl")).await;
    assert_problem(&limited, 429);
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    // Authenticated API traffic is not limited by the form's budget.
    app.ticket("Por API", "api@x.cl").await;
}

#[tokio::test]
async fn form_retries_with_the_same_key_create_one_ticket() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let send = || {
        app.client
            .post(format!("{}/api/v1/public/tickets", app.address))
            .header("Idempotency-Key", "form-fill-1")
            .json(&form("retry@x.cl"))
            .send()
    };
    let first = into_reply(send().await.unwrap()).await;
    let second = into_reply(send().await.unwrap()).await;
    assert_eq!(first.body["number"], second.body["number"]);
    assert_eq!(app.get("/api/v1/tickets").await.body["items"].as_array().unwrap().len(), 1);
}

/// The acknowledgements queued for `ticket` (kind `ack`), as (recipient, status).
pub(crate) async fn acks_of(app: &TestApp, ticket: i64) -> Vec<String> {
    app.followed().await;
    let rows = app.get(&format!("/api/v1/channels/email/outbox?ticket_id={ticket}")).await.body;
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "ack")
        .map(|r| r["recipient"].as_str().unwrap().to_owned())
        .collect()
}

async fn ticket_id(app: &TestApp, number: &str) -> i64 {
    app.get(&format!("/api/v1/tickets/{number}")).await.body["id"].as_i64().unwrap()
}

// The form promises an answer at the address given: the number and the case link are mailed.
async fn the_form_is_acknowledged_by_mail(backend: Backend) {
    let Some(sink) = SmtpSink::start() else { return };
    let app = spawn_with_smtp(backend, sink.port, |_| {}).await;
    let request = app
        .client
        .post(format!("{}/api/v1/public/tickets", app.address))
        .header("Idempotency-Key", "formulario-1")
        .json(&form("camila@andes.cl"));
    let reply = into_reply(request.try_clone().unwrap().send().await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let number = reply.body["number"].as_str().unwrap().to_owned();
    let mails = sink.wait_for(1).await;
    let ack = &mails[0];
    assert!(header(ack, "To").contains("camila@andes.cl"), "{}", header(ack, "To"));
    assert!(header(ack, "Subject").contains(&number), "{}", header(ack, "Subject"));
    let text = text_of(ack);
    assert!(text.contains(&number) && text.contains("/casos/"), "{text}");
    // A retry of the same submission queues nothing more.
    let again = into_reply(request.send().await.unwrap()).await;
    assert_eq!(again.headers.get("Idempotent-Replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(acks_of(&app, ticket_id(&app, &number).await).await, ["camila@andes.cl"]);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.delivered().len(), 1);
}

#[tokio::test]
async fn the_form_is_acknowledged_by_mail_sqlite() {
    the_form_is_acknowledged_by_mail(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_form_is_acknowledged_by_mail_postgres() {
    if postgres_url().is_some() {
        the_form_is_acknowledged_by_mail(Backend::Postgres).await;
    }
}

// One daily cap of automatic answers per address, whatever the channel.
async fn acknowledgements_are_capped_per_address(backend: Backend) {
    let app = spawn(backend, |s| s.email.auto_replies_per_sender_per_day = 2).await;
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let reply = submit(&app, &form("camila@andes.cl")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        numbers.push(reply.body["number"].as_str().unwrap().to_owned());
    }
    let third = app.ticket("Tercera consulta", "camila@andes.cl").await;
    let mut acks = Vec::new();
    for number in &numbers {
        acks.push(acks_of(&app, ticket_id(&app, number).await).await.len());
    }
    acks.push(acks_of(&app, third["id"].as_i64().unwrap()).await.len());
    assert_eq!(acks, [1, 1, 0]);
    // Another person still gets their own.
    let mut other = form("otra@andes.cl");
    other["rut"] = json!(null);
    let other = submit(&app, &other).await.body;
    assert_eq!(acks_of(&app, ticket_id(&app, other["number"].as_str().unwrap()).await).await, ["otra@andes.cl"]);
}

#[tokio::test]
async fn acknowledgements_are_capped_per_address_sqlite() {
    acknowledgements_are_capped_per_address(Backend::Sqlite).await;
}

#[tokio::test]
async fn acknowledgements_are_capped_per_address_postgres() {
    if postgres_url().is_some() {
        acknowledgements_are_capped_per_address(Backend::Postgres).await;
    }
}
