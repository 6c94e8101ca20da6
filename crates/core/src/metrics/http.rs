//! Counting and timing HTTP requests, the same way for every component's axum router.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;

use super::{Counter, Family, Histogram, Metrics, duration_histogram};

/// The route label of requests no route matched (404s of the fallback): one series for all
/// of them, whatever path was asked for.
pub const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route template (`/v3/apps/{guid}`), never the raw path, so series stay few.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// One component's `ingot_<component>_http_requests_total{method,route,status}` and
/// `ingot_<component>_http_request_duration_seconds{method,route}` (time to the response
/// head; streamed bodies are not waited for).
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl HttpMetrics {
    /// Registers the component's HTTP metrics in `metrics`.
    pub fn new(metrics: &Metrics, component: &str) -> Self {
        let this = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
        };
        metrics.register(
            component,
            "http_requests",
            "HTTP requests answered, by method, route and status code",
            this.requests.clone(),
        );
        metrics.register_seconds(
            component,
            "http_request_duration",
            "Time to answer an HTTP request, by method and route",
            this.duration.clone(),
        );
        this
    }

    /// `router` with every request recorded. As a `Router::layer` it runs after routing, so
    /// it sees each request's matched route.
    pub fn wrap(self, router: Router) -> Router {
        router.layer(middleware::from_fn_with_state(self, record))
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.duration
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }
}

async fn record(State(http): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let response = next.run(request).await;
    http.observe(
        method.as_str(),
        route.as_deref().unwrap_or(UNMATCHED),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
