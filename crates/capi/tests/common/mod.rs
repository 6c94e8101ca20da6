//! A Cloud Controller on a tempdir SQLite database, served on loopback port 0, with tokens
//! minted by the test and an in-memory user directory.
#![allow(dead_code)]

use std::{
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use async_trait::async_trait;
use ingot_capi::{CloudController, CloudControllerConfig, CloudControllerDeps, Settings};
use ingot_core::{DatabaseUrl, Shutdown, SystemClock, UuidIds};
use ingot_uaa::{Claims, DirectoryError, TokenVerifier, UaaUser, UserDirectory};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode, header::HeaderMap};
use rsa::{
    RsaPrivateKey, RsaPublicKey,
    pkcs1::{EncodeRsaPrivateKey, LineEnding},
    pkcs8::EncodePublicKey,
};
use serde_json::Value;

pub const ISSUER: &str = "http://uaa.test/oauth/token";
pub const UAA_URL: &str = "http://uaa.test";

/// One RSA key per test binary: (private PEM, public PEM).
fn keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::OsRng;
        let private = RsaPrivateKey::new(&mut rng, 2048).expect("generate key");
        let public = RsaPublicKey::from(&private);
        (
            private
                .to_pkcs1_pem(LineEnding::LF)
                .expect("private pem")
                .to_string(),
            public
                .to_public_key_pem(LineEnding::LF)
                .expect("public pem"),
        )
    })
}

/// A different key, for forged tokens.
fn forger_key() -> &'static String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut rng = rand::rngs::OsRng;
        RsaPrivateKey::new(&mut rng, 2048)
            .expect("generate key")
            .to_pkcs1_pem(LineEnding::LF)
            .expect("pem")
            .to_string()
    })
}

#[derive(Default)]
pub struct FakeDirectory {
    users: Mutex<Vec<UaaUser>>,
}

impl FakeDirectory {
    pub fn add(&self, id: &str, username: &str, origin: &str) {
        self.users.lock().expect("lock").push(UaaUser {
            id: id.into(),
            username: username.into(),
            origin: origin.into(),
        });
    }
}

#[async_trait]
impl UserDirectory for FakeDirectory {
    async fn find_by_username(
        &self,
        username: &str,
        origin: Option<&str>,
    ) -> Result<Vec<UaaUser>, DirectoryError> {
        Ok(self
            .users
            .lock()
            .expect("lock")
            .iter()
            .filter(|u| u.username == username && origin.is_none_or(|o| u.origin == o))
            .cloned()
            .collect())
    }

    async fn find_by_ids(&self, ids: &[String]) -> Result<Vec<UaaUser>, DirectoryError> {
        Ok(self
            .users
            .lock()
            .expect("lock")
            .iter()
            .filter(|u| ids.contains(&u.id))
            .cloned()
            .collect())
    }
}

pub const USER_SCOPES: &[&str] = &["openid", "cloud_controller.read", "cloud_controller.write"];
pub const ADMIN_SCOPES: &[&str] = &[
    "openid",
    "cloud_controller.read",
    "cloud_controller.write",
    "cloud_controller.admin",
];

fn claims(user_id: &str, user_name: &str, scopes: &[&str], exp_offset: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        jti: format!("jti-{user_id}-{now}"),
        sub: user_id.into(),
        user_id: Some(user_id.into()),
        user_name: Some(user_name.into()),
        origin: Some("uaa".into()),
        email: None,
        client_id: "cf".into(),
        cid: Some("cf".into()),
        grant_type: Some("password".into()),
        scope: scopes.iter().map(|s| (*s).to_owned()).collect(),
        aud: vec!["cloud_controller".into()],
        iss: ISSUER.into(),
        iat: now,
        exp: now + exp_offset,
        zid: Some("uaa".into()),
        revocable: true,
    }
}

