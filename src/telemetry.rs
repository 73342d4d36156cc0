//! Logging: human-readable locally, JSON in production; `RUST_LOG` overrides the filter.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};

pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // try_init: a second initialisation (tests) keeps the first subscriber.
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
