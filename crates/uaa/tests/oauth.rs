//! The token endpoints as the cf CLI uses them: discovery, password / refresh /
//! client_credentials grants, logout (revoke), check_token, userinfo and restart.

mod common;

use std::sync::Arc;

use common::{ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, TestUaa, json, jwt_payload};
use ingot_core::{DatabaseUrl, Shutdown, SystemClock, UuidIds};
use ingot_uaa::{Error, Uaa};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[tokio::test]
async fn login_document_has_what_the_cf_cli_reads() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    for path in ["/login", "/info"] {
        let response = uaa
            .http
            .get(uaa.at(path))
            .header("Accept", "application/json")
            .send()
            .await
            .expect("GET");
        let (status, body) = json(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["app"]["version"], "4.30.0");
        assert_eq!(body["links"]["uaa"], uaa.url.as_str());
        assert_eq!(body["links"]["login"], uaa.url.as_str());
        assert_eq!(body["prompts"]["username"], json!(["text", "Email"]));
        assert_eq!(body["prompts"]["password"], json!(["password", "Password"]));
        assert_eq!(body["prompts"]["passcode"][0], "password");
        assert_eq!(body["zone_name"], "uaa");
    }
    // OpenID Connect discovery names the same issuer and keys the tokens use.
    let (status, body) = uaa.get("/.well-known/openid-configuration", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["issuer"], format!("{}/oauth/token", uaa.url));
    assert_eq!(body["jwks_uri"], format!("{}/token_keys", uaa.url));
    assert_eq!(
        body["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    // Paths the UAA does not serve get a plain 404, not a SCIM resource error.
    let (status, body) = uaa.get("/.well-known/nothing-here", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    uaa.stop().await;
}

#[tokio::test]
async fn password_grant_issues_a_verifiable_cf_token() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let (status, body) = uaa.password_grant("admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert!(body["refresh_token"].is_string());
    assert!(
        body["expires_in"]
            .as_i64()
            .is_some_and(|n| n > 1100 && n <= 1200)
    );
    let access = body["access_token"].as_str().expect("access token");

    let claims = uaa.uaa.verifier().verify(access).expect("verifies");
    assert_eq!(claims.user_name.as_deref(), Some("admin"));
    assert_eq!(claims.origin.as_deref(), Some("uaa"));
    assert_eq!(claims.client_id, "cf");
    assert!(claims.revocable);
    assert!(claims.has_scope("cloud_controller.admin"));
    assert!(claims.has_scope("scim.write"));
    // uaa.admin is the admin's group, but the cf client may not ask for it.
    assert!(!claims.has_scope("uaa.admin"));
    assert_eq!(claims.iss, format!("{}/oauth/token", uaa.url));
    assert_eq!(body["jti"], claims.jti.as_str());
    assert_eq!(body["scope"], claims.scope.join(" "));

    // What the cf CLI decodes without verifying.
    let payload = jwt_payload(access);
    for claim in ["user_name", "user_id", "origin", "jti", "client_id"] {
        assert!(payload[claim].is_string(), "{claim} missing: {payload}");
    }
    assert!(payload["exp"].is_i64());
    assert_eq!(payload["revocable"], true);

    // A narrower scope on request.
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .basic_auth("cf", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("scope", "openid cloud_controller.read"),
        ])
        .send()
        .await
        .expect("token");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "cloud_controller.read openid");

    // The login_hint the cf CLI sends with --origin.
    let response = uaa
        .http
        .post(uaa.at("/oauth/token?login_hint=%7B%22origin%22%3A%22uaa%22%7D"))
        .header("Authorization", "Basic Y2Y6")
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::OK);
    uaa.stop().await;
}

#[tokio::test]
async fn bad_credentials_and_bad_clients_are_401() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    for (user, password) in [("admin", "wrong"), ("nobody", "whatever")] {
        let (status, body) = uaa.password_grant(user, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "unauthorized");
        assert_eq!(body["error_description"], "Bad credentials");
    }
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .basic_auth("no-such-client", Some("x"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("token");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    uaa.stop().await;
}

#[tokio::test]
async fn five_failures_lock_the_account() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    for _ in 0..5 {
        let (status, body) = uaa.password_grant("admin", "wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error_description"], "Bad credentials");
    }
    // Even the right password is refused while locked.
    let (status, body) = uaa.password_grant("admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(
        body["error_description"],
        "Your account has been locked because of too many failed attempts to login."
    );
    uaa.stop().await;
}

async fn refresh(uaa: &TestUaa, refresh_token: &str) -> (StatusCode, Value) {
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .header("Authorization", "Basic Y2Y6")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("refresh");
    json(response).await
}

