//! Test support (feature `testing`, and this crate's own tests): an engine on the fake sandbox
//! backend, whose sandboxes run a fake runtime client that speaks the Runtime API over real
//! HTTP, plus a log sink that records and a hand-driven clock.
//!
//! ```ignore
//! let h = Harness::new(FakeRuntime::echo());
//! let f = h.function("echo");
//! let r = h.engine.invoke(&f, request("{\"a\":1}")).await?;
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hako_model::Runtime;
use hako_sandbox::fake::{FakeControl, FakeIsolation, FakeOutput, FakeProcess};
use hako_sandbox::{BoxFuture, ExitStatus};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use parking_lot::Mutex;

use crate::{Engine, EngineConfig, InvokeRequest, LogRecord, LogSink, ResolvedFunction, Runtimes};

/// What the fake runtime does with one event.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `POST /invocation/{id}/response` with this body.
    Response(Bytes),
    /// `POST /invocation/{id}/error` with this `Lambda-Runtime-Function-Error-Type` and body.
    Error { error_type: String, body: Bytes },
    /// The process exits with this code without answering.
    Exit(i32),
    /// The process is killed by this signal without answering.
    Crash(i32),
    /// Never answers (until the sandbox is killed).
    Hang,
    /// A streamed `POST /invocation/{id}/response` (`Lambda-Runtime-Function-Response-Mode:
    /// streaming`, chunked, with this `Content-Type`): the parts in order.
    Stream {
        content_type: Option<String>,
        parts: Vec<StreamPart>,
    },
}

/// One step of a streamed response of the fake runtime.
#[derive(Debug, Clone)]
pub enum StreamPart {
    /// Writes a chunk (sent at once, as its own HTTP chunk).
    Chunk(Bytes),
    /// Waits until the test notifies (`notify_one`: a notification given first is kept).
    Gate(Arc<tokio::sync::Notify>),
    /// Ends the body with the error trailers `Lambda-Runtime-Function-Error-Type` and
    /// `Lambda-Runtime-Function-Error-Body` (the body base64, as AWS's clients send it).
    Error { error_type: String, body: Bytes },
    /// The process exits with this code, mid-stream.
    Exit(i32),
    /// Writes nothing more, never ends the body.
    Hang,
}

impl StreamPart {
    pub fn chunk(text: &str) -> StreamPart {
        StreamPart::Chunk(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl Reply {
    /// A JSON error body as runtime clients post it.
    pub fn error(error_type: &str, message: &str) -> Reply {
        Reply::Error {
            error_type: error_type.to_string(),
            body: Bytes::from(
                serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string(),
            ),
        }
    }

    /// A response with this body.
    pub fn ok(body: &str) -> Reply {
        Reply::Response(Bytes::copy_from_slice(body.as_bytes()))
    }
}

/// What the fake runtime does before asking for its first event.
#[derive(Debug, Clone)]
pub enum Init {
    /// Asks for events.
    Ready,
    /// `POST /init/error` with this type and body, then waits to be killed (the platform kills a
    /// runtime that failed to initialise).
    Error { error_type: String, body: Bytes },
    /// `POST /init/error`, then exits with this code at once, as AWS's clients do.
    ErrorThenExit {
        error_type: String,
        body: Bytes,
        code: i32,
    },
    /// Exits with this code.
    Exit(i32),
    /// Never asks for an event.
    Hang,
}

/// One event as the fake runtime received it.
#[derive(Debug)]
pub struct Event {
    pub request_id: String,
    pub payload: Bytes,
    /// The response headers of `GET /invocation/next`.
    pub headers: http::HeaderMap,
    /// 1 for the first event this sandbox receives.
    pub nth: u32,
    /// The sandbox's output (its log).
    pub output: FakeOutput,
    /// The sandbox's control (its environment, an OOM kill...).
    pub control: Arc<FakeControl>,
}

impl Event {
    /// A header of `GET /next` (`Lambda-Runtime-Deadline-Ms`...).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Prints a line to the sandbox's log.
    pub async fn log(&self, line: &str) {
        let _ = self.output.line(line).await;
    }
}

type Handler = Arc<dyn Fn(Event) -> BoxFuture<'static, Reply> + Send + Sync>;
type Between = Arc<dyn Fn(u32) -> BoxFuture<'static, Option<ExitStatus>> + Send + Sync>;

/// A runtime client speaking the Lambda Runtime API over HTTP/1.1 (one keep-alive connection, as
/// real clients do), scripted by a handler per event. Runs as a fake sandbox's program.
#[derive(Clone)]
pub struct FakeRuntime {
    init: Init,
    init_logs: Vec<String>,
    handler: Handler,
    between: Option<Between>,
}

impl std::fmt::Debug for FakeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRuntime")
            .field("init", &self.init)
            .finish_non_exhaustive()
    }
}

impl FakeRuntime {
    /// A runtime that answers each event with what `handler` returns.
    pub fn new<F, Fut>(handler: F) -> FakeRuntime
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        FakeRuntime {
            init: Init::Ready,
            init_logs: Vec::new(),
            handler: Arc::new(move |e| Box::pin(handler(e))),
            between: None,
        }
    }

