//! A fake backend for tests: no process is started.
//!
//! [`FakeIsolation::spawn`] does what a real backend does at its edges (it opens the listeners a
//! [`SandboxSpec`] asks for on 127.0.0.1:0 and puts their addresses in the environment, gives the
//! read end of an output pipe and an exit future) and runs a test-supplied async *program* as a
//! tokio task instead of a process. The program gets a [`FakeProcess`]: the spec (with the
//! listener variables added, as a process would see its environment), the listeners' addresses,
//! an output writer and a kill signal. The exit future resolves with what the program returns, or
//! with `Signal(9)` when the sandbox is killed (the program's future is then dropped, which closes
//! its output). Peak memory, OOM kills and freezing are scriptable through [`FakeControl`].
//!
//! It knows nothing of Lambda: a program that speaks the Runtime API lives with its users (the
//! engine's `testing` module).

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::unix::pipe;
use tokio::sync::watch;

use crate::{
    BoxFuture, ExitFuture, ExitStatus, Isolation, SandboxControl, SandboxError, SandboxSpec,
    Spawned,
};

/// What a fake sandbox runs: called once per spawn, its future is the sandbox's "process".
pub type FakeProgram = Arc<dyn Fn(FakeProcess) -> BoxFuture<'static, ExitStatus> + Send + Sync>;

/// Where fake pids start (far above any real pid, so that nobody mistakes them for processes).
const FIRST_PID: u32 = 1 << 30;

/// A backend whose sandboxes are tokio tasks running a [`FakeProgram`].
pub struct FakeIsolation {
    program: Mutex<FakeProgram>,
    /// Whether sandboxes have a network of their own: then a [`SandboxSpec::api_listener`] is
    /// opened (as the linux backend does) rather than answered with its fallback.
    private_network: AtomicBool,
    freezable: AtomicBool,
    restartable: AtomicBool,
    next_pid: AtomicU32,
    spawn_failures: Mutex<VecDeque<String>>,
    sandboxes: Mutex<Vec<Arc<FakeControl>>>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for FakeIsolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeIsolation")
            .field("spawned", &self.sandboxes.lock().len())
            .finish_non_exhaustive()
    }
}

impl FakeIsolation {
    /// A backend running `program` in every sandbox it spawns.
    pub fn new<F, Fut>(program: F) -> Arc<FakeIsolation>
    where
        F: Fn(FakeProcess) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ExitStatus> + Send + 'static,
    {
        Arc::new(FakeIsolation {
            program: Mutex::new(boxed(program)),
            private_network: AtomicBool::new(false),
            freezable: AtomicBool::new(false),
            restartable: AtomicBool::new(false),
            next_pid: AtomicU32::new(FIRST_PID),
            spawn_failures: Mutex::new(VecDeque::new()),
            sandboxes: Mutex::new(Vec::new()),
            shut_down: AtomicBool::new(false),
        })
    }

    /// Sandboxes spawned from now on run `program`.
    pub fn set_program<F, Fut>(&self, program: F)
    where
        F: Fn(FakeProcess) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ExitStatus> + Send + 'static,
    {
        *self.program.lock() = boxed(program);
    }

    /// Sandboxes spawned from now on have a network of their own (see
    /// [`SandboxSpec::api_listener`]).
    pub fn set_private_network(&self, on: bool) {
        self.private_network.store(on, Ordering::Relaxed);
    }

    /// Sandboxes spawned from now on can be frozen (the calls are recorded).
    pub fn set_freezable(&self, on: bool) {
        self.freezable.store(on, Ordering::Relaxed);
    }

    /// Sandboxes spawned from now on can restart their program
    /// ([`SandboxControl::restart`]: the program runs again with the same spec, listeners and
    /// output; the calls are counted).
    pub fn set_restartable(&self, on: bool) {
        self.restartable.store(on, Ordering::Relaxed);
    }

    /// The next spawn fails with [`SandboxError::Setup`]`(message)` (queued: one per call).
    pub fn fail_next_spawn(&self, message: impl Into<String>) {
        self.spawn_failures.lock().push_back(message.into());
    }

    /// Every sandbox spawned so far, in order.
    pub fn sandboxes(&self) -> Vec<Arc<FakeControl>> {
        self.sandboxes.lock().clone()
    }

