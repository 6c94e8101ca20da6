//! A security group's rules as CAPI reads, keeps and shows them, checked the way CAPI checks
//! them: first every problem of every rule (`Rules[i]: ...`), then, when the request has no
//! other problem, the fields a rule's protocol does not take (CC's model check).
//!
//! Destinations may be comma-delimited (CC's `enable_comma_delimited_destinations`); IPv6 is
//! not supported (CC's `enable_ipv6` off), so `icmpv6` rules are refused.

use ingot_bbs::{Destination, DestinationError, Protocol};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most destinations one rule may list.
const MAX_DESTINATIONS: usize = 6000;
/// The longest a group's rules may be, serialised (CC's column: 16 MiB - 1).
const MAX_RULES_LENGTH: usize = (1 << 24) - 1;
/// The fields a rule may have.
const RULE_KEYS: [&str; 7] = [
    "code",
    "description",
    "destination",
    "log",
    "ports",
    "protocol",
    "type",
];

const BAD_DESTINATION: &str =
    "destination must contain valid CIDR(s), IP address(es), or IP address range(s)";
const BAD_PORTS: &str = "ports must be a valid single port, comma separated list of ports, or range or ports, formatted as a string";

/// One rule, with only the fields the request gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub protocol: Protocol,
    /// One or more comma-delimited IPv4 addresses, CIDRs or ranges `first-last`.
    pub destination: String,
    /// TCP and UDP: "443", "80,443" or "8080-8090".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    /// ICMP: the message type; -1 is any.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i32>,
    /// ICMP: the message code; -1 is any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<bool>,
}

impl Rule {
    /// A rule for `protocol` to `destination` with nothing else.
    pub fn new(protocol: Protocol, destination: &str) -> Self {
        Self {
            protocol,
            destination: destination.to_owned(),
            ports: None,
            icmp_type: None,
            code: None,
            description: None,
            log: None,
        }
    }

    /// The destinations of a comma-delimited `destination`.
    pub fn destinations(&self) -> impl Iterator<Item = &str> {
        self.destination.split(',')
    }
}

/// A rule's `ports`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ports {
    List(Vec<u16>),
    /// Both ends included; the first is below the last.
    Range(u16, u16),
}

impl Ports {
    /// CAPI's syntax: one port, a comma-separated list or a range `low-high`, whitespace
    /// allowed around the numbers.
    pub fn parse(ports: &str) -> Option<Self> {
        let allowed =
            |c: char| c.is_ascii_digit() || c.is_ascii_whitespace() || c == '-' || c == ',';
        if !ports.chars().all(allowed) {
            return None;
        }
        let port = |p: &str| {
            let p = p.trim();
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u16>().ok().filter(|n| *n > 0))
                .flatten()
        };
        if let Some((low, high)) = ports.split_once('-') {
            let (low, high) = (port(low)?, port(high)?);
            return (low < high).then_some(Self::Range(low, high));
        }
        let mut list: Vec<&str> = ports.split(',').collect();
        // As in CC, a trailing comma adds nothing.
        while list.last() == Some(&"") {
            list.pop();
        }
        if list.is_empty() {
            return None;
        }
        list.into_iter()
            .map(port)
            .collect::<Option<_>>()
            .map(Self::List)
    }
}

/// What reading `rules` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRules {
    pub rules: Vec<Rule>,
    /// CC's model check: fields a rule's protocol does not take, and the size of the set.
    /// Reported only when the request has no other problem.
    pub model_problems: Vec<String>,
}

