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

/// Path segments that are credentials: the CTI token and the satisfaction survey's link.
const SECRET_SEGMENTS: &[&str] = &["/cti/", "/encuesta/", "/public/surveys/"];

/// Masks what follows any of [`SECRET_SEGMENTS`].
pub fn redact_path(path: &str) -> String {
    for segment in SECRET_SEGMENTS {
        if let Some(i) = path.find(segment) {
            return format!("{}{segment}***", &path[..i]);
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::redact_path;

    #[test]
    fn cti_tokens_never_reach_the_logs() {
        assert_eq!(redact_path("/api/v1/channels/phone/cti/atn_secret"), "/api/v1/channels/phone/cti/***");
        assert_eq!(redact_path("/api/v1/tickets/7"), "/api/v1/tickets/7");
        assert_eq!(redact_path("/encuesta/7-1796333465-5f77bd30"), "/encuesta/***");
        assert_eq!(redact_path("/api/v1/public/surveys/7-1-ab"), "/api/v1/public/surveys/***");
    }
}
