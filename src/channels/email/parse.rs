//! Inbound mail → the facts the helpdesk needs (pure, no IO): addresses, threading headers,
//! text (quoted history stripped where reliable), sanitised HTML, attachments, and whether the
//! mail was written by a machine (never auto-answered).

use mail_parser::{HeaderValue, MessageParser, MimeHeaders};

use crate::domain::text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// Content-ID of an inline image referenced from the HTML.
    pub content_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMail {
    /// Without angle brackets; synthesised from the content when missing.
    pub message_id: String,
    /// In-Reply-To first, then References newest first.
    pub parents: Vec<String>,
    pub subject: String,
    pub from_name: String,
    pub from_email: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Why this mail must never get an automatic answer (auto-reply, bulk, bounce...).
    pub automatic: Option<&'static str>,
    /// For delivery reports: the Message-ID of our mail that bounced.
    pub bounce_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("no es un mensaje MIME legible")]
    Unreadable,
    #[error("falta un remitente válido (From)")]
    NoSender,
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn addresses(list: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    list.map(|a| a.iter().filter_map(|addr| addr.address()).filter_map(text::normalize_email).collect())
        .unwrap_or_default()
}

/// The header value as plain text, lower-cased and trimmed.
fn header(message: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    message.header_raw(name).map(|v| v.trim().to_ascii_lowercase())
}

/// RFC 3834 and common practice: what marks a mail as written by a machine.
fn automatic(message: &mail_parser::Message<'_>, own_loop_header: &str) -> Option<&'static str> {
    if header(message, "Auto-Submitted").is_some_and(|v| v != "no") {
        return Some("auto-submitted");
    }
    if header(message, "Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list")) {
        return Some("precedence");
    }
    if message.header_raw("X-Auto-Response-Suppress").is_some() {
        return Some("x-auto-response-suppress");
    }
    if message.header_raw(own_loop_header).is_some() || message.header_raw("X-Loop").is_some() {
        return Some("loop");
    }
    if message.header_raw("List-Id").is_some() {
        return Some("list");
    }
    if message.is_content_type("multipart", "report") {
        return Some("delivery-report");
    }
    if header(message, "Return-Path").is_some_and(|v| v == "<>") {
        return Some("null-return-path");
    }
    None
}

/// The Message-ID of the original mail quoted inside a delivery status notification.
fn bounced_message_id(message: &mail_parser::Message<'_>) -> Option<String> {
    for part in message.parts.iter() {
        if let Some(inner) = part.message() {
            if let Some(id) = inner.message_id() {
                return Some(id.to_owned());
            }
        }
        // text/rfc822-headers: the original's headers as text.
        if part.is_content_type("text", "rfc822-headers") {
            let headers = part.text_contents()?;
            let line = headers.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:"))?;
            let id = line.split_once(':')?.1.trim().trim_start_matches('<').trim_end_matches('>');
            return Some(id.to_owned());
        }
    }
    None
}

/// Cuts the quoted history of a reply when its start is unmistakable ("El ... escribió:",
/// "On ... wrote:", an Outlook "-----Original Message-----"/"De:" block, or trailing "> " lines).
pub fn strip_quoted(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut cut = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        let lower = l.to_lowercase();
        let attribution = (lower.starts_with("el ") && lower.ends_with("escribió:"))
            || (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || lower.starts_with("-----original message-----")
            || lower.starts_with("-----mensaje original-----")
            || (lower.starts_with("de:")
                && lines.get(i + 1).is_some_and(|n| {
                    let n = n.trim().to_lowercase();
                    n.starts_with("enviado") || n.starts_with("fecha") || n.starts_with("sent")
                }));
        if attribution && i > 0 {
            cut = i;
            break;
        }
    }
    let mut kept: Vec<&str> = lines[..cut].to_vec();
    // Trailing quoted lines ("> ...") with nothing of the writer's after them.
    while kept.last().is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('>')) {
        kept.pop();
    }
    let stripped = kept.join("\n").trim().to_owned();
    if stripped.is_empty() {
        body.trim().to_owned()
    } else {
        stripped
    }
}

