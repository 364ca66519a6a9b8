//! The engine as a whole, on the fake sandbox backend: pools, cold and warm starts, function
//! errors, timeouts, exits, init failures, idle reaping, retirement, concurrency and shutdown.
//! Where time matters the clock is tokio's, driven by hand ([`ManualClock`]): nothing sleeps.
//!
//! AWS references: the error payloads and messages of a timed-out or exited runtime are those
//! Lambda returns (`Sandbox.Timedout`, "Task timed out after 3.00 seconds"; `Runtime.ExitError`,
//! "Runtime exited with error: exit status 2"; `Runtime.OutOfMemory`); throttling is
//! TooManyRequestsException "Rate Exceeded." with botocore's `ThrottleReason` values
//! (`botocore/data/lambda/2015-03-31/service-2.json`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hako_model::ErrorKind;
use hako_sandbox::{ExitStatus, SandboxControl};
use tokio::sync::Semaphore;

use crate::testing::{
    eventually, request, within, Event, FakeRuntime, Harness, Init, ManualClock, Reply,
};
use crate::{InvokeResult, ResolvedFunction};

/// A runtime answering `{"pid": <sandbox>, "nth": <event number in that sandbox>}`.
fn whoami() -> FakeRuntime {
    FakeRuntime::new(|e: Event| async move {
        Reply::ok(&format!(
            "{{\"pid\":{},\"nth\":{}}}",
            e.control.pid(),
            e.nth
        ))
    })
}

fn json(r: &InvokeResult) -> serde_json::Value {
    serde_json::from_slice(&r.payload).expect("a JSON payload")
}

/// Lets a runtime's handler run only when the test says so, and counts who arrived.
struct Gate {
    arrived: AtomicUsize,
    open: Semaphore,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            arrived: AtomicUsize::new(0),
            open: Semaphore::new(0),
        })
    }

    /// A runtime that waits at the gate, then answers `reply`.
    fn runtime(self: &Arc<Self>, reply: Reply) -> FakeRuntime {
        let gate = self.clone();
        FakeRuntime::new(move |_e: Event| {
            let gate = gate.clone();
            let reply = reply.clone();
            async move {
                gate.arrived.fetch_add(1, Ordering::AcqRel);
                gate.open.acquire().await.expect("open").forget();
                reply
            }
        })
    }

    fn arrived(&self) -> usize {
        self.arrived.load(Ordering::Acquire)
    }

    fn release(&self, n: usize) {
        self.open.add_permits(n);
    }
}

fn spawn_invoke(
    h: &Harness,
    f: &ResolvedFunction,
    payload: &str,
) -> tokio::task::JoinHandle<Result<InvokeResult, hako_model::Error>> {
    let engine = h.engine.clone();
    let f = f.clone();
    let req = request(payload);
    tokio::spawn(async move { engine.invoke(&f, req).await })
}

