//! Security groups as Diego's egress rules: the rules of every group that applies to a
//! container, each rule once (annotated with the groups it came from) and, as CC orders
//! them, the logged rules last.
//!
//! The rules are fixed when an LRP or task is desired, as in CF: a change to security
//! groups reaches running apps when they restart, staging when an app is restaged.

use ingot_bbs::{IcmpInfo, PortRange, SecurityGroupRule};

use crate::model::{
    SecurityGroup,
    security_group_rule::{Ports, Rule},
};

/// The egress rules of containers `groups` apply to.
pub(crate) fn egress_rules(groups: &[&SecurityGroup]) -> Vec<SecurityGroupRule> {
    let mut unique: Vec<(&Rule, Vec<&str>)> = Vec::new();
    for group in groups {
        for rule in &group.rules {
            match unique.iter_mut().find(|(r, _)| *r == rule) {
                Some((_, sources)) => sources.push(&group.guid),
                None => unique.push((rule, vec![&group.guid])),
            }
        }
    }
    let mut rules: Vec<SecurityGroupRule> = unique
        .into_iter()
        .map(|(rule, mut sources)| {
            sources.sort_unstable();
            sources.dedup();
            translate(rule, &sources)
        })
        .collect();
    rules.sort_by_key(|r| r.log);
    rules
}

/// One CAPI rule in Diego's terms: comma-delimited destinations become a list, "80,443" a
/// port list, "8080-8090" a port range and type/code the ICMP info.
fn translate(rule: &Rule, groups: &[&str]) -> SecurityGroupRule {
    let (ports, port_range) = match rule.ports.as_deref().and_then(Ports::parse) {
        Some(Ports::List(ports)) => (ports, None),
        Some(Ports::Range(start, end)) => (Vec::new(), Some(PortRange { start, end })),
        None => (Vec::new(), None),
    };
    let icmp_info = match (rule.icmp_type, rule.code) {
        (Some(r#type), Some(code)) => Some(IcmpInfo { r#type, code }),
        _ => None,
    };
    SecurityGroupRule {
        protocol: rule.protocol,
        destinations: rule.destinations().map(str::to_owned).collect(),
        ports,
        port_range,
        icmp_info,
        log: rule.log.unwrap_or(false),
        annotations: groups
            .iter()
            .map(|g| format!("security_group_id:{g}"))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use ingot_bbs::Protocol;
    use serde_json::json;

    use super::*;
    use crate::model::{GloballyEnabled, security_group_rule::read_rules};

    fn group(guid: &str, rules: serde_json::Value) -> SecurityGroup {
        SecurityGroup {
            guid: guid.into(),
            name: guid.into(),
            globally_enabled: GloballyEnabled::default(),
            rules: read_rules(&rules).expect("valid rules").rules,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn capi_rules_become_diego_rules() {
        let g = group(
            "sg-1",
            json!([
                {"protocol": "tcp", "destination": "10.0.0.1,10.1.0.0/16", "ports": "80, 443"},
                {"protocol": "udp", "destination": "10.0.0.1-10.0.0.9", "ports": "8080-8090"},
                {"protocol": "icmp", "destination": "0.0.0.0/0", "type": -1, "code": 3},
                {"protocol": "all", "destination": "1.2.3.4", "description": "x", "log": false},
            ]),
        );
        let rules = egress_rules(&[&g]);
        for rule in &rules {
            assert_eq!(rule.validation_errors(), [], "the BBS accepts {rule:?}");
        }
        assert_eq!(
            serde_json::to_value(&rules).unwrap(),
            json!([
                {"protocol": "tcp", "destinations": ["10.0.0.1", "10.1.0.0/16"], "ports": [80, 443],
                 "log": false, "annotations": ["security_group_id:sg-1"]},
                {"protocol": "udp", "destinations": ["10.0.0.1-10.0.0.9"],
                 "port_range": {"start": 8080, "end": 8090},
                 "log": false, "annotations": ["security_group_id:sg-1"]},
                {"protocol": "icmp", "destinations": ["0.0.0.0/0"], "icmp_info": {"type": -1, "code": 3},
                 "log": false, "annotations": ["security_group_id:sg-1"]},
                {"protocol": "all", "destinations": ["1.2.3.4"],
                 "log": false, "annotations": ["security_group_id:sg-1"]},
            ])
        );
    }

    #[test]
    fn shared_rules_appear_once_and_logged_rules_last() {
        let dns = json!({"protocol": "udp", "destination": "0.0.0.0/0", "ports": "53"});
        let b = group(
            "sg-b",
            json!([{"protocol": "tcp", "destination": "10.0.0.0/8", "ports": "22", "log": true}, dns]),
        );
        let a = group(
            "sg-a",
            json!([dns, {"protocol": "all", "destination": "1.1.1.1"}]),
        );
        let rules = egress_rules(&[&b, &a]);
        let summary: Vec<(Protocol, bool, Vec<&str>)> = rules
            .iter()
            .map(|r| {
                (
                    r.protocol,
                    r.log,
                    r.annotations.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    Protocol::Udp,
                    false,
                    vec!["security_group_id:sg-a", "security_group_id:sg-b"]
                ),
                (Protocol::All, false, vec!["security_group_id:sg-a"]),
                (Protocol::Tcp, true, vec!["security_group_id:sg-b"]),
            ]
        );
        assert_eq!(egress_rules(&[]), []);
    }
}
