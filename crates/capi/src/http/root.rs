//! The unauthenticated discovery documents: `/`, `/v3`, `/v3/info` and `/v2/info`.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::AppState;

pub const V3_VERSION: &str = "3.180.0";
pub const V2_VERSION: &str = "2.250.0";
const DESCRIPTION: &str = "Ingot: Cloud Foundry in one binary";

/// Every v3 resource collection the cf CLI builds URLs from, and a few more.
const V3_RESOURCES: &[&str] = &[
    "app_usage_events",
    "apps",
    "audit_events",
    "buildpacks",
    "builds",
    "deployments",
    "domains",
    "droplets",
    "environment_variable_groups",
    "feature_flags",
    "info",
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
    "service_credential_bindings",
    "service_instances",
    "service_offerings",
    "service_plans",
    "service_route_bindings",
    "service_usage_events",
    "space_quotas",
    "spaces",
    "stacks",
    "tasks",
    "users",
];

pub async fn root(State(state): State<AppState>) -> Json<Value> {
    let log_cache = state
        .log_cache_url
        .as_ref()
        .map_or(Value::Null, |u| json!({ "href": u }));
    Json(json!({
        "links": {
            "self": { "href": state.external_url },
            "bits_service": null,
            "cloud_controller_v2": {
                "href": state.url("/v2"),
                "meta": { "version": V2_VERSION },
            },
            "cloud_controller_v3": {
                "href": state.url("/v3"),
                "meta": { "version": V3_VERSION },
            },
            "network_policy_v0": null,
            "network_policy_v1": null,
            "login": { "href": state.uaa_url },
            "uaa": { "href": state.uaa_url },
            "credhub": null,
            "routing": null,
            "logging": null,
            "log_cache": log_cache,
            "log_stream": null,
            "app_ssh": null,
        }
    }))
}

pub async fn v3_root(State(state): State<AppState>) -> Json<Value> {
    let mut links = serde_json::Map::new();
    links.insert("self".into(), state.link("/v3"));
    for name in V3_RESOURCES {
        links.insert((*name).into(), state.link(&format!("/v3/{name}")));
    }
    Json(json!({ "links": links }))
}

pub async fn v3_info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "build": "",
        "cli_version": { "minimum": null, "recommended": null },
        "custom": {},
        "description": DESCRIPTION,
        "name": "ingot",
        "version": 0,
        "osbapi_version": "2.15",
        "links": {
            "self": state.link("/v3/info"),
            "support": { "href": state.external_url },
        },
    }))
}

pub async fn v2_info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "name": "ingot",
        "build": "",
        "support": state.external_url,
        "version": 0,
        "description": DESCRIPTION,
        "authorization_endpoint": state.uaa_url,
        "token_endpoint": state.uaa_url,
        "min_cli_version": null,
        "min_recommended_cli_version": null,
        "api_version": V2_VERSION,
        "app_ssh_endpoint": null,
        "app_ssh_host_key_fingerprint": null,
        "app_ssh_oauth_client": "ssh-proxy",
        "doppler_logging_endpoint": null,
        "routing_endpoint": null,
        "osbapi_version": "2.15",
    }))
}
