//! Scheduling helpers for Hako's own threads: pin a thread to one CPU and give it the idle
//! scheduling class, so that it runs only when that CPU would otherwise halt.
//!
//! Why: on a virtual machine, waking a halted vCPU costs tens of microseconds (PERFORMANCE.md),
//! several times per invocation. A thread that spins at idle priority while invocations are in
//! flight keeps the vCPUs from halting without taking CPU time from anything else.

/// Pins the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).map_err(std::io::Error::from)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(std::io::Error::from)
}

/// Moves the calling thread to the `SCHED_IDLE` class: it runs only when nothing else wants the
/// CPU.
pub fn idle_priority_current_thread() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler(2) on the calling thread (pid 0) with a valid, initialised
    // `sched_param` that outlives the call; it touches no memory of ours otherwise.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .collect(),
        Err(_) => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_can_be_pinned_and_idled() {
        let cpus = allowed_cpus();
        assert!(!cpus.is_empty());
        let cpu = cpus[0];
        std::thread::spawn(move || {
            pin_current_thread(cpu).unwrap();
            idle_priority_current_thread().unwrap();
            // SAFETY: sched_getscheduler(2) on the calling thread; no memory is passed.
            assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_IDLE);
        })
        .join()
        .unwrap();
    }
}
