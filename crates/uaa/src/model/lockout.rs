//! UAA's account lockout: too many failed logins in a short window lock the account for a while.

use chrono::{DateTime, Duration, Utc};

/// The exact text the cf CLI matches to say "account locked".
pub(crate) const LOCKED_MESSAGE: &str =
    "Your account has been locked because of too many failed attempts to login.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockoutPolicy {
    pub lockout_after_failures: usize,
    pub count_failures_within: Duration,
    pub lockout_period: Duration,
}

impl Default for LockoutPolicy {
    /// UAA's defaults: 5 failures within 5 minutes lock the account for 5 minutes.
    fn default() -> Self {
        Self {
            lockout_after_failures: 5,
            count_failures_within: Duration::minutes(5),
            lockout_period: Duration::minutes(5),
        }
    }
}

impl LockoutPolicy {
    /// Failures older than this cannot matter any more, so the store may forget them.
    pub fn horizon(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.count_failures_within - self.lockout_period
    }

    /// Locked while the latest run of `lockout_after_failures` failures that happened within
    /// `count_failures_within` ended less than `lockout_period` ago.
    pub fn is_locked(&self, failures: &[DateTime<Utc>], now: DateTime<Utc>) -> bool {
        let n = self.lockout_after_failures;
        if n == 0 || failures.len() < n {
            return false;
        }
        let mut sorted = failures.to_vec();
        sorted.sort();
        sorted.windows(n).any(|run| {
            let (first, last) = (run[0], run[n - 1]);
            last - first <= self.count_failures_within && now - last < self.lockout_period
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("time")
    }

    #[test]
    fn four_failures_do_not_lock() {
        let policy = LockoutPolicy::default();
        let failures: Vec<_> = (0..4).map(at).collect();
        assert!(!policy.is_locked(&failures, at(5)));
    }

    #[test]
    fn five_quick_failures_lock_for_five_minutes() {
        let policy = LockoutPolicy::default();
        let failures: Vec<_> = (0..5).map(|i| at(i * 10)).collect();
        assert!(policy.is_locked(&failures, at(41)));
        assert!(policy.is_locked(&failures, at(40 + 299)));
        assert!(!policy.is_locked(&failures, at(40 + 300)));
    }

    #[test]
    fn spread_out_failures_do_not_lock() {
        let policy = LockoutPolicy::default();
        let failures: Vec<_> = (0..5).map(|i| at(i * 100)).collect();
        assert!(!policy.is_locked(&failures, at(401)));
    }

    #[test]
    fn order_of_failures_does_not_matter() {
        let policy = LockoutPolicy::default();
        let failures = vec![at(4), at(0), at(3), at(1), at(2)];
        assert!(policy.is_locked(&failures, at(10)));
    }
}
