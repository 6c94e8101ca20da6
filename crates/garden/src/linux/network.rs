//! Container networking: an Ingot bridge on the host, and per container a network namespace
//! joined to it by a veth pair, with an address from a private subnet.
//!
//! The host reaches every container directly on its address (that is how the router and the
//! health checks reach instances); containers reach out through the bridge, NATed, as their
//! application security groups allow (see `firewall`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

use crate::error::Error;

/// The network settings of the linux backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// The host bridge containers attach to; also names the namespaces, veths and firewall
    /// table, so two backends on one host need different bridges.
    pub bridge: String,
    /// The private IPv4 subnet containers get addresses from; the bridge takes the first.
    pub subnet: Subnet,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            bridge: "ingot0".into(),
            // Garden's default container network pool.
            subnet: Subnet::parse("10.254.0.0/22").expect("valid default subnet"),
        }
    }
}

/// An IPv4 network, e.g. `10.254.0.0/22`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (ip, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a CIDR subnet like 10.254.0.0/22"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| format!("bad address in {text:?}"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("the prefix of {text:?} must be 8 to 30"))?;
        let mask = u32::MAX << (32 - prefix);
        Ok(Self {
            network: Ipv4Addr::from(u32::from(ip) & mask),
            prefix,
        })
    }

    fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + n)
    }

    /// The bridge's address: the first host of the subnet.
    pub fn gateway(&self) -> Ipv4Addr {
        self.host(1)
    }

    /// Container addresses: every host after the gateway, before the broadcast address.
    fn container_hosts(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        let size = 1u32 << (32 - self.prefix);
        (2..size - 1).map(|n| self.host(n))
    }
}

impl TryFrom<String> for Subnet {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The lowest address of the subnet not in `taken`.
pub(crate) fn allocate(subnet: &Subnet, taken: &BTreeSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    subnet.container_hosts().find(|ip| !taken.contains(ip))
}

/// The names of one container's network pieces, derived from its address (unique per
/// subnet) and the bridge, and kept short enough for interface names (15 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attachment {
    pub ip: Ipv4Addr,
    pub netns: String,
    pub host_veth: String,
}

impl Attachment {
    pub fn new(config: &NetworkConfig, ip: Ipv4Addr) -> Self {
        let id = format!("{:08x}", u32::from(ip));
        Self {
            ip,
            netns: format!("{}-{id}", config.bridge),
            host_veth: format!("iv{id}"),
        }
    }

    pub fn netns_path(&self) -> PathBuf {
        netns_dir().join(&self.netns)
    }
}

pub(crate) fn netns_dir() -> PathBuf {
    PathBuf::from("/run/netns")
}

/// Runs `ip [args] -batch -` with `commands`, one per line; the first failure stops it.
async fn ip_batch(args: &[&str], commands: &[String]) -> Result<(), Error> {
    let mut ip = Command::new("ip");
    ip.args(args).args(["-batch", "-"]);
    let what = format!("ip {}", commands.join("; "));
    super::command::run(ip, Some(&commands.join("\n")), &what)
        .await
        .map(drop)
}

/// Creates the bridge with the gateway address (if missing), brings it up and turns on IPv4
/// forwarding so containers can reach beyond the host.
pub(crate) async fn ensure_bridge(config: &NetworkConfig) -> Result<(), Error> {
    let bridge = &config.bridge;
    let sys = PathBuf::from("/sys/class/net").join(bridge);
    if !sys.exists() {
        ip_batch(&[], &[format!("link add {bridge} type bridge")]).await?;
    }
    let gateway = format!("{}/{}", config.subnet.gateway(), config.subnet.prefix);
    let mut show = Command::new("ip");
    show.args(["-4", "-o", "addr", "show", "dev", bridge]);
    let shown = super::command::run(show, None, "ip addr show").await?;
    let mut commands = Vec::new();
    if !String::from_utf8_lossy(&shown).contains(&format!("inet {gateway} ")) {
        commands.push(format!("addr add {gateway} dev {bridge}"));
    }
    commands.push(format!("link set {bridge} up"));
    ip_batch(&[], &commands).await?;
    tokio::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        .await
        .map_err(|e| Error::io("enabling IPv4 forwarding", e))
}

