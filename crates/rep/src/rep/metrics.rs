//! The container metrics reporter (Diego's stats reporter): every `metrics_interval` the cell
//! samples the containers that report their usage, in one bulk Garden call, and emits one
//! container-metrics gauge per container: CPU, memory and disk, and their quotas, under the
//! container's metrics guid and index, with its metric tags.
//!
//! CPU is a rate: the CPU time used since the previous sample over the wall time between the
//! two. A container seen for the first time (or whose counter went back, i.e. not the one
//! sampled before) reports its average since it was created.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ingot_logging::{ContainerMetrics, Envelope, EnvelopeSink};
use tokio::time::MissedTickBehavior;

use super::Core;
use crate::executor::{Container, MetricsConfig};

const MIB: u64 = 1024 * 1024;

/// What the next sample of a container is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuSample {
    /// Cumulative CPU time.
    pub cpu_ns: u64,
    /// The container's age when sampled: the wall clock of the sample.
    pub age: Duration,
}

impl From<&ingot_garden::ContainerMetrics> for CpuSample {
    fn from(m: &ingot_garden::ContainerMetrics) -> Self {
        Self {
            cpu_ns: m.cpu_ns,
            age: m.age,
        }
    }
}

/// CPU use in percent of one core (above 100 on several cores) between two samples.
pub(crate) fn cpu_percentage(previous: Option<CpuSample>, current: CpuSample) -> f64 {
    let (cpu_ns, wall) = match previous {
        Some(p) if current.cpu_ns >= p.cpu_ns && current.age > p.age => {
            (current.cpu_ns - p.cpu_ns, current.age - p.age)
        }
        _ => (current.cpu_ns, current.age),
    };
    if wall.is_zero() {
        return 0.0;
    }
    cpu_ns as f64 * 100.0 / wall.as_nanos() as f64
}

/// One round: a gauge for each sampled container, and the samples the next round compares
/// with (containers gone since are forgotten).
pub(crate) fn gauges(
    sampled: &[(Container, ingot_garden::ContainerMetrics)],
    previous: &BTreeMap<String, CpuSample>,
    timestamp: i64,
) -> (Vec<Envelope>, BTreeMap<String, CpuSample>) {
    let mut envelopes = Vec::with_capacity(sampled.len());
    let mut next = BTreeMap::new();
    for (container, metrics) in sampled {
        let Some(config) = &container.metrics else {
            continue;
        };
        let current = CpuSample::from(metrics);
        let usage = ContainerMetrics {
            cpu_percentage: cpu_percentage(previous.get(&container.guid).copied(), current),
            memory_bytes: metrics.memory_bytes,
            disk_bytes: metrics.disk_bytes,
            memory_quota_bytes: container.resources.memory_mb * MIB,
            disk_quota_bytes: container.resources.disk_mb * MIB,
        };
        envelopes.push(gauge(config, &usage, timestamp));
        next.insert(container.guid.clone(), current);
    }
    (envelopes, next)
}

fn gauge(config: &MetricsConfig, usage: &ContainerMetrics, timestamp: i64) -> Envelope {
    let mut envelope = Envelope::container_metrics(&config.guid, config.index, usage, timestamp);
    envelope.tags.extend(config.tags.clone());
    envelope
}

