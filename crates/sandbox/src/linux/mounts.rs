//! The sandbox's root filesystem: a plan (plain data, computed by Hako from the host's layout and
//! the spec) and its execution inside the sandbox's init, ending in `pivot_root`. The per-host
//! part ([`system_plan`]) is assembled while the sandbox is prepared, ahead of demand
//! ([`prepare_root`]); the function's part ([`sandbox_plan`]) on its cold start ([`finish_root`]).
//!
//! The root is a small tmpfs holding: the host's system directories read-only (`/usr`, `/lib*`,
//! `/bin`, `/sbin`, or the symlinks a merged-/usr host has for them), an `/etc` with only
//! `passwd`, `group`, `hosts`, `nsswitch.conf` and the host's `resolv.conf`, `ld.so.cache` and
//! certificates, the code at `/var/task` and the runtime clients at `/var/runtime` read-only, an
//! `/opt` (the function's merged layers read-only, else empty), a size-limited `/tmp` (a disk of its
//! own, see [`super::tmp_disk`], or a tmpfs), a fresh `/proc` and a `/dev` with only null, zero, full,
//! random, urandom and tty. The root itself is read-only once assembled. In `/proc`, what container
//! runtimes hide is hidden (`kcore`, `keys`, `timer_list`, ...) and the kernel's tunables (`sys`,
//! `sysrq-trigger`, ...) are read-only.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde::{Deserialize, Serialize};

/// Where the function's code appears inside.
pub const TASK_ROOT: &str = "/var/task";
/// Where the runtime directory appears inside.
pub const RUNTIME_ROOT: &str = "/var/runtime";
/// Where the function's merged layers appear inside (read-only; empty without layers).
pub(crate) const OPT_ROOT: &str = "/opt";

/// The host directories a runtime needs, bound read-only (or re-created as symlinks).
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin",
];
/// Host files and directories of `/etc` that are bound read-only when they exist.
const ETC_BINDS: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/ld.so.cache",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/alternatives",
];
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// One step of assembling the root. Paths in `dst`/`path` are as seen inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum MountOp {
    /// A host file or directory, read-only, nosuid, nodev.
    BindRo {
        src: PathBuf,
        dst: PathBuf,
    },
    /// A host device node, bound under `/dev`.
    Dev {
        name: String,
    },
    Symlink {
        target: PathBuf,
        path: PathBuf,
    },
    Dir {
        path: PathBuf,
        mode: u32,
    },
    File {
        path: PathBuf,
        contents: String,
        mode: u32,
    },
    Tmpfs {
        dst: PathBuf,
        size_mb: u64,
        mode: u32,
    },
    /// `/tmp` on a disk of its own ([`super::tmp_disk`]), which the init mounts there while the
    /// sandbox is prepared and takes this op off the plan; left on it (the init could not make
    /// the disk), a tmpfs of the same size, mode 1777.
    TmpDisk {
        dst: PathBuf,
        size_mb: u64,
    },
    /// A path the sandbox must not see (below a system directory bound before it): a directory
    /// covered by an empty read-only tmpfs, a file by `/dev/null`.
    Hide {
        path: PathBuf,
        dir: bool,
    },
    Proc,
}

/// The per-host part of the plan (the same for every sandbox), computed once. `hidden`: host
/// paths below the system directories the sandbox must not see ([`hide_ops`]).
pub(crate) fn system_plan(uid: u32, gid: u32, user: &str, hidden: &[PathBuf]) -> Vec<MountOp> {
    let mut ops = Vec::new();
    for d in SYSTEM_DIRS {
        let p = Path::new(d);
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(p) {
                    ops.push(MountOp::Symlink {
                        target,
                        path: p.into(),
                    });
                }
            }
            Ok(m) if m.is_dir() => ops.push(MountOp::BindRo {
                src: p.into(),
                dst: p.into(),
            }),
            _ => {}
        }
    }
    ops.extend(hide_ops(hidden));
    ops.push(MountOp::Dir {
        path: "/etc".into(),
        mode: 0o755,
    });
    let passwd =
        format!("root:x:0:0:root:/root:/sbin/nologin\n{user}:x:{uid}:{gid}::/tmp:/sbin/nologin\n");
    let group = format!("root:x:0:\n{user}:x:{gid}:\n");
    for (name, contents) in [
        ("passwd", passwd),
        ("group", group),
        (
            "hosts",
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string(),
        ),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files dns\n".to_string(),
        ),
    ] {
        ops.push(MountOp::File {
            path: Path::new("/etc").join(name),
            contents,
            mode: 0o644,
        });
    }
    for f in ETC_BINDS {
        if Path::new(f).exists() {
            ops.push(MountOp::BindRo {
                src: f.into(),
                dst: f.into(),
            });
        }
    }
    ops.push(MountOp::Tmpfs {
        dst: "/dev".into(),
        size_mb: 1,
        mode: 0o755,
    });
    for d in DEVICES {
        if Path::new("/dev").join(d).exists() {
            ops.push(MountOp::Dev {
                name: d.to_string(),
            });
        }
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        ops.push(MountOp::Symlink {
            target: target.into(),
            path: Path::new("/dev").join(name),
        });
    }
    ops.push(MountOp::Proc);
    ops.push(MountOp::Dir {
        path: "/opt".into(),
        mode: 0o755,
    });
    ops
}

