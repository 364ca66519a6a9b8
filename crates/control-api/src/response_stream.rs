//! InvokeWithResponseStream (`POST /2021-11-15/functions/{name}/response-streaming-invocations`):
//! the request parsed as Invoke's is, the answer an `application/vnd.amazon.eventstream` of
//! `PayloadChunk` events (the function's bytes, as it writes them) closed by one
//! `InvokeComplete` (its `ErrorCode`, `ErrorDetails` and `LogResult`), as botocore's model
//! describes the operation (`InvokeWithResponseStreamResponseEvent`). The binary framing
//! (prelude, headers, CRC32s) is `aws-smithy-eventstream`'s.
//!
//! A function that does not stream answers its whole payload as one `PayloadChunk`, as AWS
//! does; an error of Lambda's before the function ran (not found, throttled) is an ordinary
//! error response, not an event stream.

use aws_smithy_types::event_stream::{Header, HeaderValue as EventHeader, Message};
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use hako_lambda::{stream_channel, StreamEvent};
use hako_model::limits::INVOKE_REQUEST_MAX_BYTES;
use hako_model::validation::{query_string, shapes};
use http_body_util::channel::Channel;

use crate::error::ApiResult;
use crate::invoke::{header, invocation};
use crate::{qualifier, Params, St};

/// One event of the stream, framed.
fn event(event_type: &'static str, content_type: &'static str, payload: Bytes) -> Bytes {
    let msg = Message::new_from_parts(
        vec![
            Header::new(":event-type", EventHeader::String(event_type.into())),
            Header::new(":content-type", EventHeader::String(content_type.into())),
            Header::new(":message-type", EventHeader::String("event".into())),
        ],
        payload,
    );
    let mut out = Vec::with_capacity(msg.payload().len() + 128);
    // Writing to a Vec fails only for a message past the format's limits (16 MB of payload);
    // a chunk is never that large (the Runtime API's reads are far smaller).
    if let Err(e) = aws_smithy_eventstream::frame::write_message_to(&msg, &mut out) {
        tracing::error!(error = %e, "cannot frame an event-stream message");
    }
    Bytes::from(out)
}

/// A `PayloadChunk` event: the bytes as the function wrote them.
pub(crate) fn payload_chunk(data: Bytes) -> Bytes {
    event("PayloadChunk", "application/octet-stream", data)
}

/// The `InvokeComplete` event: how the invocation ended. A function error's `ErrorCode` is its
/// `errorType` and `ErrorDetails` its `errorMessage` (the payload as it is when it is not
/// Lambda's error JSON); `LogResult` is the log tail, base64, when the caller asked for it.
pub(crate) fn invoke_complete(
    function_error: Option<&str>,
    payload: &[u8],
    log_tail: Option<&str>,
) -> Bytes {
    let mut body = serde_json::Map::new();
    if function_error.is_some() {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let code = field("errorType").unwrap_or_else(|| "Unhandled".into());
        let details =
            field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned());
        body.insert("ErrorCode".into(), code.into());
        body.insert("ErrorDetails".into(), details.into());
    }
    if let Some(tail) = log_tail {
        let b64 = base64::engine::general_purpose::STANDARD.encode(tail.as_bytes());
        body.insert("LogResult".into(), b64.into());
    }
    let json = serde_json::Value::Object(body).to_string();
    event("InvokeComplete", "application/json", Bytes::from(json))
}

