//! The supervisor and the SQS poller on the real application layer (an in-memory store, an
//! engine on the fake sandbox backend) and an in-memory SQS on a virtual clock: visibility
//! timeouts move by the clock, not by sleeping.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hako_engine::testing::{FakeRuntime, Reply};
use hako_model::clock::ManualClock;
use hako_model::concurrency::PutFunctionConcurrencyRequest;
use hako_model::esm::EsmRequest;
use hako_model::Region;
use hako_sqs::wire::{CreateQueueRequest, SendMessageRequest};
use hako_sqs::{Caller, MessageAttributeValue, Sqs};
use serde_json::Value;

use super::*;

const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:q";

struct Fixture {
    lambda: Arc<Lambda>,
    sqs: Sqs,
    kinesis: hako_kinesis::Kinesis,
    clock: Arc<ManualClock>,
    metrics: Arc<EsmMetrics>,
    /// Every event the function received.
    seen: Arc<parking_lot::Mutex<Vec<Value>>>,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn caller() -> Caller<'static> {
    Caller {
        endpoint: "http://localhost:9000",
        sender_id: "AKIDEXAMPLE",
    }
}

/// A function `f` whose runtime records each event and fails the batch when a body says
/// `fail`, or (answering as `ReportBatchItemFailures` asks) reports the records whose body says
/// `partial`; a queue `q` (visibility timeout 30 s); the supervisor running.
async fn fixture() -> Fixture {
    let seen: Arc<parking_lot::Mutex<Vec<Value>>> = Default::default();
    let record = seen.clone();
    let rt = FakeRuntime::new(move |e| {
        let record = record.clone();
        async move {
            let v: Value = serde_json::from_slice(&e.payload).unwrap_or(Value::Null);
            record.lock().push(v.clone());
            let records = v["Records"].as_array().cloned().unwrap_or_default();
            if records.iter().any(|r| r["body"] == "fail") {
                return Reply::error("RuntimeError", "boom");
            }
            let failures: Vec<Value> = records
                .iter()
                .filter(|r| r["body"] == "partial")
                .map(|r| serde_json::json!({ "itemIdentifier": r["messageId"] }))
                .collect();
            Reply::Response(Bytes::from(
                serde_json::json!({ "batchItemFailures": failures }).to_string(),
            ))
        }
    });
    let (lambda, clock, dir) = crate::testing::lambda(&rt, 10);
    let sqs = Sqs::in_memory(Region::default(), clock.clone()).unwrap();
    let kinesis = hako_kinesis::Kinesis::in_memory(
        hako_kinesis::KinesisConfig::new("us-east-1", "123456789012"),
        clock.clone(),
    )
    .unwrap();
    kinesis
        .create_stream(hako_kinesis::wire::CreateStreamInput {
            stream_name: Some("s".into()),
            shard_count: Some(1),
            ..Default::default()
        })
        .unwrap();
    let k = kinesis.clone();
    lambda.set_event_sources(Arc::new(Sources::new(
        sqs.clone(),
        move |arn| k.shard_ids(arn).is_ok(),
        ExternalSources::default(),
    )));
    crate::testing::create_function(&lambda, "f", "arn:aws:iam::123456789012:role/r").await;
    sqs.create_queue(
        CreateQueueRequest {
            queue_name: Some("q".into()),
            attributes: [("VisibilityTimeout".to_string(), "30".to_string())].into(),
            tags: Default::default(),
        },
        &caller(),
    )
    .unwrap();
    let metrics = Arc::new(EsmMetrics::new());
    let stop = CancellationToken::new();
    tokio::spawn(supervise(
        lambda.clone(),
        EsmConfig {
            sqs: sqs.clone(),
            metrics: metrics.clone(),
            streams: Some(StreamPollers {
                kinesis: kinesis.clone(),
                store: Arc::new(StreamStore::in_memory().unwrap()),
                config: StreamConfig::default(),
            }),
            external: ExternalSources::default(),
        },
        stop.clone(),
    ));
    Fixture {
        lambda,
        sqs,
        kinesis,
        clock,
        metrics,
        seen,
        stop,
        _dir: dir,
    }
}

fn send(f: &Fixture, body: &str) {
    let mut attrs = hako_sqs::MessageAttributes::new();
    attrs.insert(
        "Author".into(),
        MessageAttributeValue::string("John Grisham"),
    );
    f.sqs
        .send(
            SendMessageRequest {
                queue_url: Some("q".into()),
                message_body: Some(body.into()),
                message_attributes: attrs,
                ..Default::default()
            },
            &caller(),
        )
        .unwrap();
}

/// (visible, in flight) messages of `q`.
fn counts(f: &Fixture) -> (usize, usize) {
    let (s, _) = f
        .sqs
        .stats()
        .into_iter()
        .find(|(s, _)| s.name == "q")
        .unwrap();
    (s.visible, s.in_flight)
}

