//! Per function and version: the warm pools (retired when the revision changes), the metric
//! handles and the concurrency counters, and how a function's state is found or made.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::concurrency::FunctionCounter;
use crate::metrics::FunctionMetrics;
use crate::provisioned::Provisioned;
use crate::sandbox::Sandbox;
use crate::{AsyncMetric, Engine, ResolvedFunction};

#[derive(Debug)]
pub(crate) struct Pool {
    pub(crate) revision_id: String,
    pub(crate) idle: Mutex<Vec<Arc<Sandbox>>>,
    pub(crate) retired: AtomicBool,
}

impl Pool {
    pub(crate) fn new(revision_id: &str) -> Arc<Pool> {
        Arc::new(Pool {
            revision_id: revision_id.to_string(),
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
        })
    }

    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        for sb in self.idle.lock().drain(..) {
            sb.kill();
        }
    }
}

/// One version of a function: its warm pool (replaced when the revision changes), its
/// provisioned sandboxes (which outlive the pool's retirements) and its metric handles (kept).
#[derive(Debug)]
pub(crate) struct VersionState {
    pub(crate) pool: Option<Arc<Pool>>,
    pub(crate) provisioned: Option<Arc<Provisioned>>,
    pub(crate) metrics: Arc<FunctionMetrics>,
}

/// What the engine keeps per function name: its concurrency counter (shared by all its
/// versions, as AWS counts reserved concurrency per function) and its versions.
#[derive(Debug)]
pub(crate) struct FunctionState {
    pub(crate) counter: FunctionCounter,
    pub(crate) versions: Mutex<HashMap<String, VersionState>>,
    /// The qualifiers provisioned concurrency was ever configured on (their metric series go
    /// with the function).
    pub(crate) provisioned_qualifiers: Mutex<HashSet<String>>,
}

impl FunctionState {
    pub(crate) fn new() -> Self {
        FunctionState {
            counter: FunctionCounter::new(),
            versions: Mutex::new(HashMap::new()),
            provisioned_qualifiers: Mutex::new(HashSet::new()),
        }
    }
}

impl Engine {
    /// Sets (or with `None` removes) a function's reserved concurrency. Invocations running now
    /// keep their slots; the next ones obey the new value.
    pub fn set_reserved_concurrency(&self, name: &str, reserved: Option<u32>) {
        let mut map = self.functions.write();
        let state = map
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(FunctionState::new()))
            .clone();
        self.account
            .set_reserved(&state.counter, reserved.map(u64::from));
    }

    /// Forgets a deleted function: its sandboxes, its reservation and its metric series.
    pub fn remove_function(&self, name: &str) {
        let Some(state) = self.functions.write().remove(name).inspect(|s| {
            self.account.set_reserved(&s.counter, None);
        }) else {
            return;
        };
        for (version, v) in state.versions.lock().drain() {
            if let Some(p) = v.pool {
                p.retire();
            }
            if let Some(p) = v.provisioned {
                p.retire(self);
            }
            self.metrics.forget(name, &version);
        }
        for qualifier in state.provisioned_qualifiers.lock().drain() {
            self.metrics.forget(name, &qualifier);
        }
    }

    /// Records an asynchronous-invocation metric of `f`'s version.
    pub fn record_async(&self, f: &ResolvedFunction, what: AsyncMetric) {
        // Only the metric handles: the version's pool is none of this call's business.
        let state = self.function_state(f);
        let m = state
            .versions
            .lock()
            .entry(f.version.clone())
            .or_insert_with(|| VersionState {
                pool: None,
                provisioned: None,
                metrics: Arc::new(self.metrics.function(&f.name, &f.version)),
            })
            .metrics
            .clone();
        match what {
            AsyncMetric::Received => m.async_received(),
            AsyncMetric::Age(age) => m.async_event_age(age),
            AsyncMetric::Dropped => m.async_dropped(),
            AsyncMetric::DestinationDeliveryFailure => m.destination_delivery_failed(),
            AsyncMetric::DeadLetterError => m.dead_letter_error(),
        }
    }

    /// Retires every sandbox of a function (all versions): idle ones die now, busy ones when
    /// their invocation ends.
    pub fn retire_function(&self, name: &str) {
        let Some(state) = self.functions.read().get(name).cloned() else {
            return;
        };
        let pools: Vec<Arc<Pool>> = state
            .versions
            .lock()
            .values_mut()
            .filter_map(|v| v.pool.take())
            .collect();
        for p in pools {
            p.retire();
        }
    }

    /// Every warm pool now.
    pub(crate) fn all_pools(&self) -> Vec<Arc<Pool>> {
        let states: Vec<Arc<FunctionState>> = self.functions.read().values().cloned().collect();
        states
            .iter()
            .flat_map(|s| {
                s.versions
                    .lock()
                    .values()
                    .filter_map(|v| v.pool.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The engine's state of `f`'s function (made, with `f`'s reservation, on first sight).
    pub(crate) fn function_state(&self, f: &ResolvedFunction) -> Arc<FunctionState> {
        if let Some(s) = self.functions.read().get(f.name.as_str()) {
            return s.clone();
        }
        let mut map = self.functions.write();
        if let Some(s) = map.get(f.name.as_str()) {
            return s.clone();
        }
        let s = Arc::new(FunctionState::new());
        self.account
            .set_reserved(&s.counter, f.reserved_concurrency.map(u64::from));
        map.insert(f.name.clone(), s.clone());
        s
    }

    /// `f`'s warm pool (a new one when its revision changed), metric handles, and provisioned
    /// sandboxes of `f`'s revision if it has any.
    pub(crate) fn version_of(
        &self,
        state: &FunctionState,
        f: &ResolvedFunction,
    ) -> (Arc<Pool>, Arc<FunctionMetrics>, Option<Arc<Provisioned>>) {
        let mut versions = state.versions.lock();
        if let Some(v) = versions.get_mut(f.version.as_str()) {
            let provisioned = v
                .provisioned
                .clone()
                .filter(|p| p.revision_id == f.revision_id);
            match &v.pool {
                Some(p) if p.revision_id == f.revision_id => {
                    return (p.clone(), v.metrics.clone(), provisioned)
                }
                Some(p) => p.retire(),
                None => {}
            }
            let p = Pool::new(&f.revision_id);
            v.pool = Some(p.clone());
            return (p, v.metrics.clone(), provisioned);
        }
        let p = Pool::new(&f.revision_id);
        let metrics = Arc::new(self.metrics.function(&f.name, &f.version));
        versions.insert(
            f.version.clone(),
            VersionState {
                pool: Some(p.clone()),
                provisioned: None,
                metrics: metrics.clone(),
            },
        );
        (p, metrics, None)
    }
}
