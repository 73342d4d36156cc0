//! Downloads that come as JSON or CSV (the reports, the CSAT figures): how the client says which,
//! and the one way they are answered. `?formato=` decides when present (a link in a browser
//! cannot set `Accept`); otherwise `Accept: text/csv` asks for RFC 4180 CSV and anything else gets
//! JSON.

use std::fmt;
use std::str::FromStr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::ticket::{string_enum, UnknownValue};
use crate::error::AppError;
use crate::reports::csv::{to_csv, Dialect};

string_enum!(
    /// `csv`: RFC 4180 (`,`, no BOM, field names as titles); `excel`: for a spreadsheet set to
    /// Spanish (Chile): UTF-8 BOM, `;`, Spanish column titles, decimal commas; `json`.
    Formato { Csv => "csv", Excel => "excel", Json => "json" }
);

/// The `formato` parameter, documented on every operation that offers CSV.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `csv` (RFC 4180), `excel` (opens in columns in a spreadsheet set to Spanish (Chile): UTF-8
    /// BOM, `;` separator, Spanish column titles, decimal commas) or `json`. Without it, CSV
    /// (RFC 4180) with `Accept: text/csv`, JSON otherwise.
    #[param(value_type = Option<Formato>, inline)]
    pub formato: Option<String>,
}

/// What the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv(Dialect),
}

/// Whether the client listed `text/csv` among the types it accepts.
fn accepts_csv(req: &HttpRequest) -> bool {
    req.headers().get_all(header::ACCEPT).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let csv = parts.next().is_some_and(|mime| mime.eq_ignore_ascii_case("text/csv"));
        let refused = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"));
        csv && !refused
    })
}

/// The format asked for, and the query string without `formato` (for the operation's own
/// parameters, which reject unknown ones).
fn negotiate(req: &HttpRequest) -> Result<(Format, String), AppError> {
    let mut formato = None;
    let mut rest = Vec::new();
    for pair in req.query_string().split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("formato", value) => formato = Some(value.trim().to_ascii_lowercase()),
            _ => rest.push(pair),
        }
    }
    let format = match formato.as_deref().map(str::parse::<Formato>) {
        None => match accepts_csv(req) {
            true => Format::Csv(Dialect::Rfc4180),
            false => Format::Json,
        },
        Some(Ok(Formato::Csv)) => Format::Csv(Dialect::Rfc4180),
        Some(Ok(Formato::Excel)) => Format::Csv(Dialect::Excel),
        Some(Ok(Formato::Json)) => Format::Json,
        Some(Err(e)) => return Err(AppError::field("formato", e.to_string())),
    };
    Ok((format, rest.join("&")))
}

/// The format asked for and the operation's query parameters. Parsed inside the handler, after
/// the role check (an extractor could answer 422 before 403).
pub fn request<T: DeserializeOwned>(req: &HttpRequest) -> Result<(Format, T), AppError> {
    let (format, rest) = negotiate(req)?;
    Ok((format, super::extract::parse_query(&rest)?))
}

/// JSON of `json`, or a CSV download of `rows` named `filename` in the dialect asked for.
pub fn respond<J: Serialize, R: Serialize + Default>(
    format: Format,
    json: &J,
    rows: &[R],
    filename: &str,
) -> Result<HttpResponse, AppError> {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::VARY, "Accept"));
    let Format::Csv(dialect) = format else { return Ok(response.json(json)) };
    let body = to_csv(rows, dialect)?;
    Ok(response
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn negotiated(uri: &str, accept: Option<&str>) -> Result<(Format, String), AppError> {
        let mut req = TestRequest::get().uri(uri);
        if let Some(accept) = accept {
            req = req.insert_header((header::ACCEPT, accept));
        }
        negotiate(&req.to_http_request())
    }

    #[test]
    fn formato_wins_over_accept_and_is_taken_out_of_the_query() {
        let ok = |uri, accept| negotiated(uri, accept).unwrap();
        assert_eq!(ok("/r?from=1&to=2", None), (Format::Json, "from=1&to=2".into()));
        assert_eq!(ok("/r?from=1", Some("text/csv")), (Format::Csv(Dialect::Rfc4180), "from=1".into()));
        assert_eq!(ok("/r?from=1", Some("text/csv;q=0, application/json")), (Format::Json, "from=1".into()));
        assert_eq!(ok("/r?from=1&formato=excel&to=2", None), (Format::Csv(Dialect::Excel), "from=1&to=2".into()));
        assert_eq!(ok("/r?formato=Excel", Some("application/json")), (Format::Csv(Dialect::Excel), String::new()));
        assert_eq!(ok("/r?formato=csv", None), (Format::Csv(Dialect::Rfc4180), String::new()));
        assert_eq!(ok("/r?formato=json", Some("text/csv")), (Format::Json, String::new()));
        match negotiated("/r?formato=xlsx", None) {
            Err(AppError::Validation(e)) => assert_eq!(e[0].field, "formato"),
            other => panic!("{other:?}"),
        }
    }
}
