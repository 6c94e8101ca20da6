//! A UAA on a temporary SQLite file, served on a loopback port, and helpers to call it.

#![allow(dead_code)]

use std::{path::Path, sync::Arc, time::Duration};

use ingot_core::{DatabaseUrl, Shutdown, SystemClock, UuidIds};
use ingot_uaa::{AdminBootstrap, Uaa, UaaConfig};
use reqwest::StatusCode;
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "admin-password";
pub const ADMIN_CLIENT_SECRET: &str = "admin-client-secret";

pub struct TestUaa {
    pub uaa: Uaa,
    pub url: String,
    pub http: reqwest::Client,
    shutdown: Shutdown,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub fn config(db: &Path, url: &str, admin_password: &str) -> UaaConfig {
    UaaConfig {
        database: DatabaseUrl::sqlite(db),
        url: url.to_owned(),
        access_token_validity: Duration::from_secs(1200),
        refresh_token_validity: Duration::from_secs(3600),
        admin: AdminBootstrap {
            username: "admin".into(),
            password: admin_password.into(),
            client_id: "admin".into(),
            client_secret: ADMIN_CLIENT_SECRET.into(),
        },
    }
}

impl TestUaa {
    pub async fn start(dir: &Path) -> TestUaa {
        Self::start_with(dir, ADMIN_PASSWORD, None).await
    }

    /// `issuer_url` stands for the UAA's configured external URL, which stays the same across
    /// restarts even though each test server gets a new port.
    pub async fn start_with(dir: &Path, admin_password: &str, issuer_url: Option<&str>) -> TestUaa {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = Shutdown::new();
        let uaa = Uaa::start(
            config(
                &dir.join("uaa.db"),
                issuer_url.unwrap_or(&url),
                admin_password,
            ),
            Arc::new(SystemClock),
            Arc::new(UuidIds),
            shutdown.clone(),
        )
        .await
        .expect("start UAA");
        let server = tokio::spawn(ingot_core::serve(listener, uaa.router(), shutdown.clone()));
        TestUaa {
            uaa,
            url,
            http: reqwest::Client::new(),
            shutdown,
            server,
        }
    }

    /// Stops serving and closes the database, as a process exit would.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.expect("join").expect("serve");
        self.uaa.close().await;
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The cf CLI's password grant: Basic `cf:` and a form body.
    pub async fn password_grant(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.at("/oauth/token"))
            .header("Authorization", "Basic Y2Y6")
            .header("Accept", "application/json")
            .form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .expect("token request");
        json(response).await
    }

    /// An access token for the admin user through the cf client.
    pub async fn admin_token(&self) -> String {
        let (status, body) = self.password_grant("admin", ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().expect("token").to_owned()
    }

    /// GET with a bearer token; an empty token sends no Authorization header.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let mut request = self.http.get(self.at(path));
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        json(request.send().await.expect("GET")).await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.at(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST");
        json(response).await
    }
}

pub async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// The payload of a JWT, decoded without verification, as the cf CLI reads it.
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

/// The body `cf create-user NAME PASSWORD` posts.
pub fn cf_create_user_body(name: &str, password: &str) -> Value {
    serde_json::json!({
        "userName": name,
        "password": password,
        "origin": "",
        "name": {"familyName": name, "givenName": name},
        "emails": [{"value": name, "primary": true}],
    })
}
