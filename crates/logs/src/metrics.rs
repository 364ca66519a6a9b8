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
