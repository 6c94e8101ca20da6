//! `cf push` as the cf CLI v7 does it, request by request (see the CLI contract, section 3.4):
//! apply_manifest, resource matching, package upload, build, droplet, restart, then waiting for
//! an instance to run. Also the app-level helpers the push tests share.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha1::Digest;

use super::Platform;

/// One file of the app directory, as the CLI describes it for resource matching.
struct AppFile {
    path: String,
    mode: u32,
    bytes: Vec<u8>,
}

fn app_files(dir: &Path) -> Vec<AppFile> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<AppFile>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.push(AppFile {
                    path: format!("{relative}/"),
                    mode: 0o755,
                    bytes: Vec::new(),
                });
                walk(root, &path, out);
            } else {
                use std::os::unix::fs::PermissionsExt;
                out.push(AppFile {
                    path: relative,
                    mode: std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                    bytes: std::fs::read(&path).unwrap(),
                });
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files
}

fn sha1_hex(bytes: &[u8]) -> String {
    sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn resource_json(file: &AppFile) -> Value {
    json!({
        "path": file.path,
        "mode": format!("{:o}", file.mode),
        "checksum": { "value": sha1_hex(&file.bytes) },
        "size_in_bytes": file.bytes.len(),
    })
}

/// A zip of the files not matched, and every directory, as the CLI builds it.
fn zip_unmatched(files: &[AppFile], matched: &[String]) -> Option<Vec<u8>> {
    use std::io::Write;
    let unmatched: Vec<&AppFile> = files
        .iter()
        .filter(|f| f.path.ends_with('/') || !matched.contains(&f.path))
        .collect();
    if unmatched.is_empty() {
        return None;
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for file in unmatched {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(file.mode);
        if file.path.ends_with('/') {
            zip.add_directory(file.path.trim_end_matches('/'), options)
                .unwrap();
        } else {
            zip.start_file(&file.path, options).unwrap();
            zip.write_all(&file.bytes).unwrap();
        }
    }
    Some(zip.finish().unwrap().into_inner())
}

/// Timings of one push, by phase.
#[derive(Debug, Default, Clone)]
pub struct PushTimings {
    pub manifest: Duration,
    pub upload: Duration,
    pub staging: Duration,
    pub start: Duration,
    /// Bytes of the uploaded zip (0 when everything matched).
    pub uploaded_bytes: usize,
}

/// A pushed app.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub guid: String,
    pub droplet: String,
    pub build: Value,
    pub timings: PushTimings,
}

impl Platform {
    /// Creates an org and a space as admin; returns the space guid.
    pub async fn org_and_space(&self, token: &str, org: &str, space: &str) -> String {
        let (status, org) = self
            .post("/v3/organizations", token, json!({ "name": org }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{org}");
        let (status, space) = self
            .post(
                "/v3/spaces",
                token,
                json!({ "name": space, "relationships": { "organization": { "data": { "guid": org["guid"] } } } }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{space}");
        space["guid"].as_str().unwrap().to_owned()
    }

    /// Polls a job URL until it is no longer PROCESSING.
    pub async fn wait_job(&self, location: &str, token: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, job) = self.send(Method::GET, location, token, None).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if job["state"] != "PROCESSING" || Instant::now() > deadline {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// POST /v3/spaces/:guid/actions/apply_manifest with a YAML body; returns the finished job.
    pub async fn apply_manifest(&self, token: &str, space: &str, yaml: &str) -> Value {
        let response = self
            .http
            .post(format!(
                "{}/v3/spaces/{space}/actions/apply_manifest",
                self.api
            ))
            .bearer_auth(token)
            .header("content-type", "application/x-yaml")
            .body(yaml.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "apply_manifest: {body}");
        self.wait_job(&location.expect("job location"), token).await
    }

    /// The app's guid by name, as `GET /v3/apps?names=&space_guids=` answers.
    pub async fn app_guid(&self, token: &str, space: &str, name: &str) -> Option<String> {
        self.first_guid(&format!("/v3/apps?names={name}&space_guids={space}"), token)
            .await
    }

    /// Resource matching, package creation and the multipart upload; returns the package.
    pub async fn upload_bits(
        &self,
        token: &str,
        app: &str,
        dir: &Path,
        timings: &mut PushTimings,
    ) -> String {
        let started = Instant::now();
        let files = app_files(dir);
        let candidates: Vec<Value> = files
            .iter()
            .filter(|f| !f.path.ends_with('/') && !f.bytes.is_empty())
            .map(resource_json)
            .collect();
        let (status, matches) = self
            .post(
                "/v3/resource_matches",
                token,
                json!({ "resources": candidates }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "resource_matches: {matches}");
        let matched: Vec<Value> = matches["resources"].as_array().unwrap().clone();
        let matched_paths: Vec<String> = matched
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_owned())
            .collect();
        let (status, package) = self
            .post(
                "/v3/packages",
                token,
                json!({ "type": "bits", "relationships": { "app": { "data": { "guid": app } } } }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "package: {package}");
        let package_guid = package["guid"].as_str().unwrap().to_owned();
        let mut form = reqwest::multipart::Form::new()
            .text("resources", serde_json::to_string(&matched).unwrap());
        if let Some(zip) = zip_unmatched(&files, &matched_paths) {
            timings.uploaded_bytes = zip.len();
            form = form.part(
                "bits",
                reqwest::multipart::Part::bytes(zip)
                    .file_name("package.zip")
                    .mime_str("application/octet-stream")
                    .unwrap(),
            );
        }
        let response = self
            .http
            .post(format!("{}/v3/packages/{package_guid}/upload", self.api))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let uploaded: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "upload: {uploaded}");
        assert_eq!(uploaded["state"], "READY", "{uploaded}");
        timings.upload = started.elapsed();
        package_guid
    }

    /// POST /v3/builds and the CLI's polling until STAGED or FAILED; returns the build.
    pub async fn stage(&self, token: &str, package: &str) -> Value {
        let (status, build) = self
            .post(
                "/v3/builds",
                token,
                json!({ "package": { "guid": package } }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "build: {build}");
        let path = format!("/v3/builds/{}", build["guid"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let (status, build) = self.get(&path, token).await;
            assert_eq!(status, StatusCode::OK, "{build}");
            if build["state"] != "STAGING" {
                return build;
            }
            assert!(Instant::now() < deadline, "staging took too long: {build}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the current droplet and restarts, as push does after staging.
    pub async fn start_droplet(&self, token: &str, app: &str, droplet: &str) {
        let (status, body) = self
            .api_call(
                Method::PATCH,
                &format!("/v3/apps/{app}/relationships/current_droplet"),
                token,
                Some(json!({ "data": { "guid": droplet } })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "current_droplet: {body}");
        let (status, body) = self
            .post(&format!("/v3/apps/{app}/actions/restart"), token, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "restart: {body}");
        assert_eq!(body["state"], "STARTED");
    }

    /// The web process's stats.
    pub async fn web_stats(&self, token: &str, app: &str) -> Vec<Value> {
        let (status, process) = self
            .get(&format!("/v3/apps/{app}/processes/web"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{process}");
        let (status, stats) = self
            .get(
                &format!("/v3/processes/{}/stats", process["guid"].as_str().unwrap()),
                token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        stats["resources"].as_array().unwrap().clone()
    }

    /// Waits until `count` web instances are RUNNING; returns the stats.
    pub async fn wait_running(&self, token: &str, app: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let stats = self.web_stats(token, app).await;
            let running = stats.iter().filter(|s| s["state"] == "RUNNING").count();
            if running == count && stats.len() == count {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {count} running instances: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The whole `cf push NAME [manifest flags]` for the app in `dir`.
    pub async fn push(&self, token: &str, space: &str, dir: &Path, manifest: &str) -> Pushed {
        let mut timings = PushTimings::default();
        let started = Instant::now();
        let job = self.apply_manifest(token, space, manifest).await;
        assert_eq!(job["state"], "COMPLETE", "apply_manifest: {job}");
        timings.manifest = started.elapsed();
        let name = manifest_name(manifest);
        let app = self.app_guid(token, space, &name).await.expect("app");
        let package = self.upload_bits(token, &app, dir, &mut timings).await;
        let staging = Instant::now();
        let build = self.stage(token, &package).await;
        timings.staging = staging.elapsed();
        assert_eq!(build["state"], "STAGED", "{build}");
        let droplet = build["droplet"]["guid"].as_str().unwrap().to_owned();
        let start = Instant::now();
        self.start_droplet(token, &app, &droplet).await;
        let (_, process) = self
            .get(&format!("/v3/apps/{app}/processes/web"), token)
            .await;
        let instances = process["instances"].as_u64().unwrap() as usize;
        self.wait_running(token, &app, instances).await;
        timings.start = start.elapsed();
        Pushed {
            guid: app,
            droplet,
            build,
            timings,
        }
    }

    /// GET through the router with the route's Host.
    pub async fn via_router(&self, host: &str, path: &str) -> (StatusCode, String) {
        let router = self.router.as_deref().expect("router");
        let response = self
            .http
            .get(format!("{router}{path}"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }
}

/// The first application name of a manifest (`- name: X`).
fn manifest_name(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|l| l.trim_start_matches([' ', '-']).strip_prefix("name:"))
        .map(|n| n.trim().to_owned())
        .expect("manifest has a name")
}

/// The sample app of a buildpack, under tests/apps at the repository root.
pub fn sample_app(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/apps")
        .join(name)
}

impl Platform {
    /// Stops every app of the space and waits until Diego runs nothing, so no app process
    /// outlives the test (app instances deliberately survive an `ingot` stop).
    pub async fn stop_all_apps(&self, token: &str) {
        let (_, apps) = self.get("/v3/apps?per_page=5000", token).await;
        for app in apps["resources"].as_array().into_iter().flatten() {
            let guid = app["guid"].as_str().unwrap();
            self.post(&format!("/v3/apps/{guid}/actions/stop"), token, json!({}))
                .await;
        }
        let bbs = self.bbs.as_deref().expect("bbs");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, actual) = self
                .send(
                    Method::POST,
                    &format!("{bbs}/v1/actual_lrps/list"),
                    "",
                    Some(json!({})),
                )
                .await;
            let left = actual["actual_lrps"].as_array().map_or(0, Vec::len);
            if left == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "instances left running: {actual}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
