//! Decoding requests by hand, so every malformed input becomes a UAA-shaped error rather than
//! axum's plain-text rejection.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::de::DeserializeOwned;

use crate::{Error, error::Result, service::ClientCredentials};

pub(super) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// HTTP Basic client credentials, if the request has a Basic `Authorization` header.
pub(super) fn basic_credentials(headers: &HeaderMap) -> Result<Option<ClientCredentials>> {
    let Some(value) = authorization(headers) else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let bad = || Error::InvalidClient("Invalid basic authentication token".into());
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some(ClientCredentials {
        id: id.to_owned(),
        secret: secret.to_owned(),
    }))
}

/// Form or query parameters; a repeated name is ambiguous and rejected.
pub(super) fn params(raw: &[u8]) -> Result<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw)
        .map_err(|e| Error::InvalidRequest(format!("Malformed parameters: {e}")))?;
    let mut map = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if map.insert(name.clone(), value).is_some() {
            return Err(Error::InvalidRequest(format!(
                "Parameter {name} was given twice"
            )));
        }
    }
    Ok(map)
}

pub(super) fn query_params(query: Option<&str>) -> Result<HashMap<String, String>> {
    params(query.unwrap_or_default().as_bytes())
}

/// A JSON body; unknown, missing or wrongly typed fields give 400 invalid_scim_resource.
pub(super) fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if !content_type.to_ascii_lowercase().contains("json") {
        return Err(Error::Validation(vec![format!(
            "Content type {content_type} is not supported; send application/json."
        )]));
    }
    serde_json::from_slice(body)
        .map_err(|e| Error::Validation(vec![format!("Invalid request body: {e}")]))
}

/// `If-Match: "3"`, `3` or `*` (any version).
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<i64>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::InvalidRequest("Malformed If-Match header".into()))?
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"');
    if value == "*" {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| Error::InvalidRequest("Malformed If-Match header".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_of_the_cf_client() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic Y2Y6"),
        );
        let credentials = basic_credentials(&headers).expect("ok").expect("present");
        assert_eq!(
            (credentials.id.as_str(), credentials.secret.as_str()),
            ("cf", "")
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert!(basic_credentials(&headers).is_err());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer x"));
        assert!(basic_credentials(&headers).expect("ok").is_none());
    }

    #[test]
    fn repeated_parameters_are_rejected() {
        assert!(params(b"a=1&a=2").is_err());
        let map = params(b"grant_type=password&username=a%40b").expect("ok");
        assert_eq!(map["username"], "a@b");
    }

    #[test]
    fn if_match_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(if_match(&headers).expect("ok"), None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"3\""));
        assert_eq!(if_match(&headers).expect("ok"), Some(3));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(if_match(&headers).expect("ok"), None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("x"));
        assert!(if_match(&headers).is_err());
    }
}
