//! The event source mapping modes (`esm-sqs`, `esm-kinesis`): messages from the send to the
//! function, through the real API only.
//!
//! Each run creates a queue (or a one-shard stream), an event source mapping on it to
//! `--function` (BatchSize 10; a stream from TRIM_HORIZON), waits for it to be `Enabled`, and
//! warms the function with one message. The function must report its handler's start:
//! tests/fixtures/rust-echo with `FIXTURE_REPORT_RECORDS=1` prints
//! `RECORDS {"t_us": <start, µs since the epoch>, "ids": [<bodies or base64 data>]}` per batch,
//! which the bench reads back with CloudWatch Logs' FilterLogEvents.
//!
//! - Latency: `--samples` messages sent one at a time (a `--gap-ms` pause between sends, so each
//!   finds the mapping idle), each body a unique id; latency is from the start of its
//!   SendMessage / PutRecord to the start of the handler invocation that got it (both clocks are
//!   this machine's wall clock).
//! - Throughput: `--concurrency` senders send batches (SendMessageBatch of 10, PutRecords of
//!   `--batch`) for `--duration-seconds`; the rate is the messages sent over the time from the
//!   first send until the mapping has handled them all (the server's
//!   `hako_lambda_esm_deleted_event_count_total` for a queue, `..._invoked_event_count_total`
//!   for a stream, per mapping UUID, on `/metrics`).
//!
//! The mapping, queue or stream are deleted at the end.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use bytes::Bytes;
use hako_sigv4::JsonService;
use http::Method;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::signed::{Answer, SignedClient, SigningIdentity};

/// The mapping's batch size (the benchmark: BatchSize 10).
const BATCH_SIZE: u32 = 10;
/// Bound on waiting for the mapping, the warm-up message and the handled counts.
const WAIT: Duration = Duration::from_secs(60);

/// Which source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Sqs,
    Kinesis,
}

pub(crate) struct EsmSpec {
    pub(crate) source: Source,
    pub(crate) endpoint: String,
    pub(crate) identity: SigningIdentity,
    pub(crate) function: String,
    pub(crate) name: String,
    pub(crate) samples: usize,
    pub(crate) gap: Duration,
    pub(crate) concurrency: usize,
    pub(crate) duration: Duration,
    /// Records per PutRecords (streams).
    pub(crate) put_batch: usize,
    pub(crate) timeout: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct EsmOutcome {
    /// Send → handler start, µs, ascending.
    pub(crate) latencies_us: Vec<u64>,
    /// Latency samples whose handler start was never seen.
    pub(crate) lost: u64,
    /// Messages sent in the throughput phase.
    pub(crate) sent: u64,
    /// From the first send until all were handled.
    pub(crate) handled_in: Duration,
    pub(crate) resource: String,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn ok_json(what: &str, a: Answer) -> Result<Value> {
    if a.status / 100 != 2 {
        bail!(
            "{what}: HTTP {} {}",
            a.status,
            String::from_utf8_lossy(&a.body[..a.body.len().min(300)])
        );
    }
    if a.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&a.body).with_context(|| format!("{what}: the answer is not JSON"))
}

struct Clients {
    c: SignedClient,
    spec_source: Source,
}

impl Clients {
    /// One call of a JSON-protocol service.
    async fn call(&self, service: JsonService, op: &str, body: Value) -> Result<Value> {
        let a = self
            .c
            .json(
                service.signing_name(),
                &format!("{}.{op}", service.target_prefix()),
                service.content_type(),
                Bytes::from(body.to_string()),
            )
            .await?;
        ok_json(op, a)
    }

    async fn sqs(&self, op: &str, body: Value) -> Result<Value> {
        self.call(JsonService::Sqs, op, body).await
    }

    async fn kinesis(&self, op: &str, body: Value) -> Result<Value> {
        self.call(JsonService::Kinesis, op, body).await
    }

    async fn lambda(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let a = self.c.rest("lambda", method, path, body).await?;
        ok_json(path, a)
    }

