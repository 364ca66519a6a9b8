//! Hako's Lambda metrics: the one place where metric names live and where they are recorded.
//!
//! # Design
//!
//! The engine records; the binary exposes. [`Metrics`] owns a `prometheus_client` registry; the
//! engine holds one and renders it on demand ([`crate::Engine::render_metrics`]), and `hako serve`
//! answers `GET /metrics` with that text (OpenMetrics text format, which Prometheus scrapes).
//! There is no global recorder: a test builds its own `Metrics` and reads it back.
//!
//! # Naming spec
//!
//! `hako_lambda_<AWS metric name in snake_case>[_<unit>]`, counters with the `_total` suffix the
//! encoder adds. Each series carries the dimensions AWS gives the metric in CloudWatch, as labels:
//!
//! | metric | type | labels | AWS metric |
//! |---|---|---|---|
//! | `hako_lambda_invocations_total` | counter | function | Invocations (throttled calls excluded) |
//! | `hako_lambda_errors_total` | counter | function | Errors (function errors) |
//! | `hako_lambda_throttles_total` | counter | function | Throttles |
//! | `hako_lambda_duration_milliseconds` | histogram | function | Duration |
//! | `hako_lambda_concurrent_executions` | gauge | function | ConcurrentExecutions |
//! | `hako_lambda_cold_starts_total` | counter | function | (Init Duration's count) |
//! | `hako_lambda_provisioned_concurrent_executions` | gauge | function | ProvisionedConcurrentExecutions |
//! | `hako_lambda_provisioned_concurrency_invocations_total` | counter | function | ProvisionedConcurrencyInvocations |
//! | `hako_lambda_provisioned_concurrency_spillover_invocations_total` | counter | function | ProvisionedConcurrencySpilloverInvocations |
//! | `hako_lambda_provisioned_concurrency_utilization` | gauge (0.0-1.0) | function | ProvisionedConcurrencyUtilization |
//! | `hako_lambda_dead_letter_errors_total` | counter | function | DeadLetterErrors |
//! | `hako_lambda_destination_delivery_failures_total` | counter | function | DestinationDeliveryFailures |
//! | `hako_lambda_async_events_received_total` | counter | function | AsyncEventsReceived |
//! | `hako_lambda_async_event_age_milliseconds` | histogram | function | AsyncEventAge |
//! | `hako_lambda_async_events_dropped_total` | counter | function | AsyncEventsDropped |
//! | `hako_lambda_account_concurrent_executions` | gauge | none | ConcurrentExecutions (account) |
//! | `hako_lambda_unreserved_concurrent_executions` | gauge | none | UnreservedConcurrentExecutions |
//!
//! "function" labels are `function_name` (the function's name) and `resource`: the name for
//! `$LATEST`, `name:version` for a published version (AWS's `Resource` dimension; aliases will
//! add `name:alias`). The provisioned-concurrency metrics name the qualifier of the configuration,
//! as AWS does: `name:alias` for one on an alias, `name:version` for one on a version. Summing by
//! `function_name` gives AWS's per-function figure (but for the utilisation, a ratio).
//! A configuration's series stay after it is removed (counters keep their history) and go with
//! the function.
//!
//! # Cardinality
//!
//! Per-function series: 15 families at most per (function, version) invoked or provisioned since
//! the start, so the bound is 15 × the number of function versions; a deleted function's series go with it
//! ([`Metrics::forget`]). No label takes a request-derived value (no request id, no error text).
//!
//! # Cost on the hot path
//!
//! Each (function, version) resolves its handles once ([`FunctionMetrics`], kept in the engine's
//! per-function state); recording is then an atomic add per counter and a short uncontended lock
//! per histogram observation, with no label lookup or allocation. The account-wide gauges are read
//! from the engine's own counters when the registry is rendered, so invocations pay nothing for
//! them.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Duration buckets in milliseconds: a warm invoke takes well under 1 ms of platform time, Lambda's
/// timeout goes up to 900 s.
const DURATION_BUCKETS_MS: [f64; 16] = [
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 900000.0,
];

/// Event-age buckets in milliseconds, up to the 6-hour maximum event age.
/// The low end is fine-grained: an event that waits for nothing starts within milliseconds, and
/// `hako bench --mode async` reads its percentiles from these buckets.
const AGE_BUCKETS_MS: [f64; 24] = [
    0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 25.0, 50.0, 100.0, 250.0, 1000.0, 10000.0,
    60000.0, 120000.0, 300000.0, 600000.0, 1800000.0, 3600000.0, 10800000.0, 21600000.0,
];

