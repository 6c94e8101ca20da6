//! One drain: a bounded buffer of framed messages and the task that delivers them.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use ingot_core::Backoff;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::DrainError;
use super::rfc5424::{octet_counted, to_rfc5424};
use super::target::{Target, Transport};
use super::tls::Trust;
use crate::envelope::Envelope;

/// How many bytes of messages one write carries at most (a single larger message still goes
/// in one write).
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// How every drain buffers, retries and whom it trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainConfig {
    /// Messages a drain holds while its receiver is slow or away; when full, the oldest is
    /// dropped (and counted).
    pub buffer_size: usize,
    /// The first wait before reconnecting; it doubles on each failure in a row.
    pub min_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// How long connecting (with the TLS handshake) or one write may take before the
    /// connection is given up and made again.
    pub io_timeout: Duration,
    /// Certificates (DER) `syslog-tls://` drains trust as roots besides the system's: a
    /// drain's own CA, or a test's.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl Default for DrainConfig {
    fn default() -> Self {
        Self {
            buffer_size: 10_000,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            io_timeout: Duration::from_secs(10),
            extra_roots: Vec::new(),
        }
    }
}

/// What a drain has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainStats {
    /// Messages written to the receiver.
    pub sent: u64,
    /// Messages pushed out of the full buffer, oldest first.
    pub dropped: u64,
    /// Connections that failed or were lost, each followed by a new attempt after back-off.
    pub reconnects: u64,
    /// Messages waiting in the buffer.
    pub buffered: usize,
}

/// One drain URL and its delivery task, which stops when the drain is dropped.
pub struct SyslogDrain {
    url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    capacity: usize,
    queue: Mutex<VecDeque<Bytes>>,
    wake: Notify,
    sent: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
}

// ---- impl SyslogDrain ----

impl SyslogDrain {
    /// Starts delivering to `url` in the background; call it within a tokio runtime. Fails
    /// only for a URL or an extra root it cannot use; an unreachable receiver is retried,
    /// never an error.
    pub fn start(url: &str, config: &DrainConfig) -> Result<Self, DrainError> {
        Self::start_trusting(url, config, &Trust::new(&config.extra_roots)?)
    }

    /// [`Self::start`] with a trust shared by several drains.
    pub(crate) fn start_trusting(
        url: &str,
        config: &DrainConfig,
        trust: &Trust,
    ) -> Result<Self, DrainError> {
        let target = Target::parse(url)?;
        let tls = match target.transport {
            Transport::Tcp => None,
            Transport::Tls => {
                let name = ServerName::try_from(target.host.clone()).map_err(|_| {
                    DrainError::InvalidUrl {
                        url: url.to_owned(),
                        why: "the host is not a valid TLS server name".to_owned(),
                    }
                })?;
                Some((TlsConnector::from(trust.client_config()), name))
            }
        };
        let shared = Arc::new(Shared {
            capacity: config.buffer_size.max(1),
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
        });
        let delivery = Delivery {
            shared: shared.clone(),
            target,
            tls,
            backoff: Backoff::new(config.min_backoff, config.max_backoff),
            io_timeout: config.io_timeout,
        };
        Ok(Self {
            url: url.to_owned(),
            shared,
            task: tokio::spawn(delivery.run()),
        })
    }

    /// The URL as configured.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queues a log envelope; other envelopes are ignored. The hostname is the source id unless
    /// the envelope's tags name its org, space and app.
    pub fn send(&self, envelope: &Envelope) {
        if let Some(framed) = frame(envelope) {
            self.send_framed(framed);
        }
    }

