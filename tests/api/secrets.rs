//! The signing secret of case links, survey links and reply addresses: generated per
//! installation and kept in its database, refused when known or short, rotated without breaking
//! the links already mailed.

use atencion::secrets::{Signer, PLACEHOLDER};
use atencion::startup::Application;
use chrono::{TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn case_page(app: &TestApp, token: &str) -> StatusCode {
    app.client.get(format!("{}/casos/{token}", app.address)).send().await.unwrap().status()
}

async fn answer_survey(app: &TestApp, token: &str) -> Reply {
    app.call(Method::POST, &format!("/api/v1/public/surveys/{token}"), None, Some(&json!({"score": 6}))).await
}

/// Delivers a mail from another address to `soporte+{token}@atencion.localhost` (the default
/// helpdesk address): the ticket it lands on.
async fn mail_to_reply_token(app: &TestApp, token: &str) -> i64 {
    let raw = format!(
        "From: otra.persona@empresa.cl\r\nTo: soporte+{token}@atencion.localhost\r\nSubject: respuesta\r\n\
         Message-ID: <{}@empresa.cl>\r\n\r\nMás antecedentes\r\n",
        rand::random::<u64>()
    );
    let request = app
        .client
        .post(format!("{}/api/v1/channels/email/inbound", app.address))
        .bearer_auth(&app.admin)
        .header("content-type", "message/rfc822")
        .body(raw);
    let reply = into_reply(request.send().await.unwrap()).await;
    assert!(reply.status.is_success(), "{}", reply.body);
    reply.body["ticket_id"].as_i64().unwrap()
}

fn expires() -> chrono::DateTime<Utc> {
    Utc::now() + TimeDelta::days(7)
}

on_all_backends! {
    // The secret every installation shipped with signs nothing any more: case page, survey and
    // reply address forged with it are refused, while the installation's own tokens work.
    async fn links_forged_with_the_old_default_secret_are_refused(app) {
        let id = app.ticket("Clave bloqueada", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        let forger = Signer::new(PLACEHOLDER, Vec::new());
        assert_eq!(case_page(&app, &forger.case_token(id)).await, StatusCode::NOT_FOUND);
        assert_eq!(case_page(&app, &app.signer.case_token(id)).await, StatusCode::OK);

        assert_problem(&answer_survey(&app, &forger.survey_token(id, expires())).await, 404);
        let page = app.client.get(format!("{}/encuesta/{}", app.address, forger.survey_token(id, expires())));
        assert_eq!(page.send().await.unwrap().status(), StatusCode::NOT_FOUND);
        assert_eq!(answer_survey(&app, &app.signer.survey_token(id, expires())).await.status, StatusCode::CREATED);

        assert_ne!(mail_to_reply_token(&app, &forger.reply_token(id)).await, id, "a forged reply address threads");
        assert_eq!(mail_to_reply_token(&app, &app.signer.reply_token(id)).await, id);
    }

    // Replicas on one database agree on the generated secret: what one signs, the other verifies.
    async fn replicas_share_the_generated_secret(app) {
        let database_url = app.database_url.clone();
        let replica = spawn(app.backend, move |s| s.database.url = database_url).await;
        let id = app.ticket("Orden de compra", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        assert_eq!(case_page(&replica, &app.signer.case_token(id)).await, StatusCode::OK);
        assert_eq!(case_page(&app, &replica.signer.case_token(id)).await, StatusCode::OK);
        assert_eq!(mail_to_reply_token(&replica, &app.signer.reply_token(id)).await, id);
        // A second installation (another database) has a secret of its own.
        let other = spawn(app.backend, |_| {}).await;
        assert_ne!(other.signer.case_token(1), app.signer.case_token(1));
    }

    // Rotation: the previous secret still verifies what it signed; new links use the current one.
    async fn a_rotated_secret_keeps_old_links_working(app) {
        let (old, new) = ("a".repeat(32), "b".repeat(40));
        let database_url = app.database_url.clone();
        let old_secret = old.clone();
        let before = spawn(app.backend, move |s| {
            s.database.url = database_url;
            s.email.token_secret = old_secret;
        })
        .await;
        let id = before.ticket("Licitación", "ana@municipalidad.cl").await["id"].as_i64().unwrap();
        let (case, reply) = (before.signer.case_token(id), before.signer.reply_token(id));
        let survey = before.signer.survey_token(id, expires());

        let database_url = app.database_url.clone();
        let (current, previous) = (new.clone(), old.clone());
        let after = spawn(app.backend, move |s| {
            s.database.url = database_url;
            s.email.token_secret = current;
            s.email.previous_token_secrets = vec![previous];
        })
        .await;
        assert_eq!(case_page(&after, &case).await, StatusCode::OK);
        assert_eq!(mail_to_reply_token(&after, &reply).await, id);
        assert_eq!(answer_survey(&after, &survey).await.status, StatusCode::CREATED);
        // New links are signed with the current secret only.
        let fresh = after.signer.case_token(id);
        assert_ne!(fresh, case);
        assert_eq!(fresh, Signer::new(new, Vec::new()).case_token(id));
        assert_eq!(case_page(&after, &fresh).await, StatusCode::OK);
        assert_eq!(case_page(&before, &fresh).await, StatusCode::NOT_FOUND);
        // Dropping the previous secret ends its links.
        let database_url = app.database_url.clone();
        let later = spawn(app.backend, move |s| {
            s.database.url = database_url;
            s.email.token_secret = "b".repeat(40);
        })
        .await;
        assert_eq!(case_page(&later, &case).await, StatusCode::NOT_FOUND);
        assert_eq!(case_page(&later, &fresh).await, StatusCode::OK);
    }

    // Replicas starting at the same moment on a new database agree on its installation row.
    async fn concurrent_first_starts_agree_on_the_installation(app) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings();
        settings.database.url = match app.backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("fresh.db").display()),
            Backend::Postgres => fresh_postgres_schema(&postgres_url().unwrap()),
        };
        atencion::startup::open_database(&settings).await.unwrap();
        let loads = (0..6).map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move {
                let db = atencion::startup::open_database(&settings).await.unwrap();
                let installation = atencion::installation::load(&db).await.unwrap();
                (installation.id, installation.token_secret)
            })
        });
        let mut seen = Vec::new();
        for load in loads.collect::<Vec<_>>() {
            seen.push(load.await.unwrap());
        }
        if let (Backend::Postgres, Some((_, schema))) = (app.backend, settings.database.url.split_once("search_path%3D")) {
            drop_postgres_schema(schema.split('&').next().unwrap());
        }
        assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
        assert_eq!(seen[0].1.len(), 64, "32 random bytes, hex");
        assert_eq!(seen[0].0.len(), 32);
    }
}

#[tokio::test]
async fn start_up_refuses_the_old_default_and_short_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let refusal = |customize: fn(&mut atencion::config::Settings)| {
        let mut settings = test_settings();
        settings.database.url = format!("sqlite://{}", dir.path().join("refused.db").display());
        customize(&mut settings);
        async move {
            match Application::build(settings).await {
                Ok(_) => panic!("started with a known or short secret"),
                Err(e) => e.to_string(),
            }
        }
    };
    let err = refusal(|s| s.email.token_secret = PLACEHOLDER.into()).await;
    assert!(err.contains("[email] token_secret"), "{err}");
    let err = refusal(|s| s.email.token_secret = "x".repeat(31)).await;
    assert!(err.contains("[email] token_secret") && err.contains("32 bytes"), "{err}");
    let err = refusal(|s| s.email.previous_token_secrets = vec![PLACEHOLDER.into()]).await;
    assert!(err.contains("[email] previous_token_secrets"), "{err}");
    // Nothing configured is fine: the secret is generated.
    let mut settings = test_settings();
    settings.database.url = format!("sqlite://{}", dir.path().join("started.db").display());
    assert!(settings.email.token_secret.is_empty());
    assert!(Application::build(settings).await.is_ok());
}
