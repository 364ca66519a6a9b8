//! The engine's view of one sandbox: the isolated process, its Runtime API server and slot, its
//! log capture, and whether it is still alive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use hako_runtime_api::{RuntimeApiServer, Slot};
use hako_sandbox::{ExitStatus, SandboxControl};
use tokio::sync::watch;

use crate::logs::LogCapture;

/// A live sandbox.
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub(crate) id: u64,
    pub(crate) slot: Arc<Slot>,
    pub(crate) control: Arc<dyn SandboxControl>,
    pub(crate) logs: Arc<LogCapture>,
    pub(crate) exited: watch::Receiver<Option<ExitStatus>>,
    /// Set when the sandbox must not serve again (retired, timed out, failed).
    pub(crate) doomed: AtomicBool,
    pub(crate) last_used: parking_lot::Mutex<Instant>,
    pub(crate) idle: parking_lot::Mutex<IdleState>,
    /// A provisioned sandbox's init time, until its first invocation reports it.
    pub(crate) pending_init: crate::provisioned::PendingInit,
    pub(crate) _server: RuntimeApiServer,
    /// Serving the platform's API inside the sandbox's network, when it has its own.
    pub(crate) _api: Option<crate::start::ApiServeGuard>,
}

/// How long a sandbox must sit idle before it is frozen. Thawing a v1 freezer group costs
/// 150-500 µs, far more than a warm invoke: back-to-back invocations must not pay it, so only
/// sandboxes idle for a while are frozen.
const FREEZE_AFTER: Duration = Duration::from_millis(50);

/// Whether an idle sandbox is frozen, and which idle period a pending freeze belongs to.
#[derive(Debug, Default)]
pub(crate) struct IdleState {
    resting: bool,
    period: u64,
    frozen: bool,
}

impl Sandbox {
    /// The sandbox goes back to the pool: freeze it once it has been idle for [`FREEZE_AFTER`]
    /// (between invocations a sandbox gets no CPU, as on AWS).
    pub(crate) fn rest(self: &Arc<Self>) {
        if !self.control.freezable() {
            return;
        }
        let period = {
            let mut st = self.idle.lock();
            st.resting = true;
            st.period += 1;
            st.period
        };
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(FREEZE_AFTER).await;
            let Some(sb) = weak.upgrade() else { return };
            let mut st = sb.idle.lock();
            if st.resting && st.period == period && !st.frozen && sb.is_alive() {
                sb.control.freeze();
                st.frozen = true;
            }
        });
    }

    /// The sandbox is taken from the pool: thaw it if it was frozen.
    pub(crate) fn wake(&self) {
        let mut st = self.idle.lock();
        st.resting = false;
        if st.frozen {
            st.frozen = false;
            self.control.thaw();
        }
    }

    /// Kills the sandbox's processes; the exit watcher cleans up the rest.
    pub(crate) fn kill(&self) {
        self.doomed.store(true, Ordering::Release);
        self.control.kill();
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.exited.borrow().is_none() && !self.doomed.load(Ordering::Acquire)
    }

    /// Waits for the process to exit.
    pub(crate) async fn wait_exit(&self) -> ExitStatus {
        let mut rx = self.exited.clone();
        loop {
            if let Some(s) = *rx.borrow_and_update() {
                return s;
            }
            if rx.changed().await.is_err() {
                return ExitStatus::Code(-1);
            }
        }
    }
}
