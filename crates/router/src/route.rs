//! A route: a host plus an optional context path, e.g. `app.example.com/some/path`.

use std::borrow::Cow;
use std::fmt;

/// Where requests are sent by host and path. Hosts are lowercase without a port; the context
/// path is empty or starts with `/` and has no trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteKey {
    pub host: String,
    pub path: String,
}

impl RouteKey {
    /// Parses a CF hostname such as `App.Example.com/some/path/`.
    pub fn parse(uri: &str) -> Self {
        let (host, path) = match uri.find('/') {
            Some(i) => (&uri[..i], &uri[i..]),
            None => (uri, ""),
        };
        Self {
            host: normalize_host(host),
            path: normalize_path(path),
        }
    }

    pub fn new(host: &str, path: &str) -> Self {
        Self {
            host: normalize_host(host),
            path: normalize_path(path),
        }
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.host, self.path)
    }
}

/// True when `request_path` lies under the context path `route_path`, segment by segment:
/// `/foo` matches `/foo` and `/foo/bar`, never `/foobar`; an empty one matches every path.
pub(crate) fn path_matches(route_path: &str, request_path: &str) -> bool {
    route_path.is_empty()
        || request_path == route_path
        || (request_path.starts_with(route_path)
            && request_path.as_bytes().get(route_path.len()) == Some(&b'/'))
}

/// Lowercases and drops a port (`host:8080`, `[::1]:8080`) and a trailing dot, since clients
/// send all of these for the same route.
pub fn normalize_host(host: &str) -> String {
    normalized_host(host).into_owned()
}

/// [`normalize_host`] without allocating when `host` is already normal (as the proxy's is).
pub(crate) fn normalized_host(host: &str) -> Cow<'_, str> {
    let host = host.trim();
    let without_port = if let Some(rest) = host.strip_prefix('[') {
        match rest.find(']') {
            Some(end) => &host[..end + 2],
            None => host,
        }
    } else {
        match host.rfind(':') {
            Some(i) if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..i],
            _ => host,
        }
    };
    let host = without_port.trim_end_matches('.');
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

fn normalize_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_cases() {
        for (input, host, path) in [
            ("app.example.com", "app.example.com", ""),
            ("App.Example.COM", "app.example.com", ""),
            ("app.example.com/", "app.example.com", ""),
            ("app.example.com/foo/bar/", "app.example.com", "/foo/bar"),
            ("app.example.com:8080/foo", "app.example.com", "/foo"),
            ("app.example.com.", "app.example.com", ""),
        ] {
            let key = RouteKey::parse(input);
            assert_eq!(
                (key.host.as_str(), key.path.as_str()),
                (host, path),
                "{input}"
            );
        }
    }

    #[test]
    fn host_normalization() {
        for (input, want) in [
            ("a.com", "a.com"),
            ("A.COM:80", "a.com"),
            ("[::1]:8080", "[::1]"),
            ("[::1]", "[::1]"),
            ("a.com.", "a.com"),
        ] {
            assert_eq!(normalize_host(input), want, "{input}");
        }
    }

    #[test]
    fn segment_wise_path_match() {
        for (route, request, want) in [
            ("", "/anything", true),
            ("/foo", "/foo", true),
            ("/foo", "/foo/", true),
            ("/foo", "/foo/bar", true),
            ("/foo", "/foobar", false),
            ("/foo", "/", false),
            ("/foo/bar", "/foo", false),
        ] {
            assert_eq!(path_matches(route, request), want, "{route} vs {request}");
        }
    }
}
