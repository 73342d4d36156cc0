//! Delivery to department queues: the inbox pulled with a cursor and acknowledged; the Redis
//! stream read by a consumer group whose consumer crashes; signed webhooks received by a real HTTP
//! server, retried while it is down, logged, disabled after repeated failures; and two replicas
//! that never deliver one item twice.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use atencion::config::Settings;
use atencion::departments::stream::stream_key;
use atencion::departments::webhooks::hmac_sha256;
use atencion::domain::Role;
use atencion::startup::Application;
use redis::streams::{StreamAutoClaimReply, StreamReadReply};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::departments::{department, member};
use crate::helpers::*;

const SECRET: &str = "secreto-compartido-de-prueba";

/// Polls `$check` (an expression giving `Option<T>`, which may `.await`) until it is `Some`.
macro_rules! eventually {
    ($what:expr, $check:expr) => {{
        let mut tries = 0;
        loop {
            if let Some(value) = $check {
                break value;
            }
            tries += 1;
            assert!(tries < 300, "timed out waiting for {}", $what);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }};
}

/// An app whose delivery workers run every few milliseconds, with its settings.
pub(crate) async fn start(backend: Backend, max_failures: i32) -> (TestApp, Settings) {
    let seen = Arc::new(Mutex::new(None));
    let keep = seen.clone();
    let app = spawn(backend, move |s| {
        s.departments.poll_interval_ms = 25;
        s.departments.retry_base_ms = 50;
        s.departments.webhook_timeout_ms = 3000;
        s.departments.max_consecutive_failures = max_failures;
        *keep.lock().unwrap() = Some(s.clone());
    })
    .await;
    let settings = seen.lock().unwrap().take().unwrap();
    (app, settings)
}

/// One test body per backend, with fast workers; `$max` failures in a row disable a webhook.
macro_rules! with_workers {
    ($(async fn $name:ident($app:ident, $settings:ident, $max:expr) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    #[allow(unused_variables)]
                    let ($app, $settings) = start(Backend::Sqlite, $max).await;
                    $body
                }

                #[tokio::test]
                async fn postgres() {
                    if postgres_url().is_none() {
                        return;
                    }
                    #[allow(unused_variables)]
                    let ($app, $settings) = start(Backend::Postgres, $max).await;
                    $body
                }
            }
        )*
    };
}

async fn as_user(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    app.call(method, path, Some(token), body.as_ref()).await
}

