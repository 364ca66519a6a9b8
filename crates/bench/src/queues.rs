//! The queue and stream modes: SQS and Kinesis over their JSON protocols,
//! against any endpoint that speaks them (Hako, moto's server, AWS itself).
//!
//! Each run creates its own queue or stream (waiting for `ACTIVE`), measures,
//! and deletes it. Workers are closed loops on one keep-alive connection each,
//! as in the Lambda modes:
//! - `sqs-send`: one `SendMessage` per iteration; latency per call.
//! - `sqs-cycle`: `SendMessageBatch` (`--batch` entries), `ReceiveMessage`
//!   (up to `--batch`, short poll) and `DeleteMessageBatch` of what came back;
//!   items are the messages deleted, latency is the whole cycle's.
//! - `kinesis-put`: one `PutRecords` of `--batch` records per iteration, each
//!   record `--payload-bytes` of data under its own partition key; items are
//!   the records stored.
//! - `sqs-longpoll`: one receiver parked in `ReceiveMessage` with
//!   `WaitTimeSeconds=20` on its own connection, one sender sending a message
//!   every `--gap-ms` once the previous one arrived; latency is from the start
//!   of the `SendMessage` to the receiver having the whole answer (the send's
//!   own round trip, and the time from its acknowledgement to the receive,
//!   are reported beside it).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::aws::{parse, CallError, JsonApi, Prepared};
use crate::client::Conn;
use crate::load::{join_workers, ErrorCounts, WorkerOutcome};

/// How long the long-polling receiver waits per call (AWS's maximum).
pub(crate) const LONG_POLL_SECONDS: u64 = 20;
/// Bound on one long-poll sample: past it the message counts as lost.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed connect so a dead endpoint doesn't spin a core.
const CONNECT_BACKOFF: Duration = Duration::from_millis(50);
/// Pause between two DescribeStreamSummary calls while a stream is created.
const STATUS_POLL: Duration = Duration::from_millis(20);

/// What one queue or stream run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    SqsSend,
    SqsCycle,
    SqsLongpoll,
    KinesisPut,
}

/// One run's parameters.
pub(crate) struct QueueSpec {
    pub(crate) workload: Workload,
    pub(crate) api: JsonApi,
    /// Queue or stream name, unique per run.
    pub(crate) name: String,
    pub(crate) concurrency: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// Message body or record data.
    pub(crate) payload: Vec<u8>,
    /// Entries per batch call (sqs-cycle, kinesis-put).
    pub(crate) batch: usize,
    /// Shards of the stream (kinesis-put).
    pub(crate) shards: u32,
    /// sqs-longpoll: pause between one message's arrival and the next send.
    pub(crate) gap: Duration,
    /// Bound on creating the queue or stream (and waiting for ACTIVE).
    pub(crate) setup_timeout: Duration,
}

/// What a run measured.
#[derive(Debug, Default)]
pub(crate) struct QueueOutcome {
    /// Successful iterations' latencies (sqs-longpoll: send start to
    /// receive), µs, ascending.
    pub(crate) latencies_us: Vec<u64>,
    /// sqs-longpoll: the SendMessage round trips, µs, ascending.
    pub(crate) send_latencies_us: Vec<u64>,
    /// sqs-longpoll: from the send's acknowledgement to the receiver having
    /// the message (0 when it arrived first), µs, ascending.
    pub(crate) ack_to_receive_us: Vec<u64>,
    /// Iterations (samples) counted, successful or not.
    pub(crate) requests: u64,
    /// Messages or records completed in the window.
    pub(crate) items: u64,
    pub(crate) errors: ErrorCounts,
    pub(crate) measured: Duration,
    /// The queue URL or stream name used.
    pub(crate) resource: String,
}

#[derive(Deserialize)]
struct CreateQueueOut {
    #[serde(rename = "QueueUrl")]
    queue_url: String,
}

#[derive(Deserialize)]
struct SendOut {
    #[serde(rename = "MessageId")]
    _message_id: String,
}

#[derive(Deserialize)]
struct BatchOut {
    #[serde(rename = "Successful", default)]
    successful: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "Failed", default)]
    failed: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "ReceiptHandle")]
    receipt_handle: String,
    #[serde(rename = "Body", default)]
    body: String,
}

