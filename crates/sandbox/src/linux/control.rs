//! Control of a running linux sandbox: kill, freeze and thaw through its cgroup, its memory
//! readings (kept once it has exited), and the CPU share applied once its runtime is initialised.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::cgroups;
use crate::{ExitFuture, ExitStatus, SandboxControl, SandboxError};

#[derive(Debug)]
pub(super) struct LinuxControl {
    /// The outer init's pid.
    pub(super) pid: u32,
    pub(super) cgroup: cgroups::Cgroup,
    pub(super) exited: AtomicBool,
    pub(super) frozen: AtomicBool,
    /// Set once the sandbox has exited: its last readings.
    pub(super) final_peak: AtomicU64,
    pub(super) final_oom: AtomicBool,
    /// The cgroup's OOM kill count when the program was last (re)started.
    pub(super) oom_base: AtomicU64,
    /// How the sandbox ended, once it has (for the exit futures of restarted programs).
    pub(super) ended: tokio::sync::watch::Sender<Option<ExitStatus>>,
    /// Hako's end of fd 3: closing it kills the sandbox; [`init::RESTART`] goes through it.
    ///
    /// [`init::RESTART`]: super::init::RESTART
    pub(super) control: OwnedFd,
}

impl LinuxControl {
    /// Records the last readings, then removes the cgroup (retrying while processes exit).
    pub(super) async fn finish(&self) {
        self.final_peak.store(
            self.cgroup.peak_memory_bytes().unwrap_or(0),
            Ordering::Release,
        );
        self.final_oom
            .store(self.oom_since_start(), Ordering::Release);
        self.exited.store(true, Ordering::Release);
        self.cgroup.kill_all();
        for _ in 0..200 {
            if self.cgroup.try_destroy() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tracing::warn!(pid = self.pid, "a sandbox's cgroup could not be removed");
    }

    /// Resolves when the sandbox has ended (its outer init exited and its cgroup is removed).
    pub(super) fn exit_future(&self) -> ExitFuture {
        let mut ended = self.ended.subscribe();
        Box::pin(async move {
            match ended.wait_for(|s| s.is_some()).await {
                Ok(s) => s.unwrap_or(ExitStatus::Code(-1)),
                Err(_) => ExitStatus::Code(-1),
            }
        })
    }

    fn oom_since_start(&self) -> bool {
        self.cgroup.oom_kills() > self.oom_base.load(Ordering::Acquire)
    }
}

impl SandboxControl for LinuxControl {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn kill(&self) {
        if self.exited.load(Ordering::Acquire) {
            return;
        }
        // The inner init dies with the outer one (parent-death signal), and the PID namespace with
        // its init; the cgroup sweep covers the rest, and thaws frozen processes so they can die.
        let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        self.cgroup.kill_all();
    }

    fn peak_memory_bytes(&self) -> Option<u64> {
        if self.exited.load(Ordering::Acquire) {
            return Some(self.final_peak.load(Ordering::Acquire));
        }
        self.cgroup.peak_memory_bytes()
    }

    fn oom_killed(&self) -> bool {
        if self.exited.load(Ordering::Acquire) {
            return self.final_oom.load(Ordering::Acquire);
        }
        self.oom_since_start()
    }

    fn freeze(&self) {
        if !self.exited.load(Ordering::Acquire) && !self.frozen.swap(true, Ordering::AcqRel) {
            let _ = self.cgroup.freeze();
        }
    }

    fn thaw(&self) {
        if self.frozen.swap(false, Ordering::AcqRel) {
            let _ = self.cgroup.thaw();
        }
    }

    fn freezable(&self) -> bool {
        true
    }

    fn initialized(&self) {
        if !self.exited.load(Ordering::Acquire) {
            let _ = self.cgroup.apply_cpu_share();
        }
    }

    fn restartable(&self) -> bool {
        true
    }

    /// The init (PID 1 of the sandbox, which the function cannot signal) kills every other
    /// process of the namespace, reaps them and forks the function again; the sandbox's mounts
    /// (its `/tmp`), network, cgroup and listeners stay. The sandbox's one exit (the outer
    /// init's) is every run's: the previous exit future resolves only when the sandbox ends.
    fn restart(&self) -> Result<ExitFuture, SandboxError> {
        if self.exited.load(Ordering::Acquire) || self.ended.borrow().is_some() {
            return Err(SandboxError::Setup("the sandbox is gone".into()));
        }
        self.oom_base
            .store(self.cgroup.oom_kills(), Ordering::Release);
        super::net::send_with_fd(self.control.as_fd(), super::init::RESTART, None)
            .map_err(|e| SandboxError::Setup(format!("cannot ask the init to restart: {e}")))?;
        Ok(self.exit_future())
    }
}
