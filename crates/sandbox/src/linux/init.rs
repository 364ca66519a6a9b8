//! The sandbox's init: what `hako sandbox-init` runs, in a freshly exec'd, single-threaded
//! process. Never called from the async runtime.
//!
//! Three processes, from the host's point of view:
//! 1. the *outer* helper (the process Hako started): reads the spec from fd 3, joins the
//!    sandbox's cgroups, unshares the mount, PID, IPC, UTS and network namespaces and forks;
//!    it then waits for the inner init, kills it if Hako goes away (fd 3 closes), and finally
//!    exits the way the function did, so that Hako sees the function's status;
//!    While prepared, it also brings `lo` up and, for outbound access, creates the sandbox's veth
//!    pair (see [`net`]);
//! 2. the *inner* init, PID 1 of the new PID namespace: builds the root filesystem (its
//!    per-host part and the `/tmp` disk while prepared, then the function's part) and `pivot_root`s into it, sets the hostname, opens the Runtime API listener
//!    and sends it to Hako over fd 3 (SCM_RIGHTS), forks the function and reaps zombies until
//!    the function exits (its exit takes every other process of the namespace with it); on
//!    `RESTART` from Hako it kills every other process of the namespace and forks the function
//!    again (see `run_function`);
//! 3. the *function*: drops to the sandbox user with no capabilities, `no_new_privs`, rlimits
//!    and the seccomp filter, then execs the program.
//!
//! Rootless (Hako runs as an ordinary user), the outer helper first creates a user namespace
//! that maps one id, the sandbox user's (as configured), to Hako's own user, with `setgroups`
//! denied; it and the inner init hold capabilities in that namespace only, and everything else
//! is created inside it (so that it owns the mount, PID and network namespaces). It forks the
//! sandbox's network helper (slirp4netns) before leaving the host's namespaces, and starts it
//! once the network namespace exists.
//!
//! Messages from Hako on fd 3: a [`PrepareSpec`] (the outer helper joins the cgroups and creates
//! the namespaces, possibly long before the sandbox is needed: the cgroup v1 attach costs 5-17 ms
//! after an idle period, so Hako keeps a few prepared ones), then an [`InitSpec`], then any number
//! of [`RESTART`]s.
//! Messages to Hako on fd 3: `OK` (with the listener attached when one was asked for) once the
//! sandbox is ready, or `ERR:<message>` when it cannot be set up.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Gid, Pid, Uid};
use serde::{Deserialize, Serialize};

use super::mounts::{self, MountOp};
use super::{net, seccomp, tmp_disk};

/// The fd on which the init gets its spec and talks to Hako.
pub(crate) const CONTROL_FD: i32 = 3;
/// Exit code of an init that could not set the sandbox up.
const SETUP_FAILED: i32 = 125;

/// The first message: what a sandbox can be prepared with before its function is known.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PrepareSpec {
    /// `cgroup.procs` files the outer helper joins (not the freezer: the helper must stay able
    /// to act while the sandbox is frozen).
    pub(crate) cgroup_procs: Vec<PathBuf>,
    /// `cgroup.procs` files the inner init joins (the freezer's).
    pub(crate) inner_cgroup_procs: Vec<PathBuf>,
    /// The file and value that thaw the sandbox, used when Hako goes away while it is frozen.
    pub(crate) thaw: Option<(PathBuf, String)>,
    /// The host directory the root is assembled on.
    pub(crate) root: PathBuf,
    /// The per-host part of the root, assembled ahead of the function.
    pub(crate) system_mounts: Vec<MountOp>,
    /// Give the sandbox outbound access (a veth pair), ahead of its function.
    #[serde(default)]
    pub(crate) net: Option<net::NetPrepare>,
    /// Mount a disk of this size at `/tmp`, ahead of the function (the template's fd comes with
    /// the message).
    #[serde(default)]
    pub(crate) tmp_disk: Option<tmp_disk::DiskSpec>,
    /// Rootless: create a user namespace first, mapping this (uid, gid) inside to Hako's own.
    #[serde(default)]
    pub(crate) userns: Option<(u32, u32)>,
    /// Rootless outbound access through slirp4netns.
    #[serde(default)]
    pub(crate) slirp: Option<net::SlirpPrepare>,
}

