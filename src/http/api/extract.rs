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

use crate::error::AppError;
use crate::http::state::AppState;

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

/// Syntax errors are 400; well-formed JSON with wrong or missing fields is 422 naming the field,
/// in Spanish; so is text holding the NUL character ([`AppError::nul_character`]). Objects are
/// objects: an array is refused where a struct goes, even where serde would read one from it. A
/// number with a zero fraction (`7.0`) is an integer, as JSON Schema says.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, AppError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|_| AppError::BadRequest("El cuerpo no es JSON válido.".into()))?;
    if value.is_array() {
        return Err(AppError::field("body", "Tipo no válido: se esperaba un objeto."));
    }
    integral_floats_as_integers(&mut value);
    let parsed = serde_path_to_error::deserialize(super::strict::Strict(&value)).map_err(|e| {
        let path = e.path().to_string();
        data_error(&path, &e.into_inner().to_string())
    })?;
    if let Some(field) = nul_field(&value) {
        return Err(AppError::nul_character(field));
    }
    Ok(parsed)
}

/// `7.0` becomes `7` wherever it fits an `i64`: JSON Schema calls it an integer, serde would not.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Strictly inside the i64 range, so the cast is exact.
            if f.fract() == 0.0 && f > -9.2e18 && f < 9.2e18 {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// The path (`requester.name`, `tags[2]`) of the first string or key holding a NUL, if any.
pub fn nul_field(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    fn join(parent: &str, key: &str) -> String {
        if parent.is_empty() {
            key.to_owned()
        } else {
            format!("{parent}.{key}")
        }
    }
    fn walk(value: &Value, path: String) -> Option<String> {
        match value {
            Value::String(s) if s.contains('\0') => Some(if path.is_empty() { "body".into() } else { path }),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| walk(v, format!("{path}[{i}]"))),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                let field = join(&path, &k.replace('\0', ""));
                if k.contains('\0') {
                    Some(field)
                } else {
                    walk(v, field)
                }
            }),
            _ => None,
        }
    }
    walk(value, String::new())
}

/// A serde data error as a 422 naming the field, in Spanish. `path` is serde_path_to_error's
/// (`.` at the root, `a.b[0]` below it); serde reports a missing or repeated field at its parent.
fn data_error(path: &str, message: &str) -> AppError {
    // `?` marks a map key that failed to parse; the map itself is the field to name.
    let path = path.replace(".?", "");
    let named = ["missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|m| m.split('`').next());
    let field = match (path.as_str(), named) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (_, None) => path,
    };
    AppError::field(field, spanish(message))
}

/// serde's (and chrono's, and the standard parsers') English for a value that does not fit, in
/// Spanish. Our own deserializers already write Spanish; anything else not recognised becomes a
/// generic Spanish message rather than leak English to people.
pub fn spanish(message: &str) -> String {
    let message = message.trim_start_matches("Query deserialize error: ");
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        return format!("Falta el campo «{name}».");
    }
    if let Some(name) = message.strip_prefix("duplicate field `").and_then(|m| m.strip_suffix('`')) {
        return format!("El campo «{name}» está repetido.");
    }
    for (prefix, what) in [("unknown field `", "Campo desconocido"), ("unknown variant `", "Valor desconocido")] {
        if let Some((name, rest)) = message.strip_prefix(prefix).and_then(|m| m.split_once("`, ")) {
            let allowed = backticked(rest);
            return if allowed.is_empty() {
                format!("{what} «{name}».")
            } else {
                format!("{what} «{name}»; se esperaba uno de: {}.", allowed.join(", "))
            };
        }
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.rsplit_once(", expected ").and_then(|(_, e)| expected_es(e));
        return match expected {
            Some(e) => format!("Tipo no válido: se esperaba {e}."),
            None => "Tipo no válido.".into(),
        };
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let expected = rest.rsplit_once(", expected ").and_then(|(_, e)| expected_es(e));
        return match expected {
            Some(e) => format!("Valor no válido: se esperaba {e}."),
            None => "Valor no válido.".into(),
        };
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        let count = rest.split(',').next().unwrap_or("").trim();
        return format!("Cantidad de elementos no válida ({count}).");
    }
    if message.starts_with("data did not match any variant") {
        return "El valor no tiene ninguna de las formas admitidas.".into();
    }
    let known = [
        // core::num::ParseIntError, ParseFloatError and ParseBoolError (query parameters).
        ("invalid digit found in string", "Se esperaba un número entero."),
        ("cannot parse integer from empty string", "Se esperaba un número entero."),
        ("number too large to fit in target type", "Número fuera del rango admitido."),
        ("number too small to fit in target type", "Número fuera del rango admitido."),
        ("invalid float literal", "Se esperaba un número."),
        ("provided string was not `true` or `false`", "Se esperaba true o false."),
        // chrono::format::ParseError.
        ("input is out of range", "Fecha u hora fuera de rango."),
        ("no possible date and time matching input", "Fecha u hora no válida."),
        ("input is not enough for unique date and time", "Fecha u hora incompleta."),
        ("input contains invalid characters", "Fecha u hora no válida."),
        ("premature end of input", "Fecha u hora incompleta."),
        ("trailing input", "Fecha u hora no válida: sobra texto al final."),
        ("bad or unsupported format string", "Fecha u hora no válida."),
    ];
    if let Some((_, es)) = known.iter().find(|(en, _)| *en == message) {
        return (*es).to_owned();
    }
    if message.chars().any(|c| "áéíóúñ¿¡«".contains(c)) {
        return message.to_owned();
    }
    tracing::debug!(%message, "validation message without a Spanish translation");
    "Valor no válido.".into()
}

