//! The one clock: wall-clock time in milliseconds since the Unix epoch, read through a trait so
//! that tests replace it. Everything that stamps or schedules (LastModified, the asynchronous
//! queue's due times, event ages, invocation records) asks a [`Clock`]; [`SystemClock`] is the
//! real one, [`ManualClock`] a virtual one that moves only when a test moves it.
//!
//! The clock says what time it is; it never sleeps (`model` has no async). A scheduler that waits
//! for a due time sleeps on its runtime's timer and asks the clock again when it wakes.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// The same instant as a date-time (UTC).
    fn now_utc(&self) -> time::OffsetDateTime {
        datetime_of_ms(self.now_ms())
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A virtual clock for tests: it stands still until [`ManualClock::advance`] or
/// [`ManualClock::set`] moves it.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock that reads `start_ms`.
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock {
            ms: AtomicI64::new(start_ms),
        }
    }

    /// Moves the clock `ms` milliseconds forward.
    pub fn advance(&self, ms: i64) {
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `ms`.
    pub fn set(&self, ms: i64) {
        self.ms.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// The date-time (UTC) of `ms` milliseconds since the Unix epoch.
pub fn datetime_of_ms(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// `ms` as seconds with millisecond precision (how AWS reports e.g. an event invoke
/// configuration's `LastModified`).
pub fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// `ms` as an ISO 8601 timestamp with milliseconds (`2024-01-02T03:04:05.678Z`), as in
/// asynchronous invocation records.
pub fn iso8601_ms(ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    datetime_of_ms(ms).format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(60_000);
        assert_eq!(c.now_ms(), 61_000);
        c.set(5);
        assert_eq!(c.now_ms(), 5);
    }

    #[test]
    fn formats_instants() {
        assert_eq!(iso8601_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(epoch_seconds(1_700_000_000_123), 1_700_000_000.123);
        assert_eq!(
            crate::function::format_last_modified(datetime_of_ms(1_700_000_000_123)),
            "2023-11-14T22:13:20.123+0000"
        );
    }

    #[test]
    fn system_clock_is_now() {
        let a = SystemClock.now_ms();
        assert!(a > 1_700_000_000_000);
        assert!(SystemClock.now_ms() >= a);
    }
}
