//! Wires configuration, storage and HTTP together.

use std::net::TcpListener;

use crate::auth::TokenCache;
use crate::background::Jobs;
use crate::config::{ServerSettings, Settings};
use crate::db::{backend, Db};
use crate::http::public::RateLimiter;
use crate::http::state::AppState;
use crate::http::Server;
use crate::secrets::Signer;

/// How often the workspace feed reads what other replicas committed (its own commits wake it).
const FEED_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// This process's view of the live KPIs: in Redis when configured (shared by replicas), else in
/// memory.
fn live_kpis(
    settings: &Settings,
    redis: Option<redis::Client>,
    installation: String,
) -> std::sync::Arc<crate::kpi::Live> {
    let store = match redis {
        Some(client) => crate::kpi::KpiStore::redis(client, &settings.redis.key_prefix),
        None => crate::kpi::KpiStore::memory(),
    };
    let kpi = &settings.kpi;
    std::sync::Arc::new(crate::kpi::Live::new(store, installation, kpi.answer_target_secs, kpi.service_level_target))
}

/// `atencion worker`: the background jobs without the HTTP server, until SIGTERM or SIGINT.
pub async fn run_worker(mut settings: Settings) -> anyhow::Result<()> {
    settings.validate()?;
    let db = open_database(&settings).await?;
    let installation = crate::installation::load(&db).await?;
    let signer = std::sync::Arc::new(Signer::from_settings(&settings.email, &installation.token_secret));
    let redis = settings.redis_url().map(redis::Client::open).transpose()?;
    settings.server.public_url = public_url(&settings.server, settings.server.port);
    let jobs = Jobs {
        files: std::sync::Arc::new(crate::attachments::FileStore::from_settings(&settings)?),
        live: live_kpis(&settings, redis.clone(), installation.id),
        db,
        signer,
        redis,
        settings,
    };
    jobs.spawn();
    tracing::info!("background jobs running");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("background jobs stopped");
    Ok(())
}

/// Connects to the configured database and applies pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    crate::reactions::install();
    let db = Db::connect(&settings.database_url(), settings.database.pool_size, settings.connect_timeout())?;
    let migrate = db.clone();
    let applied = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn = migrate.get().map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
        backend::run_migrations(&mut conn)
    })
    .await??;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    Ok(db)
}

pub struct Application {
    port: u16,
    server: Server,
    pub db: Db,
    pub live: std::sync::Arc<crate::kpi::Live>,
    pub signer: std::sync::Arc<Signer>,
}

impl Application {
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let db = open_database(&settings).await?;
        let installation = crate::installation::load(&db).await?;
        let signer = std::sync::Arc::new(Signer::from_settings(&settings.email, &installation.token_secret));
        let redis = settings.redis_url().map(redis::Client::open).transpose()?;
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let port = listener.local_addr()?.port();
        settings.server.public_url = public_url(&settings.server, port);
        let workers = settings.server.workers;
        if settings.email.attachments_dir.is_some() {
            tracing::warn!("[email] attachments_dir is deprecated: set [attachments] dir instead");
        }
        let files = std::sync::Arc::new(crate::attachments::FileStore::from_settings(&settings)?);
        let live = live_kpis(&settings, redis.clone(), installation.id);
        if settings.kpi.poll_interval_ms > 0 {
            let interval = std::time::Duration::from_millis(settings.kpi.poll_interval_ms);
            tokio::spawn(crate::kpi::run(db.clone(), live.clone(), interval));
        }
        if settings.server.background {
            let jobs = Jobs {
                db: db.clone(),
                settings: settings.clone(),
                signer: signer.clone(),
                files: files.clone(),
                live: live.clone(),
                redis: redis.clone(),
            };
            jobs.spawn();
        }
        let feed = std::sync::Arc::new(crate::workspace::feed::Feed::default());
        tokio::spawn(crate::workspace::feed::run(db.clone(), feed.clone(), FEED_POLL));
        let state = AppState {
            feed,
            live: live.clone(),
            db: db.clone(),
            rate_limiter: RateLimiter::new(settings.web_form.rate_limit_per_minute),
            tokens: TokenCache::default(),
            attachments: files,
            settings,
            redis,
            signer: signer.clone(),
            reports: Default::default(),
        };
        crate::metrics::handle();
        let server = crate::http::server(state, listener, workers)?;
        tracing::info!(port, "listening");
        Ok(Application { port, server, db, live, signer })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT, then finishes in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// `[server] public_url`, or when it is empty the address this server listens on (`port` is the
/// one actually bound, so a random or changed port still gives working links).
pub fn public_url(server: &ServerSettings, port: u16) -> String {
    let configured = server.public_url.trim().trim_end_matches('/');
    let url = if configured.is_empty() {
        let machine = hostname::get().ok().and_then(|name| name.into_string().ok()).filter(|name| !name.is_empty());
        derived_public_url(&server.host, port, machine)
    } else {
        configured.to_owned()
    };
    if is_loopback(&url) && crate::config::app_env() == "production" {
        tracing::warn!(%url, "links mailed to requesters point to this machine's loopback address: set [server] public_url");
    }
    url
}

/// `http://host:port`; listening on every interface, the machine's name (else 127.0.0.1).
fn derived_public_url(host: &str, port: u16, machine: Option<String>) -> String {
    let host = match host.trim() {
        "" | "0.0.0.0" | "::" | "[::]" => {
            let name = machine.unwrap_or_else(|| "127.0.0.1".into());
            tracing::warn!(%name, "[server] public_url not set and listening on every interface: links name this host");
            name
        }
        ipv6 if ipv6.contains(':') && !ipv6.starts_with('[') => format!("[{ipv6}]"),
        host => host.to_owned(),
    };
    format!("http://{host}:{port}")
}

/// Whether `url` names this machine only (localhost, 127.0.0.0/8, ::1).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match authority.strip_prefix('[') {
        Some(ipv6) => ipv6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_is_derived_from_the_listen_address() {
        assert_eq!(derived_public_url("127.0.0.1", 39123, None), "http://127.0.0.1:39123");
        assert_eq!(derived_public_url("mesa.interna", 8081, None), "http://mesa.interna:8081");
        assert_eq!(derived_public_url("::1", 8080, None), "http://[::1]:8080");
        assert_eq!(derived_public_url("0.0.0.0", 8080, Some("srv-atencion-1".into())), "http://srv-atencion-1:8080");
        assert_eq!(derived_public_url("::", 8080, None), "http://127.0.0.1:8080");
    }

    #[test]
    fn loopback_urls_are_recognised() {
        for url in ["http://127.0.0.1:8080", "http://localhost/", "http://[::1]:80/x", "http://127.8.0.1", "LOCALHOST"]
        {
            assert!(is_loopback(url), "{url}");
        }
        for url in ["https://mesa.chilecompra.cl", "http://10.0.0.5:8080", "http://[2001:db8::1]/", "http://srv:8080"] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn a_configured_public_url_is_kept() {
        let mut server = Settings::defaults().server;
        server.public_url = "https://mesa.chilecompra.cl/".into();
        assert_eq!(public_url(&server, 1234), "https://mesa.chilecompra.cl");
        server.public_url = String::new();
        assert_eq!(public_url(&server, 1234), "http://127.0.0.1:1234");
    }
}
