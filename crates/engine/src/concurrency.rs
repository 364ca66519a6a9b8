//! Concurrency accounting: the account's limit, per-function reservations, and who may run now.
//!
//! AWS's model: a function with reserved concurrency `r` runs at most `r` invocations at once
//! (more are throttled with `ReservedFunctionConcurrentInvocationLimitExceeded`), and those `r`
//! are carved out of the account's pool; every other function shares what is left,
//! `limit - Σ reserved` (more are throttled with `ConcurrentInvocationLimitExceeded`).
//!
//! Provisioned concurrency `p` (the sum over a function's versions and aliases) runs on sandboxes
//! prepared ahead ([`Lease::Provisioned`], counted in no pool: its slots were set aside when it
//! was configured). It is set aside inside the function's reservation when it has one (the
//! function's other invocations get `r - p`), else out of the account's pool: a function takes
//! `r`, or without a reservation `p`, out of it (its "carve").
//!
//! Everything here is atomics: taking and giving back a slot is a compare-and-swap on the
//! function's own counter (reserved) or the account's unreserved counter, never a lock. A
//! compare-and-swap loop rather than add-then-check-then-undo, so that two racing callers near
//! the limit cannot both be refused when one of them fits.

use std::sync::atomic::{AtomicU64, Ordering};

/// `reserved` when the function has no reservation.
const NONE: u64 = u64::MAX;

/// Why an invocation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttle {
    /// The function's reserved concurrency is in use.
    Reserved,
    /// The account's unreserved pool is in use.
    Account,
}

impl Throttle {
    /// AWS's `Reason`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Throttle::Reserved => "ReservedFunctionConcurrentInvocationLimitExceeded",
            Throttle::Account => "ConcurrentInvocationLimitExceeded",
        }
    }
}

/// Which pool a running invocation took its slot from (it gives it back there, even when the
/// function's reservation changed meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lease {
    Reserved,
    Unreserved,
    /// On a provisioned sandbox.
    Provisioned,
}

/// One function's counters.
#[derive(Debug)]
pub(crate) struct FunctionCounter {
    /// Its invocations running now (whichever pool they took their slot from).
    inflight: AtomicU64,
    reserved: AtomicU64,
    /// The sum of its provisioned concurrency.
    provisioned: AtomicU64,
}

impl FunctionCounter {
    pub(crate) fn new() -> Self {
        FunctionCounter {
            inflight: AtomicU64::new(0),
            reserved: AtomicU64::new(NONE),
            provisioned: AtomicU64::new(0),
        }
    }

    pub(crate) fn reserved(&self) -> Option<u64> {
        match self.reserved.load(Ordering::Acquire) {
            NONE => None,
            n => Some(n),
        }
    }

    /// What the function takes out of the account's pool.
    fn carve(&self) -> u64 {
        self.reserved()
            .unwrap_or_else(|| self.provisioned.load(Ordering::Acquire))
    }

    #[cfg(test)]
    pub(crate) fn inflight(&self) -> u64 {
        self.inflight.load(Ordering::Acquire)
    }
}

/// The account's counters.
#[derive(Debug)]
pub(crate) struct Account {
    limit: u64,
    /// Σ of the functions' carves (reservation, or without one provisioned concurrency).
    carved_total: AtomicU64,
    /// Invocations running now of functions without a reservation.
    unreserved_inflight: AtomicU64,
    /// Invocations running now, all functions.
    inflight: AtomicU64,
}

/// Adds one to `n` if it stays within `max`.
fn take(n: &AtomicU64, max: u64) -> bool {
    n.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        (v < max).then_some(v + 1)
    })
    .is_ok()
}

impl Account {
    pub(crate) fn new(limit: u64) -> Self {
        Account {
            limit,
            carved_total: AtomicU64::new(0),
            unreserved_inflight: AtomicU64::new(0),
            inflight: AtomicU64::new(0),
        }
    }

    pub(crate) fn inflight(&self) -> u64 {
        self.inflight.load(Ordering::Acquire)
    }

    pub(crate) fn unreserved_inflight(&self) -> u64 {
        self.unreserved_inflight.load(Ordering::Acquire)
    }

    pub(crate) fn carved_total(&self) -> u64 {
        self.carved_total.load(Ordering::Acquire)
    }

