//! Wires configuration, storage and HTTP together.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Compress, DefaultHeaders};
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, extract};
use crate::auth::TokenCache;
use crate::background::Jobs;
use crate::channels::web::{self as web_channel, RateLimiter};
use crate::config::{ServerSettings, Settings};
use crate::db::{backend, Db};
use crate::error::AppError;
use crate::secrets::Signer;

/// How often the workspace feed reads what other replicas committed (its own commits wake it).
const FEED_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Shared by every request handler.
pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub tokens: TokenCache,
    pub rate_limiter: RateLimiter,
    pub redis: Option<redis::Client>,
    pub attachments: std::sync::Arc<crate::attachments::FileStore>,
    pub live: std::sync::Arc<crate::kpi::Live>,
    /// Signs and verifies the tokens of case links, survey links and reply addresses.
    pub signer: std::sync::Arc<Signer>,
    /// The workspace's live feed of this replica, read by the agents' streams.
    pub feed: std::sync::Arc<crate::workspace::feed::Feed>,
    /// Shares the report rollup's refreshes between the reports asked for at once.
    pub reports: std::sync::Arc<crate::reports::rollup::Freshness>,
}

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
        let state = web::Data::new(AppState {
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
        });
        crate::metrics::handle();
        let mut openapi = api::openapi::document();
        api::request_rules::upload_limits(&mut openapi, &state.settings.attachments);
        let routes = web::Data::new(KnownRoutes::new(&openapi));
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(crate::metrics::middleware))
                .wrap(Compress::default())
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap(TracingLogger::<crate::telemetry::RedactedSpans>::new())
                .app_data(state.clone())
                .app_data(routes.clone())
                .app_data(extract::path_config())
                .app_data(extract::query_config())
                .service(api::system::health)
                .service(api::system::ready)
                .service(api::system::metrics)
                // Before the /api/v1 scope, which would otherwise answer 404 for the document.
                .service(SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/api/v1/openapi.json", openapi.clone()))
                .service(web::scope("/api/v1").configure(api::configure))
                .route("/", web::get().to(web_channel::page))
                .route("/formulario", web::get().to(web_channel::page))
                .route("/casos/{token}", web::get().to(web_channel::case::case_page))
                .route("/casos/{token}/archivos/{id}", web::get().to(web_channel::case::case_file))
                .route("/wallboard", web::get().to(crate::kpi::wallboard::page))
                .route("/encuesta/{token}", web::get().to(crate::quality::page::survey_page))
                .route("/encuesta/{token}", web::post().to(crate::quality::page::survey_submit))
                .route("/app", web::get().to(crate::workspace::page::page))
                .route("/app/assets/{name}", web::get().to(crate::workspace::page::asset))
                .route("/app/assets/{version}/{name}", web::get().to(crate::workspace::page::versioned_asset))
                .route("/app/{tail:.*}", web::get().to(crate::workspace::page::page))
                .default_service(web::to(unrouted))
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if workers > 0 {
            server = server.workers(workers);
        }
        tracing::info!(port, "listening");
        Ok(Application { port, server: server.run(), db, live, signer })
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

/// The pages served outside the API document, with their methods.
const PAGES: &[(&str, &[&str])] = &[
    ("/", &["GET"]),
    ("/formulario", &["GET"]),
    ("/casos/{token}", &["GET"]),
    ("/casos/{token}/archivos/{id}", &["GET"]),
    ("/wallboard", &["GET"]),
    ("/encuesta/{token}", &["GET", "POST"]),
    ("/app", &["GET"]),
    ("/app/{screen}", &["GET"]),
    ("/app/{screen}/{item}", &["GET"]),
];

/// Every address the service answers (the OpenAPI document's paths and the pages) with its
/// methods: a request no route took is a 405 naming them when its address is known, else a 404.
pub struct KnownRoutes(Vec<(Vec<String>, Vec<&'static str>)>);

impl KnownRoutes {
    pub fn new(doc: &serde_json::Value) -> KnownRoutes {
        let split = |path: &str| path.split('/').map(str::to_owned).collect::<Vec<_>>();
        let mut routes: Vec<_> = PAGES.iter().map(|(path, methods)| (split(path), methods.to_vec())).collect();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .into_iter()
                .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
                .collect();
            routes.push((split(path), methods));
        }
        KnownRoutes(routes)
    }

    /// The methods of `path`, from the templates that match it with the most literal segments
    /// (`/routing/rules/test` is not `/routing/rules/{id}`); `None` for an unknown address.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let segments: Vec<&str> = path.split('/').collect();
        let literal = |t: &str| !t.starts_with('{');
        let matches = |template: &[String]| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| if literal(t) { t == s } else { !s.is_empty() })
        };
        let found: Vec<_> = self.0.iter().filter(|(t, _)| matches(t)).collect();
        let best = found.iter().map(|(t, _)| t.iter().filter(|s| literal(s)).count()).max()?;
        let mut methods: Vec<&'static str> = found
            .iter()
            .filter(|(t, _)| t.iter().filter(|s| literal(s)).count() == best)
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        methods.sort_by_key(|m| ["GET", "POST", "PUT", "PATCH", "DELETE"].iter().position(|x| x == m));
        methods.dedup();
        Some(methods)
    }
}

/// What no route took: `OPTIONS` lists the methods of a known address, any other method it does
/// not answer is a 405 with `Allow`, and an unknown address is a 404.
async fn unrouted(req: actix_web::HttpRequest, routes: web::Data<KnownRoutes>) -> HttpResponse {
    use actix_web::http::{header, Method};
    use actix_web::ResponseError;
    if let Some(allow) = routes.allowed(req.path()).filter(|m| !m.is_empty()).map(|m| m.join(", ")) {
        if req.method() == Method::OPTIONS {
            return HttpResponse::NoContent().insert_header((header::ALLOW, allow)).finish();
        }
        return AppError::MethodNotAllowed { allow }.error_response();
    }
    let error = if req.method() == Method::GET || req.method() == Method::HEAD {
        AppError::NotFound("esa dirección")
    } else {
        AppError::NotFound("esa operación en esta dirección")
    };
    error.error_response()
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

    #[test]
    fn known_addresses_list_their_methods() {
        let routes = KnownRoutes::new(&api::openapi::document());
        assert_eq!(routes.allowed("/api/v1/tickets"), Some(vec!["GET", "POST"]));
        assert_eq!(routes.allowed("/api/v1/tickets/AU-2026-000001"), Some(vec!["GET", "PATCH"]));
        assert_eq!(routes.allowed("/api/v1/routing/rules/test"), Some(vec!["POST"]));
        assert_eq!(routes.allowed("/api/v1/routing/rules/7"), Some(vec!["GET", "PUT", "DELETE"]));
        assert_eq!(routes.allowed("/encuesta/abc"), Some(vec!["GET", "POST"]));
        assert_eq!(routes.allowed("/health"), Some(vec!["GET"]));
        assert_eq!(routes.allowed("/api/v1/tickets/"), None);
        assert_eq!(routes.allowed("/api/v1/nada"), None);
    }
}
