//! An in-memory store: the fake for service tests and the reference for the store contract.
//! Same transition functions as SQLite, under one lock instead of a transaction.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::Store;
use crate::error::Error;
use crate::models::{
    ActualLrp, ActualLrpEvent, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, DesiredLrp,
    DesiredLrpFilter, DesiredLrpUpdate, Domain, Nanos, NetInfo, Task, TaskEvent, TaskFilter,
    TransitionContext, transition_actual_lrp, transition_task,
};

#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    domains: BTreeMap<String, Option<Nanos>>,
    desired: BTreeMap<String, DesiredLrp>,
    actual: BTreeMap<(String, u32), ActualLrp>,
    tasks: BTreeMap<String, Task>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("store lock")
    }
}

fn lrp_key(key: &ActualLrpKey) -> (String, u32) {
    (key.process_guid.clone(), key.index)
}

#[async_trait]
impl Store for MemoryStore {
    async fn upsert_domain(&self, name: &str, expires_at: Option<Nanos>) -> Result<(), Error> {
        self.state().domains.insert(name.to_owned(), expires_at);
        Ok(())
    }

    async fn domains(&self) -> Result<Vec<Domain>, Error> {
        Ok(self
            .state()
            .domains
            .iter()
            .map(|(name, expires_at)| Domain {
                name: name.clone(),
                expires_at: *expires_at,
            })
            .collect())
    }

    async fn desire_lrp(&self, lrp: &DesiredLrp, actuals: &[ActualLrp]) -> Result<(), Error> {
        let mut state = self.state();
        if state.desired.contains_key(&lrp.process_guid) {
            return Err(Error::conflict(format!(
                "desired LRP {} already exists",
                lrp.process_guid
            )));
        }
        state.desired.insert(lrp.process_guid.clone(), lrp.clone());
        for a in actuals {
            state.actual.insert(lrp_key(&a.key()), a.clone());
        }
        Ok(())
    }

    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: &DesiredLrpUpdate,
    ) -> Result<(DesiredLrp, DesiredLrp), Error> {
        let mut state = self.state();
        let lrp = state
            .desired
            .get_mut(process_guid)
            .ok_or_else(|| Error::not_found("desired LRP", process_guid))?;
        let before = lrp.clone();
        lrp.apply(update);
        Ok((before, lrp.clone()))
    }

    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp, Error> {
        self.state()
            .desired
            .remove(process_guid)
            .ok_or_else(|| Error::not_found("desired LRP", process_guid))
    }

    async fn desired_lrps(&self, filter: &DesiredLrpFilter) -> Result<Vec<DesiredLrp>, Error> {
        Ok(self
            .state()
            .desired
            .values()
            .filter(|l| filter.matches(l))
            .cloned()
            .collect())
    }

    async fn desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp, Error> {
        self.state()
            .desired
            .get(process_guid)
            .cloned()
            .ok_or_else(|| Error::not_found("desired LRP", process_guid))
    }

    async fn actual_lrps(&self, filter: &ActualLrpFilter) -> Result<Vec<ActualLrp>, Error> {
        Ok(self
            .state()
            .actual
            .values()
            .filter(|l| filter.matches(l))
            .cloned()
            .collect())
    }

    async fn actual_lrp(&self, process_guid: &str, index: u32) -> Result<ActualLrp, Error> {
        self.state()
            .actual
            .get(&(process_guid.to_owned(), index))
            .cloned()
            .ok_or_else(|| Error::not_found("actual LRP", format!("{process_guid}/{index}")))
    }

    async fn create_unclaimed_actual_lrp(&self, lrp: &ActualLrp) -> Result<(), Error> {
        let mut state = self.state();
        let key = lrp_key(&lrp.key());
        if state.actual.contains_key(&key) {
            return Err(Error::conflict(format!(
                "actual LRP {}/{} already exists",
                lrp.process_guid, lrp.index
            )));
        }
        state.actual.insert(key, lrp.clone());
        Ok(())
    }

    async fn change_actual_lrp(
        &self,
        key: &ActualLrpKey,
        event: &ActualLrpEvent,
        ctx: &TransitionContext,
    ) -> Result<(ActualLrp, ActualLrp), Error> {
        let mut state = self.state();
        let k = lrp_key(key);
        let before = state
            .actual
            .get(&k)
            .cloned()
            .ok_or_else(|| Error::not_found("actual LRP", key))?;
        let after = transition_actual_lrp(&before, event, ctx)?;
        if matches!(event, ActualLrpEvent::Remove(_)) {
            state.actual.remove(&k);
        } else {
            state.actual.insert(k, after.clone());
        }
        Ok((before, after))
    }

    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        net_info: &NetInfo,
        epoch: &str,
        ctx: &TransitionContext,
    ) -> Result<(Option<ActualLrp>, ActualLrp), Error> {
        let mut state = self.state();
        let k = lrp_key(key);
        let before = state.actual.get(&k).cloned();
        let base = before
            .clone()
            .unwrap_or_else(|| ActualLrp::unclaimed(key, epoch, ctx.now));
        let event = ActualLrpEvent::Start(instance.clone(), net_info.clone());
        let after = transition_actual_lrp(&base, &event, ctx)?;
        state.actual.insert(k, after.clone());
        Ok((before, after))
    }

    async fn desire_task(&self, task: &Task) -> Result<(), Error> {
        let mut state = self.state();
        if state.tasks.contains_key(&task.task_guid) {
            return Err(Error::conflict(format!(
                "task {} already exists",
                task.task_guid
            )));
        }
        state.tasks.insert(task.task_guid.clone(), task.clone());
        Ok(())
    }

    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>, Error> {
        let mut tasks: Vec<Task> = self
            .state()
            .tasks
            .values()
            .filter(|t| filter.matches(t))
            .cloned()
            .collect();
        tasks.sort_by(|a, b| (a.created_at, &a.task_guid).cmp(&(b.created_at, &b.task_guid)));
        Ok(tasks)
    }

    async fn task(&self, task_guid: &str) -> Result<Task, Error> {
        self.state()
            .tasks
            .get(task_guid)
            .cloned()
            .ok_or_else(|| Error::not_found("task", task_guid))
    }

    async fn change_task(
        &self,
        task_guid: &str,
        event: &TaskEvent,
        now: Nanos,
    ) -> Result<(Task, Task), Error> {
        let mut state = self.state();
        let before = state
            .tasks
            .get(task_guid)
            .cloned()
            .ok_or_else(|| Error::not_found("task", task_guid))?;
        let after = transition_task(&before, event, now)?;
        if matches!(event, TaskEvent::Resolve) {
            state.tasks.remove(task_guid);
        } else {
            state.tasks.insert(task_guid.to_owned(), after.clone());
        }
        Ok((before, after))
    }

    async fn remove_task(&self, task_guid: &str) -> Result<Task, Error> {
        self.state()
            .tasks
            .remove(task_guid)
            .ok_or_else(|| Error::not_found("task", task_guid))
    }
}
