//! Files that came with messages: listed on each message, downloaded by those who may read the
//! ticket. The bytes live in the content-addressed [`FileStore`] (one file per SHA-256).

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

pub mod scan;
mod store;
pub mod sweep;

pub use crate::channels::email::parse::Attachment as NewFile;
use crate::db::schema::{attachment_files, attachments, messages};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::error::AppError;
use crate::tickets::model::MessageView;
pub use store::{Content, FileStore, ScanState};
pub use sweep::sweep;

/// One file of a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    pub filename: String,
    /// As the sender declared it; the download's type is read from the bytes instead.
    pub media_type: String,
    pub size: i64,
    /// SHA-256 of the bytes, in hex.
    pub sha256: String,
    /// The malware scan: only `unscanned` (no scanner configured) and `clean` files download.
    pub scan: ScanState,
    /// The signature found in an `infected` file (otherwise null).
    pub scan_detail: Option<String>,
}

/// Fills in the attachments of each message.
pub fn attach(conn: &mut DbConnection, list: &mut [MessageView]) -> Result<(), AppError> {
    let ids: Vec<i64> = list.iter().map(|m| m.id).collect();
    type Row = (Option<i64>, i64, String, String, i64, String, Option<String>, Option<String>);
    let rows: Vec<Row> = attachments::table
        .left_join(attachment_files::table.on(attachment_files::sha256.eq(attachments::sha256)))
        .filter(attachments::message_row_id.eq_any(&ids))
        .order(attachments::id)
        .select((
            attachments::message_row_id,
            attachments::id,
            attachments::filename,
            attachments::content_type,
            attachments::size,
            attachments::sha256,
            attachment_files::scan.nullable(),
            attachment_files::scan_detail.nullable(),
        ))
        .load(conn)?;
    let mut by_message: HashMap<i64, Vec<AttachmentView>> = HashMap::new();
    for (message, id, filename, media_type, size, sha256, scan, scan_detail) in rows {
        let scan = ScanState::from_column(scan.as_deref());
        // A failed try's detail is for the logs; agents see the signature of an infected file.
        let scan_detail = scan_detail.filter(|_| scan == ScanState::Infected);
        if let Some(message) = message {
            let view = AttachmentView { id, filename, media_type, size, sha256, scan, scan_detail };
            by_message.entry(message).or_default().push(view);
        }
    }
    for m in list {
        m.attachments = by_message.remove(&m.id).unwrap_or_default();
    }
    Ok(())
}

/// What a download needs: the ticket it belongs to (for the caller's right to read it), the
/// message's visibility, the name and the bytes' hash.
pub struct Stored {
    pub ticket_id: i64,
    pub internal: bool,
    pub filename: String,
    pub sha256: String,
    pub size: i64,
}

pub fn find(conn: &mut DbConnection, id: i64) -> Result<Stored, AppError> {
    let (ticket_id, visibility, filename, sha256, size): (i64, Option<String>, String, String, i64) =
        attachments::table
            .left_join(messages::table)
            .filter(attachments::id.eq(id))
            .select((
                attachments::ticket_id,
                messages::visibility.nullable(),
                attachments::filename,
                attachments::sha256,
                attachments::size,
            ))
            .first(conn)
            .optional()?
            .ok_or(AppError::NotFound("el archivo"))?;
    Ok(Stored { ticket_id, internal: visibility.as_deref() == Some("internal"), filename, sha256, size })
}

/// Stores the files of message `message` (bytes once per content, a row per file) and returns
/// the new rows' ids in order.
pub fn save(
    conn: &mut DbConnection,
    files: &FileStore,
    ticket_id: i64,
    message: i64,
    list: &[NewFile],
) -> Result<Vec<i64>, AppError> {
    // Storing a file locks its row until commit: every writer takes them in one order (by hash), so
    // two messages carrying the same files never wait on each other in a circle.
    let hashes: Vec<String> =
        list.iter().map(|a| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&a.bytes))).collect();
    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by(|&a, &b| hashes[a].cmp(&hashes[b]));
    for i in order {
        files.put(conn, &list[i].bytes)?;
    }
    let mut ids = Vec::with_capacity(list.len());
    for (a, sha) in list.iter().zip(hashes) {
        let id = diesel::insert_into(attachments::table)
            .values((
                attachments::ticket_id.eq(ticket_id),
                attachments::message_row_id.eq(message),
                attachments::filename.eq(&a.filename),
                attachments::content_type.eq(&a.content_type),
                attachments::size.eq(a.bytes.len() as i64),
                attachments::sha256.eq(sha),
                attachments::content_id.eq(&a.content_id),
                attachments::created_at.eq(UtcTime::now()),
            ))
            .returning(attachments::id)
            .get_result(conn)?;
        ids.push(id);
    }
    Ok(ids)
}