    /// How many sandboxes were spawned.
    pub fn spawned(&self) -> usize {
        self.sandboxes.lock().len()
    }

    /// The sandboxes whose program has not ended.
    pub fn live(&self) -> Vec<Arc<FakeControl>> {
        self.sandboxes
            .lock()
            .iter()
            .filter(|c| c.exit_status().is_none())
            .cloned()
            .collect()
    }

    /// Whether [`Isolation::shutdown`] was called.
    pub fn was_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }
}

fn boxed<F, Fut>(program: F) -> FakeProgram
where
    F: Fn(FakeProcess) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ExitStatus> + Send + 'static,
{
    Arc::new(move |p| Box::pin(program(p)))
}

fn loopback_listener() -> Result<(std::net::TcpListener, SocketAddr), SandboxError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(SandboxError::Listener)?;
    l.set_nonblocking(true).map_err(SandboxError::Listener)?;
    let addr = l.local_addr().map_err(SandboxError::Listener)?;
    Ok((l, addr))
}

impl Isolation for FakeIsolation {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn spawn(&self, spec: &SandboxSpec) -> Result<Spawned, SandboxError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SandboxError::Setup("the backend was shut down".into()));
        }
        if let Some(msg) = self.spawn_failures.lock().pop_front() {
            return Err(SandboxError::Setup(msg));
        }
        let mut spec = spec.clone();
        let (listener, runtime_api) = match &spec.listener_env {
            Some(var) => {
                let (l, addr) = loopback_listener()?;
                spec.env.push((var.clone(), addr.to_string()));
                (Some(l), Some(addr))
            }
            None => (None, None),
        };
        let (api_listener, platform_api) = match spec.api_listener.clone() {
            Some((vars, _)) if self.private_network.load(Ordering::Relaxed) => {
                let (l, addr) = loopback_listener()?;
                spec.env
                    .extend(vars.into_iter().map(|v| (v, format!("http://{addr}"))));
                (Some(l), Some(addr))
            }
            Some((vars, fallback)) => {
                spec.env
                    .extend(vars.into_iter().map(|v| (v, fallback.clone())));
                (None, None)
            }
            None => (None, None),
        };
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| SandboxError::Pipe(e.into()))?;
        let output = FakeOutput(Arc::new(
            pipe::Sender::from_owned_fd(write).map_err(SandboxError::Pipe)?,
        ));
        let (kill_tx, _) = watch::channel(false);
        let (exit_tx, _) = watch::channel(None);
        let program = self.program.lock().clone();
        let (stop_tx, stop_rx) = watch::channel(false);
        let restart = self.restartable.load(Ordering::Relaxed).then(|| Restart {
            program: program.clone(),
            runtime_api,
            platform_api,
            output: output.clone(),
            stop: stop_tx,
        });
        let control = Arc::new(FakeControl {
            pid: self.next_pid.fetch_add(1, Ordering::Relaxed),
            spec: spec.clone(),
            kill: kill_tx,
            kills: AtomicUsize::new(0),
            exit: exit_tx,
            peak: Mutex::new(None),
            oom: AtomicBool::new(false),
            freezable: self.freezable.load(Ordering::Relaxed),
            frozen: AtomicBool::new(false),
            freezes: AtomicUsize::new(0),
            initialized: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            restarts: AtomicUsize::new(0),
            restart: Mutex::new(restart),
            me: std::sync::OnceLock::new(),
        });
        let _ = control.me.set(Arc::downgrade(&control));
        let process = FakeProcess {
            spec,
            runtime_api,
            platform_api,
            output,
            killed: KillSignal(control.kill.subscribe()),
            control: control.clone(),
        };
        let exit = run_program(&control, &program, process, stop_rx);
        self.sandboxes.lock().push(control.clone());
        Ok(Spawned {
            control,
            output: read,
            exit,
            listener,
            api_listener,
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.shut_down.store(true, Ordering::Release);
        Box::pin(async {})
    }
}

