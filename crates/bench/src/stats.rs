//! Latency statistics over sorted samples.
//!
//! Percentiles use the nearest-rank definition computed with integer
//! arithmetic (per-mille), so `p99` of `1..=100` is exactly `99` and never
//! drifts to the maximum because of floating-point rounding.

use serde::Serialize;

/// Distribution summary of one metric (microseconds for latencies,
/// milliseconds for init durations).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary<T> {
    /// Number of samples summarised.
    pub count: usize,
    /// Smallest sample.
    pub min: T,
    /// Median (nearest rank).
    pub p50: T,
    /// 90th percentile (nearest rank).
    pub p90: T,
    /// 99th percentile (nearest rank).
    pub p99: T,
    /// 99.9th percentile (nearest rank).
    pub p999: T,
    /// Largest sample.
    pub max: T,
    /// Arithmetic mean, rounded to 0.1.
    pub mean: f64,
}

/// Nearest-rank percentile of an ascending slice; `per_mille` is in
/// `0..=1000` (500 = median, 999 = p99.9). `None` for an empty slice.
pub(crate) fn percentile<T: Copy>(sorted: &[T], per_mille: u32) -> Option<T> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pm = u128::from(per_mille.min(1000));
    // 1-based rank = ceil(n * pm / 1000), at least 1.
    let rank = (n as u128 * pm).div_ceil(1000).max(1);
    let idx = usize::try_from(rank - 1).unwrap_or(n - 1).min(n - 1);
    Some(sorted[idx])
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Summarises an ascending slice of microsecond latencies.
pub(crate) fn summarize_u64(sorted: &[u64]) -> Option<Summary<u64>> {
    debug_assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    let sum: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
    summarize_with(sorted, sum as f64)
}

/// Summarises an ascending slice of floating-point samples.
pub(crate) fn summarize_f64(sorted: &[f64]) -> Option<Summary<f64>> {
    debug_assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    let sum: f64 = sorted.iter().sum();
    summarize_with(sorted, sum)
}

fn summarize_with<T: Copy>(sorted: &[T], sum: f64) -> Option<Summary<T>> {
    Some(Summary {
        count: sorted.len(),
        min: *sorted.first()?,
        p50: percentile(sorted, 500)?,
        p90: percentile(sorted, 900)?,
        p99: percentile(sorted, 990)?,
        p999: percentile(sorted, 999)?,
        max: *sorted.last()?,
        mean: round1(sum / sorted.len() as f64),
    })
}

/// Sorts floating-point samples ascending (total order; NaN last).
pub(crate) fn sort_f64(v: &mut [f64]) {
    v.sort_unstable_by(f64::total_cmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_of_empty_is_none() {
        assert_eq!(percentile::<u64>(&[], 500), None);
        assert!(summarize_u64(&[]).is_none());
        assert!(summarize_f64(&[]).is_none());
    }

    #[test]
    fn percentile_single_sample() {
        for pm in [0, 1, 500, 990, 999, 1000] {
            assert_eq!(percentile(&[7u64], pm), Some(7));
        }
    }

    #[test]
    fn percentile_nearest_rank_one_to_hundred() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0), Some(1));
        assert_eq!(percentile(&v, 500), Some(50));
        assert_eq!(percentile(&v, 900), Some(90));
        assert_eq!(percentile(&v, 990), Some(99));
        assert_eq!(percentile(&v, 999), Some(100));
        assert_eq!(percentile(&v, 1000), Some(100));
        // Out-of-range per-mille clamps to the max.
        assert_eq!(percentile(&v, 5000), Some(100));
    }

    #[test]
    fn percentile_thousand_samples_p999() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 999), Some(999));
        assert_eq!(percentile(&v, 990), Some(990));
        let v: Vec<u64> = (1..=10_000).collect();
        assert_eq!(percentile(&v, 999), Some(9990));
    }

    #[test]
    fn percentile_small_odd_sets() {
        let v = [10u64, 20, 30];
        assert_eq!(percentile(&v, 500), Some(20));
        assert_eq!(percentile(&v, 900), Some(30));
        let v = [10u64, 20];
        assert_eq!(percentile(&v, 500), Some(10));
        assert_eq!(percentile(&v, 501), Some(20));
    }

    #[test]
    fn summary_u64_fields() {
        let v: Vec<u64> = (1..=100).collect();
        let s = summarize_u64(&v).expect("non-empty");
        assert_eq!(s.count, 100);
        assert_eq!(s.min, 1);
        assert_eq!(s.max, 100);
        assert_eq!(s.p50, 50);
        assert_eq!(s.p99, 99);
        assert!((s.mean - 50.5).abs() < 1e-9);
    }

    #[test]
    fn summary_f64_sorted_with_total_cmp() {
        let mut v = vec![3.5, 1.25, 2.0];
        sort_f64(&mut v);
        assert_eq!(v, vec![1.25, 2.0, 3.5]);
        let s = summarize_f64(&v).expect("non-empty");
        assert_eq!(s.p50, 2.0);
        assert_eq!(s.max, 3.5);
        assert!((s.mean - 2.3).abs() < 1e-9);
    }

    #[test]
    fn summary_serializes_expected_keys() {
        let s = summarize_u64(&[1, 2, 3]).expect("non-empty");
        let v = serde_json::to_value(s).expect("serialize");
        for k in ["count", "min", "p50", "p90", "p99", "p999", "max", "mean"] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
    }
}
