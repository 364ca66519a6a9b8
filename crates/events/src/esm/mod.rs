//! Event source mappings: the supervisor that runs one poller per enabled mapping, and the
//! pollers (`sqs.rs`; the Kinesis stream poller is `crate::streams`'s).
//!
//! The supervisor reads every mapping at start and again on every change (the application
//! layer's `esm_changes` wake-up, fired by Create/Update/Delete). For each mapping it makes the
//! pollers match what is stored: an enabled mapping has one poller task, under a child token of
//! the supervisor's, for the revision it was started with; a change (a new revision) stops that
//! poller and starts one with the new settings; a disabled or deleted mapping has none. Once the
//! pollers match, the transient state settles (`Creating`/`Enabling`/`Updating` -> `Enabled`,
//! `Disabling` -> `Disabled`), and a `Deleting` mapping is removed.
//!
//! Stopping a poller stops its receiving at once; a batch already handed to the function runs
//! to its end (its outcome is settled as usual), so disabling stops delivery without losing or
//! repeating anything. Pollers invoke through `hako_lambda::Lambda::invoke`, never a sandbox.

pub mod external;
mod metrics;
mod sqs;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hako_lambda::{EventSources, Lambda, QueueSource};
use hako_model::esm::{EsmRecord, EsmState, SourceKind};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use external::{ExternalSource, ExternalSources};
pub use metrics::{EsmMetrics, MappingMetrics};

use crate::streams::{
    StartingPosition, StreamConfig, StreamDeps, StreamSettings, StreamSource, StreamStatus,
    StreamStore,
};

/// What the supervisor needs besides the application layer.
#[derive(Clone)]
pub struct EsmConfig {
    /// Hako's SQS (the queues SQS mappings poll, the OnFailure queues of stream mappings).
    pub sqs: hako_sqs::Sqs,
    pub metrics: Arc<EsmMetrics>,
    /// What stream mappings' pollers need (`None`: stream mappings are stored, not polled).
    pub streams: Option<StreamPollers>,
    /// Queues and streams outside Hako (the binary's configuration): a mapping whose ARN
    /// matches one of them polls it there.
    pub external: ExternalSources,
}

/// Hako's Kinesis and the stream pollers' checkpoints.
#[derive(Clone)]
pub struct StreamPollers {
    pub kinesis: hako_kinesis::Kinesis,
    pub store: Arc<StreamStore>,
    pub config: StreamConfig,
}

/// How often a stream poller's status is copied to its mapping and the metrics.
const STREAM_STATUS_EVERY: Duration = Duration::from_secs(1);

/// The queues and streams a mapping may name, answered from Hako's SQS (and Kinesis, through
/// the check the binary gives), and from the configured external sources: an ARN one of them
/// serves is accepted without asking it (its endpoint may be down when the mapping is made;
/// the poller says so in the mapping's LastProcessingResult); a queue whose name ends in
/// `.fifo` is a FIFO queue, as SQS names them.
pub struct Sources {
    sqs: hako_sqs::Sqs,
    stream_exists: Box<dyn Fn(&str) -> bool + Send + Sync>,
    external: ExternalSources,
}

impl Sources {
    pub fn new(
        sqs: hako_sqs::Sqs,
        stream_exists: impl Fn(&str) -> bool + Send + Sync + 'static,
        external: ExternalSources,
    ) -> Sources {
        Sources {
            sqs,
            stream_exists: Box::new(stream_exists),
            external,
        }
    }
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

impl EventSources for Sources {
    fn queue(&self, arn: &str) -> Option<QueueSource> {
        if self.external.queue(arn).is_some() {
            return Some(QueueSource {
                fifo: arn.ends_with(".fifo"),
            });
        }
        self.sqs.queue_is_fifo(arn).map(|fifo| QueueSource { fifo })
    }
    fn stream_exists(&self, arn: &str) -> bool {
        self.external.stream(arn).is_some() || (self.stream_exists)(arn)
    }
    fn external(&self, arn: &str) -> bool {
        self.external.serves(arn)
    }
}

/// A mapping's processing result, written to its record only when it changes (so a poller may
/// report after every batch without a write per batch).
#[derive(Debug)]
pub struct ProcessingReport {
    lambda: Arc<Lambda>,
    uuid: String,
    last: parking_lot::Mutex<Option<String>>,
}

impl ProcessingReport {
    /// `stored`: the mapping's result as stored (a new poller reports only a change from it).
    pub fn new(lambda: Arc<Lambda>, uuid: &str, stored: Option<String>) -> ProcessingReport {
        ProcessingReport {
            lambda,
            uuid: uuid.to_string(),
            last: parking_lot::Mutex::new(stored),
        }
    }

