//! The synchronous invoke path: warm pools, cold starts, concurrency, timeouts and the sandbox
//! lifecycle, with the platform's log lines.
//!
//! Input: a [`ResolvedFunction`] (everything needed to run it, no further lookups) and an
//! [`InvokeRequest`]. Output: an [`InvokeResult`] shaped like Lambda's (payload, function error,
//! log tail, executed version).
//!
//! Invariant: no HTTP routing, no storage, no event sources here. Sandboxes come from a
//! `hako_sandbox::Isolation`, runtimes meet the engine through `hako_runtime_api::Slot`.

mod concurrency;
pub mod logs;
pub mod metrics;
mod provisioned;
pub mod runtimes;
mod sandbox;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hako_model::{Error, ErrorKind, Runtime};
use hako_runtime_api::{Invocation, Outcome, Ready, Slot};
use hako_sandbox::{ExitStatus, Isolation, SandboxSpec};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{oneshot, watch};

pub use logs::{LogRecord, LogSink, NullSink};
pub use provisioned::ProvisionedState;
pub use runtimes::{RuntimeInfo, Runtimes};

use crate::concurrency::{Account, FunctionCounter, Lease};
use crate::logs::LogCapture;
use crate::metrics::{FunctionMetrics, Metrics};
use crate::provisioned::Provisioned;
use crate::sandbox::Sandbox;

/// How long a runtime may take to initialise before its first event (AWS: 10 s).
const INIT_LIMIT: Duration = Duration::from_secs(10);

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

#[derive(Debug)]
struct Pool {
    revision_id: String,
    idle: Mutex<Vec<Arc<Sandbox>>>,
    retired: AtomicBool,
}

impl FunctionState {
    fn new() -> Self {
        FunctionState {
            counter: FunctionCounter::new(),
            versions: Mutex::new(HashMap::new()),
            provisioned_qualifiers: Mutex::new(std::collections::HashSet::new()),
        }
    }
}

impl Pool {
    fn new(revision_id: &str) -> Arc<Pool> {
        Arc::new(Pool {
            revision_id: revision_id.to_string(),
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
        })
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        for sb in self.idle.lock().drain(..) {
            sb.kill();
        }
    }
}

/// One version of a function: its warm pool (replaced when the revision changes), its
/// provisioned sandboxes (which outlive the pool's retirements) and its metric handles (kept).
#[derive(Debug)]
struct VersionState {
    pool: Option<Arc<Pool>>,
    provisioned: Option<Arc<Provisioned>>,
    metrics: Arc<FunctionMetrics>,
}

/// What the engine keeps per function name: its concurrency counter (shared by all its
/// versions, as AWS counts reserved concurrency per function) and its versions.
#[derive(Debug)]
struct FunctionState {
    counter: FunctionCounter,
    versions: Mutex<HashMap<String, VersionState>>,
    /// The qualifiers provisioned concurrency was ever configured on (their metric series go
    /// with the function).
    provisioned_qualifiers: Mutex<std::collections::HashSet<String>>,
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    isolation: Arc<dyn Isolation>,
    runtimes: Runtimes,
    sink: Arc<dyn LogSink>,
    /// Per function name. Read-locked on the invoke path (written when a function is first met,
    /// its reservation changes, or it is deleted).
    functions: RwLock<HashMap<String, Arc<FunctionState>>>,
    account: Account,
    metrics: Metrics,
    live: Mutex<HashMap<u64, Arc<Sandbox>>>,
    next_id: AtomicU64,
    closing: AtomicBool,
    /// Invocations that are starting a sandbox right now (see [`Engine::cold_starting`]).
    cold_starting: AtomicUsize,
    api_acceptor: std::sync::OnceLock<ApiAcceptor>,
    /// The engine itself, for the tasks it starts from `&self` (refilling provisioned sets).
    me: std::sync::Weak<Engine>,
}

/// Serves the platform's API on a listener a sandbox opened in its own network; returns the
/// handle that stops it.
pub struct ApiAcceptor(
    #[allow(clippy::type_complexity)]
    pub  Arc<dyn Fn(std::net::TcpListener) -> tokio::task::AbortHandle + Send + Sync>,
);

impl std::fmt::Debug for ApiAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiAcceptor")
    }
}

