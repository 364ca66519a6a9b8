//! One invocation: a concurrency slot, a warm sandbox or a cold start, the event handed to the
//! runtime through the sandbox's `Slot`, and its end (response, function error, timeout, exit)
//! with the START, END and REPORT lines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hako_model::{Error, ErrorKind};
use hako_runtime_api::{Invocation, Outcome, Ready, ResponseStream, StreamEnd, StreamItem};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::concurrency::{Account, FunctionCounter, Lease};
use crate::errors::{error_payload, exit_error};
use crate::logformat::{Report, ReportStatus};
use crate::metrics::FunctionMetrics;
use crate::sandbox::Sandbox;
use crate::{Engine, InvokeRequest, InvokeResult, ResolvedFunction, StreamEvent, StreamSink};

/// How long a runtime may take to initialise before its first event (AWS: 10 s).
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// A streamed response's first bytes go at full speed; past them, at most
/// [`STREAM_CAPPED_BYTES_PER_SEC`] (AWS's guide, "Bandwidth limits for response streaming":
/// the first 6 MB uncapped, then at most 2 MBps).
const STREAM_UNCAPPED_BYTES: usize = 6 * 1024 * 1024;
const STREAM_CAPPED_BYTES_PER_SEC: f64 = 2.0 * 1024.0 * 1024.0;

/// An invocation's concurrency slot: given back when the invocation ends, however it ends.
struct Permit<'a> {
    account: &'a Account,
    function: &'a FunctionCounter,
    metrics: &'a FunctionMetrics,
    lease: Lease,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.account.release(self.function, self.lease);
        self.metrics.ended();
    }
}

/// Counts a cold start while it lasts.
pub(crate) struct ColdStartGuard<'a>(&'a AtomicUsize);

impl<'a> ColdStartGuard<'a> {
    pub(crate) fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        ColdStartGuard(n)
    }
}

impl Drop for ColdStartGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Engine {
    /// Runs one invocation synchronously.
    pub async fn invoke(
        &self,
        f: &ResolvedFunction,
        req: InvokeRequest,
    ) -> Result<InvokeResult, Error> {
        self.invoke_then(f, req, |r| r).await
    }

    /// Runs one invocation and hands its result to `settle` while the invocation still holds
    /// its concurrency slot and its sandbox: no other event reaches that sandbox, and the slot
    /// is not given back, before `settle` returns. The asynchronous queue commits an event's
    /// outcome there, so at most one event per slot has run without its outcome committed.
    /// `settle` is called exactly once, also for an invocation that never ran (throttled,
    /// shutting down).
    pub async fn invoke_then<T>(
        &self,
        f: &ResolvedFunction,
        req: InvokeRequest,
        settle: impl FnOnce(Result<InvokeResult, Error>) -> T,
    ) -> T {
        if self.closing.load(Ordering::Acquire) {
            return settle(Err(Error::service("Hako is shutting down")));
        }
        let state = self.function_state(f);
        let (pool, metrics, provisioned) = self.version_of(&state, f);
        // A provisioned sandbox first; without a free one the invocation spills over to
        // on-demand concurrency.
        let mut provisioned_sb = provisioned.as_ref().and_then(|p| self.take_provisioned(p));
        let lease = match provisioned_sb {
            Some(_) => Ok(self.account.acquire_provisioned()),
            None => self.account.try_acquire(&state.counter),
        };
        let lease = match lease {
            Ok(lease) => lease,
            Err(throttle) => {
                metrics.throttled();
                tracing::debug!(function = %f.name, reason = throttle.reason(), "throttled");
                let mut e = Error::new(ErrorKind::TooManyRequests, "Rate Exceeded.");
                e.reason = Some(throttle.reason().into());
                return settle(Err(e));
            }
        };
        if let (Some(p), None) = (&provisioned, &provisioned_sb) {
            p.metrics.spilled_over();
        }
        metrics.started();
        let _permit = Permit {
            account: &self.account,
            function: &state.counter,
            metrics: &metrics,
            lease,
        };
        let mut req = req;
        let request_id = req
            .request_id
            .take()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut settle = Some(settle);
        // A warm sandbox that dies before its runtime takes the event never saw it: the event
        // is run again on a fresh sandbox (at most once more).
        for attempt in 0..2 {
            let mut from_provisioned = None;
            let warm = if let Some(sb) = provisioned_sb.take() {
                from_provisioned = provisioned.as_ref();
                Some(sb)
            } else if attempt == 0 {
                loop {
                    let Some(sb) = pool.idle.lock().pop() else {
                        break None;
                    };
                    if sb.is_alive() {
                        sb.wake();
                        break Some(sb);
                    }
                    self.forget(&sb);
                }
            } else {
                None
            };
            let started = Instant::now();
            let cold_guard = warm
                .is_none()
                .then(|| ColdStartGuard::new(&self.cold_starting));
            let (sb, init) = match warm {
                Some(sb) => (sb, None),
                None => match self.start_sandbox(f, "on-demand").await {
                    Ok(sb) => {
                        metrics.cold_start();
                        (sb, Some(started))
                    }
                    Err(msg) => {
                        metrics.finished(None, true);
                        let settle = settle.take().expect("settled once");
                        return settle(Ok(InvokeResult {
                            payload: error_payload(
                                "Runtime.InvalidEntrypoint",
                                &format!("RequestId: {request_id} Error: {msg}"),
                            ),
                            request_id,
                            function_error: Some("Unhandled"),
                            log_tail: None,
                            executed_version: f.version.clone(),
                        }));
                    }
                },
            };
            let result = self.run_on(f, &sb, init, &request_id, req, &metrics).await;
            drop(cold_guard);
            // Settled before the sandbox can take another event.
            let settled = result.map(|r| settle.take().expect("settled once")(Ok(r)));
            // Back to the pool, or gone.
            *sb.last_used.lock() = Instant::now();
            if let Some(p) = from_provisioned {
                self.give_back_provisioned(p, sb);
            } else if sb.is_alive()
                && !pool.retired.load(Ordering::Acquire)
                && !self.closing.load(Ordering::Acquire)
            {
                sb.rest();
                pool.idle.lock().push(sb);
            } else {
                sb.kill();
                self.forget(&sb);
            }
            match settled {
                Ok(out) => return out,
                Err(again) => req = again,
            }
        }
        let settle = settle.take().expect("settled once");
        settle(Err(Error::service(format!(
            "RequestId: {request_id} Error: no sandbox could take the event"
        ))))
    }

