//! The composable action tree a cell's executor runs, and health-check definitions. Serialised
//! the way Diego does: each action is an object with a single key naming its kind, e.g.
//! `{"run": {"path": "/bin/true"}}`.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::models::Validator;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentVariable {
    pub name: String,
    pub value: String,
}

impl EnvironmentVariable {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nofile: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nproc: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunAction {
    pub path: String,
    pub args: Vec<String>,
    pub dir: String,
    pub env: Vec<EnvironmentVariable>,
    pub user: String,
    pub resource_limits: ResourceLimits,
    pub log_source: String,
    pub suppress_log_output: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DownloadAction {
    /// A URL.
    pub from: String,
    pub to: String,
    pub cache_key: String,
    pub checksum_algorithm: String,
    pub checksum_value: String,
    /// Shown in progress messages ("Downloading droplet...").
    pub artifact: String,
    pub user: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadAction {
    pub from: String,
    /// A URL.
    pub to: String,
    pub artifact: String,
    pub user: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialAction {
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParallelAction {
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodependentAction {
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutAction {
    pub action: Box<Action>,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TryAction {
    pub action: Box<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmitProgressAction {
    pub action: Box<Action>,
    #[serde(default)]
    pub start_message: String,
    #[serde(default)]
    pub success_message: String,
    #[serde(default)]
    pub failure_message_prefix: String,
}

/// One node of an action tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Run(RunAction),
    Download(DownloadAction),
    Upload(UploadAction),
    Serial(SerialAction),
    Parallel(ParallelAction),
    Codependent(CodependentAction),
    Timeout(TimeoutAction),
    Try(TryAction),
    EmitProgress(EmitProgressAction),
}

impl Action {
    /// A `run` action of `path` with `args`, as user `vcap`.
    pub fn run(path: impl Into<String>, args: &[&str]) -> Self {
        Self::Run(RunAction {
            path: path.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            user: "vcap".to_owned(),
            ..RunAction::default()
        })
    }

    /// Every problem in this tree, with dotted paths to the bad field.
    pub fn validation_errors(&self) -> Vec<FieldError> {
        let mut v = Validator::new();
        match self {
            Action::Run(a) => {
                v.require(&a.path, "run.path");
                v.require(&a.user, "run.user");
            }
            Action::Download(a) => {
                v.require(&a.from, "download.from");
                v.check(
                    a.from.is_empty() || url::Url::parse(&a.from).is_ok(),
                    "download.from",
                    "must be a URL",
                );
                v.require(&a.to, "download.to");
                v.require(&a.user, "download.user");
                v.check(
                    a.checksum_algorithm.is_empty()
                        || ["md5", "sha1", "sha256"].contains(&a.checksum_algorithm.as_str()),
                    "download.checksum_algorithm",
                    "must be md5, sha1 or sha256",
                );
                v.check(
                    a.checksum_algorithm.is_empty() == a.checksum_value.is_empty(),
                    "download.checksum_value",
                    "checksum algorithm and value go together",
                );
            }
            Action::Upload(a) => {
                v.require(&a.from, "upload.from");
                v.require(&a.to, "upload.to");
                v.require(&a.user, "upload.user");
            }
            Action::Serial(a) => children(&mut v, "serial", &a.actions),
            Action::Parallel(a) => children(&mut v, "parallel", &a.actions),
            Action::Codependent(a) => children(&mut v, "codependent", &a.actions),
            Action::Timeout(a) => {
                v.check(a.timeout_ms > 0, "timeout.timeout_ms", "must be positive");
                v.nested("timeout.action", a.action.validation_errors());
            }
            Action::Try(a) => {
                v.nested("try.action", a.action.validation_errors());
            }
            Action::EmitProgress(a) => {
                v.nested("emit_progress.action", a.action.validation_errors());
            }
        }
        v.into_errors()
    }
}

fn children(v: &mut Validator, kind: &str, actions: &[Action]) {
    v.check(
        !actions.is_empty(),
        &format!("{kind}.actions"),
        "is required",
    );
    for (i, child) in actions.iter().enumerate() {
        v.nested(&format!("{kind}.actions[{i}]"), child.validation_errors());
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpCheck {
    pub port: u32,
    #[serde(default)]
    pub connect_timeout_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCheck {
    pub port: u32,
    #[serde(default)]
    pub request_timeout_ms: u64,
    #[serde(default)]
    pub path: String,
}

/// One health check; serialises as `{"tcp_check": {...}}` or `{"http_check": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    TcpCheck(TcpCheck),
    HttpCheck(HttpCheck),
}

/// The health checks the rep runs against an LRP instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDefinition {
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_source: String,
}

impl CheckDefinition {
    pub fn validation_errors(&self) -> Vec<FieldError> {
        let mut v = Validator::new();
        for (i, check) in self.checks.iter().enumerate() {
            let port = match check {
                Check::TcpCheck(c) => c.port,
                Check::HttpCheck(c) => c.port,
            };
            v.check(
                port > 0 && port <= 65535,
                &format!("checks[{i}].port"),
                "must be a valid port",
            );
        }
        v.into_errors()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_like_diego() {
        let action = Action::Timeout(TimeoutAction {
            action: Box::new(Action::Serial(SerialAction {
                actions: vec![Action::run("/bin/true", &[])],
            })),
            timeout_ms: 1000,
        });
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["timeout"]["timeout_ms"], 1000);
        assert_eq!(
            json["timeout"]["action"]["serial"]["actions"][0]["run"]["path"],
            "/bin/true"
        );
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), action);

        let check = CheckDefinition {
            checks: vec![Check::HttpCheck(HttpCheck {
                port: 8080,
                request_timeout_ms: 1000,
                path: "/".into(),
            })],
            log_source: String::new(),
        };
        let json = serde_json::to_value(&check).unwrap();
        assert_eq!(json["checks"][0]["http_check"]["port"], 8080);
    }

    #[test]
    fn validation_walks_the_tree() {
        let action = Action::Serial(SerialAction {
            actions: vec![
                Action::run("", &[]),
                Action::Download(DownloadAction {
                    from: "not a url".into(),
                    ..DownloadAction::default()
                }),
            ],
        });
        let fields: Vec<String> = action
            .validation_errors()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "serial.actions[0].run.path",
                "serial.actions[1].download.from",
                "serial.actions[1].download.to",
                "serial.actions[1].download.user",
            ]
        );
    }
}
