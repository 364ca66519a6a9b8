//! Function URLs served: the binding between an HTTP request to a URL and an invocation of the
//! function (or alias) the URL belongs to, through `hako_lambda::Lambda` (never a sandbox).
//!
//! The front door hands a request here when [`claims`] says it is a URL's: by its `Host`
//! (`<url-id>.lambda-url.<region>.on.aws`, or `.localhost`, any port) or by the path form
//! `/_hako/urls/<url-id>/<path>` ([`host`]). The request becomes AWS's payload format 2.0 event
//! ([`event`]); the function's result becomes the HTTP answer ([`response`]); CORS settings are
//! applied as AWS's URLs apply them ([`cors`]). What AWS answers itself: an unknown URL id 403
//! `{"Message":null}` (`AccessDeniedException`), a function error or a result that cannot be
//! answered 502 `Internal Server Error`, a throttled invocation 429.
//!
//! One place is left for what comes later: [`authorize`] (today every URL is served as
//! `AuthType: NONE`, its caller `anonymous`; `AWS_IAM`'s SigV4 check and the resource policy's
//! `lambda:InvokeFunctionUrl` go there). A `RESPONSE_STREAM` URL sends the function's chunks to
//! the client as it writes them, after the head its HTTP prelude gives ([`response::prelude`]).

pub mod cors;
pub mod event;
pub mod host;
pub mod response;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use hako_front_door::PeerAddr;
use hako_lambda::{stream_channel, Invocation, Lambda, StreamEvent};
use hako_model::function_url::{AuthType, FunctionUrlRecord, InvokeMode};
use hako_model::limits::INVOKE_REQUEST_MAX_BYTES;
use hako_model::ErrorKind;

fn host_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(HOST).and_then(|h| h.to_str().ok())
}

/// Whether `req` is addressed to a function URL (a `Host` lookup and a few comparisons: the
/// front door asks it of every request).
pub fn claims(req: &Request) -> bool {
    host::addressed(host_of(req.headers()), req.uri().path()).is_some()
}

/// The router that serves function URLs.
pub fn router(lambda: Arc<Lambda>) -> Router {
    Router::new().fallback(serve).with_state(lambda)
}

/// Who calls: what the event's `requestContext.accountId` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
}

/// The one place a URL's `AuthType` is read when serving. Today a URL is not authenticated:
/// `NONE` and `AWS_IAM` alike are served, the caller `anonymous`. With authentication this
/// checks `AWS_IAM`'s SigV4 signature and the function's resource policy
/// (`lambda:InvokeFunctionUrl`, `lambda:FunctionUrlAuthType`) and answers 403 otherwise.
#[allow(clippy::result_large_err)]
pub fn authorize(url: &FunctionUrlRecord, _req: &Parts) -> Result<Caller, Response> {
    match url.auth_type {
        AuthType::None | AuthType::AwsIam => Ok(Caller {
            account_id: "anonymous".into(),
        }),
    }
}

/// AWS's answer for a URL id that does not exist (LocalStack's AWS-validated
/// `TestLambdaURL::test_lambda_url_non_existing_url`: 403, `{"Message":null}`,
/// `Content-Type: application/json`, `x-amzn-ErrorType: AccessDeniedException`).
fn unknown_url() -> Response {
    let mut r = (StatusCode::FORBIDDEN, r#"{"Message":null}"#).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        "x-amzn-errortype",
        HeaderValue::from_static("AccessDeniedException"),
    );
    r
}

/// A function error, a timeout, a result that cannot be answered (LocalStack's AWS-validated
/// `test_lambda_url_invocation_exception`: 502, body `Internal Server Error`).
fn bad_gateway(request_id: &str) -> Response {
    let mut r = (StatusCode::BAD_GATEWAY, "Internal Server Error").into_response();
    set_request_id(&mut r, request_id);
    r
}

