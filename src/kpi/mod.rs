//! Live contact-center KPIs: the store (Redis or in-process), the projector that feeds it from
//! the database's event logs, and what supervisors read.
//!
//! The database stays the source of truth: ingestion never waits on Redis. When Redis fails,
//! updates are skipped and counted, the figures are served as stale, and once Redis answers
//! again the live state is rebuilt from the logs.

mod memory;
pub mod projector;
pub mod store;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::db::Db;
use crate::domain::calendar::DEFAULT_TIME_ZONE as SANTIAGO;
use crate::domain::live::{self, ScopeFigures, Snapshot, Window};
use crate::error::AppError;
use projector::{Batch, Source};
pub use store::KpiStore;

/// Rows read per log per step.
const BATCH: i64 = 500;

/// The live KPIs of this replica: the store and what is known about its health.
pub struct Live {
    pub store: KpiStore,
    /// The figures may be behind: the store failed and has not been rebuilt since.
    stale: AtomicBool,
    /// Event updates not applied because the store was unreachable.
    skipped: AtomicU64,
    /// Bumped after each applied batch; the SSE streams wait on it.
    changed: watch::Sender<u64>,
    /// The last snapshot read, served (as stale) while the store is unreachable.
    last: Mutex<Option<(DateTime<Utc>, Snapshot)>>,
    cursors: tokio::sync::Mutex<Vec<(Source, i64)>>,
    /// The database's installation id ([`crate::installation`]), recorded in the store: state
    /// another database wrote under the same Redis prefix is rebuilt, never trusted.
    installation: String,
    pub answer_target_secs: i64,
    pub service_level_target: f64,
}

/// What `GET /kpis/realtime` and the stream serve.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Realtime {
    pub generated_at: DateTime<Utc>,
    /// `true` when the live store could not be read or missed updates: figures may be behind.
    pub stale: bool,
    /// `redis` or `memory`.
    pub store: &'static str,
    /// `15`, `30`, `60` (minutes) or `today` (America/Santiago date).
    pub window: String,
    /// Answer target T of the service level, in seconds.
    pub answer_target_secs: i64,
    /// The service level the department aims at (0–1).
    pub service_level_target: f64,
    /// Updates skipped since start because the store was unreachable.
    pub skipped_updates: u64,
    pub scopes: Vec<ScopeFigures>,
    /// Trend alerts raised today (America/Santiago), newest bucket first. Read from the database
    /// with each snapshot: alerts are rare and already stored there, so they need no live state
    /// (streams are woken when this replica raises one, and re-read every few seconds anyway).
    pub trend_alerts: Vec<crate::trends::TrendAlert>,
}

