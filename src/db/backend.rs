//! The one place with SQL that differs between Postgres and SQLite.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConnection;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Arbitrary constant: the advisory lock that keeps replicas from migrating at the same time.
const MIGRATION_LOCK: i64 = 0x6174_656e_6369_6f6e;

/// Applies pending migrations and returns their names.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let applied = match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT pg_advisory_lock($1)").bind::<BigInt, _>(MIGRATION_LOCK).execute(pg)?;
            let result = pg.run_pending_migrations(PG_MIGRATIONS).map(names);
            diesel::sql_query("SELECT pg_advisory_unlock($1)").bind::<BigInt, _>(MIGRATION_LOCK).execute(pg)?;
            result
        }
        DbConnection::Sqlite(lite) => lite.run_pending_migrations(SQLITE_MIGRATIONS).map(names),
    };
    applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

fn names(versions: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    versions.iter().map(ToString::to_string).collect()
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// Next ticket sequence number for `year`.
pub fn next_ticket_sequence(conn: &mut DbConnection, year: i32) -> QueryResult<i64> {
    let row: Value = match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT next_ticket_number($1) AS value").bind::<Integer, _>(year).get_result(pg)?
        }
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "INSERT INTO ticket_number_counters (year, last_value) VALUES (?, 1) \
             ON CONFLICT (year) DO UPDATE SET last_value = last_value + 1 \
             RETURNING last_value AS value",
        )
        .bind::<Integer, _>(year)
        .get_result(lite)?,
    };
    Ok(row.value)
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// Every (table, column) of the application's schema, for the migration parity check.
pub fn table_columns(conn: &mut DbConnection) -> QueryResult<BTreeSet<(String, String)>> {
    let rows: Vec<Column> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns WHERE table_schema = current_schema()",
        )
        .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .load(lite)?,
    };
    Ok(rows.into_iter().map(|c| (c.table_name, c.column_name)).collect())
}
