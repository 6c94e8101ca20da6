//! Store conformance tests: every case runs against SQLite (in a temporary file) and against the
//! in-memory fake. A PostgreSQL store joins by adding one more arm to `conformance!`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ingot_core::DatabaseUrl;

use super::{
    AuthorizationCodeRecord, NewUser, RefreshTokenRecord, StoreError, UaaStore,
    memory::MemoryStore, open,
};
use crate::{
    keys,
    model::{UserDraft, UserFields, client::cf_client},
};

struct Fixture {
    store: Arc<dyn UaaStore>,
    _dir: tempfile::TempDir,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&DatabaseUrl::sqlite(dir.path().join("uaa.db")))
        .await
        .expect("open store");
    Fixture { store, _dir: dir }
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("time")
}

fn fields(username: &str) -> UserFields {
    UserDraft {
        username: Some(username.into()),
        email: Some(format!("{username}@example.com")),
        ..UserDraft::default()
    }
    .validate()
    .expect("valid")
}

/// Runs each case against every store implementation.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test]
                async fn $case() {
                    let fixture = super::sqlite().await;
                    super::$case(fixture.store.as_ref()).await;
                }
            )*
        }
        mod memory_store {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::MemoryStore::default()).await;
                }
            )*
        }
    };
}

conformance!(
    users_are_unique_per_origin_ignoring_case_and_conflicts_write_nothing,
    updates_check_versions_and_return_before_and_after,
    failed_logins_are_recorded_pruned_and_cleared,
    refresh_tokens_revocation_and_password_changes,
    authorization_codes_work_once_and_expire,
    groups_members_and_deleting_users,
    memberships_by_name_are_idempotent,
);

async fn with_groups(store: &dyn UaaStore) {
    let groups = [("g1", "openid"), ("g2", "cloud_controller.read")]
        .map(|(id, name)| (id.to_owned(), name.to_owned()));
    store.ensure_groups(&groups, t(0)).await.expect("groups");
    // Idempotent, and never renames or duplicates.
    store
        .ensure_groups(&[("g3".into(), "openid".into())], t(1))
        .await
        .expect("groups again");
}

async fn create(
    store: &dyn UaaStore,
    id: &str,
    username: &str,
) -> Result<crate::model::User, StoreError> {
    store
        .create_user(NewUser {
            id: id.into(),
            fields: fields(username),
            password_hash: Some("hash".into()),
            groups: vec![
                "openid".into(),
                "cloud_controller.read".into(),
                "missing".into(),
            ],
            now: t(0),
        })
        .await
}

async fn users_are_unique_per_origin_ignoring_case_and_conflicts_write_nothing(
    store: &dyn UaaStore,
) {
    with_groups(store).await;
    let bob = create(store, "u1", "Bob").await.expect("create");
    assert_eq!(bob.group_names(), vec!["cloud_controller.read", "openid"]);
    assert_eq!(bob.password_last_modified, Some(t(0)));

    let err = create(store, "u2", "bob").await.expect_err("conflict");
    assert_eq!(
        err,
        StoreError::Conflict("Username already in use: bob".into())
    );
    assert!(store.find_user("u2").await.expect("find").is_none());
    let groups = store.list_groups().await.expect("groups");
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().all(|g| g.members.len() == 1));

    let found = store
        .find_users_by_username("BOB", Some("uaa"))
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    assert!(
        store
            .find_users_by_username("bob", Some("ldap"))
            .await
            .expect("find")
            .is_empty()
    );
    let (login, hash) = store
        .find_login("BOB", "uaa")
        .await
        .expect("login")
        .expect("found");
    assert_eq!(login, bob);
    assert_eq!(hash.as_deref(), Some("hash"));
    assert!(
        store
            .find_login("bob", "ldap")
            .await
            .expect("login")
            .is_none()
    );
    let by_ids = store
        .find_users_by_ids(&["u1".into(), "nope".into()])
        .await
        .expect("find");
    assert_eq!(by_ids.len(), 1);
    assert_eq!(by_ids[0].groups.len(), 2);
}

