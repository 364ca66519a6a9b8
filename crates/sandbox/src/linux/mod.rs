//! The Linux backend: each sandbox in its own mount, PID, IPC, UTS and network namespaces, on a
//! minimal read-only root, in its own cgroup (memory, CPU, pids, freezer), as an unprivileged
//! user without capabilities, under a seccomp filter.
//!
//! Hako never sets namespaces up in its own (multi-threaded) process: [`LinuxIsolation::spawn`]
//! starts a fresh copy of the hako binary as `hako sandbox-init` ([`init_main`]) with the spec on
//! fd 3, and the init does the rest (see [`init`]). Hako keeps the other end of fd 3: the init
//! sends the Runtime API listener over it, and when Hako dies the socket closes and the sandbox
//! dies with it.
//!
//! Two modes ([`Mode`]): as root, and rootless (Hako runs as an ordinary user). Rootless, the
//! init first creates a user namespace mapping one id (the sandbox user, 993/990 inside) to
//! Hako's own user, and holds capabilities only there; the sandboxes' cgroups live under a parent
//! an admin delegated to that user ([`cgroups::Delegation`]); outbound access goes through a
//! user-space network helper per sandbox (slirp4netns) instead of a veth pair, or is absent
//! (loopback only) without it.

mod cgroups;
mod init;
mod mounts;
mod net;
mod netlink;
mod seccomp;
mod tmp_disk;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::Pid;

pub use cgroups::CgroupError;
pub use init::init_main;
pub use mounts::{RUNTIME_ROOT, TASK_ROOT};
pub use net::{DEFAULT_SUBNET, HOST_NAME};
pub use seccomp::SeccompError;

use crate::{ExitStatus, Isolation, SandboxControl, SandboxError, SandboxSpec, Spawned};

/// The port of the Runtime API inside every sandbox, as on AWS.
pub const RUNTIME_API_PORT: u16 = 9001;
/// The listeners a sandbox's init hands over: the Runtime API's and the platform API's.
type Listeners = (Option<std::net::TcpListener>, Option<std::net::TcpListener>);

/// The port of the platform's API inside every sandbox (Hako's own default port).
pub const PLATFORM_API_PORT: u16 = 9000;
/// Processes and threads per sandbox, and open files per process (AWS's limits).
const MAX_PIDS: u64 = 1024;
const MAX_FILES: u64 = 1024;
/// How long the init may take to report the sandbox ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of the Linux backend.
#[derive(Debug, Clone)]
pub struct LinuxConfig {
    /// The program to run as the sandbox's init, and its arguments: the hako binary itself with
    /// `sandbox-init` (tests point it at the built binary).
    pub init_program: PathBuf,
    pub init_args: Vec<String>,
    /// The unprivileged user and group functions run as (AWS: 993 and 990).
    pub uid: u32,
    pub gid: u32,
    pub user_name: String,
    pub hostname: String,
    /// A host directory for Hako's per-sandbox mount points (`<state_dir>/root`).
    pub state_dir: PathBuf,
    /// How many sandboxes to keep prepared ahead of demand (init started, cgroups joined,
    /// namespaces created): each one saves a cold start the hako exec and the cgroup v1 attach,
    /// which costs 5-17 ms after an idle period.
    pub prepared: usize,
    /// The /16 the sandboxes' addresses come from (a /30 each), for outbound access through a
    /// veth pair per sandbox (as root); `None`: sandboxes have only their loopback.
    pub subnet: Option<std::net::Ipv4Addr>,
    /// A host directory on disk (never in memory, never visible to functions) for the unlinked
    /// backing files of the sandboxes' `/tmp` disks, which do not count against the functions'
    /// memory (see [`tmp_disk`]); `None`, no `mkfs.ext4` on the host, or rootless (a loop device
    /// needs real root): `/tmp` is a tmpfs.
    pub tmp_disk_dir: Option<PathBuf>,
    /// The parent of the sandboxes' cgroups, relative to each hierarchy's root. `None`: `hako` as
    /// root (created); rootless `hako-<user>` on cgroup v1 (delegated by an admin), and on v2 the
    /// delegated cgroup Hako runs in.
    pub cgroup_parent: Option<PathBuf>,
    /// The user-space network helper that gives rootless sandboxes outbound access
    /// (slirp4netns); `None`: rootless sandboxes have only their loopback.
    pub slirp4netns: Option<PathBuf>,
}

