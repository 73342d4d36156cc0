//! Routing rules: when a ticket arrives (or is re-routed), an ordered list of rules decides its
//! queue, category, priority, tags and watchers. Pure: the caller loads and orders the rules, checks
//! that the queues and categories they name exist, and applies the decision.
//!
//! Everything that can be prepared once per rule is prepared in [`Rule::new`] (compiled regexes,
//! folded keywords, normalised numbers), and the ticket text is folded once per [`evaluate`], so
//! that a hundred rules cost tens of microseconds per ticket.

use std::cell::OnceCell;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{phone, text, Channel, Priority, Segment};

/// Longest regex pattern accepted, in characters.
const MAX_REGEX_CHARS: usize = 1000;
/// Caps on compiled regex size: a rule is run on every ticket, so a pathological pattern must fail
/// at save time instead of slowing down ingestion.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_DFA_SIZE_LIMIT: usize = 1 << 20;
const MAX_NAME_CHARS: usize = 120;
const MAX_TAG_CHARS: usize = 50;

/// What a rule looks at; every set field must match (AND); lists match any of their values (OR).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    pub channel: Option<Vec<Channel>>,
    pub segment: Option<Vec<Segment>>,
    /// Requester organization; case and accents ignored, whole value.
    pub organization: Option<Vec<String>>,
    /// Category slugs.
    pub category: Option<Vec<String>>,
    pub priority: Option<Vec<Priority>>,
    /// Any of these words or phrases in the subject or body; case and accents ignored.
    pub keywords: Option<Vec<String>>,
    pub subject_regex: Option<String>,
    pub body_regex: Option<String>,
    /// Address the mail was sent to; case ignored.
    pub mailbox: Option<Vec<String>>,
    /// Number the caller dialled (any Chilean format; compared normalised).
    pub called_number: Option<Vec<String>>,
    /// `true`: only while the service calendar is open; `false`: only while closed.
    pub business_hours: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    /// Queue slug.
    pub queue: Option<String>,
    /// Category slug.
    pub category: Option<String>,
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Agent id to add as a watcher.
    pub watcher_id: Option<i64>,
    /// Stop evaluating the rules after this one.
    #[serde(default)]
    pub stop: bool,
}

/// A validated rule, with its regexes compiled once.
///
/// `conditions` keep what the administrator wrote; `actions` are normalised (trimmed slugs,
/// lower-case tags without duplicates). Matching uses a private copy prepared by [`Rule::new`], so
/// editing the public fields afterwards does not change what the rule matches: build a new rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub conditions: Conditions,
    pub actions: Actions,
    matcher: Matcher,
}

/// A problem in a rule, naming the part: e.g. ("conditions.subject_regex", "expresión regular no válida: …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

impl RuleError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        RuleError { field: field.to_owned(), message: message.into() }
    }
}

/// The conditions in the form evaluation needs. An empty list means "no condition": validation
/// rejects empty lists, so a set condition always has at least one value.
#[derive(Debug, Clone, Default)]
struct Matcher {
    channel: Vec<Channel>,
    segment: Vec<Segment>,
    /// Folded.
    organization: Vec<String>,
    /// Trimmed, ASCII lower-case.
    category: Vec<String>,
    priority: Vec<Priority>,
    /// Folded.
    keywords: Vec<String>,
    subject_regex: Option<Pattern>,
    body_regex: Option<Pattern>,
    /// Trimmed, ASCII lower-case.
    mailbox: Vec<String>,
    /// Normalised with [`phone::normalize`].
    called_number: Vec<String>,
    business_hours: Option<bool>,
}

impl Rule {
    /// Validates and compiles; returns every problem at once (messages in Spanish).
    pub fn new(id: i64, name: &str, conditions: Conditions, actions: Actions) -> Result<Rule, Vec<RuleError>> {
        let mut errors = Vec::new();

        let raw_chars = name.chars().count();
        let name = name.trim();
        if name.is_empty() {
            errors.push(RuleError::new("name", "indique un nombre"));
        } else if raw_chars > MAX_NAME_CHARS {
            errors.push(RuleError::new("name", format!("el nombre admite hasta {MAX_NAME_CHARS} caracteres")));
        }

        let matcher = compile_conditions(&conditions, &mut errors);
        let actions = normalize_actions(actions, &mut errors);

        if errors.is_empty() {
            Ok(Rule { id, name: name.to_owned(), conditions, actions, matcher })
        } else {
            Err(errors)
        }
    }
}

fn compile_conditions(c: &Conditions, errors: &mut Vec<RuleError>) -> Matcher {
    Matcher {
        channel: list(&c.channel, "conditions.channel", errors).map_or_else(Vec::new, <[_]>::to_vec),
        segment: list(&c.segment, "conditions.segment", errors).map_or_else(Vec::new, <[_]>::to_vec),
        organization: texts(&c.organization, "conditions.organization", errors, text::fold),
        category: texts(&c.category, "conditions.category", errors, str::to_ascii_lowercase),
        priority: list(&c.priority, "conditions.priority", errors).map_or_else(Vec::new, <[_]>::to_vec),
        keywords: texts(&c.keywords, "conditions.keywords", errors, text::fold),
        subject_regex: compile_regex(c.subject_regex.as_deref(), "conditions.subject_regex", errors),
        body_regex: compile_regex(c.body_regex.as_deref(), "conditions.body_regex", errors),
        mailbox: texts(&c.mailbox, "conditions.mailbox", errors, str::to_ascii_lowercase),
        called_number: numbers(&c.called_number, errors),
        business_hours: c.business_hours,
    }
}