/// Escalates a new ticket to `slug`; returns the escalation.
async fn escalate(app: &TestApp, slug: &str, subject: &str) -> Value {
    let ticket = app.ticket(subject, "jefa@municipalidad.cl").await;
    let reply = app
        .post(
            &format!("/api/v1/tickets/{}/escalations", ticket["id"]),
            json!({"department": slug, "mode": "consult", "reason": "¿Qué responde el departamento?"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

/// The department's delivery log (as admin).
async fn log(app: &TestApp, department: i64) -> Vec<Value> {
    let reply = app.get(&format!("/api/v1/departments/{department}/deliveries?limit=100")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

fn keys(items: &Value) -> Vec<String> {
    items.as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap().to_owned()).collect()
}

on_all_backends! {
    async fn the_inbox_lists_what_was_sent_until_acknowledged(app) {
        let compradores = department(&app, "compradores").await;
        let proveedores = department(&app, "proveedores").await;
        let (_, dept) = member(&app, compradores, "Ana de Compradores").await;
        let (_, other) = member(&app, proveedores, "Pedro de Proveedores").await;
        let agent = app.token(Role::Agent).await;
        let supervisor = app.token(Role::Supervisor).await;
        let inbox = format!("/api/v1/departments/{compradores}/inbox");

        // An escalation, without the requester's contact data...
        let requester = json!({"name": "Jefa de Compras", "email": "jefa@muni.cl", "phone": "+56 9 1234 5678",
            "rut": "76.086.428-5", "segment": "comprador"});
        let ticket = app.post("/api/v1/tickets", json!({"subject": "Plan anual de compras", "body": "¿Cuándo se publica?",
            "requester": requester})).await.body;
        let tid = ticket["id"].clone();
        let e1 = as_user(&app, Method::POST, &format!("/api/v1/tickets/{tid}/escalations"), &agent,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "Plazo de publicación"}))).await.body;
        // ...the requester's reply on it (an internal note of ours is not sent)...
        let reply = app.post(&format!("/api/v1/tickets/{tid}/messages"), json!({"body": "Adjunto el oficio.", "from_requester": true})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let note = app.post(&format!("/api/v1/tickets/{tid}/messages"), json!({"body": "Lo vemos", "visibility": "internal"})).await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
        // ...an escalation that grants the contact data...
        let ticket2 = app.post("/api/v1/tickets", json!({"subject": "Orden de compra", "body": "No la veo.",
            "requester": {"name": "Proveedora", "email": "ventas@pyme.cl", "rut": "12.345.678-5"}})).await.body;
        let e2 = as_user(&app, Method::POST, &format!("/api/v1/tickets/{}/escalations", ticket2["id"]), &agent,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "Revisar OC", "grant_pii": true}))).await.body;
        // ...and opportunities: once sent, not as drafts, and not the department's own steps.
        let draft = |title: &str| json!({"title": title, "description": "Muchas consultas.", "department": "compradores"});
        let o1 = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(draft("Guía de planes de compra"))).await.body;
        let o2 = as_user(&app, Method::POST, "/api/v1/opportunities", &agent, Some(draft("Guía del plan anual"))).await.body;
        let step = |id: &Value, token: &str, body: Value| {
            let (path, token) = (format!("/api/v1/opportunities/{id}/transitions"), token.to_owned());
            let app = &app;
            async move { as_user(app, Method::POST, &path, &token, Some(body)).await }
        };
        assert_eq!(step(&o1["id"], &agent, json!({"to": "sent"})).await.body["status"], "sent");
        assert_eq!(step(&o1["id"], &dept, json!({"to": "acknowledged"})).await.body["status"], "acknowledged");
        assert_eq!(step(&o2["id"], &agent, json!({"to": "sent"})).await.body["status"], "sent");
        assert_eq!(step(&o2["id"], &agent, json!({"to": "duplicate", "duplicate_of": o1["id"]})).await.body["status"], "duplicate");

        let all = as_user(&app, Method::GET, &format!("{inbox}?limit=10"), &dept, None).await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        let messages = app.get(&format!("/api/v1/tickets/{tid}/messages")).await.body;
        let from_requester = messages.as_array().unwrap().iter().rev().find(|m| m["author_type"] == "requester").unwrap()["id"].clone();
        assert_eq!(keys(&all.body["items"]), [
            format!("escalation:{}:created", e1["id"]),
            format!("escalation:{}:requester_reply:{from_requester}", e1["id"]),
            format!("escalation:{}:created", e2["id"]),
            format!("opportunity:{}:sent", o1["id"]),
            format!("opportunity:{}:sent", o2["id"]),
            format!("opportunity:{}:duplicate", o2["id"]),
        ]);
        let items = all.body["items"].as_array().unwrap();
        let first = &items[0];
        assert_eq!((first["kind"].as_str(), first["event"].as_str(), first["item_id"].clone()), (Some("escalation"), Some("created"), e1["id"].clone()));
        assert_eq!(first["payload"]["key"], first["key"]);
        assert_eq!(first["payload"]["department_id"], compradores);
        let seen = &first["payload"]["escalation"]["requester"];
        assert_eq!(seen["name"], "Jefa de Compras");
        assert!(seen["email"].is_null() && seen["phone"].is_null() && seen["rut"].is_null(), "{seen}");
        assert!(!first["payload"].to_string().contains("jefa@muni.cl"));
        assert_eq!(items[1]["payload"]["message"]["body"], "Adjunto el oficio.");
        assert!(!items[1]["payload"].to_string().contains("76086428"));
        let granted = &items[2]["payload"]["escalation"]["requester"];
        assert_eq!((granted["email"].as_str(), granted["rut"].as_str()), (Some("ventas@pyme.cl"), Some("12345678-5")));
        assert_eq!(items[3]["payload"]["opportunity"]["title"], "Guía de planes de compra");
        assert_eq!(items[5]["payload"]["opportunity"]["duplicate_of"], o1["id"]);

        // Pages follow the cursor; past the end the cursor stays put.
        let page1 = as_user(&app, Method::GET, &format!("{inbox}?limit=4"), &dept, None).await.body;
        assert_eq!(keys(&page1["items"]), keys(&all.body["items"])[..4]);
        let cursor = page1["next_cursor"].as_str().unwrap();
        let page2 = as_user(&app, Method::GET, &format!("{inbox}?limit=4&after={cursor}"), &dept, None).await.body;
        assert_eq!(keys(&page2["items"]), keys(&all.body["items"])[4..]);
        let end = page2["next_cursor"].as_str().unwrap();
        let empty = as_user(&app, Method::GET, &format!("{inbox}?after={end}"), &dept, None).await.body;
        assert_eq!((empty["items"].clone(), empty["next_cursor"].as_str()), (json!([]), Some(end)));

        // Acknowledged items leave the inbox: by id, then up to a cursor.
        let ack = format!("{inbox}/ack");
        let acked = as_user(&app, Method::POST, &ack, &dept, Some(json!({"ids": [first["id"]]}))).await;
        assert_eq!((acked.status, acked.body["acknowledged"].as_u64()), (StatusCode::OK, Some(1)));
        assert_eq!(as_user(&app, Method::POST, &ack, &dept, Some(json!({"ids": [first["id"]]}))).await.body["acknowledged"], 0);
        let left = as_user(&app, Method::GET, &inbox, &dept, None).await.body;
        assert_eq!(keys(&left["items"]), keys(&all.body["items"])[1..]);
        assert_eq!(as_user(&app, Method::POST, &ack, &dept, Some(json!({"up_to": cursor}))).await.body["acknowledged"], 3);
        assert_eq!(keys(&as_user(&app, Method::GET, &inbox, &dept, None).await.body["items"]), keys(&all.body["items"])[4..]);
        assert_eq!(as_user(&app, Method::POST, &ack, &supervisor, Some(json!({"up_to": end}))).await.body["acknowledged"], 2);
        assert_eq!(as_user(&app, Method::GET, &inbox, &dept, None).await.body["items"], json!([]));
        let history = as_user(&app, Method::GET, &format!("{inbox}?include_acknowledged=true"), &dept, None).await.body;
        assert_eq!(history["items"].as_array().unwrap().len(), 6);
        assert!(history["items"].as_array().unwrap().iter().all(|i| i["acknowledged_at"].is_string()));

        // Nobody outside the department learns it exists; admins and supervisors see it.
        for token in [&other, &agent] {
            assert_problem(&as_user(&app, Method::GET, &inbox, token, None).await, 404);
            assert_problem(&as_user(&app, Method::POST, &ack, token, Some(json!({"up_to": end}))).await, 404);
            assert_problem(&as_user(&app, Method::GET, &format!("/api/v1/departments/{compradores}/deliveries"), token, None).await, 404);
        }
        assert_eq!(as_user(&app, Method::GET, &inbox, &supervisor, None).await.status, StatusCode::OK);
        assert_problem(&app.get("/api/v1/departments/999999/inbox").await, 404);
        assert_eq!(as_user(&app, Method::GET, &format!("/api/v1/departments/{proveedores}/inbox"), &other, None).await.body["items"], json!([]));

        // Bad input names the field.
        assert_eq!(assert_problem(&as_user(&app, Method::POST, &ack, &dept, Some(json!({}))).await, 422), ["ids"]);
        assert_eq!(assert_problem(&as_user(&app, Method::POST, &ack, &dept, Some(json!({"ids": []}))).await, 422), ["ids"]);
        assert_eq!(assert_problem(&as_user(&app, Method::POST, &ack, &dept, Some(json!({"up_to": "x"}))).await, 422), ["up_to"]);
        assert_eq!(assert_problem(&as_user(&app, Method::GET, &format!("{inbox}?after=zzz"), &dept, None).await, 422), ["after"]);
        assert_eq!(assert_problem(&as_user(&app, Method::GET, &format!("{inbox}?limit=0"), &dept, None).await, 422), ["limit"]);

        // The log shows the same items; with the workers off and no webhook, nothing else happened.
        let logged = as_user(&app, Method::GET, &format!("/api/v1/departments/{compradores}/deliveries"), &dept, None).await.body;
        assert_eq!(keys(&logged["items"]), keys(&all.body["items"]));
        let first = &logged["items"][0];
        assert!(first["webhook_status"].is_null() && first["streamed_at"].is_null() && first["acknowledged_at"].is_string(), "{first}");
        assert_eq!(first["webhook_attempts"], json!([]));
    }
}

