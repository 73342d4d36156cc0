//! The HTTP layer: every handler, extractor and middleware of the service — the JSON API, the
//! public pages (web form, case page, survey), the wallboard and the workspace — over the use
//! cases below it. No module outside this one (and the composition in `startup`) knows actix.

pub mod api;
pub mod auth;
pub mod idempotency;
pub mod middleware;
pub mod problem;
pub mod public;
pub mod state;
pub mod survey;
pub mod upload;
pub mod wallboard;
pub mod workspace;

use std::net::TcpListener;

pub use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Compress, DefaultHeaders};
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::AppError;
use api::extract;
use state::AppState;

/// The HTTP server over `state`, listening on `listener` (`workers` threads, 0 for one per core).
pub fn server(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let mut openapi = api::openapi::document();
    api::request_rules::upload_limits(&mut openapi, &state.settings.attachments);
    let routes = web::Data::new(KnownRoutes::new(&openapi));
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(middleware::metrics))
            .wrap(Compress::default())
            .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .wrap(TracingLogger::<middleware::RedactedSpans>::new())
            .app_data(state.clone())
            .app_data(routes.clone())
            .app_data(extract::path_config())
            .app_data(extract::query_config())
            .service(api::system::health)
            .service(api::system::ready)
            .service(api::system::metrics)
            // Before the /api/v1 scope, which would otherwise answer 404 for the document.
            .service(SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/api/v1/openapi.json", openapi.clone()))
            .service(web::scope("/api/v1").configure(api::configure))
            .route("/", web::get().to(public::page))
            .route("/formulario", web::get().to(public::page))
            .route("/casos/{token}", web::get().to(public::case::case_page))
            .route("/casos/{token}/archivos/{id}", web::get().to(public::case::case_file))
            .route("/wallboard", web::get().to(wallboard::page))
            .route("/encuesta/{token}", web::get().to(survey::survey_page))
            .route("/encuesta/{token}", web::post().to(survey::survey_submit))
            .route("/app", web::get().to(workspace::page))
            .route("/app/assets/{name}", web::get().to(workspace::asset))
            .route("/app/assets/{version}/{name}", web::get().to(workspace::versioned_asset))
            .route("/app/{tail:.*}", web::get().to(workspace::page))
            .default_service(web::to(unrouted))
    })
    .listen(listener)?
    .shutdown_timeout(10);
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// The pages served outside the API document, with their methods.
const PAGES: &[(&str, &[&str])] = &[
    ("/", &["GET"]),
    ("/formulario", &["GET"]),
    ("/casos/{token}", &["GET"]),
    ("/casos/{token}/archivos/{id}", &["GET"]),
    ("/wallboard", &["GET"]),
    ("/encuesta/{token}", &["GET", "POST"]),
    ("/app", &["GET"]),
    ("/app/{screen}", &["GET"]),
    ("/app/{screen}/{item}", &["GET"]),
];

/// Every address the service answers (the OpenAPI document's paths and the pages) with its
/// methods: a request no route took is a 405 naming them when its address is known, else a 404.
pub struct KnownRoutes(Vec<(Vec<String>, Vec<&'static str>)>);

impl KnownRoutes {
    pub fn new(doc: &serde_json::Value) -> KnownRoutes {
        let split = |path: &str| path.split('/').map(str::to_owned).collect::<Vec<_>>();
        let mut routes: Vec<_> = PAGES.iter().map(|(path, methods)| (split(path), methods.to_vec())).collect();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .into_iter()
                .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
                .collect();
            routes.push((split(path), methods));
        }
        KnownRoutes(routes)
    }

    /// The methods of `path`, from the templates that match it with the most literal segments
    /// (`/routing/rules/test` is not `/routing/rules/{id}`); `None` for an unknown address.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let segments: Vec<&str> = path.split('/').collect();
        let literal = |t: &str| !t.starts_with('{');
        let matches = |template: &[String]| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| if literal(t) { t == s } else { !s.is_empty() })
        };
        let found: Vec<_> = self.0.iter().filter(|(t, _)| matches(t)).collect();
        let best = found.iter().map(|(t, _)| t.iter().filter(|s| literal(s)).count()).max()?;
        let mut methods: Vec<&'static str> = found
            .iter()
            .filter(|(t, _)| t.iter().filter(|s| literal(s)).count() == best)
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        methods.sort_by_key(|m| ["GET", "POST", "PUT", "PATCH", "DELETE"].iter().position(|x| x == m));
        methods.dedup();
        Some(methods)
    }
}

/// What no route took: `OPTIONS` lists the methods of a known address, any other method it does
/// not answer is a 405 with `Allow`, and an unknown address is a 404.
async fn unrouted(req: actix_web::HttpRequest, routes: web::Data<KnownRoutes>) -> HttpResponse {
    use actix_web::http::{header, Method};
    use actix_web::ResponseError;
    if let Some(allow) = routes.allowed(req.path()).filter(|m| !m.is_empty()).map(|m| m.join(", ")) {
        if req.method() == Method::OPTIONS {
            return HttpResponse::NoContent().insert_header((header::ALLOW, allow)).finish();
        }
        return AppError::MethodNotAllowed { allow }.error_response();
    }
    let error = if req.method() == Method::GET || req.method() == Method::HEAD {
        AppError::NotFound("esa dirección")
    } else {
        AppError::NotFound("esa operación en esta dirección")
    };
    error.error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_addresses_list_their_methods() {
        let routes = KnownRoutes::new(&api::openapi::document());
        assert_eq!(routes.allowed("/api/v1/tickets"), Some(vec!["GET", "POST"]));
        assert_eq!(routes.allowed("/api/v1/tickets/AU-2026-000001"), Some(vec!["GET", "PATCH"]));
        assert_eq!(routes.allowed("/api/v1/routing/rules/test"), Some(vec!["POST"]));
        assert_eq!(routes.allowed("/api/v1/routing/rules/7"), Some(vec!["GET", "PUT", "DELETE"]));
        assert_eq!(routes.allowed("/encuesta/abc"), Some(vec!["GET", "POST"]));
        assert_eq!(routes.allowed("/health"), Some(vec!["GET"]));
        assert_eq!(routes.allowed("/api/v1/tickets/"), None);
        assert_eq!(routes.allowed("/api/v1/nada"), None);
    }
}
