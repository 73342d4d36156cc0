//! Pages in a real browser: headless Chromium driven by playwright-core (`tests/browser/*.mjs`):
//! the public form and case page, the supervisors' wallboard and the agents' workspace. Required in CI; skipped
//! locally when Chromium or the npm packages are not installed (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

use atencion::domain::Role;

use crate::helpers::*;

/// The scripts' folder, or `None` (skipped) where Chromium or the npm packages are missing, which
/// only a local run may lack.
fn scripts() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = Path::new("/usr/bin/chromium").exists()
        && ["playwright-core", "axe-core"].iter().all(|p| dir.join("node_modules").join(p).exists());
    if !ready {
        assert!(std::env::var("CI").is_err(), "CI must install chromium and run `npm ci` in tests/browser");
        eprintln!("chromium, playwright-core or axe-core missing: browser test skipped locally");
    }
    ready.then_some(dir)
}

/// Runs `node <script> <base-url> <token> <screenshot-dir> <extra…>` and expects it to print `ok`
/// and to leave the screenshot `shot` in `target/browser-artifacts`.
async fn run(
    dir: PathBuf,
    script: &'static str,
    app: &TestApp,
    token: &str,
    extra: &[&str],
    ok: &'static str,
    shot: &str,
) {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&shots).unwrap();
    let _ = std::fs::remove_file(shots.join(shot));
    let mut command = Command::new("node");
    command.args([script, &app.address, token]).arg(&shots).args(extra).current_dir(dir);
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(ok),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shots.join(shot).exists(), "{script} left no {shot}");
}

#[tokio::test]
async fn web_form_in_headless_chromium() {
    let Some(dir) = scripts() else { return };
    let app = spawn(Backend::Sqlite, |_| {}).await;
    run(dir, "form.mjs", &app, &app.admin, &[], "browser form test: ok", "formulario.png").await;
}

#[tokio::test]
async fn wallboard_in_headless_chromium() {
    let Some(dir) = scripts() else { return };
    let backend = if postgres_url().is_some() { Backend::Postgres } else { Backend::Sqlite };
    let app = spawn(backend, |_| {}).await;
    let supervisor = app.token(atencion::domain::Role::Supervisor).await;
    // An agent at work, for the panel of agents.
    person(&app, "Javier Rojas", "javier.rojas@chilecompra.cl", "caracola-azul-2026", Role::Agent, None).await;
    let agents = app.get("/api/v1/agents").await.body;
    let javier = agents.as_array().unwrap().iter().find(|a| a["name"] == "Javier Rojas").unwrap()["id"].clone();
    let presence = serde_json::json!({"presence": "available"});
    let set = app
        .call(reqwest::Method::PUT, &format!("/api/v1/agents/{javier}/presence"), Some(&app.admin), Some(&presence))
        .await;
    assert_eq!(set.status, reqwest::StatusCode::OK, "{}", set.body);
    run(dir, "wallboard.mjs", &app, &supervisor, &[], "browser wallboard test: ok", "wallboard.png").await;
}

/// The public pages: the empty form and the case page of a mailed ticket whose message carries a
/// PDF, at two sizes with axe-core (`tests/browser/pages.mjs`).
#[tokio::test]
async fn public_pages_in_headless_chromium() {
    let Some(dir) = scripts() else { return };
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let pdf: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
    let id = crate::attachments::mail_files(&app, &[("orden de compra.pdf", "application/pdf", pdf)]).await;
    let case = format!("{}/casos/{}", app.address, app.signer.case_token(id));
    let extra = [case.as_str(), "orden de compra.pdf"];
    run(dir, "pages.mjs", &app, &app.admin, &extra, "browser pages test: ok", "caso-publico-1366.png").await;
}

/// The departments' screens (`tests/browser/department.mjs`): a member of compradores
/// acknowledges and answers an escalation and implements an opportunity; a member of proveedores
/// reaches none of it.
#[tokio::test]
async fn department_screens_in_headless_chromium() {
    let Some(dir) = scripts() else { return };
    let backend = if postgres_url().is_some() { Backend::Postgres } else { Backend::Sqlite };
    let app = spawn(backend, |_| {}).await;
    let password = "caracola-azul-2026";
    let compradores = crate::departments::department(&app, "compradores").await;
    let proveedores = crate::departments::department(&app, "proveedores").await;
    let (ana, pedro, javier) = ("ana.diaz@chilecompra.cl", "pedro.vera@chilecompra.cl", "javier.rojas@chilecompra.cl");
    person(&app, "Ana Díaz", ana, password, Role::Department, Some(compradores)).await;
    person(&app, "Pedro Vera", pedro, password, Role::Department, Some(proveedores)).await;
    person(&app, "Javier Rojas", javier, password, Role::Agent, None).await;
    let extra = [ana, pedro, javier, password];
    run(dir, "department.mjs", &app, &app.admin, &extra, "browser department test: ok", "dept-resumen-1366.png").await;
}

