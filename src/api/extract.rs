//! Request extraction with problem+json errors: JSON bodies (415/413/400/422 told apart) and the
//! actix configs that turn path and query errors into problems too.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};
use crate::startup::AppState;

/// A JSON body, with the raw bytes kept for idempotency hashing. Extraction itself never fails:
/// a bad body is reported by [`Json::into_value`] inside the handler, after every other
/// extractor succeeded, so a caller without a valid token or role gets 401/403 whatever they
/// sent (actix polls extractors together, and the first error to be ready would otherwise win).
pub struct Json<T> {
    parsed: Result<T, AppError>,
    pub raw: Bytes,
}

impl<T> Json<T> {
    pub fn into_value(self) -> Result<T, AppError> {
        self.parsed
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

async fn read_limited(mut payload: Payload, limit: usize) -> Result<Bytes, AppError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::BadRequest("No se pudo leer el cuerpo de la solicitud.".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Syntax errors are 400; well-formed JSON with wrong or missing fields is 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // `?` marks a map key that failed to parse; the map itself is the field to name.
        let path = e.path().to_string().replace(".?", "");
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                // serde reports a missing field at its parent; name the field itself.
                let missing = message.strip_prefix("missing field `").and_then(|m| m.split('`').next());
                let field = match (path.as_str(), missing) {
                    (".", Some(name)) => name.to_owned(),
                    (".", None) => "body".to_owned(),
                    (parent, Some(name)) => format!("{parent}.{name}"),
                    (_, None) => path,
                };
                // serde's own words, without the line/column suffix that means nothing to users.
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                AppError::Validation(vec![FieldError::new(field, message)])
            }
            _ => AppError::BadRequest("El cuerpo no es JSON válido.".into()),
        }
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let limit =
            req.app_data::<web::Data<AppState>>().map(|s| s.settings.server.max_body_bytes).unwrap_or(256 * 1024);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let payload = payload.take();
        Box::pin(async move {
            let raw = match (json, declared) {
                (false, _) => Err(AppError::UnsupportedMediaType),
                (_, Some(len)) if len > limit => Err(AppError::PayloadTooLarge),
                _ => read_limited(payload, limit).await,
            };
            Ok(match raw {
                Ok(raw) => Json { parsed: parse_json(&raw), raw },
                Err(e) => Json { parsed: Err(e), raw: Bytes::new() },
            })
        })
    }
}

/// Path segments that do not parse (e.g. a letter where an id goes) mean "no such resource".
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| AppError::NotFound("el recurso solicitado").into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let message = err.to_string();
        let message = message.trim_start_matches("Query deserialize error: ").to_owned();
        AppError::Validation(vec![FieldError::new("query", message)]).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        subject: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u8,
    }

    fn field_of(err: AppError) -> String {
        match err {
            AppError::Validation(errors) => errors[0].field.clone(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        assert!(matches!(parse_json::<Body>(b"{\"subject\": "), Err(AppError::BadRequest(_))));
        assert!(matches!(parse_json::<Body>(b"not json"), Err(AppError::BadRequest(_))));
    }

    #[test]
    fn data_errors_name_the_field() {
        assert_eq!(field_of(parse_json::<Body>(br#"{"subject": 1, "inner": {"count": 1}}"#).unwrap_err()), "subject");
        assert_eq!(
            field_of(parse_json::<Body>(br#"{"subject": "x", "inner": {"count": 300}}"#).unwrap_err()),
            "inner.count"
        );
        // A missing field is named itself, not its parent.
        assert_eq!(field_of(parse_json::<Body>(br#"{"inner": {"count": 1}}"#).unwrap_err()), "subject");
        assert_eq!(field_of(parse_json::<Body>(br#"{"subject": "x", "inner": {}}"#).unwrap_err()), "inner.count");
        assert_eq!(field_of(parse_json::<Body>(br#"[]"#).unwrap_err()), "body");
        let unknown = parse_json::<Body>(br#"{"subject": "x", "inner": {"count": 1}, "extra": 1}"#).unwrap_err();
        assert_eq!(field_of(unknown), "extra");
    }
}
