//! SCIM 1.0 JSON: how users, groups and lists look on the wire, and what clients may send.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, de::IgnoredAny};
use serde_json::{Map, Value, json};

use crate::{
    Error,
    error::Result,
    model::{Group, User, UserDraft, ZONE, filter::Filter},
    service::{ListQuery, Page},
};

const SCHEMAS: &[&str] = &["urn:scim:schemas:core:1.0"];
const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 500;

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

pub(super) fn user(user: &User) -> Value {
    let mut body = json!({
        "id": user.id,
        "externalId": "",
        "meta": {
            "version": user.version,
            "created": time(user.created),
            "lastModified": time(user.last_modified),
        },
        "userName": user.username,
        "name": {
            "familyName": user.family_name,
            "givenName": user.given_name,
        },
        "emails": [{ "value": user.email, "primary": false }],
        "groups": user.groups.iter().map(|g| json!({
            "value": g.id,
            "display": g.display,
            "type": "DIRECT",
        })).collect::<Vec<_>>(),
        "approvals": [],
        "active": user.active,
        "verified": user.verified,
        "origin": user.origin,
        "zoneId": ZONE,
        "schemas": SCHEMAS,
    });
    if let Value::Object(map) = &mut body {
        if let Some(t) = user.password_last_modified {
            map.insert("passwordLastModified".into(), time(t).into());
        }
        if let Some(t) = user.last_logon {
            map.insert("lastLogonTime".into(), t.timestamp_millis().into());
        }
        if let Some(t) = user.previous_logon {
            map.insert("previousLogonTime".into(), t.timestamp_millis().into());
        }
    }
    body
}

pub(super) fn member(user_id: &str, origin: &str) -> Value {
    json!({ "value": user_id, "type": "USER", "origin": origin })
}

pub(super) fn group(group: &Group) -> Value {
    json!({
        "id": group.id,
        "displayName": group.display_name,
        "description": group.description,
        "members": group.members.iter().map(|m| member(&m.user_id, &m.origin)).collect::<Vec<_>>(),
        "zoneId": ZONE,
        "meta": {
            "version": group.version,
            "created": time(group.created),
            "lastModified": time(group.last_modified),
        },
        "schemas": SCHEMAS,
    })
}

