//! `HttpRepClient`: a remote cell's rep over HTTP, as the BBS and the auction use it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ingot_auction::{CellClient, CellError, CellState, Work};
use ingot_bbs::{
    ActualLrpInstanceKey, ActualLrpKey, CellPresence, Error as BbsError, RepClient,
    RepClientFactory,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::routes::{self, Route};
use super::{CancelTaskRequest, ErrorBody, StopLrpInstanceRequest};

/// One remote rep.
#[derive(Debug, Clone)]
pub struct HttpRepClient {
    cell_id: String,
    base: String,
    http: reqwest::Client,
}

impl HttpRepClient {
    /// A client for the rep at `base` (e.g. `http://10.0.0.5:1800`).
    pub fn new(cell_id: impl Into<String>, base: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            cell_id: cell_id.into(),
            base: base.into().trim_end_matches('/').to_owned(),
            http,
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        route: &Route,
        body: Option<&impl Serialize>,
    ) -> Result<Option<T>, String> {
        let url = format!("{}{}", self.base, route.path);
        let mut request = self.http.request(route.method.clone(), &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            let why = response
                .json::<ErrorBody>()
                .await
                .map_or_else(|_| format!("status {status}"), |b| b.error);
            return Err(format!("{}: {why}", route.name));
        }
        if status == reqwest::StatusCode::ACCEPTED {
            return Ok(None);
        }
        response
            .json::<T>()
            .await
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn cell_error(&self, reason: String) -> CellError {
        CellError::Unavailable {
            cell_id: self.cell_id.clone(),
            reason,
        }
    }
}

#[async_trait]
impl CellClient for HttpRepClient {
    async fn state(&self) -> Result<CellState, CellError> {
        self.call::<CellState>(&routes::STATE, None::<&()>)
            .await
            .map_err(|e| self.cell_error(e))?
            .ok_or_else(|| self.cell_error("empty state".into()))
    }

    async fn perform(&self, work: Work) -> Result<Work, CellError> {
        self.call::<Work>(&routes::PERFORM, Some(&work))
            .await
            .map_err(|e| self.cell_error(e))
            .map(Option::unwrap_or_default)
    }
}

#[async_trait]
impl RepClient for HttpRepClient {
    async fn stop_lrp_instance(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), BbsError> {
        let body = StopLrpInstanceRequest {
            actual_lrp_key: key.clone(),
            actual_lrp_instance_key: instance.clone(),
        };
        self.call::<serde_json::Value>(&routes::STOP_LRP_INSTANCE, Some(&body))
            .await
            .map(|_| ())
            .map_err(BbsError::unavailable)
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<(), BbsError> {
        let body = CancelTaskRequest {
            task_guid: task_guid.to_owned(),
        };
        self.call::<serde_json::Value>(&routes::CANCEL_TASK, Some(&body))
            .await
            .map(|_| ())
            .map_err(BbsError::unavailable)
    }
}

/// Builds HTTP clients from cell presences (`rep_url`, else `rep_address`).
#[derive(Debug, Clone)]
pub struct HttpRepClients {
    http: reqwest::Client,
}

impl Default for HttpRepClients {
    fn default() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl HttpRepClients {
    pub fn new() -> Self {
        Self::default()
    }
}

impl RepClientFactory for HttpRepClients {
    fn client(&self, cell: &CellPresence) -> Arc<dyn RepClient> {
        let base = if cell.rep_url.is_empty() {
            &cell.rep_address
        } else {
            &cell.rep_url
        };
        Arc::new(HttpRepClient::new(&cell.cell_id, base, self.http.clone()))
    }
}
