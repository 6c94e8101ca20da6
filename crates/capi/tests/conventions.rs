//! CAPI conventions: authentication errors, bad input, pagination, label selectors, metadata,
//! audit events, feature flags, unknown paths, v2 shapes and job resumption.

mod common;

use common::{TestCc, error_of, expired_token, forged_token, guid, location, names};
use ingot_core::DatabaseUrl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn authentication_errors() {
    let cc = TestCc::start().await;
    let res = cc
        .send_raw(Method::GET, "/v3/organizations", None, None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_of(&res.body),
        (
            10002,
            "CF-NotAuthenticated".into(),
            "Authentication error".into()
        )
    );
    for bad in [
        expired_token("a"),
        forged_token("a"),
        "not-a-jwt".to_owned(),
    ] {
        let res = cc.get("/v3/organizations", &bad).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            error_of(&res.body),
            (
                1000,
                "CF-InvalidAuthToken".into(),
                "Invalid Auth Token".into()
            )
        );
    }
    // v2 errors keep the v2 shape.
    let res = cc
        .send_raw(Method::GET, "/v2/organizations", None, None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["error_code"], "CF-NotAuthenticated");
    let res = cc.get("/v2/spaces", &expired_token("a")).await;
    assert_eq!(res.body["code"], 1000);
    assert_eq!(res.body["error_code"], "CF-InvalidAuthToken");
}

#[tokio::test]
async fn unknown_paths() {
    let cc = TestCc::start().await;
    for path in ["/v3/nothing", "/foo/bar"] {
        let res = cc.get(path, &cc.admin).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            error_of(&res.body),
            (10000, "CF-NotFound".into(), "Unknown request".into())
        );
    }
    // Under /v2 the v2 clients expect the v2 error shape.
    let res = cc.get("/v2/nothing", &cc.admin).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["code"], 10000);
    assert_eq!(res.body["error_code"], "CF-NotFound");
    assert_eq!(res.body["description"], "Unknown request");
    let res = cc
        .send_raw(Method::PUT, "/v3/organizations", Some(&cc.admin), None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = cc.get("/v3/feature_flags/nope", &cc.admin).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&res.body).2, "Feature flag not found");
    let res = cc.get("/v3/jobs/nope", &cc.admin).await;
    assert_eq!(
        error_of(&res.body),
        (10010, "CF-ResourceNotFound".into(), "Job not found".into())
    );
    let res = cc.get("/v3/users/nope", &cc.admin).await;
    assert_eq!(error_of(&res.body).2, "User not found");
}

