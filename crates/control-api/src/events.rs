//! The asynchronous invocation queue's workers: they take due events from the store's durable
//! queue (`hako_store::queue`), run them through the engine under the same concurrency limits as
//! synchronous calls, and retry, drop or complete them as AWS Lambda does:
//!
//! - a function error (handled or not) is retried `MaximumRetryAttempts` times (default 2),
//!   after about 1 minute, then 2 minutes;
//! - a throttle or a system error is retried with exponential backoff (1 s, doubling, at most
//!   5 minutes) for as long as the event is younger than `MaximumEventAgeInSeconds` (default 6 h);
//! - an event that ends goes to its OnSuccess / OnFailure destination as AWS's invocation record
//!   (a Lambda function: queued for it in the same transaction that removes the event);
//! - a record whose destination function does not exist is retried, then counted
//!   (DestinationDeliveryFailures) and logged.
//!
//! Every delay (and the maximum event age) is multiplied by `delay_scale` (`hako serve
//! --async-delay-scale`), so tests run the whole schedule in seconds. The queue is durable:
//! an event is a row before its 202; a row being run when Hako dies is due again at the next
//! start (at-least-once delivery).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hako_engine::{AsyncMetric, InvokeRequest};
use hako_model::event_invoke::{
    self, backoff_ms, invocation_record, retry_delay_ms, Condition, LastResponse,
};
use hako_model::{alias, ErrorKind};
use hako_store::{Claimed, NewEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::ApiState;

/// Tries at delivering one invocation record before it counts as a failed delivery.
const DELIVERY_TRIES: u32 = 3;
/// Events claimed per pass.
const CLAIM_BATCH: usize = 64;
/// The longest the dispatcher sleeps without looking at the queue.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The workers' settings.
#[derive(Debug, Clone)]
pub struct AsyncQueueConfig {
    /// Multiplies every retry delay, backoff and the maximum event age (1 = AWS's schedule).
    pub delay_scale: f64,
    /// Events run at once, at most (the engine's concurrency limits apply below this).
    pub max_running: usize,
}

/// An invocation record waiting for its destination (stored in the event's `delivery` column).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Delivery {
    destination: String,
    /// The record (JSON text).
    record: String,
    /// Failed deliveries so far.
    failures: u32,
    /// The source's executed version (for its metric series).
    version: String,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn timestamp_now() -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}

/// Starts the workers (a supervised dispatcher: restarted if it panics). Events a dead Hako
/// was running are due again first.
pub fn start(st: Arc<ApiState>, cfg: AsyncQueueConfig) -> tokio::task::JoinHandle<()> {
    match st.db.recover_events(now_ms()) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            events = n,
            "asynchronous events interrupted by a stop are due again"
        ),
        Err(e) => tracing::error!(error = %e, "cannot recover the asynchronous queue"),
    }
    tokio::spawn(async move {
        let q = Arc::new(Queue {
            permits: Arc::new(Semaphore::new(cfg.max_running.max(1))),
            st,
            cfg,
        });
        loop {
            let run = tokio::spawn(q.clone().dispatch());
            match run.await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    tracing::error!("the asynchronous queue's dispatcher panicked: restarting it");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(_) => return,
            }
        }
    })
}

struct Queue {
    st: Arc<ApiState>,
    cfg: AsyncQueueConfig,
    permits: Arc<Semaphore>,
}

impl Queue {
    fn scaled(&self, ms: u64) -> i64 {
        (ms as f64 * self.cfg.delay_scale).round() as i64
    }

