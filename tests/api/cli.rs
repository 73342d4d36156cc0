//! The `atencion` binary itself: migrate, token create, seed-demo, and serve with a graceful stop.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli { dir: tempfile::tempdir().unwrap() }
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("data/atencion.db").display())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_atencion"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("ATENCION__DATABASE__URL", self.database_url())
            .env("ATENCION__LOG__FILTER", "warn")
            .env_remove("ATENCION__REDIS__URL");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn migrate_and_token_create() {
    let cli = Cli::new();
    let out = cli.run(&["migrate"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "migraciones al día");
    let out = cli.run(&["token", "create", "--role", "supervisor", "--name", "Carolina Muñoz"]);
    assert!(out.status.success(), "{out:?}");
    let token = stdout(&out);
    assert!(token.starts_with("atn_") && token.len() == 68, "{token}");
    let bad = cli.run(&["token", "create", "--role", "root", "--name", "X"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("supervisor"));
    let department = cli.run(&["token", "create", "--role", "department", "--name", "Depto"]);
    assert!(!department.status.success());
    assert!(String::from_utf8_lossy(&department.stderr).contains("department_id"), "{department:?}");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

#[test]
fn token_create_for_an_existing_agent() {
    let cli = Cli::new();
    let email = "javier.rojas@chilecompra.cl";
    let first = cli.run(&["token", "create", "--role", "agent", "--name", "Javier Rojas", "--email", email]);
    assert!(first.status.success(), "{first:?}");
    assert!(
        stderr(&first).contains("nuevo agente") && stderr(&first).contains("«Javier Rojas» (rol agent)"),
        "{first:?}"
    );
    // The same person again, by email alone (in any case): a second token, no second agent.
    let again = cli.run(&["token", "create", "--email", "Javier.Rojas@ChileCompra.cl"]);
    assert!(again.status.success(), "{again:?}");
    assert!(stdout(&again).starts_with("atn_") && stdout(&again) != stdout(&first));
    assert!(
        stderr(&again).contains("agente existente") && stderr(&again).contains("«Javier Rojas» (rol agent)"),
        "{again:?}"
    );
    let same_role = cli.run(&["token", "create", "--email", email, "--role", "agent", "--name", "Javier Rojas"]);
    assert!(same_role.status.success(), "{same_role:?}");
    // Another role is refused, not applied.
    let other_role = cli.run(&["token", "create", "--email", email, "--role", "admin"]);
    assert!(!other_role.status.success() && stdout(&other_role).is_empty(), "{other_role:?}");
    assert!(stderr(&other_role).contains("rol «agent»") && stderr(&other_role).contains("--role"), "{other_role:?}");
    // Nobody with that email, and nothing to create them with.
    let unknown = cli.run(&["token", "create", "--email", "nadie@chilecompra.cl"]);
    assert!(!unknown.status.success(), "{unknown:?}");
    let said = stderr(&unknown);
    assert!(said.contains("role: ") && said.contains("name: ") && said.contains("nadie@chilecompra.cl"), "{said}");

    use atencion::db::schema::{agents, api_tokens};
    let mut conn = SqliteConnection::establish(&cli.database_url()["sqlite://".len()..]).unwrap();
    let people: Vec<(i64, String)> =
        agents::table.filter(agents::email.eq(email)).select((agents::id, agents::role)).load(&mut conn).unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].1, "agent");
    let tokens: i64 =
        api_tokens::table.filter(api_tokens::agent_id.eq(people[0].0)).count().get_result(&mut conn).unwrap();
    assert_eq!(tokens, 3);
    let everyone: i64 = agents::table.count().get_result(&mut conn).unwrap();
    assert_eq!(everyone, 1);
}

#[test]
fn unknown_database_scheme_stops_start_up() {
    let cli = Cli::new();
    let out = cli.command(&["migrate"]).env("ATENCION__DATABASE__URL", "mysql://root:secreto@db/x").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("postgres://") && !stderr.contains("secreto"), "{stderr}");
    assert!(!cli.dir.path().join("mysql:").exists());
}

