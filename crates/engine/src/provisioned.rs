//! Provisioned concurrency: sandboxes of one function version started and initialised ahead of
//! traffic (`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`), kept warm (never reaped
//! for idleness, replaced when one dies), and served first; invocations that find them all busy
//! spill over to on-demand sandboxes.
//!
//! One [`Provisioned`] per function version, beside the version's on-demand pool: retiring the
//! pool (any write to the function) leaves it alone, as a published version never changes.
//! Filling runs in a task of its own (a few sandboxes at a time), so other functions' invocations
//! never wait for it.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use hako_model::provisioned::{ProvisionedStatus, INIT_FAILURE_REASON};
use parking_lot::Mutex;

use crate::invoke::ColdStartGuard;

/// How often a long fill says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
use crate::metrics::ProvisionedMetrics;
use crate::sandbox::Sandbox;
use crate::{Engine, ResolvedFunction};

/// Sandboxes one fill starts at once.
const FILL_PARALLELISM: u32 = 4;

/// What the control plane shows of one version's provisioned concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedState {
    pub requested: u32,
    /// Initialised sandboxes alive now (AWS's Allocated and Available).
    pub allocated: u32,
    pub status: ProvisionedStatus,
    pub status_reason: Option<String>,
}

/// The provisioned sandboxes of one function version.
#[derive(Debug)]
pub(crate) struct Provisioned {
    pub(crate) revision_id: String,
    f: ResolvedFunction,
    /// The configuration's version or alias (its metrics' `resource`).
    qualifier: String,
    pub(crate) metrics: ProvisionedMetrics,
    target: AtomicU32,
    /// Sandboxes alive: starting, idle or busy.
    members: AtomicU32,
    /// Initialised and alive.
    allocated: AtomicU32,
    /// Serving an invocation now.
    busy: AtomicU32,
    idle: Mutex<Vec<Arc<Sandbox>>>,
    status: Mutex<(ProvisionedStatus, Option<String>)>,
    retired: AtomicBool,
    filling: AtomicBool,
}

impl Provisioned {
    fn new(
        f: &ResolvedFunction,
        qualifier: &str,
        metrics: ProvisionedMetrics,
        target: u32,
    ) -> Arc<Provisioned> {
        Arc::new(Provisioned {
            revision_id: f.revision_id.clone(),
            f: f.clone(),
            qualifier: qualifier.to_string(),
            metrics,
            target: AtomicU32::new(target),
            members: AtomicU32::new(0),
            allocated: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            idle: Mutex::new(Vec::new()),
            status: Mutex::new((ProvisionedStatus::InProgress, None)),
            retired: AtomicBool::new(false),
            filling: AtomicBool::new(false),
        })
    }

    pub(crate) fn target(&self) -> u32 {
        self.target.load(Ordering::Acquire)
    }

    fn state(&self) -> ProvisionedState {
        let (status, reason) = self.status.lock().clone();
        ProvisionedState {
            requested: self.target(),
            allocated: self.allocated.load(Ordering::Acquire).min(self.target()),
            status,
            status_reason: reason,
        }
    }

    /// READY once every requested sandbox is initialised (FAILED stays until the next Put).
    fn settle(&self) {
        let mut st = self.status.lock();
        if st.0 != ProvisionedStatus::Failed
            && self.allocated.load(Ordering::Acquire) >= self.target()
        {
            *st = (ProvisionedStatus::Ready, None);
        }
    }

