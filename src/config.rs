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
    pub kpi: KpiSettings,
    pub reports: ReportSettings,
    pub departments: DepartmentSettings,
    pub trends: TrendSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    pub address: String,
    pub from_name: String,
    pub token_secret: String,
    pub loop_header: String,
    pub max_message_bytes: usize,
    pub auto_replies_per_sender_per_day: i64,
    pub attachments_dir: String,
    pub templates: String,
    /// Days a satisfaction survey link stays valid.
    #[serde(default = "survey_expiry_days")]
    pub survey_expiry_days: i64,
    /// IMAP mailboxes to poll (`[[email.mailboxes]]`).
    #[serde(default)]
    pub mailboxes: Vec<crate::channels::email::imap::MailboxSettings>,
}

fn survey_expiry_days() -> i64 {
    7
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
    pub public_url: String,
    pub max_body_bytes: usize,
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

impl Settings {
    /// Reads the layers; `APP_ENV` (default `local`) picks the environment file.
    pub fn load() -> anyhow::Result<Settings> {
        let env = std::env::var("APP_ENV").unwrap_or_else(|_| "local".into());
        let settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::with_name("config/default").required(false))
            .add_source(File::with_name(&format!("config/{env}")).required(false))
            .add_source(Environment::with_prefix("ATENCION").prefix_separator("__").separator("__").try_parsing(true))
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
        let t = &self.trends;
        let valid = (1..=52).contains(&t.history_weeks) && t.k > 0.0 && t.alpha > 0.0 && t.alpha < 1.0;
        if !valid {
            anyhow::bail!("trends: history_weeks must be 1–52, k above 0 and alpha between 0 and 1");
        }
        Ok(())
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
}
