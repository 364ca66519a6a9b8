//! What the engine is given and gives back: its settings, a fully resolved function, an
//! invocation request and its result.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use hako_model::Runtime;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    pub account_id: String,
    /// Hako's own API, given to functions as `AWS_ENDPOINT_URL_LAMBDA`.
    pub api_endpoint: String,
    /// How long an idle sandbox is kept warm.
    pub idle_timeout: Duration,
    /// Account-wide concurrent executions.
    pub account_concurrency: usize,
    /// The host's PATH, appended to the functions' PATH by the process backend.
    pub host_path: String,
}

/// A function version with everything needed to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFunction {
    pub name: String,
    /// `$LATEST` or a version number.
    pub version: String,
    /// The unqualified function ARN.
    pub arn: String,
    /// The execution role (as configured): the role of the sandbox's credentials.
    pub role: String,
    /// Changes whenever code or configuration changes: sandboxes of another revision retire.
    pub revision_id: String,
    pub runtime: Runtime,
    pub handler: String,
    pub timeout: Duration,
    pub memory_mb: u64,
    pub ephemeral_storage_mb: u64,
    /// The function's own variables (`Debug` hides their values).
    pub environment: hako_model::function::Environment,
    /// The unpacked package.
    pub code_dir: PathBuf,
    /// The function's layers merged into one tree (shown at `/opt`), if it has layers.
    pub opt_dir: Option<PathBuf>,
    pub log_group: String,
    /// `LoggingConfig`'s format and levels.
    pub logging: crate::LogControls,
    /// The function's reserved concurrency, when it has one. It seeds the engine's table the
    /// first time the engine meets the function; afterwards the control plane keeps the table
    /// current with [`Engine::set_reserved_concurrency`].
    pub reserved_concurrency: Option<u32>,
    /// Whether the function's sandboxes may reach beyond themselves (the host and other hosts);
    /// off with the reserved tag `hako:network` = `none`.
    pub outbound_network: bool,
}

/// One invocation as the caller asked for it.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    pub payload: Bytes,
    /// The ARN the caller used (qualified when the caller named a qualifier).
    pub invoked_arn: String,
    /// The client context JSON (already base64-decoded).
    pub client_context: Option<String>,
    pub trace_id: Option<String>,
    /// Whether the caller wants the log tail.
    pub log_tail: bool,
    /// The request id to run the event under (an asynchronous event keeps the id its 202 gave,
    /// on every attempt); a new one when `None`.
    pub request_id: Option<String>,
    /// Where a streamed response goes as the function writes it (InvokeWithResponseStream, a
    /// `RESPONSE_STREAM` URL). Without one a streamed response is collected, up to the buffered
    /// limit, into the result's payload.
    pub stream: Option<StreamSink>,
}

/// What a caller that takes a streamed response receives while it streams. When the function
/// streams: one [`StreamEvent::Head`], then its chunks; the invocation's [`InvokeResult`] comes
/// after the last (its payload empty, or the error that ended the stream). When it does not
/// (a buffered response, an error before any byte): nothing, and the result carries the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    Head {
        request_id: String,
        executed_version: String,
        /// The content type the runtime streams with (`application/octet-stream` by default).
        content_type: String,
    },
    Chunk(Bytes),
}

/// The sending half of a streamed response's channel ([`stream_channel`]).
#[derive(Debug, Clone)]
pub struct StreamSink(pub(crate) tokio::sync::mpsc::Sender<StreamEvent>);

/// A channel for a streamed response: the sink goes into the [`InvokeRequest`], the receiver to
/// whoever answers the caller. Bounded: a reader that does not keep up slows the function down.
pub fn stream_channel() -> (StreamSink, tokio::sync::mpsc::Receiver<StreamEvent>) {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    (StreamSink(tx), rx)
}

/// An asynchronous-invocation metric to record for a function version (the async queue lives
/// outside the engine; its metrics live here with the others).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AsyncMetric {
    /// An event was queued.
    Received,
    /// An event is invoked, this long after it was queued.
    Age(Duration),
    /// An event was dropped without a successful run.
    Dropped,
    /// An invocation record could not be delivered to its destination.
    DestinationDeliveryFailure,
    /// An event could not be sent to the dead-letter queue.
    DeadLetterError,
}

/// An invocation's result, shaped like Lambda's Invoke response.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeResult {
    pub request_id: String,
    pub payload: Bytes,
    /// `Unhandled` when the function failed.
    pub function_error: Option<&'static str>,
    /// The tail of the log (plain text; the API base64-encodes it).
    pub log_tail: Option<String>,
    pub executed_version: String,
}