    /// A sandbox of the set went away.
    fn member_gone(&self, initialised: bool) {
        self.members.fetch_sub(1, Ordering::AcqRel);
        if initialised {
            self.allocated.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Stops the set: idle sandboxes die now, busy ones when their invocation ends.
    pub(crate) fn retire(&self, engine: &Engine) {
        self.retired.store(true, Ordering::Release);
        for sb in self.idle.lock().drain(..) {
            sb.kill();
            engine.forget(&sb);
            self.member_gone(true);
        }
    }

    /// The utilisation AWS reports: busy / allocated.
    fn utilization(&self) -> f64 {
        let allocated = self.allocated.load(Ordering::Acquire);
        if allocated == 0 {
            return 0.0;
        }
        f64::from(self.busy.load(Ordering::Acquire)) / f64::from(allocated)
    }
}

impl Engine {
    /// Provisions `n` sandboxes of `f`'s version for the configuration on `qualifier` (the
    /// version or an alias of it), replacing the set of an older revision or another qualifier,
    /// or growing or shrinking the current one. Returns at once; the sandboxes start in the
    /// background, and [`Engine::provisioned_state`] follows them.
    pub fn provision(self: &Arc<Self>, f: &ResolvedFunction, qualifier: &str, n: u32) {
        let state = self.function_state(f);
        self.version_of(&state, f);
        state
            .provisioned_qualifiers
            .lock()
            .insert(qualifier.to_string());
        let p = {
            let mut versions = state.versions.lock();
            let Some(v) = versions.get_mut(f.version.as_str()) else {
                return;
            };
            match &v.provisioned {
                Some(p)
                    if p.revision_id == f.revision_id
                        && p.qualifier == qualifier
                        && !p.retired.load(Ordering::Acquire) =>
                {
                    p.target.store(n, Ordering::Release);
                    p.clone()
                }
                old => {
                    if let Some(old) = old {
                        old.retire(self);
                    }
                    let metrics = self.metrics.provisioned(&f.name, qualifier);
                    let p = Provisioned::new(f, qualifier, metrics, n);
                    v.provisioned = Some(p.clone());
                    p
                }
            }
        };
        // Shrinking: idle extras go now, busy ones when they come back.
        while p.members.load(Ordering::Acquire) > n {
            let Some(sb) = p.idle.lock().pop() else { break };
            sb.kill();
            self.forget(&sb);
            p.member_gone(true);
        }
        *p.status.lock() = (ProvisionedStatus::InProgress, None);
        p.settle();
        p.metrics.set_utilization(p.utilization());
        self.recount_provisioned(&f.name);
        self.fill(p);
    }

    /// Removes a version's provisioned concurrency: its sandboxes stop.
    pub fn unprovision(&self, name: &str, version: &str) {
        let Some(state) = self.functions.read().get(name).cloned() else {
            return;
        };
        let taken = state
            .versions
            .lock()
            .get_mut(version)
            .and_then(|v| v.provisioned.take());
        if let Some(p) = taken {
            p.retire(self);
            p.metrics.set_utilization(0.0);
            self.recount_provisioned(name);
        }
    }

    /// A version's provisioned concurrency now, if it has any.
    pub fn provisioned_state(&self, name: &str, version: &str) -> Option<ProvisionedState> {
        let state = self.functions.read().get(name).cloned()?;
        let versions = state.versions.lock();
        versions
            .get(version)?
            .provisioned
            .as_ref()
            .map(|p| p.state())
    }

    /// Gives the account the function's provisioned total (under the table's write lock, which
    /// serialises it with reservation changes).
    fn recount_provisioned(&self, name: &str) {
        let map = self.functions.write();
        let Some(state) = map.get(name) else { return };
        let total: u64 = state
            .versions
            .lock()
            .values()
            .filter_map(|v| v.provisioned.as_ref())
            .map(|p| u64::from(p.target()))
            .sum();
        self.account.set_provisioned(&state.counter, total);
    }

    /// A live idle provisioned sandbox for an invocation, if there is one.
    pub(crate) fn take_provisioned(&self, p: &Provisioned) -> Option<Arc<Sandbox>> {
        loop {
            let sb = p.idle.lock().pop()?;
            if sb.is_alive() {
                sb.wake();
                p.busy.fetch_add(1, Ordering::AcqRel);
                p.metrics.provisioned_started(p.utilization());
                return Some(sb);
            }
            self.forget(&sb);
            p.member_gone(true);
            self.refill(p);
        }
    }

    /// A provisioned sandbox's invocation ended: back to the set, or gone (and replaced).
    pub(crate) fn give_back_provisioned(&self, p: &Provisioned, sb: Arc<Sandbox>) {
        p.busy.fetch_sub(1, Ordering::AcqRel);
        let keep = sb.is_alive()
            && !p.retired.load(Ordering::Acquire)
            && !self.closing.load(Ordering::Acquire)
            && p.members.load(Ordering::Acquire) <= p.target();
        let sb = if keep {
            let mut idle = p.idle.lock();
            // Checked again under the lock that `retire` drains through.
            if p.retired.load(Ordering::Acquire) {
                Some(sb)
            } else {
                sb.rest();
                idle.push(sb);
                None
            }
        } else {
            Some(sb)
        };
        if let Some(sb) = sb {
            sb.kill();
            self.forget(&sb);
            p.member_gone(true);
            self.refill(p);
        }
        p.metrics.provisioned_ended(p.utilization());
    }

    /// Starts a fill of `p`'s version, if the engine is still running (needs the engine's
    /// `Arc`, which the state of the version holds none of).
    fn refill(&self, p: &Provisioned) {
        if p.retired.load(Ordering::Acquire) || self.closing.load(Ordering::Acquire) {
            return;
        }
        let Some(engine) = self.me.upgrade() else {
            return;
        };
        let state = engine.functions.read().get(p.f.name.as_str()).cloned();
        let Some(state) = state else { return };
        let found = {
            let versions = state.versions.lock();
            versions.get(p.f.version.as_str()).and_then(|v| {
                v.provisioned
                    .clone()
                    .filter(|q| std::ptr::eq(q.as_ref(), p))
            })
        };
        if let Some(p) = found {
            engine.fill(p);
        }
    }

    /// Starts sandboxes until the set has its target, a few at a time, in a task of its own;
    /// at most one fill per set runs.
    fn fill(self: &Arc<Self>, p: Arc<Provisioned>) {
        if p.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            // What a person waiting at the terminal is told: the start of a fill that takes
            // more than one round, its progress at most once a second, and when it is ready.
            let since = Instant::now();
            let from = p.allocated.load(Ordering::Acquire);
            let to_start = p.target().saturating_sub(p.members.load(Ordering::Acquire));
            if to_start > FILL_PARALLELISM {
                tracing::info!(function = %p.f.name, qualifier = %p.qualifier, "provisioned concurrency: starting {to_start} sandboxes, {FILL_PARALLELISM} at a time");
            }
            let mut said = Instant::now();
            loop {
                engine.fill_round(&p, &mut said).await;
                p.filling.store(false, Ordering::Release);
                let more = !p.retired.load(Ordering::Acquire)
                    && !engine.closing.load(Ordering::Acquire)
                    && p.status.lock().0 != ProvisionedStatus::Failed
                    && p.members.load(Ordering::Acquire) < p.target();
                // A target raised after the round looked: go on, unless another fill took over.
                if !more || p.filling.swap(true, Ordering::AcqRel) {
                    break;
                }
            }
            p.settle();
            let st = p.state();
            if st.status == ProvisionedStatus::Ready && st.allocated > from {
                tracing::info!(function = %p.f.name, qualifier = %p.qualifier, "provisioned concurrency ready: {} sandboxes ({} started in {:.1} s)", st.allocated, st.allocated - from, since.elapsed().as_secs_f64());
            }
        });
    }

