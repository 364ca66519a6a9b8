//! Cgroups of sandboxes, on the v1 (one hierarchy per controller) and v2 (unified) layouts.
//!
//! Every sandbox gets its own group under a Hako-owned parent (`hako` unless configured) at the
//! root of each hierarchy used (`/sys/fs/cgroup/memory/hako/<id>` on v1, `/sys/fs/cgroup/hako/<id>`
//! on v2), so that groups left behind by a Hako that was killed can be found and removed at the
//! next start. All of it is plain file IO against a root directory, which lets the unit tests run
//! on a temporary directory tree.
//!
//! Rootless ([`Delegation::Delegated`]), Hako cannot create anything at a hierarchy's root: the
//! parent must have been made for it and handed over (v1: `mkdir` + `chown -R` in each of the
//! four hierarchies, once, by an admin; v2: a subtree systemd delegates, `Delegate=yes`, which
//! Hako finds as the cgroup it runs in and splits into `server` (Hako itself moves there: v2 lets
//! only leaves hold processes) and the sandboxes' parent). What is missing is named with the
//! commands that fix it ([`CgroupError::NotDelegated`]).

use std::io;
use std::path::{Path, PathBuf};

/// The CPU controller's period. Short, so that a small function that spends its quota waits at
/// most a few milliseconds for the next period (with the kernel's default 100 ms, a 128 MB
/// function's p99 latency was ~80 ms); long enough that 128 MB still gets more than the kernel's
/// 1 ms minimum quota.
pub(crate) const CPU_PERIOD_US: u64 = 20_000;

/// Which cgroup layout the host has, with where its hierarchies are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One directory per controller: memory, cpu, pids, freezer.
    V1 {
        memory: PathBuf,
        cpu: PathBuf,
        pids: PathBuf,
        freezer: PathBuf,
    },
    /// The unified hierarchy's mount point.
    V2 { root: PathBuf },
}

/// Limits of one sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) memory_mb: u64,
    /// Memory that makes one full CPU (the CPU share is proportional to memory).
    pub(crate) mb_per_vcpu: u64,
    pub(crate) pids: u64,
}

impl Limits {
    /// CPU quota per [`CPU_PERIOD_US`], proportional to memory (`mb_per_vcpu` MB = one CPU), at
    /// least 1 ms.
    pub(crate) fn cpu_quota_us(&self) -> u64 {
        (CPU_PERIOD_US * self.memory_mb / self.mb_per_vcpu.max(1)).max(1000)
    }

    /// The quota of the init phase: at least one full vCPU (AWS boosts the CPU of the init
    /// phase; a 128 MB Python runtime would otherwise take ~0.7 s to start at 7 % of a CPU).
    pub(crate) fn init_cpu_quota_us(&self) -> u64 {
        self.cpu_quota_us().max(CPU_PERIOD_US)
    }

    /// The sandbox's CPU weight in thousandths of a vCPU (`mb_per_vcpu` MB = 1000).
    fn milli_vcpus(&self) -> u64 {
        (1000 * self.memory_mb / self.mb_per_vcpu.max(1)).max(1)
    }
}

/// The CPU weight a group of `milli_vcpus` thousandths of a vCPU gets, in the file that sets it:
/// v1 `cpu.shares` (1024 = one host process, 2..=262144), v2 `cpu.weight` (100 = one process,
/// 1..=10000). A sandbox with one vCPU's memory weighs as much as one busy host process, as its
/// quota is one CPU; the sandboxes' parent weighs as much as all of its sandboxes together (up to
/// the host's CPUs, [`ParentWeight`]), so under host load they are not all squeezed into one
/// process's share, as they were when the parent kept the default weight.
fn cpu_weight(layout: &Layout, milli_vcpus: u64) -> (&'static str, String) {
    match layout {
        Layout::V1 { .. } => (
            "cpu.shares",
            (1024 * milli_vcpus / 1000).clamp(2, 262_144).to_string(),
        ),
        Layout::V2 { .. } => (
            "cpu.weight",
            (100 * milli_vcpus / 1000).clamp(1, 10_000).to_string(),
        ),
    }
}

/// The sandboxes' parent's CPU weight: the sum of its sandboxes' weights (those with limits,
/// running or idle: their quotas are reserved as AWS reserves a function's vCPU share), never
/// less than one host process's, and never more than as many processes as the host has CPUs:
/// the sandboxes together cannot use more than that, and Hako's own threads (the front door,
/// the Runtime API servers) must still get theirs when every sandbox is busy.
#[derive(Debug)]
struct ParentWeight {
    milli_vcpus: std::sync::Mutex<u64>,
    max_milli_vcpus: u64,
}

