//! Summaries of timed samples.

use std::time::Duration;

/// p50, p90, mean and max of one series, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub p50: f64,
    pub p90: f64,
    pub mean: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: &[Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        // Nearest rank.
        let rank = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
        Self {
            p50: rank(0.5),
            p90: rank(0.9),
            mean: ms.iter().sum::<f64>() / ms.len() as f64,
            max: ms[ms.len() - 1],
        }
    }
}

/// Timed samples by series, in the order the series were first recorded.
#[derive(Debug, Default)]
pub struct Series {
    series: Vec<(&'static str, Vec<Duration>)>,
}

impl Series {
    pub fn record(&mut self, name: &'static str, sample: Duration) {
        match self.series.iter_mut().find(|(n, _)| *n == name) {
            Some((_, samples)) => samples.push(sample),
            None => self.series.push((name, vec![sample])),
        }
    }

    pub fn summary(&self, name: &str) -> Summary {
        self.series
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(Summary::default, |(_, samples)| Summary::of(samples))
    }

    pub fn len(&self, name: &str) -> usize {
        self.series
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, samples)| samples.len())
    }
}