/// Plain text from HTML when a mail has no text part.
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out.replace("&nbsp;", " ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn parse(raw: &[u8], own_loop_header: &str) -> Result<ParsedMail, ParseError> {
    let message = MessageParser::default().parse(raw).ok_or(ParseError::Unreadable)?;
    if message.parts.is_empty() || message.headers().is_empty() {
        return Err(ParseError::Unreadable);
    }
    let from = message.from().and_then(|f| f.first()).ok_or(ParseError::NoSender)?;
    let from_email = from.address().and_then(text::normalize_email).ok_or(ParseError::NoSender)?;
    let from_name = from.name().map(|name| text::single_line(&without_nul(name))).unwrap_or_default();
    let mut parents = ids(message.in_reply_to());
    let mut references = ids(message.references());
    references.reverse();
    for id in references {
        if !parents.contains(&id) {
            parents.push(id);
        }
    }
    let html = message.body_html(0).map(|h| crate::domain::text::sanitize_html(&h));
    let text = match message.body_text(0) {
        Some(t) if !message.text_part(0).is_some_and(|p| p.is_text_html()) => t.into_owned(),
        // From the sanitised HTML: scripts and styles are gone, so their text is too.
        _ => html.as_deref().map(html_to_text).unwrap_or_default(),
    };
    let attachments = message
        .attachments()
        .filter(|part| !part.is_message())
        .map(|part| Attachment {
            filename: part.attachment_name().map(sanitize_filename).unwrap_or_else(|| "adjunto".into()),
            content_type: part
                .content_type()
                .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("octet-stream")).to_ascii_lowercase())
                .map(|ct| without_nul(&ct))
                .unwrap_or_else(|| "application/octet-stream".into()),
            bytes: part.contents().to_vec(),
            content_id: part.content_id().map(without_nul),
        })
        .collect();
    let automatic = automatic(&message, own_loop_header);
    let bounce_of = (automatic == Some("delivery-report")).then(|| bounced_message_id(&message)).flatten();
    let message_id = match message.message_id().map(|id| without_nul(id.trim())) {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        // Without one, the content itself identifies a redelivery.
        _ => format!("sin-id-{}@atencion", &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw))[..32]),
    };
    Ok(ParsedMail {
        message_id,
        parents: parents.iter().map(String::as_str).map(without_nul).collect(),
        subject: text::single_line(&without_nul(message.subject().unwrap_or(""))),
        from_name,
        from_email,
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        text: strip_quoted(&without_nul(&text)),
        html: html.map(|h| without_nul(&h)),
        attachments,
        automatic,
        bounce_of: bounce_of.map(|b| without_nul(&b)),
    })
}

/// The text without NUL characters: they mean nothing in a mail and Postgres cannot store them
/// in text columns (the raw mail, kept as bytes, still has them).
fn without_nul(text: &str) -> String {
    text.replace('\0', "")
}

