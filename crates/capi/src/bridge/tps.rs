//! tps's pure half: what the Cloud Controller reports about a process's instances, from the
//! ActualLRPs of its current version and the instances' newest container metrics, and what a
//! crash event records.

use std::collections::BTreeMap;

use ingot_bbs::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, ActualLrpState, Nanos, PortMapping,
};
use serde_json::{Value, json};

use super::metrics::Usage;

/// An instance's state as `cf app` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstanceState {
    Running,
    Starting,
    Crashed,
    /// No ActualLRP for the index, or one the auction could not place.
    Down,
}

impl InstanceState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InstanceState::Running => "RUNNING",
            InstanceState::Starting => "STARTING",
            InstanceState::Crashed => "CRASHED",
            InstanceState::Down => "DOWN",
        }
    }

    /// CC's translation of Diego's states.
    fn of(lrp: &ActualLrp) -> Self {
        match lrp.state {
            ActualLrpState::Running => InstanceState::Running,
            ActualLrpState::Claimed => InstanceState::Starting,
            ActualLrpState::Unclaimed if lrp.placement_error.is_empty() => InstanceState::Starting,
            ActualLrpState::Unclaimed => InstanceState::Down,
            ActualLrpState::Crashed => InstanceState::Crashed,
        }
    }
}

/// One instance slot of a process.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Instance {
    pub index: u32,
    pub state: InstanceState,
    /// The ActualLRP behind the slot; `None` for a DOWN slot nothing reported.
    pub reported: Option<Reported>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reported {
    pub instance_guid: String,
    pub host: String,
    pub ports: Vec<PortMapping>,
    /// Seconds since the ActualLRP last changed state.
    pub uptime: i64,
    /// Why the instance is not running: the placement error, or the crash reason.
    pub details: Option<String>,
    /// The newest container metrics of a running or starting instance; `None` until its cell
    /// has sampled it (and for a crashed one, whose container is gone).
    pub usage: Option<Usage>,
}

/// One entry per index below `instances`: the newest ActualLRP reported for it, or DOWN, with
/// the index's `usage`. ActualLRPs of indices above `instances` (being retired after a
/// scale-down) are left out.
pub(crate) fn instances(
    instances: u32,
    actual: &[ActualLrp],
    usage: &BTreeMap<u32, Usage>,
    now: Nanos,
) -> Vec<Instance> {
    let mut newest: BTreeMap<u32, &ActualLrp> = BTreeMap::new();
    for lrp in actual.iter().filter(|l| l.index < instances) {
        let slot = newest.entry(lrp.index).or_insert(lrp);
        if lrp.since > slot.since {
            *slot = lrp;
        }
    }
    (0..instances)
        .map(|index| match newest.get(&index) {
            None => Instance {
                index,
                state: InstanceState::Down,
                reported: None,
            },
            Some(lrp) => {
                let state = InstanceState::of(lrp);
                let live = matches!(state, InstanceState::Running | InstanceState::Starting);
                Instance {
                    index,
                    state,
                    reported: Some(Reported {
                        instance_guid: lrp.instance_guid.clone(),
                        host: lrp.net_info.address.clone(),
                        ports: lrp.net_info.ports.clone(),
                        uptime: (now.saturating_sub(lrp.since) / 1_000_000_000).max(0),
                        details: details(lrp),
                        usage: usage.get(&index).copied().filter(|_| live),
                    }),
                }
            }
        })
        .collect()
}

/// A crashed instance's reason, else a placement error (a stale crash reason of an
/// instance that runs again is not news).
fn details(lrp: &ActualLrp) -> Option<String> {
    let detail = if lrp.state == ActualLrpState::Crashed {
        &lrp.crash_reason
    } else {
        &lrp.placement_error
    };
    (!detail.is_empty()).then(|| detail.clone())
}

/// The `data` of an `audit.app.process.crash` event, with CC's keys (`cf events` builds
/// its description from them).
pub(crate) fn crash_data(
    key: &ActualLrpKey,
    instance: &ActualLrpInstanceKey,
    crash_count: u32,
    crash_reason: &str,
    since: Nanos,
) -> Value {
    json!({
        "instance": instance.instance_guid,
        "index": key.index,
        "cell_id": instance.cell_id,
        "exit_description": crash_reason,
        "reason": "CRASHED",
        "crash_count": crash_count,
        "crash_timestamp": since,
    })
}

#[cfg(test)]
mod tests {
    use ingot_bbs::NetInfo;

    use super::*;

    const SEC: Nanos = 1_000_000_000;

