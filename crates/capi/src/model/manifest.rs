//! App manifests: the YAML `cf push` sends to apply_manifest, read into typed changes with
//! CC's validation messages, and the YAML `cf create-app-manifest` gets back.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

use super::{
    App, HealthCheckType, MetadataPatch, Process,
    app_rules::{HealthCheckPatch, MAX_INSTANCES, WEB, parse_health_check_type},
    environment::name_problems,
};

/// One process's settings from a manifest; absent keys leave the process alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessManifest {
    pub process_type: String,
    /// `Some(None)`: `command: null`, back to the droplet's command.
    pub command: Option<Option<String>>,
    pub instances: Option<i64>,
    pub memory_in_mb: Option<i64>,
    pub disk_in_mb: Option<i64>,
    pub health_check: HealthCheckPatch,
}

/// One application of a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppManifest {
    pub name: String,
    /// `Some(vec![])`: detect among all buildpacks.
    pub buildpacks: Option<Vec<String>>,
    pub stack: Option<String>,
    pub env: BTreeMap<String, String>,
    pub processes: Vec<ProcessManifest>,
    /// `routes: [{route: ...}]`, as URLs.
    pub routes: Option<Vec<String>>,
    pub default_route: bool,
    pub random_route: bool,
    pub no_route: bool,
    pub metadata: Option<MetadataPatch>,
}

/// Parses a whole manifest. Bad YAML is `Err(None)` (a parse error); a manifest that breaks
/// CC's rules is `Err(Some(problems))`, each prefixed with the application it is about.
pub fn parse(yaml: &str) -> Result<Vec<AppManifest>, Option<Vec<String>>> {
    let doc: Value = serde_yaml_ng::from_str(yaml).map_err(|_| None)?;
    let apps = match doc.get("applications") {
        Some(Value::Sequence(apps)) if !apps.is_empty() => apps,
        _ => {
            return Err(Some(vec![
                "Applications must have at least one application".into(),
            ]));
        }
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let mut reader = Reader::default();
        let parsed = reader.app(app);
        let prefix = match parsed.name.as_str() {
            "" => format!("For application at index {i}"),
            name => format!("For application '{name}'"),
        };
        problems.extend(reader.problems.iter().map(|p| format!("{prefix}: {p}")));
        out.push(parsed);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Some(problems))
    }
}

/// Keys arrive as the CLI writes them (`disk-quota`) or as in a file (`disk_quota`).
fn normalise(map: &Mapping) -> BTreeMap<String, &Value> {
    map.iter()
        .filter_map(|(k, v)| Some((k.as_str()?.replace('-', "_"), v)))
        .collect()
}

/// A scalar as CC stringifies env values.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `256M`, `1G`, `512mb`... in megabytes (CC's byte converter).
pub fn megabytes(value: &Value, attr: &str) -> Result<i64, String> {
    let unsupported =
        || format!("{attr} must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB");
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(_) => return Err(unsupported()),
        _ => return Err(format!("{attr} is not a number")),
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let Ok(n) = digits.parse::<i64>() else {
        return Err(format!("{attr} is not a number"));
    };
    let mb = match unit.trim().to_ascii_uppercase().as_str() {
        "B" => n / (1024 * 1024),
        "K" | "KB" => n / 1024,
        "M" | "MB" => n,
        "G" | "GB" => n.saturating_mul(1024),
        "T" | "TB" => n.saturating_mul(1024 * 1024),
        _ => return Err(unsupported()),
    };
    if mb < 1 {
        return Err(format!("{attr} must be greater than 0MB"));
    }
    Ok(mb)
}

/// Collects problems while reading one application.
#[derive(Default)]
struct Reader {
    problems: Vec<String>,
}

