//! Full-text search rules shared by both backends: how text is cut into words, which words are
//! dropped, how Spanish words are stemmed, how ticket numbers and RUTs are recognised, and where
//! a hit is highlighted. Postgres stems with its own `spanish` configuration; SQLite has no
//! Spanish stemmer, so the index and the query are stemmed here (Snowball Spanish, the algorithm
//! Postgres uses too).

use std::collections::HashSet;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Rut, TicketNumber};

/// The longest `q` accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Words of a query beyond this are ignored (a pasted paragraph is not a search).
pub const MAX_TERMS: usize = 12;

static SPANISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Spanish));

/// Words too common to tell tickets apart (folded: no accents). A subset of Snowball's list:
/// what is left in a query still has to be found.
const STOPWORDS: &[&str] = &[
    "a", "al", "algo", "ante", "con", "contra", "cual", "como", "de", "del", "desde", "donde", "e", "el", "ella",
    "ellos", "en", "entre", "era", "es", "esa", "ese", "eso", "esta", "este", "esto", "fue", "ha", "han", "hay", "la",
    "las", "le", "les", "lo", "los", "mas", "me", "mi", "mis", "muy", "nos", "o", "para", "pero", "por", "que", "se",
    "sea", "si", "sin", "sobre", "su", "sus", "te", "tu", "u", "un", "una", "uno", "unos", "unas", "y", "ya", "yo",
];

static STOP: LazyLock<HashSet<&'static str>> = LazyLock::new(|| STOPWORDS.iter().copied().collect());

/// Lower case, no accents, anything but ASCII letters and digits a separator: the form both
/// backends index (Postgres: `search_fold()` in the migration does the same with `unaccent`).
pub fn fold(text: &str) -> String {
    super::text::fold(text).chars().map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' }).collect()
}

/// The folded words of `text`, in order.
fn words(text: &str) -> impl Iterator<Item = String> {
    fold(text).split_whitespace().map(str::to_owned).collect::<Vec<_>>().into_iter()
}

/// The stem of a folded word; words with digits (numbers, codes) are kept whole.
pub fn stem(word: &str) -> String {
    if word.bytes().any(|b| b.is_ascii_digit()) {
        word.to_owned()
    } else {
        SPANISH.stem(word).into_owned()
    }
}

fn is_stopword(word: &str) -> bool {
    STOP.contains(word)
}

/// What SQLite's FTS5 table stores for `text`: its stems, space separated, stopwords dropped.
pub fn index_stems(text: &str) -> String {
    words(text).filter(|w| !is_stopword(w)).map(|w| stem(&w)).collect::<Vec<_>>().join(" ")
}

/// The index token of a ticket number (`AU-2026-000123` → `au2026000123`).
pub fn number_token(number: &TicketNumber) -> String {
    format!("au{}{:06}", number.year, number.sequence)
}

/// The index token of a RUT (`12.345.678-5` → `123456785`).
pub fn rut_token(rut: &Rut) -> String {
    rut.as_str().replace('-', "").to_ascii_lowercase()
}

/// One word of a query: `word` as folded (what Postgres stems) and its stem (what SQLite and
/// the highlighter compare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub word: String,
    pub stem: String,
}

/// A parsed query: every term must be found (in any order and place).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("escriba qué buscar")]
    Empty,
    #[error("admite hasta {MAX_QUERY_CHARS} caracteres")]
    TooLong,
}

