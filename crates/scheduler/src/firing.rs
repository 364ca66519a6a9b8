//! The firing queue: schedules that came due become pending deliveries (one transaction per
//! pass), which the schedule task of `hako_events` delivers, retries and gives up.

use crate::error::{Error, Result};
use crate::schedules::{decode, timing_of};
use crate::storage::{self, DeliveryRow};
use crate::wire::Target;
use crate::Scheduler;

/// One firing of a schedule to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    /// AWS's `EXECUTION_ID` of the dead-letter message: one per firing.
    pub execution_id: String,
    pub schedule_arn: String,
    pub group: String,
    pub name: String,
    /// When the schedule was due (AWS's `SCHEDULED_TIME`).
    pub due_ms: i64,
    /// Attempts made so far.
    pub attempts: i64,
    /// The target as it was when the schedule fired.
    pub target: Target,
    /// The error of the last attempt (`CODE: message`), if one failed.
    pub last_error: Option<String>,
}

/// A schedule as `hako schedules` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleCounts {
    pub group: String,
    pub name: String,
    pub state: String,
    pub expression: String,
    pub target_arn: String,
    pub next_ms: Option<i64>,
    /// Firings taken and not yet delivered.
    pub pending: i64,
}

impl Scheduler {
    /// Takes every schedule due at `now`: each becomes one pending delivery (its attempt at the
    /// due time, later by `delay(window_ms)` for a flexible time window: a delay in
    /// `0..window_ms`), and the schedule's next due time is computed from `now` (due times missed
    /// while Hako was down collapse into this one firing). A one-time schedule, or one past its
    /// EndDate, is done: deleted when its ActionAfterCompletion is DELETE. The number taken.
    pub fn take_due(&self, now: i64, delay: &mut dyn FnMut(i64) -> i64) -> Result<usize> {
        let n = self.inner.db.write(|tx| {
            let due = storage::due_schedules(tx, now)?;
            let mut taken = 0;
            for row in due {
                let Some(due_ms) = row.next_ms else { continue };
                let (def, timing) = match decode(&row).and_then(|d| {
                    let t = timing_of(&d, row.modified_ms)?;
                    Ok((d, t))
                }) {
                    Ok(x) => x,
                    Err(e) => {
                        // Nothing to fire from a definition that no longer parses.
                        tracing::error!(schedule = %row.name, error = %e, "schedule dropped");
                        storage::set_next(tx, &row.group, &row.name, None)?;
                        continue;
                    }
                };
                let window_ms = match &def.flexible_time_window {
                    Some(w) if w.mode.as_deref() == Some("FLEXIBLE") => {
                        w.maximum_window_in_minutes.unwrap_or(0) * 60_000
                    }
                    _ => 0,
                };
                let wait = if window_ms > 0 {
                    delay(window_ms).clamp(0, window_ms - 1)
                } else {
                    0
                };
                let target = def.target.clone().unwrap_or_default();
                storage::insert_delivery(
                    tx,
                    &DeliveryRow {
                        id: 0,
                        execution_id: uuid::Uuid::new_v4().to_string(),
                        group: row.group.clone(),
                        name: row.name.clone(),
                        due_ms,
                        run_ms: due_ms + wait,
                        attempts: 0,
                        target: serde_json::to_string(&target).unwrap_or_default(),
                        last_error: None,
                    },
                )?;
                taken += 1;
                let next = timing.next(due_ms.max(now), false);
                if next.is_none() && def.action_after_completion.as_deref() == Some("DELETE") {
                    storage::delete_schedule(tx, &row.group, &row.name)?;
                } else {
                    storage::set_next(tx, &row.group, &row.name, next)?;
                }
            }
            Ok(taken)
        })?;
        if n > 0 {
            self.changed();
        }
        Ok(n)
    }

    /// The deliveries whose next attempt is due at `now`.
    pub fn due_deliveries(&self, now: i64) -> Result<Vec<Delivery>> {
        let rows = self.inner.db.read(|c| storage::due_deliveries(c, now))?;
        rows.into_iter()
            .map(|r| {
                let target: Target = serde_json::from_str(&r.target).map_err(|e| {
                    Error::internal(format!("a stored target does not decode: {e}"))
                })?;
                Ok(Delivery {
                    id: r.id,
                    execution_id: r.execution_id,
                    schedule_arn: self.schedule_arn(&r.group, &r.name),
                    group: r.group,
                    name: r.name,
                    due_ms: r.due_ms,
                    attempts: r.attempts,
                    target,
                    last_error: r.last_error,
                })
            })
            .collect()
    }

    /// A delivery done (delivered, sent to its dead-letter queue, or dropped).
    pub fn finish_delivery(&self, id: i64) -> Result<()> {
        self.inner.db.write(|tx| storage::finish_delivery(tx, id))?;
        Ok(())
    }

    /// A delivery that failed and is tried again at `run_ms`, `attempts` made.
    pub fn retry_delivery(&self, id: i64, attempts: i64, run_ms: i64, error: &str) -> Result<()> {
        self.inner
            .db
            .write(|tx| storage::retry_delivery(tx, id, attempts, run_ms, error))?;
        Ok(())
    }

    /// The earliest time a schedule is due or a delivery's attempt is.
    pub fn next_wake(&self) -> Result<Option<i64>> {
        Ok(self.inner.db.read(storage::next_wake)?)
    }

    /// Every schedule with its next due time and pending firings (`hako schedules`).
    pub fn schedule_counts(&self) -> Result<Vec<ScheduleCounts>> {
        let rows = self.inner.db.read(storage::counts)?;
        Ok(rows
            .into_iter()
            .map(|(r, pending)| ScheduleCounts {
                expression: decode(&r)
                    .ok()
                    .and_then(|d| d.schedule_expression)
                    .unwrap_or_default(),
                group: r.group,
                name: r.name,
                state: r.state,
                target_arn: r.target_arn,
                next_ms: r.next_ms,
                pending,
            })
            .collect())
    }
}
