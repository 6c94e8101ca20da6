//! Egress rules: where an LRP's instances or a task may open connections. The Cloud
//! Controller computes them from application security groups; the cell turns them into its
//! container's network rules. Everything not allowed by a rule is denied. Serialised as
//! Diego's `SecurityGroupRule`.

use std::{net::Ipv4Addr, str::FromStr};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::Validator;
use crate::error::FieldError;

/// The traffic a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
            Self::All => "all",
        }
    }

    fn has_ports(self) -> bool {
        matches!(self, Self::Tcp | Self::Udp)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ports `start` to `end`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

/// The ICMP messages a rule allows; -1 in either field means any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcmpInfo {
    pub r#type: i32,
    pub code: i32,
}

/// One egress rule. `ports` and `port_range` are for TCP and UDP only (one or the other),
/// `icmp_info` for ICMP only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub protocol: Protocol,
    /// Each an IPv4 address, a CIDR or a range `first-last`; see [`Destination`].
    #[serde(default)]
    pub destinations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_info: Option<IcmpInfo>,
    /// Log the connections this rule allows.
    #[serde(default)]
    pub log: bool,
    /// Free text for operators, e.g. the security groups the rule came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<String>,
}

impl SecurityGroupRule {
    /// Every bad field, as Diego checks them.
    pub fn validation_errors(&self) -> Vec<FieldError> {
        let mut v = Validator::new();
        let ports_given = !self.ports.is_empty();
        let range_given = self.port_range.is_some();
        if self.protocol.has_ports() {
            v.check(
                ports_given || range_given,
                "ports",
                "ports or port_range is required",
            );
            v.check(
                !(ports_given && range_given),
                "port_range",
                "ports and port_range are exclusive",
            );
            v.check(
                self.ports.iter().all(|p| *p > 0),
                "ports",
                "must be valid ports",
            );
            v.check(
                self.port_range
                    .is_none_or(|r| r.start > 0 && r.start <= r.end),
                "port_range",
                "must start at a valid port and not end before it",
            );
        } else {
            let protocol = self.protocol.as_str();
            let not_allowed = format!("is not allowed for protocol {protocol}");
            v.check(!ports_given, "ports", &not_allowed);
            v.check(!range_given, "port_range", &not_allowed);
        }
        match self.protocol {
            Protocol::Icmp => v.check(self.icmp_info.is_some(), "icmp_info", "is required"),
            protocol => v.check(
                self.icmp_info.is_none(),
                "icmp_info",
                &format!("is not allowed for protocol {protocol}"),
            ),
        };
        v.check(
            !self.destinations.is_empty(),
            "destinations",
            "must have at least 1 destination",
        );
        for (i, destination) in self.destinations.iter().enumerate() {
            if let Err(e) = destination.parse::<Destination>() {
                v.check(false, &format!("destinations[{i}]"), &e.to_string());
            }
        }
        v.into_errors()
    }
}

/// A rule's destination, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `10.0.0.1`
    Address(Ipv4Addr),
    /// `10.0.0.0/8`
    Network(Ipv4Net),
    /// `10.0.0.1-10.0.0.9`, both ends included.
    Range(Ipv4Addr, Ipv4Addr),
}

/// Why a destination does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("must be an IPv4 address, a CIDR or a range of IPv4 addresses")]
    Invalid,
    #[error("must be a range of two IPv4 addresses")]
    InvalidRange,
    #[error("must not end before it starts")]
    InvertedRange,
}

impl FromStr for Destination {
    type Err = DestinationError;

