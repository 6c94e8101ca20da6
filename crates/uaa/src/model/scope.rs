//! Which scopes a token gets: what the grantee has, what the client may ask for, and what the
//! request narrowed it to.

use std::collections::BTreeSet;

/// Splits a `scope` request parameter (UAA accepts spaces and commas).
pub(crate) fn parse_scope_param(value: &str) -> Vec<String> {
    value
        .split([' ', ',', '+'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The requested scopes that were not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidScopes(pub Vec<String>);

/// `allowed` narrowed by `requested`: every requested scope must be allowed. An empty request
/// means "everything allowed". The result is sorted and free of duplicates.
pub(crate) fn narrow(
    allowed: &[String],
    requested: &[String],
) -> Result<Vec<String>, InvalidScopes> {
    let allowed: BTreeSet<&String> = allowed.iter().collect();
    if requested.is_empty() {
        return Ok(allowed.into_iter().cloned().collect());
    }
    let invalid: Vec<String> = requested
        .iter()
        .filter(|s| !allowed.contains(s))
        .cloned()
        .collect();
    if !invalid.is_empty() {
        return Err(InvalidScopes(invalid));
    }
    Ok(requested
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .cloned()
        .collect())
}

/// A user token's scopes: the user's groups that the client may request, narrowed by the
/// request.
pub(crate) fn user_scopes(
    user_groups: &[String],
    client_scopes: &[String],
    requested: &[String],
) -> Result<Vec<String>, InvalidScopes> {
    let client: BTreeSet<&String> = client_scopes.iter().collect();
    let allowed: Vec<String> = user_groups
        .iter()
        .filter(|g| client.contains(g))
        .cloned()
        .collect();
    narrow(&allowed, requested)
}

/// The audience UAA derives from scopes: the client plus each scope's resource prefix.
pub(crate) fn audience(client_id: &str, scopes: &[String]) -> Vec<String> {
    let mut aud = vec![client_id.to_owned()];
    for scope in scopes {
        let resource = scope.rsplit_once('.').map_or(scope.as_str(), |(r, _)| r);
        if !aud.iter().any(|a| a == resource) {
            aud.push(resource.to_owned());
        }
    }
    aud
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn intersection_of_groups_and_client_scopes() {
        let groups = v(&["openid", "uaa.admin", "cloud_controller.read", "scim.me"]);
        let client = v(&["openid", "cloud_controller.read", "cloud_controller.admin"]);
        assert_eq!(
            user_scopes(&groups, &client, &[]),
            Ok(v(&["cloud_controller.read", "openid"]))
        );
    }

    #[test]
    fn request_narrows() {
        let groups = v(&["openid", "cloud_controller.read"]);
        let client = v(&["openid", "cloud_controller.read"]);
        assert_eq!(
            user_scopes(&groups, &client, &v(&["openid"])),
            Ok(v(&["openid"]))
        );
    }

    #[test]
    fn request_cannot_widen() {
        let groups = v(&["openid"]);
        let client = v(&["openid", "cloud_controller.admin"]);
        assert_eq!(
            user_scopes(&groups, &client, &v(&["openid", "cloud_controller.admin"])),
            Err(InvalidScopes(v(&["cloud_controller.admin"])))
        );
    }

    #[test]
    fn scope_param_accepts_spaces_and_commas() {
        assert_eq!(parse_scope_param("a b,c  "), v(&["a", "b", "c"]));
        assert!(parse_scope_param("").is_empty());
    }

    #[test]
    fn audience_from_scope_prefixes() {
        let aud = audience(
            "cf",
            &v(&["openid", "cloud_controller.read", "cloud_controller.write"]),
        );
        assert_eq!(aud, v(&["cf", "openid", "cloud_controller"]));
    }
}
