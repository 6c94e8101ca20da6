//! `ingot stack build`: debootstrap a Debian root file system, install what the built-in
//! buildpacks need, add the `vcap` user, and finish it for containers.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::error::IoContext;
use crate::mounts::ProcMount;
use crate::store::{Layout, Plan, Staging, is_valid_name, plan};
use crate::{BuiltStack, Error, command, find, mirror, rootfs};

/// The stack `ingot stack build` makes unless told otherwise; it answers to `cflinuxfs4`.
pub const DEFAULT_NAME: &str = "bookworm";
/// The Debian release every stack is built from (Debian 12).
pub const SUITE: &str = "bookworm";
pub const DESCRIPTION: &str =
    "Debian 12 (bookworm) built with ingot stack build; stands in for cflinuxfs4";
/// Cloud Foundry's `vcap` user and group, which app processes run as.
pub const VCAP_UID: u32 = 2000;
pub const VCAP_GID: u32 = 2000;

/// What the built-in buildpacks run at staging and at launch, on top of debootstrap's minimal
/// base (which already has bash, coreutils, sed, grep, findutils, mawk, tar, gzip, and the
/// C.UTF-8 locale in libc-bin).
pub const STACK_PACKAGES: &[&str] = &[
    "ca-certificates",
    "curl",
    "default-jre-headless", // java_buildpack
    "git",
    "golang-go", // go_buildpack
    "netbase",   // /etc/services and /etc/protocols
    "nodejs",    // nodejs_buildpack
    "npm",
    "procps",
    "python3", // python_buildpack, and staticfile_buildpack's server
    "python3-pip",
    "python3-venv",
    "ruby", // ruby_buildpack
    "ruby-bundler",
    "tzdata",
    "unzip", // java_buildpack reads jar manifests with it
    "xz-utils",
];

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Ingot's data directory; the stack goes to `<data_dir>/stacks/<name>`.
    pub data_dir: PathBuf,
    pub name: String,
    /// The Debian mirror; [`host_mirror`](crate::host_mirror) when `None`.
    pub mirror: Option<String>,
    /// Installed on top of debootstrap's `minbase` variant; empty installs nothing more.
    pub packages: Vec<String>,
    /// Rebuild even when a complete stack with these packages exists (packages come from the
    /// cache of earlier downloads).
    pub force: bool,
}

impl BuildOptions {
    /// The default stack: `bookworm` with [`STACK_PACKAGES`], from the host's mirror.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            name: DEFAULT_NAME.to_owned(),
            mirror: None,
            packages: STACK_PACKAGES.iter().map(|p| p.to_string()).collect(),
            force: false,
        }
    }
}

/// A build's report, line by line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// One of the build's own steps.
    Step(&'a str),
    /// A line printed by debootstrap, apt or another program a step runs.
    Output(&'a str),
}

/// The result of [`build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    pub stack: BuiltStack,
    /// The stack was already built with these packages, and was left as it was.
    pub reused: bool,
}

/// Builds the stack `options` describe, unless a complete build with the same packages exists.
///
/// Needs root and debootstrap (not for the no-op). Dropping the future stops the build: its
/// programs are killed and the unfinished tree is removed.
pub async fn build(
    options: &BuildOptions,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<BuildOutcome, Error> {
    let name = &options.name;
    if !is_valid_name(name) {
        return Err(Error::InvalidName(name.clone()));
    }
    let mut packages = options.packages.clone();
    packages.sort();
    packages.dedup();
    let reason = match plan(find(&options.data_dir, name), &packages, options.force) {
        Plan::Reuse(stack) => {
            progress(Progress::Step(&format!(
                "Stack {name} is already built with these packages ({}); nothing to do",
                stack.rootfs.display()
            )));
            return Ok(BuildOutcome {
                stack,
                reused: true,
            });
        }
        Plan::Build(reason) => reason,
    };
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::NotRoot);
    }
    let mirror = match &options.mirror {
        Some(mirror) => mirror.clone(),
        None => mirror::host_mirror()?,
    };

    let layout = Layout::new(&options.data_dir, name);
    let _lock = layout.lock()?;
    let deb_cache = layout.deb_cache();
    std::fs::create_dir_all(&deb_cache).context(|| format!("creating {}", deb_cache.display()))?;
    // debootstrap wants an absolute cache directory.
    let deb_cache = deb_cache
        .canonicalize()
        .context(|| format!("resolving {}", deb_cache.display()))?;
    let staging = Staging::create(&layout)?;
    let rootfs = staging.rootfs();

    progress(Progress::Step(&format!(
        "Building stack {name} ({reason}): Debian {SUITE} from {mirror}"
    )));
    let mut debootstrap = Command::new("debootstrap");
    debootstrap
        .arg("--variant=minbase")
        .arg(format!("--cache-dir={}", deb_cache.display()))
        .args([SUITE.as_ref(), rootfs.as_os_str(), mirror.as_ref()]);
    command::run(debootstrap, "debootstrap", progress)
        .await
        .map_err(|err| match err {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Error::DebootstrapMissing
            }
            other => other,
        })?;
    rootfs::forbid_service_starts(&rootfs).context(|| "writing policy-rc.d".into())?;

    if !packages.is_empty() {
        progress(Progress::Step(&format!(
            "Installing {} packages: {}",
            packages.len(),
            packages.join(" ")
        )));
        install_packages(&rootfs, &packages, &deb_cache, progress).await?;
    }

    progress(Progress::Step(&format!(
        "Adding the vcap user and group ({VCAP_UID}:{VCAP_GID}, home /home/vcap)"
    )));
    add_vcap_user(&rootfs, progress).await?;

    progress(Progress::Step(
        "Making it container-ready: empty hostname, hosts and resolv.conf; no apt lists or caches",
    ));
    rootfs::make_container_ready(&rootfs).context(|| format!("finishing {}", rootfs.display()))?;
    let size_bytes = ingot_garden::disk_usage(&rootfs);

    let stack = staging.commit(
        &layout,
        &BuiltStack {
            name: name.clone(),
            description: DESCRIPTION.to_owned(),
            suite: SUITE.to_owned(),
            mirror,
            packages,
            built_at: chrono::Utc::now(),
            size_bytes,
            rootfs: PathBuf::new(),
        },
    )?;
    progress(Progress::Step(&format!(
        "Stack {name} is ready: {} ({} MB)",
        stack.rootfs.display(),
        size_bytes / 1_000_000
    )));
    Ok(BuildOutcome {
        stack,
        reused: false,
    })
}

