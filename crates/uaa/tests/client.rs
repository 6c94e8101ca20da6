//! The HTTP client gives remote components the same directory and verifier as in-process.

mod common;

use common::{ADMIN_CLIENT_SECRET, TestUaa, cf_create_user_body};
use ingot_uaa::{UaaClient, UserDirectory};
use reqwest::StatusCode;

#[tokio::test]
async fn remote_directory_and_verifier_match_the_in_process_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uaa = TestUaa::start(dir.path()).await;
    let admin = uaa.admin_token().await;
    let mut ids = Vec::new();
    for name in ["alice", "bob \"the builder\""] {
        let (status, user) = uaa
            .post_json("/Users", &admin, &cf_create_user_body(name, "pw"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        ids.push(user["id"].as_str().expect("id").to_owned());
    }

    let client = UaaClient::new(&uaa.url, "admin", ADMIN_CLIENT_SECRET);
    let verifier = client.fetch_verifier().await.expect("keys");
    let claims = verifier.verify(&admin).expect("verifies remotely");
    assert_eq!(claims.user_name.as_deref(), Some("admin"));

    for name in ["alice", "bob \"the builder\""] {
        let remote = client
            .find_by_username(name, Some("uaa"))
            .await
            .expect("remote");
        let local = uaa
            .uaa
            .directory()
            .find_by_username(name, Some("uaa"))
            .await
            .expect("local");
        assert_eq!(remote, local);
        assert_eq!(remote.len(), 1);
    }
    assert!(
        client
            .find_by_username("alice", Some("ldap"))
            .await
            .expect("remote")
            .is_empty()
    );
    ids.push("no-such-id".into());
    let mut found = client.find_by_ids(&ids).await.expect("remote");
    found.sort_by(|a, b| a.username.cmp(&b.username));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].username, "alice");

    let wrong = UaaClient::new(&uaa.url, "admin", "wrong");
    assert!(wrong.find_by_username("alice", None).await.is_err());
    uaa.stop().await;
}
