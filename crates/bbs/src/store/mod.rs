//! Storage behind a trait with domain-shaped methods. Writes run the pure transition functions
//! inside their transaction and return the record before and after, so the service can build
//! events once the commit succeeds. Nothing here emits events.

mod memory;
mod sqlite;

use async_trait::async_trait;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

use crate::error::Error;
use crate::models::{
    ActualLrp, ActualLrpEvent, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, DesiredLrp,
    DesiredLrpFilter, DesiredLrpUpdate, Domain, Nanos, NetInfo, Task, TaskEvent, TaskFilter,
    TransitionContext,
};

/// The BBS database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ----- domains -----
    async fn upsert_domain(&self, name: &str, expires_at: Option<Nanos>) -> Result<(), Error>;
    async fn domains(&self) -> Result<Vec<Domain>, Error>;

    // ----- desired LRPs -----
    /// Inserts the DesiredLRP and its first ActualLRPs together. Errors: `Conflict`.
    async fn desire_lrp(&self, lrp: &DesiredLrp, actuals: &[ActualLrp]) -> Result<(), Error>;
    /// Errors: `NotFound`.
    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: &DesiredLrpUpdate,
    ) -> Result<(DesiredLrp, DesiredLrp), Error>;
    /// Errors: `NotFound`.
    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp, Error>;
    async fn desired_lrps(&self, filter: &DesiredLrpFilter) -> Result<Vec<DesiredLrp>, Error>;
    /// Errors: `NotFound`.
    async fn desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp, Error>;

    // ----- actual LRPs -----
    async fn actual_lrps(&self, filter: &ActualLrpFilter) -> Result<Vec<ActualLrp>, Error>;
    /// Errors: `NotFound`.
    async fn actual_lrp(&self, process_guid: &str, index: u32) -> Result<ActualLrp, Error>;
    /// Inserts a new UNCLAIMED record. Errors: `Conflict`.
    async fn create_unclaimed_actual_lrp(&self, lrp: &ActualLrp) -> Result<(), Error>;
    /// Applies one event with `models::transition_actual_lrp`; `Remove` deletes the record.
    /// Errors: `NotFound`, `InvalidTransition`.
    async fn change_actual_lrp(
        &self,
        key: &ActualLrpKey,
        event: &ActualLrpEvent,
        ctx: &TransitionContext,
    ) -> Result<(ActualLrp, ActualLrp), Error>;
    /// Starts the instance, creating the record first when it is missing (a re-adopted
    /// container). Returns `None` as "before" in that case. Errors: `InvalidTransition`.
    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        net_info: &NetInfo,
        epoch: &str,
        ctx: &TransitionContext,
    ) -> Result<(Option<ActualLrp>, ActualLrp), Error>;

    // ----- tasks -----
    /// Errors: `Conflict`.
    async fn desire_task(&self, task: &Task) -> Result<(), Error>;
    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>, Error>;
    /// Errors: `NotFound`.
    async fn task(&self, task_guid: &str) -> Result<Task, Error>;
    /// Applies one event with `models::transition_task`; `Resolve` deletes the record.
    /// Errors: `NotFound`, `InvalidTransition`.
    async fn change_task(
        &self,
        task_guid: &str,
        event: &TaskEvent,
        now: Nanos,
    ) -> Result<(Task, Task), Error>;
    /// Deletes a task whatever its state (the reaper). Errors: `NotFound`.
    async fn remove_task(&self, task_guid: &str) -> Result<Task, Error>;

    // ----- domain-shaped shorthands -----
    async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        ctx: &TransitionContext,
    ) -> Result<(ActualLrp, ActualLrp), Error> {
        self.change_actual_lrp(key, &ActualLrpEvent::Claim(instance.clone()), ctx)
            .await
    }

    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
        ctx: &TransitionContext,
    ) -> Result<(ActualLrp, ActualLrp), Error> {
        let event = ActualLrpEvent::Crash(instance.clone(), reason.to_owned());
        self.change_actual_lrp(key, &event, ctx).await
    }

    async fn fail_actual_lrp(
        &self,
        key: &ActualLrpKey,
        placement_error: &str,
        ctx: &TransitionContext,
    ) -> Result<(ActualLrp, ActualLrp), Error> {
        let event = ActualLrpEvent::Fail(placement_error.to_owned());
        self.change_actual_lrp(key, &event, ctx).await
    }

    async fn unclaim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ctx: &TransitionContext,
    ) -> Result<(ActualLrp, ActualLrp), Error> {
        self.change_actual_lrp(key, &ActualLrpEvent::Unclaim, ctx)
            .await
    }

    /// Returns the removed record.
    async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: Option<&ActualLrpInstanceKey>,
        ctx: &TransitionContext,
    ) -> Result<ActualLrp, Error> {
        let event = ActualLrpEvent::Remove(instance.cloned());
        Ok(self.change_actual_lrp(key, &event, ctx).await?.0)
    }
}

#[cfg(test)]
mod tests;
