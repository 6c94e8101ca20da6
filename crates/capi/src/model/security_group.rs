//! Application security groups: egress rules for apps' containers, applied to every space
//! (globally enabled) or to the spaces they are bound to, for staging or running.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use ingot_bbs::Protocol;
use serde::{Deserialize, Serialize};

use super::{Listable, security_group_rule::Rule};
use crate::store::{Table, docs::document};

/// Which of an app's containers a group applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityGroupLifecycle {
    /// Staging tasks.
    Staging,
    /// App instances and tasks.
    Running,
}

impl SecurityGroupLifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staging => "staging",
            Self::Running => "running",
        }
    }
}

/// Whether a group applies to every space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GloballyEnabled {
    pub running: bool,
    pub staging: bool,
}

impl GloballyEnabled {
    pub fn get(self, lifecycle: SecurityGroupLifecycle) -> bool {
        match lifecycle {
            SecurityGroupLifecycle::Staging => self.staging,
            SecurityGroupLifecycle::Running => self.running,
        }
    }

    pub fn any(self) -> bool {
        self.running || self.staging
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub guid: String,
    /// Unique, case-sensitive.
    pub name: String,
    pub globally_enabled: GloballyEnabled,
    pub rules: Vec<Rule>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A group bound to a space for one lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupSpace {
    pub guid: String,
    pub security_group_guid: String,
    pub space_guid: String,
    pub lifecycle: SecurityGroupLifecycle,
    pub created_at: DateTime<Utc>,
}

document!(SecurityGroup, Table::SecurityGroups, |g| vec![Some(
    g.name.clone()
)]);
document!(SecurityGroupSpace, Table::SecurityGroupSpaces, |b| vec![
    Some(b.security_group_guid.clone()),
    Some(b.space_guid.clone()),
    Some(b.lifecycle.as_str().to_owned())
]);

/// Every group and every binding, read together.
#[derive(Debug, Clone, Default)]
pub struct SecurityGroupSet {
    /// Oldest first.
    pub groups: Vec<SecurityGroup>,
    pub bindings: Vec<SecurityGroupSpace>,
}

impl SecurityGroupSet {
    /// The spaces `group` is bound to for `lifecycle`.
    pub fn spaces(&self, group: &str, lifecycle: SecurityGroupLifecycle) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|b| b.security_group_guid == group && b.lifecycle == lifecycle)
            .map(|b| b.space_guid.clone())
            .collect()
    }

    /// The groups whose rules apply to `lifecycle` containers in `space`: the globally
    /// enabled ones and those bound to it, oldest first.
    pub fn applying_to(
        &self,
        space: &str,
        lifecycle: SecurityGroupLifecycle,
    ) -> Vec<&SecurityGroup> {
        let bound: HashSet<&str> = self
            .bindings
            .iter()
            .filter(|b| b.space_guid == space && b.lifecycle == lifecycle)
            .map(|b| b.security_group_guid.as_str())
            .collect();
        self.groups
            .iter()
            .filter(|g| g.globally_enabled.get(lifecycle) || bound.contains(g.guid.as_str()))
            .collect()
    }
}

/// A group with the spaces its reader may see it bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupView {
    pub group: SecurityGroup,
    pub running_spaces: Vec<String>,
    pub staging_spaces: Vec<String>,
}

impl Listable for SecurityGroupView {
    fn guid(&self) -> &str {
        &self.group.guid
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.group.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.group.updated_at
    }
}

/// The groups a new foundation starts with, globally enabled for staging and running, after
/// cf-deployment's: `dns` reaches port 53 anywhere, and `public_networks` every public IPv4
/// address. Like cf-deployment's, it leaves out the private ranges and link-local addresses
/// (cloud metadata services); it also leaves out 0.0.0.0/8, loopback, shared (CGNAT) space,
/// multicast and the reserved 240.0.0.0/4.
pub fn default_groups() -> [(&'static str, Vec<Rule>); 2] {
    let public = [
        "1.0.0.0-9.255.255.255",
        "11.0.0.0-100.63.255.255",
        "100.128.0.0-126.255.255.255",
        "128.0.0.0-169.253.255.255",
        "169.255.0.0-172.15.255.255",
        "172.32.0.0-192.167.255.255",
        "192.169.0.0-223.255.255.255",
    ];
    let dns = |protocol| Rule {
        ports: Some("53".into()),
        ..Rule::new(protocol, "0.0.0.0/0")
    };
    [
        (
            "public_networks",
            public
                .into_iter()
                .map(|range| Rule::new(Protocol::All, range))
                .collect(),
        ),
        ("dns", vec![dns(Protocol::Tcp), dns(Protocol::Udp)]),
    ]
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::model::security_group_rule::read_rules;

    fn group(guid: &str, globally_enabled: GloballyEnabled) -> SecurityGroup {
        SecurityGroup {
            guid: guid.into(),
            name: guid.into(),
            globally_enabled,
            rules: Vec::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn binding(group: &str, space: &str, lifecycle: SecurityGroupLifecycle) -> SecurityGroupSpace {
        SecurityGroupSpace {
            guid: format!("{group}-{space}-{}", lifecycle.as_str()),
            security_group_guid: group.into(),
            space_guid: space.into(),
            lifecycle,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn groups_apply_globally_or_where_bound() {
        use SecurityGroupLifecycle::{Running, Staging};
        let set = SecurityGroupSet {
            groups: vec![
                group(
                    "everywhere-running",
                    GloballyEnabled {
                        running: true,
                        staging: false,
                    },
                ),
                group("bound", GloballyEnabled::default()),
                group("unused", GloballyEnabled::default()),
            ],
            bindings: vec![
                binding("bound", "space-1", Running),
                binding("bound", "space-2", Staging),
            ],
        };
        let names = |space, lifecycle| -> Vec<&str> {
            set.applying_to(space, lifecycle)
                .into_iter()
                .map(|g| g.guid.as_str())
                .collect()
        };
        assert_eq!(names("space-1", Running), ["everywhere-running", "bound"]);
        assert_eq!(names("space-1", Staging), Vec::<&str>::new());
        assert_eq!(names("space-2", Staging), ["bound"]);
        assert_eq!(names("space-3", Running), ["everywhere-running"]);
        assert_eq!(set.spaces("bound", Running), ["space-1"]);
        assert_eq!(set.spaces("bound", Staging), ["space-2"]);
    }

    #[test]
    fn the_defaults_are_valid_and_public_networks_skips_private_ranges() {
        let [(public_name, public), (dns_name, dns)] = default_groups();
        assert_eq!((public_name, dns_name), ("public_networks", "dns"));
        for rules in [&public, &dns] {
            let read = read_rules(&serde_json::to_value(rules).unwrap()).expect("valid");
            assert!(read.model_problems.is_empty());
        }
        let allowed = |ip: &str| {
            let ip: Ipv4Addr = ip.parse().unwrap();
            public.iter().any(|r| match r.destination.parse() {
                Ok(ingot_bbs::Destination::Range(first, last)) => first <= ip && ip <= last,
                other => panic!("a range: {other:?}"),
            })
        };
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.0.1",
            "151.101.1.1",
            "223.255.255.254",
        ] {
            assert!(allowed(public), "{public}");
        }
        for private in [
            "0.0.0.1",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!allowed(private), "{private}");
        }
    }
}
