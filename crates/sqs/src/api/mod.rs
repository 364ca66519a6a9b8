//! The binding for the front door: parse -> call one method -> shape, in both of SQS's
//! protocols. A request with `X-Amz-Target: AmazonSQS.<Operation>` is JSON (`json.rs`); a form
//! with `Action=<Operation>` is the query protocol (`query.rs`), posted to `/` or to a queue's
//! URL (`/<account>/<name>`, which then is its `QueueUrl`).

mod json;
mod query;

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::{Caller, Sqs};
use crate::error::SqsError;
use crate::wire::*;

/// The most bytes of a request body read: a batch of 1 MiB of messages, with its encoding.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The router that serves SQS, in both protocols.
pub fn router(sqs: Sqs) -> Router {
    Router::new().fallback(move |req: Request<Body>| {
        let sqs = sqs.clone();
        async move { handle(sqs, req).await }
    })
}

/// A request's protocol: how its input is read and its output and errors written.
pub(crate) trait Format {
    fn input<T: DeserializeOwned + Default>(&self) -> Result<T, SqsError>;
    fn output<T: Serialize>(&self, op: &str, out: &T) -> Response;
    fn error(&self, e: &SqsError) -> Response;
    fn unknown(&self, op: &str) -> Response;
}

async fn handle(sqs: Sqs, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            let e = SqsError::param(format!(
                "The request body must be readable and at most {MAX_BODY_BYTES} bytes"
            ));
            return match parts.headers.get("x-amz-target") {
                Some(_) => json::Json::default().error(&e),
                None => query::Query::default().error(&e),
            };
        }
    };
    let endpoint = endpoint(&parts.headers);
    let sender = sender_id(&parts.headers).unwrap_or_default().to_string();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    match target {
        Some(t) => {
            let op = t.rsplit_once('.').map_or(t, |(_, op)| op).to_string();
            let f = json::Json { body };
            dispatch(&sqs, &op, &f, &endpoint, &sender).await
        }
        None => {
            let f = query::Query::parse(parts.uri.path(), parts.uri.query(), &body);
            let op = f.action.clone().unwrap_or_default();
            dispatch(&sqs, &op, &f, &endpoint, &sender).await
        }
    }
}

/// `http://<host the client used>`, the base of the queue URLs Hako answers.
fn endpoint(h: &HeaderMap) -> String {
    let host = h
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The access key of the request's SigV4 signature, SQS's `SenderId`.
fn sender_id(h: &HeaderMap) -> Option<&str> {
    let auth = h.get("authorization")?.to_str().ok()?;
    let (_, rest) = auth.split_once("Credential=")?;
    rest.split('/').next().filter(|s| !s.is_empty())
}

async fn dispatch<F: Format>(sqs: &Sqs, op: &str, f: &F, endpoint: &str, sender: &str) -> Response {
    let caller = Caller {
        endpoint,
        sender_id: if sender.is_empty() {
            sqs.account_id()
        } else {
            sender
        },
    };
    let caller = &caller;
    macro_rules! call {
        ($req:ty, |$r:ident| $call:expr) => {{
            match f.input::<$req>() {
                Ok($r) => match $call {
                    Ok(out) => f.output(op, &out),
                    Err(e) => f.error(&e),
                },
                Err(e) => f.error(&e),
            }
        }};
    }
    match op {
        "CreateQueue" => call!(CreateQueueRequest, |r| sqs.create_queue(r, caller)),
        "GetQueueUrl" => call!(GetQueueUrlRequest, |r| sqs.get_queue_url(r, caller)),
        "ListQueues" => call!(ListQueuesRequest, |r| sqs.list_queues(r, caller)),
        "DeleteQueue" => call!(QueueUrlRequest, |r| sqs.delete_queue(r)),
        "GetQueueAttributes" => {
            call!(GetQueueAttributesRequest, |r| sqs.get_queue_attributes(r))
        }
        "SetQueueAttributes" => {
            call!(SetQueueAttributesRequest, |r| sqs.set_queue_attributes(r))
        }
        "PurgeQueue" => call!(QueueUrlRequest, |r| sqs.purge_queue(r)),
        "TagQueue" => call!(TagQueueRequest, |r| sqs.tag_queue(r)),
        "UntagQueue" => call!(UntagQueueRequest, |r| sqs.untag_queue(r)),
        "ListQueueTags" => call!(QueueUrlRequest, |r| sqs.list_queue_tags(r)),
        "ListDeadLetterSourceQueues" => call!(ListDeadLetterSourceQueuesRequest, |r| sqs
            .list_dead_letter_source_queues(r, caller)),
        "SendMessage" => call!(SendMessageRequest, |r| sqs.send(r, caller)),
        "SendMessageBatch" => call!(SendMessageBatchRequest, |r| sqs.send_batch(r, caller)),
        "ReceiveMessage" => call!(ReceiveMessageRequest, |r| sqs.receive(r).await),
        "DeleteMessage" => call!(DeleteMessageRequest, |r| sqs.delete_message(r)),
        "DeleteMessageBatch" => call!(BatchRequest, |r| sqs.delete_message_batch(r)),
        "ChangeMessageVisibility" => call!(ChangeMessageVisibilityRequest, |r| sqs
            .change_message_visibility(r)),
        "ChangeMessageVisibilityBatch" => {
            call!(BatchRequest, |r| sqs.change_message_visibility_batch(r))
        }
        "StartMessageMoveTask" => {
            call!(StartMessageMoveTaskRequest, |r| sqs
                .start_message_move_task(r))
        }
        "CancelMessageMoveTask" => call!(CancelMessageMoveTaskRequest, |r| sqs
            .cancel_message_move_task(r)),
        "ListMessageMoveTasks" => {
            call!(ListMessageMoveTasksRequest, |r| sqs
                .list_message_move_tasks(r))
        }
        _ => f.unknown(op),
    }
}
