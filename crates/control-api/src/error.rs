//! The one place that maps Hako's errors to AWS's error shapes: the `x-amzn-ErrorType` header,
//! the status code, and the `{"Type": ..., "message": ...}` body that botocore parses.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hako_model::{Error, ErrorKind};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// AWS's error type name and HTTP status for an error kind.
pub fn aws_shape(kind: ErrorKind) -> (&'static str, StatusCode) {
    use ErrorKind::*;
    match kind {
        InvalidParameterValue => ("InvalidParameterValueException", StatusCode::BAD_REQUEST),
        Validation => ("ValidationException", StatusCode::BAD_REQUEST),
        InvalidRequestContent => ("InvalidRequestContentException", StatusCode::BAD_REQUEST),
        ResourceNotFound => ("ResourceNotFoundException", StatusCode::NOT_FOUND),
        ResourceConflict => ("ResourceConflictException", StatusCode::CONFLICT),
        ProvisionedConcurrencyConfigNotFound => (
            "ProvisionedConcurrencyConfigNotFoundException",
            StatusCode::NOT_FOUND,
        ),
        PreconditionFailed => (
            "PreconditionFailedException",
            StatusCode::PRECONDITION_FAILED,
        ),
        RequestTooLarge => ("RequestTooLargeException", StatusCode::PAYLOAD_TOO_LARGE),
        InvalidZipFile => ("InvalidParameterValueException", StatusCode::BAD_REQUEST),
        CodeStorageExceeded => ("CodeStorageExceededException", StatusCode::BAD_REQUEST),
        TooManyRequests => ("TooManyRequestsException", StatusCode::TOO_MANY_REQUESTS),
        UnsupportedMediaType => (
            "UnsupportedMediaTypeException",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        InvalidRuntime => ("InvalidRuntimeException", StatusCode::BAD_GATEWAY),
        NotImplemented => ("NotImplementedException", StatusCode::NOT_IMPLEMENTED),
        Service => ("ServiceException", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (ty, status) = aws_shape(self.0.kind);
        if status.is_server_error() && self.0.kind == ErrorKind::Service {
            tracing::error!(error = %self.0.message, "internal error");
        }
        let mut body = serde_json::json!({
            "Type": if status.is_server_error() { "Service" } else { "User" },
            "message": self.0.message,
        });
        if let Some(reason) = &self.0.reason {
            body["Reason"] = serde_json::Value::String(reason.clone());
        }
        let mut resp = (status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert("x-amzn-errortype", HeaderValue::from_static(ty));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        if self.0.kind == ErrorKind::TooManyRequests {
            h.insert("retry-after", HeaderValue::from_static("1"));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
