//! Layered configuration: built-in defaults, `config/default.toml`, `config/{APP_ENV}.toml`,
//! then `ATENCION__SECTION__KEY` environment variables.

use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::db::DatabaseUrl;

/// Compiled in, so the binary runs even where no `config/` folder is present.
const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub web_form: WebFormSettings,
    pub sla: SlaSettings,
    pub email: EmailSettings,
    pub smtp: SmtpSettings,
    pub phone: PhoneSettings,
    pub routing: RoutingSettings,
    pub tickets: TicketSettings,
    pub kpi: KpiSettings,
    pub reports: ReportSettings,
    pub departments: DepartmentSettings,
    pub trends: TrendSettings,
    #[serde(default)]
    pub session: SessionSettings,
    #[serde(default)]
    pub attachments: AttachmentSettings,
    pub log: LogSettings,
}

/// Files that come with messages: what agents and the public form may send, where the bytes live and
/// how they are checked. (Inbound mail keeps its own limits in `[email]`.)
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AttachmentSettings {
    /// Largest single file an agent or the public form may upload, in bytes.
    pub max_file_bytes: usize,
    /// Files per message, and their total size in bytes, for agents' replies.
    pub max_files_per_message: usize,
    pub max_message_bytes: usize,
    /// Files the public form takes per ticket, and the media types it accepts (read from the bytes).
    pub form_max_files: usize,
    pub form_media_types: Vec<String>,
    /// Where the bytes live: files in `dir` (one machine) or the database (shared by replicas).
    pub store: StoreKind,
    /// The directory of `store = "directory"` (it replaces `[email] attachments_dir`).
    pub dir: String,
    /// ClamAV's daemon (`tcp://host:port` or a unix socket path); empty: files are not scanned.
    pub clamd: String,
    /// How often each replica looks for files waiting to be scanned, and how long a failed scan
    /// (clamd down) waits before the next try.
    pub scan_interval_ms: u64,
    pub scan_retry_secs: u64,
    /// How often each replica sweeps stored files no attachment refers to, and how old such a file
    /// must be before it goes (a writer may be about to refer to a newer one).
    pub sweep_interval_secs: u64,
    pub sweep_grace_secs: u64,
}

/// `[attachments] store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Directory,
    Database,
}

/// The built-in `[attachments] dir`.
const DEFAULT_ATTACHMENTS_DIR: &str = "data/attachments";

impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            max_file_bytes: 10 * 1024 * 1024,
            max_files_per_message: 10,
            max_message_bytes: 25 * 1024 * 1024,
            form_max_files: 3,
            form_media_types: ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"]
                .map(String::from)
                .to_vec(),
            store: StoreKind::Directory,
            dir: DEFAULT_ATTACHMENTS_DIR.into(),
            clamd: String::new(),
            scan_interval_ms: 1000,
            scan_retry_secs: 60,
            sweep_interval_secs: 3600,
            sweep_grace_secs: 3600,
        }
    }
}

/// Sign-in of people (the workspace): sessions, invitation links and guessing limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    /// A session unused this long ends.
    pub idle_minutes: i64,
    /// Hours an invitation or password-reset link can be used.
    pub invitation_hours: i64,
    /// Failed sign-ins allowed per account, and per client IP, within `failure_window_minutes`.
    pub max_failures_per_account: i64,
    pub max_failures_per_ip: i64,
    pub failure_window_minutes: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle_minutes: 480,
            invitation_hours: 72,
            max_failures_per_account: 5,
            max_failures_per_ip: 20,
            failure_window_minutes: 15,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    pub address: String,
    pub from_name: String,
    /// Signs links and reply addresses ([`crate::secrets::Signer`]); empty: the secret generated
    /// on first start and kept in the database.
    pub token_secret: String,
    /// Secrets used before `token_secret`: what they signed still verifies.
    #[serde(default)]
    pub previous_token_secrets: Vec<String>,
    pub loop_header: String,
    pub max_message_bytes: usize,
    pub auto_replies_per_sender_per_day: i64,
    /// Before `[attachments] dir`: still honoured when that one is left at its default.
    #[serde(default)]
    pub attachments_dir: Option<String>,
    pub templates: String,
    /// Days a satisfaction survey link stays valid.
    #[serde(default = "survey_expiry_days")]
    pub survey_expiry_days: i64,
    /// Attachments one inbound mail may carry; a mail with more goes to the quarantine.
    #[serde(default = "max_attachments_per_message")]
    pub max_attachments_per_message: usize,
    /// Decoded bytes of all the attachments of one inbound mail; a mail with more goes to the
    /// quarantine.
    #[serde(default = "max_attachments_total_bytes")]
    pub max_attachments_total_bytes: usize,
    /// IMAP mailboxes to poll (`[[email.mailboxes]]`).
    #[serde(default)]
    pub mailboxes: Vec<MailboxSettings>,
}

