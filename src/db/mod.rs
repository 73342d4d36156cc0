//! Storage: one diesel schema over Postgres and SQLite. Backend-specific SQL lives only in
//! [`backend`]; everything else is written once against [`DbConnection`].

pub mod backend;
mod fixes;
pub mod models;
pub mod schema;
pub mod statements;
pub mod types;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel::{PgConnection, SqliteConnection};

use crate::error::AppError;

/// A connection to whichever backend is configured.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Where the data lives, chosen explicitly by URL scheme: a typo must never silently create an
/// empty SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("database URL must start with postgres://, postgresql:// or sqlite:// (got {0:?})")]
    UnknownScheme(String),
    #[error("sqlite:// URL has no file path")]
    EmptyPath,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let path = url.strip_prefix("sqlite://").ok_or_else(|| DatabaseUrlError::UnknownScheme(redact(url)))?;
        if path.is_empty() {
            return Err(DatabaseUrlError::EmptyPath);
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Keeps credentials out of error messages and logs.
fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((_, host)) => format!("…@{host}"),
        None => url.chars().take(40).collect(),
    }
}

/// Opens connections and prepares each one (SQLite needs its pragmas on every connection).
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    health: Arc<Health>,
}

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let result = open(&self.url);
        self.health.connect_failed.store(result.is_err(), Ordering::Relaxed);
        result
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    /// Called when a connection goes back to the pool: one that lost its server (marked by
    /// [`Db::read`]/[`Db::write`] when the work failed and the connection no longer answers) or whose transaction
    /// manager is broken is dropped instead of being handed to the next request forever.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        if LOST.with(|lost| lost.replace(false)) || std::thread::panicking() {
            return true;
        }
        match conn {
            DbConnection::Pg(c) => r2d2::R2D2Connection::is_broken(c),
            DbConnection::Sqlite(c) => r2d2::R2D2Connection::is_broken(c),
        }
    }
}

fn open(url: &DatabaseUrl) -> Result<DbConnection, r2d2::Error> {
    let mut conn = establish(url)?;
    conn.set_instrumentation(statements::observe);
    Ok(conn)
}