#[derive(Deserialize)]
struct ReceiveOut {
    #[serde(rename = "Messages", default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct PutRecordsOut {
    #[serde(rename = "FailedRecordCount", default)]
    failed: u64,
    #[serde(rename = "Records")]
    records: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct PutRecordsFailures {
    #[serde(rename = "Records")]
    records: Vec<PutRecordsEntry>,
}

#[derive(Deserialize)]
struct PutRecordsEntry {
    #[serde(rename = "ErrorCode")]
    error_code: Option<String>,
    #[serde(rename = "ErrorMessage")]
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct DescribeStreamSummaryOut {
    #[serde(rename = "StreamDescriptionSummary")]
    summary: StreamSummary,
}

#[derive(Deserialize)]
struct StreamSummary {
    #[serde(rename = "StreamStatus")]
    status: String,
}

/// `SendMessageBatch` / `DeleteMessageBatch` answers with entries in `Failed`
/// are failures (the first one named).
fn check_batch(operation: &str, body: &[u8], expected: usize) -> Result<u64, CallError> {
    let out: BatchOut = parse(operation, body)?;
    if let Some(f) = out.failed.first() {
        return Err(CallError::Answer(format!(
            "{operation}: {} of {expected} entries failed, first {f}",
            out.failed.len()
        )));
    }
    if out.successful.len() != expected {
        return Err(CallError::Answer(format!(
            "{operation}: {} entries successful, {expected} sent",
            out.successful.len()
        )));
    }
    Ok(out.successful.len() as u64)
}

fn check_put_records(body: &[u8], expected: usize) -> Result<u64, CallError> {
    let out: PutRecordsOut = parse("PutRecords", body)?;
    if out.failed > 0 {
        let first = parse::<PutRecordsFailures>("PutRecords", body)
            .ok()
            .and_then(|f| {
                f.records.into_iter().find_map(|r| {
                    r.error_code
                        .map(|c| format!("{c}: {}", r.error_message.unwrap_or_default()))
                })
            })
            .unwrap_or_default();
        return Err(CallError::Answer(format!(
            "PutRecords: {} of {expected} records failed, first {first}",
            out.failed
        )));
    }
    if out.records.len() != expected {
        return Err(CallError::Answer(format!(
            "PutRecords: {} results for {expected} records",
            out.records.len()
        )));
    }
    Ok(expected as u64)
}

/// The prepared requests of a closed-loop workload.
enum Loop {
    Send {
        send: Prepared,
    },
    Cycle {
        queue_url: String,
        send_batch: Prepared,
        receive: Prepared,
        batch: usize,
    },
    Put {
        put: Prepared,
        batch: usize,
    },
}

impl Loop {
    /// One iteration; the number of items it completed.
    async fn iterate(&self, api: &JsonApi, conn: &mut Option<Conn>) -> Result<u64, CallError> {
        match self {
            Loop::Send { send } => {
                let body = api.send(conn, send).await?;
                parse::<SendOut>("SendMessage", &body)?;
                Ok(1)
            }
            Loop::Cycle {
                queue_url,
                send_batch,
                receive,
                batch,
            } => {
                let body = api.send(conn, send_batch).await?;
                check_batch("SendMessageBatch", &body, *batch)?;
                let body = api.send(conn, receive).await?;
                let got: ReceiveOut = parse("ReceiveMessage", &body)?;
                if got.messages.is_empty() {
                    return Ok(0);
                }
                let delete = delete_batch(api, queue_url, &got.messages);
                let body = api.send(conn, &delete).await?;
                check_batch("DeleteMessageBatch", &body, got.messages.len())
            }
            Loop::Put { put, batch } => {
                let body = api.send(conn, put).await?;
                check_put_records(&body, *batch)
            }
        }
    }
}

fn delete_batch(api: &JsonApi, queue_url: &str, messages: &[Message]) -> Prepared {
    let entries: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"Id": i.to_string(), "ReceiptHandle": m.receipt_handle}))
        .collect();
    api.prepare(
        "DeleteMessageBatch",
        &json!({"QueueUrl": queue_url, "Entries": entries}),
    )
}

