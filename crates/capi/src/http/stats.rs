//! Process stats: `/v3/processes/:guid/stats` and `/v3/apps/:guid/processes/:type/stats`.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{AppState, extract::Auth, ts};
use crate::{
    Error,
    bridge::tps::{Instance, InstanceState},
    model::{Process, environment::FILE_DESCRIPTOR_LIMIT},
};

const MIB: u64 = 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/processes/{guid}/stats", get(process_stats))
        .route(
            "/v3/apps/{guid}/processes/{process_type}/stats",
            get(app_process_stats),
        )
}

/// One instance as CC presents it: the full record for a reported instance, only the
/// slot for a DOWN one nothing reported.
fn instance_json(process: &Process, instance: &Instance, now: DateTime<Utc>) -> Value {
    let Some(r) = &instance.reported else {
        return json!({
            "type": process.process_type,
            "index": instance.index,
            "state": InstanceState::Down.as_str(),
            "uptime": 0,
            "isolation_segment": null,
            "details": null,
        });
    };
    let ports: Vec<Value> = r
        .ports
        .iter()
        .map(|p| {
            json!({
                "external": p.host_port,
                "internal": p.container_port,
                "external_tls_proxy_port": null,
                "internal_tls_proxy_port": null,
            })
        })
        .collect();
    json!({
        "type": process.process_type,
        "index": instance.index,
        "state": instance.state.as_str(),
        "instance_guid": r.instance_guid,
        "host": r.host,
        "instance_ports": ports,
        "uptime": r.uptime,
        "mem_quota": process.memory_in_mb * MIB,
        "disk_quota": process.disk_in_mb * MIB,
        "log_rate_limit": process.log_rate_limit_in_bytes_per_second,
        "fds_quota": FILE_DESCRIPTOR_LIMIT,
        "isolation_segment": null,
        "details": r.details,
        "usage": match &r.usage {
            Some(u) => json!({ "time": ts(u.time), "cpu": u.cpu, "mem": u.mem, "disk": u.disk }),
            // No sample yet (or a crashed instance): zeros, as CC reports them.
            None => json!({ "time": ts(now), "cpu": 0, "mem": 0, "disk": 0 }),
        },
    })
}

fn stats_json(process: &Process, list: &[Instance], now: DateTime<Utc>) -> Value {
    let resources: Vec<Value> = list
        .iter()
        .map(|i| instance_json(process, i, now))
        .collect();
    json!({ "resources": resources })
}

async fn process_stats(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let (process, list) = state.service.process_stats(&actor, &guid).await?;
    Ok(Json(stats_json(&process, &list, state.service.now())))
}

async fn app_process_stats(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((guid, process_type)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    let (process, list) = state
        .service
        .app_process_stats(&actor, &guid, &process_type)
        .await?;
    Ok(Json(stats_json(&process, &list, state.service.now())))
}
