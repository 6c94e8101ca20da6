//! The builder against real buildpack scripts, files and processes.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use clap::Parser;
use ingot_lifecycle::builder::{self, BuilderArgs, BuilderError, BuildpackMetadata};
use md5::{Digest, Md5};
use serde_json::json;
use support::{Staging, entries, read, untar, write};

const RELEASE_WEB: &str =
    "cat <<'YAML'\n---\ndefault_process_types:\n  web: ./start --port $PORT\nYAML";

fn types(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn md5_hex(key: &str) -> String {
    format!("{:x}", Md5::digest(key))
}

/// A buildpack under the older contract that detects when the app has `marker`.
fn legacy_buildpack(s: &Staging, key: &str, marker: &str) {
    s.buildpack(
        key,
        &[
            (
                "detect",
                &format!("test -f \"$1/{marker}\"\necho '{key} 1.0'"),
            ),
            (
                "compile",
                &format!("echo \"$#:$*\" > \"$1/compiled-by-{key}\""),
            ),
            ("release", RELEASE_WEB),
        ],
    );
}

#[test]
fn the_first_buildpack_to_detect_in_order_stages_the_app() {
    let s = Staging::new();
    s.app_file("Gemfile", "");
    s.app_file("package.json", "{}");
    legacy_buildpack(&s, "go", "go.mod");
    legacy_buildpack(&s, "ruby", "Gemfile");
    legacy_buildpack(&s, "node", "package.json");

    let result = builder::run(&s.args(&["go", "ruby", "node"], false)).unwrap();
    let meta = &result.lifecycle_metadata;
    assert_eq!(meta.detected_buildpack, "ruby 1.0");
    assert_eq!(meta.buildpack_key, "ruby");
    let ruby = BuildpackMetadata {
        key: "ruby".into(),
        name: "ruby 1.0".into(),
        version: None,
    };
    assert_eq!(meta.buildpacks, vec![ruby]);
    assert!(s.app().join("compiled-by-ruby").exists());
    assert!(!s.app().join("compiled-by-node").exists());

    // Order decides, not the buildpacks dir.
    let s = Staging::new();
    s.app_file("Gemfile", "");
    s.app_file("package.json", "{}");
    legacy_buildpack(&s, "ruby", "Gemfile");
    legacy_buildpack(&s, "node", "package.json");
    let result = builder::run(&s.args(&["node", "ruby"], false)).unwrap();
    assert_eq!(result.lifecycle_metadata.buildpack_key, "node");
}

#[test]
fn no_detecting_buildpack_is_no_app_detected() {
    let s = Staging::new();
    legacy_buildpack(&s, "go", "go.mod");
    legacy_buildpack(&s, "ruby", "Gemfile");
    let err = builder::run(&s.args(&["go", "ruby"], false)).unwrap_err();
    assert!(matches!(err, BuilderError::NoAppDetected), "{err:?}");
    assert_eq!(err.exit_code(), 222);
    assert_eq!(err.reason(), "NoAppDetectedError");
    assert_eq!(
        err.to_string(),
        "An app was not successfully detected by any available buildpack"
    );
}

#[test]
fn older_compile_contract_gets_build_and_cache_dirs_and_no_deps() {
    let s = Staging::new();
    s.app_file("Gemfile", "");
    legacy_buildpack(&s, "ruby", "Gemfile");
    builder::run(&s.args(&["ruby"], false)).unwrap();

    let app = s.app().display().to_string();
    let cache = s.path("cache/final").display().to_string();
    let args = read(&s.app().join("compiled-by-ruby"));
    assert_eq!(args.trim(), format!("2:{app} {cache}"));
    let droplet = s.droplet();
    assert!(droplet.path().join("app/compiled-by-ruby").exists());
    assert!(!droplet.path().join("deps").exists());
}

#[test]
fn multi_buildpack_supplies_then_finalizes_with_deps_and_profile_scripts() {
    let s = Staging::new();
    s.buildpack(
        "first",
        &[(
            "supply",
            r#"echo "$*" > "$1/first-supply-args"
echo "$CF_STACK" > "$1/stack"
mkdir -p "$3/$4/profile.d"
echo 'export FIRST=1' > "$3/$4/profile.d/first.sh"
printf 'name: first_buildpack\nversion: 1.0.0\n' > "$3/$4/config.yml""#,
        )],
    );
    s.buildpack(
        "last",
        &[
            (
                "supply",
                r#"touch "$3/$4/supplied"
printf 'name: last_buildpack\nversion: 2.0.0\n' > "$3/$4/config.yml""#,
            ),
            (
                "finalize",
                r#"test -f "$3/0/profile.d/first.sh"
test -f "$3/$4/supplied"
echo "$*" > "$1/finalize-args"
echo 'export LAST=1' > "$5/last.sh""#,
            ),
            ("release", RELEASE_WEB),
        ],
    );
    let result = builder::run(&s.args(&["first", "last"], true)).unwrap();

    let meta = &result.lifecycle_metadata;
    assert_eq!(meta.detected_buildpack, "last_buildpack");
    assert_eq!(meta.buildpack_key, "last");
    let bp = |key: &str, name: &str, version: &str| BuildpackMetadata {
        key: key.into(),
        name: name.into(),
        version: Some(version.into()),
    };
    assert_eq!(
        meta.buildpacks,
        vec![
            bp("first", "first_buildpack", "1.0.0"),
            bp("last", "last_buildpack", "2.0.0")
        ]
    );

    let app = s.app().display().to_string();
    let supply: Vec<String> = read(&s.app().join("first-supply-args"))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let finalize: Vec<String> = read(&s.app().join("finalize-args"))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let deps = &supply[2];
    let cache = |dir: &str| s.path("cache").join(dir).display().to_string();
    assert_eq!(
        supply,
        [
            app.clone(),
            cache(&md5_hex("first")),
            deps.clone(),
            "0".into()
        ]
    );
    assert!(
        deps.starts_with(&s.path("out").display().to_string()),
        "{deps}"
    );
    let profile_dir = Path::new(deps).with_file_name("profile.d");
    let expected = [
        app,
        cache("final"),
        deps.clone(),
        "1".into(),
        profile_dir.display().to_string(),
    ];
    assert_eq!(finalize, expected);
    assert_eq!(read(&s.app().join("stack")).trim(), "cflinuxfs4");

    let droplet = s.droplet();
    let root = droplet.path();
    assert!(root.join("deps/0/config.yml").exists());
    assert!(root.join("deps/1/supplied").exists());
    assert_eq!(read(&root.join("profile.d/0_first.sh")), "export FIRST=1\n");
    assert_eq!(read(&root.join("profile.d/last.sh")), "export LAST=1\n");
    // The scratch directory the droplet was assembled in is gone.
    let mut left: Vec<_> = std::fs::read_dir(s.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["cache.tgz", "droplet.tgz", "result.json"]);
}

#[test]
fn a_supplying_buildpack_without_bin_supply_fails_before_any_supply_runs() {
    let s = Staging::new();
    s.buildpack("supplies", &[("supply", "touch \"$1/supplied\"")]);
    legacy_buildpack(&s, "legacy", "x");
    s.buildpack("final", &[("finalize", "true"), ("release", RELEASE_WEB)]);
    let err = builder::run(&s.args(&["supplies", "legacy", "final"], true)).unwrap_err();
    assert_eq!(err.exit_code(), 223, "{err}");
    assert!(err.to_string().contains("multi-buildpack"), "{err}");
    assert!(!s.app().join("supplied").exists());
}

#[test]
fn a_last_buildpack_with_only_compile_still_stages_after_supplies() {
    let s = Staging::new();
    s.buildpack("supplies", &[("supply", "touch \"$3/$4/supplied\"")]);
    legacy_buildpack(&s, "legacy", "x");
    builder::run(&s.args(&["supplies", "legacy"], true)).unwrap();
    let droplet = s.droplet();
    assert!(droplet.path().join("deps/0/supplied").exists());
    assert!(!droplet.path().join("deps/1").exists());
    assert!(droplet.path().join("app/compiled-by-legacy").exists());
}

#[test]
fn procfile_overrides_and_adds_to_the_release_process_types() {
    let s = Staging::new();
    let release =
        "cat <<'YAML'\n---\ndefault_process_types:\n  web: ./server\n  worker: ./work\nYAML";
    s.buildpack("bp", &[("finalize", "true"), ("release", release)]);
    let result = builder::run(&s.args(&["bp"], true)).unwrap();
    assert_eq!(
        result.process_types,
        types(&[("web", "./server"), ("worker", "./work")])
    );
    assert_eq!(result.detected_start_command, types(&[("web", "./server")]));

    s.app_file(
        "Procfile",
        "web: bundle exec puma -p $PORT\nclock: ./clock --every 5m\n",
    );
    let result = builder::run(&s.args(&["bp"], true)).unwrap();
    let expected = [
        ("web", "bundle exec puma -p $PORT"),
        ("worker", "./work"),
        ("clock", "./clock --every 5m"),
    ];
    assert_eq!(result.process_types, types(&expected));
    assert_eq!(
        read(&s.droplet().path().join("staging_info.yml")),
        "{\"detected_buildpack\":\"\",\"start_command\":\"bundle exec puma -p $PORT\"}\n"
    );
}

#[test]
fn staging_without_any_start_command_succeeds_with_an_empty_web_command() {
    let s = Staging::new();
    s.buildpack(
        "binary",
        &[("finalize", "true"), ("release", "echo '--- {}'")],
    );
    let result = builder::run(&s.args(&["binary"], true)).unwrap();
    assert!(result.process_types.is_empty());
    assert_eq!(result.detected_start_command, types(&[("web", "")]));
}

#[test]
fn compile_phase_failures_exit_223() {
    let failing = [
        ("supply", vec![("supply", "exit 4"), ("finalize", "true")]),
        ("finalize", vec![("finalize", "echo broken >&2; exit 1")]),
        ("compile", vec![("compile", "exit 2")]),
    ];
    for (phase, scripts) in failing {
        let s = Staging::new();
        let mut scripts = scripts;
        scripts.push(("release", RELEASE_WEB));
        s.buildpack("bp", &scripts);
        let err = builder::run(&s.args(&["bp"], true)).unwrap_err();
        assert_eq!((phase, err.exit_code()), (phase, 223), "{err}");
        assert_eq!(err.reason(), "BuildpackCompileFailed");
        assert!(
            err.to_string()
                .contains(&format!("bin/{phase} of buildpack bp")),
            "{err}"
        );
        assert!(!s.path("out/droplet.tgz").exists());
    }
}

#[test]
fn release_failures_and_bad_release_yaml_exit_224() {
    for release in [
        "exit 1",
        "echo 'default_process_types: [web]'",
        "echo 'web: {'",
    ] {
        let s = Staging::new();
        s.buildpack("bp", &[("finalize", "true"), ("release", release)]);
        let err = builder::run(&s.args(&["bp"], true)).unwrap_err();
        assert_eq!(err.exit_code(), 224, "{release}: {err}");
        assert_eq!(err.reason(), "BuildpackReleaseFailed");
    }
}

#[test]
fn a_missing_buildpack_is_a_staging_error() {
    let s = Staging::new();
    let err = builder::run(&s.args(&["nowhere"], false)).unwrap_err();
    assert_eq!(
        (err.exit_code(), err.reason()),
        (1, "StagingError"),
        "{err}"
    );
    let err = builder::run(&s.args(&[], false)).unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
}

#[test]
fn buildpack_caches_are_restored_from_the_last_staging_and_written_out() {
    let s = Staging::new();
    // Each script reports what its cache held, then adds to it.
    let use_cache = |name: &str| {
        format!(
            "cat \"$2/seen\" > \"$1/{name}-saw\" 2>/dev/null || echo none > \"$1/{name}-saw\"\necho {name} >> \"$2/seen\""
        )
    };
    s.buildpack("dep", &[("supply", &use_cache("dep"))]);
    s.buildpack(
        "main",
        &[("finalize", &use_cache("main")), ("release", RELEASE_WEB)],
    );
    // A cache left by a buildpack this app no longer uses.
    write(&s.path("cache/0123abcd/old"), "stale", 0o644);
    builder::run(&s.args(&["dep", "main"], true)).unwrap();
    assert_eq!(read(&s.app().join("dep-saw")), "none\n");

    let cached = entries(&s.path("out/cache.tgz"));
    let dep_cache = format!("{}/seen", md5_hex("dep"));
    assert!(cached.contains_key(&dep_cache), "{cached:?}");
    assert!(cached.contains_key("final/seen"), "{cached:?}");
    assert!(
        !cached.keys().any(|path| path.starts_with("0123abcd")),
        "{cached:?}"
    );

    // The next staging starts from that tarball, unpacked as the stager does.
    let next = Staging::new();
    std::fs::rename(next.path("app"), next.path("unused")).unwrap();
    std::fs::rename(s.path("buildpacks"), next.path("buildpacks")).unwrap();
    std::fs::create_dir(next.app()).unwrap();
    let restored = untar(&s.path("out/cache.tgz"));
    let args = BuilderArgs {
        build_artifacts_cache_dir: restored.path().to_owned(),
        ..next.args(&["dep", "main"], true)
    };
    builder::run(&args).unwrap();
    assert_eq!(read(&next.app().join("dep-saw")), "dep\n");
    assert_eq!(read(&next.app().join("main-saw")), "main\n");
    let cached = untar(&next.path("out/cache.tgz"));
    assert_eq!(read(&cached.path().join("final/seen")), "main\nmain\n");
}

#[test]
fn the_droplet_holds_the_staged_app_with_modes_and_symlinks() {
    let s = Staging::new();
    write(&s.app().join("bin/run"), "#!/bin/sh\n", 0o755);
    write(&s.app().join("secret"), "s3cret", 0o600);
    std::os::unix::fs::symlink("bin/run", s.app().join("link")).unwrap();
    s.buildpack(
        "bp",
        &[
            (
                "finalize",
                "mkdir -p \"$1/vendor\" && echo built > \"$1/vendor/lib\"",
            ),
            ("release", RELEASE_WEB),
        ],
    );
    builder::run(&s.args(&["bp"], true)).unwrap();

    let tgz = s.path("out/droplet.tgz");
    let all = entries(&tgz);
    for path in [
        "app",
        "app/bin/run",
        "app/vendor/lib",
        "profile.d",
        "tmp",
        "logs",
    ] {
        assert!(all.contains_key(path), "{path} missing from {all:?}");
    }
    assert!(all.contains_key("staging_info.yml"));
    assert_eq!(all["app/bin/run"].0 & 0o777, 0o755);
    assert_eq!(all["app/secret"].0 & 0o777, 0o600);
    assert_eq!(all["app/link"].1.as_deref(), Some(Path::new("bin/run")));
    assert!(
        !all.contains_key("deps"),
        "no buildpack supplied anything: {all:?}"
    );

    let droplet = s.droplet();
    let link = droplet.path().join("app/link");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(read(&droplet.path().join("app/vendor/lib")), "built\n");
}

#[test]
fn the_result_json_has_cloud_foundry_s_shape() {
    let s = Staging::new();
    s.buildpack(
        "https://example.test/ruby.zip",
        &[
            ("detect", "echo ruby"),
            (
                "supply",
                "printf 'name: ruby\\nversion: 1.8.0\\n' > \"$3/$4/config.yml\"",
            ),
            ("finalize", "true"),
            ("release", RELEASE_WEB),
        ],
    );
    s.app_file("Procfile", "worker: ./work\n");
    builder::run(&s.args(&["https://example.test/ruby.zip"], false)).unwrap();

    let written: serde_json::Value =
        serde_json::from_str(&read(&s.path("out/result.json"))).unwrap();
    let expected = json!({
        "lifecycle_type": "buildpack",
        "lifecycle_metadata": {
            "detected_buildpack": "ruby",
            "buildpack_key": "https://example.test/ruby.zip",
            "buildpacks": [
                {"key": "https://example.test/ruby.zip", "name": "ruby", "version": "1.8.0"}
            ]
        },
        "process_types": {"web": "./start --port $PORT", "worker": "./work"},
        "execution_metadata": "",
        "detected_start_command": {"web": "./start --port $PORT"}
    });
    assert_eq!(written, expected);
}

// ---- the builder as a real process ----

const CHILD_ARGS: &str = "INGOT_LIFECYCLE_TEST_BUILDER_ARGS";

#[derive(Parser)]
struct ChildCli {
    #[command(flatten)]
    args: BuilderArgs,
}

/// Not a test of its own: `spawn_builder` re-runs this test binary with the builder's
/// arguments in the environment, so the builder runs as a process with its own cwd and stdout.
#[test]
fn builder_child_process() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).unwrap();
    let cli = ChildCli::parse_from(std::iter::once("builder".to_owned()).chain(args));
    std::process::exit(match builder::run(&cli.args) {
        Ok(_) => 0,
        Err(err) => {
            eprintln!("{}: {err}", err.reason());
            err.exit_code().into()
        }
    })
}

