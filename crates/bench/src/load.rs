//! Closed-loop load: N workers, each with one persistent keep-alive
//! connection, sending back-to-back requests for warmup + duration.
//!
//! Only requests *started* inside the measurement window are counted; the
//! window's length is from its start to the last counted completion (or its
//! nominal end, whichever is later). Latency is send → full body read, for
//! successful requests only; failures are counted by kind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Conn, Endpoint, RequestTemplate, X_AMZ_FUNCTION_ERROR};

/// Failures by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErrorCounts {
    /// Responses whose status was not the expected one, by status code.
    pub status: BTreeMap<u16, u64>,
    /// Expected status but `X-Amz-Function-Error` set.
    pub function_error: u64,
    /// Connect, send or body-read failures.
    pub transport: u64,
    /// Requests that hit the per-request timeout.
    pub timeout: u64,
    /// Queue and stream modes: a 200 whose body failed the mode's check
    /// (unparsable, batch entries in `Failed`, `FailedRecordCount` > 0).
    pub answer: u64,
    /// First failure seen, for diagnosis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
}

impl ErrorCounts {
    /// Total failures of all kinds.
    pub fn total(&self) -> u64 {
        self.status.values().sum::<u64>()
            + self.function_error
            + self.transport
            + self.timeout
            + self.answer
    }

    pub(crate) fn note(&mut self, msg: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some(msg());
        }
    }

    pub(crate) fn merge(&mut self, other: ErrorCounts) {
        for (k, v) in other.status {
            *self.status.entry(k).or_default() += v;
        }
        self.function_error += other.function_error;
        self.transport += other.transport;
        self.timeout += other.timeout;
        self.answer += other.answer;
        if self.first.is_none() {
            self.first = other.first;
        }
    }

    /// Classifies one response; `true` when it is a success.
    pub(crate) fn classify(&mut self, parts: &http::response::Parts, expected: StatusCode) -> bool {
        if parts.status != expected {
            *self.status.entry(parts.status.as_u16()).or_default() += 1;
            self.note(|| format!("HTTP {} (expected {})", parts.status, expected.as_u16()));
            false
        } else if let Some(v) = parts.headers.get(X_AMZ_FUNCTION_ERROR) {
            self.function_error += 1;
            self.note(|| {
                format!(
                    "X-Amz-Function-Error: {}",
                    v.to_str().unwrap_or("<non-ascii>")
                )
            });
            false
        } else {
            true
        }
    }
}

/// What one load phase does.
pub(crate) struct LoadSpec {
    pub(crate) endpoint: Endpoint,
    pub(crate) template: RequestTemplate,
    pub(crate) concurrency: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) expected: StatusCode,
    pub(crate) request_timeout: Duration,
}

/// Merged result of all workers.
#[derive(Debug)]
pub(crate) struct LoadOutcome {
    /// Successful request latencies in µs, ascending.
    pub(crate) latencies_us: Vec<u64>,
    /// Requests counted in the window (successes + failures).
    pub(crate) requests: u64,
    pub(crate) errors: ErrorCounts,
    /// Length of the measurement window.
    pub(crate) measured: Duration,
}

/// One worker's counts (also the queue modes' workers).
#[derive(Default)]
pub(crate) struct WorkerOutcome {
    /// Successful iterations' latencies, µs (ascending once merged).
    pub(crate) latencies_us: Vec<u64>,
    pub(crate) requests: u64,
    /// Queue and stream modes: messages or records completed.
    pub(crate) items: u64,
    pub(crate) errors: ErrorCounts,
    /// When the last counted iteration ended.
    pub(crate) last_done: Option<Instant>,
}

/// Waits for every worker of `set` and merges their counts, latencies
/// sorted; a worker that panicked is counted as a transport failure.
pub(crate) async fn join_workers(mut set: JoinSet<WorkerOutcome>) -> WorkerOutcome {
    let mut merged = WorkerOutcome::default();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(w) => {
                merged.latencies_us.extend_from_slice(&w.latencies_us);
                merged.requests += w.requests;
                merged.items += w.items;
                merged.errors.merge(w.errors);
                merged.last_done = merged.last_done.max(w.last_done);
            }
            Err(e) => {
                // A panicking worker is a bug; record it rather than hide it.
                merged.errors.transport += 1;
                merged.errors.note(|| format!("worker task failed: {e}"));
            }
        }
    }
    merged.latencies_us.sort_unstable();
    merged
}

