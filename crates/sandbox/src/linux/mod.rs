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
//! init first creates a user namespace mapping one id (the sandbox user, as configured) to
//! Hako's own user, and holds capabilities only there; the sandboxes' cgroups live under a parent
//! an admin delegated to that user ([`cgroups::Delegation`]); outbound access goes through a
//! user-space network helper per sandbox (slirp4netns) instead of a veth pair, or is absent
//! (loopback only) without it.

mod cgroups;
mod config;
mod control;
mod init;
mod mounts;
mod net;
mod netlink;
mod pool;
mod seccomp;
mod spawn;
mod tmp_disk;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use nix::sys::signal::kill;
use nix::unistd::Pid;

pub use cgroups::CgroupError;
pub use config::{rootless_cgroup_parent, user_name, LinuxConfig, LinuxError, Mode, SandboxUser};
pub use init::init_main;
pub use mounts::{RUNTIME_ROOT, TASK_ROOT};
pub use net::{DEFAULT_SUBNET, HOST_NAME};
pub use seccomp::SeccompError;

use pool::{Preparer, DEFAULT_TMP_MB};

/// The port of the Runtime API inside every sandbox, as on AWS.
pub const RUNTIME_API_PORT: u16 = 9001;

/// The port of the platform's API inside every sandbox (Hako's own default port).
pub const PLATFORM_API_PORT: u16 = 9000;

/// Starts sandboxes with namespaces, cgroups and seccomp.
#[derive(Debug)]
pub struct LinuxIsolation {
    preparer: Arc<Preparer>,
    seccomp: Vec<seccomp::Program>,
    /// Why sandboxes' `/tmp` is a tmpfs, when it is.
    tmp_disk_error: Option<String>,
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
        let system_mounts = mounts::system_plan(
            cfg.user.uid,
            cfg.user.gid,
            &cfg.user.name,
            &cfg.hidden_paths,
        );
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
}
