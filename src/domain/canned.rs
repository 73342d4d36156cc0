//! Canned responses: the short name agents type after `::`, and the placeholders a response's
//! text may hold, filled for a ticket when it is inserted.
//!
//! A placeholder is `{` + a word (letters, digits, `_`; accented letters count) + `}`. Only the
//! five of [`Placeholder`] exist; any other word in braces is refused when the response is saved,
//! so a typo (`{nonbre}`, `{número}`) never reaches a requester. Braces around anything else
//! (`{}`, `{ }`, `{"a": 1}`, a lone `}`) are plain text.

/// What the service fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The requester's name.
    Nombre,
    /// The ticket's number (`AU-2026-000123`).
    Numero,
    /// The name of the agent inserting the response.
    Agente,
    /// The ticket's subject.
    Asunto,
    /// The requester's link to their case page (`/casos/{token}`).
    Enlace,
}

impl Placeholder {
    pub const ALL: [Placeholder; 5] =
        [Placeholder::Nombre, Placeholder::Numero, Placeholder::Agente, Placeholder::Asunto, Placeholder::Enlace];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Nombre => "nombre",
            Placeholder::Numero => "numero",
            Placeholder::Agente => "agente",
            Placeholder::Asunto => "asunto",
            Placeholder::Enlace => "enlace",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The longest word between braces taken for a placeholder; longer runs are plain text.
const MAX_WORD: usize = 40;

/// A piece of a response's text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Known(Placeholder),
    Unknown(&'a str),
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The word of a placeholder starting at `rest` (which begins after a `{`), if `rest` holds one.
fn word(rest: &str) -> Option<&str> {
    let end = rest.find('}')?;
    let word = &rest[..end];
    let fits = !word.is_empty() && word.chars().count() <= MAX_WORD && word.chars().all(is_word_char);
    fits.then_some(word)
}

fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let (mut start, mut at) = (0, 0);
    while let Some(offset) = text[at..].find('{') {
        let open = at + offset;
        match word(&text[open + 1..]) {
            Some(name) => {
                if start < open {
                    out.push(Piece::Text(&text[start..open]));
                }
                out.push(Placeholder::from_name(name).map_or(Piece::Unknown(name), Piece::Known));
                at = open + name.len() + 2;
                start = at;
            }
            None => at = open + 1,
        }
    }
    if start < text.len() {
        out.push(Piece::Text(&text[start..]));
    }
    out
}

/// The unknown placeholders of `text`, in order, each once.
pub fn unknown_placeholders(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for piece in pieces(text) {
        if let Piece::Unknown(name) = piece {
            if !found.iter().any(|f| f == name) {
                found.push(name.to_owned());
            }
        }
    }
    found
}

/// The message for a text with unknown placeholders, or `None` when every one is known.
pub fn check_placeholders(text: &str) -> Option<String> {
    let unknown = unknown_placeholders(text);
    if unknown.is_empty() {
        return None;
    }
    let listed: Vec<String> = unknown.iter().map(|u| format!("{{{u}}}")).collect();
    let known: Vec<String> = Placeholder::ALL.iter().map(|p| format!("{{{}}}", p.name())).collect();
    let noun = if unknown.len() == 1 { "marcador desconocido" } else { "marcadores desconocidos" };
    Some(format!("{noun}: {}; los disponibles son {}", listed.join(", "), known.join(", ")))
}

/// What the placeholders are filled with for one ticket and agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    pub nombre: String,
    pub numero: String,
    pub agente: String,
    pub asunto: String,
    pub enlace: String,
}

impl Values {
    fn get(&self, p: Placeholder) -> &str {
        match p {
            Placeholder::Nombre => &self.nombre,
            Placeholder::Numero => &self.numero,
            Placeholder::Agente => &self.agente,
            Placeholder::Asunto => &self.asunto,
            Placeholder::Enlace => &self.enlace,
        }
    }
}

/// `text` with its placeholders filled. Values are inserted as they are (a `{nombre}` inside a
/// requester's name is not filled again); an unknown placeholder, which saving refuses, stays.
pub fn fill(text: &str, values: &Values) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Known(p) => out.push_str(values.get(p)),
            Piece::Unknown(name) => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
    }
    out
}

