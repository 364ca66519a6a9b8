//! The binding of Kinesis's JSON 1.1 protocol (`POST /`, `X-Amz-Target:
//! Kinesis_20131202.<Operation>`, `application/x-amz-json-1.1`), what botocore, boto3 and both
//! aws CLIs send (botocore's model: `"protocols": ["json"]`). Each operation: parse the body,
//! call one method of [`Kinesis`], shape the answer. Errors take their one shape here:
//! `{"__type": NAME, "message": MESSAGE}` with the name in `x-amzn-ErrorType` too.
//!
//! The Java SDKs send CBOR (`application/x-amz-cbor-1.1`) unless told otherwise: such a request
//! is translated to the same JSON value and its answer (or error) back to CBOR (`cbor.rs`).

use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Code, Error, Result};

mod cbor;
use crate::Kinesis;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The operations Hako answers with an explicit "not yet" (resharding, enhanced fan-out,
/// encryption, resource policies, ...).
const NOT_YET: &[&str] = &[
    "SplitShard",
    "MergeShards",
    "UpdateShardCount",
    "UpdateStreamMode",
    "RegisterStreamConsumer",
    "DeregisterStreamConsumer",
    "DescribeStreamConsumer",
    "ListStreamConsumers",
    "SubscribeToShard",
    "StartStreamEncryption",
    "StopStreamEncryption",
    "EnableEnhancedMonitoring",
    "DisableEnhancedMonitoring",
    "PutResourcePolicy",
    "GetResourcePolicy",
    "DeleteResourcePolicy",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "DescribeLimits",
    "DescribeAccountSettings",
    "UpdateAccountSettings",
    "UpdateMaxRecordSize",
    "UpdateStreamWarmThroughput",
    "UpdateStreamRecordDistributionStrategy",
];

/// The router the front door is given for Kinesis.
pub fn router(kinesis: Kinesis) -> Router {
    Router::new()
        .fallback(move |headers: HeaderMap, body: Bytes| {
            let kinesis = kinesis.clone();
            // The operation (SQLite, hashing, base64) runs on the blocking pool, not on one of
            // the few runtime workers the rest of the server needs.
            async move {
                tokio::task::spawn_blocking(move || handle(&kinesis, &headers, &body))
                    .await
                    .unwrap_or_else(|e| {
                        error(&Error::internal(format!("Kinesis operation failed: {e}")))
                    })
            }
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The largest request body taken: a PutRecords of 5 MiB of data is ~6.7 MiB in base64, with
/// its keys and JSON around it.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// How a request's body (and so its answer) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Cbor,
}

fn handle(k: &Kinesis, headers: &HeaderMap, body: &[u8]) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target.strip_prefix("Kinesis_20131202.").unwrap_or_default();
    let format = match headers.get("content-type").and_then(|v| v.to_str().ok()) {
        Some(ct)
            if ct.starts_with("application/x-amz-cbor") || ct.starts_with("application/cbor") =>
        {
            Format::Cbor
        }
        _ => Format::Json,
    };
    match dispatch(k, op, body, format) {
        Ok(r) => r,
        Err(e) => error_in(&e, format),
    }
}

fn dispatch(k: &Kinesis, op: &str, body: &[u8], f: Format) -> Result<Response> {
    match op {
        "CreateStream" => call(body, f, |i| k.create_stream(i)),
        "DescribeStream" => call(body, f, |i| k.describe_stream(i)),
        "DescribeStreamSummary" => call(body, f, |i| k.describe_stream_summary(i)),
        "ListStreams" => call(body, f, |i| k.list_streams(i)),
        "ListShards" => call(body, f, |i| k.list_shards(i)),
        "DeleteStream" => call(body, f, |i| k.delete_stream(i)),
        "PutRecord" => call(body, f, |i| k.put_record(i)),
        "PutRecords" => call(body, f, |i| k.put_records(i)),
        "GetShardIterator" => call(body, f, |i| k.get_shard_iterator(i)),
        "GetRecords" => call(body, f, |i| k.get_records(i)),
        "IncreaseStreamRetentionPeriod" => call(body, f, |i| k.increase_retention(i)),
        "DecreaseStreamRetentionPeriod" => call(body, f, |i| k.decrease_retention(i)),
        "AddTagsToStream" => call(body, f, |i| k.add_tags(i)),
        "RemoveTagsFromStream" => call(body, f, |i| k.remove_tags(i)),
        "ListTagsForStream" => call(body, f, |i| k.list_tags(i)),
        op if NOT_YET.contains(&op) => Err(Error::not_supported(op)),
        // As AWS's JSON services answer an unknown target.
        op => Err(Error::new(
            Code::UnknownOperation,
            format!("Hako's Kinesis does not know the operation '{op}'"),
        )),
    }
}

/// Parses the body as the operation's input, calls it, and answers its output.
fn call<I, O>(body: &[u8], format: Format, f: impl FnOnce(I) -> Result<O>) -> Result<Response>
where
    I: DeserializeOwned + Default,
    O: Serialize,
{
    // AWS's JSON services answer a body that does not match the shapes with a
    // SerializationException (the message is Hako's).
    let bad = |e: String| {
        Error::new(
            Code::Serialization,
            format!("The request body does not match the operation's shapes: {e}"),
        )
    };
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        I::default()
    } else {
        match format {
            Format::Json => serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?,
            Format::Cbor => serde_json::from_value(cbor::to_json(body).map_err(bad)?)
                .map_err(|e| bad(e.to_string()))?,
        }
    };
    let out = f(input)?;
    let body = match format {
        Format::Json => serde_json::to_vec(&out),
        Format::Cbor => serde_json::to_value(&out).map(|v| cbor::from_json(&v)),
    }
    .map_err(|e| Error::internal(e.to_string()))?;
    Ok(respond(StatusCode::OK, body, format))
}

fn respond(status: StatusCode, body: Vec<u8>, format: Format) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let ct = match format {
        Format::Json => CONTENT_TYPE,
        Format::Cbor => cbor::CONTENT_TYPE,
    };
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(ct));
    r
}

fn error_in(e: &Error, format: Format) -> Response {
    let value = serde_json::json!({ "__type": e.code.name(), "message": e.message });
    let body = match format {
        Format::Json => value.to_string().into_bytes(),
        Format::Cbor => cbor::from_json(&value),
    };
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = respond(status, body, format);
    if let Ok(v) = HeaderValue::from_str(e.code.name()) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// The one error shape of the JSON protocol.
pub fn error(e: &Error) -> Response {
    error_in(e, Format::Json)
}