/// Who updates a declared metric; the test `every_declared_metric_is_updated` holds the code to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdatedBy {
    /// A [`FunctionMetrics`] method the engine calls on the invoke path.
    Invoke(&'static str),
    /// [`Metrics::render`], from the engine's counters.
    Render,
    /// Nothing yet.
    Later,
}

/// Every metric, as encoded (without the counter `_total` suffix), with what updates it.
pub const DECLARED: &[(&str, UpdatedBy)] = &[
    (INVOCATIONS, UpdatedBy::Invoke("finished")),
    (ERRORS, UpdatedBy::Invoke("finished")),
    (THROTTLES, UpdatedBy::Invoke("throttled")),
    (DURATION, UpdatedBy::Invoke("finished")),
    (CONCURRENT, UpdatedBy::Invoke("started")),
    (COLD_STARTS, UpdatedBy::Invoke("cold_start")),
    (ACCOUNT_CONCURRENT, UpdatedBy::Render),
    (UNRESERVED_CONCURRENT, UpdatedBy::Render),
    // updated by the async queue (through `Engine::record_async`)
    (DEAD_LETTER_ERRORS, UpdatedBy::Invoke("dead_letter_error")),
    (
        DESTINATION_DELIVERY_FAILURES,
        UpdatedBy::Invoke("destination_delivery_failed"),
    ),
    (ASYNC_EVENTS_RECEIVED, UpdatedBy::Invoke("async_received")),
    (ASYNC_EVENT_AGE, UpdatedBy::Invoke("async_event_age")),
    (ASYNC_EVENTS_DROPPED, UpdatedBy::Invoke("async_dropped")),
    (
        PROVISIONED_CONCURRENT,
        UpdatedBy::Invoke("provisioned_started"),
    ),
    (
        PROVISIONED_INVOCATIONS,
        UpdatedBy::Invoke("provisioned_started"),
    ),
    (PROVISIONED_SPILLOVER, UpdatedBy::Invoke("spilled_over")),
    (
        PROVISIONED_UTILIZATION,
        UpdatedBy::Invoke("provisioned_started"),
    ),
];

const INVOCATIONS: &str = "hako_lambda_invocations";
const ERRORS: &str = "hako_lambda_errors";
const THROTTLES: &str = "hako_lambda_throttles";
const DURATION: &str = "hako_lambda_duration_milliseconds";
const CONCURRENT: &str = "hako_lambda_concurrent_executions";
const COLD_STARTS: &str = "hako_lambda_cold_starts";
const PROVISIONED_CONCURRENT: &str = "hako_lambda_provisioned_concurrent_executions";
const PROVISIONED_INVOCATIONS: &str = "hako_lambda_provisioned_concurrency_invocations";
const PROVISIONED_SPILLOVER: &str = "hako_lambda_provisioned_concurrency_spillover_invocations";
const PROVISIONED_UTILIZATION: &str = "hako_lambda_provisioned_concurrency_utilization";
const DEAD_LETTER_ERRORS: &str = "hako_lambda_dead_letter_errors";
const DESTINATION_DELIVERY_FAILURES: &str = "hako_lambda_destination_delivery_failures";
const ASYNC_EVENTS_RECEIVED: &str = "hako_lambda_async_events_received";
const ASYNC_EVENT_AGE: &str = "hako_lambda_async_event_age_milliseconds";
const ASYNC_EVENTS_DROPPED: &str = "hako_lambda_async_events_dropped";
const ACCOUNT_CONCURRENT: &str = "hako_lambda_account_concurrent_executions";
const UNRESERVED_CONCURRENT: &str = "hako_lambda_unreserved_concurrent_executions";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabels {
    function_name: String,
    resource: String,
}

impl FunctionLabels {
    fn new(name: &str, version: &str) -> Self {
        FunctionLabels {
            function_name: name.to_string(),
            resource: if version == "$LATEST" {
                name.to_string()
            } else {
                format!("{name}:{version}")
            },
        }
    }
}

type HistogramFamily = Family<FunctionLabels, Histogram, fn() -> Histogram>;

/// A gauge of a ratio (0.0-1.0).
type RatioGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS_MS)
}

fn age_histogram() -> Histogram {
    Histogram::new(AGE_BUCKETS_MS)
}

