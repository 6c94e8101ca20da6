//! A real `debootstrap --variant=minbase` with no extra packages, from the host's own Debian
//! mirror (or `INGOT_STACK_MIRROR`), into a temporary data directory; then the warm no-op and a
//! rebuild from the package cache.
//!
//! It downloads from a Debian mirror, so it runs only when asked: `INGOT_STACK_BUILD_TEST=1`
//! (with `INGOT_STACK_MIRROR` to use a mirror of your own, e.g. on loopback). Asked to, it
//! needs root and debootstrap and fails without them. CI instead builds the full stack once as
//! a setup step (`.ci/run`), cached, and the container tests run apps on it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use ingot_stack::{BuildOptions, Progress, StackChoice, build, default_stack, find, list};

/// The whole test's bound: a minbase bootstrap takes well under a minute on a good link.
const TIME_LIMIT: Duration = Duration::from_secs(600);

fn cannot_run() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root");
    }
    let installed = std::process::Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    (!installed).then_some("debootstrap is not installed (apt-get install -y debootstrap)")
}

fn debs(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".deb"))
        .collect();
    names.sort();
    names
}

fn print(progress: Progress<'_>) {
    match progress {
        Progress::Step(step) => eprintln!("-----> {step}"),
        Progress::Output(line) => eprintln!("       {line}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_minbase_stack_is_built_found_reused_and_rebuilt_from_the_cache() {
    if std::env::var("INGOT_STACK_BUILD_TEST").as_deref() != Ok("1") {
        eprintln!("skipping a real debootstrap stack build: set INGOT_STACK_BUILD_TEST=1");
        return;
    }
    if let Some(reason) = cannot_run() {
        panic!("a real debootstrap stack build was asked for but cannot run: {reason}");
    }
    let data = tempfile::tempdir().unwrap();
    let mut options = BuildOptions::new(data.path());
    options.packages = Vec::new();
    options.mirror = std::env::var("INGOT_STACK_MIRROR").ok();

    tokio::time::timeout(TIME_LIMIT, async {
        let cold = build(&options, &mut print).await.expect("cold build");
        assert!(!cold.reused);
        let rootfs = &cold.stack.rootfs;
        assert_eq!(rootfs, &data.path().join("stacks/bookworm/rootfs"));
        assert!(cold.stack.packages.is_empty());
        assert!(
            cold.stack.size_bytes > 50_000_000,
            "{}",
            cold.stack.size_bytes
        );

        let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
        assert!(
            passwd
                .lines()
                .any(|l| l.starts_with("vcap:x:2000:2000:") && l.contains(":/home/vcap:")),
            "{passwd}"
        );
        let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap();
        assert!(
            group.lines().any(|l| l.starts_with("vcap:x:2000:")),
            "{group}"
        );
        let home = std::fs::metadata(rootfs.join("home/vcap")).unwrap();
        assert_eq!((home.uid(), home.gid()), (2000, 2000));
        let tmp = std::fs::metadata(rootfs.join("tmp")).unwrap();
        assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
        for file in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
            let meta = rootfs.join(file).symlink_metadata().unwrap();
            assert!(meta.is_file() && meta.len() == 0, "{file} is an empty file");
        }
        assert!(
            rootfs.join("usr/lib/locale/C.utf8").is_dir(),
            "C.UTF-8 comes with libc-bin"
        );
        assert!(rootfs.join("usr/sbin/policy-rc.d").is_file());
        let archives = rootfs.join("var/cache/apt/archives");
        assert!(debs(&archives).is_empty(), "no packages left in the rootfs");
        let lists = std::fs::read_dir(rootfs.join("var/lib/apt/lists")).unwrap();
        assert!(
            lists.flatten().all(|e| e.file_type().unwrap().is_dir()),
            "no apt lists"
        );

        let cache = data.path().join("stacks/.cache/debs");
        let cached = debs(&cache);
        assert!(cached.iter().any(|d| d.starts_with("bash_")), "{cached:?}");
        assert_eq!(find(data.path(), "bookworm").as_ref(), Some(&cold.stack));
        assert_eq!(list(data.path()), std::slice::from_ref(&cold.stack));
        assert_eq!(
            default_stack(data.path()),
            StackChoice::Built(cold.stack.clone())
        );

        let warm = build(&options, &mut print).await.expect("warm build");
        assert!(warm.reused);
        assert_eq!(warm.stack, cold.stack);

        options.force = true;
        let rebuilt = build(&options, &mut print).await.expect("rebuild");
        assert!(!rebuilt.reused);
        assert!(rebuilt.stack.built_at > cold.stack.built_at);
        assert_eq!(debs(&cache), cached, "the rebuild downloaded no package");
        assert_eq!(find(data.path(), "bookworm"), Some(rebuilt.stack));
    })
    .await
    .expect("the builds finished within the time limit");

    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let data_dir = data.path().canonicalize().unwrap();
    assert!(
        !mountinfo.contains(data_dir.to_str().unwrap()),
        "a build left a mount behind:\n{mountinfo}"
    );
    let stacks: Vec<String> = std::fs::read_dir(data.path().join("stacks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.ends_with(".lock"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        stacks,
        [".cache", "bookworm"],
        "no staging or retired directory left"
    );
}
