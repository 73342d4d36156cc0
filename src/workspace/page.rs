//! `/app`: the agents' workspace screens. One page and its script and stylesheet, embedded in the
//! binary (no build step besides `cargo build`); every screen's data comes from the `/api/v1`
//! endpoints, authenticated by the session cookie. Client-side routing: every `/app/...` address
//! serves the same page.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const DEPARTMENTS_JS: &str = include_str!("assets/departments.js");

/// No inline script or style, nothing from another origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// FNV-1a, computed at compile time: the assets' validators change exactly when their bytes do.
const fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

struct Asset {
    body: &'static str,
    content_type: &'static str,
    tag: u64,
}

const PAGE: Asset = Asset { body: INDEX, content_type: "text/html; charset=utf-8", tag: fingerprint(INDEX.as_bytes()) };
const SCRIPT: Asset =
    Asset { body: APP_JS, content_type: "text/javascript; charset=utf-8", tag: fingerprint(APP_JS.as_bytes()) };
const DEPARTMENTS: Asset = Asset {
    body: DEPARTMENTS_JS,
    content_type: "text/javascript; charset=utf-8",
    tag: fingerprint(DEPARTMENTS_JS.as_bytes()),
};
const STYLE: Asset =
    Asset { body: APP_CSS, content_type: "text/css; charset=utf-8", tag: fingerprint(APP_CSS.as_bytes()) };

/// The whole workspace's JavaScript and CSS, in bytes (the budget is 150 KB).
pub const ASSET_BYTES: usize = APP_JS.len() + DEPARTMENTS_JS.len() + APP_CSS.len();
// Over the budget, the build fails.
const _: () = assert!(ASSET_BYTES <= 150 * 1024, "the workspace's JavaScript + CSS exceed 150 KB");

/// `/app` and every address under it: the single page.
pub async fn page(req: HttpRequest) -> HttpResponse {
    serve(&req, &PAGE)
}

/// `/app/assets/{name}`: the scripts and the stylesheet.
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match name.as_str() {
        "app.js" => serve(&req, &SCRIPT),
        "departments.js" => serve(&req, &DEPARTMENTS),
        "app.css" => serve(&req, &STYLE),
        _ => page(req).await,
    }
}

/// Revalidated on each load (`no-cache` + ETag): a new binary's files are picked up at once,
/// an unchanged one costs a 304.
fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let etag = format!("\"{:016x}\"", asset.tag);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"));
    if fresh {
        return response.finish();
    }
    response.content_type(asset.content_type).body(asset.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_tells_contents_apart() {
        assert_ne!(fingerprint(b"a"), fingerprint(b"b"));
        assert_eq!(fingerprint(b""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        assert!(!INDEX.contains("<style"));
        assert!(!INDEX.contains("style=\""));
        assert!(INDEX.matches("<script").count() == INDEX.matches("<script type=\"module\" src=").count());
    }
}