#[tokio::test]
async fn bad_bodies_write_nothing() {
    let cc = TestCc::start().await;
    let res = cc
        .send_raw(
            Method::POST,
            "/v3/organizations",
            Some(&cc.admin),
            Some("{\"name\": ".into()),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let (code, title, detail) = error_of(&res.body);
    assert_eq!((code, title.as_str()), (1001, "CF-MessageParseError"));
    assert!(
        detail.starts_with("Request invalid due to parse error: "),
        "{detail}"
    );

    let res = cc
        .post(
            "/v3/organizations",
            &cc.admin,
            json!({"name": "x".repeat(256), "foo": 1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body),
        (
            10008,
            "CF-UnprocessableEntity".into(),
            "Name is too long (maximum is 255 characters), Unknown field(s): 'foo'".into()
        )
    );
    for body in [
        json!({"name": ""}),
        json!({}),
        json!({"name": 5}),
        json!({"name": "ok", "suspended": "no"}),
    ] {
        let res = cc.post("/v3/organizations", &cc.admin, body.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let res = cc
        .post(
            "/v3/organizations",
            &cc.admin,
            json!({"name": "ok", "metadata": {"labels": {"-bad-": "v"}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = cc.get("/v3/organizations", &cc.admin).await;
    assert_eq!(res.body["pagination"]["total_results"], 0);
    let res = cc.get("/v3/audit_events", &cc.admin).await;
    assert_eq!(res.body["pagination"]["total_results"], 0);

    // Spaces: a missing relationship is a 422, not a half-made space.
    let res = cc.post("/v3/spaces", &cc.admin, json!({"name": "s"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = cc
        .post(
            "/v3/spaces",
            &cc.admin,
            json!({"name": "s", "relationships": {"organization": {"data": {"guid": "missing"}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = cc.get("/v3/spaces", &cc.admin).await;
    assert_eq!(res.body["pagination"]["total_results"], 0);
}

#[tokio::test]
async fn query_errors() {
    let cc = TestCc::start().await;
    for q in [
        "per_page=0",
        "per_page=5001",
        "foo=bar",
        "order_by=size",
        "label_selector=a%20in%20(b",
    ] {
        let res = cc.get(&format!("/v3/organizations?{q}"), &cc.admin).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}");
        let (code, title, _) = error_of(&res.body);
        assert_eq!(
            (code, title.as_str()),
            (10005, "CF-BadQueryParameter"),
            "{q}"
        );
    }
    let res = cc.get("/v3/organizations?foo=bar", &cc.admin).await;
    assert!(
        error_of(&res.body)
            .2
            .starts_with("Unknown query parameter(s): 'foo'")
    );
}

#[tokio::test]
async fn pagination_follows_next_links() {
    let cc = TestCc::start().await;
    for i in 0..5 {
        cc.create_org(&format!("org-{i}")).await;
    }
    let mut url = format!("{}/v3/organizations?order_by=-name&per_page=2", cc.base);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let res = cc.get(&url, &cc.admin).await;
        assert_eq!(res.status, StatusCode::OK);
        pages += 1;
        let p = &res.body["pagination"];
        assert_eq!(p["total_results"], 5);
        assert_eq!(p["total_pages"], 3);
        assert!(
            p["first"]["href"]
                .as_str()
                .expect("first")
                .contains("page=1")
        );
        assert!(p["last"]["href"].as_str().expect("last").contains("page=3"));
        seen.extend(names(&res.body));
        match &p["next"] {
            Value::Null => break,
            next => {
                url = next["href"].as_str().expect("href").to_owned();
                assert!(
                    url.starts_with(&cc.base) && url.contains("order_by=-name"),
                    "{url}"
                );
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["org-4", "org-3", "org-2", "org-1", "org-0"]);
}

#[tokio::test]
async fn labels_and_selectors() {
    let cc = TestCc::start().await;
    let a = cc.create_org("a").await;
    let b = cc.create_org("b").await;
    cc.create_org("c").await;
    let res = cc
        .patch(
            &format!("/v3/organizations/{a}"),
            &cc.admin,
            json!({"metadata": {"labels": {"env": "prod", "example.com/team": "x"}, "annotations": {"note": "hi"}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["metadata"]["labels"]["env"], "prod");
    assert_eq!(res.body["metadata"]["annotations"]["note"], "hi");
    cc.patch(
        &format!("/v3/organizations/{b}"),
        &cc.admin,
        json!({"metadata": {"labels": {"env": "dev"}}}),
    )
    .await;
    let check = |q: &'static str, want: &'static [&'static str]| {
        let cc = &cc;
        async move {
            let res = cc
                .get(
                    &format!("/v3/organizations?order_by=name&label_selector={q}"),
                    &cc.admin,
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{q}: {}", res.body);
            assert_eq!(names(&res.body), want, "{q}");
        }
    };
    check("env%3Dprod", &["a"]).await;
    check("env%3D%3Dprod", &["a"]).await;
    check("env!%3Dprod", &["b", "c"]).await;
    check("env%20in%20(prod,dev)", &["a", "b"]).await;
    check("env%20notin%20(prod)", &["b", "c"]).await;
    check("env", &["a", "b"]).await;
    check("!env", &["c"]).await;
    check("env,example.com/team%3Dx", &["a"]).await;
    // null removes a label.
    let res = cc
        .patch(
            &format!("/v3/organizations/{a}"),
            &cc.admin,
            json!({"metadata": {"labels": {"env": null}}}),
        )
        .await;
    assert!(res.body["metadata"]["labels"].get("env").is_none());
    check("env", &["b"]).await;
}

#[tokio::test]
async fn audit_events_are_recorded() {
    let cc = TestCc::start().await;
    let org = cc.create_org("org").await;
    let space = cc.create_space(&org, "dev").await;
    let res = cc.delete(&format!("/v3/spaces/{space}"), &cc.admin).await;
    cc.wait_for_job(&location(&res), &cc.admin).await;
    let res = cc
        .delete(&format!("/v3/organizations/{org}"), &cc.admin)
        .await;
    cc.wait_for_job(&location(&res), &cc.admin).await;

    let res = cc
        .get("/v3/audit_events?order_by=created_at", &cc.admin)
        .await;
    let events = res.body["resources"].as_array().expect("events");
    let types: Vec<_> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "audit.organization.create",
            "audit.space.create",
            "audit.space.delete-request",
            "audit.organization.delete-request",
        ]
    );
    let create = &events[0];
    assert_eq!(
        create["actor"],
        json!({"guid": "admin-guid", "type": "user", "name": "admin"})
    );
    assert_eq!(
        create["target"],
        json!({"guid": org, "type": "organization", "name": "org"})
    );
    assert_eq!(create["organization"]["guid"], org);
    assert!(create["space"].is_null());
    assert_eq!(events[1]["space"]["guid"], space);

    let res = cc
        .get(
            &format!("/v3/audit_events?target_guids={space}&order_by=-created_at"),
            &cc.admin,
        )
        .await;
    assert_eq!(
        res.body["resources"][0]["type"],
        "audit.space.delete-request"
    );
    let res = cc
        .get(
            "/v3/audit_events?types=audit.organization.create",
            &cc.admin,
        )
        .await;
    let one = guid(&res.body["resources"][0]);
    let res = cc.get(&format!("/v3/audit_events/{one}"), &cc.admin).await;
    assert_eq!(res.body["type"], "audit.organization.create");
    let res = cc
        .get(
            "/v3/audit_events?created_ats%5Blt%5D=2000-01-01T00:00:00Z",
            &cc.admin,
        )
        .await;
    assert_eq!(res.body["resources"], json!([]));

    // A user with no role sees none of them.
    let nobody = cc.user("nobody-guid", "nobody");
    let res = cc.get("/v3/audit_events", &nobody).await;
    assert_eq!(res.body["resources"], json!([]));
    let res = cc.get(&format!("/v3/audit_events/{one}"), &nobody).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn feature_flags() {
    let cc = TestCc::start().await;
    let res = cc.get("/v3/feature_flags", &cc.admin).await;
    let flags = res.body["resources"].as_array().expect("flags");
    assert_eq!(flags.len(), 17);
    let find = |name: &str| {
        flags
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["enabled"].clone())
    };
    assert_eq!(find("user_org_creation"), Some(json!(false)));
    assert_eq!(find("set_roles_by_username"), Some(json!(true)));
    assert_eq!(find("diego_docker"), Some(json!(false)));
    let res = cc
        .patch(
            "/v3/feature_flags/diego_docker",
            &cc.admin,
            json!({"enabled": true, "custom_error_message": "no"}),
        )
        .await;
    assert_eq!(res.body["custom_error_message"], "no");
    assert!(res.body["updated_at"].is_string());
    let res = cc.get("/v3/feature_flags/diego_docker", &cc.admin).await;
    assert_eq!(res.body["enabled"], true);
    let res = cc.get("/v2/config/feature_flags", &cc.admin).await;
    assert_eq!(res.body.as_array().map(Vec::len), Some(17));
}

#[tokio::test]
async fn v2_orgs_and_spaces() {
    let cc = TestCc::start().await;
    let org = cc.create_org("org").await;
    cc.create_org("other").await;
    let space = cc.create_space(&org, "dev").await;
    cc.create_space(&org, "prod").await;

    let res = cc.get("/v2/organizations?q=name:org", &cc.admin).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["total_results"], 1);
    let r = &res.body["resources"][0];
    assert_eq!(r["metadata"]["guid"], org);
    assert_eq!(r["metadata"]["url"], format!("/v2/organizations/{org}"));
    assert_eq!(r["entity"]["name"], "org");
    assert_eq!(r["entity"]["status"], "active");

    let res = cc
        .get("/v2/organizations?results-per-page=1", &cc.admin)
        .await;
    assert_eq!(res.body["total_pages"], 2);
    assert!(res.body["prev_url"].is_null());
    let next = res.body["next_url"].as_str().expect("next_url").to_owned();
    assert!(next.starts_with("/v2/organizations?"), "{next}");
    let res = cc.get(&next, &cc.admin).await;
    assert_eq!(res.body["resources"].as_array().map(Vec::len), Some(1));
    assert!(res.body["next_url"].is_null());

    let res = cc
        .get(
            &format!("/v2/organizations/{org}/spaces?q=name:dev"),
            &cc.admin,
        )
        .await;
    assert_eq!(res.body["total_results"], 1);
    assert_eq!(res.body["resources"][0]["entity"]["organization_guid"], org);
    let res = cc
        .get(&format!("/v2/spaces?q=organization_guid:{org}"), &cc.admin)
        .await;
    assert_eq!(res.body["total_results"], 2);
    let res = cc.get(&format!("/v2/spaces/{space}"), &cc.admin).await;
    assert_eq!(res.body["entity"]["name"], "dev");
    let res = cc.get("/v2/spaces/missing", &cc.admin).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["error_code"], "CF-SpaceNotFound");
    let res = cc.get("/v2/organizations?q=bogus:1", &cc.admin).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error_code"], "CF-BadQueryParameter");
}

#[tokio::test]
async fn request_ids_and_quotas() {
    let cc = TestCc::start().await;
    let res = cc.get("/v3/organizations", &cc.admin).await;
    assert!(res.headers.contains_key("x-vcap-request-id"));
    let res = cc.get("/v3/organization_quotas", &cc.admin).await;
    assert_eq!(names(&res.body), ["default"]);
    let quota = guid(&res.body["resources"][0]);
    let org = cc.create_org("org").await;
    let res = cc
        .get(&format!("/v3/organization_quotas/{quota}"), &cc.admin)
        .await;
    assert_eq!(
        res.body["relationships"]["organizations"]["data"][0]["guid"],
        org
    );
    assert!(res.body["apps"]["total_memory_in_mb"].is_null());
}

/// State survives a restart, and the default quota and flags are not seeded twice.
#[tokio::test]
async fn restart_keeps_state() {
    let cc = TestCc::start().await;
    let org = cc.create_org("org").await;
    let quota = cc
        .get(&format!("/v3/organizations/{org}"), &cc.admin)
        .await
        .body["relationships"]["quota"]["data"]["guid"]
        .clone();
    let backend = cc.stop().await;
    let cc = TestCc::start_in(backend).await;
    let res = cc.get("/v3/organizations", &cc.admin).await;
    assert_eq!(names(&res.body), ["org"]);
    let res = cc.get("/v3/organization_quotas", &cc.admin).await;
    assert_eq!(res.body["pagination"]["total_results"], 1);
    assert_eq!(res.body["resources"][0]["guid"], quota);
    let res = cc.get("/v3/feature_flags", &cc.admin).await;
    assert_eq!(res.body["pagination"]["total_results"], 17);
}

/// A job a crash left PROCESSING is finished when the Cloud Controller starts again.
#[tokio::test]
async fn unfinished_jobs_resume_at_start() {
    let cc = TestCc::start().await;
    let org = cc.create_org("doomed").await;
    let backend = cc.stop().await;

    // What a crash between "job created" and "job run" leaves behind.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    match &backend.database {
        DatabaseUrl::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open ccdb");
            sqlx::query(
                "INSERT INTO jobs (guid, operation, resource_guid, state, created_at, updated_at) \
                 VALUES ('crashed-job', 'organization.delete', ?, 'PROCESSING', ?, ?)",
            )
            .bind(&org)
            .bind(&now)
            .bind(&now)
            .execute(&pool)
            .await
            .expect("insert job");
            pool.close().await;
        }
        DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("open ccdb");
            sqlx::query(
                "INSERT INTO jobs (guid, operation, resource_guid, state, created_at, updated_at) \
                 VALUES ('crashed-job', 'organization.delete', $1, 'PROCESSING', $2, $3)",
            )
            .bind(&org)
            .bind(&now)
            .bind(&now)
            .execute(&pool)
            .await
            .expect("insert job");
            pool.close().await;
        }
    }

    let cc = TestCc::start_in(backend).await;
    let res = cc.get("/v3/jobs/crashed-job", &cc.admin).await;
    assert_eq!(res.body["state"], "COMPLETE", "{}", res.body);
    assert_eq!(
        res.body["links"]["self"]["href"],
        format!("{}/v3/jobs/crashed-job", cc.base)
    );
    let res = cc.get(&format!("/v3/organizations/{org}"), &cc.admin).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn org_usage_summary_has_cc_shape_and_follows_visibility() {
    let cc = TestCc::start().await;
    let org = cc.create_org("summed").await;
    let res = cc
        .get(&format!("/v3/organizations/{org}/usage_summary"), &cc.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["usage_summary"]["started_instances"], 0);
    assert_eq!(res.body["usage_summary"]["memory_in_mb"], 0);
    assert!(
        res.body["links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/usage_summary")
    );
    let outsider = common::user_token("outsider", "outsider", &["cloud_controller.read"]);
    let res = cc
        .get(&format!("/v3/organizations/{org}/usage_summary"), &outsider)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
