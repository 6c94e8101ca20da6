//! The headers the router adds, strips and reads on the way to an endpoint and back.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ingot_core::IdGen;

pub const X_CF_ROUTER_ERROR: HeaderName = HeaderName::from_static("x-cf-routererror");
pub const X_VCAP_REQUEST_ID: HeaderName = HeaderName::from_static("x-vcap-request-id");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_REQUEST_START: HeaderName = HeaderName::from_static("x-request-start");

/// Headers that describe one hop only (RFC 9110 §7.6.1); a proxy must not forward them.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// How the client reached the router; the `X-Forwarded-Proto` an endpoint sees unless the
/// client sent one (as gorouter does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// The request's id: the client's `X-Vcap-Request-Id`, or a new one.
pub fn request_id(headers: &HeaderMap, ids: &dyn IdGen) -> String {
    headers
        .get(&X_VCAP_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map_or_else(|| ids.new_guid(), str::to_owned)
}

/// True for a connection upgrade request (WebSocket and the like).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Drops hop-by-hop headers, including those the `Connection` header names. An upgrade keeps
/// `Connection` and `Upgrade`, since the endpoint must see them to switch protocols.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t != "upgrade")
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in HOP_BY_HOP {
        if keep_upgrade && (name == "connection" || name == "upgrade") {
            continue;
        }
        headers.remove(name);
    }
}

/// Adds what an endpoint is told about the request: who sent it, over what, when, and its id.
pub fn add_forwarded(
    headers: &mut HeaderMap,
    client: IpAddr,
    scheme: Scheme,
    request_id: &str,
    now_ms: i64,
) {
    let previous: Vec<&str> = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let forwarded_for = if previous.is_empty() {
        client.to_string()
    } else {
        format!("{}, {client}", previous.join(", "))
    };
    set(headers, X_FORWARDED_FOR, &forwarded_for);
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        set(headers, X_FORWARDED_PROTO, scheme.as_str());
    }
    set(headers, X_VCAP_REQUEST_ID, request_id);
    set(headers, X_REQUEST_START, &now_ms.to_string());
}

pub(crate) fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_headers_are_added() {
        let mut h = HeaderMap::new();
        add_forwarded(
            &mut h,
            "192.0.2.7".parse().unwrap(),
            Scheme::Http,
            "rid",
            1234,
        );
        assert_eq!(h[&X_FORWARDED_FOR], "192.0.2.7");
        assert_eq!(h[&X_FORWARDED_PROTO], "http");
        assert_eq!(h[&X_VCAP_REQUEST_ID], "rid");
        assert_eq!(h[&X_REQUEST_START], "1234");
        // Over TLS the endpoint is told https.
        let mut h = HeaderMap::new();
        let client = "192.0.2.7".parse().unwrap();
        add_forwarded(&mut h, client, Scheme::Https, "rid", 1);
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
    }

    #[test]
    fn forwarded_for_appends_and_proto_is_kept() {
        let mut h = HeaderMap::new();
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("1.1.1.1"));
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("2.2.2.2"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("http"));
        add_forwarded(&mut h, "3.3.3.3".parse().unwrap(), Scheme::Https, "rid", 1);
        // The client's own value wins, as in gorouter.
        assert_eq!(h[&X_FORWARDED_FOR], "1.1.1.1, 2.2.2.2, 3.3.3.3");
        assert_eq!(h[&X_FORWARDED_PROTO], "http");
    }

    #[test]
    fn request_id_is_kept_or_made() {
        let ids = ingot_core::SequentialIds::default();
        let mut h = HeaderMap::new();
        let made = request_id(&h, &ids);
        assert!(!made.is_empty());
        assert_ne!(request_id(&h, &ids), made);
        h.insert(&X_VCAP_REQUEST_ID, HeaderValue::from_static("abc"));
        assert_eq!(request_id(&h, &ids), "abc");
    }

    #[test]
    fn hop_by_hop_headers_are_stripped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
    }

    #[test]
    fn upgrade_keeps_connection_and_upgrade() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade(&h));
        strip_hop_by_hop(&mut h, true);
        assert!(is_upgrade(&h));
    }
}
