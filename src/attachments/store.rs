//! Where attachment bytes live: a directory (one machine) or the database (shared by replicas).
//! Either way each content is stored once, keyed by its SHA-256, with a row in `attachment_files`
//! that holds its malware scan and tells the garbage sweep when it was last stored.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use sha2::{Digest, Sha256};

use crate::config::{Settings, StoreKind};
use crate::db::schema::{attachment_blobs, attachment_files};
use crate::db::types::{Tstz, UtcTime};
use crate::db::DbConnection;
pub use crate::domain::media::ScanState;
use crate::error::AppError;

/// Runs `$body` with `$c` bound to the concrete connection of either backend (raw SQL that both
/// understand, written once).
macro_rules! on_both {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Pg($c) => $body,
            DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_both;

enum Place {
    Directory(PathBuf),
    Database,
}

/// Content-addressed attachment files: the same file sent twice is stored once.
pub struct FileStore {
    place: Place,
    /// New files wait for clamd (`pending`) instead of being offered at once (`unscanned`).
    scanning: bool,
}

/// The bytes of a file that may be offered.
pub enum Content {
    File(PathBuf),
    Bytes(Vec<u8>),
}

#[derive(QueryableByName)]
struct ScanRow {
    #[diesel(sql_type = Text)]
    scan: String,
}

impl FileStore {
    /// Files under `root`, not scanned.
    pub fn new(root: impl AsRef<Path>) -> FileStore {
        FileStore { place: Place::Directory(root.as_ref().to_owned()), scanning: false }
    }

    /// The store `[attachments]` describes.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<FileStore> {
        let place = match settings.attachments.store {
            StoreKind::Directory => Place::Directory(settings.attachments_dir()?.into()),
            StoreKind::Database => Place::Database,
        };
        Ok(FileStore { place, scanning: !settings.attachments.clamd.trim().is_empty() })
    }

    /// Writes the bytes (if new) and returns their SHA-256. `conn` is the caller's transaction: the
    /// file's row (and, in the database store, its bytes) commit with the attachment that refers
    /// to it, and the row stays locked until then, so the sweep cannot take it meanwhile.
    pub fn put(&self, conn: &mut DbConnection, bytes: &[u8]) -> Result<String, AppError> {
        let hash = hex::encode(Sha256::digest(bytes));
        let state = self.record(conn, &hash, bytes.len() as i64)?;
        if state == ScanState::Infected {
            // Known malware stays where it was put apart.
            return Ok(hash);
        }
        match &self.place {
            Place::Directory(root) => write_file(root, &hash, bytes)?,
            Place::Database => {
                on_both!(conn, |c| diesel::sql_query(
                    "INSERT INTO attachment_blobs (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING"
                )
                .bind::<Text, _>(&hash)
                .bind::<diesel::sql_types::Binary, _>(bytes)
                .execute(c))?;
            }
        }
        Ok(hash)
    }

    /// Inserts or refreshes the file's row; returns its scan state.
    fn record(&self, conn: &mut DbConnection, hash: &str, size: i64) -> Result<ScanState, AppError> {
        let initial = if self.scanning { ScanState::Pending } else { ScanState::Unscanned };
        let now = UtcTime::now();
        // A file stored before clamd was configured is scanned when it comes again.
        let row: ScanRow = on_both!(conn, |c| {
            diesel::sql_query(
            "INSERT INTO attachment_files (sha256, size, scan, next_scan_at, last_put_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (sha256) DO UPDATE SET last_put_at = excluded.last_put_at, \
             scan = CASE WHEN attachment_files.scan = 'unscanned' THEN excluded.scan ELSE attachment_files.scan END \
             RETURNING scan"
        )
        .bind::<Text, _>(hash)
        .bind::<BigInt, _>(size)
        .bind::<Text, _>(initial.as_str())
        .bind::<Tstz, _>(now)
        .get_result(c)
        })?;
        Ok(ScanState::from_column(Some(&row.scan)))
    }

    /// The bytes of `sha256` (a mail's MIME part, say); `None` when they are not stored or may not
    /// be offered (waiting for the scan, or infected).
    pub fn read(&self, conn: &mut DbConnection, sha256: &str) -> Result<Option<Vec<u8>>, AppError> {
        match self.state(conn, sha256)? {
            Some((ScanState::Pending | ScanState::Infected, _)) => Ok(None),
            _ => self.raw(conn, sha256),
        }
    }

    /// The scan state of `sha256` and its detail; `None` when no such file was ever stored.
    pub fn state(
        &self,
        conn: &mut DbConnection,
        sha256: &str,
    ) -> Result<Option<(ScanState, Option<String>)>, AppError> {
        let row: Option<(String, Option<String>)> = attachment_files::table
            .find(sha256)
            .select((attachment_files::scan, attachment_files::scan_detail))
            .first(conn)
            .optional()?;
        Ok(row.map(|(scan, detail)| (ScanState::from_column(Some(&scan)), detail)))
    }

    /// What a download sends, or the 409 telling why it cannot (scan pending, malware) and the 404
    /// of bytes that are gone.
    pub fn open(&self, conn: &mut DbConnection, sha256: &str) -> Result<Content, AppError> {
        match self.state(conn, sha256)? {
            Some((ScanState::Pending, _)) => {
                return Err(AppError::Conflict(
                    "El archivo se está analizando en busca de malware; intente de nuevo en unos minutos.".into(),
                ))
            }
            Some((ScanState::Infected, detail)) => {
                let signature = detail.unwrap_or_else(|| "firma desconocida".into());
                return Err(AppError::Conflict(format!(
                    "El archivo contiene malware ({signature}); fue apartado y no se puede descargar."
                )));
            }
            _ => {}
        }
        match &self.place {
            Place::Directory(_) => self.path(sha256).map(Content::File).ok_or(AppError::NotFound("el archivo")),
            Place::Database => self.raw(conn, sha256)?.map(Content::Bytes).ok_or(AppError::NotFound("el archivo")),
        }
    }

    /// The stored bytes whatever their scan says (for the scanner).
    pub(crate) fn raw(&self, conn: &mut DbConnection, sha256: &str) -> Result<Option<Vec<u8>>, AppError> {
        match &self.place {
            Place::Directory(root) => {
                let Some(path) = self.path(sha256) else { return Ok(None) };
                match read_if_present(&path)? {
                    Some(bytes) => Ok(Some(bytes)),
                    None => read_if_present(&infected_path(root, sha256)),
                }
            }
            Place::Database => Ok(attachment_blobs::table
                .find(sha256)
                .select(attachment_blobs::bytes)
                .first::<Vec<u8>>(conn)
                .optional()?),
        }
    }

    /// Puts an infected file's bytes apart: out of the directory files are served from. (The
    /// database store keeps them in place; the `infected` state alone keeps every reader off.)
    pub(crate) fn set_apart(&self, sha256: &str) -> Result<(), AppError> {
        let (Place::Directory(root), Some(path)) = (&self.place, self.path(sha256)) else { return Ok(()) };
        let apart = infected_path(root, sha256);
        std::fs::create_dir_all(apart.parent().expect("has a parent")).map_err(anyhow::Error::from)?;
        match std::fs::rename(&path, &apart) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(anyhow::Error::from(e).into()),
            _ => Ok(()),
        }
    }

    /// Deletes the bytes of `sha256` (inside the sweep's transaction; see [`super::sweep`]).
    pub(crate) fn remove(&self, conn: &mut DbConnection, sha256: &str) -> Result<(), AppError> {
        match &self.place {
            Place::Directory(root) => {
                for path in self.path(sha256).into_iter().chain([infected_path(root, sha256)]) {
                    remove_if_present(&path)?;
                }
            }
            Place::Database => {
                diesel::delete(attachment_blobs::table.find(sha256)).execute(conn)?;
            }
        }
        Ok(())
    }

    /// The directory of a directory store.
    pub(crate) fn root(&self) -> Option<&Path> {
        match &self.place {
            Place::Directory(root) => Some(root),
            Place::Database => None,
        }
    }

    /// Where the bytes of `sha256` are kept in a directory store (`None` for anything but a SHA-256
    /// in hex, or in the database store).
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        let Place::Directory(root) = &self.place else { return None };
        is_sha256(sha256).then(|| root.join(&sha256[..2]).join(sha256))
    }
}

pub(crate) fn is_sha256(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn infected_path(root: &Path, sha256: &str) -> PathBuf {
    root.join("infected").join(sha256)
}

/// Writes a new file atomically; an existing one gets a fresh modification time, which tells the
/// sweep of untracked files that a writer has just reused it.
fn write_file(root: &Path, hash: &str, bytes: &[u8]) -> Result<(), AppError> {
    let dir = root.join(&hash[..2]);
    let path = dir.join(hash);
    if let Ok(file) = std::fs::File::options().append(true).open(&path) {
        file.set_modified(std::time::SystemTime::now()).map_err(anyhow::Error::from)?;
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(anyhow::Error::from)?;
    let tmp = dir.join(format!(".{hash}.{:08x}", rand::random::<u32>()));
    std::fs::write(&tmp, bytes).map_err(anyhow::Error::from)?;
    std::fs::rename(&tmp, &path).map_err(anyhow::Error::from)?;
    Ok(())
}

fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, AppError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::from(e).into()),
    }
}

pub(crate) fn remove_if_present(path: &Path) -> Result<(), AppError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(anyhow::Error::from(e).into()),
        _ => Ok(()),
    }
}