impl Default for ParentWeight {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        ParentWeight {
            milli_vcpus: std::sync::Mutex::new(0),
            max_milli_vcpus: 1000 * cpus,
        }
    }
}

impl ParentWeight {
    /// Adds `add` and removes `remove` thousandths of a vCPU, then writes the parent's weight.
    /// Best effort: a parent whose weight cannot be written keeps its default (logged once).
    fn change(&self, layout: &Layout, cpu_parent: &Path, add: u64, remove: u64) {
        let Ok(mut sum) = self.milli_vcpus.lock() else {
            return;
        };
        *sum = (*sum + add).saturating_sub(remove);
        let (file, value) = cpu_weight(layout, (*sum).clamp(1000, self.max_milli_vcpus.max(1000)));
        if let Err(e) = std::fs::write(cpu_parent.join(file), &value) {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "cannot set the sandboxes' CPU weight in {}: {e}; under host load they share one process's CPU",
                    cpu_parent.display()
                )
            });
        }
    }
}

/// Errors of managing cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no usable cgroup hierarchy: {0}")]
    NotFound(String),
    #[error(
        "no delegated cgroup subtree this user may write: {missing}; to fix it, as root: {fix}"
    )]
    NotDelegated { missing: String, fix: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io_err("write", path))
}

impl Layout {
    /// Finds the layout from `/proc/self/mountinfo`'s text. v2 is used only when the unified
    /// hierarchy has the memory controller; otherwise the v1 controllers must all be mounted.
    pub(crate) fn from_mountinfo(
        mountinfo: &str,
        v2_controllers: impl Fn(&Path) -> Option<String>,
    ) -> Result<Layout, CgroupError> {
        let mut v1: Vec<(PathBuf, Vec<String>)> = Vec::new();
        let mut v2 = None;
        for line in mountinfo.lines() {
            // id parent major:minor root mountpoint opts [optional...] - fstype source superopts
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = match left.split(' ').nth(4) {
                Some(m) => PathBuf::from(m),
                None => continue,
            };
            let mut r = right.split(' ');
            let fstype = r.next().unwrap_or("");
            let superopts = r.nth(1).unwrap_or("");
            match fstype {
                "cgroup2" if v2.is_none() => v2 = Some(mount_point),
                "cgroup" => v1.push((
                    mount_point,
                    superopts.split(',').map(str::to_string).collect(),
                )),
                _ => {}
            }
        }
        if let Some(root) = v2 {
            let has_memory = v2_controllers(&root)
                .map(|c| c.split_whitespace().any(|c| c == "memory"))
                .unwrap_or(false);
            if has_memory {
                return Ok(Layout::V2 { root });
            }
        }
        let find = |c: &str| {
            v1.iter().find(|(_, opts)| opts.iter().any(|o| o == c)).map(|(m, _)| m.clone()).ok_or_else(|| {
                CgroupError::NotFound(format!("the cgroup v1 controller {c} is not mounted, and cgroup v2 has no memory controller"))
            })
        };
        Ok(Layout::V1 {
            memory: find("memory")?,
            cpu: find("cpu")?,
            pids: find("pids")?,
            freezer: find("freezer")?,
        })
    }

    /// The host's layout.
    pub(crate) fn detect() -> Result<Layout, CgroupError> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(io_err("read", Path::new("/proc/self/mountinfo")))?;
        Layout::from_mountinfo(&mi, |root| {
            std::fs::read_to_string(root.join("cgroup.controllers")).ok()
        })
    }

    /// Where the CPU controller is in [`Layout::parents`] (and a sandbox's directories).
    fn cpu_index(&self) -> usize {
        match self {
            Layout::V1 { .. } => 1,
            Layout::V2 { .. } => 0,
        }
    }

    pub(crate) fn version(&self) -> u8 {
        match self {
            Layout::V1 { .. } => 1,
            Layout::V2 { .. } => 2,
        }
    }

    /// The Hako-owned parent directories named `parent` (one per hierarchy; `parent` is a path
    /// relative to each hierarchy's root).
    fn parents(&self, parent: &Path) -> Vec<PathBuf> {
        match self {
            Layout::V1 {
                memory,
                cpu,
                pids,
                freezer,
            } => [memory, cpu, pids, freezer]
                .iter()
                .map(|m| m.join(parent))
                .collect(),
            Layout::V2 { root } => vec![root.join(parent)],
        }
    }
}

/// The default parent of the sandboxes' groups as root.
pub(crate) const DEFAULT_PARENT: &str = "hako";
/// The controllers sandboxes need on v2.
const V2_CONTROLLERS: &str = "+memory +cpu +pids";

