//! The engine's view of one sandbox: the isolated process, its Runtime API server and slot, its
//! log capture, and whether it is still alive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
    pub(crate) _server: RuntimeApiServer,
}

impl Sandbox {
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
