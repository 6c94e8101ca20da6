//! Domains and routes: where an app is reached. A route is host + domain + path (or a TCP
//! port) in a space; route mappings (a route's destinations) send it to app processes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Metadata, listable};
use crate::store::{Table, docs::document};

/// CC's limits: a DNS label, a context path, a whole host name.
pub const MAX_HOST_LENGTH: usize = 63;
pub const MAX_PATH_LENGTH: usize = 128;
pub const MAX_FQDN_LENGTH: usize = 253;
/// Where a buildpack app listens when a destination names no port.
pub const DEFAULT_APP_PORT: u16 = 8080;
pub const WILDCARD_HOST: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub guid: String,
    pub name: String,
    /// Internal domains are for container-to-container traffic only.
    pub internal: bool,
    /// The owning organization of a private domain; `None` for a shared domain.
    pub organization_guid: Option<String>,
    /// Organizations a private domain is shared with.
    pub shared_organization_guids: Vec<String>,
    /// `["http"]`, or `["tcp"]` with a router group.
    pub supported_protocols: Vec<String>,
    pub router_group_guid: Option<String>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub guid: String,
    /// Empty for a route on the domain itself.
    pub host: String,
    /// Empty, or starts with `/`.
    pub path: String,
    /// For TCP routes.
    pub port: Option<u16>,
    pub domain_guid: String,
    pub space_guid: String,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A destination of a route: an app's process (and the port it listens on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteMapping {
    pub guid: String,
    pub route_guid: String,
    pub app_guid: String,
    pub process_type: String,
    /// The app port; `None` means the default 8080.
    pub app_port: Option<u16>,
    pub protocol: String,
    pub weight: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

document!(Domain, Table::Domains, |d| vec![
    Some(d.name.clone()),
    d.organization_guid.clone()
]);
document!(Route, Table::Routes, |r| vec![
    Some(r.space_guid.clone()),
    Some(r.domain_guid.clone()),
    Some(r.host.clone()),
    Some(r.path.clone()),
    Some(r.port.map(|p| p.to_string()).unwrap_or_default())
]);
document!(RouteMapping, Table::RouteMappings, |m| vec![
    Some(m.route_guid.clone()),
    Some(m.app_guid.clone()),
    Some(m.process_type.clone())
]);

impl Domain {
    pub fn is_shared(&self) -> bool {
        self.organization_guid.is_none()
    }

    /// Whether routes of spaces in this organization may use the domain.
    pub fn usable_by(&self, org_guid: &str) -> bool {
        self.organization_guid
            .as_deref()
            .is_none_or(|o| o == org_guid)
            || self.shared_organization_guids.iter().any(|o| o == org_guid)
    }

    /// The route protocol of the domain: `http`, or `tcp` with a router group.
    pub fn protocol(&self) -> &str {
        self.supported_protocols
            .first()
            .map_or("http", String::as_str)
    }
}

impl RouteMapping {
    /// The port the app listens on for this destination.
    pub fn port(&self) -> u16 {
        self.app_port.unwrap_or(DEFAULT_APP_PORT)
    }
}

listable!(Domain { name, labels });

listable!(Route { labels });

/// The host name a route answers to: `host.domain`, or the domain itself.
pub fn fqdn(host: &str, domain: &str) -> String {
    if host.is_empty() {
        domain.to_owned()
    } else {
        format!("{host}.{domain}")
    }
}

/// A route's `url` as CC presents it: no scheme, `host.domain/path`, or `domain:port` for TCP.
pub fn route_url(route: &Route, domain: &Domain) -> String {
    match route.port {
        Some(port) => format!("{}:{port}", domain.name),
        None => format!("{}{}", fqdn(&route.host, &domain.name), route.path),
    }
}

fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

const HOST_FORMAT: &str =
    r#"must be either "*" or contain only alphanumeric characters, "_", or "-""#;