with_workers! {
    async fn the_stream_is_read_by_a_consumer_group_that_survives_a_crashed_consumer(app, settings, 3) {
        let compradores = department(&app, "compradores").await;
        let escalation = escalate(&app, "compradores", "Consulta por convenio marco").await;
        let key = format!("escalation:{}:created", escalation["id"]);
        let Some(url) = settings.redis_url().map(str::to_owned) else {
            // Without Redis (SQLite here) the stream is not used; the inbox is there all the same.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let logged = log(&app, compradores).await;
            assert_eq!(logged[0]["key"], key.as_str());
            assert!(logged[0]["streamed_at"].is_null() && logged[0]["stream_entry_id"].is_null(), "{}", logged[0]);
            return;
        };
        let stream = stream_key(&settings.redis.key_prefix, compradores);
        assert!(stream.contains(":{dept}:stream:"), "{stream}");
        let mut redis = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("XGROUP").arg("CREATE").arg(&stream).arg("sistema-compradores").arg("0").arg("MKSTREAM")
            .query_async(&mut redis).await.unwrap();
        let entry = eventually!("the entry on the stream", {
            let logged = log(&app, compradores).await;
            logged[0]["stream_entry_id"].as_str().map(str::to_owned)
        });

        // Consumer A reads the entry and crashes before XACK.
        let read = |consumer: &'static str| redis::cmd("XREADGROUP").arg("GROUP").arg("sistema-compradores").arg(consumer)
            .arg("COUNT").arg(10).arg("STREAMS").arg(&stream).arg(">").clone();
        let got: StreamReadReply = read("consumidor-a").query_async(&mut redis).await.unwrap();
        let entries = &got.keys[0].ids;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].id, entry);
        assert_eq!(entries[0].get::<String>("key").as_deref(), Some(key.as_str()));
        let payload: Value = serde_json::from_str(&entries[0].get::<String>("payload").unwrap()).unwrap();
        assert_eq!((payload["key"].as_str(), payload["escalation"]["id"].clone()), (Some(key.as_str()), escalation["id"].clone()));
        assert!(payload["escalation"]["requester"]["email"].is_null());
        // Consumer B gets nothing new: the entry is pending on A...
        let nothing: Option<StreamReadReply> = read("consumidor-b").query_async(&mut redis).await.unwrap();
        assert!(nothing.is_none_or(|r| r.keys.iter().all(|k| k.ids.is_empty())));
        // ...until it claims what A left pending, and gets the same key.
        let claimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM").arg(&stream).arg("sistema-compradores").arg("consumidor-b")
            .arg(0).arg("0-0").query_async(&mut redis).await.unwrap();
        assert_eq!(claimed.claimed.len(), 1);
        assert_eq!(claimed.claimed[0].id, entry);
        assert_eq!(claimed.claimed[0].get::<String>("key").as_deref(), Some(key.as_str()));
        let acked: i64 = redis::cmd("XACK").arg(&stream).arg("sistema-compradores").arg(&entry).query_async(&mut redis).await.unwrap();
        assert_eq!(acked, 1);
        let pending: (i64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING").arg(&stream).arg("sistema-compradores")
            .query_async(&mut redis).await.unwrap();
        assert_eq!(pending.0, 0);

        // A replica that crashed after XADD but before recording it publishes again: the same
        // entry is found, not a second one.
        let delivery = log(&app, compradores).await[0]["id"].as_i64().unwrap();
        app.db.write(move |c| {
            use atencion::db::schema::department_deliveries as dd;
            use diesel::prelude::*;
            diesel::update(dd::table.find(delivery))
                .set((dd::streamed_at.eq(None::<atencion::db::types::UtcTime>), dd::stream_entry_id.eq(None::<String>)))
                .execute(c)?;
            Ok(())
        }).await.unwrap();
        let again = eventually!("the entry recorded again", {
            let logged = log(&app, compradores).await;
            logged[0]["stream_entry_id"].as_str().map(str::to_owned)
        });
        assert_eq!(again, entry);
        let length: i64 = redis::cmd("XLEN").arg(&stream).query_async(&mut redis).await.unwrap();
        assert_eq!(length, 1);
    }
}

