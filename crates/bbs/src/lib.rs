//! Diego's BBS (bulletin board system): the runtime state of a Cloud Foundry deployment.
//!
//! What it knows: Tasks and LRPs (DesiredLRPs and their ActualLRPs), domains and their
//! freshness, cell presences, and the life cycles of all of these. It keeps them in its own
//! database, publishes every change on an events stream, converges ActualLRPs towards
//! DesiredLRPs, and hands unplaced work to the auction.
//!
//! What it must NOT know: apps, processes, droplets, buildpacks, what a route means, spaces or
//! anything else of the Cloud Controller (routes and annotations are opaque JSON here); how a
//! cell runs containers (it only talks to reps through `RepClient`). In the gradient
//! `capi -> bbs -> auction -> rep -> garden` it sits below the Cloud Controller's nsync and
//! stager, and above the auction and the reps.

#![forbid(unsafe_code)]

pub mod api;
mod auctioneer;
mod cells;
pub mod client;
pub mod config;
pub mod error;
mod events;
pub mod http;
pub mod loops;
mod metrics;
pub mod models;
pub mod rep_client;
mod service;
pub mod store;

pub use api::{BbsApi, EventStream};
pub use client::BbsClient;
pub use config::BbsConfig;
pub use error::{Error, FieldError};
pub use loops::converger::{ConvergenceInput, ConvergenceResult, ConvergenceRules};
pub use models::*;
pub use rep_client::{RepClient, RepClientFactory};
pub use service::{Bbs, BbsDeps, TASK_CANCELLED};