    /// Records `result` (AWS's words: `OK`, `PROBLEM: ...`) as the mapping's
    /// `LastProcessingResult`.
    pub fn report(&self, result: &str) {
        let mut last = self.last.lock();
        if last.as_deref() == Some(result) {
            return;
        }
        match self.lambda.set_last_processing_result(&self.uuid, result) {
            Ok(()) => *last = Some(result.to_string()),
            Err(e) => {
                tracing::warn!(uuid = %self.uuid, error = %e, "cannot record the processing result")
            }
        }
    }
}

/// One running poller.
struct Running {
    revision: String,
    function_name: String,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    /// A stream poller's status, copied out by the supervisor.
    stream: Option<StreamWatch>,
}

/// A stream poller's status and what of it was copied to the metrics and the mapping.
struct StreamWatch {
    status: Arc<StreamStatus>,
    metrics: MappingMetrics,
    report: ProcessingReport,
    /// polled, filtered out, invoked, failed, delivered to OnFailure: as last copied.
    copied: [u64; 5],
}

impl StreamWatch {
    fn sync(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.status;
        let now = [
            s.polled.load(Relaxed),
            s.filtered_out.load(Relaxed),
            s.invoked.load(Relaxed),
            s.failed_invoke.load(Relaxed),
            s.on_failure_delivered.load(Relaxed),
        ];
        let m = &self.metrics;
        let counters = [
            &m.polled,
            &m.filtered_out,
            &m.invoked,
            &m.failed_invoke,
            &m.on_failure_delivered,
        ];
        for ((c, n), before) in counters.iter().zip(now).zip(self.copied.iter_mut()) {
            c.inc_by(n.saturating_sub(*before));
            *before = n;
        }
        m.iterator_age_ms.set(s.iterator_age_ms());
        // A poller that has processed nothing yet leaves what an earlier run recorded.
        let result = s.last_processing_result();
        if result != crate::streams::result::NO_RECORDS || self.report.last.lock().is_none() {
            self.report.report(&result);
        }
    }
}

impl Running {
    /// Stops the poller and waits for its receiving to end (bounded).
    async fn stop(mut self) {
        self.stop.cancel();
        if let Some(w) = &mut self.stream {
            w.sync();
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// The supervisor: runs until `stop` is cancelled, then stops every poller.
pub async fn supervise(lambda: Arc<Lambda>, cfg: EsmConfig, stop: CancellationToken) {
    let mut running: HashMap<String, Running> = HashMap::new();
    loop {
        // Registered before reading, so a change made while reading wakes the next wait.
        let changed = lambda.esm_changes().notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if let Err(e) = reconcile(&lambda, &cfg, &stop, &mut running).await {
            tracing::warn!(error = %e, "event source mappings: cannot read the mappings; retrying");
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        }
        // While stream pollers run, their status is copied out every second.
        loop {
            let streams = running.values().any(|r| r.stream.is_some());
            tokio::select! {
                _ = stop.cancelled() => {
                    for (_, r) in running.drain() {
                        r.stop().await;
                    }
                    return;
                }
                _ = &mut changed => break,
                _ = tokio::time::sleep(STREAM_STATUS_EVERY), if streams => {
                    for w in running.values_mut().filter_map(|r| r.stream.as_mut()) {
                        w.sync();
                    }
                }
            }
        }
    }
    for (_, r) in running.drain() {
        r.stop().await;
    }
}

/// Makes the pollers match the stored mappings, then settles their states.
async fn reconcile(
    lambda: &Arc<Lambda>,
    cfg: &EsmConfig,
    stop: &CancellationToken,
    running: &mut HashMap<String, Running>,
) -> Result<(), hako_model::Error> {
    let mappings = lambda.event_source_mappings()?;
    let stored: HashMap<&str, &EsmRecord> = mappings.iter().map(|m| (m.uuid.as_str(), m)).collect();
    // Pollers of mappings that are gone, disabled, deleting or changed stop first.
    let stale: Vec<String> = running
        .iter()
        .filter(|(uuid, r)| {
            stored
                .get(uuid.as_str())
                .is_none_or(|m| !m.polling() || m.revision != r.revision)
        })
        .map(|(uuid, _)| uuid.clone())
        .collect();
    for uuid in stale {
        if let Some(r) = running.remove(&uuid) {
            let gone = stored
                .get(uuid.as_str())
                .is_none_or(|m| m.state == EsmState::Deleting);
            let function = r.function_name.clone();
            r.stop().await;
            if gone {
                forget(cfg, &uuid, &function);
            }
        }
    }
    for m in &mappings {
        if m.polling() && !running.contains_key(&m.uuid) {
            let token = stop.child_token();
            let (task, stream) = start_poller(lambda, cfg, m, token.clone());
            running.insert(
                m.uuid.clone(),
                Running {
                    revision: m.revision.clone(),
                    function_name: m.function_name.clone(),
                    stop: token,
                    task,
                    stream,
                },
            );
        }
        let transient = m.state != m.state.settled(m.enabled) || m.state == EsmState::Deleting;
        if transient {
            if m.state == EsmState::Deleting {
                forget(cfg, &m.uuid, &m.function_name);
            }
            lambda.settle_event_source_mapping(&m.uuid, &m.revision)?;
        }
    }
    Ok(())
}

/// Forgets what Hako keeps of a deleted mapping besides its record: its metrics, a stream
/// mapping's checkpoints.
fn forget(cfg: &EsmConfig, uuid: &str, function_name: &str) {
    cfg.metrics.forget(uuid, function_name);
    if let Some(s) = &cfg.streams {
        if let Err(e) = s.store.forget(uuid) {
            tracing::warn!(uuid = %uuid, error = %e, "cannot forget a deleted mapping's checkpoints");
        }
    }
}

/// What the stream poller is told of a Kinesis mapping.
fn stream_settings(region: &hako_model::Region, m: &EsmRecord) -> StreamSettings {
    let starting_position = match m.starting_position.as_deref() {
        Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
        Some("AT_TIMESTAMP") => StartingPosition::AtTimestamp(
            (m.starting_position_timestamp.unwrap_or(0.0) * 1000.0) as i64,
        ),
        _ => StartingPosition::Latest,
    };
    StreamSettings {
        uuid: m.uuid.clone(),
        mapping_arn: m.arn(region),
        function_name: m.function_name.clone(),
        qualifier: m.qualifier.clone(),
        stream_arn: m.event_source_arn.clone(),
        starting_position,
        batch_size: m.batch_size.max(1) as usize,
        maximum_batching_window: Duration::from_secs(u64::from(m.maximum_batching_window_s)),
        parallelization_factor: m.parallelization_factor.max(1),
        maximum_retry_attempts: m.maximum_retry_attempts,
        maximum_record_age_seconds: m.maximum_record_age_s,
        bisect_batch_on_function_error: m.bisect_batch_on_function_error,
        report_batch_item_failures: m.report_batch_item_failures,
        tumbling_window_seconds: m.tumbling_window_s,
        on_failure: m.on_failure.clone(),
        filter_patterns: m.filters.clone(),
    }
}

/// Starts the poller of one enabled mapping (and, for a stream, the status to watch).
fn start_poller(
    lambda: &Arc<Lambda>,
    cfg: &EsmConfig,
    m: &EsmRecord,
    stop: CancellationToken,
) -> (Option<JoinHandle<()>>, Option<StreamWatch>) {
    match m.source {
        SourceKind::Sqs => {
            let poller = sqs::Poller::new(lambda.clone(), cfg, m.clone());
            (Some(tokio::spawn(poller.run(stop))), None)
        }
        SourceKind::Kinesis => {
            let Some(s) = &cfg.streams else {
                tracing::warn!(uuid = %m.uuid, source = %m.event_source_arn,
                    "no Kinesis in this supervisor: the stream mapping is stored but polls nothing");
                return (None, None);
            };
            let source = match cfg.external.stream(&m.event_source_arn) {
                Some(remote) => StreamSource::Remote(Arc::new(remote)),
                None => StreamSource::Local(s.kinesis.clone()),
            };
            let deps = StreamDeps {
                lambda: lambda.clone(),
                source,
                sqs: Some(cfg.sqs.clone()),
                store: s.store.clone(),
                config: s.config.clone(),
            };
            let status = Arc::new(StreamStatus::default());
            let settings = stream_settings(lambda.region(), m);
            let task = tokio::spawn(crate::streams::run(deps, settings, status.clone(), stop));
            let watch = StreamWatch {
                status,
                metrics: cfg.metrics.mapping(&m.uuid, &m.function_name),
                report: ProcessingReport::new(
                    lambda.clone(),
                    &m.uuid,
                    m.last_processing_result.clone(),
                ),
                copied: [0; 5],
            };
            (Some(task), Some(watch))
        }
    }
}

#[cfg(test)]
mod tests;