/// The second message: everything else, decided by Hako.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InitSpec {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: PathBuf,
    pub(crate) hostname: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// The function's part of the root.
    pub(crate) mounts: Vec<MountOp>,
    /// Open the Runtime API listener on 127.0.0.1 at this port.
    pub(crate) listen_port: Option<u16>,
    /// Open a second listener (the platform's API) on 127.0.0.1 at this port.
    #[serde(default)]
    pub(crate) api_port: Option<u16>,
    pub(crate) seccomp: Vec<seccomp::Program>,
    pub(crate) nofile: u64,
    /// In a user namespace that maps one id: supplementary groups cannot be set (`setgroups`
    /// is denied there).
    #[serde(default)]
    pub(crate) rootless: bool,
    /// Keep the outbound access prepared with the sandbox (else `eth0` goes down before the
    /// function starts).
    #[serde(default)]
    pub(crate) outbound: bool,
    /// Print how long each step took (to the sandbox's output).
    #[serde(default)]
    pub(crate) timings: bool,
    /// The function's `/tmp` is not the disk the sandbox was prepared with: make this one (the
    /// template's fd comes with the message).
    #[serde(default)]
    pub(crate) tmp_disk: Option<tmp_disk::DiskSpec>,
}

/// Step timings of one init, printed when [`InitSpec::timings`] is set.
#[derive(Debug, Default)]
struct Timings {
    start: Option<std::time::Instant>,
    steps: Vec<(&'static str, u128)>,
}

impl Timings {
    fn mark(&mut self, step: &'static str) {
        let start = *self.start.get_or_insert_with(std::time::Instant::now);
        self.steps.push((step, start.elapsed().as_micros()));
    }

    fn print(&self) {
        let s: Vec<String> = self
            .steps
            .iter()
            .map(|(n, us)| format!("{n}={us}us"))
            .collect();
        let _ = writeln!(
            std::io::stderr(),
            "hako sandbox-init timings: {}",
            s.join(" ")
        );
    }
}

/// The entry point of `hako sandbox-init`. Never returns.
pub fn init_main() -> ! {
    // SAFETY: fd 3 is handed to this process by the Linux backend (dup2 before exec) and nothing
    // else in this fresh process has taken ownership of it.
    let control = unsafe { OwnedFd::from_raw_fd(CONTROL_FD) };
    let code = match outer(&control) {
        Ok(code) => code,
        Err(msg) => {
            report_error(control.as_fd(), &msg);
            SETUP_FAILED
        }
    };
    std::process::exit(code)
}

fn report_error(control: BorrowedFd<'_>, msg: &str) {
    let _ = net::send_with_fd(control, format!("ERR:{msg}").as_bytes(), None);
    let _ = writeln!(std::io::stderr(), "hako sandbox-init: {msg}");
}

/// Reads a message from Hako, and the fd that came with it.
fn read_message<T: serde::de::DeserializeOwned>(
    control: BorrowedFd<'_>,
) -> Result<(T, Option<OwnedFd>), String> {
    let mut buf = vec![0u8; 1 << 20];
    let (n, fd) =
        net::recv_with_fd(control, &mut buf).map_err(|e| format!("cannot read the spec: {e}"))?;
    if n == 0 {
        return Err("hako went away".into());
    }
    let msg = serde_json::from_slice(&buf[..n]).map_err(|e| format!("invalid spec: {e}"))?;
    Ok((msg, fd))
}

fn write_file(path: &std::path::Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value)
        .map_err(|e| format!("cannot write {} to {}: {e}", value.trim(), path.display()))
}

