//! The schedule task on an in-memory Scheduler and SQS, a Lambda on the fake engine, in virtual
//! time: passes driven by hand with a `ManualClock`, and the task itself on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use hako_engine::testing::FakeRuntime;
use hako_model::clock::{Clock, ManualClock};
use hako_model::Region;
use hako_scheduler::metrics::Outcome;
use hako_scheduler::wire::{
    DeadLetterConfig, FlexibleTimeWindow, RetryPolicy, ScheduleInput, SqsParameters, Target,
};
use hako_scheduler::{Scheduler, SchedulerConfig};
use hako_sqs::Sqs;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::testing;

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;
const ROLE: &str = "arn:aws:iam::123456789012:role/scheduler";
const QUEUES: &str = "arn:aws:sqs:us-east-1:123456789012";

/// A runtime that answers every event with its payload (the events are queued, never run here).
fn echo() -> FakeRuntime {
    FakeRuntime::new(|e| async move { hako_engine::testing::Reply::Response(e.payload) })
}

struct Fixture {
    s: Scheduler,
    t: ScheduleTargets,
    sqs: Sqs,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let (lambda, _, dir) = testing::lambda(&echo(), 10);
    let clock = Arc::new(ManualClock::new(T0));
    let sqs = Sqs::in_memory(Region::default(), clock.clone()).unwrap();
    let s = Scheduler::in_memory(
        SchedulerConfig::new("us-east-1", "123456789012"),
        clock.clone(),
    )
    .unwrap();
    Fixture {
        s,
        t: ScheduleTargets {
            lambda,
            sqs: Some(sqs.clone()),
        },
        sqs,
        clock,
        _dir: dir,
    }
}

fn create_queue(sqs: &Sqs, name: &str, fifo: bool) {
    let mut req = hako_sqs::wire::CreateQueueRequest {
        queue_name: Some(name.into()),
        ..Default::default()
    };
    if fifo {
        req.attributes.insert("FifoQueue".into(), "true".into());
    }
    let caller = hako_sqs::Caller {
        endpoint: "http://127.0.0.1:9",
        sender_id: "test",
    };
    sqs.create_queue(req, &caller).unwrap();
}

async fn messages(sqs: &Sqs, name: &str) -> Vec<hako_sqs::wire::Message> {
    testing::sqs_messages(sqs, name).await
}

fn attr(m: &hako_sqs::wire::Message, k: &str) -> Option<String> {
    m.message_attributes
        .get(k)
        .and_then(|v| v.string_value.clone())
}

fn schedule(expr: &str, arn: &str) -> ScheduleInput {
    ScheduleInput {
        schedule_expression: Some(expr.into()),
        target: Some(Target {
            arn: Some(arn.into()),
            role_arn: Some(ROLE.into()),
            input: Some("{\"hello\":\"schedule\"}".into()),
            ..Target::default()
        }),
        flexible_time_window: Some(FlexibleTimeWindow {
            mode: Some("OFF".into()),
            maximum_window_in_minutes: None,
        }),
        ..ScheduleInput::default()
    }
}

fn pass(f: &Fixture) -> Option<i64> {
    tick(&f.s, &f.t, f.clock.now_ms(), &mut |_| 0).unwrap()
}

#[tokio::test]
async fn an_at_schedule_sends_its_input_to_a_queue_once() {
    let f = fixture();
    create_queue(&f.sqs, "target", false);
    f.s.create_schedule(
        "once",
        schedule("at(2025-01-01T00:00:30)", &format!("{QUEUES}:target")),
    )
    .unwrap();
    assert_eq!(pass(&f), Some(T0 + 30_000));
    assert!(messages(&f.sqs, "target").await.is_empty());
    f.clock.advance(29_999);
    pass(&f);
    assert!(messages(&f.sqs, "target").await.is_empty(), "not early");
    f.clock.advance(1);
    assert_eq!(pass(&f), None, "nothing more to do");
    let got = messages(&f.sqs, "target").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "{\"hello\":\"schedule\"}");
    f.clock.advance(3_600_000);
    pass(&f);
    // The first message again (its visibility timeout ended), no other.
    let again = messages(&f.sqs, "target").await;
    assert_eq!(again.len(), 1, "once");
    assert_eq!(again[0].message_id, got[0].message_id);
    assert_eq!(f.s.metrics().count("default", Outcome::Attempt), 1);
}

#[tokio::test]
async fn a_fifo_queue_gets_the_message_group() {
    let f = fixture();
    create_queue(&f.sqs, "target.fifo", true);
    let mut i = schedule("rate(1 minute)", &format!("{QUEUES}:target.fifo"));
    i.target.as_mut().unwrap().sqs_parameters = Some(SqsParameters {
        message_group_id: Some("g1".into()),
    });
    f.s.create_schedule("fifo", i).unwrap();
    pass(&f);
    f.clock.advance(60_000);
    pass(&f);
    let req = hako_sqs::wire::ReceiveMessageRequest {
        queue_url: Some("http://127.0.0.1:9/123456789012/target.fifo".into()),
        message_system_attribute_names: vec!["All".into()],
        max_number_of_messages: Some(10),
        wait_time_seconds: Some(0),
        ..Default::default()
    };
    let got = f.sqs.receive(req).await.unwrap().messages;
    assert_eq!(got.len(), 2, "two firings, two messages");
    assert_eq!(
        got[0].attributes.get("MessageGroupId").map(String::as_str),
        Some("g1")
    );
}

