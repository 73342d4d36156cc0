//! IMAP mailboxes: each configured mailbox is watched for unseen mail (with IDLE where the server
//! offers it, polling otherwise); every message is stored (through the same intake as the inbound
//! endpoint) and only then flagged `\Seen` or moved on the server. A crash between the two
//! re-fetches the mail next time, and the Message-ID deduplication makes that a no-op: nothing is
//! lost and nothing is stored twice.

use std::sync::Arc;
use std::time::Duration;

use async_imap::Client;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::intake;
use crate::attachments::FileStore;
use crate::config::EmailSettings;
pub use crate::config::MailboxSettings;
use crate::db::Db;
use crate::secrets::Signer;

/// Mail larger than this is quarantined rather than parsed.
fn too_large(email: &EmailSettings, raw: &[u8]) -> bool {
    raw.len() > email.max_message_bytes
}

/// A connection to the server, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Stream for T {}

type Session = async_imap::Session<Box<dyn Stream>>;

/// Wraps `stream` in TLS, trusting the public roots and `ca_file`.
async fn tls(mb: &MailboxSettings, stream: Box<dyn Stream>) -> anyhow::Result<Box<dyn Stream>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &mb.ca_file {
        let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("ca_file {path}: {e}"))?;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert.map_err(|e| anyhow::anyhow!("ca_file {path}: {e:?}"))?)?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(mb.host.clone())?;
    Ok(Box::new(tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, stream).await?))
}

/// Connects (implicit TLS, STARTTLS or plain) and logs in, with the mailbox folder selected; also
/// says whether the server offers IDLE.
async fn open(mb: &MailboxSettings) -> anyhow::Result<(Session, bool)> {
    let tcp: Box<dyn Stream> = Box::new(TcpStream::connect((mb.host.as_str(), mb.port)).await?);
    let stream = if mb.tls { tls(mb, tcp).await? } else { tcp };
    let mut client = Client::new(stream);
    client.read_response().await?.ok_or_else(|| anyhow::anyhow!("no IMAP greeting"))?;
    if !mb.tls && mb.starttls {
        client.run_command_and_check_ok("STARTTLS", None).await?;
        // No greeting follows the upgrade: the session continues inside TLS.
        client = Client::new(tls(mb, client.into_inner()).await?);
    }
    let mut session = client.login(&mb.username, &mb.password).await.map_err(|(e, _)| e)?;
    let idle = session.capabilities().await?.has_str("IDLE");
    session.select(&mb.folder).await?;
    Ok((session, idle))
}

/// One pass over the mailbox; returns how many messages were stored.
pub async fn poll_once(
    db: &Db,
    email: &EmailSettings,
    signer: &Signer,
    files: &Arc<FileStore>,
    mb: &MailboxSettings,
) -> anyhow::Result<usize> {
    let (mut session, _) = open(mb).await?;
    let stored = fetch_unseen(&mut session, db, email, signer, files, mb).await?;
    session.logout().await?;
    Ok(stored)
}

/// Stores every unseen mail, then marks it on the server.
async fn fetch_unseen(
    session: &mut Session,
    db: &Db,
    email: &EmailSettings,
    signer: &Signer,
    files: &Arc<FileStore>,
    mb: &MailboxSettings,
) -> anyhow::Result<usize> {
    let mut uids: Vec<u32> = session.uid_search("UNSEEN").await?.into_iter().collect();
    uids.sort_unstable();
    let mut stored = 0;
    for uid in uids {
        // PEEK: reading does not mark the mail seen; only storing it does.
        let raw = {
            let mut fetches = session.uid_fetch(uid.to_string(), "BODY.PEEK[]").await?;
            let mut raw = None;
            while let Some(fetch) = fetches.next().await {
                if let Some(body) = fetch?.body() {
                    raw = Some(body.to_vec());
                }
            }
            raw
        };
        let Some(raw) = raw else { continue };
        store(db, email, signer, files, &mb.name, raw).await?;
        stored += 1;
        match &mb.processed_folder {
            Some(folder) => session.uid_mv(uid.to_string(), folder).await?,
            None => {
                let mut updates = session.uid_store(uid.to_string(), "+FLAGS (\\Seen)").await?;
                while let Some(update) = updates.next().await {
                    update?;
                }
            }
        }
    }
    Ok(stored)
}

/// Keeps one session open: fetches, then waits for the server to announce new mail (IDLE,
/// renewed every poll interval, at most 25 minutes as RFC 2177 asks) or, without IDLE, sleeps.
async fn watch(
    db: &Db,
    email: &EmailSettings,
    signer: &Signer,
    files: &Arc<FileStore>,
    mb: &MailboxSettings,
) -> anyhow::Result<()> {
    let (mut session, idle) = open(mb).await?;
    let wait = Duration::from_secs(mb.poll_interval_secs.clamp(1, 25 * 60));
    loop {
        let n = fetch_unseen(&mut session, db, email, signer, files, mb).await?;
        if n > 0 {
            tracing::info!(mailbox = %mb.name, stored = n, idle, "mail fetched over IMAP");
        }
        if idle {
            let mut handle = session.idle();
            handle.init().await?;
            let (announced, _stop) = handle.wait_with_timeout(wait);
            announced.await?;
            session = handle.done().await?;
        } else {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Stores one mail, or quarantines it: a bad mail never blocks the ones behind it.
async fn store(
    db: &Db,
    email: &EmailSettings,
    signer: &Signer,
    files: &Arc<FileStore>,
    mailbox: &str,
    raw: Vec<u8>,
) -> anyhow::Result<()> {
    let (email, signer, files, mailbox) = (email.clone(), signer.clone(), files.clone(), mailbox.to_owned());
    db.write(move |c| {
        if too_large(&email, &raw) {
            let reason = format!("excede el tamaño máximo ({} bytes)", email.max_message_bytes);
            return intake::quarantine(c, &mailbox, &raw, &reason).map(|_| ());
        }
        match intake::admit(&email, &raw) {
            Ok(mail) => intake::ingest(c, &email, &signer, &files, &mailbox, &mail).map(|_| ()),
            Err(reason) => intake::quarantine(c, &mailbox, &raw, &reason).map(|_| ()),
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("storing mail: {e}"))
}

/// The watcher of one mailbox in one replica; reconnects after any failure. Replicas may watch
/// the same mailbox: the Message-ID deduplication keeps a mail fetched twice from becoming two
/// messages.
pub async fn run(db: Db, email: EmailSettings, signer: Arc<Signer>, files: Arc<FileStore>, mb: MailboxSettings) {
    loop {
        if let Err(e) = watch(&db, &email, &signer, &files, &mb).await {
            tracing::warn!(mailbox = %mb.name, error = %e, "IMAP session failed; reconnecting later");
        }
        tokio::time::sleep(Duration::from_secs(mb.poll_interval_secs.max(1))).await;
    }
}
