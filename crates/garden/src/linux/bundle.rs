//! OCI bundles: the runtime spec of a container (its init process, mounts, namespaces,
//! cgroup limits and confinement) and the process specs of what runs in it.
//!
//! Pure functions of their inputs, so the confinement is unit tested without a runtime.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilities, LinuxCpuBuilder, LinuxMemoryBuilder,
    LinuxNamespace, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, LinuxSeccomp,
    LinuxSeccompAction, LinuxSeccompBuilder, LinuxSyscallBuilder, Mount, MountBuilder,
    PosixRlimitType, Process, ProcessBuilder, Root, Spec, UserBuilder, get_default_maskedpaths,
    get_default_mounts, get_default_readonly_paths,
};

use crate::error::Error;
use crate::spec::{BindMount, BindMountMode, Limits};

/// Cloud Foundry's unprivileged user, which apps and staging run as.
pub(crate) const VCAP_UID: u32 = 2000;
pub(crate) const VCAP_HOME: &str = "/home/vcap";
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Open files per process when neither the container nor the process sets a limit.
const DEFAULT_OPEN_FILES: u64 = 16_384;
/// Processes (and threads) per container when the spec sets no limit.
pub(crate) const DEFAULT_PIDS: u64 = 1_024;
/// cgroup v1's range for cpu.shares.
const MIN_CPU_SHARES: u64 = 2;
const MAX_CPU_SHARES: u64 = 262_144;

/// pid 1 of every container: it reaps orphaned processes (the shell's `wait` collects any
/// child, adopted ones too) and, as pid 1, ignores signals it has no handler for.
pub(crate) const INIT: [&str; 3] = ["/bin/sh", "-c", "while :; do sleep 86400 & wait; done"];

/// Who a process runs as inside the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum User {
    Vcap,
    Root,
}

impl User {
    /// Garden's user names: empty means the container's default user, vcap.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "" | "vcap" => Ok(Self::Vcap),
            "root" => Ok(Self::Root),
            other => Err(Error::invalid(
                "user",
                format!("unknown user {other:?}: use vcap or root"),
            )),
        }
    }

    fn id(self) -> u32 {
        match self {
            Self::Vcap => VCAP_UID,
            Self::Root => 0,
        }
    }

    fn home(self) -> &'static str {
        match self {
            Self::Vcap => VCAP_HOME,
            Self::Root => "/root",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Vcap => "vcap",
            Self::Root => "root",
        }
    }

    /// vcap gets no capabilities at all; root gets a minimal set for file ownership and
    /// dropping to other users, never anything that reaches past the container.
    fn capabilities(self) -> LinuxCapabilities {
        let set: Capabilities = match self {
            Self::Vcap => HashSet::new(),
            Self::Root => HashSet::from([
                Capability::Chown,
                Capability::DacOverride,
                Capability::Fowner,
                Capability::Fsetid,
                Capability::Kill,
                Capability::Setgid,
                Capability::Setuid,
                Capability::NetBindService,
            ]),
        };
        let mut caps = LinuxCapabilities::default();
        caps.set_bounding(Some(set.clone()))
            .set_effective(Some(set.clone()))
            .set_permitted(Some(set))
            .set_inheritable(Some(HashSet::new()))
            .set_ambient(Some(HashSet::new()));
        caps
    }
}

/// A process to start in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessPlan {
    pub user: User,
    pub args: Vec<String>,
    /// `KEY=VALUE` layers, later ones win; HOME, USER and PATH default for the user.
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub open_files: Option<u64>,
}

fn oci(e: oci_spec::OciSpecError) -> Error {
    Error::Io {
        message: format!("building the OCI spec: {e}"),
    }
}

/// The runtime's process spec for `plan`: the user's ids, confined with no new privileges.
pub(crate) fn process(plan: &ProcessPlan) -> Result<Process, Error> {
    let base = [
        format!("HOME={}", plan.user.home()),
        format!("USER={}", plan.user.name()),
        format!("PATH={DEFAULT_PATH}"),
    ];
    let env = crate::process::spawn::merge_env(
        [base.as_slice(), plan.env.as_slice()],
        Default::default(),
    );
    let open_files = plan.open_files.unwrap_or(DEFAULT_OPEN_FILES);
    ProcessBuilder::default()
        .terminal(false)
        .user(
            UserBuilder::default()
                .uid(plan.user.id())
                .gid(plan.user.id())
                .build()
                .map_err(oci)?,
        )
        .args(plan.args.clone())
        .env(
            env.into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
        )
        .cwd(
            plan.cwd
                .clone()
                .unwrap_or_else(|| plan.user.home().to_string()),
        )
        .no_new_privileges(true)
        .capabilities(plan.user.capabilities())
        .rlimits(vec![
            oci_spec::runtime::PosixRlimitBuilder::default()
                .typ(PosixRlimitType::RlimitNofile)
                .soft(open_files)
                .hard(open_files)
                .build()
                .map_err(oci)?,
        ])
        .build()
        .map_err(oci)
}

