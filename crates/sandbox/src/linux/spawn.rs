//! Spawning a function in a linux sandbox: a prepared sandbox (or a new one) gets its limits and
//! its function's spec, and Hako waits for its init to report it ready with its listeners.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::control::LinuxControl;
use super::pool::Prepared;
use super::{
    cgroups, init, mounts, net, LinuxIsolation, Mode, PLATFORM_API_PORT, RUNTIME_API_PORT,
    RUNTIME_ROOT, TASK_ROOT,
};
use crate::{ExitStatus, Isolation, SandboxError, SandboxSpec, Spawned};

/// The listeners a sandbox's init hands over: the Runtime API's and the platform API's.
type Listeners = (Option<std::net::TcpListener>, Option<std::net::TcpListener>);
/// Processes and threads per sandbox, and open files per process (AWS's limits).
const MAX_PIDS: u64 = 1024;
const MAX_FILES: u64 = 1024;
/// How long the init may take to report the sandbox ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

impl LinuxIsolation {
    /// Waits for the init's `OK` and takes the listeners it opened (the Runtime API's, then the
    /// platform API's, each only when `spec` asked for it).
    fn wait_ready(&self, sock: &OwnedFd, spec: &SandboxSpec) -> Result<Listeners, SandboxError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let setup = |m: String| SandboxError::Setup(m);
        let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        let ms =
            PollTimeout::try_from(READY_TIMEOUT.as_millis() as i32).unwrap_or(PollTimeout::NONE);
        let n = loop {
            match poll(&mut fds, ms) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.map_err(|e| setup(format!("poll: {e}")))?,
            }
        };
        if n == 0 {
            return Err(setup(format!(
                "the sandbox was not ready within {} s",
                READY_TIMEOUT.as_secs()
            )));
        }
        let mut buf = [0u8; 4096];
        let (len, fds) = net::recv_with_fds(sock.as_fd(), &mut buf)
            .map_err(|e| setup(format!("recvmsg: {e}")))?;
        let msg = String::from_utf8_lossy(&buf[..len]);
        if let Some(err) = msg.strip_prefix("ERR:") {
            return Err(setup(err.to_string()));
        }
        if msg != "OK" {
            return Err(setup(if len == 0 {
                "the sandbox's init exited".into()
            } else {
                format!("unexpected message {msg:?}")
            }));
        }
        let mut fds = fds.into_iter();
        let mut take = |asked: bool| -> Result<Option<std::net::TcpListener>, SandboxError> {
            if !asked {
                return Ok(None);
            }
            let fd = fds
                .next()
                .ok_or_else(|| setup("the init sent no listener".into()))?;
            let l = std::net::TcpListener::from(fd);
            l.set_nonblocking(true).map_err(SandboxError::Listener)?;
            Ok(Some(l))
        };
        let runtime = take(spec.listener_env.is_some())?;
        let api = take(spec.api_listener.is_some())?;
        Ok((runtime, api))
    }
}

