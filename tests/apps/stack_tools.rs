//! Which stack tools a sample app in `tests/apps` needs, and whether this machine has them.
//! Included by the buildpack tests (crates/lifecycle) and the push tests (crates/ingot): a test
//! whose tools are missing is skipped with a note, except under CI, where it fails.

use std::process::{Command, Stdio};

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let path = dir.join(tool);
            path.metadata().is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
    })
}

/// A tool on PATH, or `python3-venv`: python3 able to create virtual environments with pip.
fn tool_present(tool: &str) -> bool {
    match tool {
        "python3-venv" => Command::new("python3")
            .args(["-c", "import venv, ensurepip"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success()),
        tool => on_path(tool),
    }
}

/// Whether the stack tools a test needs are installed. Without them the test is skipped, except
/// under CI, where a missing tool is a failure.
pub fn stack_has(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !tool_present(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing} not installed; CI machines need the stack tools (run scripts/install-stack as root)"
    );
    eprintln!("skipped: {missing} not installed");
    false
}

/// The stack tools the sample app `name` needs to stage and run.
pub fn tools_for(name: &str) -> &'static [&'static str] {
    match name {
        "binary" | "go" => &["go"],
        "staticfile" => &["python3"],
        "python" => &["python3", "python3-venv"],
        "nodejs" => &["node", "npm"],
        "ruby" => &["ruby", "bundle"],
        "java" => &["java", "javac", "jar"],
        other => panic!("no sample app {other}"),
    }
}