/// The called numbers, normalised as the caller's will be.
fn numbers(values: &Option<Vec<String>>, errors: &mut Vec<RuleError>) -> Vec<String> {
    const FIELD: &str = "conditions.called_number";
    let Some(values) = list(values, FIELD, errors) else { return Vec::new() };
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        match phone::normalize(value) {
            Some(normalised) => out.push(normalised),
            None => errors.push(RuleError::new(FIELD, format!("número de teléfono no válido: «{}»", value.trim()))),
        }
    }
    out
}

/// A set list condition; an empty one is an error (it could never match, which is never meant).
fn list<'a, T>(values: &'a Option<Vec<T>>, field: &str, errors: &mut Vec<RuleError>) -> Option<&'a [T]> {
    let values = values.as_deref()?;
    if values.is_empty() {
        errors.push(RuleError::new(field, "indique al menos un valor"));
    }
    Some(values)
}

/// Converts a list of texts: trims, rejects blank entries, then normalises with `normalize`.
fn texts(
    values: &Option<Vec<String>>,
    field: &str,
    errors: &mut Vec<RuleError>,
    normalize: impl Fn(&str) -> String,
) -> Vec<String> {
    let Some(values) = list(values, field, errors) else { return Vec::new() };
    let mut out = Vec::with_capacity(values.len());
    let mut blank = false;
    for value in values {
        let value = value.trim();
        if value.is_empty() {
            blank = true;
        } else {
            out.push(normalize(value));
        }
    }
    if blank {
        errors.push(RuleError::new(field, "hay valores vacíos"));
    }
    out
}

fn compile_regex(pattern: Option<&str>, field: &str, errors: &mut Vec<RuleError>) -> Option<Pattern> {
    let pattern = pattern?;
    if pattern.is_empty() {
        errors.push(RuleError::new(field, "indique una expresión regular"));
        return None;
    }
    if pattern.chars().count() > MAX_REGEX_CHARS {
        errors.push(RuleError::new(
            field,
            format!("expresión regular demasiado larga (máximo {MAX_REGEX_CHARS} caracteres)"),
        ));
        return None;
    }
    match build_regex(pattern) {
        Ok(exact) => {
            let relaxed = without_word_boundaries(pattern).and_then(|relaxed| build_regex(&relaxed).ok());
            Some(Pattern { exact, relaxed })
        }
        Err(err) => {
            errors.push(RuleError::new(field, format!("expresión regular no válida: {}", regex_message(&err))));
            None
        }
    }
}

fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_DFA_SIZE_LIMIT).build()
}

/// A rule's regex, plus a cheaper necessary condition when the exact one is slow to run.
///
/// Unicode word boundaries (`\b`, `\B`, `\<`, `\>`, `\b{start}`…) stop the regex crate's lazy DFA
/// at the first non-ASCII byte, and Spanish text always has one, so it falls back to the PikeVM:
/// `\b\d{4}-\d{1,4}-SE\d{2}\b` takes ~80 µs on a 1,700-character body, against ~4 µs without the
/// `\b`s. Removing an assertion can only add matches, so the relaxed regex runs first and the exact
/// one only when the relaxed one matches: same result, and most tickets never pay for the slow path.
#[derive(Debug, Clone)]
struct Pattern {
    exact: Regex,
    /// The pattern with its word-boundary assertions replaced by empty groups; `None` if it has
    /// none (or the rewrite does not compile, which only costs speed).
    relaxed: Option<Regex>,
}

impl Pattern {
    fn is_match(&self, haystack: &str) -> bool {
        self.relaxed.as_ref().is_none_or(|relaxed| relaxed.is_match(haystack)) && self.exact.is_match(haystack)
    }
}

/// `pattern` with every word-boundary assertion replaced by `(?:)`, which matches wherever the
/// assertion does, so the result matches a superset of what `pattern` matches. `None` if there
/// is none. Escapes are read in pairs, so `\\b` (a backslash, then `b`) is left alone; these
/// escapes are invalid inside a character class, so any found belong to the pattern proper (or to
/// an `(?x)` comment, where the replacement is harmless).
fn without_word_boundaries(pattern: &str) -> Option<String> {
    const SPECIAL: [&str; 4] = ["{start}", "{end}", "{start-half}", "{end-half}"];
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut changed = false;
    let mut rest = pattern;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        let mut chars = escape.chars();
        chars.next();
        let Some(next) = chars.next() else {
            out.push('\\');
            rest = "";
            break;
        };
        let mut len = 1 + next.len_utf8();
        if matches!(next, 'b' | 'B' | '<' | '>') {
            if next == 'b' {
                len += SPECIAL.iter().find(|special| escape[2..].starts_with(*special)).map_or(0, |s| s.len());
            }
            out.push_str("(?:)");
            changed = true;
        } else {
            out.push_str(&escape[..len]);
        }
        rest = &escape[len..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The useful line of a regex error. Syntax errors span several lines ("regex parse error:", the
/// pattern, a caret, then "error: unclosed group"); the last one says what is wrong.
fn regex_message(err: &regex::Error) -> String {
    let full = err.to_string();
    let line = full
        .lines()
        .find_map(|line| line.trim().strip_prefix("error:"))
        .or_else(|| full.lines().next())
        .unwrap_or("error desconocido");
    line.trim().to_owned()
}

fn normalize_actions(actions: Actions, errors: &mut Vec<RuleError>) -> Actions {
    let queue = slug(actions.queue, "actions.queue", "indique la cola", errors);
    let category = slug(actions.category, "actions.category", "indique la categoría", errors);

    let mut tags: Vec<String> = Vec::with_capacity(actions.tags.len());
    for tag in &actions.tags {
        let tag = tag.trim().to_lowercase();
        let valid = (1..=MAX_TAG_CHARS).contains(&tag.len())
            && tag.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            errors.push(RuleError::new(
                "actions.tags",
                format!("etiqueta no válida «{tag}»: use de 1 a {MAX_TAG_CHARS} caracteres a-z, 0-9, - o _"),
            ));
        } else if !tags.contains(&tag) {
            tags.push(tag);
        }
    }

    if let Some(id) = actions.watcher_id.filter(|id| *id <= 0) {
        errors.push(RuleError::new("actions.watcher_id", format!("id de agente no válido: {id}")));
    }

    let does_nothing = queue.is_none()
        && category.is_none()
        && actions.priority.is_none()
        && actions.tags.is_empty()
        && actions.watcher_id.is_none()
        && !actions.stop;
    if does_nothing {
        errors.push(RuleError::new("actions", "la regla no hace nada"));
    }

    Actions { queue, category, priority: actions.priority, tags, watcher_id: actions.watcher_id, stop: actions.stop }
}

/// A trimmed slug; blank is an error (the slug's existence is checked by the database layer).
fn slug(value: Option<String>, field: &str, message: &str, errors: &mut Vec<RuleError>) -> Option<String> {
    let value = value?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(RuleError::new(field, message));
        return Some(value);
    }
    Some(trimmed.to_owned())
}

/// The ticket as routing sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub channel: Channel,
    pub segment: Segment,
    pub organization: Option<String>,
    pub category: Option<String>,
    pub priority: Priority,
    pub subject: String,
    pub body: String,
    pub mailbox: Option<String>,
    pub called_number: Option<String>,
    pub business_hours: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Applied {
    pub rule_id: i64,
    pub rule_name: String,
    pub actions: Actions,
}

/// What routing decided: the rules that applied, in order, and the resulting fields (`None` = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Decision {
    pub applied: Vec<Applied>,
    pub queue: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub watchers: Vec<i64>,
}