impl Isolation for LinuxIsolation {
    fn name(&self) -> &'static str {
        "linux"
    }

    fn task_root(&self, _host: &Path) -> PathBuf {
        PathBuf::from(TASK_ROOT)
    }

    fn runtime_root(&self, _host: &Path) -> PathBuf {
        PathBuf::from(RUNTIME_ROOT)
    }

    fn opt_root(&self, _host: &Path) -> PathBuf {
        PathBuf::from(mounts::OPT_ROOT)
    }

    fn mount_root(&self, _host: &Path, inside: &Path) -> PathBuf {
        inside.to_path_buf()
    }

    fn shutdown(&self) -> crate::BoxFuture<'_, ()> {
        Box::pin(self.preparer.shutdown())
    }

    fn spawn(&self, spec: &SandboxSpec) -> Result<Spawned, SandboxError> {
        let setup = |m: String| SandboxError::Setup(m);
        if self.preparer.closed.load(Ordering::Acquire) {
            return Err(setup("the sandbox backend has shut down".into()));
        }
        let t0 = std::time::Instant::now();
        let pooled = self.preparer.take();
        let was_pooled = pooled.is_some();
        let prepared = match pooled {
            Some(p) => p,
            None => self.preparer.prepare()?,
        };
        let t_prepared = t0.elapsed();
        let limits = cgroups::Limits {
            memory_mb: spec.memory_mb,
            mb_per_vcpu: self.preparer.cfg.mb_per_vcpu,
            pids: MAX_PIDS,
        };
        let Prepared {
            child,
            sock,
            output,
            cgroup,
            tmp_mb,
        } = prepared;
        let fail = |e: SandboxError| {
            cgroup.kill_all();
            cgroup.destroy();
            e
        };
        if let Err(e) = cgroup.set_limits(limits) {
            return Err(fail(setup(e.to_string())));
        }
        let mut env = spec.env.clone();
        if let Some(var) = &spec.listener_env {
            env.push((var.clone(), format!("127.0.0.1:{RUNTIME_API_PORT}")));
        }
        if let Some((vars, _)) = &spec.api_listener {
            let url = format!("http://127.0.0.1:{PLATFORM_API_PORT}");
            env.extend(vars.iter().map(|v| (v.clone(), url.clone())));
        }
        let plan = mounts::sandbox_plan(
            &spec.code_dir,
            spec.runtime_dir.as_deref(),
            spec.opt_dir.as_deref(),
            &spec.readonly_mounts,
            spec.tmp_mb,
            self.preparer.tmp_disks.is_some(),
        );
        // A sandbox prepared with another /tmp size gets a new disk; the next ones are prepared
        // with this size.
        let tmp_mb_wanted = spec.tmp_mb.max(1);
        let new_tmp = if self.preparer.tmp_disks.is_some() && tmp_mb != Some(tmp_mb_wanted) {
            self.preparer.tmp_disk(tmp_mb_wanted)
        } else {
            None
        };
        if self.preparer.tmp_disks.is_some() {
            self.preparer
                .tmp_mb_next
                .store(tmp_mb_wanted, Ordering::Relaxed);
        }
        let init = init::InitSpec {
            program: spec.program.clone(),
            args: spec.args.clone(),
            env,
            cwd: spec.cwd.clone(),
            hostname: self.preparer.cfg.hostname.clone(),
            uid: self.preparer.cfg.user.uid,
            gid: self.preparer.cfg.user.gid,
            mounts: plan,
            listen_port: spec.listener_env.as_ref().map(|_| RUNTIME_API_PORT),
            api_port: spec.api_listener.as_ref().map(|_| PLATFORM_API_PORT),
            seccomp: self.seccomp.clone(),
            nofile: MAX_FILES,
            rootless: self.preparer.mode == Mode::Rootless,
            outbound: spec.outbound_network,
            timings: tracing::enabled!(tracing::Level::TRACE),
            tmp_disk: new_tmp.as_ref().map(|(d, _)| d.clone()),
        };
        let result = (|| {
            let bytes = serde_json::to_vec(&init)
                .map_err(|e| setup(format!("cannot encode the spec: {e}")))?;
            let template = new_tmp.as_ref().map(|(_, t)| t.as_raw_fd());
            net::send_with_fd(sock.as_fd(), &bytes, template)
                .map_err(|e| setup(format!("cannot send the spec: {e}")))?;
            // Waiting for the init takes milliseconds: let the runtime move other tasks off this
            // worker meanwhile.
            match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                    tokio::task::block_in_place(|| self.wait_ready(&sock, spec))
                }
                _ => self.wait_ready(&sock, spec),
            }
        })();
        let (listener, api_listener) = match result {
            Ok(l) => l,
            // The init's own message is in its output; the child is killed on drop.
            Err(e) => return Err(fail(e)),
        };
        let (control_fd, output) = (sock, output);
        self.preparer.refill_later();
        tracing::debug!(
            pooled = was_pooled,
            prepared_us = t_prepared.as_micros() as u64,
            ready_us = t0.elapsed().as_micros() as u64,
            "linux sandbox ready"
        );
        let pid = child.id().unwrap_or(0);
        let control = Arc::new(LinuxControl {
            pid,
            cgroup,
            exited: AtomicBool::new(false),
            frozen: AtomicBool::new(false),
            final_peak: AtomicU64::new(0),
            final_oom: AtomicBool::new(false),
            oom_base: AtomicU64::new(0),
            ended: tokio::sync::watch::channel(None).0,
            control: control_fd,
        });
        // Waited for by a task of its own: the exit futures of this run and of restarted ones
        // all resolve from it, whichever of them is polled.
        let c2 = control.clone();
        tokio::spawn(async move {
            let mut child = child;
            let s = ExitStatus::from_wait(child.wait().await);
            c2.finish().await;
            c2.ended.send_replace(Some(s));
        });
        let exit = control.exit_future();
        Ok(Spawned {
            control,
            output,
            exit,
            listener,
            api_listener,
        })
    }
}
