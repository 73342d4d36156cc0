//! The tokens in the links and addresses we hand to requesters (`/casos/{token}`, the survey's
//! `/encuesta/{token}`, the `+token` of reply addresses): all signed with one secret through
//! [`Signer`], built once at start-up. Verification also accepts the previous secrets, so a
//! rotation does not break the links already mailed; signing always uses the current one.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The example value `[email] token_secret` shipped with: public, so refused.
pub const PLACEHOLDER: &str = "cambie-este-secreto-en-produccion";
/// The shortest configured secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// A new random secret (32 bytes, hex): what an installation without a configured one uses.
pub fn generate() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Refuses a configured secret anyone could know or guess; `setting` names it in the error.
pub fn check_configured(setting: &str, secret: &str) -> anyhow::Result<()> {
    if secret == PLACEHOLDER {
        anyhow::bail!(
            "{setting} is the documented example value: anyone could forge case links, survey answers \
             and reply addresses. Leave it empty (a random secret is generated and kept in the database) \
             or set at least {MIN_SECRET_BYTES} random bytes, e.g. `openssl rand -hex 32`"
        );
    }
    if secret.len() < MIN_SECRET_BYTES {
        anyhow::bail!(
            "{setting} is shorter than {MIN_SECRET_BYTES} bytes ({}): leave it empty (a random secret is \
             generated and kept in the database) or set a longer one, e.g. `openssl rand -hex 32`",
            secret.len()
        );
    }
    Ok(())
}

/// What a survey token is worth at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid(i64),
    Expired(i64),
    Invalid,
}

/// Signs with the current secret, verifies with the current and the previous ones.
#[derive(Clone)]
pub struct Signer {
    current: String,
    previous: Vec<String>,
}

impl std::fmt::Debug for Signer {
    /// Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("previous", &self.previous.len()).finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(current: impl Into<String>, previous: Vec<String>) -> Signer {
        Signer { current: current.into(), previous }
    }

    /// The configured `[email] token_secret`, else the installation's generated one; the
    /// configured previous secrets still verify.
    pub fn from_settings(email: &crate::config::EmailSettings, generated: &str) -> Signer {
        let configured = email.token_secret.trim();
        let current = if configured.is_empty() { generated } else { configured };
        Signer::new(current, email.previous_token_secrets.iter().map(|s| s.trim().to_owned()).collect())
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current.as_str()).chain(self.previous.iter().map(String::as_str))
    }

    /// `t<id>k<mac>`, the `+token` of a ticket's reply address.
    pub fn reply_token(&self, ticket_id: i64) -> String {
        reply_token(&self.current, ticket_id)
    }

    /// The ticket a reply token points at, if we issued it.
    pub fn verify_reply_token(&self, token: &str) -> Option<i64> {
        let id: i64 = token.strip_prefix('t')?.split_once('k')?.0.parse().ok()?;
        // Some MTAs change the case of the local part.
        let token = token.to_ascii_lowercase();
        self.keys().any(|key| same(&reply_token(key, id), &token)).then_some(id)
    }

    /// `<id>-<mac>`, the token of the case page `/casos/{token}`.
    pub fn case_token(&self, ticket_id: i64) -> String {
        case_token(&self.current, ticket_id)
    }

    /// The ticket a case token points at, if we issued it.
    pub fn verify_case_token(&self, token: &str) -> Option<i64> {
        let id: i64 = token.split_once('-')?.0.parse().ok()?;
        self.keys().any(|key| same(&case_token(key, id), token)).then_some(id)
    }

    /// `<ticket>-<expiry, Unix seconds>-<HMAC>`, the token of a survey link.
    pub fn survey_token(&self, ticket_id: i64, expires: DateTime<Utc>) -> String {
        let expires = expires.timestamp();
        format!("{ticket_id}-{expires}-{}", survey_mac(&self.current, ticket_id, expires))
    }

    /// What a survey token is worth at `now`.
    pub fn check_survey_token(&self, token: &str, now: DateTime<Utc>) -> TokenCheck {
        let mut parts = token.splitn(3, '-');
        let (Some(id), Some(expires), Some(given)) = (parts.next(), parts.next(), parts.next()) else {
            return TokenCheck::Invalid;
        };
        let (Ok(id), Ok(expires)) = (id.parse::<i64>(), expires.parse::<i64>()) else { return TokenCheck::Invalid };
        if !self.keys().any(|key| same(&survey_mac(key, id, expires), given)) {
            TokenCheck::Invalid
        } else if now.timestamp() >= expires {
            TokenCheck::Expired(id)
        } else {
            TokenCheck::Valid(id)
        }
    }
}

fn reply_token(secret: &str, ticket_id: i64) -> String {
    let mac = Sha256::digest(format!("{secret}:{ticket_id}").as_bytes());
    format!("t{ticket_id}k{}", &hex::encode(mac)[..12])
}