/// Whether Hako runs the Linux backend as root or as an ordinary user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Root,
    /// A user namespace per sandbox, delegated cgroups, a user-space network helper.
    Rootless,
}

impl Mode {
    /// The mode this process would run the backend in (root when its effective uid is 0).
    pub fn current() -> Mode {
        if nix::unistd::geteuid().is_root() {
            Mode::Root
        } else {
            Mode::Rootless
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Root => "root",
            Mode::Rootless => "rootless",
        })
    }
}

/// The name of the user this process runs as (its uid when it has no name).
pub fn user_name() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// The cgroup parent a rootless Hako uses on cgroup v1 unless configured: `hako-<user>`.
pub fn rootless_cgroup_parent() -> String {
    format!("hako-{}", user_name())
}

impl Default for LinuxConfig {
    fn default() -> Self {
        LinuxConfig {
            init_program: PathBuf::from("/proc/self/exe"),
            init_args: vec!["sandbox-init".into()],
            uid: 993,
            gid: 990,
            user_name: "sbx_user1051".into(),
            hostname: "localhost".into(),
            state_dir: PathBuf::from("/run/hako"),
            prepared: 2,
            subnet: Some(DEFAULT_SUBNET),
            tmp_disk_dir: None,
            cgroup_parent: None,
            slirp4netns: None,
        }
    }
}

/// Why the Linux backend cannot run here.
#[derive(Debug, thiserror::Error)]
pub enum LinuxError {
    #[error("rootless, the Linux backend needs user namespaces: {0}")]
    UserNamespaces(String),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    #[error("cannot create {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Starts sandboxes with namespaces, cgroups and seccomp.
#[derive(Debug)]
pub struct LinuxIsolation {
    preparer: Arc<Preparer>,
    seccomp: Vec<seccomp::Program>,
    /// Why sandboxes' `/tmp` is a tmpfs, when it is.
    tmp_disk_error: Option<String>,
}

/// A sandbox's init started ahead of demand: it has joined its (still unlimited) cgroups and
/// created its namespaces, and waits for its function's spec.
#[derive(Debug)]
struct Prepared {
    child: tokio::process::Child,
    /// Hako's end of the init's fd 3.
    sock: OwnedFd,
    /// The read end of the init's (and later the function's) stdout and stderr.
    output: OwnedFd,
    cgroup: cgroups::Cgroup,
    /// The size of the disk mounted at its `/tmp`, if any.
    tmp_mb: Option<u64>,
}

/// Starts inits and keeps a few [`Prepared`] ones.
#[derive(Debug)]
struct Preparer {
    cfg: LinuxConfig,
    cgroups: cgroups::Cgroups,
    pool: std::sync::Mutex<Vec<Prepared>>,
    /// The per-host part of every sandbox's root, assembled while a sandbox is prepared.
    system_mounts: Vec<mounts::MountOp>,
    /// The host directory roots are assembled on (in each sandbox's own mount namespace).
    root: PathBuf,
    /// The sandboxes' /16 when the host side of their network is set up.
    subnet: Option<std::net::Ipv4Addr>,
    mode: Mode,
    /// Rootless outbound access: the helper, and the host's address the sandboxes know as
    /// `hako.host`.
    slirp: Option<net::SlirpPrepare>,
    /// Set by [`Isolation::shutdown`]: nothing is prepared or spawned any more.
    closed: AtomicBool,
    /// Refills running now (shutdown waits for them, so that none leaves a sandbox behind).
    refilling: std::sync::atomic::AtomicUsize,
    /// The `/tmp` disks' templates; `None`: `/tmp` is a tmpfs.
    tmp_disks: Option<tmp_disk::Templates>,
    /// The `/tmp` size sandboxes are prepared with: the last one a function asked for.
    tmp_mb_next: AtomicU64,
}

/// The `/tmp` size sandboxes are prepared with at first (AWS's default `EphemeralStorage`).
const DEFAULT_TMP_MB: u64 = 512;

/// How long after a claim the pool is topped up: starting an init (a fork of Hako) must not
/// compete with the cold start that claimed one for the machine's CPUs.
const REFILL_DELAY: Duration = Duration::from_millis(50);

impl Preparer {
    fn take(&self) -> Option<Prepared> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut pool = self.pool.lock().ok()?;
        let p = pool.pop();
        tracing::trace!(
            left = pool.len(),
            found = p.is_some(),
            "claiming a prepared sandbox"
        );
        p
    }