/// Runs one generation of a sandbox's program as a task; its exit future. The task ends with
/// `Signal(9)` when the sandbox is killed or this generation is stopped by a restart; only the
/// current generation's end is the sandbox's [`FakeControl::exit_status`].
fn run_program(
    control: &Arc<FakeControl>,
    program: &FakeProgram,
    process: FakeProcess,
    stop: watch::Receiver<bool>,
) -> ExitFuture {
    let generation = control.generation.load(Ordering::Acquire);
    let run = program(process);
    let mut killed = control.kill.subscribe();
    let mut stop = stop;
    let c2 = control.clone();
    let task = tokio::spawn(async move {
        let st = tokio::select! {
            biased;
            _ = killed.wait_for(|k| *k) => ExitStatus::Signal(9),
            // (Without a restart kit nobody can stop it: a closed channel stops nothing.)
            Ok(_) = stop.wait_for(|k| *k) => ExitStatus::Signal(9),
            st = run => st,
        };
        if c2.generation.load(Ordering::Acquire) == generation {
            c2.exit.send_replace(Some(st));
            // Over: nothing to restart (and its output closes once the program's is dropped).
            c2.restart.lock().take();
        }
        st
    });
    let mut task = AbortOnDrop(task);
    Box::pin(async move { (&mut task.0).await.unwrap_or(ExitStatus::Signal(9)) })
}

/// What a restartable fake sandbox keeps to run its program again.
struct Restart {
    program: FakeProgram,
    runtime_api: Option<SocketAddr>,
    platform_api: Option<SocketAddr>,
    output: FakeOutput,
    /// Stops the running generation.
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Restart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restart").finish_non_exhaustive()
    }
}

/// Aborts a sandbox's task when its exit future is dropped before the end (as the process
/// backend's child is killed on drop).
struct AbortOnDrop(tokio::task::JoinHandle<ExitStatus>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a fake sandbox's program is given.
pub struct FakeProcess {
    /// The spec it was spawned with; `env` holds what the backend added (listener addresses).
    pub spec: SandboxSpec,
    /// The address of the listener asked for with [`SandboxSpec::listener_env`].
    pub runtime_api: Option<SocketAddr>,
    /// The address of the listener asked for with [`SandboxSpec::api_listener`], when the
    /// backend has a private network.
    pub platform_api: Option<SocketAddr>,
    /// Its stdout and stderr (merged).
    pub output: FakeOutput,
    /// Fires when the sandbox is killed (the program is dropped right after anyway).
    pub killed: KillSignal,
    /// The sandbox's control, to script what a real process would cause (an OOM kill...).
    pub control: Arc<FakeControl>,
}

impl FakeProcess {
    /// The value of environment variable `key`, as the process would see it.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for FakeProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProcess")
            .field("pid", &self.control.pid)
            .field("runtime_api", &self.runtime_api)
            .finish_non_exhaustive()
    }
}

/// The write end of a fake sandbox's output pipe (stdout and stderr). Cloneable; the pipe closes
/// when the last clone is dropped (the program ends or is killed).
#[derive(Debug, Clone)]
pub struct FakeOutput(Arc<pipe::Sender>);

impl FakeOutput {
    /// Writes `bytes` as they are.
    pub async fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            self.0.writable().await?;
            match self.0.try_write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes `line` and a newline.
    pub async fn line(&self, line: &str) -> std::io::Result<()> {
        let mut b = Vec::with_capacity(line.len() + 1);
        b.extend_from_slice(line.as_bytes());
        b.push(b'\n');
        self.write(&b).await
    }
}

/// Tells a fake program that its sandbox was killed.
#[derive(Debug, Clone)]
pub struct KillSignal(watch::Receiver<bool>);

impl KillSignal {
    pub fn is_killed(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the sandbox is killed.
    pub async fn killed(&mut self) {
        let _ = self.0.wait_for(|k| *k).await;
    }
}

/// The control of a fake sandbox, with what tests script and observe.
#[derive(Debug)]
pub struct FakeControl {
    pid: u32,
    spec: SandboxSpec,
    kill: watch::Sender<bool>,
    kills: AtomicUsize,
    exit: watch::Sender<Option<ExitStatus>>,
    peak: Mutex<Option<u64>>,
    oom: AtomicBool,
    freezable: bool,
    frozen: AtomicBool,
    freezes: AtomicUsize,
    initialized: AtomicBool,
    /// Which run of the program is the current one (see [`SandboxControl::restart`]).
    generation: AtomicU64,
    restarts: AtomicUsize,
    /// Set for a restartable sandbox.
    restart: Mutex<Option<Restart>>,
    me: std::sync::OnceLock<std::sync::Weak<FakeControl>>,
}

impl FakeControl {
    /// The spec the sandbox was spawned with (listener variables included).
    pub fn spec(&self) -> &SandboxSpec {
        &self.spec
    }

