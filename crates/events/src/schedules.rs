//! The firing of EventBridge Scheduler's schedules: one task, started by the binary's
//! supervisor, that sleeps until the next schedule is due (or a schedule changes), takes the
//! schedules due (`Scheduler::take_due`: one pending delivery per firing, committed before
//! anything is sent) and delivers the pending deliveries to their targets.
//!
//! Targets, as EventBridge Scheduler's templated targets:
//! - a Lambda function ARN (with or without a qualifier): invoked asynchronously, as Scheduler
//!   does, with `Target.Input` as the payload (`{}` without one), through
//!   `Lambda::invoke_event`; the async queue's retries and destinations then apply;
//! - an SQS queue ARN: `Target.Input` sent as the message body, with
//!   `SqsParameters.MessageGroupId` for a FIFO queue (the firing's execution id as its
//!   deduplication id, so a firing sent twice by a crash is stored once).
//!
//! Any other target (other services, universal targets `arn:aws:scheduler:::aws-sdk:...`) is
//! accepted by the API, as AWS accepts it, and its delivery fails at once (`UnsupportedTarget`).
//!
//! A failed delivery is tried again (`Target.RetryPolicy`: at most MaximumRetryAttempts retries,
//! none once the firing is older than MaximumEventAgeInSeconds; Hako's backoff doubles from 1 s
//! to at most 5 minutes) unless the target cannot take it (no such function or queue, a target
//! Hako does not serve), and is then given up: sent to `Target.DeadLetterConfig`'s SQS queue
//! with AWS's dead-letter message attributes (ERROR_CODE, ERROR_MESSAGE, EXECUTION_ID,
//! EXHAUSTED_RETRY_CONDITION, IS_PAYLOAD_TRUNCATED, RETRY_ATTEMPTS, SCHEDULED_TIME,
//! SCHEDULE_ARN, TARGET_ARN; the body is the target's input), or dropped. A firing is delivered
//! at least once: its row stays until it is delivered or given up, across restarts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hako_lambda::{Invocation, Lambda};
use hako_model::ErrorKind;
use hako_scheduler::metrics::Outcome;
use hako_scheduler::{Delivery, Scheduler};
use hako_sqs::wire::{MessageAttributeValue, MessageAttributes};
use hako_sqs::Sqs;
use rand::Rng;
use tokio_util::sync::CancellationToken;

/// The longest the task sleeps without looking again (the wall clock may be set while it
/// sleeps; a change of the schedules wakes it at once).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Hako's retry backoff: 1 s, doubling, at most 5 minutes (AWS documents exponential backoff
/// without its figures).
const RETRY_FIRST_MS: i64 = 1_000;
const RETRY_MAX_MS: i64 = 300_000;

/// What the schedule task delivers with.
#[derive(Clone)]
pub struct ScheduleTargets {
    pub lambda: Arc<Lambda>,
    /// SQS targets and dead-letter queues (none: they fail).
    pub sqs: Option<Sqs>,
}

