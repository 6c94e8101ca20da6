//! Domains: a name a client (e.g. the Cloud Controller's nsync for `cf-apps`) keeps fresh. While
//! a domain is fresh, the BBS trusts that its DesiredLRPs are complete and may retire extras.

use serde::{Deserialize, Serialize};

use super::Nanos;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub name: String,
    /// When freshness runs out (Unix ns); `None` for a domain that never expires.
    pub expires_at: Option<Nanos>,
}

impl Domain {
    pub fn is_fresh(&self, now: Nanos) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_until_the_ttl_runs_out() {
        let d = |expires_at| Domain {
            name: "cf-apps".into(),
            expires_at,
        };
        assert!(d(None).is_fresh(100));
        assert!(d(Some(101)).is_fresh(100));
        assert!(!d(Some(100)).is_fresh(100));
    }
}