impl Query {
    /// Splits `q` into terms. Ticket numbers and RUTs (with dots and dash or without) become one
    /// term each; stopwords are dropped, so a query may end with no term (it finds nothing).
    pub fn parse(q: &str) -> Result<Query, QueryError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        if q.trim().is_empty() {
            return Err(QueryError::Empty);
        }
        let mut terms: Vec<Term> = Vec::new();
        for chunk in q.split_whitespace() {
            for word in chunk_words(chunk) {
                if !is_stopword(&word) && !terms.iter().any(|t| t.word == word) {
                    terms.push(Term { stem: stem(&word), word });
                }
            }
        }
        terms.truncate(MAX_TERMS);
        Ok(Query { terms })
    }

    /// Built from a ticket's own text (for similar tickets): its distinctive words, any of which
    /// may match.
    pub fn from_text(text: &str) -> Query {
        let mut terms: Vec<Term> = Vec::new();
        for word in words(text) {
            let useful = word.len() > 2 && !is_stopword(&word) && !word.bytes().any(|b| b.is_ascii_digit());
            if useful && !terms.iter().any(|t| t.word == word) {
                terms.push(Term { stem: stem(&word), word });
            }
        }
        terms.truncate(MAX_TERMS);
        Query { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// A Postgres `to_tsquery('spanish', …)` text: every term (all: `&`, any: `|`), each limited
    /// to the index weights in `weights` when given (`A`: number and subject, `B`: requester,
    /// `C`: public messages, `D`: internal notes). Terms are `[a-z0-9]+`, safe in that syntax.
    pub fn tsquery(&self, any: bool, weights: Option<&str>) -> String {
        let label = weights.map(|w| format!(":{w}")).unwrap_or_default();
        let joiner = if any { " | " } else { " & " };
        self.terms.iter().map(|t| format!("{}{label}", t.word)).collect::<Vec<_>>().join(joiner)
    }

    /// An FTS5 MATCH expression over stems, optionally limited to `columns`.
    pub fn fts5(&self, any: bool, columns: Option<&str>) -> String {
        let joiner = if any { " OR " } else { " AND " };
        let body = self.terms.iter().map(|t| format!("\"{}\"", t.stem)).collect::<Vec<_>>().join(joiner);
        match columns {
            Some(columns) => format!("{{{columns}}} : ({body})"),
            None => body,
        }
    }
}

/// The words of one whitespace-free chunk of a query.
fn chunk_words(chunk: &str) -> Vec<String> {
    if let Some(number) = TicketNumber::parse(chunk) {
        return vec![number_token(&number)];
    }
    let punctuated = chunk.contains(['.', '-']);
    if punctuated && chunk.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(rut) = Rut::parse(chunk.trim_end_matches([',', ';', '.'])) {
            return vec![rut_token(&rut)];
        }
    }
    words(chunk).collect()
}

/// A piece of text with the query's words marked: `text` is plain (render it as text, never as
/// HTML); each highlight is `start` and `length` in characters of `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Fragment {
    pub text: String,
    pub highlights: Vec<Highlight>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Highlight {
    pub start: usize,
    pub length: usize,
}

/// Characters of context kept before the first hit, and the most a fragment holds.
const LEAD_CHARS: usize = 60;
const FRAGMENT_CHARS: usize = 200;

/// The words of `text` as (first char index, char count, folded word).
fn spans(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String, usize)> = None;
    for (i, c) in text.chars().enumerate() {
        let folded = fold(&c.to_string());
        let alnum = folded.trim();
        if alnum.is_empty() {
            if let Some((start, word, len)) = current.take() {
                out.push((start, len, word));
            }
            continue;
        }
        let entry = current.get_or_insert_with(|| (i, String::new(), 0));
        entry.1.push_str(alnum);
        entry.2 += 1;
    }
    if let Some((start, word, len)) = current {
        out.push((start, len, word));
    }
    out
}

