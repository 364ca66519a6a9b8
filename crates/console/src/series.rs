//! The console's metric history: the engine's Prometheus counters, histograms and gauges
//! (`hako_engine::metrics`, as `GET /metrics` renders them) sampled every few seconds into a ring
//! of an hour, kept as what changed in each interval, per function. Plots read it:
//! invocations, errors and throttles per interval, duration p50/p99 of the interval (from its
//! histogram buckets, interpolated within a bucket as Prometheus's `histogram_quantile` does),
//! and concurrency at the sample.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// How long the ring reaches back.
pub const HISTORY: Duration = Duration::from_secs(3600);

const INVOCATIONS: &str = "hako_lambda_invocations_total";
const ERRORS: &str = "hako_lambda_errors_total";
const THROTTLES: &str = "hako_lambda_throttles_total";
const DURATION_BUCKET: &str = "hako_lambda_duration_milliseconds_bucket";
const CONCURRENT: &str = "hako_lambda_concurrent_executions";

/// One function's cumulative readings at a sample.
#[derive(Debug, Clone, Default, PartialEq)]
struct Reading {
    invocations: u64,
    errors: u64,
    throttles: u64,
    /// Cumulative counts by upper bound (`le`), `+Inf` last.
    buckets: BTreeMap<Bound, u64>,
    concurrency: i64,
}

/// A bucket's upper bound, ordered (`+Inf` is the largest).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound(f64);

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Readings of every function (summed over its versions) from the OpenMetrics text.
fn parse(text: &str) -> HashMap<String, Reading> {
    let mut out: HashMap<String, Reading> = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((head, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match head.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (head, ""),
        };
        if ![INVOCATIONS, ERRORS, THROTTLES, DURATION_BUCKET, CONCURRENT].contains(&name) {
            continue;
        }
        let label = |key: &str| {
            labels.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == key).then(|| v.trim_matches('"'))
            })
        };
        let Some(function) = label("function_name") else {
            continue;
        };
        let r = out.entry(function.to_string()).or_default();
        let n = value.max(0.0) as u64;
        match name {
            INVOCATIONS => r.invocations += n,
            ERRORS => r.errors += n,
            THROTTLES => r.throttles += n,
            CONCURRENT => r.concurrency += value as i64,
            _ => {
                let le = match label("le") {
                    Some("+Inf") => f64::INFINITY,
                    Some(le) => match le.parse() {
                        Ok(le) => le,
                        Err(_) => continue,
                    },
                    None => continue,
                };
                *r.buckets.entry(Bound(le)).or_default() += n;
            }
        }
    }
    out
}

/// What changed for one function in one interval.
#[derive(Debug, Clone, Default, PartialEq)]
struct Delta {
    invocations: u64,
    errors: u64,
    throttles: u64,
    /// Observations per bucket (not cumulative), by upper bound.
    buckets: Vec<(f64, u64)>,
    concurrency: i64,
}

impl Delta {
    fn between(before: Option<&Reading>, now: &Reading) -> Delta {
        let zero = Reading::default();
        let b = before.unwrap_or(&zero);
        // A counter that went down was reset (its function deleted and made again): all of it
        // is new.
        let d = |now: u64, before: u64| now.checked_sub(before).unwrap_or(now);
        let mut buckets = Vec::with_capacity(now.buckets.len());
        let mut below = 0u64;
        for (le, &cum) in &now.buckets {
            let cum = d(cum, b.buckets.get(le).copied().unwrap_or(0));
            buckets.push((le.0, cum.saturating_sub(below)));
            below = below.max(cum);
        }
        Delta {
            invocations: d(now.invocations, b.invocations),
            errors: d(now.errors, b.errors),
            throttles: d(now.throttles, b.throttles),
            buckets,
            concurrency: now.concurrency,
        }
    }

    fn is_idle(&self) -> bool {
        self.invocations == 0
            && self.errors == 0
            && self.throttles == 0
            && self.concurrency == 0
            && self.buckets.iter().all(|(_, n)| *n == 0)
    }

