//! The SQS poller of one mapping: long-polls Hako's SQS in-process (woken the moment a message
//! is sent, so an idle queue costs nothing), or a queue outside Hako (an external source) with
//! ReceiveMessage's long polling (WaitTimeSeconds 20), gathers a batch as AWS does (up to `BatchSize`,
//! within `MaximumBatchingWindowInSeconds` when it is set, within the synchronous payload
//! limit), and invokes the function with AWS's SQS event.
//!
//! What happens to a batch (AWS's developer guide, "Using Lambda with Amazon SQS"):
//! - the function returned: the batch is deleted; with `ReportBatchItemFailures`, all but the
//!   reported `itemIdentifier`s (an empty or null `batchItemFailures`, an empty or null
//!   response is complete success; a response that is not such JSON, or an identifier that is
//!   empty, null or not a message of the batch, fails the whole batch);
//! - the function failed, was throttled, or could not be invoked: nothing is deleted; the
//!   messages come back when their visibility timeout ends (the queue's redrive policy moves
//!   them to its dead-letter queue after `maxReceiveCount` receives), and other messages keep
//!   flowing meanwhile;
//! - messages no filter matches are deleted without an invocation.
//!
//! Batches run concurrently up to `ScalingConfig.MaximumConcurrency` and the function's
//! reserved concurrency (with 0, nothing is received: the messages wait in the queue). On a
//! FIFO queue SQS itself hands out one batch per message group at a time, in order.
//!
//! A queue outside Hako has the same semantics (its visibility timeout and redrive policy are
//! its own); its errors (unreachable, access denied, no such queue) are the mapping's
//! LastProcessingResult (`PROBLEM: ...`) until a receive succeeds again (then `OK`), and
//! receiving is tried again with a backoff (1 s doubling to 30 s). Its batches are deleted
//! with DeleteMessageBatch once the invocation has settled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hako_lambda::{Invocation, Lambda};
use hako_model::esm::EsmRecord;
use hako_model::event_filter::{FilterCriteria, FilterSource};
use hako_model::ErrorKind;
use hako_sqs::wire::Message;
use hako_sqs::Sqs;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::external::RemoteQueue;
use super::{EsmConfig, MappingMetrics, ProcessingReport};

/// Concurrent batches of a mapping without `MaximumConcurrency` (AWS scales an SQS mapping up
/// to 1,000 concurrent invocations; the engine's account limit bounds them further).
const DEFAULT_MAX_CONCURRENCY: usize = 1000;

/// AWS's scaling of a standard queue's pollers ("Configuring scaling behavior for SQS event
/// source mappings"): five concurrent batches at first, then up to 300 more per minute while
/// messages keep coming (five more per second here).
const SCALE_START: usize = 5;
const SCALE_STEP: usize = 5;
const SCALE_EVERY: Duration = Duration::from_secs(1);

/// A long poll's wait, as AWS's pollers use (20 s, SQS's maximum).
const LONG_POLL_S: i64 = 20;

/// What a batch may weigh, estimated, before gathering stops: the 6 MB synchronous payload
/// less room for one more receive of ten 256 KiB messages.
const PAYLOAD_BUDGET: usize = 6 * 1024 * 1024 - 10 * (256 * 1024 + 1024);

/// The system attributes an SQS record carries (AWS's event: the four of every message, the
/// FIFO ones, and the trace header when there is one).
const RECORD_ATTRIBUTES: &[&str] = &[
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
];

/// The longest wait between two receives of a queue that keeps failing.
const RECEIVE_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The queue a mapping polls.
enum QueueReader {
    /// Hako's SQS, in-process.
    Local(Sqs),
    /// A queue of an external source; its failures are reported in the mapping.
    Remote(Arc<RemoteQueue>, ProcessingReport),
}

impl QueueReader {
    async fn receive(&self, arn: &str, max: usize, wait_s: i64) -> Result<Vec<Message>, String> {
        match self {
            QueueReader::Local(sqs) => sqs
                .receive_for_poller(arn, max, wait_s)
                .await
                .map_err(|e| e.to_string()),
            QueueReader::Remote(q, _) => q.receive(max, wait_s).await.map_err(|e| e.to_string()),
        }
    }
}

