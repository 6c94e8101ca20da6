//! nsync's pure half: the DesiredLRP a started process should be, and the plan that brings
//! the BBS's `cf-apps` LRPs in line with the Cloud Controller's.

use std::collections::{BTreeMap, HashMap, HashSet};

use ingot_bbs::{
    Action, CheckDefinition, CodependentAction, DesiredLrp, DesiredLrpUpdate, EnvironmentVariable,
    HttpCheck, SecurityGroupRule, SerialAction, TcpCheck,
};
use serde_json::{Value, json};

use super::actions::{download_droplet, launch};
use super::metrics::METRIC_TAG_PROCESS_ID;
use crate::{
    diego,
    model::{App, Droplet, HealthCheckType, Process, route::DEFAULT_APP_PORT},
};

/// How long an instance has to pass its first health check when the process names no timeout.
const DEFAULT_START_TIMEOUT_SECS: u64 = 60;

/// The route emitter's key in a DesiredLRP's routes.
const CF_ROUTER: &str = "cf-router";

/// Diego's process guid of a process: a new version (start, restart) is a new LRP, so every
/// instance is replaced.
pub(crate) fn lrp_process_guid(process: &Process) -> String {
    format!("{}-{}", process.guid, process.version)
}

/// The Cloud Controller process a Diego process guid belongs to (its first 36 characters).
pub(crate) fn cc_process_guid(lrp_process_guid: &str) -> &str {
    lrp_process_guid.get(..36).unwrap_or(lrp_process_guid)
}

/// The command a process starts with: its own, else the droplet's for its type.
pub(crate) fn start_command<'a>(process: &'a Process, droplet: &'a Droplet) -> Option<&'a str> {
    process
        .command
        .as_deref()
        .or_else(|| {
            droplet
                .process_types
                .get(&process.process_type)
                .map(String::as_str)
        })
        .filter(|c| !c.trim().is_empty())
}

/// One HTTP route of a process: its scheme-less URL (`host.domain/path`) and the app port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteTarget {
    pub url: String,
    pub port: u16,
}

/// Everything a process's DesiredLRP is made of.
pub(crate) struct LrpSpec<'a> {
    pub app: &'a App,
    pub process: &'a Process,
    pub droplet: &'a Droplet,
    pub droplet_url: String,
    pub env: Vec<EnvironmentVariable>,
    pub routes: &'a [RouteTarget],
    /// The app's space's running security groups.
    pub egress_rules: Vec<SecurityGroupRule>,
}

/// The routes document: one `cf-router` entry per app port, with every hostname on it.
pub(crate) fn routes_json(routes: &[RouteTarget]) -> BTreeMap<String, Value> {
    let mut by_port: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for r in routes {
        by_port.entry(r.port).or_default().push(&r.url);
    }
    let entries: Vec<Value> = by_port
        .into_iter()
        .map(|(port, hostnames)| json!({ "hostnames": hostnames, "port": port }))
        .collect();
    BTreeMap::from([(CF_ROUTER.to_owned(), Value::Array(entries))])
}

/// Changes whenever the process record does, so scaling or editing it updates the LRP.
fn annotation(process: &Process) -> String {
    process.updated_at.to_rfc3339()
}

fn check_definition(process: &Process) -> Option<CheckDefinition> {
    let timeout_ms = u64::from(process.health_check.invocation_timeout.unwrap_or(0)) * 1000;
    let port = u32::from(DEFAULT_APP_PORT);
    let check = match process.health_check.kind {
        HealthCheckType::Process => return None,
        HealthCheckType::Port => ingot_bbs::Check::TcpCheck(TcpCheck {
            port,
            connect_timeout_ms: timeout_ms,
        }),
        HealthCheckType::Http => ingot_bbs::Check::HttpCheck(HttpCheck {
            port,
            request_timeout_ms: timeout_ms,
            path: process
                .health_check
                .endpoint
                .clone()
                .unwrap_or_else(|| "/".into()),
        }),
    };
    Some(CheckDefinition {
        checks: vec![check],
        log_source: String::new(),
    })
}

