//! Notifications, made by the follower of the ticket event log: each kind once per event (also
//! when the log is read again, or by several followers at once), only for their agent, marked
//! read one by one or all together.

use atencion::db::schema::{notifications, ticket_events};
use atencion::sla::scanner;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::canned::person;
use crate::departments::{department, member};
use crate::helpers::*;

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    app.call(method, path, Some(token), body.as_ref()).await
}

async fn mine(app: &TestApp, token: &str) -> Value {
    let reply = call(app, Method::GET, "/api/v1/notifications?limit=100", token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn kinds_of(page: &Value, ticket: i64) -> Vec<String> {
    let mut kinds: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["ticket_id"] == ticket)
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

on_all_backends! {
    async fn each_kind_reaches_its_agent_once(app) {
        let (javier, javier_token) = person(&app, "Javier Rojas", "Javier.Rojas@chilecompra.cl", "agent").await;
        let (_, pedro_token) = person(&app, "Pedro Díaz", "pedro.diaz@chilecompra.cl", "agent").await;
        let (_, carla_token) = person(&app, "Carla Muñoz", "carla.munoz@chilecompra.cl", "supervisor").await;

        // Assigned by someone else: at creation and by a change; taking it yourself is no news.
        let created = app.post("/api/v1/tickets", json!({"subject": "Orden de compra", "body": "No veo la OC.",
            "requester": {"name": "Luis Vera", "email": "luis@proveedor.cl"}, "assignee_id": javier})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let first = created.body["id"].as_i64().unwrap();
        let ticket = app.ticket("No puedo ingresar", "ana.perez@municipalidad.cl").await;
        let (id, number) = (ticket["id"].as_i64().unwrap(), ticket["number"].as_str().unwrap().to_owned());
        let assigned = call(&app, Method::PATCH, &format!("/api/v1/tickets/{id}"), &carla_token, Some(json!({"assignee_id": javier}))).await;
        assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
        let own = app.ticket("Otro", "otro@example.cl").await["id"].as_i64().unwrap();
        call(&app, Method::PATCH, &format!("/api/v1/tickets/{own}"), &javier_token, Some(json!({"assignee_id": javier}))).await;

        // An SLA warning on my ticket (before anyone replies, which would stop the clock).
        let sla = app.get(&format!("/api/v1/tickets/{id}/sla")).await.body;
        let due = sla["metrics"].as_array().unwrap().iter().filter(|m| m["metric"] == "first_reply")
            .map(|m| time(&m["due_at"])).next().expect("a first-reply clock");
        let fired = app.db.write(move |c| scanner::tick(c, due + Duration::minutes(1), 100)).await.unwrap();
        assert!(fired >= 1);

        // The requester answered my ticket (the message that opened it is not an answer).
        let reply = call(&app, Method::POST, &format!("/api/v1/tickets/{id}/messages"), &carla_token,
            Some(json!({"body": "Sigo sin poder ingresar.", "from_requester": true}))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);

        // A mention in an internal note (`@` + the local part of the email, any case); an address
        // in the text or a public reply mentions nobody, and nobody is told about their own note.
        let note = call(&app, Method::POST, &format!("/api/v1/tickets/{id}/messages"), &carla_token,
            Some(json!({"body": "@javier.rojas ¿puedes revisar? Escribió a javier.rojas@chilecompra.cl", "visibility": "internal"}))).await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
        call(&app, Method::POST, &format!("/api/v1/tickets/{id}/messages"), &carla_token,
            Some(json!({"body": "@pedro.diaz respuesta pública", "visibility": "public"}))).await;
        call(&app, Method::POST, &format!("/api/v1/tickets/{id}/messages"), &javier_token,
            Some(json!({"body": "Me anoto, @Javier.Rojas", "visibility": "internal"}))).await;

        // A department answered my escalation.
        let compradores = department(&app, "compradores").await;
        let (_, ana_token) = member(&app, compradores, "Ana de Compradores").await;
        let asked = call(&app, Method::POST, &format!("/api/v1/tickets/{id}/escalations"), &javier_token,
            Some(json!({"department": "compradores", "mode": "consult", "reason": "¿Corresponde?"}))).await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
        let answered = call(&app, Method::POST, &format!("/api/v1/escalations/{}/answer", asked.body["id"]), &ana_token,
            Some(json!({"body": "Sí corresponde."}))).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);

        app.followed().await;
        let page = mine(&app, &javier_token).await;
        // (The scan fired the other tickets' clocks too.)
        assert_eq!(kinds_of(&page, first).iter().filter(|k| *k == "assigned").count(), 1, "{page}");
        assert!(!kinds_of(&page, own).contains(&"assigned".to_owned()), "{page}");
        let kinds = kinds_of(&page, id);
        for kind in ["assigned", "requester_replied", "mention", "escalation_answered"] {
            assert_eq!(kinds.iter().filter(|k| *k == kind).count(), 1, "{kind}: {kinds:?}");
        }
        // One notification per warning event, never two for one event.
        let warnings: i64 = app.db.read(move |c| Ok(ticket_events::table.filter(ticket_events::ticket_id.eq(id))
            .filter(ticket_events::kind.eq("sla_warning")).count().get_result(c)?)).await.unwrap();
        assert!(warnings >= 1);
        assert_eq!(kinds.iter().filter(|k| *k == "sla_warning").count() as i64, warnings);
        let title = |kind: &str| page["items"].as_array().unwrap().iter()
            .find(|n| n["ticket_id"] == id && n["kind"] == kind).unwrap()["title"].as_str().unwrap().to_owned();
        assert_eq!(title("assigned"), format!("Se le asignó el caso {number}"));
        assert_eq!(title("requester_replied"), format!("El requirente respondió en el caso {number}"));
        assert_eq!(title("mention"), format!("Carla Muñoz lo mencionó en una nota interna del caso {number}"));
        assert_eq!(
            title("escalation_answered"),
            format!("Respuesta de Departamento de Gestión y Asesoría de Compradores a la derivación del caso {number}")
        );
        assert!(title("sla_warning").contains(&number) && title("sla_warning").contains("por vencer"));
        assert!(page["items"].as_array().unwrap().iter().all(|n| n["ticket_number"].is_string() && n["read_at"].is_null()));
        assert_eq!(page["unread"], page["items"].as_array().unwrap().len());

        // Nobody else got any of them, and the author of a public reply mentions nobody.
        let pedro = mine(&app, &pedro_token).await;
        assert_eq!(pedro["items"].as_array().unwrap().len(), 0, "{pedro}");
        assert_eq!(pedro["unread"], 0);
        assert_eq!(mine(&app, &carla_token).await["items"].as_array().unwrap().len(), 0);

        // A follower of the table (the live stream) reads them all in order, each with its agent.
        let followed = app.db.read(|c| atencion::notifications::since(c, 0, 1000)).await.unwrap();
        let ids: Vec<i64> = followed.iter().map(|(_, n)| n.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]) && ids.len() == page["items"].as_array().unwrap().len());
        assert!(followed.iter().all(|(agent, _)| *agent == javier));
        let third = ids[2];
        let later = app.db.read(move |c| atencion::notifications::since(c, third, 1000)).await.unwrap();
        assert_eq!(later.len(), ids.len() - 3);

        // Reading the whole log again, and several followers at once, add nothing.
        let before: i64 = app.db.read(|c| Ok(notifications::table.count().get_result(c)?)).await.unwrap();
        app.follow_again().await;
        let after: i64 = app.db.read(|c| Ok(notifications::table.count().get_result(c)?)).await.unwrap();
        assert_eq!(after, before);
    }

    async fn agents_mark_their_own_read_and_page_through_them(app) {
        let (javier, javier_token) = person(&app, "Javier Rojas", "javier.rojas@chilecompra.cl", "agent").await;
        let (_, pedro_token) = person(&app, "Pedro Díaz", "pedro.diaz@chilecompra.cl", "agent").await;
        for i in 0..5 {
            let t = app.ticket(&format!("Consulta {i}"), &format!("r{i}@example.cl")).await;
            app.patch(&format!("/api/v1/tickets/{}", t["id"]), json!({"assignee_id": javier})).await;
        }
        // The app's own follower makes them, without anyone calling it.
        let started = std::time::Instant::now();
        while mine(&app, &javier_token).await["unread"] != 5 {
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "the background follower made nothing");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Pages, newest first.
        let first = call(&app, Method::GET, "/api/v1/notifications?limit=2", &javier_token, None).await.body;
        let ids: Vec<i64> = first["items"].as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
        assert!(ids.len() == 2 && ids[0] > ids[1], "{first}");
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = call(&app, Method::GET, &format!("/api/v1/notifications?limit=2&cursor={cursor}"), &javier_token, None).await.body;
        assert!(second["items"][0]["id"].as_i64().unwrap() < ids[1]);

        // Another agent can neither see nor mark them.
        let theirs = call(&app, Method::POST, "/api/v1/notifications/read", &pedro_token, Some(json!({"ids": ids}))).await;
        assert_eq!((theirs.status, theirs.body["unread"].as_i64()), (StatusCode::OK, Some(0)));
        assert_eq!(mine(&app, &javier_token).await["unread"], 5);
        assert_eq!(mine(&app, &pedro_token).await["items"].as_array().unwrap().len(), 0);

        let read = call(&app, Method::POST, "/api/v1/notifications/read", &javier_token, Some(json!({"ids": [ids[0]]}))).await;
        assert_eq!(read.body["unread"], 4);
        let unread = call(&app, Method::GET, "/api/v1/notifications?unread=true", &javier_token, None).await.body;
        assert_eq!(unread["items"].as_array().unwrap().len(), 4);
        assert!(unread["items"].as_array().unwrap().iter().all(|n| n["id"] != ids[0]));
        let all = mine(&app, &javier_token).await;
        let marked = all["items"].as_array().unwrap().iter().find(|n| n["id"] == ids[0]).unwrap();
        assert!(marked["read_at"].is_string());
        assert_eq!(call(&app, Method::POST, "/api/v1/notifications/read", &javier_token, Some(json!({"all": true}))).await.body["unread"], 0);
        assert_eq!(mine(&app, &javier_token).await["unread"], 0);

        let empty = call(&app, Method::POST, "/api/v1/notifications/read", &javier_token, Some(json!({}))).await;
        assert_eq!(assert_problem(&empty, 422), ["ids"]);
        // Ids are positive, as the schema says (schemathesis: a 0 was accepted).
        let zero = call(&app, Method::POST, "/api/v1/notifications/read", &javier_token, Some(json!({"ids": [0]}))).await;
        assert_eq!(assert_problem(&zero, 422), ["ids"]);
        let bad_limit = call(&app, Method::GET, "/api/v1/notifications?limit=0", &javier_token, None).await;
        assert_eq!(assert_problem(&bad_limit, 422), ["limit"]);
    }
}