/// Reads a request's `rules`; `Err` holds every problem of every rule.
pub fn read_rules(value: &Value) -> Result<ReadRules, Vec<String>> {
    let Value::Array(items) = value else {
        return Err(vec!["Rules must be an array".into()]);
    };
    let mut problems = Vec::new();
    let mut read = ReadRules {
        rules: Vec::new(),
        model_problems: Vec::new(),
    };
    for (index, item) in items.iter().enumerate() {
        let mut rule_problems = Vec::new();
        let rule = match item {
            Value::Object(obj) => read_rule(obj, &mut rule_problems),
            _ => {
                rule_problems.push("must be an object".into());
                None
            }
        };
        problems.extend(
            rule_problems
                .into_iter()
                .map(|p| format!("Rules[{index}]: {p}")),
        );
        if let (Some(rule), Value::Object(obj)) = (rule, item) {
            read.model_problems
                .extend(misplaced_fields(rule.protocol, obj).map(|key| {
                    format!(
                        "rules rule number {} contains the invalid field '{key}'",
                        index + 1
                    )
                }));
            read.rules.push(rule);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if serde_json::to_string(&read.rules).map_or(0, |s| s.len()) > MAX_RULES_LENGTH {
        read.model_problems.push(format!(
            "rules length must not exceed {MAX_RULES_LENGTH} characters"
        ));
    }
    Ok(read)
}

/// The fields present that `protocol` does not take (CC's model allows only its own).
fn misplaced_fields(protocol: Protocol, obj: &Map<String, Value>) -> impl Iterator<Item = &str> {
    let own: &[&str] = match protocol {
        Protocol::Tcp | Protocol::Udp => &["ports"],
        Protocol::Icmp => &["type", "code"],
        Protocol::All => &[],
    };
    obj.keys()
        .map(String::as_str)
        .filter(move |key| ["ports", "type", "code"].contains(key) && !own.contains(key))
}

/// One rule object: its problems go to `problems`; the rule comes back when there were none.
fn read_rule(obj: &Map<String, Value>, problems: &mut Vec<String>) -> Option<Rule> {
    let field = |key: &str| obj.get(key).filter(|v| !v.is_null());
    let unknown: Vec<String> = obj
        .keys()
        .filter(|k| !RULE_KEYS.contains(&k.as_str()))
        .map(|k| format!("\"{k}\""))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!("unknown field(s): [{}]", unknown.join(", ")));
    }
    let name = field("protocol").and_then(Value::as_str);
    let protocol = match name {
        Some("tcp") => Some(Protocol::Tcp),
        Some("udp") => Some(Protocol::Udp),
        Some("icmp") => Some(Protocol::Icmp),
        Some("all") => Some(Protocol::All),
        _ => None,
    };
    if protocol.is_none() && name != Some("icmpv6") {
        problems.push("protocol must be 'tcp', 'udp', 'icmp', 'icmpv6' or 'all'".into());
    }
    let destination = read_destination(field("destination"), problems);
    let description = field("description");
    if description.is_some_and(|d| !d.is_string()) {
        problems.push("description must be a string".into());
    }
    let log = field("log");
    if log.is_some_and(|l| !l.is_boolean()) {
        problems.push("log must be a boolean".into());
    }
    let (mut ports, mut icmp_type, mut code) = (None, None, None);
    match name {
        Some("tcp" | "udp") => {
            let given = field("ports");
            if given.is_none() {
                problems.push("ports are required for protocols of type TCP and UDP".into());
            }
            ports = given
                .and_then(Value::as_str)
                .filter(|p| Ports::parse(p).is_some());
            if ports.is_none() {
                problems.push(BAD_PORTS.into());
            }
        }
        Some(icmp @ ("icmp" | "icmpv6")) => {
            if icmp == "icmpv6" {
                problems.push("icmpv6 cannot be used if enable_ipv6 is false".into());
            }
            code = read_icmp(field("code"), "code", problems);
            icmp_type = read_icmp(field("type"), "type", problems);
        }
        Some("all") if field("ports").is_some() => {
            problems.push("ports are not allowed for protocols of type all".into());
        }
        _ => {}
    }
    if !problems.is_empty() {
        return None;
    }
    Some(Rule {
        protocol: protocol?,
        destination: destination?.to_owned(),
        ports: ports.map(str::to_owned),
        icmp_type,
        code,
        description: description.and_then(Value::as_str).map(str::to_owned),
        log: log.and_then(Value::as_bool),
    })
}

