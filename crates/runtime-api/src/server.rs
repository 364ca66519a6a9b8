//! The HTTP side: a minimal hyper HTTP/1.1 server per sandbox, routing the four Runtime API
//! calls to the sandbox's [`Slot`].

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::slot::{Outcome, ResponseStream, Slot, StreamEnd, StreamItem};
use crate::{MAX_RESPONSE_BYTES, MAX_STREAM_BYTES};

const PREFIX: &str = "/2018-06-01/runtime/";

/// A running Runtime API server; dropping it stops accepting and closes its connections.
#[derive(Debug)]
pub struct RuntimeApiServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for RuntimeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the Runtime API for `slot` on `listener`.
pub fn serve(listener: TcpListener, slot: Arc<Slot>) -> std::io::Result<RuntimeApiServer> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let slot = slot.clone();
            // The runtime this connection belongs to: once the slot is reset, its requests are
            // refused (the connection is closed).
            let epoch = slot.epoch();
            conns.spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let svc = hyper::service::service_fn(move |req| {
                    let slot = slot.clone();
                    async move {
                        if slot.epoch() != epoch {
                            return Err(std::io::Error::other("a connection of a reset runtime"));
                        }
                        Ok(route(req, &slot).await)
                    }
                });
                // Header names as AWS's Runtime API writes them (`Lambda-Runtime-Aws-Request-Id`,
                // Go's canonical form): a runtime client may match them case-sensitively.
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .title_case_headers(true)
                    .serve_connection(io, svc)
                    .await;
            });
            // Reap finished connection tasks so the set does not grow.
            while conns.try_join_next().is_some() {}
        }
    });
    Ok(RuntimeApiServer { addr, task })
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string();
    json(status, body)
}

fn accepted() -> Response<Full<Bytes>> {
    json(StatusCode::ACCEPTED, &b"{\"status\":\"OK\"}"[..])
}

async fn route(req: Request<Incoming>, slot: &Slot) -> Response<Full<Bytes>> {
    let Some(rest) = req.uri().path().strip_prefix(PREFIX) else {
        return error(
            StatusCode::NOT_FOUND,
            "InvalidPath",
            "unknown Runtime API path",
        );
    };
    let rest = rest.to_string();
    match (req.method(), rest.as_str()) {
        (&Method::GET, "invocation/next") => next(slot).await,
        (&Method::POST, "init/error") => {
            let error_type = error_type_header(&req);
            match read_body(req.into_body(), MAX_RESPONSE_BYTES).await {
                Ok(body) => {
                    slot.init_error(error_type, body);
                    accepted()
                }
                Err(r) => r,
            }
        }
        (&Method::POST, path) => {
            let Some((id, what)) = path
                .strip_prefix("invocation/")
                .and_then(|p| p.rsplit_once('/'))
            else {
                return error(
                    StatusCode::NOT_FOUND,
                    "InvalidPath",
                    "unknown Runtime API path",
                );
            };
            let id = id.to_string();
            if what != "response" && what != "error" {
                return error(
                    StatusCode::NOT_FOUND,
                    "InvalidPath",
                    "unknown Runtime API path",
                );
            }
            if !slot.is_inflight(&id) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID",
                    "Invalid request ID",
                );
            }
            if what == "response" && is_streaming(&req) {
                return stream_response(req, &id, slot).await;
            }
            let error_type = error_type_header(&req);
            let body = read_body(req.into_body(), MAX_RESPONSE_BYTES).await;
            match (what, body) {
                ("response", Ok(body)) => {
                    slot.complete(&id, Outcome::Response(body));
                    accepted()
                }
                (_, Ok(body)) => {
                    slot.complete(&id, Outcome::Error { error_type, body });
                    accepted()
                }
                (_, Err(r)) => {
                    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        slot.complete(&id, Outcome::ResponseTooLarge);
                    }
                    r
                }
            }
        }
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidPath",
            "method not allowed",
        ),
    }
}