/// The ops that hide `hidden` (host paths) from the sandbox: each one that exists, lies below a
/// system directory (nothing else of the host is in the root anyway) and has no symlink on its
/// way (the init mounts before the root is its root: a link would be followed on the host).
fn hide_ops(hidden: &[PathBuf]) -> Vec<MountOp> {
    let mut ops = Vec::new();
    for p in hidden {
        if !p.is_absolute() || !under_system_dir(p) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if std::fs::canonicalize(p).ok().as_deref() != Some(p.as_path()) {
            continue;
        }
        let op = MountOp::Hide {
            path: p.clone(),
            dir: meta.is_dir(),
        };
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    ops
}

/// Adds `name` for `addr` to the plan's `/etc/hosts`.
pub(crate) fn add_host(ops: &mut [MountOp], name: &str, addr: std::net::Ipv4Addr) {
    for op in ops {
        if let MountOp::File { path, contents, .. } = op {
            if path == Path::new("/etc/hosts") {
                contents.push_str(&format!("{addr}\t{name}\n"));
            }
        }
    }
}

/// Writes the file at `path` of the root being assembled at `root` again with its contents in
/// `ops` (undoing [`add_host`] after [`prepare_root`]).
pub(crate) fn rewrite_file(root: &Path, ops: &[MountOp], path: &str) -> Result<(), String> {
    for op in ops {
        if let MountOp::File {
            path: p, contents, ..
        } = op
        {
            if p == Path::new(path) {
                let host = inside(root, p);
                std::fs::write(&host, contents).map_err(io("write", &host))?;
            }
        }
    }
    Ok(())
}

/// Whether `p` is already visible through one of the system binds.
fn under_system_dir(p: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|d| p.starts_with(d))
}

/// Whether the host directory `m` may be bound at the same path in a sandbox (a function with
/// layers when `layers`): absolute, not seen through a system directory anyway, not under `/tmp`
/// (hidden by it, and on the function's disk), and not under the function's own trees (its code,
/// its layers at `/opt`): there it would land in a tree the function wrote, where a symlink could
/// lead the mount point anywhere (the init makes mount points as root, before the sandbox's root
/// is its root). Without layers `/opt` is the sandbox's own empty directory.
fn mountable(m: &Path, layers: bool) -> bool {
    let in_function_tree = m.starts_with(TASK_ROOT)
        || m.starts_with(RUNTIME_ROOT)
        || (layers && m.starts_with(OPT_ROOT));
    m.is_absolute() && !under_system_dir(m) && !m.starts_with(TMP) && !in_function_tree
}

/// Where the function's scratch space is.
pub(crate) const TMP: &str = "/tmp";

/// The function's part of a sandbox's plan (after the per-host part, [`system_plan`]). `/tmp` is
/// a tmpfs of `tmp_mb`, or with `tmp_disk` a disk of that size (a tmpfs counts against the
/// sandbox's memory, a disk does not).
pub(crate) fn sandbox_plan(
    code_dir: &Path,
    runtime_dir: Option<&Path>,
    opt_dir: Option<&Path>,
    readonly_mounts: &[(PathBuf, PathBuf)],
    tmp_mb: u64,
    tmp_disk: bool,
) -> Vec<MountOp> {
    let mut ops = vec![MountOp::BindRo {
        src: code_dir.into(),
        dst: TASK_ROOT.into(),
    }];
    if let Some(r) = runtime_dir {
        ops.push(MountOp::BindRo {
            src: r.into(),
            dst: RUNTIME_ROOT.into(),
        });
    }
    if let Some(o) = opt_dir {
        ops.push(MountOp::BindRo {
            src: o.into(),
            dst: OPT_ROOT.into(),
        });
    }
    for (src, dst) in readonly_mounts {
        if mountable(dst, opt_dir.is_some()) && src.is_absolute() && src.exists() {
            ops.push(MountOp::BindRo {
                src: src.clone(),
                dst: dst.clone(),
            });
        }
    }
    let size_mb = tmp_mb.max(1);
    ops.push(if tmp_disk {
        MountOp::TmpDisk {
            dst: TMP.into(),
            size_mb,
        }
    } else {
        MountOp::Tmpfs {
            dst: TMP.into(),
            size_mb,
            mode: 0o1777,
        }
    });
    ops
}

