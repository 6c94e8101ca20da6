//! The launcher on droplets the builder staged: real bash, real profile scripts, real pids.

mod support;

use std::path::Path;
use std::process::Stdio;

use ingot_lifecycle::builder;
use ingot_lifecycle::launcher::{self, LaunchError, LauncherArgs};
use support::{Staging, read, wait_for, write};
use tempfile::TempDir;

/// Stages an app whose web command is `./run.sh` and whose profile scripts each append their
/// name to `ORDER`: one from a supplying buildpack's deps, one from finalize's PROFILE_DIR, two
/// in the app's `.profile.d` and the app's `.profile`. Returns the unpacked droplet.
fn staged_droplet() -> TempDir {
    let s = Staging::new();
    let append = |name: &str| format!("export ORDER=\"${{ORDER}}{name},\"\n");
    s.buildpack(
        "dep",
        &[(
            "supply",
            &format!(
                "mkdir -p \"$3/$4/profile.d\"\necho '{}' > \"$3/$4/profile.d/dep.sh\"",
                append("deps")
            ),
        )],
    );
    s.buildpack(
        "main",
        &[
            (
                "finalize",
                &format!("echo '{}' > \"$5/main.sh\"", append("finalize")),
            ),
            (
                "release",
                "printf 'default_process_types:\\n  web: ./run.sh\\n'",
            ),
        ],
    );
    s.app_file(".profile.d/b.sh", &append("app-b"));
    s.app_file(".profile.d/a.sh", &append("app-a"));
    s.app_file(".profile", &append("profile"));
    let run = "#!/bin/sh\nprintf '%s\\n' \"$ORDER\" \"$HOME\" \"$DEPS_DIR\" \"$TMPDIR\" \"$PWD\" \"$FROM_CONTAINER\" > env.txt\necho $$ > pid\nexec sleep 30\n";
    write(&s.app().join("run.sh"), run, 0o755);
    builder::run(&s.args(&["dep", "main"], true)).unwrap();
    s.droplet()
}

fn args(app_dir: &Path, start_command: &str) -> LauncherArgs {
    LauncherArgs {
        app_dir: app_dir.to_owned(),
        start_command: start_command.into(),
        metadata: None,
    }
}

#[test]
fn runs_the_staged_start_command_as_the_launched_process_after_the_profile_scripts() {
    let droplet = staged_droplet();
    let root = droplet.path();
    let app = root.join("app");
    let mut cmd = launcher::command(&args(&app, "")).unwrap();
    cmd.env_remove("TMPDIR")
        .env("FROM_CONTAINER", "kept")
        .stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();

    wait_for("the app to write its pid", || app.join("pid").exists());
    // The app's own shell has the pid we spawned: the launcher exec'd all the way down...
    assert_eq!(read(&app.join("pid")).trim(), pid.to_string());
    // ...and once the app execs its server, no launcher shell is left above it.
    let comm = format!("/proc/{pid}/comm");
    wait_for("the app to exec sleep", || {
        std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep")
    });

    let env = read(&app.join("env.txt"));
    let env: Vec<&str> = env.lines().collect();
    let expected = [
        "deps,finalize,app-a,app-b,profile,",
        &app.display().to_string(),
        &root.join("deps").display().to_string(),
        &root.join("tmp").display().to_string(),
        &app.display().to_string(),
        "kept",
    ];
    assert_eq!(env, expected);

    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_given_start_command_wins_and_the_container_s_tmpdir_is_kept() {
    let droplet = staged_droplet();
    let app = droplet.path().join("app");
    let mut cmd = launcher::command(&args(&app, "echo \"$TMPDIR\" > out.txt; exit 7")).unwrap();
    let status = cmd
        .env("TMPDIR", "/container/tmp")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
    assert_eq!(read(&app.join("out.txt")), "/container/tmp\n");
}

#[test]
fn no_start_command_anywhere_is_an_error() {
    let droplet = tempfile::tempdir().unwrap();
    let app = droplet.path().join("app");
    std::fs::create_dir(&app).unwrap();
    let err = launcher::command(&args(&app, "")).unwrap_err();
    assert!(matches!(err, LaunchError::NoStartCommand(_)), "{err:?}");

    let info = r#"{"detected_buildpack":"binary","start_command":""}"#;
    write(&droplet.path().join("staging_info.yml"), info, 0o644);
    let err = launcher::command(&args(&app, "")).unwrap_err();
    assert!(matches!(err, LaunchError::NoStartCommand(_)), "{err:?}");
}