/// A file name that is safe to show and to store: no path, no control characters.
fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() || clean == "." || clean == ".." {
        "adjunto".into()
    } else {
        clean.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOP: &str = "X-Atencion-Loop";

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn reads_addresses_ids_and_text() {
        let raw = mail(
            "From: \"Ana Pérez\" <Ana@Municipalidad.CL>\r\nTo: soporte@chilecompra.cl\r\nCc: jefa@municipalidad.cl\r\n\
             Subject: =?UTF-8?Q?Clave_bloqueada_en_Mercado_P=C3=BAblico?=\r\nMessage-ID: <abc@mail.cl>\r\n\
             In-Reply-To: <parent@x>\r\nReferences: <root@x> <parent@x>",
            "Hola,\r\nno puedo ingresar.\r\n",
        );
        let m = parse(&raw, LOOP).unwrap();
        assert_eq!(m.message_id, "abc@mail.cl");
        assert_eq!(m.parents, ["parent@x", "root@x"]);
        assert_eq!(m.subject, "Clave bloqueada en Mercado Público");
        assert_eq!((m.from_name.as_str(), m.from_email.as_str()), ("Ana Pérez", "ana@municipalidad.cl"));
        assert_eq!(m.cc, ["jefa@municipalidad.cl"]);
        assert_eq!(m.text, "Hola,\nno puedo ingresar.");
        assert_eq!(m.automatic, None);
    }

    #[test]
    fn latin1_and_windows_1252_bodies() {
        let mut raw = b"From: p@empresa.cl\r\nSubject: pago\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
            Content-Transfer-Encoding: 8bit\r\n\r\nFactura n\xba 12: \xbfcu\xe1ndo pagan?"
            .to_vec();
        assert_eq!(parse(&raw, LOOP).unwrap().text, "Factura nº 12: ¿cuándo pagan?");
        raw = b"From: p@empresa.cl\r\nSubject: x\r\nContent-Type: text/plain; charset=windows-1252\r\n\r\n\x93Comillas\x94 \x80"
            .to_vec();
        assert_eq!(parse(&raw, LOOP).unwrap().text, "“Comillas” €");
    }

    #[test]
    fn html_only_mail_becomes_text_and_sanitised_html() {
        let raw = mail(
            "From: a@b.cl\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8",
            "<p>Hola <b>equipo</b></p><script>alert(1)</script>",
        );
        let m = parse(&raw, LOOP).unwrap();
        assert_eq!(m.text, "Hola equipo");
        assert!(!m.html.unwrap().contains("script"));
    }

    #[test]
    fn attachments_are_kept_with_safe_names() {
        let raw = mail(
            "From: a@b.cl\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"",
            "--b\r\nContent-Type: text/plain\r\n\r\nVer adjunto\r\n--b\r\nContent-Type: application/pdf; name=\"../../factura.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"../../factura.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
        );
        let m = parse(&raw, LOOP).unwrap();
        assert_eq!(m.text, "Ver adjunto");
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "factura.pdf");
        assert_eq!(m.attachments[0].content_type, "application/pdf");
        assert_eq!(m.attachments[0].bytes, b"%PDF-1.4\n");
    }

    #[test]
    fn machine_mail_is_recognised() {
        let cases = [
            ("Auto-Submitted: auto-replied", Some("auto-submitted")),
            ("Auto-Submitted: no", None),
            ("Precedence: bulk", Some("precedence")),
            ("X-Auto-Response-Suppress: All", Some("x-auto-response-suppress")),
            ("X-Atencion-Loop: soporte@chilecompra.cl", Some("loop")),
            ("List-Id: <novedades.chilecompra.cl>", Some("list")),
            ("Return-Path: <>", Some("null-return-path")),
        ];
        for (header, expected) in cases {
            let raw = mail(&format!("From: a@b.cl\r\nSubject: x\r\n{header}"), "cuerpo");
            assert_eq!(parse(&raw, LOOP).unwrap().automatic, expected, "{header}");
        }
    }

    #[test]
    fn delivery_reports_name_the_bounced_mail() {
        let raw = mail(
            "From: MAILER-DAEMON@mx.cl\r\nSubject: Undelivered\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"r\"",
            "--r\r\nContent-Type: text/plain\r\n\r\nNo se pudo entregar.\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n\
             --r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <atn.42.abc@chilecompra.cl>\r\nSubject: Re\r\n--r--\r\n",
        );
        let m = parse(&raw, LOOP).unwrap();
        assert_eq!(m.automatic, Some("delivery-report"));
        assert_eq!(m.bounce_of.as_deref(), Some("atn.42.abc@chilecompra.cl"));
    }

    #[test]
    fn garbage_and_senderless_mail_are_errors() {
        assert_eq!(parse(b"", LOOP), Err(ParseError::Unreadable));
        assert_eq!(parse(&mail("Subject: sin remitente", "x"), LOOP), Err(ParseError::NoSender));
        assert_eq!(parse(&mail("From: no-es-correo\r\nSubject: x", "x"), LOOP), Err(ParseError::NoSender));
    }

    #[test]
    fn nul_characters_never_reach_the_stored_text() {
        let raw = b"From: \"Ana\0 P\" <ana@municipalidad.cl>\r\nSubject: Clave\0 bloqueada\r\nMessage-ID: <a\0b@x>\r\n\
            Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNo\0 puedo\r\n--b\r\n\
            Content-Type: text/plain; name=\"a\0.txt\"\r\nContent-Disposition: attachment; filename=\"a\0.txt\"\r\n\r\nx\0y\r\n--b--\r\n";
        let m = parse(raw, LOOP).unwrap();
        assert_eq!(
            (m.subject.as_str(), m.from_name.as_str(), m.text.as_str()),
            ("Clave bloqueada", "Ana P", "No puedo")
        );
        assert_eq!(m.message_id, "ab@x");
        assert_eq!(m.attachments[0].filename, "a.txt");
        // The attachment's bytes are kept as they came.
        assert_eq!(m.attachments[0].bytes, b"x\0y");
    }

    #[test]
    fn missing_message_id_is_derived_from_content() {
        let raw = mail("From: a@b.cl\r\nSubject: x", "cuerpo");
        let a = parse(&raw, LOOP).unwrap().message_id;
        assert_eq!(a, parse(&raw, LOOP).unwrap().message_id);
        assert!(a.starts_with("sin-id-"));
    }

    #[test]
    fn quoted_history_is_stripped() {
        let es = "Gracias, ya funciona.\n\nEl lun, 2 mar 2026 a las 10:00, Soporte <soporte@chilecompra.cl> escribió:\n> Estimada...";
        assert_eq!(strip_quoted(es), "Gracias, ya funciona.");
        let en = "Thanks\nOn Mon, Mar 2, 2026 at 10:00 AM Soporte wrote:\n> hi";
        assert_eq!(strip_quoted(en), "Thanks");
        let outlook = "Adjunto la factura.\n\nDe: Soporte\nEnviado: lunes\nPara: mí";
        assert_eq!(strip_quoted(outlook), "Adjunto la factura.");
        assert_eq!(strip_quoted("Respuesta\n> citado\n> más"), "Respuesta");
        // Only quoted text: keep it rather than lose the message.
        assert_eq!(strip_quoted("> todo citado"), "> todo citado");
    }
}
