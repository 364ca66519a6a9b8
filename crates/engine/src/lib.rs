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
mod errors;
mod invoke;
mod lifecycle;
mod logformat;
pub mod logs;
pub mod metrics;
mod pool;
mod provisioned;
pub mod recent;
pub mod runtimes;
mod sandbox;
mod start;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod types;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use hako_sandbox::Isolation;
use parking_lot::{Mutex, RwLock};

pub use logformat::{LogControls, LogLevel};
pub use logs::{LogRecord, LogSink, NullSink};
pub use provisioned::ProvisionedState;
pub use runtimes::{RuntimeInfo, Runtimes};
pub use start::ApiAcceptor;
pub use types::{
    stream_channel, AsyncMetric, EngineConfig, InvokeRequest, InvokeResult, ResolvedFunction,
    StreamEvent, StreamSink,
};

use crate::concurrency::Account;
use crate::metrics::Metrics;
use crate::pool::FunctionState;
use crate::sandbox::Sandbox;

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
    /// The last invocations, for the console.
    recent: recent::Recent,
    live: Mutex<HashMap<u64, Arc<Sandbox>>>,
    next_id: AtomicU64,
    closing: AtomicBool,
    /// Invocations that are starting a sandbox right now (see [`Engine::cold_starting`]).
    cold_starting: AtomicUsize,
    api_acceptor: std::sync::OnceLock<ApiAcceptor>,
    /// Issues each sandbox the temporary credentials of its function's role (unset: fixed
    /// dummy credentials, for tests of the engine alone).
    credentials: std::sync::OnceLock<Arc<hako_auth::Authority>>,
    /// The engine itself, for the tasks it starts from `&self` (refilling provisioned sets).
    me: std::sync::Weak<Engine>,
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
            recent: recent::Recent::default(),
            live: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closing: AtomicBool::new(false),
            cold_starting: AtomicUsize::new(0),
            api_acceptor: std::sync::OnceLock::new(),
            credentials: std::sync::OnceLock::new(),
            cfg,
        })
    }

    /// Lets sandboxes with a private network reach the platform's API (set once, at start).
    pub fn set_api_acceptor(&self, acceptor: ApiAcceptor) {
        let _ = self.api_acceptor.set(acceptor);
    }

    /// Gives sandboxes credentials of their function's role from `authority` (set once, at
    /// start).
    pub fn set_credentials(&self, authority: Arc<hako_auth::Authority>) {
        let _ = self.credentials.set(authority);
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

    /// Refuses new invocations from now on (the first step of [`Engine::shutdown`]); running
    /// ones go on. [`Engine::inflight`] says how many are left.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// Whether the engine is shutting down (it refuses new invocations).
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// The last invocations that ran (at most [`recent::RECENT_CAPACITY`]), newest first.
    pub fn recent_invocations(&self) -> Vec<recent::InvocationRecord> {
        self.recent.newest_first()
    }

    /// The metrics in the OpenMetrics text format (`GET /metrics`).
    pub fn render_metrics(&self) -> String {
        self.metrics
            .render(self.account.inflight(), self.account.unreserved_inflight())
    }
}