    fn add(&mut self, o: &Delta) {
        self.invocations += o.invocations;
        self.errors += o.errors;
        self.throttles += o.throttles;
        self.concurrency += o.concurrency;
        for (le, n) in &o.buckets {
            match self.buckets.iter_mut().find(|(l, _)| l == le) {
                Some((_, m)) => *m += n,
                None => self.buckets.push((*le, *n)),
            }
        }
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// The `q` quantile of the interval's durations, `None` without observations. Linear within
    /// the bucket it falls in; in the `+Inf` bucket, the largest finite bound.
    fn quantile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.buckets.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut seen = 0u64;
        let mut lower = 0.0;
        for (le, n) in &self.buckets {
            if *n > 0 && (seen + n) as f64 >= rank {
                if le.is_infinite() {
                    return Some(lower);
                }
                let within = (rank - seen as f64) / *n as f64;
                return Some(lower + (le - lower) * within);
            }
            seen += n;
            if le.is_finite() {
                lower = *le;
            }
        }
        Some(lower)
    }
}

/// One sample: when, and what changed for each function that did anything.
#[derive(Debug, Clone)]
struct Sample {
    at_ms: i64,
    functions: Vec<(Arc<str>, Delta)>,
}

#[derive(Debug, Default)]
struct Ring {
    last: HashMap<String, Reading>,
    names: HashMap<String, Arc<str>>,
    samples: VecDeque<Sample>,
}

/// The plots' data for one function (or all): one entry per sample, oldest first.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Plot {
    pub interval_ms: u64,
    /// Sample times, Unix seconds (uPlot's x axis).
    pub t: Vec<f64>,
    pub invocations: Vec<u64>,
    pub errors: Vec<u64>,
    pub throttles: Vec<u64>,
    pub p50_ms: Vec<Option<f64>>,
    pub p99_ms: Vec<Option<f64>>,
    pub concurrency: Vec<i64>,
}

/// The ring of samples. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Series {
    ring: Arc<Mutex<Ring>>,
    interval: Duration,
}