/// Makes the namespace and the veth pair: the host end on the bridge, the container end
/// `eth0` made inside the namespace (moving an interface there afterwards costs several
/// times as much).
pub(crate) async fn plug(config: &NetworkConfig, a: &Attachment) -> Result<(), Error> {
    let (netns, host) = (&a.netns, &a.host_veth);
    ip_batch(
        &[],
        &[
            format!("netns add {netns}"),
            format!("link add {host} type veth peer name eth0 netns {netns}"),
            format!("link set {host} master {}", config.bridge),
            // Isolated ports reach the host but not each other: no container-to-container
            // traffic, as in Cloud Foundry without network policies.
            format!("link set {host} type bridge_slave isolated on"),
            format!("link set {host} up"),
        ],
    )
    .await
}

/// Inside the namespace: `eth0`'s address, loopback, and the default route through the
/// bridge. Nothing in the container needs them before its first process, so this may run
/// while the runtime starts the init.
pub(crate) async fn configure(config: &NetworkConfig, a: &Attachment) -> Result<(), Error> {
    ip_batch(
        &["-n", &a.netns],
        &[
            format!("addr add {}/{} dev eth0", a.ip, config.subnet.prefix),
            "link set lo up".into(),
            "link set eth0 up".into(),
            format!("route add default via {}", config.subnet.gateway()),
        ],
    )
    .await
}

/// Removes the namespace (which takes the veth pair with it) and the host end if it is left.
/// Missing pieces are fine.
pub(crate) async fn detach(a: &Attachment) -> Result<(), Error> {
    if a.netns_path().exists() {
        ip_batch(&[], &[format!("netns delete {}", a.netns)]).await?;
    }
    // Deleting the namespace takes the pair with it, asynchronously; this catches a host end
    // left by a create that failed half-way, and may find it already gone.
    if PathBuf::from("/sys/class/net").join(&a.host_veth).exists() {
        let _ = ip_batch(&[], &[format!("link delete {}", a.host_veth)]).await;
    }
    Ok(())
}

/// Namespaces of this bridge's containers that exist on the host.
pub(crate) fn namespaces(config: &NetworkConfig) -> Vec<String> {
    let prefix = format!("{}-", config.bridge);
    std::fs::read_dir(netns_dir())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|name| name.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes a namespace by name (for leftovers no container claims).
pub(crate) async fn delete_namespace(name: &str) -> Result<(), Error> {
    ip_batch(&[], &[format!("netns delete {name}")]).await
}

/// Removes the bridge (when the last backend using it goes away in tests).
pub(crate) async fn delete_bridge(config: &NetworkConfig) -> Result<(), Error> {
    if PathBuf::from("/sys/class/net")
        .join(&config.bridge)
        .exists()
    {
        ip_batch(&[], &[format!("link delete {}", config.bridge)]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_normalise() {
        let s = Subnet::parse("10.254.1.7/22").unwrap();
        assert_eq!(s.to_string(), "10.254.0.0/22");
        assert_eq!(s.gateway(), Ipv4Addr::new(10, 254, 0, 1));
        assert!(Subnet::parse("10.0.0.0").is_err());
        assert!(Subnet::parse("10.0.0.0/31").is_err());
        assert!(Subnet::parse("x/24").is_err());
    }

    #[test]
    fn addresses_skip_the_gateway_and_broadcast_and_those_taken() {
        let s = Subnet::parse("10.9.0.0/30").unwrap();
        assert_eq!(
            allocate(&s, &BTreeSet::new()),
            Some(Ipv4Addr::new(10, 9, 0, 2))
        );
        let taken = BTreeSet::from([Ipv4Addr::new(10, 9, 0, 2)]);
        assert_eq!(allocate(&s, &taken), None);
    }

    #[test]
    fn names_fit_interface_limits() {
        let a = Attachment::new(&NetworkConfig::default(), Ipv4Addr::new(10, 254, 0, 2));
        assert_eq!(a.host_veth, "iv0afe0002");
        assert_eq!(a.netns, "ingot0-0afe0002");
    }
}
