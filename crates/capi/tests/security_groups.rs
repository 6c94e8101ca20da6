//! Application security groups through the API: the seeded defaults, CRUD, CAPI's rule
//! validation, binding to spaces, who sees what, and the egress rules Diego gets for an
//! app's LRPs and tasks.

mod bridge_support;
mod common;

use std::collections::BTreeSet;

use bridge_support::idle_cell;
use common::{TestCc, World, error_of, guid, location, names, world};
use ingot_bbs::{BbsApi, DesiredLrp, DesiredLrpFilter, SecurityGroupRule};
use ingot_core::testing::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

const DEFAULTS: [&str; 2] = ["public_networks", "dns"];

async fn create_group(cc: &TestCc, body: Value) -> String {
    let res = cc.post("/v3/security_groups", &cc.admin, body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    guid(&res.body)
}

/// A group of one rule, neither globally enabled nor bound.
async fn group_of(cc: &TestCc, name: &str, rule: Value) -> String {
    create_group(cc, json!({"name": name, "rules": [rule]})).await
}

async fn bind(
    cc: &TestCc,
    token: &str,
    group: &str,
    lifecycle: &str,
    spaces: &[&str],
) -> common::Response {
    let data: Vec<Value> = spaces.iter().map(|s| json!({"guid": s})).collect();
    cc.post(
        &format!("/v3/security_groups/{group}/relationships/{lifecycle}_spaces"),
        token,
        json!({ "data": data }),
    )
    .await
}

fn space_guids(group: &Value, lifecycle: &str) -> Vec<String> {
    group["relationships"][format!("{lifecycle}_spaces")]["data"]
        .as_array()
        .expect("relationship data")
        .iter()
        .map(|d| d["guid"].as_str().expect("guid").to_owned())
        .collect()
}

/// Deletes a group and waits for the job.
async fn delete_group(cc: &TestCc, group: &str) -> Value {
    let res = cc
        .delete(&format!("/v3/security_groups/{group}"), &cc.admin)
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let (_, job) = cc.wait_for_job(&location(&res), &cc.admin).await;
    job
}

#[tokio::test]
async fn the_defaults_are_seeded_once_and_enabled_everywhere() {
    let cc = TestCc::start().await;
    let res = cc.get("/v3/security_groups", &cc.admin).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(names(&res.body), DEFAULTS);
    let groups = res.body["resources"].as_array().unwrap();
    for group in groups {
        assert_eq!(
            group["globally_enabled"],
            json!({"running": true, "staging": true})
        );
    }
    let public = groups[0]["rules"].as_array().unwrap();
    assert!(public.iter().all(|r| r["protocol"] == "all"));
    assert!(
        public
            .iter()
            .any(|r| r["destination"] == "11.0.0.0-100.63.255.255"),
        "{public:?}"
    );
    assert_eq!(
        groups[1]["rules"],
        json!([
            {"protocol": "tcp", "destination": "0.0.0.0/0", "ports": "53"},
            {"protocol": "udp", "destination": "0.0.0.0/0", "ports": "53"},
        ])
    );

    // A default an admin deleted stays deleted across restarts.
    let dns = guid(&groups[1]);
    delete_group(&cc, &dns).await;
    let cc = TestCc::start_in(cc.stop().await).await;
    let res = cc.get("/v3/security_groups", &cc.admin).await;
    assert_eq!(names(&res.body), ["public_networks"]);
}

#[tokio::test]
async fn create_read_update_and_delete() {
    let cc = TestCc::start().await;
    let rules = json!([
        {"protocol": "tcp", "destination": "10.10.10.0/24", "ports": "443,80,8080"},
        {"protocol": "icmp", "destination": "10.10.10.0/24", "type": 8, "code": 0,
         "description": "Allow ping requests to private services"},
        {"protocol": "udp", "destination": "1.1.1.1,2.2.2.2/24,10.0.0.0-10.0.0.255",
         "ports": "8080-8090", "log": true},
    ]);
    let res = cc
        .post(
            "/v3/security_groups",
            &cc.admin,
            json!({"name": "my-group0", "globally_enabled": {"running": true}, "rules": rules}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let created = res.body;
    let g = guid(&created);
    assert_eq!(created["name"], "my-group0");
    assert_eq!(
        created["globally_enabled"],
        json!({"running": true, "staging": false})
    );
    assert_eq!(created["rules"], rules, "rules show as given");
    assert_eq!(
        created["relationships"],
        json!({"running_spaces": {"data": []}, "staging_spaces": {"data": []}})
    );
    assert_eq!(
        created["links"]["self"]["href"],
        format!("{}/v3/security_groups/{g}", cc.base)
    );
    assert!(chrono::DateTime::parse_from_rfc3339(created["created_at"].as_str().unwrap()).is_ok());
    let res = cc.get(&format!("/v3/security_groups/{g}"), &cc.admin).await;
    assert_eq!(res.body, created);

    // globally_enabled merges; rules replace; a name stays unique.
    let path = format!("/v3/security_groups/{g}");
    let res = cc
        .patch(
            &path,
            &cc.admin,
            json!({"globally_enabled": {"staging": true}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.body["globally_enabled"],
        json!({"running": true, "staging": true})
    );
    assert_eq!(res.body["rules"], rules);
    let res = cc
        .patch(
            &path,
            &cc.admin,
            json!({"name": "renamed", "rules": [{"protocol": "all", "destination": "1.1.1.1"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["name"], "renamed");
    assert_eq!(
        res.body["rules"],
        json!([{"protocol": "all", "destination": "1.1.1.1"}])
    );
    for (body, detail) in [
        (
            json!({"name": "dns"}),
            "Security group with name 'dns' already exists.",
        ),
        (
            json!({"name": ""}),
            "Name is too short (minimum is 1 character)",
        ),
        (
            json!({"globally_enabled": {"running": "yes"}}),
            "Globally enabled values must be booleans",
        ),
        (
            json!({"globally_enabled": {"everywhere": true}}),
            "Globally enabled only allows keys 'running' or 'staging'",
        ),
        (json!({"labels": {}}), "Unknown field(s): 'labels'"),
    ] {
        let res = cc.patch(&path, &cc.admin, body.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            error_of(&res.body),
            (10008, "CF-UnprocessableEntity".into(), detail.into()),
            "{body}"
        );
    }
    let res = cc
        .post(
            "/v3/security_groups",
            &cc.admin,
            json!({"name": "public_networks"}),
        )
        .await;
    assert_eq!(
        error_of(&res.body).2,
        "Security group with name 'public_networks' already exists."
    );

    // Lists filter and order.
    let res = cc
        .get("/v3/security_groups?names=renamed,dns", &cc.admin)
        .await;
    assert_eq!(names(&res.body), ["dns", "renamed"]);
    let res = cc
        .get(
            "/v3/security_groups?order_by=-created_at&per_page=1",
            &cc.admin,
        )
        .await;
    assert_eq!(names(&res.body), ["renamed"]);
    assert_eq!(res.body["pagination"]["total_results"], 3);
    let res = cc
        .get(
            "/v3/security_groups?globally_enabled_running=maybe",
            &cc.admin,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body).2,
        "Globally enabled running must be a boolean"
    );
    let res = cc
        .get("/v3/security_groups?label_selector=a", &cc.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    let job = delete_group(&cc, &g).await;
    assert_eq!(
        (job["operation"].as_str(), job["state"].as_str()),
        (Some("security_group.delete"), Some("COMPLETE"))
    );
    let res = cc.get(&path, &cc.admin).await;
    assert_eq!(
        error_of(&res.body),
        (
            10010,
            "CF-ResourceNotFound".into(),
            "Security group not found".into()
        )
    );
}

#[tokio::test]
async fn every_bad_rule_is_reported_at_once() {
    let cc = TestCc::start().await;
    let res = cc
        .post(
            "/v3/security_groups",
            &cc.admin,
            json!({
                "name": "",
                "rules": [
                    {"protocol": "tcp", "destination": "10.0.0.0/8"},
                    {"protocol": "udp", "destination": "10.0.0.0/33", "ports": "0-80"},
                    {"protocol": "icmp", "destination": "1.2.3.4", "type": 300},
                    {"protocol": "all", "destination": "9.0.0.0-8.0.0.0", "ports": "80"},
                    {"protocol": "gre", "destination": "1.2.3.4", "color": "red"},
                ],
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let (code, title, detail) = error_of(&res.body);
    assert_eq!((code, title.as_str()), (10008, "CF-UnprocessableEntity"));
    for expected in [
        "Rules[0]: ports are required for protocols of type TCP and UDP",
        "Rules[1]: destination must contain valid CIDR(s), IP address(es), or IP address range(s)",
        "Rules[1]: ports must be a valid single port, comma separated list of ports, or range or ports, formatted as a string",
        "Rules[2]: code is required for protocols of type ICMP",
        "Rules[2]: type must be an integer between -1 and 255 (inclusive)",
        "Rules[3]: beginning of IP address range is numerically greater than the end of its range (range endpoints are inverted)",
        "Rules[3]: ports are not allowed for protocols of type all",
        "Rules[4]: unknown field(s): [\"color\"]",
        "Rules[4]: protocol must be 'tcp', 'udp', 'icmp', 'icmpv6' or 'all'",
        "Name can't be blank",
    ] {
        assert!(detail.contains(expected), "{expected:?} in {detail}");
    }

    // Fields a protocol does not take are refused once the request is otherwise valid.
    let res = cc
        .post(
            "/v3/security_groups",
            &cc.admin,
            json!({"name": "ping", "rules": [
                {"protocol": "icmp", "destination": "1.2.3.4", "type": 0, "code": 0, "ports": "80"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body).2,
        "rules rule number 1 contains the invalid field 'ports'"
    );
    let res = cc.get("/v3/security_groups", &cc.admin).await;
    assert_eq!(names(&res.body), DEFAULTS, "nothing was created");
}

#[tokio::test]
async fn groups_bind_to_spaces_for_running_and_staging() {
    let w = world().await;
    let cc = &w.cc;
    let g = group_of(
        cc,
        "internal",
        json!({"protocol": "tcp", "destination": "10.0.0.0/8", "ports": "443"}),
    )
    .await;

    let res = bind(cc, &cc.admin, &g, "running", &[&w.space]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.body,
        json!({
            "data": [{"guid": w.space}],
            "links": {"self": {"href": format!(
                "{}/v3/security_groups/{g}/relationships/running_spaces", cc.base)}},
        })
    );
    let res = bind(cc, &cc.admin, &g, "running", &[&w.space]).await;
    assert_eq!(
        res.body["data"],
        json!([{"guid": w.space}]),
        "binding twice binds once"
    );
    let res = bind(cc, &cc.admin, &g, "staging", &[&w.space, "nope"]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body).2,
        "Spaces with guids [\"nope\"] do not exist, or you do not have access to them."
    );
    for (body, detail) in [
        (json!({}), "Data must be an array"),
        (json!({"data": []}), "Data can't be blank"),
    ] {
        let res = cc
            .post(
                &format!("/v3/security_groups/{g}/relationships/staging_spaces"),
                &cc.admin,
                body,
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_of(&res.body).2, detail);
    }

    let group = cc
        .get(&format!("/v3/security_groups/{g}"), &cc.admin)
        .await
        .body;
    assert_eq!(space_guids(&group, "running"), [w.space.as_str()]);
    assert!(space_guids(&group, "staging").is_empty());

    // The space's lists: global groups and its own bindings.
    let running_path = format!("/v3/spaces/{}/running_security_groups", w.space);
    let staging_path = format!("/v3/spaces/{}/staging_security_groups", w.space);
    let res = cc.get(&running_path, &w.dev).await;
    assert_eq!(names(&res.body), ["public_networks", "dns", "internal"]);
    assert_eq!(
        space_guids(&res.body["resources"][2], "running"),
        [w.space.as_str()]
    );
    let res = cc
        .get(&format!("{running_path}?names=internal"), &w.dev)
        .await;
    assert_eq!(names(&res.body), ["internal"]);
    assert_eq!(names(&cc.get(&staging_path, &w.dev).await.body), DEFAULTS);
    let res = cc.get(&running_path, &w.outsider).await;
    assert_eq!(error_of(&res.body).2, "Space not found");

    // List filters.
    for (query, expected) in [
        (format!("running_space_guids={}", w.space), vec!["internal"]),
        (format!("staging_space_guids={}", w.space), vec![]),
        ("globally_enabled_running=false".into(), vec!["internal"]),
        ("globally_enabled_staging=true".into(), DEFAULTS.to_vec()),
    ] {
        let res = cc
            .get(&format!("/v3/security_groups?{query}"), &cc.admin)
            .await;
        assert_eq!(names(&res.body), expected, "{query}");
    }

    // Unbinding.
    let unbind = format!(
        "/v3/security_groups/{g}/relationships/running_spaces/{}",
        w.space
    );
    let res = cc.delete(&unbind, &cc.admin).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = cc.delete(&unbind, &cc.admin).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&res.body).2,
        format!(
            "Unable to unbind security group from space with guid '{}'. Ensure the space is bound to this security group.",
            w.space
        )
    );
    assert_eq!(names(&cc.get(&running_path, &w.dev).await.body), DEFAULTS);

    // Created bound; a deleted space takes its bindings with it.
    let doomed = cc.create_space(&w.org, "doomed").await;
    let res = cc
        .post(
            "/v3/security_groups",
            &cc.admin,
            json!({"name": "bound", "relationships": {
                "running_spaces": {"data": [{"guid": doomed}]},
                "staging_spaces": {"data": [{"guid": doomed}, {"guid": w.space}]}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let bound = guid(&res.body);
    assert_eq!(space_guids(&res.body, "running"), [doomed.as_str()]);
    assert_eq!(space_guids(&res.body, "staging").len(), 2);
    let res = cc
        .post(
            "/v3/security_groups",
            &cc.admin,
            json!({"name": "x", "relationships": {"running_spaces": {"data": [{"guid": "nope"}]}}}),
        )
        .await;
    assert_eq!(
        error_of(&res.body).2,
        "Spaces with guids [\"nope\"] do not exist."
    );
    let res = cc.delete(&format!("/v3/spaces/{doomed}"), &cc.admin).await;
    cc.wait_for_job(&location(&res), &cc.admin).await;
    let group = cc
        .get(&format!("/v3/security_groups/{bound}"), &cc.admin)
        .await
        .body;
    assert!(space_guids(&group, "running").is_empty());
    assert_eq!(space_guids(&group, "staging"), [w.space.as_str()]);
}

#[tokio::test]
async fn readers_see_global_groups_and_those_of_their_spaces() {
    let w = world().await;
    let cc = &w.cc;
    let other = cc.create_space(&w.org, "other").await;
    let rule = json!({"protocol": "all", "destination": "10.1.0.0/16"});
    let mine = group_of(cc, "mine", rule.clone()).await;
    let theirs = group_of(cc, "theirs", rule.clone()).await;
    let shared = group_of(cc, "shared", rule.clone()).await;
    group_of(cc, "hidden", rule).await;
    bind(cc, &cc.admin, &mine, "running", &[&w.space]).await;
    bind(cc, &cc.admin, &theirs, "running", &[&other]).await;
    let res = bind(cc, &cc.admin, &shared, "staging", &[&w.space, &other]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    let res = cc.get("/v3/security_groups", &w.dev).await;
    assert_eq!(
        names(&res.body),
        ["public_networks", "dns", "mine", "shared"]
    );
    let shared_view = &res.body["resources"][3];
    assert_eq!(
        space_guids(shared_view, "staging"),
        [w.space.as_str()],
        "only the spaces the reader can see"
    );
    assert_eq!(
        names(&cc.get("/v3/security_groups", &w.outsider).await.body),
        DEFAULTS
    );
    assert_eq!(
        names(&cc.get("/v3/security_groups", &w.manager).await.body),
        ["public_networks", "dns", "mine", "theirs", "shared"],
        "org managers see every space of their org"
    );
    let res = cc
        .get(&format!("/v3/security_groups/{theirs}"), &w.dev)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Writes: admins only, on groups the caller can see.
    let res = cc
        .post("/v3/security_groups", &w.dev, json!({"name": "sneaky"}))
        .await;
    assert_eq!(error_of(&res.body).1, "CF-NotAuthorized");
    for res in [
        cc.patch(
            &format!("/v3/security_groups/{mine}"),
            &w.dev,
            json!({"name": "x"}),
        )
        .await,
        cc.delete(&format!("/v3/security_groups/{mine}"), &w.dev)
            .await,
        bind(cc, &w.dev, &mine, "staging", &[&w.space]).await,
    ] {
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    }
    let res = cc
        .patch(
            &format!("/v3/security_groups/{theirs}"),
            &w.dev,
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Org managers bind the groups they can see to their org's spaces.
    let res = bind(cc, &w.manager, &theirs, "staging", &[&w.space]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = cc
        .delete(
            &format!(
                "/v3/security_groups/{theirs}/relationships/staging_spaces/{}",
                w.space
            ),
            &w.dev,
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

async fn app_lrp(w: &World, check: impl Fn(&DesiredLrp) -> bool) -> DesiredLrp {
    eventually("the app's LRP", || async {
        let lrps =
            w.cc.bbs
                .desired_lrps(DesiredLrpFilter {
                    domain: "cf-apps".into(),
                    ..DesiredLrpFilter::default()
                })
                .await
                .expect("desired lrps");
        (lrps.len() == 1 && check(&lrps[0])).then(|| lrps[0].clone())
    })
    .await
}

/// Each rule's destinations and the groups it came from.
fn summary(rules: &[SecurityGroupRule]) -> BTreeSet<(Vec<String>, Vec<String>)> {
    rules
        .iter()
        .map(|r| (r.destinations.clone(), r.annotations.clone()))
        .collect()
}

#[tokio::test]
async fn lrps_and_tasks_carry_the_space_s_running_rules() {
    let w = world().await;
    let cc = &w.cc;
    let internal = group_of(
        cc,
        "internal",
        json!({"protocol": "tcp", "destination": "10.0.0.0/8", "ports": "8080-8090"}),
    )
    .await;
    let staging_only = group_of(
        cc,
        "staging-only",
        json!({"protocol": "all", "destination": "10.9.9.9"}),
    )
    .await;
    bind(cc, &cc.admin, &internal, "running", &[&w.space]).await;
    bind(cc, &cc.admin, &staging_only, "staging", &[&w.space]).await;
    let defaults = cc.get("/v3/security_groups", &cc.admin).await.body["resources"].clone();
    let public = guid(&defaults[0]);

    let (app, _) = w.staged_app("myapp").await;
    w.action(&app, "start").await;
    let lrp = app_lrp(&w, |_| true).await;
    let rules = &lrp.egress_rules;
    assert_eq!(rules.len(), 7 + 2 + 1, "public_networks, dns and internal");
    let tcp = rules
        .iter()
        .find(|r| r.destinations == ["10.0.0.0/8"])
        .expect("the bound group's rule");
    assert_eq!(
        tcp.port_range,
        Some(ingot_bbs::PortRange {
            start: 8080,
            end: 8090
        })
    );
    assert_eq!(tcp.annotations, [format!("security_group_id:{internal}")]);
    assert!(
        rules
            .iter()
            .any(|r| r.annotations == [format!("security_group_id:{public}")])
    );
    assert!(
        !rules.iter().any(|r| r.destinations == ["10.9.9.9"]),
        "staging groups do not apply to running apps"
    );

    // A task of the app gets the same rules.
    idle_cell(cc).await;
    let res = cc
        .post(
            &format!("/v3/apps/{app}/tasks"),
            &w.dev,
            json!({"command": "true"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let task = cc
        .bbs
        .task_by_guid(&guid(&res.body))
        .await
        .expect("desired");
    assert_eq!(summary(&task.task_definition.egress_rules), summary(rules));

    // A new binding reaches the app when it restarts, not before.
    let late = group_of(
        cc,
        "late",
        json!({"protocol": "udp", "destination": "10.2.0.0/16", "ports": "53"}),
    )
    .await;
    bind(cc, &cc.admin, &late, "running", &[&w.space]).await;
    let res = cc
        .post(
            &format!("/v3/apps/{app}/processes/web/actions/scale"),
            &w.dev,
            json!({"instances": 2}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.body);
    let scaled = app_lrp(&w, |l| l.instances == 2).await;
    assert_eq!(scaled.egress_rules, lrp.egress_rules);
    w.action(&app, "restart").await;
    let restarted = app_lrp(&w, |l| l.process_guid != lrp.process_guid).await;
    assert!(
        restarted
            .egress_rules
            .iter()
            .any(|r| r.annotations == [format!("security_group_id:{late}")]),
        "{:?}",
        restarted.egress_rules
    );
}