pub(super) struct Poller {
    lambda: Arc<Lambda>,
    source: QueueReader,
    m: EsmRecord,
    metrics: MappingMetrics,
    /// The mapping's filters, parsed once (`None`: stored patterns that do not parse).
    filters: Option<FilterCriteria>,
    inflight: AtomicUsize,
    freed: Notify,
}

impl Poller {
    pub(super) fn new(lambda: Arc<Lambda>, cfg: &EsmConfig, m: EsmRecord) -> Poller {
        let filters = FilterCriteria::parse_stored(FilterSource::Sqs, &m.filters).ok();
        let source = match cfg.external.queue(&m.event_source_arn) {
            Some(q) => QueueReader::Remote(
                Arc::new(q),
                ProcessingReport::new(lambda.clone(), &m.uuid, m.last_processing_result.clone()),
            ),
            None => QueueReader::Local(cfg.sqs.clone()),
        };
        Poller {
            filters,
            metrics: cfg.metrics.mapping(&m.uuid, &m.function_name),
            lambda,
            source,
            m,
            inflight: AtomicUsize::new(0),
            freed: Notify::new(),
        }
    }

    /// How many batches may run at once now.
    fn limit(&self) -> usize {
        let max = self
            .m
            .maximum_concurrency
            .map_or(DEFAULT_MAX_CONCURRENCY, |n| n as usize);
        let reserved = self
            .lambda
            .resolve(&self.m.function_name, "$LATEST")
            .ok()
            .and_then(|f| f.reserved_concurrency);
        match reserved {
            Some(r) => max.min(r as usize),
            None => max,
        }
    }

