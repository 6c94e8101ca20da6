//! `BbsApi` for the in-process service: argument checks, then the workflows in `Core`.

use std::time::Duration;

use async_trait::async_trait;

use crate::api::{BbsApi, EventStream};
use crate::error::Error;
use crate::models::{
    ActualLrp, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, CellPresence, DesiredLrp,
    DesiredLrpFilter, DesiredLrpUpdate, NetInfo, Task, TaskDefinition, TaskEvent, TaskFilter,
    Validator,
};
use crate::service::Bbs;

fn check_key(key: &ActualLrpKey) -> Result<(), Error> {
    let mut v = Validator::new();
    v.require(&key.process_guid, "actual_lrp_key.process_guid");
    v.require(&key.domain, "actual_lrp_key.domain");
    v.finish()
}

fn check_instance(instance: &ActualLrpInstanceKey) -> Result<(), Error> {
    let mut v = Validator::new();
    v.require(
        &instance.instance_guid,
        "actual_lrp_instance_key.instance_guid",
    );
    v.require(&instance.cell_id, "actual_lrp_instance_key.cell_id");
    v.finish()
}

#[async_trait]
impl BbsApi for Bbs {
    async fn upsert_domain(&self, domain: &str, ttl: Duration) -> Result<(), Error> {
        if domain.trim().is_empty() {
            return Err(Error::validation("domain", "is required"));
        }
        let expires_at = self.core.expiry(ttl);
        self.core.store.upsert_domain(domain, expires_at).await
    }

    async fn domains(&self) -> Result<Vec<String>, Error> {
        let now = self.core.now();
        let domains = self.core.store.domains().await?;
        Ok(domains
            .into_iter()
            .filter(|d| d.is_fresh(now))
            .map(|d| d.name)
            .collect())
    }

    async fn cells(&self) -> Result<Vec<CellPresence>, Error> {
        Ok(self.core.cells.fresh(self.core.now()))
    }

    async fn register_cell(&self, presence: CellPresence, ttl: Duration) -> Result<(), Error> {
        presence.validate()?;
        let ttl = if ttl.is_zero() {
            Duration::from_secs(15)
        } else {
            ttl
        };
        let expires_at = self.core.expiry(ttl).unwrap_or(i64::MAX);
        self.core.cells.register(presence, expires_at);
        Ok(())
    }

    async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<(), Error> {
        self.core.desire_lrp(lrp).await
    }

    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: DesiredLrpUpdate,
    ) -> Result<(), Error> {
        self.core.update_desired_lrp(process_guid, update).await
    }

    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<(), Error> {
        self.core.remove_desired_lrp(process_guid).await
    }

    async fn desired_lrps(&self, filter: DesiredLrpFilter) -> Result<Vec<DesiredLrp>, Error> {
        self.core.store.desired_lrps(&filter).await
    }

    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> Result<DesiredLrp, Error> {
        self.core.store.desired_lrp(process_guid).await
    }

    async fn actual_lrps(&self, filter: ActualLrpFilter) -> Result<Vec<ActualLrp>, Error> {
        self.core.store.actual_lrps(&filter).await
    }

    async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), Error> {
        check_key(key)?;
        check_instance(instance)?;
        self.core.claim_actual_lrp(key, instance).await
    }

    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        net_info: NetInfo,
    ) -> Result<(), Error> {
        check_key(key)?;
        check_instance(instance)?;
        self.core.start_actual_lrp(key, instance, net_info).await
    }

    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> Result<(), Error> {
        check_key(key)?;
        check_instance(instance)?;
        self.core.crash_actual_lrp(key, instance, reason).await
    }

    async fn fail_actual_lrp(
        &self,
        key: &ActualLrpKey,
        placement_error: &str,
    ) -> Result<(), Error> {
        check_key(key)?;
        self.core.fail_actual_lrp(key, placement_error).await
    }

    async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: Option<&ActualLrpInstanceKey>,
    ) -> Result<(), Error> {
        check_key(key)?;
        self.core.remove_actual_lrp(key, instance).await
    }

    async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<(), Error> {
        check_key(key)?;
        self.core.retire_actual_lrp(key).await
    }

    async fn desire_task(
        &self,
        task_guid: &str,
        domain: &str,
        definition: TaskDefinition,
    ) -> Result<(), Error> {
        self.core.desire_task(task_guid, domain, definition).await
    }

    async fn tasks(&self, filter: TaskFilter) -> Result<Vec<Task>, Error> {
        self.core.store.tasks(&filter).await
    }

    async fn task_by_guid(&self, task_guid: &str) -> Result<Task, Error> {
        self.core.store.task(task_guid).await
    }

    async fn start_task(&self, task_guid: &str, cell_id: &str) -> Result<bool, Error> {
        if cell_id.is_empty() {
            return Err(Error::validation("cell_id", "is required"));
        }
        self.core.start_task(task_guid, cell_id).await
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<(), Error> {
        self.core.cancel_task(task_guid).await
    }

    async fn fail_task(&self, task_guid: &str, reason: &str) -> Result<(), Error> {
        let event = TaskEvent::Fail {
            failure_reason: reason.to_owned(),
        };
        self.core.fail_task(task_guid, &event).await
    }

    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<(), Error> {
        self.core
            .complete_task(task_guid, cell_id, failed, failure_reason, result)
            .await
    }

    async fn resolving_task(&self, task_guid: &str) -> Result<(), Error> {
        self.core.resolving_task(task_guid).await.map(|_| ())
    }

    async fn delete_task(&self, task_guid: &str) -> Result<(), Error> {
        self.core.delete_task(task_guid).await
    }

    async fn subscribe(&self) -> Result<EventStream, Error> {
        Ok(self.core.hub.subscribe())
    }
}