/// An error of Lambda's before the function ran: 429 when throttled (AWS's guide, "Throttling
/// function URLs"), 413 for a request past Invoke's 6 MB, 403 when the URL's function or alias
/// is gone, else 502. The body carries Lambda's message under `Message` (AWS's own bodies for
/// these are not recorded anywhere we found).
fn lambda_error(e: &hako_model::Error, request_id: &str) -> Response {
    let status = match e.kind {
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::ResourceNotFound => return unknown_url(),
        _ => return bad_gateway(request_id),
    };
    let body = serde_json::json!({ "Message": e.message }).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    set_request_id(&mut r, request_id);
    r
}

fn set_request_id(r: &mut Response, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
}

fn add_cors(r: &mut Response, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(name, v);
        }
    }
}

/// An X-Ray trace header for the event, as AWS's front adds one: `Root=1-<epoch hex>-<96 bits>`.
fn trace_id(now_ms: i64) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{:08x}-{}", now_ms / 1000, &random[..24])
}

/// Answers one request to a URL.
async fn serve(State(lambda): State<Arc<Lambda>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some(addressed) = host::addressed(host_of(&parts.headers), parts.uri.path()) else {
        return unknown_url();
    };
    let url_id = addressed.url_id.to_ascii_lowercase();
    let url = match lambda.function_url(&url_id) {
        Ok(Some(u)) => u,
        Ok(None) => return unknown_url(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up a function URL");
            return bad_gateway("");
        }
    };
    let caller = match authorize(&url, &parts) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let origin = parts
        .headers
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(c) = &url.cors {
        if cors::is_preflight(&parts.method, &parts.headers) {
            let mut r = StatusCode::OK.into_response();
            add_cors(&mut r, cors::preflight_headers(c, origin.as_deref()));
            return r;
        }
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = match axum::body::to_bytes(body, INVOKE_REQUEST_MAX_BYTES).await {
        Ok(b) => b,
        Err(e) if is_length_limit(&e) => return lambda_error(&too_large(), &request_id),
        // The client stopped sending or sent a broken body: nothing to answer it well with.
        Err(e) => {
            tracing::debug!(error = %e, "a function URL request's body could not be read");
            return (StatusCode::BAD_REQUEST, "Bad Request").into_response();
        }
    };
    let now_ms = lambda.clock().now_ms();
    let canonical;
    let domain_name = match addressed.domain {
        Some(d) => d,
        None => {
            canonical = format!("{url_id}.lambda-url.{}.on.aws", lambda.region().region);
            &canonical
        }
    };
    let source_ip = parts
        .extensions
        .get::<PeerAddr>()
        .map(|p| p.0.ip().to_string())
        .unwrap_or_default();
    let port = host_of(&parts.headers)
        .and_then(|h| h.rsplit_once(':'))
        .map_or("80", |(_, p)| p);
    let trace = trace_id(now_ms);
    let added = [
        ("x-amzn-trace-id", trace.as_str()),
        ("x-forwarded-for", source_ip.as_str()),
        ("x-forwarded-port", port),
        ("x-forwarded-proto", "http"),
    ];
    let http = event::HttpRequest {
        method: parts.method.as_str(),
        path: addressed.path,
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
        source_ip: &source_ip,
    };
    let ctx = event::Context {
        url_id: &url_id,
        domain_name,
        account_id: &caller.account_id,
        request_id: &request_id,
        time_ms: now_ms,
        added_headers: &added,
    };
    let payload = event::build(&http, &ctx);
    if payload.len() > INVOKE_REQUEST_MAX_BYTES {
        return lambda_error(&too_large(), &request_id);
    }
    let inv = Invocation {
        payload: Bytes::from(payload),
        trace_id: Some(trace.clone()),
        request_id: Some(request_id.clone()),
        ..Invocation::default()
    };
    let mut r = match url.mode() {
        InvokeMode::Buffered => {
            let result = match lambda
                .invoke(&url.function_name, url.invoke_qualifier(), inv)
                .await
            {
                Ok(r) => r,
                Err(e) => return lambda_error(&e, &request_id),
            };
            if result.function_error.is_some() {
                return bad_gateway(&request_id);
            }
            match response::answer(&result.payload) {
                Ok(a) => buffered(a),
                Err(response::Unanswerable(why)) => {
                    tracing::debug!(url = %url_id, why, "a function URL's result cannot be answered");
                    return bad_gateway(&request_id);
                }
            }
        }
        InvokeMode::ResponseStream => match streamed(lambda, &url, inv, &request_id).await {
            Ok(r) => r,
            Err(r) => return r,
        },
    };
    if let Some(c) = &url.cors {
        add_cors(&mut r, cors::response_headers(c, origin.as_deref()));
    }
    set_request_id(&mut r, &request_id);
    r
}

/// A `RESPONSE_STREAM` URL's answer: the invocation on its own task, the answer sent at the
/// function's first write (its prelude's status, headers and cookies when it opens with one,
/// else 200 with the stream's content type), each chunk flushed to the client as it comes. A
/// function that does not stream answers its result as it is (as AWS does); an error before
/// the answer started is a 502, one after it ends the body early.
async fn streamed(
    lambda: Arc<Lambda>,
    url: &FunctionUrlRecord,
    inv: Invocation,
    request_id: &str,
) -> Result<Response, Response> {
    let (sink, mut events) = stream_channel();
    let (function, qualifier) = (
        url.function_name.clone(),
        url.invoke_qualifier().map(str::to_string),
    );
    let run = tokio::spawn(async move {
        lambda
            .invoke_streaming(&function, qualifier.as_deref(), inv, sink)
            .await
    });
    let content_type = match events.recv().await {
        Some(StreamEvent::Head { content_type, .. }) => content_type,
        _ => {
            // It did not stream: its result as it is.
            let result = match run.await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return Err(lambda_error(&e, request_id)),
                Err(_) => return Err(bad_gateway(request_id)),
            };
            if result.function_error.is_some() {
                return Err(bad_gateway(request_id));
            }
            return Ok(Response::new(Body::from(result.payload)));
        }
    };
    // The head: from the prelude, or the stream's content type.
    let (head, first) = if content_type == response::PRELUDE_CONTENT_TYPE {
        let mut split = response::PreludeSplitter::default();
        loop {
            match events.recv().await {
                Some(StreamEvent::Chunk(c)) => match split.push(&c) {
                    Ok(Some(found)) => break found,
                    Ok(None) => {}
                    Err(response::Unanswerable(why)) => {
                        tracing::debug!(why, "a streamed response's prelude cannot be answered");
                        return Err(bad_gateway(request_id));
                    }
                },
                // Ended before its prelude did.
                _ => return Err(bad_gateway(request_id)),
            }
        }
    } else {
        let head = response::Answer {
            status: 200,
            headers: vec![("content-type".into(), content_type)],
            cookies: Vec::new(),
            body: Bytes::new(),
        };
        (head, Bytes::new())
    };
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes>::new(4);
    tokio::spawn(async move {
        let mut client_gone = !first.is_empty() && tx.send_data(first).await.is_err();
        while let Some(ev) = events.recv().await {
            if let (StreamEvent::Chunk(c), false) = (ev, client_gone) {
                // A client that went away: the function runs to its end, its bytes dropped.
                client_gone = tx.send_data(c).await.is_err();
            }
        }
        let _ = run.await;
    });
    let mut r = buffered(head);
    *r.body_mut() = Body::new(body);
    Ok(r)
}

/// Whether reading a body failed on its length limit.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

fn too_large() -> hako_model::Error {
    hako_model::Error::new(
        ErrorKind::RequestTooLarge,
        format!(
            "Request must be smaller than {INVOKE_REQUEST_MAX_BYTES} bytes for the InvokeFunction operation"
        ),
    )
}

/// A mapped result as the HTTP response.
fn buffered(a: response::Answer) -> Response {
    let mut r = Response::new(Body::from(a.body));
    *r.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    let h = r.headers_mut();
    for (name, value) in &a.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    for c in &a.cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(SET_COOKIE, v);
        }
    }
    r
}
