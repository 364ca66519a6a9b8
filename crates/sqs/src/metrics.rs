//! SQS's metrics, as AWS names them in CloudWatch (namespace AWS/SQS, dimension QueueName), for
//! the binary's `GET /metrics`.
//!
//! # Naming spec
//!
//! `hako_sqs_<AWS metric name in snake_case>[_<unit>]`, counters with the `_total` suffix the
//! encoder adds, one series per queue (label `queue_name`, AWS's `QueueName` dimension):
//!
//! | metric | type | AWS metric |
//! |---|---|---|
//! | `hako_sqs_approximate_number_of_messages_visible` | gauge | ApproximateNumberOfMessagesVisible |
//! | `hako_sqs_approximate_number_of_messages_not_visible` | gauge | ApproximateNumberOfMessagesNotVisible |
//! | `hako_sqs_approximate_number_of_messages_delayed` | gauge | ApproximateNumberOfMessagesDelayed |
//! | `hako_sqs_approximate_age_of_oldest_message_seconds` | gauge | ApproximateAgeOfOldestMessage |
//! | `hako_sqs_number_of_messages_sent_total` | counter | NumberOfMessagesSent |
//! | `hako_sqs_number_of_messages_received_total` | counter | NumberOfMessagesReceived |
//! | `hako_sqs_number_of_messages_deleted_total` | counter | NumberOfMessagesDeleted |
//! | `hako_sqs_number_of_empty_receives_total` | counter | NumberOfEmptyReceives |
//!
//! The gauges are read from the queues' index when the metrics are rendered (the requests pay
//! nothing for them); the counters count since the start, as the requests happen. A deleted
//! queue's series go with it. No label takes a request-derived value other than a queue's name.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::app::Sqs;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue_name: String,
}

impl Sqs {
    /// Every SQS metric in the OpenMetrics text format (ending in `# EOF`).
    pub fn render_metrics(&self) -> String {
        let mut registry = Registry::with_prefix("hako_sqs");
        let gauge = |registry: &mut Registry, name: &str, help: &str, unit: Option<Unit>| {
            let f = Family::<QueueLabel, Gauge>::default();
            match unit {
                Some(u) => registry.register_with_unit(name, help, u, f.clone()),
                None => registry.register(name, help, f.clone()),
            }
            f
        };
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let f = Family::<QueueLabel, Counter>::default();
            registry.register(name, help, f.clone());
            f
        };
        let visible = gauge(
            &mut registry,
            "approximate_number_of_messages_visible",
            "Messages available for retrieval (AWS's ApproximateNumberOfMessagesVisible)",
            None,
        );
        let not_visible = gauge(
            &mut registry,
            "approximate_number_of_messages_not_visible",
            "Messages in flight (AWS's ApproximateNumberOfMessagesNotVisible)",
            None,
        );
        let delayed = gauge(
            &mut registry,
            "approximate_number_of_messages_delayed",
            "Messages delayed, not yet available (AWS's ApproximateNumberOfMessagesDelayed)",
            None,
        );
        let age = gauge(
            &mut registry,
            "approximate_age_of_oldest_message",
            "Age of the oldest message in the queue (AWS's ApproximateAgeOfOldestMessage)",
            Some(Unit::Seconds),
        );
        let sent = counter(
            &mut registry,
            "number_of_messages_sent",
            "Messages added to the queue (AWS's NumberOfMessagesSent)",
        );
        let received = counter(
            &mut registry,
            "number_of_messages_received",
            "Messages returned by ReceiveMessage (AWS's NumberOfMessagesReceived)",
        );
        let deleted = counter(
            &mut registry,
            "number_of_messages_deleted",
            "Messages deleted (AWS's NumberOfMessagesDeleted)",
        );
        let empty = counter(
            &mut registry,
            "number_of_empty_receives",
            "ReceiveMessage calls that returned no message (AWS's NumberOfEmptyReceives)",
        );
        for (s, c) in self.stats() {
            let l = QueueLabel {
                queue_name: s.name.clone(),
            };
            visible.get_or_create(&l).set(s.visible as i64);
            not_visible.get_or_create(&l).set(s.in_flight as i64);
            delayed.get_or_create(&l).set(s.delayed as i64);
            age.get_or_create(&l).set(s.oldest_age_s);
            sent.get_or_create(&l).inc_by(c.sent);
            received.get_or_create(&l).inc_by(c.received);
            deleted.get_or_create(&l).inc_by(c.deleted);
            empty.get_or_create(&l).inc_by(c.empty_receives);
        }
        let mut out = String::with_capacity(2048);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hako_model::clock::ManualClock;
    use hako_model::Region;

    use crate::app::{Caller, Sqs};
    use crate::wire::{CreateQueueRequest, SendMessageRequest};

    #[test]
    fn every_metric_is_rendered_per_queue() {
        let sqs = Sqs::in_memory(Region::default(), Arc::new(ManualClock::new(1_000_000))).unwrap();
        let caller = Caller {
            endpoint: "http://h",
            sender_id: "s",
        };
        sqs.create_queue(
            CreateQueueRequest {
                queue_name: Some("q1".into()),
                ..Default::default()
            },
            &caller,
        )
        .unwrap();
        sqs.send(
            SendMessageRequest {
                queue_url: Some("q1".into()),
                message_body: Some("x".into()),
                ..Default::default()
            },
            &caller,
        )
        .unwrap();
        let text = sqs.render_metrics();
        for line in [
            "hako_sqs_approximate_number_of_messages_visible{queue_name=\"q1\"} 1",
            "hako_sqs_approximate_number_of_messages_not_visible{queue_name=\"q1\"} 0",
            "hako_sqs_approximate_number_of_messages_delayed{queue_name=\"q1\"} 0",
            "hako_sqs_approximate_age_of_oldest_message_seconds{queue_name=\"q1\"} 0",
            "hako_sqs_number_of_messages_sent_total{queue_name=\"q1\"} 1",
            "hako_sqs_number_of_messages_received_total{queue_name=\"q1\"} 0",
            "hako_sqs_number_of_messages_deleted_total{queue_name=\"q1\"} 0",
            "hako_sqs_number_of_empty_receives_total{queue_name=\"q1\"} 0",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
