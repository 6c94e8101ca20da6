//! What a caller asks for: container and process specs, and their validation.
//!
//! Pure data. Validation collects every bad field into one `Error::InvalidSpec`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError};
use crate::model::PortMapping;

/// A container's properties: free-form labels the caller sets and filters on.
pub type Properties = BTreeMap<String, String>;

/// How long a graceful stop waits between SIGTERM and SIGKILL, as in Cloud Foundry.
pub const DEFAULT_GRACE_TIME: Duration = Duration::from_secs(10);

/// What to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// The container's handle; generated when empty. Letters, digits, `.`, `_` and `-`.
    #[serde(default)]
    pub handle: String,
    /// The root file system, e.g. `preloaded:cflinuxfs4` or a path. The process backend
    /// records it but runs everything on the host's file system.
    #[serde(default)]
    pub rootfs: String,
    /// `KEY=VALUE` pairs every process in the container gets.
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub bind_mounts: Vec<BindMount>,
    #[serde(default)]
    pub limits: Limits,
    /// Ports to map at creation; the same as calling `net_in` for each.
    #[serde(default)]
    pub net_in: Vec<PortMapping>,
    #[serde(default)]
    pub properties: Properties,
    /// How long `stop(false)` waits after SIGTERM before SIGKILL; `None` means
    /// [`DEFAULT_GRACE_TIME`].
    #[serde(default)]
    pub grace_time: Option<Duration>,
    /// Outbound traffic the container may send; everything else is refused. Backends without
    /// a network of their own record them only.
    #[serde(default)]
    pub net_out: Vec<NetOutRule>,
}

/// One allowance for outbound traffic (Garden's net-out rule), e.g. from an application
/// security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetOutRule {
    pub protocol: NetProtocol,
    /// Destination addresses; empty means none.
    pub networks: Vec<IpRange>,
    /// Destination ports (TCP and UDP only); empty means every port.
    #[serde(default)]
    pub ports: Vec<PortRange>,
    /// The ICMP type and code allowed (ICMP only); `None` allows all ICMP.
    #[serde(default)]
    pub icmp: Option<IcmpControl>,
    /// Log the first packet of each connection this rule allows.
    #[serde(default)]
    pub log: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetProtocol {
    All,
    Tcp,
    Udp,
    Icmp,
}

/// An inclusive range of IPv4 addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpRange {
    pub start: std::net::Ipv4Addr,
    pub end: std::net::Ipv4Addr,
}

/// An inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcmpControl {
    #[serde(rename = "type")]
    pub kind: u8,
    /// `None` allows every code of the type.
    #[serde(default)]
    pub code: Option<u8>,
}

/// A host directory made visible inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Absolute path on the host.
    pub src: String,
    /// Absolute path inside the container.
    pub dst: String,
    #[serde(default)]
    pub mode: BindMountMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMountMode {
    #[default]
    Ro,
    Rw,
}

/// A container's resource limits. `None` means unlimited. Which ones a backend enforces is
/// documented on the backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub disk_bytes: Option<u64>,
    pub pids: Option<u64>,
    /// Relative CPU share.
    pub cpu_weight: Option<u64>,
    pub open_files: Option<u64>,
}

/// What to run in a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// The process id; generated when `None`. Must be unique within the container.
    #[serde(default)]
    pub id: Option<String>,
    /// The executable: a path, or a name looked up in `PATH`.
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// `KEY=VALUE` pairs, added after (and overriding) the container's env.
    #[serde(default)]
    pub env: Vec<String>,
    /// Working directory inside the container; the container's root when `None`.
    #[serde(default)]
    pub dir: Option<String>,
    /// The user to run as inside the container; empty means the backend's default.
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub limits: ProcessLimits,
}

/// Per-process limits; each overrides the container's limit of the same name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessLimits {
    pub open_files: Option<u64>,
}

/// Whether `handle` is safe as a single path component and a URL segment.
pub fn is_valid_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= 128
        && handle != "."
        && handle != ".."
        && handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_env(prefix: &str, env: &[String], fields: &mut Vec<FieldError>) {
    for (i, pair) in env.iter().enumerate() {
        match pair.split_once('=') {
            Some((key, _)) if !key.is_empty() => {}
            _ => fields.push(FieldError::new(
                format!("{prefix}[{i}]"),
                "must be KEY=VALUE",
            )),
        }
    }
}