#[tokio::test]
async fn a_lambda_target_is_invoked_asynchronously_with_the_input() {
    let f = fixture();
    testing::create_function(&f.t.lambda, "fn1", ROLE).await;
    f.s.create_schedule(
        "to-fn",
        schedule(
            "at(2025-01-01T00:00:00)",
            "arn:aws:lambda:us-east-1:123456789012:function:fn1",
        ),
    )
    .unwrap();
    pass(&f);
    let queued = f.t.lambda.db().claim_events(i64::MAX, 10).unwrap();
    assert_eq!(queued.len(), 1, "one Event invocation queued");
    assert_eq!(queued[0].event.payload, b"{\"hello\":\"schedule\"}");
    assert_eq!(queued[0].event.function_name, "fn1");
}

#[tokio::test]
async fn failures_go_to_the_dead_letter_queue_with_aws_attributes() {
    let f = fixture();
    create_queue(&f.sqs, "dlq", false);
    let dlq = format!("{QUEUES}:dlq");
    // A function that does not exist: not retried.
    let mut i = schedule(
        "at(2025-01-01T00:00:00)",
        "arn:aws:lambda:us-east-1:123456789012:function:missing",
    );
    i.target.as_mut().unwrap().dead_letter_config = Some(DeadLetterConfig {
        arn: Some(dlq.clone()),
    });
    f.s.create_schedule("to-missing", i).unwrap();
    // A target Hako does not serve.
    let mut i = schedule(
        "at(2025-01-01T00:00:00)",
        "arn:aws:scheduler:::aws-sdk:sns:publish",
    );
    i.target.as_mut().unwrap().dead_letter_config = Some(DeadLetterConfig {
        arn: Some(dlq.clone()),
    });
    f.s.create_schedule("universal", i).unwrap();
    // No dead-letter queue: dropped.
    f.s.create_schedule(
        "dropped",
        schedule("at(2025-01-01T00:00:00)", &format!("{QUEUES}:nope")),
    )
    .unwrap();
    pass(&f);
    let mut got = messages(&f.sqs, "dlq").await;
    got.sort_by_key(|m| attr(m, "SCHEDULE_ARN"));
    assert_eq!(got.len(), 2);
    let m = &got[0];
    assert_eq!(
        attr(m, "SCHEDULE_ARN").as_deref(),
        Some("arn:aws:scheduler:us-east-1:123456789012:schedule/default/to-missing")
    );
    assert_eq!(
        attr(m, "ERROR_CODE").as_deref(),
        Some("ResourceNotFoundException")
    );
    assert!(attr(m, "ERROR_MESSAGE").unwrap().contains("missing"));
    assert_eq!(attr(m, "RETRY_ATTEMPTS").as_deref(), Some("0"));
    assert_eq!(
        attr(m, "EXHAUSTED_RETRY_CONDITION"),
        None,
        "not retried at all"
    );
    assert_eq!(
        attr(m, "SCHEDULED_TIME").as_deref(),
        Some("2025-01-01T00:00:00Z")
    );
    assert_eq!(attr(m, "IS_PAYLOAD_TRUNCATED").as_deref(), Some("false"));
    assert_eq!(
        attr(m, "TARGET_ARN").as_deref(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:missing")
    );
    assert_eq!(attr(m, "EXECUTION_ID").unwrap().len(), 36);
    assert_eq!(m.body, "{\"hello\":\"schedule\"}");
    assert_eq!(
        attr(&got[1], "ERROR_CODE").as_deref(),
        Some("UnsupportedTarget")
    );
    let metrics = f.s.metrics();
    assert_eq!(metrics.count("default", Outcome::Attempt), 3);
    assert_eq!(metrics.count("default", Outcome::TargetError), 3);
    assert_eq!(metrics.count("default", Outcome::SentToDeadLetter), 2);
    assert_eq!(metrics.count("default", Outcome::Dropped), 1);
    assert_eq!(pass(&f), None, "every firing done");
}

/// A firing whose attempts fail with a retryable error, driven through `deliver_with`.
fn retry_fixture(policy: RetryPolicy) -> (Fixture, String) {
    let f = fixture();
    create_queue(&f.sqs, "dlq", false);
    let mut i = schedule("at(2025-01-01T00:00:00)", &format!("{QUEUES}:target"));
    let t = i.target.as_mut().unwrap();
    t.dead_letter_config = Some(DeadLetterConfig {
        arn: Some(format!("{QUEUES}:dlq")),
    });
    t.retry_policy = Some(policy);
    f.s.create_schedule("flaky", i).unwrap();
    f.s.take_due(T0, &mut |_| 0).unwrap();
    (f, "flaky".into())
}

fn throttled(_: &ScheduleTargets, _: &Delivery) -> Result<(), Failure> {
    Err(Failure {
        code: "TooManyRequestsException".into(),
        message: "Rate exceeded".into(),
        retryable: true,
        throttled: true,
    })
}

/// Runs every delivery due now with `attempt`, then moves the clock to the next one; the times
/// of the attempts.
fn drive(
    f: &Fixture,
    attempt: &dyn Fn(&ScheduleTargets, &Delivery) -> Result<(), Failure>,
) -> Vec<i64> {
    let mut times = Vec::new();
    for _ in 0..50 {
        let now = f.clock.now_ms();
        for d in f.s.due_deliveries(now).unwrap() {
            times.push(now - T0);
            deliver_with(&f.s, &f.t, &d, now, attempt).unwrap();
        }
        match f.s.next_wake().unwrap() {
            Some(t) => f.clock.set(t),
            None => break,
        }
    }
    times
}

#[tokio::test]
async fn retries_back_off_until_maximum_retry_attempts() {
    let (f, _) = retry_fixture(RetryPolicy {
        maximum_event_age_in_seconds: Some(86_400),
        maximum_retry_attempts: Some(3),
    });
    let times = drive(&f, &throttled);
    assert_eq!(
        times,
        [0, 1_000, 3_000, 7_000],
        "the first attempt and 3 retries"
    );
    let got = messages(&f.sqs, "dlq").await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        attr(&got[0], "EXHAUSTED_RETRY_CONDITION").as_deref(),
        Some("MaximumRetryAttempts")
    );
    assert_eq!(attr(&got[0], "RETRY_ATTEMPTS").as_deref(), Some("3"));
    assert_eq!(
        attr(&got[0], "ERROR_CODE").as_deref(),
        Some("TooManyRequestsException")
    );
    assert_eq!(f.s.metrics().count("default", Outcome::TargetThrottled), 4);
}

