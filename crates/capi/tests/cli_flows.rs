//! The cf CLI's request sequences for orgs, spaces, roles and users, as the CLI sends them.

mod common;

use common::{TestCc, error_of, guid, location, names};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn discovery_documents() {
    let cc = TestCc::start().await;
    let root = cc.send_raw(reqwest::Method::GET, "/", None, None).await;
    assert_eq!(root.status, StatusCode::OK);
    let links = &root.body["links"];
    assert_eq!(
        links["cloud_controller_v3"]["href"],
        format!("{}/v3", cc.base)
    );
    assert_eq!(links["cloud_controller_v3"]["meta"]["version"], "3.180.0");
    assert_eq!(links["cloud_controller_v2"]["meta"]["version"], "2.250.0");
    assert_eq!(links["login"]["href"], common::UAA_URL);
    assert_eq!(links["uaa"]["href"], common::UAA_URL);
    assert!(root.headers.contains_key("x-vcap-request-id"));

    let v3 = cc.send_raw(reqwest::Method::GET, "/v3", None, None).await;
    for key in [
        "apps",
        "audit_events",
        "buildpacks",
        "builds",
        "deployments",
        "domains",
        "droplets",
        "environment_variable_groups",
        "feature_flags",
        "isolation_segments",
        "organization_quotas",
        "organizations",
        "packages",
        "processes",
        "resource_matches",
        "roles",
        "routes",
        "security_groups",
        "service_brokers",
        "service_instances",
        "service_offerings",
        "service_plans",
        "space_quotas",
        "spaces",
        "stacks",
        "tasks",
        "users",
    ] {
        assert_eq!(
            v3.body["links"][key]["href"],
            format!("{}/v3/{key}", cc.base),
            "{key}"
        );
    }

    let info = cc
        .send_raw(reqwest::Method::GET, "/v2/info", None, None)
        .await;
    assert_eq!(info.body["api_version"], "2.250.0");
    assert_eq!(info.body["authorization_endpoint"], common::UAA_URL);
    assert_eq!(info.body["token_endpoint"], common::UAA_URL);
    assert!(info.body["min_cli_version"].is_null());
    let info = cc
        .send_raw(reqwest::Method::GET, "/v3/info", None, None)
        .await;
    assert_eq!(info.body["name"], "ingot");
    assert_eq!(
        info.body["links"]["self"]["href"],
        format!("{}/v3/info", cc.base)
    );
}