    /// The value of the sandbox's environment variable `key`.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// How many times [`SandboxControl::kill`] was called.
    pub fn kills(&self) -> usize {
        self.kills.load(Ordering::Acquire)
    }

    /// How the program ended, once it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Waits until the program has ended.
    pub async fn wait_exit(&self) -> ExitStatus {
        let mut rx = self.exit.subscribe();
        let st = rx.wait_for(|s| s.is_some()).await;
        st.ok().and_then(|s| *s).unwrap_or(ExitStatus::Signal(9))
    }

    /// What [`SandboxControl::peak_memory_bytes`] answers from now on (`None` at first).
    pub fn set_peak_memory_bytes(&self, bytes: Option<u64>) {
        *self.peak.lock() = bytes;
    }

    /// Kills the sandbox as its memory limit would: [`SandboxControl::oom_killed`] answers
    /// true, and the program ends with `Signal(9)`.
    pub fn oom_kill(&self) {
        self.oom.store(true, Ordering::Release);
        self.kill.send_replace(true);
        self.restart.lock().take();
    }

    /// Whether the sandbox is frozen now.
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Acquire)
    }

    /// How many times it was frozen.
    pub fn freezes(&self) -> usize {
        self.freezes.load(Ordering::Acquire)
    }

    /// Whether [`SandboxControl::initialized`] was called.
    pub fn was_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    /// How many times the program was restarted ([`SandboxControl::restart`]).
    pub fn restarts(&self) -> usize {
        self.restarts.load(Ordering::Acquire)
    }
}

impl SandboxControl for FakeControl {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn kill(&self) {
        self.kills.fetch_add(1, Ordering::AcqRel);
        self.kill.send_replace(true);
        self.restart.lock().take();
    }

    fn peak_memory_bytes(&self) -> Option<u64> {
        *self.peak.lock()
    }

    fn oom_killed(&self) -> bool {
        self.oom.load(Ordering::Acquire)
    }

    fn freeze(&self) {
        if self.freezable {
            self.freezes.fetch_add(1, Ordering::AcqRel);
            self.frozen.store(true, Ordering::Release);
        }
    }

    fn thaw(&self) {
        self.frozen.store(false, Ordering::Release);
    }

    fn freezable(&self) -> bool {
        self.freezable
    }

    fn initialized(&self) {
        self.initialized.store(true, Ordering::Release);
    }

    fn restartable(&self) -> bool {
        self.restart.lock().is_some()
    }

    fn restart(&self) -> Result<ExitFuture, SandboxError> {
        let gone = || SandboxError::Setup("the sandbox is gone".into());
        let mut guard = self.restart.lock();
        let Some(r) = guard.as_mut() else {
            return Err(SandboxError::Setup(
                "this sandbox cannot restart its program".into(),
            ));
        };
        if *self.kill.borrow() || self.exit.borrow().is_some() {
            return Err(gone());
        }
        let me = self.me.get().and_then(|w| w.upgrade()).ok_or_else(gone)?;
        // The running generation's end is no longer the sandbox's.
        self.generation.fetch_add(1, Ordering::AcqRel);
        let (stop, stop_rx) = watch::channel(false);
        std::mem::replace(&mut r.stop, stop).send_replace(true);
        self.oom.store(false, Ordering::Release);
        self.restarts.fetch_add(1, Ordering::AcqRel);
        let process = FakeProcess {
            spec: self.spec.clone(),
            runtime_api: r.runtime_api,
            platform_api: r.platform_api,
            output: r.output.clone(),
            killed: KillSignal(self.kill.subscribe()),
            control: me.clone(),
        };
        let program = r.program.clone();
        drop(guard);
        Ok(run_program(&me, &program, process, stop_rx))
    }
}

/// A [`SandboxSpec`] for tests of backends: `program` with nothing else asked for.
pub fn test_spec(program: &str) -> SandboxSpec {
    SandboxSpec {
        program: program.into(),
        args: vec![],
        env: vec![],
        cwd: "/".into(),
        code_dir: "/".into(),
        runtime_dir: None,
        opt_dir: None,
        readonly_mounts: vec![],
        memory_mb: 128,
        tmp_mb: 512,
        listener_env: None,
        api_listener: None,
        outbound_network: true,
    }
}

