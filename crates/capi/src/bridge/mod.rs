//! The CC-Bridge: where apps, processes and tasks become Diego's LRPs and Tasks (and where
//! Diego's view comes back as instance states and crash events). Only this module and the
//! stager know both levels; the BBS never learns what an app is.
//!
//! `nsync` (pure: a process's DesiredLRP, the diff against the BBS) and `nsync_loop` (the
//! loop that applies it); `tps` (pure: instance states, crash event data) and
//! `crash_watcher` (the BBS event follower); `metrics` (instances' usage from log-cache); `tasks` (pure: a task's Diego definition);
//! `actions` (the droplet download and launcher run both share); `egress` (pure: security
//! groups as the egress rules of LRPs and tasks).

mod actions;
mod crash_watcher;
pub(crate) mod egress;
pub(crate) mod metrics;
pub(crate) mod nsync;
mod nsync_loop;
pub(crate) mod tasks;
pub(crate) mod tps;

use ingot_core::Shutdown;

use crate::{Error, http::AppState};

pub(crate) use actions::env_vars;

/// Starts nsync and the crash watcher; both stop on `stop`.
pub(crate) fn spawn(state: &AppState, stop: &Shutdown) {
    let (nsync_state, nsync_stop) = (state.clone(), stop.clone());
    tokio::spawn(async move { nsync_loop::run(&nsync_state.service, nsync_stop).await });
    let (tps_state, tps_stop) = (state.clone(), stop.clone());
    tokio::spawn(async move { crash_watcher::run(&tps_state.service, tps_stop).await });
}

/// A BBS failure as the Cloud Controller reports it: Diego is unavailable.
pub(crate) fn unavailable(e: ingot_bbs::Error) -> Error {
    Error::Unavailable(format!("Diego is unavailable: {e}"))
}
