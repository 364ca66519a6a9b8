//! Runs one function process in a sandbox, and nothing else: it does not know Lambda.
//!
//! A caller describes the process with a [`SandboxSpec`] (program, arguments, environment,
//! working directory, limits) and an [`Isolation`] backend starts it, returning a [`Sandbox`]
//! handle: the process's pid, its merged stdout/stderr pipe, and ways to wait for it and to kill
//! it with everything it started.
//!
//! Backends:
//! - [`process::ProcessIsolation`]: a plain host process in its own process group, killed with
//!   the group, and with a parent-death signal so that no process outlives Hako. No namespaces
//!   and no cgroups: the development and unprivileged backend.
//! - [`linux::LinuxIsolation`]: namespaces, a minimal read-only root, cgroups (v1 and v2),
//!   an unprivileged user, no capabilities and a seccomp filter, set up by a freshly exec'd
//!   `hako sandbox-init` ([`linux::init_main`]). As root, or rootless (a user namespace per
//!   sandbox, cgroups delegated to Hako's user, slirp4netns for outbound access).
//! - `fake::FakeIsolation` (feature `fake`, for tests of other crates): no process; each sandbox
//!   is a tokio task running a test-supplied program, with real listeners and a real output pipe.
//!
//! Invariant: this is the only crate allowed `unsafe`, libc/nix and `std::process::Command`.

pub mod cpu;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod linux;
pub mod process;
pub mod view;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What to run, and within which limits.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// The executable (absolute path).
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// Working directory (as the sandbox sees it: see [`Isolation::task_root`]).
    pub cwd: PathBuf,
    /// The host directory of the code; isolating backends show it read-only at
    /// [`Isolation::task_root`].
    pub code_dir: PathBuf,
    /// A host directory of runtime support files, shown read-only at [`Isolation::runtime_root`].
    pub runtime_dir: Option<PathBuf>,
    /// A host directory shown read-only at `/opt` by isolating backends (a function's merged
    /// layers); see [`Isolation::opt_root`].
    pub opt_dir: Option<PathBuf>,
    /// Further host directories the program needs, each `(host, inside)`: shown read-only at
    /// `inside` by isolating backends (see [`Isolation::mount_root`]), e.g. an interpreter's
    /// prefix. Places the backend keeps for itself (the code, the runtime directory, `/opt`,
    /// `/tmp`, the system directories) are refused.
    pub readonly_mounts: Vec<(PathBuf, PathBuf)>,
    /// Memory limit in MiB (enforced by isolating backends).
    pub memory_mb: u64,
    /// Writable scratch space size in MiB (enforced by isolating backends).
    pub tmp_mb: u64,
    /// When set, the backend opens a TCP listener on the sandbox's own loopback, returns it in
    /// [`Spawned::listener`] and puts its `host:port` (as the sandbox sees it) in this
    /// environment variable.
    pub listener_env: Option<String>,
    /// When set, `(variable, fallback)`: the backend opens a second listener on the sandbox's own
    /// loopback (for the platform's API), returns it in [`Spawned::api_listener`] and puts its
    /// URL in `variable`; a backend whose sandboxes share the host's network puts `fallback` there.
    pub api_listener: Option<(Vec<String>, String)>,
    /// Whether the sandbox may reach beyond itself: the host (not its loopback-only listeners)
    /// and, through it, other hosts. Backends whose sandboxes share the host's network ignore it.
    pub outbound_network: bool,
}

/// Errors of starting or managing a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot create the output pipe: {0}")]
    Pipe(std::io::Error),
    #[error("cannot open the sandbox's listener: {0}")]
    Listener(std::io::Error),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot set the sandbox up: {0}")]
    Setup(String),
}

/// How a sandboxed process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    /// What a wait on a child process returned, as an [`ExitStatus`] (`Code(-1)` when the wait
    /// itself failed).
    pub fn from_wait(r: std::io::Result<std::process::ExitStatus>) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        match r {
            Ok(st) => match (st.code(), st.signal()) {
                (Some(c), _) => ExitStatus::Code(c),
                (None, Some(sig)) => ExitStatus::Signal(sig),
                _ => ExitStatus::Code(-1),
            },
            Err(_) => ExitStatus::Code(-1),
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signal(s) => write!(f, "signal: {s}"),
        }
    }
}