/// The DesiredLRP of a started process, or `None` when it has no start command (CF cannot
/// start such a process; the caller tells the developer why).
pub(crate) fn desired_lrp(spec: LrpSpec<'_>) -> Option<DesiredLrp> {
    let LrpSpec {
        app,
        process,
        droplet,
        droplet_url,
        env,
        routes,
        egress_rules,
    } = spec;
    let command = start_command(process, droplet)?;
    let log_source = format!("APP/PROC/{}", process.process_type.to_uppercase());
    let timeout = process
        .health_check
        .timeout
        .map_or(DEFAULT_START_TIMEOUT_SECS, u64::from);
    Some(DesiredLrp {
        process_guid: lrp_process_guid(process),
        domain: diego::APPS_DOMAIN.to_owned(),
        instances: process.instances,
        root_fs: diego::root_fs(&droplet.lifecycle.stack),
        env: env.clone(),
        setup: Some(Action::Serial(SerialAction {
            actions: vec![download_droplet(droplet, droplet_url)],
        })),
        action: Some(Action::Codependent(CodependentAction {
            actions: vec![launch(command, env, log_source)],
        })),
        check_definition: check_definition(process),
        start_timeout_ms: timeout * 1000,
        memory_mb: process.memory_in_mb,
        disk_mb: process.disk_in_mb,
        ports: vec![u32::from(DEFAULT_APP_PORT)],
        routes: routes_json(routes),
        log_guid: app.guid.clone(),
        log_source: "CELL".to_owned(),
        log_rate_limit_bytes_per_second: u64::try_from(process.log_rate_limit_in_bytes_per_second)
            .ok(),
        metrics_guid: app.guid.clone(),
        metric_tags: BTreeMap::from([
            (METRIC_TAG_PROCESS_ID.to_owned(), process.guid.clone()),
            ("process_type".to_owned(), process.process_type.clone()),
        ]),
        annotation: annotation(process),
        egress_rules,
        ..DesiredLrp::default()
    })
}

/// What one nsync pass does to the BBS.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// LRPs the BBS lacks.
    pub desire: Vec<DesiredLrp>,
    /// LRPs whose instances, routes or annotation changed.
    pub update: Vec<(String, DesiredLrpUpdate)>,
    /// Process guids the Cloud Controller no longer wants (stopped, deleted, old versions).
    pub remove: Vec<String>,
}

impl Plan {
    pub(crate) fn is_empty(&self) -> bool {
        self.desire.is_empty() && self.update.is_empty() && self.remove.is_empty()
    }
}

/// What may change in place. Everything else, egress rules included, is fixed until the
/// process's next version (a restart) desires a new LRP.
fn changes(want: &DesiredLrp, have: &DesiredLrp) -> Option<DesiredLrpUpdate> {
    let update = DesiredLrpUpdate {
        instances: (want.instances != have.instances).then_some(want.instances),
        routes: (want.routes != have.routes).then(|| want.routes.clone()),
        annotation: (want.annotation != have.annotation).then(|| want.annotation.clone()),
    };
    (update != DesiredLrpUpdate::default()).then_some(update)
}

