//! What the BBS and its auctioneer count, as Diego's do: LRPs and Tasks by state (taken by
//! each convergence, which reads them all anyway, so no request pays for them), convergence
//! runs and their duration, and auction outcomes.

use std::time::Duration;

use ingot_auction::AuctionResults;
use ingot_core::Metrics;
use ingot_core::metrics::{Counter, Family, Gauge, Histogram, duration_histogram};

use crate::loops::converger::ConvergenceInput;
use crate::models::{ActualLrpState, TaskState};

type ByState = Family<[(&'static str, &'static str); 1], Gauge>;

fn state(name: &'static str) -> [(&'static str, &'static str); 1] {
    [("state", name)]
}

/// The BBS's counters and gauges; they count whether or not they are registered.
#[derive(Debug, Clone)]
pub(crate) struct BbsMetrics {
    desired_lrps: Gauge,
    desired_lrp_instances: Gauge,
    actual_lrps: ByState,
    tasks: ByState,
    convergence_runs: Counter,
    convergence_duration: Histogram,
    lrp_auctions_started: Counter,
    lrp_auctions_failed: Counter,
    task_auctions_started: Counter,
    task_auctions_failed: Counter,
    fetch_states_duration: Histogram,
    failed_cell_state_requests: Counter,
}

impl Default for BbsMetrics {
    fn default() -> Self {
        Self {
            desired_lrps: Gauge::default(),
            desired_lrp_instances: Gauge::default(),
            actual_lrps: ByState::default(),
            tasks: ByState::default(),
            convergence_runs: Counter::default(),
            convergence_duration: duration_histogram(),
            lrp_auctions_started: Counter::default(),
            lrp_auctions_failed: Counter::default(),
            task_auctions_started: Counter::default(),
            task_auctions_failed: Counter::default(),
            fetch_states_duration: duration_histogram(),
            failed_cell_state_requests: Counter::default(),
        }
    }
}

impl BbsMetrics {
    /// Registers the BBS's metrics as `ingot_bbs_*` and its auctioneer's as
    /// `ingot_auctioneer_*`.
    pub(crate) fn register(&self, metrics: &Metrics) {
        let bbs = |name, help, metric: Gauge| metrics.register("bbs", name, help, metric);
        bbs(
            "desired_lrps",
            "DesiredLRPs, at the last convergence",
            self.desired_lrps.clone(),
        );
        bbs(
            "desired_lrp_instances",
            "Instances the DesiredLRPs ask for, at the last convergence",
            self.desired_lrp_instances.clone(),
        );
        metrics.register(
            "bbs",
            "actual_lrps",
            "ActualLRPs by state, at the last convergence",
            self.actual_lrps.clone(),
        );
        metrics.register(
            "bbs",
            "tasks",
            "Tasks by state, at the last convergence",
            self.tasks.clone(),
        );
        metrics.register(
            "bbs",
            "convergence_runs",
            "Convergence runs",
            self.convergence_runs.clone(),
        );
        metrics.register_seconds(
            "bbs",
            "convergence_duration",
            "Time one convergence run took",
            self.convergence_duration.clone(),
        );
        let auctioneer = |name, help, metric: &Counter| {
            metrics.register("auctioneer", name, help, metric.clone())
        };
        auctioneer(
            "lrp_auctions_started",
            "LRP instances placed on a cell",
            &self.lrp_auctions_started,
        );
        auctioneer(
            "lrp_auctions_failed",
            "LRP instances no cell could take",
            &self.lrp_auctions_failed,
        );
        auctioneer(
            "task_auctions_started",
            "Tasks placed on a cell",
            &self.task_auctions_started,
        );
        auctioneer(
            "task_auctions_failed",
            "Tasks no cell could take",
            &self.task_auctions_failed,
        );
        auctioneer(
            "failed_cell_state_requests",
            "Cells that did not report their state for an auction round",
            &self.failed_cell_state_requests,
        );
        metrics.register_seconds(
            "auctioneer",
            "fetch_states_duration",
            "Time an auction round took to fetch every cell's state",
            self.fetch_states_duration.clone(),
        );
    }

    /// Records one convergence: the state it read and how long it took.
    pub(crate) fn converged(&self, input: &ConvergenceInput, took: Duration) {
        self.desired_lrps.set(count(input.desired.len()));
        self.desired_lrp_instances
            .set(input.desired.iter().map(|d| i64::from(d.instances)).sum());
        for s in ActualLrpState::ALL {
            let n = input.actual.iter().filter(|a| a.state == s).count();
            self.actual_lrps
                .get_or_create(&state(s.as_str()))
                .set(count(n));
        }
        for s in TaskState::ALL {
            let n = input.tasks.iter().filter(|t| t.state == s).count();
            self.tasks.get_or_create(&state(s.as_str())).set(count(n));
        }
        self.convergence_runs.inc();
        self.convergence_duration.observe(took.as_secs_f64());
    }

    pub(crate) fn auction_completed(&self, results: &AuctionResults) {
        self.lrp_auctions_started
            .inc_by(results.successful_lrps.len() as u64);
        self.lrp_auctions_failed
            .inc_by(results.failed_lrps.len() as u64);
        self.task_auctions_started
            .inc_by(results.successful_tasks.len() as u64);
        self.task_auctions_failed
            .inc_by(results.failed_tasks.len() as u64);
    }

    pub(crate) fn fetched_states(&self, took: Duration) {
        self.fetch_states_duration.observe(took.as_secs_f64());
    }

    pub(crate) fn failed_cell_state_request(&self) {
        self.failed_cell_state_requests.inc();
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ActualLrp, DesiredLrp, Task};

    fn sample(text: &str, line: &str) -> bool {
        text.lines().any(|l| l == line)
    }

    #[test]
    fn a_convergence_sets_the_state_gauges_from_what_it_read() {
        let registry = Metrics::new();
        let bbs = BbsMetrics::default();
        bbs.register(&registry);
        let lrp = |state| ActualLrp {
            state,
            ..ActualLrp::default()
        };
        let input = ConvergenceInput {
            desired: vec![DesiredLrp {
                instances: 3,
                ..DesiredLrp::default()
            }],
            actual: vec![
                lrp(ActualLrpState::Running),
                lrp(ActualLrpState::Running),
                lrp(ActualLrpState::Crashed),
            ],
            tasks: vec![Task {
                state: TaskState::Pending,
                ..Task::default()
            }],
            ..ConvergenceInput::default()
        };
        bbs.converged(&input, Duration::from_millis(20));

        let text = registry.encode();
        for line in [
            "ingot_bbs_desired_lrps 1",
            "ingot_bbs_desired_lrp_instances 3",
            "ingot_bbs_actual_lrps{state=\"RUNNING\"} 2",
            "ingot_bbs_actual_lrps{state=\"CRASHED\"} 1",
            "ingot_bbs_actual_lrps{state=\"UNCLAIMED\"} 0",
            "ingot_bbs_tasks{state=\"PENDING\"} 1",
            "ingot_bbs_tasks{state=\"RUNNING\"} 0",
            "ingot_bbs_convergence_runs_total 1",
            "ingot_bbs_convergence_duration_seconds_count 1",
        ] {
            assert!(sample(&text, line), "{line} in {text}");
        }

        // The next convergence replaces the counts rather than adding to them.
        bbs.converged(&ConvergenceInput::default(), Duration::ZERO);
        let text = registry.encode();
        assert!(
            sample(&text, "ingot_bbs_actual_lrps{state=\"RUNNING\"} 0"),
            "{text}"
        );
        assert!(
            sample(&text, "ingot_bbs_convergence_runs_total 2"),
            "{text}"
        );
    }
}
