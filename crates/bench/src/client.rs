//! Lean HTTP/1.1 client pieces: endpoint parsing, one persistent keep-alive
//! connection per worker (`hyper::client::conn::http1` over a `TCP_NODELAY`
//! tokio stream) and pre-built request templates.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Dummy SigV4 header; the server accepts any credentials for now.
pub(crate) const DUMMY_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0";

/// Header naming the invocation type (`Event`, `DryRun`).
pub(crate) const X_AMZ_INVOCATION_TYPE: HeaderName =
    HeaderName::from_static("x-amz-invocation-type");
/// Request header asking for the log tail (`Tail`).
pub(crate) const X_AMZ_LOG_TYPE: HeaderName = HeaderName::from_static("x-amz-log-type");
/// Response header carrying the base64 log tail.
pub(crate) const X_AMZ_LOG_RESULT: HeaderName = HeaderName::from_static("x-amz-log-result");
/// Response header set when the function itself failed.
pub(crate) const X_AMZ_FUNCTION_ERROR: HeaderName = HeaderName::from_static("x-amz-function-error");

/// Lambda API version prefix.
pub(crate) const API_PREFIX: &str = "/2015-03-31/functions";

/// A parsed `http://host[:port][/prefix]` endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    host: String,
    port: u16,
    authority: HeaderValue,
    base_path: String,
}

impl Endpoint {
    /// Parses an absolute `http://` URL (TLS is not supported).
    pub(crate) fn parse(s: &str) -> Result<Self> {
        let uri: Uri = s
            .parse()
            .with_context(|| format!("invalid endpoint URL {s:?}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                bail!("unsupported endpoint scheme {other:?}: only http:// is supported")
            }
            None => bail!("endpoint must be an absolute http:// URL, got {s:?}"),
        }
        let auth = uri
            .authority()
            .with_context(|| format!("endpoint {s:?} has no host"))?;
        let host = auth
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            bail!("endpoint {s:?} has an empty host");
        }
        let port = auth.port_u16().unwrap_or(80);
        let host_header = match auth.as_str().rsplit_once('@') {
            Some((_, h)) => h,
            None => auth.as_str(),
        };
        let authority = HeaderValue::from_str(host_header)
            .with_context(|| format!("endpoint {s:?} has an invalid host"))?;
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Self {
            host,
            port,
            authority,
            base_path,
        })
    }

    /// The `Host` header value (`host[:port]`).
    pub(crate) fn authority(&self) -> &HeaderValue {
        &self.authority
    }

    /// Origin-form request target for `path` (which starts with `/`).
    pub(crate) fn uri(&self, path: &str) -> Result<Uri> {
        let full = format!("{}{}", self.base_path, path);
        Uri::try_from(full.as_str()).with_context(|| format!("invalid request path {full:?}"))
    }

    /// Opens one keep-alive connection, bounded by `timeout`.
    pub(crate) async fn connect(&self, timeout: Duration) -> Result<Conn> {
        let connect = async {
            let stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .with_context(|| format!("connecting to {}:{}", self.host, self.port))?;
            stream.set_nodelay(true).context("setting TCP_NODELAY")?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .context("HTTP/1.1 handshake")?;
            let driver = tokio::spawn(async move {
                // Errors surface on the sender side; nothing to do here.
                let _ = conn.await;
            });
            Ok::<_, anyhow::Error>(Conn { sender, driver })
        };
        tokio::time::timeout(timeout, connect)
            .await
            .with_context(|| format!("connect to {}:{} timed out", self.host, self.port))?
    }
}

/// Function path segment (`/2015-03-31/functions/{name}{suffix}`).
pub(crate) fn function_path(function: &str, suffix: &str) -> String {
    format!("{API_PREFIX}/{function}{suffix}")
}

/// One persistent HTTP/1.1 connection; the driver task is aborted on drop.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Conn {
    /// Waits until the connection can take a request; `false` if it closed
    /// (e.g. the server dropped keep-alive) and a new one is needed.
    pub(crate) async fn ready(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }

    /// Sends `req` and reads the whole body, discarding it.
    pub(crate) async fn round_trip(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<http::response::Parts> {
        let resp = self
            .sender
            .send_request(req)
            .await
            .context("sending request")?;
        let (parts, mut body) = resp.into_parts();
        while let Some(frame) = body.frame().await {
            frame.context("reading response body")?;
        }
        Ok(parts)
    }

    /// Sends `req` and collects the whole body.
    pub(crate) async fn round_trip_collect(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes)> {
        let resp = self
            .sender
            .send_request(req)
            .await
            .context("sending request")?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .context("reading response body")?
            .to_bytes();
        Ok((parts, body))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A request built once; [`RequestTemplate::build`] only clones
/// reference-counted pieces plus the header map hyper needs.
#[derive(Debug, Clone)]
pub(crate) struct RequestTemplate {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl RequestTemplate {
    /// A request with `Host`, the dummy `Authorization` and, when the body
    /// is non-empty, `Content-Type: application/json`.
    pub(crate) fn new(
        endpoint: &Endpoint,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Self> {
        let uri = endpoint.uri(path)?;
        let mut headers = HeaderMap::with_capacity(6);
        headers.insert(HOST, endpoint.authority.clone());
        headers.insert(AUTHORIZATION, HeaderValue::from_static(DUMMY_AUTHORIZATION));
        if !body.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(Self {
            method,
            uri,
            headers,
            body,
        })
    }

    /// Adds (replaces) one header.
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// A fresh request ready to send.
    pub(crate) fn build(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_endpoint_variants() {
        let e = Endpoint::parse("http://127.0.0.1:9000").expect("parse");
        assert_eq!(e.host, "127.0.0.1");
        assert_eq!(e.port, 9000);
        assert_eq!(e.authority, "127.0.0.1:9000");
        assert_eq!(e.base_path, "");
        assert_eq!(
            e.uri("/2015-03-31/functions/f/invocations")
                .expect("uri")
                .to_string(),
            "/2015-03-31/functions/f/invocations"
        );

        let e = Endpoint::parse("http://localhost/prefix/").expect("parse");
        assert_eq!(e.port, 80);
        assert_eq!(e.uri("/x").expect("uri").to_string(), "/prefix/x");

        let e = Endpoint::parse("http://[::1]:8080").expect("parse");
        assert_eq!(e.host, "::1");
        assert_eq!(e.authority, "[::1]:8080");
    }

    #[test]
    fn parse_endpoint_rejects_bad_input() {
        assert!(Endpoint::parse("https://example.com").is_err());
        assert!(Endpoint::parse("127.0.0.1:9000").is_err());
        assert!(Endpoint::parse("/just/a/path").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }

    #[test]
    fn template_headers() {
        let e = Endpoint::parse("http://127.0.0.1:9000").expect("parse");
        let t = RequestTemplate::new(
            &e,
            Method::POST,
            &function_path("f", "/invocations"),
            Bytes::from_static(b"{}"),
        )
        .expect("template")
        .with_header(X_AMZ_INVOCATION_TYPE, HeaderValue::from_static("Event"));
        let r = t.build();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.uri(), "/2015-03-31/functions/f/invocations");
        assert_eq!(r.headers()[HOST], "127.0.0.1:9000");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(r.headers()[AUTHORIZATION], DUMMY_AUTHORIZATION);
        assert_eq!(r.headers()[X_AMZ_INVOCATION_TYPE], "Event");
    }
}