/// Stops serving a sandbox's platform-API listener when the sandbox goes.
#[derive(Debug)]
pub(crate) struct ApiServeGuard(tokio::task::AbortHandle);

impl Drop for ApiServeGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

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
struct ColdStartGuard<'a>(&'a AtomicUsize);

impl<'a> ColdStartGuard<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        ColdStartGuard(n)
    }
}

impl Drop for ColdStartGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn error_payload(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string())
}

/// The error of a runtime that exited: `Runtime.OutOfMemory` when the sandbox's memory limit
/// killed it, as on AWS.
fn exit_error(request_id: &str, st: ExitStatus, oom: bool) -> (Bytes, String) {
    let msg = exit_message(request_id, st);
    let error_type = if oom {
        "Runtime.OutOfMemory"
    } else {
        "Runtime.ExitError"
    };
    (error_payload(error_type, &msg), msg)
}

fn exit_message(request_id: &str, st: ExitStatus) -> String {
    match st {
        ExitStatus::Code(0) => {
            format!("RequestId: {request_id} Error: Runtime exited without providing a reason")
        }
        ExitStatus::Signal(9) => {
            format!("RequestId: {request_id} Error: Runtime exited with error: signal: killed")
        }
        other => format!("RequestId: {request_id} Error: Runtime exited with error: {other}"),
    }
}

impl Engine {
    pub fn new(
        cfg: EngineConfig,
        isolation: Arc<dyn Isolation>,
        runtimes: Runtimes,
        sink: Arc<dyn LogSink>,
    ) -> Arc<Engine> {
        Arc::new_cyclic(|me| Engine {
            me: me.clone(),
            isolation,
            runtimes,
            sink,
            account: Account::new(cfg.account_concurrency as u64),
            functions: RwLock::new(HashMap::new()),
            metrics: Metrics::new(),
            live: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closing: AtomicBool::new(false),
            cold_starting: AtomicUsize::new(0),
            api_acceptor: std::sync::OnceLock::new(),
            cfg,
        })
    }

    /// Lets sandboxes with a private network reach the platform's API (set once, at start).
    pub fn set_api_acceptor(&self, acceptor: ApiAcceptor) {
        let _ = self.api_acceptor.set(acceptor);
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn runtimes(&self) -> &Runtimes {
        &self.runtimes
    }

    /// The isolation backend's name.
    pub fn backend(&self) -> &'static str {
        self.isolation.name()
    }

    /// Invocations running now.
    pub fn inflight(&self) -> usize {
        self.account.inflight() as usize
    }

    /// Invocations starting a sandbox right now. Cold starts under the linux backend wait for
    /// RCU grace periods (mounts, namespaces, cgroups), which CPUs kept busy delay: whoever keeps
    /// CPUs awake for warm invocations must stop while this is non-zero.
    pub fn cold_starting(&self) -> usize {
        self.cold_starting.load(Ordering::Relaxed)
    }

    /// What the functions take out of the account's pool: each its reserved concurrency, or
    /// without one its provisioned concurrency.
    pub fn carved_concurrency_total(&self) -> u64 {
        self.account.carved_total()
    }