/// A department's system receiving webhooks: it checks every signature and answers with the
/// statuses queued in `answers`, then `then`.
#[derive(Default)]
struct Receiver {
    answers: Mutex<VecDeque<u16>>,
    then: Mutex<Option<u16>>,
    delay_ms: u64,
    got: Mutex<Vec<Got>>,
}

#[derive(Debug, Clone)]
struct Got {
    key: String,
    timestamp: String,
    signature: String,
    body: String,
    signature_valid: bool,
    status: u16,
}

/// Verifies `X-Atencion-Signature` as a department should: same timestamp as the header, within
/// five minutes, and the HMAC of "<t>.<body>".
fn verify(secret: &str, timestamp: &str, signature: &str, body: &str) -> bool {
    let parts: BTreeMap<&str, &str> = signature.split(',').filter_map(|p| p.split_once('=')).collect();
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else { return false };
    let Ok(at) = t.parse::<i64>() else { return false };
    let fresh = (chrono::Utc::now().timestamp() - at).abs() <= 300;
    let expected = hex::encode(hmac_sha256(secret.as_bytes(), format!("{t}.{body}").as_bytes()));
    *t == timestamp && fresh && expected == *v1
}

async fn receive(req: HttpRequest, body: web::Bytes, rx: web::Data<Receiver>) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let (timestamp, signature) = (header("x-atencion-timestamp"), header("x-atencion-signature"));
    let status = rx.answers.lock().unwrap().pop_front().unwrap_or_else(|| rx.then.lock().unwrap().unwrap_or(200));
    let got = Got {
        key: header("x-atencion-delivery"),
        signature_valid: verify(SECRET, &timestamp, &signature, &body) && header("content-type") == "application/json",
        timestamp,
        signature,
        body,
        status,
    };
    rx.got.lock().unwrap().push(got);
    tokio::time::sleep(Duration::from_millis(rx.delay_ms)).await;
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body("ok")
}