/// How Hako gets its part of the host's cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delegation {
    /// As root: Hako creates the parent (`parent`, relative to each hierarchy's root).
    Root { parent: PathBuf },
    /// Rootless: the parent must exist and be writable. `parent`: relative to each hierarchy's
    /// root; `None` on v2: the cgroup Hako runs in (`own`, from `/proc/self/cgroup`), when it is
    /// writable. `user` names the owner in the commands that fix a missing delegation.
    Delegated {
        parent: Option<PathBuf>,
        own: Option<PathBuf>,
        user: String,
    },
}

/// The Hako-owned part of the host's cgroups.
#[derive(Debug, Clone)]
pub(crate) struct Cgroups {
    layout: Layout,
    /// The sandboxes' parents, one per hierarchy (the order of [`Layout::parents`]).
    parents: Vec<PathBuf>,
    weight: std::sync::Arc<ParentWeight>,
}

/// Whether this process may create groups in `dir` (and move processes into them).
fn writable(dir: &Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    dir.is_dir()
        && access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_ok()
        && access(&dir.join("cgroup.procs"), AccessFlags::W_OK).is_ok()
}

impl Cgroups {
    /// Finds (as root: creates) the parent groups, and on v2 enables the controllers for them.
    pub(crate) fn open(layout: Layout, delegation: &Delegation) -> Result<Cgroups, CgroupError> {
        match delegation {
            Delegation::Root { parent } => {
                let parents = layout.parents(parent);
                for p in &parents {
                    std::fs::create_dir_all(p).map_err(io_err("create", p))?;
                }
                if let Layout::V2 { root } = &layout {
                    write(&root.join("cgroup.subtree_control"), V2_CONTROLLERS)?;
                    write(&parents[0].join("cgroup.subtree_control"), V2_CONTROLLERS)?;
                }
                Ok(Cgroups::new(layout, parents))
            }
            Delegation::Delegated { parent, own, user } => match (&layout, parent) {
                (_, Some(parent)) => {
                    let parents = layout.parents(parent);
                    let missing: Vec<&PathBuf> = parents.iter().filter(|p| !writable(p)).collect();
                    if !missing.is_empty() {
                        return Err(CgroupError::NotDelegated {
                            missing: format!(
                                "{} (missing, or not writable by {user})",
                                join(missing.iter().map(|p| p.display()), ", ")
                            ),
                            fix: delegation_commands(&parents, user),
                        });
                    }
                    if layout.version() == 2 {
                        write(&parents[0].join("cgroup.subtree_control"), V2_CONTROLLERS)?;
                    }
                    Ok(Cgroups::new(layout, parents))
                }
                (Layout::V2 { root }, None) => open_own_v2(&layout, root, own.as_deref(), user),
                (Layout::V1 { .. }, None) => Err(CgroupError::NotFound(
                    "cgroup v1 needs a delegated parent group".into(),
                )),
            },
        }
    }

    fn new(layout: Layout, parents: Vec<PathBuf>) -> Cgroups {
        Cgroups {
            layout,
            parents,
            weight: Default::default(),
        }
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The sandboxes' parent groups.
    pub(crate) fn parents(&self) -> &[PathBuf] {
        &self.parents
    }

    /// Removes the sandbox groups under the Hako parents for which `stale(name)` holds (left by a
    /// previous Hako), killing what still runs in them. Returns how many groups were removed.
    pub(crate) fn remove_leftovers(&self, stale: impl Fn(&str) -> bool) -> usize {
        let parents = &self.parents;
        let mut names = std::collections::BTreeSet::new();
        for parent in parents {
            let Ok(rd) = std::fs::read_dir(parent) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) && stale(&name) {
                    names.insert(name);
                }
            }
        }
        let mut n = 0;
        for name in names {
            let dirs: Vec<PathBuf> = parents.iter().map(|p| p.join(&name)).collect();
            for d in &dirs {
                kill_all(d);
            }
            // Frozen tasks die only once thawed.
            for d in &dirs {
                let _ = std::fs::write(d.join("freezer.state"), "THAWED");
                let _ = std::fs::write(d.join("cgroup.freeze"), "0");
            }
            let mut ok = true;
            for d in &dirs {
                ok &= remove_dir_retrying(d);
            }
            if ok {
                n += 1;
            }
        }
        n
    }

    /// Creates the group of one sandbox, without limits yet ([`Cgroup::set_limits`]).
    pub(crate) fn create(&self, name: &str) -> Result<Cgroup, CgroupError> {
        let dirs: Vec<PathBuf> = self.parents.iter().map(|p| p.join(name)).collect();
        for d in &dirs {
            create_dir(d)?;
        }
        let cpu_parent = self.parents[self.layout.cpu_index()].clone();
        Ok(Cgroup {
            layout: self.layout.clone(),
            limits: std::sync::Mutex::new(None),
            dirs,
            peak_file: std::sync::OnceLock::new(),
            parent_weight: (self.weight.clone(), cpu_parent),
        })
    }
}

