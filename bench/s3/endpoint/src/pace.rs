//! [`TokenBucket`]: the bytes one connection may move.

use std::time::{Duration, Instant};

/// The bucket's default size: a connection that was idle may send this much at once.
pub const DEFAULT_BURST: usize = 1 << 20;

/// `rate` bytes per second, at most `burst` saved up; a debt is paid by sleeping.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Spends `n` bytes' worth, returning how long to wait before moving them.
    pub fn spend(&mut self, n: usize, now: Instant) -> Duration {
        let earned = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.burst) - n as f64;
        self.last = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Waits until `n` bytes may go, then spends them.
    pub async fn take(&mut self, n: usize) {
        let wait = self.spend(n, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u64 {
        (d.as_secs_f64() * 1000.0).round() as u64
    }

    #[test]
    fn a_full_bucket_sends_its_burst_at_once_and_then_paces_to_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1000.0, 100.0);
        bucket.last = start;
        assert_eq!(ms(bucket.spend(100, start)), 0);
        // 50 more bytes right away: 50 ms of debt at 1000 B/s
        assert_eq!(ms(bucket.spend(50, start)), 50);
        // 250 ms later the debt is paid and 200 bytes earned, but the bucket holds only 100
        let later = start + Duration::from_millis(250);
        assert_eq!(ms(bucket.spend(100, later)), 0);
        assert_eq!(ms(bucket.spend(100, later)), 100);
    }
}
