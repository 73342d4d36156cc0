//! Email ingest benchmark: parse + thread + persist through `POST /api/v1/channels/email/inbound`.
//!
//! First generates a deterministic corpus in memory (same `--seed`, same bytes): Spanish support
//! mails from compradores and proveedores with accented display names, encoded-word subjects,
//! UTF-8 and ISO-8859-1 bodies (8bit, quoted-printable, base64), multipart/alternative text+HTML,
//! 10–20 % with a base64 PDF or PNG attachment of 20–200 KB; 70 % new threads, 30 % replies
//! (In-Reply-To/References an earlier mail of the corpus, quoted history below) and ~2 % exact
//! redeliveries of an earlier mail. Then sends it with N concurrent keep-alive HTTP clients and
//! reports msgs/s, MB/s (10^6 bytes of raw mail), p50/p99 latency and the outcome of every mail
//! against the expected one (new → created, reply → appended, redelivery → duplicate). Any
//! non-2xx answer stops the run with the server's body. The last line is `RESULT {json}`.
//!
//! Deliberately independent of the `atencion` library crate. `benches/email_ingest.sh` starts the
//! server on Postgres and runs this at 1 and 4 clients.
//!
//! ```text
//! email_ingest --server http://127.0.0.1:8080 --token TOKEN --concurrency 4 --count 5000 --seed 7
//! email_ingest --count 200 --dump /tmp/corpus      # writes the corpus as .eml files, sends nothing
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{percentile, round};

use anyhow::{bail, ensure, Context, Result};
use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Timelike};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TARGET_MSGS_PER_SEC: f64 = 1000.0;
/// Shares of the corpus: redeliveries first, then replies among the rest (the others are new).
const P_REDELIVERY: f64 = 0.02;
const P_REPLY: f64 = 0.30;
const P_ATTACHMENT: f64 = 0.15;
const P_LATIN1: f64 = 0.20;
const P_ALTERNATIVE: f64 = 0.40;
const P_ENCODED_SUBJECT: f64 = 0.50;
const P_CC: f64 = 0.10;
/// A reply or redelivery refers to a mail at least this many positions earlier, so that with a
/// few clients its parent is normally stored already; senders still wait for it if not.
const GAP: usize = 64;
/// Quoted history kept in a reply, in bytes (mail clients quote everything; this bounds chains).
const MAX_QUOTE: usize = 6000;
const SENDERS: usize = 400;
const HELPDESK: &str = "soporte@atencion.localhost";