/// Serves `rx` on `listener`; returns the webhook URL.
fn serve(listener: std::net::TcpListener, rx: web::Data<Receiver>) -> String {
    let port = listener.local_addr().unwrap().port();
    let server =
        HttpServer::new(move || App::new().app_data(rx.clone()).route("/hooks/atencion", web::post().to(receive)))
            .listen(listener)
            .unwrap()
            .workers(2)
            .disable_signals()
            .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}/hooks/atencion")
}

/// A receiver answering `answers`, then `then`, served on a port of its own: its webhook URL.
pub(crate) fn webhook_receiver(answers: &[u16], then: u16) -> String {
    serve(local_listener(), receiver(answers, Some(then)))
}

fn receiver(answers: &[u16], then: Option<u16>) -> web::Data<Receiver> {
    web::Data::new(Receiver {
        answers: Mutex::new(answers.iter().copied().collect()),
        then: Mutex::new(then),
        ..Receiver::default()
    })
}

fn local_listener() -> std::net::TcpListener {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap()
}

/// `openssl dgst -hmac`: the signature as a department's shell script would compute it.
fn openssl_hmac(secret: &str, message: &str) -> Option<String> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(message.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    String::from_utf8(out.stdout).ok()?.split_whitespace().last().map(str::to_owned)
}

async fn set_webhook(app: &TestApp, department: i64, url: &str, secret: Option<&str>) -> Reply {
    let mut body = json!({"url": url});
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    app.call(Method::PUT, &format!("/api/v1/departments/{department}/webhook"), Some(&app.admin), Some(&body)).await
}