    /// Receives and hands out batches until `stop` is cancelled; batches already handed out
    /// run to their end.
    pub(super) async fn run(self, stop: CancellationToken) {
        let me = Arc::new(self);
        let Some(_) = &me.filters else {
            tracing::error!(uuid = %me.m.uuid, "the mapping's stored FilterCriteria do not parse: it delivers nothing");
            return;
        };
        tracing::info!(uuid = %me.m.uuid, queue = %me.m.event_source_arn, function = %me.m.function_name, "sqs poller started");
        // AWS's scaling: five batches at a time, then up to 300 more per minute while every
        // one is busy, back to five when the queue goes idle.
        let mut scale = SCALE_START;
        let mut grown = tokio::time::Instant::now();
        let mut retry = Duration::from_secs(1);
        loop {
            // Room for one more batch (a batch ending frees it; with no room at all, as under
            // reserved concurrency 0, the limit is looked at again every second).
            loop {
                let freed = me.freed.notified();
                tokio::pin!(freed);
                freed.as_mut().enable();
                let limit = me.limit();
                let inflight = me.inflight.load(Ordering::Acquire);
                if inflight < limit.min(scale) {
                    break;
                }
                if inflight >= scale && scale < limit && grown.elapsed() >= SCALE_EVERY {
                    scale = (scale + SCALE_STEP).min(limit);
                    grown = tokio::time::Instant::now();
                    continue;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = &mut freed => {}
                    _ = tokio::time::sleep_until(grown + SCALE_EVERY) => {}
                }
            }
            let polling = tokio::time::Instant::now();
            let batch = tokio::select! {
                _ = stop.cancelled() => return,
                b = me.gather() => b,
            };
            if batch.is_ok() {
                retry = Duration::from_secs(1);
                if let QueueReader::Remote(_, report) = &me.source {
                    // Said once the queue answers again (a write only when it changes).
                    if report
                        .last
                        .lock()
                        .as_deref()
                        .is_some_and(|r| r.starts_with("PROBLEM"))
                    {
                        report.report(crate::streams::result::OK);
                    }
                }
            }
            match batch {
                Ok(msgs) if msgs.is_empty() => {
                    // Only a stopping SQS answers a long poll at once with nothing.
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
                Ok(msgs) => {
                    if polling.elapsed() >= SCALE_EVERY {
                        // The queue was idle: scaling starts over.
                        scale = SCALE_START;
                        grown = tokio::time::Instant::now();
                    }
                    me.inflight.fetch_add(1, Ordering::AcqRel);
                    let me = me.clone();
                    tokio::spawn(async move {
                        let throttled = me.handle(msgs).await;
                        if throttled {
                            // Give the function's concurrency a moment before this slot is used.
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                        me.inflight.fetch_sub(1, Ordering::AcqRel);
                        me.freed.notify_waiters();
                    });
                }
                Err(e) => {
                    tracing::warn!(uuid = %me.m.uuid, queue = %me.m.event_source_arn, error = %e, "sqs poller cannot receive");
                    let delay = retry;
                    if let QueueReader::Remote(_, report) = &me.source {
                        report.report(&format!("PROBLEM: {e}"));
                        retry = (retry * 2).min(RECEIVE_BACKOFF_MAX);
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// One batch: a long poll until a message comes, then, with a batching window, more until
    /// the batch is full, the window ends or the payload limit is near.
    async fn gather(&self) -> Result<Vec<Message>, String> {
        let want = self.m.batch_size.max(1) as usize;
        let arn = &self.m.event_source_arn;
        let mut out = self.source.receive(arn, want.min(10), LONG_POLL_S).await?;
        if out.is_empty() || self.m.maximum_batching_window_s == 0 {
            self.metrics.polled.inc_by(out.len() as u64);
            return Ok(out);
        }
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(u64::from(self.m.maximum_batching_window_s));
        let mut weight: usize = out.iter().map(estimated_size).sum();
        while out.len() < want && weight < PAYLOAD_BUDGET {
            let more = tokio::select! {
                r = self.source.receive(arn, (want - out.len()).min(10), LONG_POLL_S) => r,
                _ = tokio::time::sleep_until(deadline) => break,
            };
            match more {
                Ok(more) if more.is_empty() && tokio::time::Instant::now() < deadline => {
                    // A stopping SQS: hand over what was gathered.
                    break;
                }
                Ok(more) => {
                    weight += more.iter().map(estimated_size).sum::<usize>();
                    out.extend(more);
                }
                // What was received is handed over; the error shows at the next receive.
                Err(_) => break,
            }
        }
        self.metrics.polled.inc_by(out.len() as u64);
        Ok(out)
    }

    /// Runs one batch; whether the function was throttled.
    async fn handle(&self, msgs: Vec<Message>) -> bool {
        let region = self.lambda.region().region.clone();
        let mut records = Vec::with_capacity(msgs.len());
        let mut kept = Vec::with_capacity(msgs.len());
        let mut filtered = Vec::new();
        for m in msgs {
            let r = SqsRecord::of(&m, &self.m.event_source_arn, &region);
            match serde_json::to_value(&r) {
                Ok(v) if self.passes(&v) => {
                    records.push(v);
                    kept.push(m);
                }
                Ok(_) => filtered.push(m),
                Err(e) => {
                    tracing::error!(uuid = %self.m.uuid, error = %e, "cannot encode an sqs record");
                    return false;
                }
            }
        }
        let msgs = kept;
        if !filtered.is_empty() {
            self.metrics.filtered_out.inc_by(filtered.len() as u64);
            self.delete(&filtered);
        }
        if msgs.is_empty() {
            return false;
        }
        let payload = match serde_json::to_vec(&serde_json::json!({ "Records": records })) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(uuid = %self.m.uuid, error = %e, "cannot encode the sqs event");
                return false;
            }
        };
        let inv = Invocation {
            payload: Bytes::from(payload),
            ..Invocation::default()
        };
        // The batch's outcome is settled (deleted, or left to its visibility timeout) while the
        // invocation still holds its concurrency slot.
        self.lambda
            .invoke_then(
                &self.m.function_name,
                self.m.qualifier.as_deref(),
                inv,
                |result| self.settle(result, msgs),
            )
            .await
    }

    /// What a batch's invocation leaves: deletions and counts; whether it was throttled.
    fn settle(
        &self,
        result: Result<hako_engine::InvokeResult, hako_model::Error>,
        msgs: Vec<Message>,
    ) -> bool {
        let n = msgs.len() as u64;
        match result {
            Ok(r) if r.function_error.is_none() => {
                self.metrics.invoked.inc_by(n);
                if !self.m.report_batch_item_failures {
                    self.delete(&msgs);
                    return false;
                }
                match failed_items(&r.payload, &msgs) {
                    Some(failed) => {
                        self.metrics.failed_invoke.inc_by(failed.len() as u64);
                        let done: Vec<Message> = msgs
                            .into_iter()
                            .filter(|m| !failed.contains(&m.message_id))
                            .collect();
                        self.delete(&done);
                    }
                    None => {
                        tracing::debug!(uuid = %self.m.uuid, "the batch response is not a valid batchItemFailures answer: the whole batch failed");
                        self.metrics.failed_invoke.inc_by(n);
                    }
                }
                false
            }
            Ok(_) => {
                // A function error: the batch comes back after its visibility timeout.
                self.metrics.invoked.inc_by(n);
                self.metrics.failed_invoke.inc_by(n);
                false
            }
            Err(e) => {
                self.metrics.failed_invoke.inc_by(n);
                let throttled = e.kind == ErrorKind::TooManyRequests;
                if throttled {
                    tracing::debug!(uuid = %self.m.uuid, "throttled: the batch returns to the queue");
                } else {
                    tracing::warn!(uuid = %self.m.uuid, function = %self.m.function_name, error = %e, "cannot invoke: the batch returns to the queue");
                }
                throttled
            }
        }
    }

    /// Whether a record passes the mapping's filters (every record, without filters).
    fn passes(&self, record: &serde_json::Value) -> bool {
        self.filters
            .as_ref()
            .is_some_and(|f| f.matches_sqs_record(record))
    }

    /// Deletes handled messages (a failed delete leaves them to come back, as on AWS). A
    /// remote queue's are deleted by a task of their own (the settlement cannot wait).
    fn delete(&self, msgs: &[Message]) {
        if msgs.is_empty() {
            return;
        }
        let handles: Vec<String> = msgs.iter().map(|m| m.receipt_handle.clone()).collect();
        match &self.source {
            QueueReader::Local(sqs) => {
                match sqs.delete_received(&self.m.event_source_arn, &handles) {
                    Ok(n) => {
                        self.metrics.deleted.inc_by(n as u64);
                    }
                    Err(e) => {
                        tracing::warn!(uuid = %self.m.uuid, error = %e, "cannot delete a handled batch")
                    }
                }
            }
            QueueReader::Remote(q, _) => {
                let (q, deleted, uuid) =
                    (q.clone(), self.metrics.deleted.clone(), self.m.uuid.clone());
                tokio::spawn(async move {
                    match q.delete(&handles).await {
                        Ok(n) => {
                            deleted.inc_by(n as u64);
                        }
                        Err(e) => {
                            tracing::warn!(uuid = %uuid, error = %e, "cannot delete a handled batch")
                        }
                    }
                });
            }
        }
    }
}

/// The message IDs a `ReportBatchItemFailures` response reports; `None` when the response
/// fails the whole batch (AWS's rules in "Implementing partial batch responses").
fn failed_items(payload: &[u8], batch: &[Message]) -> Option<Vec<String>> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Some(Vec::new());
    }
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let failures = match &v {
        serde_json::Value::Null => return Some(Vec::new()),
        serde_json::Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(serde_json::Value::Null) => return Some(Vec::new()),
            Some(serde_json::Value::Array(a)) => a,
            Some(_) => return None,
        },
        _ => return None,
    };
    let mut out = Vec::with_capacity(failures.len());
    for f in failures {
        let id = f.get("itemIdentifier")?.as_str()?;
        if id.is_empty() || !batch.iter().any(|m| m.message_id == id) {
            return None;
        }
        out.push(id.to_string());
    }
    Some(out)
}

/// A record's weight in the event, roughly.
fn estimated_size(m: &Message) -> usize {
    m.body.len()
        + 1024
        + m.message_attributes
            .iter()
            .map(|(k, v)| {
                k.len()
                    + v.string_value.as_ref().map_or(0, String::len)
                    + v.binary_value.as_ref().map_or(0, |b| b.0.len() * 4 / 3)
            })
            .sum::<usize>()
}

/// One record, its members in the order AWS sends them (LocalStack's AWS-recorded
/// test_message_body_and_attributes_passed_correctly).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SqsRecord<'a> {
    message_id: &'a str,
    receipt_handle: &'a str,
    body: &'a str,
    attributes: serde_json::Map<String, serde_json::Value>,
    message_attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<&'a str>,
    md5_of_body: &'a str,
    event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
    aws_region: &'a str,
}

impl<'a> SqsRecord<'a> {
    fn of(m: &'a Message, queue_arn: &'a str, region: &'a str) -> SqsRecord<'a> {
        let attributes = RECORD_ATTRIBUTES
            .iter()
            .filter_map(|k| {
                m.attributes
                    .get(*k)
                    .map(|v| (k.to_string(), serde_json::Value::String(v.clone())))
            })
            .collect();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let message_attributes = m
            .message_attributes
            .iter()
            .map(|(k, v)| {
                let mut a = serde_json::Map::new();
                if let Some(s) = &v.string_value {
                    a.insert("stringValue".into(), s.clone().into());
                }
                if let Some(b) = &v.binary_value {
                    a.insert("binaryValue".into(), b64(&b.0).into());
                }
                a.insert(
                    "stringListValues".into(),
                    v.string_list_values.clone().into(),
                );
                a.insert(
                    "binaryListValues".into(),
                    v.binary_list_values
                        .iter()
                        .map(|b| serde_json::Value::String(b64(&b.0)))
                        .collect::<Vec<_>>()
                        .into(),
                );
                a.insert("dataType".into(), v.data_type.clone().into());
                (k.clone(), serde_json::Value::Object(a))
            })
            .collect();
        SqsRecord {
            message_id: &m.message_id,
            receipt_handle: &m.receipt_handle,
            body: &m.body,
            attributes,
            message_attributes,
            md5_of_message_attributes: m.md5_of_message_attributes.as_deref(),
            md5_of_body: &m.md5_of_body,
            event_source: "aws:sqs",
            event_source_arn: queue_arn,
            aws_region: region,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> Message {
        Message {
            message_id: id.into(),
            receipt_handle: format!("h-{id}"),
            body: "b".into(),
            ..Message::default()
        }
    }

    /// AWS's rules for a partial batch response ("Implementing partial batch responses": success
    /// for an empty or null list, an empty or null response; whole-batch failure for invalid
    /// JSON, an empty or null identifier, a wrong key, an identifier not in the batch).
    #[test]
    fn batch_item_failures_follow_awss_rules() {
        let batch = [msg("a"), msg("b")];
        let ok = |p: &str| failed_items(p.as_bytes(), &batch);
        assert_eq!(ok(""), Some(vec![]));
        assert_eq!(ok("null"), Some(vec![]));
        assert_eq!(ok("{}"), Some(vec![]));
        assert_eq!(ok("{\"batchItemFailures\": []}"), Some(vec![]));
        assert_eq!(ok("{\"batchItemFailures\": null}"), Some(vec![]));
        assert_eq!(
            ok("{\"batchItemFailures\": [{\"itemIdentifier\": \"b\"}]}"),
            Some(vec!["b".to_string()])
        );
        for bad in [
            "not json",
            "\"a string\"",
            "{\"batchItemFailures\": [{\"itemIdentifier\": \"\"}]}",
            "{\"batchItemFailures\": [{\"itemIdentifier\": null}]}",
            "{\"batchItemFailures\": [{\"foo\": \"a\"}]}",
            "{\"batchItemFailures\": [{\"itemIdentifier\": \"zz\"}]}",
            "{\"batchItemFailures\": \"a\"}",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }
}
