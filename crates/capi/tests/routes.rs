//! Domains, routes and destinations through the HTTP API, as the cf CLI's domain and route
//! commands send them (contract section 3.7).

mod common;

use common::{World, error_of, guid, location, names, world};
use reqwest::StatusCode;
use serde_json::{Value, json};

impl World {
    /// `cf create-shared-domain NAME` as admin.
    async fn shared_domain(&self, name: &str) -> String {
        let res = self
            .cc
            .post(
                "/v3/domains",
                &self.cc.admin,
                json!({"internal": false, "name": name}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        guid(&res.body)
    }

    async fn create_route(
        &self,
        token: &str,
        domain: &str,
        host: &str,
        path: &str,
    ) -> common::Response {
        self.cc
            .post(
                "/v3/routes",
                token,
                json!({"host": host, "path": path, "relationships": {
                    "space": {"data": {"guid": self.space}},
                    "domain": {"data": {"guid": domain}}}}),
            )
            .await
    }

    /// Runs the job a 202 points at and expects it to complete.
    async fn completes(&self, res: common::Response) {
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
        let (_, job) = self.cc.wait_for_job(&location(&res), &self.cc.admin).await;
        assert_eq!(job["state"], "COMPLETE", "{job}");
    }
}

fn unprocessable(res: &common::Response) -> String {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let (code, title, detail) = error_of(&res.body);
    assert_eq!((code, title.as_str()), (10008, "CF-UnprocessableEntity"));
    detail
}

fn urls(body: &Value) -> Vec<String> {
    body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["url"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// cf create-shared-domain, create-private-domain, domains, delete-*-domain.
#[tokio::test]
async fn domains_as_cf_domains_reads_them() {
    let w = world().await;
    let cc = &w.cc;
    let shared = w.shared_domain("example.test").await;

    // create-private-domain as the org manager.
    let res = cc
        .post(
            "/v3/domains",
            &w.manager,
            json!({"name": "private.test", "relationships": {"organization": {"data": {"guid": w.org}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let private = guid(&res.body);
    assert_eq!(
        res.body["relationships"]["organization"]["data"]["guid"],
        w.org.as_str()
    );
    assert_eq!(
        res.body["relationships"]["shared_organizations"]["data"],
        json!([])
    );
    assert_eq!(res.body["supported_protocols"], json!(["http"]));
    assert!(res.body["router_group"].is_null());
    assert_eq!(res.body["internal"], false);

    // Another org's private domain is not listed for this org.
    let other = cc.create_org("other").await;
    let res = cc
        .post(
            "/v3/domains",
            &cc.admin,
            json!({"name": "elsewhere.test", "relationships": {"organization": {"data": {"guid": other}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);

    // cf domains
    let res = cc
        .get(&format!("/v3/organizations/{}/domains", w.org), &w.dev)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let listed = names(&res.body);
    assert!(listed.contains(&"example.test".to_owned()), "{listed:?}");
    assert!(listed.contains(&"private.test".to_owned()), "{listed:?}");
    assert!(!listed.contains(&"elsewhere.test".to_owned()), "{listed:?}");
    let shared_json = res.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|d| d["guid"] == shared.as_str())
        .expect("shared domain listed");
    assert!(shared_json["relationships"]["organization"]["data"].is_null());

    // The default domain is the oldest plain shared domain: the seeded apps domain.
    let res = cc
        .get(
            &format!("/v3/organizations/{}/domains/default", w.org),
            &w.dev,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["name"], "apps.localhost");

    // cf create-route's lookup; duplicate names; bad names; who may create what.
    let res = cc.get("/v3/domains?names=private.test", &w.dev).await;
    assert_eq!(names(&res.body), ["private.test"]);
    let res = cc
        .post("/v3/domains", &cc.admin, json!({"name": "example.test"}))
        .await;
    assert_eq!(
        unprocessable(&res),
        r#"The domain name "example.test" is already in use"#
    );
    let res = cc
        .post("/v3/domains", &cc.admin, json!({"name": "nodots"}))
        .await;
    assert!(unprocessable(&res).contains("must contain at least one"));
    let res = cc
        .post("/v3/domains", &w.manager, json!({"name": "mine.test"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = cc
        .post(
            "/v3/domains",
            &w.dev,
            json!({"name": "dev.test", "relationships": {"organization": {"data": {"guid": w.org}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = cc
        .post(
            "/v3/domains",
            &w.outsider,
            json!({"name": "x.test", "relationships": {"organization": {"data": {"guid": w.org}}}}),
        )
        .await;
    assert!(unprocessable(&res).contains("does not exist or you do not have access"));
    let res = cc.get(&format!("/v3/domains/{private}"), &w.outsider).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = cc.get("/v3/domains", &cc.admin).await;
    assert_eq!(res.body["pagination"]["total_results"], 4);

    // Labels, then delete-private-domain and delete-shared-domain (jobs).
    let res = cc
        .patch(
            &format!("/v3/domains/{private}"),
            &w.manager,
            json!({"metadata": {"labels": {"env": "test"}}}),
        )
        .await;
    assert_eq!(
        res.body["metadata"]["labels"]["env"], "test",
        "{}",
        res.body
    );
    let res = cc
        .delete(&format!("/v3/domains/{shared}"), &w.manager)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    w.completes(
        cc.delete(&format!("/v3/domains/{private}"), &w.manager)
            .await,
    )
    .await;
    w.completes(cc.delete(&format!("/v3/domains/{shared}"), &cc.admin).await)
        .await;
    let res = cc.get(&format!("/v3/domains/{shared}"), &cc.admin).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sharing_a_private_domain() {
    let w = world().await;
    let cc = &w.cc;
    let other = cc.create_org("other").await;
    let res = cc
        .post(
            "/v3/domains",
            &cc.admin,
            json!({"name": "private.test", "relationships": {"organization": {"data": {"guid": w.org}}}}),
        )
        .await;
    let domain = guid(&res.body);
    let path = format!("/v3/domains/{domain}/relationships/shared_organizations");
    let res = cc
        .post(&path, &cc.admin, json!({"data": [{"guid": other}]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["data"], json!([{"guid": other}]));
    let res = cc
        .get(&format!("/v3/organizations/{other}/domains"), &cc.admin)
        .await;
    assert!(names(&res.body).contains(&"private.test".to_owned()));
    let res = cc
        .post(&path, &cc.admin, json!({"data": [{"guid": w.org}]}))
        .await;
    assert_eq!(
        unprocessable(&res),
        "Domain cannot be shared with owning organization."
    );
    let res = cc.delete(&format!("/v3/domains/{domain}"), &cc.admin).await;
    assert!(unprocessable(&res).contains("Unshare before deleting"));
    let res = cc.delete(&format!("{path}/{other}"), &cc.admin).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let res = cc.get(&format!("/v3/domains/{domain}"), &cc.admin).await;
    assert_eq!(
        res.body["relationships"]["shared_organizations"]["data"],
        json!([])
    );
}

/// cf create-route (+ duplicate), check-route, routes, delete-route; bad input and RBAC.
#[tokio::test]
async fn routes_as_cf_route_commands_use_them() {
    let w = world().await;
    let cc = &w.cc;
    let domain = w.shared_domain("example.test").await;

    let res = w.create_route(&w.dev, &domain, "web", "/api").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let route = guid(&res.body);
    assert_eq!(res.body["url"], "web.example.test/api");
    assert_eq!(res.body["protocol"], "http");
    assert_eq!(res.body["host"], "web");
    assert_eq!(res.body["path"], "/api");
    assert!(res.body["port"].is_null());
    assert_eq!(res.body["destinations"], json!([]));
    assert_eq!(
        res.body["relationships"]["space"]["data"]["guid"],
        w.space.as_str()
    );
    assert_eq!(
        res.body["relationships"]["domain"]["data"]["guid"],
        domain.as_str()
    );

    // The CLI prints "already exists" + OK on this text.
    let res = w.create_route(&w.dev, &domain, "web", "/api").await;
    assert_eq!(
        unprocessable(&res),
        "Route already exists with host 'web' and path '/api' for domain 'example.test'."
    );
    let res = w.create_route(&w.dev, &domain, "web", "").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);

    // Bad hosts and paths: 422 with every problem, nothing created.
    for (host, path, want) in [
        (
            "a.b",
            "",
            "Host must be either \"*\" or contain only alphanumeric characters, \"_\", or \"-\"",
        ),
        (
            &"a".repeat(64) as &str,
            "",
            "Host is too long (maximum is 63 characters)",
        ),
        ("ok", "/", "Path cannot be exactly /"),
        ("ok", "no-slash", "Path must begin with /"),
        ("ok", "/a?b", "Path cannot contain ?"),
        (
            "",
            "",
            "Missing host. Routes in shared domains must have a host defined.",
        ),
        (
            "*",
            "",
            "You do not have sufficient permissions to create a route with a wildcard host on a domain not scoped to an organization.",
        ),
    ] {
        let res = w.create_route(&w.dev, &domain, host, path).await;
        assert_eq!(unprocessable(&res), want, "{host} {path}");
    }
    let res = cc
        .post(
            "/v3/routes",
            &w.dev,
            json!({"host": "x", "port": 8080, "relationships": {
                "space": {"data": {"guid": w.space}}, "domain": {"data": {"guid": domain}}}}),
        )
        .await;
    assert_eq!(
        unprocessable(&res),
        "Routes with protocol 'http' do not support ports."
    );
    let res = cc
        .post("/v3/routes", &w.dev, json!({"host": 5, "extra": true}))
        .await;
    let detail = unprocessable(&res);
    assert!(detail.contains("Host must be a string"), "{detail}");
    assert!(detail.contains("Unknown field(s): 'extra'"), "{detail}");

    // RBAC: auditors read but cannot create; outsiders cannot see the space.
    let res = w.create_route(&w.auditor, &domain, "aud", "").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = w.create_route(&w.outsider, &domain, "out", "").await;
    assert!(unprocessable(&res).starts_with("Invalid space."));
    let res = cc.get(&format!("/v3/routes/{route}"), &w.auditor).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = cc.get(&format!("/v3/routes/{route}"), &w.outsider).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = cc.get("/v3/routes", &w.outsider).await;
    assert_eq!(res.body["resources"], json!([]));
    let res = cc.delete(&format!("/v3/routes/{route}"), &w.auditor).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // cf check-route
    let check = |host: &str, path: &str| {
        format!("/v3/domains/{domain}/route_reservations?host={host}&path={path}")
    };
    let res = cc.get(&check("web", "%2Fapi"), &w.dev).await;
    assert_eq!(res.body, json!({"matching_route": true}));
    let res = cc.get(&check("web", ""), &w.dev).await;
    assert_eq!(res.body, json!({"matching_route": true}));
    let res = cc.get(&check("nope", ""), &w.dev).await;
    assert_eq!(res.body, json!({"matching_route": false}));

    // cf routes and map-route's lookup: empty filter values match empty strings.
    let res = cc
        .get(
            &format!(
                "/v3/routes?space_guids={}&include=domain,space,space.organization",
                w.space
            ),
            &w.auditor,
        )
        .await;
    assert_eq!(
        urls(&res.body),
        ["web.example.test/api", "web.example.test"]
    );
    assert_eq!(res.body["included"]["domains"][0]["name"], "example.test");
    assert_eq!(res.body["included"]["spaces"][0]["guid"], w.space.as_str());
    assert_eq!(
        res.body["included"]["organizations"][0]["guid"],
        w.org.as_str()
    );
    let res = cc
        .get(
            &format!("/v3/routes?domain_guids={domain}&hosts=web&paths="),
            &w.dev,
        )
        .await;
    assert_eq!(urls(&res.body), ["web.example.test"]);
    let res = cc
        .get(
            &format!("/v3/routes?organization_guids={}&ports=0", w.org),
            &w.dev,
        )
        .await;
    assert_eq!(res.body["pagination"]["total_results"], 2);
    let res = cc.get("/v3/routes?bogus=1", &w.dev).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Labels, then cf delete-route.
    let res = cc
        .patch(
            &format!("/v3/routes/{route}"),
            &w.dev,
            json!({"metadata": {"labels": {"tier": "api"}}}),
        )
        .await;
    assert_eq!(
        res.body["metadata"]["labels"]["tier"], "api",
        "{}",
        res.body
    );
    w.completes(cc.delete(&format!("/v3/routes/{route}"), &w.dev).await)
        .await;
    let res = cc.get(&format!("/v3/routes/{route}"), &w.dev).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = cc
        .get(&format!("/v3/audit_events?target_guids={route}"), &cc.admin)
        .await;
    let types: Vec<&str> = res.body["resources"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        [
            "audit.route.create",
            "audit.route.update",
            "audit.route.delete-request"
        ]
    );
}

/// Private domains: routes without a host, and only in the owning org.
#[tokio::test]
async fn private_domain_routes() {
    let w = world().await;
    let cc = &w.cc;
    let res = cc
        .post(
            "/v3/domains",
            &w.manager,
            json!({"name": "private.test", "relationships": {"organization": {"data": {"guid": w.org}}}}),
        )
        .await;
    let domain = guid(&res.body);
    let res = w.create_route(&w.dev, &domain, "", "/docs").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["url"], "private.test/docs");
    let res = w.create_route(&w.dev, &domain, "*", "").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // A domain may not swallow an existing route's host.
    let shared = w.shared_domain("example.test").await;
    w.create_route(&w.dev, &shared, "taken", "").await;
    let res = cc
        .post(
            "/v3/domains",
            &cc.admin,
            json!({"name": "taken.example.test"}),
        )
        .await;
    assert!(unprocessable(&res).contains("is already reserved by a route"));
}

/// cf map-route / unmap-route, /v3/apps/:guid/routes, delete-orphaned-routes. Needs the apps
/// area's POST /v3/apps.
#[tokio::test]
async fn destinations_map_and_unmap() {
    let w = world().await;
    let cc = &w.cc;
    let domain = w.shared_domain("example.test").await;
    let app = w.create_app("web-app").await;
    let res = w.create_route(&w.dev, &domain, "web", "").await;
    let route = guid(&res.body);
    let orphan = guid(&w.create_route(&w.dev, &domain, "orphan", "").await.body);

    let dests = format!("/v3/routes/{route}/destinations");
    let body = json!({"destinations": [{"app": {"guid": app}}]});
    let res = cc.post(&dests, &w.auditor, body.clone()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = cc.post(&dests, &w.dev, body.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let dest = &res.body["destinations"][0];
    assert_eq!(
        dest["app"],
        json!({"guid": app, "process": {"type": "web"}})
    );
    assert_eq!(
        (dest["port"].clone(), dest["protocol"].clone()),
        (json!(8080), json!("http1"))
    );
    assert!(dest["weight"].is_null());
    let dest_guid = dest["guid"].as_str().expect("guid").to_owned();
    // Mapping again is a no-op.
    let res = cc.post(&dests, &w.dev, body).await;
    assert_eq!(res.body["destinations"].as_array().map(Vec::len), Some(1));
    let res = cc
        .post(
            &dests,
            &w.dev,
            json!({"destinations": [{"app": {"guid": "no-such-app"}}]}),
        )
        .await;
    assert_eq!(
        unprocessable(&res),
        r#"App(s) with guid(s) "no-such-app" do not exist."#
    );

    // Inline destinations in route JSON, the app's routes, cf apps' app_guids lookup.
    let res = cc.get(&format!("/v3/routes/{route}"), &w.auditor).await;
    assert_eq!(res.body["destinations"][0]["guid"], dest_guid.as_str());
    let res = cc.get(&format!("/v3/apps/{app}/routes"), &w.dev).await;
    assert_eq!(urls(&res.body), ["web.example.test"]);
    let res = cc.get(&format!("/v3/routes?app_guids={app}"), &w.dev).await;
    assert_eq!(urls(&res.body), ["web.example.test"]);
    let res = cc.get(&format!("/v3/apps/{app}/routes"), &w.outsider).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = cc
        .get(&format!("/v3/audit_events?target_guids={app}"), &cc.admin)
        .await;
    let event = res.body["resources"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "audit.app.map-route")
        .expect("map-route event")
        .clone();
    assert_eq!(event["data"]["route_guid"], route.as_str());
    assert_eq!(event["data"]["destination_guid"], dest_guid.as_str());

    // cf delete-orphaned-routes keeps mapped routes.
    w.completes(
        cc.delete(
            &format!("/v3/spaces/{}/routes?unmapped=true", w.space),
            &w.dev,
        )
        .await,
    )
    .await;
    let res = cc.get(&format!("/v3/routes/{orphan}"), &w.dev).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = cc.get(&format!("/v3/routes/{route}"), &w.dev).await;
    assert_eq!(res.status, StatusCode::OK);

    // cf unmap-route; a second time the destination is gone.
    let res = cc.delete(&format!("{dests}/{dest_guid}"), &w.dev).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let res = cc.delete(&format!("{dests}/{dest_guid}"), &w.dev).await;
    assert!(unprocessable(&res).starts_with("Unable to unmap route from destination."));
    let res = cc.get(&format!("/v3/apps/{app}/routes"), &w.dev).await;
    assert_eq!(res.body["resources"], json!([]));

    // PATCH replaces all destinations.
    let res = cc
        .patch(&dests, &w.dev, json!({"destinations": [{"app": {"guid": app, "process": {"type": "worker"}}, "port": 9000}]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["destinations"][0]["port"], 9000);
    let res = cc.patch(&dests, &w.dev, json!({"destinations": []})).await;
    assert_eq!(res.body["destinations"], json!([]));
}
