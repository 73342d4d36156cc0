//! Text normalisation shared by storage and search.

/// Lower-case and strip Spanish diacritics so that "Compra Ágil" matches "compra agil" on every
/// backend (SQLite's `lower()` only folds ASCII, and Postgres' `LIKE` is case-sensitive).
pub fn fold(input: &str) -> String {
    input
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

/// Collapses runs of white space and trims; used for one-line fields such as subjects and names.
pub fn single_line(input: &str) -> String {
    input.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A deliberately small email check: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Full RFC 5322 validation rejects nothing useful here; delivery is the real test.
pub fn normalize_email(input: &str) -> Option<String> {
    let email = input.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let valid = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.len() <= 254;
    valid.then_some(email)
}

/// Keeps formatting, drops scripts, styles, event handlers and remote content tricks.
pub fn sanitize_html(html: &str) -> String {
    ammonia::clean(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_sanitised() {
        let clean = sanitize_html("<p onclick=\"x()\">Hola<script>alert(1)</script></p>");
        assert_eq!(clean, "<p>Hola</p>");
    }

    #[test]
    fn fold_strips_case_and_accents() {
        assert_eq!(fold("Compra ÁGIL: Órdenes Ñuñoa"), "compra agil: ordenes nunoa");
    }

    #[test]
    fn single_line_collapses_whitespace() {
        assert_eq!(single_line("  Clave \n bloqueada\t hoy "), "Clave bloqueada hoy");
    }

    #[test]
    fn emails() {
        assert_eq!(normalize_email(" Ana.Perez@MercadoPublico.CL "), Some("ana.perez@mercadopublico.cl".into()));
        for bad in ["", "ana", "ana@", "@x.cl", "ana@cl", "ana@x.", "a b@x.cl", "a@b@x.cl", "ana@.cl"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
