//! Chilean RUT (Rol Único Tributario): check digit validation and normalisation.

use std::fmt;

/// A validated RUT, stored in its canonical form `12345678-5` (no dots, upper-case `K`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rut(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RutError {
    #[error("el RUT tiene un formato inválido")]
    Format,
    #[error("el dígito verificador del RUT no corresponde")]
    CheckDigit,
}

impl Rut {
    /// Accepts the usual ways people write it: `12.345.678-5`, `12345678-5`, `123456785`, `k` or `K`.
    pub fn parse(input: &str) -> Result<Self, RutError> {
        let cleaned: String =
            input.chars().filter(|c| !matches!(c, '.' | '-' | ' ')).collect::<String>().to_ascii_uppercase();
        if !cleaned.is_ascii() || cleaned.len() < 2 || cleaned.len() > 9 {
            return Err(RutError::Format);
        }
        let (body, dv) = cleaned.split_at(cleaned.len() - 1);
        if !body.chars().all(|c| c.is_ascii_digit()) {
            return Err(RutError::Format);
        }
        let number: u32 = body.parse().map_err(|_| RutError::Format)?;
        if number == 0 {
            return Err(RutError::Format);
        }
        let dv = dv.chars().next().ok_or(RutError::Format)?;
        if check_digit(number) != dv {
            return Err(RutError::CheckDigit);
        }
        Ok(Rut(format!("{number}-{dv}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Rut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Módulo 11 with weights 2..7 cycling from the right.
pub fn check_digit(mut number: u32) -> char {
    let mut sum = 0;
    let mut weight = 2;
    while number > 0 {
        sum += (number % 10) * weight;
        number /= 10;
        weight = if weight == 7 { 2 } else { weight + 1 };
    }
    match 11 - (sum % 11) {
        11 => '0',
        10 => 'K',
        d => char::from_digit(d, 10).expect("digit below 10"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_spellings_and_normalises() {
        for input in ["12.345.678-5", "12345678-5", "123456785", " 12345678 - 5 "] {
            assert_eq!(Rut::parse(input).unwrap().as_str(), "12345678-5", "{input}");
        }
    }

    #[test]
    fn k_check_digit_is_case_insensitive() {
        // 10.000.013-K is a valid RUT ending in K.
        assert_eq!(check_digit(10_000_013), 'K');
        assert_eq!(Rut::parse("10000013-k").unwrap().as_str(), "10000013-K");
    }

    #[test]
    fn zero_check_digit() {
        assert_eq!(check_digit(11_111_117), '0');
        assert!(Rut::parse("11.111.117-0").is_ok());
    }

    #[test]
    fn company_ruts() {
        assert_eq!(Rut::parse("76.086.428-5").unwrap().as_str(), "76086428-5");
        assert_eq!(Rut::parse("60.808.000-7").unwrap().as_str(), "60808000-7");
        assert_eq!(Rut::parse("60.808.000-3").unwrap_err(), RutError::CheckDigit);
    }

    #[test]
    fn rejects_wrong_check_digit_and_garbage() {
        assert_eq!(Rut::parse("12345678-9"), Err(RutError::CheckDigit));
        assert_eq!(Rut::parse("abc"), Err(RutError::Format));
        assert_eq!(Rut::parse(""), Err(RutError::Format));
        assert_eq!(Rut::parse("1234567890-1"), Err(RutError::Format));
        assert_eq!(Rut::parse("0-0"), Err(RutError::Format));
        assert_eq!(Rut::parse("12A45678-5"), Err(RutError::Format));
    }
}
