//! The CPU warmer: while invocations are in flight or requests keep arriving at the front door
//! (and for a short tail after), one idle-priority thread per CPU spins, so that the vCPUs don't
//! halt between the hops of an invocation or a client's back-to-back requests (SQS, Kinesis:
//! measured, SendMessage at one client went from a p50 of 127-157 µs to 69-79 µs with the vCPUs
//! kept awake). A request waiting (a long poll) is no traffic: only new requests are.
//!
//! On the virtual machines Hako runs on, waking a halted vCPU costs ~20 µs, and a warm invocation
//! crosses CPUs several times (client → Hako → runtime → Hako → client): measured here, a warm
//! invocation's median dropped from ~165 µs to ~125 µs with the vCPUs kept awake. With more
//! invocations in flight than CPUs, the CPUs are busy anyway and the warmer sleeps (spinning
//! there cost ~18 % of throughput at concurrency 32). The threads
//! run in the `SCHED_IDLE` class, so they only ever take CPU time nothing else wants; when no
//! invocation has run for the tail, they sleep. `--cpu-warmer-ms 0` turns the warmer off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hako_engine::Engine;
use hako_front_door::FrontDoor;

/// How often a sleeping warmer looks for traffic.
const IDLE_CHECK: Duration = Duration::from_millis(2);

/// The running warmer; dropping it stops the threads.
#[derive(Debug)]
pub(crate) struct Warmer {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Warmer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Starts one warmer thread per CPU this process may use, spinning while `engine` has
/// invocations in flight or `door` gets new requests, and for `tail` after. `None` when `tail`
/// is zero or nothing could start.
pub(crate) fn start(engine: Arc<Engine>, door: FrontDoor, tail: Duration) -> Option<Warmer> {
    if tail.is_zero() {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let cpus = hako_sandbox::cpu::allowed_cpus();
    let n = cpus.len();
    for cpu in cpus {
        let engine = engine.clone();
        let door = door.clone();
        let stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("hako-warm-{cpu}"))
            .spawn(move || {
                if hako_sandbox::cpu::pin_current_thread(cpu).is_err()
                    || hako_sandbox::cpu::idle_priority_current_thread().is_err()
                {
                    // Without the idle class it would compete with real work: don't run at all.
                    return;
                }
                run(&engine, &door, &stop, tail, n);
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => tracing::warn!(error = %e, "cannot start a CPU warmer thread"),
        }
    }
    (!threads.is_empty()).then_some(Warmer { stop, threads })
}

fn run(engine: &Engine, door: &FrontDoor, stop: &AtomicBool, tail: Duration, cpus: usize) {
    let mut last_busy: Option<Instant> = None;
    let mut requests = door.requests_seen();
    while !stop.load(Ordering::Relaxed) {
        let inflight = engine.inflight();
        if inflight > cpus || engine.cold_starting() > 0 {
            // Enough work to keep every CPU busy: spinning would only add scheduling work. Or a
            // cold start: busy CPUs delay the RCU grace periods it waits for (measured: a
            // linux-backend cold start took ~9 ms instead of ~4 with the warmer spinning).
            last_busy = None;
            std::thread::sleep(IDLE_CHECK);
            continue;
        }
        let seen = door.requests_seen();
        if inflight > 0 || seen != requests {
            requests = seen;
            last_busy = Some(Instant::now());
        } else if last_busy.is_none_or(|t| t.elapsed() >= tail) {
            std::thread::sleep(IDLE_CHECK);
            continue;
        }
        for _ in 0..256 {
            std::hint::spin_loop();
        }
    }
}
