//! Authentication at the front door: a request for an AWS service is verified before its
//! router sees it, and refused in its protocol's shape with its service's codes:
//!
//! | refusal | JSON and REST-JSON services (Lambda, Kinesis, Logs, Scheduler) | query services (STS, IAM) and SQS |
//! |---|---|---|
//! | no signature | 403 `MissingAuthenticationTokenException` "Missing Authentication Token" | 403 `MissingAuthenticationToken` "Request is missing Authentication Token" |
//! | unknown key, wrong session token, deleted function | 403 `UnrecognizedClientException` | 403 `InvalidClientTokenId` |
//! | signature mismatch, too old, too new | 403 `InvalidSignatureException` | 403 `SignatureDoesNotMatch` |
//! | session expired | 403 `ExpiredTokenException` | 403 `ExpiredToken` |
//! | malformed signature | 403 `IncompleteSignatureException` | 400 `IncompleteSignature` |
//!
//! The message is AWS's ("The security token included in the request is invalid.", "The
//! request signature we calculated does not match the signature you provided. ..."). Sources:
//! AWS's common errors of the query APIs (STS, IAM, SQS: `InvalidClientTokenId`,
//! `SignatureDoesNotMatch`, `MissingAuthenticationToken`, `IncompleteSignature`,
//! `ExpiredToken`), moto's `core/exceptions.py` (the query codes and messages), AWS's
//! knowledge center for Lambda's `InvalidSignatureException` ("Signature expired: ..."),
//! `scratchstack-aws-signature` (AWS's order of checks, the 400 of a malformed signature on
//! the query services). SQS's JSON protocol answers its query codes (it is
//! `awsQueryCompatible`: the code also in `x-amzn-query-error`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::Response;
use hako_auth::{AuthError, Authenticator, Principal};

use crate::known::AwsService;
use crate::{json, query, rest_json, rest_xml, Protocol};

/// How the front door authenticates requests for AWS services.
#[derive(Clone, Default)]
pub enum Auth {
    /// Not at all, and no principal in the requests (tests of the door itself).
    #[default]
    Off,
    /// Not at all (`--auth none`): every request is `principal`'s (the root).
    None(Principal),
    /// SigV4: every request must be signed; its body is read (at most `max_body_bytes`) to
    /// check the payload hash.
    SigV4 {
        verifier: Arc<dyn Authenticator>,
        max_body_bytes: usize,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Off => f.write_str("Off"),
            Auth::None(p) => write!(f, "None({})", p.arn),
            Auth::SigV4 { max_body_bytes, .. } => write!(f, "SigV4({max_body_bytes})"),
        }
    }
}

impl Auth {
    /// Verifies `req` for `service` (spoken in `protocol`): the request with its principal, or
    /// the refusal.
    pub(crate) async fn check(
        &self,
        req: Request<Body>,
        protocol: Protocol,
        service: &AwsService,
    ) -> Result<Request<Body>, Response> {
        match self {
            Auth::Off => Ok(req),
            Auth::None(principal) => {
                let mut req = req;
                req.extensions_mut().insert(principal.clone());
                Ok(req)
            }
            Auth::SigV4 {
                verifier,
                max_body_bytes,
            } => {
                let (mut parts, body) = req.into_parts();
                use http_body_util::BodyExt;
                let body = match http_body_util::Limited::new(body, *max_body_bytes)
                    .collect()
                    .await
                {
                    Ok(b) => b.to_bytes(),
                    Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                        return Err(protocol.error(
                            crate::Failure::TooLarge(StatusCode::PAYLOAD_TOO_LARGE),
                            &format!("The request's body is larger than {max_body_bytes} bytes"),
                        ))
                    }
                    Err(e) => {
                        return Err(protocol.error(
                            crate::Failure::BadRequest(StatusCode::BAD_REQUEST),
                            &format!("Could not read the request body: {e}"),
                        ))
                    }
                };
                match verifier.authenticate(&parts, &body) {
                    Ok(principal) => {
                        parts.extensions.insert(principal);
                        Ok(Request::from_parts(parts, Body::from(body)))
                    }
                    Err(e) => Err(refusal(protocol, service, &e)),
                }
            }
        }
    }
}

/// The answer to a refused request, in `protocol`'s shape with `service`'s codes.
pub fn refusal(protocol: Protocol, service: &AwsService, e: &AuthError) -> Response {
    let query_codes = protocol == Protocol::Query || service.name == "sqs";
    let (status, code, message) = if query_codes {
        match e {
            AuthError::MissingToken => (
                StatusCode::FORBIDDEN,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            ),
            AuthError::InvalidToken => (StatusCode::FORBIDDEN, "InvalidClientTokenId", e.message()),
            AuthError::ExpiredToken => (StatusCode::FORBIDDEN, "ExpiredToken", e.message()),
            AuthError::Incomplete(m) => {
                (StatusCode::BAD_REQUEST, "IncompleteSignature", m.as_str())
            }
            AuthError::BadSignature(m) => {
                (StatusCode::FORBIDDEN, "SignatureDoesNotMatch", m.as_str())
            }
        }
    } else {
        let code = match e {
            AuthError::MissingToken => "MissingAuthenticationTokenException",
            AuthError::InvalidToken => "UnrecognizedClientException",
            AuthError::ExpiredToken => "ExpiredTokenException",
            AuthError::Incomplete(_) => "IncompleteSignatureException",
            AuthError::BadSignature(_) => "InvalidSignatureException",
        };
        (StatusCode::FORBIDDEN, code, e.message())
    };
    match protocol {
        Protocol::RestJson => rest_json::error(status, code, message),
        Protocol::Json(v) => {
            let mut r = json::error(v, status, code, message);
            if query_codes {
                if let Ok(h) = HeaderValue::from_str(&format!("{code};Sender")) {
                    r.headers_mut().insert("x-amzn-query-error", h);
                }
            }
            r
        }
        Protocol::Query => query::error(status, code, message),
        Protocol::RestXml => rest_xml::error(status, code, message),
    }
}