/// A mail to the ticket's reply address, as the MTA posts it.
async fn mail_in(app: &TestApp, from: &str, to: &str, extra: &str, body: &str) -> Reply {
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: Pago atrasado\r\nMessage-ID: <{}@correo.cl>\r\n{extra}\r\n{body}\r\n",
        rand::random::<u64>()
    );
    let request = app
        .client
        .post(format!("{}/api/v1/channels/email/inbound", app.address))
        .bearer_auth(&app.admin)
        .header("content-type", "message/rfc822")
        .body(raw);
    into_reply(request.send().await.unwrap()).await
}

/// A CC of the ticket answering by mail counts as the requester's side; a stranger does not.
async fn a_cc_answering_by_mail_notifies_the_assignee(backend: Backend) {
    let app = spawn(backend, |s| s.email.address = "soporte@mesa.chilecompra.cl".into()).await;
    let (javier, javier_token) = person(&app, "Javier Rojas", "javier.rojas@chilecompra.cl", "agent").await;
    let first = mail_in(
        &app,
        "Ana Pérez <ana@municipalidad.cl>",
        "soporte@mesa.chilecompra.cl",
        "Cc: jefa@municipalidad.cl\r\n",
        "Factura 123",
    )
    .await;
    assert!(first.status.is_success(), "{}", first.body);
    let id = first.body["ticket_id"].as_i64().unwrap();
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"assignee_id": javier})).await;
    let to = format!("soporte+{}@mesa.chilecompra.cl", app.signer.reply_token(id));
    let stranger = mail_in(&app, "Mallory <mallory@otro.cl>", &to, "", "Soy otra persona").await;
    assert_eq!(stranger.body["outcome"], "appended", "{}", stranger.body);
    let cc = mail_in(&app, "Jefa <jefa@municipalidad.cl>", &to, "", "Adjunto la factura").await;
    assert_eq!(cc.body["outcome"], "appended", "{}", cc.body);
    app.followed().await;
    let page = mine(&app, &javier_token).await;
    assert_eq!(kinds_of(&page, id), ["assigned", "requester_replied"], "{page}");
}

#[tokio::test]
async fn a_cc_answering_by_mail_notifies_the_assignee_sqlite() {
    a_cc_answering_by_mail_notifies_the_assignee(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_cc_answering_by_mail_notifies_the_assignee_postgres() {
    if postgres_url().is_some() {
        a_cc_answering_by_mail_notifies_the_assignee(Backend::Postgres).await;
    }
}
