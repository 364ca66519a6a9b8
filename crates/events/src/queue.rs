//! The asynchronous invocation queue's workers: they take due events from the store's durable
//! queue (`hako_store::queue`), run them through the engine under the same concurrency limits as
//! synchronous calls, and retry, drop or complete them as AWS Lambda does (the schedule:
//! `schedule.rs`). An event that ends goes to its OnSuccess / OnFailure destination as AWS's
//! invocation record (a Lambda function: queued for it in the same transaction that removes
//! the event); a record whose destination function does not exist is retried, then counted
//! (DestinationDeliveryFailures) and logged.
//!
//! The queue is durable: an event is a row before its 202; a row being run when Hako dies is due
//! again at the next start (at-least-once delivery). A run's outcome is committed in the engine's
//! settlement (`Engine::invoke_then`), before its concurrency slot and sandbox are given back, so
//! the only events a crash makes run again are those in flight at that moment (at most one per
//! slot in use); an event whose run was settled never runs again.

use std::sync::Arc;
use std::time::Duration;

use hako_engine::{AsyncMetric, InvokeRequest, InvokeResult, ResolvedFunction};
use hako_lambda::Lambda;
use hako_model::clock::iso8601_ms;
use hako_model::event_invoke::{
    self, backoff_ms, invocation_record, Condition, LastResponse, Target,
};
use hako_model::{alias, ErrorKind};
use hako_sqs::{MessageAttributeValue, MessageAttributes, Sqs};
use hako_store::{Claimed, NewEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::schedule::{self, Next, Outcome, Policy};

/// Tries at delivering one invocation record before it counts as a failed delivery.
const DELIVERY_TRIES: u32 = 3;
/// Events claimed per pass.
const CLAIM_BATCH: usize = 64;
/// The longest the dispatcher sleeps without looking at the queue.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The workers' settings.
#[derive(Debug, Clone)]
pub struct AsyncQueueConfig {
    /// Multiplies every retry delay, backoff and the maximum event age (1 = AWS's schedule;
    /// other values exist for the end-to-end tests).
    pub delay_scale: f64,
    /// Events run at once, at most (the engine's concurrency limits apply below this).
    pub max_running: usize,
    /// Hako's SQS, for dead-letter queues and destinations that are queues (`None`: a message
    /// for a queue cannot be delivered, and is counted as such).
    pub sqs: Option<Sqs>,
}

/// A message an ended event still owes a destination or its dead-letter queue (the event's
/// `delivery` column holds a JSON array of them; a single object in rows of older Hakos).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Delivery {
    /// The ARN of a Lambda function or an SQS queue.
    destination: String,
    /// The invocation record (JSON text), for a destination.
    #[serde(default)]
    record: String,
    /// For a dead-letter queue: the message's error attributes (its body is the event's payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dead_letter: Option<DeadLetter>,
    /// Failed deliveries so far.
    failures: u32,
    /// The source's executed version (for its metric series).
    version: String,
}

/// What AWS's dead-letter message says of the failure (the Lambda developer guide, "Dead-letter
/// queues": `ErrorCode`, Number, the 3-digit HTTP code; `ErrorMessage`, String, truncated to
/// 1 KB; recorded on AWS in LocalStack's `test_lambda_destinations.snapshot.json`,
/// `TestLambdaDLQ::test_dead_letter_queue`: a function error gives `200` and the error's
/// `errorMessage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DeadLetter {
    error_code: u16,
    error_message: String,
}

/// AWS's limit on `ErrorMessage`.
const ERROR_MESSAGE_MAX_BYTES: usize = 1024;

impl DeadLetter {
    /// From the last response the function gave (a function error: the invoke's status, 200,
    /// and the error's message), or else from why the last try did not run (the status a
    /// synchronous invoke would have had: 429 throttled, 500 otherwise, and its message).
    fn of(resp: Option<&LastResponse>, error: Option<&hako_model::Error>) -> DeadLetter {
        let (error_code, message) = match (resp, error) {
            (Some(r), _) => {
                let v: Option<serde_json::Value> = serde_json::from_str(&r.payload).ok();
                let message = v
                    .as_ref()
                    .and_then(|v| v.get("errorMessage"))
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
                    .filter(|m| !m.is_empty())
                    .or_else(|| r.function_error.clone())
                    .unwrap_or_else(|| r.payload.clone());
                (200, message)
            }
            (None, Some(e)) if e.kind == ErrorKind::TooManyRequests => (429, e.message.clone()),
            (None, Some(e)) => (500, e.message.clone()),
            (None, None) => (500, "the event was not run".to_string()),
        };
        let mut error_message = message;
        if error_message.len() > ERROR_MESSAGE_MAX_BYTES {
            let mut end = ERROR_MESSAGE_MAX_BYTES;
            while !error_message.is_char_boundary(end) {
                end -= 1;
            }
            error_message.truncate(end);
        }
        if error_message.is_empty() {
            // SQS refuses an empty attribute value.
            error_message = "Unhandled".into();
        }
        DeadLetter {
            error_code,
            error_message,
        }
    }

    /// The message attributes, with AWS's names and data types.
    fn attributes(&self, request_id: &str) -> MessageAttributes {
        let attr = |data_type: &str, value: String| MessageAttributeValue {
            data_type: data_type.into(),
            string_value: Some(value),
            ..MessageAttributeValue::default()
        };
        MessageAttributes::from([
            ("RequestID".to_string(), attr("String", request_id.into())),
            (
                "ErrorCode".to_string(),
                attr("Number", self.error_code.to_string()),
            ),
            (
                "ErrorMessage".to_string(),
                attr("String", self.error_message.clone()),
            ),
        ])
    }
}