impl ContainerSpec {
    /// Checks every field and reports all bad ones at once.
    pub fn validate(&self) -> Result<(), Error> {
        let mut fields = Vec::new();
        if !self.handle.is_empty() && !is_valid_handle(&self.handle) {
            fields.push(FieldError::new(
                "handle",
                "must be at most 128 letters, digits, '.', '_' or '-'",
            ));
        }
        check_env("env", &self.env, &mut fields);
        for (i, mount) in self.bind_mounts.iter().enumerate() {
            if !mount.src.starts_with('/') {
                fields.push(FieldError::new(
                    format!("bind_mounts[{i}].src"),
                    "must be an absolute path",
                ));
            }
            if !mount.dst.starts_with('/') || mount.dst.split('/').any(|c| c == "..") {
                fields.push(FieldError::new(
                    format!("bind_mounts[{i}].dst"),
                    "must be an absolute path without '..'",
                ));
            }
        }
        if self.limits.memory_bytes == Some(0) {
            fields.push(FieldError::new("limits.memory_bytes", "must not be 0"));
        }
        if self.limits.open_files == Some(0) {
            fields.push(FieldError::new("limits.open_files", "must not be 0"));
        }
        for (i, rule) in self.net_out.iter().enumerate() {
            if rule.networks.iter().any(|n| n.start > n.end) {
                fields.push(FieldError::new(
                    format!("net_out[{i}].networks"),
                    "start must not be after end",
                ));
            }
            if rule.ports.iter().any(|p| p.start > p.end) {
                fields.push(FieldError::new(
                    format!("net_out[{i}].ports"),
                    "start must not be after end",
                ));
            }
            if !rule.ports.is_empty()
                && !matches!(rule.protocol, NetProtocol::Tcp | NetProtocol::Udp)
            {
                fields.push(FieldError::new(
                    format!("net_out[{i}].ports"),
                    "only tcp and udp rules have ports",
                ));
            }
            if rule.icmp.is_some() && rule.protocol != NetProtocol::Icmp {
                fields.push(FieldError::new(
                    format!("net_out[{i}].icmp"),
                    "only icmp rules have an icmp type",
                ));
            }
        }
        if fields.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidSpec { fields })
        }
    }
}

impl ProcessSpec {
    /// Checks every field and reports all bad ones at once.
    pub fn validate(&self) -> Result<(), Error> {
        let mut fields = Vec::new();
        if self.path.is_empty() {
            fields.push(FieldError::new("path", "must not be empty"));
        }
        if let Some(id) = &self.id
            && !is_valid_handle(id)
        {
            fields.push(FieldError::new(
                "id",
                "must be at most 128 letters, digits, '.', '_' or '-'",
            ));
        }
        check_env("env", &self.env, &mut fields);
        if self.limits.open_files == Some(0) {
            fields.push(FieldError::new("limits.open_files", "must not be 0"));
        }
        if fields.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidSpec { fields })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_names(err: Error) -> Vec<String> {
        match err {
            Error::InvalidSpec { fields } => fields.into_iter().map(|f| f.field).collect(),
            other => panic!("expected InvalidSpec, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_container_spec_is_valid() {
        ContainerSpec::default().validate().unwrap();
    }

    #[test]
    fn container_spec_collects_every_bad_field() {
        let spec = ContainerSpec {
            handle: "../etc".into(),
            env: vec!["OK=1".into(), "broken".into(), "=x".into()],
            bind_mounts: vec![BindMount {
                src: "relative".into(),
                dst: "/a/../b".into(),
                mode: BindMountMode::Ro,
            }],
            limits: Limits {
                memory_bytes: Some(0),
                open_files: Some(0),
                ..Limits::default()
            },
            ..ContainerSpec::default()
        };
        assert_eq!(
            field_names(spec.validate().unwrap_err()),
            [
                "handle",
                "env[1]",
                "env[2]",
                "bind_mounts[0].src",
                "bind_mounts[0].dst",
                "limits.memory_bytes",
                "limits.open_files"
            ]
        );
    }

    #[test]
    fn process_spec_needs_a_path_and_a_safe_id() {
        let spec = ProcessSpec {
            id: Some("a/b".into()),
            env: vec!["x".into()],
            ..ProcessSpec::default()
        };
        assert_eq!(
            field_names(spec.validate().unwrap_err()),
            ["path", "id", "env[0]"]
        );
    }

    #[test]
    fn handles() {
        assert!(is_valid_handle("app-1_guid.0"));
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(129)] {
            assert!(!is_valid_handle(bad), "{bad:?}");
        }
    }
}