#[tokio::test]
async fn a_cold_start_then_warm_reuse_of_the_same_sandbox() {
    let h = Harness::new(whoami().with_init_log("init says hi"));
    let f = h.function("f");
    let first = within("first", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    let second = within("second", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(h.isolation.spawned(), 1);
    let (a, b) = (json(&first), json(&second));
    assert_eq!(a["pid"], b["pid"]);
    assert_eq!((a["nth"].as_u64(), b["nth"].as_u64()), (Some(1), Some(2)));
    assert_eq!(first.function_error, None);
    assert_eq!(first.executed_version, "$LATEST");
    assert_ne!(first.request_id, second.request_id);
    // The init output comes before START; only the cold start reports an init duration.
    let lines = h.logs.messages();
    let start = format!("START RequestId: {} Version: $LATEST", first.request_id);
    let init_at = lines.iter().position(|l| l == "init says hi").unwrap();
    let start_at = lines.iter().position(|l| *l == start).unwrap();
    assert!(init_at < start_at, "{lines:?}");
    let reports: Vec<&String> = lines.iter().filter(|l| l.starts_with("REPORT ")).collect();
    assert_eq!(reports.len(), 2);
    assert!(reports[0].contains("Init Duration: "), "{}", reports[0]);
    assert!(!reports[1].contains("Init Duration"), "{}", reports[1]);
    assert!(
        reports[1].contains("\tMemory Size: 128 MB\t"),
        "{}",
        reports[1]
    );
    assert!(lines.contains(&format!("END RequestId: {}", second.request_id)));
    // One stream, named as AWS names them.
    let streams = h.logs.streams();
    assert_eq!(streams.len(), 1);
    assert!(streams[0].contains("/[$LATEST]"), "{}", streams[0]);
    assert!(h.isolation.sandboxes()[0].was_initialized());
}

#[tokio::test]
async fn a_sandbox_serves_one_event_at_a_time() {
    let gate = Gate::new();
    let h = Harness::new(gate.runtime(Reply::ok("1")));
    let f = h.function("f");
    let a = spawn_invoke(&h, &f, "{}");
    let b = spawn_invoke(&h, &f, "{}");
    // Both events reach a runtime while neither has answered: two sandboxes.
    eventually("two events in flight", || gate.arrived() == 2).await;
    assert_eq!(h.isolation.spawned(), 2);
    assert_eq!(h.engine.inflight(), 2);
    gate.release(2);
    for r in [a, b] {
        let r = within("invoke", r).await.unwrap().unwrap();
        assert_eq!(r.payload, Bytes::from_static(b"1"));
    }
    assert_eq!(h.engine.inflight(), 0);
    // Both went back to the pool: two more sequential invocations start nothing.
    gate.release(2);
    for _ in 0..2 {
        within("warm", h.engine.invoke(&f, request("{}")))
            .await
            .unwrap();
    }
    assert_eq!(h.isolation.spawned(), 2);
}

#[tokio::test]
async fn a_function_error_is_unhandled_with_the_body_as_posted_and_the_sandbox_stays() {
    let h = Harness::new(FakeRuntime::new(|e: Event| async move {
        if e.nth == 1 {
            Reply::error("ValueError", "boom")
        } else {
            Reply::ok("fine")
        }
    }));
    let f = h.function("f");
    let r = within("invoke", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    // What the API turns into X-Amz-Function-Error: Unhandled.
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(
        json(&r),
        serde_json::json!({"errorMessage": "boom", "errorType": "ValueError"})
    );
    let report = h
        .logs
        .messages()
        .into_iter()
        .find(|l| l.starts_with("REPORT "))
        .unwrap();
    assert!(!report.contains("Status: error"), "{report}");
    let r = within("again", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(r.payload, Bytes::from_static(b"fine"));
    assert_eq!(h.isolation.spawned(), 1);
}

#[tokio::test]
async fn an_error_without_a_body_is_shaped_from_its_type() {
    let h = Harness::new(FakeRuntime::new(|_e: Event| async {
        Reply::Error {
            error_type: "Custom.Failure".into(),
            body: Bytes::new(),
        }
    }));
    let r = within("invoke", h.engine.invoke(&h.function("f"), request("{}")))
        .await
        .unwrap();
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(
        json(&r),
        serde_json::json!({"errorMessage": "", "errorType": "Custom.Failure"})
    );
}

#[tokio::test]
async fn the_event_reaches_the_runtime_with_its_headers_and_logs_come_back_in_the_tail() {
    let h = Harness::new(FakeRuntime::new(|e: Event| async move {
        e.log("hello from the function").await;
        let h = |n: &str| e.header(n).unwrap_or("").to_string();
        Reply::ok(
            &serde_json::json!({
                "payload": String::from_utf8_lossy(&e.payload),
                "arn": h("Lambda-Runtime-Invoked-Function-Arn"),
                "trace": h("Lambda-Runtime-Trace-Id"),
                "cc": h("Lambda-Runtime-Client-Context"),
                "deadline": h("Lambda-Runtime-Deadline-Ms"),
                "id": e.request_id,
            })
            .to_string(),
        )
    }));
    let f = h.function("f");
    let mut req = request("{\"k\":1}");
    req.invoked_arn = format!("{}:prod", f.arn);
    req.client_context = Some("{\"custom\":{}}".into());
    req.log_tail = true;
    req.request_id = Some("11111111-2222-3333-4444-555555555555".into());
    let r = within("invoke", h.engine.invoke(&f, req)).await.unwrap();
    let v = json(&r);
    assert_eq!(r.request_id, "11111111-2222-3333-4444-555555555555");
    assert_eq!(v["id"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(v["payload"], "{\"k\":1}");
    assert_eq!(v["arn"], format!("{}:prod", f.arn));
    assert_eq!(v["cc"], "{\"custom\":{}}");
    // Without a trace header from the caller, one is made in X-Ray's format.
    let trace = v["trace"].as_str().unwrap();
    assert!(
        trace.starts_with("Root=1-") && trace.contains(";Parent="),
        "{trace}"
    );
    let deadline: u64 = v["deadline"].as_str().unwrap().parse().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(deadline > now_ms && deadline <= now_ms + 3000, "{deadline}");
    let tail = r.log_tail.unwrap();
    assert!(tail.contains("hello from the function\n"), "{tail}");
    assert!(
        tail.contains("END RequestId: 11111111-2222-3333-4444-555555555555\n"),
        "{tail}"
    );
}

#[tokio::test]
async fn a_timeout_fails_the_invocation_and_replaces_the_sandbox() {
    let clock = ManualClock::start();
    let gate = Gate::new();
    let h = Harness::new(gate.runtime(Reply::Hang));
    let f = h.function("f");
    let invoke = spawn_invoke(&h, &f, "{}");
    eventually("the event reached the runtime", || gate.arrived() == 1).await;
    clock.advance(Duration::from_millis(2999)).await;
    assert!(!invoke.is_finished());
    // Due at 3 s (tokio fires it within the next millisecond).
    clock.advance(Duration::from_millis(2)).await;
    let r = within("timeout", invoke).await.unwrap().unwrap();
    let id = &r.request_id;
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: Task timed out after 3.00 seconds"),
            "errorType": "Sandbox.Timedout",
        })
    );
    let lines = h.logs.messages();
    let timed_out = format!(" {id} Task timed out after 3.00 seconds");
    assert!(lines.iter().any(|l| l.ends_with(&timed_out)), "{lines:?}");
    let report = lines.iter().find(|l| l.starts_with("REPORT ")).unwrap();
    assert!(
        report.contains("\tDuration: 3000.00 ms\t") || report.contains("\tDuration: 3001.00 ms\t"),
        "{report}"
    );
    assert!(report.contains("Status: error"), "{report}");
    // The sandbox is gone; the next invocation gets a new one.
    let old = h.isolation.sandboxes()[0].clone();
    assert!(old.kills() >= 1);
    within("exit", old.wait_exit()).await;
    h.set_runtime(FakeRuntime::echo());
    let r = within("next", h.engine.invoke(&f, request("\"again\"")))
        .await
        .unwrap();
    assert_eq!(r.payload, Bytes::from_static(b"\"again\""));
    assert_eq!(h.isolation.spawned(), 2);
}

/// AWS, "Understanding the Lambda execution environment lifecycle" (Invoke phase): a function
/// that times out makes Lambda reset the execution environment: the runtime is shut down and,
/// when the environment is reused, initialised again as part of the next invocation; the reset
/// does not clear `/tmp`. Where the backend can restart a sandbox's program, the sandbox (its log
/// stream, its files) stays and only the runtime starts again.
#[tokio::test]
async fn a_timeout_resets_the_runtime_in_the_same_sandbox_where_the_backend_can() {
    let clock = ManualClock::start();
    let arrived = Arc::new(AtomicUsize::new(0));
    let seen = arrived.clone();
    let runtime = FakeRuntime::new(move |e: Event| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::AcqRel);
            if &e.payload[..] == b"\"hang\"" {
                return Reply::Hang;
            }
            Reply::ok(&format!(
                "{{\"pid\":{},\"nth\":{}}}",
                e.control.pid(),
                e.nth
            ))
        }
    })
    .with_init_log("init says hi");
    let h = Harness::new(runtime);
    h.isolation.set_restartable(true);
    let f = h.function("f");
    let first = within("first", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    let invoke = spawn_invoke(&h, &f, "\"hang\"");
    eventually("the event reached the runtime", || {
        arrived.load(Ordering::Acquire) == 2
    })
    .await;
    clock.advance(Duration::from_millis(3001)).await;
    let timed_out = within("timeout", invoke).await.unwrap().unwrap();
    assert_eq!(json(&timed_out)["errorType"], "Sandbox.Timedout");
    let after = within("after", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(after.function_error, None);
    // The same sandbox, never killed; its program started again: a new runtime, whose first
    // event this is.
    assert_eq!(h.isolation.spawned(), 1);
    let sb = h.isolation.sandboxes()[0].clone();
    assert_eq!((sb.restarts(), sb.kills()), (1, 0));
    let (a, b) = (json(&first), json(&after));
    assert_eq!(a["pid"], b["pid"]);
    assert_eq!((a["nth"].as_u64(), b["nth"].as_u64()), (Some(1), Some(1)));
    // One log stream; the new runtime's init output comes after the timed-out invocation's
    // REPORT and before the next START, whose REPORT has an init duration again.
    assert_eq!(h.logs.streams().len(), 1);
    let lines = h.logs.messages();
    let inits: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| *l == "init says hi")
        .map(|(i, _)| i)
        .collect();
    let end = |id: &str| {
        lines
            .iter()
            .position(|l| *l == format!("END RequestId: {id}"))
            .unwrap()
    };
    let start_after = lines
        .iter()
        .position(|l| *l == format!("START RequestId: {} Version: $LATEST", after.request_id))
        .unwrap();
    assert_eq!(inits.len(), 2, "{lines:?}");
    assert!(
        end(&timed_out.request_id) < inits[1] && inits[1] < start_after,
        "{lines:?}"
    );
    let reports: Vec<&String> = lines.iter().filter(|l| l.starts_with("REPORT ")).collect();
    assert_eq!(reports.len(), 3);
    assert!(reports[0].contains("Init Duration: "), "{}", reports[0]);
    assert!(!reports[1].contains("Init Duration"), "{}", reports[1]);
    assert!(reports[1].contains("Status: error"), "{}", reports[1]);
    assert!(reports[2].contains("Init Duration: "), "{}", reports[2]);
    assert!(!reports[2].contains("Status"), "{}", reports[2]);
    // And warm again afterwards.
    let warm = within("warm", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(json(&warm)["nth"].as_u64(), Some(2));
    assert_eq!(h.isolation.spawned(), 1);
}

#[tokio::test]
async fn a_runtime_that_exits_during_an_invocation_is_runtime_exit_error() {
    let h = Harness::new(FakeRuntime::new(|e: Event| async move {
        match e.nth {
            1 => Reply::ok("warm"),
            _ => Reply::Exit(2),
        }
    }));
    let f = h.function("f");
    within("first", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    // On a warm sandbox, after the runtime took the event.
    let r = within("exit", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    let id = &r.request_id;
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: Runtime exited with error: exit status 2"),
            "errorType": "Runtime.ExitError",
        })
    );
    let lines = h.logs.messages();
    let report = lines.iter().rfind(|l| l.starts_with("REPORT ")).unwrap();
    assert!(report.contains("Status: error"), "{report}");
    assert!(lines.contains(&format!("END RequestId: {id}")));
    // Not reused: the next invocation starts a sandbox.
    within("next", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(h.isolation.spawned(), 2);
}

#[tokio::test]
async fn a_crash_and_an_oom_kill_are_named_as_aws_names_them() {
    let h = Harness::new(FakeRuntime::new(|e: Event| async move {
        if &e.payload[..] == b"oom" {
            e.control.set_peak_memory_bytes(Some(128 << 20));
            e.control.oom_kill();
            Reply::Hang
        } else {
            Reply::Crash(9)
        }
    }));
    let f = h.function("f");
    let r = within("crash", h.engine.invoke(&f, request("crash")))
        .await
        .unwrap();
    let id = &r.request_id;
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: Runtime exited with error: signal: killed"),
            "errorType": "Runtime.ExitError",
        })
    );
    let r = within("oom", h.engine.invoke(&f, request("oom")))
        .await
        .unwrap();
    let id = &r.request_id;
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: Runtime exited with error: signal: killed"),
            "errorType": "Runtime.OutOfMemory",
        })
    );
    let report = h
        .logs
        .messages()
        .into_iter()
        .rfind(|l| l.starts_with("REPORT "))
        .unwrap();
    assert!(report.contains("\tMax Memory Used: 128 MB\t"), "{report}");
}