impl Reader {
    fn string(&mut self, v: Option<&&Value>, attr: &str) -> Option<String> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problems.push(format!("{attr} must be a string"));
                None
            }
        }
    }

    fn boolean(&mut self, v: Option<&&Value>, attr: &str) -> bool {
        match v {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(_) => {
                self.problems.push(format!("{attr} must be a boolean"));
                false
            }
        }
    }

    fn integer(&mut self, v: Option<&&Value>, attr: &str) -> Option<i64> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Some(i),
                None => {
                    self.problems.push(format!("{attr} must be an integer"));
                    None
                }
            },
            Some(Value::String(s)) => match s.trim().parse::<i64>() {
                Ok(i) => Some(i),
                Err(_) => {
                    self.problems.push(format!("{attr} is not a number"));
                    None
                }
            },
            Some(_) => {
                self.problems.push(format!("{attr} is not a number"));
                None
            }
        }
    }

    /// The scale and health-check keys shared by the app level (web) and `processes` entries.
    fn process(&mut self, keys: &BTreeMap<String, &Value>, process_type: &str) -> ProcessManifest {
        let mut local = Reader::default();
        let command = keys.get("command").map(|c| match c {
            Value::Null => None,
            other => local.string(Some(other), "Command"),
        });
        if let Some(Some(c)) = &command
            && !(1..=4096).contains(&c.chars().count())
        {
            local
                .problems
                .push("Command must be between 1 and 4096 characters".into());
        }
        let instances = local.integer(keys.get("instances"), "Instances");
        match instances {
            Some(i) if i < 0 => local
                .problems
                .push("Instances must be greater than or equal to 0".into()),
            Some(i) if i > MAX_INSTANCES => local.problems.push(format!(
                "Instances must be less than or equal to {MAX_INSTANCES}"
            )),
            _ => {}
        }
        let mut size = |key: &str, attr: &str| {
            keys.get(key)
                .and_then(|v| megabytes(v, attr).map_err(|e| local.problems.push(e)).ok())
        };
        let memory_in_mb = size("memory", "Memory");
        let disk_in_mb = size("disk_quota", "Disk quota");
        let kind = local
            .string(keys.get("health_check_type"), "Health check type")
            .and_then(|t| {
                let kind = parse_health_check_type(&t);
                if kind.is_none() {
                    local
                        .problems
                        .push("Health check type must be one of 'http', 'port', 'process'".into());
                }
                kind
            });
        let endpoint = local
            .string(
                keys.get("health_check_http_endpoint"),
                "Health check http endpoint",
            )
            .map(Some);
        if endpoint.is_some() && kind.is_some_and(|k| k != HealthCheckType::Http) {
            local.problems.push(
                "Health check type must be \"http\" to set a health check HTTP endpoint".into(),
            );
        }
        let timeout = local.integer(keys.get("timeout"), "Timeout").map(Some);
        let invocation_timeout = local
            .integer(
                keys.get("health_check_invocation_timeout"),
                "Health check invocation timeout",
            )
            .map(Some);
        let health_check = HealthCheckPatch {
            kind,
            endpoint,
            timeout,
            invocation_timeout,
        };
        if let Err(problems) = health_check.applied_to(
            &super::app_rules::new_process(
                String::new(),
                "",
                process_type,
                String::new(),
                chrono::DateTime::UNIX_EPOCH,
            )
            .health_check,
        ) {
            local.problems.extend(problems);
        }
        self.problems.extend(
            local
                .problems
                .into_iter()
                .map(|p| format!("Process \"{process_type}\": {p}")),
        );
        ProcessManifest {
            process_type: process_type.to_owned(),
            command,
            instances,
            memory_in_mb,
            disk_in_mb,
            health_check,
        }
    }

    fn app(&mut self, raw: &Value) -> AppManifest {
        let Value::Mapping(map) = raw else {
            self.problems.push("Application must be a map".into());
            return AppManifest::default();
        };
        let keys = normalise(map);
        let name = self.string(keys.get("name"), "Name").unwrap_or_default();
        if name.trim().is_empty() {
            self.problems.push("Name must not be empty".into());
        }
        let buildpacks = self.buildpacks(&keys);
        let stack = self.string(keys.get("stack"), "Stack");
        let env = self.env(keys.get("env"));
        let processes = self.processes(&keys);
        let routes = self.routes(keys.get("routes"));
        let default_route = self.boolean(keys.get("default_route"), "Default-route");
        let random_route = self.boolean(keys.get("random_route"), "Random-route");
        let no_route = self.boolean(keys.get("no_route"), "No-route");
        if keys.contains_key("docker") {
            self.problems
                .push("Docker apps are not supported by this Cloud Foundry yet".into());
        }
        if let Some(Value::Sequence(services)) = keys.get("services") {
            for s in services.iter() {
                let name = match s {
                    Value::Mapping(m) => m.get("name").and_then(Value::as_str),
                    other => other.as_str(),
                };
                self.problems.push(format!(
                    "Service instance '{}' not found",
                    name.unwrap_or_default()
                ));
            }
        }
        let metadata = self.metadata(keys.get("metadata"));
        AppManifest {
            name,
            buildpacks,
            stack,
            env,
            processes,
            routes,
            default_route,
            random_route,
            no_route,
            metadata,
        }
    }

    fn buildpacks(&mut self, keys: &BTreeMap<String, &Value>) -> Option<Vec<String>> {
        if keys.contains_key("buildpack") && keys.contains_key("buildpacks") {
            self.problems
                .push("Buildpack and Buildpacks fields cannot be used together.".into());
            return None;
        }
        if let Some(v) = keys.get("buildpack") {
            let bp = match v {
                Value::Null => None,
                other => self.string(Some(other), "Buildpack"),
            };
            return Some(
                bp.filter(|b| b != "default" && b != "null")
                    .into_iter()
                    .collect(),
            );
        }
        match keys.get("buildpacks") {
            None | Some(Value::Null) => None,
            Some(Value::Sequence(items)) => {
                let names: Option<Vec<String>> = items
                    .iter()
                    .map(|b| b.as_str().map(str::to_owned))
                    .collect();
                if names.is_none() {
                    self.problems
                        .push("Buildpacks can only contain strings".into());
                }
                names
            }
            Some(_) => {
                self.problems.push("Buildpacks must be an array".into());
                None
            }
        }
    }

    fn env(&mut self, v: Option<&&Value>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match v {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(map)) => {
                for (k, v) in map {
                    match (scalar_string(k), scalar_string(v)) {
                        (Some(k), Some(v)) => {
                            out.insert(k, v);
                        }
                        _ => self
                            .problems
                            .push("Env must be an object of keys and values".into()),
                    }
                }
                self.problems.extend(name_problems("Env", out.keys()));
            }
            Some(_) => self
                .problems
                .push("Env must be an object of keys and values".into()),
        }
        out
    }

    /// The web process from the app-level keys, unless `processes` has its own `web`; then
    /// every `processes` entry (CC's precedence).
    fn processes(&mut self, keys: &BTreeMap<String, &Value>) -> Vec<ProcessManifest> {
        let listed: Vec<BTreeMap<String, &Value>> = match keys.get("processes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(|p| match p {
                    Value::Mapping(m) => Some(normalise(m)),
                    _ => None,
                })
                .collect(),
            Some(_) => {
                self.problems
                    .push("Processes must be an array of process configurations".into());
                Vec::new()
            }
        };
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for p in &listed {
            let Some(t) = p
                .get("type")
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty())
            else {
                self.problems
                    .push("All Processes must specify a type".into());
                continue;
            };
            if seen.contains(&t) {
                self.problems
                    .push(format!("Process \"{t}\" may only be present once"));
                continue;
            }
            seen.push(t);
            out.push(self.process(p, t));
        }
        if !seen.contains(&WEB) {
            out.insert(0, self.process(keys, WEB));
        }
        out
    }

    fn routes(&mut self, v: Option<&&Value>) -> Option<Vec<String>> {
        let bad = "Routes must be a list of route objects";
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Sequence(items)) => {
                let urls: Option<Vec<String>> = items
                    .iter()
                    .map(|r| r.get("route").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                if urls.is_none() {
                    self.problems.push(bad.into());
                }
                urls
            }
            Some(_) => {
                self.problems.push(bad.into());
                None
            }
        }
    }

    fn metadata(&mut self, v: Option<&&Value>) -> Option<MetadataPatch> {
        let Value::Mapping(map) = v? else {
            self.problems.push("Metadata must be an object".into());
            return None;
        };
        let mut read = |key: &str| -> BTreeMap<String, Option<String>> {
            match map.get(key) {
                Some(Value::Mapping(m)) => m
                    .iter()
                    .filter_map(|(k, v)| Some((scalar_string(k)?, scalar_string(v))))
                    .collect(),
                None | Some(Value::Null) => BTreeMap::new(),
                Some(_) => {
                    self.problems
                        .push(format!("Metadata {key} must be an object"));
                    BTreeMap::new()
                }
            }
        };
        let patch = MetadataPatch {
            labels: read("labels"),
            annotations: read("annotations"),
        };
        let problems = patch.problems();
        if problems.is_empty() {
            Some(patch)
        } else {
            self.problems.extend(problems);
            None
        }
    }
}

