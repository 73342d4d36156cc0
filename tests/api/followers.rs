//! What follows the committed ticket event log once: the acknowledgement mail and the
//! satisfaction survey (and the notifications, see `notifications.rs`) are written after the
//! change commits, by one reader of the log that they share, and once however often the log is
//! read.

use atencion::db::schema::{log_follower, outbox};
use atencion::tickets::followers;
use diesel::prelude::*;
use serde_json::json;

use crate::helpers::*;

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
        app.db.write(|c| Ok(diesel::update(log_follower::table).set(log_follower::last_event_id.eq(0)).execute(c)?)).await.unwrap();
        let runs = (0..3).map(|_| {
            let list = app.followers.clone();
            app.db.write(move |c| followers::step(c, &list))
        });
        for step in futures_util::future::join_all(runs).await {
            step.unwrap();
        }
        app.followed().await;
        assert_eq!(mails(&app, id).await, ["ack", "survey"]);
    }
}