async fn updates_check_versions_and_return_before_and_after(store: &dyn UaaStore) {
    with_groups(store).await;
    create(store, "u1", "bob").await.expect("create");
    create(store, "u2", "alice").await.expect("create");

    let (before, after) = store
        .update_user("u1", &fields("robert"), Some(0), t(5))
        .await
        .expect("update");
    assert_eq!((before.username.as_str(), before.version), ("bob", 0));
    assert_eq!((after.username.as_str(), after.version), ("robert", 1));
    assert_eq!(after.last_modified, t(5));
    assert!(matches!(
        store.update_user("u1", &fields("x"), Some(0), t(6)).await,
        Err(StoreError::VersionMismatch(_))
    ));
    assert!(matches!(
        store.update_user("u1", &fields("ALICE"), None, t(6)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.update_user("nope", &fields("x"), None, t(6)).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn failed_logins_are_recorded_pruned_and_cleared(store: &dyn UaaStore) {
    with_groups(store).await;
    create(store, "u1", "bob").await.expect("create");
    for i in 0..3 {
        store
            .record_failed_login("u1", t(i), t(-100))
            .await
            .expect("record");
    }
    // A failure far later forgets the old ones.
    let kept = store
        .record_failed_login("u1", t(1000), t(500))
        .await
        .expect("record");
    assert_eq!(kept, vec![t(1000)]);
    store
        .record_successful_login("u1", t(1001))
        .await
        .expect("login");
    assert!(
        store
            .failed_logins("u1")
            .await
            .expect("failures")
            .is_empty()
    );
    store
        .record_successful_login("u1", t(2000))
        .await
        .expect("login");
    let user = store.find_user("u1").await.expect("find").expect("user");
    assert_eq!(user.last_logon, Some(t(2000)));
    assert_eq!(user.previous_logon, Some(t(1001)));
}

async fn refresh_tokens_revocation_and_password_changes(store: &dyn UaaStore) {
    with_groups(store).await;
    create(store, "u1", "bob").await.expect("create");
    let token = |jti: &str| RefreshTokenRecord {
        jti: jti.into(),
        user_id: "u1".into(),
        client_id: "cf".into(),
        expires_at: t(3600),
        created_at: t(0),
    };
    store.add_refresh_token(&token("a-r")).await.expect("add");
    store.add_refresh_token(&token("b-r")).await.expect("add");
    assert_eq!(
        store.find_refresh_token("a-r").await.expect("find"),
        Some(token("a-r"))
    );

    store
        .revoke_token("a-r", t(3600), t(10))
        .await
        .expect("revoke");
    store
        .revoke_token("a-r", t(3600), t(11))
        .await
        .expect("revoking twice is fine");
    assert!(store.is_revoked("a-r").await.expect("revoked"));
    assert!(
        store
            .find_refresh_token("a-r")
            .await
            .expect("find")
            .is_none()
    );
    assert!(!store.is_revoked("b-r").await.expect("revoked"));
    // A revoked id is never found, even if a refresh token row carries it.
    store.add_refresh_token(&token("a-r")).await.expect("add");
    assert!(
        store
            .find_refresh_token("a-r")
            .await
            .expect("find")
            .is_none()
    );

    store
        .set_password("u1", "new-hash", t(20))
        .await
        .expect("set");
    assert!(
        store
            .find_refresh_token("b-r")
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(
        store.password_hash("u1").await.expect("hash").as_deref(),
        Some("new-hash")
    );
    assert!(matches!(
        store.set_password("nope", "h", t(20)).await,
        Err(StoreError::NotFound(_))
    ));

    store.prune_expired(t(4000)).await.expect("prune");
    assert!(!store.is_revoked("a-r").await.expect("revoked"));
}

async fn authorization_codes_work_once_and_expire(store: &dyn UaaStore) {
    with_groups(store).await;
    create(store, "u1", "bob").await.expect("create");
    let code = |hash: &str| AuthorizationCodeRecord {
        code_hash: hash.into(),
        user_id: "u1".into(),
        client_id: "ssh-proxy".into(),
        scope: vec!["openid".into()],
        redirect_uri: "http://uaa.test/login".into(),
        expires_at: t(300),
        created_at: t(0),
    };
    store
        .add_authorization_code(&code("h1"))
        .await
        .expect("add");
    store
        .add_authorization_code(&code("h2"))
        .await
        .expect("add");
    assert_eq!(
        store
            .take_authorization_code("h1", t(10))
            .await
            .expect("take"),
        Some(code("h1"))
    );
    assert_eq!(
        store
            .take_authorization_code("h1", t(10))
            .await
            .expect("take"),
        None
    );
    assert_eq!(
        store
            .take_authorization_code("h2", t(300))
            .await
            .expect("take"),
        None
    );
}

async fn groups_members_and_deleting_users(store: &dyn UaaStore) {
    with_groups(store).await;
    create(store, "u1", "bob").await.expect("create");
    let group = store
        .create_group("g9", "app.deployers", Some("deployers"), t(1))
        .await
        .expect("create group");
    assert_eq!(group.version, 0);
    assert!(matches!(
        store.create_group("g10", "app.deployers", None, t(1)).await,
        Err(StoreError::Conflict(_))
    ));
    let group = store.add_member("g9", "u1", t(2)).await.expect("add");
    assert_eq!(group.version, 1);
    assert_eq!(group.members[0].user_id, "u1");
    assert!(matches!(
        store.add_member("g9", "u1", t(2)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.add_member("g9", "nope", t(2)).await,
        Err(StoreError::NotFound(_))
    ));
    let group = store.remove_member("g9", "u1", t(3)).await.expect("remove");
    assert!(group.members.is_empty());
    assert!(matches!(
        store.remove_member("g9", "u1", t(3)).await,
        Err(StoreError::NotFound(_))
    ));

    store.add_member("g9", "u1", t(4)).await.expect("add");
    let deleted = store.delete_user("u1").await.expect("delete");
    assert_eq!(deleted.groups.len(), 3);
    assert!(store.find_user("u1").await.expect("find").is_none());
    let group = store.find_group("g9").await.expect("find").expect("group");
    assert!(group.members.is_empty());
    assert!(matches!(
        store.delete_user("u1").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn memberships_by_name_are_idempotent(store: &dyn UaaStore) {
    with_groups(store).await;
    store
        .create_group("g9", "app.deployers", None, t(1))
        .await
        .expect("create group");
    let bob = store
        .create_user(NewUser {
            id: "u1".into(),
            fields: fields("bob"),
            password_hash: None,
            groups: vec!["openid".into(), "openid".into()],
            now: t(0),
        })
        .await
        .expect("create");
    assert_eq!(bob.group_names(), vec!["openid"]);

    let names = ["openid", "app.deployers", "missing", "app.deployers"].map(String::from);
    store
        .add_memberships_by_name("u1", &names, t(2))
        .await
        .expect("add");
    store
        .add_memberships_by_name("u1", &names, t(3))
        .await
        .expect("add again");
    let bob = store.find_user("u1").await.expect("find").expect("user");
    assert_eq!(bob.group_names(), vec!["app.deployers", "openid"]);
    let group = store.find_group("g9").await.expect("find").expect("group");
    assert_eq!(group.members.len(), 1);
    assert_eq!(group.members[0].user_id, "u1");
    let groups = store.list_groups().await.expect("groups");
    let mut counts: Vec<(&str, usize)> = groups
        .iter()
        .map(|g| (g.display_name.as_str(), g.members.len()))
        .collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        vec![
            ("app.deployers", 1),
            ("cloud_controller.read", 0),
            ("openid", 1)
        ]
    );

    store
        .add_memberships_by_name("u1", &[], t(4))
        .await
        .expect("nothing to add");
    assert!(matches!(
        store.add_memberships_by_name("nope", &names, t(4)).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn clients_and_signing_keys_persist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = DatabaseUrl::sqlite(dir.path().join("uaa.db"));
    let key = tokio::task::spawn_blocking(|| keys::generate(t(0)))
        .await
        .expect("join")
        .expect("generate");
    {
        let store = open(&url).await.expect("open");
        assert!(
            store
                .create_client_if_missing(&cf_client(), t(0))
                .await
                .expect("create")
        );
        assert!(
            !store
                .create_client_if_missing(&cf_client(), t(1))
                .await
                .expect("again")
        );
        store.add_signing_key(&key).await.expect("add key");
        store.close().await;
    }
    let store = open(&url).await.expect("reopen");
    assert_eq!(
        store.find_client("cf").await.expect("find"),
        Some(cf_client())
    );
    assert!(store.find_client("nope").await.expect("find").is_none());
    assert_eq!(store.signing_keys().await.expect("keys"), vec![key]);
    store.close().await;
}

#[tokio::test]
async fn postgres_urls_are_refused_before_connecting() {
    let result = open(&DatabaseUrl::Postgres("postgres://127.0.0.1:1/uaa".into())).await;
    assert!(matches!(result, Err(crate::Error::Unsupported(_))));
}
