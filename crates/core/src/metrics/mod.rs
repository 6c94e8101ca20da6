//! Prometheus metrics: the process's one registry, the HTTP layer every axum router shares,
//! and values read from a component's own state when scraped.
//!
//! Names follow `ingot_<component>_<what>_<unit>`: counters end in `_total`, durations are
//! histograms in `_seconds`. The exposition is the OpenMetrics text format, which Prometheus
//! scrapes natively. `/metrics` needs no credentials: like Cloud Foundry's components, Ingot
//! expects operators to bind the component listeners to internal addresses.

mod http;
mod scrape;

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::{Metric, Registry, Unit};

pub use http::HttpMetrics;
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::Histogram;
pub use scrape::Scrape;

/// The media type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The path every component serves its metrics on.
pub const PATH: &str = "/metrics";

/// Bucket bounds for request and loop durations, in seconds: 5 ms up to about 20 s.
pub fn duration_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 13)
}

/// A histogram with [`duration_buckets`].
pub fn duration_histogram() -> Histogram {
    Histogram::new(duration_buckets())
}

/// The process's metrics registry. Cheap to clone; every clone is the same registry.
/// Components keep their own counters and gauges (atomics) and register them here once, so
/// counting costs nothing more than an atomic increment whether or not anyone scrapes.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `metric` as `ingot_<component>_<name>` (a counter gains `_total` when
    /// encoded). Register each name once.
    pub fn register(&self, component: &str, name: &str, help: &str, metric: impl Metric) {
        self.registry()
            .register(full_name(component, name), help, metric);
    }

    /// Registers a duration `metric` as `ingot_<component>_<name>_seconds`.
    pub fn register_seconds(&self, component: &str, name: &str, help: &str, metric: impl Metric) {
        self.registry()
            .register_with_unit(full_name(component, name), help, Unit::Seconds, metric);
    }

    /// Registers values `read` from a component's own state on every scrape (see
    /// [`Scrape`]), for counts that would otherwise cost every state change an update.
    pub fn register_scraped(
        &self,
        component: &str,
        read: impl Fn(&mut Scrape<'_>) -> std::fmt::Result + Send + Sync + 'static,
    ) {
        self.registry()
            .register_collector(Box::new(scrape::ScrapeCollector::new(component, read)));
    }

    /// Every registered metric in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String fails only if a metric's own encoding does, which is a bug.
        encode(&mut text, &self.registry()).expect("metrics encode into a string");
        text
    }

    /// `router` with its requests counted and timed as `ingot_<component>_http_*`, and
    /// [`PATH`] serving this registry. Call once per component.
    pub fn instrument(&self, component: &str, router: Router) -> Router {
        let metrics = self.clone();
        HttpMetrics::new(self, component)
            .wrap(router.route(PATH, get(move || scrape_response(metrics.clone()))))
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // Registration and encoding leave the registry whole even if they panic.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn full_name(component: &str, name: &str) -> String {
    format!("ingot_{component}_{name}")
}

async fn scrape_response(metrics: Metrics) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.encode())
}

#[cfg(test)]
mod tests;
