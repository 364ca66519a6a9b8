//! The Linux backend's settings, its two modes (root and rootless), and why it may not run.

use std::path::PathBuf;

use super::cgroups::CgroupError;
use super::net::DEFAULT_SUBNET;
use super::seccomp::SeccompError;

/// Settings of the Linux backend.
#[derive(Debug, Clone)]
pub struct LinuxConfig {
    /// The program to run as the sandbox's init, and its arguments: the hako binary itself with
    /// `sandbox-init` (tests point it at the built binary).
    pub init_program: PathBuf,
    pub init_args: Vec<String>,
    /// The unprivileged user functions run as: the caller's policy (Hako passes Lambda's).
    pub user: SandboxUser,
    /// Memory that buys one full CPU: a sandbox's CPU share is proportional to its memory limit,
    /// `memory_mb / mb_per_vcpu` CPUs (the caller's policy: Hako passes Lambda's 1769).
    pub mb_per_vcpu: u64,
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
    /// Host paths under the system directories that sandboxes must not see (the caller's policy:
    /// Hako passes the host's own Python and Node.js package directories, so that a function
    /// sees only its runtime's). A directory is covered by an empty read-only one, a file by an
    /// empty file; paths the host does not have are skipped.
    pub hidden_paths: Vec<PathBuf>,
}

/// Who a sandbox's processes run as: an unprivileged user and group, with the name `/etc/passwd`
/// gives the user inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxUser {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
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

impl LinuxConfig {
    /// The backend's settings for sandboxes that run as `user` with one CPU per `mb_per_vcpu` MB
    /// of memory (both the caller's policy); the rest as Hako runs it: the init is this very
    /// binary (`/proc/self/exe sandbox-init`), two sandboxes prepared ahead, outbound access
    /// from [`DEFAULT_SUBNET`], no `/tmp` disks, the default cgroup parent, no slirp4netns.
    pub fn new(user: SandboxUser, mb_per_vcpu: u64) -> LinuxConfig {
        LinuxConfig {
            init_program: PathBuf::from("/proc/self/exe"),
            init_args: vec!["sandbox-init".into()],
            user,
            mb_per_vcpu,
            hostname: "localhost".into(),
            state_dir: PathBuf::from("/run/hako"),
            prepared: 2,
            subnet: Some(DEFAULT_SUBNET),
            tmp_disk_dir: None,
            cgroup_parent: None,
            slirp4netns: None,
            hidden_paths: Vec::new(),
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
