//! The survey page (`/encuesta/{token}`): a small Spanish form served by the service, with no
//! login, no script and nothing loaded from elsewhere, readable on a phone. It posts back to
//! itself, form-encoded, as any browser does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use crate::error::AppError;
use crate::http::public::page::{escape, public_page};
use crate::http::state::AppState;
use crate::quality::csat::{self, SurveyAnswer, TokenCheck};

const STYLE: &str = "body{font-family:Arial,sans-serif;margin:0;background:#f4f6f8;color:#1d2733;font-size:17px}\
main{max-width:640px;margin:0 auto;padding:16px}h1{font-size:1.35em;margin:.4em 0}\
.caja{background:#fff;border-radius:8px;padding:16px;margin:12px 0}fieldset{border:0;margin:0 0 18px;padding:0}\
legend{font-weight:bold;margin-bottom:10px}.escala{display:flex;gap:6px;flex-wrap:wrap}\
.escala label,.sino label{flex:1 1 36px;min-width:36px;text-align:center;border:2px solid #0b5394;border-radius:8px;\
padding:10px 0;cursor:pointer;font-weight:bold}.escala input,.sino input{position:absolute;opacity:0}\
.escala input:checked+span,.sino input:checked+span{color:#fff}.escala label:has(input:checked),\
.sino label:has(input:checked){background:#0b5394;color:#fff}.escala input:focus-visible+span,\
.sino input:focus-visible+span{outline:3px solid #f1c232}.sino{display:flex;gap:8px}.sino label{flex:0 1 90px}\
.ayuda{color:#5b6b7b;font-size:.85em;margin:6px 0 0}textarea{width:100%;box-sizing:border-box;min-height:110px;\
font:inherit;padding:8px;border:1px solid #9aa7b4;border-radius:6px}button{margin-top:14px;width:100%;padding:14px;\
font-size:1.05em;background:#0b5394;color:#fff;border:0;border-radius:8px}.error{background:#fde8e8;\
border-left:4px solid #c00;padding:10px;border-radius:6px}.meta{color:#5b6b7b;font-size:.85em}";

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
    public_page(status, title, STYLE, body, csp)
}

fn notice(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    page(status, title, &format!("<h1>{}</h1><div class=\"caja\"><p>{}</p></div>", escape(title), escape(text)))
}

fn invalid() -> HttpResponse {
    notice(StatusCode::NOT_FOUND, "Enlace no válido", "Revise que copió el enlace completo desde el correo.")
}

fn expired() -> HttpResponse {
    notice(
        StatusCode::GONE,
        "Encuesta vencida",
        "El plazo para responder esta encuesta terminó. Gracias de todas formas por su interés.",
    )
}

fn answered() -> HttpResponse {
    notice(StatusCode::CONFLICT, "Encuesta ya respondida", csat::ALREADY_ANSWERED)
}

fn unavailable() -> HttpResponse {
    notice(StatusCode::SERVICE_UNAVAILABLE, "Servicio no disponible", "Intente nuevamente en unos minutos.")
}

/// What the requester filled in, kept to show the form again after an error.
#[derive(Default)]
struct Filled {
    score: Option<i64>,
    resolved: Option<bool>,
    comment: String,
}

fn form(number: &str, subject: &str, filled: &Filled, errors: &[String]) -> String {
    let mut scale = String::new();
    for n in 1..=7 {
        let checked = if filled.score == Some(n) { " checked" } else { "" };
        scale.push_str(&format!(
            "<label><input type=\"radio\" name=\"puntaje\" value=\"{n}\" required{checked}><span>{n}</span></label>"
        ));
    }
    let yes_no = [("si", "Sí", Some(true)), ("no", "No", Some(false))]
        .iter()
        .map(|(value, text, v)| {
            let checked = if filled.resolved == *v { " checked" } else { "" };
            format!(
                "<label><input type=\"radio\" name=\"resuelto\" value=\"{value}\"{checked}><span>{text}</span></label>"
            )
        })
        .collect::<String>();
    let error = if errors.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            errors.iter().map(|e| escape(e)).collect::<Vec<_>>().join("<br>")
        )
    };
    format!(
        "<h1>¿Cómo lo atendimos?</h1><p class=\"meta\">Caso {} · {}</p>{error}\
         <form method=\"post\" class=\"caja\">\
         <fieldset><legend>1. ¿Qué nota le pone a la atención recibida?</legend>\
         <div class=\"escala\">{scale}</div><p class=\"ayuda\">1 = muy mala · 7 = excelente</p></fieldset>\
         <fieldset><legend>2. ¿Se resolvió su problema? <span class=\"ayuda\">(opcional)</span></legend>\
         <div class=\"sino\">{yes_no}</div></fieldset>\
         <label for=\"comentario\"><b>3. Comentarios</b> <span class=\"ayuda\">(opcional)</span></label>\
         <textarea id=\"comentario\" name=\"comentario\" maxlength=\"{}\">{}</textarea>\
         <button type=\"submit\">Enviar respuesta</button></form>",
        escape(number),
        escape(subject),
        csat::MAX_COMMENT,
        escape(&filled.comment),
    )
}

fn check(state: &AppState, token: &str) -> TokenCheck {
    state.signer.check_survey_token(token, Utc::now())
}

/// The page for a refusal from the database side.
fn refused(e: AppError) -> HttpResponse {
    match e {
        AppError::NotFound(_) => invalid(),
        AppError::Conflict(_) => answered(),
        other => {
            tracing::warn!(error = %other, "survey page unavailable");
            unavailable()
        }
    }
}