/// What is wrong with a requested route host (empty is fine: a route on the domain itself).
pub fn host_problems(host: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if host.chars().count() > MAX_HOST_LENGTH {
        problems.push(format!(
            "Host is too long (maximum is {MAX_HOST_LENGTH} characters)"
        ));
    }
    if host != WILDCARD_HOST && !host.chars().all(is_host_char) {
        problems.push(format!("Host {HOST_FORMAT}"));
    }
    problems
}

/// What is wrong with a requested context path (empty means none).
pub fn path_problems(path: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if path.chars().count() > MAX_PATH_LENGTH {
        problems.push(format!(
            "Path is too long (maximum is {MAX_PATH_LENGTH} characters)"
        ));
    }
    if !path.is_empty() && !path.starts_with('/') {
        problems.push("Path must begin with /".into());
    }
    if path.contains('?') {
        problems.push("Path cannot contain ?".into());
    }
    if path == "/" {
        problems.push("Path cannot be exactly /".into());
    }
    if path
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '#')
    {
        problems.push("Path is invalid.".into());
    }
    problems
}

/// Why an app's name cannot be the host of its default route (CC does not rewrite names).
pub fn default_host_problem(app_name: &str) -> Option<String> {
    let prefix = "Failed to create default route from app name:";
    if app_name.chars().count() > MAX_HOST_LENGTH {
        Some(format!(
            "{prefix} Host cannot exceed {MAX_HOST_LENGTH} characters"
        ))
    } else if app_name.is_empty() || !app_name.chars().all(is_host_char) {
        Some(format!("{prefix} Host {HOST_FORMAT}"))
    } else {
        None
    }
}

