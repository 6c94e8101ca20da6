//! Starting what the cell won: claim (LRP) or start (task) in the BBS, create the container,
//! hand the executor its steps. After a restart of the cell, the re-adopted LRP instances get
//! their monitors back. Everything after that (running, crashes, completion) reaches the BBS
//! through the harmonizer, from the executor's events.

use std::sync::Arc;

use ingot_bbs::{ActualLrpInstanceKey, ActualLrpKey, DesiredLrp};

use super::Core;
use super::tags::{self, Workload};
use crate::executor::{ContainerState, CreateSpec, MetricsConfig};
use crate::logs::{LogTarget, RateLimit};
use crate::transform;

impl Core {
    fn log_target(&self, source_id: &str, source_type: &str, instance_id: String) -> LogTarget {
        LogTarget {
            sink: self.logs.clone(),
            clock: self.clock.clone(),
            source_id: source_id.to_owned(),
            source_type: source_type.to_owned(),
            instance_id,
            rate_limit: None,
        }
    }

    /// Where an LRP instance's steps log, within the LRP's log rate limit (one limiter per
    /// instance, so a noisy instance only loses its own lines).
    fn lrp_log_target(&self, desired: &DesiredLrp, index: u32) -> LogTarget {
        let source_type = if desired.log_source.is_empty() {
            "APP"
        } else {
            &desired.log_source
        };
        LogTarget {
            rate_limit: desired
                .log_rate_limit_bytes_per_second
                .map(|limit| RateLimit::new(limit, self.executor.rate_limited_lines())),
            ..self.log_target(&desired.log_guid, source_type, index.to_string())
        }
    }

    /// Gives the reservation back when the work cannot start.
    async fn abandon(&self, guid: &str, why: &str, err: String) {
        tracing::info!(guid, error = %err, "rep: {why}");
        let _ = self.executor.delete(guid).await;
    }

    pub(crate) async fn start_lrp(self: Arc<Self>, key: ActualLrpKey, guid: String) {
        let instance = ActualLrpInstanceKey::new(&guid, &self.config.cell_id);
        let desired = match self
            .bbs
            .desired_lrp_by_process_guid(&key.process_guid)
            .await
        {
            Ok(desired) => desired,
            Err(err) => {
                return self
                    .abandon(&guid, "no desired LRP for the instance", err.to_string())
                    .await;
            }
        };
        if let Err(err) = self.bbs.claim_actual_lrp(&key, &instance).await {
            return self
                .abandon(&guid, "could not claim the instance", err.to_string())
                .await;
        }
        let mut env = transform::env_pairs(&desired.env);
        env.extend([
            format!("CF_INSTANCE_INDEX={}", key.index),
            format!("CF_INSTANCE_GUID={guid}"),
            format!("INSTANCE_INDEX={}", key.index),
            format!("INSTANCE_GUID={guid}"),
        ]);
        let spec = CreateSpec {
            rootfs: desired.root_fs.clone(),
            env,
            ports: desired
                .ports
                .iter()
                .filter_map(|p| u16::try_from(*p).ok())
                .collect(),
            metrics: Some(MetricsConfig {
                guid: desired.log_guid.clone(),
                index: key.index,
                tags: desired.metric_tags.clone(),
            }),
            log: Some(self.log_target(&desired.log_guid, "CELL", key.index.to_string())),
            net_out: transform::net_out(&desired.egress_rules),
            max_pids: (desired.max_pids > 0).then_some(u64::from(desired.max_pids)),
        };
        // A failed create completes the container; the harmonizer crashes the instance.
        if self.executor.create(&guid, spec).await.is_err() {
            return;
        }
        let logs = self.lrp_log_target(&desired, key.index);
        let started = self.executor.step_context(&guid, logs).and_then(|ctx| {
            self.executor
                .run(&guid, transform::lrp_run_plan(&desired, &ctx))
        });
        if let Err(err) = started {
            // Stopped meanwhile: the harmonizer handles the completed container.
            tracing::debug!(%guid, error = %err, "rep: instance not started");
        }
    }

    /// Health-checks the running LRP instances among re-adopted containers with their
    /// LRP's checks, as before the restart but without the starting phase (they are known
    /// healthy), so that one that hangs is crashed and replaced. An instance whose LRP is no
    /// longer desired is left to the sync, which stops it.
    pub(crate) async fn monitor_adopted(&self, guids: &[String]) {
        for guid in guids {
            let Some(container) = self.executor.get(guid) else {
                continue;
            };
            let Some(Workload::Lrp { key, .. }) = tags::workload(&container, &self.config.cell_id)
            else {
                continue;
            };
            if container.state != ContainerState::Running {
                continue;
            }
            let desired = match self
                .bbs
                .desired_lrp_by_process_guid(&key.process_guid)
                .await
            {
                Ok(desired) => desired,
                Err(err) => {
                    tracing::warn!(%guid, error = %err, "rep: re-adopted instance not health-checked");
                    continue;
                }
            };
            let logs = self.lrp_log_target(&desired, key.index);
            let monitored = self.executor.step_context(guid, logs).and_then(|ctx| {
                self.executor
                    .monitor_adopted(guid, transform::adopted_lrp_monitor(&desired, &ctx))
            });
            if let Err(err) = monitored {
                // It completed meanwhile: the harmonizer handles it.
                tracing::debug!(%guid, error = %err, "rep: re-adopted instance not health-checked");
            }
        }
    }

    pub(crate) async fn start_task(self: Arc<Self>, guid: String) {
        match self.bbs.start_task(&guid, &self.config.cell_id).await {
            Ok(true) => {}
            Ok(false) => {
                return self
                    .abandon(&guid, "task already started here", String::new())
                    .await;
            }
            Err(err) => {
                return self
                    .abandon(&guid, "could not start the task", err.to_string())
                    .await;
            }
        }
        let task = match self.bbs.task_by_guid(&guid).await {
            Ok(task) => task,
            Err(err) => return self.abandon(&guid, "task vanished", err.to_string()).await,
        };
        let def = &task.task_definition;
        let spec = CreateSpec {
            rootfs: def.root_fs.clone(),
            env: transform::env_pairs(&def.env),
            ports: Vec::new(),
            // A task is instance 0 of its log guid, as Diego reports it.
            metrics: Some(MetricsConfig {
                guid: def.log_guid.clone(),
                ..MetricsConfig::default()
            }),
            log: None,
            net_out: transform::net_out(&def.egress_rules),
            max_pids: (def.max_pids > 0).then_some(u64::from(def.max_pids)),
        };
        if self.executor.create(&guid, spec).await.is_err() {
            return;
        }
        let source_type = if def.log_source.is_empty() {
            "TASK"
        } else {
            &def.log_source
        };
        let logs = self.log_target(&def.log_guid, source_type, String::new());
        let started = self.executor.step_context(&guid, logs).and_then(|ctx| {
            self.executor
                .run(&guid, transform::task_run_plan(&task, &ctx))
        });
        if let Err(err) = started {
            tracing::debug!(%guid, error = %err, "rep: task not started");
        }
    }
}