impl Live {
    pub fn new(store: KpiStore, installation: String, answer_target_secs: i64, service_level_target: f64) -> Live {
        Live {
            store,
            installation,
            stale: AtomicBool::new(false),
            skipped: AtomicU64::new(0),
            changed: watch::channel(0).0,
            last: Mutex::new(None),
            cursors: tokio::sync::Mutex::new(Vec::new()),
            answer_target_secs,
            service_level_target,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Wakes the streams for something read outside the store (trend alerts just raised).
    pub fn touch(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// The figures of every scope for `window`, from the store or, while it is unreachable,
    /// from the last snapshot read (flagged stale).
    pub async fn realtime(&self, window: Window) -> Realtime {
        let now = Utc::now();
        let (snapshot, stale) = match self.store.snapshot(now).await {
            Ok(snapshot) => {
                *self.last.lock().expect("last snapshot") = Some((now, snapshot.clone()));
                (snapshot, self.is_stale())
            }
            Err(e) => {
                tracing::warn!(error = %e, "live KPI store unreachable; serving the last figures as stale");
                let last = self.last.lock().expect("last snapshot").clone();
                (last.map(|(_, s)| s).unwrap_or_default(), true)
            }
        };
        Realtime {
            generated_at: now,
            stale,
            store: self.store.kind(),
            window: window.label(),
            answer_target_secs: self.answer_target_secs,
            service_level_target: self.service_level_target,
            skipped_updates: self.skipped.load(Ordering::Relaxed),
            scopes: live::figures(&snapshot, now, window, self.answer_target_secs),
            trend_alerts: Vec::new(),
        }
    }

    /// Reads every log past its cursor and applies what it finds; returns the rows read.
    pub async fn step(&self, db: &Db) -> Result<usize, AppError> {
        if self.is_stale() {
            self.rebuild(db).await?;
        }
        let mut cursors = self.cursors.lock().await;
        if cursors.is_empty() {
            for source in Source::ALL {
                let cursor = self.store.cursor(source.name()).await.map_err(unreachable)?;
                cursors.push((source, cursor));
            }
        }
        let mut rows = 0;
        for (source, cursor) in cursors.iter_mut() {
            let (source, after) = (*source, *cursor);
            let batch = db.read(move |c| projector::read(c, source, after, BATCH)).await?;
            rows += batch.rows;
            self.apply(&batch).await?;
            if batch.next_cursor > *cursor {
                *cursor = batch.next_cursor;
                let ours = self.raise_cursor(source, batch.next_cursor).await?;
                if !ours {
                    cursors.clear();
                    return Err(AppError::Unavailable("live KPI store taken over by another database".into()));
                }
            }
        }
        Ok(rows)
    }

    async fn apply(&self, batch: &Batch) -> Result<(), AppError> {
        if let Err(e) = self.store.apply_all(&batch.updates).await {
            // Some may have been applied; the rebuild that follows makes that moot.
            self.mark_stale(batch.updates.len());
            return Err(unreachable(e));
        }
        if !batch.updates.is_empty() {
            self.changed.send_modify(|v| *v += 1);
        }
        Ok(())
    }

    /// Raises `source`'s cursor in the store; `false` (and marked stale, so the next step
    /// rebuilds) when the store holds another database's state.
    async fn raise_cursor(&self, source: Source, to: i64) -> Result<bool, AppError> {
        let ours = self.store.raise_cursor(source.name(), to, &self.installation).await.map_err(unreachable)?;
        if !ours {
            tracing::warn!(
                "the live KPI store holds another database's state (same Redis key prefix?): rebuilding from this one"
            );
            self.mark_stale(0);
        }
        Ok(ours)
    }

    fn mark_stale(&self, skipped: usize) {
        self.skipped.fetch_add(skipped as u64, Ordering::Relaxed);
        if !self.stale.swap(true, Ordering::Relaxed) {
            tracing::warn!("live KPI store unreachable: updates skipped until it is rebuilt");
        }
    }

    /// Recomputes the live state from the database: the current contribution of every open
    /// ticket, waiting call and agent, then every fact since the start of the Santiago day (or
    /// the minutes kept, if earlier), through the same code as incremental updates.
    pub async fn rebuild(&self, db: &Db) -> Result<(), AppError> {
        let mut cursors = self.cursors.lock().await;
        let now = Utc::now();
        let day_start = store::day_start(now.with_timezone(&SANTIAGO).date_naive());
        let horizon = live::replay_horizon(now, day_start);
        let plan = db.read(move |c| projector::rebuild_plan(c, horizon)).await?;
        self.store.reset().await.map_err(unreachable)?;
        self.store.set_installation(&self.installation).await.map_err(unreachable)?;
        let tracks = Batch { updates: plan.tracks, rows: 0, next_cursor: 0 };
        self.apply(&tracks).await?;
        cursors.clear();
        for (source, start) in plan.starts {
            let mut cursor = start;
            loop {
                let after = cursor;
                let batch = db.read(move |c| projector::read(c, source, after, BATCH)).await?;
                self.apply(&batch).await?;
                if batch.rows == 0 || batch.next_cursor == cursor {
                    break;
                }
                cursor = batch.next_cursor;
            }
            if !self.raise_cursor(source, cursor).await? {
                cursors.clear();
                return Err(AppError::Unavailable("live KPI store taken over by another database".into()));
            }
            cursors.push((source, cursor));
        }
        self.stale.store(false, Ordering::Relaxed);
        self.changed.send_modify(|v| *v += 1);
        tracing::info!(store = self.store.kind(), "live KPIs rebuilt from the event logs");
        Ok(())
    }

    /// Rebuilds unless the store holds this database's state: when it holds nothing (a new or
    /// flushed Redis, or this process's memory) or state recorded for another installation (a
    /// Redis that served another or a restored database under the same key prefix), whose
    /// cursors would skip this database's events.
    pub async fn rebuild_unless_ours(&self, db: &Db) -> Result<(), AppError> {
        let owner = self.store.installation().await.map_err(unreachable)?;
        let empty = self.store.is_empty().await.map_err(unreachable)?;
        if !empty && owner.as_deref() != Some(self.installation.as_str()) {
            tracing::warn!(recorded = ?owner, "the live KPI store holds another database's state: rebuilding");
        }
        if empty || owner.as_deref() != Some(self.installation.as_str()) {
            self.rebuild(db).await?;
        }
        Ok(())
    }
}

fn unreachable(e: redis::RedisError) -> AppError {
    AppError::Unavailable(format!("live KPI store: {e}"))
}

/// The projector loop of one replica. Several replicas may run it: updates are idempotent.
pub async fn run(db: Db, live: std::sync::Arc<Live>, interval: Duration) {
    if let Err(e) = live.rebuild_unless_ours(&db).await {
        tracing::warn!(error = %e, "live KPIs not rebuilt at start");
        live.mark_stale(0);
    }
    // Events this process writes are read as soon as they commit; other replicas' at the next poll.
    let mut commits = db.commits();
    loop {
        let started = std::time::Instant::now();
        let step = live.step(&db).await;
        crate::metrics::kpi_projector_step(started.elapsed());
        match step {
            // A full batch: more is waiting, read on at once.
            Ok(rows) if rows as i64 >= BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "live KPI step failed"),
        }
        crate::db::next_commit(&mut commits, interval).await;
    }
}
