//! Sign-in of people: password, session cookie, CSRF, guessing limits, invitation links.

use atencion::directory::{self, CreateAgentRequest};
use atencion::domain::Role;
use atencion::session;
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const PASSWORD: &str = "caracola-azul-2026";

/// An agent with `email` and [`PASSWORD`]; returns their id.
async fn person(app: &TestApp, role: Role, email: &str) -> i64 {
    let email = email.to_owned();
    let hash = session::hash_password(PASSWORD).unwrap();
    app.db
        .write(move |c| {
            let department_id = (role == Role::Department).then_some(2);
            let request = CreateAgentRequest {
                name: "Javier Rojas".into(),
                email: Some(email),
                role,
                department_id,
                extension: None,
            };
            let agent = directory::create_agent(c, request)?;
            session::set_password(c, agent.id, &hash, chrono::Utc::now())?;
            Ok(agent.id)
        })
        .await
        .unwrap()
}

/// A signed-in browser: the cookie and the CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Reply {
    app.call(Method::POST, "/api/v1/session", None, Some(&json!({"email": email, "password": password}))).await
}

async fn signed_in(app: &TestApp, email: &str) -> Browser {
    let reply = sign_in(app, email, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let set_cookie = reply.headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    Browser { cookie, csrf: reply.body["csrf_token"].as_str().unwrap().to_owned() }
}

impl Browser {
    async fn call(&self, app: &TestApp, method: Method, path: &str, body: Option<Value>, csrf: bool) -> Reply {
        let mut request = app.client.request(method, format!("{}{path}", app.address)).header("Cookie", &self.cookie);
        if csrf {
            request = request.header("X-CSRF-Token", &self.csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        into_reply(request.send().await.unwrap()).await
    }
}

on_all_backends! {
    async fn wrong_password_and_unknown_email_get_the_same_spanish_answer(app) {
        person(&app, Role::Agent, "javier.rojas@chilecompra.cl").await;
        let wrong = sign_in(&app, "javier.rojas@chilecompra.cl", "no-es-la-clave").await;
        assert_problem(&wrong, 401);
        let unknown = sign_in(&app, "nadie@chilecompra.cl", "no-es-la-clave").await;
        assert_problem(&unknown, 401);
        assert_eq!(wrong.body["detail"], unknown.body["detail"]);
        assert_eq!(wrong.body["detail"], "El correo electrónico o la contraseña no son correctos.");
        assert!(wrong.headers.get("set-cookie").is_none());
    }

    async fn the_cookie_works_like_a_token_with_csrf_on_unsafe_methods(app) {
        person(&app, Role::Agent, "javier.rojas@chilecompra.cl").await;
        // Case and spaces in the email do not matter.
        let reply = sign_in(&app, "  Javier.Rojas@ChileCompra.cl ", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let set_cookie = reply.headers.get("set-cookie").unwrap().to_str().unwrap();
        assert!(set_cookie.starts_with("atencion_sesion="), "{set_cookie}");
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
        assert_eq!(reply.body["agent"]["role"], "agent");
        let browser = signed_in(&app, "javier.rojas@chilecompra.cl").await;

        let me = browser.call(&app, Method::GET, "/api/v1/session", None, false).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["agent"]["email"], "javier.rojas@chilecompra.cl");
        assert_eq!(me.body["csrf_token"], browser.csrf.as_str());
        let list = browser.call(&app, Method::GET, "/api/v1/tickets", None, false).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);

        let body = ticket_body("Clave bloqueada", "ana@municipalidad.cl");
        let without = browser.call(&app, Method::POST, "/api/v1/tickets", Some(body.clone()), false).await;
        assert_problem(&without, 403);
        assert!(without.body["detail"].as_str().unwrap().contains("X-CSRF-Token"));
        let wrong = app
            .client
            .post(format!("{}/api/v1/tickets", app.address))
            .header("Cookie", &browser.cookie)
            .header("X-CSRF-Token", "0".repeat(64))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let with = browser.call(&app, Method::POST, "/api/v1/tickets", Some(body), true).await;
        assert_eq!(with.status, StatusCode::CREATED, "{}", with.body);

        // The same role checks as a token: an agent may not create agents.
        let admin_only = json!({"name": "X", "role": "agent"});
        let denied = browser.call(&app, Method::POST, "/api/v1/agents", Some(admin_only), true).await;
        assert_problem(&denied, 403);
        // A bearer token needs no CSRF header, and has none.
        let token = app.token(Role::Agent).await;
        let holder = app.call(Method::GET, "/api/v1/session", Some(&token), None).await;
        assert_eq!((holder.body["agent"]["role"].as_str(), holder.body["csrf_token"].clone()), (Some("agent"), Value::Null));
        let plain = app.call(Method::POST, "/api/v1/tickets", Some(&token), Some(&ticket_body("Otro", "b@x.cl"))).await;
        assert_eq!(plain.status, StatusCode::CREATED);
    }

    async fn signing_out_deactivating_and_idling_end_the_session(app) {
        let id = person(&app, Role::Agent, "javier.rojas@chilecompra.cl").await;
        let first = signed_in(&app, "javier.rojas@chilecompra.cl").await;
        let out = first.call(&app, Method::DELETE, "/api/v1/session", None, true).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(out.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
        let gone = first.call(&app, Method::GET, "/api/v1/tickets", None, false).await;
        assert_problem(&gone, 401);

        let idle = signed_in(&app, "javier.rojas@chilecompra.cl").await;
        let long_ago = atencion::db::types::UtcTime::from(chrono::Utc::now() - chrono::TimeDelta::hours(9));
        app.db
            .write(move |c| {
                use atencion::db::schema::sessions;
                diesel::update(sessions::table).set(sessions::last_seen_at.eq(long_ago)).execute(c)?;
                Ok(())
            })
            .await
            .unwrap();
        assert_problem(&idle.call(&app, Method::GET, "/api/v1/tickets", None, false).await, 401);

        let active = signed_in(&app, "javier.rojas@chilecompra.cl").await;
        assert_eq!(active.call(&app, Method::GET, "/api/v1/tickets", None, false).await.status, StatusCode::OK);
        let off = app.patch(&format!("/api/v1/agents/{id}"), json!({"active": false})).await;
        assert_eq!(off.status, StatusCode::OK, "{}", off.body);
        assert_problem(&active.call(&app, Method::GET, "/api/v1/tickets", None, false).await, 401);
    }

    async fn failed_sign_ins_are_limited_per_account_and_per_ip(app) {
        person(&app, Role::Agent, "javier.rojas@chilecompra.cl").await;
        for _ in 0..5 {
            assert_problem(&sign_in(&app, "javier.rojas@chilecompra.cl", "intento-fallido").await, 401);
        }
        // Even the right password waits now: guessing is what the limit stops.
        let limited = sign_in(&app, "javier.rojas@chilecompra.cl", PASSWORD).await;
        assert_problem(&limited, 429);
        let retry: u64 = limited.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        // Another account from the same address still may, up to the per-IP limit (20).
        person(&app, Role::Supervisor, "carolina.munoz@chilecompra.cl").await;
        assert_eq!(sign_in(&app, "carolina.munoz@chilecompra.cl", PASSWORD).await.status, StatusCode::OK);
        for n in 0..15 {
            let reply = sign_in(&app, &format!("otro{n}@chilecompra.cl"), "intento-fallido").await;
            assert_problem(&reply, 401);
        }
        assert_problem(&sign_in(&app, "carolina.munoz@chilecompra.cl", PASSWORD).await, 429);
    }

    async fn an_invitation_link_sets_the_password_once_and_ends_old_sessions(app) {
        let id = person(&app, Role::Agent, "javier.rojas@chilecompra.cl").await;
        let old = signed_in(&app, "javier.rojas@chilecompra.cl").await;
        let agent = app.token(Role::Agent).await;
        let denied = app.call(Method::POST, &format!("/api/v1/agents/{id}/invitation"), Some(&agent), None).await;
        assert_problem(&denied, 403);
        let invited = app.post(&format!("/api/v1/agents/{id}/invitation"), json!(null)).await;
        assert_eq!(invited.status, StatusCode::ACCEPTED, "{}", invited.body);
        assert_eq!(invited.body["email"], "javier.rojas@chilecompra.cl");
        let no_email = app.post("/api/v1/agents", json!({"name": "Sin correo", "role": "agent"})).await;
        let no_email = app.post(&format!("/api/v1/agents/{}/invitation", no_email.body["id"]), json!(null)).await;
        assert_problem(&no_email, 409);
        assert!(no_email.body["detail"].as_str().unwrap().contains("correo"), "{}", no_email.body);

        // The link is in the queued mail, which the outbox API does not show.
        let outbox = app.get("/api/v1/channels/email/outbox").await;
        let row = outbox.body.as_array().unwrap().iter().find(|r| r["kind"] == "invitation").unwrap().clone();
        assert_eq!(row["recipient"], "javier.rojas@chilecompra.cl");
        assert!(row["detail"].is_null(), "{row}");
        let detail: String = app
            .db
            .read(|c| {
                use atencion::db::schema::outbox;
                Ok(outbox::table.filter(outbox::kind.eq("invitation")).select(outbox::detail.assume_not_null()).first(c)?)
            })
            .await
            .unwrap();
        let detail: Value = serde_json::from_str(&detail).unwrap();
        let link = detail["enlace"].as_str().unwrap();
        assert!(link.starts_with(&format!("{}/app/clave#", app.address)) || link.contains("/app/clave#"), "{link}");
        let token = link.split('#').nth(1).unwrap().to_owned();

        let short = app.call(Method::POST, "/api/v1/session/password", None, Some(&json!({"token": token, "password": "corta"}))).await;
        assert_eq!(assert_problem(&short, 422), ["password"]);
        let body = json!({"token": token, "password": "nueva-clave-segura"});
        let set = app.call(Method::POST, "/api/v1/session/password", None, Some(&body)).await;
        assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
        assert_problem(&app.call(Method::POST, "/api/v1/session/password", None, Some(&body)).await, 404);

        // The password changed: the old session ended, the new password signs in.
        assert_problem(&old.call(&app, Method::GET, "/api/v1/tickets", None, false).await, 401);
        assert_problem(&sign_in(&app, "javier.rojas@chilecompra.cl", PASSWORD).await, 401);
        assert_eq!(sign_in(&app, "javier.rojas@chilecompra.cl", "nueva-clave-segura").await.status, StatusCode::OK);
    }

    async fn a_link_expires_and_a_newer_one_replaces_it(app) {
        let id = person(&app, Role::Agent, "javier.rojas@chilecompra.cl").await;
        let hash = session::hash_password("otra-clave-segura").unwrap();
        let outcome = app
            .db
            .write(move |c| {
                let t0 = chrono::Utc::now();
                let (first, _) = session::create_link(c, id, 24, t0)?;
                let (second, expires) = session::create_link(c, id, 24, t0)?;
                assert_eq!(expires, t0 + chrono::TimeDelta::hours(24));
                // The newer mail is the one that counts; the second link is past its time a day on.
                let replaced = session::redeem_link(c, &first, &hash, t0).is_err();
                let expired = session::redeem_link(c, &second, &hash, expires + chrono::TimeDelta::seconds(1)).is_err();
                let in_time = session::redeem_link(c, &second, &hash, expires - chrono::TimeDelta::minutes(1));
                Ok((replaced, expired, in_time.map(|agent| agent == id).unwrap_or(false)))
            })
            .await
            .unwrap();
        assert_eq!(outcome, (true, true, true), "(earlier link refused, expired link refused, link in time accepted)");
        assert_eq!(sign_in(&app, "javier.rojas@chilecompra.cl", "otra-clave-segura").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_public_url_is_https() {
    let app = spawn(Backend::Sqlite, |s| s.server.public_url = "https://mesa.chilecompra.cl".into()).await;
    person(&app, Role::Agent, "javier.rojas@chilecompra.cl").await;
    let reply = sign_in(&app, "javier.rojas@chilecompra.cl", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Secure"));
}
