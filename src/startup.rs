//! Wires configuration, storage and HTTP together.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Compress, DefaultHeaders};
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, extract, openapi::ApiDoc};
use crate::auth::TokenCache;
use crate::channels::web::{self as web_channel, RateLimiter};
use crate::config::Settings;
use crate::db::{backend, Db};
use crate::error::AppError;

/// Shared by every request handler.
pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub tokens: TokenCache,
    pub rate_limiter: RateLimiter,
    pub redis: Option<redis::Client>,
    pub attachments: std::sync::Arc<crate::channels::email::intake::FileStore>,
    pub live: std::sync::Arc<crate::kpi::Live>,
}

/// Connects to the configured database and applies pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
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
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = open_database(&settings).await?;
        let redis = settings.redis_url().map(redis::Client::open).transpose()?;
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let port = listener.local_addr()?.port();
        let workers = settings.server.workers;
        let files =
            std::sync::Arc::new(crate::channels::email::intake::FileStore::new(&settings.email.attachments_dir));
        for mailbox in &settings.email.mailboxes {
            let task =
                crate::channels::email::imap::run(db.clone(), settings.email.clone(), files.clone(), mailbox.clone());
            tokio::spawn(task);
        }
        if !settings.smtp.url.trim().is_empty() {
            tokio::spawn(crate::channels::email::outbox::run(
                db.clone(),
                settings.email.clone(),
                settings.smtp.clone(),
                settings.server.public_url.clone(),
            ));
        }
        if settings.sla.scan_interval_secs > 0 {
            let interval = std::time::Duration::from_secs(settings.sla.scan_interval_secs);
            tokio::spawn(crate::sla::scanner::run(db.clone(), interval, settings.sla.scan_batch.max(1)));
            tokio::spawn(crate::departments::sla::run(db.clone(), interval, settings.sla.scan_batch.max(1)));
        }
        if settings.routing.rotation_interval_secs > 0 {
            let interval = std::time::Duration::from_secs(settings.routing.rotation_interval_secs);
            tokio::spawn(crate::routing::rotation::run(db.clone(), interval));
        }
        let store = match &redis {
            Some(client) => crate::kpi::KpiStore::redis(client.clone(), &settings.redis.key_prefix),
            None => crate::kpi::KpiStore::memory(),
        };
        let live = std::sync::Arc::new(crate::kpi::Live::new(
            store,
            settings.kpi.answer_target_secs,
            settings.kpi.service_level_target,
        ));
        if settings.kpi.poll_interval_ms > 0 {
            let interval = std::time::Duration::from_millis(settings.kpi.poll_interval_ms);
            tokio::spawn(crate::kpi::run(db.clone(), live.clone(), interval));
        }
        if settings.reports.refresh_interval_secs > 0 {
            let interval = std::time::Duration::from_secs(settings.reports.refresh_interval_secs);
            tokio::spawn(crate::reports::rollup::run(db.clone(), interval));
        }
        if settings.trends.enabled && settings.trends.scan_interval_secs > 0 {
            let interval = std::time::Duration::from_secs(settings.trends.scan_interval_secs);
            tokio::spawn(crate::trends::scanner::run(db.clone(), live.clone(), interval, settings.trends.params()));
        }
        if settings.departments.poll_interval_ms > 0 {
            tokio::spawn(crate::departments::webhooks::run(db.clone(), settings.departments.clone()));
            if let Some(client) = redis.clone() {
                let prefix = settings.redis.key_prefix.clone();
                tokio::spawn(crate::departments::stream::run(db.clone(), client, prefix, settings.departments.clone()));
            }
        }
        let state = web::Data::new(AppState {
            live: live.clone(),
            db: db.clone(),
            rate_limiter: RateLimiter::new(settings.web_form.rate_limit_per_minute),
            tokens: TokenCache::default(),
            attachments: std::sync::Arc::new(crate::channels::email::intake::FileStore::new(
                &settings.email.attachments_dir,
            )),
            settings,
            redis,
        });
        crate::metrics::handle();
        let openapi = ApiDoc::openapi();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(crate::metrics::middleware))
                .wrap(Compress::default())
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap(TracingLogger::<crate::telemetry::RedactedSpans>::new())
                .app_data(state.clone())
                .app_data(extract::path_config())
                .app_data(extract::query_config())
                .service(api::system::health)
                .service(api::system::ready)
                .service(api::system::metrics)
                // Before the /api/v1 scope, which would otherwise answer 404 for the document.
                .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", openapi.clone()))
                .service(web::scope("/api/v1").configure(api::configure))
                .route("/", web::get().to(web_channel::page))
                .route("/formulario", web::get().to(web_channel::page))
                .route("/casos/{token}", web::get().to(web_channel::case::case_page))
                .route("/wallboard", web::get().to(crate::kpi::wallboard::page))
                .route("/encuesta/{token}", web::get().to(crate::quality::page::survey_page))
                .route("/encuesta/{token}", web::post().to(crate::quality::page::survey_submit))
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if workers > 0 {
            server = server.workers(workers);
        }
        tracing::info!(port, "listening");
        Ok(Application { port, server: server.run(), db, live })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT, then finishes in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    let error = if req.method() == actix_web::http::Method::GET || req.method() == actix_web::http::Method::HEAD {
        AppError::NotFound("esa dirección")
    } else {
        AppError::NotFound("esa operación en esta dirección")
    };
    error.error_response()
}
