//! The router (CF's gorouter) and the route emitter (Diego's) that feeds it.
//!
//! What it knows: routes (a host plus an optional context path), the endpoints behind them
//! (address, port, and the instance guid, index and process guid of the ActualLRP that runs
//! there), and HTTP: proxying, retries, sticky sessions, forwarded headers, timeouts,
//! upgrades, TLS termination and HTTP/2. The route emitter reads DesiredLRPs' opaque `routes["cf-router"]` and RUNNING
//! ActualLRPs from the BBS and keeps the route table equal to them.
//!
//! What it must NOT know: apps, spaces, organisations, domains as the Cloud Controller models
//! them, or anything else of the Cloud Controller. A route is only what the BBS carries.
//!
//! Starting both (one shared table):
//! ```no_run
//! # async fn run(bbs: std::sync::Arc<dyn ingot_bbs::BbsApi>, listener: tokio::net::TcpListener,
//! #     shutdown: ingot_core::Shutdown) {
//! use ingot_router::{EmitterConfig, LoadBalancing, RouteEmitter, RouteTable, Router, RouterConfig};
//! let table = RouteTable::shared(LoadBalancing::RoundRobin);
//! let emitter = RouteEmitter::new(bbs, table.clone(), EmitterConfig::default());
//! tokio::spawn(emitter.run(shutdown.clone()));
//! Router::new(RouterConfig::default(), table).serve(listener, shutdown).await.unwrap();
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod access_log;
pub mod emitter;
pub mod endpoint;
pub mod error;
pub mod headers;
mod metrics;
pub mod proxy;
pub mod route;
pub mod sticky;
pub mod table;
pub mod tls;
mod workers;

pub use access_log::{AccessLogRecord, AccessLogSink, TracingAccessLog};
pub use emitter::{
    CfRoute, EmitterCache, EmitterConfig, Registrations, RouteEmitter, registrations,
};
pub use endpoint::Endpoint;
pub use error::Error;
pub use proxy::{Router, RouterConfig};
pub use route::RouteKey;
pub use table::{LoadBalancing, Lookup, RouteTable, SharedRouteTable};
