//! Outbound traffic control with nftables: one table per bridge, one chain per container.
//!
//! Traffic from a container's address, to anywhere beyond its own namespace (other hosts,
//! and the host itself: Ingot's own ports), goes through the container's chain, which
//! accepts what its net-out rules (its application security groups) allow and refuses the
//! rest. Replies to connections the host opened (the router reaching an app) pass. Traffic
//! between containers never reaches these hooks: the bridge isolates its ports.

use std::net::Ipv4Addr;

use tokio::process::Command;

use super::network::NetworkConfig;
use crate::error::Error;
use crate::spec::{NetOutRule, NetProtocol};

/// The table of a bridge: nft names allow letters, digits and underscores.
pub(crate) fn table(config: &NetworkConfig) -> String {
    let name: String = config
        .bridge
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("ingot_{name}")
}

fn chain(ip: Ipv4Addr) -> String {
    format!("c_{:08x}", u32::from(ip))
}

/// The table, (re)created empty of containers: a verdict map from source address to the
/// container's chain, filter hooks for forwarded and host-bound traffic, and NAT out.
pub(crate) fn base_script(config: &NetworkConfig) -> String {
    let (t, br, subnet) = (table(config), &config.bridge, config.subnet);
    format!(
        "table ip {t}\n\
         delete table ip {t}\n\
         table ip {t} {{\n\
         \tmap egress {{ type ipv4_addr : verdict; }}\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority 0; policy accept;\n\
         \t\tiifname \"{br}\" ct state established,related accept\n\
         \t\tiifname \"{br}\" ip saddr vmap @egress\n\
         \t\tiifname \"{br}\" drop\n\
         \t}}\n\
         \tchain input {{\n\
         \t\ttype filter hook input priority 0; policy accept;\n\
         \t\tiifname \"{br}\" ct state established,related accept\n\
         \t\tiifname \"{br}\" ip saddr vmap @egress\n\
         \t\tiifname \"{br}\" drop\n\
         \t}}\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority 100; policy accept;\n\
         \t\tip saddr {subnet} oifname != \"{br}\" masquerade\n\
         \t}}\n\
         }}\n"
    )
}

fn ranges(rule: &NetOutRule) -> String {
    let items: Vec<String> = rule
        .networks
        .iter()
        .map(|r| {
            if r.start == r.end {
                r.start.to_string()
            } else {
                format!("{}-{}", r.start, r.end)
            }
        })
        .collect();
    format!("{{ {} }}", items.join(", "))
}

/// The match part of a rule, or `None` for a rule that allows nothing.
fn matcher(rule: &NetOutRule) -> Option<String> {
    if rule.networks.is_empty() {
        return None;
    }
    let daddr = format!("ip daddr {}", ranges(rule));
    let ports = || {
        let items: Vec<String> = rule
            .ports
            .iter()
            .map(|p| {
                if p.start == p.end {
                    p.start.to_string()
                } else {
                    format!("{}-{}", p.start, p.end)
                }
            })
            .collect();
        format!("{{ {} }}", items.join(", "))
    };
    Some(match rule.protocol {
        NetProtocol::All => daddr,
        NetProtocol::Tcp | NetProtocol::Udp => {
            let proto = if rule.protocol == NetProtocol::Tcp {
                "tcp"
            } else {
                "udp"
            };
            if rule.ports.is_empty() {
                format!("{daddr} meta l4proto {proto}")
            } else {
                format!("{daddr} {proto} dport {}", ports())
            }
        }
        NetProtocol::Icmp => match rule.icmp {
            None => format!("{daddr} meta l4proto icmp"),
            Some(icmp) => match icmp.code {
                None => format!("{daddr} icmp type {}", icmp.kind),
                Some(code) => format!("{daddr} icmp type {} icmp code {code}", icmp.kind),
            },
        },
    })
}

