//! SCIM users and groups as the cf CLI and CF components use them.

mod common;

use common::{TestUaa, cf_create_user_body, json, jwt_payload};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

const FILTER_BOB: &str = "/Users?filter=userName%20eq%20%22bob%22%20and%20origin%20eq%20%22uaa%22";

async fn user_count(uaa: &TestUaa, token: &str) -> u64 {
    let (status, body) = uaa.get("/Users", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["totalResults"].as_u64().expect("totalResults")
}

#[tokio::test]
async fn create_user_as_the_cf_cli_does() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;

    // 1. Does the user exist?
    let (status, list) = uaa.get(FILTER_BOB, &admin).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["resources"], json!([]));
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["startIndex"], 1);
    assert_eq!(list["schemas"], json!(["urn:scim:schemas:core:1.0"]));

    // 2. Create.
    let (status, user) = uaa
        .post_json("/Users", &admin, &cf_create_user_body("bob", "s3cret"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().expect("id").to_owned();
    assert_eq!(user["origin"], "uaa");
    assert_eq!(user["userName"], "bob");
    assert_eq!(user["zoneId"], "uaa");
    assert_eq!(user["active"], true);
    assert_eq!(user["name"]["givenName"], "bob");
    assert_eq!(user["emails"][0]["value"], "bob");
    assert_eq!(user["meta"]["version"], 0);
    assert!(user.get("password").is_none());
    let groups: Vec<&str> = user["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["display"].as_str())
        .collect();
    for expected in [
        "openid",
        "cloud_controller.read",
        "cloud_controller.write",
        "uaa.user",
    ] {
        assert!(
            groups.contains(&expected),
            "{expected} missing in {groups:?}"
        );
    }
    assert!(!groups.contains(&"cloud_controller.admin"));

    // 3. It now shows up; a repeat is a conflict.
    let (_, list) = uaa.get(FILTER_BOB, &admin).await;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["resources"][0]["id"], id.as_str());
    assert_eq!(list["resources"][0]["origin"], "uaa");
    let (status, body) = uaa
        .post_json("/Users", &admin, &cf_create_user_body("bob", "other"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "scim_resource_already_exists");
    assert_eq!(body["error_description"], "Username already in use: bob");
    // User names ignore case.
    let (status, _) = uaa
        .post_json("/Users", &admin, &cf_create_user_body("BOB", "other"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // 4. Bob logs in with the cf client and gets user scopes only.
    let (status, token) = uaa.password_grant("bob", "s3cret").await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let payload = jwt_payload(token["access_token"].as_str().expect("token"));
    assert_eq!(payload["user_name"], "bob");
    assert_eq!(payload["user_id"], id.as_str());
    let scopes = payload["scope"].as_array().expect("scopes");
    assert!(scopes.contains(&json!("cloud_controller.read")));
    assert!(!scopes.contains(&json!("cloud_controller.admin")));

    // The in-process directory sees the same user.
    let found = uaa
        .uaa
        .directory()
        .find_by_username("bob", Some("uaa"))
        .await
        .expect("directory");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, id);
    let by_id = uaa
        .uaa
        .directory()
        .find_by_ids(&[id.clone(), "nope".into()])
        .await
        .expect("directory");
    assert_eq!(by_id.len(), 1);
    uaa.stop().await;
}

#[tokio::test]
async fn scim_needs_the_right_scopes() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    let (status, bob) = uaa
        .post_json("/Users", &admin, &cf_create_user_body("bob", "pw"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let bob_id = bob["id"].as_str().expect("id").to_owned();
    let (_, token) = uaa.password_grant("bob", "pw").await;
    let bob_token = token["access_token"].as_str().expect("token").to_owned();

    let (status, body) = uaa
        .post_json("/Users", &bob_token, &cf_create_user_body("mallory", "pw"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_scope");
    let (status, _) = uaa.get("/Users", &bob_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Users may read themselves, not others.
    let (status, me) = uaa.get(&format!("/Users/{bob_id}"), &bob_token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let admin_id = jwt_payload(&admin)["user_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, _) = uaa.get(&format!("/Users/{admin_id}"), &bob_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // No token, or a bad one.
    let response = uaa.http.get(uaa.at("/Users")).send().await.expect("get");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    let (status, body) = uaa.get("/Users", "not.a.token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    uaa.stop().await;
}

#[tokio::test]
async fn bad_user_input_is_rejected_and_nothing_is_written() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    let before = user_count(&uaa, &admin).await;

    let long = "x".repeat(256);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"userName": "a", "password": "p"}),
            StatusCode::BAD_REQUEST,
            "invalid_scim_resource",
        ),
        (
            json!({"password": "p", "emails": [{"value": "a"}]}),
            StatusCode::BAD_REQUEST,
            "invalid_scim_resource",
        ),
        (
            cf_create_user_body(&long, "p"),
            StatusCode::BAD_REQUEST,
            "invalid_scim_resource",
        ),
        (
            json!({"userName": 5}),
            StatusCode::BAD_REQUEST,
            "invalid_scim_resource",
        ),
        (
            json!({"userName": "a", "password": "p", "emails": [{"value": "a"}], "favouriteColour": "red"}),
            StatusCode::BAD_REQUEST,
            "invalid_scim_resource",
        ),
        (
            cf_create_user_body("carol", ""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_password",
        ),
        (
            json!({"userName": "carol", "emails": [{"value": "c"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_password",
        ),
    ];
    for (body, status, error) in cases {
        let (got, json) = uaa.post_json("/Users", &admin, &body).await;
        assert_eq!(got, status, "{body}: {json}");
        assert_eq!(json["error"], error, "{body}: {json}");
    }
    let response = uaa
        .http
        .post(uaa.at("/Users"))
        .bearer_auth(&admin)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scim_resource");

    let (status, body) = uaa.get("/Users?filter=userName%20eq", &admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_filter");
    let (status, _) = uaa.get("/Users?count=lots", &admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    assert_eq!(user_count(&uaa, &admin).await, before);
    uaa.stop().await;
}

#[tokio::test]
async fn update_delete_and_change_password() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    let (_, bob) = uaa
        .post_json("/Users", &admin, &cf_create_user_body("bob", "pw"))
        .await;
    let id = bob["id"].as_str().expect("id").to_owned();

    // Update with If-Match; a stale version is a conflict.
    let mut changed = cf_create_user_body("robert", "ignored");
    changed["name"]["givenName"] = json!("Robert");
    let response = uaa
        .http
        .put(uaa.at(&format!("/Users/{id}")))
        .bearer_auth(&admin)
        .header("If-Match", "\"0\"")
        .json(&changed)
        .send()
        .await
        .expect("put");
    assert_eq!(response.headers()["etag"], "\"1\"");
    let (status, updated) = json(response).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["userName"], "robert");
    assert_eq!(updated["name"]["givenName"], "Robert");
    assert_eq!(updated["meta"]["version"], 1);
    let response = uaa
        .http
        .put(uaa.at(&format!("/Users/{id}")))
        .bearer_auth(&admin)
        .header("If-Match", "\"0\"")
        .json(&changed)
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), StatusCode::CONFLICT);
    // The password was not changed by the PUT.
    let (status, token) = uaa.password_grant("robert", "pw").await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let bob_token = token["access_token"].as_str().expect("token").to_owned();
    let bob_refresh = token["refresh_token"].as_str().expect("refresh").to_owned();

    // Changing one's own password needs the old one, and ends refresh sessions.
    let change = |token: String, body: Value| {
        let request = uaa
            .http
            .put(uaa.at(&format!("/Users/{id}/password")))
            .bearer_auth(token)
            .json(&body);
        async move { json(request.send().await.expect("put")).await }
    };
    let (status, _) = change(
        bob_token.clone(),
        json!({"oldPassword": "wrong", "password": "new"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = change(
        bob_token.clone(),
        json!({"oldPassword": "pw", "password": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = change(
        bob_token.clone(),
        json!({"oldPassword": "pw", "password": "new"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    let (status, _) = uaa.password_grant("robert", "pw").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = uaa.password_grant("robert", "new").await;
    assert_eq!(status, StatusCode::OK);
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .header("Authorization", "Basic Y2Y6")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", bob_refresh.as_str()),
        ])
        .send()
        .await
        .expect("refresh");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Delete, then it is gone.
    let response = uaa
        .http
        .delete(uaa.at(&format!("/Users/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = uaa.get(&format!("/Users/{id}"), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "scim_resource_not_found");
    let (status, _) = uaa.password_grant("robert", "new").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    uaa.stop().await;
}

#[tokio::test]
async fn groups_and_members() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    let (_, bob) = uaa
        .post_json("/Users", &admin, &cf_create_user_body("bob", "pw"))
        .await;
    let bob_id = bob["id"].as_str().expect("id").to_owned();

    let (status, list) = uaa
        .get(
            "/Groups?filter=displayName%20eq%20%22cloud_controller.admin%22",
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["totalResults"], 1);
    let cc_admin = list["resources"][0]["id"].as_str().expect("id").to_owned();

    // Make bob a Cloud Controller admin; his next token carries the scope.
    let (status, member) = uaa
        .post_json(
            &format!("/Groups/{cc_admin}/members"),
            &admin,
            &json!({"value": bob_id, "type": "USER", "origin": "uaa"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    assert_eq!(member["value"], bob_id.as_str());
    let (status, _) = uaa
        .post_json(
            &format!("/Groups/{cc_admin}/members"),
            &admin,
            &json!({"value": bob_id, "type": "USER"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, token) = uaa.password_grant("bob", "pw").await;
    let scopes = jwt_payload(token["access_token"].as_str().expect("token"))["scope"].clone();
    assert!(
        scopes
            .as_array()
            .expect("scopes")
            .contains(&json!("cloud_controller.admin"))
    );

    let (status, members) = uaa
        .get(&format!("/Groups/{cc_admin}/members"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        members
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["value"] == bob_id.as_str())
    );

    let response = uaa
        .http
        .delete(uaa.at(&format!("/Groups/{cc_admin}/members/{bob_id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::OK);
    let (_, group) = uaa.get(&format!("/Groups/{cc_admin}"), &admin).await;
    assert!(
        !group["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["value"] == bob_id.as_str())
    );

    // New groups; duplicates and bad names are refused.
    let (status, created) = uaa
        .post_json(
            "/Groups",
            &admin,
            &json!({"displayName": "app.deployers", "description": "may deploy", "members": [{"value": bob_id}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["displayName"], "app.deployers");
    assert_eq!(created["members"][0]["value"], bob_id.as_str());
    let (status, _) = uaa
        .post_json("/Groups", &admin, &json!({"displayName": "app.deployers"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = uaa
        .post_json("/Groups", &admin, &json!({"displayName": "x".repeat(300)}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = uaa
        .post_json(
            "/Groups",
            &admin,
            &json!({"displayName": "ok", "members": [{"value": "no-such-user"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = uaa
        .get("/Groups?filter=displayName%20eq%20%22ok%22", &admin)
        .await
        .clone();
    assert_eq!(status, StatusCode::OK);
    uaa.stop().await;
}

#[tokio::test]
async fn list_paging_and_attributes() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    for name in ["u1", "u2", "u3"] {
        let (status, _) = uaa
            .post_json("/Users", &admin, &cf_create_user_body(name, "pw"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, page) = uaa
        .get(
            "/Users?filter=userName%20sw%20%22u%22&startIndex=2&count=1&attributes=id,userName",
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["totalResults"], 3);
    assert_eq!(page["itemsPerPage"], 1);
    assert_eq!(page["startIndex"], 2);
    let resource = page["resources"][0].as_object().expect("resource");
    assert_eq!(resource.len(), 2, "{resource:?}");
    assert_eq!(resource["userName"], "u2");

    let (_, bob_list) = uaa
        .get(
            "/Users?filter=userName%20eq%20%22u1%22%20or%20userName%20eq%20%22u3%22",
            &admin,
        )
        .await;
    assert_eq!(bob_list["totalResults"], 2);
    uaa.stop().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_name_make_one_user() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..8 {
        // Half race for one name, half create distinct users, all at once.
        let name = if i % 2 == 0 {
            "racer".to_owned()
        } else {
            format!("user{i}")
        };
        let request = uaa
            .http
            .post(uaa.at("/Users"))
            .bearer_auth(&admin)
            .json(&cf_create_user_body(&name, "pw"));
        attempts.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    let statuses: Vec<StatusCode> = attempts
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("POST /Users"))
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (5, 3), "{statuses:?}");
    // Go's url.Values encodes spaces as `+`, as the cf CLI sends them.
    let (_, list) = uaa
        .get(
            "/Users?filter=userName+eq+%22racer%22+and+origin+eq+%22uaa%22",
            &admin,
        )
        .await;
    assert_eq!(list["totalResults"], 1, "{list}");
    uaa.stop().await;
}

#[tokio::test]
async fn users_update_themselves_but_not_their_status() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    let (_, bob) = uaa
        .post_json("/Users", &admin, &cf_create_user_body("bob", "pw"))
        .await;
    let id = bob["id"].as_str().expect("id").to_owned();
    let (_, token) = uaa.password_grant("bob", "pw").await;
    let bob_token = token["access_token"].as_str().expect("token").to_owned();

    // Sending back what was read, with a new name and an attempt to deactivate.
    let mut body = bob.clone();
    body["name"]["givenName"] = json!("Bobby");
    body["active"] = json!(false);
    let response = uaa
        .http
        .put(uaa.at(&format!("/Users/{id}")))
        .bearer_auth(&bob_token)
        .json(&body)
        .send()
        .await
        .expect("put");
    let (status, updated) = json(response).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"]["givenName"], "Bobby");
    assert_eq!(updated["active"], true);

    // Not someone else, and no group administration.
    let admin_id = jwt_payload(&admin)["user_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let response = uaa
        .http
        .put(uaa.at(&format!("/Users/{admin_id}")))
        .bearer_auth(&bob_token)
        .json(&cf_create_user_body("admin", "x"))
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (status, _) = uaa.get("/Groups", &bob_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = uaa
        .http
        .delete(uaa.at(&format!("/Users/{id}")))
        .bearer_auth(&bob_token)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    uaa.stop().await;
}
