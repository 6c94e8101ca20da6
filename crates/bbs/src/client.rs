//! `BbsClient`: `BbsApi` over HTTP, on the routes in `http::routes`. Errors come back as the
//! same `Error` the server returned; transport failures become `Error::Unavailable`.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{BbsApi, EventStream};
use crate::error::Error;
use crate::http::messages::*;
use crate::http::routes::{self, Route};
use crate::models::{
    ActualLrp, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, CellPresence, DesiredLrp,
    DesiredLrpFilter, DesiredLrpUpdate, Event, NetInfo, Task, TaskDefinition, TaskFilter,
};

/// A BBS reached over HTTP.
#[derive(Debug, Clone)]
pub struct BbsClient {
    base: url::Url,
    http: reqwest::Client,
}

impl BbsClient {
    /// `base` is the BBS's URL, e.g. `http://127.0.0.1:8889`.
    ///
    /// Errors: `Validation` (not a URL).
    pub fn new(base: &str) -> Result<Self, Error> {
        let base = url::Url::parse(base).map_err(|_| Error::validation("base", "must be a URL"))?;
        Ok(Self {
            base,
            http: reqwest::Client::new(),
        })
    }

    /// Uses a prepared client (timeouts, TLS).
    pub fn with_http(base: url::Url, http: reqwest::Client) -> Self {
        Self { base, http }
    }

    fn url(&self, route: &Route) -> Result<url::Url, Error> {
        self.base
            .join(route.path)
            .map_err(|e| Error::unavailable(format!("bad BBS URL: {e}")))
    }

    async fn call<B: Serialize + Sync, R: DeserializeOwned>(
        &self,
        route: &Route,
        body: &B,
    ) -> Result<R, Error> {
        let response = self
            .http
            .request(route.method.clone(), self.url(route)?)
            .json(body)
            .send()
            .await
            .map_err(|e| Error::unavailable(format!("{}: {e}", route.name)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::unavailable(format!("{}: {e}", route.name)))?;
        if status.is_success() {
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::unavailable(format!("{}: bad response: {e}", route.name)))
        } else {
            Err(serde_json::from_slice::<Error>(&bytes)
                .unwrap_or_else(|_| Error::unavailable(format!("{}: HTTP {status}", route.name))))
        }
    }

    async fn call_empty<B: Serialize + Sync>(&self, route: &Route, body: &B) -> Result<(), Error> {
        self.call::<B, Empty>(route, body).await.map(|_| ())
    }

    async fn events(&self, route: &Route) -> Result<EventStream, Error> {
        let response = self
            .http
            .get(self.url(route)?)
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| Error::unavailable(format!("{}: {e}", route.name)))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(serde_json::from_slice::<Error>(&bytes)
                .unwrap_or_else(|_| Error::unavailable(format!("{}: HTTP {status}", route.name))));
        }
        Ok(EventStream::new(stream::unfold(
            Some(SseReader {
                response,
                buffer: Vec::new(),
            }),
            |reader| async move {
                let mut reader = reader?;
                match reader.next_event().await {
                    Some(Ok(event)) => Some((Ok(event), Some(reader))),
                    // After an error the stream is over.
                    Some(Err(err)) => Some((Err(err), None)),
                    None => None,
                }
            },
        )))
    }
}

/// Reads server-sent events off a response body.
struct SseReader {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl SseReader {
    async fn next_event(&mut self) -> Option<Result<Event, Error>> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8_lossy(&block);
                let (mut name, mut data) = (String::new(), Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                    // Other lines (":" keep-alive comments, id, retry) carry nothing for us.
                }
                if data.is_empty() {
                    continue;
                }
                let data = data.join("\n");
                return Some(if name == "error" {
                    Err(serde_json::from_str::<Error>(&data)
                        .unwrap_or_else(|_| Error::unavailable(format!("events: {data}"))))
                } else {
                    serde_json::from_str::<Event>(&data)
                        .map_err(|e| Error::unavailable(format!("events: bad event: {e}")))
                });
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.extend(bytes.iter().filter(|b| **b != b'\r')),
                Ok(None) => return None,
                Err(e) => return Some(Err(Error::unavailable(format!("events: {e}")))),
            }
        }
    }
}

#[async_trait]
impl BbsApi for BbsClient {
    async fn upsert_domain(&self, domain: &str, ttl: Duration) -> Result<(), Error> {
        let body = UpsertDomainRequest {
            domain: domain.to_owned(),
            ttl: ttl.as_secs(),
        };
        self.call_empty(&routes::UPSERT_DOMAIN, &body).await
    }

    async fn domains(&self) -> Result<Vec<String>, Error> {
        let r: DomainsResponse = self.call(&routes::DOMAINS, &Empty {}).await?;
        Ok(r.domains)
    }

    async fn cells(&self) -> Result<Vec<CellPresence>, Error> {
        let r: CellsResponse = self.call(&routes::CELLS, &Empty {}).await?;
        Ok(r.cells)
    }

    async fn register_cell(&self, presence: CellPresence, ttl: Duration) -> Result<(), Error> {
        let body = RegisterCellRequest {
            cell_presence: presence,
            ttl: ttl.as_secs(),
        };
        self.call_empty(&routes::REGISTER_CELL, &body).await
    }

