//! What keeps function logs from filling the host (issue 14, point 6): a default retention for
//! groups without a policy of their own, a per-group ingestion limit on functions' output
//! (lines beyond it dropped and counted, with one marker line per burst, as CloudWatch
//! throttles a producer instead of storing without bound), and a bound on the size of
//! `logs.db` (the oldest events deleted first).

use std::collections::HashMap;
use std::sync::Arc;

use crate::IngestLine;

/// The limits the binary sets (none by default: the crate's tests and `hako logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogLimits {
    /// Days kept in a group with no retention policy of its own (not shown as the group's
    /// `retentionInDays`: it is Hako's safety net, not a policy); `None`: forever.
    pub default_retention_days: Option<i64>,
    /// Lines of functions' output a log group takes per second; `None`: no limit.
    pub ingest_lines_per_sec: Option<u64>,
    /// Message bytes of functions' output a log group takes per second; `None`: no limit.
    pub ingest_bytes_per_sec: Option<u64>,
    /// The bound of `logs.db`'s used pages, in bytes: beyond it the oldest events are deleted
    /// until it is 10 % under; `None`: no bound.
    pub max_db_bytes: Option<u64>,
}

impl LogLimits {
    fn throttles(&self) -> bool {
        self.ingest_lines_per_sec.is_some() || self.ingest_bytes_per_sec.is_some()
    }
}

/// One group's current second of ingestion.
#[derive(Debug, Default)]
struct Window {
    second: i64,
    lines: u64,
    bytes: u64,
    /// Lines were dropped in this second.
    dropping: bool,
    /// The burst this second belongs to already has its marker line.
    marked: bool,
}

/// The per-group ingestion windows.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    windows: HashMap<Arc<str>, Window>,
}

/// What [`Throttle::admit`] decided for a batch: the lines kept (indexes into the batch) and
/// the marker lines, each before the kept line of the given position.
pub(crate) struct Admitted {
    pub keep: Vec<usize>,
    pub markers: Vec<(usize, IngestLine)>,
    /// Dropped lines per group.
    pub dropped: Vec<(Arc<str>, u64)>,
}

/// The marker line written once per burst of dropped lines.
pub(crate) fn marker_text(limits: &LogLimits) -> String {
    let mut what = Vec::new();
    if let Some(n) = limits.ingest_lines_per_sec {
        what.push(format!("{n} lines"));
    }
    if let Some(b) = limits.ingest_bytes_per_sec {
        what.push(format!("{b} bytes"));
    }
    format!(
        "[hako] log lines dropped: this function's output exceeds Hako's ingestion limit of {} per second; lines beyond it are dropped until it slows down (counted in hako_logs_dropped_log_events_total)",
        what.join(" or ")
    )
}

impl Throttle {
    /// Decides which lines of a batch are stored at `now_ms` under `limits`.
    pub(crate) fn admit(
        &mut self,
        lines: &[IngestLine],
        limits: &LogLimits,
        now_ms: i64,
    ) -> Option<Admitted> {
        if !limits.throttles() {
            return None;
        }
        let second = now_ms.div_euclid(1000);
        let mut out = Admitted {
            keep: Vec::with_capacity(lines.len()),
            markers: Vec::new(),
            dropped: Vec::new(),
        };
        let mut dropped: HashMap<Arc<str>, u64> = HashMap::new();
        for (i, l) in lines.iter().enumerate() {
            if l.platform {
                out.keep.push(i);
                continue;
            }
            let w = match self.windows.get_mut(&l.group) {
                Some(w) => w,
                None => self.windows.entry(l.group.clone()).or_default(),
            };
            if w.second != second {
                // A second without drops ends the burst.
                let marked = w.marked && w.dropping && w.second + 1 == second;
                *w = Window {
                    second,
                    marked,
                    ..Window::default()
                };
            }
            let bytes = l.message.len() as u64;
            let over = limits.ingest_lines_per_sec.is_some_and(|n| w.lines >= n)
                || limits
                    .ingest_bytes_per_sec
                    .is_some_and(|b| w.bytes + bytes > b);
            if over {
                w.dropping = true;
                *dropped.entry(l.group.clone()).or_default() += 1;
                if !w.marked {
                    w.marked = true;
                    out.markers.push((
                        out.keep.len(),
                        IngestLine {
                            group: l.group.clone(),
                            stream: l.stream.clone(),
                            timestamp_ms: l.timestamp_ms,
                            message: marker_text(limits),
                            platform: true,
                        },
                    ));
                }
                continue;
            }
            w.lines += 1;
            w.bytes += bytes;
            out.keep.push(i);
        }
        // Groups quiet for a while are forgotten (a bounded map).
        if self.windows.len() > 4096 {
            self.windows.retain(|_, w| w.second + 2 >= second);
        }
        out.dropped = dropped.into_iter().collect();
        Some(out)
    }
}