    /// What it does after answering its `nth` event, before asking for the next one (real
    /// clients are not always parked in `/next` at once): `Some(status)` exits.
    pub fn with_between<F, Fut>(mut self, between: F) -> FakeRuntime
    where
        F: Fn(u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<ExitStatus>> + Send + 'static,
    {
        self.between = Some(Arc::new(move |n| Box::pin(between(n))));
        self
    }

    /// A runtime that answers each event with its payload.
    pub fn echo() -> FakeRuntime {
        FakeRuntime::new(|e: Event| async move { Reply::Response(e.payload) })
    }

    /// What it does before its first event.
    pub fn with_init(mut self, init: Init) -> FakeRuntime {
        self.init = init;
        self
    }

    /// A line it prints while initialising.
    pub fn with_init_log(mut self, line: &str) -> FakeRuntime {
        self.init_logs.push(line.to_string());
        self
    }

    /// A fake backend whose sandboxes run this runtime.
    pub fn isolation(&self) -> Arc<FakeIsolation> {
        let rt = self.clone();
        FakeIsolation::new(move |p| rt.clone().run(p))
    }

    /// Runs as a fake sandbox's program.
    pub async fn run(self, p: FakeProcess) -> ExitStatus {
        for line in &self.init_logs {
            let _ = p.output.line(line).await;
        }
        let Some(addr) = p.runtime_api else {
            let _ = p.output.line("no AWS_LAMBDA_RUNTIME_API").await;
            return ExitStatus::Code(1);
        };
        let Ok((mut api, conn)) = connect(addr).await else {
            return ExitStatus::Code(1);
        };
        tokio::select! {
            st = self.serve(&mut api, &p) => st,
            // The Runtime API went away: a real client exits.
            _ = conn => ExitStatus::Code(1),
        }
    }

    async fn serve(&self, api: &mut SendRequest<Body>, p: &FakeProcess) -> ExitStatus {
        match &self.init {
            Init::Ready => {}
            Init::Error { error_type, body } => {
                let _ = post(api, "init/error", Some(error_type), body.clone()).await;
                return std::future::pending().await;
            }
            Init::ErrorThenExit {
                error_type,
                body,
                code,
            } => {
                let _ = post(api, "init/error", Some(error_type), body.clone()).await;
                return ExitStatus::Code(*code);
            }
            Init::Exit(code) => return ExitStatus::Code(*code),
            Init::Hang => return std::future::pending().await,
        }
        let mut nth = 0;
        loop {
            let Ok((headers, payload)) = next(api).await else {
                return ExitStatus::Code(1);
            };
            nth += 1;
            let request_id = headers
                .get("lambda-runtime-aws-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let event = Event {
                request_id: request_id.clone(),
                payload,
                headers,
                nth,
                output: p.output.clone(),
                control: p.control.clone(),
            };
            let posted = match (self.handler)(event).await {
                Reply::Response(b) => {
                    post(api, &format!("invocation/{request_id}/response"), None, b).await
                }
                Reply::Error { error_type, body } => {
                    let path = format!("invocation/{request_id}/error");
                    post(api, &path, Some(&error_type), body).await
                }
                Reply::Exit(code) => return ExitStatus::Code(code),
                Reply::Crash(sig) => return ExitStatus::Signal(sig),
                Reply::Hang => return std::future::pending().await,
                Reply::Stream {
                    content_type,
                    parts,
                } => match post_stream(api, &request_id, content_type, parts).await {
                    Ok(Ok(status)) => Ok(status),
                    Ok(Err(exit)) => return exit,
                    Err(e) => Err(e),
                },
            };
            if posted.is_err() {
                return ExitStatus::Code(1);
            }
            if let Some(between) = &self.between {
                if let Some(st) = between(nth).await {
                    return st;
                }
            }
        }
    }
}

/// The request body of the fake runtime's calls: whole, or streamed.
type Body = BoxBody<Bytes, std::convert::Infallible>;

type Connection =
    hyper::client::conn::http1::Connection<hyper_util::rt::TokioIo<tokio::net::TcpStream>, Body>;

async fn connect(
    addr: SocketAddr,
) -> Result<(SendRequest<Body>, Connection), Box<dyn std::error::Error + Send + Sync>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let io = hyper_util::rt::TokioIo::new(stream);
    Ok(hyper::client::conn::http1::handshake(io).await?)
}

