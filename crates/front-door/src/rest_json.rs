//! The error shape of the REST-JSON protocol (Lambda, EventBridge Scheduler): the code in the
//! `x-amzn-ErrorType` header, a JSON body with the `message`.
//!
//! botocore (`parsers.py`, `RestJSONParser._inject_error_code`) takes the code from
//! `x-amzn-errortype` (before a `:`), else from the body's `code`/`Code`; the message from the
//! body's `message` or `Message`. Lambda's own errors (`hako_control_api::error`) also carry
//! `Type`; what the front door answers itself carries only the message.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

/// An error of the REST-JSON protocol.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(code) {
        h.insert("x-amzn-errortype", v);
    }
    crate::add_request_id(h);
    r
}

/// Whether a response a REST-JSON service produced is already in this shape.
pub(crate) fn is_shaped(r: &Response) -> bool {
    r.headers().contains_key("x-amzn-errortype")
}
