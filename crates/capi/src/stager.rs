//! The stager: turns a build into the Diego Task that stages it. Download the package and
//! the buildpacks, run the lifecycle builder, upload the droplet and the build cache; the
//! BBS calls the completion URL with the builder's result file.
//!
//! Pure: the URLs come in signed, the task definition goes out.

use ingot_bbs::{
    Action, DownloadAction, EnvironmentVariable, ParallelAction, RunAction, SecurityGroupRule,
    SerialAction, TaskDefinition, TimeoutAction, TryAction, UploadAction,
};
use md5::{Digest, Md5};

use crate::diego::{LIFECYCLE_PATH, root_fs};

/// One buildpack to stage with: its key (the admin buildpack's name, which the builder
/// reports back) and where its zip is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingBuildpack {
    pub key: String,
    pub url: String,
    /// Lets the cell reuse a download: "<guid>-<sha256>".
    pub cache_key: String,
}

/// Everything one staging task needs, URLs already signed.
#[derive(Debug, Clone)]
pub struct StagingRequest {
    pub app_guid: String,
    pub stack: String,
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub env: Vec<EnvironmentVariable>,
    pub package_url: String,
    pub buildpacks: Vec<StagingBuildpack>,
    /// The app named its buildpacks: run them without detection.
    pub skip_detect: bool,
    pub build_cache_download_url: String,
    pub build_cache_upload_url: String,
    pub droplet_upload_url: String,
    pub completion_callback_url: String,
    pub timeout_ms: u64,
    /// The app's space's staging security groups.
    pub egress_rules: Vec<SecurityGroupRule>,
}

const LOG_SOURCE: &str = "STG";
const RESULT_FILE: &str = "/tmp/result.json";

