//! The store contract, run against SQLite in a temp dir and against the in-memory store.

use super::*;
use crate::models::{
    Action, ActualLrpState, Protocol, RestartCalculator, SecurityGroupRule, TaskDefinition,
    TaskState,
};

async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
    static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
    let dir = tempfile::tempdir().unwrap();
    let url = ingot_core::DatabaseUrl::sqlite(dir.path().join("bbs.db"));
    let db = ingot_core::Database::open(&url, &SQLITE, &POSTGRES)
        .await
        .unwrap();
    let ingot_core::Database::Sqlite(pool) = db else {
        unreachable!()
    };
    (SqliteStore::new(pool), dir)
}

fn ctx(now: Nanos) -> TransitionContext {
    TransitionContext {
        now,
        restart: RestartCalculator::default(),
    }
}

/// An egress rule, so the round trips below cover them.
fn dns_rule() -> SecurityGroupRule {
    SecurityGroupRule {
        protocol: Protocol::Udp,
        destinations: vec!["0.0.0.0/0".into()],
        ports: vec![53],
        port_range: None,
        icmp_info: None,
        log: false,
        annotations: vec!["security_group_id:dns".into()],
    }
}

fn desired(guid: &str, instances: u32) -> DesiredLrp {
    DesiredLrp {
        process_guid: guid.into(),
        domain: "cf-apps".into(),
        instances,
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::run("/bin/true", &[])),
        egress_rules: vec![dns_rule()],
        ..DesiredLrp::default()
    }
}

async fn desired_lrps_with_their_instances(store: &dyn Store) {
    let key = |i| ActualLrpKey::new("p", i, "cf-apps");
    let actuals = [
        ActualLrp::unclaimed(&key(0), "e0", 1),
        ActualLrp::unclaimed(&key(1), "e1", 1),
    ];
    store.desire_lrp(&desired("p", 2), &actuals).await.unwrap();
    assert!(matches!(
        store.desire_lrp(&desired("p", 2), &[]).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        store
            .actual_lrps(&ActualLrpFilter::default())
            .await
            .unwrap(),
        actuals
    );

    let update = DesiredLrpUpdate {
        instances: Some(5),
        ..DesiredLrpUpdate::default()
    };
    let (before, after) = store.update_desired_lrp("p", &update).await.unwrap();
    assert_eq!((before.instances, after.instances), (2, 5));
    assert_eq!(store.desired_lrp("p").await.unwrap(), after);

    let filter = DesiredLrpFilter {
        domain: "other".into(),
        ..DesiredLrpFilter::default()
    };
    assert!(store.desired_lrps(&filter).await.unwrap().is_empty());
    assert_eq!(store.remove_desired_lrp("p").await.unwrap(), after);
    assert!(matches!(
        store.desired_lrp("p").await,
        Err(Error::NotFound { .. })
    ));
}

async fn actual_lrp_writes_return_before_and_after(store: &dyn Store) {
    let key = ActualLrpKey::new("p", 0, "cf-apps");
    let instance = ActualLrpInstanceKey::new("i", "cell-1");
    store
        .create_unclaimed_actual_lrp(&ActualLrp::unclaimed(&key, "e", 1))
        .await
        .unwrap();
    let (before, after) = store
        .claim_actual_lrp(&key, &instance, &ctx(2))
        .await
        .unwrap();
    assert_eq!(
        (before.state, after.state),
        (ActualLrpState::Unclaimed, ActualLrpState::Claimed)
    );

    // A refused transition leaves the record as it was.
    let other = ActualLrpInstanceKey::new("j", "cell-2");
    assert!(matches!(
        store.claim_actual_lrp(&key, &other, &ctx(3)).await,
        Err(Error::InvalidTransition { .. })
    ));
    assert_eq!(store.actual_lrp("p", 0).await.unwrap(), after);

    let filter = ActualLrpFilter {
        cell_id: "cell-1".into(),
        ..ActualLrpFilter::default()
    };
    assert_eq!(store.actual_lrps(&filter).await.unwrap().len(), 1);

    // Starting an instance the BBS has no record of creates the record.
    let key1 = ActualLrpKey::new("p", 1, "cf-apps");
    let (before, after) = store
        .start_actual_lrp(&key1, &instance, &NetInfo::default(), "e1", &ctx(4))
        .await
        .unwrap();
    assert!(before.is_none());
    assert_eq!(after.state, ActualLrpState::Running);

    let removed = store
        .remove_actual_lrp(&key, Some(&instance), &ctx(5))
        .await
        .unwrap();
    assert_eq!(removed.state, ActualLrpState::Claimed);
    assert!(matches!(
        store.actual_lrp("p", 0).await,
        Err(Error::NotFound { .. })
    ));
}

async fn task_writes_and_rejection(store: &dyn Store) {
    let definition = TaskDefinition {
        egress_rules: vec![dns_rule()],
        ..TaskDefinition::default()
    };
    let task = Task::pending("t", "cf-tasks", definition, 1);
    store.desire_task(&task).await.unwrap();
    assert!(matches!(
        store.desire_task(&task).await,
        Err(Error::Conflict { .. })
    ));

    let (before, after) = store
        .change_task(
            "t",
            &TaskEvent::Reject {
                reason: "cell full".into(),
            },
            2,
        )
        .await
        .unwrap();
    assert_eq!(before, task);
    assert_eq!((after.state, after.failed), (TaskState::Completed, true));
    assert_eq!(
        (after.rejection_count, after.rejection_reason.as_str()),
        (1, "cell full")
    );
    assert!(matches!(
        store
            .change_task(
                "t",
                &TaskEvent::Reject {
                    reason: "again".into(),
                },
                3
            )
            .await,
        Err(Error::InvalidTransition { .. })
    ));

    store
        .change_task("t", &TaskEvent::Resolving, 4)
        .await
        .unwrap();
    store
        .change_task("t", &TaskEvent::Resolve, 5)
        .await
        .unwrap();
    assert!(matches!(store.task("t").await, Err(Error::NotFound { .. })));

    store.upsert_domain("cf-apps", Some(10)).await.unwrap();
    store.upsert_domain("cf-apps", None).await.unwrap();
    let domains = store.domains().await.unwrap();
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].expires_at, None);
}

#[tokio::test]
async fn desired_lrps_with_their_instances_sqlite() {
    let (store, _dir) = sqlite().await;
    desired_lrps_with_their_instances(&store).await;
}

#[tokio::test]
async fn desired_lrps_with_their_instances_memory() {
    desired_lrps_with_their_instances(&MemoryStore::new()).await;
}

#[tokio::test]
async fn actual_lrp_writes_return_before_and_after_sqlite() {
    let (store, _dir) = sqlite().await;
    actual_lrp_writes_return_before_and_after(&store).await;
}

#[tokio::test]
async fn actual_lrp_writes_return_before_and_after_memory() {
    actual_lrp_writes_return_before_and_after(&MemoryStore::new()).await;
}

#[tokio::test]
async fn task_writes_and_rejection_sqlite() {
    let (store, _dir) = sqlite().await;
    task_writes_and_rejection(&store).await;
}

#[tokio::test]
async fn task_writes_and_rejection_memory() {
    task_writes_and_rejection(&MemoryStore::new()).await;
}