/// The outer helper. Returns the exit code to leave with.
fn outer(control: &OwnedFd) -> Result<i32, String> {
    nix::fcntl::fcntl(
        control.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| format!("cannot set close-on-exec on the control fd: {e}"))?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let mut t = Timings::default();
    t.mark("start");
    let (prepare, template): (PrepareSpec, _) = read_message(control.as_fd())?;
    // Forked first: in the host's namespaces, and outside the sandbox's cgroups (its memory is
    // not the function's).
    let mut slirp = match &prepare.slirp {
        Some(plan) => Some(net::Slirp::fork(plan)?),
        None => None,
    };
    // The OOM killer should pick the function, never the init processes (inherited; the function
    // resets it). Best effort: lowering it needs CAP_SYS_RESOURCE, which some hosts withhold.
    let _ = std::fs::write("/proc/self/oom_score_adj", "-1000");
    for p in &prepare.cgroup_procs {
        write_file(p, "0")?;
    }
    // Opened now: after the inner init's pivot_root, /sys is out of this namespace's sight.
    let thaw = match &prepare.thaw {
        Some((path, value)) => Some((
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            value.clone(),
        )),
        None => None,
    };
    t.mark("cgroups");
    // Opened in the host's network namespace, to create the sandbox's veth pair from there.
    let host_netlink = match &prepare.net {
        Some(_) => Some(
            super::netlink::Netlink::open()
                .map_err(|e| format!("cannot open a netlink socket: {e}"))?,
        ),
        None => None,
    };
    let ns = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWNET;
    if let Some((uid, gid)) = prepare.userns {
        enter_user_namespace(uid, gid)?;
    }
    nix::sched::unshare(ns).map_err(|e| format!("cannot create the namespaces: {e}"))?;
    t.mark("unshare");
    if let Some(s) = &mut slirp {
        s.start()?;
    }
    let slirp_ready = slirp.as_mut().and_then(net::Slirp::take_ready);
    net::loopback_up()?;
    let attached = match (&prepare.net, host_netlink) {
        (Some(plan), Some(mut host)) => Some(net::attach(&mut host, plan)?),
        _ => None,
    };
    t.mark("network");
    let (status_r, status_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("cannot create a pipe: {e}"))?;
    // SAFETY: this process is single-threaded (a fresh exec of the hako binary that started no
    // threads), so the child may use the allocator and everything else freely.
    match unsafe { nix::unistd::fork() }
        .map_err(|e| format!("cannot fork the sandbox's init: {e}"))?
    {
        ForkResult::Child => {
            drop(status_r);
            drop(thaw);
            // Only the outer helper holds the helper's exit fd.
            drop(slirp);
            let code = match prepared_inner(
                &prepare,
                template,
                control.as_fd(),
                status_w,
                attached,
                slirp_ready,
            ) {
                Ok(never) => match never {},
                Err(msg) => {
                    report_error(control.as_fd(), &msg);
                    SETUP_FAILED
                }
            };
            std::process::exit(code)
        }
        ForkResult::Parent { child } => {
            drop(status_w);
            drop(template);
            drop(slirp_ready);
            let code = supervise(control, child, status_r, thaw);
            if let Some(s) = slirp {
                s.stop();
            }
            code
        }
    }
}

/// Creates this process's user namespace, mapping `uid`/`gid` inside to its own user and group
/// outside (the one mapping an ordinary user may write; `setgroups` denied first, as the kernel
/// requires for the gid map).
fn enter_user_namespace(uid: u32, gid: u32) -> Result<(), String> {
    let (outer_uid, outer_gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
        .map_err(|e| format!("cannot create a user namespace: {e}"))?;
    write_file(std::path::Path::new("/proc/self/setgroups"), "deny")?;
    write_file(
        std::path::Path::new("/proc/self/uid_map"),
        &format!("{uid} {outer_uid} 1"),
    )?;
    write_file(
        std::path::Path::new("/proc/self/gid_map"),
        &format!("{gid} {outer_gid} 1"),
    )
}

/// The inner init of a prepared sandbox: joins the freezer, then waits for its function's spec
/// (the part of the set-up that depends on the function starts there).
fn prepared_inner(
    prepare: &PrepareSpec,
    template: Option<OwnedFd>,
    control: BorrowedFd<'_>,
    status_w: OwnedFd,
    attached: Option<net::Attached>,
    slirp_ready: Option<OwnedFd>,
) -> Result<std::convert::Infallible, String> {
    // Die with the outer helper (it is single-threaded, so its thread's death is its death). If
    // it died before this line, Hako's kill swept the cgroup, which we are already in.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("prctl: {e}"))?;
    for p in &prepare.inner_cgroup_procs {
        write_file(p, "0")?;
    }
    // The per-host part of the root (most of its mounts, /proc among them), ahead of demand.
    let host = match (attached, &prepare.slirp) {
        (Some(a), _) => Some(a.gateway),
        (None, Some(s)) => s.host,
        (None, None) => None,
    };
    match host {
        Some(addr) => {
            let mut system = prepare.system_mounts.clone();
            mounts::add_host(&mut system, net::HOST_NAME, addr);
            mounts::prepare_root(&prepare.root, &system)?;
        }
        None => mounts::prepare_root(&prepare.root, &prepare.system_mounts)?,
    }
    let tmp = mounts::inside(&prepare.root, std::path::Path::new(mounts::TMP));
    let mut disk_mb = None;
    if let (Some(disk), Some(template)) = (&prepare.tmp_disk, template) {
        match tmp_disk::attach(&tmp, &std::fs::File::from(template), disk) {
            Ok(()) => disk_mb = Some(disk.size_mb),
            Err(e) => tmp_warning(&e),
        }
    }
    if let Some(ready) = slirp_ready {
        net::wait_ready(ready)?;
    }
    let (mut spec, template): (InitSpec, _) = read_message(control)?;
    let mut t = Timings::default();
    t.mark("spec");
    settle_tmp(&mut spec, &tmp, disk_mb, template);
    if (attached.is_some() || prepare.slirp.is_some()) && !spec.outbound {
        net::detach()?;
        // No hako.host either.
        mounts::rewrite_file(&prepare.root, &prepare.system_mounts, "/etc/hosts")?;
    }
    inner(&spec, &prepare.root, control, status_w, t)
}

/// Reports (in the sandbox's output) that `/tmp` is a tmpfs.
fn tmp_warning(e: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "hako sandbox-init: warning: /tmp is a tmpfs (counted against the function's memory): {e}"
    );
}

