//! An app's environment as CF builds it: VCAP_APPLICATION, VCAP_SERVICES, MEMORY_LIMIT, the
//! environment variable group and the app's own variables. The cell adds PORT, HOME, TMPDIR
//! and CF_INSTANCE_*; nothing here knows about containers.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{App, Organization, Process, Space};

/// File descriptors every instance may open (CC's `instance_file_descriptor_limit`).
pub const FILE_DESCRIPTOR_LIMIT: u64 = 16384;

/// Names the platform sets; a user or group variable never replaces them.
const SYSTEM_VARS: [&str; 3] = ["VCAP_APPLICATION", "VCAP_SERVICES", "MEMORY_LIMIT"];

/// What VCAP_APPLICATION describes: the app, where it lives, how it is reached and its
/// limits. Without a process (staging) the process fields are left out.
pub struct AppContext<'a> {
    pub app: &'a App,
    pub process: Option<&'a Process>,
    pub space: &'a Space,
    pub org: &'a Organization,
    /// The app's route URLs.
    pub uris: &'a [String],
    /// The Cloud Controller's API URL (`cf_api`).
    pub api_url: &'a str,
    pub memory_mb: u64,
    pub disk_mb: u64,
}

/// The VCAP_APPLICATION document.
pub fn vcap_application(cx: &AppContext<'_>) -> Value {
    let (app, space, org) = (cx.app, cx.space, cx.org);
    let mut doc = json!({
        "application_id": app.guid,
        "application_name": app.name,
        "application_uris": cx.uris,
        "cf_api": cx.api_url,
        "limits": { "mem": cx.memory_mb, "disk": cx.disk_mb, "fds": FILE_DESCRIPTOR_LIMIT },
        "name": app.name,
        "organization_id": org.guid,
        "organization_name": org.name,
        "space_id": space.guid,
        "space_name": space.name,
        "uris": cx.uris,
        "users": null,
    });
    if let (Some(p), Some(obj)) = (cx.process, doc.as_object_mut()) {
        obj.insert("application_version".into(), json!(p.version));
        obj.insert("version".into(), json!(p.version));
        obj.insert("process_id".into(), json!(p.guid));
        obj.insert("process_type".into(), json!(p.process_type));
    }
    doc
}

/// The environment Diego runs the app (or stages it, or runs its task) with: the platform's
/// variables, then `group` (the running or staging group) overlaid by the app's own.
pub(crate) fn app_environment(
    cx: &AppContext<'_>,
    group: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "VCAP_APPLICATION".to_owned(),
            vcap_application(cx).to_string(),
        ),
        ("VCAP_SERVICES".to_owned(), "{}".to_owned()),
        ("MEMORY_LIMIT".to_owned(), format!("{}m", cx.memory_mb)),
    ];
    let mut user: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in group.iter().chain(&cx.app.environment_variables) {
        user.insert(k, v);
    }
    env.extend(
        user.into_iter()
            .filter(|(k, _)| !SYSTEM_VARS.contains(k))
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env
}

