//! How stagings end, for operators (Cloud Controller's `cc.staging.succeeded` and
//! `cc.staging.failed`).

use ingot_core::Metrics;
use ingot_core::metrics::Counter;

#[derive(Debug, Clone, Default)]
pub(crate) struct StagingCounts {
    pub(crate) succeeded: Counter,
    pub(crate) failed: Counter,
}

impl StagingCounts {
    /// Registers `ingot_cc_staging_succeeded_total` and `ingot_cc_staging_failed_total`.
    pub(crate) fn register(&self, metrics: &Metrics) {
        metrics.register(
            "cc",
            "staging_succeeded",
            "Builds that staged a droplet",
            self.succeeded.clone(),
        );
        metrics.register(
            "cc",
            "staging_failed",
            "Builds whose staging failed or timed out",
            self.failed.clone(),
        );
    }
}
