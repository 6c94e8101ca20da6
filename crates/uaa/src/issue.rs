//! The claims of the tokens this UAA issues. Pure: the service supplies time, ids and scopes.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{
    Claims,
    model::{Client, User, ZONE, scope::audience},
};

/// Refresh token ids are the access token id plus this, as in UAA.
pub(crate) const REFRESH_SUFFIX: &str = "-r";

pub(crate) fn is_refresh_jti(jti: &str) -> bool {
    jti.ends_with(REFRESH_SUFFIX)
}

/// What every token of one grant shares.
pub(crate) struct Issue<'a> {
    pub issuer: &'a str,
    pub jti: String,
    pub now: DateTime<Utc>,
    pub validity: Duration,
    pub grant_type: &'a str,
    pub client_id: &'a str,
    pub scopes: Vec<String>,
}

/// An access token for a user (password and refresh_token grants).
pub(crate) fn user_token(issue: Issue<'_>, user: &User) -> Claims {
    Claims {
        jti: issue.jti,
        sub: user.id.clone(),
        user_id: Some(user.id.clone()),
        user_name: Some(user.username.clone()),
        origin: Some(user.origin.clone()),
        email: Some(user.email.clone()),
        client_id: issue.client_id.to_owned(),
        cid: Some(issue.client_id.to_owned()),
        grant_type: Some(issue.grant_type.to_owned()),
        aud: audience(issue.client_id, &issue.scopes),
        scope: issue.scopes,
        iss: issue.issuer.to_owned(),
        iat: issue.now.timestamp(),
        exp: (issue.now + issue.validity).timestamp(),
        zid: Some(ZONE.to_owned()),
        revocable: true,
    }
}

/// An access token for a client acting as itself (client_credentials): no user claims.
pub(crate) fn client_token(issue: Issue<'_>, client: &Client) -> Claims {
    Claims {
        jti: issue.jti,
        sub: client.id.clone(),
        user_id: None,
        user_name: None,
        origin: None,
        email: None,
        client_id: client.id.clone(),
        cid: Some(client.id.clone()),
        grant_type: Some(issue.grant_type.to_owned()),
        aud: audience(&client.id, &issue.scopes),
        scope: issue.scopes,
        iss: issue.issuer.to_owned(),
        iat: issue.now.timestamp(),
        exp: (issue.now + issue.validity).timestamp(),
        zid: Some(ZONE.to_owned()),
        revocable: true,
    }
}

/// The refresh token that goes with a user's access token.
pub(crate) fn refresh_token(access: &Claims, now: DateTime<Utc>, validity: Duration) -> Claims {
    Claims {
        jti: format!("{}{REFRESH_SUFFIX}", access.jti),
        iat: now.timestamp(),
        exp: (now + validity).timestamp(),
        ..access.clone()
    }
}

/// What is signed: the shared claims plus UAA's extras that resource servers do not need.
#[derive(Serialize)]
pub(crate) struct Signed<'a> {
    #[serde(flatten)]
    pub claims: &'a Claims,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::client::admin_client;

    fn user() -> User {
        let now = Utc::now();
        User {
            id: "user-1".into(),
            username: "bob".into(),
            origin: "uaa".into(),
            email: "bob@example.com".into(),
            given_name: None,
            family_name: None,
            active: true,
            verified: true,
            version: 0,
            created: now,
            last_modified: now,
            password_last_modified: None,
            last_logon: None,
            previous_logon: None,
            groups: Vec::new(),
        }
    }

    fn issue<'a>(grant_type: &'a str, client_id: &'a str) -> Issue<'a> {
        Issue {
            issuer: "http://uaa.test/oauth/token",
            jti: "abc".into(),
            now: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            validity: Duration::seconds(1200),
            grant_type,
            client_id,
            scopes: vec!["openid".into(), "cloud_controller.read".into()],
        }
    }

    #[test]
    fn user_tokens_carry_what_the_cf_cli_reads() {
        let claims = user_token(issue("password", "cf"), &user());
        let json = serde_json::to_value(&claims).expect("json");
        for (claim, expected) in [
            ("user_name", serde_json::json!("bob")),
            ("user_id", serde_json::json!("user-1")),
            ("sub", serde_json::json!("user-1")),
            ("origin", serde_json::json!("uaa")),
            ("client_id", serde_json::json!("cf")),
            ("cid", serde_json::json!("cf")),
            ("jti", serde_json::json!("abc")),
            ("revocable", serde_json::json!(true)),
            ("exp", serde_json::json!(1_700_001_200)),
            ("iat", serde_json::json!(1_700_000_000)),
            ("zid", serde_json::json!("uaa")),
            ("grant_type", serde_json::json!("password")),
            ("iss", serde_json::json!("http://uaa.test/oauth/token")),
            (
                "scope",
                serde_json::json!(["openid", "cloud_controller.read"]),
            ),
        ] {
            assert_eq!(json[claim], expected, "claim {claim}");
        }
        assert!(claims.is_user());
    }

    #[test]
    fn client_tokens_have_no_user_claims() {
        let client = admin_client("admin", "hash".into());
        let claims = client_token(issue("client_credentials", "admin"), &client);
        let json = serde_json::to_value(&claims).expect("json");
        assert_eq!(json["client_id"], "admin");
        assert_eq!(json["sub"], "admin");
        assert_eq!(json["revocable"], true);
        assert!(json["exp"].is_i64() && json["jti"].is_string());
        for absent in ["user_name", "user_id", "origin", "email"] {
            assert!(json.get(absent).is_none(), "{absent} must be absent");
        }
        assert!(!claims.is_user());
    }

    #[test]
    fn refresh_tokens_extend_the_access_token_id() {
        let access = user_token(issue("password", "cf"), &user());
        let now = Utc::now();
        let refresh = refresh_token(&access, now, Duration::days(30));
        assert_eq!(refresh.jti, "abc-r");
        assert!(is_refresh_jti(&refresh.jti) && !is_refresh_jti(&access.jti));
        assert_eq!(refresh.exp, (now + Duration::days(30)).timestamp());
        assert_eq!(refresh.user_id, access.user_id);
    }

    #[test]
    fn signed_claims_add_auth_time() {
        let access = user_token(issue("password", "cf"), &user());
        let json = serde_json::to_value(Signed {
            claims: &access,
            auth_time: Some(5),
        })
        .expect("json");
        assert_eq!(json["auth_time"], 5);
        assert_eq!(json["user_name"], "bob");
    }
}
