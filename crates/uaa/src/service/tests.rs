//! Service workflows under a controlled clock and predictable ids.

use std::{collections::HashMap, sync::Arc};

use chrono::{Duration, SubsecRound, Utc};
use ingot_core::{Clock, DatabaseUrl, FixedClock, SequentialIds, Shutdown};

use super::{Service, TokenRequest};
use crate::{AdminBootstrap, Error, UaaConfig, UserDirectory, service::ClientCredentials};

struct Fixture {
    service: Arc<Service>,
    clock: Arc<FixedClock>,
    _dir: tempfile::TempDir,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    // Near real time: the shared verifier checks expiry against the system clock.
    let clock = Arc::new(FixedClock::new(Utc::now().trunc_subsecs(0)));
    let config = UaaConfig {
        database: DatabaseUrl::sqlite(dir.path().join("uaa.db")),
        url: "http://uaa.test".into(),
        admin: AdminBootstrap {
            password: "pw".into(),
            client_secret: "secret".into(),
            ..AdminBootstrap::default()
        },
        ..UaaConfig::default()
    };
    let service = Service::start(
        config,
        clock.clone(),
        Arc::new(SequentialIds::default()),
        Shutdown::new(),
    )
    .await
    .expect("start");
    Fixture {
        service,
        clock,
        _dir: dir,
    }
}

fn password_request(username: &str, password: &str) -> TokenRequest {
    TokenRequest {
        params: HashMap::from([
            ("grant_type".to_owned(), "password".to_owned()),
            ("username".to_owned(), username.to_owned()),
            ("password".to_owned(), password.to_owned()),
        ]),
        client: Some(ClientCredentials {
            id: "cf".into(),
            secret: String::new(),
        }),
    }
}

#[tokio::test]
async fn lockout_ends_after_the_lockout_period() {
    let f = start().await;
    for _ in 0..5 {
        let err = f.service.token(password_request("admin", "wrong")).await;
        assert!(matches!(err, Err(Error::BadCredentials)), "{err:?}");
        f.clock.advance(Duration::seconds(10));
    }
    let err = f.service.token(password_request("admin", "pw")).await;
    assert!(matches!(err, Err(Error::AccountLocked)), "{err:?}");
    f.clock.advance(Duration::minutes(5));
    let response = f
        .service
        .token(password_request("admin", "pw"))
        .await
        .expect("unlocked");
    assert_eq!(response.token_type, "bearer");
    // A success clears the count: four more failures do not lock again.
    for _ in 0..4 {
        let _ = f.service.token(password_request("admin", "wrong")).await;
    }
    assert!(
        f.service
            .token(password_request("admin", "pw"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn tokens_take_their_times_from_the_clock() {
    let f = start().await;
    let now = f.clock.now();
    let response = f
        .service
        .token(password_request("admin", "pw"))
        .await
        .expect("token");
    let claims = f
        .service
        .keys()
        .verifier()
        .verify(&response.access_token)
        .expect("verify");
    assert_eq!(claims.iat, now.timestamp());
    assert_eq!(claims.exp, now.timestamp() + 1200);
    assert_eq!(response.expires_in, 1200);
    let refresh = f
        .service
        .keys()
        .verifier()
        .verify(response.refresh_token.as_deref().expect("refresh"))
        .expect("verify refresh");
    assert_eq!(refresh.exp, now.timestamp() + 30 * 24 * 3600);
    assert_eq!(refresh.jti, format!("{}-r", claims.jti));
}

#[tokio::test]
async fn the_directory_finds_the_admin() {
    let f = start().await;
    let found = f
        .service
        .find_by_username("ADMIN", None)
        .await
        .expect("lookup");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].origin, "uaa");
    assert!(f.service.find_by_ids(&[]).await.expect("lookup").is_empty());
}