/// Where `p` (a path inside the sandbox) is on the root being assembled at `root`.
pub(crate) fn inside(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

fn errno<'a>(what: &str, p: &'a Path) -> impl FnOnce(nix::Error) -> String + 'a {
    let what = what.to_string();
    move |e| format!("cannot {what} {}: {e}", p.display())
}

fn io<'a>(what: &str, p: &'a Path) -> impl FnOnce(std::io::Error) -> String + 'a {
    let what = what.to_string();
    move |e| format!("cannot {what} {}: {e}", p.display())
}

fn bind_ro(src: &Path, dst: &Path) -> Result<(), String> {
    if src.is_dir() {
        std::fs::create_dir_all(dst).map_err(io("create", dst))?;
    } else {
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        std::fs::File::create(dst).map_err(io("create", dst))?;
    }
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(errno("bind", src))?;
    let ro = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | locked_flags(dst);
    mount(None::<&str>, dst, None::<&str>, ro, None::<&str>).map_err(errno("make read-only", dst))
}

/// The flags of the mount at `dst` that a remount must keep: in a user namespace (rootless) the
/// host's mounts are locked, and a remount that would clear their noexec or change their atime
/// handling is refused.
fn locked_flags(dst: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(dst) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (has, flag) in [
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(has) {
            out |= flag;
        }
    }
    out
}

/// Files and directories of `/proc` hidden from the sandbox (as container runtimes do): kernel
/// memory, keys, timers and hardware details. Files read as empty (`/dev/null` on top),
/// directories as empty read-only directories.
const PROC_MASKED: &[&str] = &[
    "acpi",
    "asound",
    "interrupts",
    "kcore",
    "keys",
    "latency_stats",
    "sched_debug",
    "scsi",
    "timer_list",
    "timer_stats",
];
/// Parts of `/proc` that stay readable but not writable (kernel tunables, the SysRq trigger).
const PROC_READ_ONLY: &[&str] = &["bus", "fs", "irq", "sys", "sysrq-trigger"];

/// Covers `p` (a path of the root being assembled): a directory with an empty read-only tmpfs, a
/// file with `/dev/null`.
fn cover(p: &Path, dir: bool) -> Result<(), String> {
    if dir {
        mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=0,mode=0555"),
        )
        .map_err(errno("cover", p))
    } else {
        mount(
            Some("/dev/null"),
            p,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(errno("cover", p))
    }
}

/// Masks [`PROC_MASKED`] and makes [`PROC_READ_ONLY`] read-only in the sandbox's `/proc` (at
/// `proc`, a host path before `pivot_root`). Entries this kernel does not have are skipped.
fn mask_proc(proc: &Path) -> Result<(), String> {
    for name in PROC_MASKED {
        let p = proc.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        cover(&p, meta.is_dir())?;
    }
    for name in PROC_READ_ONLY {
        let p = proc.join(name);
        if std::fs::symlink_metadata(&p).is_err() {
            continue;
        }
        mount(
            Some(&p),
            &p,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(errno("bind", &p))?;
        let ro = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        mount(None::<&str>, &p, None::<&str>, ro, None::<&str>)
            .map_err(errno("make read-only", &p))?;
    }
    Ok(())
}

/// Starts the root at `root` (a host directory) with the ops of the per-host plan: runs in the
/// sandbox's init, in its own mount namespace, as root, while the sandbox is prepared (ahead of
/// its function).
pub(crate) fn prepare_root(root: &Path, ops: &[MountOp]) -> Result<(), String> {
    // Nothing of what follows may propagate to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(errno("make private", Path::new("/")))?;
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=4m,mode=0755"),
    )
    .map_err(errno("mount the root tmpfs on", root))?;
    apply(root, ops)
}

