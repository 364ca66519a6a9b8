//! A SigV4-signed request to any AWS API at an endpoint, for the binary's own clients
//! (`hako logs` speaks CloudWatch Logs' JSON protocol and reads a function's configuration with
//! Lambda's REST protocol). Signed as botocore signs (the header form of [`hako_sigv4`]), with
//! the credentials the caller found where the aws CLI would find them.

use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::Full;

use crate::client::{Conn, Endpoint};
use hako_sigv4::{sha256_hex, AmzDate, Credentials, Signer};

const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");

/// Who signs.
#[derive(Debug, Clone)]
pub struct SigningIdentity {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
}

/// An answer: its status and whole body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `x-amzn-ErrorType` (an error's code in the REST protocols), when the answer has one.
    pub error_type: Option<String>,
    pub body: Bytes,
}

/// Requests to one endpoint on one keep-alive connection (made again when the server closed it).
pub struct SignedClient {
    endpoint: Endpoint,
    identity: SigningIdentity,
    timeout: Duration,
    conn: tokio::sync::Mutex<Option<Conn>>,
}

impl std::fmt::Debug for SignedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl SignedClient {
    /// A client of `endpoint` (`http://host:port`), every request bounded by `timeout`.
    pub fn new(endpoint: &str, identity: SigningIdentity, timeout: Duration) -> Result<Self> {
        Ok(Self {
            endpoint: Endpoint::parse(endpoint)?,
            identity,
            timeout,
            conn: tokio::sync::Mutex::new(None),
        })
    }

    /// A JSON-protocol call: `POST /` with `X-Amz-Target: <target>`, signed for `service`.
    pub async fn json(
        &self,
        service: &str,
        target: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<Answer> {
        let extra = [
            ("content-type", content_type.to_string()),
            ("x-amz-target", target.to_string()),
        ];
        self.send(service, Method::POST, "/", &extra, body).await
    }

    /// A REST `GET` of `path` (its segments already percent-encoded), signed for `service`.
    pub async fn get(&self, service: &str, path: &str) -> Result<Answer> {
        self.send(service, Method::GET, path, &[], Bytes::new())
            .await
    }

    /// A REST request with a JSON body (none when empty), signed for `service`.
    pub async fn rest(
        &self,
        service: &str,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Answer> {
        let mut extra = Vec::new();
        if !body.is_empty() {
            extra.push(("content-type", "application/json".to_string()));
        }
        self.send(service, method, path, &extra, body).await
    }

    async fn send(
        &self,
        service: &str,
        method: Method,
        path: &str,
        extra: &[(&str, String)],
        body: Bytes,
    ) -> Result<Answer> {
        let req = self.request(service, method, path, extra, body, &AmzDate::now())?;
        let mut conn = self.conn.lock().await;
        let usable = match conn.as_mut() {
            Some(c) => c.ready().await,
            None => false,
        };
        if !usable {
            *conn = Some(self.endpoint.connect(self.timeout).await?);
        }
        let c = conn.as_mut().context("no connection")?;
        match tokio::time::timeout(self.timeout, c.round_trip_collect(req)).await {
            Ok(Ok((parts, body))) => Ok(Answer {
                status: parts.status.as_u16(),
                error_type: parts
                    .headers
                    .get("x-amzn-errortype")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(':').next().unwrap_or(v).to_string()),
                body,
            }),
            Ok(Err(e)) => {
                *conn = None;
                Err(e)
            }
            Err(_) => {
                *conn = None;
                anyhow::bail!("no answer within {:?}", self.timeout)
            }
        }
    }

    fn request(
        &self,
        service: &str,
        method: Method,
        path: &str,
        extra: &[(&str, String)],
        body: Bytes,
        date: &AmzDate,
    ) -> Result<Request<Full<Bytes>>> {
        let signer = Signer::new(
            Credentials {
                access_key_id: self.identity.access_key_id.clone(),
                secret_access_key: self.identity.secret_access_key.clone(),
                session_token: self.identity.session_token.clone(),
            },
            &self.identity.region,
            service,
        );
        let host = self.endpoint.authority().to_str().unwrap_or_default();
        let mut signed: Vec<(&str, &str)> = vec![("host", host), ("x-amz-date", &date.timestamp)];
        for (n, v) in extra {
            signed.push((n, v));
        }
        if let Some(t) = &self.identity.session_token {
            signed.push(("x-amz-security-token", t));
        }
        let payload = sha256_hex(&body);
        let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
        // Non-S3 services sign each path segment encoded once more (as botocore does).
        let canonical_uri = path_only.replace('%', "%25");
        let authorization = signer.authorization(
            method.as_str(),
            &canonical_uri,
            query,
            &signed,
            &payload,
            date,
        );
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = self.endpoint.uri(path)?;
        let h = req.headers_mut();
        h.insert(HOST, self.endpoint.authority().clone());
        h.insert(X_AMZ_DATE, HeaderValue::from_str(&date.timestamp)?);
        for (n, v) in extra {
            let v = HeaderValue::from_str(v)?;
            match *n {
                "content-type" => h.insert(CONTENT_TYPE, v),
                "x-amz-target" => h.insert(X_AMZ_TARGET, v),
                other => h.insert(HeaderName::from_bytes(other.as_bytes())?, v),
            };
        }
        if let Some(t) = &self.identity.session_token {
            h.insert(X_AMZ_SECURITY_TOKEN, HeaderValue::from_str(t)?);
        }
        h.insert(AUTHORIZATION, HeaderValue::from_str(&authorization)?);
        Ok(req)
    }
}

/// `s` percent-encoded as one URI path segment (RFC 3986's unreserved characters kept).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(token: Option<&str>) -> SignedClient {
        SignedClient::new(
            "http://127.0.0.1:9000",
            SigningIdentity {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: token.map(str::to_string),
                region: "us-east-1".into(),
            },
            Duration::from_secs(1),
        )
        .expect("client")
    }

    #[test]
    fn a_logs_call_is_signed_for_logs_with_its_target() {
        let c = client(Some("tok"));
        let d = AmzDate::from(time::macros::datetime!(2026-12-07 13:30:00 UTC));
        let r = c
            .request(
                "logs",
                Method::POST,
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.1".into()),
                    ("x-amz-target", "Logs_20140328.FilterLogEvents".into()),
                ],
                Bytes::from_static(b"{}"),
                &d,
            )
            .expect("request");
        let h = r.headers();
        assert_eq!(h["x-amz-target"], "Logs_20140328.FilterLogEvents");
        assert_eq!(h["content-type"], "application/x-amz-json-1.1");
        assert_eq!(h["x-amz-security-token"], "tok");
        let auth = h["authorization"].to_str().expect("ascii");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/logs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="),
            "{auth}"
        );
    }

    /// The signature botocore 1.x's `SigV4Auth` computes for the same GET at the same instant (a
    /// path with an encoded `:`).
    #[test]
    fn a_rest_get_signs_its_path_encoded_twice() {
        let c = client(None);
        let d = AmzDate::from(time::macros::datetime!(2026-12-07 13:30:00 UTC));
        let path = format!(
            "/2015-03-31/functions/{}/configuration",
            encode_segment("f:live")
        );
        assert_eq!(path, "/2015-03-31/functions/f%3Alive/configuration");
        let r = c
            .request("lambda", Method::GET, &path, &[], Bytes::new(), &d)
            .expect("request");
        assert_eq!(r.uri(), path.as_str());
        let auth = r.headers()["authorization"].to_str().expect("ascii");
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=86e7a11e4f32798723e423b75de4f04b1ceed74d5f7c8328d079835bfb98cfd2"
        );
    }
}
