//! Role-based access over HTTP: invisible resources are 404, visible but forbidden ones 403.

mod common;

use common::{TestCc, error_of, guid, location, names, user_token};
use reqwest::StatusCode;
use serde_json::json;

struct World {
    cc: TestCc,
    org: String,
    other_org: String,
    space: String,
    other_space: String,
}

/// Two orgs, each with a space. Users: dev (space developer in org/dev), manager (org
/// manager of org), auditor (org auditor of org), spacemgr (space manager of org/dev).
async fn world() -> World {
    let cc = TestCc::start().await;
    let org = cc.create_org("org").await;
    let other_org = cc.create_org("other").await;
    let space = cc.create_space(&org, "dev").await;
    let other_space = cc.create_space(&org, "prod").await;
    cc.create_space(&other_org, "hidden").await;
    for (id, name) in [
        ("dev-guid", "dev"),
        ("manager-guid", "manager"),
        ("auditor-guid", "auditor"),
        ("spacemgr-guid", "spacemgr"),
    ] {
        cc.directory.add(id, name, "uaa");
    }
    for (role, target, user) in [
        ("organization_user", &org, "dev"),
        ("space_developer", &space, "dev"),
        ("organization_manager", &org, "manager"),
        ("organization_auditor", &org, "auditor"),
        ("organization_user", &org, "spacemgr"),
        ("space_manager", &space, "spacemgr"),
    ] {
        let res = cc.grant(role, target, user).await;
        assert_eq!(
            res.status,
            StatusCode::CREATED,
            "{role} {user}: {}",
            res.body
        );
    }
    World {
        cc,
        org,
        other_org,
        space,
        other_space,
    }
}

fn token(id: &str, name: &str) -> String {
    user_token(id, name, common::USER_SCOPES)
}