/// Pause after a failed connect so a dead endpoint doesn't spin a core.
const CONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// Runs the load and merges the workers' results.
pub(crate) async fn run_load(spec: LoadSpec) -> LoadOutcome {
    let spec = Arc::new(spec);
    let start = Instant::now();
    let measure_start = start + spec.warmup;
    let end = measure_start + spec.duration;

    let mut set = JoinSet::new();
    for _ in 0..spec.concurrency.max(1) {
        set.spawn(worker(Arc::clone(&spec), measure_start, end));
    }

    let merged = join_workers(set).await;
    let window_end = merged.last_done.map_or(end, |t| t.max(end));
    LoadOutcome {
        latencies_us: merged.latencies_us,
        requests: merged.requests,
        errors: merged.errors,
        measured: window_end.saturating_duration_since(measure_start),
    }
}

async fn worker(spec: Arc<LoadSpec>, measure_start: Instant, end: Instant) -> WorkerOutcome {
    let mut out = WorkerOutcome::default();
    let mut conn: Option<Conn> = None;
    while Instant::now() < end {
        // (Re)connect outside the timed section.
        let ready = match conn.as_mut() {
            Some(c) => c.ready().await,
            None => false,
        };
        if !ready {
            conn = None;
            match spec.endpoint.connect(spec.request_timeout).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    let now = Instant::now();
                    if now >= measure_start {
                        out.requests += 1;
                        out.errors.transport += 1;
                        out.errors.note(|| format!("{e:#}"));
                        out.last_done = Some(now);
                    }
                    let pause = CONNECT_BACKOFF.min(end.saturating_duration_since(now));
                    tokio::time::sleep(pause).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };

        let req = spec.template.build();
        let t0 = Instant::now();
        let res = tokio::time::timeout(spec.request_timeout, c.round_trip(req)).await;
        let t1 = Instant::now();
        let counted = t0 >= measure_start;
        match res {
            Ok(Ok(parts)) => {
                if counted {
                    out.requests += 1;
                    if out.errors.classify(&parts, spec.expected) {
                        let us =
                            u64::try_from(t1.duration_since(t0).as_micros()).unwrap_or(u64::MAX);
                        out.latencies_us.push(us);
                    }
                }
            }
            Ok(Err(e)) => {
                conn = None;
                if counted {
                    out.requests += 1;
                    out.errors.transport += 1;
                    out.errors.note(|| format!("{e:#}"));
                }
            }
            Err(_) => {
                conn = None;
                if counted {
                    out.requests += 1;
                    out.errors.timeout += 1;
                    out.errors
                        .note(|| format!("request timed out after {:?}", spec.request_timeout));
                }
            }
        }
        if counted {
            out.last_done = Some(t1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(status: u16, fn_err: bool) -> http::response::Parts {
        let mut b = http::Response::builder().status(status);
        if fn_err {
            b = b.header("X-Amz-Function-Error", "Unhandled");
        }
        b.body(()).expect("response").into_parts().0
    }

    #[test]
    fn classify_and_merge() {
        let mut a = ErrorCounts::default();
        assert!(a.classify(&parts(200, false), StatusCode::OK));
        assert!(!a.classify(&parts(200, true), StatusCode::OK));
        assert!(!a.classify(&parts(500, false), StatusCode::OK));
        assert!(!a.classify(&parts(200, false), StatusCode::ACCEPTED));
        assert_eq!(a.function_error, 1);
        assert_eq!(a.status.get(&500), Some(&1));
        assert_eq!(a.status.get(&200), Some(&1));
        assert_eq!(a.total(), 3);
        assert_eq!(a.first.as_deref(), Some("X-Amz-Function-Error: Unhandled"));

        let mut b = ErrorCounts {
            transport: 2,
            ..Default::default()
        };
        b.status.insert(500, 4);
        a.merge(b);
        assert_eq!(a.status.get(&500), Some(&5));
        assert_eq!(a.total(), 9);
    }
}
