//! `/app`: the workspace screens. One page and its scripts and stylesheet, embedded in the
//! binary (no build step besides `cargo build`); every screen's data comes from the `/api/v1`
//! endpoints, authenticated by the session cookie. Client-side routing: every `/app/...` address
//! serves the same page.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

const INDEX: &str = include_str!("assets/index.html");
const APP_CSS: &str = include_str!("assets/app.css");
/// The modules: the agents' workspace and its shell (first), then what the other roles load on
/// first use: the departments' screens, the charts, the reports, the administration, the
/// supervisors' team view, quality and the administration's reference data.
const SCRIPTS: [(&str, Asset); 8] = [
    ("app.js", Asset::script(include_str!("assets/app.js"))),
    ("departments.js", Asset::script(include_str!("assets/departments.js"))),
    ("charts.js", Asset::script(include_str!("assets/charts.js"))),
    ("reports.js", Asset::script(include_str!("assets/reports.js"))),
    ("admin.js", Asset::script(include_str!("assets/admin.js"))),
    ("team.js", Asset::script(include_str!("assets/team.js"))),
    ("quality.js", Asset::script(include_str!("assets/quality.js"))),
    ("settings.js", Asset::script(include_str!("assets/settings.js"))),
];

/// No inline script or style, nothing from another origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, computed at compile time: the assets' validators change exactly when their bytes do.
const fn fingerprint(bytes: &[u8]) -> u64 {
    fingerprint_from(FNV_OFFSET, bytes)
}

const fn fingerprint_from(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The version of the stylesheet and the modules together. The page names them under
/// `/app/assets/<version>/`, so a browser keeps them without asking again until one changes; the
/// modules' relative imports stay within that version.
const VERSION: u64 = {
    let mut hash = fingerprint_from(FNV_OFFSET, APP_CSS.as_bytes());
    let mut i = 0;
    while i < SCRIPTS.len() {
        hash = fingerprint_from(hash, SCRIPTS[i].1.body.as_bytes());
        i += 1;
    }
    hash
};

fn version() -> String {
    format!("{VERSION:016x}")
}

struct Asset {
    body: &'static str,
    content_type: &'static str,
    tag: u64,
}

const PAGE_TYPE: &str = "text/html; charset=utf-8";
const STYLE: Asset = Asset::new(APP_CSS, "text/css; charset=utf-8");

impl Asset {
    const fn new(body: &'static str, content_type: &'static str) -> Asset {
        Asset { body, content_type, tag: fingerprint(body.as_bytes()) }
    }

    const fn script(body: &'static str) -> Asset {
        Asset::new(body, "text/javascript; charset=utf-8")
    }
}

/// What an agent's workspace downloads, in bytes: the stylesheet and `app.js` (the budget is
/// 150 KB). The other roles' modules load only when one of their screens opens.
pub const AGENT_ASSET_BYTES: usize = APP_CSS.len() + SCRIPTS[0].1.body.len();

/// Every screen's JavaScript and CSS together, in bytes (the budget is 300 KB).
pub const ASSET_BYTES: usize = {
    let mut total = APP_CSS.len();
    let mut i = 0;
    while i < SCRIPTS.len() {
        total += SCRIPTS[i].1.body.len();
        i += 1;
    }
    total
};
// Over a budget, the build fails.
const _: () = assert!(AGENT_ASSET_BYTES <= 150 * 1024, "the agents' JavaScript + CSS exceed 150 KB");
const _: () = assert!(ASSET_BYTES <= 300 * 1024, "the workspace's JavaScript + CSS exceed 300 KB");

/// The screens whose modules the page preloads, by the first segment of the address after
/// `/app/`, and their entry modules (with what they import, found in their sources). Fetched
/// with the page, a report screen's modules no longer wait for `app.js` to run and ask for them.
const SCREENS: [(&[&str], &[&str]); 5] = [
    (&["informes", "dotacion"], &["reports.js"]),
    (&["equipo"], &["team.js"]),
    (&["calidad"], &["quality.js"]),
    (&["admin"], &["admin.js", "settings.js"]),
    (&["bandeja", "derivaciones", "oportunidades", "resumen"], &["departments.js"]),
];

/// The files a module imports statically (`… from './x.js'`).
fn imports(body: &str) -> impl Iterator<Item = &str> + '_ {
    body.split("from './").skip(1).filter_map(|rest| rest.split_once('\'')).map(|(file, _)| file)
}