#[tokio::test]
async fn space_developer_sees_only_their_org_and_space() {
    let w = world().await;
    let cc = &w.cc;
    let dev = token("dev-guid", "dev");

    let res = cc.get("/v3/organizations", &dev).await;
    assert_eq!(names(&res.body), ["org"]);
    let res = cc
        .get(&format!("/v3/organizations/{}", w.other_org), &dev)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&res.body).2, "Organization not found");
    let res = cc.get("/v3/spaces", &dev).await;
    assert_eq!(names(&res.body), ["dev"]);
    let res = cc.get(&format!("/v3/spaces/{}", w.other_space), &dev).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Creating a space in a visible org is forbidden; in an invisible one it is invalid.
    let res = cc
        .post(
            "/v3/spaces",
            &dev,
            json!({"name": "mine", "relationships": {"organization": {"data": {"guid": w.org}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        error_of(&res.body),
        (
            10003,
            "CF-NotAuthorized".into(),
            "You are not authorized to perform the requested action".into()
        )
    );
    let res = cc
        .post(
            "/v3/spaces",
            &dev,
            json!({"name": "mine", "relationships": {"organization": {"data": {"guid": w.other_org}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Nor may they update the org, delete the space, or create an org.
    let res = cc
        .patch(
            &format!("/v3/organizations/{}", w.org),
            &dev,
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = cc.delete(&format!("/v3/spaces/{}", w.space), &dev).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = cc
        .post("/v3/organizations", &dev, json!({"name": "new"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = cc.grant("space_auditor", &w.space, "dev").await;
    assert_eq!(res.status, StatusCode::CREATED);

    // The v2 endpoints apply the same rules.
    let res = cc.get("/v2/organizations", &dev).await;
    assert_eq!(res.body["total_results"], 1);
    let res = cc
        .get(&format!("/v2/organizations/{}", w.other_org), &dev)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["error_code"], "CF-OrganizationNotFound");
    assert_eq!(res.body["code"], 30003);
}

#[tokio::test]
async fn org_manager_manages_the_org() {
    let w = world().await;
    let cc = &w.cc;
    let manager = token("manager-guid", "manager");

    let res = cc.get("/v3/spaces?order_by=name", &manager).await;
    assert_eq!(names(&res.body), ["dev", "prod"]);
    let res = cc
        .patch(
            &format!("/v3/organizations/{}", w.org),
            &manager,
            json!({"metadata": {"labels": {"team": "a"}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // Suspending is for admins.
    let res = cc
        .patch(
            &format!("/v3/organizations/{}", w.org),
            &manager,
            json!({"suspended": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = cc
        .post(
            "/v3/spaces",
            &manager,
            json!({"name": "qa", "relationships": {"organization": {"data": {"guid": w.org}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let qa = guid(&res.body);
    cc.directory.add("eve-guid", "eve", "uaa");
    let res = cc
        .post(
            "/v3/roles",
            &manager,
            json!({"type": "organization_user", "relationships": {"organization": {"data": {"guid": w.org}}, "user": {"data": {"username": "eve"}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = cc
        .post(
            "/v3/roles",
            &manager,
            json!({"type": "space_auditor", "relationships": {"space": {"data": {"guid": qa}}, "user": {"data": {"username": "eve"}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = cc.delete(&format!("/v3/spaces/{qa}"), &manager).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    // Deleting the org is for admins.
    let res = cc
        .delete(&format!("/v3/organizations/{}", w.org), &manager)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // The other org stays invisible.
    let res = cc
        .delete(&format!("/v3/organizations/{}", w.other_org), &manager)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn auditors_and_space_managers() {
    let w = world().await;
    let cc = &w.cc;
    let auditor = token("auditor-guid", "auditor");
    let res = cc
        .get(&format!("/v3/organizations/{}", w.org), &auditor)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = cc.get("/v3/spaces", &auditor).await;
    assert_eq!(res.body["resources"], json!([]));
    let res = cc
        .patch(
            &format!("/v3/organizations/{}", w.org),
            &auditor,
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Org roles are visible to org members; space roles only with the space.
    let res = cc.get("/v3/roles", &auditor).await;
    let types: Vec<_> = res.body["resources"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        types.iter().all(|t| t.starts_with("organization_")),
        "{types:?}"
    );

    let spacemgr = token("spacemgr-guid", "spacemgr");
    let res = cc
        .patch(
            &format!("/v3/spaces/{}", w.space),
            &spacemgr,
            json!({"name": "development"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = cc.grant("organization_user", &w.org, "auditor").await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = cc
        .post(
            "/v3/roles",
            &spacemgr,
            json!({"type": "space_auditor", "relationships": {"space": {"data": {"guid": w.space}}, "user": {"data": {"username": "auditor"}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let role = guid(&res.body);
    let res = cc
        .post(
            "/v3/roles",
            &spacemgr,
            json!({"type": "organization_auditor", "relationships": {"organization": {"data": {"guid": w.org}}, "user": {"data": {"username": "dev"}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = cc.delete(&format!("/v3/roles/{role}"), &spacemgr).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let (_, job) = cc.wait_for_job(&location(&res), &spacemgr).await;
    assert_eq!(job["state"], "COMPLETE");
}

#[tokio::test]
async fn global_readers_read_but_do_not_write() {
    let w = world().await;
    let cc = &w.cc;
    for scope in [
        "cloud_controller.admin_read_only",
        "cloud_controller.global_auditor",
    ] {
        let reader = user_token("reader-guid", "reader", &["cloud_controller.read", scope]);
        let res = cc.get("/v3/organizations", &reader).await;
        assert_eq!(res.body["pagination"]["total_results"], 2, "{scope}");
        let res = cc.get("/v3/spaces", &reader).await;
        assert_eq!(res.body["pagination"]["total_results"], 3, "{scope}");
        let res = cc
            .patch(
                &format!("/v3/organizations/{}", w.org),
                &reader,
                json!({"name": "x"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{scope}");
    }
}

#[tokio::test]
async fn suspended_orgs_are_read_only_and_scopes_matter() {
    let w = world().await;
    let cc = &w.cc;
    let res = cc
        .patch(
            &format!("/v3/organizations/{}", w.org),
            &cc.admin,
            json!({"suspended": true}),
        )
        .await;
    assert_eq!(res.body["suspended"], true);
    let manager = token("manager-guid", "manager");
    let res = cc
        .get(&format!("/v3/organizations/{}", w.org), &manager)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = cc
        .patch(
            &format!("/v3/organizations/{}", w.org),
            &manager,
            json!({"name": "y"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    let read_only = user_token("dev-guid", "dev", &["cloud_controller.read"]);
    let res = cc.get("/v3/spaces", &read_only).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = cc.grant("organization_manager", &w.other_org, "dev").await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = cc
        .patch(
            &format!("/v3/organizations/{}", w.other_org),
            &read_only,
            json!({"name": "z"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let no_scopes = user_token("dev-guid", "dev", &["openid"]);
    let res = cc
        .get(&format!("/v3/organizations/{}", w.org), &no_scopes)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn feature_flags_gate_org_creation_and_roles_by_username() {
    let w = world().await;
    let cc = &w.cc;
    let manager = token("manager-guid", "manager");
    let res = cc
        .post("/v3/organizations", &manager, json!({"name": "mine"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = cc
        .patch(
            "/v3/feature_flags/user_org_creation",
            &manager,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = cc
        .patch(
            "/v3/feature_flags/user_org_creation",
            &cc.admin,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["enabled"], true);
    let res = cc
        .post("/v3/organizations", &manager, json!({"name": "mine"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let mine = guid(&res.body);
    // The creator manages the new org.
    let res = cc
        .get(
            &format!("/v3/roles?organization_guids={mine}&types=organization_manager"),
            &cc.admin,
        )
        .await;
    assert_eq!(
        res.body["resources"][0]["relationships"]["user"]["data"]["guid"],
        "manager-guid"
    );

    let res = cc
        .patch(
            "/v3/feature_flags/set_roles_by_username",
            &cc.admin,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = cc
        .post(
            "/v3/roles",
            &manager,
            json!({"type": "organization_user", "relationships": {"organization": {"data": {"guid": w.org}}, "user": {"data": {"username": "auditor"}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(error_of(&res.body).1, "CF-FeatureDisabled");
    // By guid still works.
    let res = cc
        .post(
            "/v3/roles",
            &manager,
            json!({"type": "organization_user", "relationships": {"organization": {"data": {"guid": w.org}}, "user": {"data": {"guid": "auditor-guid"}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}