fn is_dns_label(label: &str) -> bool {
    (1..=MAX_HOST_LENGTH).contains(&label.len())
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// What is wrong with a requested domain name, in CC's words.
pub fn domain_name_problems(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let len = name.chars().count();
    if len < 3 {
        problems.push("Name is too short (minimum is 3 characters)".into());
    }
    if len > MAX_FQDN_LENGTH {
        problems.push(format!(
            "Name is too long (maximum is {MAX_FQDN_LENGTH} characters)"
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 || !labels.iter().all(|l| is_dns_label(l)) {
        problems.push("Name does not comply with RFC 1035 standards".into());
    }
    if !name.contains('.') {
        problems.push(r#"Name must contain at least one ".""#.into());
    }
    if labels.iter().any(|l| l.len() > MAX_HOST_LENGTH) {
        problems.push("Name subdomains must each be at most 63 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        problems.push("Name must consist of alphanumeric characters and hyphens".into());
    }
    problems
}

/// The (host, parent domain) splits of a domain name, shortest parent first:
/// `a.b.example.com` gives `(b, example.com)` and `(a, b.example.com)`. A new domain must not
/// swallow an existing route such as host `b` on `example.com`.
pub fn host_splits(name: &str) -> Vec<(&str, &str)> {
    let mut splits: Vec<(&str, &str)> = name
        .match_indices('.')
        .filter_map(|(i, _)| {
            let parent = &name[i + 1..];
            let host = name[..i].rsplit('.').next()?;
            parent.contains('.').then_some((host, parent))
        })
        .collect();
    splits.reverse();
    splits
}

/// A route as a manifest or `cf push` names it: `host.domain[:port][/path]`, maybe with a
/// scheme. The domain is not known yet, so these are the (host, domain) pairs to try in order:
/// the whole name as a domain, then the first label as host (CC's rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub candidates: Vec<(String, String)>,
    pub path: String,
    pub port: Option<u16>,
}

pub fn parse_route_spec(url: &str) -> Option<RouteSpec> {
    let rest = ["http://", "https://", "tcp://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .unwrap_or(url);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (name, port) = match authority.rsplit_once(':') {
        Some((name, port)) => (name, Some(port.parse::<u16>().ok()?)),
        None => (authority, None),
    };
    if name.is_empty() {
        return None;
    }
    let mut candidates = Vec::new();
    if !name.starts_with(WILDCARD_HOST) {
        candidates.push((String::new(), name.to_owned()));
    }
    if let Some((host, domain)) = name.split_once('.') {
        candidates.push((host.to_owned(), domain.to_owned()));
    }
    Some(RouteSpec {
        candidates,
        path: path.to_owned(),
        port,
    })
}

/// A destination as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDestination {
    pub app_guid: String,
    pub process_type: String,
    pub port: Option<u16>,
    /// `http1` (the default for HTTP routes), `http2` or `tcp`.
    pub protocol: Option<String>,
    pub weight: Option<u32>,
}

/// Reads `destinations` of a POST (add, at least one) or PATCH (`replace`, weights allowed)
/// to /v3/routes/:guid/destinations; every problem in CC's words.
pub fn parse_destinations(
    value: Option<&serde_json::Value>,
    replace: bool,
) -> Result<Vec<NewDestination>, Vec<String>> {
    let min = usize::from(!replace);
    let Some(items) = value
        .and_then(|v| v.as_array())
        .filter(|items| (min..=100).contains(&items.len()))
    else {
        return Err(vec![format!(
            "Destinations must be an array containing between {min} and 100 destination objects."
        )]);
    };
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut bad = |msg: &str| problems.push(format!("Destinations[{i}]: {msg}"));
        let Some(obj) = item.as_object() else {
            bad("must be an object.");
            continue;
        };
        if !obj.contains_key("app") {
            bad(r#"must have an "app"."#);
            continue;
        }
        if obj
            .keys()
            .any(|k| !matches!(k.as_str(), "app" | "weight" | "port" | "protocol"))
        {
            bad(r#"must have only "app" and optionally "weight", "port" or "protocol"."#);
            continue;
        }
        let app = &obj["app"];
        let app_guid = app
            .get("guid")
            .and_then(|g| g.as_str())
            .filter(|g| (1..200).contains(&g.len()));
        let process_type = match app.get("process") {
            None => Some("web"),
            Some(p) => p
                .as_object()
                .filter(|p| p.len() == 1)
                .and_then(|p| p.get("type"))
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty()),
        };
        if app_guid.is_none() || app.as_object().is_none() {
            bad(r#"app must have the structure {"guid": "app_guid"}"#);
        } else if process_type.is_none() {
            bad(r#"process must have the structure {"type": "process_type"}"#);
        }
        let weight = match obj.get("weight").filter(|w| !w.is_null()) {
            None => None,
            Some(_) if !replace => {
                bad("weighted destinations can only be used when replacing all destinations.");
                None
            }
            Some(w) => {
                let w = w.as_u64().filter(|w| (1..=100).contains(w));
                if w.is_none() {
                    bad("weight must be a positive integer between 1 and 100.");
                }
                w.map(|w| w as u32)
            }
        };
        let port = match obj.get("port").filter(|p| !p.is_null()) {
            None => None,
            Some(p) => {
                let p = p
                    .as_u64()
                    .filter(|p| (1024..=65535).contains(p))
                    .map(|p| p as u16);
                if p.is_none() {
                    bad("port must be a positive integer between 1024 and 65535 inclusive.");
                }
                p
            }
        };
        let protocol = match obj.get("protocol").filter(|p| !p.is_null()) {
            None => None,
            Some(p) => {
                let p = p
                    .as_str()
                    .filter(|p| matches!(*p, "http1" | "http2" | "tcp"));
                if p.is_none() {
                    bad("protocol must be 'http1', 'http2' or 'tcp'.");
                }
                p.map(str::to_owned)
            }
        };
        if let (Some(app_guid), Some(process_type)) = (app_guid, process_type) {
            out.push(NewDestination {
                app_guid: app_guid.to_owned(),
                process_type: process_type.to_owned(),
                port,
                protocol,
                weight,
            });
        }
    }
    if problems.is_empty() {
        let weighted = out.iter().filter(|d| d.weight.is_some()).count();
        if weighted > 0 && weighted < out.len() {
            problems.push(
                "Destinations cannot contain both weighted and unweighted destinations.".into(),
            );
        } else if weighted > 0 && out.iter().filter_map(|d| d.weight).sum::<u32>() != 100 {
            problems.push("Destinations must have weights that sum to 100.".into());
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "brave", "bright", "calm", "clever", "cosmic", "daring", "eager", "fancy",
    "fearless", "friendly", "gentle", "happy", "humble", "jolly", "keen", "lively", "lucky",
    "mellow", "nimble", "patient", "proud", "quick", "quiet", "rapid", "shiny", "silly", "sunny",
    "swift", "tidy", "wise",
];

const NOUNS: &[&str] = &[
    "antelope", "badger", "bear", "beaver", "bison", "camel", "cheetah", "crane", "dolphin",
    "eagle", "falcon", "ferret", "fox", "gecko", "hedgehog", "heron", "ibex", "jaguar", "koala",
    "lemur", "lynx", "marmot", "meerkat", "otter", "panda", "puffin", "quokka", "raccoon",
    "salmon", "tapir", "walrus", "wombat",
];

/// A random route host as CC makes them: `<app>-<adjective>-<noun>-<two letters>`, drawn from
/// `entropy` (any string, e.g. a fresh guid) so callers decide where randomness comes from.
pub fn random_host(app_name: &str, entropy: &str) -> String {
    // FNV-1a spreads any entropy string over the whole u64.
    let mut seed = entropy.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut pick = |n: usize| {
        let i = (seed % n as u64) as usize;
        seed /= n as u64;
        i
    };
    let adjective = ADJECTIVES[pick(ADJECTIVES.len())];
    let noun = NOUNS[pick(NOUNS.len())];
    let a = char::from(b'a' + pick(26) as u8);
    let b = char::from(b'a' + pick(26) as u8);
    format!("{app_name}-{adjective}-{noun}-{a}{b}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, org: Option<&str>) -> Domain {
        Domain {
            guid: "d".into(),
            name: name.into(),
            internal: false,
            organization_guid: org.map(str::to_owned),
            shared_organization_guids: vec!["shared-with".into()],
            supported_protocols: vec!["http".into()],
            router_group_guid: None,
            metadata: Metadata::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn route(host: &str, path: &str, port: Option<u16>) -> Route {
        Route {
            guid: "r".into(),
            host: host.into(),
            path: path.into(),
            port,
            domain_guid: "d".into(),
            space_guid: "s".into(),
            metadata: Metadata::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn urls_have_no_scheme() {
        let d = domain("apps.example.com", None);
        assert_eq!(
            route_url(&route("web", "", None), &d),
            "web.apps.example.com"
        );
        assert_eq!(
            route_url(&route("web", "/api", None), &d),
            "web.apps.example.com/api"
        );
        assert_eq!(route_url(&route("", "/x", None), &d), "apps.example.com/x");
        assert_eq!(
            route_url(&route("", "", Some(1025)), &d),
            "apps.example.com:1025"
        );
    }

    #[test]
    fn domain_usability() {
        assert!(domain("a.com", None).usable_by("any"));
        let private = domain("a.com", Some("owner"));
        assert!(private.usable_by("owner"));
        assert!(private.usable_by("shared-with"));
        assert!(!private.usable_by("other"));
    }

    #[test]
    fn hosts() {
        for ok in ["", "*", "my-app_1", &"a".repeat(63)] {
            assert!(host_problems(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            host_problems("a.b"),
            [r#"Host must be either "*" or contain only alphanumeric characters, "_", or "-""#]
        );
        assert_eq!(
            host_problems(&"a".repeat(64)),
            ["Host is too long (maximum is 63 characters)"]
        );
        assert_eq!(host_problems("ünï").len(), 1);
    }

    #[test]
    fn paths() {
        for ok in ["", "/a", "/a/b.c"] {
            assert!(path_problems(ok).is_empty(), "{ok}");
        }
        assert_eq!(path_problems("/"), ["Path cannot be exactly /"]);
        assert_eq!(path_problems("a"), ["Path must begin with /"]);
        assert_eq!(path_problems("/a?b"), ["Path cannot contain ?"]);
        assert_eq!(path_problems("/a b"), ["Path is invalid."]);
        assert_eq!(path_problems(&format!("/{}", "a".repeat(128))).len(), 1);
    }

    #[test]
    fn domain_names() {
        for ok in ["apps.localhost", "a-b.example.com", "x.io"] {
            assert!(domain_name_problems(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            domain_name_problems("localhost"),
            [
                "Name does not comply with RFC 1035 standards",
                r#"Name must contain at least one ".""#
            ]
        );
        assert!(
            domain_name_problems("-a.com")
                .contains(&"Name does not comply with RFC 1035 standards".into())
        );
        assert!(
            domain_name_problems("a_b.com")
                .contains(&"Name must consist of alphanumeric characters and hyphens".into())
        );
        assert!(
            domain_name_problems(&format!("{}.com", "a".repeat(64)))
                .contains(&"Name subdomains must each be at most 63 characters".into())
        );
    }

    #[test]
    fn default_hosts() {
        assert_eq!(default_host_problem("my_app-2"), None);
        assert!(default_host_problem("my app").is_some_and(|m| m.contains("alphanumeric")));
        assert!(default_host_problem(&"a".repeat(64)).is_some_and(|m| m.contains("63")));
    }

    #[test]
    fn splits() {
        assert_eq!(
            host_splits("a.b.example.com"),
            [("b", "example.com"), ("a", "b.example.com")]
        );
        assert!(host_splits("example.com").is_empty());
    }

    #[test]
    fn route_specs() {
        let spec = parse_route_spec("web.apps.io/api").expect("parses");
        assert_eq!(
            spec.candidates,
            [
                (String::new(), "web.apps.io".to_owned()),
                ("web".to_owned(), "apps.io".to_owned())
            ]
        );
        assert_eq!((spec.path.as_str(), spec.port), ("/api", None));
        let spec = parse_route_spec("https://*.apps.io").expect("parses");
        assert_eq!(spec.candidates, [("*".to_owned(), "apps.io".to_owned())]);
        let spec = parse_route_spec("tcp.apps.io:1024").expect("parses");
        assert_eq!(spec.port, Some(1024));
        assert_eq!(parse_route_spec(""), None);
        assert_eq!(parse_route_spec("a.io:port"), None);
    }

    #[test]
    fn destinations() {
        use serde_json::json;
        let body = json!([{"app": {"guid": "a"}}, {"app": {"guid": "b", "process": {"type": "worker"}}, "port": 9000}]);
        let d = parse_destinations(Some(&body), false).expect("valid");
        assert_eq!((d[0].process_type.as_str(), d[0].port), ("web", None));
        assert_eq!(
            (d[1].process_type.as_str(), d[1].port),
            ("worker", Some(9000))
        );
        assert!(parse_destinations(Some(&json!([])), false).is_err());
        assert!(
            parse_destinations(Some(&json!([])), true)
                .expect("empty replace")
                .is_empty()
        );
        assert_eq!(
            parse_destinations(
                Some(&json!([{"app": {}}, 5, {"app": {"guid": "a"}, "port": 80}])),
                false
            )
            .expect_err("invalid"),
            [
                r#"Destinations[0]: app must have the structure {"guid": "app_guid"}"#,
                "Destinations[1]: must be an object.",
                "Destinations[2]: port must be a positive integer between 1024 and 65535 inclusive.",
            ]
        );
        let weighted =
            json!([{"app": {"guid": "a"}, "weight": 60}, {"app": {"guid": "b"}, "weight": 30}]);
        assert_eq!(
            parse_destinations(Some(&weighted), true).expect_err("sum"),
            ["Destinations must have weights that sum to 100."]
        );
        assert!(parse_destinations(Some(&weighted), false).is_err());
    }

    #[test]
    fn random_hosts() {
        let a = random_host("app", "guid-1");
        assert!(a.starts_with("app-"), "{a}");
        assert_eq!(a.split('-').count(), 4, "{a}");
        assert!(host_problems(&a).is_empty());
        assert_eq!(a, random_host("app", "guid-1"));
        assert_ne!(a, random_host("app", "guid-2"));
    }
}
