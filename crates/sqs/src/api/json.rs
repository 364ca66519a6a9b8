//! SQS's JSON protocol (`awsJson1_0`, botocore's `protocol: json` with `awsQueryCompatible`):
//! the input is the body, the output a JSON body; an error is `{"__type":
//! "com.amazonaws.sqs#<shape>", "message": ...}` with the query protocol's code in
//! `x-amzn-query-error: <code>;Sender` (botocore's `_do_query_compatible_error_parse` makes it
//! the error's `Code`, as AWS's answers recorded in LocalStack's snapshots show).

use axum::body::Body;
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Format;
use crate::error::SqsError;

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

#[derive(Default)]
pub(crate) struct Json {
    pub body: Bytes,
}

fn request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or(HeaderValue::from_static("0"))
}

fn respond(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    h.insert("x-amzn-requestid", request_id());
    r
}

fn error_response(
    status: u16,
    json_type: &str,
    query_code: &str,
    fault: &str,
    message: &str,
) -> Response {
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.sqs#{json_type}"),
        "message": message,
    });
    let mut r = respond(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body.to_string().into_bytes(),
    );
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(json_type) {
        h.insert("x-amzn-errortype", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{query_code};{fault}")) {
        h.insert("x-amzn-query-error", v);
    }
    r
}

impl Format for Json {
    fn input<T: DeserializeOwned + Default>(&self) -> Result<T, SqsError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| SqsError::param(format!("The request's JSON body does not parse: {e}")))
    }

    fn output<T: Serialize>(&self, _op: &str, out: &T) -> Response {
        match serde_json::to_vec(out) {
            Ok(b) => respond(StatusCode::OK, b),
            Err(e) => self.error(&SqsError::internal(e)),
        }
    }

    fn error(&self, e: &SqsError) -> Response {
        let fault = if e.kind.sender_fault() {
            "Sender"
        } else {
            "Receiver"
        };
        error_response(
            e.kind.status(),
            e.kind.json_type(),
            e.kind.query_code(),
            fault,
            &e.message,
        )
    }

    fn unknown(&self, op: &str) -> Response {
        let body = serde_json::json!({
            "__type": "com.amazon.coral.service#UnknownOperationException",
            "message": format!("Hako's SQS does not implement the operation {op}"),
        });
        let mut r = respond(StatusCode::BAD_REQUEST, body.to_string().into_bytes());
        r.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static("UnknownOperationException"),
        );
        r
    }
}