    /// Starts sandboxes until `p` has its target or one fails.
    async fn fill_round(self: &Arc<Self>, p: &Arc<Provisioned>, said: &mut Instant) {
        loop {
            if p.retired.load(Ordering::Acquire) || self.closing.load(Ordering::Acquire) {
                return;
            }
            let members = p.members.load(Ordering::Acquire);
            let need = p.target().saturating_sub(members).min(FILL_PARALLELISM);
            if need == 0 {
                return;
            }
            p.members.fetch_add(need, Ordering::AcqRel);
            let mut starts = tokio::task::JoinSet::new();
            for _ in 0..need {
                let (engine, p) = (self.clone(), p.clone());
                starts.spawn(async move { engine.start_provisioned(&p).await });
            }
            let mut failed = false;
            while let Some(r) = starts.join_next().await {
                failed |= !matches!(r, Ok(true));
            }
            p.metrics.set_utilization(p.utilization());
            if said.elapsed() >= PROGRESS_EVERY && !failed {
                *said = Instant::now();
                tracing::info!(function = %p.f.name, qualifier = %p.qualifier, "provisioned concurrency: {} of {} sandboxes ready", p.allocated.load(Ordering::Acquire).min(p.target()), p.target());
            }
            if failed {
                *p.status.lock() = (
                    ProvisionedStatus::Failed,
                    Some(INIT_FAILURE_REASON.to_string()),
                );
                return;
            }
            p.settle();
        }
    }

