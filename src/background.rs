//! The background jobs: mail in and out, the SLA and department clocks, rotations, report
//! rollups, trend alerts, department delivery, the followers of the committed log
//! (notifications, acknowledgements, surveys, SLA notices), and scanning and sweeping
//! attachment files. `serve` runs them beside the
//! HTTP server unless told not to (`serve --no-workers`, `[server] background = false`);
//! `atencion worker` runs only them, so web and background work scale apart. Each job is safe
//! with several processes at once (row claims, leases or advisory locks), so any mix of `serve`
//! and `worker` processes on one database does every job once.

use std::sync::Arc;
use std::time::Duration;

use crate::attachments::FileStore;
use crate::config::Settings;
use crate::db::Db;
use crate::kpi::Live;
use crate::secrets::Signer;

/// What the jobs share with the process that runs them.
pub struct Jobs {
    pub db: Db,
    pub settings: Settings,
    pub signer: Arc<Signer>,
    pub files: Arc<FileStore>,
    pub live: Arc<Live>,
    pub redis: Option<redis::Client>,
}

impl Jobs {
    /// Starts every configured job on the current runtime.
    pub fn spawn(&self) {
        let (db, s) = (&self.db, &self.settings);
        for mailbox in &s.email.mailboxes {
            let files = self.files.clone();
            let task = crate::channels::email::imap::run(
                db.clone(),
                s.email.clone(),
                self.signer.clone(),
                files,
                mailbox.clone(),
            );
            tokio::spawn(task);
        }
        if !s.smtp.url.trim().is_empty() {
            let (email, smtp, url) = (s.email.clone(), s.smtp.clone(), s.server.public_url.clone());
            let (signer, files) = (self.signer.clone(), self.files.clone());
            tokio::spawn(crate::channels::email::outbox::run(db.clone(), email, signer, smtp, url, files));
        }
        if s.sla.scan_interval_secs > 0 {
            let interval = Duration::from_secs(s.sla.scan_interval_secs);
            tokio::spawn(crate::sla::scanner::run(db.clone(), interval, s.sla.scan_batch.max(1)));
            tokio::spawn(crate::departments::sla::run(db.clone(), interval, s.sla.scan_batch.max(1)));
        }
        if s.routing.rotation_interval_secs > 0 {
            let interval = Duration::from_secs(s.routing.rotation_interval_secs);
            tokio::spawn(crate::routing::rotation::run(db.clone(), interval));
        }
        if s.reports.refresh_interval_secs > 0 {
            let interval = Duration::from_secs(s.reports.refresh_interval_secs);
            tokio::spawn(crate::reports::rollup::run(db.clone(), interval));
        }
        if s.trends.enabled && s.trends.scan_interval_secs > 0 {
            let interval = Duration::from_secs(s.trends.scan_interval_secs);
            tokio::spawn(crate::trends::scanner::run(db.clone(), self.live.clone(), interval, s.trends.params()));
        }
        if s.departments.poll_interval_ms > 0 {
            tokio::spawn(crate::departments::webhooks::run(db.clone(), s.departments.clone()));
            if let Some(client) = self.redis.clone() {
                let prefix = s.redis.key_prefix.clone();
                tokio::spawn(crate::departments::stream::run(db.clone(), client, prefix, s.departments.clone()));
            }
        }
        tokio::spawn(crate::tickets::followers::run(db.clone(), crate::reactions::followers(&s.email)));
        self.spawn_attachment_jobs();
    }

    /// Scanning new files with clamd (when configured) and sweeping files nothing refers to.
    fn spawn_attachment_jobs(&self) {
        let (db, a) = (&self.db, &self.settings.attachments);
        let clamd = a.clamd.trim();
        if !clamd.is_empty() && a.scan_interval_ms > 0 {
            tokio::spawn(crate::attachments::scan::run(
                db.clone(),
                self.files.clone(),
                clamd.to_owned(),
                Duration::from_millis(a.scan_interval_ms),
                Duration::from_secs(a.scan_retry_secs),
            ));
        }
        if a.sweep_interval_secs > 0 {
            let (interval, grace) =
                (Duration::from_secs(a.sweep_interval_secs), Duration::from_secs(a.sweep_grace_secs));
            tokio::spawn(crate::attachments::sweep::run(db.clone(), self.files.clone(), interval, grace));
        }
    }
}