/// `GET /encuesta/{token}`.
pub async fn survey_page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let id = match check(&state, &token) {
        TokenCheck::Invalid => return invalid(),
        TokenCheck::Expired(_) => return expired(),
        TokenCheck::Valid(id) => id,
    };
    match state.db.read(move |c| csat::open_survey(c, id)).await {
        Ok((number, subject)) => {
            page(StatusCode::OK, "Encuesta de satisfacción", &form(&number, &subject, &Filled::default(), &[]))
        }
        Err(e) => refused(e),
    }
}

/// The form's fields: `puntaje` (1–7), `resuelto` (`si`/`no`, optional), `comentario`.
fn read_form(body: &[u8]) -> (Filled, Option<String>) {
    let mut filled = Filled::default();
    let mut problem = None;
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "puntaje" => match value.trim().parse() {
                Ok(n) => filled.score = Some(n),
                Err(_) => problem = Some("Elija una nota de 1 a 7.".to_owned()),
            },
            "resuelto" => {
                filled.resolved = match value.as_ref() {
                    "si" | "sí" => Some(true),
                    "no" => Some(false),
                    _ => None,
                }
            }
            "comentario" => filled.comment = value.into_owned(),
            _ => {}
        }
    }
    (filled, problem)
}

/// The answer budget per client IP: the web form's setting, counted apart from it.
pub fn rate_limit(state: &AppState, req: &HttpRequest) -> Result<(), AppError> {
    let ip = crate::http::public::client_ip(req, state.settings.web_form.trust_proxy_headers);
    state.rate_limiter.check(&format!("encuesta:{ip}"))
}

/// `POST /encuesta/{token}` (form-encoded).
pub async fn survey_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(AppError::RateLimited { retry_after_secs }) = rate_limit(&state, &req) {
        let mut response = notice(
            StatusCode::TOO_MANY_REQUESTS,
            "Demasiados intentos",
            "Espere un momento antes de volver a intentarlo.",
        );
        if let Ok(value) = retry_after_secs.to_string().parse() {
            response.headers_mut().insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return response;
    }
    let id = match check(&state, &token) {
        TokenCheck::Invalid => return invalid(),
        TokenCheck::Expired(_) => return expired(),
        TokenCheck::Valid(id) => id,
    };
    let (filled, problem) = read_form(&body);
    let answer = SurveyAnswer {
        score: filled.score.unwrap_or(0),
        comment: Some(filled.comment.clone()),
        resolved: filled.resolved,
    };
    let outcome = match problem {
        Some(p) => Err(AppError::field("score", p)),
        None if filled.comment.contains('\0') => Err(AppError::nul_character("comment")),
        None => state.db.write(move |c| csat::answer(c, id, answer)).await,
    };
    match outcome {
        Ok(()) => notice(
            StatusCode::OK,
            "¡Gracias por su respuesta!",
            "Su opinión nos ayuda a mejorar la atención de la Mesa de Ayuda ChileCompra.",
        ),
        Err(AppError::Validation(errors)) => {
            let (number, subject) = match state.db.read(move |c| csat::open_survey(c, id)).await {
                Ok(t) => t,
                Err(e) => return refused(e),
            };
            let messages: Vec<String> = errors
                .iter()
                .map(|e| match e.field.as_str() {
                    "score" => "Elija una nota de 1 a 7.".to_owned(),
                    _ if e.message == crate::error::NUL_MESSAGE => e.message.clone(),
                    _ => format!("El comentario admite como máximo {} caracteres.", csat::MAX_COMMENT),
                })
                .collect();
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Encuesta de satisfacción",
                &form(&number, &subject, &filled, &messages),
            )
        }
        Err(e) => refused(e),
    }
}

/// The answer of an expired link in the JSON API, as a problem document (410).
pub fn expired_problem() -> HttpResponse {
    let problem = crate::error::Problem {
        kind: "urn:atencion:problem:gone".into(),
        title: "Encuesta vencida".into(),
        status: 410,
        detail: Some("El plazo para responder esta encuesta terminó.".into()),
        errors: Vec::new(),
        error_id: None,
    };
    HttpResponse::Gone().content_type("application/problem+json").json(problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_read_like_a_browser_sends_them() {
        let (f, p) = read_form(b"puntaje=6&resuelto=si&comentario=Muy+r%C3%A1pido%2C+gracias");
        assert_eq!((f.score, f.resolved, f.comment.as_str(), p), (Some(6), Some(true), "Muy rápido, gracias", None));
        let (f, p) = read_form(b"comentario=");
        assert_eq!((f.score, f.resolved), (None, None));
        assert!(p.is_none());
        assert!(read_form(b"puntaje=siete").1.is_some());
    }

    #[test]
    fn the_form_escapes_and_keeps_what_was_filled() {
        let filled = Filled { score: Some(3), resolved: Some(false), comment: "<b>hola</b>".into() };
        let html = form("AU-2026-000001", "Clave <bloqueada>", &filled, &["Elija una nota de 1 a 7.".into()]);
        assert!(html.contains("value=\"3\" required checked"));
        assert!(html.contains("value=\"no\" checked"));
        assert!(html.contains("&lt;b&gt;hola&lt;/b&gt;") && html.contains("Clave &lt;bloqueada&gt;"));
        assert!(!html.contains("<script") && !html.contains("http"));
    }
}