    /// Waits until a new sandbox's runtime has initialised (asks for its first event); else the
    /// error payload and log line of its failure. `request_id` names the invocation waiting.
    pub(crate) async fn init(&self, sb: &Sandbox, request_id: &str) -> Result<(), (Bytes, String)> {
        let init_error = |error_type: Option<String>, body: Bytes| {
            let body = if body.is_empty() {
                error_payload(
                    error_type.as_deref().unwrap_or("Runtime.Unknown"),
                    "init error",
                )
            } else {
                body
            };
            sb.kill();
            Err((body, String::new()))
        };
        tokio::select! {
            ready = sb.slot.ready() => match ready {
                Ready::Parked => {
                    sb.control.initialized();
                    Ok(())
                }
                Ready::InitError { error_type, body } => init_error(error_type, body),
            },
            // A runtime posts its init error and then exits (AWS's clients do at once): the
            // exit can be seen first, and the error posted before it is the answer.
            st = sb.wait_exit() => match sb.slot.init_error_posted() {
                Some(Ready::InitError { error_type, body }) => init_error(error_type, body),
                _ => Err(exit_error(request_id, st, sb.control.oom_killed())),
            },
            _ = tokio::time::sleep(INIT_LIMIT) => {
                let msg = format!("RequestId: {request_id} Error: Runtime failed to initialise within {} seconds", INIT_LIMIT.as_secs());
                sb.kill();
                Err((error_payload("Sandbox.Timedout", &msg), msg))
            }
        }
    }

