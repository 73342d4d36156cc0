//! Liveness, readiness and metrics.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, Problem};
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    /// `postgres` or `sqlite`.
    pub database: &'static str,
    /// `up`, `down` (writes go on; live KPIs are served as stale and rebuilt when it is back) or
    /// `disabled` (no Redis configured: live KPIs in-process).
    pub redis: &'static str,
}

/// The process is alive.
#[utoipa::path(tag = "system", responses((status = 200, body = Health)))]
#[get("/health")]
pub async fn health() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Ready = can take writes: the database answers. Redis is reported, never required (tickets,
/// mail and calls keep being stored while it is away). While the database is known to be down
/// the answer is 503 at once, without waiting for a connection.
#[utoipa::path(tag = "system", responses((status = 200, body = Readiness), (status = 503, body = Problem, content_type = "application/problem+json")))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<Readiness>, AppError> {
    state
        .db
        .read(|c| {
            use diesel::connection::SimpleConnection;
            Ok(c.batch_execute("SELECT 1")?)
        })
        .await?;
    let database = match state.db.backend() {
        crate::db::Backend::Postgres => "postgres",
        crate::db::Backend::Sqlite => "sqlite",
    };
    Ok(web::Json(Readiness { status: "ok", database, redis: redis_state(&state).await }))
}

/// `up`, `down` or `disabled`; a Redis that does not answer quickly counts as down, so a slow
/// one never makes readiness probes time out.
async fn redis_state(state: &AppState) -> &'static str {
    let Some(client) = &state.redis else { return "disabled" };
    match ping(client).await {
        Ok(()) => "up",
        Err(e) => {
            tracing::debug!(error = %e, "redis does not answer");
            "down"
        }
    }
}

async fn ping(client: &redis::Client) -> anyhow::Result<()> {
    let check = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        anyhow::ensure!(pong == "PONG", "unexpected reply {pong}");
        Ok(())
    };
    tokio::time::timeout(Duration::from_millis(500), check).await.map_err(|_| anyhow::anyhow!("timeout"))?
}

/// Prometheus text exposition, with `redis_up` (1 or 0; absent when no Redis is configured).
#[utoipa::path(tag = "system", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = crate::metrics::handle().render();
    // This replica's own view, not a process-wide recorder value: replicas (and test apps) in
    // one process may see different Redis servers.
    let up = match redis_state(&state).await {
        "disabled" => None,
        s => Some(u8::from(s == "up")),
    };
    if let Some(up) = up {
        text.push_str(&format!(
            "# HELP redis_up Whether the configured Redis answers a PING (1) or not (0).\n# TYPE redis_up gauge\nredis_up {up}\n"
        ));
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