    fn actual(index: u32, state: ActualLrpState, since: Nanos) -> ActualLrp {
        ActualLrp {
            process_guid: "p-v".into(),
            index,
            domain: "cf-apps".into(),
            instance_guid: format!("i-{index}-{since}"),
            cell_id: "cell-1".into(),
            state,
            since,
            ..ActualLrp::default()
        }
    }

    fn states(list: &[Instance]) -> Vec<&'static str> {
        list.iter().map(|i| i.state.as_str()).collect()
    }

    #[test]
    fn diego_states_translate_like_cc() {
        let mut unplaced = actual(3, ActualLrpState::Unclaimed, 0);
        unplaced.placement_error = "insufficient resources: memory".into();
        let mut crashed = actual(4, ActualLrpState::Crashed, 0);
        crashed.crash_reason = "APP/PROC/WEB: Exited with status 1".into();
        let list = instances(
            6,
            &[
                actual(0, ActualLrpState::Running, 0),
                actual(1, ActualLrpState::Claimed, 0),
                actual(2, ActualLrpState::Unclaimed, 0),
                unplaced,
                crashed,
            ],
            &BTreeMap::new(),
            10 * SEC,
        );
        assert_eq!(
            states(&list),
            ["RUNNING", "STARTING", "STARTING", "DOWN", "CRASHED", "DOWN"]
        );
        let details: Vec<Option<&str>> = list
            .iter()
            .map(|i| i.reported.as_ref().and_then(|r| r.details.as_deref()))
            .collect();
        assert_eq!(
            details,
            [
                None,
                None,
                None,
                Some("insufficient resources: memory"),
                Some("APP/PROC/WEB: Exited with status 1"),
                None
            ]
        );
        assert!(list[5].reported.is_none(), "index 5 was never reported");
    }

    #[test]
    fn uptime_ports_and_the_newest_record_per_index() {
        let mut running = actual(0, ActualLrpState::Running, 4 * SEC);
        running.net_info = NetInfo {
            address: "10.0.0.7".into(),
            instance_address: "10.255.0.2".into(),
            ports: vec![PortMapping {
                container_port: 8080,
                host_port: 61001,
            }],
        };
        let mut stale_crash = actual(0, ActualLrpState::Crashed, SEC);
        stale_crash.crash_reason = "old".into();
        let retiring = actual(1, ActualLrpState::Running, 0);
        let list = instances(
            1,
            &[stale_crash, running, retiring],
            &BTreeMap::new(),
            64 * SEC,
        );
        assert_eq!(
            list.len(),
            1,
            "indices past the instance count are left out"
        );
        let r = list[0].reported.as_ref().unwrap();
        assert_eq!(list[0].state, InstanceState::Running);
        assert_eq!(r.uptime, 60);
        assert_eq!(r.host, "10.0.0.7");
        assert_eq!(r.ports[0].host_port, 61001);
        assert_eq!(r.details, None);
    }

    #[test]
    fn nothing_reported_means_every_instance_is_down() {
        let none = BTreeMap::new();
        assert_eq!(states(&instances(2, &[], &none, 0)), ["DOWN", "DOWN"]);
        let running = [actual(0, ActualLrpState::Running, 0)];
        assert!(instances(0, &running, &none, 0).is_empty());
    }

    #[test]
    fn usage_goes_to_live_instances_of_its_index() {
        let sample = |mem| Usage {
            time: chrono::DateTime::from_timestamp_nanos(SEC),
            cpu: 0.5,
            mem,
            disk: 7,
        };
        let usage = BTreeMap::from([(0, sample(100)), (1, sample(200)), (2, sample(300))]);
        let list = instances(
            4,
            &[
                actual(0, ActualLrpState::Running, 0),
                actual(1, ActualLrpState::Claimed, 0),
                actual(2, ActualLrpState::Crashed, 0),
            ],
            &usage,
            10 * SEC,
        );
        let mem: Vec<Option<u64>> = list
            .iter()
            .map(|i| i.reported.as_ref().and_then(|r| r.usage).map(|u| u.mem))
            .collect();
        assert_eq!(mem, [Some(100), Some(200), None, None]);
    }

    #[test]
    fn crash_data_has_cc_keys() {
        let data = crash_data(
            &ActualLrpKey::new("p-v", 2, "cf-apps"),
            &ActualLrpInstanceKey::new("inst", "cell-9"),
            3,
            "APP/PROC/WEB: Exited with status 2",
            77,
        );
        assert_eq!(
            data,
            json!({
                "instance": "inst", "index": 2, "cell_id": "cell-9",
                "exit_description": "APP/PROC/WEB: Exited with status 2",
                "reason": "CRASHED", "crash_count": 3, "crash_timestamp": 77,
            })
        );
    }
}
