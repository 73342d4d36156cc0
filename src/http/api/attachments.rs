//! Downloading a message's attachment.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use tokio::io::AsyncReadExt;

use crate::attachments;
use crate::audit::{self, Origin};
use crate::domain::media;
use crate::domain::Role;
use crate::error::{AppError, Problem};
use crate::http::auth::{perm, Auth};
use crate::http::state::AppState;

/// Bytes read from disk per chunk of the response.
const CHUNK: usize = 64 * 1024;

/// The bytes of an attachment, to whoever may read its ticket (department staff: 404).
///
/// The type is read from the bytes, not taken from the sender: PDF and images are offered inline,
/// anything else as a download; `X-Content-Type-Options: nosniff` and a sandboxing CSP keep a
/// browser from running what a file contains.
#[utoipa::path(tag = "tickets", params(("id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "The file's bytes, typed by their signature",
            content((String = "application/pdf"), (String = "image/png"), (String = "image/jpeg"), (String = "image/gif"),
                (String = "image/webp"), (String = "application/zip"), (String = "application/x-ole-storage"),
                (String = "application/octet-stream"))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The file is waiting for its malware scan, or is infected (never served)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[get("/attachments/{id}")]
pub async fn download(
    state: web::Data<AppState>,
    principal: Auth<perm::ReadReference>,
    origin: Origin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    if principal.role == Role::Department {
        return Err(AppError::NotFound("el archivo"));
    }
    let id = id.into_inner();
    let (stored, entry) = state
        .db
        .read(move |c| {
            let stored = attachments::find(c, id)?;
            let entry = audit::ticket_entry(c, audit::READ, stored.ticket_id)?;
            Ok((stored, entry))
        })
        .await?;
    super::record_reads(&state, &principal, origin, entry.into_iter().collect()).await?;
    serve(&state, id, &stored).await
}

/// The response carrying attachment `id`'s bytes, once the caller's right to them is settled
/// (the API above and the signed links of the public case page). A file waiting for its malware
/// scan, or infected, is refused with a 409 that says so.
pub async fn serve(state: &AppState, id: i64, stored: &attachments::Stored) -> Result<HttpResponse, AppError> {
    let files = state.attachments.clone();
    let sha = stored.sha256.clone();
    let content = state.db.read(move |c| files.open(c, &sha)).await?;
    let (head, rest): (Vec<u8>, Body) = match content {
        attachments::Content::Bytes(mut bytes) => {
            let rest = bytes.split_off(bytes.len().min(16));
            (bytes, Box::pin(futures_util::stream::once(async move { Ok(web::Bytes::from(rest)) })))
        }
        attachments::Content::File(path) => {
            let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
                tracing::error!(attachment = id, error = %e, "attachment bytes missing");
                AppError::NotFound("el archivo")
            })?;
            let mut head = vec![0u8; 16];
            let n = read_full(&mut file, &mut head).await?;
            head.truncate(n);
            (head, Box::pin(chunks(file)))
        }
    };
    let sniffed = media::sniff(&head);
    let first = futures_util::stream::once(async move { Ok::<_, std::io::Error>(web::Bytes::from(head)) });
    Ok(HttpResponse::Ok()
        .content_type(sniffed.media_type)
        .insert_header((header::CONTENT_DISPOSITION, media::content_disposition(sniffed.inline, &stored.filename)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header((header::CONTENT_LENGTH, stored.size))
        .streaming(futures_util::StreamExt::chain(first, rest)))
}

/// The rest of a response body.
type Body = std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<web::Bytes, std::io::Error>>>>;

/// A file's remaining bytes, [`CHUNK`] at a time.
fn chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> {
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; CHUNK];
        let n = file.read(&mut buf).await?;
        buf.truncate(n);
        Ok::<_, std::io::Error>((n > 0).then(|| (web::Bytes::from(buf), file)))
    })
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> Result<usize, AppError> {
    let mut n = 0;
    while n < buf.len() {
        let read = file.read(&mut buf[n..]).await.map_err(anyhow::Error::from)?;
        if read == 0 {
            break;
        }
        n += read;
    }
    Ok(n)
}
