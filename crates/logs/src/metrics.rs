//! CloudWatch Logs' metrics, named after AWS's (namespace AWS/Logs, dimension LogGroupName),
//! rendered for the binary's `GET /metrics`.
//!
//! # Naming spec
//!
//! `hako_logs_<AWS metric name in snake_case>[_<unit>]`, counters with the `_total` suffix the
//! encoder adds; one label, `log_group` (AWS's LogGroupName dimension):
//!
//! | metric | type | AWS metric |
//! |---|---|---|
//! | `hako_logs_incoming_log_events_total` | counter | IncomingLogEvents (function output and PutLogEvents) |
//! | `hako_logs_incoming_bytes_total` | counter | IncomingBytes (message bytes) |
//! | `hako_logs_stored_bytes` | gauge | (Hako's: StoredBytes of DescribeLogGroups, read when rendered) |
//! | `hako_logs_dropped_log_events_total` | counter | (Hako's: functions' lines past the ingestion limit, not stored) |
//! | `hako_logs_evicted_log_events_total` | counter | (Hako's, no label: the oldest events deleted to keep `logs.db` under its size bound) |
//!
//! # Cardinality
//!
//! One series per metric and group written since the start; a deleted group's counters stay
//! until the next start.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::GroupCounts;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    log_group: String,
}

/// Logs' metric families. Recording is an atomic add after a label lookup.
#[derive(Debug, Default)]
pub struct LogsMetrics {
    incoming_events: Family<GroupLabels, Counter>,
    incoming_bytes: Family<GroupLabels, Counter>,
    dropped_events: Family<GroupLabels, Counter>,
    evicted_events: Counter,
}

impl LogsMetrics {
    /// Events of a group committed.
    pub(crate) fn incoming(&self, group: &str, events: u64, bytes: u64) {
        let l = GroupLabels {
            log_group: group.to_string(),
        };
        self.incoming_events.get_or_create(&l).inc_by(events);
        self.incoming_bytes.get_or_create(&l).inc_by(bytes);
    }

    /// Lines of a group's functions dropped at the ingestion limit.
    pub(crate) fn dropped(&self, group: &str, events: u64) {
        self.dropped_events
            .get_or_create(&GroupLabels {
                log_group: group.to_string(),
            })
            .inc_by(events);
    }

    /// Events deleted to keep the database under its size bound.
    pub(crate) fn evicted(&self, events: u64) {
        self.evicted_events.inc_by(events);
    }

    /// Lines of `group` dropped at the ingestion limit since the start.
    pub fn dropped_of(&self, group: &str) -> u64 {
        self.dropped_events
            .get_or_create(&GroupLabels {
                log_group: group.to_string(),
            })
            .get()
    }

    /// The OpenMetrics text of these metrics and of `groups`' counts (ends with `# EOF`).
    pub fn render(&self, groups: &[GroupCounts]) -> String {
        let mut r = Registry::default();
        r.register(
            "hako_logs_incoming_log_events",
            "Log events stored (AWS: IncomingLogEvents)",
            self.incoming_events.clone(),
        );
        r.register(
            "hako_logs_incoming_bytes",
            "Bytes of log event messages stored (AWS: IncomingBytes)",
            self.incoming_bytes.clone(),
        );
        r.register(
            "hako_logs_dropped_log_events",
            "Lines of functions' output dropped past the ingestion limit",
            self.dropped_events.clone(),
        );
        r.register(
            "hako_logs_evicted_log_events",
            "Oldest events deleted to keep logs.db under its size bound",
            self.evicted_events.clone(),
        );
        let stored = Family::<GroupLabels, Gauge>::default();
        for g in groups {
            stored
                .get_or_create(&GroupLabels {
                    log_group: g.name.clone(),
                })
                .set(g.stored_bytes);
        }
        r.register(
            "hako_logs_stored_bytes",
            "Bytes of messages a log group keeps now",
            stored,
        );
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &r).is_err() {
            return "# EOF\n".to_string();
        }
        out
    }
}
