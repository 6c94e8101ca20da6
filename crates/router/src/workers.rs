//! The threads that serve client connections: one single-threaded runtime per core, as nginx
//! runs one worker process per core. A connection, its requests and the pooled backend
//! connections they use all stay on one thread (each worker has its own backend pool), so a
//! request costs no wake-ups across threads. The accept loop hands each new connection to the
//! next worker in turn.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ingot_core::Shutdown;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::proxy::{Inner, Settings};

/// A new client connection, and the TLS to terminate on it, if any.
struct Accepted {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
}

pub(crate) struct Workers {
    queues: Vec<mpsc::UnboundedSender<Accepted>>,
    next: usize,
    finished: Vec<oneshot::Receiver<()>>,
}

impl Workers {
    /// Starts `count` workers serving with `settings`, each with its own backend pool. When the accept loop
    /// finishes, each lets its connections drain for up to `drain`.
    pub(crate) fn start(
        count: usize,
        settings: &Settings,
        drain: Duration,
        shutdown: &Shutdown,
    ) -> std::io::Result<Self> {
        let count = count.max(1);
        let mut queues = Vec::with_capacity(count);
        let mut finished = Vec::with_capacity(count);
        for i in 0..count {
            let (queue, jobs) = mpsc::unbounded_channel();
            let (done, finished_rx) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let inner = Arc::new(Inner::new(settings.clone()));
            let shutdown = shutdown.clone();
            std::thread::Builder::new()
                .name(format!("router-{i}"))
                .spawn(move || {
                    runtime.block_on(work(jobs, inner, drain, shutdown));
                    let _ = done.send(());
                })?;
            queues.push(queue);
            finished.push(finished_rx);
        }
        Ok(Self {
            queues,
            next: 0,
            finished,
        })
    }

    /// Hands the connection to the next worker.
    pub(crate) fn dispatch(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        tls: Option<TlsAcceptor>,
    ) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => return tracing::warn!(error = %e, %peer, "router: connection lost"),
        };
        self.next = (self.next + 1) % self.queues.len();
        let _ = self.queues[self.next].send(Accepted { stream, peer, tls });
    }

    /// Stops handing out connections and waits until every worker has drained.
    pub(crate) async fn finish(self) {
        drop(self.queues);
        for finished in self.finished {
            let _ = finished.await;
        }
    }
}

/// One worker: serves the connections it is handed until the queue closes, then drains.
async fn work(
    mut jobs: mpsc::UnboundedReceiver<Accepted>,
    inner: Arc<Inner>,
    drain: Duration,
    shutdown: Shutdown,
) {
    let tracker = TaskTracker::new();
    while let Some(Accepted { stream, peer, tls }) = jobs.recv().await {
        match TcpStream::from_std(stream) {
            Ok(stream) => {
                let serving = inner
                    .clone()
                    .serve_accepted(stream, peer, tls, shutdown.clone());
                tracker.spawn(serving);
            }
            Err(e) => tracing::warn!(error = %e, %peer, "router: connection lost"),
        }
    }
    tracker.close();
    let _ = tokio::time::timeout(drain, tracker.wait()).await;
}
