//! The cell's metrics for operators, as Diego's rep reports them: containers by state,
//! container creates and their failures, and the capacity left for new work.

use ingot_core::Metrics;
use ingot_core::metrics::Counter;

use super::{ContainerState, Executor};

const MIB: i64 = 1024 * 1024;

/// Counted as containers are created; the rest is read from the executor when scraped.
#[derive(Debug, Clone, Default)]
pub(super) struct ExecutorCounters {
    pub(super) creates: Counter,
    pub(super) create_failures: Counter,
    pub(super) log_lines_rate_limited: Counter,
}

impl Executor {
    /// The count of log lines instances' rate limits drop, shared by their log targets.
    pub(crate) fn rate_limited_lines(&self) -> Counter {
        self.inner.counters.log_lines_rate_limited.clone()
    }

    /// Registers the cell's metrics (`ingot_rep_*`) in `metrics`.
    pub fn register_metrics(&self, metrics: &Metrics) {
        let counters = &self.inner.counters;
        metrics.register(
            "rep",
            "container_creates",
            "Garden containers created",
            counters.creates.clone(),
        );
        metrics.register(
            "rep",
            "container_create_failures",
            "Garden containers that could not be created",
            counters.create_failures.clone(),
        );
        metrics.register(
            "rep",
            "log_lines_rate_limited",
            "App log lines dropped by instances' log rate limits",
            counters.log_lines_rate_limited.clone(),
        );
        let executor = self.clone();
        metrics.register_scraped("rep", move |scrape| {
            let containers = executor.list();
            let by_state: Vec<(String, i64)> = ContainerState::ALL
                .iter()
                .map(|state| {
                    let n = containers.iter().filter(|c| c.state == *state).count();
                    (state.to_string(), i64::try_from(n).unwrap_or(i64::MAX))
                })
                .collect();
            scrape.gauges(
                "containers",
                "Containers on this cell by state",
                "state",
                by_state.iter().map(|(state, n)| (state.as_str(), *n)),
            )?;
            let remaining = executor.remaining();
            let mib = |mb: u64| i64::try_from(mb).unwrap_or(i64::MAX / MIB) * MIB;
            scrape.gauge(
                "capacity_remaining_memory_bytes",
                "Memory not yet allocated to containers",
                mib(remaining.memory_mb),
            )?;
            scrape.gauge(
                "capacity_remaining_disk_bytes",
                "Disk not yet allocated to containers",
                mib(remaining.disk_mb),
            )?;
            scrape.gauge(
                "capacity_remaining_containers",
                "Containers this cell can still hold",
                i64::from(remaining.containers),
            )
        });
    }
}
