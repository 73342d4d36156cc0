//! Per-client token buckets, in process memory: each replica limits on its own, which bounds
//! abuse well enough for a contact form without a shared store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::AppError;

pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    const MAX_CLIENTS: usize = 100_000;

    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, client: &str) -> Result<(), AppError> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: &str, now: Instant) -> Result<(), AppError> {
        let rate = self.per_minute / 60.0;
        let mut buckets = self.buckets.lock().expect("rate limiter poisoned");
        if buckets.len() >= Self::MAX_CLIENTS {
            // Full buckets carry no information: forget them.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < self.per_minute);
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket { tokens: self.per_minute, at: now });
        let refilled = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(self.per_minute);
        if refilled < 1.0 {
            let retry_after_secs = ((1.0 - refilled) / rate).ceil() as u64;
            return Err(AppError::RateLimited { retry_after_secs: retry_after_secs.max(1) });
        }
        *bucket = Bucket { tokens: refilled - 1.0, at: now };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_the_budget_then_refuses_until_refilled() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.check_at("1.2.3.4", t0).unwrap();
        }
        match limiter.check_at("1.2.3.4", t0) {
            Err(AppError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 20),
            other => panic!("expected rate limit, got {other:?}"),
        }
        // Another client has its own budget.
        limiter.check_at("5.6.7.8", t0).unwrap();
        // One token comes back every 20 s.
        limiter.check_at("1.2.3.4", t0 + Duration::from_secs(20)).unwrap();
        assert!(limiter.check_at("1.2.3.4", t0 + Duration::from_secs(21)).is_err());
    }
}
