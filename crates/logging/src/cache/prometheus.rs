//! log-cache's metrics for operators: envelopes ingested and evicted (counted as they
//! happen), and what the cache holds (read when scraped).

use ingot_core::Metrics;

use super::{LogCache, lock, read};

impl LogCache {
    /// Registers `ingot_log_cache_*` in `metrics`. The cache holds one source per app (and
    /// per component), so what it holds is reported in total, not per source.
    pub fn register_metrics(&self, metrics: &Metrics) {
        metrics.register(
            "log_cache",
            "envelopes_ingested",
            "Envelopes stored",
            self.inner.ingested.clone(),
        );
        metrics.register(
            "log_cache",
            "envelopes_evicted",
            "Envelopes dropped to stay within the per-source count or the memory cap",
            self.inner.evicted.clone(),
        );
        let cache = self.clone();
        metrics.register_scraped("log_cache", move |scrape| {
            let (sources, envelopes) = {
                let sources = read(&cache.inner.sources);
                let envelopes: usize = sources.values().map(|s| lock(&s.log).len()).sum();
                (sources.len(), envelopes)
            };
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            scrape.gauge("sources", "Sources with envelopes stored", count(sources))?;
            scrape.gauge("envelopes", "Envelopes stored", count(envelopes))?;
            scrape.gauge(
                "memory_bytes",
                "Approximate memory the stored envelopes take",
                count(cache.bytes()),
            )
        });
    }
}