fn spawn_builder(cwd: &Path, args: &[String]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "builder_child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ARGS, serde_json::to_string(args).unwrap())
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Builder arguments, all relative to the container root the builder runs in.
fn relative_args(order: &str, skip_detect: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "--build-dir=app",
        "--buildpacks-dir=buildpacks",
        "--output-droplet=out/droplet.tgz",
        "--output-metadata=out/result.json",
        "--build-artifacts-cache-dir=cache",
        "--output-build-artifacts-cache=out/cache.tgz",
        "--stack",
        "cflinuxfs3",
    ]
    .map(str::to_owned)
    .into();
    args.push(format!("--buildpack-order={order}"));
    if skip_detect {
        args.push("--skip-detect".into());
    }
    args
}

#[test]
fn buildpack_output_streams_live_and_relative_paths_resolve_against_the_cwd() {
    let s = Staging::new();
    s.buildpack("first", &[("supply", "echo \"supplying for $CF_STACK\"")]);
    // Finalize waits for the test to see its first line: output must arrive while it runs.
    let finalize = r#"echo "finalize started in $1"
i=0
while [ ! -f "$1/../go" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
test -f "$1/../go"
echo "finalize to stderr" >&2
echo "finalize done""#;
    s.buildpack("slow", &[("finalize", finalize), ("release", RELEASE_WEB)]);
    let mut child = spawn_builder(s.root.path(), &relative_args("first,slow", true));

    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let started = line.contains("finalize started");
        seen.push(line);
        if started {
            std::fs::write(s.path("go"), "").unwrap();
            break;
        }
    }
    seen.extend(lines.map(Result::unwrap));
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);

    // The test harness of the child prints to the same stdout, sometimes on the same line.
    let printed = |text: &str| seen.iter().any(|line| line.ends_with(text));
    assert!(printed("supplying for cflinuxfs3"), "{seen:?}");
    assert!(
        printed(&format!("finalize started in {}", s.app().display())),
        "{seen:?}"
    );
    assert!(printed("finalize done"), "{seen:?}");
    assert!(stderr.contains("finalize to stderr"), "{stderr}");
    for out in ["out/droplet.tgz", "out/result.json", "out/cache.tgz"] {
        assert!(s.path(out).is_file(), "{out}");
    }
}

#[test]
fn the_builder_process_exits_with_the_failure_code() {
    let s = Staging::new();
    legacy_buildpack(&s, "go", "go.mod");
    let child = spawn_builder(s.root.path(), &relative_args("go", false));
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(222));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("NoAppDetectedError: An app was not"),
        "{stderr}"
    );
}