/// The switch point between a `/tmp` on disk and a tmpfs: takes the [`MountOp::TmpDisk`] op off
/// the function's plan when the disk at `tmp` is the size it asks for (the one prepared, or a new
/// one made from the template Hako sent with the spec). Otherwise the op stays and becomes a
/// tmpfs.
fn settle_tmp(
    spec: &mut InitSpec,
    tmp: &std::path::Path,
    prepared_mb: Option<u64>,
    template: Option<OwnedFd>,
) {
    let Some(want) = spec.mounts.iter().find_map(|op| match op {
        MountOp::TmpDisk { size_mb, .. } => Some(*size_mb),
        _ => None,
    }) else {
        return;
    };
    let ready = prepared_mb == Some(want) || {
        if prepared_mb.is_some() {
            if let Err(e) = tmp_disk::detach(tmp) {
                tmp_warning(&e);
            }
        }
        match (&spec.tmp_disk, template) {
            (Some(disk), Some(template)) => {
                tmp_disk::attach(tmp, &std::fs::File::from(template), disk)
                    .map_err(|e| tmp_warning(&e))
                    .is_ok()
            }
            _ => false,
        }
    };
    if ready {
        spec.mounts
            .retain(|op| !matches!(op, MountOp::TmpDisk { .. }));
    }
}

/// Waits for the inner init; kills it when Hako closes the control socket. Returns the exit code
/// to leave with, or re-raises the function's fatal signal.
fn supervise(
    control: &OwnedFd,
    child: Pid,
    status_r: OwnedFd,
    thaw: Option<(std::fs::File, String)>,
) -> Result<i32, String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no pointers.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.as_raw(), 0) };
    let pidfd = if pidfd >= 0 {
        // SAFETY: pidfd_open just returned this descriptor and nothing else owns it.
        Some(unsafe { OwnedFd::from_raw_fd(pidfd as i32) })
    } else {
        None
    };
    let mut hako_gone = false;
    loop {
        if let Some(pidfd) = &pidfd {
            let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            if !hako_gone {
                // Only the peer's close: the messages on fd 3 are for the inner init.
                fds.push(PollFd::new(
                    control.as_fd(),
                    PollFlags::from_bits_retain(libc::POLLRDHUP),
                ));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("poll: {e}")),
            }
            // Only RDHUP, HUP, ERR or NVAL can come back for fd 3: each means Hako is gone (nix
            // does not know RDHUP, so such revents read as None).
            let control_ready = fds
                .get(1)
                .is_some_and(|f| f.revents() != Some(PollFlags::empty()));
            let child_done = fds[0].revents().map(|r| !r.is_empty()).unwrap_or(false);
            if control_ready && !hako_gone {
                // Hako is gone: so is the sandbox. Frozen processes die only once thawed.
                hako_gone = true;
                let _ = kill(child, Signal::SIGKILL);
                if let Some((mut f, value)) = thaw.as_ref().map(|(f, v)| (f, v)) {
                    let _ = f.write_all(value.as_bytes());
                }
            }
            if !child_done {
                continue;
            }
        }
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => {
                return Ok(match read_status(&status_r) {
                    Some(FunctionStatus::Code(c)) => c,
                    Some(FunctionStatus::Signal(s)) => reraise(s),
                    None => code,
                })
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                return Ok(match read_status(&status_r) {
                    Some(FunctionStatus::Code(c)) => c,
                    Some(FunctionStatus::Signal(s)) => reraise(s),
                    None => reraise(sig as i32),
                })
            }
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("waitpid: {e}")),
        }
    }
}