    /// Starts and initialises one sandbox of the set (counted in `members` already); whether
    /// it came up.
    async fn start_provisioned(&self, p: &Arc<Provisioned>) -> bool {
        let guard = ColdStartGuard::new(&self.cold_starting);
        let since = Instant::now();
        let sb = match self.start_sandbox(&p.f, "provisioned-concurrency").await {
            Ok(sb) => sb,
            Err(e) => {
                tracing::warn!(function = %p.f.name, version = %p.f.version, error = %e, "cannot start a provisioned sandbox");
                p.member_gone(false);
                return false;
            }
        };
        let init = self.init(&sb, "provisioned-concurrency").await;
        drop(guard);
        sb.logs.drain();
        if let Err((_, line)) = init {
            tracing::warn!(function = %p.f.name, version = %p.f.version, error = %line, "a provisioned sandbox failed to initialise");
            sb.kill();
            self.forget(&sb);
            p.member_gone(false);
            return false;
        }
        *sb.pending_init.lock() = Some(since.elapsed());
        p.allocated.fetch_add(1, Ordering::AcqRel);
        if p.retired.load(Ordering::Acquire) || self.closing.load(Ordering::Acquire) {
            sb.kill();
            self.forget(&sb);
            p.member_gone(true);
            return true;
        }
        let mut idle = p.idle.lock();
        // Checked again under the lock that `retire` drains through.
        if p.retired.load(Ordering::Acquire) {
            drop(idle);
            sb.kill();
            self.forget(&sb);
            p.member_gone(true);
        } else {
            sb.rest();
            idle.push(sb.clone());
            drop(idle);
            self.watch_idle(p, sb);
        }
        true
    }

    /// Replaces a provisioned sandbox that dies while idle (a busy one is replaced when its
    /// invocation gives it back).
    fn watch_idle(&self, p: &Arc<Provisioned>, sb: Arc<Sandbox>) {
        let Some(engine) = self.me.upgrade() else {
            return;
        };
        let p = p.clone();
        tokio::spawn(async move {
            sb.wait_exit().await;
            let removed = {
                let mut idle = p.idle.lock();
                let at = idle.iter().position(|x| Arc::ptr_eq(x, &sb));
                at.map(|i| idle.swap_remove(i)).is_some()
            };
            if removed {
                tracing::info!(function = %p.f.name, version = %p.f.version, "a provisioned sandbox died: replacing it");
                engine.forget(&sb);
                p.member_gone(true);
                engine.refill(&p);
            }
        });
    }
}

