//! Choosing the sandbox backend (`--sandbox auto|linux|process`) and `hako doctor`.
//!
//! The linux backend runs as root, or rootless (as an ordinary user: user namespaces, cgroups
//! an admin delegated, slirp4netns for outbound access); which one follows from Hako's own user.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use hako_model::limits;
use hako_sandbox::linux::{LinuxConfig, LinuxIsolation, Mode, SandboxUser};
use hako_sandbox::process::ProcessIsolation;
use hako_sandbox::{ExitStatus, Isolation, SandboxSpec};

use crate::config::{DoctorArgs, LinuxArgs, SandboxChoice, ServeArgs};

/// Where the linux backend keeps its per-sandbox mount points: `/run/hako` as root; rootless
/// `$XDG_RUNTIME_DIR/hako`, else `<data dir>/run`.
fn state_dir(mode: Mode, data_dir: &Path) -> PathBuf {
    match mode {
        Mode::Root => PathBuf::from("/run/hako"),
        Mode::Rootless => std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute() && d.is_dir())
            .map(|d| d.join("hako"))
            .unwrap_or_else(|| data_dir.join("run")),
    }
}

/// An executable named `name` in PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn linux_config(args: &LinuxArgs, data_dir: &Path) -> LinuxConfig {
    let mode = Mode::current();
    // Lambda's policy: its sandbox user (the uid and gid configurable) and one vCPU per 1769 MB.
    let user = SandboxUser {
        uid: args.sandbox_uid,
        gid: args.sandbox_gid,
        name: limits::SANDBOX_USER_NAME.into(),
    };
    LinuxConfig {
        state_dir: state_dir(mode, data_dir),
        cgroup_parent: args.cgroup_parent.clone(),
        slirp4netns: args.slirp4netns.clone().or_else(|| on_path("slirp4netns")),
        // Used as root only (the backend decides: a loop device needs real root).
        tmp_disk_dir: Some(tmp_disk_dir(data_dir)),
        // A function sees its runtime's packages only, never the host's.
        hidden_paths: hako_engine::runtimes::host_paths_to_hide(),
        ..LinuxConfig::new(user, limits::MB_PER_VCPU)
    }
}

/// Where the linux backend keeps the (unlinked) backing files of the sandboxes' `/tmp` disks.
fn tmp_disk_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox-tmp")
}

/// Starts a sandbox running `/bin/sh -c 'exit 0'` and checks that it ends well; what it printed
/// (the init's warnings) is logged.
async fn smoke_test(iso: &dyn Isolation) -> Result<()> {
    let empty = tempfile::tempdir()?;
    let spec = SandboxSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), "exit 0".into()],
        env: vec![],
        cwd: iso.task_root(empty.path()),
        code_dir: empty.path().to_path_buf(),
        runtime_dir: None,
        opt_dir: None,
        readonly_mounts: vec![],
        memory_mb: 128,
        tmp_mb: 512,
        listener_env: Some("AWS_LAMBDA_RUNTIME_API".into()),
        api_listener: None,
        outbound_network: true,
    };
    let spawned = iso.spawn(&spec)?;
    let status = tokio::time::timeout(Duration::from_secs(10), spawned.exit).await;
    let mut out = String::new();
    let _ = std::io::Read::read_to_string(&mut std::fs::File::from(spawned.output), &mut out);
    for line in out.lines() {
        tracing::warn!("test sandbox: {line}");
    }
    match status {
        Ok(ExitStatus::Code(0)) => Ok(()),
        Ok(other) => bail!("a test sandbox ended with {other}"),
        Err(_) => bail!("a test sandbox did not end within 10 s"),
    }
}

/// The parents of the sandboxes' cgroups, for the start-up log and `hako doctor`.
fn parents_text(iso: &LinuxIsolation) -> String {
    let parents: Vec<String> = iso
        .cgroup_parents()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    parents.join(" ")
}

/// A linux backend that passed its smoke test, and why its sandboxes have no outbound access
/// (when they have none).
struct Linux {
    iso: LinuxIsolation,
    no_network: Option<String>,
}

async fn try_linux(args: &LinuxArgs, data_dir: &Path) -> Result<Linux> {
    let cfg = linux_config(args, data_dir);
    let rootless = Mode::current() == Mode::Rootless;
    let iso = LinuxIsolation::new(cfg.clone())?;
    let tested = smoke_test(&iso).await;
    match tested {
        Ok(()) => {
            let no_network = match (rootless, iso.network()) {
                (_, Some(_)) => None,
                (true, None) => Some(
                    "slirp4netns is not installed (apt-get install slirp4netns; or --slirp4netns PATH)"
                        .to_string(),
                ),
                (false, None) => Some("the host side of the veth pairs could not be set up".into()),
            };
            Ok(Linux { iso, no_network })
        }
        // A network helper that cannot run (e.g. /dev/net/tun closed to this user) costs the
        // sandboxes their outbound access, not their isolation.
        Err(e) if rootless && iso.network().is_some() => {
            iso.shutdown().await;
            let iso = LinuxIsolation::new(LinuxConfig {
                slirp4netns: None,
                ..cfg
            })?;
            smoke_test(&iso).await?;
            Ok(Linux {
                iso,
                no_network: Some(format!(
                    "a test sandbox with slirp4netns failed ({e:#}); is /dev/net/tun usable by this user?"
                )),
            })
        }
        Err(e) => {
            iso.shutdown().await;
            Err(e)
        }
    }
}

