//! Hako's EventBridge Scheduler (API 2021-06-30): the model (`model`, `wire`, `error`, the
//! expressions of `expr`), the application layer ([`Scheduler`], one method per operation in
//! `schedules.rs` and `groups.rs`, and the firing queue in `firing.rs` that `hako_events`'
//! schedule task drives), its storage (`storage`, its own `scheduler.db` through
//! `hako_store::ServiceDb`) and the binding of the REST-JSON protocol (`api`).
//!
//! Invariants:
//! - A request is answered only after the transaction that stored it committed.
//! - A schedule's next due time is stored (`schedules.next_ms`), and a firing moves from there
//!   to a pending delivery in one transaction: a firing is taken once per due time, and one
//!   taken is delivered (at least once) even across a crash. A schedule due while Hako was down
//!   is taken once when it comes back (its missed due times collapse into one firing).
//! - Time comes from the [`Clock`]; randomness (the flexible window's delay) from the caller.
//! - Waiters never poll: [`Scheduler::subscribe`] changes after every committed change of the
//!   schedules.

pub mod api;
pub mod error;
pub mod expr;
mod firing;
mod groups;
pub mod metrics;
pub mod model;
mod schedules;
mod storage;
pub mod wire;

use std::path::Path;
use std::sync::Arc;

use hako_model::clock::Clock;
use hako_store::ServiceDb;
use tokio::sync::watch;

pub use crate::error::{Code, Error, Result};
pub use crate::firing::{Delivery, ScheduleCounts};
pub use crate::metrics::SchedulerMetrics;

/// What the binary decides for the Scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub region: String,
    pub account_id: String,
}

impl SchedulerConfig {
    pub fn new(region: &str, account_id: &str) -> SchedulerConfig {
        SchedulerConfig {
            region: region.to_string(),
            account_id: account_id.to_string(),
        }
    }
}

/// The Scheduler application layer. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    db: ServiceDb,
    clock: Arc<dyn Clock>,
    cfg: SchedulerConfig,
    changes: watch::Sender<u64>,
    metrics: SchedulerMetrics,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("region", &self.inner.cfg.region)
            .finish()
    }
}

impl Scheduler {
    /// The Scheduler on its database file (created and migrated when needed).
    pub fn open(path: &Path, cfg: SchedulerConfig, clock: Arc<dyn Clock>) -> Result<Scheduler> {
        let db = ServiceDb::open(path, storage::MIGRATIONS)?;
        Scheduler::with_db(db, cfg, clock, true)
    }

    /// The Scheduler on its database file, read only (`hako schedules` beside a server).
    pub fn open_read_only(
        path: &Path,
        cfg: SchedulerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Scheduler> {
        let db = ServiceDb::open_read_only(path)?;
        Scheduler::with_db(db, cfg, clock, false)
    }

    /// The Scheduler on an in-memory database (tests).
    pub fn in_memory(cfg: SchedulerConfig, clock: Arc<dyn Clock>) -> Result<Scheduler> {
        let db = ServiceDb::open_in_memory(storage::MIGRATIONS)?;
        Scheduler::with_db(db, cfg, clock, true)
    }

    fn with_db(
        db: ServiceDb,
        cfg: SchedulerConfig,
        clock: Arc<dyn Clock>,
        writable: bool,
    ) -> Result<Scheduler> {
        if writable {
            // The `default` group always exists.
            let now = clock.now_ms();
            db.write(|tx| storage::ensure_group(tx, model::DEFAULT_GROUP, now))?;
        }
        Ok(Scheduler {
            inner: Arc::new(Inner {
                db,
                clock,
                cfg,
                changes: watch::channel(0).0,
                metrics: SchedulerMetrics::default(),
            }),
        })
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn metrics(&self) -> &SchedulerMetrics {
        &self.inner.metrics
    }

    fn schedule_arn(&self, group: &str, name: &str) -> String {
        model::schedule_arn(
            &self.inner.cfg.region,
            &self.inner.cfg.account_id,
            group,
            name,
        )
    }

    fn group_arn(&self, group: &str) -> String {
        model::group_arn(&self.inner.cfg.region, &self.inner.cfg.account_id, group)
    }

    /// A watch whose value changes after every committed change of the schedules (and of the
    /// pending deliveries): the firing task waits on it besides its timer.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    fn changed(&self) {
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The OpenMetrics text of the Scheduler's metrics (ends with `# EOF`).
    pub fn render_metrics(&self) -> String {
        self.inner.metrics.render()
    }
}

/// Milliseconds as AWS's epoch seconds (with milliseconds).
fn seconds(ms: i64) -> f64 {
    hako_model::clock::epoch_seconds(ms)
}

/// Epoch seconds as milliseconds.
fn millis(s: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let ms = (s * 1000.0).round() as i64;
    ms
}

#[cfg(test)]
mod tests;
