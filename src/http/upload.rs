//! Files sent by people over HTTP (`multipart/form-data`): an agent's reply and the public form.
//! The body is read as it streams, with every limit checked as bytes arrive, so no request can
//! make the service buffer more than the configured sizes; the same fields as the JSON body come
//! as text parts, the files as repeated `files` parts.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpRequest;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::attachments::NewFile;
use crate::config::AttachmentSettings;
use crate::domain::media;
use crate::error::AppError;
use crate::http::api::extract;

/// The name of the file parts.
pub const FILES: &str = "files";

/// Longest stored file name, in characters (the extension is kept when a name is cut).
pub const MAX_FILENAME: usize = 120;

/// What one request may carry.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_file_bytes: usize,
    pub max_files: usize,
    pub max_total_bytes: usize,
    /// All text fields together (the JSON body's limit).
    pub max_text_bytes: usize,
    /// Media types accepted, read from the bytes; `None` takes any.
    pub media_types: Option<Vec<String>>,
}

impl Limits {
    /// An agent's reply: any type, `[attachments]` sizes.
    pub fn replies(settings: &AttachmentSettings, max_text_bytes: usize) -> Limits {
        Limits {
            max_file_bytes: settings.max_file_bytes,
            max_files: settings.max_files_per_message,
            max_total_bytes: settings.max_message_bytes,
            max_text_bytes,
            media_types: None,
        }
    }

    /// The public form: fewer files, of the configured types only.
    pub fn form(settings: &AttachmentSettings, max_text_bytes: usize) -> Limits {
        Limits {
            max_files: settings.form_max_files,
            media_types: Some(settings.form_media_types.clone()),
            ..Limits::replies(settings, max_text_bytes)
        }
    }
}

/// A request body read: the value and its files, and the SHA-256 of the raw bytes (what an
/// `Idempotency-Key` is bound to).
pub struct Submitted<T> {
    pub value: T,
    pub files: Vec<NewFile>,
    pub digest: [u8; 32],
}

/// Whether the request says `multipart/form-data`.
pub fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Reads a JSON body (no files) or a multipart one. Called inside the handler, after the role
/// check, like [`extract::Json`].
pub async fn read<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: Payload,
    limits: &Limits,
    booleans: &[&str],
) -> Result<Submitted<T>, AppError> {
    if !is_multipart(req) {
        let json = extract::read_json::<T>(req, payload).await;
        let digest = Sha256::digest(&json.raw).into();
        return Ok(Submitted { value: json.into_value()?, files: Vec::new(), digest });
    }
    // Past every limit plus room for the parts' headers, reading on is no longer worth it.
    let cap = limits.max_total_bytes.saturating_mul(2).saturating_add(limits.max_text_bytes).saturating_add(1 << 20);
    let hashed = Hashed::new(payload, cap);
    let seen = hashed.seen.clone();
    let mut reader = Reader { limits, fields: Map::new(), files: Vec::new(), text_bytes: 0, total: 0, error: None };
    let mut parts = actix_multipart::Multipart::new(req.headers(), hashed);
    while let Some(part) = parts.next().await {
        let outcome = match part {
            Ok(part) => reader.part(part).await,
            Err(_) => Err(malformed()),
        };
        if let Err(error) = outcome {
            let overflow = seen.borrow().1 > cap;
            return Err(if overflow { reader.error.unwrap_or(AppError::PayloadTooLarge) } else { error });
        }
    }
    let digest: [u8; 32] = seen.borrow().0.clone().finalize().into();
    if let Some(error) = reader.error {
        return Err(error);
    }
    let value = form_value(reader.fields, booleans);
    let value: T = extract::parse_json(&serde_json::to_vec(&value).map_err(anyhow::Error::from)?)?;
    Ok(Submitted { value, files: reader.files, digest })
}

fn malformed() -> AppError {
    AppError::BadRequest("El cuerpo multipart/form-data está mal formado.".into())
}

/// The payload, hashed and counted as it passes; it ends in an error past `cap` bytes.
struct Hashed {
    inner: Payload,
    seen: std::rc::Rc<std::cell::RefCell<(Sha256, usize)>>,
    cap: usize,
}