/// Long enough that links cannot be guessed, and distinct from the reply token so one cannot be
/// derived from the other.
fn case_token(secret: &str, ticket_id: i64) -> String {
    let mac = Sha256::digest(format!("case:{secret}:{ticket_id}").as_bytes());
    format!("{ticket_id}-{}", &hex::encode(mac)[..32])
}

fn survey_mac(secret: &str, ticket_id: i64, expires: i64) -> String {
    hex::encode(&hmac_sha256(secret.as_bytes(), format!("encuesta:{ticket_id}:{expires}").as_bytes())[..16])
}

/// Compared in full whatever the first difference, so timing says nothing about the MAC.
fn same(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && expected.bytes().zip(given.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

/// HMAC-SHA256 (RFC 2104) over sha2, the hash the service already uses.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn signer(secret: &str) -> Signer {
        Signer::new(secret, Vec::new())
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn reply_tokens_verify_and_resist_guessing() {
        let s = signer("secreto");
        let token = s.reply_token(42);
        assert!(token.starts_with("t42k"));
        assert_eq!(s.verify_reply_token(&token), Some(42));
        let upper = format!("t42k{}", token["t42k".len()..].to_ascii_uppercase());
        assert_eq!(s.verify_reply_token(&upper), Some(42));
        assert_eq!(signer("otro").verify_reply_token(&token), None);
        assert_eq!(s.verify_reply_token(&token.replace("t42", "t43")), None);
        assert_eq!(s.verify_reply_token("t42kdeadbeef0000"), None);
        assert_eq!(s.verify_reply_token("basura"), None);
    }

    #[test]
    fn case_tokens_verify_and_differ_from_reply_tokens() {
        let s = signer("secreto");
        let token = s.case_token(42);
        assert_eq!(token.len(), "42-".len() + 32);
        assert_eq!(s.verify_case_token(&token), Some(42));
        assert_eq!(signer("otro").verify_case_token(&token), None);
        assert_eq!(s.verify_case_token(&token.replacen("42-", "43-", 1)), None);
        assert_eq!(s.verify_case_token(&s.reply_token(42)), None);
        assert_eq!(s.verify_case_token("42"), None);
    }

    #[test]
    fn survey_tokens_verify_expire_and_resist_tampering() {
        let s = signer("secreto");
        let (expires, now) = (at("2026-12-09T12:00:00Z"), at("2026-12-02T12:00:00Z"));
        let t = s.survey_token(42, expires);
        assert!(t.starts_with(&format!("42-{}-", expires.timestamp())));
        assert_eq!(s.check_survey_token(&t, now), TokenCheck::Valid(42));
        assert_eq!(s.check_survey_token(&t, expires), TokenCheck::Expired(42));
        assert_eq!(signer("otro").check_survey_token(&t, now), TokenCheck::Invalid);
        // Moving the expiry or the ticket breaks the MAC.
        let later = t.replacen(&expires.timestamp().to_string(), &(expires.timestamp() + 86400).to_string(), 1);
        assert_eq!(s.check_survey_token(&later, now), TokenCheck::Invalid);
        assert_eq!(s.check_survey_token(&t.replacen("42-", "43-", 1), now), TokenCheck::Invalid);
        for junk in ["", "42", "42-1", "x-y-z", "42-1-", "-1-abc"] {
            assert_eq!(s.check_survey_token(junk, now), TokenCheck::Invalid, "{junk}");
        }
        // A case-page token is not a survey token.
        assert_eq!(s.check_survey_token(&s.case_token(42), now), TokenCheck::Invalid);
    }

    #[test]
    fn rotation_verifies_with_previous_secrets_and_signs_with_the_current_one() {
        let old = signer("antiguo");
        let rotated = Signer::new("nuevo", vec!["antiguo".into()]);
        let now = at("2026-12-02T12:00:00Z");
        let expires = at("2026-12-09T12:00:00Z");
        assert_eq!(rotated.verify_case_token(&old.case_token(7)), Some(7));
        assert_eq!(rotated.verify_reply_token(&old.reply_token(7)), Some(7));
        assert_eq!(rotated.check_survey_token(&old.survey_token(7, expires), now), TokenCheck::Valid(7));
        // New tokens are the current secret's only.
        assert_eq!(rotated.case_token(7), signer("nuevo").case_token(7));
        assert_eq!(old.verify_case_token(&rotated.case_token(7)), None);
        assert_eq!(signer("nuevo").verify_reply_token(&old.reply_token(7)), None);
    }

    #[test]
    fn configured_secrets_must_be_unknown_and_long() {
        let err = check_configured("[email] token_secret", PLACEHOLDER).unwrap_err().to_string();
        assert!(err.contains("[email] token_secret") && err.contains("example"), "{err}");
        let err = check_configured("[email] token_secret", "corto").unwrap_err().to_string();
        assert!(err.contains("[email] token_secret") && err.contains("32 bytes"), "{err}");
        check_configured("[email] token_secret", &generate()).unwrap();
        assert_eq!(generate().len(), 64);
        assert_ne!(generate(), generate());
    }
}