enum FunctionStatus {
    Code(i32),
    Signal(i32),
}

fn read_status(r: &OwnedFd) -> Option<FunctionStatus> {
    let mut buf = [0u8; 5];
    let n = nix::unistd::read(r.as_raw_fd(), &mut buf).ok()?;
    if n != 5 {
        return None;
    }
    let v = i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]);
    match buf[0] {
        b'C' => Some(FunctionStatus::Code(v)),
        b'S' => Some(FunctionStatus::Signal(v)),
        _ => None,
    }
}

/// Dies of `sig` (so that Hako sees the function's signal), or exits 128+sig if it cannot.
fn reraise(sig: i32) -> i32 {
    if let Ok(s) = Signal::try_from(sig) {
        // SAFETY: restoring the default disposition of a signal; no handler is involved.
        let _ = unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl) };
        let _ =
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        let _ = kill(nix::unistd::getpid(), s);
    }
    128 + sig
}

/// The inner init (PID 1 of the sandbox). Only returns on error.
fn inner(
    spec: &InitSpec,
    root: &std::path::Path,
    control: BorrowedFd<'_>,
    status_w: OwnedFd,
    mut t: Timings,
) -> Result<std::convert::Infallible, String> {
    mounts::finish_root(root, &spec.mounts)?;
    t.mark("root");
    nix::unistd::sethostname(&spec.hostname)
        .map_err(|e| format!("cannot set the hostname: {e}"))?;
    let listener = match spec.listen_port {
        Some(port) => Some(
            std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
                format!("cannot listen on 127.0.0.1:{port} inside the sandbox: {e}")
            })?,
        ),
        None => None,
    };
    let api_listener = match spec.api_port {
        Some(port) => Some(
            std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
                format!("cannot listen on 127.0.0.1:{port} inside the sandbox: {e}")
            })?,
        ),
        None => None,
    };
    let exec = Exec::prepare(spec)?;
    // The listeners go in order: the Runtime API's, then the platform API's.
    let fds: Vec<_> = listener
        .iter()
        .chain(api_listener.iter())
        .map(|l| l.as_raw_fd())
        .collect();
    net::send_with_fds(control, b"OK", &fds)
        .map_err(|e| format!("cannot hand the listener to hako: {e}"))?;
    drop(listener);
    drop(api_listener);
    t.mark("listener");
    if spec.timings {
        t.print();
    }
    let function = fork_function(&exec, spec)?;
    let status = run_function(control, &exec, spec, function);
    let mut msg = [0u8; 5];
    let (tag, v) = match status {
        FunctionStatus::Code(c) => (b'C', c),
        FunctionStatus::Signal(s) => (b'S', s),
    };
    msg[0] = tag;
    msg[1..].copy_from_slice(&v.to_le_bytes());
    let _ = nix::unistd::write(&status_w, &msg);
    // Leaving takes every other process of the namespace with us.
    std::process::exit(0)
}

