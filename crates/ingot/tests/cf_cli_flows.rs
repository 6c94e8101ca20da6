//! The cf CLI's request sequences (shared/reference, sections 3.1-3.3) against a whole Ingot:
//! the real UAA and Cloud Controller wired together as `ingot up` wires them.

mod common;

use common::{Platform, jwt_claims, names};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn discovery_documents_lead_the_cli_to_the_uaa_and_every_v3_resource() {
    let platform = Platform::start().await;
    let (status, root) = platform.get("/", "").await;
    assert_eq!(status, StatusCode::OK);
    let v3 = root["links"]["cloud_controller_v3"]["href"]
        .as_str()
        .unwrap();
    assert_eq!(v3, format!("{}/v3", platform.api));
    assert_eq!(root["links"]["login"]["href"], platform.uaa.as_str());
    let version = root["links"]["cloud_controller_v3"]["meta"]["version"]
        .as_str()
        .unwrap();
    let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
    assert!(
        version.starts_with("3.") && minor >= 85,
        "v3 version {version} is below the CLI minimum"
    );

    let (status, links) = platform.send(Method::GET, v3, "", None).await;
    assert_eq!(status, StatusCode::OK);
    for key in [
        "apps",
        "organizations",
        "spaces",
        "roles",
        "users",
        "feature_flags",
        "audit_events",
        "organization_quotas",
    ] {
        assert!(links["links"][key]["href"].is_string(), "/v3 lacks {key}");
    }

    let (status, login) = platform
        .send(Method::GET, &format!("{}/login", platform.uaa), "", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login["prompts"]["username"][0], "text");
    assert_eq!(login["prompts"]["password"][0], "password");

    let (status, info) = platform.get("/v2/info", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["authorization_endpoint"], platform.uaa.as_str());
    platform.stop().await;
}

#[tokio::test]
async fn cf_auth_issues_a_jwt_with_every_claim_the_cli_reads() {
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let claims = jwt_claims(&token);
    assert_eq!(claims["user_name"], "admin");
    assert_eq!(claims["origin"], "uaa");
    assert!(claims["user_id"].is_string());
    assert!(claims["exp"].is_i64());
    assert!(claims["jti"].is_string());
    assert_eq!(claims["client_id"], "cf");
    assert!(
        claims["scope"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "cloud_controller.admin")
    );

    let wrong = platform
        .password_token("admin", "not-the-password")
        .await
        .unwrap_err();
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.1["error"], "unauthorized");
    platform.stop().await;
}

/// create-org, create-space (with the CLI's four role POSTs), create-user, set-org-role,
/// set-space-role, space-users, org-users, unset-space-role, then the new user's view.
#[tokio::test]
async fn org_space_user_and_role_commands_work_end_to_end() {
    org_space_user_and_role_commands(Platform::start().await).await;
}

/// The same commands with `ingot uaa` and `ingot cc` run apart: the Cloud Controller resolves
/// usernames and verifies tokens through the UAA's HTTP API.
#[tokio::test]
async fn org_space_user_and_role_commands_work_with_uaa_and_cc_apart() {
    org_space_user_and_role_commands(Platform::start_split().await).await;
}

