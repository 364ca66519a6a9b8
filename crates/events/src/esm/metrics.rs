//! The event source mappings' metrics, as AWS names them in CloudWatch (namespace AWS/Lambda,
//! dimension EventSourceMappingUUID), for the binary's `GET /metrics`.
//!
//! # Naming spec
//!
//! `hako_lambda_esm_<AWS metric name in snake_case>[_<unit>]`, counters with the `_total` suffix
//! the encoder adds; one series per mapping, labels `event_source_mapping_uuid` (AWS's
//! `EventSourceMappingUUID` dimension) and `function_name` (the function it invokes):
//!
//! | metric | type | AWS metric | recorded by |
//! |---|---|---|---|
//! | `hako_lambda_esm_polled_event_count_total` | counter | PolledEventCount | pollers: records read from the source |
//! | `hako_lambda_esm_filtered_out_event_count_total` | counter | FilteredOutEventCount | pollers: records no filter matched |
//! | `hako_lambda_esm_invoked_event_count_total` | counter | InvokedEventCount | pollers: records sent in an invocation |
//! | `hako_lambda_esm_failed_invoke_event_count_total` | counter | FailedInvokeEventCount | pollers: records of an invocation that failed (error, throttle, reported item failure) |
//! | `hako_lambda_esm_deleted_event_count_total` | counter | DeletedEventCount | SQS poller: messages deleted from the queue |
//! | `hako_lambda_esm_on_failure_destination_delivered_event_count_total` | counter | OnFailureDestinationDeliveredEventCount | stream poller: records sent to the OnFailure destination |
//! | `hako_lambda_esm_iterator_age_milliseconds` | gauge | IteratorAge | stream poller: age of the last record of the last batch |
//!
//! A mapping's series go when it is deleted ([`EsmMetrics::forget`]). No label takes a
//! request-derived value other than the mapping's UUID and its function's name. A poller
//! resolves its [`MappingMetrics`] once; recording is then an atomic add.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MappingLabel {
    event_source_mapping_uuid: String,
    function_name: String,
}

/// Every mapping's metrics (one registry; the binary renders it).
#[derive(Debug)]
pub struct EsmMetrics {
    registry: Registry,
    polled: Family<MappingLabel, Counter>,
    filtered_out: Family<MappingLabel, Counter>,
    invoked: Family<MappingLabel, Counter>,
    failed_invoke: Family<MappingLabel, Counter>,
    deleted: Family<MappingLabel, Counter>,
    on_failure_delivered: Family<MappingLabel, Counter>,
    iterator_age: Family<MappingLabel, Gauge>,
}

/// One mapping's handles: what a poller records with.
#[derive(Debug, Clone)]
pub struct MappingMetrics {
    pub polled: Counter,
    pub filtered_out: Counter,
    pub invoked: Counter,
    pub failed_invoke: Counter,
    pub deleted: Counter,
    pub on_failure_delivered: Counter,
    /// IteratorAge, in milliseconds.
    pub iterator_age_ms: Gauge,
}

impl Default for EsmMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl EsmMetrics {
    pub fn new() -> EsmMetrics {
        let mut registry = Registry::with_prefix("hako_lambda_esm");
        let mut counter = |name: &str, help: &str| {
            let f = Family::<MappingLabel, Counter>::default();
            registry.register(name, help, f.clone());
            f
        };
        let polled = counter(
            "polled_event_count",
            "Records read from the event source (AWS's PolledEventCount)",
        );
        let filtered_out = counter(
            "filtered_out_event_count",
            "Records that no filter of the mapping matched (AWS's FilteredOutEventCount)",
        );
        let invoked = counter(
            "invoked_event_count",
            "Records sent to the function (AWS's InvokedEventCount)",
        );
        let failed_invoke = counter(
            "failed_invoke_event_count",
            "Records of invocations that failed (AWS's FailedInvokeEventCount)",
        );
        let deleted = counter(
            "deleted_event_count",
            "Messages the mapping deleted from its queue (AWS's DeletedEventCount)",
        );
        let on_failure_delivered = counter(
            "on_failure_destination_delivered_event_count",
            "Records sent to the OnFailure destination (AWS's OnFailureDestinationDeliveredEventCount)",
        );
        let iterator_age = Family::<MappingLabel, Gauge>::default();
        registry.register_with_unit(
            "iterator_age",
            "Age of the last record of the last batch read from a stream (AWS's IteratorAge)",
            Unit::Other("milliseconds".into()),
            iterator_age.clone(),
        );
        EsmMetrics {
            registry,
            polled,
            filtered_out,
            invoked,
            failed_invoke,
            deleted,
            on_failure_delivered,
            iterator_age,
        }
    }

    /// The handles of mapping `uuid` (of `function_name`).
    pub fn mapping(&self, uuid: &str, function_name: &str) -> MappingMetrics {
        let l = MappingLabel {
            event_source_mapping_uuid: uuid.to_string(),
            function_name: function_name.to_string(),
        };
        MappingMetrics {
            polled: self.polled.get_or_create(&l).clone(),
            filtered_out: self.filtered_out.get_or_create(&l).clone(),
            invoked: self.invoked.get_or_create(&l).clone(),
            failed_invoke: self.failed_invoke.get_or_create(&l).clone(),
            deleted: self.deleted.get_or_create(&l).clone(),
            on_failure_delivered: self.on_failure_delivered.get_or_create(&l).clone(),
            iterator_age_ms: self.iterator_age.get_or_create(&l).clone(),
        }
    }

    /// Removes every series of mapping `uuid` (it was deleted).
    pub fn forget(&self, uuid: &str, function_name: &str) {
        let l = MappingLabel {
            event_source_mapping_uuid: uuid.to_string(),
            function_name: function_name.to_string(),
        };
        for f in [
            &self.polled,
            &self.filtered_out,
            &self.invoked,
            &self.failed_invoke,
            &self.deleted,
            &self.on_failure_delivered,
        ] {
            f.remove(&l);
        }
        self.iterator_age.remove(&l);
    }

    /// Every series, in the OpenMetrics text format (ending in `# EOF`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out = "# EOF\n".into();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family is rendered under its spec'd name once recorded, and goes with its mapping.
    #[test]
    fn names_follow_the_spec_and_series_go_with_their_mapping() {
        let m = EsmMetrics::new();
        let h = m.mapping("u-1", "f");
        h.polled.inc();
        h.filtered_out.inc();
        h.invoked.inc();
        h.failed_invoke.inc();
        h.deleted.inc();
        h.on_failure_delivered.inc();
        h.iterator_age_ms.set(5);
        let text = m.render();
        for name in [
            "hako_lambda_esm_polled_event_count_total",
            "hako_lambda_esm_filtered_out_event_count_total",
            "hako_lambda_esm_invoked_event_count_total",
            "hako_lambda_esm_failed_invoke_event_count_total",
            "hako_lambda_esm_deleted_event_count_total",
            "hako_lambda_esm_on_failure_destination_delivered_event_count_total",
            "hako_lambda_esm_iterator_age_milliseconds",
        ] {
            let line = format!("{name}{{event_source_mapping_uuid=\"u-1\",function_name=\"f\"}}");
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        m.forget("u-1", "f");
        assert!(!m.render().contains("u-1"));
    }
}
