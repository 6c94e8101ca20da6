//! Carries a component's envelopes to a log-cache in another process: the role Loggregator's
//! agent plays on every CF VM. Writers never wait: envelopes queue (bounded) and a background
//! task POSTs them in batches to the log-cache's ingress, retrying with back-off while it is
//! unreachable. What does not fit in the queue meanwhile is dropped and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ingot_core::{Backoff, Shutdown};
use reqwest::{Url, header};
use tokio::sync::mpsc;

use crate::api::{EnvelopeBatch, INGRESS_PATH};
use crate::client::success;
use crate::envelope::Envelope;
use crate::error::Error;
use crate::sink::EnvelopeSink;

/// Envelopes per POST at most.
pub(crate) const MAX_BATCH: usize = 256;
/// Envelopes waiting to be sent at most; more are dropped until the log-cache catches up.
const QUEUE: usize = 10_000;

/// What a forwarder has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwarderStats {
    pub sent: u64,
    /// Dropped because the queue was full, or the log-cache refused the batch for good.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// An [`EnvelopeSink`] that forwards to a remote log-cache's ingress.
#[derive(Debug, Clone)]
pub struct EnvelopeForwarder {
    queue: mpsc::Sender<Envelope>,
    counters: Arc<Counters>,
}

impl EnvelopeForwarder {
    /// Starts forwarding to the log-cache at `base_url` (its root), authenticating with
    /// `secret`, until `shutdown`. Must be called inside a tokio runtime.
    ///
    /// Errors: [`Error::Url`] when `base_url` is not an absolute http(s) URL.
    pub fn start(base_url: &str, secret: &str, shutdown: Shutdown) -> Result<Self, Error> {
        let url = Url::parse(base_url)
            .and_then(|base| base.join(INGRESS_PATH))
            .map_err(|_| Error::Url(base_url.to_owned()))?;
        let (queue, receiver) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let sender = Sender {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            url,
            authorization: format!("Bearer {secret}"),
            counters: counters.clone(),
        };
        tokio::spawn(sender.run(receiver, shutdown));
        Ok(Self { queue, counters })
    }

    pub fn stats(&self) -> ForwarderStats {
        ForwarderStats {
            sent: self.counters.sent.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

impl EnvelopeSink for EnvelopeForwarder {
    fn ingest(&self, envelope: Envelope) {
        if self.queue.try_send(envelope).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The background half: batches from the queue, POSTs them, retries.
struct Sender {
    http: reqwest::Client,
    url: Url,
    authorization: String,
    counters: Arc<Counters>,
}

impl Sender {
    async fn run(self, mut receiver: mpsc::Receiver<Envelope>, shutdown: Shutdown) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut batch = EnvelopeBatch { batch: Vec::new() };
        loop {
            let first = tokio::select! {
                () = shutdown.cancelled() => return,
                next = receiver.recv() => match next {
                    Some(envelope) => envelope,
                    None => return,
                },
            };
            batch.batch.push(first);
            while batch.batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(envelope) => batch.batch.push(envelope),
                    Err(_) => break,
                }
            }
            loop {
                match self.post(&batch).await {
                    Ok(()) => {
                        self.counters
                            .sent
                            .fetch_add(count(&batch), Ordering::Relaxed);
                        backoff.reset();
                        break;
                    }
                    Err(error) if refused_for_good(&error) => {
                        tracing::error!(%error, url = %self.url, "log-cache refused envelopes; dropping them");
                        self.counters
                            .dropped
                            .fetch_add(count(&batch), Ordering::Relaxed);
                        break;
                    }
                    Err(error) => {
                        if backoff.is_reset() {
                            tracing::warn!(%error, url = %self.url, "log-cache unreachable; retrying");
                        }
                        let delay = backoff.next_delay();
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(delay) => {}
                        }
                    }
                }
            }
            batch.batch.clear();
        }
    }

    async fn post(&self, batch: &EnvelopeBatch) -> Result<(), Error> {
        let response = self
            .http
            .post(self.url.clone())
            .header(header::AUTHORIZATION, &self.authorization)
            .json(batch)
            .send()
            .await?;
        success(response).await.map(drop)
    }
}

/// Refused (a wrong secret, a batch it cannot take): sending it again cannot help.
fn refused_for_good(error: &Error) -> bool {
    match error {
        Error::Denied(_) | Error::BadRequest(_) => true,
        Error::Status { status, .. } => *status < 500 && *status != 429,
        Error::Url(_) | Error::Transport(_) => false,
    }
}

fn count(batch: &EnvelopeBatch) -> u64 {
    batch.batch.len() as u64
}