fn survey_expiry_days() -> i64 {
    7
}

fn max_attachments_per_message() -> usize {
    50
}

fn max_attachments_total_bytes() -> usize {
    26_214_400
}

impl EmailSettings {
    /// The domain of the helpdesk's address, used in Message-IDs.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map(|(_, d)| d).unwrap_or("atencion.localhost")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    pub url: String,
    pub poll_interval_ms: u64,
    pub max_attempts: i32,
    pub retry_base_secs: i64,
    /// How long a worker holds the rows it is sending; rows of a worker that died wait this long.
    pub lease_secs: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SlaSettings {
    pub scan_interval_secs: u64,
    pub scan_batch: i64,
}

/// Trend and spike detection ([`crate::domain::trends`]).
#[derive(Debug, Clone, Deserialize)]
pub struct TrendSettings {
    /// Whether each replica runs the periodic scan (the scan endpoint works either way).
    pub enabled: bool,
    pub scan_interval_secs: u64,
    /// Weeks of history behind each baseline.
    pub history_weeks: u32,
    /// Width of the seasonal band, in standard deviations.
    pub k: f64,
    /// Significance of the Poisson tail test for small counts.
    pub alpha: f64,
    /// Fewest tickets in an hour or day that may raise an alert.
    pub min_count: u64,
}

impl TrendSettings {
    pub fn params(&self) -> crate::domain::trends::Params {
        crate::domain::trends::Params {
            history_weeks: self.history_weeks,
            k: self.k,
            alpha: self.alpha,
            min_count: self.min_count,
        }
    }
}

/// Who owns a ticket.
#[derive(Debug, Clone, Deserialize)]
pub struct TicketSettings {
    /// An agent's public reply on a ticket without assignee makes it theirs.
    pub assign_on_first_reply: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoutingSettings {
    /// How often each replica checks whether a rotation plan reached its next period (0 disables).
    pub rotation_interval_secs: u64,
}

/// Delivery of what is sent to departments: their Redis stream and webhooks.
#[derive(Debug, Clone, Deserialize)]
pub struct DepartmentSettings {
    /// How often each replica publishes pending deliveries (0 disables both workers).
    pub poll_interval_ms: u64,
    /// How long a webhook receiver has to answer.
    pub webhook_timeout_ms: u64,
    /// First retry delay after a failed webhook request; doubles with every failure.
    pub retry_base_ms: u64,
    /// Consecutive failures after which a department's webhook is disabled.
    pub max_consecutive_failures: i32,
    /// PEM file of an in-house certificate authority that webhook receivers may use; empty: the
    /// public roots only.
    #[serde(default)]
    pub webhook_ca_file: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PhoneSettings {
    /// A caller who hangs up within this many seconds of waiting is a short abandon (a
    /// misdial): counted apart and owed no call back.
    pub short_abandon_secs: i64,
    /// How long after a call is answered the agent may fold its automatic ticket into another
    /// open ticket of the same requester.
    pub link_window_minutes: i64,
    /// Queue (slug) of tickets from calls whose PBX queue matches none of ours.
    pub default_queue: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    /// Base of the links sent to requesters; empty: derived from the listen address at start.
    pub public_url: String,
    pub max_body_bytes: usize,
    /// Run the background jobs in this process too (`serve --no-workers` sets it to false).
    #[serde(default = "yes")]
    pub background: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    pub url: String,
    /// Start of every key (inside a hash tag), so installations and tests can share a Redis.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KpiSettings {
    /// How often the projector reads new events (0 disables it).
    pub poll_interval_ms: u64,
    /// Answer target T of the service level, in seconds.
    pub answer_target_secs: i64,
    /// Service level target of the wallboard's colours.
    pub service_level_target: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReportSettings {
    /// How often each replica brings the reports' daily rollup up to date (0: only when a report
    /// is asked for).
    pub refresh_interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebFormSettings {
    pub rate_limit_per_minute: u32,
    pub trust_proxy_headers: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// `APP_ENV` (default `local`): picks `config/{APP_ENV}.toml`; `production` adds warnings.
pub fn app_env() -> String {
    std::env::var("APP_ENV").unwrap_or_else(|_| "local".into())
}

impl Settings {
    /// Reads the layers; `APP_ENV` (default `local`) picks the environment file.
    pub fn load() -> anyhow::Result<Settings> {
        let env = app_env();
        let settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::with_name("config/default").required(false))
            .add_source(File::with_name(&format!("config/{env}")).required(false))
            .add_source(
                Environment::with_prefix("ATENCION")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("email.previous_token_secrets"),
            )
            .build()?
            .try_deserialize::<Settings>()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Only the built-in defaults: no files, no environment (tests start from here).
    pub fn defaults() -> Settings {
        Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .and_then(Config::try_deserialize)
            .expect("built-in defaults are valid")
    }

    /// Fails start-up on a setting that would otherwise misbehave later.
    pub fn validate(&self) -> anyhow::Result<()> {
        DatabaseUrl::parse(&self.database.url)?;
        if let Some(url) = self.redis_url() {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                anyhow::bail!("redis.url must start with redis:// or rediss://");
            }
        }
        let secret = self.email.token_secret.trim();
        if !secret.is_empty() {
            crate::secrets::check_configured("[email] token_secret", secret)?;
        }
        for previous in &self.email.previous_token_secrets {
            crate::secrets::check_configured("[email] previous_token_secrets", previous.trim())?;
        }
        self.attachments_dir()?;
        let clamd = self.attachments.clamd.trim();
        let understood = clamd.is_empty()
            || clamd
                .strip_prefix("tcp://")
                .map(|h| h.trim_end_matches('/'))
                .is_some_and(|host| host.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()))
            || clamd.starts_with("unix:///")
            || clamd.starts_with('/');
        if !understood {
            anyhow::bail!("[attachments] clamd must be tcp://host:port or a unix socket path (got {clamd:?})");
        }
        let t = &self.trends;
        let valid = (1..=52).contains(&t.history_weeks) && t.k > 0.0 && t.alpha > 0.0 && t.alpha < 1.0;
        if !valid {
            anyhow::bail!("trends: history_weeks must be 1–52, k above 0 and alpha between 0 and 1");
        }
        Ok(())
    }

    /// The attachments directory: `[attachments] dir`, or the older `[email] attachments_dir` when
    /// only that one is set; both set to different places is an error (which holds the files?).
    pub fn attachments_dir(&self) -> anyhow::Result<&str> {
        let dir = self.attachments.dir.trim();
        match self.email.attachments_dir.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(old) if dir == DEFAULT_ATTACHMENTS_DIR || dir.is_empty() || dir == old => Ok(old),
            Some(old) => anyhow::bail!(
                "[email] attachments_dir ({old}) and [attachments] dir ({dir}) differ: keep only [attachments] dir"
            ),
            None if dir.is_empty() => Ok(DEFAULT_ATTACHMENTS_DIR),
            None => Ok(dir),
        }
    }

    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.database.url).expect("validated at load")
    }