#[tokio::test]
async fn retries_stop_at_the_maximum_event_age() {
    let (f, _) = retry_fixture(RetryPolicy {
        maximum_event_age_in_seconds: Some(60),
        maximum_retry_attempts: Some(185),
    });
    let times = drive(&f, &throttled);
    // 0, 1, 3, 7, 15, 31 s; the next (63 s) is past 60 s.
    assert_eq!(times, [0, 1_000, 3_000, 7_000, 15_000, 31_000]);
    let got = messages(&f.sqs, "dlq").await;
    assert_eq!(
        attr(&got[0], "EXHAUSTED_RETRY_CONDITION").as_deref(),
        Some("MaximumEventAgeInSeconds")
    );
    assert_eq!(attr(&got[0], "RETRY_ATTEMPTS").as_deref(), Some("5"));
}

#[tokio::test]
async fn a_firing_older_than_its_event_age_is_not_tried() {
    let f = fixture();
    create_queue(&f.sqs, "target", false);
    let mut i = schedule("at(2025-01-01T00:00:00)", &format!("{QUEUES}:target"));
    i.target.as_mut().unwrap().retry_policy = Some(RetryPolicy {
        maximum_event_age_in_seconds: Some(60),
        maximum_retry_attempts: Some(0),
    });
    f.s.create_schedule("old", i).unwrap();
    // Hako was down when it came due, for longer than its maximum event age.
    f.clock.advance(120_000);
    pass(&f);
    assert!(messages(&f.sqs, "target").await.is_empty());
    assert_eq!(f.s.metrics().count("default", Outcome::Dropped), 1);
    assert_eq!(f.s.metrics().count("default", Outcome::Attempt), 0);
}

/// A wall clock that moves with tokio's (paused) clock.
#[derive(Debug)]
struct TokioClock {
    base_ms: i64,
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.base_ms + i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

#[tokio::test(start_paused = true)]
async fn the_task_sleeps_until_due_and_wakes_on_changes() {
    let clock = Arc::new(TokioClock {
        base_ms: T0,
        start: tokio::time::Instant::now(),
    });
    let (lambda, _, _dir) = testing::lambda(&echo(), 10);
    let sqs = Sqs::in_memory(Region::default(), clock.clone()).unwrap();
    let s = Scheduler::in_memory(
        SchedulerConfig::new("us-east-1", "123456789012"),
        clock.clone(),
    )
    .unwrap();
    create_queue(&sqs, "target", false);
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(
        s.clone(),
        ScheduleTargets {
            lambda,
            sqs: Some(sqs.clone()),
        },
        stop.clone(),
    ));
    // Nothing scheduled: the task sleeps (at most its longest sleep).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s2 = s.clone();
    tokio::task::spawn_blocking(move || {
        s2.create_schedule(
            "soon",
            schedule("at(2025-01-01T00:00:30)", &format!("{QUEUES}:target")),
        )
    })
    .await
    .unwrap()
    .unwrap();
    // Woken by the change, it fires at 30 s, not at the end of its longest sleep (60 s).
    let mut arrived = None;
    for _ in 0..1200 {
        if !messages(&sqs, "target").await.is_empty() {
            arrived = Some(clock.now_ms() - T0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at = arrived.expect("the schedule fired within 120 s of virtual time");
    assert!((30_000..=30_200).contains(&at), "fired at {at} ms");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the task stops when cancelled")
        .unwrap();
}