/// Keeps only the requested attributes (case-insensitive), as `?attributes=id,userName` asks.
fn project(resource: Value, attributes: &[String]) -> Value {
    match resource {
        Value::Object(map) if !attributes.is_empty() => Value::Object(
            map.into_iter()
                .filter(|(key, _)| attributes.iter().any(|a| a.eq_ignore_ascii_case(key)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

/// A SCIM list request's parameters.
pub(super) struct ListParams {
    pub query: ListQuery,
    pub attributes: Vec<String>,
}

pub(super) fn list_params(params: &HashMap<String, String>) -> Result<ListParams> {
    let number = |name: &str, default: usize| -> Result<usize> {
        match params.get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| Error::InvalidRequest(format!("{name} must be a positive number"))),
        }
    };
    let filter = match params
        .get("filter")
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
    {
        Some(f) => Some(Filter::parse(f).map_err(|e| Error::InvalidFilter(e.to_string()))?),
        None => None,
    };
    let attributes = params
        .get("attributes")
        .map(|a| {
            a.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(ListParams {
        query: ListQuery {
            filter,
            start_index: number("startIndex", 1)?.max(1),
            count: number("count", DEFAULT_COUNT)?.min(MAX_COUNT),
        },
        attributes,
    })
}

pub(super) fn list<T>(
    page: &Page<T>,
    attributes: &[String],
    render: impl Fn(&T) -> Value,
) -> Value {
    let resources: Vec<Value> = page
        .resources
        .iter()
        .map(|r| project(render(r), attributes))
        .collect();
    json!({
        "itemsPerPage": resources.len(),
        "resources": resources,
        "startIndex": page.start_index,
        "totalResults": page.total_results,
        "schemas": SCHEMAS,
    })
}

// --- what clients send ---
// Fields named `_x` are accepted (so a client may send back what it read) but not stored.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct NameBody {
    given_name: Option<String>,
    family_name: Option<String>,
    #[serde(rename = "formatted")]
    _formatted: Option<String>,
    #[serde(rename = "middleName")]
    _middle_name: Option<String>,
    #[serde(rename = "honorificPrefix")]
    _honorific_prefix: Option<String>,
    #[serde(rename = "honorificSuffix")]
    _honorific_suffix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EmailBody {
    value: String,
    primary: Option<bool>,
    #[serde(rename = "type")]
    _kind: Option<String>,
}

/// A SCIM user as POSTed or PUT. Read-only attributes are accepted and ignored; anything
/// unknown is an error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct UserBody {
    user_name: Option<String>,
    pub password: Option<String>,
    origin: Option<String>,
    name: Option<NameBody>,
    emails: Option<Vec<EmailBody>>,
    active: Option<bool>,
    verified: Option<bool>,
    #[serde(rename = "id")]
    _id: Option<String>,
    #[serde(rename = "externalId")]
    _external_id: Option<String>,
    #[serde(rename = "phoneNumbers")]
    _phone_numbers: Option<IgnoredAny>,
    #[serde(rename = "displayName")]
    _display_name: Option<String>,
    #[serde(rename = "nickName")]
    _nick_name: Option<String>,
    #[serde(rename = "schemas")]
    _schemas: Option<Vec<String>>,
    #[serde(rename = "meta")]
    _meta: Option<IgnoredAny>,
    #[serde(rename = "groups")]
    _groups: Option<IgnoredAny>,
    #[serde(rename = "approvals")]
    _approvals: Option<IgnoredAny>,
    #[serde(rename = "zoneId")]
    _zone_id: Option<String>,
    #[serde(rename = "salt")]
    _salt: Option<IgnoredAny>,
    #[serde(rename = "passwordLastModified")]
    _password_last_modified: Option<IgnoredAny>,
    #[serde(rename = "lastLogonTime")]
    _last_logon_time: Option<IgnoredAny>,
    #[serde(rename = "previousLogonTime")]
    _previous_logon_time: Option<IgnoredAny>,
}

impl UserBody {
    pub fn into_draft(self) -> UserDraft {
        let email = self.emails.and_then(|emails| {
            let primary = emails
                .iter()
                .position(|e| e.primary == Some(true))
                .unwrap_or(0);
            emails.into_iter().nth(primary).map(|e| e.value)
        });
        let (given_name, family_name) = match self.name {
            Some(name) => (name.given_name, name.family_name),
            None => (None, None),
        };
        UserDraft {
            username: self.user_name,
            origin: self.origin,
            email,
            given_name,
            family_name,
            active: self.active,
            verified: self.verified,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct PasswordBody {
    pub old_password: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberBody {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(rename = "origin")]
    _origin: Option<String>,
}

impl MemberBody {
    /// Only users may be members here; nested groups are not supported.
    pub fn user_id(self) -> Result<String> {
        match self.kind.as_deref() {
            None | Some("USER") => Ok(self.value),
            Some(other) => Err(Error::Validation(vec![format!(
                "Member type {other} is not supported; only USER members are."
            )])),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct GroupBody {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub members: Option<Vec<MemberBody>>,
    #[serde(rename = "id")]
    _id: Option<String>,
    #[serde(rename = "zoneId")]
    _zone_id: Option<String>,
    #[serde(rename = "schemas")]
    _schemas: Option<Vec<String>>,
    #[serde(rename = "meta")]
    _meta: Option<IgnoredAny>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cf_cli_create_user_body_parses() {
        let body: UserBody = serde_json::from_str(
            r#"{"userName":"bob","password":"pw","origin":"","name":{"familyName":"bob","givenName":"bob"},"emails":[{"value":"bob","primary":true}]}"#,
        )
        .expect("parse");
        assert_eq!(body.password.as_deref(), Some("pw"));
        let draft = body.into_draft();
        assert_eq!(draft.username.as_deref(), Some("bob"));
        assert_eq!(draft.email.as_deref(), Some("bob"));
        assert_eq!(draft.origin.as_deref(), Some(""));
    }

    #[test]
    fn unknown_and_mistyped_fields_are_rejected() {
        assert!(serde_json::from_str::<UserBody>(r#"{"userName":"bob","bogus":1}"#).is_err());
        assert!(serde_json::from_str::<UserBody>(r#"{"userName":7}"#).is_err());
        assert!(serde_json::from_str::<UserBody>(r#"{"active":"yes"}"#).is_err());
    }

    #[test]
    fn list_parameters() {
        let params: HashMap<String, String> = [
            ("filter", r#"userName eq "bob""#),
            ("startIndex", "0"),
            ("count", "9999"),
            ("attributes", "id, userName"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let parsed = list_params(&params).expect("ok");
        assert_eq!(parsed.query.start_index, 1);
        assert_eq!(parsed.query.count, MAX_COUNT);
        assert_eq!(parsed.attributes, vec!["id", "userName"]);
        let bad: HashMap<String, String> = [("filter".to_owned(), "userName eq".to_owned())].into();
        assert!(matches!(list_params(&bad), Err(Error::InvalidFilter(_))));
    }

    #[test]
    fn projection_keeps_requested_attributes() {
        let value = json!({"id": "1", "userName": "bob", "origin": "uaa"});
        assert_eq!(
            project(value, &["ID".into(), "username".into()]),
            json!({"id": "1", "userName": "bob"})
        );
    }
}