    /// Starts one init and sends it its [`init::PrepareSpec`]; does not wait for it.
    fn prepare(&self) -> Result<Prepared, SandboxError> {
        let setup = |m: String| SandboxError::Setup(m);
        let name = format!(
            "{}-{}",
            std::process::id(),
            NEXT_SANDBOX.fetch_add(1, Ordering::Relaxed)
        );
        let cgroup = self
            .cgroups
            .create(&name)
            .map_err(|e| setup(e.to_string()))?;
        let fail = |e: SandboxError| {
            cgroup.destroy();
            e
        };
        let tmp = self.tmp_disk(self.tmp_mb_next.load(Ordering::Relaxed));
        let started = (|| {
            let prepare = init::PrepareSpec {
                cgroup_procs: cgroup.outer_procs_files(),
                inner_cgroup_procs: cgroup.inner_procs_files(),
                thaw: Some(cgroup.thaw_file()),
                root: self.root.clone(),
                system_mounts: self.system_mounts.clone(),
                userns: (self.mode == Mode::Rootless).then_some((self.cfg.uid, self.cfg.gid)),
                slirp: self.slirp.clone(),
                net: self.subnet.map(|base| net::NetPrepare {
                    base,
                    // Spread over the range: every Hako on the host allocates from it.
                    first_slot: std::process::id()
                        .wrapping_mul(613)
                        .wrapping_add(NEXT_SANDBOX.load(Ordering::Relaxed) as u32),
                    owner: format!("hako:{}", std::process::id()),
                }),
                tmp_disk: tmp.as_ref().map(|(d, _)| d.clone()),
            };
            let bytes = serde_json::to_vec(&prepare)
                .map_err(|e| setup(format!("cannot encode the spec: {e}")))?;
            let (ours, theirs) = socketpair(
                AddressFamily::Unix,
                SockType::SeqPacket,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| setup(format!("socketpair: {e}")))?;
            let template = tmp.as_ref().map(|(_, t)| t.as_raw_fd());
            net::send_with_fd(ours.as_fd(), &bytes, template)
                .map_err(|e| setup(format!("cannot send the spec: {e}")))?;
            let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| SandboxError::Pipe(e.into()))?;
            let write2 = write.try_clone().map_err(SandboxError::Pipe)?;
            let mut cmd = std::process::Command::new(&self.cfg.init_program);
            cmd.args(&self.cfg.init_args)
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::from(write))
                .stderr(Stdio::from(write2))
                .process_group(0);
            let fd = theirs.as_raw_fd();
            // SAFETY: the closure runs in the forked child before exec and only calls dup2(2) and
            // fcntl(2), which are async-signal-safe; it touches no memory shared with the parent.
            unsafe {
                cmd.pre_exec(move || {
                    if fd == init::CONTROL_FD {
                        if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    } else if libc::dup2(fd, init::CONTROL_FD) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let mut cmd = tokio::process::Command::from(cmd);
            cmd.kill_on_drop(true);
            let child = cmd.spawn().map_err(|source| SandboxError::Spawn {
                program: self.cfg.init_program.display().to_string(),
                source,
            })?;
            Ok((child, ours, read))
        })();
        let (child, sock, output) = started.map_err(fail)?;
        Ok(Prepared {
            child,
            sock,
            output,
            cgroup,
            tmp_mb: tmp.map(|(d, _)| d.size_mb),
        })
    }

    /// What a sandbox's init needs to make a `/tmp` disk of `size_mb`, when sandboxes get one.
    fn tmp_disk(&self, size_mb: u64) -> Option<(tmp_disk::DiskSpec, Arc<std::fs::File>)> {
        let templates = self.tmp_disks.as_ref()?;
        match templates.get(size_mb) {
            Ok(t) => Some((
                tmp_disk::DiskSpec {
                    dir: templates.dir().to_path_buf(),
                    size_mb,
                    uid: self.cfg.uid,
                    gid: self.cfg.gid,
                },
                t,
            )),
            Err(e) => {
                tracing::warn!(error = %e, size_mb, "cannot make a /tmp disk: this sandbox's /tmp is a tmpfs");
                None
            }
        }
    }

    /// Tops the pool up, off the caller's thread (starting an init costs a fork and an exec).
    fn refill_later(self: &Arc<Self>) {
        if self.cfg.prepared == 0 {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let me = self.clone();
        handle.spawn(async move {
            tokio::time::sleep(REFILL_DELAY).await;
            me.refilling.fetch_add(1, Ordering::AcqRel);
            let me2 = me.clone();
            let _ = tokio::task::spawn_blocking(move || me2.refill()).await;
            me.refilling.fetch_sub(1, Ordering::AcqRel);
        });
    }

    fn refill(&self) {
        let me = self;
        loop {
            if me.closed.load(Ordering::Acquire)
                || me.pool.lock().map(|p| p.len()).unwrap_or(usize::MAX) >= me.cfg.prepared
            {
                return;
            }
            match me.prepare() {
                Ok(p) => {
                    let Ok(mut pool) = me.pool.lock() else {
                        return;
                    };
                    // Checked under the lock: shutdown drains the pool after setting `closed`.
                    if me.closed.load(Ordering::Acquire) {
                        drop(pool);
                        discard(p);
                        return;
                    }
                    pool.push(p);
                    tracing::trace!(prepared = pool.len(), "prepared a sandbox");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot prepare a sandbox");
                    return;
                }
            }
        }
    }
}

/// Kills a prepared sandbox and removes its cgroup (blocking, bounded); the child is reaped by
/// the runtime once dropped.
fn discard(mut p: Prepared) {
    let _ = p.child.start_kill();
    p.cgroup.kill_all();
    p.cgroup.destroy();
}

impl Preparer {
    /// Stops preparing, then kills and reaps the prepared sandboxes and removes their cgroups.
    async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        // A refill in progress checks `closed` before it adds to the pool; wait for it (bounded:
        // one prepare is a fork and an exec).
        for _ in 0..400 {
            if self.refilling.load(Ordering::Acquire) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut pool = self
            .pool
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        for p in &mut pool {
            let _ = p.child.start_kill();
            p.cgroup.kill_all();
        }
        for mut p in pool {
            let _ = tokio::time::timeout(Duration::from_secs(2), p.child.wait()).await;
            let mut removed = false;
            for _ in 0..200 {
                if p.cgroup.try_destroy() {
                    removed = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if !removed {
                tracing::warn!("a prepared sandbox's cgroup could not be removed");
            }
        }
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        let pool = self.pool.get_mut().map(std::mem::take).unwrap_or_default();
        for p in pool {
            discard(p);
        }
    }
}

/// Whether this kernel lets an ordinary user create user namespaces (the sysctls that turn
/// it off); what else forbids it (e.g. an LSM) shows in the smoke test.
fn user_namespaces_allowed() -> Result<(), String> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err("/proc/sys/user/max_user_namespaces is 0 (as root: sysctl -w user.max_user_namespaces=15000)".into());
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Err("/proc/sys/kernel/unprivileged_userns_clone is 0 (as root: sysctl -w kernel.unprivileged_userns_clone=1)".into());
    }
    Ok(())
}

/// Numbers the sandboxes of this process (cgroups are named `<pid>-<n>`), across instances.
static NEXT_SANDBOX: AtomicU64 = AtomicU64::new(1);

impl LinuxIsolation {
    /// Checks the host (root, cgroups), compiles the seccomp policy and prepares the state
    /// directory. Does not touch other Hako instances' sandboxes.
    pub fn new(cfg: LinuxConfig) -> Result<LinuxIsolation, LinuxError> {
        let mode = Mode::current();
        let layout = cgroups::Layout::detect()?;
        let delegation = match mode {
            Mode::Root => cgroups::Delegation::Root {
                parent: cfg
                    .cgroup_parent
                    .clone()
                    .unwrap_or_else(|| cgroups::DEFAULT_PARENT.into()),
            },
            Mode::Rootless => {
                user_namespaces_allowed().map_err(LinuxError::UserNamespaces)?;
                cgroups::Delegation::Delegated {
                    parent: cfg.cgroup_parent.clone().or_else(|| {
                        (layout.version() == 1).then(|| rootless_cgroup_parent().into())
                    }),
                    own: std::fs::read_to_string("/proc/self/cgroup")
                        .ok()
                        .and_then(|s| cgroups::own_v2_cgroup(&s)),
                    user: user_name(),
                }
            }
        };
        let cgroups = cgroups::Cgroups::open(layout, &delegation)?;
        let seccomp = seccomp::compile(seccomp::DEFAULT_POLICY)?;
        let root = cfg.state_dir.join("root");
        std::fs::create_dir_all(&root).map_err(|source| LinuxError::StateDir {
            path: root.clone(),
            source,
        })?;
        let system_mounts = mounts::system_plan(cfg.uid, cfg.gid, &cfg.user_name);
        // A loop device needs real root: rootless, /tmp stays a tmpfs.
        let tmp_disk_dir = cfg.tmp_disk_dir.as_ref().filter(|_| mode == Mode::Root);
        let (tmp_disks, tmp_disk_error) = match tmp_disk_dir {
            None if mode == Mode::Rootless => (
                None,
                Some(
                    "rootless (a disk of its own needs a loop device, which needs root)"
                        .to_string(),
                ),
            ),
            None => (
                None,
                Some("no directory for them is configured".to_string()),
            ),
            Some(dir) => match tmp_disk::Templates::open(dir, DEFAULT_TMP_MB) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e)),
            },
        };
        if let Some(e) = &tmp_disk_error {
            if tmp_disk_dir.is_some() {
                tracing::warn!(
                    "sandboxes' /tmp is a tmpfs, counted against the function's memory (a 128 MB \
                     function cannot fill 512 MB of /tmp): {e}"
                );
            }
        }
        let subnet = cfg.subnet.filter(|_| mode == Mode::Root);
        let subnet = subnet.and_then(|base| match net::host_setup(base) {
            Ok(warning) => {
                if let Some(w) = warning {
                    tracing::warn!("{w}");
                }
                Some(base)
            }
            Err(e) => {
                tracing::warn!(error = %e, "linux sandboxes get no outbound network");
                None
            }
        });
        let slirp = match (mode, &cfg.slirp4netns) {
            (Mode::Rootless, Some(program)) => Some(net::SlirpPrepare {
                program: program.clone(),
                host: net::host_address(),
            }),
            _ => None,
        };
        let mut system_mounts = system_mounts;
        if slirp.is_some() {
            net::use_slirp_dns(&mut system_mounts);
        }
        Ok(LinuxIsolation {
            preparer: Arc::new(Preparer {
                cfg,
                cgroups,
                pool: std::sync::Mutex::new(Vec::new()),
                system_mounts,
                root,
                subnet,
                mode,
                slirp,
                closed: AtomicBool::new(false),
                refilling: std::sync::atomic::AtomicUsize::new(0),
                tmp_disks,
                tmp_mb_next: AtomicU64::new(DEFAULT_TMP_MB),
            }),
            seccomp,
            tmp_disk_error,
        })
    }

    /// Where the sandboxes' `/tmp` disks are (their unlinked backing files), or why `/tmp` is a
    /// tmpfs.
    pub fn tmp_disk(&self) -> Result<&Path, &str> {
        match (&self.preparer.tmp_disks, &self.tmp_disk_error) {
            (Some(t), _) => Ok(t.dir()),
            (None, e) => Err(e.as_deref().unwrap_or("not configured")),
        }
    }

    /// The cgroup version in use (1 or 2).
    pub fn cgroup_version(&self) -> u8 {
        self.preparer.cgroups.layout().version()
    }

    /// Root or rootless.
    pub fn mode(&self) -> Mode {
        self.preparer.mode
    }

    /// The parents of the sandboxes' cgroups (one per hierarchy on v1).
    pub fn cgroup_parents(&self) -> Vec<PathBuf> {
        self.preparer.cgroups.parents().to_vec()
    }

    /// How sandboxes reach beyond themselves: `veth` (root), `slirp4netns` (rootless), or
    /// `None` (loopback only).
    pub fn network(&self) -> Option<&'static str> {
        if self.preparer.subnet.is_some() {
            Some("veth")
        } else if self.preparer.slirp.is_some() {
            Some("slirp4netns")
        } else {
            None
        }
    }

    /// Removes the cgroups (and kills the processes) and the host-side network links of
    /// sandboxes whose Hako is gone, e.g. after `kill -9`. Groups are named `<hako pid>-<n>` and
    /// links carry `hako:<pid>`: those of live processes are left alone. Returns how many cgroups
    /// and links were removed.
    pub fn remove_leftovers(&self) -> (usize, usize) {
        let gone =
            |pid: i32| pid as u32 != std::process::id() && kill(Pid::from_raw(pid), None).is_err();
        let cgroups = self.preparer.cgroups.remove_leftovers(|name| {
            let pid = name.split('-').next().and_then(|p| p.parse::<i32>().ok());
            pid.is_some_and(gone)
        });
        let links = net::remove_leftover_links(|pid| !gone(pid as i32));
        (cgroups, links)
    }

    /// Whether sandboxes get outbound network access (the host side of it is set up).
    pub fn has_outbound_network(&self) -> bool {
        self.network().is_some()
    }

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

