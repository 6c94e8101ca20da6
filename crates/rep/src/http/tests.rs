//! The rep API over a real loopback socket: what the client sends reaches the rep, and a
//! failing rep comes back as the same kind of error.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ingot_auction::{
    Capacity, CellClient, CellError, CellState, Lrp, PlacementConstraint, Resource, Work,
};
use ingot_bbs::{
    ActualLrpInstanceKey, ActualLrpKey, CellPresence, Error as BbsError, RepClient,
    RepClientFactory,
};

use super::*;

#[derive(Default)]
struct FakeRep {
    fail: bool,
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl CellClient for FakeRep {
    async fn state(&self) -> Result<CellState, CellError> {
        if self.fail {
            return Err(CellError::Unavailable {
                cell_id: "c".into(),
                reason: "garden is down".into(),
            });
        }
        Ok(CellState::new(
            "cell-9",
            "z1",
            Capacity::new(1024, 1024, 10),
        ))
    }

    async fn perform(&self, mut work: Work) -> Result<Work, CellError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("perform {}", work.lrps.len()));
        work.lrps.truncate(1); // rejects the first
        Ok(work)
    }
}

#[async_trait]
impl RepClient for FakeRep {
    async fn stop_lrp_instance(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), BbsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("stop {key} {}", instance.instance_guid));
        Ok(())
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<(), BbsError> {
        if self.fail {
            return Err(BbsError::unavailable("busy"));
        }
        self.calls
            .lock()
            .unwrap()
            .push(format!("cancel {task_guid}"));
        Ok(())
    }
}

async fn serve(rep: Arc<FakeRep>) -> Arc<dyn RepClient> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(rep)).await });
    let presence = CellPresence {
        cell_id: "cell-9".into(),
        rep_address: format!("http://{addr}"),
        ..CellPresence::default()
    };
    HttpRepClients::new().client(&presence)
}

fn lrp(index: u32) -> Lrp {
    Lrp {
        process_guid: "web".into(),
        index,
        domain: "cf-apps".into(),
        resource: Resource::new(64, 64),
        constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
    }
}

#[tokio::test]
async fn every_route_round_trips() {
    let rep = Arc::new(FakeRep::default());
    let client = serve(rep.clone()).await;
    assert_eq!(client.state().await.unwrap().cell_id, "cell-9");
    let rejected = client
        .perform(Work {
            lrps: vec![lrp(0), lrp(1)],
            tasks: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(rejected.lrps, [lrp(0)]);
    client
        .stop_lrp_instance(
            &ActualLrpKey::new("web", 1, "cf-apps"),
            &ActualLrpInstanceKey::new("i-1", "cell-9"),
        )
        .await
        .unwrap();
    client.cancel_task("t-1").await.unwrap();
    assert_eq!(
        *rep.calls.lock().unwrap(),
        ["perform 2", "stop web/1 i-1", "cancel t-1"]
    );
}

#[tokio::test]
async fn failures_come_back_as_unavailable() {
    let client = serve(Arc::new(FakeRep {
        fail: true,
        ..FakeRep::default()
    }))
    .await;
    let err = client.state().await.unwrap_err();
    assert!(err.to_string().contains("garden is down"), "{err}");
    let err = client.cancel_task("t").await.unwrap_err();
    assert!(matches!(err, BbsError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_rep_is_unavailable() {
    let presence = CellPresence {
        cell_id: "gone".into(),
        rep_address: "http://127.0.0.1:9".into(),
        ..CellPresence::default()
    };
    let client = HttpRepClients::new().client(&presence);
    assert!(matches!(
        client.state().await,
        Err(CellError::Unavailable { .. })
    ));
}