#[tokio::test]
async fn an_init_error_is_returned_as_posted_and_the_sandbox_killed() {
    let body = r#"{"errorMessage":"Unable to import module 'app': No module named 'app'","errorType":"Runtime.ImportModuleError"}"#;
    let h = Harness::new(FakeRuntime::echo().with_init(Init::Error {
        error_type: "Runtime.ImportModuleError".into(),
        body: Bytes::from_static(body.as_bytes()),
    }));
    let f = h.function("f");
    let r = within("invoke", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(r.payload, Bytes::from_static(body.as_bytes()));
    let sb = h.isolation.sandboxes()[0].clone();
    assert_eq!(
        within("killed", sb.wait_exit()).await,
        ExitStatus::Signal(9)
    );
    // Every invocation tries a new sandbox.
    within("again", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(h.isolation.spawned(), 2);
}

#[tokio::test]
async fn a_runtime_that_exits_while_initialising_is_runtime_exit_error() {
    let h = Harness::new(FakeRuntime::echo().with_init(Init::Exit(1)));
    let r = within("invoke", h.engine.invoke(&h.function("f"), request("{}")))
        .await
        .unwrap();
    let id = &r.request_id;
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: Runtime exited with error: exit status 1"),
            "errorType": "Runtime.ExitError",
        })
    );
}