/// Forks the function (which drops everything and execs).
fn fork_function(exec: &Exec, spec: &InitSpec) -> Result<Pid, String> {
    // SAFETY: this process (PID 1 of the sandbox) is single-threaded.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("cannot fork the function: {e}"))? {
        ForkResult::Child => {
            let err = exec.run(spec);
            let _ = writeln!(
                std::io::stderr(),
                "hako: cannot start {}: {err}",
                spec.program.display()
            );
            // SAFETY: _exit ends the process without running anything else.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

/// What Hako sends to restart the function ([`crate::SandboxControl::restart`]).
pub(crate) const RESTART: &[u8] = b"RESTART";

/// Reaps everything (orphans are re-parented to PID 1) until the function exits by itself, and
/// returns how it ended. On [`RESTART`] from Hako, kills every other process of the namespace
/// (the function and all it started; the kernel never delivers a signal from inside to PID 1),
/// waits until they are gone, and forks the function again, confined as the first one was.
fn run_function(
    control: BorrowedFd<'_>,
    exec: &Exec,
    spec: &InitSpec,
    mut function: Pid,
) -> FunctionStatus {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::wait::WaitPidFlag;
    let mut hako_gone = false;
    loop {
        // Orphans are reaped at least this often; the function's own end wakes us at once.
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no pointers.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, function.as_raw(), 0) };
        // SAFETY: pidfd_open just returned this descriptor and nothing else owns it.
        let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd as i32) });
        let restart = loop {
            let mut fds = Vec::with_capacity(2);
            if !hako_gone {
                fds.push(PollFd::new(control, PollFlags::POLLIN));
            }
            if let Some(p) = &pidfd {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            let wait = if pidfd.is_some() { 1000u16 } else { 50 };
            let _ = poll(&mut fds, PollTimeout::from(wait));
            let control_ready = !hako_gone
                && fds[0]
                    .revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP));
            drop(fds);
            loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(pid, code)) if pid == function => {
                        return FunctionStatus::Code(code)
                    }
                    Ok(WaitStatus::Signaled(pid, sig, _)) if pid == function => {
                        return FunctionStatus::Signal(sig as i32)
                    }
                    Ok(WaitStatus::StillAlive) => break,
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return FunctionStatus::Code(-1),
                }
            }
            if control_ready {
                let mut buf = [0u8; 64];
                match nix::sys::socket::recv(
                    control.as_raw_fd(),
                    &mut buf,
                    nix::sys::socket::MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(n) if &buf[..n] == RESTART => break true,
                    Ok(0) => hako_gone = true,
                    Ok(_) | Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => hako_gone = true,
                }
            }
        };
        if restart {
            // Everything but us, in this PID namespace, until all of it is gone (again after each
            // reaped process: nothing forked meanwhile survives).
            loop {
                let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
                match waitpid(Pid::from_raw(-1), None) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break, // ECHILD: nobody left
                }
            }
            function = match fork_function(exec, spec) {
                Ok(pid) => pid,
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "hako sandbox-init: {e}");
                    return FunctionStatus::Code(-1);
                }
            };
        }
    }
}

/// Everything the function's exec needs, allocated before the fork.
struct Exec {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Exec {
    fn prepare(spec: &InitSpec) -> Result<Exec, String> {
        let c = |s: &str| CString::new(s).map_err(|_| format!("a NUL byte in {s:?}"));
        let program = c(&spec.program.to_string_lossy())?;
        let mut argv = vec![program.clone()];
        for a in &spec.args {
            argv.push(c(a)?);
        }
        let envp = spec
            .env
            .iter()
            .map(|(k, v)| c(&format!("{k}={v}")))
            .collect::<Result<_, _>>()?;
        Ok(Exec {
            program,
            argv,
            envp,
        })
    }

    /// In the function's process: drops everything and execs. Returns only on failure.
    fn run(&self, spec: &InitSpec) -> String {
        match self.drop_and_exec(spec) {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    fn drop_and_exec(&self, spec: &InitSpec) -> Result<std::convert::Infallible, String> {
        use nix::sys::resource::{setrlimit, Resource};
        nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
        let _ = std::fs::write("/proc/self/oom_score_adj", "0");
        nix::unistd::chdir(&spec.cwd)
            .map_err(|e| format!("cannot chdir to {}: {e}", spec.cwd.display()))?;
        // Never above the hard limit Hako got (raising it needs real root).
        let (_, hard) = nix::sys::resource::getrlimit(Resource::RLIMIT_NOFILE)
            .map_err(|e| format!("getrlimit: {e}"))?;
        let nofile = spec.nofile.min(hard);
        setrlimit(Resource::RLIMIT_NOFILE, nofile, nofile)
            .map_err(|e| format!("setrlimit: {e}"))?;
        setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| format!("setrlimit: {e}"))?;
        // Empty the capability bounding set (needs CAP_SETPCAP, so before the uid change, which
        // clears the other sets).
        for cap in 0..=63 {
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
                break; // past the last capability this kernel knows
            }
        }
        let (uid, gid) = (Uid::from_raw(spec.uid), Gid::from_raw(spec.gid));
        // Rootless, `setgroups` is denied in the user namespace: the function keeps the groups
        // Hako's user had, which show inside as the overflow group (nogroup).
        if !spec.rootless {
            nix::unistd::setgroups(&[gid]).map_err(|e| format!("setgroups: {e}"))?;
        }
        nix::unistd::setresgid(gid, gid, gid).map_err(|e| format!("setresgid: {e}"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(|e| format!("setresuid: {e}"))?;
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
        }
        // Rust ignores SIGPIPE at start; the function gets the default, and an empty mask.
        // SAFETY: restoring a default disposition; no handler is involved.
        let _ = unsafe {
            nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl)
        };
        let _ =
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        seccomp::install(&spec.seccomp)?;
        let e = nix::unistd::execve(&self.program, &self.argv, &self.envp).unwrap_err();
        Err(e.to_string())
    }
}
