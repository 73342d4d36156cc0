//! What follows the committed ticket event log once: the acknowledgement mail and the
//! satisfaction survey (and the notifications, see `notifications.rs`) are written after the
//! change commits, by one reader of the log that they share, and once however often the log is
//! read.

use atencion::db::schema::outbox;
use atencion::sla::scanner;
use atencion::tickets::followers;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::canned::person;
use crate::helpers::*;

/// The SLA notices queued for `ticket`: (recipient, kind of deadline, metric), sorted.
async fn notices(app: &TestApp, ticket: i64) -> Vec<(String, String, String)> {
    let rows: Vec<(String, Option<String>)> = app
        .db
        .read(move |c| {
            Ok(outbox::table
                .filter(outbox::ticket_id.eq(ticket))
                .filter(outbox::kind.eq("sla_notice"))
                .select((outbox::recipient, outbox::detail))
                .load(c)?)
        })
        .await
        .unwrap();
    let mut notices: Vec<(String, String, String)> = rows
        .into_iter()
        .map(|(to, detail)| {
            let detail: Value = serde_json::from_str(&detail.unwrap()).unwrap();
            (to, detail["kind"].as_str().unwrap().to_owned(), detail["metric"].as_str().unwrap().to_owned())
        })
        .collect();
    notices.sort();
    notices
}

/// The kinds of the mails queued for `ticket`, in order.
async fn mails(app: &TestApp, ticket: i64) -> Vec<String> {
    app.db
        .read(move |c| {
            Ok(outbox::table.filter(outbox::ticket_id.eq(ticket)).order(outbox::id).select(outbox::kind).load(c)?)
        })
        .await
        .unwrap()
}

on_both! {
    async fn the_acknowledgement_and_the_survey_follow_the_commit_once(backend) {
        // No background jobs: only this test follows the log.
        let app = spawn(backend, |s| s.server.background = false).await;
        let id = app.ticket("Clave bloqueada", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        assert_eq!(mails(&app, id).await, Vec::<String>::new(), "the creation itself queues no mail");
        app.followed().await;
        assert_eq!(mails(&app, id).await, ["ack"]);

        let solved = app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "solved"})).await;
        assert_eq!(solved.status, reqwest::StatusCode::OK, "{}", solved.body);
        assert_eq!(mails(&app, id).await, ["ack"], "solving itself queues no survey");
        app.followed().await;
        assert_eq!(mails(&app, id).await, ["ack", "survey"]);

        // The position is kept: a step after the last one reads nothing.
        let list = app.followers.clone();
        let step = app.db.write(move |c| followers::step(c, &list)).await.unwrap();
        assert_eq!(step.events, 0, "{step:?}");

        // Reading the whole log again, by several readers at once, sends nothing twice.
        app.follow_again().await;
        assert_eq!(mails(&app, id).await, ["ack", "survey"]);
    }

    async fn a_fired_deadline_mails_the_assignee_and_the_supervisors_once(backend) {
        let app = spawn(backend, |s| s.server.background = false).await;
        let (javier, _) = person(&app, "Javier Rojas", "javier.rojas@chilecompra.cl", "agent").await;
        person(&app, "Carla Muñoz", "carla.munoz@chilecompra.cl", "supervisor").await;
        let mut body = ticket_body("Consulta", "a@b.cl");
        body["assignee_id"] = json!(javier);
        let created = app.post("/api/v1/tickets", body).await;
        let id = created.body["id"].as_i64().unwrap();
        let sla = app.get(&format!("/api/v1/tickets/{id}/sla")).await.body;
        let due = sla["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == "first_reply").unwrap()["due_at"].clone();
        let later = due.as_str().unwrap().parse::<DateTime<Utc>>().unwrap() + Duration::minutes(1);
        let fired = app.db.write(move |c| scanner::tick(c, later, 100)).await.unwrap();
        assert!(fired >= 2, "{fired}");
        assert_eq!(notices(&app, id).await, [], "the scan itself mails nobody");

        app.followed().await;
        let sent = notices(&app, id).await;
        for to in ["carla.munoz@chilecompra.cl", "javier.rojas@chilecompra.cl"] {
            for kind in ["breach", "warning"] {
                assert!(sent.contains(&(to.into(), kind.into(), "first_reply".into())), "{to} {kind}: {sent:?}");
            }
        }
        app.follow_again().await;
        assert_eq!(notices(&app, id).await, sent);
    }
}