#[tokio::test]
async fn a_runtime_that_never_initialises_is_stopped_after_ten_seconds() {
    let clock = ManualClock::start();
    let h = Harness::new(FakeRuntime::echo().with_init(Init::Hang));
    let invoke = spawn_invoke(&h, &h.function("f"), "{}");
    eventually("the sandbox started", || h.isolation.spawned() == 1).await;
    clock.advance(Duration::from_millis(9999)).await;
    assert!(!invoke.is_finished());
    clock.advance(Duration::from_millis(2)).await;
    let r = within("init limit", invoke).await.unwrap().unwrap();
    let id = &r.request_id;
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: Runtime failed to initialise within 10 seconds"),
            "errorType": "Sandbox.Timedout",
        })
    );
    assert!(h.isolation.sandboxes()[0].kills() >= 1);
}

#[tokio::test]
async fn a_sandbox_that_cannot_start_is_an_invalid_entrypoint() {
    let h = Harness::new(FakeRuntime::echo());
    h.isolation.fail_next_spawn("no room");
    let r = within("invoke", h.engine.invoke(&h.function("f"), request("{}")))
        .await
        .unwrap();
    let id = &r.request_id;
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: cannot set the sandbox up: no room"),
            "errorType": "Runtime.InvalidEntrypoint",
        })
    );
}

