//! Order statistics shared by the benchmarks.

/// The `p` quantile (0.0..=1.0) of `sorted`, nearest rank.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
