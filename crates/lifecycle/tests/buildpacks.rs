//! The built-in buildpacks (`buildpacks/` at the repository root) staging their sample apps
//! (`tests/apps/`) with the builder, and the droplets running under the launcher.
//!
//! The buildpacks use the stack's tools (python3, node, go, java, ruby). A test whose tools
//! are missing prints "skipped: ... not installed" and passes, unless `CI` is set, where it
//! fails: CI machines get them from `scripts/install-stack`.

mod support;

/// The built-in buildpacks' order and how each is assembled (shared with crates/ingot/build.rs).
mod builtin {
    include!("../../../buildpacks/builtin.rs");
}

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ingot_lifecycle::builder::{self, BuilderError, StagingResult};
use ingot_lifecycle::launcher::{self, LauncherArgs};
use md5::{Digest, Md5};

/// How long an app may take from launch to its first answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The web command the java buildpack gives an unpacked executable jar.
const JAVA_UNPACKED_WEB: &str = r#"java $JAVA_OPTS -cp "$HOME/." Main"#;

/// The web command the staticfile buildpack gives every app.
const STATICFILE_WEB: &str = r#"python3 "$STATICFILE_HOME/server.py""#;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn sample_dir(name: &str) -> PathBuf {
    repo_root().join("tests/apps").join(name)
}

// ---------------------------------------------------------------------------------------------
// Stack tools: shared with the push tests, which run the same samples through the platform.

#[path = "../../../tests/apps/stack_tools.rs"]
mod stack_tools;
use stack_tools::{stack_has, tools_for};

/// The sample app `name` prepared for staging, or `None` (the test is skipped) when the stack
/// lacks its tools.
fn sample(name: &str) -> Option<Staging> {
    stack_has(tools_for(name)).then(|| prepare(name))
}

// ---------------------------------------------------------------------------------------------
// Files and commands

/// Copies a directory tree, keeping modes and symlinks.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Assembles built-in buildpack `name` in `dir` as its zip in the ingot binary holds it (its
/// directory plus the shared `buildpacks/lib/`, see `buildpacks/builtin.rs`).
fn install_buildpack(name: &str, dir: &Path) {
    for (relative, file) in builtin::buildpack_files(&repo_root().join("buildpacks"), name) {
        let to = dir.join(relative);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&file, &to).unwrap_or_else(|err| panic!("copying {}: {err}", file.display()));
    }
}