/// The longest short name.
pub const MAX_SHORTCUT: usize = 40;

/// A short name as stored: trimmed, without the `::` people may type before it, lower case;
/// 1 to 40 ASCII letters, digits, `-` and `_`.
pub fn normalize_shortcut(input: &str) -> Result<String, String> {
    let name = input.trim();
    let name = name.strip_prefix("::").unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() {
        return Err("es obligatorio".into());
    }
    if name.chars().count() > MAX_SHORTCUT {
        return Err(format!("admite como máximo {MAX_SHORTCUT} caracteres"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("solo admite letras sin tilde, dígitos, «-» y «_» (por ejemplo «clave-olvidada»)".into());
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            nombre: "María José Núñez".into(),
            numero: "AU-2026-000123".into(),
            agente: "Javier Rojas".into(),
            asunto: "No puedo ingresar".into(),
            enlace: "https://mesa.example.cl/casos/1-abc".into(),
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let text = "Hola {nombre}, su caso {numero} («{asunto}») lo atiende {agente}: {enlace}";
        assert_eq!(
            fill(text, &values()),
            "Hola María José Núñez, su caso AU-2026-000123 («No puedo ingresar») lo atiende Javier Rojas: \
             https://mesa.example.cl/casos/1-abc"
        );
        assert_eq!(check_placeholders(text), None);
    }

    #[test]
    fn a_placeholder_may_repeat_and_touch_other_text() {
        assert_eq!(fill("{numero}/{numero}{agente}", &values()), "AU-2026-000123/AU-2026-000123Javier Rojas");
    }

    #[test]
    fn unknown_placeholders_are_named_once_each() {
        assert_eq!(unknown_placeholders("{nonbre} y {rut} y {nonbre}"), vec!["nonbre", "rut"]);
        let message = check_placeholders("Hola {nonbre}").unwrap();
        assert!(message.contains("marcador desconocido: {nonbre}"), "{message}");
        assert!(message.contains("{nombre}, {numero}, {agente}, {asunto}, {enlace}"), "{message}");
        assert!(check_placeholders("{a} {b}").unwrap().starts_with("marcadores desconocidos: {a}, {b}"));
    }

    #[test]
    fn accented_words_are_placeholders_too_and_case_matters() {
        // A common slip: the placeholder is written without the accent.
        assert_eq!(unknown_placeholders("Caso {número}"), vec!["número"]);
        assert_eq!(unknown_placeholders("{Nombre}"), vec!["Nombre"]);
        assert_eq!(
            fill("Señor(a) {nombre}: ¿recibió la orden?", &values()),
            "Señor(a) María José Núñez: ¿recibió la orden?"
        );
    }

    #[test]
    fn other_braces_are_plain_text() {
        for text in ["{}", "{ }", "{ nombre }", "{\"a\": 1}", "sin cierre {nombre", "}{", "{{nombre}}x", "{a-b}"] {
            assert_eq!(unknown_placeholders(text), Vec::<String>::new(), "{text}");
        }
        // Doubled braces around a known word: the inner pair is the placeholder.
        assert_eq!(fill("{{nombre}}", &values()), "{María José Núñez}");
        assert_eq!(fill("precio {0,5} {nombre", &values()), "precio {0,5} {nombre");
        let long = format!("{{{}}}", "x".repeat(MAX_WORD + 1));
        assert!(unknown_placeholders(&long).is_empty());
    }

    #[test]
    fn filled_values_are_not_filled_again() {
        let mut v = values();
        v.nombre = "{agente}".into();
        assert_eq!(fill("{nombre}", &v), "{agente}");
    }

    #[test]
    fn short_names_are_normalized() {
        assert_eq!(normalize_shortcut("  ::Clave-Olvidada ").unwrap(), "clave-olvidada");
        assert_eq!(normalize_shortcut("oc_2").unwrap(), "oc_2");
        assert!(normalize_shortcut("::").is_err());
        assert!(normalize_shortcut("compra ágil").is_err());
        assert!(normalize_shortcut("compra-ágil").is_err());
        assert!(normalize_shortcut(&"a".repeat(41)).is_err());
        assert!(normalize_shortcut(&"a".repeat(40)).is_ok());
    }
}
