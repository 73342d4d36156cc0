use atencion::config::Settings;
use atencion::db::backend;
use atencion::startup::open_database;

use crate::helpers::*;

/// Both migration sets must produce the same tables and columns (the documented exceptions:
/// SQLite's ticket-number counter, which Postgres replaces with a sequence per year, and the
/// full-text index: an FTS5 table and its shadow tables in SQLite, `ticket_search` in Postgres).
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
    lite.retain(|(table, _)| table != "ticket_number_counters" && !table.starts_with("ticket_fts"));
    let mut pg = pg;
    pg.retain(|(table, _)| table != "ticket_search");
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

// Phone numbers stored in the forms used before one normalisation existed are rewritten once,
// after the SQL migrations; a number blocked in two forms keeps one entry; text that is not a
// number stays as it was.
on_all_backends! {
    async fn phone_numbers_in_old_forms_are_rewritten_once(app) {
        let old = app
            .db
            .write(|c| {
                use diesel::connection::SimpleConnection;
                c.batch_execute(
                    "INSERT INTO requesters (name, phone, segment, created_at, updated_at) VALUES
                       ('Ana', '09 1234 5678', 'citizen', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
                       ('Luis', 'no tengo', 'citizen', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
                     INSERT INTO blocked_numbers (number, created_at) VALUES
                       ('+56222222222', '2026-01-01T00:00:00Z'), ('02 2222 2222', '2026-01-01T00:00:00Z'),
                       ('0056 9 8765 4321', '2026-01-01T00:00:00Z');
                     DELETE FROM data_fixes WHERE name = 'phone_forms';",
                )?;
                Ok(atencion::db::backend::run_migrations(c)?)
            })
            .await
            .unwrap();
        assert_eq!(old, vec!["phone_forms".to_owned()]);
        let (phones, blocked, again) = app
            .db
            .write(|c| {
                use atencion::db::schema::{blocked_numbers, requesters};
                use diesel::prelude::*;
                let phones: Vec<Option<String>> =
                    requesters::table.filter(requesters::name.eq_any(["Ana", "Luis"])).order(requesters::name).select(requesters::phone).load(c)?;
                let blocked: Vec<String> = blocked_numbers::table.order(blocked_numbers::id).select(blocked_numbers::number).load(c)?;
                Ok((phones, blocked, atencion::db::backend::run_migrations(c)?))
            })
            .await
            .unwrap();
        assert_eq!(phones, [Some("+56912345678".to_owned()), Some("no tengo".to_owned())]);
        assert_eq!(blocked, ["+56222222222", "+56987654321"]);
        assert!(again.is_empty(), "ran twice: {again:?}");
    }
}