async fn revoke(uaa: &TestUaa, bearer: &str, jti: &str) -> StatusCode {
    uaa.http
        .delete(uaa.at(&format!("/oauth/token/revoke/{jti}")))
        .header("Authorization", format!("bearer {bearer}"))
        .send()
        .await
        .expect("revoke")
        .status()
}

async fn check_token(uaa: &TestUaa, token: &str) -> (StatusCode, Value) {
    let response = uaa
        .http
        .post(uaa.at("/check_token"))
        .basic_auth("admin", Some(ADMIN_CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("check_token");
    json(response).await
}

#[tokio::test]
async fn refresh_works_until_logout_revokes_it() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let (_, body) = uaa.password_grant("admin", ADMIN_PASSWORD).await;
    let access = body["access_token"].as_str().expect("access").to_owned();
    let refresh_token = body["refresh_token"].as_str().expect("refresh").to_owned();

    let (status, refreshed) = refresh(&uaa, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["token_type"], "bearer");
    let new_access = refreshed["access_token"].as_str().expect("access");
    assert_ne!(new_access, access);
    let claims = uaa.uaa.verifier().verify(new_access).expect("verifies");
    assert_eq!(claims.user_name.as_deref(), Some("admin"));
    assert!(claims.has_scope("cloud_controller.admin"));

    // A refresh token is not an access token.
    let (status, body) = uaa.get("/userinfo", &refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // What `cf logout` does: revoke the refresh token and the access token by jti.
    let (status, checked) = check_token(&uaa, &access).await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(checked["active"], true);
    assert_eq!(checked["user_name"], "admin");
    let refresh_jti = jwt_payload(&refresh_token)["jti"]
        .as_str()
        .expect("jti")
        .to_owned();
    let access_jti = jwt_payload(&access)["jti"]
        .as_str()
        .expect("jti")
        .to_owned();
    assert_eq!(revoke(&uaa, &access, &refresh_jti).await, StatusCode::OK);
    assert_eq!(revoke(&uaa, &access, &access_jti).await, StatusCode::OK);

    let (status, body) = refresh(&uaa, &refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    let (status, body) = check_token(&uaa, &access).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_token");
    let (status, body) = uaa.get("/Users", &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    uaa.stop().await;
}

#[tokio::test]
async fn others_may_not_revoke_my_tokens() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    let (status, _) = uaa
        .post_json(
            "/Users",
            &admin,
            &json!({"userName": "eve", "password": "pw", "emails": [{"value": "eve@x"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = uaa.password_grant("admin", ADMIN_PASSWORD).await;
    let refresh_jti = jwt_payload(body["refresh_token"].as_str().expect("refresh"))["jti"]
        .as_str()
        .expect("jti")
        .to_owned();
    let (_, eve) = uaa.password_grant("eve", "pw").await;
    let eve_token = eve["access_token"].as_str().expect("token");
    assert_eq!(
        revoke(&uaa, eve_token, &refresh_jti).await,
        StatusCode::FORBIDDEN
    );
    uaa.stop().await;
}

#[tokio::test]
async fn client_credentials_tokens_have_no_user() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    // As `cf auth ID SECRET --client-credentials` sends it: no Basic header.
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .form(&[
            ("client_id", "admin"),
            ("client_secret", ADMIN_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("token");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().expect("token");
    let claims = uaa.uaa.verifier().verify(token).expect("verifies");
    assert_eq!(claims.client_id, "admin");
    assert_eq!(claims.sub, "admin");
    assert!(claims.user_name.is_none() && claims.user_id.is_none());
    assert!(claims.has_scope("uaa.admin") && claims.has_scope("scim.write"));
    assert!(jwt_payload(token).get("user_name").is_none());

    // The admin client token can manage users.
    let (status, body) = uaa.get("/Users", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Basic works too; a wrong secret does not.
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .basic_auth("admin", Some(ADMIN_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::OK);
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .form(&[
            ("client_id", "admin"),
            ("client_secret", "wrong"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("token");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    // The public cf client may not use client_credentials.
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .header("Authorization", "Basic Y2Y6")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    uaa.stop().await;
}

#[tokio::test]
async fn token_keys_userinfo_and_check_token_permissions() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let response = uaa
        .http
        .get(uaa.at("/token_keys"))
        .send()
        .await
        .expect("keys");
    let (status, keys) = json(response).await;
    assert_eq!(status, StatusCode::OK);
    let key = &keys["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert!(key["n"].is_string() && key["kid"].is_string());
    assert!(
        key["value"]
            .as_str()
            .is_some_and(|v| v.contains("PUBLIC KEY"))
    );
    let response = uaa
        .http
        .get(uaa.at("/token_key"))
        .send()
        .await
        .expect("key");
    let (_, single) = json(response).await;
    assert_eq!(&single, key);

    let token = uaa.admin_token().await;
    let header = jsonwebtoken_kid(&token);
    assert_eq!(Some(header.as_str()), key["kid"].as_str());

    let (status, info) = uaa.get("/userinfo", &token).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["user_name"], "admin");
    assert_eq!(info["sub"], info["user_id"]);
    assert_eq!(info["email_verified"], true);

    // check_token needs a client with uaa.resource; cf is not one.
    let response = uaa
        .http
        .post(uaa.at("/check_token"))
        .header("Authorization", "Basic Y2Y6")
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("check");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (status, body) = check_token(&uaa, "not-a-jwt").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_token");
    uaa.stop().await;
}

fn jsonwebtoken_kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64");
    let header: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(header["alg"], "RS256");
    header["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn malformed_token_requests_are_4xx() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let cases: Vec<(&str, StatusCode, &str)> = vec![
        ("", StatusCode::BAD_REQUEST, "invalid_request"),
        (
            "grant_type=implicit",
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            "grant_type=password&username=admin",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=password&password=x",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=refresh_token",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=refresh_token&refresh_token=garbage",
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "grant_type=password&grant_type=password",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=password&username=admin&password=admin-password&login_hint=%7Bnope",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=password&username=admin&password=admin-password&scope=uaa.admin",
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
    ];
    for (body, status, error) in cases {
        let response = uaa
            .http
            .post(uaa.at("/oauth/token"))
            .header("Authorization", "Basic Y2Y6")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("token");
        let (got, json) = json(response).await;
        assert_eq!(got, status, "{body}: {json}");
        assert_eq!(json["error"], error, "{body}: {json}");
    }
    let response = uaa
        .http
        .post(uaa.at("/oauth/token"))
        .header("Authorization", "Basic %%%")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = uaa
        .http
        .get(uaa.at("/no/such/path"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    uaa.stop().await;
}

#[tokio::test]
async fn restart_keeps_keys_and_the_admin_password() {
    let dir = tempdir();
    let first = TestUaa::start_with(dir.path(), ADMIN_PASSWORD, Some("http://uaa.test")).await;
    let token = first.admin_token().await;
    let kid = jsonwebtoken_kid(&token);
    first.stop().await;

    // The second start is configured with another password: the stored one wins.
    let second = TestUaa::start_with(dir.path(), "a-new-password", Some("http://uaa.test")).await;
    let claims = second
        .uaa
        .verifier()
        .verify(&token)
        .expect("old token still verifies");
    assert_eq!(claims.user_name.as_deref(), Some("admin"));
    let fresh = second.admin_token().await;
    assert_eq!(jsonwebtoken_kid(&fresh), kid);
    let (status, _) = second.password_grant("admin", "a-new-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The old token is still accepted by the UAA's own endpoints.
    let (status, body) = second.get("/userinfo", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    second.stop().await;
}

#[tokio::test]
async fn postgres_is_not_yet_supported() {
    let config = ingot_uaa::UaaConfig {
        database: DatabaseUrl::Postgres("postgres://uaa@127.0.0.1:1/uaa".into()),
        ..ingot_uaa::UaaConfig::default()
    };
    let result = Uaa::start(
        config,
        Arc::new(SystemClock),
        Arc::new(UuidIds),
        Shutdown::new(),
    )
    .await;
    assert!(matches!(result, Err(Error::Unsupported(_))), "{result:?}");
}

#[tokio::test]
async fn ssh_code_is_a_one_time_authorization_code() {
    let dir = tempdir();
    let uaa = TestUaa::start(dir.path()).await;
    let token = uaa.admin_token().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // What `cf ssh-code` sends.
    let response = no_redirects
        .get(uaa.at("/oauth/authorize?client_id=ssh-proxy&response_type=code"))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with(&format!("{}/login?code=", uaa.url)),
        "{location}"
    );
    let code = location.rsplit_once("code=").expect("code").1.to_owned();

    // The SSH proxy redeems it once.
    let redeem = || {
        uaa.http
            .post(uaa.at("/oauth/token"))
            .basic_auth("ssh-proxy", Some(""))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
            ])
            .send()
    };
    let (status, body) = json(redeem().await.expect("token")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = uaa
        .uaa
        .verifier()
        .verify(body["access_token"].as_str().expect("token"))
        .expect("verifies");
    assert_eq!(claims.user_name.as_deref(), Some("admin"));
    assert_eq!(claims.client_id, "ssh-proxy");
    let (status, body) = json(redeem().await.expect("token")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    // Unknown clients and foreign redirects are refused.
    let response = no_redirects
        .get(uaa.at("/oauth/authorize?client_id=ssh-proxy&response_type=code&redirect_uri=http://evil.test/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = no_redirects
        .get(uaa.at("/oauth/authorize?client_id=nope&response_type=code"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    uaa.stop().await;
}
