//! A token bucket: the request rate of one WebSocket connection or one UDP sender.
//!
//! Thread model: each bucket belongs to the one thread that serves its client.

use std::time::Instant;

/// Requests per second one WebSocket connection (or all of UDP) may send, sustained...
pub const RATE_PER_SECOND: f64 = 20.0;

/// ...and in a burst.
pub const RATE_BURST: f64 = 40.0;

/// A token bucket.
#[derive(Debug)]
pub struct RateLimit {
    tokens: f64,
    last: Instant,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            tokens: RATE_BURST,
            last: Instant::now(),
        }
    }
}

impl RateLimit {
    /// Takes one request's token; false when over the rate.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * RATE_PER_SECOND;
        self.tokens = (self.tokens + refill).min(RATE_BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_rate_limit_allows_a_burst_then_the_rate() {
        let mut limit = RateLimit::default();
        let allowed = (0..100).filter(|_| limit.take()).count();
        assert_eq!(allowed, RATE_BURST as usize);
        std::thread::sleep(Duration::from_millis(120));
        assert!(limit.take(), "refilled at {RATE_PER_SECOND}/s");
    }
}