impl Series {
    /// A ring sampled every `interval`, keeping an hour.
    pub fn new(interval: Duration) -> Series {
        Series {
            ring: Arc::default(),
            interval: interval.max(Duration::from_millis(100)),
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn capacity(&self) -> usize {
        (HISTORY.as_millis() / self.interval.as_millis()).max(1) as usize
    }

    /// Takes one sample of `text` (the engine's metrics) at `at_ms`.
    pub fn record(&self, at_ms: i64, text: &str) {
        let now = parse(text);
        let mut ring = self.ring.lock();
        let mut functions = Vec::new();
        for (name, reading) in &now {
            let delta = Delta::between(ring.last.get(name), reading);
            if delta.is_idle() {
                continue;
            }
            let key = ring
                .names
                .entry(name.clone())
                .or_insert_with(|| Arc::from(name.as_str()))
                .clone();
            functions.push((key, delta));
        }
        ring.last = now;
        let cap = self.capacity();
        while ring.samples.len() >= cap {
            ring.samples.pop_front();
        }
        ring.samples.push_back(Sample { at_ms, functions });
        // Names no sample mentions any more go.
        if ring.names.len() > ring.last.len() {
            let live: std::collections::HashSet<&str> = ring
                .samples
                .iter()
                .flat_map(|s| s.functions.iter().map(|(n, _)| &**n))
                .chain(ring.last.keys().map(String::as_str))
                .collect();
            let keep: HashMap<String, Arc<str>> = ring
                .names
                .iter()
                .filter(|(k, _)| live.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            ring.names = keep;
        }
    }

    /// The plots of `function` (every function summed when `None`).
    pub fn plot(&self, function: Option<&str>) -> Plot {
        let ring = self.ring.lock();
        let mut p = Plot {
            interval_ms: self.interval.as_millis() as u64,
            ..Plot::default()
        };
        for s in &ring.samples {
            let mut d = Delta::default();
            for (name, delta) in &s.functions {
                if function.is_none_or(|f| f == &**name) {
                    d.add(delta);
                }
            }
            p.t.push(s.at_ms as f64 / 1000.0);
            p.invocations.push(d.invocations);
            p.errors.push(d.errors);
            p.throttles.push(d.throttles);
            p.p50_ms.push(d.quantile(0.5));
            p.p99_ms.push(d.quantile(0.99));
            p.concurrency.push(d.concurrency);
        }
        p
    }

    /// Samples `metrics` every interval until `stop` (a supervised task of the binary).
    pub async fn run(
        self,
        metrics: impl Fn() -> String + Send,
        now_ms: impl Fn() -> i64 + Send,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.record(now_ms(), &metrics());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the engine renders for two functions (prometheus_client's text format).
    fn text(f_inv: u64, f_err: u64, g_inv: u64, buckets: [u64; 3], conc: i64) -> String {
        format!(
            "# TYPE hako_lambda_invocations counter\n\
             hako_lambda_invocations_total{{function_name=\"f\",resource=\"f\"}} {f_inv}\n\
             hako_lambda_invocations_total{{function_name=\"g\",resource=\"g:1\"}} {g_inv}\n\
             hako_lambda_errors_total{{function_name=\"f\",resource=\"f\"}} {f_err}\n\
             hako_lambda_throttles_total{{function_name=\"f\",resource=\"f\"}} 0\n\
             hako_lambda_duration_milliseconds_sum{{function_name=\"f\",resource=\"f\"}} 9.5\n\
             hako_lambda_duration_milliseconds_bucket{{le=\"1.0\",function_name=\"f\",resource=\"f\"}} {}\n\
             hako_lambda_duration_milliseconds_bucket{{le=\"10.0\",function_name=\"f\",resource=\"f\"}} {}\n\
             hako_lambda_duration_milliseconds_bucket{{le=\"+Inf\",function_name=\"f\",resource=\"f\"}} {}\n\
             hako_lambda_concurrent_executions{{function_name=\"f\",resource=\"f\"}} {conc}\n\
             hako_lambda_account_concurrent_executions 3\n# EOF\n",
            buckets[0], buckets[1], buckets[2]
        )
    }

    #[test]
    fn each_sample_holds_what_changed_in_its_interval() {
        let s = Series::new(Duration::from_secs(5));
        s.record(1_000, &text(0, 0, 0, [0, 0, 0], 0));
        s.record(6_000, &text(4, 1, 2, [1, 3, 4], 1));
        s.record(11_000, &text(4, 1, 2, [1, 3, 4], 0));
        let all = s.plot(None);
        assert_eq!(all.t, vec![1.0, 6.0, 11.0]);
        assert_eq!(all.invocations, vec![0, 6, 0]);
        assert_eq!(all.errors, vec![0, 1, 0]);
        assert_eq!(all.concurrency, vec![0, 1, 0]);
        let f = s.plot(Some("f"));
        assert_eq!(f.invocations, vec![0, 4, 0]);
        // 1 observation <= 1 ms, 2 in (1, 10], 1 above: the median is in (1, 10].
        let p50 = f.p50_ms[1].expect("observations");
        assert!((1.0..=10.0).contains(&p50), "{p50}");
        assert_eq!(f.p99_ms[1], Some(10.0));
        assert_eq!(f.p50_ms[0], None);
        assert_eq!(s.plot(Some("g")).invocations, vec![0, 2, 0]);
        assert_eq!(s.plot(Some("nope")).invocations, vec![0, 0, 0]);
    }

    #[test]
    fn a_counter_that_went_down_counts_from_zero() {
        let s = Series::new(Duration::from_secs(5));
        s.record(0, &text(10, 0, 0, [0, 0, 0], 0));
        s.record(5_000, &text(3, 0, 0, [0, 0, 0], 0));
        assert_eq!(s.plot(Some("f")).invocations, vec![10, 3]);
    }

    #[test]
    fn the_ring_keeps_an_hour() {
        let s = Series::new(Duration::from_secs(60));
        for i in 0..100 {
            s.record(i * 60_000, &text(i as u64, 0, 0, [0, 0, 0], 0));
        }
        let p = s.plot(None);
        assert_eq!(p.t.len(), 60);
        assert_eq!(p.t[0], (40 * 60) as f64);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let d = Delta {
            buckets: vec![(1.0, 0), (5.0, 10), (f64::INFINITY, 0)],
            ..Delta::default()
        };
        assert_eq!(d.quantile(0.5), Some(3.0));
        assert_eq!(d.quantile(1.0), Some(5.0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_sampler_stops_when_told() {
        let s = Series::new(Duration::from_secs(5));
        let stop = CancellationToken::new();
        let task = tokio::spawn(
            s.clone()
                .run(|| text(1, 0, 0, [0, 0, 0], 0), || 0, stop.clone()),
        );
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert_eq!(s.plot(None).t.len(), 3);
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("stopped")
            .expect("no panic");
    }
}