#[tokio::test]
async fn idle_sandboxes_are_reaped_after_the_idle_timeout() {
    let clock = ManualClock::start();
    let h = Harness::with_config(whoami(), |c| c.idle_timeout = Duration::from_secs(1));
    let f = h.function("f");
    within("invoke", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    clock.advance(Duration::from_millis(999)).await;
    assert_eq!(h.engine.reap_idle(), 0);
    clock.advance(Duration::from_millis(2)).await;
    assert_eq!(h.engine.reap_idle(), 1);
    let sb = h.isolation.sandboxes()[0].clone();
    assert_eq!(
        within("reaped", sb.wait_exit()).await,
        ExitStatus::Signal(9)
    );
    within("cold again", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(h.isolation.spawned(), 2);
    assert_eq!(h.engine.reap_idle(), 0);
}

#[tokio::test]
async fn an_update_retires_the_old_revision_which_never_serves_again() {
    let h = Harness::new(whoami());
    let f1 = h.function("f");
    let a = json(
        &within("r1", h.engine.invoke(&f1, request("{}")))
            .await
            .unwrap(),
    );
    let mut f2 = f1.clone();
    f2.revision_id = "r2".into();
    let b = json(
        &within("r2", h.engine.invoke(&f2, request("{}")))
            .await
            .unwrap(),
    );
    assert_ne!(a["pid"], b["pid"]);
    let old = h.isolation.sandboxes()[0].clone();
    assert_eq!(
        within("retired", old.wait_exit()).await,
        ExitStatus::Signal(9)
    );
    let c = json(
        &within("r2 again", h.engine.invoke(&f2, request("{}")))
            .await
            .unwrap(),
    );
    assert_eq!(c["pid"], b["pid"]);
    assert_eq!(h.isolation.spawned(), 2);
}

#[tokio::test]
async fn a_busy_sandbox_retired_meanwhile_finishes_its_event_and_goes() {
    let gate = Gate::new();
    let h = Harness::new(gate.runtime(Reply::ok("done")));
    let f = h.function("f");
    let invoke = spawn_invoke(&h, &f, "{}");
    eventually("event in flight", || gate.arrived() == 1).await;
    h.engine.retire_function("f");
    gate.release(1);
    let r = within("invoke", invoke).await.unwrap().unwrap();
    assert_eq!(r.payload, Bytes::from_static(b"done"));
    let sb = h.isolation.sandboxes()[0].clone();
    assert_eq!(within("gone", sb.wait_exit()).await, ExitStatus::Signal(9));
    gate.release(1);
    within("next", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(h.isolation.spawned(), 2);
}

fn throttle_reason(r: Result<InvokeResult, hako_model::Error>) -> String {
    let e = r.expect_err("throttled");
    assert_eq!(e.kind, ErrorKind::TooManyRequests);
    assert_eq!(e.message, "Rate Exceeded.");
    e.reason.expect("a Reason")
}

#[tokio::test]
async fn reserved_concurrency_caps_the_function() {
    let gate = Gate::new();
    let h = Harness::new(gate.runtime(Reply::ok("1")));
    let mut f = h.function("f");
    f.reserved_concurrency = Some(1);
    let first = spawn_invoke(&h, &f, "{}");
    eventually("event in flight", || gate.arrived() == 1).await;
    let r = within("second", h.engine.invoke(&f, request("{}"))).await;
    assert_eq!(
        throttle_reason(r),
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    // Another function is not held by it.
    let other = spawn_invoke(&h, &h.function("g"), "{}");
    eventually("g in flight", || gate.arrived() == 2).await;
    gate.release(2);
    within("first", first).await.unwrap().unwrap();
    within("other", other).await.unwrap().unwrap();
    // The slot came back.
    gate.release(1);
    within("third", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    // Zero reserved: nothing runs.
    h.engine.set_reserved_concurrency("f", Some(0));
    let r = within("zero", h.engine.invoke(&f, request("{}"))).await;
    assert_eq!(
        throttle_reason(r),
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
}

/// `invoke_then` settles an invocation while it still holds its slot and its sandbox: nothing
/// else runs on either before the settlement returns (what the asynchronous queue relies on to
/// commit an event's outcome before another event can run).
#[tokio::test]
async fn invoke_then_settles_before_the_slot_and_the_sandbox_are_given_back() {
    let h = Harness::new(whoami());
    let mut f = h.function("f");
    f.reserved_concurrency = Some(1);
    let settled = within(
        "first",
        h.engine.invoke_then(&f, request("{}"), |r| {
            assert_eq!(h.engine.inflight(), 1, "the slot is still held");
            // Another invocation now is throttled at once (it never waits).
            let mut other = std::pin::pin!(h.engine.invoke(&f, request("{}")));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match std::future::Future::poll(other.as_mut(), &mut cx) {
                std::task::Poll::Ready(r) => assert_eq!(
                    throttle_reason(r),
                    "ReservedFunctionConcurrentInvocationLimitExceeded"
                ),
                std::task::Poll::Pending => panic!("a second invocation ran during settlement"),
            }
            json(&r.expect("ran"))
        }),
    )
    .await;
    assert_eq!(settled["nth"].as_u64(), Some(1));
    assert_eq!(h.engine.inflight(), 0);
    // Then the slot and the same sandbox serve the next event.
    let next = within("next", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(json(&next)["pid"], settled["pid"]);
    assert_eq!(json(&next)["nth"].as_u64(), Some(2));
    // A throttled invocation is settled too, with its error.
    h.engine.set_reserved_concurrency("f", Some(0));
    let reason = h
        .engine
        .invoke_then(&f, request("{}"), throttle_reason)
        .await;
    assert_eq!(reason, "ReservedFunctionConcurrentInvocationLimitExceeded");
}

#[tokio::test]
async fn the_account_limit_throttles_every_unreserved_function() {
    let gate = Gate::new();
    let h = Harness::with_config(gate.runtime(Reply::ok("1")), |c| c.account_concurrency = 1);
    let first = spawn_invoke(&h, &h.function("f"), "{}");
    eventually("event in flight", || gate.arrived() == 1).await;
    let r = within("g", h.engine.invoke(&h.function("g"), request("{}"))).await;
    assert_eq!(throttle_reason(r), "ConcurrentInvocationLimitExceeded");
    gate.release(1);
    within("first", first).await.unwrap().unwrap();
    gate.release(1);
    within("g again", h.engine.invoke(&h.function("g"), request("{}")))
        .await
        .unwrap();
}

#[tokio::test]
async fn shutdown_lets_running_invocations_finish_then_refuses_and_stops_everything() {
    let clock = ManualClock::start();
    let gate = Gate::new();
    let h = Harness::new(gate.runtime(Reply::ok("finished")));
    let mut f = h.function("f");
    f.timeout = Duration::from_secs(60);
    // One idle sandbox of another function, and one invocation running.
    gate.release(1);
    within("idle", h.engine.invoke(&h.function("g"), request("{}")))
        .await
        .unwrap();
    let running = spawn_invoke(&h, &f, "{}");
    eventually("event in flight", || gate.arrived() == 2).await;
    let engine = h.engine.clone();
    let shutdown = tokio::spawn(async move { engine.shutdown(Duration::from_secs(10)).await });
    eventually("closing", || h.engine.is_closing()).await;
    let e = within("refused", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Service);
    assert_eq!(e.message, "Hako is shutting down");
    clock.advance(Duration::from_secs(5)).await;
    assert!(!shutdown.is_finished(), "within the grace, it waits");
    gate.release(1);
    let r = within("running", running).await.unwrap().unwrap();
    assert_eq!(r.payload, Bytes::from_static(b"finished"));
    for _ in 0..10 {
        if shutdown.is_finished() {
            break;
        }
        clock.advance(Duration::from_millis(20)).await;
    }
    within("shutdown", shutdown).await.unwrap();
    assert!(h.isolation.was_shut_down());
    for sb in h.isolation.sandboxes() {
        assert_eq!(sb.exit_status(), Some(ExitStatus::Signal(9)));
    }
}

#[tokio::test]
async fn shutdown_kills_what_runs_past_the_grace() {
    let clock = ManualClock::start();
    let gate = Gate::new();
    let h = Harness::new(gate.runtime(Reply::Hang));
    let running = spawn_invoke(&h, &h.function("f"), "{}");
    eventually("event in flight", || gate.arrived() == 1).await;
    let engine = h.engine.clone();
    let shutdown = tokio::spawn(async move { engine.shutdown(Duration::from_secs(1)).await });
    eventually("closing", || h.engine.is_closing()).await;
    clock.advance(Duration::from_secs(1)).await;
    within("shutdown", shutdown).await.unwrap();
    let r = within("running", running).await.unwrap().unwrap();
    let id = &r.request_id;
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: Runtime exited with error: signal: killed"),
            "errorType": "Runtime.ExitError",
        })
    );
    assert!(h.isolation.live().is_empty());
    assert!(h.isolation.was_shut_down());
}

#[tokio::test]
async fn close_refuses_new_invocations_and_lets_running_ones_finish() {
    let gate = Gate::new();
    let h = Harness::new(gate.runtime(Reply::ok("finished")));
    let f = h.function("f");
    let running = spawn_invoke(&h, &f, "{}");
    eventually("event in flight", || gate.arrived() == 1).await;
    h.engine.close();
    assert!(h.engine.is_closing());
    let e = within("refused", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap_err();
    assert_eq!(e.message, "Hako is shutting down");
    assert_eq!(h.engine.inflight(), 1);
    gate.release(1);
    let r = within("running", running).await.unwrap().unwrap();
    assert_eq!(r.payload, Bytes::from_static(b"finished"));
    assert_eq!(h.engine.inflight(), 0);
    // A closing engine keeps no sandbox warm.
    let sb = h.isolation.sandboxes()[0].clone();
    assert_eq!(
        within("not kept", sb.wait_exit()).await,
        ExitStatus::Signal(9)
    );
}

#[tokio::test]
async fn an_event_a_dying_warm_sandbox_never_took_runs_on_a_new_one() {
    // The first sandbox answers its first event, then (before asking for the next) waits for
    // the test and exits; the event given to it meanwhile was never received.
    let leave = Arc::new(Semaphore::new(0));
    let l2 = leave.clone();
    let h = Harness::new(whoami().with_between(move |nth| {
        let leave = l2.clone();
        async move {
            if nth == 1 {
                leave.acquire().await.expect("open").forget();
                Some(ExitStatus::Code(0))
            } else {
                None
            }
        }
    }));
    let f = h.function("f");
    let first = json(
        &within("first", h.engine.invoke(&f, request("{}")))
            .await
            .unwrap(),
    );
    let second = spawn_invoke(&h, &f, "{}");
    // Taken from the pool and handed the event (queued: its runtime is not in /next).
    eventually("delivered", || h.engine.inflight() == 1).await;
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(!second.is_finished());
    assert_eq!(h.isolation.spawned(), 1);
    leave.add_permits(1);
    let r = within("second", second).await.unwrap().unwrap();
    assert_eq!(r.function_error, None);
    let v = json(&r);
    assert_ne!(v["pid"], first["pid"]);
    assert_eq!(v["nth"], 1);
    assert_eq!(h.isolation.spawned(), 2);
    // The first sandbox's stream closes the attempt with an END line; the event ran once.
    let ends = h
        .logs
        .messages()
        .into_iter()
        .filter(|l| *l == format!("END RequestId: {}", r.request_id))
        .count();
    assert_eq!(ends, 2);
    let reports = h
        .logs
        .messages()
        .into_iter()
        .filter(|l| l.starts_with(&format!("REPORT RequestId: {}", r.request_id)))
        .count();
    assert_eq!(reports, 1);
}

/// AWS's clients post an init error and exit at once: the error posted is the answer, however
/// the exit and the post race (a multi-threaded runtime, many tries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_error_posted_just_before_the_exit_is_the_answer() {
    let body = r#"{"errorMessage":"bad handler","errorType":"Runtime.HandlerNotFound"}"#;
    let h = Harness::new(FakeRuntime::echo().with_init(Init::ErrorThenExit {
        error_type: "Runtime.HandlerNotFound".into(),
        body: Bytes::from_static(body.as_bytes()),
        code: 1,
    }));
    let f = h.function("f");
    for _ in 0..200 {
        let r = within("invoke", h.engine.invoke(&f, request("{}")))
            .await
            .unwrap();
        assert_eq!(r.payload, Bytes::from_static(body.as_bytes()));
    }
}

// ---- streamed responses ----------------------------------------------------------------------
//
// AWS's Runtime API guide, "Response streaming": a runtime posts its response with
// `Lambda-Runtime-Function-Response-Mode: streaming`, chunked, and reports an error mid-stream in
// the trailers `Lambda-Runtime-Function-Error-Type` / `-Body`. The guide "Response streaming for
// Lambda functions": up to 200 MB per streamed response, the function's timeout applies.

use crate::testing::StreamPart;
use crate::{stream_channel, StreamEvent};

fn streaming(parts: Vec<StreamPart>) -> FakeRuntime {
    FakeRuntime::new(move |_e: Event| {
        let parts = parts.clone();
        async move {
            Reply::Stream {
                content_type: Some("text/plain".into()),
                parts,
            }
        }
    })
}

async fn recv(rx: &mut tokio::sync::mpsc::Receiver<StreamEvent>) -> Option<StreamEvent> {
    within("a stream event", rx.recv()).await
}

/// An invocation of `f` whose response streams to the returned receiver, running on its task.
fn spawn_streaming(
    h: &Harness,
    f: &ResolvedFunction,
) -> (
    tokio::task::JoinHandle<Result<InvokeResult, hako_model::Error>>,
    tokio::sync::mpsc::Receiver<StreamEvent>,
) {
    let (sink, rx) = stream_channel();
    let mut req = request("{}");
    req.stream = Some(sink);
    let engine = h.engine.clone();
    let f = f.clone();
    (
        tokio::spawn(async move { engine.invoke(&f, req).await }),
        rx,
    )
}

#[tokio::test]
async fn a_streamed_response_reaches_the_caller_chunk_by_chunk_and_holds_its_slot() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let h = Harness::new(streaming(vec![
        StreamPart::chunk("first "),
        StreamPart::Gate(gate.clone()),
        StreamPart::chunk("last"),
    ]));
    let f = h.function("f");
    let (invoke, mut rx) = spawn_streaming(&h, &f);
    let Some(StreamEvent::Head {
        request_id,
        executed_version,
        content_type,
    }) = recv(&mut rx).await
    else {
        panic!("no head")
    };
    assert_eq!(executed_version, "$LATEST");
    assert_eq!(content_type, "text/plain");
    assert_eq!(
        recv(&mut rx).await,
        Some(StreamEvent::Chunk(Bytes::from_static(b"first ")))
    );
    // The first chunk is here while the function waits to write the last: the invocation
    // still holds its slot, its END is not written.
    assert_eq!(h.engine.inflight(), 1);
    assert!(!invoke.is_finished());
    assert!(!h
        .logs
        .messages()
        .contains(&format!("END RequestId: {request_id}")));
    gate.notify_one();
    assert_eq!(
        recv(&mut rx).await,
        Some(StreamEvent::Chunk(Bytes::from_static(b"last")))
    );
    assert_eq!(
        recv(&mut rx).await,
        None,
        "the channel closes after the last"
    );
    let r = within("result", invoke).await.unwrap().unwrap();
    assert_eq!(r.request_id, request_id);
    assert_eq!(r.function_error, None);
    assert!(r.payload.is_empty());
    assert_eq!(h.engine.inflight(), 0);
    let lines = h.logs.messages();
    assert!(lines.contains(&format!("END RequestId: {request_id}")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with(&format!("REPORT RequestId: {request_id}"))));
    // The sandbox went back to the pool once the stream ended.
    gate.notify_one();
    let again = within("again", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(h.isolation.spawned(), 1);
    assert_eq!(again.payload, Bytes::from_static(b"first last"));
}

#[tokio::test]
async fn a_streamed_response_to_a_buffered_caller_is_collected() {
    let h = Harness::new(streaming(vec![
        StreamPart::chunk("a"),
        StreamPart::chunk("b"),
    ]));
    let f = h.function("f");
    let r = within("invoke", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(r.payload, Bytes::from_static(b"ab"));
    assert_eq!(r.function_error, None);
}

#[tokio::test]
async fn a_buffered_response_to_a_streaming_caller_is_the_payload_without_a_head() {
    let h = Harness::new(FakeRuntime::echo());
    let f = h.function("f");
    let (sink, mut rx) = stream_channel();
    let mut req = request("{\"a\":1}");
    req.stream = Some(sink);
    let r = within("invoke", h.engine.invoke(&f, req)).await.unwrap();
    assert_eq!(r.payload, Bytes::from_static(b"{\"a\":1}"));
    assert_eq!(rx.recv().await, None);
}

#[tokio::test]
async fn an_error_mid_stream_is_the_invocations_function_error() {
    let body = Bytes::from_static(br#"{"errorMessage":"boom","errorType":"Error"}"#);
    let h = Harness::new(streaming(vec![
        StreamPart::chunk("part"),
        StreamPart::Error {
            error_type: "Error".into(),
            body: body.clone(),
        },
    ]));
    let f = h.function("f");
    let (invoke, mut rx) = spawn_streaming(&h, &f);
    let r = within("invoke", invoke).await.unwrap().unwrap();
    assert!(matches!(rx.recv().await, Some(StreamEvent::Head { .. })));
    assert_eq!(
        rx.recv().await,
        Some(StreamEvent::Chunk(Bytes::from_static(b"part")))
    );
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(r.payload, body);
    // The runtime goes on: its sandbox serves the next event.
    within("again", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(h.isolation.spawned(), 1);
}

#[tokio::test]
async fn a_timeout_mid_stream_ends_it_with_sandbox_timedout() {
    let clock = ManualClock::start();
    let h = Harness::new(streaming(vec![StreamPart::chunk("part"), StreamPart::Hang]));
    let f = h.function("f");
    let (invoke, mut rx) = spawn_streaming(&h, &f);
    assert!(matches!(
        recv(&mut rx).await,
        Some(StreamEvent::Head { .. })
    ));
    assert!(matches!(recv(&mut rx).await, Some(StreamEvent::Chunk(_))));
    clock.advance(Duration::from_millis(3001)).await;
    let r = within("timeout", invoke).await.unwrap().unwrap();
    let id = &r.request_id;
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(
        json(&r),
        serde_json::json!({
            "errorMessage": format!("RequestId: {id} Error: Task timed out after 3.00 seconds"),
            "errorType": "Sandbox.Timedout",
        })
    );
    assert_eq!(recv(&mut rx).await, None);
    assert_eq!(h.engine.inflight(), 0);
    let lines = h.logs.messages();
    assert!(lines
        .iter()
        .any(|l| l.starts_with("REPORT ") && l.contains("Status: error")));
}

#[tokio::test]
async fn a_runtime_that_exits_mid_stream_is_runtime_exit_error() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let h = Harness::new(streaming(vec![
        StreamPart::chunk("part"),
        StreamPart::Gate(gate.clone()),
        StreamPart::Exit(3),
    ]));
    let f = h.function("f");
    let (invoke, mut rx) = spawn_streaming(&h, &f);
    assert!(matches!(
        recv(&mut rx).await,
        Some(StreamEvent::Head { .. })
    ));
    assert!(matches!(recv(&mut rx).await, Some(StreamEvent::Chunk(_))));
    gate.notify_one();
    let r = within("invoke", invoke).await.unwrap().unwrap();
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(
        json(&r)["errorType"],
        "Runtime.ExitError",
        "{:?}",
        r.payload
    );
}

/// Past the buffered limit (6 MB) a stream goes on; a buffered caller of the same function gets
/// `Function.ResponseSizeTooLarge`.
#[tokio::test]
async fn the_buffered_limit_does_not_apply_to_a_stream() {
    let big = Bytes::from(vec![b'x'; 1024 * 1024]);
    let parts: Vec<StreamPart> = (0..7).map(|_| StreamPart::Chunk(big.clone())).collect();
    let h = Harness::new(streaming(parts));
    let f = h.function("f");
    let (sink, mut rx) = stream_channel();
    let mut req = request("{}");
    req.stream = Some(sink);
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while let Some(ev) = rx.recv().await {
            if let StreamEvent::Chunk(b) = ev {
                n += b.len();
            }
        }
        n
    });
    let r = within("invoke", h.engine.invoke(&f, req)).await.unwrap();
    assert_eq!(r.function_error, None);
    assert_eq!(within("reader", reader).await.unwrap(), 7 * 1024 * 1024);
    let r = within("buffered", h.engine.invoke(&f, request("{}")))
        .await
        .unwrap();
    assert_eq!(r.function_error, Some("Unhandled"));
    assert_eq!(json(&r)["errorType"], "Function.ResponseSizeTooLarge");
}
