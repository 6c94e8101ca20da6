//! Builds the command for one process: executable lookup, environment, working directory,
//! process group and resource limits.
//!
//! Limits are applied without unsafe code: when one is set, the process starts through
//! `/bin/sh -c 'ulimit ...; exec "$0" "$@"'`, which sets the limit and then becomes the
//! process (same pid, same process group).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::resource::{Resource, getrlimit};
use tokio::process::Command;

use super::depot::Layout;
use crate::error::Error;
use crate::spec::{Limits, ProcessSpec};

const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Everything needed to start one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub dir: PathBuf,
}

/// Rlimits to set on the process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rlimits {
    pub open_files: Option<u64>,
    pub address_space_bytes: Option<u64>,
}

impl Rlimits {
    pub fn for_process(
        container: &Limits,
        spec: &ProcessSpec,
        enforce_address_space: bool,
    ) -> Self {
        Self {
            open_files: spec.limits.open_files.or(container.open_files),
            address_space_bytes: container.memory_bytes.filter(|_| enforce_address_space),
        }
    }
}

/// Merges env layers in order; a later `KEY=VALUE` overrides an earlier one.
pub(crate) fn merge_env<'a>(
    layers: impl IntoIterator<Item = &'a [String]>,
    base: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env = base;
    for layer in layers {
        for pair in layer {
            if let Some((key, value)) = pair.split_once('=') {
                env.insert(key.to_string(), value.to_string());
            }
        }
    }
    env
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds the executable: a path with `/` is tried inside the container first and then on the
/// host (the process backend shares the host's file system); a bare name is looked up in
/// `PATH`.
pub(crate) fn resolve_executable(
    layout: &Layout,
    path: &str,
    dir: &Path,
    search_path: &str,
) -> Result<PathBuf, Error> {
    let not_found = || Error::ExecutableNotFound {
        path: path.to_string(),
    };
    if path.contains('/') {
        let candidates = if path.starts_with('/') {
            vec![layout.host_path(path)?, PathBuf::from(path)]
        } else {
            vec![dir.join(path)]
        };
        return candidates
            .into_iter()
            .find(|c| is_executable(c))
            .ok_or_else(not_found);
    }
    search_path
        .split(':')
        .filter(|entry| !entry.is_empty())
        .map(|entry| Path::new(entry).join(path))
        .find(|c| is_executable(c))
        .map(|c| if c.is_absolute() { c } else { dir.join(c) })
        .ok_or_else(not_found)
}

/// Works out program, args, env and directory for `spec` in the container.
pub(crate) fn plan(
    layout: &Layout,
    container_env: &[String],
    spec: &ProcessSpec,
) -> Result<Plan, Error> {
    let dir = layout.host_path(spec.dir.as_deref().unwrap_or("/"))?;
    let base = BTreeMap::from([
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOME".to_string(), layout.rootfs().display().to_string()),
        ("TMPDIR".to_string(), layout.tmp().display().to_string()),
    ]);
    let env = merge_env([container_env, spec.env.as_slice()], base);
    let search_path = env.get("PATH").map_or(DEFAULT_PATH, String::as_str);
    let program = resolve_executable(layout, &spec.path, &dir, search_path)?;
    Ok(Plan {
        program,
        args: spec.args.clone(),
        env,
        dir,
    })
}

/// A soft+hard limit can only be lowered by an unprivileged process, so clamp to ours.
fn clamp(resource: Resource, wanted: u64) -> u64 {
    match getrlimit(resource) {
        Ok((_, hard)) => wanted.min(hard),
        Err(_) => wanted,
    }
}

/// The command to spawn, in its own process group, with limits applied.
pub(crate) fn command(plan: &Plan, limits: Rlimits) -> Command {
    let mut ulimits = Vec::new();
    if let Some(n) = limits.open_files {
        ulimits.push(format!("ulimit -n {}", clamp(Resource::RLIMIT_NOFILE, n)));
    }
    if let Some(bytes) = limits.address_space_bytes {
        // `ulimit -v` counts KiB.
        let kib = clamp(Resource::RLIMIT_AS, bytes) / 1024;
        ulimits.push(format!("ulimit -v {kib}"));
    }
    let mut command = if ulimits.is_empty() {
        let mut c = Command::new(&plan.program);
        c.args(&plan.args);
        c
    } else {
        let script = format!("{} && exec \"$0\" \"$@\"", ulimits.join(" && "));
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script).arg(&plan.program).args(&plan.args);
        c
    };
    command
        .env_clear()
        .envs(&plan.env)
        .current_dir(&plan.dir)
        .process_group(0)
        .kill_on_drop(false);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(dir: &Path) -> Layout {
        Layout::new(dir, "h")
    }

    #[test]
    fn later_env_layers_win() {
        let container = vec!["A=1".to_string(), "B=1".to_string()];
        let process = vec!["B=2".to_string(), "C=x=y".to_string()];
        let env = merge_env(
            [container.as_slice(), process.as_slice()],
            BTreeMap::from([("A".into(), "0".into())]),
        );
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "2");
        assert_eq!(env["C"], "x=y");
    }

    #[test]
    fn plan_points_home_and_tmpdir_into_the_container() {
        let depot = tempfile::tempdir().unwrap();
        let layout = layout(depot.path());
        let spec = ProcessSpec {
            path: "sh".into(),
            dir: Some("/app".into()),
            ..ProcessSpec::default()
        };
        let plan = plan(&layout, &["X=1".into()], &spec).unwrap();
        assert_eq!(plan.env["HOME"], layout.rootfs().display().to_string());
        assert_eq!(plan.env["TMPDIR"], layout.tmp().display().to_string());
        assert_eq!(plan.env["X"], "1");
        assert_eq!(plan.dir, layout.rootfs().join("app"));
        assert!(plan.program.ends_with("sh"));
    }

    #[test]
    fn executables_inside_the_container_win_over_the_host() {
        let depot = tempfile::tempdir().unwrap();
        let layout = layout(depot.path());
        let bin = layout.rootfs().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(bin.join("sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = resolve_executable(&layout, "/bin/sh", &layout.rootfs(), DEFAULT_PATH);
        assert_eq!(found.unwrap(), bin.join("sh"));
    }

    #[test]
    fn missing_executables_are_reported() {
        let depot = tempfile::tempdir().unwrap();
        let layout = layout(depot.path());
        for path in ["no-such-program-here", "/no/such/program", "./nope"] {
            let err = resolve_executable(&layout, path, &layout.rootfs(), DEFAULT_PATH);
            assert_eq!(
                err.unwrap_err(),
                Error::ExecutableNotFound { path: path.into() }
            );
        }
    }

    #[test]
    fn address_space_limit_is_opt_in() {
        let limits = Limits {
            memory_bytes: Some(1 << 30),
            open_files: Some(100),
            ..Limits::default()
        };
        let spec = ProcessSpec::default();
        let off = Rlimits::for_process(&limits, &spec, false);
        assert_eq!(off.address_space_bytes, None);
        assert_eq!(off.open_files, Some(100));
        let on = Rlimits::for_process(&limits, &spec, true);
        assert_eq!(on.address_space_bytes, Some(1 << 30));
    }
}