/// apt inside the new root file system, with the packages earlier builds downloaded lent to it
/// and whatever it downloads kept for the next build.
async fn install_packages(
    rootfs: &Path,
    packages: &[String],
    deb_cache: &Path,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<(), Error> {
    let archives = rootfs.join("var/cache/apt/archives");
    rootfs::share_debs(deb_cache, &archives).context(|| "lending cached packages to apt".into())?;
    {
        let _proc = ProcMount::mount(rootfs)
            .context(|| format!("mounting /proc in {}", rootfs.display()))?;
        command::run(
            in_chroot(rootfs, ["apt-get", "update"]),
            "apt-get update",
            progress,
        )
        .await?;
        let install = ["apt-get", "install", "--yes", "--no-install-recommends"];
        let argv = install
            .into_iter()
            .chain(packages.iter().map(String::as_str));
        command::run(in_chroot(rootfs, argv), "apt-get install", progress).await?;
    }
    rootfs::share_debs(&archives, deb_cache).context(|| "caching downloaded packages".into())
}

/// Cloud Foundry's `vcap` user and group, which app processes run as.
async fn add_vcap_user(
    rootfs: &Path,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<(), Error> {
    let groupadd = format!("groupadd --gid {VCAP_GID} vcap");
    command::run(
        in_chroot(rootfs, groupadd.split_whitespace()),
        "groupadd",
        progress,
    )
    .await?;
    let useradd = format!(
        "useradd --uid {VCAP_UID} --gid {VCAP_GID} --create-home --home-dir /home/vcap \
         --shell /bin/bash vcap"
    );
    command::run(
        in_chroot(rootfs, useradd.split_whitespace()),
        "useradd",
        progress,
    )
    .await
}

/// `argv` run inside `rootfs`, non-interactively and in the one locale every Debian has.
fn in_chroot(rootfs: &Path, argv: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Command {
    let mut command = Command::new("chroot");
    command
        .arg(rootfs)
        .args(argv)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("LC_ALL", "C.UTF-8");
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_complete_stack_with_the_same_packages_is_left_alone() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("stacks/bookworm");
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let mut sorted: Vec<String> = STACK_PACKAGES.iter().map(|p| p.to_string()).collect();
        sorted.sort();
        let built = BuiltStack {
            name: "bookworm".into(),
            description: DESCRIPTION.into(),
            suite: SUITE.into(),
            mirror: "http://mirror.example/debian".into(),
            packages: sorted.clone(),
            built_at: chrono::Utc::now(),
            size_bytes: 1,
            rootfs: PathBuf::new(),
        };
        std::fs::write(dir.join("stack.json"), serde_json::to_vec(&built).unwrap()).unwrap();

        let mut options = BuildOptions::new(data.path());
        // The same packages in another order: the comparison is on the sorted list.
        options.packages = sorted.into_iter().rev().collect();
        // No debootstrap runs: an unreachable mirror would fail the build otherwise.
        options.mirror = Some("http://127.0.0.1:9/debian".into());
        let mut steps = Vec::new();
        let outcome = build(&options, &mut |p| steps.push(format!("{p:?}")))
            .await
            .unwrap();

        assert!(outcome.reused);
        assert_eq!(outcome.stack, find(data.path(), "bookworm").unwrap());
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert!(steps[0].contains("already built"), "{steps:?}");
    }

    #[tokio::test]
    async fn a_bad_name_is_refused_before_anything_runs() {
        let data = tempfile::tempdir().unwrap();
        let mut options = BuildOptions::new(data.path());
        options.name = "../etc".into();
        let err = build(&options, &mut |_| {}).await.unwrap_err();
        assert!(matches!(err, Error::InvalidName(_)), "{err}");
        assert!(!data.path().join("stacks").exists());
    }
}