    async fn run_on(
        &self,
        f: &ResolvedFunction,
        sb: &Arc<Sandbox>,
        cold_since: Option<Instant>,
        request_id: &str,
        req: InvokeRequest,
        metrics: &FunctionMetrics,
    ) -> Result<InvokeResult, InvokeRequest> {
        let req_log_tail = req.log_tail;
        let mut req = req;
        let sink = req.stream.take();
        if req.log_tail {
            sb.logs.begin_tail();
        }
        // A provisioned sandbox's first invocation reports the init done ahead.
        let mut init_duration = sb.pending_init.lock().take();
        // A sandbox whose runtime was reset (after a timeout) waits for the new runtime's init,
        // as a cold one does, and reports it.
        let reinit_since = sb.reinit_since.lock().take();
        let cold_since = cold_since.or(reinit_since);
        let mut failure: Option<(Bytes, String)> = None; // (payload, log line)
                                                         // A cold sandbox first initialises (its output goes before START, as on AWS); the event
                                                         // is delivered once the runtime asks for it.
        if let Some(since) = cold_since {
            match self.init(sb, request_id).await {
                Ok(()) => {
                    // A reset's runtime may have finished its init long before this
                    // invocation came.
                    let done = match reinit_since {
                        Some(_) => sb.slot.parked_at().unwrap_or_else(Instant::now),
                        None => Instant::now(),
                    };
                    init_duration = Some(done.saturating_duration_since(since));
                }
                Err(f) => failure = Some(f),
            }
        }
        sb.logs.drain();
        sb.logs.start(request_id, &f.version, &f.arn);
        let (tx, mut rx) = oneshot::channel();
        let trace_id = req.trace_id.clone().unwrap_or_else(new_trace_id);
        let invocation = Invocation {
            request_id: request_id.to_string(),
            payload: req.payload,
            timeout_ms: f.timeout.as_millis() as u64,
            function_arn: req.invoked_arn,
            trace_id,
            client_context: req.client_context,
            cognito_identity: None,
        };
        if failure.is_none() {
            sb.slot.deliver(invocation, tx);
        }
        let began = Instant::now();
        // Timed out in a sandbox that can keep its environment: its runtime is reset once the
        // invocation is reported.
        let mut reset = false;
        let mut timed_out = false;
        let outcome = if failure.is_none() {
            tokio::select! {
                o = &mut rx => o.ok(),
                st = sb.wait_exit() => {
                    // A response posted just before the exit still counts.
                    match rx.try_recv() {
                        Ok(o) => Some(o),
                        Err(_) => {
                            // A warm sandbox that died before its runtime took the event: the
                            // event runs again elsewhere.
                            if let Some(inv) = cold_since.is_none().then(|| sb.slot.withdraw()).flatten() {
                                sb.logs.end(request_id);
                                return Err(InvokeRequest {
                                    payload: inv.payload,
                                    invoked_arn: inv.function_arn,
                                    client_context: inv.client_context,
                                    trace_id: Some(inv.trace_id),
                                    log_tail: req_log_tail,
                                    request_id: None,
                                    stream: sink,
                                });
                            }
                            failure = Some(exit_error(request_id, st, sb.control.oom_killed()));
                            None
                        }
                    }
                }
                _ = tokio::time::sleep(f.timeout) => {
                    failure = Some(timeout_failure(f, request_id));
                    timed_out = true;
                    reset = reset_or_kill(sb);
                    None
                }
            }
        } else {
            None
        };
        // A streamed response: its chunks go to the caller (or are collected) until it ends, the
        // function's timeout and an exit still apply, and the invocation holds its concurrency
        // slot and its sandbox until then.
        let mut limit = hako_runtime_api::MAX_RESPONSE_BYTES;
        let outcome = match outcome {
            Some(Outcome::Stream(stream)) => {
                if sink.is_some() {
                    limit = hako_runtime_api::MAX_STREAM_BYTES;
                }
                let head = StreamEvent::Head {
                    request_id: request_id.to_string(),
                    executed_version: f.version.clone(),
                    content_type: stream.content_type.clone(),
                };
                tokio::select! {
                    o = pump(stream, sink, head) => match o {
                        Some(o) => Some(o),
                        // Cut short: the runtime went away mid-stream.
                        None => match tokio::time::timeout(Duration::from_millis(200), sb.wait_exit()).await {
                            Ok(st) => {
                                failure = Some(exit_error(request_id, st, sb.control.oom_killed()));
                                None
                            }
                            Err(_) => None,
                        },
                    },
                    st = sb.wait_exit() => {
                        failure = Some(exit_error(request_id, st, sb.control.oom_killed()));
                        None
                    }
                    _ = tokio::time::sleep_until(began + f.timeout) => {
                        failure = Some(timeout_failure(f, request_id));
                        timed_out = true;
                        reset = reset_or_kill(sb);
                        None
                    }
                }
            }
            o => o,
        };
        let duration = began.elapsed();
        let (payload, function_error) = match (outcome, failure) {
            (Some(Outcome::Response(b)), _) => (b, None),
            (Some(Outcome::Error { error_type, body }), _) => {
                let body = if body.is_empty() {
                    error_payload(error_type.as_deref().unwrap_or("Unhandled"), "")
                } else {
                    body
                };
                (body, Some("Unhandled"))
            }
            (Some(Outcome::ResponseTooLarge), _) => (
                error_payload(
                    "Function.ResponseSizeTooLarge",
                    &format!(
                        "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
                    ),
                ),
                Some("Unhandled"),
            ),
            // Taken apart above.
            (Some(Outcome::Stream(_)), _) => (Bytes::new(), None),
            (None, Some((payload, line))) => {
                sb.slot.take_inflight();
                sb.logs.drain();
                if !line.is_empty() {
                    sb.logs.platform(line);
                }
                (payload, Some("Unhandled"))
            }
            (None, None) => {
                sb.kill();
                (
                    error_payload("Runtime.Unknown", "the runtime went away"),
                    Some("Unhandled"),
                )
            }
        };
        metrics.finished(Some(duration), function_error.is_some());
        self.recent.record(crate::recent::InvocationRecord {
            ended_ms: crate::recent::now_ms(),
            function: f.name.clone(),
            version: f.version.clone(),
            request_id: request_id.to_string(),
            duration,
            init_duration,
            error: function_error.map(|_| crate::recent::error_type(&payload)),
        });
        sb.logs.drain();
        sb.logs.end(request_id);
        let ms = duration.as_secs_f64() * 1000.0;
        let max_mb = sb
            .control
            .peak_memory_bytes()
            .map(|b| b / (1024 * 1024))
            .unwrap_or(0);
        let outcome = match function_error {
            None => ReportStatus::Success,
            Some(_) if timed_out => ReportStatus::Timeout,
            Some(_) if reset || !sb.is_alive() => ReportStatus::Fatal,
            Some(_) => ReportStatus::Error,
        };
        sb.logs.report(&Report {
            request_id,
            duration_ms: ms,
            billed_ms: ms.ceil().max(1.0) as u64,
            memory_mb: f.memory_mb,
            max_memory_mb: max_mb,
            init_ms: init_duration.map(|d| d.as_secs_f64() * 1000.0),
            outcome,
        });
        let log_tail = if req_log_tail {
            sb.logs.end_tail()
        } else {
            None
        };
        if reset && !sb.reset() {
            sb.kill();
        }
        Ok(InvokeResult {
            request_id: request_id.to_string(),
            payload,
            function_error,
            log_tail,
            executed_version: f.version.clone(),
        })
    }
}

