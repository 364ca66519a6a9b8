//! Invoke (RequestResponse, Event, DryRun) and the deprecated InvokeAsync: the headers and the
//! payload parsed here, the invocation itself in `hako_lambda` (one cache lookup, then the
//! engine).

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hako_lambda::Invocation;
use hako_model::limits::{ASYNC_REQUEST_MAX_BYTES, INVOKE_REQUEST_MAX_BYTES};
use hako_model::validation::{query_string, shapes};
use hako_model::{Error, ErrorKind};

use crate::error::{ApiError, ApiResult};
use crate::{qualifier, read_body, Params, St};

pub(crate) fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn check_json(payload: &[u8]) -> Result<(), Error> {
    if payload.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).map(|_| ()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidRequestContent,
            format!("Could not parse request body into json: Could not parse payload into json: {e}"),
        )
    })
}

fn too_large(limit: usize) -> ApiError {
    ApiError(Error::new(
        ErrorKind::RequestTooLarge,
        format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
    ))
}

/// The `X-Amz-Client-Context` header: base64 of a JSON object, at most 3583 bytes decoded.
fn client_context(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let Some(b64) = header(headers, "x-amz-client-context") else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| {
            Error::invalid("Client context must be a valid Base64-encoded JSON object.")
        })?;
    if raw.len() > 3583 {
        return Err(Error::invalid(
            "Client context must be smaller than 3583 bytes.",
        ));
    }
    let s =
        String::from_utf8(raw).map_err(|_| Error::invalid("Client context must be valid JSON."))?;
    check_json(s.as_bytes())
        .map_err(|_| Error::invalid("Client context must be a valid JSON object."))?;
    Ok(Some(s))
}

/// An invocation as Invoke and InvokeWithResponseStream read it: `X-Amz-Log-Type`, the payload
/// (at most `limit` bytes, JSON), `X-Amz-Client-Context`, `X-Amzn-Trace-Id`.
pub(crate) async fn invocation(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> ApiResult<Invocation> {
    let log_type = query_string(
        "logType",
        header(headers, "x-amz-log-type"),
        &shapes::LOG_TYPE,
    )?;
    let payload = axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| crate::body_error(e, || too_large(limit)))?;
    check_json(&payload)?;
    Ok(Invocation {
        payload,
        client_context: client_context(headers)?,
        trace_id: header(headers, "x-amzn-trace-id").map(str::to_string),
        log_tail: log_type == Some("Tail"),
        request_id: None,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    RequestResponse,
    Event,
    DryRun,
}

pub(crate) async fn invoke(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let invocation_type = query_string(
        "invocationType",
        header(&headers, "x-amz-invocation-type"),
        &shapes::INVOCATION_TYPE,
    )?;
    let (kind, limit) = match invocation_type {
        Some("DryRun") => (Kind::DryRun, INVOKE_REQUEST_MAX_BYTES),
        Some("Event") => (Kind::Event, ASYNC_REQUEST_MAX_BYTES),
        _ => (Kind::RequestResponse, INVOKE_REQUEST_MAX_BYTES),
    };
    let inv = invocation(&headers, body, limit).await?;
    let lambda = &st.0;
    match kind {
        Kind::DryRun => {
            lambda.invoke_dry_run(&name, qualifier(&q))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Kind::Event => {
            // Answered only once the event is committed in the durable queue.
            let request_id = lambda.invoke_event(&name, qualifier(&q), inv)?;
            let mut r = StatusCode::ACCEPTED.into_response();
            let h = r.headers_mut();
            h.insert("content-length", HeaderValue::from_static("0"));
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                h.insert("x-amzn-requestid", v);
            }
            Ok(r)
        }
        Kind::RequestResponse => {
            let res = lambda.invoke(&name, qualifier(&q), inv).await?;
            let mut r = (StatusCode::OK, res.payload).into_response();
            let h = r.headers_mut();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&res.executed_version) {
                h.insert("x-amz-executed-version", v);
            }
            if let Ok(v) = HeaderValue::from_str(&res.request_id) {
                h.insert("x-amzn-requestid", v);
            }
            if let Some(fe) = res.function_error {
                h.insert("x-amz-function-error", HeaderValue::from_static(fe));
            }
            if let Some(tail) = res.log_tail {
                let b64 = base64::engine::general_purpose::STANDARD.encode(tail.as_bytes());
                if let Ok(v) = HeaderValue::from_str(&b64) {
                    h.insert("x-amz-log-result", v);
                }
            }
            Ok(r)
        }
    }
}

/// InvokeAsync (deprecated): an Event invocation answered `{"Status": 202}`.
pub(crate) async fn invoke_async(
    st: St,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let payload = read_body(body, ASYNC_REQUEST_MAX_BYTES, "InvokeAsync").await?;
    check_json(&payload)?;
    let request_id = st.0.invoke_async(&name, payload)?;
    let mut resp = (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        "{\"Status\":202}",
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    Ok(resp)
}
