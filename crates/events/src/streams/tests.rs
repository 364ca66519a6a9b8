//! The stream poller through the real Kinesis (in memory), Lambda, engine (fake sandboxes whose
//! runtime each test scripts), SQS and checkpoint store, with a virtual wall clock
//! (`ManualClock`) for arrival times, record ages and windows. Retry delays are a millisecond.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hako_engine::testing::{eventually, Event, FakeRuntime, Reply};
use hako_kinesis::wire::{Blob, CreateStreamInput, PutRecordInput, StreamRef};
use hako_kinesis::{Kinesis, KinesisConfig};
use hako_model::clock::{Clock, ManualClock};
use hako_sqs::Sqs;
use parking_lot::Mutex;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::store::Checkpoint;
use super::*;

use crate::testing::T0;
const STREAM: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
const ROLE: &str = "arn:aws:iam::123456789012:role/stream-role";
const DEST: &str = "arn:aws:sqs:us-east-1:123456789012:failures";

/// What the function saw: one entry per invocation, the data of its records (as text).
type Seen = Arc<Mutex<Vec<Vec<String>>>>;

struct Fixture {
    deps: StreamDeps,
    kinesis: Kinesis,
    clock: Arc<ManualClock>,
    seen: Seen,
    /// Full events, for shape checks.
    events: Arc<Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
}

fn data_of(record: &Value) -> String {
    let b64 = record["kinesis"]["data"].as_str().unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

/// A function that behaves as each record's data says: `fail` fails the batch (a function
/// error), `fail-N` fails the first N invocations that see it, `partial...` reports itself as
/// the batch's failed item the first time, `always-partial...` every time, `slow` holds the
/// first invocation that sees it until the gate is notified; a tumbling window's event is
/// answered with a count of records in its state.
fn runtime(
    seen: Seen,
    events: Arc<Mutex<Vec<Value>>>,
    gate: Arc<tokio::sync::Notify>,
) -> FakeRuntime {
    let tries: Arc<Mutex<std::collections::HashMap<String, u32>>> = Arc::default();
    FakeRuntime::new(move |e: Event| {
        let seen = seen.clone();
        let events = events.clone();
        let tries = tries.clone();
        let gate = gate.clone();
        async move {
            let ev: Value = serde_json::from_slice(&e.payload).unwrap();
            events.lock().push(ev.clone());
            let records = ev["Records"].as_array().cloned().unwrap_or_default();
            let data: Vec<String> = records.iter().map(data_of).collect();
            seen.lock().push(data.clone());
            let mut fail = false;
            let mut partial = None;
            let mut hold = false;
            for (r, d) in records.iter().zip(&data) {
                let n = {
                    let mut t = tries.lock();
                    let n = t.entry(d.clone()).or_insert(0);
                    *n += 1;
                    *n
                };
                if d == "fail" {
                    fail = true;
                }
                if d == "slow" && n == 1 {
                    hold = true;
                }
                if let Some(k) = d.strip_prefix("fail-") {
                    if n <= k.parse::<u32>().unwrap() {
                        fail = true;
                    }
                }
                let seq = r["kinesis"]["sequenceNumber"].as_str().unwrap().to_string();
                if partial.is_none()
                    && ((d.starts_with("partial") && n == 1) || d.starts_with("always-partial"))
                {
                    partial = Some(seq);
                }
            }
            if hold {
                gate.notified().await;
            }
            if fail {
                return Reply::error("RuntimeError", "told to fail");
            }
            if ev.get("window").is_some() {
                let before = ev["state"]["count"].as_u64().unwrap_or(0);
                let mut state = serde_json::json!({"count": before + records.len() as u64});
                if data.iter().any(|d| d == "big") {
                    state["pad"] = Value::String("x".repeat(1_100_000));
                }
                return Reply::ok(&serde_json::json!({"state": state}).to_string());
            }
            match partial {
                Some(seq) => Reply::ok(
                    &serde_json::json!({"batchItemFailures": [{"itemIdentifier": seq}]})
                        .to_string(),
                ),
                None => Reply::ok("null"),
            }
        }
    })
}

async fn fixture() -> (Fixture, Arc<tokio::sync::Notify>) {
    let seen: Seen = Arc::default();
    let events: Arc<Mutex<Vec<Value>>> = Arc::default();
    let gate = Arc::new(tokio::sync::Notify::new());
    let rt = runtime(seen.clone(), events.clone(), gate.clone());
    let (lambda, clock, dir) = crate::testing::lambda(&rt, 20);
    crate::testing::create_function(&lambda, "f", ROLE).await;
    let region = lambda.region().clone();
    let kinesis = Kinesis::in_memory(
        KinesisConfig::new(&region.region, &region.account_id),
        clock.clone(),
    )
    .unwrap();
    kinesis
        .create_stream(CreateStreamInput {
            stream_name: Some("s".into()),
            shard_count: Some(1),
            ..Default::default()
        })
        .unwrap();
    clock.advance(1_000);
    let sqs = Sqs::in_memory(region, clock.clone()).unwrap();
    let req = hako_sqs::wire::CreateQueueRequest {
        queue_name: Some("failures".into()),
        ..Default::default()
    };
    let caller = hako_sqs::Caller {
        endpoint: "http://127.0.0.1:9",
        sender_id: "test",
    };
    sqs.create_queue(req, &caller).unwrap();
    let deps = StreamDeps {
        lambda,
        source: StreamSource::Local(kinesis.clone()),
        sqs: Some(sqs),
        store: Arc::new(StreamStore::in_memory().unwrap()),
        config: StreamConfig {
            retry_delay: Duration::from_millis(1),
            retry_delay_max: Duration::from_millis(2),
            unavailable_delay: Duration::from_millis(5),
            record_age_scale: 1.0,
        },
    };
    (
        Fixture {
            deps,
            kinesis,
            clock,
            seen,
            events,
            _dir: dir,
        },
        gate,
    )
}

fn settings() -> StreamSettings {
    StreamSettings {
        uuid: "m1".into(),
        mapping_arn: "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:m1".into(),
        function_name: "f".into(),
        qualifier: None,
        stream_arn: STREAM.into(),
        starting_position: StartingPosition::TrimHorizon,
        batch_size: 100,
        maximum_batching_window: Duration::ZERO,
        parallelization_factor: 1,
        maximum_retry_attempts: -1,
        maximum_record_age_seconds: -1,
        bisect_batch_on_function_error: false,
        report_batch_item_failures: false,
        tumbling_window_seconds: 0,
        on_failure: Some(DEST.into()),
        filter_patterns: Vec::new(),
    }
}

fn put(f: &Fixture, key: &str, data: &str) -> String {
    f.kinesis
        .put_record(PutRecordInput {
            stream: StreamRef {
                stream_name: Some("s".into()),
                stream_arn: None,
            },
            data: Some(Blob(data.as_bytes().to_vec())),
            partition_key: Some(key.into()),
            explicit_hash_key: None,
            sequence_number_for_ordering: None,
        })
        .unwrap()
        .sequence_number
}

struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    status: Arc<StreamStatus>,
}