with_workers! {
    async fn webhooks_are_signed_and_verified_by_the_receiver(app, settings, 3) {
        let compradores = department(&app, "compradores").await;
        let proveedores = department(&app, "proveedores").await;
        let (_, dept) = member(&app, compradores, "Ana de Compradores").await;
        let (_, other) = member(&app, proveedores, "Pedro de Proveedores").await;
        let supervisor = app.token(Role::Supervisor).await;
        let rx = receiver(&[], None);
        let url = serve(local_listener(), rx.clone());
        let path = format!("/api/v1/departments/{compradores}/webhook");

        // Only admins set it; the department and supervisors read it, without the secret.
        assert_problem(&app.get(&path).await, 404);
        let body = json!({"url": url, "secret": SECRET});
        assert_problem(&as_user(&app, Method::PUT, &path, &supervisor, Some(body.clone())).await, 403);
        assert_problem(&as_user(&app, Method::PUT, &path, &dept, Some(body.clone())).await, 403);
        assert_problem(&as_user(&app, Method::PUT, &path, &other, Some(body.clone())).await, 404);
        assert_eq!(assert_problem(&set_webhook(&app, compradores, "ftp://x.cl/", Some(SECRET)).await, 422), ["url"]);
        assert_eq!(assert_problem(&set_webhook(&app, compradores, &url, Some("corto")).await, 422), ["secret"]);
        assert_eq!(assert_problem(&set_webhook(&app, compradores, &url, None).await, 422), ["secret"]);
        let set = set_webhook(&app, compradores, &url, Some(SECRET)).await;
        assert_eq!(set.status, StatusCode::CREATED, "{}", set.body);
        assert_eq!((set.body["url"].as_str(), set.body["enabled"].as_bool()), (Some(url.as_str()), Some(true)));
        let shown = as_user(&app, Method::GET, &path, &dept, None).await;
        assert_eq!(shown.status, StatusCode::OK);
        assert!(shown.body.get("secret").is_none() && !shown.body.to_string().contains(SECRET), "{}", shown.body);
        assert_eq!(as_user(&app, Method::GET, &path, &supervisor, None).await.status, StatusCode::OK);
        assert_problem(&as_user(&app, Method::GET, &path, &other, None).await, 404);

        let escalation = escalate(&app, "compradores", "Consulta sobre trato directo").await;
        let key = format!("escalation:{}:created", escalation["id"]);
        let delivered = eventually!("the webhook delivered", {
            let logged = log(&app, compradores).await;
            (logged[0]["webhook_status"] == "delivered").then(|| logged[0].clone())
        });
        let got = rx.got.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].key, key);
        assert!(got[0].signature_valid, "{got:?}");
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!((body["key"].as_str(), body["escalation"]["subject"].as_str()), (Some(key.as_str()), Some("Consulta sobre trato directo")));
        assert!(body["escalation"]["requester"]["email"].is_null());
        // The same body as the inbox's payload.
        let inbox = as_user(&app, Method::GET, &format!("/api/v1/departments/{compradores}/inbox"), &dept, None).await.body;
        assert_eq!(inbox["items"][0]["payload"], body);
        // An independent HMAC (openssl) agrees.
        match openssl_hmac(SECRET, &format!("{}.{}", got[0].timestamp, got[0].body)) {
            Some(mac) => assert_eq!(got[0].signature, format!("t={},v1={mac}", got[0].timestamp)),
            None => assert!(std::env::var("CI").is_err(), "openssl is needed in CI"),
        }
        // A tampered body or another secret does not verify.
        assert!(!verify(SECRET, &got[0].timestamp, &format!("t={},v1=00", got[0].timestamp), &got[0].body));
        assert!(!verify("otro-secreto-cualquiera", &got[0].timestamp,
            &atencion::departments::webhooks::signature(SECRET, got[0].timestamp.parse().unwrap(), &got[0].body), &got[0].body));
        let attempts = delivered["webhook_attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!((attempts[0]["status_code"].as_i64(), attempts[0]["error"].clone()), (Some(200), Value::Null));
        assert!(delivered["webhook_delivered_at"].is_string());

        // Removing it cancels what was waiting; the inbox keeps everything.
        assert_problem(&as_user(&app, Method::DELETE, &path, &dept, None).await, 403);
        *rx.then.lock().unwrap() = Some(503);
        let escalation2 = escalate(&app, "compradores", "Otra consulta").await;
        let deleted = app.delete(&path).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_problem(&app.delete(&path).await, 404);
        let logged = log(&app, compradores).await;
        let second = logged.iter().find(|d| d["item_id"] == escalation2["id"]).unwrap();
        assert_eq!(second["webhook_status"], "cancelled");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(rx.got.lock().unwrap().len() <= 2);
        assert_eq!(log(&app, compradores).await.iter().find(|d| d["item_id"] == escalation2["id"]).unwrap()["webhook_status"], "cancelled");
    }

    async fn a_webhook_is_retried_until_the_receiver_answers(app, settings, 10) {
        let compradores = department(&app, "compradores").await;
        // The receiver's port is known, but nothing listens yet.
        let port = local_listener().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/hooks/atencion");
        assert_eq!(set_webhook(&app, compradores, &url, Some(SECRET)).await.status, StatusCode::CREATED);
        let escalation = escalate(&app, "compradores", "Consulta con el receptor caído").await;
        eventually!("a failed attempt", {
            let logged = log(&app, compradores).await;
            (!logged[0]["webhook_attempts"].as_array().unwrap().is_empty()).then_some(())
        });
        // It comes up, failing once more before it works.
        let rx = receiver(&[500], Some(200));
        serve(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(), rx.clone());
        let delivered = eventually!("the webhook delivered", {
            let logged = log(&app, compradores).await;
            (logged[0]["webhook_status"] == "delivered").then(|| logged[0].clone())
        });
        let attempts = delivered["webhook_attempts"].as_array().unwrap();
        let outcomes: Vec<(Option<i64>, Option<&str>)> = attempts.iter().map(|a| (a["status_code"].as_i64(), a["error"].as_str())).collect();
        let down = outcomes.len() - 2;
        assert!(down >= 1, "{outcomes:?}");
        assert!(outcomes[..down].iter().all(|o| *o == (None, Some("connection"))), "{outcomes:?}");
        assert_eq!(outcomes[down..], [(Some(500), Some("http_status")), (Some(200), None)]);
        // Each retry waited longer than the one before.
        let times: Vec<chrono::DateTime<chrono::Utc>> = attempts.iter().map(|a| a["at"].as_str().unwrap().parse().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[1] - w[0] >= chrono::Duration::milliseconds(50)), "{times:?}");
        let got = rx.got.lock().unwrap().clone();
        assert_eq!(got.iter().map(|g| (g.key.as_str(), g.status)).collect::<Vec<_>>(),
            [(format!("escalation:{}:created", escalation["id"]).as_str(), 500), (format!("escalation:{}:created", escalation["id"]).as_str(), 200)]);
        // Every retry is signed afresh.
        assert!(got.iter().all(|g| g.signature_valid), "{got:?}");
        let hook = app.get(&format!("/api/v1/departments/{compradores}/webhook")).await.body;
        assert_eq!((hook["enabled"].as_bool(), hook["consecutive_failures"].as_i64()), (Some(true), Some(0)));
    }

    async fn a_webhook_that_keeps_failing_is_disabled_until_set_again(app, settings, 3) {
        let compradores = department(&app, "compradores").await;
        let rx = receiver(&[], Some(500));
        let url = serve(local_listener(), rx.clone());
        assert_eq!(set_webhook(&app, compradores, &url, Some(SECRET)).await.status, StatusCode::CREATED);
        escalate(&app, "compradores", "Primera consulta").await;
        let path = format!("/api/v1/departments/{compradores}/webhook");
        let hook = eventually!("the webhook disabled", {
            let hook = app.get(&path).await.body;
            (hook["enabled"] == false).then_some(hook)
        });
        assert_eq!(hook["consecutive_failures"], 3);
        let reason = hook["disabled_reason"].as_str().unwrap();
        assert!(reason.contains("3 fallos") && reason.contains("HTTP 500"), "{reason}");
        // Disabled: nothing more is posted, and new items wait.
        escalate(&app, "compradores", "Segunda consulta").await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(rx.got.lock().unwrap().len(), 3);
        let logged = log(&app, compradores).await;
        assert_eq!(logged[0]["webhook_attempts"].as_array().unwrap().len(), 3);
        assert!(logged[0]["webhook_attempts"].as_array().unwrap().iter().all(|a| a["status_code"] == 500 && a["error"] == "http_status"));
        assert_eq!((logged[1]["webhook_status"].as_str(), logged[1]["webhook_attempts"].clone()), (Some("pending"), json!([])));

        // Set again (the secret kept), it delivers both.
        *rx.then.lock().unwrap() = Some(204);
        let set = set_webhook(&app, compradores, &url, None).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        assert_eq!((set.body["enabled"].as_bool(), set.body["disabled_reason"].clone()), (Some(true), Value::Null));
        let logged = eventually!("both delivered", {
            let logged = log(&app, compradores).await;
            logged.iter().all(|d| d["webhook_status"] == "delivered").then_some(logged)
        });
        assert_eq!(logged[0]["webhook_attempts"].as_array().unwrap().last().unwrap()["status_code"], 204);
        let got = rx.got.lock().unwrap().clone();
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|g| g.signature_valid));
    }
}