/// Runs a setup command and fails the test with its output if it fails.
fn run(cmd: &mut Command) {
    let output = cmd
        .output()
        .unwrap_or_else(|err| panic!("running {cmd:?}: {err}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Staging

/// A scratch area for one staging (`support::Staging`: the app, the buildpacks, caches and
/// outputs), staged with the built-in buildpacks.
struct Staging(support::Staging);

impl Deref for Staging {
    type Target = support::Staging;

    fn deref(&self) -> &support::Staging {
        &self.0
    }
}

impl Staging {
    fn new() -> Self {
        Staging(support::Staging::new())
    }

    /// A staging of a copy of the sample app `name`.
    fn of_sample(name: &str) -> Self {
        let staging = Staging::new();
        copy_tree(&sample_dir(name), &staging.app());
        staging
    }

    /// Stages the app with the given built-in buildpacks (in order), as the builder is run by
    /// the stager: each buildpack in `<buildpacks_dir>/<hex md5 of its name>`.
    fn stage(&self, order: &[&str], skip_detect: bool) -> Result<StagingResult, BuilderError> {
        let args = self.args(order, skip_detect);
        for name in order {
            let dir = args
                .buildpacks_dir
                .join(format!("{:x}", Md5::digest(name.as_bytes())));
            if !dir.exists() {
                install_buildpack(name, &dir);
            }
        }
        let started = Instant::now();
        let result = builder::run(&args);
        eprintln!("staged with {order:?} in {:.1?}", started.elapsed());
        if let Ok(result) = &result {
            let written: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&args.output_metadata).unwrap()).unwrap();
            assert_eq!(written, serde_json::to_value(result).unwrap());
        }
        result
    }

    /// Stages with `<kind>_buildpack` alone (the binary buildpack, which never detects, as
    /// chosen with `-b`) and checks the staging result: detected as `kind`, version 1.0.0, web
    /// command `web`.
    fn stage_with(&self, kind: &str, web: &str) {
        let buildpack = format!("{kind}_buildpack");
        let result = self
            .stage(&[&buildpack], kind == "binary")
            .unwrap_or_else(|err| panic!("staging with {buildpack} failed: {err}"));
        let meta = &result.lifecycle_metadata;
        assert_eq!(meta.detected_buildpack, kind);
        assert_eq!(meta.buildpack_key, buildpack);
        assert_eq!(meta.buildpacks[0].version.as_deref(), Some("1.0.0"));
        assert_eq!(
            result
                .process_types
                .get("web")
                .map(String::as_str)
                .unwrap_or(""),
            web
        );
    }

    /// Stages with `<kind>_buildpack` alone and checks that its supply or finalize fails it.
    fn assert_staging_fails(&self, kind: &str) {
        let err = self
            .stage(&[&format!("{kind}_buildpack")], false)
            .unwrap_err();
        assert!(matches!(err, BuilderError::Compile(_)), "{err:?}");
    }

    /// Unpacks the droplet; returns its root (holding `app/`, `deps/`, `profile.d/`).
    fn droplet(&self) -> PathBuf {
        let root = self.path("droplet");
        std::fs::create_dir_all(&root).unwrap();
        let tgz = std::fs::File::open(self.path("out/droplet.tgz")).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
        archive.set_preserve_permissions(true);
        archive.unpack(&root).unwrap();
        assert!(root.join("staging_info.yml").is_file());
        root
    }

    /// Unpacks the droplet and launches it with the detected start command (`start` empty) or
    /// `start`, and MEMORY_LIMIT `memory_limit`.
    fn launch(&self, start: &str, memory_limit: &str) -> App {
        App::launch(&self.droplet(), start, memory_limit)
    }

    /// Launches the staged droplet, checks `GET /` answers `hello from <kind>, instance 0`
    /// and, when the app can crash, that `GET /crash` makes it exit with a failure.
    fn run_and_check(&self, start: &str, kind: &str, crashes: bool) {
        let mut app = self.launch(start, "1G");
        app.expect_answer(&format!("hello from {kind}, instance 0"));
        if crashes {
            app.assert_crashes_on_request();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running

/// An app started by the launcher from an unpacked droplet. Dropping it kills the app's whole
/// process group, so nothing outlives the test, even when it panics.
struct App {
    child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
    started: Instant,
}

impl App {
    /// Launches the droplet at `root` with the detected start command (`start` empty) or
    /// `start`, with PORT, MEMORY_LIMIT and CF_INSTANCE_INDEX set as a cell sets them.
    fn launch(root: &Path, start: &str, memory_limit: &str) -> App {
        let args = LauncherArgs {
            app_dir: root.join("app"),
            start_command: start.into(),
            metadata: None,
        };
        let mut cmd = launcher::command(&args).expect("launcher command");
        let port = free_port();
        cmd.env("PORT", port.to_string())
            .env("MEMORY_LIMIT", memory_limit)
            .env("CF_INSTANCE_INDEX", "0")
            .env("CF_INSTANCE_PORT", port.to_string())
            .env(
                "VCAP_APPLICATION",
                r#"{"application_name":"sample","instance_index":0}"#,
            )
            .env_remove("JAVA_OPTS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().expect("spawning the launcher");
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        App {
            child,
            port,
            output,
            started: Instant::now(),
        }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits (bounded) until the app answers `GET /`; returns that response.
    fn wait_until_up(&mut self) -> Response {
        let deadline = self.started + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the app exited ({status}) before answering:\n{}",
                    self.output()
                );
            }
            if let Ok(response) = request(self.port, "GET", "/", &[]) {
                eprintln!("app answered {:.1?} after launch", self.started.elapsed());
                return response;
            }
            assert!(
                Instant::now() < deadline,
                "the app did not answer on port {} within {START_TIMEOUT:?}:\n{}",
                self.port,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the app is up, then checks that `GET /` answered 200 with `expected` in
    /// its body.
    fn expect_answer(&mut self, expected: &str) -> Response {
        let response = self.wait_until_up();
        assert_eq!(response.status, 200, "{}", self.output());
        assert!(
            response.body.contains(expected),
            "GET / answered {:?}, expected {expected:?}\n{}",
            response.body,
            self.output()
        );
        response
    }

    /// Waits (bounded) for the app to exit.
    fn wait_for_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the app did not exit within {timeout:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn get(&self, path: &str) -> Response {
        request(self.port, "GET", path, &[])
            .unwrap_or_else(|err| panic!("GET {path}: {err}\n{}", self.output()))
    }

    /// `GET /crash` makes every sample app exit with a failure.
    fn assert_crashes_on_request(&mut self) {
        let _ = request(self.port, "GET", "/crash", &[]);
        let status = self.wait_for_exit(Duration::from_secs(15));
        assert!(
            !status.success(),
            "the app exited with {status} after /crash"
        );
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // The app runs in its own process group (the launcher's pid); kill all of it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on loopback (the connection closed after it).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Preparing the sample apps that need building first

/// The binary sample, compiled into an otherwise empty app dir as `./app`.
fn prepare_binary(staging: &Staging) {
    run(Command::new("go")
        .args(["build", "-o"])
        .arg(staging.app().join("app"))
        .arg(".")
        .current_dir(sample_dir("binary"))
        .env("GOFLAGS", "-buildvcs=false")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local"));
}

/// The java sample built into an executable jar; returns the jar's path.
fn build_java_jar(staging: &Staging) -> PathBuf {
    let classes = staging.path("classes");
    let jar = staging.path("app.jar");
    run(Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(sample_dir("java").join("Main.java")));
    run(Command::new("jar")
        .args(["--create", "--file"])
        .arg(&jar)
        .args(["--main-class", "Main", "-C"])
        .arg(&classes)
        .arg("."));
    jar
}

/// The java sample as `cf push app.jar` uploads it: the jar's contents.
fn prepare_java(staging: &Staging) {
    let jar = build_java_jar(staging);
    run(Command::new("jar")
        .arg("xf")
        .arg(&jar)
        .current_dir(staging.app()));
}

/// Prepares the app dir of sample `name` as a developer would push it.
fn prepare(name: &str) -> Staging {
    let build: fn(&Staging) = match name {
        "binary" => prepare_binary,
        "java" => prepare_java,
        other => return Staging::of_sample(other),
    };
    let staging = Staging::new();
    build(&staging);
    staging
}

/// The app's dependency on a `greeting` package, as each sample's package manager declares it.
fn declare_greeting(staging: &Staging, kind: &str) {
    match kind {
        "python" => {
            staging.app_file("requirements.txt", "greeting==1.0\n");
        }
        "nodejs" => {
            let package = support::read(&staging.app().join("package.json"));
            let mut package: serde_json::Value = serde_json::from_str(&package).unwrap();
            package["dependencies"] = serde_json::json!({ "greeting": "1.0.0" });
            package["scripts"] = serde_json::json!({});
            staging.app_file("package.json", &package.to_string());
        }
        "go" => {
            staging.app_file(
                "go.mod",
                "module hello\n\ngo 1.19\n\nrequire ingot.test/greeting v1.0.0\n",
            );
            staging.app_file(
                "greet.go",
                "package main\n\nimport \"ingot.test/greeting\"\n\nvar _ = greeting.Message\n",
            );
        }
        "ruby" => {
            staging.app_file("Gemfile", "gem \"greeting\"\n");
        }
        other => panic!("no greeting dependency for {other}"),
    }
}

/// Stages sample `kind` declaring the `greeting` dependency without vendoring it: staging fails
/// rather than reaching for a package index.
fn assert_unvendored_greeting_fails(kind: &str) {
    let staging = prepare(kind);
    declare_greeting(&staging, kind);
    staging.assert_staging_fails(kind);
}

/// A minimal wheel of a `greeting` package (with a console script), for vendoring.
fn write_greeting_wheel(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let script = r#"
import base64, hashlib, sys, zipfile
files = {
    "greeting/__init__.py": "MESSAGE = 'with greeting 1.0'\ndef main():\n    print(MESSAGE)\n",
    "greeting-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: greeting\nVersion: 1.0\n",
    "greeting-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: ingot-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    "greeting-1.0.dist-info/entry_points.txt": "[console_scripts]\ngreet = greeting:main\n",
}
record = []
for name, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{name},sha256={digest},{len(text.encode())}")
record.append("greeting-1.0.dist-info/RECORD,,")
files["greeting-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(sys.argv[1] + "/greeting-1.0-py3-none-any.whl", "w") as wheel:
    for name, text in files.items():
        wheel.writestr(name, text)
"#;
    run(Command::new("python3").args(["-c", script]).arg(dir));
}

/// Stages sample `kind` with its buildpack alone, expecting the web command `web`, then runs
/// the droplet with `start` (see `Staging::run_and_check`).
fn stage_and_run(kind: &str, web: &str, start: &str, crashes: bool) {
    if let Some(staging) = sample(kind) {
        staging.stage_with(kind, web);
        staging.run_and_check(start, kind, crashes);
    }
}

/// Stages sample `kind`, with `file` written into the app, with its buildpack alone and checks
/// that staging fails.
fn assert_sample_fails_with(kind: &str, file: &str, contents: &str) {
    if let Some(staging) = sample(kind) {
        staging.app_file(file, contents);
        staging.assert_staging_fails(kind);
    }
}

// ---------------------------------------------------------------------------------------------
// Each buildpack: its sample app staged with it alone, then the droplet run.

#[test]
fn binary_buildpack_runs_a_prebuilt_executable_with_the_given_command() {
    stage_and_run("binary", "", "./app", true);
}

#[test]
fn binary_buildpack_takes_the_web_command_from_a_procfile() {
    let Some(staging) = sample("binary") else {
        return;
    };
    staging.app_file("Procfile", "web: ./app\n");
    staging.stage_with("binary", "./app");
    staging.run_and_check("", "binary", false);
}

#[test]
fn staticfile_buildpack_serves_the_root_from_the_staticfile() {
    let Some(staging) = sample("staticfile") else {
        return;
    };
    staging.app_file("public/.secret", "hidden\n");
    staging.app_file("public/docs/guide.txt", "the guide\n");
    staging.stage_with("staticfile", STATICFILE_WEB);

    let mut app = staging.launch("", "256M");
    let index = app.expect_answer("hello from staticfile");
    assert_eq!(
        index.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );

    let css = app.get("/css/style.css");
    assert_eq!(css.status, 200);
    assert_eq!(css.header("Content-Type"), Some("text/css; charset=utf-8"));
    assert!(css.body.contains("font-family"));
    assert_eq!(
        app.get("/docs/guide.txt").header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );

    let missing = app.get("/no-such-page.html");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    // Outside the root, dot files and escapes are not served.
    for path in [
        "/Staticfile",
        "/.secret",
        "/../Staticfile",
        "/%2e%2e/Staticfile",
    ] {
        assert_eq!(app.get(path).status, 404, "GET {path}");
    }
    // A directory without index.html is not listed; one without its slash is redirected.
    assert_eq!(app.get("/docs/").status, 403);
    let redirect = app.get("/docs");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("Location"), Some("/docs/"));
    // HEAD has the headers of GET and no body.
    let head = request(app.port, "HEAD", "/css/style.css", &[]).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), css.header("Content-Length"));
    assert!(head.body.is_empty());
    // Conditional and range requests.
    let etag = css.header("ETag").expect("an ETag").to_owned();
    let again = request(
        app.port,
        "GET",
        "/css/style.css",
        &[("If-None-Match", &etag)],
    )
    .unwrap();
    assert_eq!(again.status, 304);
    let range = request(app.port, "GET", "/css/style.css", &[("Range", "bytes=0-3")]).unwrap();
    assert_eq!((range.status, range.body.as_str()), (206, "body"));
    assert_eq!(request(app.port, "POST", "/", &[]).unwrap().status, 405);
    assert!(
        app.output().contains("\"GET /css/style.css HTTP/1.1\" 200"),
        "{}",
        app.output()
    );
}

#[test]
fn staticfile_buildpack_lists_directories_only_when_asked() {
    let Some(staging) = sample("staticfile") else {
        return;
    };
    staging.app_file("Staticfile", "root: public\ndirectory: visible\n");
    staging.app_file("public/docs/guide.txt", "the guide\n");
    staging.stage_with("staticfile", STATICFILE_WEB);
    let mut app = staging.launch("", "256M");
    app.wait_until_up();
    let listing = app.get("/docs/");
    assert_eq!(listing.status, 200);
    assert!(listing.body.contains("guide.txt"), "{}", listing.body);
}

#[test]
fn staticfile_buildpack_rejects_a_root_outside_the_app_and_basic_auth() {
    assert_sample_fails_with("staticfile", "Staticfile", "root: ../..\n");
    assert_sample_fails_with("staticfile", "Staticfile.auth", "user:$apr1$x$y\n");
}

#[test]
fn python_buildpack_runs_the_app_in_a_virtual_environment() {
    stage_and_run("python", "python app.py", "", true);
}

#[test]
fn python_buildpack_installs_vendored_requirements_and_refuses_to_download() {
    let Some(staging) = sample("python") else {
        return;
    };
    declare_greeting(&staging, "python");
    write_greeting_wheel(&staging.app().join("vendor"));
    staging.app_file("Procfile", "web: greet && python app.py\n");
    staging.stage_with("python", "greet && python app.py");
    let mut app = staging.launch("", "256M");
    app.expect_answer("hello from python, instance 0 with greeting 1.0");
    // The console script works from wherever the droplet was unpacked.
    assert!(
        app.output().contains("with greeting 1.0\n"),
        "{}",
        app.output()
    );

    assert_unvendored_greeting_fails("python");
}

#[test]
fn python_buildpack_refuses_a_python_the_stack_does_not_have() {
    assert_sample_fails_with("python", "runtime.txt", "python-2.7.18\n");
}

#[test]
fn nodejs_buildpack_runs_npm_start() {
    stage_and_run("nodejs", "npm start", "", true);
}

#[test]
fn nodejs_buildpack_uses_vendored_node_modules_and_refuses_to_download() {
    let Some(staging) = sample("nodejs") else {
        return;
    };
    declare_greeting(&staging, "nodejs");
    staging.app_file(
        "node_modules/greeting/package.json",
        r#"{"name":"greeting","version":"1.0.0","main":"index.js"}"#,
    );
    staging.app_file(
        "node_modules/greeting/index.js",
        "exports.message = 'with greeting 1.0';\n",
    );
    staging.stage_with("nodejs", "node server.js");
    let mut app = staging.launch("", "256M");
    app.expect_answer("hello from nodejs, instance 0 with greeting 1.0");

    assert_unvendored_greeting_fails("nodejs");
}

#[test]
fn nodejs_buildpack_refuses_an_engine_the_stack_does_not_have() {
    assert_sample_fails_with(
        "nodejs",
        "package.json",
        r#"{"name":"old","version":"1.0.0","engines":{"node":"<4"}}"#,
    );
}

#[test]
fn go_buildpack_compiles_the_module_into_bin() {
    stage_and_run("go", "./bin/hello", "", true);
}

#[test]
fn go_buildpack_builds_with_vendored_modules_and_refuses_to_download() {
    let Some(staging) = sample("go") else {
        return;
    };
    declare_greeting(&staging, "go");
    staging.app_file(
        "vendor/modules.txt",
        "# ingot.test/greeting v1.0.0\n## explicit\ningot.test/greeting\n",
    );
    staging.app_file(
        "vendor/ingot.test/greeting/greeting.go",
        "package greeting\n\nconst Message = \"with greeting 1.0\"\n",
    );
    staging.stage_with("go", "./bin/hello");
    staging.run_and_check("", "go", false);

    assert_unvendored_greeting_fails("go");
}

#[test]
fn ruby_buildpack_runs_the_procfile_command() {
    stage_and_run("ruby", "ruby app.rb", "", true);
}

#[test]
fn ruby_buildpack_installs_gems_from_vendor_cache_and_refuses_to_download() {
    if !stack_has(&["ruby", "bundle", "gem"]) {
        return;
    }
    // A one-file gem, built locally and vendored as `bundle cache` would.
    let staging = prepare("ruby");
    let gem_src = staging.path("greeting-gem");
    support::write(
        &gem_src.join("lib/greeting.rb"),
        "module Greeting\n  MESSAGE = \"with greeting 1.0\"\nend\n",
        0o644,
    );
    support::write(
        &gem_src.join("greeting.gemspec"),
        "Gem::Specification.new do |s|\n  s.name = \"greeting\"\n  s.version = \"1.0.0\"\n  \
         s.summary = \"test gem\"\n  s.authors = [\"ingot\"]\n  s.files = [\"lib/greeting.rb\"]\nend\n",
        0o644,
    );
    run(Command::new("gem")
        .args(["build", "greeting.gemspec"])
        .current_dir(&gem_src));
    let cache = staging.app().join("vendor/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(
        gem_src.join("greeting-1.0.0.gem"),
        cache.join("greeting-1.0.0.gem"),
    )
    .unwrap();
    declare_greeting(&staging, "ruby");
    staging.app_file("Procfile", "web: bundle exec ruby app.rb\n");
    staging.stage_with("ruby", "bundle exec ruby app.rb");
    let mut app = staging.launch("", "256M");
    app.expect_answer("hello from ruby, instance 0 with greeting 1.0");

    assert_unvendored_greeting_fails("ruby");
}

#[test]
fn java_buildpack_runs_an_unpacked_executable_jar() {
    let Some(staging) = sample("java") else {
        return;
    };
    staging.stage_with("java", JAVA_UNPACKED_WEB);
    let mut app = staging.launch("", "1G");
    app.expect_answer("hello from java, instance 0");
    // The memory calculator sized the JVM from MEMORY_LIMIT: 1G - 64M metaspace - 240M code
    // cache - 10M direct memory - 250 x 1M thread stacks leaves 460M of heap.
    let output = app.output();
    assert!(
        output.contains("-Xmx460M -Xss1M -XX:MaxMetaspaceSize=64M"),
        "{output}"
    );
    assert!(output.contains("max heap 4"), "{output}");
    app.assert_crashes_on_request();
}

#[test]
fn java_buildpack_runs_a_jar_pushed_inside_a_directory() {
    if !stack_has(tools_for("java")) {
        return;
    }
    let staging = Staging::new();
    let jar = build_java_jar(&staging);
    std::fs::copy(&jar, staging.app().join("sample.jar")).unwrap();
    staging.stage_with("java", r#"java $JAVA_OPTS -jar "$HOME/sample.jar""#);
    staging.run_and_check("", "java", false);
}

#[test]
fn java_buildpack_fails_at_launch_when_the_memory_limit_is_too_small() {
    let Some(staging) = sample("java") else {
        return;
    };
    staging.stage_with("java", JAVA_UNPACKED_WEB);
    let mut app = staging.launch("", "256M");
    let status = app.wait_for_exit(Duration::from_secs(15));
    assert!(!status.success());
    let output = app.output();
    assert!(
        output.contains("MEMORY_LIMIT 256M is too small for this app"),
        "{output}"
    );
    assert!(output.contains("at least 596M in total"), "{output}");
    assert!(!output.contains("listening"), "{output}");
}

#[test]
fn java_buildpack_does_not_detect_a_war() {
    let staging = Staging::new();
    staging.app_file("WEB-INF/web.xml", "<web-app/>\n");
    let err = staging.stage(&["java_buildpack"], false).unwrap_err();
    assert!(matches!(err, BuilderError::NoAppDetected), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Detection among all seven, in Cloud Foundry's default order.

#[test]
fn detection_picks_each_samples_buildpack_in_the_default_order() {
    for buildpack in builtin::ORDER {
        let name = buildpack.trim_end_matches("_buildpack");
        let Some(staging) = sample(name) else {
            continue;
        };
        let result = staging.stage(&builtin::ORDER, false);
        if name == "binary" {
            // The binary buildpack is only ever chosen explicitly.
            let err = result.expect_err("nothing detects a bare executable");
            assert!(matches!(err, BuilderError::NoAppDetected), "{err:?}");
            continue;
        }
        let result = result.unwrap_or_else(|err| panic!("staging the {name} sample failed: {err}"));
        let meta = &result.lifecycle_metadata;
        assert_eq!(meta.detected_buildpack, name, "the {name} sample");
        assert_eq!(meta.buildpack_key, buildpack);
    }
}
