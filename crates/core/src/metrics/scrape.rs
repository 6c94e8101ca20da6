//! Values a component already keeps (containers by state, routes in a table, envelopes in a
//! cache), read when a scrape asks for them instead of being kept up to date on every change.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::full_name;

/// Where a scrape-time reader writes its values, each named `ingot_<component>_<name>`.
pub struct Scrape<'a> {
    encoder: DescriptorEncoder<'a>,
    component: String,
}

impl Scrape<'_> {
    pub fn gauge(&mut self, name: &str, help: &str, value: i64) -> fmt::Result {
        let name = full_name(&self.component, name);
        let gauge = ConstGauge::new(value);
        gauge.encode(
            self.encoder
                .encode_descriptor(&name, help, None, gauge.metric_type())?,
        )
    }

    /// A counter another part of the component keeps (it gains `_total` when encoded).
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        let name = full_name(&self.component, name);
        let counter = ConstCounter::new(value);
        counter.encode(
            self.encoder
                .encode_descriptor(&name, help, None, counter.metric_type())?,
        )
    }

    /// One gauge per value of `label`, e.g. containers by `state`.
    pub fn gauges<'v>(
        &mut self,
        name: &str,
        help: &str,
        label: &'static str,
        values: impl IntoIterator<Item = (&'v str, i64)>,
    ) -> fmt::Result {
        let name = full_name(&self.component, name);
        let mut family = self
            .encoder
            .encode_descriptor(&name, help, None, MetricType::Gauge)?;
        for (label_value, value) in values {
            let labels = [(label, label_value)];
            ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

type Read = dyn Fn(&mut Scrape<'_>) -> fmt::Result + Send + Sync;

/// Runs a component's reader on every scrape.
pub(super) struct ScrapeCollector {
    component: String,
    read: Box<Read>,
}

impl ScrapeCollector {
    pub(super) fn new(
        component: &str,
        read: impl Fn(&mut Scrape<'_>) -> fmt::Result + Send + Sync + 'static,
    ) -> Self {
        Self {
            component: component.to_owned(),
            read: Box::new(read),
        }
    }
}

impl fmt::Debug for ScrapeCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrapeCollector")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl Collector for ScrapeCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
        (self.read)(&mut Scrape {
            encoder,
            component: self.component.clone(),
        })
    }
}
