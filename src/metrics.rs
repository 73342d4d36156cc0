//! Prometheus metrics: request counts and latencies by route and status, tickets by channel,
//! round trips to the live KPI store, how long the live KPI projector's steps take, and how far
//! the followers of the committed log are behind.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::Channel;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once (tests start many apps in one process).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
            )
            .expect("valid buckets")
            .set_buckets_for_metric(
                Matcher::Full("kpi_projector_step_seconds".into()),
                &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0],
            )
            .expect("valid buckets")
            .install_recorder()
            .expect("metrics recorder installed once")
    })
}

pub fn ticket_created(channel: Channel) {
    metrics::counter!("tickets_created_total", "channel" => channel.as_str()).increment(1);
}

/// One round trip to the live KPI store's Redis (a command or a pipeline), by what it was for.
pub fn kpi_round_trip(purpose: &'static str) {
    metrics::counter!("kpi_redis_round_trips_total", "purpose" => purpose).increment(1);
}

/// One step of the live KPI projector (every event log read past its cursor and applied): an
/// event waits for up to two of them before the wallboard can show it.
pub fn kpi_projector_step(took: Duration) {
    metrics::histogram!("kpi_projector_step_seconds").record(took.as_secs_f64());
}

/// Events committed and not yet followed by the log's followers (notifications, acknowledgements,
/// surveys, SLA notices), as this replica last saw it: a figure that keeps growing means a
/// follower fails on some event and holds the others back (see `log_followers_failures_total`).
pub fn log_followers_behind(events: i64) {
    metrics::gauge!("log_followers_behind").set(events.max(0) as f64);
}

/// A step of the log's followers failed (it is retried, from the same position).
pub fn log_followers_failed() {
    metrics::counter!("log_followers_failures_total").increment(1);
}