async fn org_space_user_and_role_commands(platform: Platform) {
    let admin = platform.admin_token().await;

    // cf create-org o1 (a repeat is reported as "already exists")
    let (status, org) = platform
        .post("/v3/organizations", &admin, json!({"name": "o1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org_guid = org["guid"].as_str().unwrap().to_owned();
    assert!(org["relationships"]["quota"]["data"]["guid"].is_string());
    let (status, repeat) = platform
        .post("/v3/organizations", &admin, json!({"name": "o1"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        repeat["errors"][0]["detail"],
        "Organization 'o1' already exists."
    );
    platform
        .post("/v3/organizations", &admin, json!({"name": "other"}))
        .await;

    // cf create-space s1 -o o1: space, then roles for the current user by username
    let (status, space) = platform
        .post(
            "/v3/spaces",
            &admin,
            json!({"name": "s1", "relationships": {"organization": {"data": {"guid": org_guid}}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{space}");
    let space_guid = space["guid"].as_str().unwrap().to_owned();
    for (kind, scope, guid) in [
        ("organization_user", "organization", &org_guid),
        ("space_manager", "space", &space_guid),
        ("organization_user", "organization", &org_guid),
        ("space_developer", "space", &space_guid),
    ] {
        let (status, body) = platform
            .post(
                "/v3/roles",
                &admin,
                json!({"type": kind, "relationships": {
                scope: {"data": {"guid": guid}},
                "user": {"data": {"username": "admin", "origin": "uaa"}}}}),
            )
            .await;
        // The repeated organization_user gets the "already has" 422 the CLI treats as success.
        assert!(
            status == StatusCode::CREATED
                || body["errors"][0]["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("User 'admin' already has"),
            "{kind}: {status} {body}"
        );
    }

    // cf create-user bob pw: UAA lookup (empty), UAA create, CC register
    let (status, found) = platform
        .send(
            Method::GET,
            &format!(
                "{}/Users?filter=userName+eq+%22bob%22+and+origin+eq+%22uaa%22",
                platform.uaa
            ),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["resources"].as_array().unwrap().len(), 0);
    let bob = platform.create_user(&admin, "bob", "bob-password").await;

    // cf set-org-role bob o1 OrgManager / cf set-space-role bob o1 s1 SpaceDeveloper
    let role = |kind: &str, scope: &str, guid: &str| {
        json!({"type": kind, "relationships": {
        scope: {"data": {"guid": guid}}, "user": {"data": {"username": "bob"}}}})
    };
    let (status, body) = platform
        .post(
            "/v3/roles",
            &admin,
            role("organization_manager", "organization", &org_guid),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = platform
        .post(
            "/v3/roles",
            &admin,
            role("organization_user", "organization", &org_guid),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = platform
        .post(
            "/v3/roles",
            &admin,
            role("space_developer", "space", &space_guid),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["relationships"]["user"]["data"]["guid"], bob.as_str());

    // cf space-users o1 s1: usernames come from the UAA through include=user
    let (status, roles) = platform
        .get(
            &format!("/v3/roles?include=user&space_guids={space_guid}"),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let users = roles["included"]["users"].as_array().unwrap();
    let bob_user = users
        .iter()
        .find(|u| u["guid"] == bob.as_str())
        .expect("bob is included");
    assert_eq!(bob_user["username"], "bob");
    assert_eq!(bob_user["presentation_name"], "bob");
    assert_eq!(bob_user["origin"], "uaa");

    // cf org-users o1
    let (_, org_roles) = platform
        .get(
            &format!("/v3/roles?include=user&organization_guids={org_guid}"),
            &admin,
        )
        .await;
    let types: Vec<_> = org_roles["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationships"]["user"]["data"]["guid"] == bob.as_str())
        .map(|r| r["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        types.contains(&"organization_manager".to_owned())
            && types.contains(&"organization_user".to_owned())
    );

    // bob logs in and sees exactly his org and space
    let bob_token = platform
        .password_token("bob", "bob-password")
        .await
        .unwrap();
    let (_, orgs) = platform
        .get("/v3/organizations?order_by=name", &bob_token)
        .await;
    assert_eq!(names(&orgs), vec!["o1"]);
    let (_, spaces) = platform
        .get(
            &format!("/v3/spaces?names=s1&organization_guids={org_guid}"),
            &bob_token,
        )
        .await;
    assert_eq!(names(&spaces), vec!["s1"]);
    let other = platform
        .first_guid("/v3/organizations?names=other", &admin)
        .await
        .unwrap();
    let (status, _) = platform
        .get(&format!("/v3/organizations/{other}"), &bob_token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // cf unset-space-role bob o1 s1 SpaceDeveloper
    let users_guid = platform
        .first_guid("/v3/users?usernames=bob", &admin)
        .await
        .unwrap();
    assert_eq!(users_guid, bob);
    let role_guid = platform
        .first_guid(
            &format!("/v3/roles?space_guids={space_guid}&user_guids={bob}&types=space_developer"),
            &admin,
        )
        .await
        .unwrap();
    let job = platform
        .delete_and_wait(&format!("/v3/roles/{role_guid}"), &admin)
        .await;
    assert_eq!(job["state"], "COMPLETE");
    let gone = platform
        .first_guid(
            &format!("/v3/roles?space_guids={space_guid}&user_guids={bob}&types=space_developer"),
            &admin,
        )
        .await;
    assert_eq!(gone, None);

    // cf delete-space / cf delete-org: the job is COMPLETE on the first poll
    assert_eq!(
        platform
            .delete_and_wait(&format!("/v3/spaces/{space_guid}"), &admin)
            .await["state"],
        "COMPLETE"
    );
    assert_eq!(
        platform
            .delete_and_wait(&format!("/v3/organizations/{org_guid}"), &admin)
            .await["state"],
        "COMPLETE"
    );
    let (status, _) = platform
        .get(&format!("/v3/organizations/{org_guid}"), &admin)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    platform.stop().await;
}

#[tokio::test]
async fn refresh_works_until_logout_revokes_the_token() {
    let platform = Platform::start().await;
    let response: serde_json::Value = platform
        .http
        .post(format!("{}/oauth/token", platform.uaa))
        .basic_auth("cf", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", platform.admin_password.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = response["access_token"].as_str().unwrap();
    let refresh = response["refresh_token"].as_str().unwrap();
    let refresh_with = |token: String| {
        let http = platform.http.clone();
        let uaa = platform.uaa.clone();
        async move {
            http.post(format!("{uaa}/oauth/token"))
                .basic_auth("cf", Some(""))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(refresh_with(refresh.to_owned()).await, StatusCode::OK);

    // cf logout revokes both tokens by jti
    assert_eq!(jwt_claims(access)["revocable"], true);
    for token in [refresh, access] {
        let jti = jwt_claims(token)["jti"].as_str().unwrap().to_owned();
        let (status, _) = platform
            .send(
                Method::DELETE,
                &format!("{}/oauth/token/revoke/{jti}", platform.uaa),
                access,
                None,
            )
            .await;
        assert!(status.is_success(), "revoke {jti}: {status}");
    }
    assert_eq!(
        refresh_with(refresh.to_owned()).await,
        StatusCode::UNAUTHORIZED
    );
    platform.stop().await;
}

#[tokio::test]
async fn missing_and_forged_tokens_get_cf_errors() {
    let platform = Platform::start().await;
    let (status, body) = platform.get("/v3/organizations", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errors"][0]["code"], 10002);
    assert_eq!(body["errors"][0]["title"], "CF-NotAuthenticated");

    // A token with a tampered payload: signature no longer matches.
    let token = platform.admin_token().await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let mut claims = jwt_claims(&token);
    claims["user_name"] = json!("mallory");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let (status, body) = platform.get("/v3/organizations", &parts.join(".")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errors"][0]["code"], 1000);
    assert_eq!(body["errors"][0]["title"], "CF-InvalidAuthToken");

    let (status, _) = platform.get("/v3/organizations", "not-a-jwt").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    platform.stop().await;
}