const PREFIX: &str = "/2018-06-01/runtime/";

type HttpResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn next(api: &mut SendRequest<Body>) -> HttpResult<(http::HeaderMap, Bytes)> {
    let req = http::Request::get(format!("{PREFIX}invocation/next"))
        .header("host", "runtime")
        .body(Full::new(Bytes::new()).boxed())?;
    api.ready().await?;
    let resp = api.send_request(req).await?;
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((headers, body))
}

async fn post(
    api: &mut SendRequest<Body>,
    path: &str,
    error_type: Option<&str>,
    body: Bytes,
) -> HttpResult<u16> {
    let mut req = http::Request::post(format!("{PREFIX}{path}")).header("host", "runtime");
    if let Some(t) = error_type {
        req = req.header("lambda-runtime-function-error-type", t);
    }
    api.ready().await?;
    let resp = api.send_request(req.body(Full::new(body).boxed())?).await?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await?;
    Ok(status)
}

/// A streamed `POST /invocation/{id}/response`: its status, or how the process ended mid-stream.
async fn post_stream(
    api: &mut SendRequest<Body>,
    request_id: &str,
    content_type: Option<String>,
    parts: Vec<StreamPart>,
) -> HttpResult<Result<u16, ExitStatus>> {
    use base64::Engine as _;
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes>::new(1);
    let mut req = http::Request::post(format!("{PREFIX}invocation/{request_id}/response"))
        .header("host", "runtime")
        .header("lambda-runtime-function-response-mode", "streaming")
        .header(
            "trailer",
            "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
        );
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    api.ready().await?;
    let resp = api.send_request(req.body(body.boxed())?);
    let write = async move {
        for part in parts {
            match part {
                StreamPart::Chunk(b) => {
                    let _ = tx.send_data(b).await;
                }
                StreamPart::Gate(n) => n.notified().await,
                StreamPart::Error { error_type, body } => {
                    let mut t = http::HeaderMap::new();
                    if let Ok(v) = http::HeaderValue::from_str(&error_type) {
                        t.insert("lambda-runtime-function-error-type", v);
                    }
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&body);
                    if let Ok(v) = http::HeaderValue::from_str(&b64) {
                        t.insert("lambda-runtime-function-error-body", v);
                    }
                    let _ = tx.send_trailers(t).await;
                }
                StreamPart::Exit(code) => return Some(ExitStatus::Code(code)),
                StreamPart::Hang => std::future::pending::<()>().await,
            }
        }
        None
    };
    tokio::pin!(resp);
    tokio::select! {
        exit = write => match exit {
            Some(st) => Ok(Err(st)),
            None => {
                let resp = resp.await?;
                let status = resp.status().as_u16();
                resp.into_body().collect().await?;
                Ok(Ok(status))
            }
        },
        // Answered before the body ended (the platform refused the rest).
        resp = &mut resp => {
            let resp = resp?;
            Ok(Ok(resp.status().as_u16()))
        }
    }
}

/// A log sink that keeps every line.
#[derive(Debug, Default)]
pub struct RecordingSink {
    records: Mutex<Vec<LogRecord>>,
}

impl LogSink for RecordingSink {
    fn emit(&self, rec: LogRecord) {
        self.records.lock().push(rec);
    }
}

impl RecordingSink {
    /// Every line so far.
    pub fn records(&self) -> Vec<LogRecord> {
        self.records.lock().clone()
    }

    /// Every message so far.
    pub fn messages(&self) -> Vec<String> {
        self.records
            .lock()
            .iter()
            .map(|r| r.message.clone())
            .collect()
    }

    /// The messages of one log stream.
    pub fn stream(&self, stream: &str) -> Vec<String> {
        self.records
            .lock()
            .iter()
            .filter(|r| &*r.stream == stream)
            .map(|r| r.message.clone())
            .collect()
    }

