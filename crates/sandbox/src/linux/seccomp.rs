//! The seccomp policy: data in `resources/seccomp/default.json`, compiled to BPF once when the
//! backend starts (with seccompiler), carried to the sandbox's init as plain numbers and installed
//! right before the function is executed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

/// The policy shipped with Hako.
pub(crate) const DEFAULT_POLICY: &str = include_str!("../../../../resources/seccomp/default.json");

#[derive(Debug, Deserialize)]
struct Policy {
    deny_eperm: Vec<String>,
    #[serde(default)]
    deny_eperm_x86_64: Vec<String>,
    #[serde(default)]
    deny_enosys: Vec<String>,
    #[serde(default)]
    clone_flags_eperm: BTreeMap<String, u64>,
}

/// Errors of compiling a policy.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("invalid seccomp policy: {0}")]
    Policy(#[from] serde_json::Error),
    #[error("cannot compile the seccomp policy: {0}")]
    Compile(String),
}

/// One compiled filter, one instruction per `u64` (code << 48 | jt << 40 | jf << 32 | k).
pub(crate) type Program = Vec<u64>;

fn filter(action_errno: u32, rules: Vec<serde_json::Value>) -> serde_json::Value {
    json!({ "mismatch_action": "allow", "match_action": { "errno": action_errno }, "filter": rules })
}

/// Compiles `policy` for the running architecture into the filters to install, in order.
pub(crate) fn compile(policy: &str) -> Result<Vec<Program>, SeccompError> {
    let p: Policy = serde_json::from_str(policy)?;
    let arch = std::env::consts::ARCH;
    let mut eperm: Vec<serde_json::Value> = p
        .deny_eperm
        .iter()
        .map(|s| json!({ "syscall": s }))
        .collect();
    if arch == "x86_64" {
        eperm.extend(p.deny_eperm_x86_64.iter().map(|s| json!({ "syscall": s })));
    }
    for (name, flag) in &p.clone_flags_eperm {
        eperm.push(json!({
            "syscall": "clone",
            "args": [{ "index": 0, "type": "qword", "op": { "masked_eq": flag }, "val": flag, "comment": name }]
        }));
    }
    let mut filters = serde_json::Map::new();
    filters.insert("eperm".into(), filter(libc::EPERM as u32, eperm));
    if !p.deny_enosys.is_empty() {
        let rules = p
            .deny_enosys
            .iter()
            .map(|s| json!({ "syscall": s }))
            .collect();
        filters.insert("enosys".into(), filter(libc::ENOSYS as u32, rules));
    }
    let text = serde_json::Value::Object(filters).to_string();
    let target = arch
        .try_into()
        .map_err(|e| SeccompError::Compile(format!("{e:?}")))?;
    let mut map = seccompiler::compile_from_json(text.as_bytes(), target)
        .map_err(|e| SeccompError::Compile(e.to_string()))?;
    let mut out = Vec::new();
    for name in ["eperm", "enosys"] {
        if let Some(prog) = map.remove(name) {
            out.push(
                prog.iter()
                    .map(|i| {
                        (u64::from(i.code) << 48)
                            | (u64::from(i.jt) << 40)
                            | (u64::from(i.jf) << 32)
                            | u64::from(i.k)
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// Installs the filters on the calling thread (which must already have `no_new_privs`).
pub(crate) fn install(filters: &[Program]) -> Result<(), String> {
    for f in filters {
        let prog: seccompiler::BpfProgram = f
            .iter()
            .map(|&i| seccompiler::sock_filter {
                code: (i >> 48) as u16,
                jt: ((i >> 40) & 0xff) as u8,
                jf: ((i >> 32) & 0xff) as u8,
                k: (i & 0xffff_ffff) as u32,
            })
            .collect();
        seccompiler::apply_filter(&prog)
            .map_err(|e| format!("cannot install the seccomp filter: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_compiles() {
        let f = compile(DEFAULT_POLICY).unwrap();
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn an_unknown_syscall_is_refused() {
        let e = compile(r#"{"deny_eperm": ["no_such_call"]}"#).unwrap_err();
        assert!(matches!(e, SeccompError::Compile(_)), "{e}");
    }

    #[test]
    fn a_filter_refuses_in_a_child_process() {
        // Installed in a forked child (the test harness is multi-threaded, so the child only
        // calls async-signal-safe functions and _exit).
        // getppid: harmless whether the filter works or not.
        let f = compile(r#"{"deny_eperm": ["getppid"]}"#).unwrap();
        let progs: Vec<seccompiler::BpfProgram> = f
            .iter()
            .map(|p| {
                p.iter()
                    .map(|&i| seccompiler::sock_filter {
                        code: (i >> 48) as u16,
                        jt: ((i >> 40) & 0xff) as u8,
                        jf: ((i >> 32) & 0xff) as u8,
                        k: (i & 0xffff_ffff) as u32,
                    })
                    .collect()
            })
            .collect();
        // SAFETY: the child only makes raw syscalls (prctl, seccomp, getppid) and _exits; it
        // neither allocates nor takes locks, so forking a multi-threaded process is fine.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // SAFETY: plain syscalls with valid pointers into memory owned by this process.
                unsafe {
                    libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                    let fprog = libc::sock_fprog {
                        len: progs[0].len() as u16,
                        filter: progs[0].as_ptr() as *mut libc::sock_filter,
                    };
                    if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &fprog)
                        != 0
                    {
                        libc::_exit(2);
                    }
                    let rc = libc::syscall(libc::SYS_getppid);
                    let errno = *libc::__errno_location();
                    libc::_exit(if rc == -1 && errno == libc::EPERM {
                        0
                    } else {
                        1
                    });
                }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
