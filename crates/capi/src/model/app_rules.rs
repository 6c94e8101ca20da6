//! Cloud Controller's rules for apps and processes: what a new process starts with, what a
//! scale or a health check may ask for, and how a droplet's process types become processes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{App, HealthCheck, HealthCheckType, Process, listable};

/// The process type that receives routes and gets one instance by default.
pub const WEB: &str = "web";
/// CC's `default_app_memory` and `default_app_disk_in_mb`.
pub const DEFAULT_MEMORY_MB: u64 = 1024;
pub const DEFAULT_DISK_MB: u64 = 1024;
/// CC's `maximum_app_disk_in_mb`.
pub const MAX_DISK_MB: u64 = 2048;
/// CC's `maximum_health_check_timeout`, in seconds.
pub const MAX_HEALTH_CHECK_TIMEOUT: i64 = 180;
/// CC caps instances at this.
pub const MAX_INSTANCES: i64 = 2_000_000;

listable!(App { name, labels });

listable!(Process { labels });

/// A process of `process_type` with CC's defaults: one instance of `web` (none of any other
/// type), 1 GB memory and disk, a port check for `web` and a process check otherwise.
pub fn new_process(
    guid: String,
    app_guid: &str,
    process_type: &str,
    version: String,
    now: DateTime<Utc>,
) -> Process {
    let web = process_type == WEB;
    Process {
        guid,
        app_guid: app_guid.to_owned(),
        process_type: process_type.to_owned(),
        command: None,
        instances: u32::from(web),
        memory_in_mb: DEFAULT_MEMORY_MB,
        disk_in_mb: DEFAULT_DISK_MB,
        log_rate_limit_in_bytes_per_second: -1,
        health_check: HealthCheck {
            kind: if web {
                HealthCheckType::Port
            } else {
                HealthCheckType::Process
            },
            endpoint: None,
            timeout: None,
            invocation_timeout: None,
        },
        version,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
    }
}

/// What a scale asks for; absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scale {
    pub instances: Option<i64>,
    pub memory_in_mb: Option<i64>,
    pub disk_in_mb: Option<i64>,
}

impl Scale {
    /// CC's ProcessScaleMessage rules plus the maximum disk.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(i) = self.instances {
            if i < 0 {
                out.push("Instances must be greater than or equal to 0".into());
            } else if i > MAX_INSTANCES {
                out.push(format!(
                    "Instances must be less than or equal to {MAX_INSTANCES}"
                ));
            }
        }
        if self.memory_in_mb.is_some_and(|m| m < 1) {
            out.push("Memory in mb must be greater than 0".into());
        }
        match self.disk_in_mb {
            Some(d) if d < 1 => out.push("Disk in mb must be greater than 0".into()),
            Some(d) if d > MAX_DISK_MB as i64 => out.push(format!(
                "disk_quota too much disk requested (requested {d} MB - must be less than {MAX_DISK_MB} MB)"
            )),
            _ => {}
        }
        out
    }

    /// Applies a scale that has no problems.
    pub fn apply(&self, p: &mut Process) {
        if let Some(i) = self.instances {
            p.instances = u32::try_from(i).unwrap_or(u32::MAX);
        }
        if let Some(m) = self.memory_in_mb {
            p.memory_in_mb = m.unsigned_abs();
        }
        if let Some(d) = self.disk_in_mb {
            p.disk_in_mb = d.unsigned_abs();
        }
    }
}

/// A change to a process's health check: outer `None` leaves a field alone, inner `None`
/// resets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheckPatch {
    pub kind: Option<HealthCheckType>,
    pub endpoint: Option<Option<String>>,
    pub timeout: Option<Option<i64>>,
    pub invocation_timeout: Option<Option<i64>>,
}

impl HealthCheckPatch {
    pub fn is_empty(&self) -> bool {
        *self == HealthCheckPatch::default()
    }

    /// The health check after the patch, or every problem with it (CC's HealthCheckPolicy).
    pub fn applied_to(&self, current: &HealthCheck) -> Result<HealthCheck, Vec<String>> {
        let mut problems = Vec::new();
        let mut seconds = |name: &str, field: Option<Option<i64>>, old: Option<u32>| match field {
            None => old,
            Some(None) => None,
            Some(Some(s)) if s < 1 => {
                problems.push(format!("{name} must be greater than or equal to 1"));
                None
            }
            Some(Some(s)) if name == "Health check timeout" && s > MAX_HEALTH_CHECK_TIMEOUT => {
                problems.push(format!(
                    "{name} Maximum exceeded: max {MAX_HEALTH_CHECK_TIMEOUT}s"
                ));
                None
            }
            Some(Some(s)) => Some(u32::try_from(s).unwrap_or(u32::MAX)),
        };
        let timeout = seconds("Health check timeout", self.timeout, current.timeout);
        let invocation_timeout = seconds(
            "Health check invocation timeout",
            self.invocation_timeout,
            current.invocation_timeout,
        );
        let kind = self.kind.unwrap_or(current.kind);
        let endpoint = match (kind, &self.endpoint) {
            (HealthCheckType::Http, Some(Some(e))) => Some(e.clone()),
            (HealthCheckType::Http, Some(None)) => Some("/".to_owned()),
            (HealthCheckType::Http, None) => {
                Some(current.endpoint.clone().unwrap_or_else(|| "/".into()))
            }
            // Only http checks have an endpoint.
            _ => None,
        };
        if let Some(e) = &endpoint
            && !is_uri_path(e)
        {
            problems.push(format!(
                "HTTP health check endpoint is not a valid URI path: {e}"
            ));
        }
        if problems.is_empty() {
            Ok(HealthCheck {
                kind,
                endpoint,
                timeout,
                invocation_timeout,
            })
        } else {
            Err(problems)
        }
    }
}