/// Adds the function's ops to the root [`prepare_root`] started and makes it the process's `/`,
/// read-only.
pub(crate) fn finish_root(root: &Path, ops: &[MountOp]) -> Result<(), String> {
    apply(root, ops)?;
    // pivot_root(".", "."): the old root ends up stacked under the new one, then is detached.
    nix::unistd::chdir(root).map_err(errno("chdir to", root))?;
    nix::unistd::pivot_root(".", ".").map_err(errno("pivot_root to", root))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(errno("detach the old root", Path::new("/")))?;
    nix::unistd::chdir("/").map_err(errno("chdir to", Path::new("/")))?;
    let ro = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, "/", None::<&str>, ro, None::<&str>)
        .map_err(errno("make read-only", Path::new("/")))?;
    // Rootless, /dev's tmpfs belongs to the sandbox user (the init's id): read-only, it stays
    // as closed to the function as root's.
    let ro_dev = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID;
    mount(None::<&str>, "/dev", None::<&str>, ro_dev, None::<&str>)
        .map_err(errno("make read-only", Path::new("/dev")))?;
    Ok(())
}

fn tmpfs(root: &Path, dst: &Path, size_mb: u64, mode: u32) -> Result<(), String> {
    let p = inside(root, dst);
    std::fs::create_dir_all(&p).map_err(io("create", &p))?;
    let data = format!("size={size_mb}m,mode={mode:o}");
    let mut flags = MsFlags::MS_NOSUID;
    if dst != Path::new("/dev") {
        flags |= MsFlags::MS_NODEV;
    }
    mount(Some("tmpfs"), &p, Some("tmpfs"), flags, Some(data.as_str()))
        .map_err(errno("mount tmpfs on", &p))
}

