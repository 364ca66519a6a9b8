//! The one place that maps Hako's errors to AWS's error shapes: the `x-amzn-ErrorType` header,
//! the status code, and the `{"Type": ..., "message": ...}` body that botocore parses, whose
//! message key is the one botocore's shape of that exception names (`Message` or `message`).

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
        AccessDenied => ("AccessDeniedException", StatusCode::FORBIDDEN),
        NotImplemented => ("NotImplementedException", StatusCode::NOT_IMPLEMENTED),
        Service => ("ServiceException", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The Lambda exceptions whose botocore shape names its message member `Message` (capital M);
/// every other one, and the exceptions botocore does not model (`ValidationException`), use
/// `message`. From botocore's `data/lambda/2015-03-31/service-2.json`: each `"exception": true`
/// shape's members. AWS answers with that key (LocalStack's AWS-recorded
/// `test_lambda_api.snapshot.json`: a ResourceNotFoundException carries `Message`, an
/// InvalidParameterValueException `message`).
const CAPITAL_MESSAGE: &[&str] = &[
    "CallbackTimeoutException",
    "CodeSigningConfigNotFoundException",
    "CodeVerificationFailedException",
    "DurableExecutionAlreadyStartedException",
    "EC2AccessDeniedException",
    "EC2ThrottledException",
    "EC2UnexpectedException",
    "EFSIOException",
    "EFSMountConnectivityException",
    "EFSMountFailureException",
    "EFSMountTimeoutException",
    "ENILimitReachedException",
    "ENINotReadyException",
    "InvalidCodeSignatureException",
    "InvalidRuntimeException",
    "InvalidSecurityGroupIDException",
    "InvalidSubnetIDException",
    "InvalidZipFileException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "NoPublishedVersionException",
    "PublicPolicyException",
    "RecursiveInvocationException",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "S3FilesMountConnectivityException",
    "S3FilesMountFailureException",
    "S3FilesMountTimeoutException",
    "ServiceException",
    "ServiceQuotaExceededException",
    "SnapStartException",
    "SnapStartNotReadyException",
    "SnapStartRegenerationFailureException",
    "SnapStartTimeoutException",
    "SubnetIPAddressLimitReachedException",
];

/// The key of the message in an error body of type `ty`.
pub fn message_key(ty: &str) -> &'static str {
    if CAPITAL_MESSAGE.contains(&ty) {
        "Message"
    } else {
        "message"
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
        });
        body[message_key(ty)] = serde_json::Value::String(self.0.message);
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: Error) -> serde_json::Value {
        let resp = ApiError(e).into_response();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("the body is in memory");
        serde_json::from_slice(&bytes).expect("the body is JSON")
    }

    #[tokio::test]
    async fn message_key_follows_botocores_shape() {
        let cases = [
            (Error::not_found("gone"), "Message", "User"),
            (Error::invalid("bad"), "message", "User"),
            (Error::validation("bad"), "message", "User"),
            (Error::conflict("busy"), "message", "User"),
            (Error::service("broke"), "Message", "Service"),
            (
                Error::new(ErrorKind::InvalidRuntime, "no"),
                "Message",
                "Service",
            ),
            (
                Error::new(ErrorKind::TooManyRequests, "slow"),
                "message",
                "User",
            ),
        ];
        for (e, key, ty) in cases {
            let want = e.message.clone();
            let body = body_of(e).await;
            let obj = body.as_object().expect("an object");
            assert_eq!(
                obj.get(key),
                Some(&serde_json::Value::String(want)),
                "{body}"
            );
            let other = if key == "Message" {
                "message"
            } else {
                "Message"
            };
            assert!(!obj.contains_key(other), "{body}");
            assert_eq!(obj["Type"], ty, "{body}");
        }
    }
}
