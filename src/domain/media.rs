//! How a stored file is offered for download: its media type is read from its first bytes (never
//! taken from the sender, who may call an HTML page `image/png`), only types a browser shows
//! safely are offered inline, and the file name is quoted so no header can be injected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ticket::{string_enum, UnknownValue};

string_enum!(
    /// What ClamAV said about a file: `unscanned` (no scanner configured: offered as is),
    /// `pending` (waiting for the scanner: not offered yet), `clean`, or `infected` (never offered;
    /// the detail names the signature).
    ScanState { Unscanned => "unscanned", Pending => "pending", Clean => "clean", Infected => "infected" }
);

impl ScanState {
    /// Rows written before scanning existed have no state: they count as unscanned.
    pub fn from_column(text: Option<&str>) -> ScanState {
        text.and_then(|t| t.parse().ok()).unwrap_or(ScanState::Unscanned)
    }
}

/// Media types recognised from their signatures: `(type, signature at offset 0, shown inline)`.
const SIGNATURES: &[(&str, &[u8], bool)] = &[
    ("application/pdf", b"%PDF-", true),
    ("image/png", b"\x89PNG\r\n\x1a\n", true),
    ("image/jpeg", b"\xff\xd8\xff", true),
    ("image/gif", b"GIF87a", true),
    ("image/gif", b"GIF89a", true),
    // ZIP: also the container of .docx, .xlsx and .odt.
    ("application/zip", b"PK\x03\x04", false),
    // The compound file of .doc and .xls.
    ("application/x-ole-storage", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", false),
];

/// The media type of unrecognised bytes: a download, never rendered.
pub const UNKNOWN: &str = "application/octet-stream";

/// What the bytes are, and whether a browser may show them inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub media_type: &'static str,
    pub inline: bool,
}

/// Reads the type from the bytes' signature; WebP needs its RIFF container checked too.
pub fn sniff(head: &[u8]) -> Sniffed {
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Sniffed { media_type: "image/webp", inline: true };
    }
    SIGNATURES.iter().find(|(_, signature, _)| head.starts_with(signature)).map_or(
        Sniffed { media_type: UNKNOWN, inline: false },
        |(media_type, _, inline)| Sniffed { media_type, inline: *inline },
    )
}

/// The `Content-Disposition` value (RFC 6266): an ASCII fallback name and the UTF-8 name
/// percent-encoded (RFC 8187), so accents survive and quotes or line breaks cannot break out.
pub fn content_disposition(inline: bool, filename: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let name = if filename.trim().is_empty() { "archivo" } else { filename };
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.4\n"), Sniffed { media_type: "application/pdf", inline: true });
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0").media_type, "image/png");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0").media_type, "image/jpeg");
        assert_eq!(sniff(b"GIF89a..").media_type, "image/gif");
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").media_type, "image/webp");
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed { media_type: "application/zip", inline: false });
        assert_eq!(sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1").media_type, "application/x-ole-storage");
    }

    #[test]
    fn anything_else_is_a_download() {
        // An HTML page sent as image/png is not an image, and is never rendered.
        for bytes in [&b"<html><script>alert(1)</script>"[..], b"", b"%PD", b"RIFF\0\0\0\0WAVE", b"texto plano"] {
            assert_eq!(sniff(bytes), Sniffed { media_type: UNKNOWN, inline: false }, "{bytes:?}");
        }
    }

    #[test]
    fn file_names_cannot_break_the_header() {
        assert_eq!(
            content_disposition(false, "factura nº 12.pdf"),
            "attachment; filename=\"factura n_ 12.pdf\"; filename*=UTF-8''factura%20n%C2%BA%2012.pdf"
        );
        let evil = content_disposition(true, "a\"b\r\nSet-Cookie: x.png");
        assert!(!evil.contains('\r') && !evil.contains('\n'), "{evil}");
        assert!(evil.starts_with("inline; filename=\"a_b__Set-Cookie: x.png\""), "{evil}");
        assert!(content_disposition(false, " ").contains("filename=\"archivo\""));
    }
}
