//! Rules of signing in: what a password must be, how long a session lives, and the sliding
//! window that limits guessing.

use chrono::{DateTime, TimeDelta, Utc};

/// Shorter passwords fall to offline guessing; there is no upper rule beyond [`MAX_PASSWORD_CHARS`].
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Bounds the work argon2 is given by one request.
pub const MAX_PASSWORD_CHARS: usize = 200;

/// `Err` with the Spanish reason when `password` may not be set.
pub fn check_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!("debe tener al menos {MIN_PASSWORD_CHARS} caracteres"));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("debe tener como máximo {MAX_PASSWORD_CHARS} caracteres"));
    }
    if password.trim().is_empty() {
        return Err("no puede ser solo espacios".into());
    }
    if password.chars().any(char::is_control) {
        return Err("no puede contener caracteres de control".into());
    }
    Ok(())
}

/// A session last used at `last_seen` has ended by `now` when idle for `idle` or longer.
pub fn idle_expired(last_seen: DateTime<Utc>, idle: TimeDelta, now: DateTime<Utc>) -> bool {
    now - last_seen >= idle
}

/// How long a key (an account, an IP) must wait before trying again, given the instants of its
/// failed sign-ins: at most `max` failures in any `window`. `None` when it may try now.
pub fn wait_before_retry(
    failures: &[DateTime<Utc>],
    max: usize,
    window: TimeDelta,
    now: DateTime<Utc>,
) -> Option<TimeDelta> {
    let mut recent: Vec<DateTime<Utc>> = failures.iter().copied().filter(|at| now - *at < window).collect();
    if max == 0 || recent.len() < max {
        return None;
    }
    recent.sort_unstable();
    // The attempt becomes possible when the failure that filled the window leaves it.
    let freed_at = recent[recent.len() - max] + window;
    Some((freed_at - now).max(TimeDelta::seconds(1)))
}

/// Seconds for a `Retry-After` header: never 0, rounded up.
pub fn retry_after_secs(wait: TimeDelta) -> u64 {
    let ms = wait.num_milliseconds().max(1);
    (ms as u64).div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn passwords_need_length_and_substance() {
        assert!(check_password("corta").unwrap_err().contains("10"));
        assert!(check_password("          ").unwrap_err().contains("espacios"));
        assert!(check_password("clave\u{0}secreta12").unwrap_err().contains("control"));
        assert!(check_password(&"x".repeat(201)).unwrap_err().contains("200"));
        assert!(check_password("contraseña larga").is_ok());
        // Characters, not bytes: ten accented letters are enough.
        assert!(check_password("ñññññááááá").is_ok());
    }

    #[test]
    fn sessions_end_after_idle_time() {
        let idle = TimeDelta::minutes(30);
        assert!(!idle_expired(at(0), idle, at(29 * 60)));
        assert!(idle_expired(at(0), idle, at(30 * 60)));
    }

    #[test]
    fn the_window_slides() {
        let window = TimeDelta::minutes(15);
        let failures = [at(0), at(60), at(120)];
        assert_eq!(wait_before_retry(&failures, 4, window, at(130)), None);
        // The third failure filled a window of 3: wait until the first leaves it.
        assert_eq!(wait_before_retry(&failures, 3, window, at(130)), Some(TimeDelta::seconds(900 - 130)));
        // Old failures no longer count.
        assert_eq!(wait_before_retry(&failures, 3, window, at(900)), None);
        assert_eq!(wait_before_retry(&failures, 2, window, at(900)), Some(TimeDelta::seconds(60)));
        assert_eq!(wait_before_retry(&[], 0, window, at(0)), None);
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(TimeDelta::milliseconds(1)), 1);
        assert_eq!(retry_after_secs(TimeDelta::milliseconds(1001)), 2);
        assert_eq!(retry_after_secs(TimeDelta::zero()), 1);
    }
}
