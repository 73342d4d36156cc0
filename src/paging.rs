//! Keyset pagination shared by every list: opaque cursors naming the last row seen, and the
//! page size rule.

use crate::error::AppError;

pub fn encode_cursor(id: i64) -> String {
    format!("c{id:x}")
}

/// The inverse of [`encode_cursor`], exactly: `c` and 1 to 16 lower-case hex digits of a
/// non-negative id (the OpenAPI document's `Cursor` pattern).
pub fn decode_cursor(cursor: &str) -> Result<i64, AppError> {
    cursor
        .strip_prefix('c')
        .filter(|hex| (1..=16).contains(&hex.len()) && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| AppError::field("cursor", "cursor no válido"))
}

/// The page size of a list: 25 by default, 1–100.
pub fn page_limit(limit: Option<i64>) -> Result<i64, AppError> {
    let limit = limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(AppError::field("limit", "debe estar entre 1 y 100"));
    }
    Ok(limit)
}

/// Cuts rows read with one extra (`limit + 1`) to a page: the first `limit` of them and, when
/// the extra one was there, the cursor after the last row kept.
pub fn cut_page<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next_cursor = rows.last().filter(|_| more).map(|row| encode_cursor(id(row)));
    (rows, next_cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(123_456)).unwrap(), 123_456);
        assert!(decode_cursor("zzz").is_err());
        assert!(decode_cursor("c").is_err());
        assert!(decode_cursor("c12345678901234567").is_err());
    }

    #[test]
    fn page_limits_and_cuts() {
        assert_eq!(page_limit(None).unwrap(), 25);
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(101)).is_err());
        let (rows, next) = cut_page(vec![1, 2, 3], 2, |r| *r);
        assert_eq!((rows, next), (vec![1, 2], Some(encode_cursor(2))));
        let (rows, next) = cut_page(vec![1, 2], 2, |r| *r);
        assert_eq!((rows, next), (vec![1, 2], None));
    }
}
