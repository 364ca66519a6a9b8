//! The poller of a stream event source mapping (Kinesis): it reads every shard of the stream
//! and invokes the mapping's function with AWS's Kinesis event, with AWS's stream semantics
//! (the Lambda developer guide, "Using Lambda with Kinesis Data Streams" and its pages on
//! batching, error handling, partial batch responses and tumbling windows):
//!
//! - Per shard, records reach the function in order, one batch in flight at a time; with a
//!   ParallelizationFactor of 2-10 one batch per lane, a record's lane chosen by its partition
//!   key, so records of one key keep their order.
//! - A failing batch blocks its lane and is retried until it succeeds, MaximumRetryAttempts run
//!   out, or its records are older than MaximumRecordAgeInSeconds; then the OnFailure
//!   destination (an SQS queue) receives AWS's invocation record and the lane moves on.
//!   BisectBatchOnFunctionError splits a failing batch in halves (a split spends no retry: a
//!   record is isolated before retries are counted); ReportBatchItemFailures checkpoints
//!   before the lowest failed sequence number.
//! - The position of each shard is a checkpoint in `esm.db` (`store.rs`), committed in the
//!   invocation's settlement (`Lambda::invoke_then`), before its concurrency slot is given
//!   back: after `kill -9` the records after the checkpoint are delivered again (at least
//!   once, in order), never skipped.
//! - An idle stream costs nothing: a shard of Hako's Kinesis waits on the stream's write watch
//!   (`Kinesis::subscribe`), never on a timer; a shard of a stream outside Hako (an external
//!   source, `reader.rs`) is polled with GetRecords once a second while idle, as Lambda does.
//!
//! What the mapping's API says (the record in Lambda's tables) comes in as [`StreamSettings`];
//! how the poller fares goes out through [`StreamStatus`], which the supervisor reads
//! (LastProcessingResult, IteratorAge and the mapping's counts).

mod event;
pub mod reader;
mod shard;
pub mod store;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hako_lambda::Lambda;
use hako_sqs::Sqs;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

pub use crate::streams::reader::StreamSource;
pub use crate::streams::store::StreamStore;

/// Where a mapping starts reading a shard it has no checkpoint for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    /// The first record that arrived at or after this time (ms since the epoch).
    AtTimestamp(i64),
}

/// What a Kinesis event source mapping says, as the poller needs it.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The mapping's UUID (its checkpoints are kept under it).
    pub uuid: String,
    pub mapping_arn: String,
    pub function_name: String,
    pub qualifier: Option<String>,
    pub stream_arn: String,
    pub starting_position: StartingPosition,
    /// Records per batch, at most (1-10,000).
    pub batch_size: usize,
    /// How long a lane gathers records before it invokes with fewer than `batch_size`.
    pub maximum_batching_window: Duration,
    /// Concurrent batches per shard (1-10).
    pub parallelization_factor: u32,
    /// Retries of a failing batch; -1: until it succeeds or its records are too old.
    pub maximum_retry_attempts: i64,
    /// The oldest a record may be when it is handed to the function, in seconds; -1: no limit.
    pub maximum_record_age_seconds: i64,
    pub bisect_batch_on_function_error: bool,
    pub report_batch_item_failures: bool,
    /// 0: no tumbling window.
    pub tumbling_window_seconds: u32,
    /// The ARN of the SQS queue that receives the invocation record of discarded records.
    pub on_failure: Option<String>,
    /// The FilterCriteria's patterns (JSON text each); a record matching none is skipped.
    pub filter_patterns: Vec<String>,
}

/// How the poller is told to behave beyond the mapping's settings (the binary decides).
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The first delay before retrying a failed batch; it doubles up to `retry_delay_max`.
    pub retry_delay: Duration,
    pub retry_delay_max: Duration,
    /// How long to wait before trying again when the stream cannot be read (deleted,
    /// still being created).
    pub unavailable_delay: Duration,
    /// Multiplies MaximumRecordAgeInSeconds (1 = AWS's; the binary's hidden
    /// `--async-delay-scale` sets it for the end-to-end tests, which cannot wait a minute).
    pub record_age_scale: f64,
}

impl Default for StreamConfig {
    fn default() -> StreamConfig {
        StreamConfig {
            retry_delay: Duration::from_millis(100),
            retry_delay_max: Duration::from_secs(5),
            unavailable_delay: Duration::from_secs(1),
            record_age_scale: 1.0,
        }
    }
}

/// What a stream poller needs.
#[derive(Clone)]
pub struct StreamDeps {
    pub lambda: Arc<Lambda>,
    /// The stream the mapping reads (Hako's Kinesis, or an external source's).
    pub source: StreamSource,
    /// Hako's SQS, for OnFailure destinations (`None`: the record cannot be delivered and is
    /// logged).
    pub sqs: Option<Sqs>,
    pub store: Arc<StreamStore>,
    pub config: StreamConfig,
}

