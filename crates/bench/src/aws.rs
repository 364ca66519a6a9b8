//! A lean client of AWS's JSON protocols (SQS's `x-amz-json-1.0`, Kinesis's
//! `x-amz-json-1.1`) as boto3 speaks them: `POST /` with `X-Amz-Target:
//! <prefix>.<Operation>`, a JSON body, and a SigV4 `Authorization` header.

use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::Full;
use serde::de::DeserializeOwned;

use crate::client::{Conn, Endpoint};
use crate::load::ErrorCounts;
use hako_sigv4::{sha256_hex, AmzDate, Credentials, Signer};

const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
/// boto3 sends (and signs) it on SQS's JSON requests: the service is
/// `awsQueryCompatible`, and the header asks for query-compatible error codes.
const X_AMZN_QUERY_MODE: HeaderName = HeaderName::from_static("x-amzn-query-mode");

/// One of the JSON-protocol services the modes speak.
pub(crate) use hako_sigv4::JsonService as Service;

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// An answer with another status than 200 (the body, for the report).
    Status(u16, String),
    /// A 200 whose body is not what the operation answers, or that reports
    /// failed entries.
    Answer(String),
    /// Send or receive failed; the connection is unusable.
    Transport(anyhow::Error),
    /// No answer within the request timeout; the connection is unusable.
    Timeout(Duration),
}

impl CallError {
    /// Counts the failure in `e`.
    pub(crate) fn count(&self, e: &mut ErrorCounts) {
        match self {
            CallError::Status(s, _) => *e.status.entry(*s).or_default() += 1,
            CallError::Answer(_) => e.answer += 1,
            CallError::Transport(_) => e.transport += 1,
            CallError::Timeout(_) => e.timeout += 1,
        }
        e.note(|| self.to_string());
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status(s, body) => write!(f, "HTTP {s}: {body}"),
            CallError::Answer(m) => write!(f, "unexpected answer: {m}"),
            CallError::Transport(e) => write!(f, "{e:#}"),
            CallError::Timeout(d) => write!(f, "request timed out after {d:?}"),
        }
    }
}

impl From<CallError> for anyhow::Error {
    fn from(e: CallError) -> Self {
        anyhow!("{e}")
    }
}

/// A request body prepared once: its bytes, payload hash and target, so a
/// loop that sends it again only signs.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    target: HeaderValue,
    body: Bytes,
    sha256: String,
}

/// The JSON API of one service at one endpoint, with the signer.
#[derive(Debug)]
pub(crate) struct JsonApi {
    service: Service,
    endpoint: Endpoint,
    uri: Uri,
    signer: Signer,
    request_timeout: Duration,
}

impl JsonApi {
    pub(crate) fn new(
        service: Service,
        endpoint: Endpoint,
        credentials: Credentials,
        region: &str,
        request_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let uri = endpoint.uri("/")?;
        Ok(Self {
            service,
            signer: Signer::new(credentials, region, service.signing_name()),
            endpoint,
            uri,
            request_timeout,
        })
    }

    /// Opens a connection bounded by the request timeout.
    pub(crate) async fn connect(&self) -> anyhow::Result<Conn> {
        self.endpoint.connect(self.request_timeout).await
    }

    /// The connection in `conn`, or a new one when there is none or the
    /// server closed it (moto's server closes after every answer).
    async fn ready<'c>(&self, conn: &'c mut Option<Conn>) -> Result<&'c mut Conn, CallError> {
        let usable = match conn.as_mut() {
            Some(c) => c.ready().await,
            None => false,
        };
        if !usable {
            *conn = Some(self.connect().await.map_err(CallError::Transport)?);
        }
        conn.as_mut()
            .ok_or_else(|| CallError::Transport(anyhow!("no connection")))
    }

    /// Prepares `operation` with a JSON body.
    pub(crate) fn prepare(&self, operation: &str, body: &serde_json::Value) -> Prepared {
        let body = Bytes::from(body.to_string());
        let target = format!("{}.{operation}", self.service.target_prefix());
        Prepared {
            // Operation names are ASCII identifiers.
            target: HeaderValue::from_str(&target).expect("ASCII target"),
            sha256: sha256_hex(&body),
            body,
        }
    }

    /// The signed request for `p`, dated `date`.
    pub(crate) fn request(&self, p: &Prepared, date: &AmzDate) -> Request<Full<Bytes>> {
        let host = self.endpoint.authority();
        let content_type = self.service.content_type();
        let target = p.target.to_str().unwrap_or_default();
        let token = self.signer.credentials().session_token.as_deref();
        let mut signed: Vec<(&str, &str)> = vec![
            ("host", host.to_str().unwrap_or_default()),
            ("content-type", content_type),
            ("x-amz-target", target),
            ("x-amz-date", &date.timestamp),
        ];
        if self.service == Service::Sqs {
            signed.push(("x-amzn-query-mode", "true"));
        }
        if let Some(t) = token {
            signed.push(("x-amz-security-token", t));
        }
        let authorization = self
            .signer
            .authorization("POST", "/", "", &signed, &p.sha256, date);

        let mut req = Request::new(Full::new(p.body.clone()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.uri.clone();
        let h = req.headers_mut();
        h.insert(HOST, host.clone());
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(X_AMZ_TARGET, p.target.clone());
        if let Ok(v) = HeaderValue::from_str(&date.timestamp) {
            h.insert(X_AMZ_DATE, v);
        }
        if self.service == Service::Sqs {
            h.insert(X_AMZN_QUERY_MODE, HeaderValue::from_static("true"));
        }
        if let Some(v) = token.and_then(|t| HeaderValue::from_str(t).ok()) {
            h.insert(X_AMZ_SECURITY_TOKEN, v);
        }
        if let Ok(v) = HeaderValue::from_str(&authorization) {
            h.insert(AUTHORIZATION, v);
        }
        req
    }

    /// Sends `p` (signed now) on `conn`, reconnecting first when needed,
    /// and returns the body of a 200. A broken connection is dropped.
    pub(crate) async fn send(
        &self,
        conn: &mut Option<Conn>,
        p: &Prepared,
    ) -> Result<Bytes, CallError> {
        let c = self.ready(conn).await?;
        let req = self.request(p, &AmzDate::now());
        let res = tokio::time::timeout(self.request_timeout, c.round_trip_collect(req)).await;
        match res {
            Err(_) => {
                *conn = None;
                Err(CallError::Timeout(self.request_timeout))
            }
            Ok(Err(e)) => {
                *conn = None;
                Err(CallError::Transport(e))
            }
            Ok(Ok((parts, body))) if parts.status == StatusCode::OK => Ok(body),
            Ok(Ok((parts, body))) => Err(CallError::Status(
                parts.status.as_u16(),
                String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            )),
        }
    }

    /// Prepares, sends and parses one call.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        conn: &mut Option<Conn>,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<T, CallError> {
        let p = self.prepare(operation, body);
        let answer = self.send(conn, &p).await?;
        parse(operation, &answer)
    }
}