/// An ICMP type or code: an integer from -1 (any) to 255.
fn read_icmp(value: Option<&Value>, name: &str, problems: &mut Vec<String>) -> Option<i32> {
    if value.is_none() {
        problems.push(format!("{name} is required for protocols of type ICMP"));
    }
    let valid = value
        .and_then(Value::as_i64)
        .filter(|n| (-1..=255).contains(n))
        .and_then(|n| i32::try_from(n).ok());
    if valid.is_none() {
        problems.push(format!(
            "{name} must be an integer between -1 and 255 (inclusive)"
        ));
    }
    valid
}

/// A comma-delimited list of IPv4 addresses, CIDRs and ranges.
fn read_destination<'a>(value: Option<&'a Value>, problems: &mut Vec<String>) -> Option<&'a str> {
    let destination = match value {
        None => {
            problems.push("nil destination; destination must be a comma-delimited list of valid CIDRs, IP addresses, or IP address ranges".into());
            return None;
        }
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            problems.push("destination must be a string".into());
            return None;
        }
    };
    if destination.chars().any(char::is_whitespace) {
        problems.push("destination must not contain whitespace".into());
        return None;
    }
    let parts: Vec<&str> = destination.split(',').collect();
    if parts.len() > MAX_DESTINATIONS {
        problems.push(format!(
            "maximum destinations per rule exceeded - must be under {MAX_DESTINATIONS}"
        ));
    }
    for part in parts {
        if part.is_empty() {
            problems.push("empty destination specified in comma-delimited list".into());
        }
        let leading_zeros = part.split('-').any(has_leading_zeros);
        if leading_zeros {
            problems.push("destination octets cannot contain leading zeros".into());
        }
        match part.parse::<Destination>() {
            Ok(_) => {}
            // The leading zeros already explain why an address does not parse.
            Err(DestinationError::Invalid) if leading_zeros => {}
            Err(DestinationError::Invalid) => problems.push(BAD_DESTINATION.into()),
            Err(DestinationError::InvalidRange) => {
                problems.push("destination IP address range is invalid".into());
            }
            Err(DestinationError::InvertedRange) => problems.push(
                "beginning of IP address range is numerically greater than the end of its range (range endpoints are inverted)"
                    .into(),
            ),
        }
    }
    Some(destination)
}

