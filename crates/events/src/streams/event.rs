//! The shapes a stream poller sends and reads: the Kinesis event (the Lambda developer guide's
//! "Example Kinesis record event", and the events recorded against AWS in LocalStack's
//! `test_lambda_integration_kinesis.snapshot.json`), the tumbling window's fields, the
//! function's response (partial batch response, window state) and the invocation record of
//! records sent to the OnFailure destination.

use base64::Engine as _;
use hako_kinesis::ShardRecord;
use hako_model::clock::iso8601_ms;
use serde_json::{json, Map, Value};

/// What the event says of where its records come from.
pub(crate) struct Source<'a> {
    pub stream_arn: &'a str,
    pub region: &'a str,
    pub shard_id: &'a str,
    /// The function's execution role (`invokeIdentityArn`).
    pub role: &'a str,
}

/// One record as the event carries it.
pub(crate) fn record(src: &Source<'_>, r: &ShardRecord) -> Value {
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": r.partition_key,
            "sequenceNumber": r.sequence_number,
            "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
            "approximateArrivalTimestamp": arrival_seconds(r.arrival_ms),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{}:{}", src.shard_id, r.sequence_number),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": src.role,
        "awsRegion": src.region,
        "eventSourceARN": src.stream_arn,
    })
}

/// Epoch seconds with the milliseconds as a fraction (`1545084650.987`), as AWS sends
/// `approximateArrivalTimestamp`.
fn arrival_seconds(ms: i64) -> Value {
    // Whole milliseconds: the shortest decimal of ms / 1000 has at most three decimals.
    json!(ms as f64 / 1000.0)
}

/// The size of one record in the event, roughly (its data in base64 and the fields around it),
/// for the 6 MB limit of a synchronous invocation's payload.
pub(crate) fn record_size(r: &ShardRecord, src: &Source<'_>) -> usize {
    r.data.len().div_ceil(3) * 4
        + 2 * r.sequence_number.len()
        + r.partition_key.len()
        + src.stream_arn.len()
        + src.role.len()
        + src.shard_id.len()
        + 360
}

/// A tumbling window as the event says it.
pub(crate) struct Window<'a> {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The state the function returned last in this window (a JSON object as text).
    pub state: &'a str,
    pub is_final: bool,
    pub terminated_early: bool,
}

/// The event of one batch.
pub(crate) fn event(
    src: &Source<'_>,
    records: &[ShardRecord],
    window: Option<&Window<'_>>,
) -> Vec<u8> {
    let mut m = Map::new();
    m.insert(
        "Records".into(),
        Value::Array(records.iter().map(|r| record(src, r)).collect()),
    );
    if let Some(w) = window {
        // The developer guide's KinesisTimeWindowEvent: window bounds in whole seconds
        // (`2020-12-09T07:04:00Z`), the state, the shard, and the two flags.
        m.insert(
            "window".into(),
            json!({"start": whole_seconds(w.start_ms), "end": whole_seconds(w.end_ms)}),
        );
        let state: Value = serde_json::from_str(w.state).unwrap_or_else(|_| json!({}));
        m.insert("state".into(), state);
        m.insert("shardId".into(), json!(src.shard_id));
        m.insert("eventSourceARN".into(), json!(src.stream_arn));
        m.insert("isFinalInvokeForWindow".into(), json!(w.is_final));
        m.insert("isWindowTerminatedEarly".into(), json!(w.terminated_early));
    }
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}

fn whole_seconds(ms: i64) -> String {
    let s = iso8601_ms(ms - ms.rem_euclid(1000));
    s.replace(".000Z", "Z")
}

/// What a successful invocation's response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Response {
    /// Every record succeeded.
    Success,
    /// The records from this index of the batch on are to be retried (ReportBatchItemFailures:
    /// the lowest failed sequence number).
    FailedFrom(usize),
    /// The response counts as a failure of the whole batch.
    Invalid,
}

