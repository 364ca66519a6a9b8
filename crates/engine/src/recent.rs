//! The last invocations the engine ran, for a person looking at the console: when each ended,
//! its function and version, request id, duration, init duration (a cold start, or the first
//! invocation of a provisioned or reset sandbox) and how it ended. A bounded ring in memory: on
//! the invoke path one short uncontended lock and the copy of two short strings.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;

/// How many invocations the ring keeps.
pub const RECENT_CAPACITY: usize = 200;

/// One invocation that ran.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationRecord {
    /// When it ended, in Unix milliseconds.
    pub ended_ms: i64,
    pub function: String,
    pub version: String,
    pub request_id: String,
    pub duration: Duration,
    /// The init it waited for (REPORT's Init Duration): a cold start.
    pub init_duration: Option<Duration>,
    /// `None` for a success; else the error type its payload names (`Sandbox.Timedout`, a
    /// runtime's or the function's own), `Unhandled` when it names none.
    pub error: Option<String>,
}

/// The ring.
#[derive(Debug)]
pub(crate) struct Recent {
    ring: Mutex<VecDeque<InvocationRecord>>,
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            ring: Mutex::new(VecDeque::with_capacity(RECENT_CAPACITY)),
        }
    }
}

impl Recent {
    /// Keeps `r`, forgetting the oldest when full.
    pub(crate) fn record(&self, r: InvocationRecord) {
        let mut ring = self.ring.lock();
        if ring.len() == RECENT_CAPACITY {
            ring.pop_front();
        }
        ring.push_back(r);
    }

    /// The invocations kept, newest first.
    pub(crate) fn newest_first(&self) -> Vec<InvocationRecord> {
        self.ring.lock().iter().rev().cloned().collect()
    }
}

/// The `errorType` of an error payload (`{"errorType": ..., "errorMessage": ...}`), read only
/// for invocations that failed.
pub(crate) fn error_type(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("errorType")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "Unhandled".to_string())
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> InvocationRecord {
        InvocationRecord {
            ended_ms: i as i64,
            function: "f".into(),
            version: "$LATEST".into(),
            request_id: format!("r{i}"),
            duration: Duration::from_millis(1),
            init_duration: None,
            error: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_first_and_forgets_the_oldest() {
        let r = Recent::default();
        for i in 0..RECENT_CAPACITY + 5 {
            r.record(rec(i));
        }
        let all = r.newest_first();
        assert_eq!(all.len(), RECENT_CAPACITY);
        assert_eq!(all[0].request_id, format!("r{}", RECENT_CAPACITY + 4));
        assert_eq!(all[RECENT_CAPACITY - 1].request_id, "r5");
    }

    #[test]
    fn error_types_come_from_the_payload() {
        assert_eq!(
            error_type(br#"{"errorType":"Sandbox.Timedout","errorMessage":"x"}"#),
            "Sandbox.Timedout"
        );
        assert_eq!(error_type(b"not json"), "Unhandled");
    }
}
