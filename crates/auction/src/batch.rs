//! Collects start requests between auction rounds and hands them out all at once. A request
//! for an LRP instance (process guid + index) or task (task guid) already waiting is dropped,
//! so a retried or repeated request never places the same work twice in one round.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::model::{Lrp, LrpAuction, LrpStartRequest, TaskAuction, TaskStartRequest};

/// The work waiting for the next auction round.
pub struct Batch {
    clock: Arc<dyn Clock>,
    pending: Mutex<Pending>,
    has_work: Notify,
}

#[derive(Default)]
struct Pending {
    lrps: Vec<LrpAuction>,
    tasks: Vec<TaskAuction>,
    lrp_keys: HashSet<(String, u32)>,
    task_keys: HashSet<String>,
}

impl Pending {
    fn push_lrp(&mut self, auction: LrpAuction) -> bool {
        let key = (auction.lrp.process_guid.clone(), auction.lrp.index);
        let fresh = self.lrp_keys.insert(key);
        if fresh {
            self.lrps.push(auction);
        }
        fresh
    }

    fn push_task(&mut self, auction: TaskAuction) -> bool {
        let fresh = self.task_keys.insert(auction.task.task_guid.clone());
        if fresh {
            self.tasks.push(auction);
        }
        fresh
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (lrps, tasks) = self.len();
        f.debug_struct("Batch")
            .field("lrps", &lrps)
            .field("tasks", &tasks)
            .finish()
    }
}

impl Batch {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            pending: Mutex::new(Pending::default()),
            has_work: Notify::new(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().expect("batch lock")
    }

    /// Queues one auction per requested index, stamped with the queue time. Returns how many
    /// were new.
    pub fn add_lrp_starts(&self, starts: Vec<LrpStartRequest>) -> usize {
        let now = self.clock.now();
        let mut added = 0;
        {
            let mut pending = self.pending();
            for start in starts {
                for &index in &start.indices {
                    let lrp = Lrp {
                        process_guid: start.process_guid.clone(),
                        index,
                        domain: start.domain.clone(),
                        resource: start.resource,
                        constraint: start.constraint.clone(),
                    };
                    added += usize::from(pending.push_lrp(LrpAuction::new(lrp, now)));
                }
            }
        }
        self.has_work.notify_one();
        added
    }

    /// Queues one auction per task, stamped with the queue time. Returns how many were new.
    pub fn add_task_starts(&self, tasks: Vec<TaskStartRequest>) -> usize {
        let now = self.clock.now();
        let added = {
            let mut pending = self.pending();
            tasks
                .into_iter()
                .filter(|t| pending.push_task(TaskAuction::new(t.clone(), now)))
                .count()
        };
        self.has_work.notify_one();
        added
    }

    /// Puts work back for another round, keeping its queue time and attempt count.
    pub fn requeue(&self, lrps: Vec<LrpAuction>, tasks: Vec<TaskAuction>) {
        if lrps.is_empty() && tasks.is_empty() {
            return;
        }
        {
            let mut pending = self.pending();
            for auction in lrps {
                pending.push_lrp(auction);
            }
            for auction in tasks {
                pending.push_task(auction);
            }
        }
        self.has_work.notify_one();
    }

    /// Takes everything waiting, in arrival order.
    pub fn drain(&self) -> (Vec<LrpAuction>, Vec<TaskAuction>) {
        let taken = std::mem::take(&mut *self.pending());
        (taken.lrps, taken.tasks)
    }

    /// Waiting (LRP instances, tasks).
    pub fn len(&self) -> (usize, usize) {
        let pending = self.pending();
        (pending.lrps.len(), pending.tasks.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    /// Returns once there is work waiting.
    pub async fn wait_for_work(&self) {
        // notify_one keeps a permit when nobody waits, so work added between the check and
        // the await still wakes us.
        while self.is_empty() {
            self.has_work.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::clock::FakeClock;
    use crate::model::{PlacementConstraint, Resource};

    fn start(guid: &str, indices: &[u32]) -> LrpStartRequest {
        LrpStartRequest {
            process_guid: guid.into(),
            domain: "cf-apps".into(),
            indices: indices.to_vec(),
            resource: Resource::new(256, 1024),
            constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
        }
    }

    fn task(guid: &str) -> TaskStartRequest {
        TaskStartRequest {
            task_guid: guid.into(),
            domain: "cf-tasks".into(),
            resource: Resource::new(128, 128),
            constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
        }
    }

    #[test]
    fn dedups_instances_and_tasks_and_keeps_the_first_queue_time() {
        let clock = Arc::new(FakeClock::new(Instant::now()));
        let t0 = clock.now();
        let batch = Batch::new(clock.clone());

        assert_eq!(batch.add_lrp_starts(vec![start("p", &[0, 1, 1])]), 2);
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            batch.add_lrp_starts(vec![start("p", &[1, 2]), start("q", &[1])]),
            2
        );
        assert_eq!(
            batch.add_task_starts(vec![task("t1"), task("t1"), task("t2")]),
            2
        );
        assert_eq!(batch.add_task_starts(vec![task("t2")]), 0);

        let (lrps, tasks) = batch.drain();
        let keys: Vec<(&str, u32)> = lrps
            .iter()
            .map(|a| (a.lrp.process_guid.as_str(), a.lrp.index))
            .collect();
        assert_eq!(keys, [("p", 0), ("p", 1), ("p", 2), ("q", 1)]);
        assert_eq!(
            lrps[1].record.queue_time, t0,
            "the duplicate did not reset the queue time"
        );
        assert_eq!(lrps[2].record.queue_time, t0 + Duration::from_secs(5));
        let guids: Vec<&str> = tasks.iter().map(|a| a.task.task_guid.as_str()).collect();
        assert_eq!(guids, ["t1", "t2"]);
        assert!(batch.is_empty());

        // After a drain the same work may be queued again.
        assert_eq!(batch.add_lrp_starts(vec![start("p", &[0])]), 1);
    }

    #[test]
    fn requeue_keeps_the_record() {
        let clock = Arc::new(FakeClock::new(Instant::now()));
        let batch = Batch::new(clock.clone());
        batch.add_lrp_starts(vec![start("p", &[0])]);
        let (mut lrps, _) = batch.drain();
        lrps[0].record.attempts = 2;
        clock.advance(Duration::from_secs(1));
        batch.requeue(lrps.clone(), Vec::new());
        assert_eq!(batch.drain().0, lrps);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_for_work_wakes_on_add() {
        let batch = Arc::new(Batch::new(Arc::new(crate::clock::TokioClock)));
        let waiter = tokio::spawn({
            let batch = batch.clone();
            async move { batch.wait_for_work().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        batch.add_task_starts(vec![task("t")]);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woke")
            .expect("joined");
    }
}
