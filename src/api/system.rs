//! Liveness, readiness and metrics.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, Problem};
use crate::startup::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    /// `postgres` or `sqlite`.
    pub database: &'static str,
    /// `ok`, or `not_configured` when running with in-process KPIs.
    pub redis: &'static str,
}

/// The process is alive.
#[utoipa::path(tag = "system", responses((status = 200, body = Health)))]
#[get("/health")]
pub async fn health() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// The database (and Redis, when configured) answer.
#[utoipa::path(tag = "system", responses((status = 200, body = Readiness), (status = 503, body = Problem, content_type = "application/problem+json")))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<Readiness>, AppError> {
    state
        .db
        .read(|c| {
            use diesel::connection::SimpleConnection;
            c.batch_execute("SELECT 1").map_err(|e| AppError::Unavailable(format!("database: {e}")))
        })
        .await?;
    let redis = match &state.redis {
        None => "not_configured",
        Some(client) => {
            ping(client).await.map_err(|e| AppError::Unavailable(format!("redis: {e}")))?;
            "ok"
        }
    };
    let database = match state.db.backend() {
        crate::db::Backend::Postgres => "postgres",
        crate::db::Backend::Sqlite => "sqlite",
    };
    Ok(web::Json(Readiness { status: "ok", database, redis }))
}

async fn ping(client: &redis::Client) -> anyhow::Result<()> {
    let check = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        anyhow::ensure!(pong == "PONG", "unexpected reply {pong}");
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(2), check).await.map_err(|_| anyhow::anyhow!("timeout"))?
}

/// Prometheus text exposition.
#[utoipa::path(tag = "system", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::metrics::handle().render())
}
