//! The binding of Kinesis's JSON 1.1 protocol (`POST /`, `X-Amz-Target:
//! Kinesis_20131202.<Operation>`, `application/x-amz-json-1.1`), what botocore, boto3 and both
//! aws CLIs send (botocore's model: `"protocols": ["json"]`). Each operation: parse the body,
//! call one method of [`Kinesis`], shape the answer. Errors take their one shape here:
//! `{"__type": NAME, "message": MESSAGE}` with the name in `x-amzn-ErrorType` too.
//!
//! (The Java SDKs send CBOR, `application/x-amz-cbor-1.1`, unless `aws.cborEnabled` is off; Hako
//! answers those with a SerializationException naming the switch.)

use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Code, Error, Result};
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
            async move { handle(&kinesis, &headers, &body) }
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The largest request body taken: a PutRecords of 5 MiB of data is ~6.7 MiB in base64, with
/// its keys and JSON around it.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

fn handle(k: &Kinesis, headers: &HeaderMap, body: &[u8]) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target.strip_prefix("Kinesis_20131202.").unwrap_or_default();
    let cbor = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-amz-cbor"));
    if cbor {
        return error(&Error::new(
            Code::Serialization,
            "Hako's Kinesis speaks JSON 1.1, not CBOR: set aws.cborEnabled=false (Java SDK v1) \
             or AWS_CBOR_DISABLE=true for Java clients",
        ));
    }
    match dispatch(k, op, body) {
        Ok(r) => r,
        Err(e) => error(&e),
    }
}

fn dispatch(k: &Kinesis, op: &str, body: &[u8]) -> Result<Response> {
    match op {
        "CreateStream" => call(body, |i| k.create_stream(i)),
        "DescribeStream" => call(body, |i| k.describe_stream(i)),
        "DescribeStreamSummary" => call(body, |i| k.describe_stream_summary(i)),
        "ListStreams" => call(body, |i| k.list_streams(i)),
        "ListShards" => call(body, |i| k.list_shards(i)),
        "DeleteStream" => call(body, |i| k.delete_stream(i)),
        "PutRecord" => call(body, |i| k.put_record(i)),
        "PutRecords" => call(body, |i| k.put_records(i)),
        "GetShardIterator" => call(body, |i| k.get_shard_iterator(i)),
        "GetRecords" => call(body, |i| k.get_records(i)),
        "IncreaseStreamRetentionPeriod" => call(body, |i| k.increase_retention(i)),
        "DecreaseStreamRetentionPeriod" => call(body, |i| k.decrease_retention(i)),
        "AddTagsToStream" => call(body, |i| k.add_tags(i)),
        "RemoveTagsFromStream" => call(body, |i| k.remove_tags(i)),
        "ListTagsForStream" => call(body, |i| k.list_tags(i)),
        op if NOT_YET.contains(&op) => Err(Error::not_supported(op)),
        // As AWS's JSON services answer an unknown target.
        op => Err(Error::new(
            Code::UnknownOperation,
            format!("Hako's Kinesis does not know the operation '{op}'"),
        )),
    }
}

/// Parses the body as the operation's input, calls it, and answers its output.
fn call<I, O>(body: &[u8], f: impl FnOnce(I) -> Result<O>) -> Result<Response>
where
    I: DeserializeOwned + Default,
    O: Serialize,
{
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        I::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            // AWS's JSON services answer a body that does not match the shapes with a
            // SerializationException.
            Error::new(
                Code::Serialization,
                format!("The request body does not match the operation's shapes: {e}"),
            )
        })?
    };
    let out = f(input)?;
    let json = serde_json::to_vec(&out).map_err(|e| Error::internal(e.to_string()))?;
    Ok(respond(StatusCode::OK, json))
}

fn respond(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    r
}

/// The one error shape of the JSON protocol.
pub fn error(e: &Error) -> Response {
    let body = serde_json::json!({ "__type": e.code.name(), "message": e.message });
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = respond(status, body.to_string().into_bytes());
    if let Ok(v) = HeaderValue::from_str(e.code.name()) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}
