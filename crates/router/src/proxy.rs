//! The HTTP proxy (plain HTTP/1.1, or TLS with HTTP/1.1 or HTTP/2): Host and path to a route,
//! the route to an endpoint, the request to the endpoint over a keep-alive pool, and the answer
//! back, with retries, sticky sessions, forwarded headers, timeouts, upgrades and an access-log
//! record.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use ingot_core::{Clock, IdGen, Shutdown, SystemClock, UuidIds};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::access_log::{AccessLogRecord, AccessLogSink, TracingAccessLog};
use crate::endpoint::{Endpoint, InFlight};
use crate::error::Error;
use crate::headers::{self, Scheme, X_CF_ROUTER_ERROR, X_VCAP_REQUEST_ID};
use crate::metrics::RouterMetrics;
use crate::route::{RouteKey, normalize_host};
use crate::sticky;
use crate::table::{Lookup, SharedRouteTable};
use crate::workers::Workers;

/// The body type of everything the router sends.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// `X-Cf-RouterError` values, as gorouter names them.
pub mod router_error {
    pub const UNKNOWN_ROUTE: &str = "unknown_route";
    pub const NO_ENDPOINTS: &str = "no_endpoints";
    pub const ENDPOINT_FAILURE: &str = "endpoint_failure";
}

/// How the router behaves. `Default` gives gorouter-like values.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Connecting to an endpoint (gorouter: 5 s).
    pub dial_timeout: Duration,
    /// Waiting for an endpoint's response head (gorouter: 60 s).
    pub endpoint_timeout: Duration,
    /// Endpoints tried per request when connecting fails (gorouter: 3).
    pub max_attempts: usize,
    /// Largest request head accepted; larger ones get 431.
    pub max_header_bytes: usize,
    /// How long a client connection may take to send a request head, and how long an idle
    /// keep-alive connection stays open (hyper arms one timer for both); over HTTP/2, how
    /// long a connection may go without starting a stream.
    pub client_idle_timeout: Duration,
    /// How long idle connections to endpoints are kept in the pool.
    pub backend_idle_timeout: Duration,
    /// Idle pooled connections per endpoint.
    pub backend_max_idle: usize,
    /// On shutdown, how long requests in flight may take to finish.
    pub drain_timeout: Duration,
    /// Path the router answers itself (200) when the Host is not a route.
    pub health_path: String,
    /// Threads serving client connections (each with its own backend pool); default: one
    /// per core.
    pub workers: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            dial_timeout: Duration::from_secs(5),
            endpoint_timeout: Duration::from_secs(60),
            max_attempts: 3,
            max_header_bytes: 64 * 1024,
            client_idle_timeout: Duration::from_secs(30),
            backend_idle_timeout: Duration::from_secs(90),
            backend_max_idle: 100,
            drain_timeout: Duration::from_secs(10),
            health_path: "/health".into(),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// The router: cheap to clone, every clone serves from the same table and pool.
#[derive(Clone)]
pub struct Router {
    settings: Settings,
}

/// What every worker serves with: all but the backend pool, which each worker has its own of.
#[derive(Clone)]
pub(crate) struct Settings {
    config: RouterConfig,
    table: SharedRouteTable,
    access_log: Arc<dyn AccessLogSink>,
    /// For `X-Request-Start`.
    clock: Arc<dyn Clock>,
    /// For `X-Vcap-Request-Id` when the client sent none.
    ids: Arc<dyn IdGen>,
    metrics: RouterMetrics,
}

/// A worker's router: the settings and its own pool of keep-alive connections to endpoints
/// (pooled connections run on the thread that opened them).
pub(crate) struct Inner {
    settings: Settings,
    client: Client<HttpConnector, ProxyBody>,
}

impl std::ops::Deref for Inner {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl Router {
    pub fn new(config: RouterConfig, table: SharedRouteTable) -> Self {
        Self {
            settings: Settings {
                config,
                table,
                access_log: Arc::new(TracingAccessLog),
                clock: Arc::new(SystemClock),
                ids: Arc::new(UuidIds),
                metrics: RouterMetrics::default(),
            },
        }
    }

    /// Sends access-log records to `sink` instead of tracing.
    pub fn with_access_log(mut self, sink: Arc<dyn AccessLogSink>) -> Self {
        self.settings.access_log = sink;
        self
    }