/// Waits (bounded) until `cond` holds.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn map(f: &Fixture, req: EsmRequest) -> String {
    let c = f.lambda.create_event_source_mapping(req).await.unwrap();
    let uuid = c.uuid.clone();
    let lambda = f.lambda.clone();
    let u = uuid.clone();
    until("the mapping settles", move || {
        lambda.get_event_source_mapping(&u).unwrap().state == "Enabled"
    })
    .await;
    uuid
}

/// Enables or disables mapping `uuid` (with `extra` changes) and waits until it settles.
async fn set_enabled(f: &Fixture, uuid: &str, enabled: bool, extra: impl FnOnce(&mut EsmRequest)) {
    let mut req = EsmRequest {
        enabled: Some(enabled),
        ..EsmRequest::default()
    };
    extra(&mut req);
    f.lambda
        .update_event_source_mapping(uuid, req)
        .await
        .unwrap();
    let want = if enabled { "Enabled" } else { "Disabled" };
    let lambda = f.lambda.clone();
    let u = uuid.to_string();
    until(want, move || {
        lambda.get_event_source_mapping(&u).unwrap().state == want
    })
    .await;
}

fn mapping(extra: impl FnOnce(&mut EsmRequest)) -> EsmRequest {
    let mut r = EsmRequest {
        function_name: Some("f".into()),
        event_source_arn: Some(QUEUE.into()),
        ..EsmRequest::default()
    };
    extra(&mut r);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handled_batch_is_deleted_and_its_event_is_awss() {
    let f = fixture().await;
    let uuid = map(&f, mapping(|_| {})).await;
    send(&f, "hello");
    until("the message is handled and deleted", || {
        counts(&f) == (0, 0)
    })
    .await;
    let seen = f.seen.lock().clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0]["Records"][0];
    assert_eq!(r["body"], "hello");
    assert_eq!(r["eventSource"], "aws:sqs");
    assert_eq!(r["eventSourceARN"], QUEUE);
    assert_eq!(r["awsRegion"], "us-east-1");
    assert_eq!(r["attributes"]["ApproximateReceiveCount"], "1");
    assert_eq!(r["attributes"]["SenderId"], "AKIDEXAMPLE");
    for k in ["SentTimestamp", "ApproximateFirstReceiveTimestamp"] {
        assert!(r["attributes"][k].is_string(), "{k}: {r}");
    }
    // test_message_body_and_attributes_passed_correctly's shape of a message attribute.
    assert_eq!(
        r["messageAttributes"]["Author"],
        serde_json::json!({"stringValue": "John Grisham", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
    );
    assert!(r["md5OfMessageAttributes"].is_string());
    assert_eq!(r["md5OfBody"], "5d41402abc4b2a76b9719d911017c592");
    let text = f.metrics.render();
    for m in ["polled", "invoked", "deleted"] {
        let line = format!(
            "hako_lambda_esm_{m}_event_count_total{{event_source_mapping_uuid=\"{uuid}\",function_name=\"f\"}} 1"
        );
        assert!(text.contains(&line), "{line} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_stays_until_its_visibility_timeout_then_comes_back() {
    let f = fixture().await;
    map(&f, mapping(|_| {})).await;
    send(&f, "fail");
    until("the failure is seen", || f.seen.lock().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(counts(&f), (0, 1), "not deleted, in flight");
    // The visibility timeout ends (virtual time); the poller is woken by the next send.
    f.clock.advance(30_000);
    send(&f, "ok");
    until("the failed message comes back", || {
        f.seen.lock().iter().any(|e| {
            e["Records"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["body"] == "fail" && r["attributes"]["ApproximateReceiveCount"] == "2")
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_batch_item_failures_deletes_all_but_the_reported() {
    let f = fixture().await;
    // Stopped while the batch is sent, so it is one batch.
    let uuid = map(
        &f,
        mapping(|r| {
            r.function_response_types = Some(vec!["ReportBatchItemFailures".into()]);
            r.enabled = Some(true);
        }),
    )
    .await;
    set_enabled(&f, &uuid, false, |_| {}).await;
    for b in ["a", "partial", "b"] {
        send(&f, b);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(counts(&f), (3, 0), "a disabled mapping receives nothing");
    set_enabled(&f, &uuid, true, |_| {}).await;
    until("two deleted, the reported one in flight", || {
        counts(&f) == (0, 1)
    })
    .await;
    let text = f.metrics.render();
    let line = format!(
        "hako_lambda_esm_failed_invoke_event_count_total{{event_source_mapping_uuid=\"{uuid}\",function_name=\"f\"}} 1"
    );
    assert!(text.contains(&line), "{line} in\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_concurrency_zero_leaves_the_messages_in_the_queue() {
    let f = fixture().await;
    f.lambda
        .put_function_concurrency(
            "f",
            PutFunctionConcurrencyRequest {
                reserved_concurrent_executions: Some(0),
            },
        )
        .await
        .unwrap();
    map(&f, mapping(|_| {})).await;
    send(&f, "x");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(counts(&f), (1, 0));
    assert!(f.seen.lock().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_stops_the_poller_and_removes_the_mapping() {
    let f = fixture().await;
    let uuid = map(&f, mapping(|_| {})).await;
    f.lambda.delete_event_source_mapping(&uuid).await.unwrap();
    let lambda = f.lambda.clone();
    let u = uuid.clone();
    until("removed", move || {
        lambda.get_event_source_mapping(&u).is_err()
    })
    .await;
    send(&f, "x");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(counts(&f), (1, 0));
    assert!(!f.metrics.render().contains(&uuid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_window_gathers_more_than_ten() {
    let f = fixture().await;
    let uuid = map(&f, mapping(|_| {})).await;
    set_enabled(&f, &uuid, false, |r| {
        r.batch_size = Some(25);
        r.maximum_batching_window_in_seconds = Some(1);
    })
    .await;
    for i in 0..25 {
        send(&f, &format!("m{i}"));
    }
    set_enabled(&f, &uuid, true, |_| {}).await;
    until("all handled", || counts(&f) == (0, 0)).await;
    let seen = f.seen.lock().clone();
    assert_eq!(seen.len(), 1, "one batch of 25");
    assert_eq!(seen[0]["Records"].as_array().unwrap().len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_no_filter_matches_are_deleted_without_an_invocation() {
    let f = fixture().await;
    let uuid = map(
        &f,
        mapping(|r| {
            r.filter_criteria = Some(hako_model::esm::FilterCriteria {
                filters: Some(vec![hako_model::esm::Filter {
                    pattern: Some("{\"body\": {\"kind\": [\"keep\"]}}".into()),
                }]),
            });
        }),
    )
    .await;
    send(&f, "{\"kind\": \"drop\"}");
    until("the dropped message is deleted", || counts(&f) == (0, 0)).await;
    assert!(
        f.seen.lock().is_empty(),
        "no invocation for a filtered-out message"
    );
    send(&f, "{\"kind\": \"keep\"}");
    until("the kept message is handled", || f.seen.lock().len() == 1).await;
    until("and deleted", || counts(&f) == (0, 0)).await;
    let text = f.metrics.render();
    for (m, n) in [
        ("filtered_out", 1),
        ("invoked", 1),
        ("deleted", 2),
        ("polled", 2),
    ] {
        let line = format!(
            "hako_lambda_esm_{m}_event_count_total{{event_source_mapping_uuid=\"{uuid}\",function_name=\"f\"}} {n}"
        );
        assert!(text.contains(&line), "{line} in\n{text}");
    }
}

/// A Kinesis mapping runs the stream poller (`crate::streams`); its status reaches the mapping
/// (LastProcessingResult) and the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kinesis_mapping_runs_the_stream_poller_and_reports_its_status() {
    let f = fixture().await;
    f.clock.advance(1_000);
    let stream = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
    let c = f
        .lambda
        .create_event_source_mapping(EsmRequest {
            function_name: Some("f".into()),
            event_source_arn: Some(stream.into()),
            starting_position: Some("TRIM_HORIZON".into()),
            ..EsmRequest::default()
        })
        .await
        .unwrap();
    f.kinesis
        .put_record(hako_kinesis::wire::PutRecordInput {
            stream: hako_kinesis::wire::StreamRef {
                stream_name: Some("s".into()),
                stream_arn: None,
            },
            data: Some(hako_kinesis::wire::Blob(b"{\"a\":1}".to_vec())),
            partition_key: Some("k".into()),
            explicit_hash_key: None,
            sequence_number_for_ordering: None,
        })
        .unwrap();
    until("the record reaches the function", || {
        f.seen
            .lock()
            .iter()
            .any(|e| e["Records"][0]["eventSource"] == "aws:kinesis")
    })
    .await;
    let lambda = f.lambda.clone();
    let uuid = c.uuid.clone();
    until("LastProcessingResult OK", move || {
        lambda
            .get_event_source_mapping(&uuid)
            .unwrap()
            .last_processing_result
            .as_deref()
            == Some("OK")
    })
    .await;
    let metrics = f.metrics.clone();
    let line = format!(
        "hako_lambda_esm_invoked_event_count_total{{event_source_mapping_uuid=\"{}\",function_name=\"f\"}} 1",
        c.uuid
    );
    until("the stream poller's counts on /metrics", move || {
        metrics.render().contains(&line)
    })
    .await;
}