/// The names between backticks: serde's "`a` or `b`" and "one of `a`, `b`, `c`".
fn backticked(list: &str) -> Vec<&str> {
    list.split('`').skip(1).step_by(2).collect()
}

/// What serde's visitors expect (their `expecting` text), in Spanish.
fn expected_es(expected: &str) -> Option<&'static str> {
    Some(match expected {
        "u8" => "un número entero entre 0 y 255",
        "u16" => "un número entero entre 0 y 65535",
        "u32" => "un número entero entre 0 y 4294967295",
        "u64" | "u128" | "usize" => "un número entero no negativo",
        "i8" => "un número entero entre -128 y 127",
        "i16" => "un número entero entre -32768 y 32767",
        "i32" => "un número entero entre -2147483648 y 2147483647",
        "i64" | "i128" | "isize" => "un número entero",
        "f32" | "f64" => "un número",
        "a boolean" => "true o false",
        "a string" | "a borrowed string" | "a character" | "a string or bytes" => "un texto",
        "a sequence" => "una lista",
        "a map" => "un objeto",
        "any valid JSON value" => "un valor JSON",
        e if e.starts_with("struct ") || e.starts_with("tuple struct ") => "un objeto",
        e if e.starts_with("an array") || e.starts_with("a tuple") || e.starts_with("tuple ") => "una lista",
        e if e.starts_with("enum ") || e.contains("variant") => "uno de los valores admitidos",
        e if e.contains("date") || e.contains("time") => "una fecha u hora en texto (RFC 3339)",
        _ => return None,
    })
}

/// A query string, parsed with the same rules and Spanish messages as JSON bodies: a 422 naming
/// the parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    if let Some((key, _)) = pairs.clone().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        return Err(AppError::nul_character(key.replace('\0', "")));
    }
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
        let path = e.path().to_string();
        data_error(&path, &e.into_inner().to_string())
    })
}

/// A query string like `web::Query`, except that a bad one is reported by [`Query::into_value`]
/// inside the handler, after the role check (see [`Json`]).
pub struct Query<T>(Result<T, AppError>);

impl<T> Query<T> {
    pub fn into_value(self) -> Result<T, AppError> {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Query(parse_query(req.query_string()))))
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move { Ok(read_json(&req, payload).await) })
    }
}

/// Reads a JSON body as the [`Json`] extractor does (for handlers that take other bodies too).
pub async fn read_json<T: DeserializeOwned>(req: &HttpRequest, payload: Payload) -> Json<T> {
    let json = is_json(req);
    let limit = req.app_data::<web::Data<AppState>>().map(|s| s.settings.server.max_body_bytes).unwrap_or(256 * 1024);
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let raw = match (json, declared) {
        (false, _) => Err(AppError::UnsupportedMediaType),
        (_, Some(len)) if len > limit => Err(AppError::PayloadTooLarge),
        _ => read_limited(payload, limit).await,
    };
    match raw {
        Ok(raw) => Json { parsed: parse_json(&raw), raw },
        Err(e) => Json { parsed: Err(e), raw: Bytes::new() },
    }
}