    /// Uses this clock (for `X-Request-Start`) and these ids (for new request ids).
    pub fn with_clock_and_ids(mut self, clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>) -> Self {
        self.settings.clock = clock;
        self.settings.ids = ids;
        self
    }

    /// Registers the router's metrics (`ingot_router_*`) in `metrics` and answers
    /// `GET /metrics` with them for requests whose Host is not a route, as `/health`.
    pub fn with_metrics(mut self, metrics: &ingot_core::Metrics) -> Self {
        let table = self.settings.table.clone();
        self.settings.metrics.register(metrics, table);
        self
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown`, then stops accepting and lets requests
    /// in flight finish (up to `drain_timeout`).
    /// Errors: `Listener` (accepting failed for good).
    pub async fn serve(self, listener: TcpListener, shutdown: Shutdown) -> Result<(), Error> {
        self.accept(listener, None, shutdown).await
    }

    /// Serves HTTPS on `listener` with `tls` (see [`crate::tls::server_config`]): HTTP/2 when
    /// the client picks `h2` among the ALPN protocols `tls` offers, HTTP/1.1 otherwise.
    /// Stops as [`serve`](Self::serve) does. Errors: `Listener`.
    pub async fn serve_tls(
        self,
        listener: TcpListener,
        tls: Arc<crate::tls::ServerConfig>,
        shutdown: Shutdown,
    ) -> Result<(), Error> {
        self.accept(listener, Some(TlsAcceptor::from(tls)), shutdown)
            .await
    }

    async fn accept(
        self,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        shutdown: Shutdown,
    ) -> Result<(), Error> {
        let config = &self.settings.config;
        let mut workers = Workers::start(
            config.workers,
            &self.settings,
            config.drain_timeout,
            &shutdown,
        )
        .map_err(Error::Listener)?;
        let result = loop {
            let (stream, peer) = tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) if is_transient(&e) => {
                        tracing::warn!(error = %e, "router: accept failed");
                        // Out of descriptors: give connections time to close instead of spinning.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    Err(e) => break Err(Error::Listener(e)),
                },
            };
            let _ = stream.set_nodelay(true);
            workers.dispatch(stream, peer, tls.clone());
        };
        workers.finish().await;
        result
    }
}

/// The pool of keep-alive connections to endpoints.
fn backend_client(config: &RouterConfig) -> Client<HttpConnector, ProxyBody> {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(config.dial_timeout));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(config.backend_idle_timeout)
        .pool_max_idle_per_host(config.backend_max_idle)
        .pool_timer(TokioTimer::new())
        .build(connector)
}

/// Who a request came from and over what: what `X-Forwarded-For` and `X-Forwarded-Proto` tell
/// the endpoint.
#[derive(Debug, Clone, Copy)]
struct Downstream {
    peer: SocketAddr,
    scheme: Scheme,
}

/// Errors that concern one connection, not the listener (e.g. out of file descriptors).
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e.raw_os_error() == Some(24)
}

impl Inner {
    /// A worker's router, with a backend pool of its own.
    pub(crate) fn new(settings: Settings) -> Self {
        let client = backend_client(&settings.config);
        Self { settings, client }
    }

    /// Serves a connection a worker was handed, over TLS when `tls` is given.
    pub(crate) async fn serve_accepted(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        tls: Option<TlsAcceptor>,
        shutdown: Shutdown,
    ) {
        match tls {
            None => {
                let client = Downstream {
                    peer,
                    scheme: Scheme::Http,
                };
                self.serve_connection(stream, client, false, shutdown).await;
            }
            Some(tls) => self.serve_tls_connection(tls, stream, peer, shutdown).await,
        }
    }

    /// The TLS handshake, which gets as long as a request head, then the connection.
    async fn serve_tls_connection(
        self: Arc<Self>,
        tls: TlsAcceptor,
        stream: TcpStream,
        peer: SocketAddr,
        shutdown: Shutdown,
    ) {
        match tokio::time::timeout(self.config.client_idle_timeout, tls.accept(stream)).await {
            Ok(Ok(stream)) => {
                let http2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let client = Downstream {
                    peer,
                    scheme: Scheme::Https,
                };
                self.serve_connection(stream, client, http2, shutdown).await;
            }
            Ok(Err(e)) => tracing::debug!(error = %e, %peer, "router: TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "router: TLS handshake timed out"),
        }
    }

    /// Serves one client connection, plain or TLS, over HTTP/1.1 or (`http2`) HTTP/2.
    async fn serve_connection<S>(
        self: Arc<Self>,
        stream: S,
        client: Downstream,
        http2: bool,
        shutdown: Shutdown,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let this = self.clone();
        let last_request = LastRequest::default();
        let service = {
            let last_request = last_request.clone();
            service_fn(move |req| {
                last_request.now();
                this.clone().handle(req, client)
            })
        };
        let io = TokioIo::new(stream);
        let result = if http2 {
            let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            builder.timer(TokioTimer::new()).max_header_list_size(
                u32::try_from(self.config.max_header_bytes).unwrap_or(u32::MAX),
            );
            let conn = builder.serve_connection(io, service);
            // HTTP/2 has no header-read timeout: a connection that starts no stream for the
            // idle timeout is asked to go away (streams still open finish first).
            let idle = last_request.idle_for(self.config.client_idle_timeout);
            until_shutdown(conn, |conn| conn.graceful_shutdown(), &shutdown, idle).await
        } else {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(self.config.client_idle_timeout)
                .max_buf_size(self.config.max_header_bytes.max(8192))
                .keep_alive(true);
            let conn = builder.serve_connection(io, service).with_upgrades();
            // hyper's header-read timeout covers idle keep-alive connections.
            let idle = std::future::pending::<bool>();
            until_shutdown(conn, |conn| conn.graceful_shutdown(), &shutdown, idle).await
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, peer = %client.peer, "router: client connection ended");
        }
    }

    async fn handle(
        self: Arc<Self>,
        mut req: Request<Incoming>,
        client: Downstream,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let started = Instant::now();
        let peer = client.peer;
        let host = request_host(&req);
        let request_id = headers::request_id(req.headers(), self.ids.as_ref());
        let sticky = sticky::requested_instance(req.headers());
        let upgrade = headers::is_upgrade(req.headers());
        let request_header = |name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut record = AccessLogRecord {
            started_at: self.clock.now(),
            remote_addr: peer,
            host: host.clone(),
            method: req.method().to_string(),
            path: req
                .uri()
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.to_string()),
            proto: format!("{:?}", req.version()),
            status: 0,
            bytes_received: 0,
            bytes_sent: 0,
            referer: request_header(header::REFERER),
            user_agent: request_header(header::USER_AGENT),
            x_forwarded_for: None,
            x_forwarded_proto: None,
            response_time: Duration::ZERO,
            app_time: None,
            endpoint: None,
            request_id: request_id.clone(),
            process_guid: None,
            app_id: None,
            app_index: None,
            instance_id: None,
            router_error: None,
        };
        let received = Arc::new(AtomicU64::new(0));
        let path = req.uri().path().to_owned();
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        // A body that is known to be empty can be sent again, so connect failures may retry.
        let mut body = if body.is_end_stream() {
            None
        } else {
            Some(body)
        };
        let mut failed: Vec<String> = Vec::new();
        // Worked out by the first attempt; retries reuse it.
        let mut route: Option<RouteKey> = None;

        for _ in 0..self.config.max_attempts.max(1) {
            let lookup = {
                let mut table = self.table.lock().expect("route table lock");
                match route.take() {
                    Some(known) => table.select_route(known, sticky.as_deref(), &failed),
                    None => table.select(&host, &path, sticky.as_deref(), &failed),
                }
            };
            let (found, endpoint, in_flight) = match lookup {
                Lookup::UnknownRoute if failed.is_empty() => {
                    if parts.method == Method::GET && path == self.config.health_path {
                        return Ok(self.finish(
                            record,
                            started,
                            &received,
                            plain(StatusCode::OK, "ok\n"),
                            None,
                        ));
                    }
                    if let Some(resp) = self.metrics.scrape(&parts.method, &path) {
                        return Ok(self.finish(record, started, &received, resp, None));
                    }
                    let resp = router_error(
                        StatusCode::NOT_FOUND,
                        router_error::UNKNOWN_ROUTE,
                        &format!("Requested route ('{host}') does not exist.\n"),
                    );
                    record.router_error = Some(router_error::UNKNOWN_ROUTE);
                    return Ok(self.finish(record, started, &received, resp, None));
                }
                Lookup::UnknownRoute | Lookup::NoEndpoints(_) if !failed.is_empty() => break,
                Lookup::UnknownRoute | Lookup::NoEndpoints(_) => {
                    let resp = router_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        router_error::NO_ENDPOINTS,
                        &format!("Requested route ('{host}') has no available endpoints.\n"),
                    );
                    record.router_error = Some(router_error::NO_ENDPOINTS);
                    return Ok(self.finish(record, started, &received, resp, None));
                }
                Lookup::Found {
                    route,
                    endpoint,
                    in_flight,
                } => (route, endpoint, in_flight),
            };
            let found = &*route.insert(found);
            record.endpoint = Some(endpoint.addr());
            record.process_guid = Some(endpoint.process_guid.clone());
            record.app_id = Some(endpoint.app_id.clone()).filter(|id| !id.is_empty());
            record.app_index = Some(endpoint.index);
            record.instance_id = Some(endpoint.instance_guid.clone());

            let outgoing = match body.take() {
                Some(incoming) => CountedBody {
                    inner: incoming,
                    count: received.clone(),
                }
                .boxed(),
                None => empty(),
            };
            let had_body = !outgoing.is_end_stream();
            let request =
                self.outgoing_request(&parts, outgoing, &endpoint, client, &request_id, upgrade);
            let forwarded = |name| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            record.x_forwarded_for = forwarded(headers::X_FORWARDED_FOR);
            record.x_forwarded_proto = forwarded(headers::X_FORWARDED_PROTO);
            let sent_at = Instant::now();
            let sent =
                tokio::time::timeout(self.config.endpoint_timeout, self.client.request(request))
                    .await;
            record.app_time = Some(sent_at.elapsed());
            match sent {
                Ok(Ok(mut resp)) => {
                    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                        if let Some(client_upgrade) = client_upgrade {
                            splice(client_upgrade, hyper::upgrade::on(&mut resp));
                        }
                    } else {
                        headers::strip_hop_by_hop(resp.headers_mut(), false);
                    }
                    sticky::add_vcap_cookie(resp.headers_mut(), &endpoint.instance_guid);
                    let resp = resp.map(BodyExt::boxed);
                    return Ok(self.finish(record, started, &received, resp, Some(in_flight)));
                }
                Ok(Err(e)) if e.is_connect() => {
                    tracing::warn!(endpoint = %endpoint, error = %e, "router: endpoint unreachable; pruning it");
                    self.prune(found, &endpoint);
                    failed.push(endpoint.addr());
                    if had_body {
                        break;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(endpoint = %endpoint, error = %e, "router: endpoint failed");
                    break;
                }
                Err(_) => {
                    let resp = router_error(
                        StatusCode::GATEWAY_TIMEOUT,
                        router_error::ENDPOINT_FAILURE,
                        "The endpoint did not answer in time.\n",
                    );
                    record.router_error = Some(router_error::ENDPOINT_FAILURE);
                    return Ok(self.finish(record, started, &received, resp, None));
                }
            }
        }
        let resp = router_error(
            StatusCode::BAD_GATEWAY,
            router_error::ENDPOINT_FAILURE,
            "The endpoint could not be reached.\n",
        );
        record.router_error = Some(router_error::ENDPOINT_FAILURE);
        Ok(self.finish(record, started, &received, resp, None))
    }

    fn outgoing_request(
        &self,
        parts: &http::request::Parts,
        body: ProxyBody,
        endpoint: &Endpoint,
        client: Downstream,
        request_id: &str,
        upgrade: bool,
    ) -> Request<ProxyBody> {
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri: Uri = format!("http://{}{}", endpoint.addr(), path_and_query)
            .parse()
            .unwrap_or_else(|_| Uri::from_static("/"));
        let mut request = Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = parts.headers.clone();
        let headers = request.headers_mut();
        // HTTP/2 carries the host as the `:authority`; the endpoint needs it as `Host`.
        if !headers.contains_key(header::HOST)
            && let Some(authority) = parts.uri.authority()
        {
            headers::set(headers, header::HOST, authority.as_str());
        }
        headers::strip_hop_by_hop(headers, upgrade);
        let now_ms = self.clock.now().timestamp_millis();
        headers::add_forwarded(headers, client.peer.ip(), client.scheme, request_id, now_ms);
        request
    }

    /// Removes an endpoint that refused a connection; the emitter re-registers it if it is
    /// still running at its next sync.
    fn prune(&self, route: &RouteKey, endpoint: &Endpoint) {
        self.table
            .lock()
            .expect("route table lock")
            .unregister(route, &endpoint.addr());
    }

    /// Adds the request id and wraps the body so the access-log record is written when the
    /// body is done.
    fn finish(
        &self,
        mut record: AccessLogRecord,
        started: Instant,
        received: &Arc<AtomicU64>,
        mut resp: Response<ProxyBody>,
        in_flight: Option<InFlight>,
    ) -> Response<ProxyBody> {
        if let Ok(value) = HeaderValue::from_str(&record.request_id) {
            resp.headers_mut().insert(X_VCAP_REQUEST_ID, value);
        }
        record.status = resp.status().as_u16();
        self.metrics.responded(
            record.status,
            record.router_error == Some(router_error::ENDPOINT_FAILURE),
        );
        let sink = self.access_log.clone();
        resp.map(|body| {
            LoggedBody {
                inner: body,
                pending: Some(Pending {
                    record,
                    started,
                    received: received.clone(),
                    sink,
                    _in_flight: in_flight,
                }),
            }
            .boxed()
        })
    }
}

/// Runs a client connection to its end; on `shutdown`, or once `idle` completes, it finishes
/// the requests it has and closes. `idle` tells whether the connection was never used: then
/// it is dropped at once, since an HTTP/2 client that never sent its preface would hold up a
/// graceful close for good.
async fn until_shutdown<C>(
    conn: C,
    graceful: impl FnOnce(Pin<&mut C>),
    shutdown: &Shutdown,
    idle: impl Future<Output = bool>,
) -> Result<(), hyper::Error>
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => res,
        () = shutdown.cancelled() => {
            graceful(conn.as_mut());
            conn.await
        }
        unused = idle => {
            if unused {
                return Ok(());
            }
            graceful(conn.as_mut());
            conn.await
        }
    }
}

/// When a connection last started a request.
#[derive(Clone)]
struct LastRequest {
    opened: Instant,
    /// Milliseconds after `opened`, plus one; 0 while no request has started.
    at_ms: Arc<AtomicU64>,
}

impl Default for LastRequest {
    fn default() -> Self {
        Self {
            opened: Instant::now(),
            at_ms: Arc::default(),
        }
    }
}

impl LastRequest {
    fn now(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.at_ms.store(ms + 1, Ordering::Relaxed);
    }

    /// Completes once no request has started for `timeout`; `true` when none ever did.
    async fn idle_for(&self, timeout: Duration) -> bool {
        loop {
            let at_ms = self.at_ms.load(Ordering::Relaxed);
            let last = self.opened + Duration::from_millis(at_ms.saturating_sub(1));
            let deadline = last + timeout;
            if Instant::now() >= deadline {
                return at_ms == 0;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// Splices the client's and the endpoint's upgraded connections (WebSocket).
fn splice(client: hyper::upgrade::OnUpgrade, endpoint: hyper::upgrade::OnUpgrade) {
    tokio::spawn(async move {
        let (client, endpoint) = match tokio::try_join!(client, endpoint) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "router: upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut endpoint = TokioIo::new(endpoint);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut endpoint).await;
    });
}

fn request_host(req: &Request<Incoming>) -> String {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .map(normalize_host)
        .unwrap_or_default()
}

fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

fn plain(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body.to_owned()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn router_error(status: StatusCode, error: &'static str, body: &str) -> Response<ProxyBody> {
    let mut resp = plain(status, &format!("{status}: {body}"));
    resp.headers_mut()
        .insert(X_CF_ROUTER_ERROR, HeaderValue::from_static(error));
    resp
}

struct Pending {
    record: AccessLogRecord,
    started: Instant,
    /// Request body bytes forwarded so far.
    received: Arc<AtomicU64>,
    sink: Arc<dyn AccessLogSink>,
    /// Counts the request against its endpoint until the response body is done.
    _in_flight: Option<InFlight>,
}

/// A response body that counts its bytes and writes the access-log record when it ends or
/// is dropped (a client that goes away still gets its line).
struct LoggedBody {
    inner: ProxyBody,
    pending: Option<Pending>,
}

impl LoggedBody {
    fn flush(&mut self) {
        if let Some(mut p) = self.pending.take() {
            p.record.response_time = p.started.elapsed();
            p.record.bytes_received = p.received.load(Ordering::Relaxed);
            p.sink.record(&p.record);
        }
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(p)) = (frame.data_ref(), this.pending.as_mut()) {
                    p.record.bytes_sent += data.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.flush(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The client's request body on its way to the endpoint, counting its bytes for the access log.
struct CountedBody {
    inner: Incoming,
    count: Arc<AtomicU64>,
}

impl Body for CountedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.count.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
