//! Which drains each source's log lines go to.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use ingot_core::Metrics;

use super::DrainError;
use super::drain::{DrainConfig, DrainStats, SyslogDrain, frame};
use super::tls::Trust;
use crate::envelope::Envelope;
use crate::sink::EnvelopeSink;

/// The drains of every source (app guid). Cloning is cheap and every clone is the same router.
#[derive(Clone)]
pub struct DrainRouter {
    inner: Arc<Inner>,
}

struct Inner {
    config: DrainConfig,
    trust: Trust,
    drains: RwLock<HashMap<String, Vec<SyslogDrain>>>,
}

impl DrainRouter {
    /// Fails when one of the config's extra roots is not a usable certificate.
    pub fn new(config: DrainConfig) -> Result<Self, DrainError> {
        Ok(Self {
            inner: Arc::new(Inner {
                trust: Trust::new(&config.extra_roots)?,
                config,
                drains: RwLock::default(),
            }),
        })
    }

    /// Makes `urls` the drains of `source_id`; no URLs removes them all. Drains whose URL stays
    /// keep their connection and buffer; removed ones stop. Must be called within a tokio
    /// runtime. On an unusable URL nothing changes.
    pub fn set_drains<I, S>(&self, source_id: &str, urls: I) -> Result<(), DrainError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut wanted: Vec<String> = Vec::new();
        for url in urls {
            let url = url.as_ref();
            if !wanted.iter().any(|w| w == url) {
                wanted.push(url.to_owned());
            }
        }
        // Start the new drains before touching the table, so a bad URL changes nothing.
        let mut started = Vec::new();
        {
            let drains = self
                .inner
                .drains
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let current = drains.get(source_id).map(Vec::as_slice).unwrap_or_default();
            for url in &wanted {
                if !current.iter().any(|d| d.url() == url) {
                    started.push(SyslogDrain::start_trusting(
                        url,
                        &self.inner.config,
                        &self.inner.trust,
                    )?);
                }
            }
        }
        let mut drains = self
            .inner
            .drains
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut previous = drains.remove(source_id).unwrap_or_default();
        let mut next = Vec::with_capacity(wanted.len());
        for url in &wanted {
            let pool = if previous.iter().any(|d| d.url() == url) {
                &mut previous
            } else {
                &mut started
            };
            if let Some(at) = pool.iter().position(|d| d.url() == url) {
                next.push(pool.swap_remove(at));
            }
        }
        if !next.is_empty() {
            drains.insert(source_id.to_owned(), next);
        }
        Ok(())
    }

    /// Queues a log envelope on each drain of its source; other envelopes are ignored.
    pub fn forward(&self, envelope: &Envelope) {
        let drains = self
            .inner
            .drains
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(drains) = drains.get(&envelope.source_id) else {
            return;
        };
        // Formatted once, shared by every drain of the source.
        if let Some(framed) = frame(envelope) {
            for drain in drains {
                drain.send_framed(framed.clone());
            }
        }
    }

    /// Each drain of `source_id` by URL, with what it has done.
    pub fn stats(&self, source_id: &str) -> Vec<(String, DrainStats)> {
        let drains = self
            .inner
            .drains
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        drains
            .get(source_id)
            .into_iter()
            .flatten()
            .map(|d| (d.url().to_owned(), d.stats()))
            .collect()
    }

    /// Registers `ingot_syslog_drain_*` in `metrics`: the drains' messages sent, dropped and
    /// waiting, summed over every drain when scraped (a removed drain's counts go with it).
    pub fn register_metrics(&self, metrics: &Metrics) {
        let router = self.clone();
        metrics.register_scraped("syslog_drain", move |scrape| {
            let (mut total, mut count) = (DrainStats::default(), 0);
            for drain in router
                .inner
                .drains
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .flatten()
            {
                let stats = drain.stats();
                total.sent += stats.sent;
                total.dropped += stats.dropped;
                total.buffered += stats.buffered;
                count += 1;
            }
            let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            scrape.gauge("urls", "Syslog drain URLs being served", gauge(count))?;
            scrape.counter(
                "messages_sent",
                "Log lines written to syslog drains",
                total.sent,
            )?;
            scrape.counter(
                "messages_dropped",
                "Log lines pushed out of a full drain buffer",
                total.dropped,
            )?;
            scrape.gauge(
                "messages_buffered",
                "Log lines waiting for a drain's receiver",
                gauge(total.buffered),
            )
        });
    }
}

impl fmt::Debug for DrainRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let drains = self
            .inner
            .drains
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_map().entries(drains.iter()).finish()
    }
}

impl EnvelopeSink for DrainRouter {
    fn ingest(&self, envelope: Envelope) {
        self.forward(&envelope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::LogType;

    #[tokio::test]
    async fn metrics_sum_what_the_drains_sent_dropped_and_hold() {
        let router = DrainRouter::new(DrainConfig {
            buffer_size: 1,
            ..DrainConfig::default()
        })
        .unwrap();
        let metrics = Metrics::new();
        router.register_metrics(&metrics);
        router.set_drains("app", ["syslog://127.0.0.1:9"]).unwrap();
        // On this single-threaded runtime the drain's task has not run yet: the buffer of
        // one keeps the newest line and drops the two before it.
        for text in ["one", "two", "three"] {
            router.forward(&Envelope::log("app", "0", "APP", LogType::Out, text, 1));
        }

        let text = metrics.encode();
        let lines: Vec<&str> = text.lines().collect();
        for line in [
            "ingot_syslog_drain_urls 1",
            "ingot_syslog_drain_messages_sent_total 0",
            "ingot_syslog_drain_messages_dropped_total 2",
            "ingot_syslog_drain_messages_buffered 1",
        ] {
            assert!(lines.contains(&line), "{line} in {text}");
        }
    }
}
