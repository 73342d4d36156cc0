//! The one mapping from failures to HTTP: RFC 9457 `application/problem+json`, Spanish text,
//! and never an internal error message in a response.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::ticket::TransitionError;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Field path, e.g. `requester.email`.
    pub field: String,
    /// What is wrong, in Spanish.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI identifying the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Invalid fields (422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Reference to quote to support for 5xx errors; the details are in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}

/// What [`AppError::nul_character`] tells people.
pub const NUL_MESSAGE: &str = "El texto contiene el carácter nulo (U+0000), que no se admite.";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A known address asked with a method it does not answer; `allow` lists those it does.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid transition: {0}")]
    Transition(#[from] TransitionError),
    #[error("missing or invalid token")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("wrong email or password")]
    BadCredentials,
    #[error("missing or wrong CSRF token")]
    CsrfMismatch,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A file, or the files together, over a limit: 413 naming the field (`files[2]`).
    #[error("file too large")]
    TooLarge(FieldError),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    /// The one rule for the NUL character (U+0000) in text, on every backend: Postgres cannot
    /// store it in text columns and SQLite would keep it, so a request carrying one is a 422
    /// naming the field (`requester.name`, a query parameter or a form field).
    pub fn nul_character(field: impl Into<String>) -> Self {
        AppError::field(field, NUL_MESSAGE)
    }

    pub fn from_pool(e: diesel::r2d2::PoolError) -> Self {
        AppError::Unavailable(format!("database pool: {e}"))
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str, Option<String>) {
        use AppError::*;
        match self {
            Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation", "Datos no válidos", None),
            BadRequest(d) => (StatusCode::BAD_REQUEST, "bad-request", "Solicitud mal formada", Some(d.clone())),
            NotFound(what) => (StatusCode::NOT_FOUND, "not-found", "No encontrado", Some(format!("No existe {what}."))),
            MethodNotAllowed { allow } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Método no permitido",
                Some(format!("Esta dirección admite: {allow}.")),
            ),
            Conflict(d) => (StatusCode::CONFLICT, "conflict", "Conflicto", Some(d.clone())),
            Transition(e) => {
                (StatusCode::CONFLICT, "invalid-transition", "Cambio de estado no permitido", Some(e.to_string()))
            }
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "No autenticado",
                Some("Inicie sesión, o envíe un token válido en «Authorization: Bearer».".into()),
            ),
            Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Acceso denegado",
                Some("Su rol no permite esta operación.".into()),
            ),
            BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "bad-credentials",
                "No se pudo iniciar sesión",
                Some("El correo electrónico o la contraseña no son correctos.".into()),
            ),
            CsrfMismatch => (
                StatusCode::FORBIDDEN,
                "csrf",
                "Acceso denegado",
                Some("Falta el encabezado X-CSRF-Token de su sesión, o no coincide. Recargue la página.".into()),
            ),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Contenido demasiado grande", None),
            TooLarge(e) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Contenido demasiado grande",
                Some(e.message.clone()),
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Tipo de contenido no soportado",
                Some("Envíe «Content-Type: application/json».".into()),
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Demasiadas solicitudes",
                Some("Espere un momento antes de volver a intentarlo.".into()),
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Servicio no disponible",
                Some("Intente nuevamente en unos segundos.".into()),
            ),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Error interno", None),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, kind, title, detail) = self.parts();
        let error_id = match self {
            AppError::Internal(e) => {
                let id = format!("{:016x}", rand::random::<u64>());
                tracing::error!(error_id = %id, error = ?e, "internal error");
                Some(id)
            }
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "service unavailable");
                None
            }
            _ => None,
        };
        Problem {
            kind: format!("urn:atencion:problem:{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors: match self {
                AppError::Validation(errors) => errors.clone(),
                AppError::TooLarge(error) => vec![error.clone()],
                _ => Vec::new(),
            },
            error_id,
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match self {
            AppError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            AppError::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            AppError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            AppError::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        response.json(problem)
    }
}

impl From<crate::domain::user::Forbidden> for AppError {
    fn from(_: crate::domain::user::Forbidden) -> Self {
        AppError::Forbidden
    }
}

impl From<DieselError> for AppError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => AppError::NotFound("el recurso solicitado"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::Conflict("Ya existe un registro con esos datos.".into())
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                AppError::Conflict("El registro está referenciado o referencia a otro que no existe.".into())
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info)
            | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, info) => {
                AppError::Unavailable(info.message().to_owned())
            }
            // The connection failed mid-transaction (e.g. the server restarted) and cannot be
            // used again; the pool discards it, so a retry gets a fresh one.
            DieselError::BrokenTransactionManager => AppError::Unavailable("broken connection".into()),
            other => AppError::Internal(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn internal_errors_do_not_leak() {
        let err = AppError::Internal(anyhow::anyhow!("relation \"tickets\" password=hunter2"));
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = response.headers().get(header::CONTENT_TYPE).unwrap().clone();
        assert_eq!(content_type, "application/problem+json");
        let body = to_bytes(response.into_body()).await.unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("relation"), "{text}");
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(json["status"], 500);
        assert_eq!(json["error_id"].as_str().unwrap().len(), 16);
    }

    #[test]
    fn diesel_errors_map_to_http() {
        assert_eq!(AppError::from(DieselError::NotFound).status_code(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::from(DieselError::RollbackTransaction).status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            AppError::from(DieselError::BrokenTransactionManager).status_code(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn validation_problem_lists_fields() {
        let p = AppError::field("subject", "es obligatorio").problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.kind, "urn:atencion:problem:validation");
        assert_eq!(p.errors, vec![FieldError::new("subject", "es obligatorio")]);
    }
}