/// CC's rules for user variable names, each problem prefixed with the field's name
/// (`Var`, `Env`, `Environment variables`).
pub fn name_problems<'a>(field: &str, names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = names
        .into_iter()
        .filter_map(|k| {
            let upper = k.to_ascii_uppercase();
            let problem = if k.is_empty() {
                "key must be a minimum length of 1"
            } else if upper.starts_with("VCAP_") {
                "cannot start with VCAP_"
            } else if upper.starts_with("VMC_") {
                "cannot start with VMC_"
            } else if upper == "PORT" {
                "cannot set PORT"
            } else {
                return None;
            };
            Some(format!("{field} {problem}"))
        })
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{AppState, HealthCheck, HealthCheckType, Lifecycle, LifecycleType};

    pub(crate) fn app() -> App {
        App {
            guid: "app-1".into(),
            name: "myapp".into(),
            space_guid: "space-1".into(),
            state: AppState::Started,
            lifecycle: Lifecycle {
                kind: LifecycleType::Buildpack,
                buildpacks: Vec::new(),
                stack: "cflinuxfs4".into(),
            },
            environment_variables: [("A".into(), "app".into()), ("B".into(), "app".into())].into(),
            droplet_guid: None,
            enable_ssh: true,
            metadata: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    pub(crate) fn process() -> Process {
        Process {
            guid: "app-1".into(),
            app_guid: "app-1".into(),
            process_type: "web".into(),
            command: None,
            instances: 1,
            memory_in_mb: 256,
            disk_in_mb: 1024,
            log_rate_limit_in_bytes_per_second: -1,
            health_check: HealthCheck {
                kind: HealthCheckType::Port,
                endpoint: None,
                timeout: None,
                invocation_timeout: None,
            },
            version: "v-1".into(),
            metadata: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn space_org() -> (Space, Organization) {
        let space = Space {
            guid: "space-1".into(),
            name: "dev".into(),
            organization_guid: "org-1".into(),
            allow_ssh: true,
            metadata: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let org = Organization {
            guid: "org-1".into(),
            name: "acme".into(),
            suspended: false,
            quota_guid: "q".into(),
            metadata: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        (space, org)
    }

    #[test]
    fn running_environment() {
        let (space, org) = space_org();
        let group = [
            ("B".into(), "group".into()),
            ("C".into(), "group".into()),
            ("MEMORY_LIMIT".into(), "1m".into()),
        ]
        .into();
        let uris = vec!["myapp.apps.localhost".to_owned()];
        let (app, process) = (app(), process());
        let env = app_environment(
            &AppContext {
                app: &app,
                process: Some(&process),
                space: &space,
                org: &org,
                uris: &uris,
                api_url: "http://api.test",
                memory_mb: 256,
                disk_mb: 1024,
            },
            &group,
        );
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "VCAP_APPLICATION",
                "VCAP_SERVICES",
                "MEMORY_LIMIT",
                "A",
                "B",
                "C"
            ]
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("MEMORY_LIMIT"), Some("256m"));
        assert_eq!(get("VCAP_SERVICES"), Some("{}"));
        assert_eq!(get("B"), Some("app"), "the app's own variable wins");
        assert_eq!(get("C"), Some("group"));
        let vcap: Value = serde_json::from_str(get("VCAP_APPLICATION").unwrap()).unwrap();
        assert_eq!(
            vcap,
            json!({
                "application_id": "app-1",
                "application_name": "myapp",
                "application_uris": ["myapp.apps.localhost"],
                "application_version": "v-1",
                "cf_api": "http://api.test",
                "version": "v-1",
                "limits": {"mem": 256, "disk": 1024, "fds": 16384},
                "name": "myapp",
                "organization_id": "org-1",
                "organization_name": "acme",
                "space_id": "space-1",
                "space_name": "dev",
                "uris": ["myapp.apps.localhost"],
                "users": null,
                "process_id": "app-1",
                "process_type": "web",
            })
        );
    }

    #[test]
    fn reserved_names() {
        let names: Vec<String> = ["vcap_x", "PORT", "", "OK", "VMC_A"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            name_problems("Var", &names),
            [
                "Var cannot start with VCAP_",
                "Var cannot set PORT",
                "Var key must be a minimum length of 1",
                "Var cannot start with VMC_",
            ]
        );
    }

    #[test]
    fn staging_environment_has_no_process_fields() {
        let (space, org) = space_org();
        let app = app();
        let env = app_environment(
            &AppContext {
                app: &app,
                process: None,
                space: &space,
                org: &org,
                uris: &[],
                api_url: "http://api.test",
                memory_mb: 1024,
                disk_mb: 4096,
            },
            &BTreeMap::new(),
        );
        let vcap: Value = serde_json::from_str(&env[0].1).unwrap();
        assert!(vcap.get("process_type").is_none());
        assert_eq!(vcap["limits"]["disk"], 4096);
        assert_eq!(env[2].1, "1024m");
    }
}
