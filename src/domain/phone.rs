//! Phone numbers: every way a number is written in Chile, reduced to one stored form, so the same
//! line is found however an agent, a requester or the PBX wrote it.
//!
//! The forms stored (and answered by every search):
//! - Chilean subscriber numbers (9 digits since 2016: mobiles `9…`, landlines area code + number,
//!   e.g. Santiago `2 2…`) in E.164: `+56` and the 9 digits. The trunk prefix `0` (`02 2555 0000`,
//!   `09 1234 5678`), the country code with or without `+` or `00` (`56 9 1234 5678`, `0056 …`) and
//!   the `(0)` of `+56 (0)2 …` are accepted.
//! - Special service numbers stay as dialled inside Chile, without `+56`: they cannot be called
//!   from abroad, so an E.164 form would be a number nobody can dial. `600` + 7 digits (shared cost,
//!   e.g. `6007000600`) and `800` + 6 digits (free, e.g. `800104800`).
//! - Other countries in E.164: `+` and the digits (`+54 11 4444 5555` → `+541144445555`). Without
//!   `+` or `00` a foreign number cannot be told from a local one, so it is kept as its digits.
//! - Anything else of 6 to 15 digits (an old 8-digit number, an internal line) is kept as its
//!   digits, so it still matches itself.
//!
//! `tel:` URIs and SIP URIs whose user part is a number (`sip:+56912345678@pbx`) are read too, as
//! PBXs send them.

/// Fewest and most digits of a number (E.164 allows 15 after the `+`).
const MIN_DIGITS: usize = 6;
const MAX_DIGITS: usize = 15;

/// A Chilean national number (without `+56` nor trunk `0`) in its stored form, or `None`.
fn chilean(national: &str) -> Option<String> {
    let first = national.as_bytes().first()?;
    match national.len() {
        // 600 numbers are 10 digits; no subscriber number is.
        10 if national.starts_with("600") => Some(national.to_owned()),
        // 800 numbers are 9 digits; no area code starts with 8, so they are never subscribers.
        9 if national.starts_with("800") => Some(national.to_owned()),
        9 if matches!(first, b'2'..=b'7' | b'9') => Some(format!("+56{national}")),
        _ => None,
    }
}

/// A national number, also when written with the trunk prefix `0`.
fn chilean_with_trunk(national: &str) -> Option<String> {
    chilean(national).or_else(|| national.strip_prefix('0').and_then(chilean))
}

/// The number inside a `tel:` or numeric SIP URI; the text itself otherwise.
fn strip_uri(input: &str) -> &str {
    let lower = input.get(..5).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower.starts_with("tel:") {
        &input[4..]
    } else if lower.starts_with("sips:") {
        &input[5..]
    } else if lower.starts_with("sip:") {
        &input[4..]
    } else {
        return input;
    };
    // `;phone-context=…`, `@host` and URI parameters are not part of the number.
    rest.split(['@', ';']).next().unwrap_or(rest)
}