/// Reads a response under ReportBatchItemFailures (the developer guide, "Configuring partial
/// batch response with Kinesis Data Streams and Lambda": an empty or null response, an empty
/// or null `batchItemFailures` are a complete success; an empty or null `itemIdentifier`, or
/// one under another key, a complete failure; LocalStack's AWS-recorded
/// `test_kinesis_report_batch_item_failure_scenarios` adds an identifier that is no record of
/// the batch, and `..._success_scenarios` an empty string and an empty list as successes).
pub(crate) fn batch_item_failures(payload: &[u8], batch: &[ShardRecord]) -> Response {
    let text = std::str::from_utf8(payload).unwrap_or("").trim();
    if text.is_empty() {
        return Response::Success;
    }
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Response::Invalid;
    };
    let failures = match &v {
        Value::Null => return Response::Success,
        Value::String(s) if s.is_empty() => return Response::Success,
        Value::Array(a) if a.is_empty() => return Response::Success,
        Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(Value::Null) => return Response::Success,
            Some(Value::Array(a)) if a.is_empty() => return Response::Success,
            Some(Value::Array(a)) => a,
            Some(_) => return Response::Invalid,
        },
        _ => return Response::Invalid,
    };
    let mut lowest: Option<usize> = None;
    for item in failures {
        let Some(Value::String(id)) = item.get("itemIdentifier") else {
            return Response::Invalid;
        };
        let Some(i) = batch.iter().position(|r| &r.sequence_number == id) else {
            return Response::Invalid;
        };
        lowest = Some(lowest.map_or(i, |l| l.min(i)));
    }
    match lowest {
        Some(i) => Response::FailedFrom(i),
        None => Response::Success,
    }
}

/// The `state` of a tumbling window's response, as JSON text; `None` when the response has
/// none (the developer guide: "If the response does not contain a state property, Lambda
/// considers this a failed invocation").
pub(crate) fn window_state(payload: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    match v.get("state")? {
        s @ Value::Object(_) => Some(s.to_string()),
        _ => None,
    }
}

/// Why records went to the OnFailure destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Condition::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// The last response the function gave these records.
#[derive(Debug, Clone)]
pub(crate) struct LastResponse {
    pub executed_version: String,
    pub function_error: Option<&'static str>,
}

/// The invocation record of discarded records, as AWS sends it to an SQS OnFailure
/// destination (LocalStack's AWS-recorded `test_kinesis_event_source_mapping_with_on_failure_
/// destination_config`, `test_kinesis_report_batch_item_failures` and
/// `test_kinesis_maximum_record_age_exceeded`: `responseContext` only when the function
/// answered, with `functionError` null after a partial batch response; times in ISO 8601 with
/// milliseconds).
#[allow(clippy::too_many_arguments)]
pub(crate) fn invocation_record(
    request_id: &str,
    function_arn: &str,
    condition: Condition,
    invoke_count: u32,
    response: Option<&LastResponse>,
    now_ms: i64,
    shard_id: &str,
    stream_arn: &str,
    records: &[ShardRecord],
) -> String {
    let (first, last) = (&records[0], &records[records.len() - 1]);
    let mut m = Map::new();
    m.insert(
        "requestContext".into(),
        json!({
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": invoke_count,
        }),
    );
    if let Some(r) = response {
        m.insert(
            "responseContext".into(),
            json!({
                "statusCode": 200,
                "executedVersion": r.executed_version,
                "functionError": r.function_error,
            }),
        );
    }
    m.insert("version".into(), json!("1.0"));
    m.insert("timestamp".into(), json!(iso8601_ms(now_ms)));
    m.insert(
        "KinesisBatchInfo".into(),
        json!({
            "shardId": shard_id,
            "startSequenceNumber": first.sequence_number,
            "endSequenceNumber": last.sequence_number,
            "approximateArrivalOfFirstRecord": iso8601_ms(first.arrival_ms),
            "approximateArrivalOfLastRecord": iso8601_ms(last.arrival_ms),
            "batchSize": records.len(),
            "streamArn": stream_arn,
        }),
    );
    Value::Object(m).to_string()
}
