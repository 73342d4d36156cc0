//! The one mapping from failures to HTTP: RFC 9457 `application/problem+json`, Spanish text,
//! and never an internal error message in a response.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::error::{AppError, Problem};

impl AppError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;
    use actix_web::body::to_bytes;
    use diesel::result::Error as DieselError;

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
