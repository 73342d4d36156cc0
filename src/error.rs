//! What can go wrong in a use case, and the RFC 9457 problem document that tells the caller. The
//! one mapping to HTTP statuses and responses is [`crate::http::problem`].

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
