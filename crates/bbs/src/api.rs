//! `BbsApi`: the one trait every BBS caller codes against. `Bbs` implements it in process and
//! `BbsClient` over HTTP, so a rep or the Cloud Controller cannot tell which it holds.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures::{Stream, StreamExt};

use crate::error::Error;
use crate::models::{
    ActualLrp, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, CellPresence, DesiredLrp,
    DesiredLrpFilter, DesiredLrpUpdate, Event, NetInfo, Task, TaskDefinition, TaskFilter,
};

/// A subscription to the events stream. It ends with `Err` (see
/// `Error::is_subscriber_lagged`) when the subscriber falls too far behind, and with `None`
/// when the BBS shuts down.
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<Event, Error>> + Send>>,
}

impl EventStream {
    pub fn new(stream: impl Stream<Item = Result<Event, Error>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(stream),
        }
    }

    /// The next event; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<Event, Error>> {
        self.inner.next().await
    }
}

impl Stream for EventStream {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

/// Diego's BBS API. Every method may also return `Error::Unavailable` when the database or the
/// network fails; the lists below name the other errors.
#[async_trait]
pub trait BbsApi: Send + Sync + 'static {
    // ----- domains and cells -----

    /// Marks `domain` fresh for `ttl` (zero: forever). Errors: `Validation` (empty name).
    async fn upsert_domain(&self, domain: &str, ttl: Duration) -> Result<(), Error>;

    /// The names of the fresh domains. Errors: only `Unavailable`.
    async fn domains(&self) -> Result<Vec<String>, Error>;

    /// The cells whose presence has not expired, ordered by cell id. Errors: only `Unavailable`.
    async fn cells(&self) -> Result<Vec<CellPresence>, Error>;

    /// Announces a cell, or renews its presence (the rep's heartbeat) for `ttl`.
    /// Errors: `Validation` (no cell id or rep address).
    async fn register_cell(&self, presence: CellPresence, ttl: Duration) -> Result<(), Error>;

    // ----- desired LRPs -----

    /// Stores a new DesiredLRP, creates its UNCLAIMED ActualLRPs and requests their auction.
    /// Errors: `Validation`, `Conflict` (the process guid exists).
    async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<(), Error>;

    /// Changes instances, routes or annotation. More instances are created and auctioned;
    /// fewer retire the highest indices. Errors: `NotFound`, `Validation`.
    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: DesiredLrpUpdate,
    ) -> Result<(), Error>;

    /// Removes the DesiredLRP and retires all its ActualLRPs. Errors: `NotFound`.
    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<(), Error>;

    /// DesiredLRPs matching the filter, ordered by process guid. Errors: only `Unavailable`.
    async fn desired_lrps(&self, filter: DesiredLrpFilter) -> Result<Vec<DesiredLrp>, Error>;

    /// Errors: `NotFound`.
    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> Result<DesiredLrp, Error>;

    // ----- actual LRPs (reported by reps) -----

    /// ActualLRPs matching the filter, ordered by process guid and index.
    /// Errors: only `Unavailable`.
    async fn actual_lrps(&self, filter: ActualLrpFilter) -> Result<Vec<ActualLrp>, Error>;

    /// A rep reserves the slot for its container. Errors: `NotFound`, `InvalidTransition`
    /// (held by another instance, or CRASHED).
    async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), Error>;

    /// A rep reports the container running. Creates the record if it is missing (a container
    /// the rep re-adopted). Errors: `InvalidTransition` (RUNNING or CRASHED under another
    /// instance).
    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        net_info: NetInfo,
    ) -> Result<(), Error>;

    /// A rep reports the process exited. The restart calculator decides: UNCLAIMED and
    /// re-auctioned at once, or CRASHED until its back-off ends.
    /// Errors: `NotFound`, `InvalidTransition` (not held by this instance).
    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> Result<(), Error>;

    /// Records why the auction could not place an UNCLAIMED instance.
    /// Errors: `NotFound`, `InvalidTransition` (not UNCLAIMED).
    async fn fail_actual_lrp(&self, key: &ActualLrpKey, placement_error: &str)
    -> Result<(), Error>;

    /// Deletes the record; with `instance`, only while that instance holds it.
    /// Errors: `NotFound`, `InvalidTransition` (held by another instance).
    async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: Option<&ActualLrpInstanceKey>,
    ) -> Result<(), Error>;

    /// Stops the instance through its cell's rep, then removes the record.
    /// Errors: `NotFound`, `Unavailable` (the rep did not answer; convergence tries again).
    async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<(), Error>;

    // ----- tasks -----

    /// Stores a PENDING task and requests its auction. Errors: `Validation`, `Conflict`.
    async fn desire_task(
        &self,
        task_guid: &str,
        domain: &str,
        definition: TaskDefinition,
    ) -> Result<(), Error>;

    /// Tasks matching the filter, ordered by creation. Errors: only `Unavailable`.
    async fn tasks(&self, filter: TaskFilter) -> Result<Vec<Task>, Error>;

    /// Errors: `NotFound`.
    async fn task_by_guid(&self, task_guid: &str) -> Result<Task, Error>;

    /// A rep starts the task. Returns false when this cell already runs it (do not start it
    /// twice). Errors: `NotFound`, `InvalidTransition`.
    async fn start_task(&self, task_guid: &str, cell_id: &str) -> Result<bool, Error>;

    /// Fails the task with "task was cancelled" and asks its cell to stop it.
    /// Errors: `NotFound`, `InvalidTransition` (already COMPLETED or RESOLVING).
    async fn cancel_task(&self, task_guid: &str) -> Result<(), Error>;

    /// Errors: `NotFound`, `InvalidTransition` (already COMPLETED or RESOLVING).
    async fn fail_task(&self, task_guid: &str, reason: &str) -> Result<(), Error>;

    /// The cell running the task reports its end; a completion callback, if any, is sent.
    /// Errors: `NotFound`, `InvalidTransition` (not RUNNING on `cell_id`).
    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<(), Error>;

    /// A client takes responsibility for a COMPLETED task's result.
    /// Errors: `NotFound`, `InvalidTransition`.
    async fn resolving_task(&self, task_guid: &str) -> Result<(), Error>;

    /// Deletes a RESOLVING task. Errors: `NotFound`, `InvalidTransition`.
    async fn delete_task(&self, task_guid: &str) -> Result<(), Error>;

    // ----- events -----

    /// Every event committed from now on. Errors: only `Unavailable`.
    async fn subscribe(&self) -> Result<EventStream, Error>;
}