/// Where a buildpack's zip is unpacked: named by the md5 of its key, as CF's builder
/// expects.
pub fn buildpack_dir(key: &str) -> String {
    let digest = Md5::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn download(from: &str, to: &str, cache_key: &str) -> Action {
    Action::Download(DownloadAction {
        from: from.to_owned(),
        to: to.to_owned(),
        cache_key: cache_key.to_owned(),
        user: "vcap".into(),
        ..DownloadAction::default()
    })
}

fn upload(from: &str, to: &str, artifact: &str) -> Action {
    Action::Upload(UploadAction {
        from: from.to_owned(),
        to: to.to_owned(),
        artifact: artifact.to_owned(),
        user: "vcap".into(),
    })
}

fn attempt(action: Action) -> Action {
    Action::Try(TryAction {
        action: Box::new(action),
    })
}

/// The staging task. Paths in the builder's arguments are relative to its `dir` (`/`), as
/// the process container backend maps the container's root to a directory.
pub fn task_definition(req: &StagingRequest) -> TaskDefinition {
    let keys: Vec<&str> = req.buildpacks.iter().map(|b| b.key.as_str()).collect();
    let mut args: Vec<String> = [
        "lifecycle",
        "builder",
        "--build-dir",
        "tmp/app",
        "--buildpacks-dir",
        "tmp/buildpacks",
        "--output-droplet",
        "tmp/droplet",
        "--output-metadata",
        "tmp/result.json",
        "--build-artifacts-cache-dir",
        "tmp/cache",
        "--output-build-artifacts-cache",
        "tmp/output-cache",
        "--stack",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(req.stack.clone());
    args.push("--buildpack-order".into());
    args.push(keys.join(","));
    if req.skip_detect {
        args.push("--skip-detect".into());
    }
    let mut downloads = vec![download(&req.package_url, "/tmp/app", "")];
    downloads.extend(req.buildpacks.iter().map(|b| {
        download(
            &b.url,
            &format!("/tmp/buildpacks/{}", buildpack_dir(&b.key)),
            &b.cache_key,
        )
    }));
    downloads.push(attempt(download(
        &req.build_cache_download_url,
        "/tmp/cache",
        "",
    )));
    let mut steps = downloads;
    steps.push(Action::Run(RunAction {
        path: LIFECYCLE_PATH.into(),
        args,
        dir: "/".into(),
        env: req.env.clone(),
        user: "vcap".into(),
        log_source: LOG_SOURCE.into(),
        ..RunAction::default()
    }));
    steps.push(Action::Parallel(ParallelAction {
        actions: vec![
            upload("/tmp/droplet", &req.droplet_upload_url, "droplet"),
            attempt(upload(
                "/tmp/output-cache",
                &req.build_cache_upload_url,
                "build artifacts cache",
            )),
        ],
    }));
    TaskDefinition {
        root_fs: root_fs(&req.stack),
        env: req.env.clone(),
        action: Some(Action::Timeout(TimeoutAction {
            action: Box::new(Action::Serial(SerialAction { actions: steps })),
            timeout_ms: req.timeout_ms,
        })),
        memory_mb: req.memory_mb,
        disk_mb: req.disk_mb,
        log_guid: req.app_guid.clone(),
        log_source: LOG_SOURCE.into(),
        result_file: RESULT_FILE.into(),
        completion_callback_url: req.completion_callback_url.clone(),
        egress_rules: req.egress_rules.clone(),
        ..TaskDefinition::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(skip_detect: bool) -> StagingRequest {
        StagingRequest {
            app_guid: "app".into(),
            stack: "cflinuxfs4".into(),
            memory_mb: 1024,
            disk_mb: 4096,
            env: vec![EnvironmentVariable::new("CF_STACK", "cflinuxfs4")],
            package_url: "http://cc/pkg".into(),
            buildpacks: vec![StagingBuildpack {
                key: "binary_buildpack".into(),
                url: "http://cc/bp".into(),
                cache_key: "g-sha".into(),
            }],
            skip_detect,
            build_cache_download_url: "http://cc/cache".into(),
            build_cache_upload_url: "http://cc/cache-up".into(),
            droplet_upload_url: "http://cc/droplet-up".into(),
            completion_callback_url: "http://cc/done".into(),
            timeout_ms: 900_000,
            egress_rules: vec![SecurityGroupRule {
                protocol: ingot_bbs::Protocol::Udp,
                destinations: vec!["0.0.0.0/0".into()],
                ports: vec![53],
                port_range: None,
                icmp_info: None,
                log: false,
                annotations: Vec::new(),
            }],
        }
    }

    #[test]
    fn md5_dirs() {
        assert_eq!(buildpack_dir(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn task_shape() {
        let def = task_definition(&request(true));
        assert_eq!(def.root_fs, "preloaded:cflinuxfs4");
        assert_eq!(def.result_file, "/tmp/result.json");
        assert_eq!(def.egress_rules, request(true).egress_rules);
        assert_eq!(
            (def.log_guid.as_str(), def.log_source.as_str()),
            ("app", "STG")
        );
        assert!(
            def.validation_errors().is_empty(),
            "{:?}",
            def.validation_errors()
        );
        let Some(Action::Timeout(t)) = &def.action else {
            panic!("timeout")
        };
        let Action::Serial(serial) = &*t.action else {
            panic!("serial")
        };
        let kinds: Vec<&str> = serial
            .actions
            .iter()
            .map(|a| match a {
                Action::Download(_) => "download",
                Action::Try(_) => "try",
                Action::Run(_) => "run",
                Action::Parallel(_) => "parallel",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["download", "download", "try", "run", "parallel"]);
        let Action::Run(run) = &serial.actions[3] else {
            panic!()
        };
        assert_eq!(run.path, LIFECYCLE_PATH);
        assert!(
            run.args.iter().all(|a| !a.starts_with('/')),
            "{:?}",
            run.args
        );
        assert!(run.args.ends_with(&[
            "--buildpack-order".into(),
            "binary_buildpack".into(),
            "--skip-detect".into()
        ]));
        assert!(
            !task_definition(&request(false))
                .action
                .unwrap()
                .validation_errors()
                .iter()
                .any(|_| true)
        );
    }
}