fn error_type_header(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether a `POST /response` streams (`Lambda-Runtime-Function-Response-Mode: streaming`).
fn is_streaming(req: &Request<Incoming>) -> bool {
    req.headers()
        .get("lambda-runtime-function-response-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("streaming"))
}

/// How many chunks may wait for the engine before the runtime's POST is read no further.
const STREAM_CHANNEL: usize = 16;

/// A streamed `POST /invocation/{id}/response`: the engine gets the stream at once, then each
/// chunk as it is read, then how the body ended (error trailers, or the limit passed). Answered
/// 202 once the body has ended; 413 past [`MAX_STREAM_BYTES`]; a body cut short (the runtime
/// went away) closes the channel without an end.
async fn stream_response(req: Request<Incoming>, id: &str, slot: &Slot) -> Response<Full<Bytes>> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_CHANNEL);
    if !slot.complete(
        id,
        Outcome::Stream(ResponseStream {
            content_type,
            body: rx,
        }),
    ) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        );
    }
    let mut body = req.into_body();
    let mut total = 0usize;
    let mut trailers = None;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    total += data.len();
                    if total > MAX_STREAM_BYTES {
                        let _ = tx.send(StreamItem::End(StreamEnd::TooLarge)).await;
                        return error(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "RequestEntityTooLarge",
                            &format!(
                                "Exceeded maximum allowed payload size ({MAX_STREAM_BYTES} bytes)."
                            ),
                        );
                    }
                    // The engine has stopped listening (a timeout): the rest is not wanted.
                    if !data.is_empty() && tx.send(StreamItem::Chunk(data)).await.is_err() {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "InvalidRequestID",
                            "Invalid request ID",
                        );
                    }
                }
                Err(frame) => trailers = frame.into_trailers().ok(),
            },
            // Cut short: the channel closes without an end.
            Some(Err(_)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "could not read the request body",
                )
            }
        }
    }
    let end = match trailers.as_ref().and_then(stream_error) {
        Some((error_type, body)) => StreamEnd::Error { error_type, body },
        None => StreamEnd::Complete,
    };
    let _ = tx.send(StreamItem::End(end)).await;
    accepted()
}

/// The error a streamed response's trailers report: `Lambda-Runtime-Function-Error-Type` and
/// `Lambda-Runtime-Function-Error-Body`, base64 as AWS's clients send it (taken as it is when it
/// is not base64).
fn stream_error(trailers: &http::HeaderMap) -> Option<(Option<String>, Bytes)> {
    use base64::Engine as _;
    let error_type = trailers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let raw = trailers.get("lambda-runtime-function-error-body");
    if error_type.is_none() && raw.is_none() {
        return None;
    }
    let body = raw
        .map(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .map(Bytes::from)
                .unwrap_or_else(|_| Bytes::copy_from_slice(v.as_bytes()))
        })
        .unwrap_or_default();
    Some((error_type, body))
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({limit} bytes)."),
            ))
        }
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "could not read the request body",
        )),
    }
}

async fn next(slot: &Slot) -> Response<Full<Bytes>> {
    let inv = match slot.next() {
        Ok(inv) => inv,
        Err(rx) => match rx.await {
            Ok(inv) => inv,
            Err(_) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceException",
                    "the sandbox is shutting down",
                )
            }
        },
    };
    // An Invoke without a payload reaches the function as `{}`, as on AWS.
    let payload = if inv.payload.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        inv.payload
    };
    let mut r = json(StatusCode::OK, payload);
    let h = r.headers_mut();
    let put = |h: &mut http::HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    put(h, "lambda-runtime-aws-request-id", &inv.request_id);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    put(
        h,
        "lambda-runtime-deadline-ms",
        &(now_ms + inv.timeout_ms).to_string(),
    );
    put(h, "lambda-runtime-invoked-function-arn", &inv.function_arn);
    put(h, "lambda-runtime-trace-id", &inv.trace_id);
    if let Some(cc) = &inv.client_context {
        put(h, "lambda-runtime-client-context", cc);
    }
    if let Some(ci) = &inv.cognito_identity {
        put(h, "lambda-runtime-cognito-identity", ci);
    }
    r
}

#[cfg(test)]
mod tests {
    //! What a runtime sees on the wire. The reference is AWS's Runtime API documentation
    //! (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html: paths, the
    //! `Lambda-Runtime-*` headers, 202 on the posts, 413 for an oversized response) and its OpenAPI
    //! specification (runtime-api.zip), and the Runtime Interface Emulator's renderings
    //! (aws-lambda-runtime-interface-emulator, `rapi/rendering`: `{"status":"OK"}` with 202,
    //! 400 `InvalidRequestID` "Invalid request ID", 413 `RequestEntityTooLarge` "Exceeded maximum
    //! allowed payload size (N bytes).").
    use super::*;
    use crate::slot::{Invocation, Ready, ResponseStream, StreamEnd, StreamItem};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    const BOUND: Duration = Duration::from_secs(5);

