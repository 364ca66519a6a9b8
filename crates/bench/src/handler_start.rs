//! Async mode: the time from an event's 202 to the start of its invocation, read from the
//! server's own instrumentation — Hako's `hako_lambda_async_event_age_milliseconds` histogram
//! (AWS's AsyncEventAge: from the moment the event is committed to the queue, just before the
//! 202, to the moment a worker hands it to the function with concurrency granted).
//!
//! The bench scrapes `GET /metrics` before the run and again once every accepted event has been
//! handed to the function (bounded wait), and reads percentiles from the difference of the two
//! histograms, interpolating linearly inside a bucket. Their resolution is therefore the
//! histogram's buckets (0.5 ms steps at the low end, coarser above 10 ms). The figure covers
//! the warmup's events too (they are in the same histogram).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http::Method;
use serde::Serialize;

use crate::client::{Endpoint, RequestTemplate};

const METRIC: &str = "hako_lambda_async_event_age_milliseconds";

/// Percentiles of the 202 → handler-start time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandlerStart {
    /// Events the figures cover (warmup and measured).
    pub events: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Where the figures come from.
    pub source: &'static str,
}

/// A cumulative histogram: (upper bound, count ≤ bound), ascending; the last bound is +Inf.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Histogram {
    buckets: Vec<(f64, u64)>,
}

impl Histogram {
    pub(crate) fn count(&self) -> u64 {
        self.buckets.last().map_or(0, |b| b.1)
    }

    /// This histogram minus an earlier one.
    fn since(&self, before: &Histogram) -> Histogram {
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, n)| {
                    let old = before.buckets.iter().find(|b| b.0 == le).map_or(0, |b| b.1);
                    (le, n.saturating_sub(old))
                })
                .collect(),
        }
    }

    /// The `q` quantile (0..1), interpolated inside its bucket.
    fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut lower = (0.0, 0u64);
        for &(le, n) in &self.buckets {
            if n as f64 >= rank {
                if le.is_infinite() {
                    // Beyond the last finite bound: that bound is all we know.
                    return Some(lower.0);
                }
                let in_bucket = (n - lower.1) as f64;
                let frac = if in_bucket > 0.0 {
                    (rank - lower.1 as f64) / in_bucket
                } else {
                    1.0
                };
                return Some(lower.0 + (le - lower.0) * frac.clamp(0.0, 1.0));
            }
            lower = (le, n);
        }
        Some(lower.0)
    }
}

/// The histogram of `function` (summed over its versions) in an OpenMetrics text.
pub(crate) fn parse(text: &str, function: &str) -> Histogram {
    let label = format!("function_name=\"{function}\"");
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&format!("{METRIC}_bucket{{")) else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        if !labels.split(',').any(|l| l == label) {
            continue;
        }
        let Some(le) = labels
            .split(',')
            .find_map(|l| l.strip_prefix("le=\""))
            .and_then(|v| v.strip_suffix('"'))
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        let Ok(n) = value.split_whitespace().next().unwrap_or("").parse::<u64>() else {
            continue;
        };
        match buckets.iter_mut().find(|b| b.0 == le) {
            Some(b) => b.1 += n,
            None => buckets.push((le, n)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Histogram { buckets }
}

/// The function name a `--function` value names (a name, `name:qualifier` or an ARN).
pub(crate) fn function_name(function: &str) -> &str {
    match function.split_once("function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => function.split(':').next().unwrap_or(function),
    }
}

/// `GET /metrics` of the endpoint, parsed for `function`; `None` when it has no such metrics.
pub(crate) async fn scrape(
    endpoint: &Endpoint,
    function: &str,
    timeout: Duration,
) -> Result<Option<Histogram>> {
    let template = RequestTemplate::new(endpoint, Method::GET, "/metrics", Bytes::new())?;
    let mut conn = endpoint.connect(timeout).await?;
    let (parts, body) = tokio::time::timeout(timeout, conn.round_trip_collect(template.build()))
        .await
        .context("GET /metrics timed out")??;
    if !parts.status.is_success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&body);
    // A Hako that has queued no event yet has no series of the histogram (nor its TYPE line).
    if !text.contains(&format!("# TYPE {METRIC} histogram"))
        && !text.contains("# TYPE hako_lambda_")
    {
        return Ok(None);
    }
    Ok(Some(parse(&text, function)))
}

/// Waits (at most `wait`) until at least `expected` more events than in `before` have started
/// and no more start (the warmup's events are not counted in `expected` but are in the
/// histogram), then summarises them; `None` when the endpoint has no such histogram.
pub(crate) async fn measure(
    endpoint: &Endpoint,
    function: &str,
    before: &Histogram,
    expected: u64,
    wait: Duration,
    timeout: Duration,
) -> Result<Option<HandlerStart>> {
    let deadline = Instant::now() + wait;
    let mut last = None;
    loop {
        let Some(now) = scrape(endpoint, function, timeout).await? else {
            return Ok(None);
        };
        let delta = now.since(before);
        let settled = delta.count() >= expected && last == Some(delta.count());
        last = Some(delta.count());
        if settled || Instant::now() >= deadline {
            if delta.count() < expected {
                eprintln!(
                    "hako-bench: warning: {} of {expected} accepted events had started after {wait:?}; the figures cover those",
                    delta.count()
                );
            }
            let q = |x| delta.quantile(x).map(|v| (v * 100.0).round() / 100.0);
            return Ok(match (q(0.5), q(0.9), q(0.99)) {
                (Some(p50_ms), Some(p90_ms), Some(p99_ms)) => Some(HandlerStart {
                    events: delta.count(),
                    p50_ms,
                    p90_ms,
                    p99_ms,
                    source: "server histogram hako_lambda_async_event_age_milliseconds (queue commit to invocation start), bucket-interpolated",
                }),
                _ => None,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE hako_lambda_async_event_age_milliseconds histogram
hako_lambda_async_event_age_milliseconds_bucket{function_name=\"f\",resource=\"f\",le=\"1.0\"} 50
hako_lambda_async_event_age_milliseconds_bucket{function_name=\"f\",resource=\"f\",le=\"2.0\"} 90
hako_lambda_async_event_age_milliseconds_bucket{function_name=\"f\",resource=\"f\",le=\"10.0\"} 100
hako_lambda_async_event_age_milliseconds_bucket{function_name=\"f\",resource=\"f\",le=\"+Inf\"} 100
hako_lambda_async_event_age_milliseconds_bucket{function_name=\"g\",resource=\"g\",le=\"1.0\"} 7
";

    #[test]
    fn percentiles_from_a_histogram_difference() {
        let h = parse(TEXT, "f");
        assert_eq!(h.count(), 100);
        assert!(parse(TEXT, "nope").count() == 0);
        assert_eq!(h.quantile(0.5), Some(1.0));
        assert_eq!(h.quantile(0.25), Some(0.5));
        assert_eq!(h.quantile(0.9), Some(2.0));
        assert_eq!(h.quantile(0.95), Some(6.0));
        let before = Histogram {
            buckets: vec![(1.0, 50), (2.0, 50), (10.0, 50), (f64::INFINITY, 50)],
        };
        let d = h.since(&before);
        assert_eq!(d.count(), 50);
        assert_eq!(d.quantile(0.8), Some(2.0));
    }

    #[test]
    fn names_from_arns() {
        assert_eq!(function_name("f"), "f");
        assert_eq!(function_name("f:live"), "f");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:f:1"),
            "f"
        );
    }
}
