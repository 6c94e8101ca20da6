//! Boots a whole Ingot in-process (temp data dir, free ports) and speaks to it the way the cf CLI
//! does: discovery documents, the UAA password grant with the `cf` client, JSON to the API.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod binary;
pub mod push;

use std::time::Duration;

use ingot::{Config, Ingot, up::Role};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct Platform {
    /// The running processes, in start order (one for `ingot up`, five when split).
    pub ingots: Vec<Ingot>,
    pub api: String,
    pub uaa: String,
    /// The HTTP router, when this platform runs one.
    pub router: Option<String>,
    /// The BBS, when this platform runs one.
    pub bbs: Option<String>,
    /// log-cache, when this platform runs one.
    pub log_cache: Option<String>,
    pub admin_password: String,
    pub http: reqwest::Client,
    /// Kills app instances still running when the test ends, even on a panic (instances
    /// outlive `ingot` by design). Dropped before the data dir it reads.
    _apps: binary::AppProcessGuard,
    _data_dir: tempfile::TempDir,
    /// What `ingot up` was started with, for [`Platform::restart`].
    pub config: Option<Config>,
}

impl Platform {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// `ingot up` on fixed free ports, so URLs the platform handed out (to Diego, to clients)
    /// stay valid across [`Platform::restart`], as they do with the default ports.
    pub async fn start_on_fixed_ports() -> Self {
        Self::start_with(Self::fixed_ports).await
    }

