//! SIGKILL `ingot up` and start it again on the same data directory: every org, space, user and
//! role is still there, the admin password is unchanged, and tokens issued before the crash
//! still verify.

use std::{process::Stdio, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

struct Running {
    child: Child,
    api: String,
    uaa: String,
}

/// Starts the real binary on fixed ports (so the token issuer URL is the same after a restart)
/// and reads its banner for the endpoints.
async fn start(data_dir: &std::path::Path, api_port: u16, uaa_port: u16) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ingot"))
        .args(["up", "--data-dir"])
        .arg(data_dir)
        .args([
            "--api-addr",
            &format!("127.0.0.1:{api_port}"),
            "--uaa-addr",
            &format!("127.0.0.1:{uaa_port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut api, mut uaa) = (None, None);
    tokio::time::timeout(Duration::from_secs(60), async {
        while api.is_none() || uaa.is_none() {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("ingot exited before printing its endpoints");
            if let Some(url) = line.trim().strip_prefix("API endpoint:") {
                api = Some(url.trim().to_owned());
            } else if let Some(url) = line.trim().strip_prefix("UAA endpoint:") {
                uaa = Some(url.trim().to_owned());
            }
        }
    })
    .await
    .expect("ingot printed its endpoints within 60 s");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running {
        child,
        api: api.unwrap(),
        uaa: uaa.unwrap(),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn password_token(http: &reqwest::Client, uaa: &str, user: &str, password: &str) -> String {
    let body: Value = http
        .post(format!("{uaa}/oauth/token"))
        .basic_auth("cf", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {body}"))
        .to_owned()
}

#[tokio::test]
async fn sigkill_and_restart_loses_nothing() {
    let data_dir = tempfile::tempdir().unwrap();
    let (api_port, uaa_port) = (free_port(), free_port());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut first = start(data_dir.path(), api_port, uaa_port).await;
    let credentials: Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.path().join("credentials.json")).unwrap(),
    )
    .unwrap();
    let admin_password = credentials["admin_password"].as_str().unwrap().to_owned();
    let admin = password_token(&http, &first.uaa, "admin", &admin_password).await;

    let (status, org) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/v3/organizations", first.api),
        &admin,
        Some(json!({"name": "durable-org"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let org_guid = org["guid"].as_str().unwrap().to_owned();
    let (status, space) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/v3/spaces", first.api),
        &admin,
        Some(json!({
        "name": "durable-space", "relationships": {"organization": {"data": {"guid": org_guid}}}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let space_guid = space["guid"].as_str().unwrap().to_owned();
    let (status, user) = call(&http, reqwest::Method::POST, format!("{}/Users", first.uaa), &admin, Some(json!({
        "userName": "carol", "password": "carol-pw", "origin": "", "emails": [{"value": "carol", "primary": true}]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let carol = user["id"].as_str().unwrap().to_owned();
    for (kind, scope, guid) in [
        ("organization_user", "organization", &org_guid),
        ("space_developer", "space", &space_guid),
    ] {
        let (status, body) = call(&http, reqwest::Method::POST, format!("{}/v3/roles", first.api), &admin, Some(json!({
            "type": kind, "relationships": {scope: {"data": {"guid": guid}}, "user": {"data": {"username": "carol"}}}}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let carol_token = password_token(&http, &first.uaa, "carol", "carol-pw").await;

    first.child.start_kill().unwrap(); // SIGKILL: no graceful shutdown
    first.child.wait().await.unwrap();

    let mut second = start(data_dir.path(), api_port, uaa_port).await;
    // Tokens issued before the crash still verify.
    let (status, orgs) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v3/organizations?names=durable-org", second.api),
        &carol_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{orgs}");
    assert_eq!(orgs["resources"][0]["guid"], org_guid.as_str());
    let (status, spaces) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v3/spaces", second.api),
        &carol_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spaces["resources"][0]["guid"], space_guid.as_str());
    let (_, roles) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v3/roles?user_guids={carol}", second.api),
        &admin,
        None,
    )
    .await;
    assert_eq!(roles["resources"].as_array().unwrap().len(), 2, "{roles}");
    // The same admin password and user passwords still work.
    password_token(&http, &second.uaa, "admin", &admin_password).await;
    password_token(&http, &second.uaa, "carol", "carol-pw").await;

    second.child.start_kill().unwrap();
    second.child.wait().await.unwrap();
}
