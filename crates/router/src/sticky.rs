//! Sticky sessions, as gorouter does them: when an endpoint sets a `JSESSIONID` cookie the
//! router adds a `__VCAP_ID__` cookie naming the instance, and sends requests that carry it
//! back to that instance while it is registered.

use http::header::{self, HeaderMap, HeaderValue};

pub const VCAP_ID_COOKIE: &str = "__VCAP_ID__";
pub const SESSION_COOKIE: &str = "JSESSIONID";

/// The instance guid in the request's `__VCAP_ID__` cookie, if any.
pub fn requested_instance(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == VCAP_ID_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// If the response sets `JSESSIONID`, adds `__VCAP_ID__=<instance_guid>` with the same
/// attributes (path, expiry, flags) so both cookies live and die together.
pub fn add_vcap_cookie(headers: &mut HeaderMap, instance_guid: &str) {
    let session_attributes = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|cookie| {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let name = pair.split_once('=').map(|(n, _)| n.trim())?;
            (name == SESSION_COOKIE).then(|| attributes.trim().to_owned())
        });
    let Some(attributes) = session_attributes else {
        return;
    };
    let cookie = if attributes.is_empty() {
        format!("{VCAP_ID_COOKIE}={instance_guid}")
    } else {
        format!("{VCAP_ID_COOKIE}={instance_guid}; {attributes}")
    };
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vcap_id_among_cookies() {
        for (cookie, want) in [
            ("a=1; __VCAP_ID__=guid-1; b=2", Some("guid-1")),
            ("__VCAP_ID__=\"guid-2\"", Some("guid-2")),
            ("JSESSIONID=x", None),
            ("__VCAP_ID__=", None),
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
            assert_eq!(requested_instance(&h).as_deref(), want, "{cookie}");
        }
    }

    #[test]
    fn adds_vcap_id_next_to_jsessionid() {
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, HeaderValue::from_static("other=1"));
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_static("JSESSIONID=abc; Path=/; HttpOnly"),
        );
        add_vcap_cookie(&mut h, "guid-1");
        let cookies: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(
            *cookies.last().unwrap(),
            "__VCAP_ID__=guid-1; Path=/; HttpOnly"
        );
    }

    #[test]
    fn no_session_cookie_no_vcap_id() {
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, HeaderValue::from_static("other=1"));
        add_vcap_cookie(&mut h, "guid-1");
        assert_eq!(h.get_all(header::SET_COOKIE).iter().count(), 1);
    }
}