fn payload_str(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// Runs one queue or stream workload: creates the resource, measures,
/// deletes it.
pub(crate) async fn run(spec: QueueSpec) -> Result<QueueOutcome> {
    let spec = Arc::new(spec);
    let mut conn = None;
    let setup = tokio::time::timeout(spec.setup_timeout, create(&spec, &mut conn));
    let resource = setup
        .await
        .with_context(|| format!("creating {:?} timed out", spec.name))??;
    let outcome = match spec.workload {
        Workload::SqsLongpoll => longpoll(Arc::clone(&spec), resource.clone()).await,
        Workload::SqsSend | Workload::SqsCycle | Workload::KinesisPut => {
            let work = Arc::new(prepare_loop(&spec, &resource));
            drive(Arc::clone(&spec), work).await
        }
    };
    // Best effort: a leftover queue or stream costs nothing but disk.
    if let Err(e) = delete(&spec, &mut conn, &resource).await {
        eprintln!("hako-bench: warning: deleting {resource}: {e}");
    }
    Ok(QueueOutcome {
        resource,
        ..outcome
    })
}

/// Creates the queue (its URL) or the stream (its name, once ACTIVE).
async fn create(spec: &QueueSpec, conn: &mut Option<Conn>) -> Result<String> {
    let api = &spec.api;
    match spec.workload {
        Workload::SqsSend | Workload::SqsCycle | Workload::SqsLongpoll => {
            let out: CreateQueueOut = api
                .call(conn, "CreateQueue", &json!({"QueueName": spec.name}))
                .await?;
            Ok(out.queue_url)
        }
        Workload::KinesisPut => {
            let _: serde_json::Value = api
                .call(
                    conn,
                    "CreateStream",
                    &json!({"StreamName": spec.name, "ShardCount": spec.shards}),
                )
                .await?;
            loop {
                let out: DescribeStreamSummaryOut = api
                    .call(
                        conn,
                        "DescribeStreamSummary",
                        &json!({"StreamName": spec.name}),
                    )
                    .await?;
                match out.summary.status.as_str() {
                    "ACTIVE" => return Ok(spec.name.clone()),
                    "CREATING" => tokio::time::sleep(STATUS_POLL).await,
                    other => bail!("stream {} is {other}, not CREATING or ACTIVE", spec.name),
                }
            }
        }
    }
}

async fn delete(
    spec: &QueueSpec,
    conn: &mut Option<Conn>,
    resource: &str,
) -> Result<(), CallError> {
    let (operation, body) = match spec.workload {
        Workload::KinesisPut => (
            "DeleteStream",
            json!({"StreamName": resource, "EnforceConsumerDeletion": true}),
        ),
        _ => ("DeleteQueue", json!({"QueueUrl": resource})),
    };
    let p = spec.api.prepare(operation, &body);
    spec.api.send(conn, &p).await.map(drop)
}

fn prepare_loop(spec: &QueueSpec, resource: &str) -> Loop {
    let api = &spec.api;
    match spec.workload {
        Workload::SqsSend | Workload::SqsLongpoll => Loop::Send {
            send: api.prepare(
                "SendMessage",
                &json!({"QueueUrl": resource, "MessageBody": payload_str(&spec.payload)}),
            ),
        },
        Workload::SqsCycle => {
            let body = payload_str(&spec.payload);
            let entries: Vec<_> = (0..spec.batch)
                .map(|i| json!({"Id": i.to_string(), "MessageBody": body}))
                .collect();
            Loop::Cycle {
                queue_url: resource.to_string(),
                send_batch: api.prepare(
                    "SendMessageBatch",
                    &json!({"QueueUrl": resource, "Entries": entries}),
                ),
                receive: api.prepare(
                    "ReceiveMessage",
                    &json!({"QueueUrl": resource, "MaxNumberOfMessages": spec.batch, "WaitTimeSeconds": 0}),
                ),
                batch: spec.batch,
            }
        }
        Workload::KinesisPut => {
            let data = base64::engine::general_purpose::STANDARD.encode(&spec.payload);
            let records: Vec<_> = (0..spec.batch)
                .map(|i| json!({"Data": data, "PartitionKey": format!("pk-{i}")}))
                .collect();
            Loop::Put {
                put: api.prepare(
                    "PutRecords",
                    &json!({"StreamName": resource, "Records": records}),
                ),
                batch: spec.batch,
            }
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The closed loop: `concurrency` workers for warmup + duration.
async fn drive(spec: Arc<QueueSpec>, work: Arc<Loop>) -> QueueOutcome {
    let start = Instant::now();
    let measure_start = start + spec.warmup;
    let end = measure_start + spec.duration;
    let mut set = JoinSet::new();
    for _ in 0..spec.concurrency.max(1) {
        set.spawn(worker(
            Arc::clone(&spec),
            Arc::clone(&work),
            measure_start,
            end,
        ));
    }
    let merged = join_workers(set).await;
    let window_end = merged.last_done.map_or(end, |t| t.max(end));
    QueueOutcome {
        latencies_us: merged.latencies_us,
        requests: merged.requests,
        items: merged.items,
        errors: merged.errors,
        measured: window_end.saturating_duration_since(measure_start),
        ..QueueOutcome::default()
    }
}

/// After a transport failure: a pause, so a dead endpoint doesn't spin a
/// core.
async fn backoff(e: &CallError, end: Instant) {
    if matches!(e, CallError::Transport(_)) {
        let pause = CONNECT_BACKOFF.min(end.saturating_duration_since(Instant::now()));
        tokio::time::sleep(pause).await;
    }
}

async fn worker(
    spec: Arc<QueueSpec>,
    work: Arc<Loop>,
    measure_start: Instant,
    end: Instant,
) -> WorkerOutcome {
    let mut out = WorkerOutcome::default();
    let mut conn: Option<Conn> = None;
    while Instant::now() < end {
        let t0 = Instant::now();
        let res = work.iterate(&spec.api, &mut conn).await;
        let t1 = Instant::now();
        let counted = t0 >= measure_start;
        match res {
            Ok(n) if counted => {
                out.requests += 1;
                out.items += n;
                out.latencies_us.push(micros(t1 - t0));
            }
            Ok(_) => {}
            Err(e) => {
                if counted {
                    out.requests += 1;
                    e.count(&mut out.errors);
                }
                backoff(&e, end).await;
            }
        }
        if counted {
            out.last_done = Some(t1);
        }
    }
    out
}

/// The body of long-poll sample `seq`.
fn longpoll_body(seq: u64) -> String {
    format!("hako-bench-longpoll-{seq}")
}

fn longpoll_seq(body: &str) -> Option<u64> {
    body.strip_prefix("hako-bench-longpoll-")?.parse().ok()
}

/// The receiver: long polls until told to stop, reporting each message's
/// sequence number and arrival time, then deleting it.
async fn receiver(
    spec: Arc<QueueSpec>,
    queue_url: String,
    arrivals: mpsc::UnboundedSender<(u64, Instant)>,
    mut stop: oneshot::Receiver<()>,
) -> (u64, ErrorCounts) {
    let api = &spec.api;
    let receive = api.prepare(
        "ReceiveMessage",
        &json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": LONG_POLL_SECONDS}),
    );
    let mut requests = 0;
    let mut errors = ErrorCounts::default();
    let mut conn: Option<Conn> = None;
    loop {
        let res = tokio::select! {
            _ = &mut stop => break,
            r = api.send(&mut conn, &receive) => r,
        };
        let now = Instant::now();
        let got = res.and_then(|body| parse::<ReceiveOut>("ReceiveMessage", &body));
        let messages = match got {
            Ok(g) => g.messages,
            Err(e) => {
                requests += 1;
                e.count(&mut errors);
                // An endpoint that answers at once with an error must not
                // spin a core.
                tokio::time::sleep(CONNECT_BACKOFF).await;
                continue;
            }
        };
        for m in &messages {
            if let Some(seq) = longpoll_seq(&m.body) {
                let _ = arrivals.send((seq, now));
            }
        }
        if !messages.is_empty() {
            let delete = delete_batch(api, &queue_url, &messages);
            let res = tokio::select! {
                _ = &mut stop => break,
                r = api.send(&mut conn, &delete) => r,
            };
            if let Err(e) = res.and_then(|b| check_batch("DeleteMessageBatch", &b, messages.len()))
            {
                requests += 1;
                e.count(&mut errors);
            }
        }
    }
    (requests, errors)
}

/// sqs-longpoll: one sample every `gap` after the previous one arrived.
async fn longpoll(spec: Arc<QueueSpec>, queue_url: String) -> QueueOutcome {
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let receiver = tokio::spawn(receiver(
        Arc::clone(&spec),
        queue_url.clone(),
        arrivals_tx,
        stop_rx,
    ));
    let api = &spec.api;
    let start = Instant::now();
    let measure_start = start + spec.warmup;
    let end = measure_start + spec.duration;
    let mut out = QueueOutcome::default();
    let mut last_done = None;
    let mut conn: Option<Conn> = None;
    let mut seq = 0u64;
    // The receiver's first ReceiveMessage must be parked before the first
    // send: one gap (at least 50 ms) is ample on loopback.
    tokio::time::sleep(spec.gap.max(Duration::from_millis(50))).await;
    while Instant::now() < end {
        seq += 1;
        let send = api.prepare(
            "SendMessage",
            &json!({"QueueUrl": queue_url, "MessageBody": longpoll_body(seq)}),
        );
        // Arrivals of samples given up on are stale now.
        while arrivals.try_recv().is_ok() {}
        let t0 = Instant::now();
        let sent = api
            .send(&mut conn, &send)
            .await
            .and_then(|b| parse::<SendOut>("SendMessage", &b));
        let t_ack = Instant::now();
        let counted = t0 >= measure_start;
        if let Err(e) = sent {
            if counted {
                out.requests += 1;
                e.count(&mut out.errors);
                last_done = Some(t_ack);
            }
            tokio::time::sleep(spec.gap).await;
            continue;
        }
        let deadline = t0 + SAMPLE_TIMEOUT;
        let arrived = loop {
            match tokio::time::timeout_at(deadline, arrivals.recv()).await {
                Ok(Some((s, t))) if s == seq => break Some(t),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break None,
            }
        };
        if counted {
            out.requests += 1;
            match arrived {
                Some(t) => {
                    out.items += 1;
                    out.latencies_us
                        .push(micros(t.saturating_duration_since(t0)));
                    out.send_latencies_us.push(micros(t_ack - t0));
                    out.ack_to_receive_us
                        .push(micros(t.saturating_duration_since(t_ack)));
                    last_done = Some(t.max(t_ack));
                }
                None => {
                    out.errors.timeout += 1;
                    out.errors.note(|| {
                        format!("the long-polling receiver did not get message {seq} within {SAMPLE_TIMEOUT:?}")
                    });
                    last_done = Some(Instant::now());
                }
            }
        }
        tokio::time::sleep(spec.gap).await;
    }
    let _ = stop_tx.send(());
    match receiver.await {
        Ok((requests, errors)) => {
            out.requests += requests;
            out.errors.merge(errors);
        }
        Err(e) => {
            out.errors.transport += 1;
            out.errors
                .note(|| format!("long-poll receiver failed: {e}"));
        }
    }
    out.latencies_us.sort_unstable();
    out.send_latencies_us.sort_unstable();
    out.ack_to_receive_us.sort_unstable();
    let window_end = last_done.map_or(end, |t: Instant| t.max(end));
    out.measured = window_end.saturating_duration_since(measure_start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers() {
        assert_eq!(
            check_batch("X", br#"{"Successful":[{"Id":"0"},{"Id":"1"}]}"#, 2).expect("ok"),
            2
        );
        let e = check_batch(
            "X",
            br#"{"Successful":[{"Id":"0"}],"Failed":[{"Id":"1","Code":"InternalError","SenderFault":false}]}"#,
            2,
        )
        .expect_err("failed entry");
        assert!(e.to_string().contains("1 of 2 entries failed"), "{e}");
        assert!(e.to_string().contains("InternalError"), "{e}");
        assert!(check_batch("X", br#"{"Successful":[]}"#, 1).is_err());
        assert!(check_batch("X", b"not json", 1).is_err());
    }

    #[test]
    fn put_records_answers() {
        let ok = br#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"SequenceNumber":"2","ShardId":"shardId-000000000001"}]}"#;
        assert_eq!(check_put_records(ok, 2).expect("ok"), 2);
        let failed = br#"{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard"}]}"#;
        let e = check_put_records(failed, 2).expect_err("failed record");
        assert!(
            e.to_string()
                .contains("1 of 2 records failed, first ProvisionedThroughputExceededException: Rate exceeded"),
            "{e}"
        );
        assert!(check_put_records(br#"{"FailedRecordCount":0,"Records":[]}"#, 2).is_err());
    }

    #[test]
    fn longpoll_bodies_round_trip() {
        assert_eq!(longpoll_seq(&longpoll_body(42)), Some(42));
        assert_eq!(longpoll_seq("other"), None);
    }
}
