//! The garbage sweep: stored files that no attachment refers to any more are deleted, by every
//! replica periodically, each file once.
//!
//! Safety with several replicas and writers in flight: a writer stores a file by upserting its row
//! in `attachment_files` (see [`FileStore::put`]), which refreshes `last_put_at` and locks the row
//! until the writer's transaction commits with the attachment that refers to it. The sweep only
//! takes rows older than the grace period, unreferenced, and not locked (`SKIP LOCKED` on Postgres;
//! SQLite has one writer), and deletes the bytes before its own commit while it holds the rows: a
//! writer reusing the file waits for that commit and then stores the bytes anew.

use std::time::{Duration, SystemTime};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::store::{is_sha256, on_both, remove_if_present};
use super::FileStore;
use crate::db::schema::attachment_files;
use crate::db::types::{Tstz, UtcTime};
use crate::db::{Db, DbConnection};
use crate::error::AppError;

/// Files deleted per transaction.
const BATCH: i64 = 500;

#[derive(QueryableByName)]
struct Sha {
    #[diesel(sql_type = Text)]
    sha256: String,
}

/// Sweeps every `interval`, sparing files stored within `grace`.
pub async fn run(db: Db, files: std::sync::Arc<FileStore>, interval: Duration, grace: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        match sweep(&db, &files, grace).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "unreferenced attachment files deleted"),
            Err(e) => tracing::warn!(error = %e, "attachment sweep failed; next time"),
        }
    }
}

/// Deletes the files no attachment refers to, last stored more than `grace` ago; returns how many.
pub async fn sweep(db: &Db, files: &std::sync::Arc<FileStore>, grace: Duration) -> Result<usize, AppError> {
    let cutoff = UtcTime::from(chrono::Utc::now() - chrono::TimeDelta::from_std(grace).unwrap_or_default());
    let mut total = 0;
    loop {
        let store = files.clone();
        let n = db.write(move |c| sweep_batch(c, &store, cutoff)).await?;
        total += n;
        if n < BATCH as usize {
            break;
        }
    }
    if files.root().is_some() {
        let store = files.clone();
        total += db.read(move |c| sweep_untracked(c, &store, grace)).await?;
    }
    Ok(total)
}

fn sweep_batch(conn: &mut DbConnection, files: &FileStore, cutoff: UtcTime) -> Result<usize, AppError> {
    const UNREFERENCED: &str = "SELECT sha256 FROM attachment_files f WHERE last_put_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = f.sha256) ORDER BY last_put_at LIMIT $2";
    let lock = if matches!(conn, DbConnection::Pg(_)) { " FOR UPDATE SKIP LOCKED" } else { "" };
    let rows: Vec<Sha> = on_both!(conn, |c| diesel::sql_query(format!("{UNREFERENCED}{lock}"))
        .bind::<Tstz, _>(cutoff)
        .bind::<BigInt, _>(BATCH)
        .load(c))?;
    for row in &rows {
        files.remove(conn, &row.sha256)?;
        diesel::delete(attachment_files::table.find(&row.sha256)).execute(conn)?;
    }
    Ok(rows.len())
}

/// Files in the directory that no row tracks: left by a transaction that rolled back after writing
/// them (or by a crash mid-write). Only those untouched for `grace` go: a writer in flight has
/// just written or touched its file, and its row is not visible yet.
fn sweep_untracked(conn: &mut DbConnection, files: &FileStore, grace: Duration) -> Result<usize, AppError> {
    let Some(root) = files.root() else { return Ok(0) };
    let Ok(dirs) = std::fs::read_dir(root) else { return Ok(0) };
    let mut deleted = 0;
    for dir in dirs.flatten().filter(|d| d.file_type().is_ok_and(|t| t.is_dir())) {
        for entry in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| SystemTime::now().duration_since(at).unwrap_or_default() >= grace);
            if !old {
                continue;
            }
            // Temporary files of interrupted writes start with a dot.
            let orphan = name.starts_with('.')
                || (is_sha256(&name) && attachment_files::table.find(&name).count().get_result::<i64>(conn)? == 0);
            if orphan {
                remove_if_present(&entry.path())?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}