    /// The streams, in the order their first line came.
    pub fn streams(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.records.lock().iter() {
            if !out.iter().any(|s| **s == *r.stream) {
                out.push(r.stream.to_string());
            }
        }
        out
    }
}

/// An engine on the fake backend, with a recording log sink and a code directory holding an
/// executable `bootstrap` (so `provided` functions can start).
#[derive(Debug)]
pub struct Harness {
    pub engine: Arc<Engine>,
    pub isolation: Arc<FakeIsolation>,
    pub logs: Arc<RecordingSink>,
    code: tempfile::TempDir,
}

/// The engine settings tests start from (account concurrency 1000, idle timeout 5 minutes).
pub fn config() -> EngineConfig {
    EngineConfig {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        api_endpoint: "http://127.0.0.1:9".into(),
        idle_timeout: Duration::from_secs(300),
        account_concurrency: 1000,
        host_path: "/usr/bin:/bin".into(),
    }
}

impl Harness {
    /// An engine whose sandboxes run `runtime`.
    pub fn new(runtime: FakeRuntime) -> Harness {
        Harness::with_config(runtime, |_| {})
    }

    /// The same, with [`config`] changed by `change`.
    pub fn with_config(runtime: FakeRuntime, change: impl FnOnce(&mut EngineConfig)) -> Harness {
        let code = tempfile::tempdir().expect("a temporary directory");
        let bootstrap = code.path().join("bootstrap");
        std::fs::write(&bootstrap, "#!/bin/sh\n").expect("write bootstrap");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
                .expect("chmod bootstrap");
        }
        let mut cfg = config();
        change(&mut cfg);
        let isolation = runtime.isolation();
        let logs = Arc::new(RecordingSink::default());
        let engine = Engine::new(
            cfg,
            isolation.clone(),
            Runtimes::provided_only(code.path()),
            logs.clone(),
        );
        Harness {
            engine,
            isolation,
            logs,
            code,
        }
    }

    /// Sandboxes started from now on run `runtime`.
    pub fn set_runtime(&self, runtime: FakeRuntime) {
        self.isolation.set_program(move |p| runtime.clone().run(p));
    }

    /// `$LATEST` of a `provided.al2023` function `name` (timeout 3 s, 128 MB, revision `r1`).
    pub fn function(&self, name: &str) -> ResolvedFunction {
        ResolvedFunction {
            name: name.to_string(),
            version: "$LATEST".into(),
            arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
            role: "arn:aws:iam::000000000000:role/fake".into(),
            revision_id: "r1".into(),
            runtime: Runtime::Provided("provided.al2023".into()),
            handler: "handler".into(),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            ephemeral_storage_mb: 512,
            environment: Default::default(),
            code_dir: self.code.path().to_path_buf(),
            opt_dir: None,
            log_group: format!("/aws/lambda/{name}"),
            logging: Default::default(),
            reserved_concurrency: None,
            outbound_network: true,
        }
    }
}

/// An invocation of `payload` as the API would make it.
pub fn request(payload: &str) -> InvokeRequest {
    InvokeRequest {
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        ..Default::default()
    }
}

/// Tokio's clock, paused, moving only when told to: sockets and pipes work as usual while it
/// stands still (auto-advance is held off, since it would not wait for them). Needs a
/// current-thread runtime (`#[tokio::test]`). Dropping it lets the clock auto-advance again.
#[derive(Debug)]
pub struct ManualClock {
    _hold: std::sync::mpsc::Sender<()>,
}

impl ManualClock {
    pub fn start() -> ManualClock {
        tokio::time::pause();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // A blocking task in flight holds off auto-advance (tokio's test-util).
        tokio::task::spawn_blocking(move || {
            let _ = rx.recv();
        });
        ManualClock { _hold: tx }
    }

    /// Moves the clock on by `d`, firing the timers that fall due. Tokio's timers have a
    /// resolution of 1 ms and round their deadline up: one may fire up to 1 ms after it is due.
    pub async fn advance(&self, d: Duration) {
        tokio::time::advance(d).await;
    }
}

/// Waits (at most 5 s of real time) until `cond` holds, yielding to other tasks meanwhile.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Awaits `fut`, failing the test after 10 s of real time (whatever tokio's clock does).
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(10));
        let _ = tx.send(());
    });
    tokio::select! {
        v = fut => v,
        _ = rx => panic!("timed out: {what}"),
    }
}