/// How long the init of a provisioned sandbox took, kept for the REPORT line of its first
/// invocation (AWS shows a provisioned environment's init there, after it served a request).
pub(crate) type PendingInit = Mutex<Option<Duration>>;

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use bytes::Bytes;
    use hako_sandbox::{ExitStatus, SandboxControl};

    use super::*;
    use crate::testing::{eventually, request, within, Event, FakeRuntime, Harness, Init, Reply};

    /// Answers `{"pid", "init"}`: the sandbox and its `AWS_LAMBDA_INITIALIZATION_TYPE`. Events
    /// whose payload is `"wait"` wait until `release` has a permit.
    fn runtime(release: Arc<tokio::sync::Semaphore>, arrived: Arc<AtomicUsize>) -> FakeRuntime {
        FakeRuntime::new(move |e: Event| {
            let (release, arrived) = (release.clone(), arrived.clone());
            async move {
                if &e.payload[..] == b"\"wait\"" {
                    arrived.fetch_add(1, Ordering::AcqRel);
                    release.acquire().await.expect("open").forget();
                }
                let init = e
                    .control
                    .env("AWS_LAMBDA_INITIALIZATION_TYPE")
                    .unwrap_or("")
                    .to_string();
                Reply::ok(&serde_json::json!({"pid": e.control.pid(), "init": init}).to_string())
            }
        })
    }

    fn version_1(h: &Harness) -> ResolvedFunction {
        let mut f = h.function("f");
        f.version = "1".into();
        f
    }

    fn json(b: &Bytes) -> serde_json::Value {
        serde_json::from_slice(b).unwrap()
    }

    async fn ready(h: &Harness, allocated: u32) {
        eventually("provisioned READY", || {
            h.engine.provisioned_state("f", "1")
                == Some(ProvisionedState {
                    requested: allocated,
                    allocated,
                    status: ProvisionedStatus::Ready,
                    status_reason: None,
                })
        })
        .await;
    }

    #[tokio::test]
    async fn provisioned_sandboxes_start_ahead_serve_first_and_spill_over_when_busy() {
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let arrived = Arc::new(AtomicUsize::new(0));
        let h = Harness::new(runtime(release.clone(), arrived.clone()));
        let f = version_1(&h);
        h.engine.provision(&f, "1", 2);
        ready(&h, 2).await;
        assert_eq!(h.isolation.spawned(), 2);
        for sb in h.isolation.sandboxes() {
            assert_eq!(
                sb.env("AWS_LAMBDA_INITIALIZATION_TYPE"),
                Some("provisioned-concurrency")
            );
        }
        // Served by one of them, no cold start; its first REPORT carries the init done ahead.
        let r = within("invoke", h.engine.invoke(&f, request("{}")))
            .await
            .unwrap();
        assert_eq!(json(&r.payload)["init"], "provisioned-concurrency");
        assert_eq!(h.isolation.spawned(), 2);
        let report = h
            .logs
            .messages()
            .into_iter()
            .find(|l| l.starts_with(&format!("REPORT RequestId: {}", r.request_id)))
            .unwrap();
        assert!(report.contains("Init Duration: "), "{report}");
        // Both busy: a third invocation spills over to an on-demand sandbox.
        let spawn = |payload: &'static str| {
            let (engine, f) = (h.engine.clone(), f.clone());
            tokio::spawn(async move { engine.invoke(&f, request(payload)).await })
        };
        let busy = [spawn("\"wait\""), spawn("\"wait\"")];
        eventually("both provisioned busy", || {
            arrived.load(Ordering::Acquire) == 2
        })
        .await;
        let r = within("spill", h.engine.invoke(&f, request("{}")))
            .await
            .unwrap();
        assert_eq!(json(&r.payload)["init"], "on-demand");
        assert_eq!(h.isolation.spawned(), 3);
        release.add_permits(2);
        for b in busy {
            let r = within("busy", b).await.unwrap().unwrap();
            assert_eq!(json(&r.payload)["init"], "provisioned-concurrency");
        }
        ready(&h, 2).await;
    }

    #[tokio::test]
    async fn provisioned_sandboxes_outlive_retirements_and_go_with_unprovision() {
        let h = Harness::new(runtime(
            Arc::new(tokio::sync::Semaphore::new(0)),
            Arc::new(AtomicUsize::new(0)),
        ));
        let f = version_1(&h);
        h.engine.provision(&f, "1", 1);
        ready(&h, 1).await;
        h.engine.retire_function("f");
        let r = within("invoke", h.engine.invoke(&f, request("{}")))
            .await
            .unwrap();
        assert_eq!(json(&r.payload)["init"], "provisioned-concurrency");
        h.engine.unprovision("f", "1");
        assert_eq!(h.engine.provisioned_state("f", "1"), None);
        let sb = h.isolation.sandboxes()[0].clone();
        assert_eq!(within("gone", sb.wait_exit()).await, ExitStatus::Signal(9));
    }

    #[tokio::test]
    async fn a_provisioned_sandbox_that_dies_idle_is_replaced() {
        let h = Harness::new(runtime(
            Arc::new(tokio::sync::Semaphore::new(0)),
            Arc::new(AtomicUsize::new(0)),
        ));
        let f = version_1(&h);
        h.engine.provision(&f, "1", 1);
        ready(&h, 1).await;
        h.isolation.sandboxes()[0].kill();
        eventually("a replacement", || {
            h.isolation.spawned() == 2 && h.isolation.live().len() == 1
        })
        .await;
        ready(&h, 1).await;
        let r = within("invoke", h.engine.invoke(&f, request("{}")))
            .await
            .unwrap();
        assert_eq!(json(&r.payload)["pid"], h.isolation.sandboxes()[1].pid());
    }

    #[tokio::test]
    async fn a_failed_init_fails_the_configuration() {
        let h = Harness::new(FakeRuntime::echo().with_init(Init::Exit(1)));
        let f = version_1(&h);
        h.engine.provision(&f, "1", 2);
        eventually("FAILED", || {
            h.engine
                .provisioned_state("f", "1")
                .is_some_and(|s| s.status == ProvisionedStatus::Failed)
        })
        .await;
        let s = h.engine.provisioned_state("f", "1").unwrap();
        assert_eq!(s.status_reason.as_deref(), Some(INIT_FAILURE_REASON));
        assert_eq!(s.allocated, 0);
        assert_eq!(s.requested, 2);
    }
}