/// Everything the container spec is made of.
#[derive(Debug, Clone)]
pub(crate) struct ContainerPlan {
    pub hostname: String,
    /// The overlay mount that is the container's root.
    pub rootfs: PathBuf,
    /// Host paths mounted read-only (the host stack's /usr, /etc, ...), as (host, container).
    pub stack_mounts: Vec<(PathBuf, String)>,
    /// Files generated for this container: /etc/hosts, /etc/hostname, /etc/resolv.conf and,
    /// on the host stack, /etc/passwd and /etc/group. As (host, container).
    pub files: Vec<(PathBuf, String)>,
    pub bind_mounts: Vec<BindMount>,
    /// The network namespace prepared for the container.
    pub netns: PathBuf,
    pub cgroups_path: String,
    pub limits: Limits,
    pub seccomp: bool,
    /// Whether the kernel accounts swap (memory.memsw), so memory+swap can be capped too.
    pub swap_accounting: bool,
}

fn bind(source: &Path, destination: &str, read_only: bool) -> Result<Mount, Error> {
    let mut options = vec![
        "rbind".to_string(),
        "nosuid".to_string(),
        "nodev".to_string(),
    ];
    options.push(if read_only { "ro" } else { "rw" }.to_string());
    MountBuilder::default()
        .destination(destination)
        .typ("bind")
        .source(source)
        .options(options)
        .build()
        .map_err(oci)
}

/// CF's CPU entitlement: a container's share of CPU under contention is proportional to its
/// memory, one share per MiB (bounded to what the kernel accepts). An explicit weight wins.
pub(crate) fn cpu_shares(limits: &Limits) -> Option<u64> {
    limits
        .cpu_weight
        .or(limits.memory_bytes.map(|bytes| bytes >> 20))
        .map(|shares| shares.clamp(MIN_CPU_SHARES, MAX_CPU_SHARES))
}

/// Syscalls no app needs that reach the kernel or other processes: module loading, kexec,
/// mounts, namespaces, tracing, keyrings, clocks, swap, reboot. The rest are allowed; the
/// process's missing capabilities and no_new_privs already refuse most privileged calls.
const DENIED_SYSCALLS: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "init_module",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "move_mount",
    "name_to_handle_at",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "umount2",
    "unshare",
    "userfaultfd",
];

fn seccomp() -> Result<LinuxSeccomp, Error> {
    const EPERM: u32 = 1;
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(vec![
            LinuxSyscallBuilder::default()
                .names(
                    DENIED_SYSCALLS
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>(),
                )
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret(EPERM)
                .build()
                .map_err(oci)?,
        ])
        .build()
        .map_err(oci)
}

fn namespace(typ: LinuxNamespaceType, path: Option<&Path>) -> LinuxNamespace {
    let mut ns = LinuxNamespace::default();
    ns.set_typ(typ);
    ns.set_path(path.map(Path::to_path_buf));
    ns
}

