use atencion::config::Settings;
use atencion::db::backend;
use atencion::startup::open_database;

use crate::helpers::*;

/// Both migration sets must produce the same tables and columns (the one documented exception:
/// SQLite's ticket-number counter, which Postgres replaces with a sequence per year).
#[tokio::test]
async fn postgres_and_sqlite_schemas_match() {
    let Some(base) = postgres_url() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut settings: Settings = test_settings();
    settings.database.url = format!("sqlite://{}", tmp.path().join("parity.db").display());
    let sqlite = open_database(&settings).await.unwrap();
    settings.database.url = fresh_postgres_schema(&base);
    let postgres = open_database(&settings).await.unwrap();

    let columns = |db: atencion::db::Db| async move { db.read(|c| Ok(backend::table_columns(c)?)).await.unwrap() };
    let mut lite = columns(sqlite).await;
    let pg = columns(postgres).await;
    lite.retain(|(table, _)| table != "ticket_number_counters");
    assert!(lite.iter().any(|(t, c)| t == "tickets" && c == "number"));
    assert!(lite.iter().any(|(t, _)| t == "__diesel_schema_migrations"));
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    assert!(only_pg.is_empty() && only_lite.is_empty(), "only in Postgres: {only_pg:?}\nonly in SQLite: {only_lite:?}");
}

#[tokio::test]
async fn migrations_are_idempotent_and_embedded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = test_settings();
    // A nested folder that does not exist yet: created on first start.
    settings.database.url = format!("sqlite://{}", tmp.path().join("data/sub/atencion.db").display());
    let db = open_database(&settings).await.unwrap();
    let again = db.read(|c| Ok(backend::run_migrations(c)?)).await.unwrap();
    assert!(again.is_empty(), "second run applied {again:?}");
    assert!(tmp.path().join("data/sub/atencion.db").exists());
}

#[tokio::test]
async fn unknown_database_scheme_is_a_start_up_error() {
    let mut settings = test_settings();
    settings.database.url = "data/atencion.db".into();
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("postgres://") && err.contains("sqlite://"), "{err}");
}
