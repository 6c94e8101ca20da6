//! The BBS over HTTP+JSON: routes (declared once, shared with `BbsClient`), request and
//! response bodies, one handler file per resource, and the one place errors become responses.

mod error;
mod extract;
mod handlers;
pub mod messages;
pub mod routes;

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};

use crate::api::BbsApi;
use routes::Route;

/// What every handler receives: any `BbsApi` (the in-process service, or even a client).
pub(crate) type Api = Arc<dyn BbsApi>;

fn at<H, T>(router: Router<Api>, route: &Route, handler: H) -> Router<Api>
where
    H: Handler<T, Api>,
    T: 'static,
{
    let filter = MethodFilter::try_from(route.method.clone()).expect("route methods are standard");
    router.route(route.path, on(filter, handler))
}

/// Serves `api` on every route in `routes::ALL`.
pub fn router(api: Arc<dyn BbsApi>) -> Router {
    use handlers::*;
    let r = Router::new();
    let r = at(r, &routes::PING, ping);
    // domains and cells
    let r = at(r, &routes::UPSERT_DOMAIN, domains::upsert_domain);
    let r = at(r, &routes::DOMAINS, domains::list_domains);
    let r = at(r, &routes::CELLS, cells::list_cells);
    let r = at(r, &routes::REGISTER_CELL, cells::register_cell);
    // desired LRPs
    let r = at(
        r,
        &routes::DESIRE_DESIRED_LRP,
        desired_lrps::desire_desired_lrp,
    );
    let r = at(
        r,
        &routes::UPDATE_DESIRED_LRP,
        desired_lrps::update_desired_lrp,
    );
    let r = at(
        r,
        &routes::REMOVE_DESIRED_LRP,
        desired_lrps::remove_desired_lrp,
    );
    let r = at(r, &routes::DESIRED_LRPS, desired_lrps::list_desired_lrps);
    let r = at(
        r,
        &routes::DESIRED_LRP_BY_PROCESS_GUID,
        desired_lrps::desired_lrp_by_process_guid,
    );
    // actual LRPs
    let r = at(r, &routes::ACTUAL_LRPS, actual_lrps::list_actual_lrps);
    let r = at(r, &routes::CLAIM_ACTUAL_LRP, actual_lrps::claim_actual_lrp);
    let r = at(r, &routes::START_ACTUAL_LRP, actual_lrps::start_actual_lrp);
    let r = at(r, &routes::CRASH_ACTUAL_LRP, actual_lrps::crash_actual_lrp);
    let r = at(r, &routes::FAIL_ACTUAL_LRP, actual_lrps::fail_actual_lrp);
    let r = at(
        r,
        &routes::REMOVE_ACTUAL_LRP,
        actual_lrps::remove_actual_lrp,
    );
    let r = at(
        r,
        &routes::RETIRE_ACTUAL_LRP,
        actual_lrps::retire_actual_lrp,
    );
    // tasks
    let r = at(r, &routes::DESIRE_TASK, tasks::desire_task);
    let r = at(r, &routes::TASKS, tasks::list_tasks);
    let r = at(r, &routes::TASK_BY_GUID, tasks::task_by_guid);
    let r = at(r, &routes::START_TASK, tasks::start_task);
    let r = at(r, &routes::CANCEL_TASK, tasks::cancel_task);
    let r = at(r, &routes::FAIL_TASK, tasks::fail_task);
    let r = at(r, &routes::COMPLETE_TASK, tasks::complete_task);
    let r = at(r, &routes::RESOLVING_TASK, tasks::resolving_task);
    let r = at(r, &routes::DELETE_TASK, tasks::delete_task);
    // events
    let r = at(r, &routes::EVENTS, events::subscribe_to_events);
    let r = at(r, &routes::TASK_EVENTS, events::subscribe_to_task_events);
    r.with_state(api)
}