    async fn dispatch(self: Arc<Self>) {
        let st = &self.st;
        loop {
            if st.engine.is_closing() {
                return;
            }
            let free = self.permits.available_permits().min(CLAIM_BATCH);
            let mut claimed = 0;
            if free > 0 {
                match st.db.claim_events(now_ms(), free) {
                    Ok(events) => {
                        claimed = events.len();
                        for ev in events {
                            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                                // Cannot happen (only this task takes permits); put it back.
                                let _ = st.db.reschedule_event(
                                    ev.id,
                                    now_ms(),
                                    ev.attempts,
                                    ev.throttles,
                                    ev.last_response.as_deref(),
                                    ev.delivery.as_deref(),
                                );
                                continue;
                            };
                            let q = self.clone();
                            let (id, attempts, throttles) = (ev.id, ev.attempts, ev.throttles);
                            let work = tokio::spawn(q.clone().run(ev));
                            tokio::spawn(async move {
                                if let Err(e) = work.await {
                                    if e.is_panic() {
                                        tracing::error!(event = id, "an asynchronous event's worker panicked: the event is retried");
                                        let due = now_ms() + q.scaled(backoff_ms(throttles + 1));
                                        let _ = q.st.db.reschedule_event(
                                            id,
                                            due,
                                            attempts,
                                            throttles + 1,
                                            None,
                                            None,
                                        );
                                    }
                                }
                                drop(permit);
                                q.st.async_wake.notify_one();
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot read the asynchronous queue"),
                }
            }
            if claimed == free && free > 0 {
                // More may be due: look again at once.
                tokio::task::yield_now().await;
                continue;
            }
            let wait = match st.db.next_due_ms() {
                Ok(Some(due)) => Duration::from_millis((due - now_ms()).clamp(0, 500) as u64),
                _ => IDLE_POLL,
            };
            if wait.is_zero() && self.permits.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                _ = st.async_wake.notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
            }
        }
    }

    /// Runs (or delivers the record of) one claimed event.
    async fn run(self: Arc<Self>, ev: Claimed) {
        if let Some(d) = ev.delivery.as_deref() {
            match serde_json::from_str::<Delivery>(d) {
                Ok(d) => self.deliver(&ev, d),
                Err(e) => {
                    tracing::error!(event = ev.id, error = %e, "corrupt pending delivery: dropped");
                    let _ = self.st.db.complete_event(ev.id, None);
                }
            }
            return;
        }
        let st = &self.st;
        let e = &ev.event;
        let qualifier = e.qualifier.clone();
        let config_qualifier = qualifier.as_deref().unwrap_or("$LATEST");
        let config = st
            .db
            .get_event_invoke_config(&e.function_name, config_qualifier)
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "cannot read the event invoke config: defaults apply");
                None
            });
        let retries = config
            .as_ref()
            .map_or(event_invoke::DEFAULT_RETRY_ATTEMPTS, |c| c.retry_attempts());
        let max_age_ms = self.scaled(
            u64::from(
                config
                    .as_ref()
                    .map_or(event_invoke::DEFAULT_EVENT_AGE_SECONDS, |c| {
                        c.event_age_seconds()
                    }),
            ) * 1000,
        );
        let expires = e.received_ms + max_age_ms;
        // The function (and, through an alias, the version) as it is now.
        let mut params = HashMap::new();
        if let Some(q) = &qualifier {
            params.insert("Qualifier".to_string(), q.clone());
        }
        let resolved = st.target(&e.function_name, &params, true).and_then(|t| {
            let version = match &t.alias {
                Some(a) => a.pick_version(rand::random::<f64>()).to_string(),
                None => t.version.clone(),
            };
            Ok(st.resolve(&t.name, &version)?)
        });
        let f = match resolved {
            Ok(f) => f,
            Err(err) => {
                tracing::warn!(function = %e.function_name, request_id = %e.request_id, error = %err.0.message,
                    "asynchronous event dropped: its function is gone");
                let _ = st.db.complete_event(ev.id, None);
                return;
            }
        };
        // The event's age when it is handed to the function (recorded for the runs that got
        // concurrency, not for the throttled tries).
        let age = Duration::from_millis((now_ms() - e.received_ms).max(0) as u64);
        let invoked_arn = match &qualifier {
            Some(q) => st.region.qualified_arn(&e.function_name, q),
            None => f.arn.clone(),
        };
        let req = InvokeRequest {
            payload: e.payload.clone().into(),
            invoked_arn,
            client_context: e.client_context.clone(),
            trace_id: e.trace_id.clone(),
            log_tail: false,
            request_id: Some(e.request_id.clone()),
        };
        let outcome = st.engine.invoke(&f, req).await;
        let now = now_ms();
        match outcome {
            Ok(res) => {
                st.engine.record_async(&f, AsyncMetric::Age(age));
                let attempts = ev.attempts + 1;
                let resp = LastResponse {
                    executed_version: res.executed_version.clone(),
                    function_error: res.function_error.map(str::to_string),
                    payload: String::from_utf8_lossy(&res.payload).into_owned(),
                };
                if res.function_error.is_none() {
                    self.finish(&ev, &f, Condition::Success, attempts, Some(&resp));
                    return;
                }
                if attempts > retries {
                    self.finish(&ev, &f, Condition::RetriesExhausted, attempts, Some(&resp));
                    return;
                }
                let due = now + self.scaled(retry_delay_ms(attempts));
                if due > expires {
                    self.finish(&ev, &f, Condition::EventAgeExceeded, attempts, Some(&resp));
                    return;
                }
                tracing::debug!(function = %f.name, request_id = %e.request_id, attempts, "function error: retrying");
                let json = serde_json::to_string(&resp).ok();
                self.reschedule(&ev, due, attempts, ev.throttles, json.as_deref());
            }
            Err(err) => {
                let throttles = ev.throttles + 1;
                if err.kind == ErrorKind::TooManyRequests {
                    tracing::debug!(function = %f.name, request_id = %e.request_id, "throttled: backing off");
                } else {
                    tracing::warn!(function = %f.name, request_id = %e.request_id, error = %err.message,
                        "system error on an asynchronous event: backing off");
                }
                // Retried until the event's age runs out (a last try at that moment).
                let due = (now + self.scaled(backoff_ms(throttles))).min(expires);
                let last: Option<LastResponse> = ev
                    .last_response
                    .as_deref()
                    .and_then(|j| serde_json::from_str(j).ok());
                if now >= expires && !st.engine.is_closing() {
                    self.finish(
                        &ev,
                        &f,
                        Condition::EventAgeExceeded,
                        ev.attempts,
                        last.as_ref(),
                    );
                    return;
                }
                self.reschedule(
                    &ev,
                    due,
                    ev.attempts,
                    throttles,
                    ev.last_response.as_deref(),
                );
            }
        }
    }

    fn reschedule(
        &self,
        ev: &Claimed,
        due: i64,
        attempts: u32,
        throttles: u32,
        last: Option<&str>,
    ) {
        if let Err(e) = self
            .st
            .db
            .reschedule_event(ev.id, due, attempts, throttles, last, None)
        {
            // The row stays claimed; the next start makes it due again.
            tracing::error!(event = ev.id, error = %e, "cannot reschedule an asynchronous event");
        }
    }

    /// An event ended: its record to the destination of its outcome (if any), the row removed.
    fn finish(
        &self,
        ev: &Claimed,
        f: &hako_engine::ResolvedFunction,
        condition: Condition,
        attempts: u32,
        resp: Option<&LastResponse>,
    ) {
        let st = &self.st;
        let e = &ev.event;
        let q = e.qualifier.as_deref().unwrap_or("$LATEST");
        let config = st
            .db
            .get_event_invoke_config(&e.function_name, q)
            .ok()
            .flatten();
        let destination = match condition {
            Condition::Success => config.as_ref().and_then(|c| c.on_success.clone()),
            _ => config.as_ref().and_then(|c| c.on_failure.clone()),
        };
        if condition != Condition::Success {
            st.engine.record_async(f, AsyncMetric::Dropped);
            tracing::info!(function = %f.name, request_id = %e.request_id, condition = condition.as_str(),
                attempts, "asynchronous event dropped");
            self.dead_letter(f, &e.request_id);
        }
        let Some(destination) = destination else {
            if let Err(err) = st.db.complete_event(ev.id, None) {
                tracing::error!(event = ev.id, error = %err, "cannot remove a finished asynchronous event");
            }
            return;
        };
        let record = invocation_record(
            &timestamp_now(),
            &e.request_id,
            &st.region.qualified_arn(&e.function_name, q),
            condition,
            attempts,
            &e.payload,
            resp,
        );
        let d = Delivery {
            destination,
            record: record.to_string(),
            failures: 0,
            version: f.version.clone(),
        };
        self.deliver(ev, d);
    }

    /// A dropped event of a function with a dead-letter queue: Hako refuses DLQ targets at
    /// configuration time, so only a record stored before that refusal still has one. It cannot
    /// be delivered: counted and logged, never silently lost.
    fn dead_letter(&self, f: &hako_engine::ResolvedFunction, request_id: &str) {
        let target = self
            .st
            .db
            .get_function(&f.name, &f.version)
            .ok()
            .flatten()
            .and_then(|r| r.dead_letter_target_arn);
        if let Some(target) = target {
            self.st.engine.record_async(f, AsyncMetric::DeadLetterError);
            tracing::error!(function = %f.name, request_id, target = %target,
                "cannot send a dropped event to its dead-letter queue: Hako cannot deliver to SQS or SNS");
        }
    }

    /// Hands an invocation record to its destination function's queue, or retries later, or
    /// (after `DELIVERY_TRIES`) counts and logs the failure.
    fn deliver(&self, ev: &Claimed, mut d: Delivery) {
        let st = &self.st;
        let e = &ev.event;
        let target = event_invoke::validate_destination(&d.destination, "destination", &st.region);
        let delivered = match target {
            Ok(Some(dest)) => {
                let next = NewEvent {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    function_name: dest.name.clone(),
                    qualifier: dest.qualifier.clone(),
                    payload: d.record.clone().into_bytes(),
                    client_context: None,
                    trace_id: None,
                    received_ms: now_ms(),
                };
                match st.db.complete_event(ev.id, Some(&next)) {
                    Ok(true) => {
                        self.received(&dest.name, dest.qualifier.as_deref());
                        st.async_wake.notify_one();
                        true
                    }
                    Ok(false) => false,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot queue an invocation record");
                        false
                    }
                }
            }
            _ => false,
        };
        if delivered {
            return;
        }
        d.failures += 1;
        if d.failures < DELIVERY_TRIES {
            tracing::warn!(function = %e.function_name, request_id = %e.request_id, destination = %d.destination,
                failures = d.failures, "cannot deliver an invocation record: retrying");
            let due = now_ms() + self.scaled(backoff_ms(d.failures));
            let json = serde_json::to_string(&d).ok();
            if let Err(err) = st.db.reschedule_event(
                ev.id,
                due,
                ev.attempts,
                ev.throttles,
                ev.last_response.as_deref(),
                json.as_deref(),
            ) {
                tracing::error!(event = ev.id, error = %err, "cannot reschedule a delivery");
            }
            return;
        }
        tracing::error!(function = %e.function_name, request_id = %e.request_id, destination = %d.destination,
            "invocation record not delivered: the destination function does not exist");
        if let Ok(f) = st.resolve(&e.function_name, &d.version) {
            st.engine
                .record_async(&f, AsyncMetric::DestinationDeliveryFailure);
        }
        if let Err(err) = st.db.complete_event(ev.id, None) {
            tracing::error!(event = ev.id, error = %err, "cannot remove an undeliverable record");
        }
    }

    /// Counts an event queued for `name` (as its qualifier resolves now).
    fn received(&self, name: &str, qualifier: Option<&str>) {
        let st = &self.st;
        let version = match qualifier {
            None => "$LATEST".to_string(),
            Some(q) if q == "$LATEST" || alias::is_version_number(q) => q.to_string(),
            Some(a) => match st.alias(name, a) {
                Ok(Some(a)) => a.function_version,
                _ => return,
            },
        };
        if let Ok(f) = st.resolve(name, &version) {
            st.engine.record_async(&f, AsyncMetric::Received);
        }
    }
}