fn sign(claims: &Claims, private_pem: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("encoding key");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// A valid user token.
pub fn user_token(user_id: &str, user_name: &str, scopes: &[&str]) -> String {
    sign(&claims(user_id, user_name, scopes, 600), &keys().0)
}

pub fn expired_token(user_id: &str) -> String {
    sign(&claims(user_id, "x", USER_SCOPES, -600), &keys().0)
}

pub fn forged_token(user_id: &str) -> String {
    sign(&claims(user_id, "x", ADMIN_SCOPES, 600), forger_key())
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Where a test Cloud Controller keeps its CCDB: SQLite in a tempdir, or a fresh PostgreSQL
/// database when `INGOT_TEST_POSTGRES_URL` names a server.
pub struct Backend {
    pub dir: tempfile::TempDir,
    pub database: DatabaseUrl,
}

impl Backend {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = match std::env::var("INGOT_TEST_POSTGRES_URL") {
            Ok(server) => {
                use sqlx::Connection;
                let name = format!(
                    "capi_test_{}",
                    ingot_core::IdGen::new_guid(&UuidIds).replace('-', "_")
                );
                let mut conn = sqlx::PgConnection::connect(&server)
                    .await
                    .expect("connect to INGOT_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&server).expect("postgres url");
                url.set_path(&format!("/{name}"));
                DatabaseUrl::Postgres(url.to_string())
            }
            Err(_) => DatabaseUrl::sqlite(dir.path().join("cc.db")),
        };
        Self { dir, database }
    }
}

pub struct TestCc {
    pub base: String,
    pub directory: Arc<FakeDirectory>,
    pub admin: String,
    client: reqwest::Client,
    cc: CloudController,
    shutdown: Shutdown,
    server: tokio::task::JoinHandle<()>,
    pub backend: Backend,
    /// Diego's BBS, in-process and without cells: LRPs and tasks are desired but never run.
    pub bbs: ingot_bbs::Bbs,
    /// The app log lines the Cloud Controller wrote, and the container metrics its process
    /// stats read.
    pub logs: ingot_logging::LogCache,
}

impl TestCc {
    pub async fn start() -> Self {
        Self::start_in(Backend::new().await).await
    }

    /// Starts with `configure` applied to the default settings (e.g. smaller limits).
    pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> Self {
        Self::start_configured(Backend::new().await, configure).await
    }

    /// Starts on an existing backend (to test restarts).
    pub async fn start_in(backend: Backend) -> Self {
        Self::start_configured(backend, |_| {}).await
    }

    async fn start_configured(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let directory = Arc::new(FakeDirectory::default());
        directory.add("admin-guid", "admin", "uaa");
        let verifier =
            TokenVerifier::from_pem_keys([("k1", keys().1.as_str())], ISSUER).expect("verifier");
        let shutdown = Shutdown::new();
        let bbs = ingot_bbs::Bbs::start(
            ingot_bbs::BbsConfig::new(DatabaseUrl::sqlite(backend.dir.path().join("bbs.db"))),
            ingot_bbs::BbsDeps {
                clock: Arc::new(SystemClock),
                ids: Arc::new(UuidIds),
                rep_clients: Arc::new(ingot_rep::LocalRepClients::new()),
            },
            shutdown.clone(),
        )
        .await
        .expect("start bbs");
        let logs = ingot_logging::LogCache::new(
            ingot_logging::LogCacheConfig::default(),
            Arc::new(SystemClock),
        );
        let mut settings = Settings::new(
            &base,
            "test-internal-secret",
            backend.dir.path().join("blobstore"),
        );
        configure(&mut settings);
        let cc = CloudController::start(
            CloudControllerConfig {
                database: backend.database.clone(),
                external_url: base.clone(),
                uaa_url: UAA_URL.into(),
                log_cache_url: None,
                settings,
            },
            CloudControllerDeps {
                verifier,
                users: directory.clone(),
                clock: Arc::new(SystemClock),
                ids: Arc::new(UuidIds),
                bbs: Arc::new(bbs.clone()),
                logs: Arc::new(logs.clone()),
                metrics: Arc::new(ingot_capi::LogCacheMetrics::new(
                    logs.clone(),
                    Arc::new(SystemClock),
                )),
            },
            shutdown.clone(),
        )
        .await
        .expect("start cloud controller");
        let router = cc.router();
        let token = shutdown.clone();
        let server = tokio::spawn(async move {
            ingot_core::serve(listener, router, token)
                .await
                .expect("serve");
        });
        Self {
            base,
            directory,
            admin: user_token("admin-guid", "admin", ADMIN_SCOPES),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            cc,
            shutdown,
            server,
            backend,
            bbs,
            logs,
        }
    }

    /// A user known to UAA with a token carrying the usual cf scopes.
    pub fn user(&self, id: &str, name: &str) -> String {
        self.directory.add(id, name, "uaa");
        user_token(id, name, USER_SCOPES)
    }

    pub async fn stop(self) -> Backend {
        self.shutdown.cancel();
        let _ = self.server.await;
        self.cc.close().await;
        self.backend
    }

    pub async fn send_raw(
        &self,
        method: Method,
        path_or_url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Response {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{}", self.base, path_or_url)
        };
        let mut req = self
            .client
            .request(method, url)
            .header("Accept", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("bearer {t}"));
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Response {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send_raw(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.send_raw(Method::POST, path, Some(token), Some(body.to_string()))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.send_raw(Method::PATCH, path, Some(token), Some(body.to_string()))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.send_raw(Method::DELETE, path, Some(token), None).await
    }

    /// Creates an org as admin and returns its guid.
    pub async fn create_org(&self, name: &str) -> String {
        let res = self
            .post(
                "/v3/organizations",
                &self.admin,
                serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        guid(&res.body)
    }

    pub async fn create_space(&self, org: &str, name: &str) -> String {
        let res = self
            .post(
                "/v3/spaces",
                &self.admin,
                serde_json::json!({"name": name, "relationships": {"organization": {"data": {"guid": org}}}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        guid(&res.body)
    }

    /// Gives a user a role as admin. `resource` is an org guid or a space guid.
    pub async fn grant(&self, role: &str, resource: &str, username: &str) -> Response {
        let kind = if role.starts_with("space") {
            "space"
        } else {
            "organization"
        };
        self.post(
            "/v3/roles",
            &self.admin,
            serde_json::json!({"type": role, "relationships": {
                kind: {"data": {"guid": resource}},
                "user": {"data": {"username": username}}}}),
        )
        .await
    }

    /// Follows a 202's Location until the job finishes; returns the number of polls and the
    /// final job.
    pub async fn wait_for_job(&self, location: &str, token: &str) -> (usize, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut polls = 0;
        loop {
            polls += 1;
            let res = self.get(location, token).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            let state = res.body["state"].as_str().unwrap_or_default().to_owned();
            if state == "COMPLETE" || state == "FAILED" {
                return (polls, res.body);
            }
            assert!(tokio::time::Instant::now() < deadline, "job never finished");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An org and a space; `dev` is a space developer, `auditor` a space auditor, `manager` the
/// org manager and `outsider` has no role at all.
pub struct World {
    pub cc: TestCc,
    pub org: String,
    pub space: String,
    pub dev: String,
    pub auditor: String,
    pub manager: String,
    pub outsider: String,
}

pub async fn world() -> World {
    world_on(TestCc::start().await).await
}

/// The same world on a Cloud Controller the test started.
pub async fn world_on(cc: TestCc) -> World {
    let org = cc.create_org("org").await;
    let space = cc.create_space(&org, "dev").await;
    let dev = cc.user("dev-guid", "dev");
    let auditor = cc.user("auditor-guid", "auditor");
    let manager = cc.user("manager-guid", "manager");
    let outsider = cc.user("outsider-guid", "outsider");
    for (role, target, user) in [
        ("organization_user", &org, "dev"),
        ("space_developer", &space, "dev"),
        ("organization_user", &org, "auditor"),
        ("space_auditor", &space, "auditor"),
        ("organization_manager", &org, "manager"),
    ] {
        let res = cc.grant(role, target, user).await;
        assert_eq!(res.status, StatusCode::CREATED, "{role}: {}", res.body);
    }
    World {
        cc,
        org,
        space,
        dev,
        auditor,
        manager,
        outsider,
    }
}

impl World {
    /// `cf create-app NAME` as the developer; returns the app's guid.
    pub async fn create_app(&self, name: &str) -> String {
        let res = self
            .cc
            .post(
                "/v3/apps",
                &self.dev,
                serde_json::json!({"name": name, "relationships": {"space": {"data": {"guid": self.space}}}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        guid(&res.body)
    }
}

pub fn guid(body: &Value) -> String {
    body["guid"].as_str().expect("guid").to_owned()
}

pub fn location(res: &Response) -> String {
    res.headers
        .get("location")
        .expect("location header")
        .to_str()
        .expect("ascii")
        .to_owned()
}

pub fn names(body: &Value) -> Vec<String> {
    body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub fn error_of(body: &Value) -> (i64, String, String) {
    let e = &body["errors"][0];
    (
        e["code"].as_i64().expect("code"),
        e["title"].as_str().expect("title").to_owned(),
        e["detail"].as_str().expect("detail").to_owned(),
    )
}
