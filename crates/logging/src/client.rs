//! A log-cache client that reads as the cf CLI does; Ingot's end-to-end tests use it.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Response, StatusCode, Url, header};

use crate::access::AccessDenied;
use crate::api::{ErrorBody, INFO_PATH, Info, META_PATH, MetaResponse, READ_PATH, ReadResponse};
use crate::envelope::{Envelope, EnvelopeType};
use crate::error::Error;
use crate::query::ReadQuery;
use crate::source::SourceMeta;

/// Reads from a log-cache at `base_url` (its root, as in the `log_cache` link).
#[derive(Debug, Clone)]
pub struct LogCacheClient {
    http: reqwest::Client,
    base: Url,
}

impl LogCacheClient {
    /// Errors: [`Error::Url`] when `base_url` is not an absolute http(s) URL.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        let base = Url::parse(base_url)
            .ok()
            .filter(|url| !url.cannot_be_a_base())
            .ok_or_else(|| Error::Url(base_url.to_owned()))?;
        Ok(Self {
            http: reqwest::Client::new(),
            base,
        })
    }

    /// `GET /api/v1/info`; needs no token.
    pub async fn info(&self) -> Result<Info, Error> {
        let response = self.http.get(self.url(INFO_PATH, &[])).send().await?;
        Ok(success(response).await?.json().await?)
    }

    /// One read of `source_id`, with the access token `token` (sent as `bearer <token>`).
    /// Envelopes come back in the server's order (newest first when descending).
    ///
    /// Errors: [`Error::Denied`] (401/404), [`Error::BadRequest`], [`Error::Status`],
    /// [`Error::Transport`].
    pub async fn read(
        &self,
        source_id: &str,
        query: &ReadQuery,
        token: &str,
    ) -> Result<Vec<Envelope>, Error> {
        let segments: Vec<&str> = source_id.split('/').collect();
        let mut url = self.url(READ_PATH, &segments);
        url.set_query(Some(&query.to_query_string()));
        let response = self
            .http
            .get(url)
            .header(header::AUTHORIZATION, format!("bearer {token}"))
            .send()
            .await?;
        let body: ReadResponse = success(response).await?.json().await?;
        Ok(body.envelopes.batch)
    }

    /// What `cf logs --recent` shows: the newest 1000 log envelopes, oldest first.
    pub async fn recent(&self, source_id: &str, token: &str) -> Result<Vec<Envelope>, Error> {
        let mut envelopes = self.read(source_id, &ReadQuery::recent(), token).await?;
        envelopes.reverse();
        Ok(envelopes)
    }

    /// `GET /api/v1/meta`: the sources this token may read, with their counters.
    pub async fn meta(&self, token: &str) -> Result<BTreeMap<String, SourceMeta>, Error> {
        let response = self
            .http
            .get(self.url(META_PATH, &[]))
            .header(header::AUTHORIZATION, format!("bearer {token}"))
            .send()
            .await?;
        let body: MetaResponse = success(response).await?.json().await?;
        Ok(body
            .meta
            .into_iter()
            .map(|(id, m)| (id, m.into()))
            .collect())
    }

    /// The base URL with `path` and then `segments` (each percent-encoded) appended.
    fn url(&self, path: &str, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut parts = url.path_segments_mut().expect("checked in new");
            parts.clear();
            parts.extend(path.trim_start_matches('/').split('/'));
            parts.extend(segments);
        }
        url
    }
}

/// Passes a 2xx response through and turns anything else into the matching error.
pub(crate) async fn success(response: Response) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    match status {
        StatusCode::UNAUTHORIZED => Err(Error::Denied(AccessDenied::Unauthenticated)),
        StatusCode::NOT_FOUND => Err(Error::Denied(AccessDenied::Forbidden)),
        _ => {
            let body = response.text().await.unwrap_or_default();
            if status == StatusCode::BAD_REQUEST {
                let message = serde_json::from_str::<ErrorBody>(&body).map_or(body, |e| e.message);
                return Err(Error::BadRequest(message));
            }
            Err(Error::Status {
                status: status.as_u16(),
                body,
            })
        }
    }
}

/// How a [`LogWalk`] polls. `Default` is what `cf logs APP` (streaming) does.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Wait after an empty read before reading again (cf CLI: 250 ms).
    pub poll_interval: Duration,
    /// Envelopes newer than now minus this wait for a later read, so ones stamped earlier but
    /// stored a little later are not skipped (cf CLI: 2 s).
    pub hold_back: Duration,
}

impl Default for WalkOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            hold_back: Duration::from_secs(2),
        }
    }
}

/// Follows a source's log envelopes forward in time, as `cf logs APP` does: read everything
/// from the last timestamp seen, hold back the newest, wait when there is nothing new.
#[derive(Debug)]
pub struct LogWalk {
    client: LogCacheClient,
    source_id: String,
    next_start: i64,
    options: WalkOptions,
}

impl LogWalk {
    /// Walks `source_id` from `start_time` (ns since the epoch) on.
    pub fn new(
        client: LogCacheClient,
        source_id: &str,
        start_time: i64,
        options: WalkOptions,
    ) -> Self {
        Self {
            client,
            source_id: source_id.to_owned(),
            next_start: start_time,
            options,
        }
    }

    /// The next non-empty batch of log envelopes, oldest first; waits until there is one.
    /// `token` is read per call, as the CLI refreshes it while streaming.
    ///
    /// Errors: those of [`LogCacheClient::read`].
    pub async fn next_batch(&mut self, token: &str) -> Result<Vec<Envelope>, Error> {
        loop {
            let hold_back = i64::try_from(self.options.hold_back.as_nanos()).unwrap_or(i64::MAX);
            let query = ReadQuery {
                start_time: self.next_start,
                end_time: Some(now_ns().saturating_sub(hold_back)),
                envelope_types: vec![EnvelopeType::Log],
                ..ReadQuery::default()
            };
            if query.end_time > Some(query.start_time) {
                let batch = self.client.read(&self.source_id, &query, token).await?;
                if let Some(last) = batch.last() {
                    self.next_start = last.timestamp + 1;
                    return Ok(batch);
                }
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }
}

/// The wall clock in ns since the epoch: log-cache's time base, and the CLI's.
fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}