fn join(items: impl Iterator<Item = impl std::fmt::Display>, sep: &str) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
}

/// The shell commands that delegate `parents` to `user` (run once by an admin, as root).
pub(crate) fn delegation_commands(parents: &[PathBuf], user: &str) -> String {
    let dirs = join(parents.iter().map(|p| p.display()), " ");
    format!("mkdir -p {dirs} && chown -R {user}: {dirs}")
}

/// v2 without a configured parent: the cgroup Hako runs in (`own`, relative to `root`), when this
/// user may write it (a subtree systemd delegated). Hako moves itself into `<own>/server` (only
/// leaves may hold processes once controllers are enabled), and the sandboxes go under
/// `<own>/sandboxes`.
fn open_own_v2(
    layout: &Layout,
    root: &Path,
    own: Option<&Path>,
    user: &str,
) -> Result<Cgroups, CgroupError> {
    let fix = format!(
        "run Hako in a delegated cgroup v2 subtree (e.g. `systemd-run --user --scope -p Delegate=yes hako serve`, \
         or a service with Delegate=yes), or give it one with --cgroup-parent: {}",
        delegation_commands(&[root.join("hako-".to_string() + user)], user)
    );
    let Some(own) = own else {
        return Err(CgroupError::NotDelegated {
            missing: "the cgroup this process runs in is unknown".into(),
            fix,
        });
    };
    let dir = root.join(own.strip_prefix("/").unwrap_or(own));
    if !writable(&dir) {
        return Err(CgroupError::NotDelegated {
            missing: format!(
                "{} (the cgroup Hako runs in) is not writable by {user}",
                dir.display()
            ),
            fix,
        });
    }
    let server = dir.join("server");
    let sandboxes = dir.join("sandboxes");
    for d in [&server, &sandboxes] {
        create_dir(d)?;
    }
    // Every process of the group (Hako and what it already started) moves to the leaf.
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // A process may exit meanwhile; one that cannot move makes the write below fail.
        let _ = std::fs::write(server.join("cgroup.procs"), pid);
    }
    write(&dir.join("cgroup.subtree_control"), V2_CONTROLLERS)?;
    write(&sandboxes.join("cgroup.subtree_control"), V2_CONTROLLERS)?;
    Ok(Cgroups::new(layout.clone(), vec![sandboxes]))
}

/// The cgroup v2 path this process runs in (relative to the hierarchy's root), from
/// `/proc/self/cgroup`'s text.
pub(crate) fn own_v2_cgroup(proc_self_cgroup: &str) -> Option<PathBuf> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(PathBuf::from)
}

/// Creates a cgroup directory; one that is already there is fine.
fn create_dir(d: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(d) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io_err("create", d)(e)),
        _ => Ok(()),
    }
}

fn kill_all(dir: &Path) {
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// rmdir, retried briefly while the group's last tasks are still exiting.
fn remove_dir_retrying(dir: &Path) -> bool {
    for i in 0..50 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(if i < 10 {
                1
            } else {
                10
            })),
        }
    }
    false
}

/// The group(s) of one sandbox: one directory per v1 controller, or one v2 directory.
#[derive(Debug)]
pub(crate) struct Cgroup {
    layout: Layout,
    limits: std::sync::Mutex<Option<Limits>>,
    /// v1: memory, cpu, pids, freezer (the order of [`Layout::parents`]); v2: the one group.
    dirs: Vec<PathBuf>,
    /// The peak-memory file, opened at the first reading and read at offset 0 after that: the
    /// REPORT line reads it after every invocation, and a path lookup + open + close of a cgroup
    /// file cost ~10 µs of the warm path (`None`: it could not be opened).
    peak_file: std::sync::OnceLock<Option<std::fs::File>>,
    /// The parent's weight, which counts this sandbox's while it has limits, and the parent's
    /// CPU directory.
    parent_weight: (std::sync::Arc<ParentWeight>, PathBuf),
}

impl Cgroup {
    fn memory(&self) -> &Path {
        &self.dirs[0]
    }

