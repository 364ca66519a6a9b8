//! Sandboxes prepared ahead of demand: a sandbox's init started, its cgroups joined and its
//! namespaces (and, as root, its network and `/tmp` disk) made before a function asks for it, so
//! that a cold start only sends the init its function's spec. The pool is topped up off the
//! caller's thread, and emptied (inits killed, cgroups removed) at shutdown.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use super::{cgroups, init, mounts, net, tmp_disk, LinuxConfig, Mode};
use crate::SandboxError;

/// A sandbox's init started ahead of demand: it has joined its (still unlimited) cgroups and
/// created its namespaces, and waits for its function's spec.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) child: tokio::process::Child,
    /// Hako's end of the init's fd 3.
    pub(super) sock: OwnedFd,
    /// The read end of the init's (and later the function's) stdout and stderr.
    pub(super) output: OwnedFd,
    pub(super) cgroup: cgroups::Cgroup,
    /// The size of the disk mounted at its `/tmp`, if any.
    pub(super) tmp_mb: Option<u64>,
}

/// Starts inits and keeps a few [`Prepared`] ones.
#[derive(Debug)]
pub(super) struct Preparer {
    pub(super) cfg: LinuxConfig,
    pub(super) cgroups: cgroups::Cgroups,
    pub(super) pool: std::sync::Mutex<Vec<Prepared>>,
    /// The per-host part of every sandbox's root, assembled while a sandbox is prepared.
    pub(super) system_mounts: Vec<mounts::MountOp>,
    /// The host directory roots are assembled on (in each sandbox's own mount namespace).
    pub(super) root: PathBuf,
    /// The sandboxes' /16 when the host side of their network is set up.
    pub(super) subnet: Option<std::net::Ipv4Addr>,
    pub(super) mode: Mode,
    /// Rootless outbound access: the helper, and the host's address the sandboxes know as
    /// `hako.host`.
    pub(super) slirp: Option<net::SlirpPrepare>,
    /// Set by [`Isolation::shutdown`]: nothing is prepared or spawned any more.
    pub(super) closed: AtomicBool,
    /// Refills running now (shutdown waits for them, so that none leaves a sandbox behind).
    pub(super) refilling: std::sync::atomic::AtomicUsize,
    /// The `/tmp` disks' templates; `None`: `/tmp` is a tmpfs.
    pub(super) tmp_disks: Option<tmp_disk::Templates>,
    /// The `/tmp` size sandboxes are prepared with: the last one a function asked for.
    pub(super) tmp_mb_next: AtomicU64,
}

/// The `/tmp` size sandboxes are prepared with at first (AWS's default `EphemeralStorage`).
pub(super) const DEFAULT_TMP_MB: u64 = 512;

/// How long after a claim the pool is topped up: starting an init (a fork of Hako) must not
/// compete with the cold start that claimed one for the machine's CPUs.
const REFILL_DELAY: Duration = Duration::from_millis(50);

impl Preparer {
    pub(super) fn take(&self) -> Option<Prepared> {
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
    pub(super) fn prepare(&self) -> Result<Prepared, SandboxError> {
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
                userns: (self.mode == Mode::Rootless)
                    .then_some((self.cfg.user.uid, self.cfg.user.gid)),
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
    pub(super) fn tmp_disk(
        &self,
        size_mb: u64,
    ) -> Option<(tmp_disk::DiskSpec, Arc<std::fs::File>)> {
        let templates = self.tmp_disks.as_ref()?;
        match templates.get(size_mb) {
            Ok(t) => Some((
                tmp_disk::DiskSpec {
                    dir: templates.dir().to_path_buf(),
                    size_mb,
                    uid: self.cfg.user.uid,
                    gid: self.cfg.user.gid,
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
    pub(super) fn refill_later(self: &Arc<Self>) {
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
    pub(super) async fn shutdown(&self) {
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

/// Numbers the sandboxes of this process (cgroups are named `<pid>-<n>`), across instances.
static NEXT_SANDBOX: AtomicU64 = AtomicU64::new(1);