/// Samples and reports until the cell shuts down; the first round runs at once.
pub(crate) async fn run(core: Arc<Core>, sink: Arc<dyn EnvelopeSink>) {
    let mut ticker = tokio::time::interval(core.config.metrics_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut previous = BTreeMap::new();
    loop {
        tokio::select! {
            _ = core.shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let sampled = match core.executor.bulk_metrics().await {
            Ok(sampled) => sampled,
            Err(err) => {
                tracing::warn!(error = %err, "rep: could not sample the containers' usage");
                continue;
            }
        };
        let now = core.clock.now().timestamp_nanos_opt().unwrap_or_default();
        let (envelopes, next) = gauges(&sampled, &previous, now);
        previous = next;
        for envelope in envelopes {
            sink.ingest(envelope);
        }
    }
}

#[cfg(test)]
mod tests {
    use ingot_logging::Message;

    use super::*;
    use crate::executor::{ContainerState, Resources, RunResult};

    const SEC: u64 = 1_000_000_000;

    fn sample(cpu_ns: u64, age_secs: u64) -> CpuSample {
        CpuSample {
            cpu_ns,
            age: Duration::from_secs(age_secs),
        }
    }

    #[test]
    fn the_first_sample_is_the_average_since_creation() {
        assert_eq!(cpu_percentage(None, sample(SEC, 4)), 25.0);
    }

    #[test]
    fn later_samples_are_the_rate_since_the_previous_one() {
        // 3 s of CPU in the 2 s since the last sample: one and a half cores.
        assert_eq!(
            cpu_percentage(Some(sample(SEC, 10)), sample(4 * SEC, 12)),
            150.0
        );
        assert_eq!(cpu_percentage(Some(sample(SEC, 10)), sample(SEC, 15)), 0.0);
    }

    #[test]
    fn a_counter_that_went_back_starts_over() {
        // Not the container sampled before (its counter and age restarted).
        assert_eq!(
            cpu_percentage(Some(sample(50 * SEC, 100)), sample(SEC, 2)),
            50.0
        );
    }

    #[test]
    fn no_wall_time_is_no_cpu() {
        assert_eq!(cpu_percentage(None, sample(SEC, 0)), 0.0);
        assert_eq!(cpu_percentage(Some(sample(0, 0)), sample(0, 0)), 0.0);
    }

    fn container(guid: &str, metrics: Option<MetricsConfig>) -> Container {
        Container {
            guid: guid.into(),
            state: ContainerState::Running,
            resources: Resources::container(256, 1024),
            tags: BTreeMap::new(),
            host_ip: "127.0.0.1".into(),
            ports: Vec::new(),
            metrics,
            result: RunResult::default(),
        }
    }

    fn garden_metrics(cpu_ns: u64, age_secs: u64) -> ingot_garden::ContainerMetrics {
        ingot_garden::ContainerMetrics {
            memory_bytes: 10 * MIB,
            cpu_ns,
            disk_bytes: 3 * MIB,
            age: Duration::from_secs(age_secs),
        }
    }

    fn value(envelope: &Envelope, name: &str) -> f64 {
        let Message::Gauge(gauge) = &envelope.message else {
            panic!("not a gauge: {envelope:?}");
        };
        gauge.metrics[name].value
    }

    #[test]
    fn each_round_emits_a_tagged_gauge_per_container_and_remembers_its_sample() {
        let config = MetricsConfig {
            guid: "app-guid".into(),
            index: 3,
            tags: [("process_id".to_owned(), "web-guid".to_owned())].into(),
        };
        let first = [(
            container("c1", Some(config.clone())),
            garden_metrics(SEC, 2),
        )];
        let (envelopes, previous) = gauges(&first, &BTreeMap::new(), 42);
        assert_eq!(envelopes.len(), 1);
        let e = &envelopes[0];
        assert_eq!(
            (e.source_id.as_str(), e.instance_id.as_str(), e.timestamp),
            ("app-guid", "3", 42)
        );
        assert_eq!(e.tags["process_id"], "web-guid");
        assert_eq!(value(e, "cpu"), 50.0);
        assert_eq!(value(e, "memory"), (10 * MIB) as f64);
        assert_eq!(value(e, "disk"), (3 * MIB) as f64);
        assert_eq!(value(e, "memory_quota"), (256 * MIB) as f64);
        assert_eq!(value(e, "disk_quota"), (1024 * MIB) as f64);
        assert_eq!(previous["c1"], sample(SEC, 2));

        let second = [(container("c1", Some(config)), garden_metrics(SEC, 4))];
        let (envelopes, previous) = gauges(&second, &previous, 43);
        assert_eq!(
            value(&envelopes[0], "cpu"),
            0.0,
            "idle since the last round"
        );

        // Gone: forgotten. Not reporting: nothing emitted.
        let third = [(container("c2", None), garden_metrics(SEC, 1))];
        let (envelopes, previous) = gauges(&third, &previous, 44);
        assert!(envelopes.is_empty());
        assert!(previous.is_empty());
    }
}