/// AWS's LastProcessingResult values, as recorded against AWS (LocalStack's
/// `test_lambda_integration_kinesis.snapshot.json`: a new mapping says "No records processed",
/// one whose function has run "OK"; AWS's developer guide, "Using Lambda with Kinesis",
/// shows "PROBLEM: Function call failed" for a mapping whose function returned an error). A
/// stream outside Hako that cannot be read is said as "PROBLEM: " and the error (AWS's
/// wording for that has no recording we could cite).
pub mod result {
    pub const NO_RECORDS: &str = "No records processed";
    pub const OK: &str = "OK";
    pub const FUNCTION_CALL_FAILED: &str = "PROBLEM: Function call failed";
}

/// The longest wait between two tries of a stream outside Hako that cannot be read.
pub(crate) const REMOTE_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How a mapping's poller fares: what the supervisor reads for GetEventSourceMapping and the
/// metrics. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct StreamStatus {
    last_processing_result: Mutex<&'static str>,
    /// Why the stream (outside Hako) cannot be read, while it cannot.
    source_problem: Mutex<Option<String>>,
    /// How far behind the newest record of its shard the last batch handed to the function
    /// was (the greatest over the shards' latest reads), in ms.
    iterator_age_ms: AtomicI64,
    /// Records read from the stream.
    pub polled: AtomicU64,
    /// Records the filter criteria dropped without an invocation.
    pub filtered_out: AtomicU64,
    /// Records handed to the function (every try counts).
    pub invoked: AtomicU64,
    /// Records of invocations that failed (every try counts).
    pub failed_invoke: AtomicU64,
    /// Records whose invocation record reached the OnFailure destination.
    pub on_failure_delivered: AtomicU64,
}

impl Default for StreamStatus {
    fn default() -> StreamStatus {
        StreamStatus {
            last_processing_result: Mutex::new(result::NO_RECORDS),
            source_problem: Mutex::new(None),
            iterator_age_ms: AtomicI64::new(0),
            polled: AtomicU64::new(0),
            filtered_out: AtomicU64::new(0),
            invoked: AtomicU64::new(0),
            failed_invoke: AtomicU64::new(0),
            on_failure_delivered: AtomicU64::new(0),
        }
    }
}

impl StreamStatus {
    /// The mapping's LastProcessingResult: the source's problem while it cannot be read, else
    /// the last invocation's result.
    pub fn last_processing_result(&self) -> String {
        if let Some(p) = self.source_problem.lock().as_ref() {
            return format!("PROBLEM: {p}");
        }
        (*self.last_processing_result.lock()).to_string()
    }

    pub(crate) fn set_result(&self, r: &'static str) {
        *self.last_processing_result.lock() = r;
    }

    pub(crate) fn set_source_problem(&self, why: &str) {
        *self.source_problem.lock() = Some(why.to_string());
    }

    pub(crate) fn clear_source_problem(&self) {
        *self.source_problem.lock() = None;
    }

    /// The IteratorAge of the last batch handed to the function, in ms.
    pub fn iterator_age_ms(&self) -> i64 {
        self.iterator_age_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn set_iterator_age(&self, ms: i64) {
        self.iterator_age_ms.store(ms.max(0), Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Runs every shard of the mapping's stream until `cancel` is cancelled. Never fails: a stream
/// that cannot be read (not yet created, deleted) is tried again after
/// `config.unavailable_delay`, and said in the status.
pub async fn run(
    deps: StreamDeps,
    settings: StreamSettings,
    status: Arc<StreamStatus>,
    cancel: CancellationToken,
) {
    let settings = Arc::new(settings);
    let mut retry = deps.config.unavailable_delay;
    let shards = loop {
        match deps.source.shard_ids(&settings.stream_arn).await {
            Ok(ids) => {
                status.clear_source_problem();
                break ids;
            }
            Err(e) => {
                tracing::warn!(mapping = %settings.uuid, stream = %settings.stream_arn,
                    error = %e.message, "the mapping's stream cannot be read");
                let delay = retry;
                if e.remote {
                    status.set_source_problem(&e.message);
                    retry = (retry * 2).min(REMOTE_BACKOFF_MAX);
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for shard_id in shards {
        let ctx = shard::ShardCtx::new(
            deps.clone(),
            settings.clone(),
            status.clone(),
            shard_id,
            cancel.clone(),
        );
        tasks.spawn(ctx.run());
    }
    while tasks.join_next().await.is_some() {}
}
