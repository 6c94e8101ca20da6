//! The per-instance log rate limit (CF's `log_rate_limit_in_bytes_per_second`), as Diego's
//! log streamer applies it: a token bucket refilled at the limit and holding at most one
//! second's worth, so a burst up to the limit passes and a line longer than the limit never
//! does. Lines beyond it are dropped; the developer sees one notice when dropping starts and
//! at most one more per second while it goes on. Pure: the caller passes the time in.

use std::time::Duration;

use tokio::time::Instant;

/// How often, at most, the notice repeats while lines are being dropped.
const NOTICE_INTERVAL: Duration = Duration::from_secs(1);

/// What to do with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Pass,
    Drop,
    /// Drop it, and write this notice instead.
    DropWithNotice(String),
}

#[derive(Debug)]
pub struct LogRateLimiter {
    bytes_per_second: u64,
    tokens: f64,
    refilled_at: Instant,
    /// The last notice of the current run of drops; `None` once a line passes again.
    noticed_at: Option<Instant>,
}

impl LogRateLimiter {
    /// Starts full: an instance may log a second's worth at once.
    pub fn new(bytes_per_second: u64, now: Instant) -> Self {
        Self {
            bytes_per_second,
            tokens: bytes_per_second as f64,
            refilled_at: now,
            noticed_at: None,
        }
    }

    /// Whether a line of `len` bytes may be logged at `now`.
    pub fn admit(&mut self, len: usize, now: Instant) -> Admission {
        let rate = self.bytes_per_second as f64;
        let elapsed = now.saturating_duration_since(self.refilled_at);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * rate).min(rate);
        self.refilled_at = now;
        let len = len as f64;
        if self.bytes_per_second > 0 && len <= self.tokens {
            self.tokens -= len;
            self.noticed_at = None;
            return Admission::Pass;
        }
        // A limit of 0 means "no logs at all"; Diego drops those without a notice.
        if self.bytes_per_second == 0 {
            return Admission::Drop;
        }
        match self.noticed_at {
            Some(at) if now.saturating_duration_since(at) < NOTICE_INTERVAL => Admission::Drop,
            _ => {
                self.noticed_at = Some(now);
                Admission::DropWithNotice(format!(
                    "app instance exceeded log rate limit ({} bytes/sec)",
                    self.bytes_per_second
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTICE: &str = "app instance exceeded log rate limit (100 bytes/sec)";

    fn notice() -> Admission {
        Admission::DropWithNotice(NOTICE.into())
    }

    #[test]
    fn a_burst_up_to_the_limit_passes_then_lines_drop_with_one_notice() {
        let t0 = Instant::now();
        let mut limiter = LogRateLimiter::new(100, t0);
        assert_eq!(limiter.admit(60, t0), Admission::Pass);
        assert_eq!(limiter.admit(40, t0), Admission::Pass);
        assert_eq!(limiter.admit(1, t0), notice());
        assert_eq!(limiter.admit(1, t0), Admission::Drop);
        assert_eq!(
            limiter.admit(1, t0 + Duration::from_millis(5)),
            Admission::Drop
        );
    }

    #[test]
    fn tokens_come_back_at_the_limit_and_never_beyond_one_second() {
        let t0 = Instant::now();
        let mut limiter = LogRateLimiter::new(100, t0);
        assert_eq!(limiter.admit(100, t0), Admission::Pass);
        // Half a second gives back 50 bytes.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.admit(60, t1), notice());
        assert_eq!(limiter.admit(50, t1), Admission::Pass);
        // A long quiet spell refills one second's worth only.
        let t2 = t1 + Duration::from_secs(10);
        assert_eq!(limiter.admit(100, t2), Admission::Pass);
        assert_eq!(limiter.admit(1, t2), notice());
    }

    #[test]
    fn the_notice_repeats_once_a_second_while_dropping() {
        let t0 = Instant::now();
        let mut limiter = LogRateLimiter::new(100, t0);
        // A line longer than the limit never passes.
        let admitted: Vec<Admission> = (0..25)
            .map(|i| limiter.admit(200, t0 + Duration::from_millis(100 * i)))
            .collect();
        let notices: Vec<usize> = admitted
            .iter()
            .enumerate()
            .filter(|(_, a)| **a == notice())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(notices, [0, 10, 20]);
    }

    #[test]
    fn a_passing_line_ends_the_run_so_the_next_drop_is_noticed_at_once() {
        let t0 = Instant::now();
        let mut limiter = LogRateLimiter::new(100, t0);
        assert_eq!(limiter.admit(101, t0), notice());
        assert_eq!(limiter.admit(10, t0), Admission::Pass);
        assert_eq!(limiter.admit(101, t0), notice());
    }

    #[test]
    fn a_zero_limit_drops_everything_silently() {
        let t0 = Instant::now();
        let mut limiter = LogRateLimiter::new(0, t0);
        assert_eq!(limiter.admit(0, t0), Admission::Drop);
        assert_eq!(
            limiter.admit(1, t0 + Duration::from_secs(5)),
            Admission::Drop
        );
    }
}
