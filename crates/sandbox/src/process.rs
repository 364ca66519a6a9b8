//! The process backend: the function runs as a host process in its own process group.
//!
//! Limits: no filesystem, network, memory or CPU isolation. Its point is to let every other part of
//! Hako run and be tested without privileges. Orphans are prevented by `PR_SET_PDEATHSIG` (the
//! process dies with Hako) and by killing the whole process group. What a function started in the
//! background outlives a `kill -9` of Hako (only the main process gets the parent-death signal):
//! with a state directory, each sandbox's process group and session are recorded there, and
//! [`ProcessIsolation::reap_previous`] kills those leftovers when Hako starts again.
//!
//! A package's symlinks resolve on the host here: an absolute link (`lib -> /opt/lib`) points at
//! the host's `/opt`, not at the function's layers (which this backend shows through the
//! variables the runtimes read, see `Isolation::opt_root`). They are accepted all the same: a
//! link gives a function here no access it lacks, since it runs as Hako's user on the host.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::{ExitStatus, Isolation, SandboxControl, SandboxError, SandboxSpec, Spawned};

/// Starts sandboxes as plain host processes.
#[derive(Debug, Default)]
pub struct ProcessIsolation {
    /// Where live sandboxes are recorded (`<pgid>` files holding the session id).
    state_dir: Option<PathBuf>,
}

impl ProcessIsolation {
    /// A backend that records nothing.
    pub fn new() -> ProcessIsolation {
        ProcessIsolation::default()
    }

    /// A backend that records its sandboxes under `dir`, so that a later start can find what a
    /// killed predecessor left.
    pub fn with_state_dir(dir: &Path) -> std::io::Result<ProcessIsolation> {
        std::fs::create_dir_all(dir)?;
        Ok(ProcessIsolation {
            state_dir: Some(dir.to_path_buf()),
        })
    }

    /// Kills the processes of sandboxes recorded by a previous run (same process group and same
    /// session as recorded, so a reused pid is never hit) and forgets them. Returns how many
    /// processes were killed.
    pub fn reap_previous(&self) -> usize {
        let Some(dir) = &self.state_dir else { return 0 };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut killed = 0;
        for e in entries.flatten() {
            let pgid = e.file_name().to_string_lossy().parse::<i32>().ok();
            let sid = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok());
            if let (Some(pgid), Some(sid)) = (pgid, sid) {
                for pid in group_members(pgid, sid) {
                    if nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                        killed += 1;
                    }
                }
            }
            let _ = std::fs::remove_file(e.path());
        }
        killed
    }
}

/// Live processes whose process group is `pgid` and session is `sid`.
fn group_members(pgid: i32, sid: i32) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.len() > 3 && f[0] != "Z" && f[2] == pgid.to_string() && f[3] == sid.to_string()
        })
        .collect()
}

#[derive(Debug)]
struct ProcessControl {
    pid: u32,
    exited: AtomicBool,
    /// `/proc/<pid>/status`, kept open: re-reading it costs one pread, not open+read+close.
    status: Option<std::fs::File>,
    /// The last reading of the peak (a high-water mark: it only grows) and when it was taken,
    /// so that back-to-back invocations don't each pay for formatting `/proc/<pid>/status`.
    peak: parking_lot::Mutex<(u64, Option<std::time::Instant>)>,
}

/// How long a peak-memory reading is reused.
const PEAK_READING_TTL: std::time::Duration = std::time::Duration::from_millis(100);