    /// Sends one message (or record) whose body (data) is `id`.
    async fn send_one(&self, target: &str, id: &str) -> Result<()> {
        match self.spec_source {
            Source::Sqs => {
                self.sqs(
                    "SendMessage",
                    json!({"QueueUrl": target, "MessageBody": id}),
                )
                .await?;
            }
            Source::Kinesis => {
                let data = base64::engine::general_purpose::STANDARD.encode(id);
                self.kinesis(
                    "PutRecord",
                    json!({"StreamName": target, "Data": data, "PartitionKey": id}),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The handled count of mapping `uuid` on `/metrics`.
    async fn handled(&self, uuid: &str) -> Result<u64> {
        let a = self.c.get("lambda", "/metrics").await?;
        let text = String::from_utf8_lossy(&a.body);
        let metric = match self.spec_source {
            Source::Sqs => "hako_lambda_esm_deleted_event_count_total",
            Source::Kinesis => "hako_lambda_esm_invoked_event_count_total",
        };
        let label = format!("event_source_mapping_uuid=\"{uuid}\"");
        Ok(text
            .lines()
            .filter(|l| l.starts_with(metric) && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum())
    }

    /// Handler starts by id, from the function's `RECORDS` lines since `since_ms`.
    async fn handler_starts(
        &self,
        log_group: &str,
        since_ms: u64,
        decode: bool,
    ) -> Result<HashMap<String, u64>> {
        let mut out = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "logGroupName": log_group,
                "filterPattern": "RECORDS",
                "startTime": since_ms,
            });
            if let Some(t) = &token {
                body["nextToken"] = t.clone().into();
            }
            let a = self
                .c
                .json(
                    "logs",
                    "Logs_20140328.FilterLogEvents",
                    "application/x-amz-json-1.1",
                    Bytes::from(body.to_string()),
                )
                .await?;
            if a.status == 400
                && a.body
                    .windows(25)
                    .any(|w| w == b"ResourceNotFoundException")
            {
                return Ok(out);
            }
            let v = ok_json("FilterLogEvents", a)?;
            for e in v["events"].as_array().into_iter().flatten() {
                let msg = e["message"].as_str().unwrap_or_default();
                let Some(i) = msg.find("RECORDS {") else {
                    continue;
                };
                let Ok(line) = serde_json::from_str::<Value>(msg[i + 8..].trim()) else {
                    continue;
                };
                let t = line["t_us"].as_u64().unwrap_or(0);
                for id in line["ids"].as_array().into_iter().flatten() {
                    let Some(id) = id.as_str() else { continue };
                    let id = if decode {
                        base64::engine::general_purpose::STANDARD
                            .decode(id)
                            .ok()
                            .and_then(|b| String::from_utf8(b).ok())
                            .unwrap_or_default()
                    } else {
                        id.to_string()
                    };
                    out.entry(id).or_insert(t);
                }
            }
            match v["nextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }
}

/// One run.
pub(crate) async fn run(spec: EsmSpec) -> Result<EsmOutcome> {
    let client = |t| SignedClient::new(&spec.endpoint, spec.identity.clone(), t);
    let cl = Clients {
        c: client(spec.timeout)?,
        spec_source: spec.source,
    };
    // The source.
    let (target, arn) = match spec.source {
        Source::Sqs => {
            let url = cl
                .sqs("CreateQueue", json!({"QueueName": spec.name}))
                .await?["QueueUrl"]
                .as_str()
                .context("CreateQueue: no QueueUrl")?
                .to_string();
            let a = cl
                .sqs(
                    "GetQueueAttributes",
                    json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
                )
                .await?;
            let arn = a["Attributes"]["QueueArn"]
                .as_str()
                .context("no QueueArn")?
                .to_string();
            (url, arn)
        }
        Source::Kinesis => {
            cl.kinesis(
                "CreateStream",
                json!({"StreamName": spec.name, "ShardCount": 1}),
            )
            .await?;
            let deadline = Instant::now() + WAIT;
            loop {
                let d = cl
                    .kinesis("DescribeStreamSummary", json!({"StreamName": spec.name}))
                    .await?;
                let s = &d["StreamDescriptionSummary"];
                if s["StreamStatus"] == "ACTIVE" {
                    break (
                        spec.name.clone(),
                        s["StreamARN"].as_str().unwrap_or_default().to_string(),
                    );
                }
                if Instant::now() > deadline {
                    bail!("stream {} not ACTIVE within {WAIT:?}", spec.name);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let result = measure(&spec, &cl, &target, &arn).await;
    // Clean-up, whatever happened.
    let _ = match spec.source {
        Source::Sqs => cl.sqs("DeleteQueue", json!({"QueueUrl": target})).await,
        Source::Kinesis => {
            cl.kinesis(
                "DeleteStream",
                json!({"StreamName": target, "EnforceConsumerDeletion": true}),
            )
            .await
        }
    };
    let mut out = result?;
    out.resource = target;
    Ok(out)
}

async fn measure(spec: &EsmSpec, cl: &Clients, target: &str, arn: &str) -> Result<EsmOutcome> {
    let mut req = json!({
        "FunctionName": spec.function,
        "EventSourceArn": arn,
        "BatchSize": BATCH_SIZE,
    });
    if spec.source == Source::Kinesis {
        req["StartingPosition"] = "TRIM_HORIZON".into();
    }
    let m = cl
        .lambda(
            Method::POST,
            "/2015-03-31/event-source-mappings/",
            Some(req),
        )
        .await?;
    let uuid = m["UUID"].as_str().context("no UUID")?.to_string();
    let path = format!("/2015-03-31/event-source-mappings/{uuid}");
    let r = measure_mapped(spec, cl, target, &uuid, &path).await;
    let _ = cl.lambda(Method::DELETE, &path, None).await;
    r
}

async fn measure_mapped(
    spec: &EsmSpec,
    cl: &Clients,
    target: &str,
    uuid: &str,
    path: &str,
) -> Result<EsmOutcome> {
    let deadline = Instant::now() + WAIT;
    while cl.lambda(Method::GET, path, None).await?["State"] != "Enabled" {
        if Instant::now() > deadline {
            bail!("mapping {uuid} not Enabled within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let log_group = format!("/aws/lambda/{}", spec.function);
    let decode = spec.source == Source::Kinesis;
    let since_ms = now_us() / 1000 - 1000;
    let tag = format!("{}-{}", spec.name, now_us());
    // Warm-up: one message, handled before anything is measured.
    let warm = format!("{tag}-warm");
    cl.send_one(target, &warm).await?;
    let deadline = Instant::now() + WAIT;
    while !cl
        .handler_starts(&log_group, since_ms, decode)
        .await?
        .contains_key(&warm)
    {
        if Instant::now() > deadline {
            bail!("the warm-up message was not handled within {WAIT:?} (does the function print RECORDS lines? rust-echo with FIXTURE_REPORT_RECORDS=1)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Latency: one message at a time.
    let mut sent_at: Vec<(String, u64)> = Vec::with_capacity(spec.samples);
    for i in 0..spec.samples {
        let id = format!("{tag}-l{i}");
        let t = now_us();
        cl.send_one(target, &id).await?;
        sent_at.push((id, t));
        tokio::time::sleep(spec.gap).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let starts = loop {
        let s = cl.handler_starts(&log_group, since_ms, decode).await?;
        if sent_at.iter().all(|(id, _)| s.contains_key(id)) || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut out = EsmOutcome::default();
    for (id, t) in &sent_at {
        match starts.get(id) {
            Some(s) => out.latencies_us.push(s.saturating_sub(*t)),
            None => out.lost += 1,
        }
    }
    out.latencies_us.sort_unstable();
    // Throughput: senders for the window, then until all are handled.
    let before = cl.handled(uuid).await?;
    let start = Instant::now();
    let end = start + spec.duration;
    let mut senders = tokio::task::JoinSet::new();
    for w in 0..spec.concurrency.max(1) {
        let c = Clients {
            c: SignedClient::new(&spec.endpoint, spec.identity.clone(), spec.timeout)?,
            spec_source: spec.source,
        };
        let (target, tag, put_batch) = (target.to_string(), tag.clone(), spec.put_batch);
        senders.spawn(async move {
            let mut sent = 0u64;
            let mut i = 0u64;
            while Instant::now() < end {
                let r = match c.spec_source {
                    Source::Sqs => {
                        let entries: Vec<Value> = (0..10)
                            .map(|k| json!({"Id": k.to_string(), "MessageBody": format!("{tag}-t{w}-{i}-{k}")}))
                            .collect();
                        c.sqs("SendMessageBatch", json!({"QueueUrl": target, "Entries": entries}))
                            .await
                            .map(|v| v["Successful"].as_array().map_or(0, Vec::len) as u64)
                    }
                    Source::Kinesis => {
                        let records: Vec<Value> = (0..put_batch)
                            .map(|k| {
                                let id = format!("{tag}-t{w}-{i}-{k}");
                                json!({"Data": base64::engine::general_purpose::STANDARD.encode(&id), "PartitionKey": id})
                            })
                            .collect();
                        c.kinesis("PutRecords", json!({"StreamName": target, "Records": records}))
                            .await
                            .map(|v| {
                                (put_batch as u64).saturating_sub(v["FailedRecordCount"].as_u64().unwrap_or(0))
                            })
                    }
                };
                match r {
                    Ok(n) => sent += n,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
                i += 1;
            }
            sent
        });
    }
    while let Some(n) = senders.join_next().await {
        out.sent += n.unwrap_or(0);
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let handled = cl.handled(uuid).await?.saturating_sub(before);
        if handled >= out.sent {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "{} of {} messages handled within {WAIT:?} after the window",
                handled,
                out.sent
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out.handled_in = start.elapsed();
    Ok(out)
}