/// create-org, orgs, org, rename-org, login's org and space lookups, delete-org.
#[tokio::test]
async fn org_commands() {
    let cc = TestCc::start().await;
    let admin = cc.admin.clone();

    // cf create-org
    let res = cc
        .post("/v3/organizations", &admin, json!({"name": "zeta"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let org = guid(&res.body);
    assert_eq!(res.body["name"], "zeta");
    let quota = res.body["relationships"]["quota"]["data"]["guid"]
        .as_str()
        .expect("quota guid")
        .to_owned();
    // Creating it again: the CLI matches this detail and prints OK.
    let res = cc
        .post("/v3/organizations", &admin, json!({"name": "zeta"}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body),
        (
            10008,
            "CF-UnprocessableEntity".into(),
            "Organization 'zeta' already exists.".into()
        )
    );
    cc.create_org("alpha").await;

    // cf orgs / cf login without -o
    let res = cc.get("/v3/organizations?order_by=name", &admin).await;
    assert_eq!(names(&res.body), ["alpha", "zeta"]);

    // cf org zeta
    let res = cc.get("/v3/organizations?names=zeta", &admin).await;
    assert_eq!(names(&res.body), ["zeta"]);
    let res = cc
        .get(&format!("/v3/organizations/{org}/domains"), &admin)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // Only the default shared domain, seeded at start.
    assert_eq!(names(&res.body), ["apps.localhost"]);
    let res = cc
        .get(&format!("/v3/organization_quotas/{quota}"), &admin)
        .await;
    assert_eq!(res.body["name"], "default");
    let res = cc
        .get(
            &format!("/v3/spaces?order_by=name&organization_guids={org}"),
            &admin,
        )
        .await;
    assert_eq!(res.body["resources"], json!([]));
    let res = cc
        .get(
            &format!("/v3/organizations/{org}/relationships/default_isolation_segment"),
            &admin,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body["data"].is_null());
    let res = cc
        .get(
            &format!("/v3/isolation_segments?organization_guids={org}"),
            &admin,
        )
        .await;
    assert_eq!(res.body["resources"], json!([]));

    // cf rename-org zeta omega
    let res = cc
        .patch(
            &format!("/v3/organizations/{org}"),
            &admin,
            json!({"name": "omega", "metadata": {}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["name"], "omega");

    // cf delete-org omega -f
    let res = cc.get("/v3/organizations?names=omega", &admin).await;
    assert_eq!(names(&res.body), ["omega"]);
    let res = cc.delete(&format!("/v3/organizations/{org}"), &admin).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let job_url = location(&res);
    assert!(
        job_url.starts_with(&format!("{}/v3/jobs/", cc.base)),
        "{job_url}"
    );
    let (polls, job) = cc.wait_for_job(&job_url, &admin).await;
    assert_eq!(polls, 1, "the first poll must see the job finished");
    assert_eq!(job["state"], "COMPLETE");
    assert_eq!(job["operation"], "organization.delete");
    let res = cc.get(&format!("/v3/organizations/{org}"), &admin).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&res.body).2, "Organization not found");
}

/// create-space (with its four role POSTs), spaces, space, target, delete-space.
#[tokio::test]
async fn space_commands() {
    let cc = TestCc::start().await;
    let admin = cc.admin.clone();
    let org = cc.create_org("org").await;

    // cf create-space dev -o org
    let res = cc.get("/v3/organizations?names=org", &admin).await;
    assert_eq!(names(&res.body), ["org"]);
    let res = cc
        .post(
            "/v3/spaces",
            &admin,
            json!({"name": "dev", "relationships": {"organization": {"data": {"guid": org}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let space = guid(&res.body);
    assert_eq!(
        res.body["relationships"]["organization"]["data"]["guid"],
        org
    );
    let me = json!({"username": "admin", "origin": "uaa"});
    for (t, kind, target) in [
        ("organization_user", "organization", &org),
        ("space_manager", "space", &space),
        ("organization_user", "organization", &org),
        ("space_developer", "space", &space),
    ] {
        let res = cc
            .post(
                "/v3/roles",
                &admin,
                json!({"type": t, "relationships": {kind: {"data": {"guid": target}}, "user": {"data": me}}}),
            )
            .await;
        assert!(
            res.status == StatusCode::CREATED
                || (res.status == StatusCode::UNPROCESSABLE_ENTITY
                    && error_of(&res.body)
                        .2
                        .starts_with("User 'admin' already has '")),
            "{t}: {} {}",
            res.status,
            res.body
        );
    }
    // The name is taken now.
    let res = cc
        .post(
            "/v3/spaces",
            &admin,
            json!({"name": "dev", "relationships": {"organization": {"data": {"guid": org}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&res.body)
            .2
            .contains("Name must be unique per organization")
    );
    cc.create_space(&org, "alpha").await;

    // cf spaces
    let res = cc
        .get(
            &format!("/v3/spaces?order_by=name&organization_guids={org}"),
            &admin,
        )
        .await;
    assert_eq!(names(&res.body), ["alpha", "dev"]);

    // cf target -o org -s dev
    let res = cc
        .get(
            &format!("/v3/spaces?names=dev&organization_guids={org}"),
            &admin,
        )
        .await;
    assert_eq!(names(&res.body), ["dev"]);

    // cf space dev
    let res = cc.get(&format!("/v3/organizations/{org}"), &admin).await;
    assert_eq!(res.body["name"], "org");
    for path in [
        format!("/v3/apps?space_guids={space}"),
        format!("/v3/service_instances?space_guids={space}"),
    ] {
        let res = cc.get(&path, &admin).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
        assert_eq!(res.body["resources"], json!([]), "{path}");
        assert_eq!(res.body["pagination"]["total_pages"], 1, "{path}");
    }
    // The default security groups apply to every space.
    for lifecycle in ["running", "staging"] {
        let path = format!("/v3/spaces/{space}/{lifecycle}_security_groups");
        let res = cc.get(&path, &admin).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
        assert_eq!(names(&res.body), ["public_networks", "dns"], "{path}");
    }
    for path in [
        format!("/v3/spaces/{space}/relationships/isolation_segment"),
        format!("/v3/organizations/{org}/relationships/default_isolation_segment"),
    ] {
        let res = cc.get(&path, &admin).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(res.body["data"].is_null());
    }

    // include=organization
    let res = cc.get("/v3/spaces?include=organization", &admin).await;
    assert_eq!(res.body["included"]["organizations"][0]["guid"], org);

    // ssh feature
    let path = format!("/v3/spaces/{space}/features/ssh");
    assert_eq!(cc.get(&path, &admin).await.body["enabled"], true);
    let res = cc.patch(&path, &admin, json!({"enabled": false})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(cc.get(&path, &admin).await.body["enabled"], false);

    // cf delete-space dev -f: its roles go with it.
    let res = cc.delete(&format!("/v3/spaces/{space}"), &admin).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let (polls, job) = cc.wait_for_job(&location(&res), &admin).await;
    assert_eq!((polls, job["state"].as_str()), (1, Some("COMPLETE")));
    assert_eq!(job["operation"], "space.delete");
    let res = cc
        .get(&format!("/v3/roles?space_guids={space}"), &admin)
        .await;
    assert_eq!(res.body["resources"], json!([]));
    let res = cc.get(&format!("/v3/spaces/{space}"), &admin).await;
    assert_eq!(error_of(&res.body).2, "Space not found");
}

/// create-user, set-org-role, set-space-role, org-users, space-users, unset-space-role.
#[tokio::test]
async fn user_and_role_commands() {
    let cc = TestCc::start().await;
    let admin = cc.admin.clone();
    let org = cc.create_org("org").await;
    let space = cc.create_space(&org, "dev").await;

    // cf create-user bob (UAA part done by the UAA): POST /v3/users {guid}
    cc.directory.add("bob-guid", "bob", "uaa");
    let res = cc
        .post("/v3/users", &admin, json!({"guid": "bob-guid"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["username"], "bob");
    assert_eq!(res.body["presentation_name"], "bob");
    assert_eq!(res.body["origin"], "uaa");
    let res = cc
        .post("/v3/users", &admin, json!({"guid": "bob-guid"}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body).2,
        "User with guid 'bob-guid' already exists."
    );

    // cf set-org-role bob org OrgManager
    let res = cc.grant("organization_manager", &org, "bob").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["type"], "organization_manager");
    assert_eq!(
        res.body["relationships"]["user"]["data"]["guid"],
        "bob-guid"
    );
    assert_eq!(
        res.body["relationships"]["organization"]["data"]["guid"],
        org
    );
    assert!(res.body["relationships"]["space"]["data"].is_null());
    let res = cc.grant("organization_manager", &org, "bob").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body).2,
        "User 'bob' already has 'organization_manager' role in organization 'org'."
    );

    // cf set-space-role carol org dev SpaceDeveloper: a user the CC has never seen.
    cc.directory.add("carol-guid", "carol", "uaa");
    let res = cc.grant("space_developer", &space, "carol").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body).2,
        "Users cannot be assigned roles in a space if they do not have a role in that space's organization."
    );
    let res = cc.grant("organization_user", &org, "carol").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = cc.grant("space_developer", &space, "carol").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["relationships"]["space"]["data"]["guid"], space);
    let res = cc.grant("space_developer", &space, "carol").await;
    assert_eq!(
        error_of(&res.body).2,
        "User 'carol' already has 'space_developer' role in space 'dev'."
    );
    let res = cc.grant("space_developer", &space, "nobody").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&res.body)
            .2
            .starts_with("No user exists with the username 'nobody'")
    );

    // An ambiguous name needs an origin.
    cc.directory.add("carol-ldap", "carol", "ldap");
    let res = cc.grant("organization_user", &org, "carol").await;
    assert!(
        error_of(&res.body).2.starts_with("Ambiguous user."),
        "{}",
        res.body
    );

    // cf org-users org
    let res = cc
        .get(
            &format!("/v3/roles?include=user&organization_guids={org}"),
            &admin,
        )
        .await;
    let mut types: Vec<_> = res.body["resources"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["organization_manager", "organization_user"]);
    let users = res.body["included"]["users"].as_array().expect("users");
    let mut shown: Vec<_> = users
        .iter()
        .map(|u| {
            format!(
                "{} ({})",
                u["presentation_name"].as_str().unwrap_or(""),
                u["origin"].as_str().unwrap_or("")
            )
        })
        .collect();
    shown.sort();
    assert_eq!(shown, ["bob (uaa)", "carol (uaa)"]);
    let res = cc
        .get(&format!("/v3/organizations/{org}/users"), &admin)
        .await;
    assert_eq!(res.body["pagination"]["total_results"], 2);

    // cf space-users org dev
    let res = cc
        .get(
            &format!("/v3/roles?include=user&space_guids={space}"),
            &admin,
        )
        .await;
    assert_eq!(res.body["resources"][0]["type"], "space_developer");
    assert_eq!(res.body["included"]["users"][0]["username"], "carol");
    let res = cc.get(&format!("/v3/spaces/{space}/users"), &admin).await;
    assert_eq!(res.body["resources"][0]["guid"], "carol-guid");

    // Removing carol's org_user role while she has a space role is refused.
    let res = cc
        .get(
            &format!(
                "/v3/roles?organization_guids={org}&user_guids=carol-guid&types=organization_user"
            ),
            &admin,
        )
        .await;
    let org_user_role = guid(&res.body["resources"][0]);
    let res = cc
        .delete(&format!("/v3/roles/{org_user_role}"), &admin)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    // cf unset-space-role carol org dev SpaceDeveloper
    let res = cc
        .get("/v3/users?usernames=carol&origins=uaa", &admin)
        .await;
    assert_eq!(res.body["resources"].as_array().map(Vec::len), Some(1));
    let carol = guid(&res.body["resources"][0]);
    let res = cc
        .get(
            &format!("/v3/roles?space_guids={space}&user_guids={carol}&types=space_developer"),
            &admin,
        )
        .await;
    let role = guid(&res.body["resources"][0]);
    let res = cc.delete(&format!("/v3/roles/{role}"), &admin).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let (polls, job) = cc.wait_for_job(&location(&res), &admin).await;
    assert_eq!((polls, job["state"].as_str()), (1, Some("COMPLETE")));
    assert_eq!(job["operation"], "role.delete");
    let res = cc
        .get(
            &format!("/v3/roles/{org_user_role}?include=user,organization"),
            &admin,
        )
        .await;
    assert_eq!(res.body["included"]["users"][0]["username"], "carol");
    assert_eq!(res.body["included"]["organizations"][0]["guid"], org);
    let res = cc.get(&format!("/v3/roles/{role}"), &admin).await;
    assert_eq!(error_of(&res.body).2, "Role not found");
    // Now the org_user role can go.
    let res = cc
        .delete(&format!("/v3/roles/{org_user_role}"), &admin)
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);

    // An unknown user name gives an empty users list (the CLI prints "does not exist").
    let res = cc.get("/v3/users?usernames=nobody", &admin).await;
    assert_eq!(res.body["resources"], json!([]));

    // Role-event audit trail.
    let res = cc
        .get("/v3/audit_events?types=audit.user.space_developer_add,audit.user.space_developer_remove", &admin)
        .await;
    let types: Vec<_> = res.body["resources"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "audit.user.space_developer_add",
            "audit.user.space_developer_remove"
        ]
    );
}

/// A user token for a user the CC has never seen creates the user (as CC does).
#[tokio::test]
async fn users_are_created_on_first_use() {
    let cc = TestCc::start().await;
    let dana = cc.user("dana-guid", "dana");
    let res = cc.get("/v3/organizations", &dana).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = cc.get("/v3/users/dana-guid", &cc.admin).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["username"], "dana");
    let res = cc
        .post("/v3/users", &cc.admin, json!({"guid": "dana-guid"}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Renaming onto a taken name is refused by the database's UNIQUE rules with the same texts
/// as creating a duplicate; keeping one's own name is fine.
#[tokio::test]
async fn renames_onto_taken_names_are_refused() {
    let cc = TestCc::start().await;
    let org = cc.create_org("one").await;
    cc.create_org("two").await;
    let res = cc
        .patch(
            &format!("/v3/organizations/{org}"),
            &cc.admin,
            json!({"name": "two"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body),
        (
            10008,
            "CF-UnprocessableEntity".into(),
            "Organization 'two' already exists.".into()
        )
    );
    let res = cc
        .patch(
            &format!("/v3/organizations/{org}"),
            &cc.admin,
            json!({"name": "one"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    let space = cc.create_space(&org, "dev").await;
    cc.create_space(&org, "prod").await;
    let res = cc
        .patch(
            &format!("/v3/spaces/{space}"),
            &cc.admin,
            json!({"name": "prod"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, title, detail) = error_of(&res.body);
    assert_eq!((code, title.as_str()), (10008, "CF-UnprocessableEntity"));
    assert!(detail.contains("Name must be unique per organization"));
    let res = cc
        .patch(
            &format!("/v3/spaces/{space}"),
            &cc.admin,
            json!({"name": "dev"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}