    /// Applies `change` to `f` and the change of its carve to the total. Callers serialise
    /// changes (the engine makes them under its function table's write lock), so the total stays
    /// the exact sum.
    fn recarve(&self, f: &FunctionCounter, change: impl FnOnce()) {
        let old = f.carve();
        change();
        let new = f.carve();
        if new >= old {
            self.carved_total.fetch_add(new - old, Ordering::AcqRel);
        } else {
            self.carved_total.fetch_sub(old - new, Ordering::AcqRel);
        }
    }

    /// Sets a function's reservation (`None` removes it).
    pub(crate) fn set_reserved(&self, f: &FunctionCounter, reserved: Option<u64>) {
        self.recarve(f, || {
            f.reserved
                .store(reserved.unwrap_or(NONE), Ordering::Release)
        });
    }

    /// Sets the sum of a function's provisioned concurrency.
    pub(crate) fn set_provisioned(&self, f: &FunctionCounter, provisioned: u64) {
        self.recarve(f, || f.provisioned.store(provisioned, Ordering::Release));
    }

    /// A slot for an invocation on a provisioned sandbox: counted, never refused (its slot was
    /// set aside when the provisioned concurrency was configured).
    pub(crate) fn acquire_provisioned(&self) -> Lease {
        self.inflight.fetch_add(1, Ordering::AcqRel);
        Lease::Provisioned
    }

    /// Takes a slot for one invocation of `f`, or says why not.
    pub(crate) fn try_acquire(&self, f: &FunctionCounter) -> Result<Lease, Throttle> {
        let lease = match f.reserved() {
            Some(r) => {
                let on_demand = r.saturating_sub(f.provisioned.load(Ordering::Acquire));
                if !take(&f.inflight, on_demand) {
                    return Err(Throttle::Reserved);
                }
                Lease::Reserved
            }
            None => {
                let pool = self.limit.saturating_sub(self.carved_total());
                if !take(&self.unreserved_inflight, pool) {
                    return Err(Throttle::Account);
                }
                f.inflight.fetch_add(1, Ordering::AcqRel);
                Lease::Unreserved
            }
        };
        self.inflight.fetch_add(1, Ordering::AcqRel);
        Ok(lease)
    }