/// The part of `text` around the first word matching a term of `query`, with every matching word
/// in it marked; `None` when no word matches.
pub fn fragment(text: &str, query: &Query) -> Option<Fragment> {
    let matches = |word: &str| query.terms.iter().any(|t| t.word == word || t.stem == stem(word));
    let hits: Vec<(usize, usize)> =
        spans(text).into_iter().filter(|(_, _, w)| matches(w)).map(|(s, l, _)| (s, l)).collect();
    let first = hits.first()?.0;
    let chars: Vec<char> = text.chars().collect();
    let mut start = first.saturating_sub(LEAD_CHARS);
    // Start on a word boundary, so the fragment does not open with half a word.
    while start > 0 && start < first && !chars[start - 1].is_whitespace() {
        start += 1;
    }
    let end = (start + FRAGMENT_CHARS).min(chars.len());
    let (prefix, suffix) = (if start > 0 { "…" } else { "" }, if end < chars.len() { "…" } else { "" });
    let body: String = chars[start..end].iter().map(|c| if c.is_whitespace() { ' ' } else { *c }).collect();
    let offset = prefix.chars().count();
    let highlights = hits
        .into_iter()
        .filter(|(s, l)| *s >= start && s + l <= end)
        .map(|(s, l)| Highlight { start: s - start + offset, length: l })
        .collect();
    Some(Fragment { text: format!("{prefix}{body}{suffix}"), highlights })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(q: &str) -> Vec<String> {
        Query::parse(q).unwrap().terms.into_iter().map(|t| t.word).collect()
    }

    #[test]
    fn accents_and_case_are_ignored() {
        assert_eq!(words_of("Inscripción ÓRDENES"), ["inscripcion", "ordenes"]);
        assert_eq!(stem("inscripcion"), stem(fold("inscripción").trim()));
    }

    #[test]
    fn plurals_share_a_stem() {
        assert_eq!(stem("ordenes"), stem("orden"));
        assert_eq!(stem("claves"), stem("clave"));
        assert_eq!(stem("proveedores"), stem("proveedor"));
    }

    #[test]
    fn stopwords_are_dropped_and_may_leave_nothing() {
        assert_eq!(words_of("no me llega la clave"), ["no", "llega", "clave"]);
        assert!(Query::parse("de la").unwrap().is_empty());
    }

    #[test]
    fn numbers_and_ruts_are_one_term() {
        assert_eq!(words_of("AU-2026-000123"), ["au2026000123"]);
        assert_eq!(words_of("au-2026-123"), ["au2026000123"]);
        assert_eq!(words_of("000123"), ["000123"]);
        for rut in ["12.345.678-5", "12345678-5", "123456785"] {
            assert_eq!(words_of(rut), ["123456785"], "{rut}");
        }
        assert_eq!(words_of("10.000.013-k"), ["10000013k"]);
        // Not a valid RUT: its pieces are searched as they are.
        assert_eq!(words_of("12.345.678-9"), ["12", "345", "678", "9"]);
    }

    #[test]
    fn bounds() {
        assert_eq!(Query::parse("  "), Err(QueryError::Empty));
        assert_eq!(Query::parse(&"a".repeat(MAX_QUERY_CHARS + 1)), Err(QueryError::TooLong));
        assert!(Query::parse(&"á".repeat(MAX_QUERY_CHARS)).is_ok());
        let many = (0..30).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(Query::parse(&many).unwrap().terms.len(), MAX_TERMS);
    }

    #[test]
    fn query_texts_for_each_backend() {
        let q = Query::parse("órdenes compra").unwrap();
        assert_eq!(q.tsquery(false, None), "ordenes & compra");
        assert_eq!(q.tsquery(true, Some("AC")), "ordenes:AC | compra:AC");
        assert_eq!(q.fts5(false, None), format!("\"{}\" AND \"{}\"", stem("ordenes"), stem("compra")));
        assert_eq!(q.fts5(false, Some("head")), format!("{{head}} : (\"orden\" AND \"{}\")", stem("compra")));
    }

    #[test]
    fn index_stems_match_query_stems() {
        assert_eq!(index_stems("La Inscripción de las órdenes"), format!("{} orden", stem("inscripcion")));
    }

    #[test]
    fn from_text_keeps_distinctive_words() {
        let q = Query::from_text("No me llega la clave de acceso 2026");
        let words: Vec<_> = q.terms.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(words, ["llega", "clave", "acceso"]);
    }

    #[test]
    fn fragment_marks_words_in_characters() {
        let q = Query::parse("orden compra").unwrap();
        let f = fragment("No puedo emitir la Órdenes de compra", &q).unwrap();
        assert_eq!(f.text, "No puedo emitir la Órdenes de compra");
        let marked: Vec<String> =
            f.highlights.iter().map(|h| f.text.chars().skip(h.start).take(h.length).collect()).collect();
        assert_eq!(marked, ["Órdenes", "compra"]);
        assert_eq!(fragment("nada que ver", &q), None);
    }

    #[test]
    fn long_text_is_cut_around_the_first_hit() {
        let text = format!("{} la clave no llega {}", "palabra ".repeat(40), "otra ".repeat(60));
        let f = fragment(&text, &Query::parse("clave").unwrap()).unwrap();
        assert!(f.text.starts_with('…') && f.text.ends_with('…'), "{}", f.text);
        assert!(f.text.chars().count() <= FRAGMENT_CHARS + 2);
        let h = f.highlights[0];
        assert_eq!(f.text.chars().skip(h.start).take(h.length).collect::<String>(), "clave");
    }
}