    /// Queues an already framed message, dropping the oldest one when the buffer is full.
    pub(crate) fn send_framed(&self, framed: Bytes) {
        {
            let mut queue = self.shared.queue();
            if queue.len() >= self.shared.capacity {
                queue.pop_front();
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
            queue.push_back(framed);
        }
        self.shared.wake.notify_one();
    }

    pub fn stats(&self) -> DrainStats {
        DrainStats {
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            reconnects: self.shared.reconnects.load(Ordering::Relaxed),
            buffered: self.shared.queue().len(),
        }
    }
}

impl fmt::Debug for SyslogDrain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogDrain")
            .field("url", &self.url)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for SyslogDrain {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The octet-counted RFC 5424 message for a log envelope.
pub(crate) fn frame(envelope: &Envelope) -> Option<Bytes> {
    let message = to_rfc5424(envelope, &envelope.source_id)?;
    Some(Bytes::from(octet_counted(&message)))
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Bytes>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves messages from the buffer into `pending`, up to one batch.
    fn take(&self, pending: &mut Pending) {
        let mut queue = self.queue();
        while let Some(next) = queue.front() {
            if pending.messages > 0 && pending.bytes.len() + next.len() > MAX_BATCH_BYTES {
                break;
            }
            pending.bytes.extend_from_slice(next);
            pending.messages += 1;
            queue.pop_front();
        }
    }
}

// ---- delivery ----

trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// Messages taken from the buffer and not yet written. They survive a lost connection and go
/// first on the next one, so a receiver restart loses none (it may see a partly written batch
/// twice).
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    messages: u64,
}

struct Delivery {
    shared: Arc<Shared>,
    target: Target,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    backoff: Backoff,
    io_timeout: Duration,
}

impl Delivery {
    async fn run(mut self) {
        let mut pending = Pending::default();
        loop {
            let error = match timeout(self.io_timeout, self.connect()).await {
                Ok(Ok(connection)) => self.deliver(connection, &mut pending).await,
                Ok(Err(error)) => error,
                Err(_) => io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"),
            };
            self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
            // Say it once when a working drain fails, not on every retry.
            if self.backoff.is_reset() {
                tracing::warn!(drain = %self.target, %error, "syslog drain failed; retrying with back-off");
            } else {
                tracing::debug!(drain = %self.target, %error, "syslog drain still failing");
            }
            tokio::time::sleep(self.backoff.next_delay()).await;
        }
    }

    async fn connect(&self) -> io::Result<Box<dyn Connection>> {
        let tcp = TcpStream::connect((self.target.host.as_str(), self.target.port)).await?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some((connector, name)) => Ok(Box::new(connector.connect(name.clone(), tcp).await?)),
        }
    }

    /// Writes batches until the connection fails, and returns why.
    async fn deliver(
        &mut self,
        mut connection: Box<dyn Connection>,
        pending: &mut Pending,
    ) -> io::Error {
        let mut scratch = [0u8; 256];
        loop {
            if pending.messages == 0 {
                self.shared.take(pending);
            }
            if pending.messages == 0 {
                // Idle: wait for messages, and notice meanwhile when the receiver hangs up,
                // so the next message does not vanish into a dead connection.
                tokio::select! {
                    () = self.shared.wake.notified() => continue,
                    read = connection.read(&mut scratch) => match read {
                        Ok(0) => {
                            return io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the receiver closed the connection",
                            );
                        }
                        // Receivers have nothing to say; ignore whatever they send.
                        Ok(_) => continue,
                        Err(error) => return error,
                    },
                }
            }
            let write = async {
                connection.write_all(&pending.bytes).await?;
                connection.flush().await
            };
            match timeout(self.io_timeout, write).await {
                Ok(Ok(())) => {
                    self.shared
                        .sent
                        .fetch_add(pending.messages, Ordering::Relaxed);
                    pending.bytes.clear();
                    pending.messages = 0;
                    self.backoff.reset();
                }
                Ok(Err(error)) => return error,
                Err(_) => return io::Error::new(io::ErrorKind::TimedOut, "writing timed out"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_but_take_at_least_one_message() {
        let shared = Shared {
            capacity: 10,
            queue: Mutex::new(VecDeque::from([
                Bytes::from(vec![b'a'; MAX_BATCH_BYTES + 1]),
                Bytes::from_static(b"b"),
                Bytes::from_static(b"c"),
            ])),
            wake: Notify::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
        };
        let mut pending = Pending::default();
        shared.take(&mut pending);
        assert_eq!(pending.messages, 1);
        pending = Pending::default();
        shared.take(&mut pending);
        assert_eq!(
            (pending.messages, pending.bytes.as_slice()),
            (2, &b"bc"[..])
        );
    }
}