/// Runs `ops` on the root being assembled at `root`.
fn apply(root: &Path, ops: &[MountOp]) -> Result<(), String> {
    use std::os::unix::fs::{symlink, PermissionsExt};
    for op in ops {
        match op {
            MountOp::BindRo { src, dst } => bind_ro(src, &inside(root, dst))?,
            MountOp::Dev { name } => {
                let src = Path::new("/dev").join(name);
                let dst = inside(root, &src);
                std::fs::File::create(&dst).map_err(io("create", &dst))?;
                mount(
                    Some(&src),
                    &dst,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(errno("bind", &src))?;
            }
            MountOp::Symlink { target, path } => {
                let p = inside(root, path);
                symlink(target, &p).map_err(io("create the symlink", &p))?;
            }
            MountOp::Dir { path, mode } => {
                let p = inside(root, path);
                std::fs::create_dir_all(&p).map_err(io("create", &p))?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))
                    .map_err(io("chmod", &p))?;
            }
            MountOp::File {
                path,
                contents,
                mode,
            } => {
                let p = inside(root, path);
                std::fs::write(&p, contents).map_err(io("write", &p))?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))
                    .map_err(io("chmod", &p))?;
            }
            MountOp::Tmpfs { dst, size_mb, mode } => tmpfs(root, dst, *size_mb, *mode)?,
            MountOp::TmpDisk { dst, size_mb } => tmpfs(root, dst, *size_mb, 0o1777)?,
            MountOp::Hide { path, dir } => cover(&inside(root, path), *dir)?,
            MountOp::Proc => {
                let p = inside(root, Path::new("/proc"));
                std::fs::create_dir_all(&p).map_err(io("create", &p))?;
                let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
                mount(Some("proc"), &p, Some("proc"), flags, None::<&str>)
                    .map_err(errno("mount proc on", &p))?;
                mask_proc(&p)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_host_directory_is_mounted_into_the_functions_trees() {
        for layers in [false, true] {
            assert!(mountable(Path::new("/srv/python3.12"), layers));
            assert!(!mountable(Path::new("/var/task/lib"), layers));
            assert!(!mountable(Path::new("/var/runtime/x"), layers));
            assert!(!mountable(Path::new("/tmp/x"), layers));
            assert!(!mountable(Path::new("/usr/lib/python3"), layers));
            assert!(!mountable(Path::new("relative"), layers));
        }
        // /opt is the function's layers, or the sandbox's own empty directory without them.
        assert!(!mountable(Path::new("/opt/python3.12"), true));
        assert!(mountable(Path::new("/opt/python3.12"), false));
    }

    #[test]
    fn the_plan_has_code_runtime_and_sized_tmp() {
        // A directory that exists wherever the test runs, outside /tmp and the system dirs (the
        // crate's own directory would not do: a clone may live under /tmp).
        let here = PathBuf::from("/etc");
        let plan = |tmp_disk| {
            sandbox_plan(
                Path::new("/data/code/abc"),
                Some(Path::new("/data/runtimes")),
                Some(Path::new("/data/code/opt-1")),
                &[
                    ("/usr/lib/python3".into(), "/usr/lib/python3".into()), // seen through /usr
                    ("relative".into(), "/srv/x".into()),
                    (here.clone(), "/var/lang".into()),
                    ("/etc".into(), "/tmp/x".into()), // hidden by /tmp
                    ("/etc".into(), "/var/task/x".into()), // in the code
                ],
                512,
                tmp_disk,
            )
        };
        let binds = vec![
            MountOp::BindRo {
                src: "/data/code/abc".into(),
                dst: TASK_ROOT.into(),
            },
            MountOp::BindRo {
                src: "/data/runtimes".into(),
                dst: RUNTIME_ROOT.into(),
            },
            MountOp::BindRo {
                src: "/data/code/opt-1".into(),
                dst: OPT_ROOT.into(),
            },
            MountOp::BindRo {
                src: here.clone(),
                dst: "/var/lang".into(),
            },
        ];
        let with = |last: MountOp| {
            let mut ops = binds.clone();
            ops.push(last);
            ops
        };
        // /tmp last: a tmpfs, or the disk the init prepared (a tmpfs when it could not).
        assert_eq!(
            plan(false),
            with(MountOp::Tmpfs {
                dst: "/tmp".into(),
                size_mb: 512,
                mode: 0o1777
            })
        );
        assert_eq!(
            plan(true),
            with(MountOp::TmpDisk {
                dst: "/tmp".into(),
                size_mb: 512
            })
        );
    }

    #[test]
    fn the_system_plan_has_the_sandbox_user_and_no_host_etc() {
        let plan = system_plan(993, 990, "sbx_user1051", &[]);
        let passwd = plan.iter().find_map(|op| match op {
            MountOp::File { path, contents, .. } if path == Path::new("/etc/passwd") => {
                Some(contents.clone())
            }
            _ => None,
        });
        assert!(passwd.unwrap().contains("sbx_user1051:x:993:990:"));
        assert!(!plan
            .iter()
            .any(|op| matches!(op, MountOp::BindRo { src, .. } if src == Path::new("/etc"))));
        assert!(plan.contains(&MountOp::Proc));
        assert!(plan
            .iter()
            .any(|op| matches!(op, MountOp::Dev { name } if name == "null")));
    }

    #[test]
    fn hidden_paths_are_covered_after_the_system_binds() {
        // Real host paths (the test reads the host): a directory and a file under /usr, one
        // outside the system directories, one that does not exist, a relative one.
        let dir = PathBuf::from("/usr/bin");
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
                    && std::fs::canonicalize(p).ok().as_deref() == Some(p.as_path())
            })
            .unwrap();
        let hidden = vec![
            dir.clone(),
            file.clone(),
            "/etc".into(),
            "/usr/no/such/path".into(),
            "usr/bin".into(),
            dir.clone(),
        ];
        let plan = system_plan(993, 990, "sbx_user1051", &hidden);
        let hides: Vec<_> = plan
            .iter()
            .filter(|op| matches!(op, MountOp::Hide { .. }))
            .cloned()
            .collect();
        assert_eq!(
            hides,
            vec![
                MountOp::Hide {
                    path: dir.clone(),
                    dir: true
                },
                MountOp::Hide {
                    path: file,
                    dir: false
                },
            ]
        );
        // After the bind of /usr (or its symlink on a merged-/usr host), before the rest.
        let pos = |pred: &dyn Fn(&MountOp) -> bool| plan.iter().position(pred).unwrap();
        let usr = pos(&|op| {
            matches!(op, MountOp::BindRo { dst, .. } | MountOp::Symlink { path: dst, .. }
                if dst == Path::new("/usr"))
        });
        let first_hide = pos(&|op| matches!(op, MountOp::Hide { .. }));
        assert!(usr < first_hide);
        // A symlink (here one of /usr/bin's, if it has any) is never followed on the host.
        let link = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_symlink()));
        if let Some(link) = link {
            assert!(hide_ops(&[link]).is_empty());
        }
    }
}