    async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<(), Error> {
        let body = DesireLrpRequest { desired_lrp: lrp };
        self.call_empty(&routes::DESIRE_DESIRED_LRP, &body).await
    }

    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: DesiredLrpUpdate,
    ) -> Result<(), Error> {
        let body = UpdateDesiredLrpRequest {
            process_guid: process_guid.to_owned(),
            update,
        };
        self.call_empty(&routes::UPDATE_DESIRED_LRP, &body).await
    }

    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<(), Error> {
        let body = ProcessGuidRequest {
            process_guid: process_guid.to_owned(),
        };
        self.call_empty(&routes::REMOVE_DESIRED_LRP, &body).await
    }

    async fn desired_lrps(&self, filter: DesiredLrpFilter) -> Result<Vec<DesiredLrp>, Error> {
        let r: DesiredLrpsResponse = self.call(&routes::DESIRED_LRPS, &filter).await?;
        Ok(r.desired_lrps)
    }

    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> Result<DesiredLrp, Error> {
        let body = ProcessGuidRequest {
            process_guid: process_guid.to_owned(),
        };
        let r: DesiredLrpResponse = self
            .call(&routes::DESIRED_LRP_BY_PROCESS_GUID, &body)
            .await?;
        Ok(r.desired_lrp)
    }

    async fn actual_lrps(&self, filter: ActualLrpFilter) -> Result<Vec<ActualLrp>, Error> {
        let r: ActualLrpsResponse = self.call(&routes::ACTUAL_LRPS, &filter).await?;
        Ok(r.actual_lrps)
    }

    async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), Error> {
        let body = ClaimActualLrpRequest {
            actual_lrp_key: key.clone(),
            actual_lrp_instance_key: instance.clone(),
        };
        self.call_empty(&routes::CLAIM_ACTUAL_LRP, &body).await
    }

    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        net_info: NetInfo,
    ) -> Result<(), Error> {
        let body = StartActualLrpRequest {
            actual_lrp_key: key.clone(),
            actual_lrp_instance_key: instance.clone(),
            actual_lrp_net_info: net_info,
        };
        self.call_empty(&routes::START_ACTUAL_LRP, &body).await
    }

    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> Result<(), Error> {
        let body = CrashActualLrpRequest {
            actual_lrp_key: key.clone(),
            actual_lrp_instance_key: instance.clone(),
            error_message: reason.to_owned(),
        };
        self.call_empty(&routes::CRASH_ACTUAL_LRP, &body).await
    }

    async fn fail_actual_lrp(
        &self,
        key: &ActualLrpKey,
        placement_error: &str,
    ) -> Result<(), Error> {
        let body = FailActualLrpRequest {
            actual_lrp_key: key.clone(),
            error_message: placement_error.to_owned(),
        };
        self.call_empty(&routes::FAIL_ACTUAL_LRP, &body).await
    }

    async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: Option<&ActualLrpInstanceKey>,
    ) -> Result<(), Error> {
        let body = RemoveActualLrpRequest {
            actual_lrp_key: key.clone(),
            actual_lrp_instance_key: instance.cloned(),
        };
        self.call_empty(&routes::REMOVE_ACTUAL_LRP, &body).await
    }

    async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<(), Error> {
        let body = RetireActualLrpRequest {
            actual_lrp_key: key.clone(),
        };
        self.call_empty(&routes::RETIRE_ACTUAL_LRP, &body).await
    }

    async fn desire_task(
        &self,
        task_guid: &str,
        domain: &str,
        definition: TaskDefinition,
    ) -> Result<(), Error> {
        let body = DesireTaskRequest {
            task_guid: task_guid.to_owned(),
            domain: domain.to_owned(),
            task_definition: definition,
        };
        self.call_empty(&routes::DESIRE_TASK, &body).await
    }

    async fn tasks(&self, filter: TaskFilter) -> Result<Vec<Task>, Error> {
        let r: TasksResponse = self.call(&routes::TASKS, &filter).await?;
        Ok(r.tasks)
    }

    async fn task_by_guid(&self, task_guid: &str) -> Result<Task, Error> {
        let body = TaskGuidRequest {
            task_guid: task_guid.to_owned(),
        };
        let r: TaskResponse = self.call(&routes::TASK_BY_GUID, &body).await?;
        Ok(r.task)
    }

    async fn start_task(&self, task_guid: &str, cell_id: &str) -> Result<bool, Error> {
        let body = StartTaskRequest {
            task_guid: task_guid.to_owned(),
            cell_id: cell_id.to_owned(),
        };
        let r: StartTaskResponse = self.call(&routes::START_TASK, &body).await?;
        Ok(r.should_start)
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<(), Error> {
        let body = TaskGuidRequest {
            task_guid: task_guid.to_owned(),
        };
        self.call_empty(&routes::CANCEL_TASK, &body).await
    }

    async fn fail_task(&self, task_guid: &str, reason: &str) -> Result<(), Error> {
        let body = FailTaskRequest {
            task_guid: task_guid.to_owned(),
            failure_reason: reason.to_owned(),
        };
        self.call_empty(&routes::FAIL_TASK, &body).await
    }

    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<(), Error> {
        let body = CompleteTaskRequest {
            task_guid: task_guid.to_owned(),
            cell_id: cell_id.to_owned(),
            failed,
            failure_reason: failure_reason.to_owned(),
            result: result.to_owned(),
        };
        self.call_empty(&routes::COMPLETE_TASK, &body).await
    }

    async fn resolving_task(&self, task_guid: &str) -> Result<(), Error> {
        let body = TaskGuidRequest {
            task_guid: task_guid.to_owned(),
        };
        self.call_empty(&routes::RESOLVING_TASK, &body).await
    }

    async fn delete_task(&self, task_guid: &str) -> Result<(), Error> {
        let body = TaskGuidRequest {
            task_guid: task_guid.to_owned(),
        };
        self.call_empty(&routes::DELETE_TASK, &body).await
    }

    async fn subscribe(&self) -> Result<EventStream, Error> {
        self.events(&routes::EVENTS).await
    }
}