/// `010.0.0.1` (but not `10.0.0.0/08`, whose prefix is not an octet).
fn has_leading_zeros(address: &str) -> bool {
    let address = address.split('/').next().unwrap_or_default();
    address
        .split('.')
        .any(|octet| octet.len() > 1 && octet.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(rules: Value) -> Vec<String> {
        read_rules(&rules).expect_err("invalid")
    }

    #[test]
    fn valid_rules_read_and_show_as_given() {
        let given = json!([
            {"protocol": "tcp", "destination": "10.10.10.0/24", "ports": "443,80,8080"},
            {"protocol": "icmp", "destination": "10.10.10.0/24", "type": 8, "code": 0,
             "description": "Allow ping requests to private services"},
            {"protocol": "udp", "destination": "1.1.1.1,2.2.2.2/24,10.0.0.0-10.0.0.255",
             "ports": " 53 - 54 ", "log": true},
            {"protocol": "all", "destination": "0.0.0.0-9.255.255.255"},
        ]);
        let read = read_rules(&given).expect("valid");
        assert!(read.model_problems.is_empty());
        assert_eq!(serde_json::to_value(&read.rules).unwrap(), given);
        assert_eq!(read.rules[1].icmp_type, Some(8));
        assert_eq!(
            read.rules[2].destinations().collect::<Vec<_>>(),
            ["1.1.1.1", "2.2.2.2/24", "10.0.0.0-10.0.0.255"]
        );
        assert_eq!(read_rules(&json!([])).unwrap().rules, []);
    }

    #[test]
    fn every_problem_of_every_rule() {
        assert_eq!(
            problems(json!([
                {"protocol": "sctp", "destination": "10.0.0.0/8", "foo": 1},
                {"protocol": "tcp", "destination": "10.0.0.0/8"},
                {"protocol": "udp", "destination": "10.0.0.1 ", "ports": "70000"},
                {"protocol": "icmp", "destination": "1.2.3.4", "type": 256},
                {"protocol": "all", "destination": "9.0.0.0-8.0.0.0,010.0.0.1,,1.2.3", "ports": "1"},
                "not a rule",
                {"protocol": "icmpv6", "destination": 5, "type": -1, "code": -1, "log": "yes",
                 "description": 3},
            ])),
            [
                "Rules[0]: unknown field(s): [\"foo\"]",
                "Rules[0]: protocol must be 'tcp', 'udp', 'icmp', 'icmpv6' or 'all'",
                "Rules[1]: ports are required for protocols of type TCP and UDP",
                "Rules[1]: ports must be a valid single port, comma separated list of ports, or range or ports, formatted as a string",
                "Rules[2]: destination must not contain whitespace",
                "Rules[2]: ports must be a valid single port, comma separated list of ports, or range or ports, formatted as a string",
                "Rules[3]: code is required for protocols of type ICMP",
                "Rules[3]: code must be an integer between -1 and 255 (inclusive)",
                "Rules[3]: type must be an integer between -1 and 255 (inclusive)",
                "Rules[4]: beginning of IP address range is numerically greater than the end of its range (range endpoints are inverted)",
                "Rules[4]: destination octets cannot contain leading zeros",
                "Rules[4]: empty destination specified in comma-delimited list",
                "Rules[4]: destination must contain valid CIDR(s), IP address(es), or IP address range(s)",
                "Rules[4]: destination must contain valid CIDR(s), IP address(es), or IP address range(s)",
                "Rules[4]: ports are not allowed for protocols of type all",
                "Rules[5]: must be an object",
                "Rules[6]: destination must be a string",
                "Rules[6]: description must be a string",
                "Rules[6]: log must be a boolean",
                "Rules[6]: icmpv6 cannot be used if enable_ipv6 is false",
            ]
        );
        assert_eq!(
            problems(json!({"protocol": "all"})),
            ["Rules must be an array"]
        );
        assert_eq!(
            problems(json!([{"protocol": "all", "destination": "1.2.3.4-1.2.3.0/24"}])),
            ["Rules[0]: destination IP address range is invalid"]
        );
        assert_eq!(
            problems(json!([{"protocol": "all"}])),
            [
                "Rules[0]: nil destination; destination must be a comma-delimited list of valid CIDRs, IP addresses, or IP address ranges"
            ]
        );
    }

    #[test]
    fn fields_the_protocol_does_not_take_are_model_problems() {
        let read = read_rules(&json!([
            {"protocol": "all", "destination": "1.2.3.4", "type": 8},
            {"protocol": "icmp", "destination": "1.2.3.4", "type": 8, "code": 0, "ports": "80"},
            {"protocol": "tcp", "destination": "1.2.3.4", "ports": "80", "log": false},
        ]))
        .expect("the request itself is valid");
        assert_eq!(
            read.model_problems,
            [
                "rules rule number 1 contains the invalid field 'type'",
                "rules rule number 2 contains the invalid field 'ports'",
            ]
        );
    }

    #[test]
    fn ports_parse_as_capi_reads_them() {
        assert_eq!(Ports::parse("443"), Some(Ports::List(vec![443])));
        assert_eq!(Ports::parse("80, 443,"), Some(Ports::List(vec![80, 443])));
        assert_eq!(Ports::parse("8080-8090"), Some(Ports::Range(8080, 8090)));
        for bad in [
            "",
            ",80",
            "0",
            "65536",
            "80-80",
            "90-80",
            "80-90,100",
            "1-2-3",
            "http",
            "80;443",
        ] {
            assert_eq!(Ports::parse(bad), None, "{bad:?}");
        }
    }
}