/// Parses the answer of `operation`.
pub(crate) fn parse<T: DeserializeOwned>(operation: &str, body: &[u8]) -> Result<T, CallError> {
    serde_json::from_slice(body).map_err(|e| {
        CallError::Answer(format!(
            "{operation}: {e}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn api(service: Service, token: Option<&str>) -> JsonApi {
        JsonApi::new(
            service,
            Endpoint::parse("http://127.0.0.1:9000").expect("endpoint"),
            Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: token.map(str::to_string),
            },
            "us-east-1",
            Duration::from_secs(1),
        )
        .expect("api")
    }

    /// The request boto3 1.44 sends for SendMessage (headers and signed
    /// headers as botocore's before-send event showed them).
    #[test]
    fn sqs_request_as_boto3_sends_it() {
        let a = api(Service::Sqs, None);
        let p = a.prepare("SendMessage", &json!({"QueueUrl": "u", "MessageBody": "x"}));
        let d = AmzDate::from(time::macros::datetime!(2026-12-07 13:30:00 UTC));
        let r = a.request(&p, &d);
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.uri(), "/");
        let h = r.headers();
        assert_eq!(h["host"], "127.0.0.1:9000");
        assert_eq!(h["x-amz-target"], "AmazonSQS.SendMessage");
        assert_eq!(h["content-type"], "application/x-amz-json-1.0");
        assert_eq!(h["x-amzn-query-mode"], "true");
        assert_eq!(h["x-amz-date"], "20261207T133000Z");
        let auth = h["authorization"].to_str().expect("ascii");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target;x-amzn-query-mode, Signature="
            ),
            "{auth}"
        );
        assert!(h.get("x-amz-security-token").is_none());
        let body: serde_json::Value = serde_json::from_slice(&p.body).expect("the body is JSON");
        assert_eq!(body, json!({"QueueUrl": "u", "MessageBody": "x"}));
    }

    #[test]
    fn kinesis_request_and_session_token() {
        let a = api(Service::Kinesis, Some("tok"));
        let p = a.prepare("PutRecords", &json!({"StreamName": "s", "Records": []}));
        let d = AmzDate::from(time::macros::datetime!(2026-12-07 13:30:00 UTC));
        let r = a.request(&p, &d);
        let h = r.headers();
        assert_eq!(h["x-amz-target"], "Kinesis_20131202.PutRecords");
        assert_eq!(h["content-type"], "application/x-amz-json-1.1");
        assert_eq!(h["x-amz-security-token"], "tok");
        assert!(h.get("x-amzn-query-mode").is_none());
        let auth = h["authorization"].to_str().expect("ascii");
        assert!(
            auth.contains(
                "/20261207/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
            ),
            "{auth}"
        );
    }

    #[test]
    fn call_errors_are_counted_by_kind() {
        let mut e = ErrorCounts::default();
        CallError::Status(400, "bad".into()).count(&mut e);
        CallError::Answer("Failed: 1".into()).count(&mut e);
        CallError::Timeout(Duration::from_secs(1)).count(&mut e);
        CallError::Transport(anyhow!("reset")).count(&mut e);
        assert_eq!(e.status.get(&400), Some(&1));
        assert_eq!((e.answer, e.timeout, e.transport), (1, 1, 1));
        assert_eq!(e.total(), 4);
        assert_eq!(e.first.as_deref(), Some("HTTP 400: bad"));
    }
}
