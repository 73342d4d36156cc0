//! The shell of the small public pages the service serves without login (the case page, the
//! satisfaction survey): Spanish, no external resource, never cached or indexed.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// Text made safe inside HTML elements and quoted attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A whole page: `body` (already HTML) with `style` inlined under the Content-Security-Policy `csp`.
pub fn public_page(status: StatusCode, title: &str, style: &str, body: &str, csp: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"es-CL\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
         <style>{style}</style></head><body><main>{body}\
         <p class=\"meta\">Mesa de Ayuda ChileCompra · 600 7000 600</p></main></body></html>",
        escape(title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", csp))
        // Their links are credentials: keep them out of caches, referrers and search engines.
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(html)
}