/// The runtime spec of a container: its init, as vcap, in new pid, mount, ipc, uts and
/// cgroup namespaces, in the prepared network namespace, with /proc paths masked, the cgroup
/// limits set and the seccomp filter on (when the runtime has seccomp).
pub(crate) fn container(plan: &ContainerPlan) -> Result<Spec, Error> {
    let init = process(&ProcessPlan {
        user: User::Vcap,
        args: INIT.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        cwd: Some("/".into()),
        open_files: None,
    })?;
    let mut mounts = get_default_mounts();
    for (host, dst) in &plan.stack_mounts {
        mounts.push(bind(host, dst, true)?);
    }
    for (host, dst) in &plan.files {
        mounts.push(bind(host, dst, true)?);
    }
    for mount in &plan.bind_mounts {
        mounts.push(bind(
            Path::new(&mount.src),
            &mount.dst,
            mount.mode == BindMountMode::Ro,
        )?);
    }
    let limits = &plan.limits;
    let mut memory = LinuxMemoryBuilder::default();
    if let Some(bytes) = limits.memory_bytes {
        memory = memory.limit(bytes as i64);
        if plan.swap_accounting {
            memory = memory.swap(bytes as i64);
        }
    }
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(shares) = cpu_shares(limits) {
        cpu = cpu.shares(shares);
    }
    let resources = LinuxResourcesBuilder::default()
        .memory(memory.build().map_err(oci)?)
        .cpu(cpu.build().map_err(oci)?)
        .pids(
            LinuxPidsBuilder::default()
                .limit(limits.pids.unwrap_or(DEFAULT_PIDS) as i64)
                .build()
                .map_err(oci)?,
        )
        .build()
        .map_err(oci)?;
    let mut linux = LinuxBuilder::default()
        .namespaces(vec![
            namespace(LinuxNamespaceType::Pid, None),
            namespace(LinuxNamespaceType::Mount, None),
            namespace(LinuxNamespaceType::Ipc, None),
            namespace(LinuxNamespaceType::Uts, None),
            namespace(LinuxNamespaceType::Cgroup, None),
            namespace(LinuxNamespaceType::Network, Some(&plan.netns)),
        ])
        .cgroups_path(PathBuf::from(&plan.cgroups_path))
        .resources(resources)
        .masked_paths(get_default_maskedpaths())
        .readonly_paths(get_default_readonly_paths());
    if plan.seccomp {
        linux = linux.seccomp(seccomp()?);
    }
    let mut root = Root::default();
    root.set_path(plan.rootfs.clone()).set_readonly(Some(false));
    let mut spec = Spec::default();
    spec.set_hostname(Some(plan.hostname.clone()))
        .set_process(Some(init))
        .set_root(Some(root))
        .set_mounts(Some(mounts))
        .set_linux(Some(linux.build().map_err(oci)?));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> ContainerPlan {
        ContainerPlan {
            hostname: "h".into(),
            rootfs: "/depot/h/rootfs".into(),
            stack_mounts: vec![("/usr".into(), "/usr".into())],
            files: vec![("/depot/h/etc/hosts".into(), "/etc/hosts".into())],
            bind_mounts: vec![BindMount {
                src: "/lifecycle".into(),
                dst: "/tmp/lifecycle".into(),
                mode: BindMountMode::Ro,
            }],
            netns: "/run/netns/ingot-h".into(),
            cgroups_path: "/ingot/h".into(),
            limits: Limits {
                memory_bytes: Some(256 << 20),
                ..Limits::default()
            },
            seccomp: true,
            swap_accounting: true,
        }
    }

    #[test]
    fn apps_run_as_vcap_without_capabilities_or_new_privileges() {
        let p = process(&ProcessPlan {
            user: User::parse("vcap").unwrap(),
            args: vec!["/bin/app".into()],
            env: vec!["PATH=/app/bin".into()],
            cwd: None,
            open_files: Some(100),
        })
        .unwrap();
        assert_eq!(p.user().uid(), VCAP_UID);
        assert_eq!(p.user().gid(), VCAP_UID);
        assert_eq!(p.no_new_privileges(), Some(true));
        let caps = p.capabilities().as_ref().unwrap();
        assert!(caps.bounding().as_ref().unwrap().is_empty());
        assert!(caps.effective().as_ref().unwrap().is_empty());
        assert_eq!(p.cwd(), Path::new(VCAP_HOME));
        let env = p.env().as_ref().unwrap();
        assert!(env.contains(&"PATH=/app/bin".to_string()));
        assert!(env.contains(&"HOME=/home/vcap".to_string()));
        assert_eq!(p.rlimits().as_ref().unwrap()[0].hard(), 100);
        assert!(User::parse("nobody").is_err());
    }

    #[test]
    fn the_container_is_confined_and_limited() {
        let spec = container(&plan()).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        let resources = linux.resources().as_ref().unwrap();
        assert_eq!(
            resources.memory().as_ref().unwrap().limit(),
            Some(256 << 20)
        );
        assert_eq!(resources.memory().as_ref().unwrap().swap(), Some(256 << 20));
        assert_eq!(resources.cpu().as_ref().unwrap().shares(), Some(256));
        assert_eq!(
            resources.pids().as_ref().unwrap().limit(),
            DEFAULT_PIDS as i64
        );
        let namespaces = linux.namespaces().as_ref().unwrap();
        let netns = namespaces
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .unwrap();
        assert_eq!(
            netns.path().as_deref(),
            Some(Path::new("/run/netns/ingot-h"))
        );
        assert!(
            namespaces
                .iter()
                .any(|n| n.typ() == LinuxNamespaceType::Pid)
        );
        assert!(
            linux
                .masked_paths()
                .as_ref()
                .unwrap()
                .contains(&"/proc/kcore".to_string())
        );
        assert!(linux.seccomp().is_some());
        let mounts = spec.mounts().as_ref().unwrap();
        let lifecycle = mounts
            .iter()
            .find(|m| m.destination() == Path::new("/tmp/lifecycle"))
            .unwrap();
        assert!(lifecycle.options().as_ref().unwrap().contains(&"ro".into()));
        let init = spec.process().as_ref().unwrap();
        assert_eq!(init.user().uid(), VCAP_UID);
    }

    #[test]
    fn cpu_shares_follow_memory() {
        let limits = |mb: u64| Limits {
            memory_bytes: Some(mb << 20),
            ..Limits::default()
        };
        assert_eq!(cpu_shares(&limits(1024)), Some(1024));
        assert_eq!(cpu_shares(&limits(1)), Some(MIN_CPU_SHARES));
        assert_eq!(cpu_shares(&Limits::default()), None);
        let explicit = Limits {
            cpu_weight: Some(50),
            ..limits(1024)
        };
        assert_eq!(cpu_shares(&explicit), Some(50));
    }
}
