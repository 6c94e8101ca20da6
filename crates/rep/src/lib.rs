//! Diego's cell: the rep and the executor.
//!
//! What it knows: the rep (`rep/`) knows Tasks and LRPs and their life cycles as the BBS
//! records them; it bids in auctions (`ingot_auction::CellClient`), claims, starts, crashes
//! and removes ActualLRPs, starts and completes Tasks, heartbeats its presence, keeps the
//! BBS and its containers in step (the generator and the harmonizer), and reports its
//! containers' usage as container-metrics gauges. The executor
//! (`executor/`) knows only containers (allocations against the cell's capacity, a state
//! machine) and trees of composable steps (run, download, upload, serial, parallel,
//! codependent, timeout, try, emit progress, monitor). `transform` is the one module that
//! knows both BBS actions and executor steps.
//!
//! What it must NOT know: apps, processes, droplets, buildpacks, routes or anything of the
//! Cloud Controller; how the BBS stores its records; how Garden isolates a container. In the
//! gradient `capi -> bbs -> auction -> rep -> garden` it sits below the auction and above
//! Garden, which it reaches only through `ingot_garden::Garden`.

#![forbid(unsafe_code)]

mod config;
mod error;
pub mod executor;
pub mod http;
pub mod log_rate_limit;
pub mod logs;
pub mod rep;
pub mod transform;

pub use config::{CellCapacity, CellConfig, HealthCheckConfig};
pub use error::Error;
pub use http::{HttpRepClient, HttpRepClients};
pub use logs::{LogLine, LogSink, LogStream, MemoryLogSink, TracingLogSink};
pub use rep::{Cell, CellDeps, LocalRepClients};
