//! The engine's view of one sandbox: the isolated process, its Runtime API server and slot, its
//! log capture, and whether it is still alive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use hako_runtime_api::{RuntimeApiServer, Slot};
use hako_sandbox::{ExitFuture, ExitStatus, SandboxControl};
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
    pub(crate) exit_tx: watch::Sender<Option<ExitStatus>>,
    /// Which run of the program is the sandbox's (bumped by [`Sandbox::reset`]): only its exit
    /// ends the sandbox.
    pub(crate) generation: parking_lot::Mutex<u64>,
    /// Set by [`Sandbox::reset`]: when the program was started again, until an invocation has
    /// waited for its init.
    pub(crate) reinit_since: parking_lot::Mutex<Option<Instant>>,
    /// Set when the sandbox must not serve again (retired, timed out, failed).
    pub(crate) doomed: AtomicBool,
    pub(crate) last_used: parking_lot::Mutex<Instant>,
    pub(crate) idle: parking_lot::Mutex<IdleState>,
    /// A provisioned sandbox's init time, until its first invocation reports it.
    pub(crate) pending_init: crate::provisioned::PendingInit,
    pub(crate) _server: RuntimeApiServer,
    /// Serving the platform's API inside the sandbox's network, when it has its own.
    pub(crate) _api: Option<crate::start::ApiServeGuard>,
    /// The sandbox's credentials, revoked when it goes.
    pub(crate) _credentials: Option<crate::start::CredentialsGuard>,
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

    /// Notices the end of the program's run `generation`: if it is still the sandbox's, the
    /// sandbox is over.
    pub(crate) fn watch_exit(self: &Arc<Self>, exit: ExitFuture, generation: u64) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let st = exit.await;
            let Some(sb) = weak.upgrade() else { return };
            {
                let current = sb.generation.lock();
                if *current != generation {
                    return;
                }
                let _ = sb.exit_tx.send(Some(st));
                sb.doomed.store(true, Ordering::Release);
            }
            sb.logs.drain();
        });
    }

    /// Resets the runtime, as AWS does after a timeout: the program (with everything it
    /// started) is killed and started again in the same sandbox, which keeps its `/tmp`, its
    /// log stream and its place in the pool; the next invocation waits for the new runtime's
    /// init and reports it. `false` when the backend cannot or the sandbox is gone: the caller
    /// kills it.
    pub(crate) fn reset(self: &Arc<Self>) -> bool {
        if !self.control.restartable() {
            return false;
        }
        let mut current = self.generation.lock();
        if !self.is_alive() {
            return false;
        }
        // Before the new runtime can ask for an event.
        self.slot.reset();
        let exit = match self.control.restart() {
            Ok(exit) => exit,
            Err(e) => {
                tracing::debug!(sandbox = self.id, "cannot reset the runtime: {e}");
                return false;
            }
        };
        *current += 1;
        let generation = *current;
        drop(current);
        *self.reinit_since.lock() = Some(Instant::now());
        self.watch_exit(exit, generation);
        true
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