/// The manifest `cf create-app-manifest` writes: the app, its routes and its processes.
pub fn generate(app: &App, processes: &[Process], routes: &[String]) -> String {
    let mut entry = Mapping::new();
    let put = |m: &mut Mapping, k: &str, v: Value| {
        m.insert(Value::String(k.to_owned()), v);
    };
    put(&mut entry, "name", Value::String(app.name.clone()));
    if !app.lifecycle.buildpacks.is_empty() {
        put(
            &mut entry,
            "buildpacks",
            Value::Sequence(
                app.lifecycle
                    .buildpacks
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
    }
    put(
        &mut entry,
        "stack",
        Value::String(app.lifecycle.stack.clone()),
    );
    if !app.environment_variables.is_empty() {
        let env = app
            .environment_variables
            .iter()
            .map(|(k, v)| (Value::String(k.clone()), Value::String(v.clone())))
            .collect();
        put(&mut entry, "env", Value::Mapping(env));
    }
    if routes.is_empty() {
        put(&mut entry, "no-route", Value::Bool(true));
    } else {
        let routes = routes
            .iter()
            .map(|r| {
                let mut m = Mapping::new();
                m.insert("route".into(), Value::String(r.clone()));
                Value::Mapping(m)
            })
            .collect();
        put(&mut entry, "routes", Value::Sequence(routes));
    }
    let processes = processes
        .iter()
        .map(|p| {
            let mut m = Mapping::new();
            put(&mut m, "type", Value::String(p.process_type.clone()));
            put(&mut m, "instances", Value::Number(p.instances.into()));
            put(
                &mut m,
                "memory",
                Value::String(format!("{}M", p.memory_in_mb)),
            );
            put(
                &mut m,
                "disk_quota",
                Value::String(format!("{}M", p.disk_in_mb)),
            );
            if let Some(c) = &p.command {
                put(&mut m, "command", Value::String(c.clone()));
            }
            let kind = serde_yaml_ng::to_value(p.health_check.kind).unwrap_or(Value::Null);
            put(&mut m, "health-check-type", kind);
            if let Some(e) = &p.health_check.endpoint {
                put(
                    &mut m,
                    "health-check-http-endpoint",
                    Value::String(e.clone()),
                );
            }
            if let Some(t) = p.health_check.invocation_timeout {
                put(
                    &mut m,
                    "health-check-invocation-timeout",
                    Value::Number(t.into()),
                );
            }
            if let Some(t) = p.health_check.timeout {
                put(&mut m, "timeout", Value::Number(t.into()));
            }
            Value::Mapping(m)
        })
        .collect();
    put(&mut entry, "processes", Value::Sequence(processes));
    let mut doc = Mapping::new();
    doc.insert(
        "applications".into(),
        Value::Sequence(vec![Value::Mapping(entry)]),
    );
    serde_yaml_ng::to_string(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::environment::tests::{app, process};

    #[test]
    fn push_without_manifest() {
        let apps = parse("applications:\n- name: myapp\n  default-route: true\n").expect("valid");
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].name, "myapp");
        assert!(apps[0].default_route);
        assert_eq!(apps[0].processes.len(), 1);
        assert_eq!(
            apps[0].processes[0],
            ProcessManifest {
                process_type: "web".into(),
                ..Default::default()
            }
        );
        assert_eq!(apps[0].buildpacks, None);
    }

    #[test]
    fn push_flags_folded_in() {
        let yaml = "applications:\n- name: fapp\n  disk-quota: 512M\n  health-check-type: process\n  timeout: 60\n  instances: 3\n  path: /tmp/x\n  memory: 128M\n  random-route: true\n  stack: cflinuxfs4\n  buildpacks:\n  - staticfile_buildpack\n  command: ./run\n  env:\n    A: 1\n    B: yes\n";
        let app = &parse(yaml).expect("valid")[0];
        let web = &app.processes[0];
        assert_eq!(web.instances, Some(3));
        assert_eq!(web.memory_in_mb, Some(128));
        assert_eq!(web.disk_in_mb, Some(512));
        assert_eq!(web.command, Some(Some("./run".into())));
        assert_eq!(web.health_check.kind, Some(HealthCheckType::Process));
        assert_eq!(web.health_check.timeout, Some(Some(60)));
        assert!(app.random_route && !app.default_route);
        assert_eq!(app.buildpacks, Some(vec!["staticfile_buildpack".into()]));
        assert_eq!(app.stack.as_deref(), Some("cflinuxfs4"));
        assert_eq!(app.env["A"], "1");
        assert_eq!(app.env["B"], "yes");
    }

    #[test]
    fn processes_and_routes() {
        let yaml = "applications:\n- name: a\n  memory: 1G\n  buildpack: default\n  routes:\n  - route: a.example.com\n  processes:\n  - type: worker\n    command: work\n    instances: 2\n  - type: web\n    memory: 256MB\n    health-check-type: http\n    health-check-http-endpoint: /health\n";
        let app = &parse(yaml).expect("valid")[0];
        assert_eq!(app.buildpacks, Some(vec![]));
        assert_eq!(app.routes, Some(vec!["a.example.com".into()]));
        let types: Vec<&str> = app
            .processes
            .iter()
            .map(|p| p.process_type.as_str())
            .collect();
        assert_eq!(types, ["worker", "web"]);
        // The listed web process wins over the app-level keys.
        assert_eq!(app.processes[1].memory_in_mb, Some(256));
        assert_eq!(
            app.processes[1].health_check.endpoint,
            Some(Some("/health".into()))
        );
    }

    #[test]
    fn sizes() {
        let s = |v: &str| megabytes(&Value::String(v.into()), "Memory");
        assert_eq!(s("256M"), Ok(256));
        assert_eq!(s("2g"), Ok(2048));
        assert_eq!(s("1024mb"), Ok(1024));
        assert_eq!(s("2048K"), Ok(2));
        assert_eq!(s("abc"), Err("Memory is not a number".into()));
        assert_eq!(
            s("12"),
            Err("Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB".into())
        );
        assert_eq!(s("0M"), Err("Memory must be greater than 0MB".into()));
    }

    #[test]
    fn problems_name_their_application() {
        let yaml = "applications:\n- name: a\n  memory: abc\n  instances: -1\n  env:\n    VCAP_X: y\n- memory: 1G\n";
        let problems = parse(yaml).expect_err("invalid").expect("problems");
        assert_eq!(
            problems,
            [
                "For application 'a': Env cannot start with VCAP_",
                "For application 'a': Process \"web\": Instances must be greater than or equal to 0",
                "For application 'a': Process \"web\": Memory is not a number",
                "For application at index 1: Name must not be empty",
            ]
        );
        assert_eq!(parse("applications: [\n"), Err(None));
        assert!(parse("applications: []\n").is_err());
        let docker = parse("applications:\n- name: d\n  docker:\n    image: nginx\n");
        assert!(docker.is_err());
    }

    #[test]
    fn generated_manifest() {
        let mut web = process();
        web.health_check.kind = HealthCheckType::Http;
        web.health_check.endpoint = Some("/h".into());
        let yaml = generate(&app(), &[web], &["myapp.apps.localhost".into()]);
        let back = parse(&yaml).expect("round trip");
        assert_eq!(back[0].name, "myapp");
        assert_eq!(back[0].routes, Some(vec!["myapp.apps.localhost".into()]));
        assert_eq!(back[0].processes[0].memory_in_mb, Some(256));
        assert!(yaml.contains("memory: 256M"), "{yaml}");
        assert!(yaml.contains("health-check-http-endpoint: /h"), "{yaml}");
    }
}
