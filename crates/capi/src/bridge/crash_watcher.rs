//! tps's watcher: follows the BBS event stream and records every crash of an app instance
//! as an `audit.app.process.crash` event on the app, so `cf events` shows it.

use std::time::Duration;

use ingot_bbs::{ActualLrpInstanceKey, ActualLrpKey, Event, Nanos};
use ingot_core::Shutdown;

use super::{nsync::cc_process_guid, tps::crash_data};
use crate::{
    Error, diego,
    model::{App, AuditActor, AuditEvent, AuditTarget, Process},
    service::{Service, app_log::ruby_inspect},
    store::docs,
};

/// Waits between reconnects to the event stream, doubling up to the maximum.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Subscribes, records crashes, and resubscribes with back-off when the stream ends or the
/// BBS drops a slow subscriber, until shutdown.
pub(crate) async fn run(service: &Service, stop: Shutdown) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let subscribed = tokio::select! {
            () = stop.cancelled() => return,
            s = service.bbs.subscribe() => s,
        };
        match subscribed {
            Ok(mut events) => loop {
                let next = tokio::select! {
                    () = stop.cancelled() => return,
                    next = events.next() => next,
                };
                match next {
                    Some(Ok(event)) => {
                        backoff = MIN_BACKOFF;
                        if let Err(e) = service.record_crash_event(event).await {
                            tracing::warn!(error = %e, "tps: could not record a crash");
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "tps: event stream failed");
                        break;
                    }
                    None => break,
                }
            },
            Err(e) => tracing::warn!(error = %e, "tps: cannot subscribe to BBS events"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

impl Service {
    /// Records the event if it is the crash of an app instance; other events are ignored.
    async fn record_crash_event(&self, event: Event) -> Result<(), Error> {
        match event {
            Event::ActualLrpCrashed {
                actual_lrp_key,
                actual_lrp_instance_key,
                crash_count,
                crash_reason,
                since,
            } if actual_lrp_key.domain == diego::APPS_DOMAIN => {
                self.record_crash(
                    &actual_lrp_key,
                    &actual_lrp_instance_key,
                    crash_count,
                    &crash_reason,
                    since,
                )
                .await
            }
            _ => Ok(()),
        }
    }

    /// `audit.app.process.crash` on the app, by the process (as CC records it), plus a line in
    /// the app's logs. A process or app deleted meanwhile has nobody to tell.
    async fn record_crash(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        crash_count: u32,
        crash_reason: &str,
        since: Nanos,
    ) -> Result<(), Error> {
        let process_guid = cc_process_guid(&key.process_guid);
        let Some(process) = docs::get::<Process>(&*self.store, process_guid).await? else {
            return Ok(());
        };
        let Some(app) = docs::get::<App>(&*self.store, &process.app_guid).await? else {
            return Ok(());
        };
        let space = self.store.space(&app.space_guid).await?;
        let data = crash_data(key, instance, crash_count, crash_reason, since);
        let event = AuditEvent {
            guid: self.new_guid(),
            event_type: "audit.app.process.crash".into(),
            actor: AuditActor {
                guid: process.guid.clone(),
                actor_type: "process".into(),
                name: process.process_type.clone(),
            },
            target: AuditTarget {
                guid: app.guid.clone(),
                target_type: "app".into(),
                name: app.name.clone(),
            },
            data: data.clone(),
            space_guid: Some(app.space_guid.clone()),
            organization_guid: space.map(|s| s.organization_guid),
            created_at: self.now(),
        };
        self.store.write_docs(&[], &[event], None).await?;
        self.emit_app_log(
            &app.guid,
            "API",
            &format!(
                "App instance exited with guid {} payload: {}",
                app.guid,
                ruby_inspect(&data)
            ),
        );
        self.emit_app_log(
            &app.guid,
            "API",
            &format!(
                "Process has crashed with type: \"{}\"",
                process.process_type
            ),
        );
        Ok(())
    }
}