/// Path segments that do not parse (e.g. a letter where an id goes) mean "no such resource",
/// unless the address is another route's that does not answer this method
/// (`PUT /routing/rules/test`): then 405 with `Allow`.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, req| {
        let routes = req.app_data::<web::Data<crate::http::KnownRoutes>>();
        match routes.and_then(|r| r.allowed(req.path())) {
            Some(methods) if !methods.iter().any(|m| *m == req.method().as_str()) => {
                AppError::MethodNotAllowed { allow: methods.join(", ") }.into()
            }
            _ => AppError::NotFound("el recurso solicitado").into(),
        }
    })
}

/// For any `web::Query` left: the same Spanish message; prefer [`Query`], which waits for the
/// role check.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| AppError::field("query", spanish(&err.to_string())).into())
}

/// The request being served, for the audit row.
impl FromRequest for crate::audit::Origin {
    type Error = AppError;
    type Future = std::future::Ready<Result<crate::audit::Origin, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(crate::audit::Origin { method: req.method().to_string(), path: req.path().to_owned() }))
    }
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

    /// One field of every kind serde reports on.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Kinds {
        #[serde(default)]
        number: Option<i64>,
        #[serde(default)]
        pair: Option<[u8; 2]>,
        #[serde(default)]
        color: Option<Color>,
        #[serde(default)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[serde(default)]
        either: Option<Either>,
        #[serde(default)]
        flag: Option<bool>,
        #[serde(default)]
        tags: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Color {
        Red,
        Green,
    }

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Either {
        Number(i64),
        Flag(bool),
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        shrinkage: f64,
        limit: Option<i64>,
        q: Option<String>,
        by: Option<Color>,
    }

    fn field_of(err: AppError) -> String {
        one(err).0
    }

    /// The only field error of a 422: (field, message).
    fn one(err: AppError) -> (String, String) {
        match err {
            AppError::Validation(errors) if errors.len() == 1 => (errors[0].field.clone(), errors[0].message.clone()),
            other => panic!("expected one validation error, got {other:?}"),
        }
    }

    fn json_error(body: &str) -> (String, String) {
        one(parse_json::<Kinds>(body.as_bytes()).unwrap_err())
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

    #[test]
    fn every_kind_of_serde_message_is_spanish() {
        let missing = one(parse_json::<Body>(br#"{"subject": "x", "inner": {}}"#).unwrap_err());
        assert_eq!(missing, ("inner.count".into(), "Falta el campo «count».".into()));
        let unknown = one(parse_json::<Body>(br#"{"subject": "x", "inner": {"count": 1}, "answer": 1}"#).unwrap_err());
        assert_eq!(
            unknown,
            ("answer".into(), "Campo desconocido «answer»; se esperaba uno de: subject, inner.".into())
        );
        assert_eq!(
            json_error(r#"{"number": "siete"}"#),
            ("number".into(), "Tipo no válido: se esperaba un número entero.".into())
        );
        assert_eq!(json_error(r#"{"flag": 1}"#), ("flag".into(), "Tipo no válido: se esperaba true o false.".into()));
        assert_eq!(json_error(r#"{"tags": "a"}"#), ("tags".into(), "Tipo no válido: se esperaba una lista.".into()));
        assert_eq!(json_error(r#"{"tags": [1]}"#), ("tags[0]".into(), "Tipo no válido: se esperaba un texto.".into()));
        assert_eq!(
            one(parse_json::<Body>(br#"{"subject": "x", "inner": {"count": 300}}"#).unwrap_err()),
            ("inner.count".into(), "Valor no válido: se esperaba un número entero entre 0 y 255.".into())
        );
        assert_eq!(
            json_error(r#"{"color": "blue"}"#),
            ("color".into(), "Valor desconocido «blue»; se esperaba uno de: red, green.".into())
        );
        assert_eq!(json_error(r#"{"pair": [1]}"#), ("pair".into(), "Cantidad de elementos no válida (1).".into()));
        // A repeated key is read as JavaScript does, the last one wins; serde's message for it is
        // translated all the same.
        assert_eq!(parse_json::<Kinds>(br#"{"flag": true, "flag": false}"#).unwrap().flag, Some(false));
        assert_eq!(spanish("duplicate field `flag`"), "El campo «flag» está repetido.");
        assert_eq!(
            json_error(r#"{"either": "x"}"#),
            ("either".into(), "El valor no tiene ninguna de las formas admitidas.".into())
        );
        assert_eq!(json_error(r#"{"at": "ayer"}"#), ("at".into(), "Fecha u hora no válida.".into()));
        assert_eq!(json_error(r#"{"at": "2026-03-02"}"#), ("at".into(), "Fecha u hora incompleta.".into()));
        assert_eq!(json_error(r#"{"at": 5}"#).1, "Tipo no válido: se esperaba una fecha u hora en texto (RFC 3339).");
        assert_eq!(
            one(parse_json::<Body>(br#"null"#).unwrap_err()),
            ("body".into(), "Tipo no válido: se esperaba un objeto.".into())
        );
    }

    #[test]
    fn bodies_are_objects_and_integral_floats_are_integers() {
        assert_eq!(one(parse_json::<Kinds>(b"[null, null]").unwrap_err()).0, "body");
        let kinds: Kinds = parse_json(br#"{"number": 2205.0, "pair": [1.0, 2]}"#).unwrap();
        assert_eq!((kinds.number, kinds.pair), (Some(2205), Some([1, 2])));
        assert_eq!(json_error(r#"{"number": 2205.5}"#).0, "number");
        assert_eq!(json_error(r#"{"number": 1e30}"#).0, "number");
    }

    #[test]
    fn our_own_spanish_messages_pass_and_unknown_english_does_not() {
        assert_eq!(spanish("hora inválida `25:00`, se espera HH:MM"), "hora inválida `25:00`, se espera HH:MM");
        assert_eq!(spanish("some library said no"), "Valor no válido.");
        assert_eq!(spanish("invalid type: map, expected something exotic"), "Tipo no válido.");
    }

    #[test]
    fn query_strings_follow_the_same_rules() {
        let ok: Params = parse_query("shrinkage=0.3&limit=5&by=red").unwrap();
        assert_eq!((ok.shrinkage, ok.limit), (0.3, Some(5)));
        let error = |q: &str| one(parse_query::<Params>(q).unwrap_err());
        assert_eq!(error("limit=5"), ("shrinkage".into(), "Falta el campo «shrinkage».".into()));
        assert_eq!(error("shrinkage=x"), ("shrinkage".into(), "Se esperaba un número.".into()));
        assert_eq!(error("shrinkage=1&limit=diez"), ("limit".into(), "Se esperaba un número entero.".into()));
        assert_eq!(error("shrinkage=1&limit=99999999999999999999").1, "Número fuera del rango admitido.");
        assert_eq!(
            error("shrinkage=1&answer=2"),
            ("answer".into(), "Campo desconocido «answer»; se esperaba uno de: shrinkage, limit, q, by.".into())
        );
        assert_eq!(
            error("shrinkage=1&by=blue"),
            ("by".into(), "Valor desconocido «blue»; se esperaba uno de: red, green.".into())
        );
        assert_eq!(error("shrinkage=1&q=a%00b").0, "q");
    }

    #[test]
    fn nul_in_any_text_is_a_422_naming_the_field() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Ticket {
            subject: String,
            requester: Requester,
            tags: Vec<String>,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Requester {
            name: String,
        }
        let ticket = |subject: &str, name: &str, tag: &str| {
            format!(r#"{{"subject": "{subject}", "requester": {{"name": "{name}"}}, "tags": ["a", "{tag}"]}}"#)
        };
        let error = |body: String| one(parse_json::<Ticket>(body.as_bytes()).unwrap_err());
        let (field, message) = error(ticket("x", "Ana\\u0000", "b"));
        assert_eq!(field, "requester.name");
        assert!(message.contains("carácter nulo"), "{message}");
        assert_eq!(error(ticket("\\u0000", "Ana", "b")).0, "subject");
        assert_eq!(error(ticket("x", "Ana", "b\\u0000")).0, "tags[1]");
        // An escaped backslash followed by "u0000" is text, not NUL.
        assert!(parse_json::<Ticket>(ticket("C:\\\\u0000", "Ana", "b").as_bytes()).is_ok());
        assert!(parse_json::<Ticket>(ticket("x", "Ana", "b").as_bytes()).is_ok());
        let value: serde_json::Value = serde_json::from_str(r#"{"a": {"k\u0000": 1}}"#).unwrap();
        assert_eq!(nul_field(&value).as_deref(), Some("a.k"));
    }
}