fn start(f: &Fixture, s: StreamSettings) -> Running {
    let cancel = CancellationToken::new();
    let status = Arc::new(StreamStatus::default());
    let task = tokio::spawn(run(f.deps.clone(), s, status.clone(), cancel.clone()));
    Running {
        cancel,
        task,
        status,
    }
}

async fn stop(r: Running) {
    r.cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), r.task)
        .await
        .expect("the poller stops when cancelled")
        .unwrap();
}

fn seen(f: &Fixture) -> Vec<Vec<String>> {
    f.seen.lock().clone()
}

fn flat(f: &Fixture) -> Vec<String> {
    seen(f).into_iter().flatten().collect()
}

async fn failure_records(f: &Fixture) -> Vec<Value> {
    let req = hako_sqs::wire::ReceiveMessageRequest {
        queue_url: Some("http://127.0.0.1:9/123456789012/failures".into()),
        max_number_of_messages: Some(10),
        wait_time_seconds: Some(0),
        ..Default::default()
    };
    let sqs = f.deps.sqs.as_ref().unwrap();
    sqs.receive(req)
        .await
        .unwrap()
        .messages
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Records reach the function in order, in batches of at most BatchSize, in the Kinesis
/// event's shape (the developer guide's example event and LocalStack's AWS-recorded
/// `test_create_kinesis_event_source_mapping`), and the checkpoint ends at the last one.
#[tokio::test]
async fn records_arrive_in_order_in_aws_shape_and_are_checkpointed() {
    let (f, _) = fixture().await;
    let mut seqs = Vec::new();
    for d in ["a", "b", "c", "d", "e"] {
        seqs.push(put(&f, "k", d));
        f.clock.advance(7);
    }
    let s = StreamSettings {
        batch_size: 2,
        ..settings()
    };
    let r = start(&f, s);
    eventually("three batches", || seen(&f).len() == 3).await;
    assert_eq!(
        seen(&f),
        vec![strings(&["a", "b"]), strings(&["c", "d"]), strings(&["e"])]
    );
    let ev = f.events.lock()[0].clone();
    let rec = &ev["Records"][0];
    assert_eq!(ev.as_object().unwrap().len(), 1, "only Records: {ev}");
    assert_eq!(rec["eventSource"], "aws:kinesis");
    assert_eq!(rec["eventVersion"], "1.0");
    assert_eq!(rec["eventName"], "aws:kinesis:record");
    assert_eq!(rec["eventID"], format!("shardId-000000000000:{}", seqs[0]));
    assert_eq!(rec["invokeIdentityArn"], ROLE);
    assert_eq!(rec["awsRegion"], "us-east-1");
    assert_eq!(rec["eventSourceARN"], STREAM);
    let k = &rec["kinesis"];
    assert_eq!(k["kinesisSchemaVersion"], "1.0");
    assert_eq!(k["partitionKey"], "k");
    assert_eq!(k["sequenceNumber"], seqs[0].as_str());
    assert_eq!(k["data"], "YQ==");
    assert_eq!(
        k["approximateArrivalTimestamp"].as_f64().unwrap(),
        (T0 + 1_000) as f64 / 1000.0
    );
    assert_eq!(
        ev["Records"][1]["kinesis"]["approximateArrivalTimestamp"].to_string(),
        "1700000001.007"
    );
    eventually("checkpoint at the last record", || {
        f.deps
            .store
            .checkpoint("m1", "shardId-000000000000")
            .unwrap()
            == Checkpoint::After(Some(seqs[4].clone()))
    })
    .await;
    assert_eq!(r.status.last_processing_result(), result::OK);
    assert_eq!(
        r.status.polled.load(std::sync::atomic::Ordering::Relaxed),
        5
    );
    // An idle stream: a record put later reaches the function without any timer.
    put(&f, "k", "f");
    eventually("the new record", || flat(&f).len() == 6).await;
    stop(r).await;
}

/// LATEST starts after the records already in the shard; AT_TIMESTAMP at the first record
/// that arrived at or after the time.
#[tokio::test]
async fn starting_positions() {
    let (f, _) = fixture().await;
    put(&f, "k", "old");
    f.clock.advance(1_000);
    let at = f.clock.now_ms();
    put(&f, "k", "at");
    let r = start(
        &f,
        StreamSettings {
            uuid: "latest".into(),
            starting_position: StartingPosition::Latest,
            ..settings()
        },
    );
    eventually("latest's position committed", || {
        f.deps
            .store
            .checkpoint("latest", "shardId-000000000000")
            .unwrap()
            != Checkpoint::None
    })
    .await;
    put(&f, "k", "new");
    eventually("the new record", || !seen(&f).is_empty()).await;
    assert_eq!(seen(&f), vec![strings(&["new"])]);
    stop(r).await;
    f.seen.lock().clear();
    let r = start(
        &f,
        StreamSettings {
            uuid: "at".into(),
            starting_position: StartingPosition::AtTimestamp(at),
            ..settings()
        },
    );
    eventually("from the record at the time", || flat(&f).len() == 2).await;
    assert_eq!(flat(&f), strings(&["at", "new"]));
    stop(r).await;
}

/// A failing batch blocks its shard and is retried MaximumRetryAttempts times; then its
/// invocation record (LocalStack's AWS-recorded
/// `test_kinesis_event_source_mapping_with_on_failure_destination_config`: RetryAttemptsExhausted,
/// approximateInvokeCount 2 with one retry, responseContext with functionError Unhandled)
/// reaches the OnFailure queue and the shard moves on.
#[tokio::test]
async fn retries_run_out_then_the_record_goes_to_the_on_failure_queue() {
    let (f, _) = fixture().await;
    let first = put(&f, "k", "fail");
    put(&f, "k", "after");
    let r = start(
        &f,
        StreamSettings {
            batch_size: 1,
            maximum_retry_attempts: 1,
            ..settings()
        },
    );
    eventually("the next record", || {
        flat(&f).contains(&"after".to_string())
    })
    .await;
    assert_eq!(flat(&f), strings(&["fail", "fail", "after"]));
    let recs = failure_records(&f).await;
    assert_eq!(recs.len(), 1);
    let rec = &recs[0];
    assert_eq!(rec["version"], "1.0");
    assert_eq!(rec["timestamp"].as_str().unwrap().len(), 24, "{rec}");
    let rc = &rec["requestContext"];
    assert_eq!(rc["condition"], "RetryAttemptsExhausted");
    assert_eq!(rc["approximateInvokeCount"], 2);
    assert_eq!(
        rc["functionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:f"
    );
    assert!(rc["requestId"].as_str().unwrap().len() == 36);
    let resp = &rec["responseContext"];
    assert_eq!(resp["statusCode"], 200);
    assert_eq!(resp["executedVersion"], "$LATEST");
    assert_eq!(resp["functionError"], "Unhandled");
    let info = &rec["KinesisBatchInfo"];
    assert_eq!(info["shardId"], "shardId-000000000000");
    assert_eq!(info["startSequenceNumber"], first.as_str());
    assert_eq!(info["endSequenceNumber"], first.as_str());
    assert_eq!(info["batchSize"], 1);
    assert_eq!(info["streamArn"], STREAM);
    assert_eq!(
        info["approximateArrivalOfFirstRecord"],
        "2023-11-14T22:13:21.000Z"
    );
    assert_eq!(
        info["approximateArrivalOfLastRecord"],
        "2023-11-14T22:13:21.000Z"
    );
    assert_eq!(
        r.status
            .on_failure_delivered
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    stop(r).await;
}

/// With infinite retries a batch that fails a few times is retried until it succeeds, and
/// nothing after it goes first.
#[tokio::test]
async fn a_failing_batch_blocks_its_shard_until_it_succeeds() {
    let (f, _) = fixture().await;
    put(&f, "k", "fail-3");
    put(&f, "k", "after");
    let r = start(
        &f,
        StreamSettings {
            batch_size: 1,
            ..settings()
        },
    );
    eventually("the next record", || {
        flat(&f).contains(&"after".to_string())
    })
    .await;
    assert_eq!(
        flat(&f),
        strings(&["fail-3", "fail-3", "fail-3", "fail-3", "after"])
    );
    assert!(failure_records(&f).await.is_empty());
    stop(r).await;
}

/// BisectBatchOnFunctionError halves a failing batch until the failing record is alone; the
/// other records get through, and the lone record goes to the OnFailure queue once its
/// retries are spent (a split spends none).
#[tokio::test]
async fn bisect_isolates_the_failing_record() {
    let (f, _) = fixture().await;
    for d in ["a", "b", "fail", "d"] {
        put(&f, "k", d);
    }
    let r = start(
        &f,
        StreamSettings {
            bisect_batch_on_function_error: true,
            maximum_retry_attempts: 0,
            ..settings()
        },
    );
    eventually("five invocations", || seen(&f).len() == 5).await;
    assert_eq!(
        seen(&f),
        vec![
            strings(&["a", "b", "fail", "d"]),
            strings(&["a", "b"]),
            strings(&["fail", "d"]),
            strings(&["fail"]),
            strings(&["d"]),
        ]
    );
    let recs = failure_records(&f).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["KinesisBatchInfo"]["batchSize"], 1);
    assert_eq!(recs[0]["requestContext"]["approximateInvokeCount"], 3);
    stop(r).await;
}

/// ReportBatchItemFailures: the batch is checkpointed before the lowest failed sequence
/// number and only the records from it on are retried.
#[tokio::test]
async fn a_partial_batch_response_retries_from_the_first_failed_record() {
    let (f, _) = fixture().await;
    for d in ["a", "partial-b", "c"] {
        put(&f, "k", d);
    }
    let r = start(
        &f,
        StreamSettings {
            report_batch_item_failures: true,
            ..settings()
        },
    );
    eventually("the retry", || seen(&f).len() == 2).await;
    assert_eq!(
        seen(&f),
        vec![
            strings(&["a", "partial-b", "c"]),
            strings(&["partial-b", "c"])
        ]
    );
    stop(r).await;
}

/// Without ReportBatchItemFailures the same response is a success.
#[tokio::test]
async fn a_partial_batch_response_is_ignored_unless_asked_for() {
    let (f, _) = fixture().await;
    for d in ["a", "partial-b", "c"] {
        put(&f, "k", d);
    }
    let r = start(&f, settings());
    eventually("one batch", || seen(&f).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(seen(&f).len(), 1);
    stop(r).await;
}

/// A record that every response reports as failed runs out of retries: the invocation record
/// of the remaining records says functionError null (LocalStack's AWS-recorded
/// `test_kinesis_report_batch_item_failures`: approximateInvokeCount 4 with 3 retries).
#[tokio::test]
async fn a_record_failing_by_partial_responses_runs_out_of_retries() {
    let (f, _) = fixture().await;
    put(&f, "k", "a");
    let failing = put(&f, "k", "always-partial");
    put(&f, "k", "after");
    let r = start(
        &f,
        StreamSettings {
            batch_size: 2,
            report_batch_item_failures: true,
            maximum_retry_attempts: 3,
            ..settings()
        },
    );
    eventually("the next record", || {
        flat(&f).contains(&"after".to_string())
    })
    .await;
    assert_eq!(
        seen(&f),
        vec![
            strings(&["a", "always-partial"]),
            strings(&["always-partial"]),
            strings(&["always-partial"]),
            strings(&["always-partial"]),
            strings(&["after"]),
        ]
    );
    let recs = failure_records(&f).await;
    assert_eq!(recs.len(), 1);
    let rec = &recs[0];
    assert_eq!(rec["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(rec["requestContext"]["approximateInvokeCount"], 4);
    assert_eq!(rec["responseContext"]["functionError"], Value::Null);
    assert!(rec["responseContext"].get("functionError").is_some());
    assert_eq!(
        rec["KinesisBatchInfo"]["startSequenceNumber"],
        failing.as_str()
    );
    assert_eq!(rec["KinesisBatchInfo"]["batchSize"], 1);
    stop(r).await;
}

/// Records older than MaximumRecordAgeInSeconds are not handed to the function: their
/// invocation record says RecordAgeExceeded, without a responseContext (LocalStack's
/// AWS-recorded `test_kinesis_maximum_record_age_exceeded[expire-before-ingestion]`:
/// approximateInvokeCount 1), and the younger records of the batch are delivered.
#[tokio::test]
async fn records_too_old_are_discarded_to_the_on_failure_queue() {
    let (f, _) = fixture().await;
    let old = put(&f, "k", "old");
    f.clock.advance(61_000);
    put(&f, "k", "young");
    let r = start(
        &f,
        StreamSettings {
            maximum_record_age_seconds: 60,
            ..settings()
        },
    );
    eventually("the young record", || !seen(&f).is_empty()).await;
    assert_eq!(seen(&f), vec![strings(&["young"])]);
    let recs = failure_records(&f).await;
    assert_eq!(recs.len(), 1);
    let rec = &recs[0];
    assert_eq!(rec["requestContext"]["condition"], "RecordAgeExceeded");
    assert_eq!(rec["requestContext"]["approximateInvokeCount"], 1);
    assert!(rec.get("responseContext").is_none(), "{rec}");
    assert_eq!(rec["KinesisBatchInfo"]["startSequenceNumber"], old.as_str());
    stop(r).await;
}

/// A record that keeps failing is given up on once it is older than the maximum age, even
/// with infinite retries.
#[tokio::test]
async fn a_record_failing_forever_expires() {
    let (f, _) = fixture().await;
    put(&f, "k", "fail");
    f.clock.advance(30_000);
    put(&f, "k", "after");
    let r = start(
        &f,
        StreamSettings {
            batch_size: 1,
            maximum_record_age_seconds: 60,
            ..settings()
        },
    );
    eventually("a few tries", || flat(&f).len() >= 3).await;
    f.clock.advance(31_000);
    eventually("the next record", || {
        flat(&f).contains(&"after".to_string())
    })
    .await;
    let recs = failure_records(&f).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["requestContext"]["condition"], "RecordAgeExceeded");
    assert!(
        recs[0]["requestContext"]["approximateInvokeCount"]
            .as_u64()
            .unwrap()
            >= 3
    );
    stop(r).await;
}

/// A poller that dies while its function runs a batch (its task dropped mid-invocation, as
/// Hako killed mid-delivery: the settlement never runs) delivers that batch again when it
/// starts over, and nothing before it, in order.
#[tokio::test]
async fn a_restart_resumes_from_the_checkpoint() {
    let (f, gate) = fixture().await;
    put(&f, "k", "a");
    put(&f, "k", "b");
    let s = StreamSettings {
        batch_size: 1,
        ..settings()
    };
    let r = start(&f, s.clone());
    eventually("both", || flat(&f).len() == 2).await;
    put(&f, "k", "slow");
    eventually("slow in flight", || flat(&f).len() == 3).await;
    r.task.abort();
    let _ = r.task.await;
    let r = start(&f, s.clone());
    put(&f, "k", "c");
    eventually("c", || flat(&f).contains(&"c".to_string())).await;
    assert_eq!(flat(&f), strings(&["a", "b", "slow", "slow", "c"]));
    stop(r).await;
    gate.notify_one();
}

/// A mapping stopped (disabled) while its function runs a batch waits for it and checkpoints
/// it: started again, it goes on after it.
#[tokio::test]
async fn a_stop_settles_the_batch_in_flight() {
    let (f, gate) = fixture().await;
    put(&f, "k", "slow");
    let r = start(&f, settings());
    eventually("slow in flight", || flat(&f).len() == 1).await;
    r.cancel.cancel();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!r.task.is_finished(), "waits for the batch in flight");
    gate.notify_one();
    tokio::time::timeout(Duration::from_secs(5), r.task)
        .await
        .unwrap()
        .unwrap();
    let r = start(&f, settings());
    put(&f, "k", "next");
    eventually("next", || flat(&f).len() == 2).await;
    assert_eq!(flat(&f), strings(&["slow", "next"]));
    stop(r).await;
}

/// FilterCriteria: records whose data (base64-decoded JSON) matches no pattern never reach
/// the function, and the checkpoint moves past them (the developer guide,
/// "Using event filtering with a Kinesis event source").
#[tokio::test]
async fn records_the_filter_drops_are_skipped_and_checkpointed() {
    let (f, _) = fixture().await;
    put(&f, "k", "{\"kind\":\"keep\",\"n\":1}");
    put(&f, "k", "{\"kind\":\"drop\",\"n\":2}");
    put(&f, "k", "not json");
    let last = put(&f, "k", "{\"kind\":\"drop\",\"n\":4}");
    let r = start(
        &f,
        StreamSettings {
            filter_patterns: vec!["{\"data\":{\"kind\":[\"keep\"]}}".into()],
            ..settings()
        },
    );
    eventually("checkpoint at the last record", || {
        f.deps
            .store
            .checkpoint("m1", "shardId-000000000000")
            .unwrap()
            == Checkpoint::After(Some(last.clone()))
    })
    .await;
    assert_eq!(flat(&f), strings(&["{\"kind\":\"keep\",\"n\":1}"]));
    assert_eq!(
        r.status
            .filtered_out
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    stop(r).await;
}

/// With a ParallelizationFactor, batches of different keys run at once but each key's records
/// keep their order.
#[tokio::test]
async fn parallelization_keeps_order_per_partition_key() {
    let (f, _) = fixture().await;
    for i in 0..30 {
        put(&f, &format!("key{}", i % 5), &format!("key{}-{i}", i % 5));
    }
    let r = start(
        &f,
        StreamSettings {
            batch_size: 2,
            parallelization_factor: 4,
            ..settings()
        },
    );
    eventually("all", || flat(&f).len() == 30).await;
    let all = flat(&f);
    for k in 0..5 {
        let mine: Vec<&String> = all
            .iter()
            .filter(|d| d.starts_with(&format!("key{k}-")))
            .collect();
        let expect: Vec<String> = (0..30)
            .filter(|i| i % 5 == k)
            .map(|i| format!("key{k}-{i}"))
            .collect();
        assert_eq!(mine.into_iter().cloned().collect::<Vec<_>>(), expect);
    }
    let last = f
        .kinesis
        .latest_sequence_number(STREAM, "shardId-000000000000")
        .unwrap();
    eventually("checkpoint at the end", || {
        f.deps
            .store
            .checkpoint("m1", "shardId-000000000000")
            .unwrap()
            == Checkpoint::After(last.clone())
    })
    .await;
    stop(r).await;
}

/// With a ParallelizationFactor a failing batch blocks only its lane: records of keys in
/// other lanes keep flowing meanwhile.
#[tokio::test]
async fn a_failing_lane_does_not_block_the_others() {
    let (f, gate) = fixture().await;
    let key_a = "a".to_string();
    let lane_a = super::shard::lane_of(&key_a, 2);
    let key_b = (0..100)
        .map(|i| format!("b{i}"))
        .find(|k| super::shard::lane_of(k, 2) != lane_a)
        .unwrap();
    put(&f, &key_a, "slow");
    put(&f, &key_a, "a-after");
    put(&f, &key_b, "b1");
    put(&f, &key_b, "b2");
    let r = start(
        &f,
        StreamSettings {
            batch_size: 1,
            parallelization_factor: 2,
            ..settings()
        },
    );
    eventually("b's records while a's lane is held", || {
        let all = flat(&f);
        all.contains(&"b2".to_string()) && all.contains(&"slow".to_string())
    })
    .await;
    assert!(!flat(&f).contains(&"a-after".to_string()), "a's lane waits");
    // The checkpoint stays before the held record until it is done.
    assert_eq!(
        f.deps
            .store
            .checkpoint("m1", "shardId-000000000000")
            .unwrap(),
        Checkpoint::After(None)
    );
    gate.notify_one();
    eventually("a-after", || flat(&f).contains(&"a-after".to_string())).await;
    let last = f
        .kinesis
        .latest_sequence_number(STREAM, "shardId-000000000000")
        .unwrap();
    eventually("checkpoint at the end", || {
        f.deps
            .store
            .checkpoint("m1", "shardId-000000000000")
            .unwrap()
            == Checkpoint::After(last.clone())
    })
    .await;
    stop(r).await;
}

/// A window whose end passes with no new record is closed by a final invocation on time.
#[tokio::test]
async fn a_tumbling_window_ends_on_time_without_new_records() {
    let (f, _) = fixture().await;
    // 150 ms (of the virtual clock, which the lane's timer measures in real time) before the
    // end of a 60-second window.
    let end = (f.clock.now_ms() / 60_000 + 1) * 60_000;
    f.clock.set(end - 150);
    put(&f, "k", "a");
    let r = start(
        &f,
        StreamSettings {
            tumbling_window_seconds: 60,
            ..settings()
        },
    );
    eventually("the final invocation", || f.events.lock().len() == 2).await;
    let evs = f.events.lock().clone();
    assert_eq!(evs[1]["isFinalInvokeForWindow"], true);
    assert_eq!(evs[1]["state"], serde_json::json!({"count": 1}));
    eventually("the window's state gone", || {
        f.deps
            .store
            .window("m1", "shardId-000000000000", 0)
            .unwrap()
            .is_none()
    })
    .await;
    stop(r).await;
}

/// Tumbling windows: the state the function returns comes back in the next invocation of the
/// same window; a record of a later window closes the window with a final invocation (no
/// records, isFinalInvokeForWindow) and the next window starts with an empty state.
#[tokio::test]
async fn tumbling_windows_carry_state_and_end_with_a_final_invocation() {
    let (f, _) = fixture().await;
    // T0 + 1 s (22:13:21) is inside the window [22:13:00, 22:14:00) of 60-second windows.
    put(&f, "k", "a");
    put(&f, "k", "b");
    let r = start(
        &f,
        StreamSettings {
            batch_size: 1,
            tumbling_window_seconds: 60,
            ..settings()
        },
    );
    eventually("two", || f.events.lock().len() == 2).await;
    f.clock.advance(60_000);
    put(&f, "k", "c");
    eventually("final and c", || f.events.lock().len() == 4).await;
    let evs = f.events.lock().clone();
    assert_eq!(evs[0]["state"], serde_json::json!({}));
    assert_eq!(evs[0]["isFinalInvokeForWindow"], false);
    assert_eq!(evs[0]["isWindowTerminatedEarly"], false);
    assert_eq!(evs[0]["shardId"], "shardId-000000000000");
    assert_eq!(evs[0]["eventSourceARN"], STREAM);
    assert_eq!(evs[0]["window"]["start"], "2023-11-14T22:13:00Z");
    assert_eq!(evs[0]["window"]["end"], "2023-11-14T22:14:00Z");
    assert_eq!(evs[1]["state"], serde_json::json!({"count": 1}));
    assert_eq!(evs[2]["isFinalInvokeForWindow"], true);
    assert_eq!(evs[2]["Records"], serde_json::json!([]));
    assert_eq!(evs[2]["state"], serde_json::json!({"count": 2}));
    assert_eq!(evs[3]["state"], serde_json::json!({}));
    assert_eq!(evs[3]["window"]["start"], "2023-11-14T22:14:00Z");
    stop(r).await;
}

/// A window state past 1 MB ends the window early: an invocation with isWindowTerminatedEarly
/// and that state, then the same window goes on with a fresh state.
#[tokio::test]
async fn a_window_state_past_1_mb_terminates_the_window_early() {
    let (f, _) = fixture().await;
    put(&f, "k", "big");
    put(&f, "k", "a");
    let r = start(
        &f,
        StreamSettings {
            batch_size: 1,
            tumbling_window_seconds: 60,
            ..settings()
        },
    );
    eventually("three invocations", || f.events.lock().len() == 3).await;
    let evs = f.events.lock().clone();
    assert_eq!(evs[1]["isWindowTerminatedEarly"], true);
    assert_eq!(evs[1]["isFinalInvokeForWindow"], false);
    assert_eq!(evs[1]["Records"], serde_json::json!([]));
    assert_eq!(evs[1]["state"]["count"], 1);
    assert_eq!(evs[2]["state"], serde_json::json!({}));
    assert_eq!(
        evs[2]["window"], evs[0]["window"],
        "the same window goes on"
    );
    stop(r).await;
}

mod responses {
    use super::super::event::{batch_item_failures, window_state, Response};
    use hako_kinesis::ShardRecord;

    fn batch() -> Vec<ShardRecord> {
        ["1", "2", "3"]
            .iter()
            .map(|s| ShardRecord {
                sequence_number: s.to_string(),
                arrival_ms: 0,
                partition_key: "k".into(),
                data: Vec::new(),
            })
            .collect()
    }

    /// The developer guide's success and failure conditions, and LocalStack's AWS-recorded
    /// `test_kinesis_report_batch_item_success_scenarios` / `..._failure_scenarios`.
    #[test]
    fn success_and_failure_conditions() {
        let b = batch();
        for ok in [
            "",
            "\"\"",
            "[]",
            "null",
            "{}",
            "{\"batchItemFailures\":[]}",
            "{\"batchItemFailures\":null}",
        ] {
            assert_eq!(
                batch_item_failures(ok.as_bytes(), &b),
                Response::Success,
                "{ok}"
            );
        }
        for bad in [
            "{\"batchItemFailures\":[{\"itemIdentifier\":123}]}",
            "{\"batchItemFailures\":[{\"itemIdentifier\":\"\"}]}",
            "{\"batchItemFailures\":[{\"itemIdentifier\":null}]}",
            "{\"batchItemFailures\":[{\"foo\":123}]}",
            "{\"batchItemFailures\":[{\"foo\":null}]}",
            "{\"batchItemFailures\":[{\"itemIdentifier\":\"9\"}]}",
            "not json",
        ] {
            assert_eq!(
                batch_item_failures(bad.as_bytes(), &b),
                Response::Invalid,
                "{bad}"
            );
        }
        let two = "{\"batchItemFailures\":[{\"itemIdentifier\":\"3\"},{\"itemIdentifier\":\"2\"}]}";
        assert_eq!(
            batch_item_failures(two.as_bytes(), &b),
            Response::FailedFrom(1)
        );
    }

    #[test]
    fn a_window_response_needs_a_state() {
        assert_eq!(
            window_state(b"{\"state\":{\"a\":1}}").as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(window_state(b"{\"batchItemFailures\":[]}"), None);
        assert_eq!(window_state(b"null"), None);
    }
}
