//! What the bridge and task tests share: the common world's apps with a staged droplet, and
//! waiting for Diego's side.
#![allow(dead_code)]

use std::time::Duration;

use ingot_core::{DatabaseUrl, IdGen, UuidIds};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{self, TestCc, World};

impl World {
    /// An app with a staged current droplet whose web process runs `./server`.
    pub async fn staged_app(&self, name: &str) -> (String, String) {
        let app = self.create_app(name).await;
        let droplet = insert_staged_droplet(&self.cc, &app, json!({"web": "./server"})).await;
        let res = self
            .cc
            .patch(
                &format!("/v3/apps/{app}/relationships/current_droplet"),
                &self.dev,
                json!({"data": {"guid": droplet}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        (app, droplet)
    }

    pub async fn web_process(&self, app: &str) -> Value {
        let res = self
            .cc
            .get(&format!("/v3/apps/{app}/processes/web"), &self.dev)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.body
    }

    pub async fn action(&self, app: &str, action: &str) {
        let res = self
            .cc
            .post(
                &format!("/v3/apps/{app}/actions/{action}"),
                &self.dev,
                json!({}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{action}: {}", res.body);
    }
}

/// A STAGED droplet, written straight into the CCDB: staging needs cells, which these
/// tests have none of.
pub async fn insert_staged_droplet(cc: &TestCc, app: &str, process_types: Value) -> String {
    let droplet = UuidIds.new_guid();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let doc = json!({
        "guid": droplet, "app_guid": app, "package_guid": null, "state": "STAGED",
        "error": null,
        "lifecycle": {"type": "buildpack", "buildpacks": [], "stack": "cflinuxfs4"},
        "buildpacks": [], "process_types": process_types, "execution_metadata": "",
        "sha256": "0123abcd", "image": null,
        "metadata": {"labels": {}, "annotations": {}},
        "created_at": now, "updated_at": now,
    });
    let sql = "INSERT INTO droplets (guid, app_guid, package_guid, state, doc, created_at) \
               VALUES ($1, $2, NULL, 'STAGED', $3, $4)";
    match &cc.backend.database {
        DatabaseUrl::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open ccdb");
            sqlx::query(sql)
                .bind(&droplet)
                .bind(app)
                .bind(doc.to_string())
                .bind(&now)
                .execute(&pool)
                .await
                .expect("insert droplet");
            pool.close().await;
        }
        DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("open ccdb");
            sqlx::query(sql)
                .bind(&droplet)
                .bind(app)
                .bind(doc.to_string())
                .bind(&now)
                .execute(&pool)
                .await
                .expect("insert droplet");
            pool.close().await;
        }
    }
    droplet
}

pub fn error_detail(res: &common::Response) -> String {
    common::error_of(&res.body).2
}

/// A cell that accepts every auction and never runs anything, so tasks stay PENDING until a
/// test starts and completes them by hand (with no cell at all the auction fails them).
pub async fn idle_cell(cc: &TestCc) {
    use axum::{
        Json, Router,
        routing::{get, post},
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let capacity = json!({"memory_mb": 1_000_000, "disk_mb": 1_000_000, "containers": 1000});
    let state = json!({
        "cell_id": "cell-1", "zone": "z1", "rep_address": address,
        "stacks": ["cflinuxfs4"], "rootfs_schemes": [], "placement_tags": [],
        "optional_placement_tags": [], "volume_drivers": [],
        "total": capacity, "available": capacity, "lrps": [], "tasks": [],
        "starting_container_count": 0, "evacuating": false,
    });
    let nothing_failed = json!({"lrps": [], "tasks": []});
    let rep = Router::new()
        .route("/ping", get(|| async { Json(json!({})) }))
        .route("/state", get(move || async move { Json(state) }))
        .route("/work", post(move || async move { Json(nothing_failed) }))
        .route("/v1/tasks/cancel", post(|| async { Json(json!({})) }))
        .route("/v1/lrps/stop", post(|| async { Json(json!({})) }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, rep).await;
    });
    let presence = ingot_bbs::CellPresence {
        cell_id: "cell-1".into(),
        rep_address: address,
        rep_url: String::new(),
        zone: "z1".into(),
        capacity: ingot_bbs::CellCapacity {
            memory_mb: 1_000_000,
            disk_mb: 1_000_000,
            containers: 1000,
        },
        rootfs_providers: vec![ingot_bbs::RootfsProvider::preloaded(&["cflinuxfs4"])],
        placement_tags: Vec::new(),
        optional_placement_tags: Vec::new(),
    };
    ingot_bbs::BbsApi::register_cell(&cc.bbs, presence, Duration::from_secs(600))
        .await
        .expect("register the idle cell");
}