/// Normalises a phone number to its stored form (see the module); `None` if it is not a phone
/// number at all (letters, too few or too many digits, a `+` anywhere but first). Idempotent.
pub fn normalize(input: &str) -> Option<String> {
    let text = strip_uri(input.trim());
    let (plus, body) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | '.' | '(' | ')' | '/' => {}
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    // `00` is the international prefix dialled from Chile: the same as `+`.
    let (international, digits) = match digits.strip_prefix("00") {
        Some(rest) if !plus => (true, rest.to_owned()),
        _ => (plus, digits),
    };
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return None;
    }
    if international {
        return Some(match digits.strip_prefix("56") {
            Some(national) => chilean_with_trunk(national).unwrap_or_else(|| format!("+{digits}")),
            None => format!("+{digits}"),
        });
    }
    // No national number starts with 56 (there is no area code 56), so a leading 56 followed by a
    // valid national number is the country code written without `+`.
    let national = digits.strip_prefix("56").and_then(chilean);
    Some(national.or_else(|| chilean_with_trunk(&digits)).unwrap_or(digits))
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use proptest::prelude::*;

    fn n(input: &str) -> Option<String> {
        normalize(input)
    }

    #[test]
    fn santiago_landlines_in_every_way_they_are_written() {
        for written in [
            "2 2555 0000",
            "225550000",
            "0225550000",
            "02 2555 0000",
            "(02) 2555-0000",
            "(2) 2555 0000",
            "+56 2 2555 0000",
            "+56 (0)2 2555 0000",
            "+56225550000",
            "56 2 2555 0000",
            "0056 2 2555 0000",
            "+56-2-2555-0000",
            "2.2555.0000",
            "tel:+56-2-2555-0000",
            "\u{a0}2 2555 0000 ",
        ] {
            assert_eq!(n(written).as_deref(), Some("+56225550000"), "{written:?}");
        }
    }

    #[test]
    fn regional_landlines_and_mobiles() {
        assert_eq!(n("32 212 3456").as_deref(), Some("+56322123456"));
        assert_eq!(n("(041) 212 3456").as_deref(), Some("+56412123456"));
        for written in ["9 1234 5678", "+56 9 1234 5678", "56912345678", "09 1234 5678", "0056912345678"] {
            assert_eq!(n(written).as_deref(), Some("+56912345678"), "{written:?}");
        }
        assert_eq!(n("sip:+56912345678@pbx.chilecompra.cl").as_deref(), Some("+56912345678"));
        assert_eq!(n("sip:912345678@10.0.0.5;transport=udp").as_deref(), Some("+56912345678"));
    }

    #[test]
    fn special_service_numbers_stay_national() {
        for written in ["600 7000 600", "6007000600", "+56 600 7000 600", "56 600 7000 600", "0600 7000 600"] {
            assert_eq!(n(written).as_deref(), Some("6007000600"), "{written:?}");
        }
        for written in ["800 104 800", "800104800", "+56 800 104 800", "0800 104 800"] {
            assert_eq!(n(written).as_deref(), Some("800104800"), "{written:?}");
        }
    }

    #[test]
    fn foreign_numbers_keep_e164() {
        assert_eq!(n("+54 11 4444 5555").as_deref(), Some("+541144445555"));
        assert_eq!(n("0054 11 4444 5555").as_deref(), Some("+541144445555"));
        assert_eq!(n("+1 (415) 555-0100").as_deref(), Some("+14155550100"));
        // Without + or 00 it cannot be told from a local number: its digits.
        assert_eq!(n("54 11 4444 5555").as_deref(), Some("541144445555"));
    }

    #[test]
    fn unrecognised_numbers_are_their_digits() {
        // An old 8-digit number and a +56 number of the wrong length are kept as written.
        assert_eq!(n("2555 0000").as_deref(), Some("25550000"));
        assert_eq!(n("+56 2 555 0000").as_deref(), Some("+5625550000"));
        assert_eq!(n("1234567").as_deref(), Some("1234567"));
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in [
            "",
            "12345",
            "abc",
            "anonymous",
            "+56 9 8765 432x",
            "1234567890123456",
            "9 1234+5678",
            "++56912345678",
            "sip:anonymous@pbx",
            "+",
            "00",
        ] {
            assert_eq!(n(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The stored form is its own stored form: searching with a stored number finds it.
        #[test]
        fn normalising_is_idempotent(input in "[+]?[0-9 ()./-]{0,20}") {
            if let Some(once) = normalize(&input) {
                prop_assert_eq!(normalize(&once), Some(once.clone()), "{:?}", input);
            }
        }

        /// However a Chilean number is written, it is stored the same way.
        #[test]
        fn every_writing_of_a_chilean_number_is_one_form(
            area in prop::sample::select(vec!["2", "32", "41", "9"]),
            rest in "[0-9]{7}",
            style in 0usize..6,
        ) {
            let national = if area.len() == 1 { format!("{area}{rest}0") } else { format!("{area}{rest}") };
            let written = match style {
                0 => national.clone(),
                1 => format!("0{national}"),
                2 => format!("+56 {national}"),
                3 => format!("56{national}"),
                4 => format!("0056 {} {}", &national[..1], &national[1..]),
                _ => format!("+56 (0){national}"),
            };
            prop_assert_eq!(normalize(&written), Some(format!("+56{national}")), "{}", written);
        }
    }
}
