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
    assert_eq!(stdout(&out), "demo cargada: 200 tickets");
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
    let mut child = cli
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
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
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
    let _: i64 = redis::cmd("DEL").arg(format!("{{{prefix}}}:kpi:tracked")).query(&mut redis).unwrap();
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