/// `entries` and every module they import, directly or not, but `app.js` (the page loads it).
fn module_graph(entries: &[&'static str]) -> Vec<&'static str> {
    let mut found: Vec<&'static str> = Vec::new();
    let mut next: Vec<&'static str> = entries.to_vec();
    while let Some(file) = next.pop() {
        if file == "app.js" || found.contains(&file) {
            continue;
        }
        found.push(file);
        if let Some((_, script)) = SCRIPTS.iter().find(|(name, _)| *name == file) {
            next.extend(imports(script.body).filter_map(|f| SCRIPTS.iter().find(|(n, _)| *n == f).map(|(n, _)| *n)));
        }
    }
    found
}

/// The page that opens on the screen of `path`, with that screen's modules preloaded.
fn page_for(path: &str) -> &'static Asset {
    /// The one page with its assets' addresses versioned, then `links` before the first script.
    fn build(links: &str) -> Asset {
        let body = INDEX.replace("/app/assets/", &format!("/app/assets/{}/", version())).replacen(
            "<script type=\"module\"",
            &format!("{links}<script type=\"module\""),
            1,
        );
        Asset::new(body.leak(), PAGE_TYPE)
    }
    static PAGES: std::sync::LazyLock<(Asset, Vec<(&'static str, Asset)>)> = std::sync::LazyLock::new(|| {
        let screens = SCREENS
            .iter()
            .flat_map(|(segments, entries)| {
                let links: String = module_graph(entries)
                    .iter()
                    .map(|f| format!("<link rel=\"modulepreload\" href=\"/app/assets/{}/{f}\">\n", version()))
                    .collect();
                let page = build(&links);
                segments.iter().map(move |s| (*s, Asset::new(page.body, PAGE_TYPE)))
            })
            .collect();
        (build(""), screens)
    });
    let (plain, screens) = &*PAGES;
    let segment = path.strip_prefix("/app/").and_then(|rest| rest.split('/').next()).unwrap_or("");
    screens.iter().find(|(s, _)| *s == segment).map_or(plain, |(_, page)| page)
}

/// `/app` and every address under it: the single page.
pub async fn page(req: HttpRequest) -> HttpResponse {
    serve(&req, page_for(req.path()), REVALIDATE)
}

/// `/app/assets/{name}`: the scripts and the stylesheet, revalidated on each load.
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match named(&name) {
        Some(asset) => serve(&req, asset, REVALIDATE),
        None => page(req).await,
    }
}

/// `/app/assets/{version}/{name}`: the same files, kept by the browser for a year when the version
/// is this binary's (its address changes with their bytes). Another version's address (a page
/// from an older binary) gets today's files, revalidated.
pub async fn versioned_asset(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (asked, name) = path.into_inner();
    let caching = if u64::from_str_radix(&asked, 16) == Ok(VERSION) { KEEP } else { REVALIDATE };
    match named(&name) {
        Some(asset) => serve(&req, asset, caching),
        None => page(req).await,
    }
}

fn named(name: &str) -> Option<&'static Asset> {
    if name == "app.css" {
        return Some(&STYLE);
    }
    SCRIPTS.iter().find(|(file, _)| *file == name).map(|(_, script)| script)
}

/// A new binary's files are picked up at once; an unchanged one costs a 304.
const REVALIDATE: &str = "no-cache";
const KEEP: &str = "public, max-age=31536000, immutable";

/// Served with an ETag, so that a revalidation of unchanged bytes is a 304.
fn serve(req: &HttpRequest, asset: &Asset, caching: &'static str) -> HttpResponse {
    let etag = format!("\"{:016x}\"", asset.tag);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, caching))
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
        // The version covers every file: it differs from each one's own fingerprint.
        assert!(SCRIPTS.iter().all(|(_, s)| s.tag != VERSION) && STYLE.tag != VERSION);
    }

    #[test]
    fn a_screen_s_page_preloads_its_modules_and_what_they_import() {
        let preloaded = |path: &str| -> Vec<String> {
            let body = page_for(path).body;
            let prefix = format!("<link rel=\"modulepreload\" href=\"/app/assets/{}/", version());
            body.split(&prefix).skip(1).map(|l| l[..l.find('"').unwrap()].to_owned()).collect()
        };
        assert_eq!(preloaded("/app/informes"), ["reports.js", "charts.js"]);
        assert_eq!(preloaded("/app/dotacion"), ["reports.js", "charts.js"]);
        let mut quality = preloaded("/app/calidad/informe");
        quality.sort();
        assert_eq!(quality, ["admin.js", "charts.js", "departments.js", "quality.js"]);
        assert!(preloaded("/app/admin/colas").contains(&"settings.js".to_owned()));
        // An agent's screens load app.js alone: the budget of issue 18.
        for path in ["/app", "/app/", "/app/vistas/mias", "/app/casos/AU-2026-000001", "/app/informesx"] {
            assert_eq!(preloaded(path), Vec::<String>::new(), "{path}");
            assert_eq!(page_for(path).body, page_for("/app").body);
        }
        // Each page is still the one page, with its own validator.
        let script = format!("<script type=\"module\" src=\"/app/assets/{}/app.js\"></script>", version());
        assert!(page_for("/app/equipo").body.contains(&script));
        assert!(page_for("/app").body.contains(&script));
        assert!(page_for("/app").body.contains(&format!("href=\"/app/assets/{}/app.css\"", version())));
        assert_ne!(page_for("/app/equipo").tag, page_for("/app").tag);
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        assert!(!INDEX.contains("<style"));
        assert!(!INDEX.contains("style=\""));
        assert!(INDEX.matches("<script").count() == INDEX.matches("<script type=\"module\" src=").count());
    }
}
