//! DesiredLRPs: what should run, how many times. The BBS keeps them; the converger makes the
//! ActualLRPs match.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Action, CheckDefinition, EnvironmentVariable, Nanos, SecurityGroupRule, Validator};
use crate::error::Error;

/// Diego's optimistic-concurrency tag: a random epoch per record and a counter per change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModificationTag {
    pub epoch: String,
    pub index: u32,
}

impl ModificationTag {
    pub fn new(epoch: impl Into<String>) -> Self {
        Self {
            epoch: epoch.into(),
            index: 0,
        }
    }

    pub fn increment(&mut self) {
        self.index = self.index.wrapping_add(1);
    }
}

/// A long-running process the platform keeps `instances` copies of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DesiredLrp {
    pub process_guid: String,
    pub domain: String,
    pub instances: u32,
    /// `preloaded:<stack>` or `docker://<image>`.
    pub root_fs: String,
    pub env: Vec<EnvironmentVariable>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<Action>,
    pub action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_definition: Option<CheckDefinition>,
    pub start_timeout_ms: u64,
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub max_pids: u32,
    pub cpu_weight: u32,
    pub ports: Vec<u32>,
    /// Opaque to the BBS: route emitters read their own keys (`cf-router`, `tcp-router`, ...).
    pub routes: BTreeMap<String, serde_json::Value>,
    pub log_guid: String,
    pub log_source: String,
    /// Bytes per second each instance may log (Diego's `log_rate_limit`, CF's
    /// `log_rate_limit_in_bytes_per_second`); `None` is unlimited (CF's -1). The cell drops
    /// output beyond it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_rate_limit_bytes_per_second: Option<u64>,
    pub metrics_guid: String,
    /// Tags the cell puts on the instances' container metrics (Diego's `metric_tags`, static
    /// values only), e.g. the Cloud Controller's `process_id`, which tells one process's
    /// gauges from another's of the same app at the same index.
    pub metric_tags: BTreeMap<String, String>,
    pub annotation: String,
    pub placement_tags: Vec<String>,
    pub privileged: bool,
    /// Where instances may connect to; the cell denies everything else. Fixed once desired:
    /// new rules reach an app through a new LRP (a restart).
    pub egress_rules: Vec<SecurityGroupRule>,
    pub modification_tag: ModificationTag,
    /// Set by the BBS when the LRP is desired (Unix ns).
    pub created_at: Nanos,
}

impl DesiredLrp {
    /// Every bad field, in one `Error::Validation`.
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = Validator::new();
        v.guid(&self.process_guid, "process_guid");
        v.require(&self.domain, "domain");
        v.root_fs(&self.root_fs);
        v.action(self.action.as_ref());
        if let Some(setup) = &self.setup {
            v.nested("setup", setup.validation_errors());
        }
        if let Some(monitor) = &self.monitor {
            v.nested("monitor", monitor.validation_errors());
        }
        if let Some(checks) = &self.check_definition {
            v.nested("check_definition", checks.validation_errors());
        }
        v.cpu_weight(self.cpu_weight);
        v.check(
            self.ports.iter().all(|p| *p > 0 && *p <= 65535),
            "ports",
            "must be valid ports",
        );
        v.annotation(&self.annotation);
        v.egress_rules(&self.egress_rules);
        v.finish()
    }

    /// Applies the changeable fields.
    pub fn apply(&mut self, update: &DesiredLrpUpdate) {
        if let Some(instances) = update.instances {
            self.instances = instances;
        }
        if let Some(routes) = &update.routes {
            self.routes.clone_from(routes);
        }
        if let Some(annotation) = &update.annotation {
            self.annotation.clone_from(annotation);
        }
        self.modification_tag.increment();
    }
}

/// The fields of a DesiredLRP that may change after it is desired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredLrpUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
}

impl DesiredLrpUpdate {
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = Validator::new();
        if let Some(annotation) = &self.annotation {
            v.annotation(annotation);
        }
        v.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> DesiredLrp {
        DesiredLrp {
            process_guid: "p".into(),
            domain: "cf-apps".into(),
            instances: 1,
            root_fs: "preloaded:cflinuxfs4".into(),
            action: Some(Action::run("/bin/sleep", &["100"])),
            ..DesiredLrp::default()
        }
    }

    #[test]
    fn a_valid_lrp_passes() {
        valid().validate().unwrap();
        let docker = DesiredLrp {
            root_fs: "docker:///busybox".into(),
            ..valid()
        };
        docker.validate().unwrap();
    }

    #[test]
    fn validation_collects_every_bad_field() {
        let bad = DesiredLrp {
            process_guid: String::new(),
            domain: String::new(),
            root_fs: "cflinuxfs4".into(),
            action: None,
            cpu_weight: 101,
            ports: vec![0],
            ..valid()
        };
        let Err(Error::Validation { errors }) = bad.validate() else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "process_guid",
                "domain",
                "root_fs",
                "action",
                "cpu_weight",
                "ports"
            ]
        );
    }

    #[test]
    fn egress_rules_are_validated_and_optional_on_the_wire() {
        let mut lrp = valid();
        lrp.egress_rules = vec![SecurityGroupRule {
            protocol: crate::models::Protocol::Tcp,
            destinations: vec!["10.0.0.0/8".into(), "nope".into()],
            ports: Vec::new(),
            port_range: None,
            icmp_info: None,
            log: false,
            annotations: Vec::new(),
        }];
        let Err(Error::Validation { errors }) = lrp.validate() else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["egress_rules[0].ports", "egress_rules[0].destinations[1]"]
        );

        // Records stored before egress rules existed still read.
        let mut old = serde_json::to_value(valid()).unwrap();
        old.as_object_mut().unwrap().remove("egress_rules");
        let read: DesiredLrp = serde_json::from_value(old).unwrap();
        assert_eq!(read, valid());
    }

    #[test]
    fn update_changes_only_its_fields() {
        let mut lrp = valid();
        lrp.annotation = "old".into();
        lrp.apply(&DesiredLrpUpdate {
            instances: Some(3),
            ..DesiredLrpUpdate::default()
        });
        assert_eq!(lrp.instances, 3);
        assert_eq!(lrp.annotation, "old");
        assert_eq!(lrp.modification_tag.index, 1);
    }
}
