//! Invoke (RequestResponse, Event, DryRun) and the deprecated InvokeAsync.
//!
//! This is the product's hot path: one lookup in the resolved-function cache, then the engine.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hako_engine::{AsyncMetric, InvokeRequest};
use hako_model::limits::{ASYNC_REQUEST_MAX_BYTES, INVOKE_REQUEST_MAX_BYTES};
use hako_model::{Error, ErrorKind};
use hako_store::NewEvent;

use crate::error::{ApiError, ApiResult};
use crate::{read_body, ApiState};

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
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

pub(crate) async fn invoke(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let kind = header(&headers, "x-amz-invocation-type").unwrap_or("RequestResponse");
    let limit = match kind {
        "RequestResponse" | "DryRun" => INVOKE_REQUEST_MAX_BYTES,
        "Event" => ASYNC_REQUEST_MAX_BYTES,
        other => {
            return Err(ApiError(hako_model::error::constraint(
                other,
                "invocationType",
                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            )))
        }
    };
    let log_tail = match header(&headers, "x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(ApiError(hako_model::error::constraint(
                other,
                "logType",
                "Member must satisfy enum value set: [None, Tail]",
            )))
        }
    };
    let t = st.target(&name, &q, true)?;
    let payload = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))?;
    check_json(&payload)?;
    let client_context = match header(&headers, "x-amz-client-context") {
        None => None,
        Some(b64) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| {
                    Error::invalid("Client context must be a valid Base64-encoded JSON object.")
                })?;
            if raw.len() > 3583 {
                return Err(ApiError(Error::invalid(
                    "Client context must be smaller than 3583 bytes.",
                )));
            }
            let s = String::from_utf8(raw)
                .map_err(|_| Error::invalid("Client context must be valid JSON."))?;
            check_json(s.as_bytes())
                .map_err(|_| Error::invalid("Client context must be a valid JSON object."))?;
            Some(s)
        }
    };
    // An alias with routing picks the version of this invocation by weight.
    let version = match &t.alias {
        Some(a) => a.pick_version(rand::random::<f64>()),
        None => &t.version,
    };
    let f = st.resolve(&t.name, version)?;
    // The function sees the ARN the caller used: qualified (by the version or the alias) when the
    // caller named a qualifier, even `$LATEST`.
    let invoked_arn = match &t.qualifier {
        Some(qualifier) => st.region.qualified_arn(&t.name, qualifier),
        None => f.arn.clone(),
    };
    let trace_id = header(&headers, "x-amzn-trace-id").map(str::to_string);
    match kind {
        "DryRun" => Ok(StatusCode::NO_CONTENT.into_response()),
        "Event" => {
            // Answered only once the event is committed in the durable queue.
            let request_id = enqueue(
                &st,
                &f,
                &t.name,
                t.qualifier.clone(),
                payload,
                client_context,
                trace_id,
            )?;
            let mut r = StatusCode::ACCEPTED.into_response();
            let h = r.headers_mut();
            h.insert("content-length", HeaderValue::from_static("0"));
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                h.insert("x-amzn-requestid", v);
            }
            Ok(r)
        }
        _ => {
            let req = InvokeRequest {
                payload,
                invoked_arn,
                client_context,
                trace_id,
                log_tail,
                request_id: None,
            };
            let res = st.engine.invoke(&f, req).await?;
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
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let payload = read_body(body, ASYNC_REQUEST_MAX_BYTES, "InvokeAsync").await?;
    check_json(&payload)?;
    let r = hako_model::FunctionRef::parse(&name, &st.region)?;
    let f = st.resolve(&r.name, "$LATEST")?;
    let request_id = enqueue(&st, &f, &r.name, None, payload, None, None)?;
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

/// Queues an `Event` invocation durably (committed before this returns); its request id.
fn enqueue(
    st: &ApiState,
    f: &hako_engine::ResolvedFunction,
    name: &str,
    qualifier: Option<String>,
    payload: bytes::Bytes,
    client_context: Option<String>,
    trace_id: Option<String>,
) -> ApiResult<String> {
    let request_id = uuid::Uuid::new_v4().to_string();
    st.db.enqueue_event(&NewEvent {
        request_id: request_id.clone(),
        function_name: name.to_string(),
        qualifier,
        payload: payload.to_vec(),
        client_context,
        trace_id,
        received_ms: crate::events::now_ms(),
    })?;
    st.engine.record_async(f, AsyncMetric::Received);
    st.async_wake.notify_one();
    Ok(request_id)
}