/// The backend `hako serve` runs functions with, reported loudly.
pub(crate) async fn choose(args: &ServeArgs) -> Result<Arc<dyn Isolation>> {
    let mode = Mode::current();
    let linux = match args.sandbox {
        SandboxChoice::Process => None,
        SandboxChoice::Linux => {
            Some(try_linux(&args.linux, &args.data_dir).await.map_err(|e| {
                anyhow::anyhow!(
                    "the linux sandbox backend cannot run here ({mode}): {e:#} (see `hako doctor`)"
                )
            })?)
        }
        SandboxChoice::Auto => match try_linux(&args.linux, &args.data_dir).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(
                    mode = %mode,
                    reason = %format!("{e:#}"),
                    "the linux sandbox backend cannot run here, falling back to the process backend (see `hako doctor`)"
                );
                None
            }
        },
    };
    match linux {
        Some(Linux { iso, no_network }) => {
            let (cgroups, links) = iso.remove_leftovers();
            if cgroups + links > 0 {
                tracing::info!(cgroups, links, "removed the sandboxes of a previous hako");
            }
            if let Some(why) = &no_network {
                tracing::warn!(
                    reason = %why,
                    "linux sandboxes have only their loopback: no outbound network access"
                );
            }
            tracing::info!(
                backend = "linux",
                mode = %iso.mode(),
                other_mode = match iso.mode() {
                    Mode::Root => "rootless: used when Hako runs as an ordinary user",
                    Mode::Rootless => "root: needs Hako to run as root",
                },
                cgroup = iso.cgroup_version(),
                cgroup_parents = %parents_text(&iso),
                network = iso.network().unwrap_or("loopback only"),
                outbound_network = iso.has_outbound_network(),
                tmp_on_disk = iso.tmp_disk().is_ok(),
                "sandbox backend: linux ({}: namespaces, cgroups, seccomp)",
                match iso.mode() {
                    Mode::Root => "root",
                    Mode::Rootless => "rootless: a user namespace per sandbox, delegated cgroups",
                }
            );
            Ok(Arc::new(iso))
        }
        None => {
            tracing::warn!(
                backend = "process",
                "sandbox backend: process (functions run as plain host processes, without isolation or limits)"
            );
            let iso = ProcessIsolation::with_state_dir(&args.data_dir.join("sandboxes"))?;
            let n = iso.reap_previous();
            if n > 0 {
                tracing::info!(
                    processes = n,
                    "killed what the sandboxes of a previous hako left"
                );
            }
            Ok(Arc::new(iso))
        }
    }
}

/// `hako doctor`.
pub(crate) fn doctor(args: DoctorArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mode = Mode::current();
    println!("process  supported (functions run as host processes: no isolation, no limits)");
    let linux = rt.block_on(async {
        let l = try_linux(&args.linux, &args.data_dir).await?;
        l.iso.shutdown().await;
        anyhow::Ok(l)
    });
    match linux {
        Ok(Linux { iso, no_network }) => {
            let network = match (iso.network(), &no_network) {
                (Some(n), _) => n.to_string(),
                (None, Some(why)) => format!("loopback only: {why}"),
                (None, None) => "loopback only".into(),
            };
            println!(
                "linux    supported ({mode}, cgroup v{} under {}, namespaces, seccomp, network: {network}: a test sandbox ran)",
                iso.cgroup_version(),
                parents_text(&iso)
            );
            let tmp = match iso.tmp_disk() {
                Ok(dir) => format!(
                    "a disk of its own, not counted against memory (backing files under {})",
                    dir.display()
                ),
                Err(e) => format!("a tmpfs, counted against the function's memory: {e}"),
            };
            println!("         /tmp: {tmp}");
            match mode {
                Mode::Root => println!(
                    "         rootless mode: not used (Hako runs as root; as an ordinary user it runs rootless, see README)"
                ),
                Mode::Rootless => println!(
                    "         root mode: not used (Hako runs as {}; as root it uses veth pairs and real ids)",
                    hako_sandbox::linux::user_name()
                ),
            }
            println!("default  linux ({mode}) (`--sandbox auto`)");
        }
        Err(e) => {
            println!("linux    not supported ({mode}): {e:#}");
            if mode == Mode::Rootless {
                println!(
                    "         root mode: not available (Hako runs as {}; as root the linux backend needs nothing more)",
                    hako_sandbox::linux::user_name()
                );
            }
            println!("default  process (`--sandbox auto`)");
        }
    }
    println!("{}", logs_report(&args.log_limits.limits(), &args.data_dir));
    Ok(())
}

/// `hako doctor`'s lines about function logs: the limits that keep them from filling the
/// host, and what `logs.db` takes now.
fn logs_report(l: &hako_logs::LogLimits, data_dir: &std::path::Path) -> String {
    let retention = match l.default_retention_days {
        Some(d) => format!("{d} days for groups without a retention policy"),
        None => "forever for groups without a retention policy".to_string(),
    };
    let ingest = match (l.ingest_lines_per_sec, l.ingest_bytes_per_sec) {
        (None, None) => "no ingestion limit".to_string(),
        (lines, bytes) => format!(
            "a function's output stored up to {} lines and {} per second (beyond: dropped, counted in hako_logs_dropped_log_events_total)",
            lines.map_or("unlimited".to_string(), |n| n.to_string()),
            bytes.map_or("unlimited bytes".to_string(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
        ),
    };
    let bound = match l.max_db_bytes {
        Some(b) => format!(
            "logs.db bounded at {} MiB (oldest events deleted first)",
            b / 1048576
        ),
        None => "logs.db unbounded".to_string(),
    };
    let db = data_dir.join("logs.db");
    let on_disk: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|x| std::fs::metadata(format!("{}{x}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    let now = if db.exists() {
        format!("now {:.1} MiB on disk", on_disk as f64 / 1048576.0)
    } else {
        "no logs.db yet".to_string()
    };
    format!("logs     retention {retention}; {ingest}; {bound}; {now}")
}
