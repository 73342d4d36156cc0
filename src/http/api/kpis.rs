//! Contact-center figures for supervisors: live KPIs (JSON and a Server-Sent Events stream),
//! their rebuild, and the staffing forecast (Erlang C).

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Query};
use crate::db::schema::queues;
use crate::domain::kpi::{self, Staffing, StaffingInput};
use crate::domain::live::Window;
use crate::domain::Channel;
use crate::error::{AppError, FieldError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;
use crate::kpi::Realtime;

/// Agents required for an interval by Erlang C, from the expected arrivals and AHT, the target
/// service level (answered within `answer_secs`), the maximum occupancy and the shrinkage.
#[utoipa::path(tag = "kpis", request_body = StaffingInput,
    responses((status = 200, body = Staffing), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/kpis/staffing")]
pub async fn staffing(_p: Auth<perm::ReadAgents>, body: Json<StaffingInput>) -> Result<web::Json<Staffing>, AppError> {
    let input = body.into_value()?;
    kpi::staffing(&input)
        .map(web::Json)
        .map_err(|errors| AppError::Validation(errors.into_iter().map(|(f, m)| FieldError::new(f, m)).collect()))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RealtimeQuery {
    /// Only this queue (slug).
    pub queue: Option<String>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// `15`, `30`, `60` (minutes, default 15) or `today`.
    pub window: Option<String>,
}

/// Which scopes to serve and how to name them, resolved once per request or stream.
struct View {
    window: Window,
    only: Option<String>,
    labels: HashMap<String, String>,
}

async fn view(state: &AppState, q: RealtimeQuery) -> Result<View, AppError> {
    let window = match q.window.as_deref() {
        None => Window::Minutes(15),
        Some(w) => {
            w.parse().map_err(|_| AppError::Validation(vec![FieldError::new("window", "use 15, 30, 60 o today")]))?
        }
    };
    let all: Vec<(i64, String, String)> =
        state.db.read(|c| Ok(queues::table.select((queues::id, queues::slug, queues::name)).load(c)?)).await?;
    let only = match (&q.queue, q.channel) {
        (Some(_), Some(_)) => {
            return Err(AppError::Validation(vec![FieldError::new("queue", "indique queue o channel, no ambos")]))
        }
        (Some(slug), None) => match all.iter().find(|(_, s, _)| s == slug) {
            Some((id, _, _)) => Some(format!("q:{id}")),
            None => return Err(AppError::Validation(vec![FieldError::new("queue", "no existe esa cola")])),
        },
        (None, Some(channel)) => Some(format!("ch:{channel}")),
        (None, None) => None,
    };
    let mut labels: HashMap<String, String> = all.into_iter().map(|(id, _, name)| (format!("q:{id}"), name)).collect();
    labels.insert("all".into(), "Todas las colas".into());
    for (channel, name) in [("email", "Correo"), ("web", "Web"), ("phone", "Teléfono"), ("api", "API")] {
        labels.insert(format!("ch:{channel}"), format!("Canal {name}"));
    }
    Ok(View { window, only, labels })
}

async fn figures(state: &AppState, view: &View) -> Realtime {
    let mut figures = state.live.realtime(view.window).await;
    // Today's trend alerts come from the database; if it cannot answer, the figures still do.
    match state.db.read(|c| crate::trends::today(c, chrono::Utc::now())).await {
        Ok(alerts) => figures.trend_alerts = alerts,
        Err(e) => tracing::warn!(error = %e, "trend alerts not read for the live KPIs"),
    }
    // Every queue has a tile, even before its first event.
    let wanted: Vec<&String> = match &view.only {
        Some(only) => vec![only],
        None => view.labels.keys().filter(|k| k.starts_with("q:")).collect(),
    };
    for scope in wanted {
        if !figures.scopes.iter().any(|s| &s.scope == scope) {
            figures.scopes.push(crate::domain::live::ScopeFigures { scope: scope.clone(), ..Default::default() });
        }
    }
    if let Some(only) = &view.only {
        figures.scopes.retain(|s| &s.scope == only);
    }
    figures.scopes.sort_by(|a, b| a.scope.cmp(&b.scope));
    for scope in &mut figures.scopes {
        scope.label = view.labels.get(&scope.scope).cloned();
    }
    figures
}

/// Live KPIs per queue, channel and overall: backlog, waiting contacts, agents by state, service
/// level, ASA, AHT, abandonment, first-reply percentiles and SLA compliance over the window,
/// plus today's trend alerts (`trend_alerts`). `stale: true` when the live store is unreachable or missed updates.
#[utoipa::path(tag = "kpis", params(RealtimeQuery),
    responses((status = 200, body = Realtime), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/kpis/realtime")]
pub async fn realtime(
    _p: Auth<perm::MonitorService>,
    state: web::Data<AppState>,
    q: Query<RealtimeQuery>,
) -> Result<web::Json<Realtime>, AppError> {
    let view = view(&state, q.into_value()?).await?;
    Ok(web::Json(figures(&state, &view).await))
}

/// How often a stream re-reads the figures with no new event (waiting times keep growing), and
/// the least time between two pushes.
const REFRESH: Duration = Duration::from_secs(5);
const THROTTLE: Duration = Duration::from_millis(100);

/// The same figures as `/kpis/realtime`, pushed as Server-Sent Events (`event: kpis`) whenever
/// they change: within a second of the event that changed them.
#[utoipa::path(tag = "kpis", params(RealtimeQuery),
    responses((status = 200, description = "text/event-stream of `kpis` events, each a Realtime JSON", content_type = "text/event-stream"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[get("/kpis/stream")]
pub async fn stream(
    _p: Auth<perm::MonitorService>,
    state: web::Data<AppState>,
    q: Query<RealtimeQuery>,
) -> Result<HttpResponse, AppError> {
    let view = view(&state, q.into_value()?).await?;
    let changes = state.live.subscribe();
    let events = futures_util::stream::unfold(
        (state, view, changes, String::new(), true),
        |(state, view, mut changes, last, first)| async move {
            if !first {
                // At most one frame per THROTTLE; a change made meanwhile is pushed right after it.
                tokio::time::sleep(THROTTLE).await;
                tokio::select! {
                    _ = changes.changed() => {}
                    _ = tokio::time::sleep(REFRESH) => {}
                }
            }
            let body = {
                let mut now = figures(&state, &view).await;
                let generated_at = now.generated_at;
                // Compare without the timestamp: only changed figures are pushed.
                now.generated_at = chrono::DateTime::UNIX_EPOCH;
                let key = serde_json::to_string(&now).unwrap_or_default();
                now.generated_at = generated_at;
                (key, serde_json::to_string(&now).unwrap_or_default())
            };
            let chunk = if body.0 == last {
                web::Bytes::from_static(b": sin cambios\n\n")
            } else {
                web::Bytes::from(format!("event: kpis\ndata: {}\n\n", body.1))
            };
            Some((Ok::<_, actix_web::Error>(chunk), (state, view, changes, body.0, false)))
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}

/// Recomputes the live KPIs from the database's event logs (also `atencion kpi rebuild`).
#[utoipa::path(tag = "kpis",
    responses((status = 200, body = Realtime), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[post("/kpis/rebuild")]
pub async fn rebuild(
    _p: Auth<perm::ManageAgents>,
    state: web::Data<AppState>,
) -> Result<web::Json<Realtime>, AppError> {
    state.live.rebuild(&state.db).await?;
    let view = view(&state, RealtimeQuery::default()).await?;
    Ok(web::Json(figures(&state, &view).await))
}