    /// Sets (or with `None` removes) a function's reserved concurrency. Invocations running now
    /// keep their slots; the next ones obey the new value.
    pub fn set_reserved_concurrency(&self, name: &str, reserved: Option<u32>) {
        let mut map = self.functions.write();
        let state = map
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(FunctionState::new()))
            .clone();
        self.account
            .set_reserved(&state.counter, reserved.map(u64::from));
    }

    /// Forgets a deleted function: its sandboxes, its reservation and its metric series.
    pub fn remove_function(&self, name: &str) {
        let Some(state) = self.functions.write().remove(name).inspect(|s| {
            self.account.set_reserved(&s.counter, None);
        }) else {
            return;
        };
        for (version, v) in state.versions.lock().drain() {
            if let Some(p) = v.pool {
                p.retire();
            }
            if let Some(p) = v.provisioned {
                p.retire(self);
            }
            self.metrics.forget(name, &version);
        }
        for qualifier in state.provisioned_qualifiers.lock().drain() {
            self.metrics.forget(name, &qualifier);
        }
    }

    /// Records an asynchronous-invocation metric of `f`'s version.
    pub fn record_async(&self, f: &ResolvedFunction, what: AsyncMetric) {
        // Only the metric handles: the version's pool is none of this call's business.
        let state = self.function_state(f);
        let m = state
            .versions
            .lock()
            .entry(f.version.clone())
            .or_insert_with(|| VersionState {
                pool: None,
                provisioned: None,
                metrics: Arc::new(self.metrics.function(&f.name, &f.version)),
            })
            .metrics
            .clone();
        match what {
            AsyncMetric::Received => m.async_received(),
            AsyncMetric::Age(age) => m.async_event_age(age),
            AsyncMetric::Dropped => m.async_dropped(),
            AsyncMetric::DestinationDeliveryFailure => m.destination_delivery_failed(),
            AsyncMetric::DeadLetterError => m.dead_letter_error(),
        }
    }

    /// Whether the engine is shutting down (it refuses new invocations).
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// The metrics in the OpenMetrics text format (`GET /metrics`).
    pub fn render_metrics(&self) -> String {
        self.metrics
            .render(self.account.inflight(), self.account.unreserved_inflight())
    }

    /// Retires every sandbox of a function (all versions): idle ones die now, busy ones when
    /// their invocation ends.
    pub fn retire_function(&self, name: &str) {
        let Some(state) = self.functions.read().get(name).cloned() else {
            return;
        };
        let pools: Vec<Arc<Pool>> = state
            .versions
            .lock()
            .values_mut()
            .filter_map(|v| v.pool.take())
            .collect();
        for p in pools {
            p.retire();
        }
    }

    /// Every warm pool now.
    fn all_pools(&self) -> Vec<Arc<Pool>> {
        let states: Vec<Arc<FunctionState>> = self.functions.read().values().cloned().collect();
        states
            .iter()
            .flat_map(|s| {
                s.versions
                    .lock()
                    .values()
                    .filter_map(|v| v.pool.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Kills sandboxes idle for longer than the idle timeout. Call it periodically.
    pub fn reap_idle(&self) -> usize {
        let cutoff = Instant::now().checked_sub(self.cfg.idle_timeout);
        let Some(cutoff) = cutoff else { return 0 };
        let pools = self.all_pools();
        let mut n = 0;
        for p in pools {
            let mut idle = p.idle.lock();
            idle.retain(|sb| {
                let keep = *sb.last_used.lock() > cutoff && sb.is_alive();
                if !keep {
                    sb.kill();
                    n += 1;
                }
                keep
            });
        }
        n
    }

    /// Stops accepting invocations, lets running ones finish for up to `grace`, then kills every
    /// sandbox and waits (bounded) until their processes are gone.
    pub async fn shutdown(&self, grace: Duration) {
        self.closing.store(true, Ordering::Release);
        let deadline = Instant::now() + grace;
        while self.inflight() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all: Vec<Arc<Sandbox>> = self.live.lock().values().cloned().collect();
        for sb in &all {
            sb.kill();
        }
        for sb in &all {
            let _ = tokio::time::timeout(Duration::from_secs(5), sb.wait_exit()).await;
        }
        for s in self.functions.read().values() {
            for v in s.versions.lock().values_mut() {
                if let Some(p) = v.pool.take() {
                    p.retire();
                }
                if let Some(p) = v.provisioned.take() {
                    p.retire(self);
                }
            }
        }
        // What the backend keeps beyond the sandboxes (the Linux backend's prepared ones).
        self.isolation.shutdown().await;
    }

    /// The engine's state of `f`'s function (made, with `f`'s reservation, on first sight).
    fn function_state(&self, f: &ResolvedFunction) -> Arc<FunctionState> {
        if let Some(s) = self.functions.read().get(f.name.as_str()) {
            return s.clone();
        }
        let mut map = self.functions.write();
        if let Some(s) = map.get(f.name.as_str()) {
            return s.clone();
        }
        let s = Arc::new(FunctionState::new());
        self.account
            .set_reserved(&s.counter, f.reserved_concurrency.map(u64::from));
        map.insert(f.name.clone(), s.clone());
        s
    }

    /// `f`'s warm pool (a new one when its revision changed), metric handles, and provisioned
    /// sandboxes of `f`'s revision if it has any.
    fn version_of(
        &self,
        state: &FunctionState,
        f: &ResolvedFunction,
    ) -> (Arc<Pool>, Arc<FunctionMetrics>, Option<Arc<Provisioned>>) {
        let mut versions = state.versions.lock();
        if let Some(v) = versions.get_mut(f.version.as_str()) {
            let provisioned = v
                .provisioned
                .clone()
                .filter(|p| p.revision_id == f.revision_id);
            match &v.pool {
                Some(p) if p.revision_id == f.revision_id => {
                    return (p.clone(), v.metrics.clone(), provisioned)
                }
                Some(p) => p.retire(),
                None => {}
            }
            let p = Pool::new(&f.revision_id);
            v.pool = Some(p.clone());
            return (p, v.metrics.clone(), provisioned);
        }
        let p = Pool::new(&f.revision_id);
        let metrics = Arc::new(self.metrics.function(&f.name, &f.version));
        versions.insert(
            f.version.clone(),
            VersionState {
                pool: Some(p.clone()),
                provisioned: None,
                metrics: metrics.clone(),
            },
        );
        (p, metrics, None)
    }

    fn environment(
        &self,
        f: &ResolvedFunction,
        stream: &str,
        init_type: &str,
    ) -> Vec<(String, String)> {
        let task_root = self.isolation.task_root(&f.code_dir).display().to_string();
        let opt = self.opt_root(f).display().to_string();
        let mut env: Vec<(String, String)> = Vec::with_capacity(f.environment.len() + 24);
        let path = format!(
            "/usr/local/bin:/usr/bin:/bin:{opt}/bin:{}",
            self.cfg.host_path
        );
        let mut put = |k: &str, v: String| env.push((k.to_string(), v));
        // The function's own variables first: the platform's below win (reserved keys are
        // refused at configuration time anyway).
        for (k, v) in &f.environment {
            put(k, v.clone());
        }
        put("PATH", path);
        put("LANG", "en_US.UTF-8".into());
        put("TZ", ":UTC".into());
        put("LD_LIBRARY_PATH", format!("{task_root}/lib:{opt}/lib"));
        put("_HANDLER", f.handler.clone());
        put("AWS_REGION", self.cfg.region.clone());
        put("AWS_DEFAULT_REGION", self.cfg.region.clone());
        put("AWS_LAMBDA_FUNCTION_NAME", f.name.clone());
        put("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string());
        put("AWS_LAMBDA_FUNCTION_VERSION", f.version.clone());
        put("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group.clone());
        put("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_string());
        put("AWS_LAMBDA_INITIALIZATION_TYPE", init_type.to_string());
        put("LAMBDA_TASK_ROOT", task_root.clone());
        put(
            "LAMBDA_RUNTIME_DIR",
            self.isolation
                .runtime_root(&self.runtimes.dir)
                .display()
                .to_string(),
        );
        if self.api_acceptor.get().is_none() {
            put("AWS_ENDPOINT_URL_LAMBDA", self.cfg.api_endpoint.clone());
        }
        put("AWS_ACCESS_KEY_ID", "HAKOFUNCTIONKEY".into());
        put("AWS_SECRET_ACCESS_KEY", "hako-function-secret".into());
        put("AWS_SESSION_TOKEN", "hako-function-session".into());
        put("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
        match &f.runtime {
            Runtime::Python { name, minor } => {
                put("AWS_EXECUTION_ENV", format!("AWS_Lambda_{name}"));
                // AWS's layer paths, after the task root (the client puts that first).
                put(
                    "PYTHONPATH",
                    format!("{opt}/python/lib/python3.{minor}/site-packages:{opt}/python"),
                );
                put("PYTHONUNBUFFERED", "1".into());
                put("PYTHONDONTWRITEBYTECODE", "1".into());
            }
            Runtime::Node { name, major } => {
                put("AWS_EXECUTION_ENV", format!("AWS_Lambda_{name}"));
                put(
                    "NODE_PATH",
                    format!(
                        "{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:/var/runtime/node_modules:{task_root}"
                    ),
                );
            }
            Runtime::Provided(_) => {}
        }
        env
    }

    /// Where `f`'s sandboxes see its layers: the backend's place for its merged tree, else the
    /// (empty) `/opt`.
    fn opt_root(&self, f: &ResolvedFunction) -> PathBuf {
        match &f.opt_dir {
            Some(d) => self.isolation.opt_root(d),
            None => PathBuf::from("/opt"),
        }
    }

    /// Starts a sandbox for `f` (the cold start's first half: process and Runtime API);
    /// `init_type` is its `AWS_LAMBDA_INITIALIZATION_TYPE`.
    async fn start_sandbox(
        &self,
        f: &ResolvedFunction,
        init_type: &str,
    ) -> Result<Arc<Sandbox>, String> {
        let task_root = self.isolation.task_root(&f.code_dir);
        let runtime_root = self.isolation.runtime_root(&self.runtimes.dir);
        let (program, args) = self.runtimes.command(
            &f.runtime,
            &f.code_dir,
            &task_root,
            &runtime_root,
            f.opt_dir.as_deref().map(|d| (d, self.opt_root(f))),
        )?;
        let stream = logs::stream_name(&f.version);
        let env = self.environment(f, &stream, init_type);
        let spec = SandboxSpec {
            program,
            args,
            env,
            cwd: task_root,
            code_dir: f.code_dir.clone(),
            runtime_dir: Some(self.runtimes.dir.clone()),
            opt_dir: f.opt_dir.clone(),
            readonly_mounts: self.runtimes.mounts(&f.runtime),
            memory_mb: f.memory_mb,
            tmp_mb: f.ephemeral_storage_mb,
            listener_env: Some("AWS_LAMBDA_RUNTIME_API".to_string()),
            // With an acceptor, functions reach the platform's API through a listener of their
            // own network (a sandbox with a private network cannot reach the host's loopback).
            api_listener: self.api_acceptor.get().map(|_| {
                (
                    "AWS_ENDPOINT_URL_LAMBDA".to_string(),
                    self.cfg.api_endpoint.clone(),
                )
            }),
            outbound_network: f.outbound_network,
        };
        let spawned = self.isolation.spawn(&spec).map_err(|e| e.to_string())?;
        let Some(listener) = spawned.listener else {
            spawned.control.kill();
            return Err("the sandbox backend gave no Runtime API listener".to_string());
        };
        let slot = Arc::new(Slot::new());
        let server = tokio::net::TcpListener::from_std(listener)
            .and_then(|l| hako_runtime_api::serve(l, slot.clone()))
            .map_err(|e| {
                spawned.control.kill();
                format!("cannot start the Runtime API: {e}")
            })?;
        let api_server = match (spawned.api_listener, self.api_acceptor.get()) {
            (Some(l), Some(accept)) => Some(ApiServeGuard((accept.0)(l))),
            _ => None,
        };
        let logs = LogCapture::new(
            spawned.output,
            self.sink.clone(),
            f.log_group.as_str().into(),
            stream.into(),
        )
        .map_err(|e| format!("cannot capture output: {e}"))?;
        tokio::spawn(logs.clone().run());
        let (exit_tx, exit_rx) = watch::channel(None);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let sb = Arc::new(Sandbox {
            id,
            slot,
            control: spawned.control,
            logs,
            exited: exit_rx,
            doomed: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
            idle: Mutex::new(sandbox::IdleState::default()),
            pending_init: Mutex::new(None),
            _server: server,
            _api: api_server,
        });
        self.live.lock().insert(id, sb.clone());
        let exit = spawned.exit;
        let weak = Arc::downgrade(&sb);
        tokio::spawn(async move {
            let st = exit.await;
            let _ = exit_tx.send(Some(st));
            if let Some(sb) = weak.upgrade() {
                sb.doomed.store(true, Ordering::Release);
                sb.logs.drain();
            }
        });
        Ok(sb)
    }

    fn forget(&self, sb: &Sandbox) {
        self.live.lock().remove(&sb.id);
    }

    /// Runs one invocation synchronously.
    pub async fn invoke(
        &self,
        f: &ResolvedFunction,
        req: InvokeRequest,
    ) -> Result<InvokeResult, Error> {
        if self.closing.load(Ordering::Acquire) {
            return Err(Error::service("Hako is shutting down"));
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
                return Err(e);
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
                        return Ok(InvokeResult {
                            payload: error_payload(
                                "Runtime.InvalidEntrypoint",
                                &format!("RequestId: {request_id} Error: {msg}"),
                            ),
                            request_id,
                            function_error: Some("Unhandled"),
                            log_tail: None,
                            executed_version: f.version.clone(),
                        });
                    }
                },
            };
            let result = self.run_on(f, &sb, init, &request_id, req, &metrics).await;
            drop(cold_guard);
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
            match result {
                Ok(r) => return Ok(r),
                Err(again) => req = again,
            }
        }
        Err(Error::service(format!(
            "RequestId: {request_id} Error: no sandbox could take the event"
        )))
    }

    /// Waits until a new sandbox's runtime has initialised (asks for its first event); else the
    /// error payload and log line of its failure. `request_id` names the invocation waiting.
    async fn init(&self, sb: &Sandbox, request_id: &str) -> Result<(), (Bytes, String)> {
        tokio::select! {
            ready = sb.slot.ready() => match ready {
                Ready::Parked => {
                    sb.control.initialized();
                    Ok(())
                }
                Ready::InitError { error_type, body } => {
                    let body = if body.is_empty() {
                        error_payload(error_type.as_deref().unwrap_or("Runtime.Unknown"), "init error")
                    } else { body };
                    sb.kill();
                    Err((body, String::new()))
                }
            },
            st = sb.wait_exit() => Err(exit_error(request_id, st, sb.control.oom_killed())),
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
        if req.log_tail {
            sb.logs.begin_tail();
        }
        // A provisioned sandbox's first invocation reports the init done ahead.
        let mut init_duration = sb.pending_init.lock().take();
        let mut failure: Option<(Bytes, String)> = None; // (payload, log line)
                                                         // A cold sandbox first initialises (its output goes before START, as on AWS); the event
                                                         // is delivered once the runtime asks for it.
        if let Some(since) = cold_since {
            match self.init(sb, request_id).await {
                Ok(()) => init_duration = Some(since.elapsed()),
                Err(f) => failure = Some(f),
            }
        }
        sb.logs.drain();
        sb.logs.platform(format!(
            "START RequestId: {request_id} Version: {}",
            f.version
        ));
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
                                sb.logs.platform(format!("END RequestId: {request_id}"));
                                return Err(InvokeRequest {
                                    payload: inv.payload,
                                    invoked_arn: inv.function_arn,
                                    client_context: inv.client_context,
                                    trace_id: Some(inv.trace_id),
                                    log_tail: req_log_tail,
                                    request_id: None,
                                });
                            }
                            failure = Some(exit_error(request_id, st, sb.control.oom_killed()));
                            None
                        }
                    }
                }
                _ = tokio::time::sleep(f.timeout) => {
                    let secs = f.timeout.as_secs_f64();
                    let msg = format!("RequestId: {request_id} Error: Task timed out after {secs:.2} seconds");
                    let line = format!("{} {request_id} Task timed out after {secs:.2} seconds", rfc3339_now());
                    failure = Some((error_payload("Sandbox.Timedout", &msg), line));
                    sb.kill();
                    None
                }
            }
        } else {
            None
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
                        "Response payload size exceeded maximum allowed payload size ({} bytes).",
                        hako_runtime_api::MAX_RESPONSE_BYTES
                    ),
                ),
                Some("Unhandled"),
            ),
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
        sb.logs.drain();
        sb.logs.platform(format!("END RequestId: {request_id}"));
        let ms = duration.as_secs_f64() * 1000.0;
        let max_mb = sb
            .control
            .peak_memory_bytes()
            .map(|b| b / (1024 * 1024))
            .unwrap_or(0);
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {max_mb} MB\t",
            ms.ceil().max(1.0) as u64,
            f.memory_mb
        );
        if let Some(init) = init_duration {
            report.push_str(&format!(
                "Init Duration: {:.2} ms\t",
                init.as_secs_f64() * 1000.0
            ));
        }
        if function_error.is_some() && !sb.is_alive() {
            report.push_str("Status: error\t");
        }
        sb.logs.platform(report);
        let log_tail = if req_log_tail {
            sb.logs.end_tail()
        } else {
            None
        };
        Ok(InvokeResult {
            request_id: request_id.to_string(),
            payload,
            function_error,
            log_tail,
            executed_version: f.version.clone(),
        })
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