/// Reads everything from a sandbox's output until its end (test helper).
pub async fn read_output(fd: OwnedFd) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut rx = pipe::Receiver::from_owned_fd(fd)?;
    let mut s = String::new();
    rx.read_to_string(&mut s).await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const BOUND: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn runs_the_program_with_its_listener_and_output() {
        let iso = FakeIsolation::new(|p: FakeProcess| async move {
            let addr = p.runtime_api.expect("a listener was asked for");
            assert_eq!(p.env("RUNTIME_API"), Some(addr.to_string().as_str()));
            assert_eq!(p.env("API"), Some("http://fallback"));
            // The listener is really there: connect to it.
            tokio::net::TcpStream::connect(addr).await.unwrap();
            p.output.line("hello").await.unwrap();
            p.output.write(b"no newline").await.unwrap();
            ExitStatus::Code(3)
        });
        let mut spec = test_spec("/bin/fn");
        spec.listener_env = Some("RUNTIME_API".into());
        spec.api_listener = Some((vec!["API".into()], "http://fallback".into()));
        let sb = iso.spawn(&spec).unwrap();
        let listener = sb.listener.expect("listener");
        assert!(
            sb.api_listener.is_none(),
            "shared network: no second listener"
        );
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let accept = tokio::time::timeout(BOUND, listener.accept());
        let (out, st, accepted) = tokio::join!(
            tokio::time::timeout(BOUND, read_output(sb.output)),
            tokio::time::timeout(BOUND, sb.exit),
            accept
        );
        accepted.unwrap().unwrap();
        assert_eq!(out.unwrap().unwrap(), "hello\nno newline");
        assert_eq!(st.unwrap(), ExitStatus::Code(3));
        let c = &iso.sandboxes()[0];
        assert_eq!(c.exit_status(), Some(ExitStatus::Code(3)));
        assert!(c.pid() >= FIRST_PID);
        assert!(iso.live().is_empty());
    }

    #[tokio::test]
    async fn a_restart_runs_the_program_again_in_the_same_sandbox() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let iso = FakeIsolation::new(move |p: FakeProcess| {
            let n = counted.fetch_add(1, Ordering::AcqRel) + 1;
            async move {
                p.output.line(&format!("run {n}")).await.unwrap();
                std::future::pending::<()>().await;
                ExitStatus::Code(0)
            }
        });
        let plain = iso.spawn(&test_spec("/bin/fn")).unwrap();
        assert!(!plain.control.restartable());
        assert!(plain.control.restart().is_err());
        plain.control.kill();
        iso.set_restartable(true);
        let sb = iso.spawn(&test_spec("/bin/fn")).unwrap();
        assert!(sb.control.restartable());
        let c = iso.sandboxes()[1].clone();
        // (On this single-threaded runtime a sleep lets the program's task print its line.)
        tokio::time::sleep(Duration::from_millis(50)).await;
        let again = sb.control.restart().unwrap();
        // The first run is stopped; the sandbox is not over.
        assert_eq!(
            tokio::time::timeout(BOUND, sb.exit).await.unwrap(),
            ExitStatus::Signal(9)
        );
        assert_eq!((c.restarts(), c.kills(), c.exit_status()), (1, 0, None));
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Its kill ends the new run, and then it cannot be restarted.
        c.kill();
        assert_eq!(
            tokio::time::timeout(BOUND, again).await.unwrap(),
            ExitStatus::Signal(9)
        );
        assert_eq!(c.exit_status(), Some(ExitStatus::Signal(9)));
        assert!(c.restart().is_err());
        // Both runs wrote to the one output.
        drop(c);
        let out = tokio::time::timeout(BOUND, read_output(sb.output)).await;
        assert_eq!(runs.load(Ordering::Acquire), 3);
        assert_eq!(out.unwrap().unwrap(), "run 2\nrun 3\n");
    }

    #[tokio::test]
    async fn a_private_network_opens_the_platform_listener() {
        let iso = FakeIsolation::new(|p: FakeProcess| async move {
            let addr = p.platform_api.unwrap();
            assert_eq!(p.env("API"), Some(format!("http://{addr}").as_str()));
            ExitStatus::Code(0)
        });
        iso.set_private_network(true);
        let mut spec = test_spec("/bin/fn");
        spec.api_listener = Some((vec!["API".into()], "http://fallback".into()));
        let sb = iso.spawn(&spec).unwrap();
        assert!(sb.api_listener.is_some());
        assert!(sb.listener.is_none());
        assert_eq!(
            tokio::time::timeout(BOUND, sb.exit).await.unwrap(),
            ExitStatus::Code(0)
        );
    }

    #[tokio::test]
    async fn kill_ends_a_program_that_never_returns_and_closes_its_output() {
        let started = Arc::new(tokio::sync::Notify::new());
        let s2 = started.clone();
        let iso = FakeIsolation::new(move |p: FakeProcess| {
            let started = s2.clone();
            async move {
                p.output.line("started").await.unwrap();
                started.notify_one();
                std::future::pending::<()>().await;
                unreachable!()
            }
        });
        let sb = iso.spawn(&test_spec("/bin/fn")).unwrap();
        let out = tokio::spawn(read_output(sb.output));
        let c = iso.sandboxes()[0].clone();
        tokio::time::timeout(BOUND, started.notified())
            .await
            .unwrap();
        assert_eq!(iso.live().len(), 1);
        sb.control.kill();
        sb.control.kill();
        assert_eq!(
            tokio::time::timeout(BOUND, sb.exit).await.unwrap(),
            ExitStatus::Signal(9)
        );
        assert_eq!(
            tokio::time::timeout(BOUND, out)
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
            "started\n"
        );
        assert_eq!(c.kills(), 2);
        assert!(!c.oom_killed());
        assert_eq!(c.wait_exit().await, ExitStatus::Signal(9));
    }

    #[tokio::test]
    async fn the_program_sees_its_kill_and_oom_is_scriptable() {
        let iso = FakeIsolation::new(|p: FakeProcess| async move {
            p.control.set_peak_memory_bytes(Some(42 << 20));
            p.control.oom_kill();
            let mut k = p.killed.clone();
            k.killed().await;
            assert!(p.killed.is_killed());
            std::future::pending().await
        });
        let sb = iso.spawn(&test_spec("/bin/fn")).unwrap();
        assert_eq!(
            tokio::time::timeout(BOUND, sb.exit).await.unwrap(),
            ExitStatus::Signal(9)
        );
        assert!(sb.control.oom_killed());
        assert_eq!(sb.control.peak_memory_bytes(), Some(42 << 20));
    }

    #[tokio::test]
    async fn dropping_the_exit_future_ends_the_program() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = Mutex::new(Some(tx));
        let iso = FakeIsolation::new(move |_p: FakeProcess| {
            let guard = tx.lock().take();
            async move {
                let _guard = guard;
                std::future::pending().await
            }
        });
        let sb = iso.spawn(&test_spec("/bin/fn")).unwrap();
        drop(sb);
        // The program's future (holding the sender) is dropped with its task.
        assert!(tokio::time::timeout(BOUND, rx).await.unwrap().is_err());
    }

    #[tokio::test]
    async fn spawn_failures_programs_and_shutdown_are_scriptable() {
        let iso = FakeIsolation::new(|_p: FakeProcess| async { ExitStatus::Code(1) });
        iso.fail_next_spawn("no room");
        let e = iso.spawn(&test_spec("/bin/fn")).unwrap_err();
        assert_eq!(e.to_string(), "cannot set the sandbox up: no room");
        iso.set_program(|_p: FakeProcess| async { ExitStatus::Code(7) });
        iso.set_freezable(true);
        let sb = iso.spawn(&test_spec("/bin/fn")).unwrap();
        assert!(sb.control.freezable());
        sb.control.freeze();
        assert!(iso.sandboxes()[0].is_frozen());
        sb.control.thaw();
        assert!(!iso.sandboxes()[0].is_frozen());
        assert_eq!(iso.sandboxes()[0].freezes(), 1);
        assert_eq!(sb.exit.await, ExitStatus::Code(7));
        assert_eq!(iso.spawned(), 1);
        iso.shutdown().await;
        assert!(iso.was_shut_down());
        assert!(iso.spawn(&test_spec("/bin/fn")).is_err());
    }
}
