//! Every BBS route, declared once. The server mounts them and `BbsClient` calls them.

use http::Method;

/// One endpoint: a name (Diego's, for logs and docs), a method and a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: &'static str,
    pub method: Method,
    pub path: &'static str,
}

const fn post(name: &'static str, path: &'static str) -> Route {
    Route {
        name,
        method: Method::POST,
        path,
    }
}

const fn get(name: &'static str, path: &'static str) -> Route {
    Route {
        name,
        method: Method::GET,
        path,
    }
}

pub const PING: Route = get("Ping", "/ping");

pub const UPSERT_DOMAIN: Route = post("UpsertDomain", "/v1/domains/upsert");
pub const DOMAINS: Route = post("Domains", "/v1/domains/list");
pub const CELLS: Route = post("Cells", "/v1/cells/list");
pub const REGISTER_CELL: Route = post("RegisterCell", "/v1/cells/register");

pub const DESIRE_DESIRED_LRP: Route = post("DesireDesiredLRP", "/v1/desired_lrp/desire");
pub const UPDATE_DESIRED_LRP: Route = post("UpdateDesiredLRP", "/v1/desired_lrp/update");
pub const REMOVE_DESIRED_LRP: Route = post("RemoveDesiredLRP", "/v1/desired_lrp/remove");
pub const DESIRED_LRPS: Route = post("DesiredLRPs", "/v1/desired_lrps/list");
pub const DESIRED_LRP_BY_PROCESS_GUID: Route = post(
    "DesiredLRPByProcessGuid",
    "/v1/desired_lrps/get_by_process_guid",
);

pub const ACTUAL_LRPS: Route = post("ActualLRPs", "/v1/actual_lrps/list");
pub const CLAIM_ACTUAL_LRP: Route = post("ClaimActualLRP", "/v1/actual_lrps/claim");
pub const START_ACTUAL_LRP: Route = post("StartActualLRP", "/v1/actual_lrps/start");
pub const CRASH_ACTUAL_LRP: Route = post("CrashActualLRP", "/v1/actual_lrps/crash");
pub const FAIL_ACTUAL_LRP: Route = post("FailActualLRP", "/v1/actual_lrps/fail");
pub const REMOVE_ACTUAL_LRP: Route = post("RemoveActualLRP", "/v1/actual_lrps/remove");
pub const RETIRE_ACTUAL_LRP: Route = post("RetireActualLRP", "/v1/actual_lrps/retire");

pub const DESIRE_TASK: Route = post("DesireTask", "/v1/tasks/desire");
pub const TASKS: Route = post("Tasks", "/v1/tasks/list");
pub const TASK_BY_GUID: Route = post("TaskByGuid", "/v1/tasks/get_by_task_guid");
pub const START_TASK: Route = post("StartTask", "/v1/tasks/start");
pub const CANCEL_TASK: Route = post("CancelTask", "/v1/tasks/cancel");
pub const FAIL_TASK: Route = post("FailTask", "/v1/tasks/fail");
pub const COMPLETE_TASK: Route = post("CompleteTask", "/v1/tasks/complete");
pub const RESOLVING_TASK: Route = post("ResolvingTask", "/v1/tasks/resolving");
pub const DELETE_TASK: Route = post("DeleteTask", "/v1/tasks/delete");

pub const EVENTS: Route = get("SubscribeToEvents", "/v1/events");
pub const TASK_EVENTS: Route = get("SubscribeToTaskEvents", "/v1/events/tasks");

/// Every route, in documentation order.
pub const ALL: &[Route] = &[
    PING,
    UPSERT_DOMAIN,
    DOMAINS,
    CELLS,
    REGISTER_CELL,
    DESIRE_DESIRED_LRP,
    UPDATE_DESIRED_LRP,
    REMOVE_DESIRED_LRP,
    DESIRED_LRPS,
    DESIRED_LRP_BY_PROCESS_GUID,
    ACTUAL_LRPS,
    CLAIM_ACTUAL_LRP,
    START_ACTUAL_LRP,
    CRASH_ACTUAL_LRP,
    FAIL_ACTUAL_LRP,
    REMOVE_ACTUAL_LRP,
    RETIRE_ACTUAL_LRP,
    DESIRE_TASK,
    TASKS,
    TASK_BY_GUID,
    START_TASK,
    CANCEL_TASK,
    FAIL_TASK,
    COMPLETE_TASK,
    RESOLVING_TASK,
    DELETE_TASK,
    EVENTS,
    TASK_EVENTS,
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn routes_are_unique() {
        let paths: HashSet<_> = ALL.iter().map(|r| (&r.method, r.path)).collect();
        let names: HashSet<_> = ALL.iter().map(|r| r.name).collect();
        assert_eq!(paths.len(), ALL.len());
        assert_eq!(names.len(), ALL.len());
    }
}