impl Isolation for ProcessIsolation {
    fn name(&self) -> &'static str {
        "process"
    }

    fn spawn(&self, spec: &SandboxSpec) -> Result<Spawned, SandboxError> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| SandboxError::Pipe(e.into()))?;
        let write2 = write.try_clone().map_err(SandboxError::Pipe)?;
        let mut env = spec.env.clone();
        let listener = match &spec.listener_env {
            Some(var) => {
                let l =
                    std::net::TcpListener::bind("127.0.0.1:0").map_err(SandboxError::Listener)?;
                l.set_nonblocking(true).map_err(SandboxError::Listener)?;
                let addr = l.local_addr().map_err(SandboxError::Listener)?;
                env.push((var.clone(), addr.to_string()));
                Some(l)
            }
            None => None,
        };
        // Sandboxes share the host's network: the platform's API is reachable where it is.
        if let Some((vars, fallback)) = &spec.api_listener {
            env.extend(vars.iter().map(|v| (v.clone(), fallback.clone())));
        }
        let mut cmd = std::process::Command::new(&spec.program);
        cmd.args(&spec.args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(write2))
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which
        // is async-signal-safe; it touches no memory shared with the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(true);
        let child = cmd.spawn().map_err(|source| SandboxError::Spawn {
            program: spec.program.display().to_string(),
            source,
        })?;
        let pid = child.id().unwrap_or(0);
        let status = std::fs::File::open(format!("/proc/{pid}/status")).ok();
        let record = self.state_dir.as_ref().map(|d| d.join(pid.to_string()));
        if let Some(r) = &record {
            let sid = nix::unistd::getsid(None).map(|s| s.as_raw()).unwrap_or(0);
            let _ = std::fs::write(r, sid.to_string());
        }
        let control = Arc::new(ProcessControl {
            peak: parking_lot::Mutex::new((0, None)),
            pid,
            exited: AtomicBool::new(false),
            status,
        });
        let c2 = control.clone();
        let exit = Box::pin(async move {
            let mut child = child;
            let s = ExitStatus::from_wait(child.wait().await);
            // Whatever the main process left behind in its group goes with it.
            c2.kill();
            c2.exited.store(true, Ordering::Release);
            if let Some(r) = record {
                let _ = std::fs::remove_file(r);
            }
            s
        });
        Ok(Spawned {
            control,
            output: read,
            exit,
            listener,
            api_listener: None,
        })
    }
}

impl SandboxControl for ProcessControl {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn kill(&self) {
        if self.pid > 0 && !self.exited.load(Ordering::Acquire) {
            // The group may already be gone; that is fine.
            let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        }
    }

    fn peak_memory_bytes(&self) -> Option<u64> {
        {
            let p = self.peak.lock();
            if p.1.is_some_and(|t| t.elapsed() < PEAK_READING_TTL) {
                return Some(p.0);
            }
        }
        let v = self.read_peak()?;
        *self.peak.lock() = (v, Some(std::time::Instant::now()));
        Some(v)
    }
}

impl ProcessControl {
    fn read_peak(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 4096];
        let n = self.status.as_ref()?.read_at(&mut buf, 0).ok()?;
        let status = std::str::from_utf8(&buf[..n]).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn spec(script: &str) -> SandboxSpec {
        SandboxSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("FOO".into(), "bar".into())],
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

    #[tokio::test]
    async fn runs_with_only_the_given_env_and_captures_output() {
        let sb = ProcessIsolation::new()
            .spawn(&spec("echo $FOO; echo err >&2; echo ${HOME:-nohome}"))
            .unwrap();
        let out = sb.output;
        assert_eq!(sb.exit.await, ExitStatus::Code(0));
        let mut s = String::new();
        std::fs::File::from(out).read_to_string(&mut s).unwrap();
        assert_eq!(s, "bar\nerr\nnohome\n");
    }

    #[tokio::test]
    async fn a_restart_kills_what_a_killed_predecessor_left() {
        let dir = tempfile::tempdir().unwrap();
        let iso = ProcessIsolation::with_state_dir(dir.path()).unwrap();
        let sb = iso.spawn(&spec("sleep 30 & exec sleep 31")).unwrap();
        let pgid = sb.control.pid();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // As if hako had died: the exit future is never polled again, nobody kills the group.
        std::mem::forget(sb.exit);
        let again = ProcessIsolation::with_state_dir(dir.path()).unwrap();
        assert_eq!(again.reap_previous(), 2);
        for _ in 0..100 {
            if live_group_members(pgid).is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(live_group_members(pgid).is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    fn live_group_members(pgid: u32) -> Vec<u32> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.to_string()) else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 2 && f[2] == pgid.to_string() && f[0] != "Z" {
                out.push(e.file_name().to_string_lossy().parse().unwrap_or(0));
            }
        }
        out
    }

    #[tokio::test]
    async fn kill_takes_the_whole_group() {
        let sb = ProcessIsolation::new()
            .spawn(&spec("sleep 30 & sleep 30"))
            .unwrap();
        let pid = sb.control.pid();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        sb.control.kill();
        let st = tokio::time::timeout(std::time::Duration::from_secs(5), sb.exit)
            .await
            .unwrap();
        assert_eq!(st, ExitStatus::Signal(9));
        // No live process of the group is left (zombies wait for their reaper, not for us). The
        // leader's exit can be seen before a SIGKILLed sibling has finished dying: allow that
        // (bounded), without any further kill.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !live_group_members(pid).is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(live_group_members(pid), Vec::<u32>::new());
    }
}
