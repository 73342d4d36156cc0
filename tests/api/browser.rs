//! Pages in a real browser: headless Chromium driven by playwright-core (`tests/browser/*.mjs`):
//! the public form and the supervisors' wallboard. Required in CI; skipped locally when Chromium or the npm packages
//! are not installed (`.ci/run` installs both).

use std::path::Path;
use std::process::Command;

use crate::helpers::*;

#[tokio::test]
async fn web_form_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script_dir = root.join("tests/browser");
    let ready = Path::new("/usr/bin/chromium").exists() && script_dir.join("node_modules/playwright-core").exists();
    if !ready {
        assert!(std::env::var("CI").is_err(), "CI must install chromium and run `npm ci` in tests/browser");
        eprintln!("chromium or playwright-core missing: browser test skipped locally");
        return;
    }
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let shots = root.join("target/browser-artifacts");
    std::fs::create_dir_all(&shots).unwrap();
    let address = app.address.clone();
    let token = app.admin.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node").arg("form.mjs").arg(&address).arg(&token).arg(&shots).current_dir(&script_dir).output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("browser form test: ok"),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.join("target/browser-artifacts/formulario.png").exists());
}

#[tokio::test]
async fn wallboard_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script_dir = root.join("tests/browser");
    let ready = Path::new("/usr/bin/chromium").exists() && script_dir.join("node_modules/playwright-core").exists();
    if !ready {
        assert!(std::env::var("CI").is_err(), "CI must install chromium and run `npm ci` in tests/browser");
        eprintln!("chromium or playwright-core missing: browser test skipped locally");
        return;
    }
    let backend = if postgres_url().is_some() { Backend::Postgres } else { Backend::Sqlite };
    let app = spawn(backend, |_| {}).await;
    let supervisor = app.token(atencion::domain::Role::Supervisor).await;
    let shots = root.join("target/browser-artifacts");
    std::fs::create_dir_all(&shots).unwrap();
    let _ = std::fs::remove_file(shots.join("wallboard.png"));
    let address = app.address.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("wallboard.mjs")
            .arg(&address)
            .arg(&supervisor)
            .arg(&shots)
            .current_dir(&script_dir)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("browser wallboard test: ok"),
        "wallboard test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.join("target/browser-artifacts/wallboard.png").exists());
}
