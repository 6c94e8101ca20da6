//! SIGKILL `ingot up` and start it again on the same data directory: every org, space, user and
//! role is still there, the admin password is unchanged, and tokens issued before the crash
//! still verify.

mod common;

use std::time::Duration;

use common::binary::{self, Ports};
use reqwest::StatusCode;
use serde_json::{Value, json};

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
    let ports = Ports::free();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let first = binary::start(data_dir.path(), &ports).await;
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

    first.kill().await;

    let second = binary::start(data_dir.path(), &ports).await;
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

    second.terminate().await;
}