fn establish(url: &DatabaseUrl) -> Result<DbConnection, r2d2::Error> {
    match url {
        DatabaseUrl::Postgres(url) => {
            PgConnection::establish(url).map(DbConnection::Pg).map_err(r2d2::Error::ConnectionError)
        }
        DatabaseUrl::Sqlite(path) => {
            let mut conn =
                SqliteConnection::establish(&path.to_string_lossy()).map_err(r2d2::Error::ConnectionError)?;
            conn.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
            // The full-text index triggers stem in Rust (SQLite has no Spanish stemmer).
            backend::register_sqlite(&mut conn).map_err(r2d2::Error::QueryError)?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// How often a database known to be down is tried again.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// What is known about the database answering. Once a request waited the whole connect timeout
/// for a connection that could not be opened, the database is known to be down: requests are
/// answered 503 at once (no waiting) while a background probe tries a fresh connection every
/// [`PROBE_INTERVAL`], until one succeeds.
#[derive(Debug)]
pub struct Health {
    url: DatabaseUrl,
    down: AtomicBool,
    /// The last attempt of the pool to open a connection failed.
    connect_failed: AtomicBool,
    probing: AtomicBool,
}

impl Health {
    fn new(url: DatabaseUrl) -> Health {
        let flag = || AtomicBool::new(false);
        Health { url, down: flag(), connect_failed: flag(), probing: flag() }
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// No connection came from the pool: down if the pool could not open one (not merely busy).
    fn pool_failed(self: &Arc<Self>) {
        if self.connect_failed.load(Ordering::Relaxed) {
            if !self.down.swap(true, Ordering::Relaxed) {
                tracing::warn!("database unreachable: answering 503 at once until it answers again");
            }
            self.probe();
        }
    }

    /// Starts the probe unless one runs; after a connection died under a request, it tells
    /// whether the database went with it.
    fn probe(self: &Arc<Self>) {
        if self.probing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return;
        }
        let (health, url) = (Arc::downgrade(self), self.url.clone());
        let spawned = std::thread::Builder::new().name("db-probe".into()).spawn(move || probe(&url, health));
        if spawned.is_err() {
            self.probing.store(false, Ordering::Relaxed);
        }
    }
}

/// Tries a fresh connection until one answers (or the database handle is gone).
fn probe(url: &DatabaseUrl, health: Weak<Health>) {
    loop {
        let up = open(url).and_then(|mut c| c.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)).is_ok();
        let Some(health) = health.upgrade() else { return };
        if up {
            health.connect_failed.store(false, Ordering::Relaxed);
            if health.down.swap(false, Ordering::Relaxed) {
                tracing::info!("database reachable again");
            }
            health.probing.store(false, Ordering::Release);
            // Marked down again between the check and here, by a request that saw this probe
            // running: carry on instead of leaving it without one.
            let again = health.is_down()
                && health.probing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok();
            if !again {
                return;
            }
        } else if !health.down.swap(true, Ordering::Relaxed) {
            tracing::warn!("database unreachable: answering 503 at once until it answers again");
        }
        drop(health);
        std::thread::sleep(PROBE_INTERVAL);
    }
}

thread_local! {
    /// Set on the blocking thread that used a connection when its work failed and the
    /// connection no longer answers; read back by [`Manager::has_broken`] on the same thread
    /// when that connection is returned, so it is discarded rather than reused.
    static LOST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on a checked-out connection. When `f` fails and the connection is gone, the error is
/// "unavailable" (503 with Retry-After, not 500) and the connection is discarded: a Postgres
/// restart must not leave dead connections in the pool.
fn on_connection<T>(
    pool: &Pool,
    health: &Arc<Health>,
    f: impl FnOnce(&mut DbConnection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    LOST.with(|lost| lost.set(false));
    let mut pooled = pool.get().map_err(|e| {
        health.pool_failed();
        AppError::from_pool(e)
    })?;
    let result = match f(&mut pooled) {
        // Only after an internal error (a lost connection surfaces as one; a 4xx is the request's
        // own): is the connection still there? If not, the failure was the connection's (server
        // restarted, session terminated), not the request's.
        Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) if pooled.batch_execute("SELECT 1").is_err() => {
            LOST.with(|lost| lost.set(true));
            health.probe();
            Err(AppError::Unavailable(format!("database connection lost: {e}")))
        }
        other => other,
    };
    drop(pooled);
    result
}

/// The database handle the service uses: blocking diesel work runs on tokio's blocking threads
/// so it never stalls the async workers.
#[derive(Clone)]
pub struct Db {
    readers: Pool,
    /// SQLite allows one writer at a time: a one-connection pool serialises writers in-process
    /// instead of letting them fail with "database is locked". On Postgres it is `readers`.
    writer: Pool,
    backend: Backend,
    /// Bumped after every committed write, so this process's background loops (the live KPI
    /// projector) react at once instead of at their next poll.
    commits: Arc<tokio::sync::watch::Sender<u64>>,
    health: Arc<Health>,
}

impl Db {
    pub fn connect(url: &DatabaseUrl, pool_size: u32, timeout: Duration) -> anyhow::Result<Db> {
        if let DatabaseUrl::Sqlite(path) = url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
        }
        let health = Arc::new(Health::new(url.clone()));
        let build = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(0))
                .connection_timeout(timeout)
                .test_on_check_out(false)
                .build_unchecked(Manager { url: url.clone(), health: health.clone() })
        };
        let readers = build(pool_size.max(1));
        let writer = match url.backend() {
            Backend::Postgres => readers.clone(),
            Backend::Sqlite => build(1),
        };
        let commits = Arc::new(tokio::sync::watch::channel(0).0);
        Ok(Db { readers, writer, backend: url.backend(), commits, health })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database is known to be down (see [`Health`]): work is refused at once.
    pub fn is_down(&self) -> bool {
        self.health.is_down()
    }

    fn refuse_if_down(&self) -> Result<(), AppError> {
        match self.is_down() {
            true => Err(AppError::Unavailable("database known to be down; retried in the background".into())),
            false => Ok(()),
        }
    }

    /// Runs `f` on a pooled connection, outside any transaction.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.refuse_if_down()?;
        let (pool, health) = (self.readers.clone(), self.health.clone());
        run_blocking(move || on_connection(&pool, &health, f)).await
    }

    /// Runs `f` in one transaction: everything it writes is committed together or not at all.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let result = self.write_derived(f).await;
        if result.is_ok() {
            self.commits.send_modify(|n| *n = n.wrapping_add(1));
        }
        result
    }

    /// As [`Db::write`], for derived state that no follower of [`Db::commits`] reads (the report
    /// rollup): the followers are not woken to look for events it did not write.
    pub async fn write_derived<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.refuse_if_down()?;
        let (pool, health) = (self.writer.clone(), self.health.clone());
        run_blocking(move || on_connection(&pool, &health, |conn| conn.transaction(f))).await
    }

    /// Changes after each write this process commits.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// Synchronous access for the CLI and start-up.
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>, AppError> {
        self.writer.get().map_err(AppError::from_pool)
    }
}

/// How long a follower of the log lets commits gather after one wakes it. Under load one read
/// then serves many commits instead of one read each; a lone change is seen this much later.
pub const GATHER: Duration = Duration::from_millis(20);

/// Waits for this process's next commit (then [`GATHER`] more), or `interval` for what other
/// replicas commit.
pub async fn next_commit(commits: &mut tokio::sync::watch::Receiver<u64>, interval: Duration) {
    tokio::select! {
        _ = commits.changed() => tokio::time::sleep(GATHER).await,
        _ = tokio::time::sleep(interval) => {}
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("database task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_scheme_decides_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/atencion.db").unwrap(),
            DatabaseUrl::Sqlite("data/atencion.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/atencion.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/atencion.db".into())
        );
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgresql://h/db").unwrap().backend(), Backend::Postgres);
        assert!(matches!(DatabaseUrl::parse("sqlite://"), Err(DatabaseUrlError::EmptyPath)));
        assert!(matches!(DatabaseUrl::parse("data/atencion.db"), Err(DatabaseUrlError::UnknownScheme(_))));
        assert!(matches!(DatabaseUrl::parse("postgress://x"), Err(DatabaseUrlError::UnknownScheme(_))));
    }

    #[test]
    fn url_errors_hide_credentials() {
        let err = DatabaseUrl::parse("mysql://admin:s3cret@db.local/x").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