/// The supervisors' reports and the administrators' screens (`tests/browser/management.mjs`).
#[tokio::test]
async fn management_screens_in_headless_chromium() {
    let Some(dir) = scripts() else { return };
    let backend = if postgres_url().is_some() { Backend::Postgres } else { Backend::Sqlite };
    let app = spawn(backend, |_| {}).await;
    let password = "caracola-azul-2026";
    let (rosa, marta, javier) =
        ("rosa.munoz@chilecompra.cl", "marta.lagos@chilecompra.cl", "javier.rojas@chilecompra.cl");
    person(&app, "Rosa Muñoz", rosa, password, Role::Supervisor, None).await;
    person(&app, "Marta Lagos", marta, password, Role::Admin, None).await;
    person(&app, "Javier Rojas", javier, password, Role::Agent, None).await;
    let extra = [rosa, marta, javier, password];
    run(dir, "management.mjs", &app, &app.admin, &extra, "browser management test: ok", "gestion-informes-1366.png")
        .await;
}

/// The administrators' reference data (`tests/browser/settings.mjs`): SLA policies, calendars and
/// holidays, rotation plans with their preview, canned responses, and a department whose webhook
/// a receiver's HTTP 500 disabled (one failure disables it here), re-enabled from the screen.
#[tokio::test]
async fn settings_screens_in_headless_chromium() {
    let Some(dir) = scripts() else { return };
    let backend = if postgres_url().is_some() { Backend::Postgres } else { Backend::Sqlite };
    let (app, _) = crate::delivery::start(backend, 1).await;
    let password = "caracola-azul-2026";
    let (marta, javier, camila) =
        ("marta.lagos@chilecompra.cl", "javier.rojas@chilecompra.cl", "camila.soto@chilecompra.cl");
    person(&app, "Marta Lagos", marta, password, Role::Admin, None).await;
    person(&app, "Javier Rojas", javier, password, Role::Agent, None).await;
    person(&app, "Camila Soto", camila, password, Role::Agent, None).await;
    let hook = crate::delivery::webhook_receiver(&[500], 204);
    let extra = [marta, password, hook.as_str()];
    run(dir, "settings.mjs", &app, &app.admin, &extra, "browser settings test: ok", "ajustes-sla-1366.png").await;
}

/// Quality (`tests/browser/quality.mjs`): the QA sample, an evaluation filled in on its scorecard,
/// the agent's dispute and the supervisor's resolution; a trend alert (eight calm weeks and a spike
/// two hours ago, scanned by the script) with its history chart and its draft sent to a department.
#[tokio::test]
async fn quality_screens_in_headless_chromium() {
    let Some(dir) = scripts() else { return };
    let backend = if postgres_url().is_some() { Backend::Postgres } else { Backend::Sqlite };
    let app = spawn(backend, |_| {}).await;
    let password = "caracola-azul-2026";
    let (rosa, javier) = ("rosa.munoz@chilecompra.cl", "javier.rojas@chilecompra.cl");
    person(&app, "Rosa Muñoz", rosa, password, Role::Supervisor, None).await;
    person(&app, "Javier Rojas", javier, password, Role::Agent, None).await;
    let now = chrono::DurationRound::duration_trunc(chrono::Utc::now(), chrono::TimeDelta::hours(1)).unwrap();
    let hour = now - chrono::TimeDelta::hours(2);
    crate::trends::spike_series_at(&app, hour).await;
    let scan_at = (hour + chrono::TimeDelta::minutes(65)).to_rfc3339();
    let extra = [rosa, javier, password, scan_at.as_str()];
    run(dir, "quality.mjs", &app, &app.admin, &extra, "browser quality test: ok", "calidad-evaluacion-1366.png").await;
}

/// A person who signs in with `password`; returns nothing (the script finds them by email).
async fn person(app: &TestApp, name: &str, email: &str, password: &str, role: Role, department_id: Option<i64>) {
    let (name, email) = (name.to_owned(), email.to_owned());
    let hash = atencion::session::hash_password(password).unwrap();
    app.db
        .write(move |c| {
            let request = atencion::directory::CreateAgentRequest {
                name,
                email: Some(email),
                role,
                department_id,
                extension: None,
            };
            let agent = atencion::directory::create_agent(c, request)?;
            atencion::session::set_password(c, agent.id, &hash, chrono::Utc::now())
        })
        .await
        .unwrap();
}

/// The agents' workspace at `/app`: a whole shift in two browser contexts, with axe-core on every
/// screen (`tests/browser/workspace.mjs`).
#[tokio::test]
async fn workspace_in_headless_chromium() {
    let Some(dir) = scripts() else { return };
    let backend = if postgres_url().is_some() { Backend::Postgres } else { Backend::Sqlite };
    let app = spawn(backend, |_| {}).await;
    let password = "caracola-azul-2026";
    let (javier, camila) = ("javier.rojas@chilecompra.cl", "camila.soto@chilecompra.cl");
    person(&app, "Javier Rojas", javier, password, Role::Agent, None).await;
    person(&app, "Camila Soto", camila, password, Role::Agent, None).await;
    let extra = [javier, camila, password];
    run(dir, "workspace.mjs", &app, &app.admin, &extra, "browser workspace test: ok", "ws-caso-1366.png").await;
}
