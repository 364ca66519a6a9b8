//! The error shape of the REST-XML protocol (S3): an XML body
//! `<Error><Code>CODE</Code><Message>MESSAGE</Message><RequestId>ID</RequestId></Error>`.
//!
//! botocore (`parsers.py`, `RestXMLParser._parse_error_from_body`) reads `Code` and `Message`
//! under the root `Error` (or under `ErrorResponse/Error`). Hako serves no REST-XML service; the
//! front door answers requests for one in the shape its SDK reads.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

/// An error of the REST-XML protocol.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
         <RequestId>{request_id}</RequestId></Error>",
        crate::query::escape(code),
        crate::query::escape(message)
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/xml"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v);
    }
    r
}

/// Whether a response a REST-XML service produced is already in this shape (an XML body).
pub(crate) fn is_shaped(r: &Response) -> bool {
    crate::query::is_shaped(r)
}