/// Runs the schedules until `stop` is cancelled.
pub async fn run(scheduler: Scheduler, targets: ScheduleTargets, stop: CancellationToken) {
    let mut changes = scheduler.subscribe();
    loop {
        changes.borrow_and_update();
        let s = scheduler.clone();
        let t = targets.clone();
        let next = tokio::task::spawn_blocking(move || {
            let now = s.clock().now_ms();
            tick(&s, &t, now, &mut |window_ms| {
                rand::thread_rng().gen_range(0..window_ms.max(1))
            })
        })
        .await;
        let next = match next {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "schedules");
                Some(scheduler.clock().now_ms() + 1_000)
            }
            Err(e) => {
                tracing::error!(error = %e, "schedules: a pass failed");
                Some(scheduler.clock().now_ms() + 1_000)
            }
        };
        let wait = match next {
            Some(t) => {
                let ms = (t - scheduler.clock().now_ms()).max(0);
                Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = changes.changed() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One pass at `now`: takes the schedules due, delivers the deliveries due; the next time
/// anything is due. `delay` picks a flexible window's delay (`0..window_ms`).
pub fn tick(
    s: &Scheduler,
    t: &ScheduleTargets,
    now: i64,
    delay: &mut dyn FnMut(i64) -> i64,
) -> hako_scheduler::Result<Option<i64>> {
    s.take_due(now, delay)?;
    for d in s.due_deliveries(now)? {
        deliver_with(s, t, &d, now, &attempt)?;
    }
    s.next_wake()
}

/// Why one attempt failed.
#[derive(Debug)]
struct Failure {
    code: String,
    message: String,
    /// Whether trying again may succeed (throttling, a failure of Hako itself).
    retryable: bool,
    throttled: bool,
}

impl Failure {
    fn new(code: &str, message: impl Into<String>, retryable: bool) -> Failure {
        Failure {
            code: code.to_string(),
            message: message.into(),
            retryable,
            throttled: false,
        }
    }
}

/// Makes one attempt of `d` with `attempt` (the target's delivery), then records its outcome:
/// done, retried later, or given up.
fn deliver_with(
    s: &Scheduler,
    t: &ScheduleTargets,
    d: &Delivery,
    now: i64,
    attempt: &dyn Fn(&ScheduleTargets, &Delivery) -> Result<(), Failure>,
) -> hako_scheduler::Result<()> {
    let policy = d.target.retry_policy.clone().unwrap_or_default();
    let max_age_ms = policy
        .maximum_event_age_in_seconds
        .unwrap_or(hako_scheduler::model::DEFAULT_MAX_EVENT_AGE_SECONDS)
        * 1000;
    let max_retries = policy
        .maximum_retry_attempts
        .unwrap_or(hako_scheduler::model::DEFAULT_MAX_RETRY_ATTEMPTS);
    if now - d.due_ms > max_age_ms {
        // Too old to try (due while Hako was down for longer than the event's age).
        let last = d.last_error.as_deref().and_then(|e| e.split_once(": "));
        let f = last.map(|(c, m)| Failure::new(c, m, false));
        return give_up(
            s,
            t,
            d,
            f.as_ref(),
            Some("MaximumEventAgeInSeconds"),
            d.attempts,
        );
    }
    s.metrics().record(&d.group, Outcome::Attempt);
    let Err(f) = attempt(t, d) else {
        return s.finish_delivery(d.id);
    };
    s.metrics().record(
        &d.group,
        if f.throttled {
            Outcome::TargetThrottled
        } else {
            Outcome::TargetError
        },
    );
    tracing::debug!(schedule = %d.schedule_arn, code = %f.code, error = %f.message, "schedule target failed");
    let attempts = d.attempts + 1;
    if !f.retryable {
        return give_up(s, t, d, Some(&f), None, attempts);
    }
    if attempts > max_retries {
        return give_up(s, t, d, Some(&f), Some("MaximumRetryAttempts"), attempts);
    }
    let backoff = RETRY_FIRST_MS
        .saturating_mul(1_i64 << (attempts - 1).clamp(0, 20))
        .min(RETRY_MAX_MS);
    let next = now + backoff;
    if next - d.due_ms > max_age_ms {
        return give_up(
            s,
            t,
            d,
            Some(&f),
            Some("MaximumEventAgeInSeconds"),
            attempts,
        );
    }
    s.retry_delivery(d.id, attempts, next, &format!("{}: {}", f.code, f.message))
}

/// One attempt to deliver `d` to its target.
fn attempt(t: &ScheduleTargets, d: &Delivery) -> Result<(), Failure> {
    let arn = d.target.arn.as_deref().unwrap_or_default();
    let input = d.target.input.clone().unwrap_or_else(|| "{}".to_string());
    let service = hako_model::names::split_arn(arn).map(|p| p.service);
    match service {
        Some("lambda") => {
            let inv = Invocation {
                payload: Bytes::from(input),
                ..Invocation::default()
            };
            t.lambda.invoke_event(arn, None, inv).map(|_| ()).map_err(|e| {
                let retryable = matches!(e.kind, ErrorKind::TooManyRequests | ErrorKind::Service);
                Failure {
                    // The kinds are named as Lambda's exceptions (`ResourceNotFoundException`).
                    code: format!("{:?}Exception", e.kind),
                    message: e.message,
                    retryable,
                    throttled: e.kind == ErrorKind::TooManyRequests,
                }
            })
        }
        Some("sqs") => {
            let Some(sqs) = &t.sqs else {
                return Err(Failure::new("UnsupportedTarget", "SQS is not served", false));
            };
            let group = d
                .target
                .sqs_parameters
                .as_ref()
                .and_then(|p| p.message_group_id.as_deref());
            let dedup = group.map(|_| d.execution_id.as_str());
            sqs.send_message_in_group(arn, input, MessageAttributes::new(), group, dedup)
                .map(|_| ())
                .map_err(|e| {
                    Failure::new(
                        e.kind.json_type(),
                        e.message,
                        e.kind == hako_sqs::error::ErrorKind::Internal,
                    )
                })
        }
        _ => Err(Failure::new(
            "UnsupportedTarget",
            format!("Hako does not deliver to the target {arn} (only Lambda functions and SQS queues); see Hako's README"),
            false,
        )),
    }
}

fn string_attr(v: impl Into<String>) -> MessageAttributeValue {
    MessageAttributeValue {
        string_value: Some(v.into()),
        data_type: "String".to_string(),
        ..MessageAttributeValue::default()
    }
}

/// Gives `d` up after `attempts` attempts: to its dead-letter queue, or dropped.
fn give_up(
    s: &Scheduler,
    t: &ScheduleTargets,
    d: &Delivery,
    failure: Option<&Failure>,
    exhausted: Option<&str>,
    attempts: i64,
) -> hako_scheduler::Result<()> {
    let dlq = d
        .target
        .dead_letter_config
        .as_ref()
        .and_then(|c| c.arn.as_deref());
    let outcome = match (dlq, &t.sqs) {
        (Some(dlq), Some(sqs)) => {
            let mut a = MessageAttributes::new();
            if let Some(f) = failure {
                a.insert("ERROR_CODE".into(), string_attr(f.code.clone()));
                a.insert("ERROR_MESSAGE".into(), string_attr(f.message.clone()));
            }
            a.insert("EXECUTION_ID".into(), string_attr(d.execution_id.clone()));
            if let Some(c) = exhausted {
                a.insert("EXHAUSTED_RETRY_CONDITION".into(), string_attr(c));
            }
            a.insert("IS_PAYLOAD_TRUNCATED".into(), string_attr("false"));
            a.insert(
                "RETRY_ATTEMPTS".into(),
                string_attr((attempts - 1).max(0).to_string()),
            );
            a.insert(
                "SCHEDULED_TIME".into(),
                string_attr(scheduled_time(d.due_ms)),
            );
            a.insert("SCHEDULE_ARN".into(), string_attr(d.schedule_arn.clone()));
            a.insert(
                "TARGET_ARN".into(),
                string_attr(d.target.arn.clone().unwrap_or_default()),
            );
            let body = d.target.input.clone().unwrap_or_else(|| "{}".to_string());
            match sqs.send_message(dlq, body, a) {
                Ok(_) => Outcome::SentToDeadLetter,
                Err(e) => {
                    tracing::warn!(schedule = %d.schedule_arn, dlq, error = %e, "dead-letter queue refused a firing");
                    Outcome::DeadLetterFailed
                }
            }
        }
        _ => Outcome::Dropped,
    };
    s.metrics().record(&d.group, outcome);
    s.finish_delivery(d.id)
}

/// `2025-01-01T00:00:00Z`: the due time to the second.
fn scheduled_time(ms: i64) -> String {
    let t = hako_model::clock::datetime_of_ms(ms);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests;
