//! Process stats (`cf app`, `cf apps`, and `cf push` waiting for instances): one entry per
//! instance, from the BBS's ActualLRPs of the process's current version, with the usage the
//! cells' container metrics report.

use std::collections::BTreeMap;

use ingot_bbs::{ActualLrpFilter, to_nanos};

use super::{Actor, Service};
use crate::{
    Error,
    bridge::{
        self,
        nsync::lrp_process_guid,
        tps::{Instance, instances},
    },
    diego,
    model::{App, AppState, Process},
    store::{Filter, docs},
};

impl Service {
    /// The stats of a process the caller can see. Errors: 404 "Process not found".
    pub async fn process_stats(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(Process, Vec<Instance>), Error> {
        let process = docs::get::<Process>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Process"))?;
        let app = self
            .located_app(actor, &process.app_guid)
            .await
            .map_err(|_| Error::NotFound("Process"))?
            .app;
        let list = self.process_instances(&app, &process).await?;
        Ok((process, list))
    }

    /// The stats of the app's process of this type. Errors: 404 "App not found" or
    /// "Process not found".
    pub async fn app_process_stats(
        &self,
        actor: &Actor,
        app_guid: &str,
        process_type: &str,
    ) -> Result<(Process, Vec<Instance>), Error> {
        let app = self.located_app(actor, app_guid).await?.app;
        let process = docs::find::<Process>(
            &*self.store,
            &[
                Filter::eq("app_guid", app.guid.clone()),
                Filter::eq("type", process_type),
            ],
        )
        .await?
        .ok_or(Error::NotFound("Process"))?;
        let list = self.process_instances(&app, &process).await?;
        Ok((process, list))
    }

    /// The instances of a process as tps reports them: a started app's from Diego (and its
    /// usage from one log-cache read), a stopped app's all DOWN (as CC reports a process with
    /// no DesiredLRP).
    pub(crate) async fn process_instances(
        &self,
        app: &App,
        process: &Process,
    ) -> Result<Vec<Instance>, Error> {
        let (actual, usage) = if app.state == AppState::Started {
            let actual = self
                .bbs
                .actual_lrps(ActualLrpFilter {
                    domain: diego::APPS_DOMAIN.to_owned(),
                    process_guid: lrp_process_guid(process),
                    ..ActualLrpFilter::default()
                })
                .await
                .map_err(bridge::unavailable)?;
            (actual, self.metrics.latest(&app.guid, &process.guid).await)
        } else {
            (Vec::new(), BTreeMap::new())
        };
        let now = to_nanos(self.now());
        Ok(instances(process.instances, &actual, &usage, now))
    }
}