    pub fn redis_url(&self) -> Option<&str> {
        Some(self.redis.url.trim()).filter(|u| !u.is_empty())
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.database.connect_timeout_secs.max(1))
    }
}

/// One mailbox, from `[[email.mailboxes]]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct MailboxSettings {
    /// Name recorded with each mail (deduplication is per mailbox).
    pub name: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Implicit TLS (IMAPS, usually port 993). Plain connections are for loopback tests only.
    #[serde(default = "default_tls")]
    pub tls: bool,
    /// With `tls = false`: upgrade the connection with STARTTLS before logging in (usually port 143).
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of certificate authorities to trust besides the public ones (e.g. an in-house CA).
    #[serde(default)]
    pub ca_file: Option<String>,
    pub username: String,
    pub password: String,
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Folder to move stored mail to; without one, stored mail is only flagged `\Seen`.
    #[serde(default)]
    pub processed_folder: Option<String>,
    #[serde(default = "default_interval")]
    pub poll_interval_secs: u64,
}

fn default_port() -> u16 {
    993
}
fn default_tls() -> bool {
    true
}
fn default_folder() -> String {
    "INBOX".into()
}
fn default_interval() -> u64 {
    30
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_run_on_sqlite_without_redis() {
        let s = Settings::defaults();
        s.validate().unwrap();
        assert_eq!(s.database_url(), DatabaseUrl::Sqlite("data/atencion.db".into()));
        assert_eq!(s.redis_url(), None);
        assert_eq!(s.log.format, LogFormat::Pretty);
    }

    #[test]
    fn the_attachments_directory_moved_without_losing_the_old_setting() {
        let mut s = Settings::defaults();
        assert_eq!(s.attachments_dir().unwrap(), "data/attachments");
        s.email.attachments_dir = Some("/srv/adjuntos".into());
        assert_eq!(s.attachments_dir().unwrap(), "/srv/adjuntos");
        s.attachments.dir = "/srv/otros".into();
        assert!(s.validate().is_err(), "two different places: which one holds the files?");
        s.email.attachments_dir = None;
        assert_eq!(s.attachments_dir().unwrap(), "/srv/otros");
    }

    #[test]
    fn clamd_is_a_tcp_address_or_a_socket_path() {
        let mut s = Settings::defaults();
        for good in ["tcp://127.0.0.1:3310", "tcp://clamav:3310/", "/run/clamav/clamd.ctl", "unix:///tmp/clamd.sock"] {
            s.attachments.clamd = good.into();
            s.validate().unwrap();
        }
        for bad in ["127.0.0.1:3310", "tcp://clamav", "http://clamav:3310"] {
            s.attachments.clamd = bad.into();
            assert!(s.validate().is_err(), "{bad}");
        }
    }
}