impl Decision {
    fn apply(&mut self, rule: &Rule) {
        let actions = &rule.actions;
        if let Some(queue) = &actions.queue {
            self.queue = Some(queue.clone());
        }
        if let Some(category) = &actions.category {
            self.category = Some(category.clone());
        }
        if let Some(priority) = actions.priority {
            self.priority = Some(priority);
        }
        for tag in &actions.tags {
            if !self.tags.contains(tag) {
                self.tags.push(tag.clone());
            }
        }
        if let Some(watcher) = actions.watcher_id {
            if !self.watchers.contains(&watcher) {
                self.watchers.push(watcher);
            }
        }
        self.applied.push(Applied { rule_id: rule.id, rule_name: rule.name.clone(), actions: actions.clone() });
    }
}

/// The ticket's derived values, each computed at most once per evaluation and only if some rule
/// needs it.
struct Prepared<'a> {
    facts: &'a Facts,
    /// Folded `subject + " " + body`.
    text: OnceCell<String>,
    organization: OnceCell<Option<String>>,
    called_number: OnceCell<Option<String>>,
}

impl Prepared<'_> {
    fn text(&self) -> &str {
        self.text.get_or_init(|| {
            let facts = self.facts;
            let mut folded = String::with_capacity(facts.subject.len() + 1 + facts.body.len());
            fold_into(&mut folded, &facts.subject);
            folded.push(' ');
            fold_into(&mut folded, &facts.body);
            folded
        })
    }

    fn organization(&self) -> Option<&str> {
        self.organization.get_or_init(|| self.facts.organization.as_deref().map(text::fold)).as_deref()
    }

    fn called_number(&self) -> Option<&str> {
        self.called_number.get_or_init(|| self.facts.called_number.as_deref().and_then(phone::normalize)).as_deref()
    }
}

/// Appends `text::fold(input)` to `out`. `fold` works one character at a time, so runs can be
/// folded separately: ASCII runs are lower-cased in place (fast), the rest goes through `fold`
/// itself so both always agree. `fold` alone costs ~13 ns per character, a third of the budget
/// for a 1,700-character body.
fn fold_into(out: &mut String, input: &str) {
    let mut rest = input;
    while !rest.is_empty() {
        let ascii = rest.bytes().position(|b| !b.is_ascii()).unwrap_or(rest.len());
        let start = out.len();
        out.push_str(&rest[..ascii]);
        out[start..].make_ascii_lowercase();
        rest = &rest[ascii..];
        let other = rest.bytes().position(|b| b.is_ascii()).unwrap_or(rest.len());
        if other > 0 {
            out.push_str(&text::fold(&rest[..other]));
            rest = &rest[other..];
        }
    }
}

impl Matcher {
    /// Cheap comparisons first, then substring searches, then regexes.
    fn matches(&self, ticket: &Prepared<'_>, category: Option<&str>, priority: Priority) -> bool {
        let facts = ticket.facts;
        let any_of = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|value| list.iter().any(|v| v == value))
        };
        if !self.channel.is_empty() && !self.channel.contains(&facts.channel) {
            return false;
        }
        if !self.segment.is_empty() && !self.segment.contains(&facts.segment) {
            return false;
        }
        if self.business_hours.is_some_and(|open| open != facts.business_hours) {
            return false;
        }
        if !self.priority.is_empty() && !self.priority.contains(&priority) {
            return false;
        }
        if !self.category.is_empty() {
            let category = category.map(str::trim);
            if !category.is_some_and(|c| self.category.iter().any(|v| v.eq_ignore_ascii_case(c))) {
                return false;
            }
        }
        if !self.mailbox.is_empty() {
            let mailbox = facts.mailbox.as_deref().map(str::trim);
            if !mailbox.is_some_and(|m| self.mailbox.iter().any(|v| v.eq_ignore_ascii_case(m))) {
                return false;
            }
        }
        if !self.called_number.is_empty() && !any_of(&self.called_number, ticket.called_number()) {
            return false;
        }
        if !self.organization.is_empty() && !any_of(&self.organization, ticket.organization()) {
            return false;
        }
        if !self.keywords.is_empty() {
            let text = ticket.text();
            if !self.keywords.iter().any(|keyword| text.contains(keyword.as_str())) {
                return false;
            }
        }
        if self.subject_regex.as_ref().is_some_and(|re| !re.is_match(&facts.subject)) {
            return false;
        }
        if self.body_regex.as_ref().is_some_and(|re| !re.is_match(&facts.body)) {
            return false;
        }
        true
    }
}

