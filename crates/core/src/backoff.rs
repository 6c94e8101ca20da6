//! Capped exponential back-off for reconnect and retry loops.

use std::time::Duration;

/// The wait before the next attempt: starts at `min`, doubles on each failure in a row up to
/// `max`, and goes back to `min` on [`Backoff::reset`] (once the thing retried works again).
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    /// The wait before the next attempt; the one after it is twice as long (up to `max`).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// Whether the next wait is the minimum (no failure since the last reset).
    pub fn is_reset(&self) -> bool {
        self.next == self.min
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(ms(100), ms(30_000));
        let delays: Vec<_> = (0..11).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[..4], [ms(100), ms(200), ms(400), ms(800)]);
        assert_eq!(delays[8], ms(25_600));
        assert_eq!(delays[9..], [ms(30_000), ms(30_000)]);
        assert!(!backoff.is_reset());
        backoff.reset();
        assert_eq!(backoff.next_delay(), ms(100));
    }

    #[test]
    fn backoff_doubles_to_the_max_and_resets_after_a_sync() {
        let mut backoff = Backoff::new(ms(100), ms(1000));
        let waits: Vec<Duration> = (0..6).map(|_| backoff.next_delay()).collect();
        assert_eq!(
            waits,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        // A subscription completed its first full sync: the next drop waits the minimum again.
        backoff.reset();
        assert_eq!(backoff.next_delay(), ms(100));
        assert_eq!(backoff.next_delay(), ms(200));
    }
}
