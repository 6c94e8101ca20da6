//! Diego's crash restart policy: a few immediate restarts, then an exponential back-off, then
//! giving up.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Nanos, duration_nanos};

/// When a crashed ActualLRP may be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartCalculator {
    /// Crashes (counted) below this restart at once.
    pub immediate_restarts: u32,
    /// The first back-off; it doubles with each further crash.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// At this many consecutive crashes the instance stays CRASHED.
    pub max_restarts: u32,
    /// An instance that ran this long before crashing starts counting again from zero.
    pub crash_reset_after: Duration,
}

impl Default for RestartCalculator {
    fn default() -> Self {
        Self {
            immediate_restarts: 3,
            min_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(16 * 60),
            max_restarts: 200,
            crash_reset_after: Duration::from_secs(5 * 60),
        }
    }
}

impl RestartCalculator {
    /// True while the crash count is low enough to restart without waiting.
    pub fn should_restart_immediately(&self, crash_count: u32) -> bool {
        crash_count < self.immediate_restarts
    }

    /// How long a CRASHED instance with this count waits before its restart; `None` once the
    /// calculator has given up.
    pub fn backoff(&self, crash_count: u32) -> Option<Duration> {
        if crash_count >= self.max_restarts {
            return None;
        }
        if self.should_restart_immediately(crash_count) {
            return Some(Duration::ZERO);
        }
        let doublings = (crash_count - self.immediate_restarts).min(31);
        let backoff = self.min_backoff.saturating_mul(1u32 << doublings);
        Some(backoff.min(self.max_backoff))
    }

    /// True when an instance that crashed at `crashed_at` with `crash_count` may restart `now`.
    pub fn should_restart(&self, now: Nanos, crashed_at: Nanos, crash_count: u32) -> bool {
        match self.backoff(crash_count) {
            None => false,
            Some(wait) => now.saturating_sub(crashed_at) >= duration_nanos(wait),
        }
    }

    /// The crash count after a crash now, given the count so far and, when the instance was
    /// RUNNING, when it started running.
    pub fn next_crash_count(
        &self,
        crash_count: u32,
        running_since: Option<Nanos>,
        now: Nanos,
    ) -> u32 {
        let ran_long = running_since.is_some_and(|since| {
            now.saturating_sub(since) > duration_nanos(self.crash_reset_after)
        });
        if ran_long {
            1
        } else {
            crash_count.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn diego_schedule() {
        let calc = RestartCalculator::default();
        let table: [(u32, Option<u64>); 13] = [
            (0, Some(0)),
            (1, Some(0)),
            (2, Some(0)),
            (3, Some(30)),
            (4, Some(60)),
            (5, Some(120)),
            (6, Some(240)),
            (7, Some(480)),
            (8, Some(960)),
            (9, Some(960)),
            (199, Some(960)),
            (200, None),
            (500, None),
        ];
        for (count, want) in table {
            assert_eq!(
                calc.backoff(count),
                want.map(Duration::from_secs),
                "crash count {count}"
            );
        }
    }

    #[test]
    fn should_restart_after_the_backoff() {
        let calc = RestartCalculator::default();
        let table = [
            // (crash count, seconds since the crash, restart?)
            (1, 0, true),
            (2, 0, true),
            (3, 0, false),
            (3, 29, false),
            (3, 30, true),
            (4, 59, false),
            (4, 60, true),
            (8, 959, false),
            (8, 960, true),
            (200, 1_000_000, false),
        ];
        for (count, secs, want) in table {
            assert_eq!(
                calc.should_restart(secs * S, 0, count),
                want,
                "count {count} after {secs}s"
            );
        }
    }

    #[test]
    fn crash_count_resets_after_five_minutes_running() {
        let calc = RestartCalculator::default();
        let table = [
            // (count so far, running since (s), now (s), next count)
            (0, None, 0, 1),
            (2, None, 1000, 3),
            (5, Some(0), 300, 6),
            (5, Some(0), 301, 1),
            (199, Some(100), 1000, 1),
        ];
        for (count, since, now, want) in table {
            assert_eq!(
                calc.next_crash_count(count, since.map(|s: i64| s * S), now * S),
                want
            );
        }
    }
}