    /// Fixed free ports for every listener (see [`Platform::start_on_fixed_ports`]).
    pub fn fixed_ports(config: &mut Config) {
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
        };
        config.api_addr = port();
        config.uaa_addr = port();
        config.bbs_addr = port();
        config.router_addr = port();
        config.log_cache_addr = port();
    }

    /// `ingot up` with the test's changes to its configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = Config::ephemeral(data_dir.path());
        Self::test_cell(&mut config);
        adjust(&mut config);
        let ingot = Ingot::start(config.clone(), Role::All).await.unwrap();
        let endpoints = ingot.endpoints().clone();
        let admin_password = ingot.credentials().unwrap().admin_password.clone();
        let mut platform = Self::new(
            vec![ingot],
            endpoints.api_url.unwrap(),
            endpoints.uaa_url.unwrap(),
            admin_password,
            data_dir,
        );
        platform.router = endpoints.router_url;
        platform.bbs = endpoints.bbs_url;
        platform.log_cache = endpoints.log_cache_url;
        platform.config = Some(config);
        platform
    }

    /// Stops `ingot up` gracefully and starts it again on the same data dir. App instances keep
    /// running in between, as they do across a Diego rep restart.
    pub async fn restart(&mut self) {
        while let Some(ingot) = self.ingots.pop() {
            ingot.stop().await.unwrap();
        }
        let config = self.config.clone().expect("started by Platform::start");
        self.ingots
            .push(Ingot::start(config, Role::All).await.unwrap());
    }

    /// `ingot uaa`, `ingot bbs`, `ingot cc`, `ingot cell` and `ingot router` as separate
    /// components: they reach each other only over HTTP. The Cloud Controller reaches the UAA
    /// (token keys, SCIM lookups with the admin client) and the BBS; the cell and the router
    /// follow the BBS and forward their envelopes to the log-cache that runs with the Cloud
    /// Controller.
    pub async fn start_split() -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let uaa = Ingot::start(Config::ephemeral(data_dir.path().join("uaa")), Role::Uaa)
            .await
            .unwrap();
        let uaa_url = uaa.endpoints().uaa_url.clone().unwrap();
        let credentials = uaa.credentials().unwrap().clone();
        let bbs = Ingot::start(Config::ephemeral(data_dir.path().join("bbs")), Role::Bbs)
            .await
            .unwrap();
        let bbs_url = bbs.endpoints().bbs_url.clone();
        let mut cc_config = Config::ephemeral(data_dir.path().join("cc"));
        cc_config.uaa_url = Some(uaa_url.clone());
        cc_config.bbs_url = bbs_url.clone();
        cc_config.uaa_client_secret = Some(ingot::config::Secret(credentials.admin_client_secret));
        let cc = Ingot::start(cc_config, Role::CloudController)
            .await
            .unwrap();
        assert!(
            cc.credentials().is_none(),
            "the Cloud Controller alone holds no admin credentials"
        );
        let api = cc.endpoints().api_url.clone().unwrap();
        let log_cache = cc.endpoints().log_cache_url.clone();
        // What the cell and the router present to the Cloud Controller's log-cache.
        let secret =
            std::fs::read_to_string(data_dir.path().join("cc/log-ingress-secret")).unwrap();
        let remote = |name: &str| {
            let mut config = Config::ephemeral(data_dir.path().join(name));
            config.bbs_url = bbs_url.clone();
            config.log_cache_url = log_cache.clone();
            config.log_ingress_secret = Some(ingot::config::Secret(secret.clone()));
            config
        };
        let mut cell_config = remote("cell");
        Self::test_cell(&mut cell_config);
        let cell = Ingot::start(cell_config, Role::Cell).await.unwrap();
        let router = Ingot::start(remote("router"), Role::Router).await.unwrap();
        let router_url = router.endpoints().router_url.clone();
        let mut platform = Self::new(
            vec![uaa, bbs, cc, cell, router],
            api,
            uaa_url,
            credentials.admin_password,
            data_dir,
        );
        platform.router = router_url;
        platform.bbs = bbs_url;
        platform.log_cache = log_cache;
        platform._apps = binary::AppProcessGuard(platform._data_dir.path().join("cell"));
        platform
    }

    /// A cell fit for tests: the lifecycle from the ingot binary, a fixed size, fast metrics.
    fn test_cell(config: &mut Config) {
        // Containers run the lifecycle from the ingot binary, not from this test binary.
        config.lifecycle_binary = Some(env!("CARGO_BIN_EXE_ingot").into());
        // A fixed cell size: by default it is the machine's memory and the data dir's free
        // disk, which parallel tests and build output make vary (the process backend enforces
        // neither).
        config.cell.memory_mb = 64 * 1024;
        config.cell.disk_mb = 256 * 1024;
        // Usage shows in process stats within a second, not Diego's 15.
        config.cell.metrics_interval = Duration::from_secs(1);
    }

    fn new(
        ingots: Vec<Ingot>,
        api: String,
        uaa: String,
        admin_password: String,
        data_dir: tempfile::TempDir,
    ) -> Self {
        Self {
            ingots,
            api,
            uaa,
            router: None,
            bbs: None,
            log_cache: None,
            admin_password,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            _apps: binary::AppProcessGuard(data_dir.path().to_path_buf()),
            _data_dir: data_dir,
            config: None,
        }
    }

    /// Stops the processes in reverse start order.
    pub async fn stop(mut self) {
        while let Some(ingot) = self.ingots.pop() {
            ingot.stop().await.unwrap();
        }
    }

    /// `cf auth USER PASSWORD`: the password grant with the public `cf` client.
    pub async fn password_token(
        &self,
        username: &str,
        password: &str,
    ) -> Result<String, (StatusCode, Value)> {
        password_grant(&self.http, &self.uaa, username, password).await
    }

    pub async fn admin_token(&self) -> String {
        self.password_token("admin", &self.admin_password)
            .await
            .unwrap()
    }

    /// Creates a UAA user the way `cf create-user` does, then registers it with the CC.
    pub async fn create_user(&self, admin: &str, username: &str, password: &str) -> String {
        let (status, user) = self
            .send(
                Method::POST,
                &format!("{}/Users", self.uaa),
                admin,
                Some(json!({
                    "userName": username, "password": password, "origin": "",
                    "name": {"familyName": username, "givenName": username},
                    "emails": [{"value": username, "primary": true}],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let guid = user["id"].as_str().unwrap().to_owned();
        let (status, body) = self
            .api_call(
                Method::POST,
                "/v3/users",
                admin,
                Some(json!({"guid": guid})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        guid
    }

    pub async fn api_call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send(method, &format!("{}{}", self.api, path), token, body)
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.api_call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.api_call(Method::POST, path, token, Some(body)).await
    }

    /// A DELETE that answers 202 + Location, then the job poll the CLI does.
    pub async fn delete_and_wait(&self, path: &str, token: &str) -> Value {
        let response = self
            .http
            .delete(format!("{}{}", self.api, path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "DELETE {path}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&self.api),
            "Location must be absolute: {location}"
        );
        let (status, job) = self.send(Method::GET, &location, token, None).await;
        assert_eq!(status, StatusCode::OK);
        job
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        send(&self.http, method, url, token, body).await
    }

    /// The guid of the first resource a v3 list returns for `path`, if any.
    pub async fn first_guid(&self, path: &str, token: &str) -> Option<String> {
        let (status, body) = self.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body["resources"][0]["guid"].as_str().map(str::to_owned)
    }
}

/// `cf auth USER PASSWORD` against the UAA at `uaa`: the password grant with the public `cf`
/// client. The error carries the UAA's status and body.
pub async fn password_grant(
    http: &reqwest::Client,
    uaa: &str,
    username: &str,
    password: &str,
) -> Result<String, (StatusCode, Value)> {
    let response = http
        .post(format!("{uaa}/oauth/token"))
        .basic_auth("cf", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    if status != StatusCode::OK {
        return Err((status, body));
    }
    assert_eq!(body["token_type"], "bearer");
    Ok(body["access_token"].as_str().unwrap().to_owned())
}

/// One JSON request as the cf CLI sends it; an empty token sends no Authorization header.
pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http
        .request(method, url)
        .header("accept", "application/json");
    if !token.is_empty() {
        request = request.header("authorization", format!("bearer {token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// The names in a v3 list response.
pub fn names(list: &Value) -> Vec<String> {
    list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Decodes a JWT's payload without verifying it, as the cf CLI does.
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
