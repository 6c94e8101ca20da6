//! Every rep route, declared once. The server mounts them and `HttpRepClient` calls them.

use http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: &'static str,
    pub method: Method,
    pub path: &'static str,
}

const fn get(name: &'static str, path: &'static str) -> Route {
    Route {
        name,
        method: Method::GET,
        path,
    }
}

const fn post(name: &'static str, path: &'static str) -> Route {
    Route {
        name,
        method: Method::POST,
        path,
    }
}

pub const PING: Route = get("Ping", "/ping");
pub const STATE: Route = get("State", "/state");
pub const PERFORM: Route = post("Perform", "/work");
pub const STOP_LRP_INSTANCE: Route = post("StopLRPInstance", "/v1/lrps/stop");
pub const CANCEL_TASK: Route = post("CancelTask", "/v1/tasks/cancel");
