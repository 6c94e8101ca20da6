//! ActualLRPs: one running (or wanted) instance of a DesiredLRP, and its state machine.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{InvalidTransition, Nanos, RestartCalculator};
use crate::models::ModificationTag;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActualLrpState {
    #[default]
    Unclaimed,
    Claimed,
    Running,
    Crashed,
}

impl ActualLrpState {
    pub const ALL: [Self; 4] = [Self::Unclaimed, Self::Claimed, Self::Running, Self::Crashed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unclaimed => "UNCLAIMED",
            Self::Claimed => "CLAIMED",
            Self::Running => "RUNNING",
            Self::Crashed => "CRASHED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for ActualLrpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Diego's presence. Only ORDINARY is produced today; EVACUATING and SUSPECT are reserved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Presence {
    #[default]
    Ordinary,
    Evacuating,
    Suspect,
}

/// Which instance slot: the process and its index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActualLrpKey {
    pub process_guid: String,
    pub index: u32,
    pub domain: String,
}

impl ActualLrpKey {
    pub fn new(process_guid: impl Into<String>, index: u32, domain: impl Into<String>) -> Self {
        Self {
            process_guid: process_guid.into(),
            index,
            domain: domain.into(),
        }
    }
}

impl fmt::Display for ActualLrpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.process_guid, self.index)
    }
}

/// Which container on which cell holds the slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActualLrpInstanceKey {
    pub instance_guid: String,
    pub cell_id: String,
}

impl ActualLrpInstanceKey {
    pub fn new(instance_guid: impl Into<String>, cell_id: impl Into<String>) -> Self {
        Self {
            instance_guid: instance_guid.into(),
            cell_id: cell_id.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.instance_guid.is_empty() && self.cell_id.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub container_port: u32,
    pub host_port: u32,
}

/// Where a RUNNING instance can be reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInfo {
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub instance_address: String,
    #[serde(default)]
    pub ports: Vec<PortMapping>,
}

/// One instance of a DesiredLRP. JSON fields are flat, as cfdot prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualLrp {
    pub process_guid: String,
    pub index: u32,
    pub domain: String,
    #[serde(default)]
    pub instance_guid: String,
    #[serde(default)]
    pub cell_id: String,
    pub state: ActualLrpState,
    #[serde(flatten)]
    pub net_info: NetInfo,
    #[serde(default)]
    pub crash_count: u32,
    #[serde(default)]
    pub crash_reason: String,
    /// When the record last changed state (Unix ns).
    pub since: Nanos,
    #[serde(default)]
    pub modification_tag: ModificationTag,
    #[serde(default)]
    pub placement_error: String,
    #[serde(default)]
    pub presence: Presence,
}

impl ActualLrp {
    /// A new UNCLAIMED instance, waiting for its auction.
    pub fn unclaimed(key: &ActualLrpKey, epoch: impl Into<String>, now: Nanos) -> Self {
        Self {
            process_guid: key.process_guid.clone(),
            index: key.index,
            domain: key.domain.clone(),
            state: ActualLrpState::Unclaimed,
            since: now,
            modification_tag: ModificationTag::new(epoch),
            ..Self::default()
        }
    }

    pub fn key(&self) -> ActualLrpKey {
        ActualLrpKey::new(&self.process_guid, self.index, &self.domain)
    }

    pub fn instance_key(&self) -> ActualLrpInstanceKey {
        ActualLrpInstanceKey::new(&self.instance_guid, &self.cell_id)
    }

    fn same_instance(&self, instance: &ActualLrpInstanceKey) -> bool {
        self.instance_guid == instance.instance_guid && self.cell_id == instance.cell_id
    }

    fn set_instance(&mut self, instance: &ActualLrpInstanceKey) {
        self.instance_guid.clone_from(&instance.instance_guid);
        self.cell_id.clone_from(&instance.cell_id);
    }

    fn clear_instance(&mut self) {
        self.instance_guid.clear();
        self.cell_id.clear();
        self.net_info = NetInfo::default();
    }
}

