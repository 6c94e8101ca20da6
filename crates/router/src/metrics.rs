//! The router's metrics for operators, as gorouter reports them: responses by status class,
//! requests that failed at the endpoint, and the routes and endpoints in the table.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use ingot_core::Metrics;
use ingot_core::metrics::{Counter, Family};

use crate::proxy::ProxyBody;
use crate::table::SharedRouteTable;

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The router's counters; they count whether or not they are registered.
type ByClass = Family<[(&'static str, &'static str); 1], Counter>;

#[derive(Clone, Debug)]
pub(crate) struct RouterMetrics {
    by_class: ByClass,
    /// `by_class`'s counters, looked up once so that a request costs one increment.
    responses: [Counter; 5],
    endpoint_failures: Counter,
    /// The registry `/metrics` serves, once registered.
    registry: Option<Metrics>,
}

impl Default for RouterMetrics {
    fn default() -> Self {
        let by_class = ByClass::default();
        let responses =
            STATUS_CLASSES.map(|class| by_class.get_or_create(&[("status_class", class)]).clone());
        Self {
            by_class,
            responses,
            endpoint_failures: Counter::default(),
            registry: None,
        }
    }
}

impl RouterMetrics {
    /// Registers `ingot_router_*` in `metrics`, which `/metrics` then serves.
    pub(crate) fn register(&mut self, metrics: &Metrics, table: SharedRouteTable) {
        metrics.register(
            "router",
            "responses",
            "Responses sent, by status class",
            self.by_class.clone(),
        );
        metrics.register(
            "router",
            "endpoint_failures",
            "Requests answered 502 or 504 because no endpoint could answer them",
            self.endpoint_failures.clone(),
        );
        metrics.register_scraped("router", move |scrape| {
            let (routes, endpoints) = {
                let table = table.lock().expect("route table lock");
                let routes = table.routes();
                let endpoints: usize = routes.iter().map(|r| table.endpoints(r).len()).sum();
                (routes.len(), endpoints)
            };
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            scrape.gauge("routes", "Routes in the routing table", count(routes))?;
            scrape.gauge(
                "endpoints",
                "Endpoints (app instances) behind the routes",
                count(endpoints),
            )
        });
        self.registry = Some(metrics.clone());
    }

    /// Counts one response; `endpoint_failed` when the router answered for an endpoint that
    /// could not be reached or did not answer.
    pub(crate) fn responded(&self, status: u16, endpoint_failed: bool) {
        if let Some(counter) = (status / 100)
            .checked_sub(1)
            .and_then(|i| self.responses.get(usize::from(i)))
        {
            counter.inc();
        }
        if endpoint_failed {
            self.endpoint_failures.inc();
        }
    }

    /// The answer to `GET /metrics` once registered. The proxy asks only for requests whose
    /// Host is no route, so an app's own `/metrics` is never shadowed.
    pub(crate) fn scrape(&self, method: &Method, path: &str) -> Option<Response<ProxyBody>> {
        let registry = self.registry.as_ref()?;
        if method != Method::GET || path != ingot_core::metrics::PATH {
            return None;
        }
        let mut resp = Response::new(
            Full::new(Bytes::from(registry.encode()))
                .map_err(|never| match never {})
                .boxed(),
        );
        *resp.status_mut() = StatusCode::OK;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(ingot_core::metrics::CONTENT_TYPE),
        );
        Some(resp)
    }
}