/// Two replicas on one Postgres schema, both publishing: each item reaches the webhook and the
/// stream exactly once.
#[tokio::test]
async fn two_replicas_never_deliver_one_item_twice() {
    if postgres_url().is_none() {
        return;
    }
    let (app, settings) = start(Backend::Postgres, 3).await;
    let second = Application::build(settings.clone()).await.expect("second replica");
    tokio::spawn(second.run_until_stopped());
    let compradores = department(&app, "compradores").await;
    let rx = web::Data::new(Receiver { delay_ms: 20, ..Receiver::default() });
    let url = serve(local_listener(), rx.clone());
    assert_eq!(set_webhook(&app, compradores, &url, Some(SECRET)).await.status, StatusCode::CREATED);
    let mut expected = Vec::new();
    for n in 0..24 {
        let escalation = escalate(&app, "compradores", &format!("Consulta {n}")).await;
        expected.push(format!("escalation:{}:created", escalation["id"]));
    }
    let logged = eventually!("every item delivered", {
        let logged = log(&app, compradores).await;
        let streamed = settings.redis_url().is_none() || logged.iter().all(|d| d["streamed_at"].is_string());
        (streamed && logged.iter().all(|d| d["webhook_status"] == "delivered")).then_some(logged)
    });
    let mut got: Vec<String> = rx.got.lock().unwrap().iter().map(|g| g.key.clone()).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    assert!(logged.iter().all(|d| d["webhook_attempts"].as_array().unwrap().len() == 1));
    if let Some(url) = settings.redis_url() {
        let mut redis = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
        let stream = stream_key(&settings.redis.key_prefix, compradores);
        let entries: redis::streams::StreamRangeReply =
            redis::cmd("XRANGE").arg(&stream).arg("-").arg("+").query_async(&mut redis).await.unwrap();
        let mut keys: Vec<String> = entries.ids.iter().map(|e| e.get::<String>("key").unwrap()).collect();
        keys.sort();
        assert_eq!(keys, expected);
    }
}

/// A throwaway CA and a certificate for 127.0.0.1 signed by it (as the IMAP tests make them).
fn test_certificates(dir: &std::path::Path) -> bool {
    let run =
        |args: &[&str]| Command::new("openssl").args(args).current_dir(dir).output().is_ok_and(|o| o.status.success());
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=atencion test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]) && run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ])
}