    fn from_str(s: &str) -> Result<Self, DestinationError> {
        if let Some((first, last)) = s.split_once('-') {
            if last.contains('-') {
                return Err(DestinationError::Invalid);
            }
            let (Ok(first), Ok(last)) = (first.parse::<Ipv4Addr>(), last.parse::<Ipv4Addr>())
            else {
                return Err(DestinationError::InvalidRange);
            };
            return if first <= last {
                Ok(Self::Range(first, last))
            } else {
                Err(DestinationError::InvertedRange)
            };
        }
        if s.contains('/') {
            return s
                .parse()
                .map(Self::Network)
                .map_err(|_| DestinationError::Invalid);
        }
        s.parse()
            .map(Self::Address)
            .map_err(|_| DestinationError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(protocol: Protocol) -> SecurityGroupRule {
        SecurityGroupRule {
            protocol,
            destinations: vec!["10.0.0.0/8".into()],
            ports: Vec::new(),
            port_range: None,
            icmp_info: None,
            log: false,
            annotations: Vec::new(),
        }
    }

    fn fields(rule: &SecurityGroupRule) -> Vec<String> {
        rule.validation_errors()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn serialises_like_diego() {
        let tcp = SecurityGroupRule {
            port_range: Some(PortRange {
                start: 8080,
                end: 8090,
            }),
            log: true,
            annotations: vec!["security_group_id:sg-1".into()],
            ..rule(Protocol::Tcp)
        };
        let json = serde_json::to_value(&tcp).unwrap();
        assert_eq!(
            json,
            json!({
                "protocol": "tcp",
                "destinations": ["10.0.0.0/8"],
                "port_range": {"start": 8080, "end": 8090},
                "log": true,
                "annotations": ["security_group_id:sg-1"],
            })
        );
        assert_eq!(
            serde_json::from_value::<SecurityGroupRule>(json).unwrap(),
            tcp
        );
        let icmp: SecurityGroupRule = serde_json::from_value(json!({
            "protocol": "icmp", "destinations": ["1.2.3.4"], "icmp_info": {"type": 8, "code": -1},
        }))
        .unwrap();
        assert_eq!(
            icmp.icmp_info,
            Some(IcmpInfo {
                r#type: 8,
                code: -1
            })
        );
        assert!(
            serde_json::from_value::<SecurityGroupRule>(
                json!({"protocol": "sctp", "destinations": ["1.2.3.4"]})
            )
            .is_err(),
            "an unknown protocol is refused"
        );
    }

    #[test]
    fn valid_rules_pass() {
        let tcp = SecurityGroupRule {
            ports: vec![80, 443],
            ..rule(Protocol::Tcp)
        };
        let udp = SecurityGroupRule {
            port_range: Some(PortRange { start: 53, end: 53 }),
            destinations: vec!["0.0.0.0-9.255.255.255".into(), "8.8.8.8".into()],
            ..rule(Protocol::Udp)
        };
        let icmp = SecurityGroupRule {
            icmp_info: Some(IcmpInfo {
                r#type: -1,
                code: -1,
            }),
            ..rule(Protocol::Icmp)
        };
        for r in [tcp, udp, icmp, rule(Protocol::All)] {
            assert_eq!(r.validation_errors(), [], "{r:?}");
        }
    }

    #[test]
    fn ports_and_icmp_info_follow_the_protocol() {
        assert_eq!(fields(&rule(Protocol::Tcp)), ["ports"]);
        let both = SecurityGroupRule {
            ports: vec![0],
            port_range: Some(PortRange { start: 9, end: 8 }),
            icmp_info: Some(IcmpInfo { r#type: 0, code: 0 }),
            ..rule(Protocol::Udp)
        };
        assert_eq!(
            fields(&both),
            ["port_range", "ports", "port_range", "icmp_info"]
        );
        assert_eq!(fields(&rule(Protocol::Icmp)), ["icmp_info"]);
        let all = SecurityGroupRule {
            ports: vec![80],
            port_range: Some(PortRange { start: 1, end: 2 }),
            icmp_info: Some(IcmpInfo { r#type: 0, code: 0 }),
            ..rule(Protocol::All)
        };
        assert_eq!(fields(&all), ["ports", "port_range", "icmp_info"]);
    }

    #[test]
    fn destinations_must_parse() {
        let none = SecurityGroupRule {
            destinations: Vec::new(),
            ..rule(Protocol::All)
        };
        assert_eq!(fields(&none), ["destinations"]);
        let bad = SecurityGroupRule {
            destinations: vec![
                "10.0.0.0/8".into(),
                "10.0.0.0/33".into(),
                "1.2.3".into(),
                "1.2.3.9-1.2.3.1".into(),
                "::1".into(),
            ],
            ..rule(Protocol::All)
        };
        assert_eq!(
            fields(&bad),
            [
                "destinations[1]",
                "destinations[2]",
                "destinations[3]",
                "destinations[4]"
            ]
        );
    }

    #[test]
    fn destinations_parse() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!("1.2.3.4".parse(), Ok(Destination::Address(ip("1.2.3.4"))));
        assert_eq!(
            "10.0.0.0/8".parse(),
            Ok(Destination::Network("10.0.0.0/8".parse().unwrap()))
        );
        assert_eq!(
            "1.2.3.4-1.2.3.4".parse(),
            Ok(Destination::Range(ip("1.2.3.4"), ip("1.2.3.4")))
        );
        for (bad, why) in [
            ("", DestinationError::Invalid),
            ("1.2.3.4/", DestinationError::Invalid),
            ("010.0.0.1", DestinationError::Invalid),
            ("1.2.3.4-5.6.7.8-9.9.9.9", DestinationError::Invalid),
            ("1.2.3.0/24-1.2.4.0", DestinationError::InvalidRange),
            ("1.2.3.4-", DestinationError::InvalidRange),
            ("9.0.0.0-8.255.255.255", DestinationError::InvertedRange),
        ] {
            assert_eq!(bad.parse::<Destination>(), Err(why), "{bad}");
        }
    }
}