/// A `delivery` column: an array of deliveries, or one (rows of older Hakos).
fn parse_deliveries(json: &str) -> Result<Vec<Delivery>, serde_json::Error> {
    serde_json::from_str::<Vec<Delivery>>(json)
        .or_else(|_| serde_json::from_str::<Delivery>(json).map(|d| vec![d]))
}

/// Starts the workers: a dispatcher that runs until `cancel` is cancelled (restarted if it
/// panics). Events a dead Hako was running are due again first. Events running when it stops
/// finish or stay queued for the next start.
pub fn start(
    lambda: Arc<Lambda>,
    cfg: AsyncQueueConfig,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    match lambda.db().recover_events(lambda.clock().now_ms()) {
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
            lambda,
            cfg,
            cancel,
        });
        loop {
            let run = tokio::spawn(q.clone().dispatch());
            match run.await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    tracing::error!("the asynchronous queue's dispatcher panicked: restarting it");
                    tokio::select! {
                        _ = q.cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Err(_) => return,
            }
        }
    })
}

pub(crate) struct Queue {
    lambda: Arc<Lambda>,
    cfg: AsyncQueueConfig,
    permits: Arc<Semaphore>,
    cancel: CancellationToken,
}

impl Queue {
    fn now_ms(&self) -> i64 {
        self.lambda.clock().now_ms()
    }

    fn stopping(&self) -> bool {
        self.cancel.is_cancelled() || self.lambda.engine().is_closing()
    }