/// Compares what the Cloud Controller wants with what the BBS holds in the apps domain.
/// LRPs of other domains are never touched.
pub(crate) fn plan(desired: Vec<DesiredLrp>, actual: &[DesiredLrp]) -> Plan {
    let have: HashMap<&str, &DesiredLrp> = actual
        .iter()
        .filter(|l| l.domain == diego::APPS_DOMAIN)
        .map(|l| (l.process_guid.as_str(), l))
        .collect();
    let wanted: HashSet<&str> = desired.iter().map(|l| l.process_guid.as_str()).collect();
    let mut remove: Vec<String> = have
        .keys()
        .filter(|guid| !wanted.contains(*guid))
        .map(|guid| (*guid).to_owned())
        .collect();
    remove.sort();
    let mut plan = Plan {
        remove,
        ..Plan::default()
    };
    for want in desired {
        match have.get(want.process_guid.as_str()) {
            None => plan.desire.push(want),
            Some(have) => {
                if let Some(update) = changes(&want, have) {
                    plan.update.push((want.process_guid, update));
                }
            }
        }
    }
    plan
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{
        DropletState,
        environment::tests::{app, process},
    };

    pub(crate) fn droplet() -> Droplet {
        Droplet {
            guid: "droplet-1".into(),
            app_guid: "app-1".into(),
            package_guid: Some("package-1".into()),
            state: DropletState::Staged,
            error: None,
            lifecycle: app().lifecycle,
            buildpacks: Vec::new(),
            process_types: [("web".into(), "./server".into())].into(),
            execution_metadata: String::new(),
            sha256: Some("abc123".into()),
            image: None,
            metadata: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn lrp_of(process: &Process, routes: &[RouteTarget]) -> Option<DesiredLrp> {
        desired_lrp(LrpSpec {
            app: &app(),
            process,
            droplet: &droplet(),
            droplet_url: "http://cc.test/internal/v4/droplets/droplet-1/download?signature=s"
                .into(),
            env: vec![EnvironmentVariable::new("A", "1")],
            routes,
            egress_rules: vec![SecurityGroupRule {
                protocol: ingot_bbs::Protocol::Tcp,
                destinations: vec!["10.0.0.0/8".into()],
                ports: vec![443],
                port_range: None,
                icmp_info: None,
                log: false,
                annotations: Vec::new(),
            }],
        })
    }

    #[test]
    fn a_started_web_process_becomes_a_desired_lrp() {
        let routes = [
            RouteTarget {
                url: "myapp.apps.localhost".into(),
                port: 8080,
            },
            RouteTarget {
                url: "other.apps.localhost/api".into(),
                port: 8080,
            },
        ];
        let p = process();
        let lrp = lrp_of(&p, &routes).expect("runnable");
        lrp.validate().expect("the BBS accepts it");
        assert_eq!(lrp.process_guid, "app-1-v-1");
        assert_eq!(lrp.domain, "cf-apps");
        assert_eq!(lrp.instances, 1);
        assert_eq!((lrp.memory_mb, lrp.disk_mb), (256, 1024));
        assert_eq!(lrp.root_fs, "preloaded:cflinuxfs4");
        assert_eq!(lrp.ports, [8080]);
        assert_eq!(
            (lrp.log_guid.as_str(), lrp.log_source.as_str()),
            ("app-1", "CELL")
        );
        assert_eq!(lrp.start_timeout_ms, 60_000);
        assert_eq!(lrp.egress_rules[0].ports, [443]);
        // CF's -1: unlimited.
        assert_eq!(lrp.log_rate_limit_bytes_per_second, None);
        let limited = Process {
            log_rate_limit_in_bytes_per_second: 1024,
            ..process()
        };
        assert_eq!(
            lrp_of(&limited, &[])
                .unwrap()
                .log_rate_limit_bytes_per_second,
            Some(1024)
        );
        let json = serde_json::to_value(&lrp).unwrap();
        assert_eq!(
            json["routes"],
            json!({"cf-router": [{"hostnames": ["myapp.apps.localhost", "other.apps.localhost/api"], "port": 8080}]})
        );
        let download = &json["setup"]["serial"]["actions"][0]["download"];
        assert_eq!(download["to"], "/home/vcap");
        assert_eq!(download["cache_key"], "droplets-droplet-1");
        assert_eq!(download["checksum_algorithm"], "sha256");
        assert_eq!(download["checksum_value"], "abc123");
        let run = &json["action"]["codependent"]["actions"][0]["run"];
        assert_eq!(run["path"], diego::LIFECYCLE_PATH);
        assert_eq!(
            run["args"],
            json!(["lifecycle", "launcher", "app", "./server", ""])
        );
        assert_eq!(run["dir"], "/home/vcap");
        assert_eq!(run["user"], "vcap");
        assert_eq!(run["log_source"], "APP/PROC/WEB");
        assert_eq!(run["resource_limits"]["nofile"], 16384);
        assert_eq!(run["env"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(
            json["check_definition"]["checks"][0]["tcp_check"]["port"],
            8080
        );
    }

    #[test]
    fn health_checks_and_commands_follow_the_process() {
        let mut p = process();
        p.command = Some("bin/run --fast".into());
        p.health_check = crate::model::HealthCheck {
            kind: HealthCheckType::Http,
            endpoint: Some("/health".into()),
            timeout: Some(120),
            invocation_timeout: Some(3),
        };
        let lrp = lrp_of(&p, &[]).unwrap();
        let json = serde_json::to_value(&lrp).unwrap();
        assert_eq!(
            json["check_definition"]["checks"][0]["http_check"],
            json!({"port": 8080, "request_timeout_ms": 3000, "path": "/health"})
        );
        assert_eq!(lrp.start_timeout_ms, 120_000);
        assert_eq!(
            json["action"]["codependent"]["actions"][0]["run"]["args"][3],
            "bin/run --fast"
        );
        assert_eq!(json["routes"], json!({"cf-router": []}));

        p.health_check.kind = HealthCheckType::Process;
        assert_eq!(lrp_of(&p, &[]).unwrap().check_definition, None);
    }

    #[test]
    fn a_process_without_a_command_cannot_run() {
        let mut worker = process();
        worker.process_type = "worker".into();
        assert_eq!(lrp_of(&worker, &[]), None);
        worker.command = Some("  ".into());
        assert_eq!(lrp_of(&worker, &[]), None);
        worker.command = Some("./work".into());
        let lrp = lrp_of(&worker, &[]).unwrap();
        let json = serde_json::to_value(&lrp).unwrap();
        assert_eq!(
            json["action"]["codependent"]["actions"][0]["run"]["log_source"],
            "APP/PROC/WORKER"
        );
    }

    #[test]
    fn process_guids_map_back() {
        let guid = "0b3c1f7e-1111-4222-8333-444455556666";
        let lrp = format!("{guid}-5a7c2e90-aaaa-bbbb-cccc-ddddeeeeffff");
        assert_eq!(cc_process_guid(&lrp), guid);
        assert_eq!(cc_process_guid("short"), "short");
    }

    fn lrp(guid: &str, instances: u32) -> DesiredLrp {
        DesiredLrp {
            process_guid: guid.into(),
            domain: diego::APPS_DOMAIN.into(),
            instances,
            annotation: "a".into(),
            ..DesiredLrp::default()
        }
    }

    #[test]
    fn the_plan_desires_updates_and_removes() {
        let mut rerouted = lrp("rerouted", 1);
        rerouted.routes = routes_json(&[RouteTarget {
            url: "x.apps.localhost".into(),
            port: 8080,
        }]);
        let mut relabelled = lrp("relabelled", 1);
        relabelled.annotation = "b".into();
        let desired = vec![
            lrp("new", 2),
            lrp("same", 1),
            lrp("scaled", 3),
            rerouted.clone(),
            relabelled,
        ];
        let mut other_domain = lrp("staging-thing", 1);
        other_domain.domain = diego::TASKS_DOMAIN.into();
        let actual = vec![
            lrp("same", 1),
            lrp("scaled", 1),
            lrp("rerouted", 1),
            lrp("relabelled", 1),
            lrp("stopped", 1),
            lrp("old-version", 4),
            other_domain,
        ];
        let plan = plan(desired, &actual);
        assert_eq!(plan.desire, [lrp("new", 2)]);
        assert_eq!(
            plan.update,
            [
                (
                    "scaled".to_owned(),
                    DesiredLrpUpdate {
                        instances: Some(3),
                        ..DesiredLrpUpdate::default()
                    }
                ),
                (
                    "rerouted".to_owned(),
                    DesiredLrpUpdate {
                        routes: Some(rerouted.routes),
                        ..DesiredLrpUpdate::default()
                    }
                ),
                (
                    "relabelled".to_owned(),
                    DesiredLrpUpdate {
                        annotation: Some("b".into()),
                        ..DesiredLrpUpdate::default()
                    }
                ),
            ]
        );
        assert_eq!(plan.remove, ["old-version", "stopped"]);
    }

    #[test]
    fn converged_state_plans_nothing() {
        let both = vec![lrp("a", 1), lrp("b", 0)];
        assert!(plan(both.clone(), &both).is_empty());
        assert!(plan(Vec::new(), &[]).is_empty());
        // New security group rules wait for the next version of the process.
        let mut regrouped = lrp("a", 1);
        regrouped.egress_rules = lrp_of(&process(), &[]).unwrap().egress_rules;
        assert!(plan(vec![regrouped], &[lrp("a", 1)]).is_empty());
    }
}
