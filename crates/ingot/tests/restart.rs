//! SIGKILL `ingot up` and start it again on the same data directory: every org, space, user and
//! role is still there, the admin password is unchanged, and tokens issued before the crash
//! still verify.

mod common;

use std::time::Duration;

use common::{
    binary::{self, Ports},
    password_grant, send,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

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
    let admin = password_grant(&http, &first.uaa, "admin", &admin_password)
        .await
        .unwrap();

    let (status, org) = send(
        &http,
        reqwest::Method::POST,
        &format!("{}/v3/organizations", first.api),
        &admin,
        Some(json!({"name": "durable-org"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let org_guid = org["guid"].as_str().unwrap().to_owned();
    let (status, space) = send(
        &http,
        reqwest::Method::POST,
        &format!("{}/v3/spaces", first.api),
        &admin,
        Some(json!({
        "name": "durable-space", "relationships": {"organization": {"data": {"guid": org_guid}}}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let space_guid = space["guid"].as_str().unwrap().to_owned();
    let (status, user) = send(&http, reqwest::Method::POST, &format!("{}/Users", first.uaa), &admin, Some(json!({
        "userName": "carol", "password": "carol-pw", "origin": "", "emails": [{"value": "carol", "primary": true}]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let carol = user["id"].as_str().unwrap().to_owned();
    for (kind, scope, guid) in [
        ("organization_user", "organization", &org_guid),
        ("space_developer", "space", &space_guid),
    ] {
        let (status, body) = send(&http, reqwest::Method::POST, &format!("{}/v3/roles", first.api), &admin, Some(json!({
            "type": kind, "relationships": {scope: {"data": {"guid": guid}}, "user": {"data": {"username": "carol"}}}}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let carol_token = password_grant(&http, &first.uaa, "carol", "carol-pw")
        .await
        .unwrap();

    first.kill().await;

    let second = binary::start(data_dir.path(), &ports).await;
    // Tokens issued before the crash still verify.
    let (status, orgs) = send(
        &http,
        reqwest::Method::GET,
        &format!("{}/v3/organizations?names=durable-org", second.api),
        &carol_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{orgs}");
    assert_eq!(orgs["resources"][0]["guid"], org_guid.as_str());
    let (status, spaces) = send(
        &http,
        reqwest::Method::GET,
        &format!("{}/v3/spaces", second.api),
        &carol_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spaces["resources"][0]["guid"], space_guid.as_str());
    let (_, roles) = send(
        &http,
        reqwest::Method::GET,
        &format!("{}/v3/roles?user_guids={carol}", second.api),
        &admin,
        None,
    )
    .await;
    assert_eq!(roles["resources"].as_array().unwrap().len(), 2, "{roles}");
    // The same admin password and user passwords still work.
    password_grant(&http, &second.uaa, "admin", &admin_password)
        .await
        .unwrap();
    password_grant(&http, &second.uaa, "carol", "carol-pw")
        .await
        .unwrap();

    second.terminate().await;
}