/// The payload and log line of an invocation that ran past its function's timeout.
fn timeout_failure(f: &ResolvedFunction, request_id: &str) -> (Bytes, String) {
    let secs = f.timeout.as_secs_f64();
    let msg = format!("RequestId: {request_id} Error: Task timed out after {secs:.2} seconds");
    let line = format!(
        "{} {request_id} Task timed out after {secs:.2} seconds",
        rfc3339_now()
    );
    (error_payload("Sandbox.Timedout", &msg), line)
}

/// After a timeout: whether the runtime is reset once the invocation is reported (a backend that
/// can keep the environment), else the sandbox is killed now.
fn reset_or_kill(sb: &Sandbox) -> bool {
    if sb.control.restartable() {
        true
    } else {
        sb.kill();
        false
    }
}

/// Reads a streamed response to its end. With a sink: the head, then each chunk as it comes
/// (past the first 6 MB no faster than AWS's bandwidth cap), and `Response` with an empty
/// payload at the end; a sink whose reader went away is dropped and the rest read and
/// discarded, so the runtime finishes. Without one: the chunks collected into `Response`, or
/// `ResponseTooLarge` past the buffered limit. A function error in the trailers is `Error`;
/// `None` when the stream was cut short.
async fn pump(
    mut stream: ResponseStream,
    mut sink: Option<StreamSink>,
    head: StreamEvent,
) -> Option<Outcome> {
    let streaming = sink.is_some();
    if let Some(s) = &sink {
        if s.0.send(head).await.is_err() {
            sink = None;
        }
    }
    let mut total = 0usize;
    let mut collected = Vec::new();
    let mut capped_since: Option<Instant> = None;
    loop {
        match stream.body.recv().await? {
            StreamItem::Chunk(data) => {
                total += data.len();
                if !streaming {
                    if total > hako_runtime_api::MAX_RESPONSE_BYTES {
                        // Read no further: the runtime's POST is refused.
                        return Some(Outcome::ResponseTooLarge);
                    }
                    collected.extend_from_slice(&data);
                    continue;
                }
                if let Some(s) = &sink {
                    if s.0.send(StreamEvent::Chunk(data)).await.is_err() {
                        sink = None;
                    }
                }
                if total > STREAM_UNCAPPED_BYTES {
                    let since = *capped_since.get_or_insert_with(Instant::now);
                    let capped = (total - STREAM_UNCAPPED_BYTES) as f64;
                    tokio::time::sleep_until(
                        since + Duration::from_secs_f64(capped / STREAM_CAPPED_BYTES_PER_SEC),
                    )
                    .await;
                }
            }
            StreamItem::End(StreamEnd::Complete) => {
                return Some(Outcome::Response(Bytes::from(collected)))
            }
            StreamItem::End(StreamEnd::Error { error_type, body }) => {
                return Some(Outcome::Error { error_type, body })
            }
            StreamItem::End(StreamEnd::TooLarge) => return Some(Outcome::ResponseTooLarge),
        }
    }
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An X-Ray trace header for an invocation that came without one.
fn new_trace_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0;Lineage=1:{}:0",
        &r[..24],
        &r[..16],
        &r[24..32]
    )
}
