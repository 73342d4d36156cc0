//! Raw mail bytes → parsed mail → threading keys → the fields a new ticket would be stored with.
//! `intake::ingest` itself needs the database; this covers everything before its first query.
//!
//! Shared by the cargo-fuzz target `fuzz/fuzz_targets/email_intake.rs` and the seed smoke test
//! `tests/api/fuzz_seeds.rs` (ordinary code, run by `cargo test`).

use atencion::channels::email::{intake, parse};
use atencion::config::Settings;
use atencion::domain::text::sanitize_html;
use std::sync::OnceLock;

fn settings() -> &'static atencion::config::EmailSettings {
    static SETTINGS: OnceLock<atencion::config::EmailSettings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings::defaults().email)
}

fn signer() -> &'static atencion::secrets::Signer {
    static SIGNER: OnceLock<atencion::secrets::Signer> = OnceLock::new();
    SIGNER.get_or_init(|| atencion::secrets::Signer::new(atencion::secrets::generate(), Vec::new()))
}

/// One input of the `email_intake` target (libFuzzer in `fuzz/`, seeds and mutations in `cargo test`).
pub fn run(raw: &[u8]) {
    let settings = settings();
    let Ok(mail) = parse::parse(raw, &settings.loop_header) else { return };
    assert!(!mail.message_id.is_empty(), "a parsed mail always has a Message-ID");
    // Threading: parents, the reply token in the recipients, the ticket tag in the subject.
    for parent in &mail.parents {
        let _ = parent.split_once('@');
    }
    let _ = intake::ticket_by_token(settings, signer(), &mail);
    if let Some(tag) = intake::subject_tag(&mail.subject) {
        let _ = tag.to_string();
    }
    // Store-ready: what a new ticket or an appended message would hold.
    let (subject, body) = intake::ticket_text(&mail);
    assert!(!subject.is_empty() && subject.chars().count() <= 200);
    assert!(!body.trim().is_empty());
    // Postgres cannot store NUL in text: none reaches a text column.
    let texts = [&mail.message_id, &mail.subject, &mail.from_name, &mail.text, &subject, &body];
    assert!(texts.iter().all(|t| !t.contains('\0')), "NUL in a stored text");
    assert!(mail.html.as_deref().is_none_or(|h| !h.contains('\0')) && mail.parents.iter().all(|p| !p.contains('\0')));
    let _ = intake::admit(settings, raw);
    if let Some(html) = &mail.html {
        let _ = sanitize_html(html);
    }
    let _ = parse::strip_quoted(&mail.text);
    for a in &mail.attachments {
        let name = &a.filename;
        let unsafe_name = name.contains(['/', '\\']) || name == "." || name == ".." || name.trim() != name;
        assert!(!unsafe_name && !name.is_empty(), "unsafe attachment name {name:?}");
        assert!(!a.content_type.contains('\0') && a.content_id.as_deref().is_none_or(|c| !c.contains('\0')));
    }
}