/// What can happen to an ActualLRP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActualLrpEvent {
    /// A cell's rep reserved a container for the instance.
    Claim(ActualLrpInstanceKey),
    /// The instance's container is up.
    Start(ActualLrpInstanceKey, NetInfo),
    /// The instance's process exited; the restart calculator decides what follows.
    Crash(ActualLrpInstanceKey, String),
    /// The auction could not place the instance.
    Fail(String),
    /// The record goes away (with the instance it must still belong to, if given).
    Remove(Option<ActualLrpInstanceKey>),
    /// The instance lost its cell (or its crash back-off ended) and needs a new auction.
    Unclaim,
}

impl ActualLrpEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Claim(_) => "claim",
            Self::Start(..) => "start",
            Self::Crash(..) => "crash",
            Self::Fail(_) => "fail",
            Self::Remove(_) => "remove",
            Self::Unclaim => "unclaim",
        }
    }
}

/// What a transition needs besides the record and the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionContext {
    pub now: Nanos,
    pub restart: RestartCalculator,
}

/// Applies `event` to `before` and returns the record after it. `Remove` returns the record
/// unchanged: the caller deletes it. Pure: the store calls this inside its transaction.
///
/// Following Diego, a claim or start by a different instance than the one that holds the
/// slot is refused, and so is a crash of an instance that never claimed it.
pub fn transition(
    before: &ActualLrp,
    event: &ActualLrpEvent,
    ctx: &TransitionContext,
) -> Result<ActualLrp, InvalidTransition> {
    use ActualLrpState::*;
    let refuse = || InvalidTransition::new(before.state, event.name());
    let mut after = before.clone();
    match (before.state, event) {
        (Unclaimed, ActualLrpEvent::Claim(instance)) => {
            after.set_instance(instance);
            after.state = Claimed;
            after.placement_error.clear();
        }
        (Claimed | Running, ActualLrpEvent::Claim(instance)) if before.same_instance(instance) => {
            after.state = Claimed;
            after.net_info = NetInfo::default();
        }
        (Unclaimed | Claimed, ActualLrpEvent::Start(instance, net)) => {
            // A CLAIMED slot taken over by another cell's start is allowed in Diego: the
            // newest container wins and the old claim was never running.
            after.set_instance(instance);
            after.net_info = net.clone();
            after.state = Running;
            after.placement_error.clear();
        }
        (Running | Crashed, ActualLrpEvent::Start(instance, net))
            if before.same_instance(instance) =>
        {
            after.net_info = net.clone();
            after.state = Running;
        }
        (Claimed | Running, ActualLrpEvent::Crash(instance, reason))
            if before.same_instance(instance) =>
        {
            let running_since = (before.state == Running).then_some(before.since);
            after.crash_count =
                ctx.restart
                    .next_crash_count(before.crash_count, running_since, ctx.now);
            after.crash_reason.clone_from(reason);
            after.clear_instance();
            after.state = if ctx.restart.should_restart_immediately(after.crash_count) {
                Unclaimed
            } else {
                Crashed
            };
        }
        (Unclaimed, ActualLrpEvent::Fail(placement_error)) => {
            after.placement_error.clone_from(placement_error);
        }
        (_, ActualLrpEvent::Remove(None)) => {}
        (_, ActualLrpEvent::Remove(Some(instance))) if before.same_instance(instance) => {}
        (Claimed | Running | Crashed, ActualLrpEvent::Unclaim) => {
            after.clear_instance();
            after.state = Unclaimed;
        }
        _ => return Err(refuse()),
    }
    if after.state != before.state {
        after.since = ctx.now;
    }
    if after != *before {
        after.modification_tag.increment();
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActualLrpState::*;

    fn lrp(state: ActualLrpState) -> ActualLrp {
        let mut lrp = ActualLrp::unclaimed(&ActualLrpKey::new("p", 0, "cf-apps"), "e", 0);
        lrp.state = state;
        if state != Unclaimed {
            lrp.instance_guid = "i1".into();
            lrp.cell_id = "cell-1".into();
        }
        lrp
    }

    fn mine() -> ActualLrpInstanceKey {
        ActualLrpInstanceKey::new("i1", "cell-1")
    }

    fn other() -> ActualLrpInstanceKey {
        ActualLrpInstanceKey::new("i2", "cell-2")
    }

    fn ctx() -> TransitionContext {
        TransitionContext {
            now: 10,
            restart: RestartCalculator::default(),
        }
    }

    #[test]
    fn every_state_and_event() {
        let net = NetInfo::default();
        let events: Vec<(&str, ActualLrpEvent)> = vec![
            ("claim mine", ActualLrpEvent::Claim(mine())),
            ("claim other", ActualLrpEvent::Claim(other())),
            ("start mine", ActualLrpEvent::Start(mine(), net.clone())),
            ("start other", ActualLrpEvent::Start(other(), net.clone())),
            ("crash mine", ActualLrpEvent::Crash(mine(), "boom".into())),
            ("crash other", ActualLrpEvent::Crash(other(), "boom".into())),
            ("fail", ActualLrpEvent::Fail("no cell".into())),
            ("remove any", ActualLrpEvent::Remove(None)),
            ("remove mine", ActualLrpEvent::Remove(Some(mine()))),
            ("remove other", ActualLrpEvent::Remove(Some(other()))),
            ("unclaim", ActualLrpEvent::Unclaim),
        ];
        // Rows: UNCLAIMED, CLAIMED, RUNNING, CRASHED; None = refused.
        let table: [(&str, [Option<ActualLrpState>; 4]); 11] = [
            (
                "claim mine",
                [Some(Claimed), Some(Claimed), Some(Claimed), None],
            ),
            ("claim other", [Some(Claimed), None, None, None]),
            (
                "start mine",
                [Some(Running), Some(Running), Some(Running), Some(Running)],
            ),
            ("start other", [Some(Running), Some(Running), None, None]),
            // The first crash restarts at once: UNCLAIMED.
            ("crash mine", [None, Some(Unclaimed), Some(Unclaimed), None]),
            ("crash other", [None, None, None, None]),
            ("fail", [Some(Unclaimed), None, None, None]),
            (
                "remove any",
                [Some(Unclaimed), Some(Claimed), Some(Running), Some(Crashed)],
            ),
            (
                "remove mine",
                [None, Some(Claimed), Some(Running), Some(Crashed)],
            ),
            ("remove other", [None, None, None, None]),
            (
                "unclaim",
                [None, Some(Unclaimed), Some(Unclaimed), Some(Unclaimed)],
            ),
        ];
        for (name, row) in table {
            let event = &events.iter().find(|(n, _)| *n == name).unwrap().1;
            for (state, want) in ActualLrpState::ALL.into_iter().zip(row) {
                let got = transition(&lrp(state), event, &ctx()).map(|a| a.state).ok();
                assert_eq!(got, want, "{state} + {name}");
            }
        }
    }

    #[test]
    fn crash_follows_the_restart_calculator() {
        let mut running = lrp(Running);
        for (count_before, want_state, want_count) in [
            (0, Unclaimed, 1),
            (1, Unclaimed, 2),
            (2, Crashed, 3),
            (7, Crashed, 8),
        ] {
            running.crash_count = count_before;
            let after = transition(
                &running,
                &ActualLrpEvent::Crash(mine(), "exit 1".into()),
                &ctx(),
            )
            .unwrap();
            assert_eq!((after.state, after.crash_count), (want_state, want_count));
            assert!(after.instance_key().is_empty());
            assert_eq!(after.crash_reason, "exit 1");
            assert_eq!(after.since, 10);
        }
    }

    #[test]
    fn claim_clears_placement_error_and_bumps_the_tag() {
        let mut unclaimed = lrp(Unclaimed);
        unclaimed.placement_error = "found no compatible cell".into();
        let after = transition(&unclaimed, &ActualLrpEvent::Claim(mine()), &ctx()).unwrap();
        assert!(after.placement_error.is_empty());
        assert_eq!(after.modification_tag.index, 1);
        assert_eq!(after.cell_id, "cell-1");
    }

    #[test]
    fn serialises_flat_like_cfdot() {
        let mut running = lrp(Running);
        running.net_info.address = "10.0.0.1".into();
        let json = serde_json::to_value(&running).unwrap();
        assert_eq!(json["state"], "RUNNING");
        assert_eq!(json["address"], "10.0.0.1");
        assert_eq!(json["presence"], "ORDINARY");
        assert_eq!(serde_json::from_value::<ActualLrp>(json).unwrap(), running);
    }
}