impl Hashed {
    fn new(inner: Payload, cap: usize) -> Hashed {
        Hashed { inner, seen: Default::default(), cap }
    }
}

impl Stream for Hashed {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        if let std::task::Poll::Ready(Some(Ok(chunk))) = &polled {
            let mut seen = self.seen.borrow_mut();
            seen.0.update(chunk);
            seen.1 += chunk.len();
            if seen.1 > self.cap {
                return std::task::Poll::Ready(Some(Err(PayloadError::Overflow)));
            }
        }
        polled
    }
}

struct Reader<'a> {
    limits: &'a Limits,
    fields: Map<String, Value>,
    files: Vec<NewFile>,
    text_bytes: usize,
    total: usize,
    /// The first limit broken: the rest of the body is still read (and dropped) so the client,
    /// which is still sending, gets the answer instead of a reset connection.
    error: Option<AppError>,
}

impl Reader<'_> {
    async fn part(&mut self, mut part: actix_multipart::Field) -> Result<(), AppError> {
        if self.error.is_some() {
            return drain(&mut part).await;
        }
        let name = part.name().unwrap_or_default().to_owned();
        let filename = part.content_disposition().and_then(|d| d.get_filename()).map(str::to_owned);
        let outcome = if name == FILES {
            let declared = part.content_type().map(|m| m.essence_str().to_owned());
            self.file(&mut part, filename, declared).await
        } else {
            self.text(&mut part, name).await
        };
        // Each reader consumed its part whole, whatever it found.
        if let Err(error) = outcome {
            self.error = Some(error);
        }
        Ok(())
    }

    async fn text(&mut self, part: &mut actix_multipart::Field, name: String) -> Result<(), AppError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|_| malformed())?;
            self.text_bytes += chunk.len();
            if self.text_bytes > self.limits.max_text_bytes {
                drain(part).await?;
                return Err(AppError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(bytes).map_err(|_| AppError::field(&name, "El texto no es UTF-8 válido."))?;
        if self.fields.contains_key(&name) {
            return Err(AppError::field(&name, format!("El campo «{name}» está repetido.")));
        }
        self.fields.insert(name, Value::String(text));
        Ok(())
    }

    async fn file(
        &mut self,
        part: &mut actix_multipart::Field,
        filename: Option<String>,
        declared: Option<String>,
    ) -> Result<(), AppError> {
        let index = self.files.len();
        let field = format!("{FILES}[{index}]");
        if index >= self.limits.max_files {
            return Err(AppError::field(FILES, format!("Se admiten a lo más {} archivos.", self.limits.max_files)));
        }
        let filename = sanitize_filename(filename.as_deref().unwrap_or(""))
            .ok_or_else(|| AppError::field(&field, "El archivo no tiene nombre."))?;
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|_| malformed())?;
            self.total += chunk.len();
            if bytes.len() + chunk.len() > self.limits.max_file_bytes {
                return Err(too_large(&field, format!("«{filename}» supera {}.", size(self.limits.max_file_bytes))));
            }
            if self.total > self.limits.max_total_bytes {
                return Err(too_large(
                    FILES,
                    format!("Los archivos superan {} en total.", size(self.limits.max_total_bytes)),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err(AppError::field(&field, format!("«{filename}» está vacío.")));
        }
        let sniffed = media::sniff(&bytes[..bytes.len().min(16)]).media_type;
        let content_type = match &self.limits.media_types {
            Some(allowed) if !allowed.iter().any(|t| t == sniffed) => {
                return Err(AppError::field(
                    &field,
                    format!("«{filename}» no es de un tipo admitido; se aceptan: {}.", type_names(allowed)),
                ));
            }
            // The public form's files are what their bytes say.
            Some(_) => sniffed.to_owned(),
            None => declared.filter(|d| valid_media_type(d)).unwrap_or_else(|| sniffed.to_owned()),
        };
        self.files.push(NewFile { filename, content_type, bytes, content_id: None });
        Ok(())
    }
}

async fn drain(part: &mut actix_multipart::Field) -> Result<(), AppError> {
    while let Some(chunk) = part.next().await {
        chunk.map_err(|_| malformed())?;
    }
    Ok(())
}

fn too_large(field: &str, message: String) -> AppError {
    AppError::TooLarge(crate::error::FieldError::new(field, message))
}

/// `10 MB`, `512 KB`: limits as people read them.
pub fn size(bytes: usize) -> String {
    const MB: usize = 1024 * 1024;
    if bytes >= MB && bytes % MB == 0 {
        format!("{} MB", bytes / MB)
    } else if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64).replace('.', ",")
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// `PNG, JPEG, PDF` for the accepted media types.
pub fn type_names(types: &[String]) -> String {
    types
        .iter()
        .map(|t| t.rsplit('/').next().unwrap_or(t).trim_start_matches("x-").to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ")
}

fn valid_media_type(value: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    value.split_once('/').is_some_and(|(kind, sub)| token(kind) && token(sub))
}

/// The name a file is stored under: the last path segment, without control or bidirectional
/// formatting characters, without leading dots (no `..`, no hidden files), at most
/// [`MAX_FILENAME`] characters with the extension kept; `None` when nothing is left.
pub fn sanitize_filename(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'))
        .collect();
    let clean = clean.trim().trim_start_matches('.').trim_end_matches(['.', ' ']).trim();
    if clean.is_empty() {
        return None;
    }
    if clean.chars().count() <= MAX_FILENAME {
        return Some(clean.to_owned());
    }
    let (stem, extension) = match clean.rsplit_once('.') {
        Some((stem, ext)) if !ext.is_empty() && ext.chars().count() <= 10 => (stem, format!(".{ext}")),
        _ => (clean, String::new()),
    };
    let keep = MAX_FILENAME - extension.chars().count();
    Some(format!("{}{extension}", stem.chars().take(keep).collect::<String>().trim_end()))
}

/// The text parts as the JSON object the body would be: empty fields are left out (an HTML form
/// sends every input), `booleans` are read as true/false.
fn form_value(fields: Map<String, Value>, booleans: &[&str]) -> Value {
    let mut object = Map::new();
    for (name, value) in fields {
        let Value::String(text) = value else { continue };
        if text.is_empty() {
            continue;
        }
        let value = match (booleans.contains(&name.as_str()), text.as_str()) {
            (true, "true" | "on" | "1") => Value::Bool(true),
            (true, "false" | "0") => Value::Bool(false),
            _ => Value::String(text),
        };
        object.insert(name, value);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_a_safe_last_segment() {
        assert_eq!(sanitize_filename("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize_filename("C:\\Users\\ana\\orden.pdf").as_deref(), Some("orden.pdf"));
        assert_eq!(sanitize_filename("..").as_deref(), None);
        assert_eq!(sanitize_filename("  ").as_deref(), None);
        assert_eq!(sanitize_filename(".bashrc").as_deref(), Some("bashrc"));
        assert_eq!(sanitize_filename("fac\u{202e}fdp.exe").as_deref(), Some("facfdp.exe"));
        assert_eq!(sanitize_filename("a\r\nb\0.pdf").as_deref(), Some("ab.pdf"));
        assert_eq!(sanitize_filename("orden nº 12.pdf").as_deref(), Some("orden nº 12.pdf"));
        let long = format!("{}.pdf", "a".repeat(500));
        let cut = sanitize_filename(&long).unwrap();
        assert_eq!(cut.chars().count(), MAX_FILENAME);
        assert!(cut.ends_with(".pdf"));
    }

    #[test]
    fn sizes_and_types_read_as_people_write_them() {
        assert_eq!(size(10 * 1024 * 1024), "10 MB");
        assert_eq!(size(1536 * 1024), "1,5 MB");
        assert_eq!(size(1000), "1 KB");
        let types = ["image/png".to_owned(), "application/pdf".to_owned()];
        assert_eq!(type_names(&types), "PNG, PDF");
    }

    #[test]
    fn form_fields_become_the_json_body() {
        let mut fields = Map::new();
        fields.insert("body".into(), "Hola".into());
        fields.insert("from_requester".into(), "true".into());
        fields.insert("status".into(), "".into());
        let value = form_value(fields, &["from_requester"]);
        assert_eq!(value, serde_json::json!({"body": "Hola", "from_requester": true}));
    }
}
