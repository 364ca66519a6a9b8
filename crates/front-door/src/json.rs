//! The error shape of the AWS JSON protocols (`awsJson1_0`, `awsJson1_1`: SQS, Kinesis,
//! CloudWatch Logs): a JSON body `{"__type": CODE, "message": MESSAGE}` of content type
//! `application/x-amz-json-1.0` or `-1.1`, with the code also in `x-amzn-ErrorType`.
//!
//! botocore (`parsers.py`, `BaseJSONParser._do_error_parse`) takes the code from `__type` (the
//! part after a `#`, before a `:`) and the message from `message` or `Message`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

/// The version of the JSON protocol (botocore's `metadata.jsonVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonVersion {
    V1_0,
    V1_1,
}

impl JsonVersion {
    /// The content type of requests and responses of this version.
    pub fn content_type(self) -> &'static str {
        match self {
            JsonVersion::V1_0 => "application/x-amz-json-1.0",
            JsonVersion::V1_1 => "application/x-amz-json-1.1",
        }
    }

    /// The version a request's `Content-Type` names (1.1 when it names neither).
    pub fn of_content_type(content_type: Option<&str>) -> JsonVersion {
        match content_type {
            Some(ct) if ct.starts_with("application/x-amz-json-1.0") => JsonVersion::V1_0,
            _ => JsonVersion::V1_1,
        }
    }
}

/// An error of the JSON protocol.
pub fn error(version: JsonVersion, status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static(version.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        h.insert("x-amzn-errortype", v);
    }
    crate::add_request_id(h);
    r
}

/// Whether a response a JSON service produced is already in this shape.
pub(crate) fn is_shaped(r: &Response) -> bool {
    r.headers().contains_key("x-amzn-errortype")
}
