//! The unauthenticated discovery documents: `/`, `/v3`, `/v3/info` and `/v2/info`.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header::HOST},
};
use serde_json::{Value, json};

use super::{AppState, Inner};

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

/// Where a client finds the API, the UAA and log-cache. A request for `api.<system domain>`
/// that came through a router (which adds `X-Forwarded-Proto`) gets the system domain's hosts,
/// with the scheme and port it used, so the client keeps going through the router; any other
/// request gets the components' own URLs.
#[derive(Debug, PartialEq, Eq)]
struct Discovery {
    api: String,
    uaa: String,
    login: String,
    log_cache: Option<String>,
}

impl Discovery {
    fn new(state: &Inner, headers: &HeaderMap) -> Self {
        let direct = Self {
            api: state.external_url.clone(),
            uaa: state.uaa_url.clone(),
            login: state.uaa_url.clone(),
            log_cache: state.log_cache_url.clone(),
        };
        direct.through_router(&state.service.settings.system_domain, headers)
    }

    fn through_router(self, system_domain: &str, headers: &HeaderMap) -> Self {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(proto), Some(host)) = (header("x-forwarded-proto"), header(HOST.as_str())) else {
            return self;
        };
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                (name, format!(":{port}"))
            }
            _ => (host, String::new()),
        };
        let api_host = format!("api.{system_domain}");
        if !name.trim_end_matches('.').eq_ignore_ascii_case(&api_host) {
            return self;
        }
        let scheme = match proto.split(',').next().map(str::trim) {
            Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let at = |component: &str| format!("{scheme}://{component}.{system_domain}{port}");
        Self {
            api: at("api"),
            uaa: at("uaa"),
            login: at("login"),
            log_cache: self.log_cache.map(|_| at("log-cache")),
        }
    }

    fn link(&self, path: &str) -> Value {
        json!({ "href": format!("{}{path}", self.api) })
    }
}

pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let at = Discovery::new(&state, &headers);
    let log_cache = at
        .log_cache
        .as_ref()
        .map_or(Value::Null, |u| json!({ "href": u }));
    Json(json!({
        "links": {
            "self": { "href": at.api },
            "bits_service": null,
            "cloud_controller_v2": {
                "href": format!("{}/v2", at.api),
                "meta": { "version": V2_VERSION },
            },
            "cloud_controller_v3": {
                "href": format!("{}/v3", at.api),
                "meta": { "version": V3_VERSION },
            },
            "network_policy_v0": null,
            "network_policy_v1": null,
            "login": { "href": at.login },
            "uaa": { "href": at.uaa },
            "credhub": null,
            "routing": null,
            "logging": null,
            "log_cache": log_cache,
            "log_stream": null,
            "app_ssh": null,
        }
    }))
}

pub async fn v3_root(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let at = Discovery::new(&state, &headers);
    let mut links = serde_json::Map::new();
    links.insert("self".into(), at.link("/v3"));
    for name in V3_RESOURCES {
        links.insert((*name).into(), at.link(&format!("/v3/{name}")));
    }
    Json(json!({ "links": links }))
}

pub async fn v3_info(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let at = Discovery::new(&state, &headers);
    Json(json!({
        "build": "",
        "cli_version": { "minimum": null, "recommended": null },
        "custom": {},
        "description": DESCRIPTION,
        "name": "ingot",
        "version": 0,
        "osbapi_version": "2.15",
        "links": {
            "self": at.link("/v3/info"),
            "support": { "href": at.api },
        },
    }))
}

pub async fn v2_info(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let at = Discovery::new(&state, &headers);
    Json(json!({
        "name": "ingot",
        "build": "",
        "support": at.api,
        "version": 0,
        "description": DESCRIPTION,
        "authorization_endpoint": at.login,
        "token_endpoint": at.uaa,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn direct() -> Discovery {
        Discovery {
            api: "http://127.0.0.1:9022".into(),
            uaa: "http://127.0.0.1:9023".into(),
            login: "http://127.0.0.1:9023".into(),
            log_cache: Some("http://127.0.0.1:9024".into()),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.parse().unwrap(), value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn through_the_router_at_api_the_links_stay_on_the_router() {
        let at = direct().through_router(
            "sys.test",
            &headers(&[
                ("host", "API.sys.test:8443"),
                ("x-forwarded-proto", "https"),
            ]),
        );
        assert_eq!(
            at,
            Discovery {
                api: "https://api.sys.test:8443".into(),
                uaa: "https://uaa.sys.test:8443".into(),
                login: "https://login.sys.test:8443".into(),
                log_cache: Some("https://log-cache.sys.test:8443".into()),
            }
        );
        let at = direct().through_router(
            "localhost",
            &headers(&[("host", "api.localhost"), ("x-forwarded-proto", "http")]),
        );
        assert_eq!(at.uaa, "http://uaa.localhost");
    }

    #[test]
    fn other_hosts_and_direct_requests_get_the_components_own_urls() {
        for pairs in [
            &[("host", "127.0.0.1:9022"), ("x-forwarded-proto", "http")][..],
            &[("host", "api.other.test"), ("x-forwarded-proto", "http")][..],
            // Host right, but not through a router: nothing would route `uaa.` there.
            &[("host", "api.sys.test:9022")][..],
        ] {
            assert_eq!(
                direct().through_router("sys.test", &headers(pairs)),
                direct(),
                "{pairs:?}"
            );
        }
    }
}
