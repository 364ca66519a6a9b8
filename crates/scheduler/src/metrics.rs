//! The Scheduler's metrics, named after AWS's EventBridge Scheduler CloudWatch metrics
//! (namespace AWS/Scheduler), rendered for the binary's `GET /metrics`. The schedule task of
//! `hako_events` records them.
//!
//! # Naming spec
//!
//! `hako_scheduler_<AWS metric name in snake_case>`, counters with the `_total` suffix the encoder
//! adds; one label, `schedule_group` (AWS's ScheduleGroup dimension):
//!
//! | metric | AWS metric |
//! |---|---|
//! | `hako_scheduler_invocation_attempt_count_total` | InvocationAttemptCount |
//! | `hako_scheduler_target_error_count_total` | TargetErrorCount |
//! | `hako_scheduler_target_error_throttled_count_total` | TargetErrorThrottledCount |
//! | `hako_scheduler_invocation_dropped_count_total` | InvocationDroppedCount |
//! | `hako_scheduler_invocations_sent_to_dead_letter_count_total` | InvocationsSentToDeadLetterCount |
//! | `hako_scheduler_invocations_failed_to_be_sent_to_dead_letter_count_total` | InvocationsFailedToBeSentToDeadLetterCount |
//!
//! # Cardinality
//!
//! One series per metric and schedule group that fired since the start.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    schedule_group: String,
}

/// What happened to one attempt or one firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An attempt to invoke the target (successful or not).
    Attempt,
    /// The target answered an error.
    TargetError,
    /// The target answered that it throttled the call.
    TargetThrottled,
    /// A firing given up with no dead-letter queue to take it.
    Dropped,
    /// A firing given up and sent to its dead-letter queue.
    SentToDeadLetter,
    /// A firing given up whose dead-letter queue refused it.
    DeadLetterFailed,
}

fn labels(group: &str) -> GroupLabels {
    GroupLabels {
        schedule_group: group.to_string(),
    }
}

#[derive(Debug, Default)]
pub struct SchedulerMetrics {
    attempts: Family<GroupLabels, Counter>,
    target_errors: Family<GroupLabels, Counter>,
    throttled: Family<GroupLabels, Counter>,
    dropped: Family<GroupLabels, Counter>,
    dead_lettered: Family<GroupLabels, Counter>,
    dead_letter_failed: Family<GroupLabels, Counter>,
}

impl SchedulerMetrics {
    fn family(&self, outcome: Outcome) -> &Family<GroupLabels, Counter> {
        match outcome {
            Outcome::Attempt => &self.attempts,
            Outcome::TargetError => &self.target_errors,
            Outcome::TargetThrottled => &self.throttled,
            Outcome::Dropped => &self.dropped,
            Outcome::SentToDeadLetter => &self.dead_lettered,
            Outcome::DeadLetterFailed => &self.dead_letter_failed,
        }
    }

    pub fn record(&self, group: &str, outcome: Outcome) {
        self.family(outcome).get_or_create(&labels(group)).inc();
    }

    /// A count recorded so far (tests).
    pub fn count(&self, group: &str, outcome: Outcome) -> u64 {
        self.family(outcome).get_or_create(&labels(group)).get()
    }

    /// The OpenMetrics text of these metrics (ends with `# EOF`).
    pub fn render(&self) -> String {
        let mut r = Registry::default();
        r.register(
            "hako_scheduler_invocation_attempt_count",
            "Attempts to invoke a schedule's target (AWS: InvocationAttemptCount)",
            self.attempts.clone(),
        );
        r.register(
            "hako_scheduler_target_error_count",
            "Invocations the target answered with an error (AWS: TargetErrorCount)",
            self.target_errors.clone(),
        );
        r.register(
            "hako_scheduler_target_error_throttled_count",
            "Invocations the target throttled (AWS: TargetErrorThrottledCount)",
            self.throttled.clone(),
        );
        r.register(
            "hako_scheduler_invocation_dropped_count",
            "Firings given up without a dead-letter queue (AWS: InvocationDroppedCount)",
            self.dropped.clone(),
        );
        r.register(
            "hako_scheduler_invocations_sent_to_dead_letter_count",
            "Firings sent to their dead-letter queue (AWS: InvocationsSentToDeadLetterCount)",
            self.dead_lettered.clone(),
        );
        r.register(
            "hako_scheduler_invocations_failed_to_be_sent_to_dead_letter_count",
            "Firings their dead-letter queue refused (AWS: \
             InvocationsFailedToBeSentToDeadLetterCount)",
            self.dead_letter_failed.clone(),
        );
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &r).is_err() {
            return "# EOF\n".to_string();
        }
        out
    }
}