#[derive(Parser, Debug)]
#[command(about = "Email ingest throughput through POST /api/v1/channels/email/inbound")]
struct Args {
    /// Base URL of the running atencion server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Bearer token with a role that may create tickets (integration, agent, admin).
    #[arg(long, required_unless_present = "dump")]
    token: Option<String>,
    /// Concurrent keep-alive HTTP clients.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Mails in the corpus.
    #[arg(long, default_value_t = 5000)]
    count: usize,
    /// Corpus seed: the same seed gives the same mails, byte for byte.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The helpdesk address the mails are sent to (the server's `email.address`).
    #[arg(long, default_value = HELPDESK)]
    to: String,
    /// Retry a mail answered 409 or 5xx up to N times, 10 ms apart, as an MTA would (later).
    /// Default 0: the first non-2xx answer stops the run. Retries are reported, never hidden.
    #[arg(long, default_value_t = 0)]
    retries: u32,
    /// Write the corpus as DIR/NNNNN.eml and exit without sending.
    #[arg(long, value_name = "DIR")]
    dump: Option<std::path::PathBuf>,
    /// PID of the server, to report the CPU it used (from /proc/PID/stat).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Database of the server: the CPU of its Postgres backends (from /proc) is reported too.
    #[arg(long)]
    pg_database: Option<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

// ---------------------------------------------------------------- content pools

const FIRST_NAMES: &[&str] = &[
    "María José",
    "Camila",
    "Francisca",
    "Javiera",
    "Constanza",
    "Valentina",
    "Catalina",
    "Fernanda",
    "Daniela",
    "Carolina",
    "Ignacia",
    "Sofía",
    "Begoña",
    "Inés",
    "Mónica",
    "Verónica",
    "Patricia",
    "Ximena",
    "Raúl",
    "José Luis",
    "Matías",
    "Sebastián",
    "Benjamín",
    "Joaquín",
    "Nicolás",
    "Cristóbal",
    "Andrés",
    "Martín",
    "Tomás",
    "Germán",
    "Iván",
    "Héctor",
    "Álvaro",
    "Rubén",
    "Rodrigo",
    "Felipe",
    "Gonzalo",
    "Óscar",
];

const LAST_NAMES: &[&str] = &[
    "González",
    "Muñoz",
    "Rojas",
    "Díaz",
    "Pérez",
    "Soto",
    "Contreras",
    "Silva",
    "Martínez",
    "Sepúlveda",
    "Morales",
    "Rodríguez",
    "López",
    "Fuentes",
    "Hernández",
    "Torres",
    "Araya",
    "Flores",
    "Espinoza",
    "Valenzuela",
    "Castillo",
    "Tapia",
    "Reyes",
    "Gutiérrez",
    "Castro",
    "Pizarro",
    "Álvarez",
    "Vásquez",
    "Sánchez",
    "Fernández",
    "Ramírez",
    "Carrasco",
    "Núñez",
    "Ibáñez",
    "Aránguiz",
    "Peña",
    "Cáceres",
    "Bustos",
];

/// (organisation, mail domain)
const BUYERS: &[(&str, &str)] = &[
    ("Municipalidad de Ñuñoa", "nunoa.cl"),
    ("Municipalidad de Concepción", "concepcion.cl"),
    ("Municipalidad de Valparaíso", "munivalpo.cl"),
    ("Municipalidad de Puerto Montt", "puertomontt.cl"),
    ("Hospital Clínico Regional de Valdivia", "hospitalvaldivia.cl"),
    ("Hospital San José", "hsanjose.cl"),
    ("Servicio de Salud Araucanía Sur", "ssasur.cl"),
    ("Ministerio de Obras Públicas", "mop.gov.cl"),
    ("Universidad de Santiago de Chile", "usach.cl"),
    ("Gobierno Regional de Los Ríos", "goredelosrios.cl"),
    ("Junta Nacional de Auxilio Escolar y Becas", "junaeb.cl"),
    ("Dirección de Educación Pública", "educacionpublica.gob.cl"),
];

const SUPPLIERS: &[(&str, &str)] = &[
    ("Ferretería El Roble SpA", "ferreteriaelroble.cl"),
    ("Comercial Andina Ltda.", "comercialandina.cl"),
    ("Servicios Informáticos Pehuén SpA", "pehuen-it.cl"),
    ("Distribuidora Médica del Sur S.A.", "dimesur.cl"),
    ("Constructora Los Álamos Ltda.", "losalamos.cl"),
    ("Imprenta Gráfica Ñandú", "graficanandu.cl"),
    ("Alimentos Cordillera SpA", "alimentoscordillera.cl"),
    ("Transportes Atacama E.I.R.L.", "transatacama.cl"),
    ("Aseo Industrial Patagonia", "aseopatagonia.cl"),
    ("Papelería Oficina Total SpA", "oficinatotal.cl"),
];

const FREEMAIL: &[&str] = &["gmail.com", "hotmail.com", "outlook.com", "yahoo.es"];

const BUYER_ROLES: &[&str] =
    &["Encargada de Abastecimiento", "Jefe de Adquisiciones", "Analista de Compras", "Unidad de Compras Públicas"];
const SUPPLIER_ROLES: &[&str] =
    &["Gerente Comercial", "Ejecutiva de Ventas", "Administración y Finanzas", "Representante Legal"];

const BUYER_SUBJECTS: &[&str] = &[
    "No puedo publicar la licitación {lic}",
    "Clave Única bloqueada en Mercado Público",
    "Error al emitir la orden de compra {oc}",
    "Consulta sobre convenio marco de {rubro}",
    "Problema con firma electrónica avanzada en el decreto de adjudicación",
    "Solicitud de reapertura de la licitación {lic}",
    "¿Cómo adjunto las bases técnicas?",
    "Cambio de usuario supervisor de la unidad de compra",
    "Orden de compra {oc} quedó en estado «guardada»",
    "Plazo de cierre de la licitación {lic} mal ingresado",
];

const SUPPLIER_SUBJECTS: &[&str] = &[
    "No aparece mi oferta en la licitación {lic}",
    "Inscripción en el Registro de Proveedores",
    "Acreditación de habilidad: documento rechazado",
    "Orden de compra {oc} aceptada por error",
    "Pago atrasado de la factura N° {n}",
    "Reclamo por adjudicación de la licitación {lic}",
    "Actualizar datos de contacto de la empresa",
    "¿Cómo postulo a una Compra Ágil?",
    "No puedo descargar las bases de la licitación {lic}",
    "Declaración jurada de requisitos para ofertar",
];

const GREETINGS: &[&str] =
    &["Estimados:", "Buenos días,", "Buenas tardes,", "Señores Mesa de Ayuda:", "Hola,", "Estimada Mesa de Ayuda:"];

const BUYER_SENTENCES: &[&str] = &[
    "Desde ayer no puedo ingresar a Mercado Público con mi Clave Única: después de escribir la contraseña la página vuelve al inicio sin mostrar ningún error.",
    "Necesito publicar la licitación {lic} antes del viernes, porque el presupuesto del programa vence a fin de mes.",
    "Al intentar enviar la orden de compra {oc} al proveedor aparece el mensaje «Error inesperado, intente más tarde».",
    "Revisé el manual de usuario y seguí todos los pasos, pero el botón de publicar sigue deshabilitado.",
    "La unidad de compra tiene dos usuarios supervisores y ninguno puede aprobar el documento.",
    "Adjunto el decreto de adjudicación firmado por el alcalde, para que puedan revisar el número de resolución.",
    "El sistema indica que la garantía de seriedad de la oferta no fue ingresada, aunque figura en las bases administrativas.",
    "¿Es posible modificar la fecha de cierre sin tener que volver a publicar el proceso completo?",
    "El convenio marco de {rubro} no muestra los productos que compramos habitualmente.",
    "Quisiéramos saber si corresponde emitir una orden de compra por cada factura o una sola por el total.",
    "La Contraloría nos pidió el historial de cambios de la licitación {lic} y no encuentro dónde descargarlo.",
    "Probé con otro navegador y borrando las cookies, pero el problema persiste.",
];

const SUPPLIER_SENTENCES: &[&str] = &[
    "Ingresé mi oferta a la licitación {lic} el martes, pero hoy no aparece en el listado de ofertas recibidas.",
    "Nuestra empresa figura como inhábil en el Registro de Proveedores, aunque subimos todos los certificados vigentes.",
    "La orden de compra {oc} fue aceptada por un error de nuestro ejecutivo y necesitamos anularla.",
    "La factura N° {n} fue emitida hace más de 30 días y el organismo comprador todavía no la paga.",
    "¿Podrían indicarme qué documentos piden para acreditar la habilidad de una sociedad por acciones?",
    "El certificado de antecedentes laborales fue rechazado con el motivo «documento ilegible», pero se ve correctamente.",
    "Queremos actualizar el correo de contacto, porque la persona responsable dejó de trabajar con nosotros.",
    "En la Compra Ágil no puedo adjuntar la cotización: la página se queda cargando y luego muestra un error.",
    "Somos una pyme de la región de Ñuble y es la primera vez que participamos en un proceso de compra pública.",
    "El sistema nos pide una declaración jurada que ya habíamos firmado en marzo.",
    "Necesitamos saber el motivo por el que nuestra oferta fue declarada inadmisible.",
    "Probé con otro navegador y borrando las cookies, pero el problema persiste.",
];

const REPLY_SENTENCES: &[&str] = &[
    "Gracias por la respuesta, pero el problema persiste.",
    "Adjunto la captura de pantalla que me solicitaron.",
    "Les reitero la consulta, ya que no he recibido respuesta.",
    "Confirmo que ahora funciona, muchas gracias por la ayuda.",
    "Envío el número de la orden de compra: {oc}.",
    "¿Me pueden indicar en qué estado está mi solicitud?",
    "Seguí las instrucciones, pero en el último paso aparece el mismo error.",
    "El número de la licitación es {lic}, por si sirve para revisar.",
];

const CLOSINGS: &[&str] =
    &["Saludos cordiales,", "Atentamente,", "Quedo atenta a sus comentarios.", "Saludos,", "Gracias."];

const RUBROS: &[&str] =
    &["artículos de escritorio", "alimentos", "computadores", "combustibles", "aseo", "mobiliario", "pasajes aéreos"];

const WEEKDAYS: &[&str] = &["lun", "mar", "mié", "jue", "vie", "sáb", "dom"];
const MONTHS: &[&str] = &["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Gmail,
    Outlook,
    Thunderbird,
    Other,
}

const CLIENTS: &[Client] =
    &[Client::Gmail, Client::Gmail, Client::Outlook, Client::Outlook, Client::Thunderbird, Client::Other];

fn pick<T: Copy>(rng: &mut StdRng, list: &[T]) -> T {
    list[rng.random_range(0..list.len())]
}

/// Lower-case ASCII for the local part of an address.
fn fold(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            'á' => Some('a'),
            'é' => Some('e'),
            'í' => Some('i'),
            'ó' => Some('o'),
            'ú' | 'ü' => Some('u'),
            'ñ' => Some('n'),
            ' ' => Some('.'),
            c if c.is_ascii_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

fn licitacion(rng: &mut StdRng) -> String {
    let kind = pick(rng, &["LE", "LP", "LQ", "L1", "LR"]);
    format!("{}-{}-{kind}26", rng.random_range(1000..9999), rng.random_range(1..99))
}

fn orden_de_compra(rng: &mut StdRng) -> String {
    let kind = pick(rng, &["SE", "CM", "AG", "CC"]);
    format!("{}-{}-{kind}26", rng.random_range(1000..9999), rng.random_range(1..999))
}

/// Replaces the placeholders of a template sentence.
fn fill(rng: &mut StdRng, template: &str) -> String {
    let mut s = template.to_owned();
    if s.contains("{lic}") {
        s = s.replace("{lic}", &licitacion(rng));
    }
    if s.contains("{oc}") {
        s = s.replace("{oc}", &orden_de_compra(rng));
    }
    if s.contains("{n}") {
        s = s.replace("{n}", &rng.random_range(100..99_999).to_string());
    }
    if s.contains("{rubro}") {
        s = s.replace("{rubro}", pick(rng, RUBROS));
    }
    s
}

/// Hard-wraps a paragraph at 72 columns, as mail clients do for plain text.
fn wrap(paragraph: &str) -> String {
    let mut out = String::with_capacity(paragraph.len() + 16);
    let mut column = 0;
    for word in paragraph.split_whitespace() {
        let len = word.chars().count();
        if column > 0 && column + 1 + len > 72 {
            out.push('\n');
            column = 0;
        } else if column > 0 {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += len;
    }
    out
}

fn spanish_date(date: &DateTime<FixedOffset>) -> String {
    format!(
        "{}, {} {} {} a las {:02}:{:02}",
        WEEKDAYS[date.weekday().num_days_from_monday() as usize],
        date.day(),
        MONTHS[date.month0() as usize],
        date.year(),
        date.hour(),
        date.minute()
    )
}

// ---------------------------------------------------------------- MIME encoding

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 in lines of 76 characters, CRLF-terminated.
fn base64_lines(data: &[u8]) -> Vec<u8> {
    let encoded = base64(data);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Quoted-printable (RFC 2045) of text whose lines end in `\n`; output lines end in CRLF.
fn quoted_printable(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 11 / 10 + 16);
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if n > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let mut column = 0;
        for (k, &b) in line.iter().enumerate() {
            let last = k + 1 == line.len();
            let plain = ((b == b' ' || b == b'\t') && !last) || ((33..=126).contains(&b) && b != b'=');
            let width = if plain { 1 } else { 3 };
            if column + width > 75 {
                out.extend_from_slice(b"=\r\n");
                column = 0;
            }
            if plain {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            column += width;
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// ISO-8859-1 bytes; the pools only use Latin-1 characters, anything else becomes `?`.
fn latin1(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
}

fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 40 + 2);
    for &b in text {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// RFC 2047 `B` encoded words (UTF-8), each ≤ 75 characters, folded onto continuation lines.
fn encoded_words_b(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 42 {
            words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// RFC 2047 `Q` encoded words in ISO-8859-1, as older Outlook versions write them.
fn encoded_words_q(text: &str) -> String {
    let mut words = Vec::new();
    let mut word = String::new();
    for b in latin1(text) {
        if word.len() > 48 {
            words.push(format!("=?iso-8859-1?Q?{word}?="));
            word.clear();
        }
        match b {
            b' ' => word.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'!' | b'*' | b'+' | b'/' => word.push(b as char),
            _ => {
                let _ = write!(word, "={b:02X}");
            }
        }
    }
    if !word.is_empty() {
        words.push(format!("=?iso-8859-1?Q?{word}?="));
    }
    words.join("\r\n ")
}

/// RFC 2231 `filename*=UTF-8''...` value.
fn percent_encoded(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One MIME entity: its headers and its (already transfer-encoded) body.
struct Part {
    headers: Vec<String>,
    body: Vec<u8>,
}

impl Part {
    fn write_to(&self, out: &mut Vec<u8>) {
        for header in &self.headers {
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }
}

fn multipart(subtype: &str, boundary: &str, parts: &[Part], preamble: bool) -> Part {
    let mut body = Vec::new();
    if preamble {
        body.extend_from_slice(b"This is a multi-part message in MIME format.\r\n\r\n");
    }
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        part.write_to(&mut body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Part { headers: vec![format!("Content-Type: multipart/{subtype};\r\n\tboundary=\"{boundary}\"")], body }
}

#[derive(Clone, Copy)]
enum TransferEncoding {
    EightBit,
    QuotedPrintable,
    Base64,
}

fn text_part(subtype: &str, text: &str, latin: bool, encoding: TransferEncoding) -> Part {
    let (charset, bytes) = if latin { ("iso-8859-1", latin1(text)) } else { ("utf-8", text.as_bytes().to_vec()) };
    let (name, body) = match encoding {
        TransferEncoding::EightBit => ("8bit", crlf(&bytes)),
        TransferEncoding::QuotedPrintable => ("quoted-printable", quoted_printable(&bytes)),
        TransferEncoding::Base64 => ("base64", base64_lines(&crlf(&bytes))),
    };
    Part {
        headers: vec![
            format!("Content-Type: text/{subtype}; charset=\"{charset}\""),
            format!("Content-Transfer-Encoding: {name}"),
        ],
        body,
    }
}

/// The HTML alternative of a plain-text body: paragraphs, quoted history as a blockquote.
fn html_of(text: &str, client: Client, charset: &str) -> String {
    let mut html = String::with_capacity(text.len() * 2 + 400);
    let _ = write!(html, "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset={charset}\">");
    if client == Client::Outlook {
        html.push_str("<style>p.MsoNormal{margin:0cm;font-size:11.0pt;font-family:\"Calibri\",sans-serif;}</style>");
    }
    html.push_str("</head><body><div dir=\"ltr\">");
    let mut quoting = false;
    for paragraph in text.split("\n\n") {
        let quoted = paragraph.lines().all(|l| l.starts_with('>'));
        if quoted && !quoting {
            html.push_str(
                "<blockquote type=\"cite\" style=\"margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex\">",
            );
            quoting = true;
        }
        let lines: Vec<String> =
            paragraph.lines().map(|l| html_escape(l.trim_start_matches('>').trim_start())).collect();
        let class = if client == Client::Outlook { " class=\"MsoNormal\"" } else { "" };
        let _ = write!(html, "<p{class}>{}</p>", lines.join("<br>\r\n"));
    }
    if quoting {
        html.push_str("</blockquote>");
    }
    html.push_str("</div></body></html>");
    // Long HTML lines are wrapped by the client too; keep 8bit-safe line lengths.
    html.replace("</p>", "</p>\n")
}

// ---------------------------------------------------------------- corpus

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    New,
    Reply,
    Redelivery,
}

impl Kind {
    fn expected_outcome(self) -> &'static str {
        match self {
            Kind::New => "created",
            Kind::Reply => "appended",
            Kind::Redelivery => "duplicate",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::New => "new",
            Kind::Reply => "reply",
            Kind::Redelivery => "redelivery",
        }
    }
}

struct Mail {
    raw: Vec<u8>,
    kind: Kind,
    /// Corpus position of the mail that must be stored first (parent of a reply, original of a
    /// redelivery).
    after: Option<usize>,
    attachment: Option<(&'static str, usize)>,
    latin1: bool,
    alternative: bool,
    encoded_subject: bool,
}

struct Sender {
    name: String,
    email: String,
    organisation: &'static str,
    /// Of the sender's address (a freemail one for some proveedores).
    domain: &'static str,
    /// The organisation's own domain, where the colleagues in CC are.
    org_domain: &'static str,
    role: &'static str,
    buyer: bool,
    client: Client,
}

struct Thread {
    sender: usize,
    subject: String,
    message_ids: Vec<String>,
}

/// A stored (non-redelivered) mail others may reply to or redeliver.
struct Earlier {
    index: usize,
    thread: usize,
    /// Position in the thread's Message-ID list.
    position: usize,
    text: String,
    date: DateTime<FixedOffset>,
}

fn senders(rng: &mut StdRng) -> Vec<Sender> {
    (0..SENDERS)
        .map(|n| {
            let buyer = rng.random_bool(0.55);
            let first = pick(rng, FIRST_NAMES);
            let last = pick(rng, LAST_NAMES);
            let (organisation, org_domain) = pick(rng, if buyer { BUYERS } else { SUPPLIERS });
            let first_word = first.split(' ').next().unwrap_or(first);
            let (local, domain) = if !buyer && rng.random_bool(0.3) {
                (format!("{}.{}{}", fold(first_word), fold(last), 10 + n % 90), pick(rng, FREEMAIL))
            } else {
                (format!("{}.{}", fold(first_word), fold(last)), org_domain)
            };
            Sender {
                name: format!("{first} {last}"),
                email: format!("{local}@{domain}"),
                organisation,
                domain,
                org_domain,
                role: pick(rng, if buyer { BUYER_ROLES } else { SUPPLIER_ROLES }),
                buyer,
                client: pick(rng, CLIENTS),
            }
        })
        .collect()
}

struct Generator {
    rng: StdRng,
    seed: u64,
    to: String,
    senders: Vec<Sender>,
    threads: Vec<Thread>,
    earlier: Vec<Earlier>,
    mails: Vec<Mail>,
    start: DateTime<FixedOffset>,
}

impl Generator {
    fn new(seed: u64, to: &str) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let senders = senders(&mut rng);
        let chile = FixedOffset::west_opt(3 * 3600).expect("valid offset");
        let start = chile.with_ymd_and_hms(2026, 11, 24, 8, 30, 0).single().expect("valid date");
        Generator {
            rng,
            seed,
            to: to.to_owned(),
            senders,
            threads: Vec::new(),
            earlier: Vec::new(),
            mails: Vec::new(),
            start,
        }
    }

    fn hex_id(&self, index: usize, salt: &str) -> String {
        let digest = Sha256::digest(format!("{}/{index}/{salt}", self.seed));
        hex::encode(&digest[..12])
    }

    fn message_id(&mut self, index: usize, sender: usize) -> String {
        let hex = self.hex_id(index, "mid");
        let sender = &self.senders[sender];
        match sender.client {
            Client::Gmail => format!("CA+{}{}@mail.gmail.com", hex.to_uppercase(), index),
            Client::Outlook => format!(
                "SCXP152MB{}{}.{index}@SCXP152MB{:04}.LAMP152.PROD.OUTLOOK.COM",
                self.rng.random_range(1000..9999),
                hex.to_uppercase(),
                self.rng.random_range(1000..9999)
            ),
            Client::Thunderbird => {
                format!("{}-{}-{}-{index}@{}", &hex[..8], &hex[8..12], &hex[12..16], sender.domain)
            }
            Client::Other => format!("{hex}.{index}@{}", sender.domain),
        }
    }

    /// `count` different sentences of the pool, placeholders filled.
    fn sentences(&mut self, pool: &[&str], count: usize) -> String {
        let chosen = rand::seq::index::sample(&mut self.rng, pool.len(), count.min(pool.len()));
        let filled: Vec<String> = chosen.iter().map(|i| fill(&mut self.rng, pool[i])).collect();
        filled.join(" ")
    }

    fn text(&mut self, sender: usize, target: usize) -> String {
        let buyer = self.senders[sender].buyer;
        let sentences = if buyer { BUYER_SENTENCES } else { SUPPLIER_SENTENCES };
        let mut text = format!("{}\n\n", pick(&mut self.rng, GREETINGS));
        loop {
            let count = self.rng.random_range(2..=4);
            let paragraph = self.sentences(sentences, count);
            text.push_str(&wrap(&paragraph));
            text.push_str("\n\n");
            if text.len() >= target {
                break;
            }
        }
        self.sign(sender, &mut text);
        text
    }

    fn sign(&mut self, sender: usize, text: &mut String) {
        let closing = pick(&mut self.rng, CLOSINGS);
        let phone = format!("+56 2 2{} {}", self.rng.random_range(100..999), self.rng.random_range(1000..9999));
        let s = &self.senders[sender];
        let _ = write!(text, "{closing}\n\n-- \n{}\n{}\n{}\nTeléfono: {phone}\n", s.name, s.role, s.organisation);
    }

    fn reply_text(&mut self, sender: usize, parent: usize) -> String {
        let count = self.rng.random_range(1..=3);
        let lines = self.sentences(REPLY_SENTENCES, count);
        let mut text = format!("{}\n\n{}\n\n", pick(&mut self.rng, GREETINGS), wrap(&lines));
        self.sign(sender, &mut text);
        let parent = &self.earlier[parent];
        let author = &self.senders[self.threads[parent.thread].sender];
        let _ = write!(text, "\nEl {}, {} <{}> escribió:\n", spanish_date(&parent.date), author.name, author.email);
        let mut quoted = 0;
        for line in parent.text.lines() {
            if quoted > MAX_QUOTE {
                break;
            }
            text.push('>');
            if !line.starts_with('>') && !line.is_empty() {
                text.push(' ');
            }
            text.push_str(line);
            text.push('\n');
            quoted += line.len() + 2;
        }
        text
    }

    /// An attachment: (filename, content type, bytes).
    fn attachment(&mut self, index: usize) -> (String, &'static str, Vec<u8>) {
        let size = self.rng.random_range(20_000..=200_000);
        let pdf = self.rng.random_bool(0.6);
        let mut bytes: Vec<u8> = if pdf {
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n".to_vec()
        } else {
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec()
        };
        let start = bytes.len();
        bytes.resize(size, 0);
        self.rng.fill(&mut bytes[start..]);
        let name = if pdf {
            let names =
                ["Factura {n}.pdf", "Bases técnicas.pdf", "decreto_adjudicación_{n}.pdf", "certificado {n}.pdf"];
            let template = pick(&mut self.rng, &names);
            fill(&mut self.rng, template)
        } else {
            format!("Captura de pantalla 2026-11-24 {:02}.{:02}.png", 8 + index % 10, index % 60)
        };
        (name, if pdf { "application/pdf" } else { "image/png" }, bytes)
    }

    fn attachment_part(&mut self, index: usize) -> (Part, &'static str, usize) {
        let (name, content_type, bytes) = self.attachment(index);
        let ascii = name.is_ascii();
        let headers = if ascii || self.rng.random_bool(0.5) {
            // Outlook and Gmail: quoted names (raw UTF-8 when needed).
            vec![
                format!("Content-Type: {content_type}; name=\"{name}\""),
                format!("Content-Disposition: attachment; filename=\"{name}\"; size={}", bytes.len()),
                "Content-Transfer-Encoding: base64".to_owned(),
            ]
        } else {
            // Thunderbird: RFC 2231 for the file name, an encoded word for the name.
            vec![
                format!("Content-Type: {content_type};\r\n name=\"{}\"", encoded_words_b(&name)),
                format!("Content-Disposition: attachment;\r\n filename*=UTF-8''{}", percent_encoded(&name)),
                "Content-Transfer-Encoding: base64".to_owned(),
            ]
        };
        let len = bytes.len();
        (Part { headers, body: base64_lines(&bytes) }, content_type, len)
    }

    fn generate(&mut self, index: usize) -> Mail {
        let eligible = self.earlier.partition_point(|e| e.index + GAP <= index);
        let draw: f64 = self.rng.random();
        if eligible > 0 && draw < P_REDELIVERY {
            let original = self.earlier[self.rng.random_range(0..eligible)].index;
            let source = &self.mails[original];
            return Mail {
                raw: source.raw.clone(),
                kind: Kind::Redelivery,
                after: Some(original),
                attachment: source.attachment,
                latin1: source.latin1,
                alternative: source.alternative,
                encoded_subject: source.encoded_subject,
            };
        }
        // Replies mostly go to recent conversations.
        let reply = eligible > 0 && self.rng.random_bool(P_REPLY);
        let date = self.start + chrono::Duration::milliseconds(index as i64 * 1_100 + self.rng.random_range(0..900));
        let (kind, thread, parent, text) = if reply {
            let parent = self.rng.random_range(eligible.saturating_sub(1000)..eligible);
            let thread = self.earlier[parent].thread;
            let sender = self.threads[thread].sender;
            (Kind::Reply, thread, Some(parent), self.reply_text(sender, parent))
        } else {
            let sender = self.rng.random_range(0..self.senders.len());
            let buyer = self.senders[sender].buyer;
            let template = pick(&mut self.rng, if buyer { BUYER_SUBJECTS } else { SUPPLIER_SUBJECTS });
            let subject = fill(&mut self.rng, template);
            // Log-uniform between ~600 B and ~12 KB of text.
            let target = (600.0 * 20f64.powf(self.rng.random::<f64>())) as usize;
            let text = self.text(sender, target);
            self.threads.push(Thread { sender, subject, message_ids: Vec::new() });
            (Kind::New, self.threads.len() - 1, None, text)
        };
        let sender_index = self.threads[thread].sender;
        let message_id = self.message_id(index, sender_index);
        let position = self.threads[thread].message_ids.len();

        let sender = &self.senders[sender_index];
        let client = sender.client;
        let latin = self.rng.random_bool(P_LATIN1);
        let alternative = self.rng.random_bool(P_ALTERNATIVE);
        let encoded_subject = self.rng.random_bool(P_ENCODED_SUBJECT);
        let with_attachment = self.rng.random_bool(P_ATTACHMENT);
        let cc = self.rng.random_bool(P_CC).then(|| {
            let colleague = fold(pick(&mut self.rng, FIRST_NAMES).split(' ').next().unwrap_or("equipo"));
            format!("{colleague}.{}@{}", fold(pick(&mut self.rng, LAST_NAMES)), sender.org_domain)
        });
        let root_subject = &self.threads[thread].subject;
        let subject = match kind {
            Kind::New => root_subject.clone(),
            _ => format!("{}{root_subject}", if client == Client::Outlook { "RE: " } else { "Re: " }),
        };
        let boundary_base = format!("----=_Part_{}_{index}", &self.hex_id(index, "boundary")[..10]);

        let mut headers = vec![
            format!(
                "Received: from mail.{domain} (mail.{domain} [200.{}.{}.{}])\r\n\tby mx.atencion.localhost (Postfix) with ESMTPS id {}\r\n\tfor <{}>; {}",
                index % 256,
                (index / 256) % 256,
                1 + index % 253,
                &self.hex_id(index, "queue")[..10].to_uppercase(),
                self.to,
                date.to_rfc2822(),
                domain = sender.domain
            ),
            format!("Date: {}", date.to_rfc2822()),
        ];
        if client == Client::Gmail {
            headers.insert(
                1,
                format!(
                    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={}; s=20230601; t={};\r\n\
                     \th=mime-version:references:in-reply-to:from:date:message-id:subject:to;\r\n\
                     \tbh={};\r\n\tb={}",
                    sender.domain,
                    date.timestamp(),
                    base64(&Sha256::digest(message_id.as_bytes())),
                    base64(self.hex_id(index, "dkim").repeat(8).as_bytes())
                ),
            );
        }
        let display = if !sender.name.is_ascii() && self.rng.random_bool(0.5) {
            encoded_words_b(&sender.name)
        } else {
            format!("\"{}\"", sender.name)
        };
        headers.push(format!("From: {display} <{}>", sender.email));
        headers.push(format!("To: Mesa de Ayuda ChileCompra <{}>", self.to));
        if let Some(cc) = &cc {
            headers.push(format!("Cc: {cc}"));
        }
        let subject_header = match (encoded_subject, latin) {
            (false, _) => subject.clone(),
            (true, true) => encoded_words_q(&subject),
            (true, false) => encoded_words_b(&subject),
        };
        headers.push(format!("Subject: {subject_header}"));
        headers.push(format!("Message-ID: <{message_id}>"));
        if let Some(parent) = parent {
            let parent = &self.earlier[parent];
            let ids = &self.threads[thread].message_ids[..=parent.position];
            headers.push(format!("In-Reply-To: <{}>", ids[ids.len() - 1]));
            let refs: Vec<String> = ids.iter().rev().take(10).rev().map(|id| format!("<{id}>")).collect();
            headers.push(format!("References: {}", refs.join("\r\n ")));
        }
        headers.push("MIME-Version: 1.0".to_owned());
        match client {
            Client::Outlook => {
                headers.push("X-Mailer: Microsoft Outlook 16.0".to_owned());
                headers.push("Thread-Index: AdtA1b2c3d4e5f6g7h8i9j0k".to_owned());
                headers.push("Content-Language: es-cl".to_owned());
            }
            Client::Thunderbird => headers.push(
                "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.4.0"
                    .to_owned(),
            ),
            Client::Gmail | Client::Other => {}
        }

        let plain_encoding =
            if self.rng.random_bool(0.5) { TransferEncoding::EightBit } else { TransferEncoding::QuotedPrintable };
        let mut body = text_part("plain", &text, latin, plain_encoding);
        if alternative {
            let html_encoding =
                if self.rng.random_bool(0.7) { TransferEncoding::QuotedPrintable } else { TransferEncoding::Base64 };
            let html = text_part(
                "html",
                &html_of(&text, client, if latin { "iso-8859-1" } else { "utf-8" }),
                latin,
                html_encoding,
            );
            body = multipart("alternative", &format!("{boundary_base}.1"), &[body, html], false);
        }
        let mut attachment = None;
        if with_attachment {
            let (part, content_type, len) = self.attachment_part(index);
            attachment = Some((content_type, len));
            body = multipart("mixed", &format!("{boundary_base}.2"), &[body, part], client == Client::Outlook);
        }
        headers.extend(body.headers);

        let mut raw = Vec::with_capacity(body.body.len() + 2048);
        for header in &headers {
            raw.extend_from_slice(header.as_bytes());
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&body.body);

        self.threads[thread].message_ids.push(message_id);
        self.earlier.push(Earlier { index, thread, position, text, date });
        Mail {
            raw,
            kind,
            after: parent.map(|p| self.earlier[p].index),
            attachment,
            latin1: latin,
            alternative,
            encoded_subject,
        }
    }
}

fn corpus(count: usize, seed: u64, to: &str) -> Vec<Mail> {
    let mut generator = Generator::new(seed, to);
    for index in 0..count {
        let mail = generator.generate(index);
        generator.mails.push(mail);
    }
    generator.mails
}

fn kb(bytes: f64) -> f64 {
    round(bytes / 1024.0, 2)
}

fn corpus_summary(mails: &[Mail], secs: f64) -> Value {
    let count = |f: &dyn Fn(&Mail) -> bool| mails.iter().filter(|m| f(m)).count();
    let mut sizes: Vec<f64> = mails.iter().map(|m| m.raw.len() as f64).collect();
    sizes.sort_by(f64::total_cmp);
    let total: usize = mails.iter().map(|m| m.raw.len()).sum();
    let summary = json!({
        "mails": mails.len(),
        "bytes": total,
        "new": count(&|m| m.kind == Kind::New),
        "replies": count(&|m| m.kind == Kind::Reply),
        "redeliveries": count(&|m| m.kind == Kind::Redelivery),
        "with_attachment": count(&|m| m.attachment.is_some()),
        "pdf": count(&|m| m.attachment.is_some_and(|(t, _)| t == "application/pdf")),
        "png": count(&|m| m.attachment.is_some_and(|(t, _)| t == "image/png")),
        "latin1": count(&|m| m.latin1),
        "multipart_alternative": count(&|m| m.alternative),
        "encoded_subject": count(&|m| m.encoded_subject),
        "size_kb": {
            "min": kb(sizes.first().copied().unwrap_or(0.0)),
            "p50": kb(percentile(&sizes, 50.0)),
            "p90": kb(percentile(&sizes, 90.0)),
            "p99": kb(percentile(&sizes, 99.0)),
            "max": kb(sizes.last().copied().unwrap_or(0.0)),
            "mean": kb(total as f64 / mails.len().max(1) as f64),
        },
        "generated_in_secs": round(secs, 2),
    });
    println!(
        "corpus: {} mails, {:.1} MB in {:.2} s | new {} reply {} redelivery {} | attachment {} (pdf {} png {}) | \
         latin-1 {} | text+html {} | encoded subject {} | size KB min {} p50 {} p90 {} p99 {} max {}",
        summary["mails"],
        total as f64 / 1e6,
        secs,
        summary["new"],
        summary["replies"],
        summary["redeliveries"],
        summary["with_attachment"],
        summary["pdf"],
        summary["png"],
        summary["latin1"],
        summary["multipart_alternative"],
        summary["encoded_subject"],
        summary["size_kb"]["min"],
        summary["size_kb"]["p50"],
        summary["size_kb"]["p90"],
        summary["size_kb"]["p99"],
        summary["size_kb"]["max"],
    );
    summary
}

// ---------------------------------------------------------------- CPU accounting

/// User + system CPU seconds of a process so far (`self` or a PID), from /proc/PID/stat.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After "pid (comm)": state is field 3, utime field 14, stime field 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// Postgres backends serving `database` (process title `postgres: ... user database host ...`).
fn backends(database: &str) -> Vec<u32> {
    let needle = format!(" {database} ");
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let title = String::from_utf8_lossy(&c).replace('\0', " ");
                title.starts_with("postgres: ") && title.contains(&needle)
            })
        })
        .collect()
}

#[derive(Default)]
struct CpuSnapshot {
    client: f64,
    server: Option<f64>,
    backends: BTreeMap<u32, f64>,
}

impl CpuSnapshot {
    fn take(args: &Args) -> CpuSnapshot {
        CpuSnapshot {
            client: cpu_secs("self").unwrap_or(0.0),
            server: args.server_pid.and_then(|pid| cpu_secs(&pid.to_string())),
            backends: args
                .pg_database
                .as_deref()
                .map(|db| backends(db).into_iter().filter_map(|p| Some((p, cpu_secs(&p.to_string())?))).collect())
                .unwrap_or_default(),
        }
    }

    /// CPU seconds used since `before`, per process group; backends started meanwhile count whole.
    fn since(&self, before: &CpuSnapshot, args: &Args, mails: usize, wall: f64) -> Value {
        let client = self.client - before.client;
        let server = self.server.zip(before.server).map(|(a, b)| a - b);
        let pg = args.pg_database.as_ref().map(|_| {
            self.backends.iter().map(|(pid, secs)| secs - before.backends.get(pid).copied().unwrap_or(0.0)).sum::<f64>()
        });
        let per_mail = |secs: f64| round(secs * 1e3 / mails.max(1) as f64, 2);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let summary = json!({
            "cores": cores,
            "core_secs_available": round(wall * cores as f64, 2),
            "client_secs": round(client, 2),
            "server_secs": server.map(|s| round(s, 2)),
            "pg_backends_secs": pg.map(|s| round(s, 2)),
            "ms_per_mail": {
                "client": per_mail(client),
                "server": server.map(per_mail),
                "pg_backends": pg.map(per_mail),
            },
        });
        let show =
            |secs: Option<f64>| secs.map_or("-".to_owned(), |s| format!("{s:.2} s ({:.2} ms/mail)", per_mail(s)));
        println!(
            "cpu over {wall:.2} s wall × {cores} cores: server {} | postgres backends {} | this client {}",
            show(server),
            show(pg),
            show(Some(client))
        );
        summary
    }
}

// ---------------------------------------------------------------- sending

struct Shared {
    corpus: Vec<Mail>,
    url: String,
    token: String,
    retries: u32,
    next: AtomicUsize,
    stored: Vec<AtomicBool>,
    abort: AtomicBool,
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn fail(&self, message: String) {
        self.abort.store(true, Ordering::SeqCst);
        self.failure.lock().expect("failure lock").get_or_insert(message);
    }
}

#[derive(Default)]
struct WorkerStats {
    latencies_ms: Vec<f64>,
    bytes: u64,
    outcomes: BTreeMap<String, u64>,
    statuses: BTreeMap<u16, u64>,
    mismatches: u64,
    first_mismatch: Option<String>,
    /// Times a sender had to wait for the parent of its mail to be stored.
    dependency_waits: u64,
    /// Answers that were retried (`--retries`), by HTTP status.
    retried: BTreeMap<u16, u64>,
    first_retried: Option<String>,
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building HTTP client")
}

async fn deliver(client: &reqwest::Client, url: &str, token: &str, raw: Vec<u8>) -> Result<(u16, String), String> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    // Read the whole body so the connection is reused.
    let body = response.text().await.map_err(|e| format!("reading the response failed: {e}"))?;
    Ok((status, body))
}

async fn worker(shared: Arc<Shared>, client: reqwest::Client) -> WorkerStats {
    let mut stats = WorkerStats::default();
    loop {
        if shared.abort.load(Ordering::SeqCst) {
            break;
        }
        let index = shared.next.fetch_add(1, Ordering::SeqCst);
        let Some(mail) = shared.corpus.get(index) else { break };
        if let Some(parent) = mail.after {
            while !shared.stored[parent].load(Ordering::Acquire) {
                if shared.abort.load(Ordering::SeqCst) {
                    return stats;
                }
                stats.dependency_waits += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let describe = || format!("mail #{index} ({}, {} bytes)", mail.kind.name(), mail.raw.len());
        let started = Instant::now();
        let mut attempts = 0;
        let (status, body) = loop {
            let (status, body) = match deliver(&client, &shared.url, &shared.token, mail.raw.clone()).await {
                Ok(answer) => answer,
                Err(e) => {
                    shared.fail(format!("{}: {e}", describe()));
                    return stats;
                }
            };
            if (200..300).contains(&status) {
                break (status, body);
            }
            let excerpt = body.chars().take(1000).collect::<String>();
            if attempts < shared.retries && (status == 409 || status >= 500) {
                attempts += 1;
                *stats.retried.entry(status).or_default() += 1;
                stats.first_retried.get_or_insert_with(|| format!("{} → HTTP {status}: {excerpt}", describe()));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            shared.fail(format!("{} → HTTP {status}: {excerpt}", describe()));
            return stats;
        };
        // From the first attempt: a retried mail counts with all its attempts.
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        shared.stored[index].store(true, Ordering::Release);
        stats.latencies_ms.push(elapsed_ms);
        stats.bytes += mail.raw.len() as u64;
        *stats.statuses.entry(status).or_default() += 1;
        let outcome = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["outcome"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("unparsed-{status}"));
        if outcome != mail.kind.expected_outcome() {
            stats.mismatches += 1;
            stats.first_mismatch.get_or_insert_with(|| {
                format!("{}: expected {}, got HTTP {status} {body}", describe(), mail.kind.expected_outcome())
            });
        }
        *stats.outcomes.entry(outcome).or_default() += 1;
    }
    stats
}

/// One mail outside the corpus, to check the URL and the token before timing anything.
fn preflight_mail(seed: u64, to: &str) -> Vec<u8> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!(
        "From: \"Prueba de carga\" <bench@atencion.localhost>\r\nTo: {to}\r\nSubject: preflight\r\n\
         Message-ID: <preflight.{seed}.{nanos}@bench.atencion.localhost>\r\nAuto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nComprobación previa.\r\n"
    )
    .into_bytes()
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.count > 0, "--count must be ≥ 1");
    ensure!((1..=GAP).contains(&args.concurrency), "--concurrency must be between 1 and {GAP}");

    let started = Instant::now();
    let mails = corpus(args.count, args.seed, &args.to);
    let corpus_info = corpus_summary(&mails, started.elapsed().as_secs_f64());
    if let Some(dir) = &args.dump {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (index, mail) in mails.iter().enumerate() {
            let path = dir.join(format!("{index:05}-{}.eml", mail.kind.name()));
            std::fs::write(&path, &mail.raw).with_context(|| format!("writing {}", path.display()))?;
        }
        println!("wrote {} mails to {}", mails.len(), dir.display());
        return Ok(());
    }
    let token = args.token.clone().context("--token is required")?;
    let url = format!("{}/api/v1/channels/email/inbound", args.server.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    let (status, body) = runtime
        .block_on(deliver(&http_client()?, &url, &token, preflight_mail(args.seed, &args.to)))
        .map_err(|e| anyhow::anyhow!("preflight POST {url} failed: {e}"))?;
    if status != 201 {
        bail!("preflight POST {url} answered HTTP {status}: {body}");
    }

    let stored = (0..mails.len()).map(|_| AtomicBool::new(false)).collect();
    let shared = Arc::new(Shared {
        corpus: mails,
        url,
        token,
        retries: args.retries,
        next: AtomicUsize::new(0),
        stored,
        abort: AtomicBool::new(false),
        failure: Mutex::new(None),
    });
    let clients = (0..args.concurrency).map(|_| http_client()).collect::<Result<Vec<_>>>()?;
    println!("sending {} mails with {} client(s) to {}", args.count, args.concurrency, shared.url);
    let cpu_before = CpuSnapshot::take(&args);
    let began = Instant::now();
    let results = runtime.block_on(async {
        let tasks: Vec<_> = clients.into_iter().map(|client| tokio::spawn(worker(shared.clone(), client))).collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await);
        }
        results
    });
    let secs = began.elapsed().as_secs_f64();
    let cpu_after = CpuSnapshot::take(&args);
    let mut stats = Vec::with_capacity(results.len());
    for result in results {
        stats.push(result.context("a sender panicked")?);
    }
    if let Some(failure) = shared.failure.lock().expect("failure lock").take() {
        bail!("FAILED after {:.2} s: {failure}", secs);
    }

    let mut latencies: Vec<f64> = stats.iter().flat_map(|s| s.latencies_ms.iter().copied()).collect();
    latencies.sort_by(f64::total_cmp);
    let bytes: u64 = stats.iter().map(|s| s.bytes).sum();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for s in &stats {
        for (k, v) in &s.outcomes {
            *outcomes.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &s.statuses {
            *statuses.entry(k.to_string()).or_default() += v;
        }
    }
    let mismatches: u64 = stats.iter().map(|s| s.mismatches).sum();
    let first_mismatch = stats.iter().find_map(|s| s.first_mismatch.clone());
    let dependency_waits: u64 = stats.iter().map(|s| s.dependency_waits).sum();
    let mut retried: BTreeMap<String, u64> = BTreeMap::new();
    for s in &stats {
        for (k, v) in &s.retried {
            *retried.entry(k.to_string()).or_default() += v;
        }
    }
    let first_retried = stats.iter().find_map(|s| s.first_retried.clone());
    let sent = latencies.len();
    let msgs_per_sec = sent as f64 / secs;
    let mb_per_sec = bytes as f64 / 1e6 / secs;
    let pass = sent == args.count && msgs_per_sec >= TARGET_MSGS_PER_SEC;
    let verdict = if pass { "PASS" } else { "MISS" };

    println!(
        "c={}: {sent} mails ({:.1} MB) in {secs:.2} s = {msgs_per_sec:.1} msgs/s, {mb_per_sec:.2} MB/s | \
         p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        args.concurrency,
        bytes as f64 / 1e6,
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0.0),
    );
    println!("outcomes: {outcomes:?} | HTTP: {statuses:?} | waits for a parent: {dependency_waits}");
    if let Some(first) = &first_retried {
        println!("WARNING: answers retried (--retries {}): {retried:?}; first: {first}", args.retries);
    }
    if mismatches > 0 {
        println!(
            "WARNING: {mismatches} mail(s) with an unexpected outcome; first: {}",
            first_mismatch.unwrap_or_default()
        );
    }
    let cpu = cpu_after.since(&cpu_before, &args, sent, secs);
    println!("target ≥ {TARGET_MSGS_PER_SEC:.0} msgs/s: {verdict}");
    let result = json!({
        "server": args.server,
        "concurrency": args.concurrency,
        "count": args.count,
        "seed": args.seed,
        "corpus": corpus_info,
        "secs": round(secs, 2),
        "sent": sent,
        "bytes": bytes,
        "msgs_per_sec": round(msgs_per_sec, 2),
        "mb_per_sec": round(mb_per_sec, 2),
        "p50_ms": round(percentile(&latencies, 50.0), 2),
        "p90_ms": round(percentile(&latencies, 90.0), 2),
        "p99_ms": round(percentile(&latencies, 99.0), 2),
        "max_ms": round(latencies.last().copied().unwrap_or(0.0), 2),
        "outcomes": outcomes,
        "statuses": statuses,
        "unexpected_outcomes": mismatches,
        "dependency_waits": dependency_waits,
        "retries_allowed": args.retries,
        "retried": retried,
        "target_msgs_per_sec": TARGET_MSGS_PER_SEC,
        "cpu": cpu,
        "pass": pass,
    });
    println!("RESULT {result}");
    Ok(())
}
