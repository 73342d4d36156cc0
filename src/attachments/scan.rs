//! Malware scanning with ClamAV's daemon. New files wait (`pending`) until a worker has sent them
//! to clamd (INSTREAM); then they are `clean` or `infected`. Workers of several replicas claim
//! different files (`SKIP LOCKED`); a claim lasts [`LEASE`], so the files of a replica that died
//! mid-scan are taken again after it. When clamd cannot be reached the file waits and is tried
//! again `[attachments] scan_retry_secs` later: nothing is offered unscanned.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::store::ScanState;
use super::FileStore;
use crate::db::schema::attachment_files;
use crate::db::types::UtcTime;
use crate::db::{backend, Db, DbConnection};
use crate::error::AppError;

/// How long a worker holds the files it took.
const LEASE: Duration = Duration::from_secs(300);
/// Files taken per round.
const BATCH: i64 = 10;
/// The whole exchange with clamd for one file.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Bytes per INSTREAM chunk.
const CHUNK: usize = 64 * 1024;

/// clamd's answer about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature's name.
    Infected(String),
}

/// Scans pending files every `interval` until the process ends.
pub async fn run(db: Db, files: Arc<FileStore>, clamd: String, interval: Duration, retry: Duration) {
    loop {
        if let Err(e) = scan_due(&db, &files, &clamd, retry).await {
            tracing::warn!(error = %e, "attachment scan round failed");
        }
        tokio::time::sleep(interval).await;
    }
}

/// One round: takes due pending files and scans each; returns how many got a verdict.
pub async fn scan_due(db: &Db, files: &Arc<FileStore>, clamd: &str, retry: Duration) -> Result<usize, AppError> {
    let now = UtcTime::now();
    let until = UtcTime::from(now.0 + chrono::TimeDelta::from_std(LEASE).expect("small"));
    let taken = db.write(move |c| claim(c, now, until)).await?;
    let mut done = 0;
    for sha in taken {
        let store = files.clone();
        let key = sha.clone();
        let Some(bytes) = db.read(move |c| store.raw(c, &key)).await? else {
            tracing::warn!(sha256 = %sha, "pending attachment has no bytes; the sweep will take it");
            continue;
        };
        match scan(clamd, &bytes).await {
            Ok(verdict) => {
                record(db, files, sha, verdict).await?;
                done += 1;
            }
            Err(e) => {
                tracing::warn!(sha256 = %sha, error = %e, "clamd did not scan the file; it waits");
                let again = UtcTime::from(chrono::Utc::now() + chrono::TimeDelta::from_std(retry).unwrap_or_default());
                let detail = format!("clamd no respondió: {e}");
                db.write(move |c| {
                    diesel::update(attachment_files::table.find(&sha).filter(attachment_files::scan.eq("pending")))
                        .set((attachment_files::next_scan_at.eq(again), attachment_files::scan_detail.eq(detail)))
                        .execute(c)?;
                    Ok(())
                })
                .await?;
            }
        }
    }
    Ok(done)
}

/// Takes up to [`BATCH`] pending files that are due, until `until`.
fn claim(conn: &mut DbConnection, now: UtcTime, until: UtcTime) -> Result<Vec<String>, AppError> {
    Ok(backend::lease(conn, &backend::ATTACHMENT_SCANS, now, until, BATCH)?)
}

async fn record(db: &Db, files: &Arc<FileStore>, sha: String, verdict: Verdict) -> Result<(), AppError> {
    let (state, detail) = match &verdict {
        Verdict::Clean => (ScanState::Clean, None),
        Verdict::Infected(signature) => (ScanState::Infected, Some(signature.clone())),
    };
    let key = sha.clone();
    db.write(move |c| {
        diesel::update(attachment_files::table.find(&key).filter(attachment_files::scan.eq("pending")))
            .set((attachment_files::scan.eq(state.as_str()), attachment_files::scan_detail.eq(detail)))
            .execute(c)?;
        Ok(())
    })
    .await?;
    if let Verdict::Infected(signature) = verdict {
        tracing::warn!(sha256 = %sha, %signature, "infected attachment put apart");
        files.set_apart(&sha)?;
    }
    Ok(())
}

/// Sends `bytes` to clamd at `address` (`tcp://host:port`, or a unix socket path, optionally
/// `unix://path`) and reads its verdict.
pub async fn scan(address: &str, bytes: &[u8]) -> anyhow::Result<Verdict> {
    let address = address.trim();
    let exchange = async {
        if let Some(host) = address.strip_prefix("tcp://") {
            instream(tokio::net::TcpStream::connect(host.trim_end_matches('/')).await?, bytes).await
        } else {
            let path = address.strip_prefix("unix://").unwrap_or(address);
            instream(tokio::net::UnixStream::connect(path).await?, bytes).await
        }
    };
    let reply = tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| anyhow::anyhow!("timed out"))??;
    verdict(&reply)
}

/// The INSTREAM exchange: chunks each prefixed by its length (4 bytes, big-endian), a zero length
/// at the end; clamd answers one NUL-terminated line and closes.
async fn instream<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, bytes: &[u8]) -> anyhow::Result<String> {
    stream.write_all(b"zINSTREAM\0").await?;
    for chunk in bytes.chunks(CHUNK) {
        stream.write_all(&(chunk.len() as u32).to_be_bytes()).await?;
        stream.write_all(chunk).await?;
    }
    stream.write_all(&0u32.to_be_bytes()).await?;
    stream.flush().await?;
    let mut reply = Vec::new();
    stream.take(4096).read_to_end(&mut reply).await?;
    Ok(String::from_utf8_lossy(&reply).trim_end_matches(['\0', '\n']).to_owned())
}

/// `stream: OK`, `stream: <signature> FOUND`, or an error line (`... ERROR`).
fn verdict(reply: &str) -> anyhow::Result<Verdict> {
    let line = reply.strip_prefix("stream: ").unwrap_or(reply);
    if line == "OK" {
        return Ok(Verdict::Clean);
    }
    match line.strip_suffix(" FOUND") {
        // Signatures outside ClamAV's official databases carry this suffix; the name is the rest.
        Some(signature) => Ok(Verdict::Infected(signature.trim_end_matches(".UNOFFICIAL").to_owned())),
        None => anyhow::bail!("unexpected clamd reply: {reply:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read() {
        assert_eq!(verdict("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            verdict("stream: Eicar-Signature.UNOFFICIAL FOUND").unwrap(),
            Verdict::Infected("Eicar-Signature".into())
        );
        assert_eq!(
            verdict("stream: Win.Test.EICAR_HDB-1 FOUND").unwrap(),
            Verdict::Infected("Win.Test.EICAR_HDB-1".into())
        );
        assert!(verdict("INSTREAM size limit exceeded. ERROR").is_err());
    }
}
