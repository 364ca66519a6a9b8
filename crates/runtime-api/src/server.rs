//! The HTTP side: a minimal hyper HTTP/1.1 server per sandbox, routing the four Runtime API
//! calls to the sandbox's [`Slot`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::slot::{Outcome, Slot};
use crate::MAX_RESPONSE_BYTES;

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
            conns.spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let svc = hyper::service::service_fn(move |req| {
                    let slot = slot.clone();
                    async move { Ok::<_, Infallible>(route(req, &slot).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
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