#[test]
fn seed_demo_loads_once() {
    let cli = Cli::new();
    let out = cli.run(&["seed-demo"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).lines().next(), Some("demo cargada: 200 tickets"));
    assert_eq!(stdout(&cli.run(&["seed-demo"])), "la demo ya estaba cargada");

    use atencion::db::schema::{requesters, tickets};
    let path = cli.dir.path().join("data/atencion.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let count: i64 = tickets::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 200);
    let mut segments: Vec<String> = requesters::table.select(requesters::segment).distinct().load(&mut conn).unwrap();
    segments.sort();
    assert_eq!(segments, ["ciudadano", "comprador", "proveedor"]);
    let statuses: Vec<String> = tickets::table.select(tickets::status).distinct().load(&mut conn).unwrap();
    assert!(statuses.len() >= 4, "{statuses:?}");
}

#[test]
fn reports_rebuild_recomputes_the_daily_rollup() {
    let cli = Cli::new();
    assert!(cli.run(&["seed-demo", "--tickets", "40"]).status.success());
    let out = cli.run(&["reports", "rebuild"]);
    assert!(out.status.success(), "{out:?}");
    let said = stdout(&out);
    assert!(said.starts_with("resumen diario de los informes reconstruido: "), "{said}");

    use atencion::db::schema::report_days;
    let path = cli.dir.path().join("data/atencion.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    // Every ticket counts once per dimension, on the day it was created.
    let created: Vec<i64> =
        report_days::table.filter(report_days::dim.eq("channel")).select(report_days::created).load(&mut conn).unwrap();
    assert_eq!(created.iter().sum::<i64>(), 40);
}

#[test]
fn serve_answers_and_stops_gracefully_on_sigterm() {
    let cli = Cli::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = cli
        .command(&["serve"])
        .env("ATENCION__SERVER__PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/health");
    let started = Instant::now();
    let healthy = loop {
        let ok = std::process::Command::new("curl").args(["-fsS", &url]).output().is_ok_and(|o| o.status.success());
        if ok || started.elapsed() > Duration::from_secs(20) {
            break ok;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(healthy, "server did not become healthy");
    // The embedded default: a SQLite file under data/ next to where it runs.
    assert!(cli.dir.path().join("data/atencion.db").exists());
    stop_with_sigterm(child);
}

/// Sends SIGTERM and expects a clean exit within 15 s.
fn stop_with_sigterm(mut child: std::process::Child) {
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "process did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

/// `atencion worker` migrates the database, runs the background jobs and stops on SIGTERM.
#[test]
fn worker_runs_the_jobs_until_sigterm() {
    let cli = Cli::new();
    let child = cli.command(&["worker"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while !cli.dir.path().join("data/atencion.db").exists() {
        assert!(started.elapsed() < Duration::from_secs(20), "the worker did not open the database");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop_with_sigterm(child);
}

/// In production, links that would send requesters to the server's own loopback address are
/// warned about at start (issue 17, point 11); a public address is not.
#[test]
fn production_warns_when_mailed_links_point_to_loopback() {
    let serve_log = |public_url: &str| {
        let cli = Cli::new();
        let log = cli.dir.path().join("serve.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = cli
            .command(&["serve"])
            .env("APP_ENV", "production")
            .env("ATENCION__SERVER__PORT", port.to_string())
            .env("ATENCION__SERVER__PUBLIC_URL", public_url)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        // The warning is logged before the server runs: once it answers, it has been written (and
        // its SIGTERM handler is installed: a bound port alone is not a running server).
        let url = format!("http://127.0.0.1:{port}/health");
        while !std::process::Command::new("curl").args(["-fsS", &url]).output().is_ok_and(|o| o.status.success()) {
            assert!(started.elapsed() < Duration::from_secs(30), "the server did not start answering");
            std::thread::sleep(Duration::from_millis(100));
        }
        stop_with_sigterm(child);
        std::fs::read_to_string(&log).unwrap()
    };
    let warned = serve_log("http://localhost:8080");
    assert!(warned.contains("loopback address: set [server] public_url"), "{warned}");
    let quiet = serve_log("https://soporte.chilecompra.cl");
    assert!(!quiet.contains("loopback"), "{quiet}");
}

#[test]
fn kpi_rebuild_fills_redis_from_the_database() {
    let cli = Cli::new();
    assert!(cli.run(&["migrate"]).status.success());
    let out = cli.run(&["kpi", "rebuild"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "sin Redis configurado: los KPI en vivo se reconstruyen solos al iniciar el servicio");
    let Some(url) = crate::helpers::redis_url() else { return };
    assert!(cli.run(&["seed-demo", "--tickets", "30"]).status.success());
    let mut conn = diesel::SqliteConnection::establish(&cli.database_url()["sqlite://".len()..]).unwrap();
    let open: i64 = diesel::sql_query("SELECT COUNT(*) AS n FROM tickets WHERE status NOT IN ('solved', 'closed')")
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
    let prefix = format!("t{:016x}", rand::random::<u64>());
    let out = cli
        .command(&["kpi", "rebuild"])
        .env("ATENCION__REDIS__URL", &url)
        .env("ATENCION__REDIS__KEY_PREFIX", &prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with(&format!("KPI en vivo reconstruidos: {open} tickets abiertos")),
        "{}",
        stdout(&out)
    );
    let mut redis = redis::Client::open(url).unwrap().get_connection().unwrap();
    let tracked: i64 = redis::cmd("HLEN").arg(format!("{{{prefix}}}:kpi:tracked")).query(&mut redis).unwrap();
    assert!(tracked >= open, "{tracked} tracked for {open} open tickets");
    // The live state records whose database it holds.
    let installation: String = diesel::sql_query("SELECT installation_id AS value FROM installation")
        .get_result::<Text>(&mut conn)
        .unwrap()
        .value;
    let recorded: Option<String> =
        redis::cmd("GET").arg(format!("{{{prefix}}}:kpi:installation")).query(&mut redis).unwrap();
    assert_eq!(recorded, Some(installation));
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{{{prefix}}}:*")).query(&mut redis).unwrap();
    let _: i64 = redis::cmd("DEL").arg(keys).query(&mut redis).unwrap();
}

/// A known or short signing secret stops start-up with an error naming the setting, also when
/// it comes from the environment (a list, for the previous secrets).
#[test]
fn start_up_refuses_a_known_or_short_signing_secret() {
    let cli = Cli::new();
    let refused = |var: &str, value: &str, setting: &str| {
        let out = cli.command(&["serve"]).env(var, value).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(setting), "{var}={value}: {stderr}");
    };
    refused("ATENCION__EMAIL__TOKEN_SECRET", "cambie-este-secreto-en-produccion", "[email] token_secret");
    refused("ATENCION__EMAIL__TOKEN_SECRET", "secreto-corto", "[email] token_secret");
    let good = "x".repeat(32);
    refused("ATENCION__EMAIL__PREVIOUS_TOKEN_SECRETS", &format!("{good},corto"), "[email] previous_token_secrets");
    let out =
        cli.command(&["migrate"]).env("ATENCION__EMAIL__PREVIOUS_TOKEN_SECRETS", format!("{good},{good}")).output();
    assert!(out.unwrap().status.success());
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[test]
fn agent_password_from_stdin_and_seed_demo_passwords() {
    use std::io::Write;
    let cli = Cli::new();
    let out = cli.run(&["seed-demo", "--tickets", "3"]);
    assert!(out.status.success(), "{out:?}");
    let printed = stdout(&out);
    assert!(
        printed.contains("ingrese en http://127.0.0.1:8080/app") && printed.contains("javier.rojas@chilecompra.cl"),
        "{printed}"
    );
    let demo_password = printed.split("contraseña ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    assert_eq!(demo_password.len(), 16);

    let mut child = cli
        .command(&["agent", "password", "--email", "Javier.Rojas@chilecompra.cl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"otra-clave-segura\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("Javier Rojas"), "{out:?}");
    let mut conn =
        diesel::SqliteConnection::establish(&cli.dir.path().join("data/atencion.db").display().to_string()).unwrap();
    let hash: Option<String> =
        diesel::sql_query("SELECT password_hash FROM agents WHERE email = 'javier.rojas@chilecompra.cl'")
            .get_result::<PasswordRow>(&mut conn)
            .unwrap()
            .password_hash;
    let hash = hash.unwrap();
    assert!(atencion::session::verify_password(Some(&hash), "otra-clave-segura"));
    assert!(!atencion::session::verify_password(Some(&hash), &demo_password));

    let short = cli
        .command(&["agent", "password", "--email", "javier.rojas@chilecompra.cl"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let out = short.wait_with_output().unwrap();
    assert!(!out.status.success());
    let unknown = cli
        .command(&["agent", "password", "--email", "nadie@chilecompra.cl"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = unknown.wait_with_output().unwrap();
    assert!(!out.status.success());
}

#[derive(diesel::QueryableByName)]
struct PasswordRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    password_hash: Option<String>,
}
