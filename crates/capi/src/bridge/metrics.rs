//! Container metrics, the Cloud Controller's side: the newest usage of each instance of a
//! process, from the gauges cells write into log-cache (CC's log-cache metrics client). One
//! read per stats request, however many instances the process has.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use ingot_core::Clock;
use ingot_logging::{Envelope, EnvelopeType, LogCache, MAX_LIMIT, Message, ReadQuery};

/// The metric tag naming the Cloud Controller process of an instance: an app's processes
/// share its source id and their indices overlap, so the gauges of each are told apart by it.
pub(crate) const METRIC_TAG_PROCESS_ID: &str = "process_id";

/// How far back a stats request looks (as CC does); a sample older than this belongs to an
/// instance that is gone or to a cell that stopped reporting.
const WINDOW: TimeDelta = TimeDelta::minutes(2);

/// One instance's newest sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// When the cell took the sample.
    pub time: DateTime<Utc>,
    /// CPU as a fraction of one core (the cf CLI shows it ×100 as a percentage).
    pub cpu: f64,
    pub mem: u64,
    pub disk: u64,
}

/// Where the Cloud Controller finds instances' usage.
#[async_trait]
pub trait InstanceMetrics: Send + Sync {
    /// The newest usage of each instance (by index) of the process `process_guid` of the app
    /// `app_guid`; an instance without a recent sample is absent. It never fails: stats
    /// without usage are still stats.
    async fn latest(&self, app_guid: &str, process_guid: &str) -> BTreeMap<u32, Usage>;
}

/// Reads a log-cache in this process (`ingot up`).
pub struct LogCacheMetrics {
    cache: LogCache,
    clock: Arc<dyn Clock>,
}

impl LogCacheMetrics {
    pub fn new(cache: LogCache, clock: Arc<dyn Clock>) -> Self {
        Self { cache, clock }
    }
}

#[async_trait]
impl InstanceMetrics for LogCacheMetrics {
    async fn latest(&self, app_guid: &str, process_guid: &str) -> BTreeMap<u32, Usage> {
        let since = self.clock.now() - WINDOW;
        let envelopes = self.cache.read(
            app_guid,
            &ReadQuery {
                start_time: since.timestamp_nanos_opt().unwrap_or_default(),
                envelope_types: vec![EnvelopeType::Gauge],
                limit: MAX_LIMIT,
                descending: true,
                ..ReadQuery::default()
            },
        );
        newest_usage(&envelopes, process_guid)
    }
}

/// The first container-metrics gauge of each instance of the process in `envelopes` (newest
/// first, so the first is the newest).
fn newest_usage(envelopes: &[Envelope], process_guid: &str) -> BTreeMap<u32, Usage> {
    let mut newest = BTreeMap::new();
    for envelope in envelopes {
        if envelope.tags.get(METRIC_TAG_PROCESS_ID).map(String::as_str) != Some(process_guid) {
            continue;
        }
        if let (Ok(index), Some(usage)) = (envelope.instance_id.parse::<u32>(), usage(envelope)) {
            newest.entry(index).or_insert(usage);
        }
    }
    newest
}

/// A container-metrics gauge as usage; `None` for any other gauge of the app.
fn usage(envelope: &Envelope) -> Option<Usage> {
    let Message::Gauge(gauge) = &envelope.message else {
        return None;
    };
    let value = |name: &str| gauge.metrics.get(name).map(|m| m.value);
    Some(Usage {
        time: DateTime::from_timestamp_nanos(envelope.timestamp),
        cpu: value("cpu")? / 100.0,
        mem: value("memory")? as u64,
        disk: value("disk")? as u64,
    })
}

#[cfg(test)]
mod tests {
    use ingot_logging::ContainerMetrics;

    use super::*;

    const SEC: i64 = 1_000_000_000;

    fn gauge(process_guid: &str, index: u32, memory_bytes: u64, at: i64) -> Envelope {
        let usage = ContainerMetrics {
            cpu_percentage: 12.5,
            memory_bytes,
            disk_bytes: 4096,
            memory_quota_bytes: 1 << 30,
            disk_quota_bytes: 1 << 30,
        };
        let mut envelope = Envelope::container_metrics("app", index, &usage, at);
        envelope
            .tags
            .insert(METRIC_TAG_PROCESS_ID.into(), process_guid.into());
        envelope
    }

    #[test]
    fn the_newest_gauge_of_each_instance_of_the_process_counts() {
        // Newest first, as the read returns them.
        let envelopes = [
            gauge("web", 1, 300, 30 * SEC),
            gauge("worker", 0, 999, 29 * SEC),
            gauge("web", 0, 200, 20 * SEC),
            gauge("web", 1, 100, 10 * SEC),
        ];
        let usage = newest_usage(&envelopes, "web");
        assert_eq!(usage.len(), 2);
        assert_eq!(usage[&0].mem, 200);
        assert_eq!(usage[&1].mem, 300);
        assert_eq!(usage[&1].disk, 4096);
        assert_eq!(usage[&1].cpu, 0.125);
        assert_eq!(usage[&1].time.timestamp(), 30);
    }

    #[test]
    fn gauges_without_the_process_tag_or_container_metrics_are_ignored() {
        let mut untagged = gauge("web", 0, 100, SEC);
        untagged.tags.clear();
        let mut custom = Envelope::gauge("app", "0", BTreeMap::new(), SEC);
        custom
            .tags
            .insert(METRIC_TAG_PROCESS_ID.into(), "web".into());
        assert!(newest_usage(&[untagged, custom], "web").is_empty());
    }
}
