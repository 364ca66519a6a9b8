//! Choosing the sandbox backend (`--sandbox auto|linux|process`) and `hako doctor`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use hako_sandbox::linux::{LinuxConfig, LinuxIsolation};
use hako_sandbox::process::ProcessIsolation;
use hako_sandbox::{ExitStatus, Isolation, SandboxSpec};

use crate::config::{SandboxChoice, ServeArgs};

fn linux_config(uid: u32, gid: u32, data_dir: &Path) -> LinuxConfig {
    LinuxConfig {
        uid,
        gid,
        tmp_disk_dir: Some(tmp_disk_dir(data_dir)),
        ..LinuxConfig::default()
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

async fn try_linux(uid: u32, gid: u32, data_dir: &Path) -> Result<LinuxIsolation> {
    let iso = LinuxIsolation::new(linux_config(uid, gid, data_dir))?;
    smoke_test(&iso).await?;
    Ok(iso)
}

/// The backend `hako serve` runs functions with, reported loudly.
pub(crate) async fn choose(args: &ServeArgs) -> Result<Arc<dyn Isolation>> {
    let linux = match args.sandbox {
        SandboxChoice::Process => None,
        SandboxChoice::Linux => Some(
            try_linux(args.sandbox_uid, args.sandbox_gid, &args.data_dir)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "the linux sandbox backend cannot run here: {e:#} (see `hako doctor`)"
                    )
                })?,
        ),
        SandboxChoice::Auto => {
            match try_linux(args.sandbox_uid, args.sandbox_gid, &args.data_dir).await {
                Ok(iso) => Some(iso),
                Err(e) => {
                    tracing::warn!(reason = %format!("{e:#}"), "the linux sandbox backend cannot run here (see `hako doctor`)");
                    None
                }
            }
        }
    };
    match linux {
        Some(iso) => {
            let (cgroups, links) = iso.remove_leftovers();
            if cgroups + links > 0 {
                tracing::info!(cgroups, links, "removed the sandboxes of a previous hako");
            }
            tracing::info!(
                backend = "linux",
                cgroup = iso.cgroup_version(),
                outbound_network = iso.has_outbound_network(),
                tmp_on_disk = iso.tmp_disk().is_ok(),
                "sandbox backend: linux (namespaces, cgroups, seccomp)"
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
pub(crate) fn doctor(data_dir: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    println!("process  supported (functions run as host processes: no isolation, no limits)");
    let linux = rt.block_on(async {
        let cfg = LinuxConfig {
            tmp_disk_dir: Some(tmp_disk_dir(data_dir)),
            ..LinuxConfig::default()
        };
        let iso = LinuxIsolation::new(cfg)?;
        let tested = smoke_test(&iso).await;
        iso.shutdown().await;
        tested?;
        let tmp = match iso.tmp_disk() {
            Ok(dir) => format!(
                "a disk of its own, not counted against memory (backing files under {})",
                dir.display()
            ),
            Err(e) => format!("a tmpfs, counted against the function's memory: {e}"),
        };
        anyhow::Ok((iso.cgroup_version(), tmp))
    });
    match linux {
        Ok((v, tmp)) => {
            println!(
                "linux    supported (root, cgroup v{v}, namespaces, seccomp: a test sandbox ran)"
            );
            println!("         /tmp: {tmp}");
            println!("default  linux (`--sandbox auto`)");
        }
        Err(e) => {
            println!("linux    not supported: {e:#}");
            println!("default  process (`--sandbox auto`)");
        }
    }
    Ok(())
}