/// Adds a container's chain with its rules, then points its address at it.
pub(crate) fn add_container_script(
    config: &NetworkConfig,
    ip: Ipv4Addr,
    handle: &str,
    rules: &[NetOutRule],
) -> String {
    let (t, c) = (table(config), chain(ip));
    let mut script = format!("add chain ip {t} {c}\n");
    let log_prefix: String = handle.chars().take(16).collect();
    for rule in rules {
        let Some(m) = matcher(rule) else { continue };
        if rule.log {
            script.push_str(&format!(
                "add rule ip {t} {c} {m} ct state new log prefix \"ingot {log_prefix} \"\n"
            ));
        }
        script.push_str(&format!("add rule ip {t} {c} {m} accept\n"));
    }
    script.push_str(&format!(
        "add rule ip {t} {c} meta l4proto tcp reject with tcp reset\n\
         add rule ip {t} {c} reject with icmp type admin-prohibited\n\
         add element ip {t} egress {{ {ip} : jump {c} }}\n"
    ));
    script
}

/// Points the address at nothing and removes the chain.
pub(crate) fn remove_container_script(config: &NetworkConfig, ip: Ipv4Addr) -> String {
    let (t, c) = (table(config), chain(ip));
    format!(
        "delete element ip {t} egress {{ {ip} }}\n\
         flush chain ip {t} {c}\n\
         delete chain ip {t} {c}\n"
    )
}

pub(crate) fn delete_table_script(config: &NetworkConfig) -> String {
    let t = table(config);
    format!("table ip {t}\ndelete table ip {t}\n")
}

/// Applies a script atomically with `nft -f -`.
pub(crate) async fn apply(script: &str) -> Result<(), Error> {
    let mut nft = Command::new("nft");
    nft.args(["-f", "-"]);
    super::command::run(nft, Some(script), "nft")
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{IcmpControl, IpRange, PortRange};

    fn range(a: &str, b: &str) -> IpRange {
        IpRange {
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        }
    }

    #[test]
    fn rules_render_as_nft_matches() {
        let tcp = NetOutRule {
            protocol: NetProtocol::Tcp,
            networks: vec![
                range("10.0.0.1", "10.0.0.1"),
                range("1.0.0.0", "9.255.255.255"),
            ],
            ports: vec![
                PortRange {
                    start: 443,
                    end: 443,
                },
                PortRange {
                    start: 8080,
                    end: 8090,
                },
            ],
            icmp: None,
            log: false,
        };
        assert_eq!(
            matcher(&tcp).unwrap(),
            "ip daddr { 10.0.0.1, 1.0.0.0-9.255.255.255 } tcp dport { 443, 8080-8090 }"
        );
        let icmp = NetOutRule {
            protocol: NetProtocol::Icmp,
            networks: vec![range("0.0.0.0", "255.255.255.255")],
            ports: vec![],
            icmp: Some(IcmpControl {
                kind: 8,
                code: Some(0),
            }),
            log: true,
        };
        assert_eq!(
            matcher(&icmp).unwrap(),
            "ip daddr { 0.0.0.0-255.255.255.255 } icmp type 8 icmp code 0"
        );
        let nothing = NetOutRule {
            networks: vec![],
            ..icmp.clone()
        };
        assert_eq!(matcher(&nothing), None);
        let script = add_container_script(
            &NetworkConfig::default(),
            "10.254.0.2".parse().unwrap(),
            "h",
            &[icmp],
        );
        assert!(script.contains("log prefix"));
        assert!(
            script
                .ends_with("add element ip ingot_ingot0 egress { 10.254.0.2 : jump c_0afe0002 }\n")
        );
    }

    #[test]
    fn the_base_table_refuses_unknown_sources() {
        let script = base_script(&NetworkConfig::default());
        assert!(script.contains("iifname \"ingot0\" ip saddr vmap @egress"));
        assert!(script.contains("ip saddr 10.254.0.0/22 oifname != \"ingot0\" masquerade"));
    }
}