fn is_uri_path(s: &str) -> bool {
    s.starts_with('/') && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub fn parse_health_check_type(s: &str) -> Option<HealthCheckType> {
    match s {
        "port" => Some(HealthCheckType::Port),
        "process" | "none" => Some(HealthCheckType::Process),
        "http" => Some(HealthCheckType::Http),
        _ => None,
    }
}

/// The process types an app has once `droplet_types` is its current droplet's: `web` always,
/// plus the droplet's types. Returns (types to create, existing processes to delete); CC
/// removes processes whose type the new droplet no longer declares.
pub fn reconcile_process_types<'a>(
    existing: &'a [Process],
    droplet_types: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<&'a Process>) {
    let wanted: BTreeSet<&str> = droplet_types
        .keys()
        .map(String::as_str)
        .chain([WEB])
        .collect();
    let have: BTreeSet<&str> = existing.iter().map(|p| p.process_type.as_str()).collect();
    let create = wanted
        .iter()
        .filter(|t| !have.contains(*t))
        .map(|t| (*t).to_owned())
        .collect();
    let delete = existing
        .iter()
        .filter(|p| !wanted.contains(p.process_type.as_str()))
        .collect();
    (create, delete)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(t: &str) -> Process {
        new_process(t.into(), "app", t, "v1".into(), Utc::now())
    }

    #[test]
    fn defaults_by_type() {
        let web = process("web");
        assert_eq!(web.instances, 1);
        assert_eq!(web.health_check.kind, HealthCheckType::Port);
        assert_eq!((web.memory_in_mb, web.disk_in_mb), (1024, 1024));
        assert_eq!(web.log_rate_limit_in_bytes_per_second, -1);
        let worker = process("worker");
        assert_eq!(worker.instances, 0);
        assert_eq!(worker.health_check.kind, HealthCheckType::Process);
    }

    #[test]
    fn scale_limits() {
        let bad = Scale {
            instances: Some(-1),
            memory_in_mb: Some(0),
            disk_in_mb: Some(4096),
        };
        assert_eq!(
            bad.problems(),
            [
                "Instances must be greater than or equal to 0",
                "Memory in mb must be greater than 0",
                "disk_quota too much disk requested (requested 4096 MB - must be less than 2048 MB)",
            ]
        );
        let good = Scale {
            instances: Some(3),
            memory_in_mb: Some(256),
            disk_in_mb: None,
        };
        assert!(good.problems().is_empty());
        let mut p = process("web");
        good.apply(&mut p);
        assert_eq!((p.instances, p.memory_in_mb, p.disk_in_mb), (3, 256, 1024));
    }

    #[test]
    fn health_checks() {
        let port = process("web").health_check;
        let http = HealthCheckPatch {
            kind: Some(HealthCheckType::Http),
            endpoint: Some(Some("/health".into())),
            timeout: Some(Some(60)),
            invocation_timeout: Some(Some(2)),
        }
        .applied_to(&port)
        .expect("valid");
        assert_eq!(http.endpoint.as_deref(), Some("/health"));
        assert_eq!((http.timeout, http.invocation_timeout), (Some(60), Some(2)));
        // Switching back to port drops the endpoint and keeps the timeouts.
        let back = HealthCheckPatch {
            kind: Some(HealthCheckType::Port),
            ..Default::default()
        }
        .applied_to(&http)
        .expect("valid");
        assert_eq!(back.endpoint, None);
        assert_eq!(back.timeout, Some(60));
        let default_endpoint = HealthCheckPatch {
            kind: Some(HealthCheckType::Http),
            ..Default::default()
        }
        .applied_to(&port)
        .expect("valid");
        assert_eq!(default_endpoint.endpoint.as_deref(), Some("/"));
        let problems = HealthCheckPatch {
            kind: Some(HealthCheckType::Http),
            endpoint: Some(Some("health".into())),
            timeout: Some(Some(181)),
            invocation_timeout: Some(Some(0)),
        }
        .applied_to(&port)
        .expect_err("invalid");
        assert_eq!(
            problems,
            [
                "Health check timeout Maximum exceeded: max 180s",
                "Health check invocation timeout must be greater than or equal to 1",
                "HTTP health check endpoint is not a valid URI path: health",
            ]
        );
    }

    #[test]
    fn process_types_follow_the_droplet() {
        let existing = vec![process("web"), process("old")];
        let types = [("web".into(), "a".into()), ("worker".into(), "b".into())].into();
        let (create, delete) = reconcile_process_types(&existing, &types);
        assert_eq!(create, ["worker"]);
        assert_eq!(delete.len(), 1);
        assert_eq!(delete[0].process_type, "old");
        let (create, delete) = reconcile_process_types(&[], &BTreeMap::new());
        assert_eq!(create, ["web"]);
        assert!(delete.is_empty());
    }
}