/// Runs the rules in the given order. A matching rule's actions apply at once, so later rules see
/// the category and priority set by earlier ones; single values are overwritten (last wins), tags
/// and watchers accumulate; a rule with `stop` ends the evaluation.
pub fn evaluate(rules: &[Rule], facts: &Facts) -> Decision {
    let ticket =
        Prepared { facts, text: OnceCell::new(), organization: OnceCell::new(), called_number: OnceCell::new() };
    let mut decision = Decision::default();
    for rule in rules {
        let category = decision.category.as_deref().or(facts.category.as_deref());
        let priority = decision.priority.unwrap_or(facts.priority);
        if !rule.matcher.matches(&ticket, category, priority) {
            continue;
        }
        decision.apply(rule);
        if rule.actions.stop {
            break;
        }
    }
    decision
}

/// Where a ticket came in, beyond what the ticket stores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub mailbox: Option<String>,
    pub called_number: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            channel: Channel::Email,
            segment: Segment::Proveedor,
            organization: Some("Municipalidad de Ñuñoa".into()),
            category: None,
            priority: Priority::Normal,
            subject: "Problema con LICITACION 1234-56-LE25".into(),
            body: "Hola, no puedo ofertar en la licitación. Adjunto la orden de compra 1234-567-SE25.".into(),
            mailbox: Some("Soporte@MercadoPublico.cl".into()),
            called_number: Some("6007000600".into()),
            business_hours: true,
        }
    }

    fn queue(slug: &str) -> Actions {
        Actions { queue: Some(slug.into()), ..Actions::default() }
    }

    fn rule(id: i64, conditions: Conditions, actions: Actions) -> Rule {
        Rule::new(id, &format!("regla {id}"), conditions, actions).unwrap()
    }

    /// Whether a rule with these conditions matches `facts`.
    fn matches(conditions: Conditions, facts: &Facts) -> bool {
        let decision = evaluate(&[rule(1, conditions, queue("q"))], facts);
        assert!(decision.applied.len() <= 1);
        decision.applied.len() == 1
    }

    fn errors(conditions: Conditions, actions: Actions) -> Vec<(String, String)> {
        Rule::new(1, "regla", conditions, actions).unwrap_err().into_iter().map(|e| (e.field, e.message)).collect()
    }

    fn fields(conditions: Conditions, actions: Actions) -> Vec<String> {
        errors(conditions, actions).into_iter().map(|(field, _)| field).collect()
    }

    fn strings(values: &[&str]) -> Option<Vec<String>> {
        Some(values.iter().map(|v| v.to_string()).collect())
    }

    #[test]
    fn empty_conditions_match_everything() {
        assert!(matches(Conditions::default(), &facts()));
        let bare = Facts {
            organization: None,
            mailbox: None,
            called_number: None,
            subject: String::new(),
            body: String::new(),
            ..facts()
        };
        assert!(matches(Conditions::default(), &bare));
    }

    #[test]
    fn no_rules_decide_nothing() {
        assert_eq!(evaluate(&[], &facts()), Decision::default());
    }

    #[test]
    fn channel() {
        let f = facts();
        assert!(matches(Conditions { channel: Some(vec![Channel::Email]), ..Default::default() }, &f));
        assert!(matches(Conditions { channel: Some(vec![Channel::Web, Channel::Email]), ..Default::default() }, &f));
        assert!(!matches(Conditions { channel: Some(vec![Channel::Phone, Channel::Web]), ..Default::default() }, &f));
    }

    #[test]
    fn segment() {
        let f = facts();
        assert!(matches(Conditions { segment: Some(vec![Segment::Proveedor]), ..Default::default() }, &f));
        assert!(!matches(Conditions { segment: Some(vec![Segment::Comprador]), ..Default::default() }, &f));
    }

    #[test]
    fn organization_ignores_case_and_accents_but_needs_the_whole_value() {
        let f = facts();
        let org = |values: &[&str]| Conditions { organization: strings(values), ..Default::default() };
        assert!(matches(org(&["MUNICIPALIDAD DE NUNOA"]), &f));
        assert!(matches(org(&["Otra", "  municipalidad de ñuñoa "]), &f));
        assert!(!matches(org(&["Municipalidad"]), &f));
        assert!(!matches(org(&["Municipalidad de Ñuñoa Norte"]), &f));
        assert!(!matches(org(&["Municipalidad de Ñuñoa"]), &Facts { organization: None, ..facts() }));
    }

    #[test]
    fn category_and_priority() {
        let f = Facts { category: Some("pagos".into()), priority: Priority::High, ..facts() };
        let cat = |values: &[&str]| Conditions { category: strings(values), ..Default::default() };
        assert!(matches(cat(&["pagos"]), &f));
        assert!(matches(cat(&["reclamos", "Pagos"]), &f));
        assert!(!matches(cat(&["reclamos"]), &f));
        assert!(!matches(cat(&["pagos"]), &facts()));
        let prio = |values: Vec<Priority>| Conditions { priority: Some(values), ..Default::default() };
        assert!(matches(prio(vec![Priority::High, Priority::Urgent]), &f));
        assert!(!matches(prio(vec![Priority::Low, Priority::Normal]), &f));
    }

    #[test]
    fn keywords_ignore_case_and_accents_in_subject_or_body() {
        let f = facts();
        let kw = |values: &[&str]| Conditions { keywords: strings(values), ..Default::default() };
        // "licitación" against the subject's "LICITACION".
        assert!(matches(kw(&["licitación"]), &Facts { body: String::new(), ..facts() }));
        // Phrase in the body only.
        assert!(matches(kw(&["ORDEN DE COMPRA"]), &Facts { subject: String::new(), ..facts() }));
        assert!(matches(kw(&["reclamo", "no puedo ofertar"]), &f));
        assert!(!matches(kw(&["reclamo", "boleta de garantía"]), &f));
        // Keywords in the rule are folded too: accents in the text, none in the keyword.
        let accented = Facts { subject: "Compra Ágil".into(), body: "Órdenes".into(), ..facts() };
        assert!(matches(kw(&["compra agil"]), &accented));
        assert!(matches(kw(&["ORDENES"]), &accented));
    }

    #[test]
    fn regexes_match_the_raw_subject_and_body() {
        let f = facts();
        let subject = |re: &str| Conditions { subject_regex: Some(re.into()), ..Default::default() };
        let body = |re: &str| Conditions { body_regex: Some(re.into()), ..Default::default() };
        assert!(matches(subject(r"\d{4}-\d{2}-LE\d{2}"), &f));
        // Case-sensitive unless the pattern says otherwise.
        assert!(!matches(subject("licitacion"), &f));
        assert!(matches(subject("(?i)licitacion"), &f));
        // Raw text: the accent is still there.
        assert!(!matches(body("licitacion"), &f));
        assert!(matches(body("licitación"), &f));
        assert!(matches(body(r"orden de compra \d+-\d+-SE\d{2}"), &f));
        // The subject regex does not look at the body, nor the body regex at the subject.
        assert!(!matches(subject("orden de compra"), &f));
        assert!(!matches(body("LICITACION"), &f));
    }

    #[test]
    fn mailbox_ignores_case_and_spaces() {
        let f = facts();
        let mb = |values: &[&str]| Conditions { mailbox: strings(values), ..Default::default() };
        assert!(matches(mb(&[" soporte@mercadopublico.cl "]), &f));
        assert!(matches(mb(&["ventas@mercadopublico.cl", "SOPORTE@mercadopublico.CL"]), &f));
        assert!(!matches(mb(&["ventas@mercadopublico.cl"]), &f));
        assert!(!matches(mb(&["soporte@mercadopublico.cl"]), &Facts { mailbox: None, ..facts() }));
    }

    #[test]
    fn called_number_is_compared_normalised() {
        let cn = |values: &[&str]| Conditions { called_number: strings(values), ..Default::default() };
        assert!(matches(cn(&["600 7000 600"]), &facts()));
        assert!(matches(cn(&["+56 2 2345 6789", "600-7000-600"]), &facts()));
        let mobile = Facts { called_number: Some("+56 9 8765 4321".into()), ..facts() };
        assert!(matches(cn(&["987654321"]), &mobile));
        assert!(!matches(cn(&["800 123 456"]), &facts()));
        assert!(!matches(cn(&["600 7000 600"]), &Facts { called_number: None, ..facts() }));
        assert!(!matches(cn(&["600 7000 600"]), &Facts { called_number: Some("anónimo".into()), ..facts() }));
    }

    #[test]
    fn business_hours() {
        let open = facts();
        let closed = Facts { business_hours: false, ..facts() };
        let bh = |value: bool| Conditions { business_hours: Some(value), ..Default::default() };
        assert!(matches(bh(true), &open));
        assert!(!matches(bh(true), &closed));
        assert!(matches(bh(false), &closed));
        assert!(!matches(bh(false), &open));
    }

    #[test]
    fn and_across_fields_or_within_a_list() {
        let f = facts();
        let both = Conditions {
            channel: Some(vec![Channel::Phone, Channel::Email]),
            keywords: strings(&["garantía", "licitacion"]),
            ..Default::default()
        };
        assert!(matches(both.clone(), &f));
        assert!(!matches(Conditions { segment: Some(vec![Segment::Ciudadano]), ..both.clone() }, &f));
        assert!(!matches(Conditions { channel: Some(vec![Channel::Phone]), ..both.clone() }, &f));
        assert!(!matches(Conditions { keywords: strings(&["garantía"]), ..both }, &f));
    }

    #[test]
    fn actions_apply_in_order_and_the_last_single_value_wins() {
        let rules = [
            rule(
                1,
                Conditions::default(),
                Actions {
                    queue: Some("mesa".into()),
                    category: Some("general".into()),
                    priority: Some(Priority::Low),
                    ..Default::default()
                },
            ),
            rule(2, Conditions { channel: Some(vec![Channel::Phone]), ..Default::default() }, queue("fono")),
            rule(3, Conditions::default(), Actions { queue: Some("licitaciones".into()), ..Default::default() }),
        ];
        let decision = evaluate(&rules, &facts());
        assert_eq!(decision.applied.iter().map(|a| a.rule_id).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(decision.applied[1].rule_name, "regla 3");
        assert_eq!(decision.applied[1].actions, rules[2].actions);
        assert_eq!(decision.queue.as_deref(), Some("licitaciones"));
        assert_eq!(decision.category.as_deref(), Some("general"));
        assert_eq!(decision.priority, Some(Priority::Low));
        assert!(decision.tags.is_empty());
        assert!(decision.watchers.is_empty());

        // Same rules in another order: another winner.
        let reversed = [rules[2].clone(), rules[1].clone(), rules[0].clone()];
        assert_eq!(evaluate(&reversed, &facts()).queue.as_deref(), Some("mesa"));
    }

    #[test]
    fn later_rules_see_category_and_priority_set_by_earlier_ones() {
        let rules = [
            rule(
                1,
                Conditions { keywords: strings(&["orden de compra"]), ..Default::default() },
                Actions { category: Some("pagos".into()), ..Default::default() },
            ),
            rule(
                2,
                Conditions { category: strings(&["pagos"]), ..Default::default() },
                Actions { priority: Some(Priority::High), ..Default::default() },
            ),
            rule(3, Conditions { priority: Some(vec![Priority::High]), ..Default::default() }, queue("pagos-urgente")),
            // Sees the updated priority, no longer the ticket's own.
            rule(4, Conditions { priority: Some(vec![Priority::Normal]), ..Default::default() }, queue("normal")),
        ];
        let decision = evaluate(&rules, &facts());
        assert_eq!(decision.applied.iter().map(|a| a.rule_id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(decision.category.as_deref(), Some("pagos"));
        assert_eq!(decision.priority, Some(Priority::High));
        assert_eq!(decision.queue.as_deref(), Some("pagos-urgente"));

        // Without rule 1 the chain does not start; the ticket's own priority is used.
        let decision = evaluate(&rules[1..], &facts());
        assert_eq!(decision.applied.iter().map(|a| a.rule_id).collect::<Vec<_>>(), [4]);
        assert_eq!(decision.category, None);
        assert_eq!(decision.priority, None);
    }

    #[test]
    fn stop_ends_the_evaluation() {
        let rules = [
            rule(1, Conditions::default(), Actions { tags: vec!["a".into()], ..Default::default() }),
            rule(
                2,
                Conditions { channel: Some(vec![Channel::Phone]), ..Default::default() },
                Actions { stop: true, ..Default::default() },
            ),
            rule(3, Conditions::default(), Actions { queue: Some("mesa".into()), stop: true, ..Default::default() }),
            rule(4, Conditions::default(), queue("nunca")),
        ];
        let decision = evaluate(&rules, &facts());
        // Rule 2 has stop but does not match, so it does not stop anything.
        assert_eq!(decision.applied.iter().map(|a| a.rule_id).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(decision.queue.as_deref(), Some("mesa"));
        assert_eq!(decision.tags, ["a"]);

        // A rule that only stops is valid and shields the rules after it.
        let phone = Facts { channel: Channel::Phone, ..facts() };
        let decision = evaluate(&rules, &phone);
        assert_eq!(decision.applied.iter().map(|a| a.rule_id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(decision.queue, None);
    }

    #[test]
    fn tags_and_watchers_accumulate_without_duplicates() {
        let rules = [
            rule(
                1,
                Conditions::default(),
                Actions {
                    tags: vec!["licitacion".into(), "  Urgente ".into()],
                    watcher_id: Some(7),
                    ..Default::default()
                },
            ),
            rule(
                2,
                Conditions::default(),
                Actions {
                    tags: vec!["urgente".into(), "pago_web".into(), "PAGO_WEB".into()],
                    watcher_id: Some(3),
                    ..Default::default()
                },
            ),
            rule(
                3,
                Conditions::default(),
                Actions { tags: vec!["licitacion".into()], watcher_id: Some(7), ..Default::default() },
            ),
        ];
        assert_eq!(rules[0].actions.tags, ["licitacion", "urgente"]);
        assert_eq!(rules[1].actions.tags, ["urgente", "pago_web"]);
        let decision = evaluate(&rules, &facts());
        assert_eq!(decision.tags, ["licitacion", "urgente", "pago_web"]);
        assert_eq!(decision.watchers, [7, 3]);
        assert_eq!(decision.applied.len(), 3);
        assert_eq!(decision.queue, None);
    }

    #[test]
    fn rule_normalises_name_and_slugs_but_keeps_conditions_as_written() {
        let conditions = Conditions { mailbox: strings(&[" Soporte@X.cl "]), ..Default::default() };
        let r = Rule::new(
            9,
            "  Licitaciones  ",
            conditions.clone(),
            Actions { queue: Some(" mesa ".into()), category: Some("pagos ".into()), ..Default::default() },
        )
        .unwrap();
        assert_eq!(r.id, 9);
        assert_eq!(r.name, "Licitaciones");
        assert_eq!(r.conditions, conditions);
        assert_eq!(r.actions.queue.as_deref(), Some("mesa"));
        assert_eq!(r.actions.category.as_deref(), Some("pagos"));
    }

    #[test]
    fn name_errors() {
        let ok = queue("mesa");
        for name in ["", "   "] {
            let err = Rule::new(1, name, Conditions::default(), ok.clone()).unwrap_err();
            assert_eq!(err, [RuleError { field: "name".into(), message: "indique un nombre".into() }]);
        }
        let long = "x".repeat(121);
        let err = Rule::new(1, &long, Conditions::default(), ok.clone()).unwrap_err();
        assert_eq!(err, [RuleError { field: "name".into(), message: "el nombre admite hasta 120 caracteres".into() }]);
        // 120 characters, accents counted as one.
        assert!(Rule::new(1, &"ñ".repeat(120), Conditions::default(), ok).is_ok());
    }

    #[test]
    fn empty_lists_are_errors() {
        let conditions = Conditions {
            channel: Some(vec![]),
            segment: Some(vec![]),
            organization: Some(vec![]),
            category: Some(vec![]),
            priority: Some(vec![]),
            keywords: Some(vec![]),
            mailbox: Some(vec![]),
            called_number: Some(vec![]),
            ..Default::default()
        };
        let found = errors(conditions, queue("mesa"));
        let expected: Vec<(String, String)> = [
            "conditions.channel",
            "conditions.segment",
            "conditions.organization",
            "conditions.category",
            "conditions.priority",
            "conditions.keywords",
            "conditions.mailbox",
            "conditions.called_number",
        ]
        .iter()
        .map(|field| (field.to_string(), "indique al menos un valor".to_string()))
        .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn blank_entries_are_errors() {
        let conditions = Conditions {
            organization: strings(&["Municipalidad", " "]),
            category: strings(&[""]),
            keywords: strings(&["licitación", "", "\t"]),
            mailbox: strings(&["  "]),
            ..Default::default()
        };
        let found = errors(conditions, queue("mesa"));
        let expected: Vec<(String, String)> =
            ["conditions.organization", "conditions.category", "conditions.keywords", "conditions.mailbox"]
                .iter()
                .map(|field| (field.to_string(), "hay valores vacíos".to_string()))
                .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn called_number_errors() {
        let conditions =
            Conditions { called_number: strings(&["600 7000 600", "mesa central", ""]), ..Default::default() };
        assert_eq!(
            errors(conditions, queue("mesa")),
            [
                ("conditions.called_number".to_string(), "número de teléfono no válido: «mesa central»".to_string()),
                ("conditions.called_number".to_string(), "número de teléfono no válido: «»".to_string()),
            ]
        );
    }

    #[test]
    fn regex_errors_never_panic() {
        let bad = ["(", "[a-", "a{5,2}", r"\p{Nope}", "(?<n>a)(?<n>b)", "*", r"\", "(?i", "(?P<>a)"];
        for pattern in bad {
            for field in ["conditions.subject_regex", "conditions.body_regex"] {
                let conditions = if field == "conditions.subject_regex" {
                    Conditions { subject_regex: Some(pattern.into()), ..Default::default() }
                } else {
                    Conditions { body_regex: Some(pattern.into()), ..Default::default() }
                };
                let found = errors(conditions, queue("mesa"));
                assert_eq!(found.len(), 1, "{pattern}: {found:?}");
                assert_eq!(found[0].0, field);
                assert!(found[0].1.starts_with("expresión regular no válida: "), "{pattern}: {}", found[0].1);
                assert!(!found[0].1.contains('\n'), "{pattern}: {}", found[0].1);
            }
        }
        let found = errors(Conditions { subject_regex: Some("(abc".into()), ..Default::default() }, queue("mesa"));
        assert_eq!(found[0].1, "expresión regular no válida: unclosed group");
    }

    #[test]
    fn word_boundaries_are_relaxed_only_outside_escapes() {
        let cases: [(&str, Option<&str>); 9] = [
            (r"\bpago\b", Some(r"(?:)pago(?:)")),
            (r"\Bx\<a\>", Some(r"(?:)x(?:)a(?:)")),
            (r"\b{start}oc\b{end}\b{start-half}\b{end-half}", Some(r"(?:)oc(?:)(?:)(?:)")),
            (r"\\b\d+\.\w", None),
            (r"\\\bx", Some(r"\\(?:)x")),
            (r"ñ\bó", Some(r"ñ(?:)ó")),
            (r"\p{L}+\x{41}", None),
            ("abc", None),
            (r"a\", None),
        ];
        for (pattern, expected) in cases {
            assert_eq!(without_word_boundaries(pattern).as_deref(), expected, "{pattern}");
        }
    }

    /// The relaxed regex is only a shortcut: results are those of the exact regex.
    #[test]
    fn relaxed_regexes_never_change_the_result() {
        let patterns = [
            r"\b\d{4}-\d{1,4}-(SE|CM|AG)\d{2}\b",
            r"\bcompra\b",
            r"\Bcompra",
            r"(?i)\blicitaci[oó]n\b",
            r"\<oc\>",
            r"\b{start}ágil\b{end}",
            r"\b{start-half}de\b{end-half}",
            r"\b\w+ción\b",
            r"\\b",
            r"(?-u:\b)pago(?-u:\b)",
            r"a\b+",
            r"(?x) \b pago \b  # palabra \b completa",
        ];
        let haystacks = [
            "",
            "compra",
            "compras ágiles",
            "Compra Ágil",
            "precompra",
            "La LICITACIÓN 1057-23-LE26 y la OC 1234-567-SE25.",
            "licitaciones",
            "oc: 1234-5-CM25x",
            "ágil",
            "fráagil",
            "de",
            "ande",
            "pago",
            "prepago",
            r"a\b",
            "áa",
            "a",
            "publicación",
        ];
        for pattern in patterns {
            let compiled = compile_regex(Some(pattern), "conditions.body_regex", &mut Vec::new()).unwrap();
            assert!(compiled.relaxed.is_some() || pattern == r"\\b", "{pattern}");
            let exact = Regex::new(pattern).unwrap();
            for haystack in haystacks {
                assert_eq!(compiled.is_match(haystack), exact.is_match(haystack), "{pattern} on {haystack:?}");
                if let Some(relaxed) = &compiled.relaxed {
                    assert!(!exact.is_match(haystack) || relaxed.is_match(haystack), "{pattern} on {haystack:?}");
                }
            }
        }
    }

    #[test]
    fn fast_fold_agrees_with_text_fold() {
        let inputs = [
            "",
            "ABC xyz 123",
            "Compra ÁGIL: Órdenes Ñuñoa",
            "ÁÉÍÓÚÜÑáéíóúüñ",
            "mixto ÀÈÌÒÙ âêîôû ÄËÏÖÜ çÇ ß ẞ İstanbul ΣΑΣ 日本 😀 end",
            "é",
            "ÑANDÚ",
            "\u{0301}combining",
            "tab\tnewline\n\r\0",
        ];
        for input in inputs {
            let mut out = String::from("prefijo|");
            fold_into(&mut out, input);
            assert_eq!(out, format!("prefijo|{}", text::fold(input)), "{input:?}");
        }
    }

    #[test]
    fn regex_limits() {
        let too_long = "a".repeat(1001);
        let found = errors(Conditions { body_regex: Some(too_long), ..Default::default() }, queue("mesa"));
        assert_eq!(
            found,
            [(
                "conditions.body_regex".to_string(),
                "expresión regular demasiado larga (máximo 1000 caracteres)".to_string()
            )]
        );
        assert!(Rule::new(1, "r", Conditions { body_regex: Some("a".repeat(1000)), ..Default::default() }, queue("q"))
            .is_ok());
        // Short but huge once compiled: refused by the size limit instead of eating memory.
        let huge = r"\w{200}\w{200}\w{200}";
        let found = errors(Conditions { subject_regex: Some(huge.into()), ..Default::default() }, queue("mesa"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "conditions.subject_regex");
        assert!(found[0].1.starts_with("expresión regular no válida: "), "{}", found[0].1);
        let found = errors(Conditions { subject_regex: Some(String::new()), ..Default::default() }, queue("mesa"));
        assert_eq!(found, [("conditions.subject_regex".to_string(), "indique una expresión regular".to_string())]);
    }

    #[test]
    fn actions_errors() {
        assert_eq!(
            errors(Conditions::default(), Actions::default()),
            [("actions".to_string(), "la regla no hace nada".to_string())]
        );
        assert_eq!(
            errors(
                Conditions::default(),
                Actions { queue: Some(" ".into()), category: Some("".into()), ..Default::default() }
            ),
            [
                ("actions.queue".to_string(), "indique la cola".to_string()),
                ("actions.category".to_string(), "indique la categoría".to_string()),
            ]
        );
        assert_eq!(
            errors(Conditions::default(), Actions { watcher_id: Some(0), ..Default::default() }),
            [("actions.watcher_id".to_string(), "id de agente no válido: 0".to_string())]
        );
        // Any single action is enough.
        for actions in [
            queue("mesa"),
            Actions { category: Some("pagos".into()), ..Default::default() },
            Actions { priority: Some(Priority::Urgent), ..Default::default() },
            Actions { tags: vec!["x".into()], ..Default::default() },
            Actions { watcher_id: Some(5), ..Default::default() },
            Actions { stop: true, ..Default::default() },
        ] {
            assert!(Rule::new(1, "r", Conditions::default(), actions.clone()).is_ok(), "{actions:?}");
        }
    }

    #[test]
    fn tag_errors() {
        let tags = |tags: &[&str]| Actions { tags: tags.iter().map(|t| t.to_string()).collect(), ..Default::default() };
        let max = "a".repeat(50);
        let ok = Rule::new(1, "r", Conditions::default(), tags(&[" Pago-Web_2 ", &max])).unwrap();
        assert_eq!(ok.actions.tags, ["pago-web_2", max.as_str()]);
        let found = errors(Conditions::default(), tags(&["", "con espacio", "licitación", &"b".repeat(51), "ok"]));
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found.iter().all(|(field, _)| field == "actions.tags"));
        assert_eq!(found[1].1, "etiqueta no válida «con espacio»: use de 1 a 50 caracteres a-z, 0-9, - o _");
    }

    #[test]
    fn several_errors_are_returned_together() {
        let conditions = Conditions {
            channel: Some(vec![]),
            keywords: strings(&[""]),
            subject_regex: Some("(".into()),
            body_regex: Some("[".into()),
            called_number: strings(&["abc"]),
            ..Default::default()
        };
        let actions = Actions { queue: Some("".into()), tags: vec!["¡mal!".into()], ..Default::default() };
        let err = Rule::new(1, "", conditions, actions).unwrap_err();
        let paths: Vec<&str> = err.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            paths,
            [
                "name",
                "conditions.channel",
                "conditions.keywords",
                "conditions.subject_regex",
                "conditions.body_regex",
                "conditions.called_number",
                "actions.queue",
                "actions.tags",
            ]
        );
        // Empty actions are reported along with condition problems.
        let found = fields(Conditions { mailbox: Some(vec![]), ..Default::default() }, Actions::default());
        assert_eq!(found, ["conditions.mailbox", "actions"]);
    }

    #[test]
    fn conditions_and_actions_json() {
        let conditions: Conditions = serde_json::from_str(
            r#"{"channel": ["email", "web"], "segment": ["comprador"], "keywords": ["licitación"], "business_hours": false}"#,
        )
        .unwrap();
        assert_eq!(conditions.channel, Some(vec![Channel::Email, Channel::Web]));
        assert_eq!(conditions.segment, Some(vec![Segment::Comprador]));
        assert_eq!(conditions.business_hours, Some(false));
        assert_eq!(conditions.mailbox, None);
        assert!(serde_json::from_str::<Conditions>(r#"{"canal": ["email"]}"#).is_err());

        let actions: Actions = serde_json::from_str(r#"{"queue": "mesa", "priority": "high"}"#).unwrap();
        assert_eq!(
            actions,
            Actions { queue: Some("mesa".into()), priority: Some(Priority::High), ..Default::default() }
        );
        assert!(serde_json::from_str::<Actions>(r#"{"queue": "mesa", "stop": true, "x": 1}"#).is_err());
        let json = serde_json::to_value(&actions).unwrap();
        assert_eq!(json["priority"], "high");
        assert_eq!(json["stop"], false);
        assert!(json.get("tags").is_none());
    }
}
