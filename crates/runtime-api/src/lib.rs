//! The Lambda Runtime API (2018-06-01), one server per sandbox.
//!
//! The engine and a sandbox's runtime meet at a [`Slot`]: the engine delivers an [`Invocation`]
//! with a oneshot for its [`Outcome`]; the runtime's parked `GET /next` receives it, and its
//! `POST /response` or `/error` completes the oneshot. A streamed response
//! (`Lambda-Runtime-Function-Response-Mode: streaming`) completes it when the POST begins, with
//! a channel its body's chunks and end (error trailers) follow through. No queue, no polling: one hand-off each way.
//!
//! Invariant: byte-compatible with AWS's Runtime API (paths, headers, status codes, limits). It
//! knows nothing of scheduling, sandboxes or storage.

mod server;
mod slot;

pub use server::{serve, RuntimeApiServer};
pub use slot::{Invocation, Outcome, Ready, ResponseStream, Slot, StreamEnd, StreamItem};

/// The largest response a function may post (AWS: 6 MB).
pub const MAX_RESPONSE_BYTES: usize = hako_model::limits::INVOKE_RESPONSE_MAX_BYTES;

/// The largest response a function may stream (AWS's quota for response streaming: 200 MB,
/// "Lambda quotas", Function configuration, deployment, and execution).
pub const MAX_STREAM_BYTES: usize = 200 * 1024 * 1024;