    /// Gives back a slot [`Self::try_acquire`] gave.
    pub(crate) fn release(&self, f: &FunctionCounter, lease: Lease) {
        self.inflight.fetch_sub(1, Ordering::AcqRel);
        if lease == Lease::Provisioned {
            return;
        }
        f.inflight.fetch_sub(1, Ordering::AcqRel);
        if lease == Lease::Unreserved {
            self.unreserved_inflight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn reserved_caps_the_function_and_carves_the_pool() {
        let acc = Account::new(3);
        let (a, b) = (FunctionCounter::new(), FunctionCounter::new());
        acc.set_reserved(&a, Some(1));
        assert_eq!(acc.try_acquire(&a), Ok(Lease::Reserved));
        assert_eq!(acc.try_acquire(&a), Err(Throttle::Reserved));
        assert_eq!(acc.try_acquire(&b), Ok(Lease::Unreserved));
        assert_eq!(acc.try_acquire(&b), Ok(Lease::Unreserved));
        assert_eq!(acc.try_acquire(&b), Err(Throttle::Account));
        acc.release(&a, Lease::Reserved);
        assert_eq!(acc.try_acquire(&b), Err(Throttle::Account));
        assert_eq!(acc.inflight(), 2);
        acc.release(&b, Lease::Unreserved);
        assert_eq!(acc.try_acquire(&b), Ok(Lease::Unreserved));
    }

    #[test]
    fn reserved_zero_throttles_everything() {
        let acc = Account::new(1000);
        let f = FunctionCounter::new();
        acc.set_reserved(&f, Some(0));
        assert_eq!(acc.try_acquire(&f), Err(Throttle::Reserved));
        acc.set_reserved(&f, None);
        assert_eq!(acc.try_acquire(&f), Ok(Lease::Unreserved));
    }

    #[test]
    fn provisioned_is_set_aside_in_the_reservation_or_the_pool() {
        let acc = Account::new(4);
        let (a, b) = (FunctionCounter::new(), FunctionCounter::new());
        // Without a reservation, a's provisioned concurrency comes out of the pool.
        acc.set_provisioned(&a, 2);
        assert_eq!(acc.carved_total(), 2);
        assert_eq!(acc.try_acquire(&b), Ok(Lease::Unreserved));
        assert_eq!(acc.try_acquire(&a), Ok(Lease::Unreserved));
        assert_eq!(acc.try_acquire(&b), Err(Throttle::Account));
        // Its provisioned invocations are never refused, and counted.
        let p = acc.acquire_provisioned();
        assert_eq!(acc.inflight(), 3);
        acc.release(&a, p);
        assert_eq!(acc.inflight(), 2);
        assert_eq!(a.inflight(), 1);
        acc.release(&a, Lease::Unreserved);
        acc.release(&b, Lease::Unreserved);
        // With a reservation of 3, 2 of them provisioned: 1 on demand, and the pool gives 3.
        acc.set_reserved(&a, Some(3));
        assert_eq!(acc.carved_total(), 3);
        assert_eq!(acc.try_acquire(&a), Ok(Lease::Reserved));
        assert_eq!(acc.try_acquire(&a), Err(Throttle::Reserved));
        acc.release(&a, Lease::Reserved);
        acc.set_provisioned(&a, 0);
        assert_eq!(acc.carved_total(), 3);
        acc.set_reserved(&a, None);
        assert_eq!(acc.carved_total(), 0);
        assert_eq!(acc.inflight(), 0);
    }

    /// The model the atomics must agree with.
    #[derive(Default, Clone)]
    struct Model {
        reserved: Vec<Option<u64>>,
        running: Vec<Vec<Lease>>,
    }

    /// Random sequences of acquire, release and reservation changes against a plain model:
    /// every decision and every counter must agree, and nothing leaks at the end.
    #[test]
    fn random_sequences_agree_with_the_model() {
        for seed in 0..300u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let limit = rng.gen_range(0..8u64);
            let n = rng.gen_range(1..4usize);
            let acc = Account::new(limit);
            let fs: Vec<FunctionCounter> = (0..n).map(|_| FunctionCounter::new()).collect();
            let mut m = Model {
                reserved: vec![None; n],
                running: vec![Vec::new(); n],
            };
            for _ in 0..200 {
                let i = rng.gen_range(0..n);
                match rng.gen_range(0..10) {
                    0 => {
                        let r = if rng.gen_bool(0.5) {
                            Some(rng.gen_range(0..4))
                        } else {
                            None
                        };
                        acc.set_reserved(&fs[i], r);
                        m.reserved[i] = r;
                    }
                    1..=5 => {
                        let expected = match m.reserved[i] {
                            Some(r) if (m.running[i].len() as u64) < r => Ok(Lease::Reserved),
                            Some(_) => Err(Throttle::Reserved),
                            None => {
                                let sum: u64 = m.reserved.iter().flatten().sum();
                                let unreserved =
                                    m.running
                                        .iter()
                                        .flatten()
                                        .filter(|l| **l == Lease::Unreserved)
                                        .count() as u64;
                                if unreserved < limit.saturating_sub(sum) {
                                    Ok(Lease::Unreserved)
                                } else {
                                    Err(Throttle::Account)
                                }
                            }
                        };
                        let got = acc.try_acquire(&fs[i]);
                        assert_eq!(got, expected, "seed {seed}");
                        if let Ok(l) = got {
                            m.running[i].push(l);
                        }
                    }
                    _ => {
                        if let Some(l) = m.running[i].pop() {
                            acc.release(&fs[i], l);
                        }
                    }
                }
                let total: usize = m.running.iter().map(Vec::len).sum();
                assert_eq!(acc.inflight(), total as u64, "seed {seed}");
                assert_eq!(acc.carved_total(), m.reserved.iter().flatten().sum::<u64>());
                for (f, r) in fs.iter().zip(&m.running) {
                    assert_eq!(f.inflight(), r.len() as u64, "seed {seed}");
                }
            }
            for (f, r) in fs.iter().zip(&mut m.running) {
                for l in r.drain(..) {
                    acc.release(f, l);
                }
            }
            assert_eq!(acc.inflight(), 0);
            assert_eq!(acc.unreserved_inflight(), 0);
        }
    }

    /// Many threads racing for a small pool never run more than it holds.
    #[test]
    fn racing_threads_never_exceed_the_limit() {
        let acc = std::sync::Arc::new(Account::new(4));
        let f = std::sync::Arc::new(FunctionCounter::new());
        let peak = std::sync::Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (acc, f, peak) = (acc.clone(), f.clone(), peak.clone());
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        if let Ok(l) = acc.try_acquire(&f) {
                            peak.fetch_max(acc.inflight(), Ordering::AcqRel);
                            acc.release(&f, l);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(Ordering::Acquire) <= 4);
        assert_eq!(acc.inflight(), 0);
    }
}