#[derive(Debug)]
struct LinuxControl {
    /// The outer init's pid.
    pid: u32,
    cgroup: cgroups::Cgroup,
    exited: AtomicBool,
    frozen: AtomicBool,
    /// Set once the sandbox has exited: its last readings.
    final_peak: AtomicU64,
    final_oom: AtomicBool,
    /// Hako's end of fd 3: closing it kills the sandbox.
    _control: OwnedFd,
}

impl LinuxControl {
    /// Records the last readings, then removes the cgroup (retrying while processes exit).
    async fn finish(&self) {
        self.final_peak.store(
            self.cgroup.peak_memory_bytes().unwrap_or(0),
            Ordering::Release,
        );
        self.final_oom
            .store(self.cgroup.oom_kills() > 0, Ordering::Release);
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
        self.cgroup.oom_kills() > 0
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
        if let Some((var, _)) = &spec.api_listener {
            env.push((var.clone(), format!("http://127.0.0.1:{PLATFORM_API_PORT}")));
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
            uid: self.preparer.cfg.uid,
            gid: self.preparer.cfg.gid,
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
            _control: control_fd,
        });
        let c2 = control.clone();
        let exit = Box::pin(async move {
            let mut child = child;
            let s = ExitStatus::from_wait(child.wait().await);
            c2.finish().await;
            s
        });
        Ok(Spawned {
            control,
            output,
            exit,
            listener,
            api_listener,
        })
    }
}