/// An HTTPS receiver (rustls): reads one request per connection, records whether its signature
/// verifies, answers 200. Returns its port.
async fn serve_tls(dir: &std::path::Path, got: Arc<Mutex<Vec<(String, bool)>>>) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pem = std::fs::read(dir.join("server.pem")).unwrap();
    let certs: Vec<CertificateDer> = CertificateDer::pem_slice_iter(&pem).collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(&std::fs::read(dir.join("server.key")).unwrap()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, got) = (acceptor.clone(), got.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut raw = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = tls.read(&mut chunk).await.unwrap();
                    raw.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&raw).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head.lines().find_map(|l| {
                            l.to_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap())
                        });
                        if n == 0 || body.len() >= length.unwrap_or(0) {
                            break (head.to_lowercase(), body.to_owned());
                        }
                    }
                };
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
                        .unwrap_or_default()
                };
                let valid = verify(SECRET, &header("x-atencion-timestamp"), &header("x-atencion-signature"), &body);
                got.lock().unwrap().push((header("x-atencion-delivery"), valid));
                tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await.unwrap();
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// HTTPS receivers are verified: one whose certificate comes from an in-house CA is trusted only
/// with `webhook_ca_file`.
#[tokio::test]
async fn https_webhooks_verify_the_receiver_certificate() {
    let dir = tempfile::tempdir().unwrap();
    if !test_certificates(dir.path()) {
        assert!(std::env::var("CI").is_err(), "openssl is needed in CI");
        eprintln!("openssl missing: HTTPS webhook test skipped locally");
        return;
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let url = format!("https://127.0.0.1:{}/hooks/atencion", serve_tls(dir.path(), got.clone()).await);
    let ca = dir.path().join("ca.pem").display().to_string();
    for trusted in [false, true] {
        let ca = ca.clone();
        let app = spawn(Backend::Sqlite, move |s| {
            s.departments.poll_interval_ms = 25;
            s.departments.retry_base_ms = 60_000;
            s.departments.webhook_ca_file = if trusted { ca } else { String::new() };
        })
        .await;
        let compradores = department(&app, "compradores").await;
        assert_eq!(set_webhook(&app, compradores, &url, Some(SECRET)).await.status, StatusCode::CREATED);
        let escalation = escalate(&app, "compradores", "Consulta por HTTPS").await;
        let attempt = eventually!("an attempt", {
            let logged = log(&app, compradores).await;
            logged[0]["webhook_attempts"].as_array().unwrap().first().cloned()
        });
        let key = format!("escalation:{}:created", escalation["id"]);
        if trusted {
            assert_eq!((attempt["status_code"].as_i64(), attempt["error"].clone()), (Some(200), Value::Null));
            assert!(got.lock().unwrap().contains(&(key, true)), "{:?}", got.lock().unwrap());
        } else {
            assert_eq!((attempt["status_code"].clone(), attempt["error"].as_str()), (Value::Null, Some("tls")));
            assert!(got.lock().unwrap().is_empty());
        }
    }
}

/// Redis frozen while items are escalated: the inbox has them at once, and when Redis answers
/// again the stream gets each exactly once with its key (a publication that timed out but was
/// executed later is not added twice).
async fn the_stream_catches_up_after_a_redis_outage(backend: Backend) {
    if !std::path::Path::new("/usr/bin/redis-server").exists() {
        assert!(std::env::var("CI").is_err(), "CI must install redis-server");
        return;
    }
    let port = local_listener().local_addr().unwrap().port();
    let redis = crate::kpis::PrivateRedis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");
    let seen = Arc::new(Mutex::new(None));
    let keep = seen.clone();
    let app = spawn(backend, move |s| {
        s.departments.poll_interval_ms = 25;
        s.departments.retry_base_ms = 50;
        s.redis.url = url;
        *keep.lock().unwrap() = Some(s.clone());
    })
    .await;
    let settings = seen.lock().unwrap().take().unwrap();
    let compradores = department(&app, "compradores").await;
    let key = |e: &Value| format!("escalation:{}:created", e["id"]);
    let mut expected = vec![key(&escalate(&app, "compradores", "Antes del corte").await)];
    eventually!("the first item streamed", {
        log(&app, compradores).await.iter().all(|d| d["streamed_at"].is_string()).then_some(())
    });

    redis.signal("-STOP");
    for n in 0..3 {
        expected.push(key(&escalate(&app, "compradores", &format!("Durante el corte {n}")).await));
    }
    let inbox = app.get(&format!("/api/v1/departments/{compradores}/inbox?limit=10")).await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
    assert_eq!(inbox.body["items"].as_array().unwrap().len(), 4, "{}", inbox.body);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting = log(&app, compradores).await.iter().filter(|d| d["streamed_at"].is_null()).count();
    assert_eq!(waiting, 3, "the frozen Redis took nothing");

    redis.signal("-CONT");
    eventually!("every item streamed", {
        log(&app, compradores).await.iter().all(|d| d["streamed_at"].is_string()).then_some(())
    });
    let mut conn =
        redis::Client::open(settings.redis_url().unwrap()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let stream = stream_key(&settings.redis.key_prefix, compradores);
    let entries: redis::streams::StreamRangeReply =
        redis::cmd("XRANGE").arg(&stream).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    let mut keys: Vec<String> = entries.ids.iter().map(|e| e.get::<String>("key").unwrap()).collect();
    keys.sort();
    expected.sort();
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn the_stream_catches_up_after_a_redis_outage_sqlite() {
    the_stream_catches_up_after_a_redis_outage(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_stream_catches_up_after_a_redis_outage_postgres() {
    if postgres_url().is_some() {
        the_stream_catches_up_after_a_redis_outage(Backend::Postgres).await;
    }
}