fn event_stream_response(request_id: &str, executed_version: &str, body: Body) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    if let Ok(v) = HeaderValue::from_str(executed_version) {
        h.insert("x-amz-executed-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

pub(crate) async fn invoke_with_response_stream(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let invocation_type = query_string(
        "invocationType",
        header(&headers, "x-amz-invocation-type"),
        &shapes::RESPONSE_STREAMING_INVOCATION_TYPE,
    )?;
    let inv = invocation(&headers, body, INVOKE_REQUEST_MAX_BYTES).await?;
    let lambda = st.0.clone();
    if invocation_type == Some("DryRun") {
        lambda.invoke_dry_run(&name, qualifier(&q))?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let qualifier = qualifier(&q).map(str::to_string);
    let (sink, mut events) = stream_channel();
    // The invocation runs on its own task: the answer's head goes out at the function's first
    // write, its body follows as it writes.
    let run = tokio::spawn(async move {
        lambda
            .invoke_streaming(&name, qualifier.as_deref(), inv, sink)
            .await
    });
    let joined = |r: Result<_, tokio::task::JoinError>| {
        r.unwrap_or_else(|e| {
            Err(hako_model::Error::service(format!(
                "invocation failed: {e}"
            )))
        })
    };
    let Some(StreamEvent::Head {
        request_id,
        executed_version,
        ..
    }) = events.recv().await
    else {
        // It did not stream: its whole payload as one chunk, or Lambda's error.
        let res = joined(run.await)?;
        let mut out = Vec::new();
        if res.function_error.is_none() && !res.payload.is_empty() {
            out.extend_from_slice(&payload_chunk(res.payload.clone()));
        }
        out.extend_from_slice(&invoke_complete(
            res.function_error,
            &res.payload,
            res.log_tail.as_deref(),
        ));
        return Ok(event_stream_response(
            &res.request_id,
            &res.executed_version,
            Body::from(out),
        ));
    };
    let (mut tx, body) = Channel::<Bytes>::new(4);
    tokio::spawn(async move {
        let mut client_gone = false;
        while let Some(ev) = events.recv().await {
            if let (StreamEvent::Chunk(data), false) = (ev, client_gone) {
                // A client that went away: the function still runs to its end (AWS does not
                // stop it either), its chunks are dropped.
                client_gone = tx.send_data(payload_chunk(data)).await.is_err();
            }
        }
        let end = match joined(run.await) {
            Ok(res) => invoke_complete(res.function_error, &res.payload, res.log_tail.as_deref()),
            Err(e) => invoke_complete(
                Some("Unhandled"),
                serde_json::json!({"errorType": "ServiceException", "errorMessage": e.message})
                    .to_string()
                    .as_bytes(),
                None,
            ),
        };
        if !client_gone {
            let _ = tx.send_data(end).await;
        }
    });
    Ok(event_stream_response(
        &request_id,
        &executed_version,
        Body::new(body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(mut bytes: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            let msg = aws_smithy_eventstream::frame::read_message_from(&bytes[..len]).unwrap();
            out.push(msg);
            bytes = &bytes[len..];
        }
        out
    }

    fn header_of<'a>(m: &'a Message, name: &str) -> &'a str {
        m.headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .and_then(|h| h.value().as_string().ok())
            .map(|s| s.as_str())
            .unwrap()
    }

    /// The framing round-trips through the crate's own reader (prelude and message CRCs
    /// checked), with the headers botocore's event-stream parser reads.
    #[test]
    fn events_are_framed_as_botocore_reads_them() {
        let mut all = payload_chunk(Bytes::from_static(b"hello")).to_vec();
        all.extend_from_slice(&invoke_complete(None, b"", Some("log")));
        let msgs = decode(&all);
        assert_eq!(msgs.len(), 2);
        assert_eq!(header_of(&msgs[0], ":event-type"), "PayloadChunk");
        assert_eq!(header_of(&msgs[0], ":message-type"), "event");
        assert_eq!(&msgs[0].payload()[..], b"hello");
        assert_eq!(header_of(&msgs[1], ":event-type"), "InvokeComplete");
        let v: serde_json::Value = serde_json::from_slice(msgs[1].payload()).unwrap();
        assert_eq!(v, serde_json::json!({"LogResult": "bG9n"}));
    }

    #[test]
    fn a_function_error_is_its_type_and_message() {
        let payload = br#"{"errorMessage":"boom","errorType":"Error","trace":[]}"#;
        let msgs = decode(&invoke_complete(Some("Unhandled"), payload, None));
        let v: serde_json::Value = serde_json::from_slice(msgs[0].payload()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ErrorCode": "Error", "ErrorDetails": "boom"})
        );
        let msgs = decode(&invoke_complete(Some("Unhandled"), b"not json", None));
        let v: serde_json::Value = serde_json::from_slice(msgs[0].payload()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ErrorCode": "Unhandled", "ErrorDetails": "not json"})
        );
    }
}
