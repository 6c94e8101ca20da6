//! LRP workflows: desiring, scaling, removing, the reps' reports, retiring and auctioning.

use std::collections::BTreeMap;

use crate::auctioneer::lrp_start_request;
use crate::error::Error;
use crate::models::{
    ActualLrp, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, ActualLrpState, DesiredLrp,
    DesiredLrpUpdate, Event, ModificationTag, NetInfo,
};
use crate::service::Core;

impl Core {
    fn emit_actual_change(&self, before: &ActualLrp, after: &ActualLrp) {
        if before != after {
            self.hub.emit(Event::ActualLrpInstanceChanged {
                before: Box::new(before.clone()),
                after: Box::new(after.clone()),
            });
        }
    }

    pub(crate) async fn desire_lrp(&self, mut lrp: DesiredLrp) -> Result<(), Error> {
        lrp.validate()?;
        let now = self.now();
        lrp.created_at = now;
        lrp.modification_tag = ModificationTag::new(self.ids.new_guid());
        let actuals: Vec<ActualLrp> = (0..lrp.instances)
            .map(|index| {
                let key = ActualLrpKey::new(&lrp.process_guid, index, &lrp.domain);
                ActualLrp::unclaimed(&key, self.ids.new_guid(), now)
            })
            .collect();
        self.store.desire_lrp(&lrp, &actuals).await?;
        self.hub.emit(Event::DesiredLrpCreated {
            desired_lrp: Box::new(lrp.clone()),
        });
        for actual in actuals {
            self.hub.emit(Event::ActualLrpInstanceCreated {
                actual_lrp: Box::new(actual),
            });
        }
        self.auctioneer
            .schedule_lrp_starts(vec![lrp_start_request(&lrp, (0..lrp.instances).collect())]);
        Ok(())
    }

