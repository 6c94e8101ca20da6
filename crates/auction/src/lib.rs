//! Diego's auction: where LRP instances and tasks run.
//!
//! The auction batches start requests, asks every cell (through its rep) what it has free,
//! scores each cell for each piece of work, and sends each cell the work it won. Placement is
//! a pure, deterministic function of cell snapshots, so it can be tested and simulated with no
//! network.
//!
//! What it knows: LRP instances and tasks only as resource requests (memory, disk, a container
//! slot) with placement constraints (rootfs, placement tags, volume drivers); cells as state
//! snapshots (zone, capacity, what runs there); and cell clients as two calls, `state` and
//! `perform`.
//!
//! What it must NOT know: apps, processes, droplets or anything of the Cloud Controller; HTTP,
//! databases or locks; how a rep runs a container. In the gradient
//! `capi -> bbs -> auction -> rep -> garden` it sits below the BBS, which feeds it work and
//! receives its results through `AuctionDelegate`, and above the rep, which it reaches only
//! through `CellClient`.

#![forbid(unsafe_code)]

pub mod batch;
pub mod clock;
pub mod error;
pub mod model;
pub mod runner;
pub mod scheduler;
pub mod scoring;
pub mod simulation;

pub use batch::Batch;
pub use clock::{Clock, FakeClock, TokioClock};
pub use error::{CellError, PlacementError};
pub use model::{
    AuctionRecord, AuctionResults, Capacity, CellState, Lrp, LrpAuction, LrpInstance,
    LrpStartRequest, PlacementConstraint, Resource, TaskAuction, TaskStartRequest, Work,
};
pub use runner::{AuctionDelegate, AuctionRunner, CellClient, CellClients, RunnerConfig};
pub use scheduler::{Schedule, Scheduler, SchedulerConfig};
pub use scoring::Weights;