/// Control of a running sandbox, shareable across tasks.
pub trait SandboxControl: Send + Sync + std::fmt::Debug {
    /// The pid of the sandbox's main process (as seen from the host).
    fn pid(&self) -> u32;
    /// Kills every process of the sandbox. Idempotent.
    fn kill(&self);
    /// Peak memory use in bytes, as far as the backend can tell.
    fn peak_memory_bytes(&self) -> Option<u64>;
    /// Whether the backend's memory limit killed a process of the sandbox.
    fn oom_killed(&self) -> bool {
        false
    }
    /// Stops every process of the sandbox from running (it keeps its memory) until [`thaw`].
    /// No-op where the backend cannot.
    ///
    /// [`thaw`]: SandboxControl::thaw
    fn freeze(&self) {}
    /// Undoes [`SandboxControl::freeze`].
    fn thaw(&self) {}
    /// Whether [`SandboxControl::freeze`] does anything.
    fn freezable(&self) -> bool {
        false
    }
    /// The program has finished initialising: a backend that lets the init phase use more CPU
    /// than the sandbox's share applies the share from now on.
    fn initialized(&self) {}
    /// Whether [`SandboxControl::restart`] keeps the sandbox (else it only fails).
    fn restartable(&self) -> bool {
        false
    }
    /// Starts the program again in the same sandbox, as it was first started: kills the running
    /// program with every process it started and, once they are gone, starts it anew. The
    /// sandbox itself stays: its filesystem (its `/tmp` included), network, listeners, output
    /// pipe and limits; every new process is confined as the first one was. The previous
    /// run's exit future is to be ignored (a backend may resolve it at once, or only when the
    /// sandbox ends); the returned future is the new run's exit. A sandbox whose program has already ended by
    /// itself is gone: restarting it fails, as it does where the backend cannot
    /// ([`SandboxControl::restartable`] false); the caller then kills the sandbox.
    ///
    /// Readings that accumulate ([`SandboxControl::oom_killed`]) start again with the new
    /// program.
    fn restart(&self) -> Result<ExitFuture, SandboxError> {
        Err(SandboxError::Setup(
            "this backend cannot restart a sandbox's program".into(),
        ))
    }
}

/// A future that resolves when a sandbox's program has exited.
pub type ExitFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ExitStatus> + Send>>;

/// A started sandbox: its control, the read end of its merged stdout/stderr, and a future that
/// resolves when its main process has exited (and its remaining processes have been killed).
pub struct Spawned {
    pub control: std::sync::Arc<dyn SandboxControl>,
    pub output: OwnedFd,
    pub exit: ExitFuture,
    /// The listener asked for with [`SandboxSpec::listener_env`] (non-blocking).
    pub listener: Option<std::net::TcpListener>,
    /// The listener asked for with [`SandboxSpec::api_listener`], if the backend opened one.
    pub api_listener: Option<std::net::TcpListener>,
}

impl std::fmt::Debug for Spawned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawned")
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

/// A way to start sandboxes.
pub trait Isolation: Send + Sync + std::fmt::Debug {
    /// The backend's name, for logs and `hako doctor`.
    fn name(&self) -> &'static str;
    /// Starts a sandbox. Must be called from within a tokio runtime.
    fn spawn(&self, spec: &SandboxSpec) -> Result<Spawned, SandboxError>;
    /// Where a sandbox sees [`SandboxSpec::code_dir`] (`host`).
    fn task_root(&self, host: &Path) -> PathBuf {
        host.to_path_buf()
    }
    /// Where a sandbox sees [`SandboxSpec::runtime_dir`] (`host`).
    fn runtime_root(&self, host: &Path) -> PathBuf {
        host.to_path_buf()
    }
    /// Where a sandbox sees a directory of [`SandboxSpec::readonly_mounts`] (`host`, asked to be
    /// at `inside`): `inside` where the backend has a mount namespace, else `host` itself.
    fn mount_root(&self, host: &Path, _inside: &Path) -> PathBuf {
        host.to_path_buf()
    }
    /// Where a sandbox sees [`SandboxSpec::opt_dir`] (`host`): `/opt` where the backend has a
    /// mount namespace, else the host directory itself.
    fn opt_root(&self, host: &Path) -> PathBuf {
        host.to_path_buf()
    }
    /// Releases what the backend holds beyond its sandboxes (e.g. sandboxes prepared ahead of
    /// demand, with their cgroups): kills and reaps those processes and removes what they used.
    /// Called once, when the platform stops; spawning afterwards fails. Bounded in time.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A boxed, sendable future (what the object-safe async methods of [`Isolation`] return).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Runs a tool (a package manager installing what a sandbox will use, outside any sandbox) with
/// exactly `env`, its output going to this process's, and waits for it at most `timeout` (then
/// kills it). Ok when it exits with 0, else what went wrong.
pub fn run_tool(
    program: &std::path::Path,
    args: &[String],
    env: &[(String, String)],
    timeout: std::time::Duration,
) -> Result<(), String> {
    let mut child = std::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("{} failed ({st})", program.display())),
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {} s",
                    program.display(),
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(50)),
            Err(e) => return Err(format!("cannot wait for {}: {e}", program.display())),
        }
    }
}

/// Runs a short host command and returns its stdout (used to ask interpreters their version).
/// Bounded by `timeout`.
pub async fn probe(
    program: &std::path::Path,
    args: &[&str],
    timeout: std::time::Duration,
) -> Option<String> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .ok()?
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}