    pub(crate) async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: DesiredLrpUpdate,
    ) -> Result<(), Error> {
        update.validate()?;
        let (before, after) = self.store.update_desired_lrp(process_guid, &update).await?;
        self.hub.emit(Event::DesiredLrpChanged {
            before: Box::new(before.clone()),
            after: Box::new(after.clone()),
        });
        if after.instances > before.instances {
            let keys: Vec<ActualLrpKey> = (before.instances..after.instances)
                .map(|i| ActualLrpKey::new(&after.process_guid, i, &after.domain))
                .collect();
            self.create_and_auction(&after, keys).await?;
        } else if after.instances < before.instances {
            self.retire_from(process_guid, after.instances).await?;
        }
        Ok(())
    }

    pub(crate) async fn remove_desired_lrp(&self, process_guid: &str) -> Result<(), Error> {
        let removed = self.store.remove_desired_lrp(process_guid).await?;
        self.hub.emit(Event::DesiredLrpRemoved {
            desired_lrp: Box::new(removed),
        });
        self.retire_from(process_guid, 0).await
    }

    /// Retires the process's instances at `first_index` and above, highest index first.
    async fn retire_from(&self, process_guid: &str, first_index: u32) -> Result<(), Error> {
        let filter = ActualLrpFilter {
            process_guid: process_guid.to_owned(),
            ..ActualLrpFilter::default()
        };
        let mut extra: Vec<ActualLrp> = self
            .store
            .actual_lrps(&filter)
            .await?
            .into_iter()
            .filter(|a| a.index >= first_index)
            .collect();
        extra.sort_by_key(|a| std::cmp::Reverse(a.index));
        self.retire_all(extra).await;
        Ok(())
    }

    /// Creates UNCLAIMED records for `keys` (skipping ones that exist) and auctions them.
    pub(crate) async fn create_and_auction(
        &self,
        desired: &DesiredLrp,
        keys: Vec<ActualLrpKey>,
    ) -> Result<(), Error> {
        let mut indices = Vec::new();
        for key in keys {
            let lrp = ActualLrp::unclaimed(&key, self.ids.new_guid(), self.now());
            match self.store.create_unclaimed_actual_lrp(&lrp).await {
                Ok(()) => {
                    self.hub.emit(Event::ActualLrpInstanceCreated {
                        actual_lrp: Box::new(lrp),
                    });
                    indices.push(key.index);
                }
                Err(Error::Conflict { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        if !indices.is_empty() {
            self.auctioneer
                .schedule_lrp_starts(vec![lrp_start_request(desired, indices)]);
        }
        Ok(())
    }

    /// Auctions existing UNCLAIMED instances with the DesiredLRPs the caller already holds
    /// (by process guid); instances whose DesiredLRP is not among them are removed.
    pub(crate) async fn auction_lrps(
        &self,
        desired: &BTreeMap<&str, &DesiredLrp>,
        keys: Vec<ActualLrpKey>,
    ) {
        let mut by_guid: BTreeMap<String, Vec<ActualLrpKey>> = BTreeMap::new();
        for key in keys {
            by_guid
                .entry(key.process_guid.clone())
                .or_default()
                .push(key);
        }
        let mut starts = Vec::new();
        for (guid, keys) in by_guid {
            match desired.get(guid.as_str()) {
                Some(desired) => starts.push(lrp_start_request(
                    desired,
                    keys.iter().map(|k| k.index).collect(),
                )),
                None => {
                    for key in keys {
                        let _ = self.remove_actual_lrp(&key, None).await;
                    }
                }
            }
        }
        if !starts.is_empty() {
            self.auctioneer.schedule_lrp_starts(starts);
        }
    }

    /// Auctions one UNCLAIMED instance, reading its DesiredLRP from the store (the crash
    /// path holds no record); if the DesiredLRP is gone the instance is removed.
    async fn auction_lrp(&self, key: ActualLrpKey) -> Result<(), Error> {
        let desired = match self.store.desired_lrp(&key.process_guid).await {
            Ok(desired) => Some(desired),
            Err(Error::NotFound { .. }) => None,
            Err(err) => return Err(err),
        };
        let by_guid: BTreeMap<&str, &DesiredLrp> = desired
            .iter()
            .map(|d| (d.process_guid.as_str(), d))
            .collect();
        self.auction_lrps(&by_guid, vec![key]).await;
        Ok(())
    }

    pub(crate) async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), Error> {
        let (before, after) = self
            .store
            .claim_actual_lrp(key, instance, &self.ctx())
            .await?;
        self.emit_actual_change(&before, &after);
        Ok(())
    }

    pub(crate) async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        net_info: NetInfo,
    ) -> Result<(), Error> {
        let epoch = self.ids.new_guid();
        let (before, after) = self
            .store
            .start_actual_lrp(key, instance, &net_info, &epoch, &self.ctx())
            .await?;
        match before {
            None => self.hub.emit(Event::ActualLrpInstanceCreated {
                actual_lrp: Box::new(after),
            }),
            Some(before) => self.emit_actual_change(&before, &after),
        }
        Ok(())
    }

    pub(crate) async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> Result<(), Error> {
        let (before, after) = self
            .store
            .crash_actual_lrp(key, instance, reason, &self.ctx())
            .await?;
        self.hub.emit(Event::ActualLrpCrashed {
            actual_lrp_key: before.key(),
            actual_lrp_instance_key: before.instance_key(),
            crash_count: after.crash_count,
            crash_reason: after.crash_reason.clone(),
            since: after.since,
        });
        self.emit_actual_change(&before, &after);
        if after.state == ActualLrpState::Unclaimed {
            self.auction_lrp(after.key()).await?;
        }
        Ok(())
    }

    pub(crate) async fn fail_actual_lrp(
        &self,
        key: &ActualLrpKey,
        placement_error: &str,
    ) -> Result<(), Error> {
        let (before, after) = self
            .store
            .fail_actual_lrp(key, placement_error, &self.ctx())
            .await?;
        self.emit_actual_change(&before, &after);
        Ok(())
    }

    pub(crate) async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: Option<&ActualLrpInstanceKey>,
    ) -> Result<(), Error> {
        let removed = self
            .store
            .remove_actual_lrp(key, instance, &self.ctx())
            .await?;
        self.hub.emit(Event::ActualLrpInstanceRemoved {
            actual_lrp: Box::new(removed),
        });
        Ok(())
    }

    pub(crate) async fn unclaim_actual_lrp(&self, key: &ActualLrpKey) -> Result<(), Error> {
        let (before, after) = self.store.unclaim_actual_lrp(key, &self.ctx()).await?;
        self.emit_actual_change(&before, &after);
        Ok(())
    }

    pub(crate) async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<(), Error> {
        let actual = self.store.actual_lrp(&key.process_guid, key.index).await?;
        self.retire(&actual).await
    }

    /// Stops the instance through its cell (if it has one that is still present), then
    /// removes the record. The rep may remove it first; that is fine.
    pub(crate) async fn retire(&self, actual: &ActualLrp) -> Result<(), Error> {
        let key = actual.key();
        let instance = actual.instance_key();
        let cell = if instance.is_empty() {
            None
        } else {
            self.cells.get(&instance.cell_id, self.now())
        };
        if let Some(cell) = cell {
            let rep = self.rep_clients.client(&cell);
            rep.stop_lrp_instance(&key, &instance).await?;
        }
        let only = (!instance.is_empty()).then_some(&instance);
        match self.remove_actual_lrp(&key, only).await {
            Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Retires each instance in order; failures are logged and left for convergence.
    pub(crate) async fn retire_all(&self, actuals: Vec<ActualLrp>) {
        for actual in actuals {
            if let Err(err) = self.retire(&actual).await {
                tracing::warn!(lrp = %actual.key(), error = %err, "bbs: retiring failed");
            }
        }
    }
}
