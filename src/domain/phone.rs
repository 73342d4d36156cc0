//! Phone numbers: Chilean ways of writing them, normalised towards E.164.

/// Normalises a phone number: Chilean mobiles and landlines become `+56…`; other international
/// numbers keep their `+`; special service numbers (600/800) stay as dialled. `None` if it does
/// not look like a phone number at all.
pub fn normalize(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let plus = trimmed.starts_with('+');
    let mut digits = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '+' => {}
            _ => return None,
        }
    }
    if !(6..=15).contains(&digits.len()) {
        return None;
    }
    let normalised = match (plus, digits.len()) {
        (true, _) => format!("+{digits}"),
        (false, 11) if digits.starts_with("56") => format!("+{digits}"),
        (false, 9) if !digits.starts_with('0') => format!("+56{digits}"),
        // 600 and 800 numbers are dialled as-is inside Chile.
        (false, _) => digits,
    };
    Some(normalised)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn chilean_formats() {
        assert_eq!(normalize("+56 9 8765 4321").as_deref(), Some("+56987654321"));
        assert_eq!(normalize("9 8765 4321").as_deref(), Some("+56987654321"));
        assert_eq!(normalize("56987654321").as_deref(), Some("+56987654321"));
        assert_eq!(normalize("(2) 2345-6789").as_deref(), Some("+56223456789"));
        assert_eq!(normalize("600 7000 600").as_deref(), Some("6007000600"));
        assert_eq!(normalize("+1 (415) 555-0100").as_deref(), Some("+14155550100"));
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in ["", "12345", "abc", "+56 9 8765 432x", "1234567890123456"] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
