//! The binding of CloudWatch Logs' JSON 1.1 protocol (`POST /`, `X-Amz-Target:
//! Logs_20140328.<Operation>`, `application/x-amz-json-1.1`), what botocore, boto3 and both aws
//! CLIs send (botocore's model: `"protocols": ["json"]`). Each operation: parse the body, call one
//! method of [`Logs`], shape the answer. Errors take their one shape here: `{"__type": NAME,
//! "message": MESSAGE}` with the name in `x-amzn-ErrorType` too.

use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Code, Error, Result};
use crate::Logs;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The router the front door is given for CloudWatch Logs.
pub fn router(logs: Logs) -> Router {
    Router::new()
        .fallback(move |headers: HeaderMap, body: Bytes| {
            let logs = logs.clone();
            // SQLite and filter matching run on the blocking pool, not on one of the few
            // runtime workers the rest of the server needs.
            async move {
                tokio::task::spawn_blocking(move || handle(&logs, &headers, &body))
                    .await
                    .unwrap_or_else(|e| {
                        error(&Error::internal(format!("Logs operation failed: {e}")))
                    })
            }
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The largest request body taken: a PutLogEvents of 1 MiB, escaped in JSON.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

fn handle(l: &Logs, headers: &HeaderMap, body: &[u8]) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target.strip_prefix("Logs_20140328.").unwrap_or_default();
    match dispatch(l, op, body) {
        Ok(r) => r,
        Err(e) => error(&e),
    }
}

fn dispatch(l: &Logs, op: &str, body: &[u8]) -> Result<Response> {
    match op {
        "CreateLogGroup" => call(body, |i| l.create_log_group(i)),
        "DeleteLogGroup" => call(body, |i| l.delete_log_group(i)),
        "DescribeLogGroups" => call(body, |i| l.describe_log_groups(i)),
        "CreateLogStream" => call(body, |i| l.create_log_stream(i)),
        "DeleteLogStream" => call(body, |i| l.delete_log_stream(i)),
        "DescribeLogStreams" => call(body, |i| l.describe_log_streams(i)),
        "PutLogEvents" => call(body, |i| l.put_log_events(i)),
        "GetLogEvents" => call(body, |i| l.get_log_events(i)),
        "FilterLogEvents" => call(body, |i| l.filter_log_events(i)),
        "PutRetentionPolicy" => call(body, |i| l.put_retention_policy(i)),
        "DeleteRetentionPolicy" => call(body, |i| l.delete_retention_policy(i)),
        "TagResource" => call(body, |i| l.tag_resource(i)),
        "UntagResource" => call(body, |i| l.untag_resource(i)),
        "ListTagsForResource" => call(body, |i| l.list_tags_for_resource(i)),
        "TagLogGroup" => call(body, |i| l.tag_log_group(i)),
        "UntagLogGroup" => call(body, |i| l.untag_log_group(i)),
        "ListTagsLogGroup" => call(body, |i| l.list_tags_log_group(i)),
        op => Err(Error::unknown_operation(op)),
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
        // AWS's JSON services answer a body that does not match the shapes with a
        // SerializationException (the message is Hako's).
        serde_json::from_slice(body).map_err(|e| {
            Error::new(
                Code::Serialization,
                format!("The request body does not match the operation's shapes: {e}"),
            )
        })?
    };
    let out = f(input)?;
    let body = serde_json::to_vec(&out).map_err(|e| Error::internal(e.to_string()))?;
    Ok(respond(StatusCode::OK, body))
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
    let value = serde_json::json!({ "__type": e.code.name(), "message": e.message });
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = respond(status, value.to_string().into_bytes());
    if let Ok(v) = HeaderValue::from_str(e.code.name()) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}