    async fn dispatch(self: Arc<Self>) {
        let lambda = &self.lambda;
        let db = lambda.db();
        loop {
            if self.stopping() {
                return;
            }
            let free = self.permits.available_permits().min(CLAIM_BATCH);
            let mut claimed = 0;
            if free > 0 {
                match db.claim_events(self.now_ms(), free) {
                    Ok(events) => {
                        claimed = events.len();
                        for ev in events {
                            self.spawn_worker(ev);
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
            let wait = match db.next_due_ms() {
                Ok(Some(due)) => Duration::from_millis((due - self.now_ms()).clamp(0, 500) as u64),
                _ => IDLE_POLL,
            };
            if wait.is_zero() && self.permits.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = lambda.async_wake().notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
            }
        }
    }

    /// Runs one claimed event on a worker task of its own, holding a permit.
    fn spawn_worker(self: &Arc<Self>, ev: Claimed) {
        let db = self.lambda.db();
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            // Cannot happen (only the dispatcher takes permits); put it back.
            let _ = db.reschedule_event(
                ev.id,
                self.now_ms(),
                ev.attempts,
                ev.throttles,
                ev.last_response.as_deref(),
                ev.delivery.as_deref(),
            );
            return;
        };
        let q = self.clone();
        let (id, throttles) = (ev.id, ev.throttles);
        let work = tokio::spawn(q.clone().run(ev));
        tokio::spawn(async move {
            if let Err(e) = work.await {
                if e.is_panic() {
                    tracing::error!(
                        event = id,
                        "an asynchronous event's worker panicked: the event is retried"
                    );
                    // As stored: a delivery the event already owes stays owed (never rerun).
                    let policy = Policy::new(None, q.cfg.delay_scale);
                    let due = q.now_ms() + policy.scaled(backoff_ms(throttles + 1));
                    let _ = q.lambda.db().release_event(id, due, throttles + 1);
                }
            }
            drop(permit);
            q.lambda.async_wake().notify_one();
        });
    }

    /// Runs (or delivers the record of) one claimed event.
    pub(crate) async fn run(self: Arc<Self>, ev: Claimed) {
        let lambda = &self.lambda;
        let db = lambda.db();
        if let Some(d) = ev.delivery.as_deref() {
            match parse_deliveries(d) {
                Ok(d) => self.deliver(&ev, d),
                Err(e) => {
                    tracing::error!(event = ev.id, error = %e, "corrupt pending delivery: dropped");
                    let _ = db.complete_event(ev.id, None);
                }
            }
            return;
        }
        let e = &ev.event;
        let qualifier = e.qualifier.as_deref();
        let config = db
            .get_event_invoke_config(&e.function_name, qualifier.unwrap_or("$LATEST"))
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "cannot read the event invoke config: defaults apply");
                None
            });
        let policy = Policy::new(config.as_ref(), self.cfg.delay_scale);
        // The function (and, through an alias, the version) as it is now.
        let resolved = lambda.target(&e.function_name, qualifier).and_then(|t| {
            let version = match &t.alias {
                Some(a) => a.pick_version(rand::random::<f64>()).to_string(),
                None => t.version.clone(),
            };
            lambda.resolve(&t.name, &version)
        });
        let f = match resolved {
            Ok(f) => f,
            Err(err) => {
                tracing::warn!(function = %e.function_name, request_id = %e.request_id, error = %err.message,
                    "asynchronous event dropped: its function is gone");
                let _ = db.complete_event(ev.id, None);
                return;
            }
        };
        // The event's age when it is handed to the function (recorded for the runs that got
        // concurrency, not for the throttled tries).
        let age = Duration::from_millis((self.now_ms() - e.received_ms).max(0) as u64);
        let invoked_arn = match qualifier {
            Some(q) => lambda.region().qualified_arn(&e.function_name, q),
            None => f.arn.clone(),
        };
        let req = InvokeRequest {
            payload: e.payload.clone().into(),
            invoked_arn,
            client_context: e.client_context.clone(),
            trace_id: e.trace_id.clone(),
            log_tail: false,
            request_id: Some(e.request_id.clone()),
            stream: None,
        };
        // The outcome is committed before the sandbox can take another event: after a crash
        // only the events running at that moment run again.
        lambda
            .engine()
            .invoke_then(&f, req, |result| self.settle(&ev, &f, &policy, age, result))
            .await;
    }

    /// Commits the outcome of one run of an event: rescheduled, or finished (its record handed
    /// to its destination, the row removed).
    fn settle(
        &self,
        ev: &Claimed,
        f: &ResolvedFunction,
        policy: &Policy,
        age: Duration,
        result: Result<InvokeResult, hako_model::Error>,
    ) {
        let lambda = &self.lambda;
        let e = &ev.event;
        let (outcome, response) = match &result {
            Ok(res) => {
                lambda.engine().record_async(f, AsyncMetric::Age(age));
                let resp = LastResponse {
                    executed_version: res.executed_version.clone(),
                    function_error: res.function_error.map(str::to_string),
                    payload: String::from_utf8_lossy(&res.payload).into_owned(),
                };
                let outcome = if res.function_error.is_none() {
                    Outcome::Success
                } else {
                    Outcome::FunctionError
                };
                (outcome, Some(resp))
            }
            Err(err) => {
                if err.kind == ErrorKind::TooManyRequests {
                    tracing::debug!(function = %f.name, request_id = %e.request_id, "throttled: backing off");
                } else {
                    tracing::warn!(function = %f.name, request_id = %e.request_id, error = %err.message,
                        "system error on an asynchronous event: backing off");
                }
                (Outcome::NotRun, None)
            }
        };
        let next = schedule::next(
            policy,
            e.received_ms,
            ev.attempts,
            ev.throttles,
            outcome,
            self.now_ms(),
            lambda.engine().is_closing(),
        );
        // The record reports the last response the function gave, if any.
        let last = match response {
            Some(r) => Some(r),
            None => ev
                .last_response
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
        };
        match next {
            Next::Finish {
                condition,
                attempts,
            } => self.finish(
                ev,
                f,
                condition,
                attempts,
                last.as_ref(),
                result.as_ref().err(),
            ),
            Next::Retry {
                due_ms,
                attempts,
                throttles,
            } => {
                tracing::debug!(function = %f.name, request_id = %e.request_id, attempts, throttles, "retrying");
                let json = last.as_ref().and_then(|r| serde_json::to_string(r).ok());
                self.reschedule(ev, due_ms, attempts, throttles, json.as_deref());
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
            .lambda
            .db()
            .reschedule_event(ev.id, due, attempts, throttles, last, None)
        {
            // The row stays claimed; the next start makes it due again.
            tracing::error!(event = ev.id, error = %e, "cannot reschedule an asynchronous event");
        }
    }

    /// An event ended: a dropped event to its dead-letter queue (if any), its invocation record
    /// to the destination of its outcome (if any), the row removed. `error` is why the last try
    /// did not run, when it did not (for the dead-letter message of an event that never ran).
    pub(crate) fn finish(
        &self,
        ev: &Claimed,
        f: &ResolvedFunction,
        condition: Condition,
        attempts: u32,
        resp: Option<&LastResponse>,
        error: Option<&hako_model::Error>,
    ) {
        let lambda = &self.lambda;
        let db = lambda.db();
        let e = &ev.event;
        let q = e.qualifier.as_deref().unwrap_or("$LATEST");
        let config = db
            .get_event_invoke_config(&e.function_name, q)
            .ok()
            .flatten();
        let destination = match condition {
            Condition::Success => config.as_ref().and_then(|c| c.on_success.clone()),
            _ => config.as_ref().and_then(|c| c.on_failure.clone()),
        };
        let mut pending = Vec::new();
        if condition != Condition::Success {
            lambda.engine().record_async(f, AsyncMetric::Dropped);
            tracing::info!(function = %f.name, request_id = %e.request_id, condition = condition.as_str(),
                attempts, "asynchronous event dropped");
            let dlq = db
                .get_function(&f.name, &f.version)
                .ok()
                .flatten()
                .and_then(|r| r.dead_letter_target_arn);
            if let Some(dlq) = dlq {
                pending.push(Delivery {
                    destination: dlq,
                    record: String::new(),
                    dead_letter: Some(DeadLetter::of(resp, error)),
                    failures: 0,
                    version: f.version.clone(),
                });
            }
        }
        if let Some(destination) = destination {
            let record = invocation_record(
                &iso8601_ms(self.now_ms()),
                &e.request_id,
                &lambda.region().qualified_arn(&e.function_name, q),
                condition,
                attempts,
                &e.payload,
                resp,
            );
            pending.push(Delivery {
                destination,
                record: record.to_string(),
                dead_letter: None,
                failures: 0,
                version: f.version.clone(),
            });
        }
        if pending.is_empty() {
            if let Err(err) = db.complete_event(ev.id, None) {
                tracing::error!(event = ev.id, error = %err, "cannot remove a finished asynchronous event");
            }
            return;
        }
        // A message to a queue is sent outside this database's transactions: the event's end
        // is committed first, so a crash from here on sends again, never runs again.
        let to_queue = pending
            .iter()
            .any(|d| !matches!(self.target(d), Ok(Some(Target::Function(_)))));
        if to_queue {
            let json = serde_json::to_string(&pending).unwrap_or_default();
            if let Err(err) = db.pend_delivery(ev.id, &json) {
                tracing::error!(event = ev.id, error = %err, "cannot record a pending delivery");
            }
        }
        self.deliver(ev, pending);
    }

    fn target(&self, d: &Delivery) -> Result<Option<Target>, hako_model::Error> {
        event_invoke::validate_destination(&d.destination, "destination", self.lambda.region())
    }

    /// Delivers an ended event's messages: to SQS queues at once, then an invocation record for
    /// a destination function in the transaction that removes the event. What fails is retried
    /// later (the row written back with what is left), or after `DELIVERY_TRIES` counted
    /// (DeadLetterErrors, DestinationDeliveryFailures) and logged.
    fn deliver(&self, ev: &Claimed, pending: Vec<Delivery>) {
        let lambda = &self.lambda;
        let db = lambda.db();
        let mut left = Vec::new();
        let mut handoff = None;
        for d in pending {
            match self.target(&d) {
                Ok(Some(Target::Queue(arn))) => {
                    if let Err(why) = self.send_to_queue(ev, &arn, &d) {
                        self.failed(ev, d, &why, &mut left);
                    }
                }
                Ok(Some(Target::Function(dest))) if handoff.is_none() => handoff = Some((d, dest)),
                Ok(Some(Target::Function(_))) => left.push(d),
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(event = ev.id, destination = %d.destination, error = %err.message,
                        "not a destination Hako can deliver to: dropped");
                }
            }
        }
        if let Some((d, dest)) = handoff {
            // Queued for the function in the transaction that removes the event, or that
            // records what the event still owes.
            let next = NewEvent {
                request_id: uuid::Uuid::new_v4().to_string(),
                function_name: dest.name.clone(),
                qualifier: dest.qualifier.clone(),
                payload: d.record.clone().into_bytes(),
                client_context: None,
                trace_id: None,
                received_ms: self.now_ms(),
            };
            let handed = if left.is_empty() {
                db.complete_event(ev.id, Some(&next))
            } else {
                let owed = serde_json::to_string(&left).unwrap_or_default();
                db.hand_over_event(ev.id, &next, &owed)
            };
            match handed {
                Ok(true) => {
                    self.received(&dest.name, dest.qualifier.as_deref());
                    lambda.async_wake().notify_one();
                    if left.is_empty() {
                        return;
                    }
                }
                Ok(false) => {
                    self.failed(ev, d, "the destination function does not exist", &mut left)
                }
                Err(err) => self.failed(ev, d, &err.message, &mut left),
            }
        }
        if left.is_empty() {
            if let Err(err) = db.complete_event(ev.id, None) {
                tracing::error!(event = ev.id, error = %err, "cannot remove a delivered event");
            }
            return;
        }
        let failures = left.iter().map(|d| d.failures).max().unwrap_or(0).max(1);
        let policy = Policy::new(None, self.cfg.delay_scale);
        let due = self.now_ms() + policy.scaled(backoff_ms(failures));
        let json = serde_json::to_string(&left).ok();
        if let Err(err) = db.reschedule_event(
            ev.id,
            due,
            ev.attempts,
            ev.throttles,
            ev.last_response.as_deref(),
            json.as_deref(),
        ) {
            tracing::error!(event = ev.id, error = %err, "cannot reschedule a delivery");
        }
    }

    /// One failed delivery: kept in `left` for another try, or counted and logged when it has
    /// had its tries.
    fn failed(&self, ev: &Claimed, mut d: Delivery, why: &str, left: &mut Vec<Delivery>) {
        let lambda = &self.lambda;
        let e = &ev.event;
        let what = if d.dead_letter.is_some() {
            "dead-letter message"
        } else {
            "invocation record"
        };
        d.failures += 1;
        if d.failures < DELIVERY_TRIES {
            tracing::warn!(function = %e.function_name, request_id = %e.request_id, destination = %d.destination,
                failures = d.failures, why, "cannot deliver {what}: retrying");
            left.push(d);
            return;
        }
        tracing::error!(function = %e.function_name, request_id = %e.request_id, destination = %d.destination,
            why, "{what} not delivered");
        let metric = if d.dead_letter.is_some() {
            AsyncMetric::DeadLetterError
        } else {
            AsyncMetric::DestinationDeliveryFailure
        };
        if let Ok(f) = lambda.resolve(&e.function_name, &d.version) {
            lambda.engine().record_async(&f, metric);
        }
    }

    /// Sends one message to an SQS queue: a dead-letter message (the event's payload as its
    /// body, AWS's `RequestID`, `ErrorCode` and `ErrorMessage` attributes) or an invocation
    /// record (the record as its body).
    fn send_to_queue(&self, ev: &Claimed, arn: &str, d: &Delivery) -> Result<(), String> {
        let Some(sqs) = &self.cfg.sqs else {
            return Err("Hako runs without its SQS service".into());
        };
        let (body, attributes) = match &d.dead_letter {
            Some(dl) => (
                String::from_utf8_lossy(&ev.event.payload).into_owned(),
                dl.attributes(&ev.event.request_id),
            ),
            None => (d.record.clone(), MessageAttributes::new()),
        };
        sqs.send_message(arn, body, attributes)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Counts an event queued for `name` (as its qualifier resolves now).
    fn received(&self, name: &str, qualifier: Option<&str>) {
        let lambda = &self.lambda;
        let version = match qualifier {
            None => "$LATEST".to_string(),
            Some(q) if q == "$LATEST" || alias::is_version_number(q) => q.to_string(),
            Some(a) => match lambda.alias(name, a) {
                Ok(Some(a)) => a.function_version,
                _ => return,
            },
        };
        if let Ok(f) = lambda.resolve(name, &version) {
            lambda.engine().record_async(&f, AsyncMetric::Received);
        }
    }
}

#[cfg(test)]
mod tests {

    use hako_engine::testing::{eventually, within, FakeRuntime, Reply};
    use hako_lambda::Invocation;
    use hako_model::clock::{Clock, ManualClock};
    use hako_model::event_invoke::{
        DestinationConfig, DestinationTarget, EventInvokeConfigRequest,
    };
    use hako_model::Region;

    use super::*;

    use crate::testing::T0;
    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function";

    struct Fixture {
        queue: Arc<Queue>,
        clock: Arc<ManualClock>,
        _dir: tempfile::TempDir,
    }

    /// A runtime that fails the events whose payload has a `fail` member and echoes the others.
    fn runtime() -> FakeRuntime {
        FakeRuntime::new(|e| async move {
            if serde_json::from_slice::<serde_json::Value>(&e.payload)
                .is_ok_and(|v| v.get("fail").is_some())
            {
                Reply::error("RuntimeError", "boom")
            } else {
                Reply::Response(e.payload)
            }
        })
    }

    /// Functions `src` and `dest`; `src`'s events go to `dest` on success and on failure.
    async fn fixture() -> Fixture {
        fixture_with(runtime()).await
    }

    /// The same, with a runtime of the test's own.
    async fn fixture_with(rt: FakeRuntime) -> Fixture {
        let (lambda, clock, dir) = crate::testing::lambda(&rt, 10);
        for name in ["src", "dest"] {
            crate::testing::create_function(&lambda, name, "arn:aws:iam::123456789012:role/r")
                .await;
        }
        let dest = || {
            Some(DestinationTarget {
                destination: Some(format!("{ARN}:dest")),
            })
        };
        let config = EventInvokeConfigRequest {
            destination_config: Some(DestinationConfig {
                on_success: dest(),
                on_failure: dest(),
            }),
            ..EventInvokeConfigRequest::default()
        };
        lambda
            .put_event_invoke_config("src", None, config)
            .await
            .unwrap();
        let sqs = Sqs::in_memory(Region::default(), clock.clone()).unwrap();
        let queue = Arc::new(Queue {
            lambda,
            cfg: AsyncQueueConfig {
                delay_scale: 1.0,
                max_running: 4,
                sqs: Some(sqs),
            },
            permits: Arc::new(Semaphore::new(4)),
            cancel: CancellationToken::new(),
        });
        Fixture {
            queue,
            clock,
            _dir: dir,
        }
    }

    fn due(f: &Fixture) -> Vec<Claimed> {
        f.queue
            .lambda
            .db()
            .claim_events(f.clock.now_ms(), 10)
            .unwrap()
    }

    fn send(f: &Fixture, payload: &'static [u8]) -> String {
        let inv = Invocation {
            payload: bytes::Bytes::from_static(payload),
            ..Invocation::default()
        };
        f.queue.lambda.invoke_event("src", None, inv).unwrap()
    }

    /// The schedule through the real queue, engine and store, in virtual time: a function error
    /// is retried after 1, then 2 minutes (nothing is due before), then the event goes to its
    /// OnFailure destination as RetriesExhausted after 3 runs.
    #[tokio::test]
    async fn a_failing_event_is_retried_then_reaches_its_destination() {
        let f = fixture().await;
        let request_id = send(&f, b"{\"fail\":1}");
        for wait in [60_000, 120_000] {
            let ev = claim_one(&f);
            assert_eq!(ev.event.function_name, "src");
            f.queue.clone().run(ev).await;
            assert!(due(&f).is_empty(), "not due again at once");
            f.clock.advance(wait - 1);
            assert!(due(&f).is_empty(), "not due before {wait} ms");
            f.clock.advance(1);
        }
        let ev = claim_one(&f);
        assert_eq!(ev.attempts, 2);
        f.queue.clone().run(ev).await;
        let delivered = claim_one(&f);
        assert_eq!(delivered.event.function_name, "dest");
        let record: serde_json::Value = serde_json::from_slice(&delivered.event.payload).unwrap();
        assert_eq!(record["requestContext"]["requestId"], request_id.as_str());
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(record["responseContext"]["functionError"], "Unhandled");
        assert_eq!(record["responsePayload"]["errorType"], "RuntimeError");
    }

    /// `src` throttled (reserved concurrency 0), its events too old after a minute.
    async fn throttle_src_with_a_minute_of_age(f: &Fixture) {
        let lambda = &f.queue.lambda;
        let throttle = hako_model::concurrency::PutFunctionConcurrencyRequest {
            reserved_concurrent_executions: Some(0),
        };
        lambda
            .put_function_concurrency("src", throttle)
            .await
            .unwrap();
        let age = EventInvokeConfigRequest {
            maximum_event_age_in_seconds: Some(60),
            ..EventInvokeConfigRequest::default()
        };
        lambda
            .update_event_invoke_config("src", None, age)
            .await
            .unwrap();
    }

    /// A throttled event backs off 1 s, 2 s, 4 s... until its maximum age, then goes to its
    /// OnFailure destination as EventAgeExceeded, without a response.
    #[tokio::test]
    async fn a_throttled_event_backs_off_until_its_age_runs_out() {
        let f = fixture().await;
        let lambda = f.queue.lambda.clone();
        throttle_src_with_a_minute_of_age(&f).await;
        send(&f, b"{}");
        let mut waits = Vec::new();
        let record = loop {
            let mut ready = due(&f);
            assert_eq!(ready.len(), 1, "one event due after {waits:?}");
            let ev = ready.pop().unwrap();
            if ev.event.function_name == "dest" {
                break ev;
            }
            f.queue.clone().run(ev).await;
            let next = lambda.db().next_due_ms().unwrap().unwrap();
            waits.push(next - f.clock.now_ms());
            f.clock.set(next);
        };
        // 1 + 2 + 4 + 8 + 16 s, then the last try at 60 s; then the record (due at once).
        assert_eq!(waits, [1000, 2000, 4000, 8000, 16_000, 29_000, 0]);
        let record: serde_json::Value = serde_json::from_slice(&record.event.payload).unwrap();
        assert_eq!(record["requestContext"]["condition"], "EventAgeExceeded");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 0);
        assert!(record.get("responseContext").is_none());
    }

    fn claim_one(f: &Fixture) -> Claimed {
        let mut due = f
            .queue
            .lambda
            .db()
            .claim_events(f.clock.now_ms(), 10)
            .unwrap();
        assert_eq!(due.len(), 1, "one event due");
        due.pop().unwrap()
    }

    /// An event of `src` that ends with `condition` reaches `dest` as AWS's record.
    async fn record_for(condition: Condition, response: Option<LastResponse>) -> serde_json::Value {
        let f = fixture().await;
        let lambda = f.queue.lambda.clone();
        let inv = Invocation {
            payload: bytes::Bytes::from_static(b"{\"k\":1}"),
            ..Invocation::default()
        };
        let request_id = lambda.invoke_event("src", None, inv).unwrap();
        let ev = claim_one(&f);
        assert_eq!(ev.event.received_ms, T0);
        f.clock.advance(90_000);
        let src = lambda.resolve("src", "$LATEST").unwrap();
        f.queue
            .finish(&ev, &src, condition, 3, response.as_ref(), None);
        let delivered = claim_one(&f);
        assert_eq!(delivered.event.function_name, "dest");
        assert_eq!(delivered.event.received_ms, T0 + 90_000);
        let record: serde_json::Value = serde_json::from_slice(&delivered.event.payload).unwrap();
        assert_eq!(record["requestContext"]["requestId"], request_id.as_str());
        assert_eq!(
            record["requestContext"]["functionArn"],
            format!("{ARN}:src:$LATEST").as_str()
        );
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(record["requestPayload"]["k"], 1);
        assert_eq!(record["timestamp"], "2023-11-14T22:14:50.000Z");
        record
    }

    #[tokio::test]
    async fn a_failed_event_reaches_its_on_failure_destination() {
        let resp = LastResponse {
            executed_version: "$LATEST".into(),
            function_error: Some("Unhandled".into()),
            payload: "{\"errorMessage\":\"boom\"}".into(),
        };
        let record = record_for(Condition::RetriesExhausted, Some(resp)).await;
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["responseContext"]["functionError"], "Unhandled");
        assert_eq!(record["responsePayload"]["errorMessage"], "boom");
    }

    #[tokio::test]
    async fn a_too_old_event_reaches_its_destination_without_a_response() {
        let record = record_for(Condition::EventAgeExceeded, None).await;
        assert_eq!(record["requestContext"]["condition"], "EventAgeExceeded");
        assert!(record.get("responseContext").is_none());
    }

    #[tokio::test]
    async fn a_successful_event_reaches_its_on_success_destination() {
        let resp = LastResponse {
            executed_version: "$LATEST".into(),
            function_error: None,
            payload: "\"ok\"".into(),
        };
        let record = record_for(Condition::Success, Some(resp)).await;
        assert_eq!(record["requestContext"]["condition"], "Success");
        assert_eq!(record["responsePayload"], "ok");
    }

    #[tokio::test]
    async fn an_event_whose_function_is_gone_is_dropped() {
        let f = fixture().await;
        let lambda = f.queue.lambda.clone();
        lambda
            .invoke_event("dest", None, Invocation::default())
            .unwrap();
        let ev = claim_one(&f);
        lambda.delete_function("dest", None).await.unwrap();
        f.queue.clone().run(ev).await;
        assert_eq!(lambda.db().queued_events().unwrap(), 0);
    }

    /// The recovery rule, through a crash in the middle of the queue's work: events whose run
    /// ended (their outcome committed, their record handed to the destination) never run again;
    /// the one running at the crash runs again, once; one claimed but not yet started runs
    /// once. The restart is `start`, as the binary does it.
    #[tokio::test]
    async fn after_a_crash_only_the_event_in_flight_runs_again() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let runs: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let hold = Arc::new(AtomicBool::new(true));
        let rt = {
            let (runs, hold) = (runs.clone(), hold.clone());
            FakeRuntime::new(move |e| {
                let (runs, hold) = (runs.clone(), hold.clone());
                async move {
                    let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
                    let key = match v.get("requestPayload") {
                        Some(p) => format!("dest:{}", p["n"]),
                        None => format!("src:{}", v["n"]),
                    };
                    runs.lock().unwrap().push(key);
                    if v["n"] == 9 && hold.load(Ordering::Acquire) {
                        // Running when Hako dies: it never answers.
                        std::future::pending::<()>().await;
                    }
                    Reply::Response(e.payload)
                }
            })
        };
        let f = fixture_with(rt).await;
        let lambda = f.queue.lambda.clone();
        for n in 0..11 {
            let inv = Invocation {
                payload: format!("{{\"n\":{n}}}").into_bytes().into(),
                ..Invocation::default()
            };
            lambda.invoke_event("src", None, inv).unwrap();
        }
        let mut claimed = lambda.db().claim_events(T0, 11).unwrap();
        assert_eq!(claimed.len(), 11);
        // 10 is claimed and never started; 9 is running at the crash; 0..9 ended.
        claimed.pop();
        let running = claimed.pop().unwrap();
        for ev in claimed {
            f.queue.clone().run(ev).await;
        }
        let worker = tokio::spawn(f.queue.clone().run(running));
        eventually("event 9 to run", || runs.lock().unwrap().len() == 10).await;
        // The crash: the worker ends where it is, nothing else of that Hako happens.
        worker.abort();
        let _ = worker.await;
        // The restart.
        hold.store(false, Ordering::Release);
        let cancel = CancellationToken::new();
        let task = start(lambda.clone(), f.queue.cfg.clone(), cancel.clone());
        eventually("the queue to drain", || {
            lambda.db().queued_events().unwrap() == 0 && runs.lock().unwrap().len() == 23
        })
        .await;
        cancel.cancel();
        within("the dispatcher to stop", task).await.unwrap();
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for k in runs.lock().unwrap().iter() {
            *counts.entry(k.clone()).or_default() += 1;
        }
        for n in 0..11 {
            let src = if n == 9 { 2 } else { 1 };
            assert_eq!(counts[&format!("src:{n}")], src, "src:{n} in {counts:?}");
            assert_eq!(counts[&format!("dest:{n}")], 1, "dest:{n} in {counts:?}");
        }
        assert_eq!(counts.len(), 22);
    }

    const QUEUES: &str = "arn:aws:sqs:us-east-1:123456789012";

    fn sqs(f: &Fixture) -> &Sqs {
        f.queue.cfg.sqs.as_ref().unwrap()
    }

    fn create_queue(f: &Fixture, name: &str) {
        let req = hako_sqs::wire::CreateQueueRequest {
            queue_name: Some(name.into()),
            ..Default::default()
        };
        let caller = hako_sqs::Caller {
            endpoint: "http://127.0.0.1:9",
            sender_id: "test",
        };
        sqs(f).create_queue(req, &caller).unwrap();
    }

    /// The messages waiting in queue `name` (received at once, not deleted).
    async fn messages(f: &Fixture, name: &str) -> Vec<hako_sqs::wire::Message> {
        crate::testing::sqs_messages(sqs(f), name).await
    }

    async fn set_dead_letter_queue(f: &Fixture, arn: &str) {
        let req = hako_model::wire::UpdateFunctionConfigurationRequest {
            dead_letter_config: Some(hako_model::wire::DeadLetterConfigIn {
                target_arn: Some(arn.into()),
            }),
            ..Default::default()
        };
        f.queue
            .lambda
            .update_function_configuration("src", req)
            .await
            .unwrap();
    }

    async fn configure(f: &Fixture, req: EventInvokeConfigRequest) {
        f.queue
            .lambda
            .put_event_invoke_config("src", None, req)
            .await
            .unwrap();
    }

    fn counted(f: &Fixture, metric: &str) -> f64 {
        let text = f.queue.lambda.engine().render_metrics();
        text.lines()
            .filter(|l| l.starts_with(metric) && l.contains("function_name=\"src\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// A dropped event goes to its dead-letter queue as AWS sends it (LocalStack's AWS-recorded
    /// TestLambdaDLQ::test_dead_letter_queue: the event as the body; RequestID String, ErrorCode
    /// Number "200" for a function error, ErrorMessage String), and to its OnFailure
    /// destination too.
    #[tokio::test]
    async fn a_dropped_event_goes_to_its_dead_letter_queue_and_its_destination() {
        let f = fixture().await;
        create_queue(&f, "dlq");
        set_dead_letter_queue(&f, &format!("{QUEUES}:dlq")).await;
        let no_retries = EventInvokeConfigRequest {
            maximum_retry_attempts: Some(0),
            destination_config: Some(DestinationConfig {
                on_success: None,
                on_failure: Some(DestinationTarget {
                    destination: Some(format!("{ARN}:dest")),
                }),
            }),
            ..EventInvokeConfigRequest::default()
        };
        configure(&f, no_retries).await;
        let request_id = send(&f, b"{\"fail\": \"x\"}");
        f.queue.clone().run(claim_one(&f)).await;
        let got = messages(&f, "dlq").await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "{\"fail\": \"x\"}");
        let attr = |k: &str| {
            let a = &got[0].message_attributes[k];
            (a.data_type.clone(), a.string_value.clone().unwrap())
        };
        assert_eq!(attr("RequestID"), ("String".into(), request_id.clone()));
        assert_eq!(attr("ErrorCode"), ("Number".into(), "200".into()));
        assert_eq!(attr("ErrorMessage"), ("String".into(), "boom".into()));
        assert_eq!(got[0].message_attributes.len(), 3);
        let record = claim_one(&f);
        assert_eq!(record.event.function_name, "dest");
        assert_eq!(f.queue.lambda.db().queued_events().unwrap(), 1);
        assert_eq!(counted(&f, "hako_lambda_dead_letter_errors_total"), 0.0);
    }

    /// An event that never ran (throttled until its age ran out) tells why in its dead-letter
    /// message: the status and message a synchronous invoke would have had.
    #[tokio::test]
    async fn a_throttled_events_dead_letter_message_says_so() {
        let f = fixture().await;
        create_queue(&f, "dlq");
        set_dead_letter_queue(&f, &format!("{QUEUES}:dlq")).await;
        let lambda = f.queue.lambda.clone();
        throttle_src_with_a_minute_of_age(&f).await;
        send(&f, b"{}");
        let got = loop {
            let got = messages(&f, "dlq").await;
            if !got.is_empty() {
                break got;
            }
            let mut ready = due(&f);
            let ev = ready.pop().expect("an event due");
            if ev.event.function_name == "dest" {
                continue;
            }
            f.queue.clone().run(ev).await;
            if let Some(next) = lambda.db().next_due_ms().unwrap() {
                f.clock.set(next);
            }
        };
        let a = &got[0].message_attributes;
        assert_eq!(a["ErrorCode"].string_value.as_deref(), Some("429"));
        assert_eq!(
            a["ErrorMessage"].string_value.as_deref(),
            Some("Rate Exceeded.")
        );
    }

    /// An invocation record for a queue that does not exist is retried after a backoff (and
    /// delivered once the queue is there); a dead-letter message for a queue that never comes is
    /// counted (DeadLetterErrors) after its tries, and the event is gone.
    #[tokio::test]
    async fn deliveries_to_missing_queues_are_retried_then_counted() {
        let f = fixture().await;
        let lambda = f.queue.lambda.clone();
        set_dead_letter_queue(&f, &format!("{QUEUES}:never")).await;
        let config = EventInvokeConfigRequest {
            maximum_retry_attempts: Some(0),
            destination_config: Some(DestinationConfig {
                on_success: Some(DestinationTarget {
                    destination: Some(format!("{QUEUES}:later")),
                }),
                on_failure: Some(DestinationTarget {
                    destination: Some(String::new()),
                }),
            }),
            ..EventInvokeConfigRequest::default()
        };
        configure(&f, config).await;
        let ok = send(&f, b"{\"ok\": 1}");
        f.queue.clone().run(claim_one(&f)).await;
        // Not delivered: due again after 1 s, with the record kept.
        assert!(due(&f).is_empty());
        assert_eq!(lambda.db().next_due_ms().unwrap(), Some(T0 + 1000));
        create_queue(&f, "later");
        f.clock.advance(1000);
        let retry = claim_one(&f);
        assert!(retry.delivery.is_some());
        f.queue.clone().run(retry).await;
        let got = messages(&f, "later").await;
        assert_eq!(got.len(), 1);
        let record: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(record["requestContext"]["requestId"], ok.as_str());
        assert_eq!(record["requestContext"]["condition"], "Success");
        assert_eq!(record["responsePayload"]["ok"], 1);
        assert_eq!(lambda.db().queued_events().unwrap(), 0);
        // The dead-letter queue never exists: three tries, then counted.
        send(&f, b"{\"fail\": 1}");
        let mut tries = 0;
        while lambda.db().queued_events().unwrap() > 0 {
            if let Some(next) = lambda.db().next_due_ms().unwrap() {
                f.clock.set(next);
            }
            f.queue.clone().run(claim_one(&f)).await;
            tries += 1;
            assert!(tries <= 4, "still queued after {tries} runs");
        }
        // The run, then two more tries of the message.
        assert_eq!(tries, 3);
        assert_eq!(counted(&f, "hako_lambda_dead_letter_errors_total"), 1.0);
        assert_eq!(
            counted(&f, "hako_lambda_destination_delivery_failures_total"),
            0.0
        );
    }

    /// A destination function's record is handed over at once while a dead-letter message is
    /// still owed (each delivery on its own), and only once.
    #[tokio::test]
    async fn a_record_is_handed_over_while_a_dead_letter_message_is_still_owed() {
        let f = fixture().await;
        let lambda = f.queue.lambda.clone();
        set_dead_letter_queue(&f, &format!("{QUEUES}:not-yet")).await;
        let no_retries = EventInvokeConfigRequest {
            maximum_retry_attempts: Some(0),
            ..EventInvokeConfigRequest::default()
        };
        lambda
            .update_event_invoke_config("src", None, no_retries)
            .await
            .unwrap();
        send(&f, b"{\"fail\": 1}");
        f.queue.clone().run(claim_one(&f)).await;
        // The record is queued for `dest`; the event stays for its dead-letter message.
        let record = claim_one(&f);
        assert_eq!(record.event.function_name, "dest");
        assert_eq!(lambda.db().queued_events().unwrap(), 2);
        create_queue(&f, "not-yet");
        f.clock.advance(1000);
        let owed = claim_one(&f);
        assert_eq!(owed.event.function_name, "src");
        f.queue.clone().run(owed).await;
        assert_eq!(messages(&f, "not-yet").await.len(), 1);
        // Only the record is left.
        assert_eq!(lambda.db().queued_events().unwrap(), 1);
        assert_eq!(counted(&f, "hako_lambda_dead_letter_errors_total"), 0.0);
    }

    #[test]
    fn a_delivery_column_of_an_older_hako_is_read() {
        let old = r#"{"destination":"arn:aws:lambda:us-east-1:123456789012:function:d","record":"{}","failures":1,"version":"$LATEST"}"#;
        let d = parse_deliveries(old).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].failures, 1);
        assert!(d[0].dead_letter.is_none());
    }

    #[test]
    fn a_dead_letter_message_is_at_most_1_kb() {
        let resp = LastResponse {
            executed_version: "$LATEST".into(),
            function_error: Some("Unhandled".into()),
            payload: serde_json::json!({"errorMessage": "é".repeat(600)}).to_string(),
        };
        let d = DeadLetter::of(Some(&resp), None);
        assert_eq!(d.error_code, 200);
        assert_eq!(d.error_message.len(), 1024);
        let empty = LastResponse {
            payload: "{}".into(),
            ..resp
        };
        assert_eq!(
            DeadLetter::of(Some(&empty), None).error_message,
            "Unhandled"
        );
    }

    #[tokio::test]
    async fn the_dispatcher_stops_when_cancelled() {
        let f = fixture().await;
        let cancel = CancellationToken::new();
        let task = start(f.queue.lambda.clone(), f.queue.cfg.clone(), cancel.clone());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!task.is_finished());
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the dispatcher stops within 5 s")
            .unwrap();
    }
}