    fn freezer(&self) -> &Path {
        self.dirs
            .last()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new("/nonexistent"))
    }

    /// Sets the sandbox's limits (the CPU share of its init phase: see [`Limits::init_cpu_quota_us`])
    /// and resets the peak memory reading.
    pub(crate) fn set_limits(&self, l: Limits) -> Result<(), CgroupError> {
        let previous = self
            .limits
            .lock()
            .ok()
            .and_then(|mut cur| cur.replace(l))
            .map_or(0, |p| p.milli_vcpus());
        let bytes = (l.memory_mb * 1024 * 1024).to_string();
        let quota = l.init_cpu_quota_us();
        let (weight_file, weight) = cpu_weight(&self.layout, l.milli_vcpus());
        write(
            &self.dirs[self.layout.cpu_index()].join(weight_file),
            &weight,
        )?;
        let (parent, cpu_parent) = &self.parent_weight;
        parent.change(&self.layout, cpu_parent, l.milli_vcpus(), previous);
        match &self.layout {
            Layout::V1 { .. } => {
                let (mem, cpu, pids) = (&self.dirs[0], &self.dirs[1], &self.dirs[2]);
                write(&mem.join("memory.limit_in_bytes"), &bytes)?;
                // No swap: memory+swap may not exceed memory (the file exists only with swap
                // accounting).
                let memsw = mem.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, &bytes)?;
                }
                let _ = std::fs::write(mem.join("memory.swappiness"), "0");
                write(&cpu.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
                write(&pids.join("pids.max"), &l.pids.to_string())?;
                let _ = std::fs::write(mem.join("memory.max_usage_in_bytes"), "0");
            }
            Layout::V2 { .. } => {
                let d = &self.dirs[0];
                write(&d.join("memory.max"), &bytes)?;
                let swap = d.join("memory.swap.max");
                if swap.exists() {
                    write(&swap, "0")?;
                }
                // The whole sandbox dies on OOM, as a microVM would.
                let _ = std::fs::write(d.join("memory.oom.group"), "1");
                write(&d.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))?;
                write(&d.join("pids.max"), &l.pids.to_string())?;
            }
        }
        Ok(())
    }

    /// Ends the init phase's CPU boost: from now on the sandbox gets its share.
    pub(crate) fn apply_cpu_share(&self) -> Result<(), CgroupError> {
        let Some(quota) = self
            .limits
            .lock()
            .ok()
            .and_then(|l| l.map(|l| l.cpu_quota_us()))
        else {
            return Ok(());
        };
        match self.layout {
            Layout::V1 { .. } => write(&self.dirs[1].join("cpu.cfs_quota_us"), &quota.to_string()),
            Layout::V2 { .. } => write(
                &self.dirs[0].join("cpu.max"),
                &format!("{quota} {CPU_PERIOD_US}"),
            ),
        }
    }

    /// The `cgroup.procs` files the sandbox's outer helper joins: every group but the freezer
    /// (v1), none (v2, where the one group is also the freezer).
    pub(crate) fn outer_procs_files(&self) -> Vec<PathBuf> {
        match self.layout {
            Layout::V1 { .. } => self.dirs[..3]
                .iter()
                .map(|d| d.join("cgroup.procs"))
                .collect(),
            Layout::V2 { .. } => vec![],
        }
    }

    /// The `cgroup.procs` files the sandbox's inner init joins: the freezer (v1), the group (v2).
    pub(crate) fn inner_procs_files(&self) -> Vec<PathBuf> {
        vec![self.freezer().join("cgroup.procs")]
    }

    /// The file, and what to write into it, that thaws the sandbox.
    pub(crate) fn thaw_file(&self) -> (PathBuf, String) {
        match self.layout {
            Layout::V1 { .. } => (self.freezer().join("freezer.state"), "THAWED".into()),
            Layout::V2 { .. } => (self.dirs[0].join("cgroup.freeze"), "0".into()),
        }
    }

    /// The highest memory use so far, in bytes.
    pub(crate) fn peak_memory_bytes(&self) -> Option<u64> {
        let file = match self.layout {
            Layout::V1 { .. } => "memory.max_usage_in_bytes",
            Layout::V2 { .. } => "memory.peak",
        };
        use std::os::unix::fs::FileExt;
        let f = self
            .peak_file
            .get_or_init(|| std::fs::File::open(self.memory().join(file)).ok())
            .as_ref()?;
        // A cgroup file is generated anew by every read at offset 0 (seq_file), so one open
        // file gives current readings.
        let mut buf = [0u8; 32];
        let n = f.read_at(&mut buf, 0).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }

    /// How many processes the OOM killer has killed in the group.
    pub(crate) fn oom_kills(&self) -> u64 {
        let file = match self.layout {
            Layout::V1 { .. } => "memory.oom_control",
            Layout::V2 { .. } => "memory.events",
        };
        std::fs::read_to_string(self.memory().join(file))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|v| v.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    }

    /// Stops every process of the group. v1 freezing completes asynchronously.
    pub(crate) fn freeze(&self) -> io::Result<()> {
        match self.layout {
            Layout::V1 { .. } => std::fs::write(self.freezer().join("freezer.state"), "FROZEN"),
            Layout::V2 { .. } => std::fs::write(self.dirs[0].join("cgroup.freeze"), "1"),
        }
    }

    /// Lets the group's processes run again.
    pub(crate) fn thaw(&self) -> io::Result<()> {
        match self.layout {
            Layout::V1 { .. } => std::fs::write(self.freezer().join("freezer.state"), "THAWED"),
            Layout::V2 { .. } => std::fs::write(self.dirs[0].join("cgroup.freeze"), "0"),
        }
    }

    /// SIGKILLs every process in the group (v2: `cgroup.kill`), then thaws it so that frozen
    /// processes can die.
    pub(crate) fn kill_all(&self) {
        // Dying processes are charged CPU time too: a throttled group can take seconds to die.
        match self.layout {
            Layout::V1 { .. } => {
                let _ = std::fs::write(self.dirs[1].join("cpu.cfs_quota_us"), "-1");
            }
            Layout::V2 { .. } => {
                let _ = std::fs::write(self.dirs[0].join("cpu.max"), "max");
            }
        }
        match self.layout {
            // Every process of the sandbox is in all of its v1 groups.
            Layout::V1 { .. } => kill_all(&self.dirs[0]),
            Layout::V2 { .. } => {
                if std::fs::write(self.dirs[0].join("cgroup.kill"), "1").is_err() {
                    kill_all(&self.dirs[0]);
                }
            }
        }
        let _ = self.thaw();
    }

    /// Removes the group, waiting (blocking) a little while its processes exit. Best effort.
    pub(crate) fn destroy(&self) -> bool {
        let mut ok = true;
        for d in &self.dirs {
            ok &= remove_dir_retrying(d);
        }
        self.release_weight();
        ok
    }

    /// One attempt at removing the group's directories; true when none is left.
    pub(crate) fn try_destroy(&self) -> bool {
        let mut ok = true;
        for d in &self.dirs {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(_) => ok = false,
            }
        }
        if ok {
            self.release_weight();
        }
        ok
    }

    /// Takes this sandbox's weight out of its parent's (once).
    fn release_weight(&self) {
        if let Some(l) = self.limits.lock().ok().and_then(|mut cur| cur.take()) {
            let (parent, cpu_parent) = &self.parent_weight;
            parent.change(&self.layout, cpu_parent, 0, l.milli_vcpus());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host_without_v2_memory_is_v1() {
        let l = Layout::from_mountinfo(MOUNTINFO_V1, |_| Some(String::new())).unwrap();
        assert_eq!(
            l,
            Layout::V1 {
                memory: "/sys/fs/cgroup/memory".into(),
                cpu: "/sys/fs/cgroup/cpu".into(),
                pids: "/sys/fs/cgroup/pids".into(),
                freezer: "/sys/fs/cgroup/freezer".into(),
            }
        );
    }

    #[test]
    fn unified_with_memory_is_v2() {
        let mi = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = Layout::from_mountinfo(mi, |_| Some("cpuset cpu io memory pids".into())).unwrap();
        assert_eq!(
            l,
            Layout::V2 {
                root: "/sys/fs/cgroup".into()
            }
        );
        assert!(Layout::from_mountinfo(mi, |_| Some("cpu".into())).is_err());
    }

    #[test]
    fn cpu_quota_is_proportional_to_memory() {
        let quota = |memory_mb, mb_per_vcpu| {
            Limits {
                memory_mb,
                mb_per_vcpu,
                pids: 1,
            }
            .cpu_quota_us()
        };
        // Lambda's ratio: 1769 MB make one vCPU.
        assert_eq!(quota(1769, 1769), 20_000);
        assert_eq!(quota(3538, 1769), 40_000);
        assert_eq!(quota(128, 1769), 1447);
        assert_eq!(quota(1, 1769), 1000);
        // Another caller's ratio.
        assert_eq!(quota(500, 1000), 10_000);
        assert_eq!(quota(2000, 1000), 40_000);
        assert_eq!(
            quota(128, 0),
            2_560_000,
            "a zero ratio is taken as 1 MB per CPU"
        );
    }

    fn fake_v1(root: &Path) -> Layout {
        let l = Layout::V1 {
            memory: root.join("memory"),
            cpu: root.join("cpu"),
            pids: root.join("pids"),
            freezer: root.join("freezer"),
        };
        for p in l.parents(Path::new("hako")) {
            std::fs::create_dir_all(p).unwrap();
        }
        l
    }

    fn as_root() -> Delegation {
        Delegation::Root {
            parent: "hako".into(),
        }
    }

    #[test]
    fn v1_limits_and_readings_go_to_the_right_files() {
        let tmp = tempfile::tempdir().unwrap();
        let cgs = Cgroups::open(fake_v1(tmp.path()), &as_root()).unwrap();
        let cg = cgs.create("sb-1").unwrap();
        cg.set_limits(Limits {
            memory_mb: 256,
            mb_per_vcpu: 1769,
            pids: 1024,
        })
        .unwrap();
        let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).unwrap();
        assert_eq!(
            read("memory/hako/sb-1/memory.limit_in_bytes"),
            (256u64 << 20).to_string()
        );
        assert_eq!(
            read("cpu/hako/sb-1/cpu.cfs_quota_us"),
            "20000",
            "init boost"
        );
        cg.apply_cpu_share().unwrap();
        assert_eq!(read("cpu/hako/sb-1/cpu.cfs_quota_us"), "2894");
        assert_eq!(read("cpu/hako/sb-1/cpu.cfs_period_us"), "20000");
        assert_eq!(read("pids/hako/sb-1/pids.max"), "1024");
        assert_eq!(cg.outer_procs_files().len(), 3);
        assert_eq!(
            cg.inner_procs_files(),
            vec![tmp.path().join("freezer/hako/sb-1/cgroup.procs")]
        );
        std::fs::write(
            tmp.path()
                .join("memory/hako/sb-1/memory.max_usage_in_bytes"),
            "4096\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("memory/hako/sb-1/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(cg.peak_memory_bytes(), Some(4096));
        assert_eq!(cg.oom_kills(), 2);
        cg.freeze().unwrap();
        assert_eq!(read("freezer/hako/sb-1/freezer.state"), "FROZEN");
        cg.thaw().unwrap();
        assert_eq!(read("freezer/hako/sb-1/freezer.state"), "THAWED");
    }

    #[test]
    fn v2_limits_and_readings_go_to_the_right_files() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::V2 {
            root: tmp.path().to_path_buf(),
        };
        std::fs::create_dir_all(tmp.path().join("hako")).unwrap();
        let cgs = Cgroups::open(layout, &as_root()).unwrap();
        let cg = cgs.create("sb-2").unwrap();
        cg.set_limits(Limits {
            memory_mb: 1769,
            mb_per_vcpu: 1769,
            pids: 1024,
        })
        .unwrap();
        let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).unwrap();
        assert_eq!(read("cgroup.subtree_control"), "+memory +cpu +pids");
        assert_eq!(read("hako/sb-2/memory.max"), (1769u64 << 20).to_string());
        assert_eq!(read("hako/sb-2/cpu.max"), "20000 20000");
        cg.apply_cpu_share().unwrap();
        assert_eq!(read("hako/sb-2/cpu.max"), "20000 20000");
        assert_eq!(read("hako/sb-2/memory.oom.group"), "1");
        std::fs::write(
            tmp.path().join("hako/sb-2/memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        std::fs::write(tmp.path().join("hako/sb-2/memory.peak"), "123\n").unwrap();
        assert_eq!(cg.oom_kills(), 1);
        assert_eq!(cg.peak_memory_bytes(), Some(123));
        cg.freeze().unwrap();
        assert_eq!(read("hako/sb-2/cgroup.freeze"), "1");
        assert!(cg.outer_procs_files().is_empty());
        assert_eq!(
            cg.inner_procs_files(),
            vec![tmp.path().join("hako/sb-2/cgroup.procs")]
        );
    }

    #[test]
    fn cpu_weight_is_proportional_to_memory_and_the_parent_weighs_all_its_sandboxes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cgs = Cgroups::open(fake_v1(tmp.path()), &as_root()).unwrap();
        cgs.weight = std::sync::Arc::new(ParentWeight {
            milli_vcpus: Default::default(),
            max_milli_vcpus: 8000,
        });
        let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).unwrap();
        let limits = |memory_mb| Limits {
            memory_mb,
            mb_per_vcpu: 1769,
            pids: 1024,
        };
        let small = cgs.create("sb-small").unwrap();
        small.set_limits(limits(128)).unwrap();
        // 128 MB: 72 thousandths of a vCPU; the parent never weighs less than one process.
        assert_eq!(read("cpu/hako/sb-small/cpu.shares"), "73");
        assert_eq!(read("cpu/hako/cpu.shares"), "1024");
        let big = cgs.create("sb-big").unwrap();
        big.set_limits(limits(3538)).unwrap();
        assert_eq!(read("cpu/hako/sb-big/cpu.shares"), "2048");
        assert_eq!(
            read("cpu/hako/cpu.shares"),
            (1024 * 2072 / 1000).to_string()
        );
        // New limits replace the old ones in the sum.
        big.set_limits(limits(1769)).unwrap();
        assert_eq!(
            read("cpu/hako/cpu.shares"),
            (1024 * 1072 / 1000).to_string()
        );
        // A removed sandbox leaves the sum, once.
        for d in ["memory", "cpu", "pids", "freezer"] {
            std::fs::remove_dir_all(tmp.path().join(d).join("hako/sb-big")).unwrap();
        }
        assert!(big.destroy());
        assert!(big.destroy());
        assert_eq!(read("cpu/hako/cpu.shares"), "1024");
        // Never more than the host's CPUs (8 here) together.
        let huge = cgs.create("sb-huge").unwrap();
        huge.set_limits(limits(10 * 1769)).unwrap();
        assert_eq!(read("cpu/hako/sb-huge/cpu.shares"), "10240");
        assert_eq!(read("cpu/hako/cpu.shares"), "8192");

        // v2: cpu.weight, 100 a process.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("hako")).unwrap();
        let root = tmp.path().to_path_buf();
        let mut cgs = Cgroups::open(Layout::V2 { root }, &as_root()).unwrap();
        cgs.weight = std::sync::Arc::new(ParentWeight {
            milli_vcpus: Default::default(),
            max_milli_vcpus: 8000,
        });
        let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).unwrap();
        let a = cgs.create("sb-a").unwrap();
        a.set_limits(limits(10240)).unwrap();
        assert_eq!(read("hako/sb-a/cpu.weight"), "578");
        assert_eq!(read("hako/cpu.weight"), "578");
        let b = cgs.create("sb-b").unwrap();
        b.set_limits(limits(128)).unwrap();
        assert_eq!(read("hako/sb-b/cpu.weight"), "7");
        assert_eq!(read("hako/cpu.weight"), "586");
    }

    #[test]
    fn rootless_v1_needs_each_parent_delegated_and_says_how() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = fake_v1(tmp.path());
        let delegated = |parent: &str| Delegation::Delegated {
            parent: Some(parent.into()),
            own: None,
            user: "alice".into(),
        };
        // Present in two hierarchies only.
        for c in ["memory", "cpu"] {
            let d = tmp.path().join(c).join("hako-alice");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cgroup.procs"), "").unwrap();
        }
        let err = Cgroups::open(layout.clone(), &delegated("hako-alice"))
            .unwrap_err()
            .to_string();
        let pids = tmp.path().join("pids/hako-alice");
        let freezer = tmp.path().join("freezer/hako-alice");
        assert!(
            err.contains(&format!("{}, {}", pids.display(), freezer.display())),
            "{err}"
        );
        assert!(!err.contains("memory/hako-alice (missing"), "{err}");
        let mem = tmp.path().join("memory/hako-alice");
        assert!(
            err.contains(&format!("mkdir -p {} ", mem.display()))
                && err.contains(&format!("chown -R alice: {}", mem.display())),
            "{err}"
        );
        for d in [&pids, &freezer] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("cgroup.procs"), "").unwrap();
        }
        let cgs = Cgroups::open(layout, &delegated("hako-alice")).unwrap();
        let cg = cgs.create("7-1").unwrap();
        assert_eq!(
            cg.inner_procs_files(),
            vec![tmp.path().join("freezer/hako-alice/7-1/cgroup.procs")]
        );
        assert!(tmp.path().join("pids/hako-alice/7-1").is_dir());
    }

    #[test]
    fn rootless_v2_splits_its_own_delegated_group() {
        let tmp = tempfile::tempdir().unwrap();
        let own = Path::new("/user.slice/user-1000.slice/user@1000.service/app.slice/hako.scope");
        let dir = tmp.path().join(own.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup.procs"), "4242\n4243\n").unwrap();
        let layout = Layout::V2 {
            root: tmp.path().to_path_buf(),
        };
        let d = |own: Option<&Path>| Delegation::Delegated {
            parent: None,
            own: own.map(Path::to_path_buf),
            user: "alice".into(),
        };
        let err = Cgroups::open(layout.clone(), &d(Some(Path::new("/nope"))))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not writable by alice") && err.contains("Delegate=yes"),
            "{err}"
        );
        let cgs = Cgroups::open(layout, &d(Some(own))).unwrap();
        assert_eq!(cgs.parents(), &[dir.join("sandboxes")]);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        // The fake file keeps the last write: the processes were moved one by one.
        assert_eq!(read(&dir.join("server/cgroup.procs")), "4243");
        assert_eq!(
            read(&dir.join("cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
        assert_eq!(
            read(&dir.join("sandboxes/cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
        let cg = cgs.create("9-1").unwrap();
        assert!(cg.outer_procs_files().is_empty());
        assert_eq!(
            cg.inner_procs_files(),
            vec![dir.join("sandboxes/9-1/cgroup.procs")]
        );
    }

    #[test]
    fn own_v2_cgroup_is_read_from_proc_self_cgroup() {
        assert_eq!(
            own_v2_cgroup("12:pids:/x\n0::/user.slice/a.scope\n"),
            Some(PathBuf::from("/user.slice/a.scope"))
        );
        assert_eq!(own_v2_cgroup("4:memory:/\n"), None);
    }
}