    async fn server() -> (RuntimeApiServer, Arc<Slot>) {
        let slot = Arc::new(Slot::new());
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        (serve(l, slot.clone()).unwrap(), slot)
    }

    struct Reply {
        status: u16,
        /// The header lines as sent (name and value, in order).
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }
        fn body_str(&self) -> &str {
            std::str::from_utf8(&self.body).unwrap()
        }
    }

    /// Sends `head` (and `body`) on `conn` and reads one response.
    async fn exchange(conn: &mut TcpStream, head: &str, body: &[u8]) -> Reply {
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(body).await.unwrap();
        tokio::time::timeout(BOUND, read_reply(conn)).await.unwrap()
    }

    async fn read_reply(conn: &mut TcpStream) -> Reply {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            assert_eq!(conn.read(&mut byte).await.unwrap(), 1, "connection closed");
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body).await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn post(path: &str, body: &[u8], extra: &str) -> String {
        format!(
            "POST /2018-06-01/runtime/{path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{extra}\r\n",
            body.len()
        )
    }

    const NEXT: &str = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";

    fn invocation(id: &str, payload: &'static [u8]) -> Invocation {
        Invocation {
            request_id: id.into(),
            payload: Bytes::from_static(payload),
            timeout_ms: 3000,
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f:prod".into(),
            trace_id: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
                .into(),
            client_context: Some("{\"custom\":{\"k\":\"v\"}}".into()),
            cognito_identity: Some("{\"cognitoIdentityId\":\"id\"}".into()),
        }
    }

    fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    #[tokio::test]
    async fn next_carries_the_event_and_aws_headers() {
        let (srv, slot) = server().await;
        let mut conn = TcpStream::connect(srv.addr).await.unwrap();
        let (tx, _rx) = oneshot::channel();
        slot.deliver(
            invocation("8476a536-e9f4-11e8-9739-2dfe598c3fcd", b"{\"k\":1}"),
            tx,
        );
        let before = now_ms();
        let r = exchange(&mut conn, NEXT, b"").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "{\"k\":1}");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(
            r.header("Lambda-Runtime-Aws-Request-Id"),
            Some("8476a536-e9f4-11e8-9739-2dfe598c3fcd")
        );
        let deadline: u64 = r
            .header("Lambda-Runtime-Deadline-Ms")
            .unwrap()
            .parse()
            .unwrap();
        // The deadline is counted from when the runtime receives the event.
        assert!(
            deadline >= before + 3000 && deadline <= now_ms() + 3000,
            "{deadline}"
        );
        assert_eq!(
            r.header("Lambda-Runtime-Invoked-Function-Arn"),
            Some("arn:aws:lambda:us-east-1:000000000000:function:f:prod")
        );
        assert_eq!(
            r.header("Lambda-Runtime-Trace-Id"),
            Some("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        );
        assert_eq!(
            r.header("Lambda-Runtime-Client-Context"),
            Some("{\"custom\":{\"k\":\"v\"}}")
        );
        assert_eq!(
            r.header("Lambda-Runtime-Cognito-Identity"),
            Some("{\"cognitoIdentityId\":\"id\"}")
        );
        assert_eq!(
            tokio::time::timeout(BOUND, slot.ready()).await.unwrap(),
            Ready::Parked
        );
    }

    #[tokio::test]
    async fn a_connection_of_a_runtime_before_a_reset_is_refused() {
        let (srv, slot) = server().await;
        let mut old = TcpStream::connect(srv.addr).await.unwrap();
        let r = exchange(
            &mut old,
            "GET /2018-06-01/unknown HTTP/1.1\r\nHost: x\r\n\r\n",
            b"",
        )
        .await;
        assert_eq!(r.status, 404);
        slot.reset();
        old.write_all(NEXT.as_bytes()).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(BOUND, old.read(&mut buf))
            .await
            .unwrap();
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "the old connection was answered"
        );
        assert!(slot.parked_at().is_none());
        // The new runtime's connection is served.
        let mut new = TcpStream::connect(srv.addr).await.unwrap();
        new.write_all(NEXT.as_bytes()).await.unwrap();
        tokio::time::timeout(BOUND, slot.ready()).await.unwrap();
        assert!(slot.parked_at().is_some());
    }

    #[tokio::test]
    async fn next_blocks_until_an_event_and_an_empty_payload_is_an_empty_object() {
        let (srv, slot) = server().await;
        let mut conn = TcpStream::connect(srv.addr).await.unwrap();
        conn.write_all(NEXT.as_bytes()).await.unwrap();
        tokio::time::timeout(BOUND, slot.ready()).await.unwrap();
        let mut inv = invocation("r1", b"");
        inv.client_context = None;
        inv.cognito_identity = None;
        let (tx, _rx) = oneshot::channel();
        slot.deliver(inv, tx);
        let r = tokio::time::timeout(BOUND, read_reply(&mut conn))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "{}");
        assert_eq!(r.header("Lambda-Runtime-Aws-Request-Id"), Some("r1"));
        // Absent, not empty, without a client context or identity.
        assert!(r.header("Lambda-Runtime-Client-Context").is_none());
        assert!(r.header("Lambda-Runtime-Cognito-Identity").is_none());
    }

    #[tokio::test]
    async fn response_is_accepted_once_and_reaches_the_engine() {
        let (_srv, _slot, mut conn, rx) = taken().await;
        let r = exchange(
            &mut conn,
            &post("invocation/r1/response", b"\"hi\"", ""),
            b"\"hi\"",
        )
        .await;
        assert_eq!(r.status, 202);
        assert_eq!(r.body_str(), "{\"status\":\"OK\"}");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(
            rx.await.unwrap(),
            Outcome::Response(Bytes::from_static(b"\"hi\""))
        );
        // A second answer to the same invocation is refused.
        let r = exchange(&mut conn, &post("invocation/r1/response", b"1", ""), b"1").await;
        assert_eq!(r.status, 400);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
        );
    }

    #[tokio::test]
    async fn an_unknown_request_id_is_400_invalid_request_id() {
        let (srv, slot) = server().await;
        let mut conn = TcpStream::connect(srv.addr).await.unwrap();
        let (tx, _rx) = oneshot::channel();
        slot.deliver(invocation("r1", b"{}"), tx);
        for what in ["response", "error"] {
            let path = format!("invocation/nope/{what}");
            let r = exchange(&mut conn, &post(&path, b"{}", ""), b"{}").await;
            assert_eq!(r.status, 400, "{what}");
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["errorType"], "InvalidRequestID");
            assert_eq!(v["errorMessage"], "Invalid request ID");
        }
        assert!(slot.is_inflight("r1"));
    }

    #[tokio::test]
    async fn error_keeps_the_error_type_header_and_body() {
        let (_srv, _slot, mut conn, rx) = taken().await;
        let body = br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#;
        let head = post(
            "invocation/r1/error",
            body,
            "Lambda-Runtime-Function-Error-Type: Unhandled\r\n",
        );
        let r = exchange(&mut conn, &head, body).await;
        assert_eq!(r.status, 202);
        assert_eq!(r.body_str(), "{\"status\":\"OK\"}");
        assert_eq!(
            rx.await.unwrap(),
            Outcome::Error {
                error_type: Some("Unhandled".into()),
                body: Bytes::from_static(body),
            }
        );
    }

    #[tokio::test]
    async fn an_oversized_response_is_413_and_fails_the_invocation() {
        let (srv, _slot, mut conn, rx) = taken().await;
        let body = vec![b'x'; MAX_RESPONSE_BYTES + 1];
        let head = post("invocation/r1/response", &body, "");
        conn.write_all(head.as_bytes()).await.unwrap();
        // The server may answer before reading it all: write in the background.
        let (mut rd, mut wr) = conn.into_split();
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(&body).await;
            wr
        });
        let r = tokio::time::timeout(BOUND, async {
            let mut conn_rd = Vec::new();
            let mut byte = [0u8; 1];
            while !conn_rd.ends_with(b"\r\n\r\n") {
                assert_eq!(rd.read(&mut byte).await.unwrap(), 1);
                conn_rd.push(byte[0]);
            }
            String::from_utf8(conn_rd).unwrap()
        })
        .await
        .unwrap();
        assert!(r.starts_with("HTTP/1.1 413 "), "{r}");
        assert_eq!(
            tokio::time::timeout(BOUND, rx).await.unwrap().unwrap(),
            Outcome::ResponseTooLarge
        );
        drop(writer);
        drop(srv);
    }

    #[tokio::test]
    async fn the_413_body_names_the_limit() {
        let r = read_body_limited(b"12345", 4).await.unwrap_err();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "errorMessage": "Exceeded maximum allowed payload size (4 bytes).",
                "errorType": "RequestEntityTooLarge"
            })
        );
    }

    /// `read_body` over an in-memory body (the limit is a parameter).
    async fn read_body_limited(
        data: &'static [u8],
        limit: usize,
    ) -> Result<Bytes, Response<Full<Bytes>>> {
        // A real `Incoming` only comes from a connection: serve one request that reads its body
        // with `limit`.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(parking_lot::Mutex::new(Some(tx)));
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let tx = tx.clone();
                async move {
                    let r = read_body(req.into_body(), limit).await;
                    if let Some(tx) = tx.lock().take() {
                        let _ = tx.send(r);
                    }
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                .await;
        });
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let head = post("x", data, "");
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(data).await.unwrap();
        tokio::time::timeout(BOUND, rx).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn init_error_is_accepted_and_reported_to_the_engine() {
        let (srv, slot) = server().await;
        let mut conn = TcpStream::connect(srv.addr).await.unwrap();
        let body = br#"{"errorMessage":"Unable to import module 'app'","errorType":"Runtime.ImportModuleError"}"#;
        let head = post(
            "init/error",
            body,
            "Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\r\n",
        );
        let r = exchange(&mut conn, &head, body).await;
        assert_eq!(r.status, 202);
        assert_eq!(r.body_str(), "{\"status\":\"OK\"}");
        assert_eq!(
            tokio::time::timeout(BOUND, slot.ready()).await.unwrap(),
            Ready::InitError {
                error_type: Some("Runtime.ImportModuleError".into()),
                body: Bytes::from_static(body),
            }
        );
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_refused() {
        let (srv, _slot) = server().await;
        let mut conn = TcpStream::connect(srv.addr).await.unwrap();
        let get = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            exchange(&mut conn, &get("/2018-06-01/ping"), b"")
                .await
                .status,
            404
        );
        assert_eq!(
            exchange(&mut conn, &get("/2020-01-01/runtime/invocation/next"), b"")
                .await
                .status,
            404
        );
        assert_eq!(
            exchange(&mut conn, &post("invocation/r1/other", b"", ""), b"")
                .await
                .status,
            404
        );
        let put = "PUT /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(exchange(&mut conn, put, b"").await.status, 405);
    }

    /// A streamed response (AWS's Runtime API guide, "Response streaming": the
    /// `Lambda-Runtime-Function-Response-Mode: streaming` header, a chunked body, the error
    /// trailers): the engine has the stream as soon as the POST begins, and each chunk before
    /// the runtime writes the next.
    fn streaming_head(id: &str, trailers: bool) -> String {
        let mut h = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
             Lambda-Runtime-Function-Response-Mode: streaming\r\n\
             Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
        );
        if trailers {
            h.push_str(
                "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n",
            );
        }
        h.push_str("\r\n");
        h
    }

    /// A server whose runtime has taken the invocation `r1` (over `conn`); `rx` has its outcome.
    async fn taken() -> (
        RuntimeApiServer,
        Arc<Slot>,
        TcpStream,
        oneshot::Receiver<Outcome>,
    ) {
        let (srv, slot) = server().await;
        let mut conn = TcpStream::connect(srv.addr).await.unwrap();
        let (tx, rx) = oneshot::channel();
        slot.deliver(invocation("r1", b"{}"), tx);
        exchange(&mut conn, NEXT, b"").await;
        (srv, slot, conn, rx)
    }

    fn chunk(data: &[u8]) -> Vec<u8> {
        let mut c = format!("{:x}\r\n", data.len()).into_bytes();
        c.extend_from_slice(data);
        c.extend_from_slice(b"\r\n");
        c
    }

    async fn stream_of(rx: oneshot::Receiver<Outcome>) -> ResponseStream {
        match tokio::time::timeout(BOUND, rx).await.unwrap().unwrap() {
            Outcome::Stream(s) => s,
            other => panic!("not a stream: {other:?}"),
        }
    }

    /// The runtime on `conn` starts streaming `r1` and writes `first`: the engine's stream.
    async fn first_written(conn: &mut TcpStream, rx: oneshot::Receiver<Outcome>) -> ResponseStream {
        conn.write_all(streaming_head("r1", false).as_bytes())
            .await
            .unwrap();
        conn.write_all(&chunk(b"first")).await.unwrap();
        stream_of(rx).await
    }

    async fn item(s: &mut ResponseStream) -> Option<StreamItem> {
        tokio::time::timeout(BOUND, s.body.recv()).await.unwrap()
    }

    #[tokio::test]
    async fn a_streamed_response_reaches_the_engine_chunk_by_chunk() {
        let (_srv, slot, mut conn, rx) = taken().await;
        let mut s = first_written(&mut conn, rx).await;
        assert_eq!(s.content_type, "text/plain");
        // The first chunk is there while the body is still open.
        assert_eq!(
            item(&mut s).await,
            Some(StreamItem::Chunk(Bytes::from_static(b"first")))
        );
        conn.write_all(&chunk(b"second")).await.unwrap();
        assert_eq!(
            item(&mut s).await,
            Some(StreamItem::Chunk(Bytes::from_static(b"second")))
        );
        conn.write_all(b"0\r\n\r\n").await.unwrap();
        assert_eq!(
            item(&mut s).await,
            Some(StreamItem::End(StreamEnd::Complete))
        );
        let r = tokio::time::timeout(BOUND, read_reply(&mut conn))
            .await
            .unwrap();
        assert_eq!(r.status, 202);
        assert!(!slot.is_inflight("r1"));
    }

    #[tokio::test]
    async fn error_trailers_end_a_stream_with_the_decoded_error() {
        use base64::Engine as _;
        let (_srv, _slot, mut conn, rx) = taken().await;
        conn.write_all(streaming_head("r1", true).as_bytes())
            .await
            .unwrap();
        conn.write_all(&chunk(b"part")).await.unwrap();
        let body = br#"{"errorMessage":"boom","errorType":"Error"}"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(body);
        let end = format!(
            "0\r\nLambda-Runtime-Function-Error-Type: Error\r\nLambda-Runtime-Function-Error-Body: {b64}\r\n\r\n"
        );
        conn.write_all(end.as_bytes()).await.unwrap();
        let mut s = stream_of(rx).await;
        assert_eq!(s.content_type, "text/plain");
        assert_eq!(
            item(&mut s).await,
            Some(StreamItem::Chunk(Bytes::from_static(b"part")))
        );
        assert_eq!(
            item(&mut s).await,
            Some(StreamItem::End(StreamEnd::Error {
                error_type: Some("Error".into()),
                body: Bytes::from_static(body),
            }))
        );
        let r = tokio::time::timeout(BOUND, read_reply(&mut conn))
            .await
            .unwrap();
        assert_eq!(r.status, 202);
    }

    #[tokio::test]
    async fn a_stream_cut_short_closes_without_an_end() {
        let (_srv, _slot, mut conn, rx) = taken().await;
        let mut s = first_written(&mut conn, rx).await;
        assert!(matches!(item(&mut s).await, Some(StreamItem::Chunk(_))));
        drop(conn);
        assert_eq!(item(&mut s).await, None);
    }

    #[tokio::test]
    async fn a_streamed_response_without_content_type_is_octet_stream() {
        let (_srv, _slot, mut conn, rx) = taken().await;
        let head = post(
            "invocation/r1/response",
            b"all",
            "Lambda-Runtime-Function-Response-Mode: streaming\r\n",
        );
        let r = exchange(&mut conn, &head, b"all").await;
        assert_eq!(r.status, 202);
        let mut s = stream_of(rx).await;
        assert_eq!(s.content_type, "application/octet-stream");
        assert_eq!(
            item(&mut s).await,
            Some(StreamItem::Chunk(Bytes::from_static(b"all")))
        );
        assert_eq!(
            item(&mut s).await,
            Some(StreamItem::End(StreamEnd::Complete))
        );
    }

    #[tokio::test]
    async fn dropping_the_server_closes_its_connections() {
        let (srv, _slot) = server().await;
        let mut conn = TcpStream::connect(srv.addr).await.unwrap();
        conn.write_all(NEXT.as_bytes()).await.unwrap();
        tokio::task::yield_now().await;
        drop(srv);
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(BOUND, conn.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
}