/// The registry and its metric families.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    invocations: Family<FunctionLabels, Counter>,
    errors: Family<FunctionLabels, Counter>,
    throttles: Family<FunctionLabels, Counter>,
    duration: HistogramFamily,
    concurrent: Family<FunctionLabels, Gauge>,
    cold_starts: Family<FunctionLabels, Counter>,
    provisioned_concurrent: Family<FunctionLabels, Gauge>,
    provisioned_invocations: Family<FunctionLabels, Counter>,
    provisioned_spillover: Family<FunctionLabels, Counter>,
    provisioned_utilization: Family<FunctionLabels, RatioGauge>,
    dead_letter_errors: Family<FunctionLabels, Counter>,
    destination_delivery_failures: Family<FunctionLabels, Counter>,
    async_events_received: Family<FunctionLabels, Counter>,
    async_event_age: HistogramFamily,
    async_events_dropped: Family<FunctionLabels, Counter>,
    account_concurrent: Gauge,
    unreserved_concurrent: Gauge,
}

/// Strips the unit suffix the encoder adds back from [`Unit`].
fn base(name: &str, unit: &str) -> String {
    name.strip_suffix(&format!("_{unit}"))
        .unwrap_or(name)
        .to_string()
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let ms = || Unit::Other("milliseconds".to_string());
        let m = Metrics {
            invocations: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            concurrent: Family::default(),
            cold_starts: Family::default(),
            provisioned_concurrent: Family::default(),
            provisioned_invocations: Family::default(),
            provisioned_spillover: Family::default(),
            provisioned_utilization: Family::default(),
            dead_letter_errors: Family::default(),
            destination_delivery_failures: Family::default(),
            async_events_received: Family::default(),
            async_event_age: Family::new_with_constructor(age_histogram),
            async_events_dropped: Family::default(),
            account_concurrent: Gauge::default(),
            unreserved_concurrent: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            INVOCATIONS,
            "Invocations that ran (successful or not; throttled calls excluded)",
            m.invocations.clone(),
        );
        r.register(
            ERRORS,
            "Invocations that ended in a function error",
            m.errors.clone(),
        );
        r.register(
            THROTTLES,
            "Invocations refused for lack of concurrency",
            m.throttles.clone(),
        );
        r.register_with_unit(
            base(DURATION, "milliseconds"),
            "Time the function spent on an event",
            ms(),
            m.duration.clone(),
        );
        r.register(CONCURRENT, "Invocations running now", m.concurrent.clone());
        r.register(
            COLD_STARTS,
            "Invocations that started a sandbox",
            m.cold_starts.clone(),
        );
        r.register(
            PROVISIONED_CONCURRENT,
            "Invocations running now on provisioned concurrency",
            m.provisioned_concurrent.clone(),
        );
        r.register(
            PROVISIONED_INVOCATIONS,
            "Invocations that ran on provisioned concurrency",
            m.provisioned_invocations.clone(),
        );
        r.register(
            PROVISIONED_SPILLOVER,
            "Invocations of a version with provisioned concurrency that ran on on-demand concurrency because all of it was in use",
            m.provisioned_spillover.clone(),
        );
        r.register(
            PROVISIONED_UTILIZATION,
            "Provisioned sandboxes running an invocation, divided by those allocated",
            m.provisioned_utilization.clone(),
        );
        r.register(
            DEAD_LETTER_ERRORS,
            "Failed deliveries to the dead-letter queue",
            m.dead_letter_errors.clone(),
        );
        r.register(
            DESTINATION_DELIVERY_FAILURES,
            "Failed deliveries to a destination",
            m.destination_delivery_failures.clone(),
        );
        r.register(
            ASYNC_EVENTS_RECEIVED,
            "Asynchronous events queued",
            m.async_events_received.clone(),
        );
        r.register_with_unit(
            base(ASYNC_EVENT_AGE, "milliseconds"),
            "Time from an asynchronous event's queueing to its invocation",
            ms(),
            m.async_event_age.clone(),
        );
        r.register(
            ASYNC_EVENTS_DROPPED,
            "Asynchronous events dropped without running",
            m.async_events_dropped.clone(),
        );
        r.register(
            ACCOUNT_CONCURRENT,
            "Invocations running now, all functions",
            m.account_concurrent.clone(),
        );
        r.register(
            UNRESERVED_CONCURRENT,
            "Invocations running now of functions without reserved concurrency",
            m.unreserved_concurrent.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The handles of one function version (resolve once, record many times).
    pub(crate) fn function(&self, name: &str, version: &str) -> FunctionMetrics {
        let l = FunctionLabels::new(name, version);
        FunctionMetrics {
            invocations: self.invocations.get_or_create_owned(&l),
            errors: self.errors.get_or_create_owned(&l),
            throttles: self.throttles.get_or_create_owned(&l),
            duration: self.duration.get_or_create_owned(&l),
            concurrent: self.concurrent.get_or_create_owned(&l),
            cold_starts: self.cold_starts.get_or_create_owned(&l),
            dead_letter_errors: self.dead_letter_errors.get_or_create_owned(&l),
            destination_delivery_failures: self
                .destination_delivery_failures
                .get_or_create_owned(&l),
            async_events_received: self.async_events_received.get_or_create_owned(&l),
            async_event_age: self.async_event_age.get_or_create_owned(&l),
            async_events_dropped: self.async_events_dropped.get_or_create_owned(&l),
        }
    }

    /// The handles of one provisioned concurrency configuration (`qualifier`: its version or
    /// alias).
    pub(crate) fn provisioned(&self, name: &str, qualifier: &str) -> ProvisionedMetrics {
        let l = FunctionLabels::new(name, qualifier);
        ProvisionedMetrics {
            concurrent: self.provisioned_concurrent.get_or_create_owned(&l),
            invocations: self.provisioned_invocations.get_or_create_owned(&l),
            spillover: self.provisioned_spillover.get_or_create_owned(&l),
            utilization: self.provisioned_utilization.get_or_create_owned(&l),
        }
    }

    /// Drops the series of a function version or alias (when the function is deleted).
    pub(crate) fn forget(&self, name: &str, version: &str) {
        let l = FunctionLabels::new(name, version);
        self.invocations.remove(&l);
        self.errors.remove(&l);
        self.throttles.remove(&l);
        self.duration.remove(&l);
        self.concurrent.remove(&l);
        self.cold_starts.remove(&l);
        self.provisioned_concurrent.remove(&l);
        self.provisioned_invocations.remove(&l);
        self.provisioned_spillover.remove(&l);
        self.provisioned_utilization.remove(&l);
        self.dead_letter_errors.remove(&l);
        self.destination_delivery_failures.remove(&l);
        self.async_events_received.remove(&l);
        self.async_event_age.remove(&l);
        self.async_events_dropped.remove(&l);
    }

    /// The registry in the OpenMetrics text format, with the account-wide gauges set from the
    /// engine's counters.
    pub(crate) fn render(&self, account_inflight: u64, unreserved_inflight: u64) -> String {
        self.account_concurrent
            .set(i64::try_from(account_inflight).unwrap_or(i64::MAX));
        self.unreserved_concurrent
            .set(i64::try_from(unreserved_inflight).unwrap_or(i64::MAX));
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The pre-resolved handles of one function version: recording is an atomic add, no lookup.
#[derive(Debug, Clone)]
pub(crate) struct FunctionMetrics {
    invocations: Counter,
    errors: Counter,
    throttles: Counter,
    duration: Histogram,
    concurrent: Gauge,
    cold_starts: Counter,
    dead_letter_errors: Counter,
    destination_delivery_failures: Counter,
    async_events_received: Counter,
    async_event_age: Histogram,
    async_events_dropped: Counter,
}

impl FunctionMetrics {
    /// An invocation was refused for lack of concurrency.
    pub(crate) fn throttled(&self) {
        self.throttles.inc();
    }

    /// An invocation got its concurrency and starts (undone by [`Self::ended`]).
    pub(crate) fn started(&self) {
        self.concurrent.inc();
    }

    /// An invocation gave its concurrency back.
    pub(crate) fn ended(&self) {
        self.concurrent.dec();
    }

    /// An asynchronous event was queued.
    pub(crate) fn async_received(&self) {
        self.async_events_received.inc();
    }

    /// An asynchronous event is invoked `age` after it was queued.
    pub(crate) fn async_event_age(&self, age: Duration) {
        self.async_event_age.observe(age.as_secs_f64() * 1000.0);
    }

    /// An asynchronous event was dropped without a successful run.
    pub(crate) fn async_dropped(&self) {
        self.async_events_dropped.inc();
    }

    /// An invocation record could not be delivered to its destination.
    pub(crate) fn destination_delivery_failed(&self) {
        self.destination_delivery_failures.inc();
    }

    /// An event could not be sent to its dead-letter queue.
    pub(crate) fn dead_letter_error(&self) {
        self.dead_letter_errors.inc();
    }

    /// An invocation started a sandbox.
    pub(crate) fn cold_start(&self) {
        self.cold_starts.inc();
    }

    /// An invocation ran: `duration` is the function's time on the event (none when no sandbox
    /// could take it), `error` whether it ended in a function error.
    pub(crate) fn finished(&self, duration: Option<Duration>, error: bool) {
        self.invocations.inc();
        if error {
            self.errors.inc();
        }
        if let Some(d) = duration {
            self.duration.observe(d.as_secs_f64() * 1000.0);
        }
    }
}

/// The pre-resolved handles of one provisioned concurrency configuration.
#[derive(Debug, Clone)]
pub(crate) struct ProvisionedMetrics {
    concurrent: Gauge,
    invocations: Counter,
    spillover: Counter,
    utilization: RatioGauge,
}

impl ProvisionedMetrics {
    /// An invocation took a provisioned sandbox; `utilization` is the configuration's now.
    pub(crate) fn provisioned_started(&self, utilization: f64) {
        self.concurrent.inc();
        self.invocations.inc();
        self.utilization.set(utilization);
    }

    /// An invocation gave its provisioned sandbox back.
    pub(crate) fn provisioned_ended(&self, utilization: f64) {
        self.concurrent.dec();
        self.utilization.set(utilization);
    }

    /// The configuration's sandboxes changed (allocated or removed).
    pub(crate) fn set_utilization(&self, utilization: f64) {
        self.utilization.set(utilization);
    }

    /// An invocation found every provisioned sandbox in use and ran on-demand.
    pub(crate) fn spilled_over(&self) {
        self.spillover.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The samples of `name` (and its `_total`/`_count` forms), value by line.
    fn values(text: &str, name: &str) -> Vec<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                let metric = l.split(['{', ' ']).next().unwrap_or("");
                metric == name
                    || metric == format!("{name}_total")
                    || metric == format!("{name}_count")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn every_declared_metric_is_encoded_under_its_name() {
        let m = Metrics::new();
        let _f = m.function("f", "$LATEST");
        // The provisioned-concurrency series exist for configurations only.
        let _p = m.provisioned("f", "live");
        let text = m.render(0, 0);
        for (name, _) in DECLARED {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing from\n{text}"
            );
        }
        let families = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(families, DECLARED.len(), "undeclared metric in\n{text}");
    }

    /// A metric declared and never updated fails here: each one is either written by a
    /// `FunctionMetrics` method that the engine calls on its invoke path (checked in the engine's
    /// source), or by `render`, or is explicitly left for later work.
    #[test]
    fn every_declared_metric_is_updated() {
        let engine_src: String = [
            include_str!("lib.rs"),
            include_str!("invoke.rs"),
            include_str!("pool.rs"),
            include_str!("provisioned.rs"),
        ]
        .iter()
        .map(|src| src.split("#[cfg(test)]").next().unwrap_or(src))
        .collect();
        let m = Metrics::new();
        let f = m.function("f", "7");
        // Every recorder, once: the metric each one feeds must then be non-zero.
        f.throttled();
        f.started();
        f.cold_start();
        let p = m.provisioned("f", "7");
        p.provisioned_started(0.5);
        p.spilled_over();
        f.finished(Some(Duration::from_millis(3)), true);
        f.async_received();
        f.async_event_age(Duration::from_millis(5));
        f.async_dropped();
        f.destination_delivery_failed();
        f.dead_letter_error();
        let text = m.render(2, 1);
        for (name, by) in DECLARED {
            match by {
                UpdatedBy::Invoke(method) => {
                    assert!(
                        engine_src.contains(&format!(".{method}(")),
                        "{name}: the engine never calls FunctionMetrics::{method}"
                    );
                    let v = values(&text, name);
                    assert!(
                        v.iter().any(|x| *x > 0.0),
                        "{name}: {method} does not update it:\n{text}"
                    );
                }
                UpdatedBy::Render => {
                    assert!(values(&text, name).iter().any(|x| *x > 0.0), "{name}");
                }
                UpdatedBy::Later => {}
            }
        }
        assert!(
            text.contains(r#"function_name="f",resource="f:7""#),
            "{text}"
        );
    }

    #[test]
    fn forget_drops_a_function_series() {
        let m = Metrics::new();
        m.function("gone", "$LATEST").finished(None, false);
        assert!(m.render(0, 0).contains("\"gone\""));
        m.forget("gone", "$LATEST");
        assert!(!m.render(0, 0).contains("\"gone\""));
    }
}
