//! One shard of a mapping's stream: a reader that reads the shard in order from its checkpoint
//! and hands each record to its lane (one lane, or with a ParallelizationFactor one per
//! partition key hash), and the lanes, each delivering one batch at a time with retries,
//! bisection, partial batch responses, record age, tumbling windows and the OnFailure
//! destination.
//!
//! The checkpoint is the last record of the longest prefix of the shard that is done with
//! (delivered, filtered out or discarded): the `Tracker` keeps the records read and not yet
//! behind the checkpoint, in order. It is committed while the invocation that finished a batch
//! still holds its concurrency slot (`Lambda::invoke_then`), under the tracker's lock so that
//! lanes commit in order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use hako_kinesis::ShardRecord;
use hako_lambda::Invocation;
use hako_model::event_filter::{FilterCriteria, FilterSource};
use hako_model::Error;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::{self, Condition, LastResponse, Response, Source, Window};
use super::reader::Start;
use super::store::{Checkpoint, WindowChange, WindowState};
use super::{result, StreamDeps, StreamSettings, StreamStatus};

/// The most a synchronous invocation's payload may be (6 MB, Lambda's quota).
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest state a tumbling window keeps (1 MB per shard, the developer guide).
const MAX_WINDOW_STATE: usize = 1024 * 1024;
/// Records read from the shard at a time.
const READ_LIMIT: usize = 10_000;

/// One record on its way through a lane.
#[derive(Debug, Clone)]
struct Item {
    /// Its place among the records the reader read (for the tracker).
    ordinal: u64,
    rec: ShardRecord,
}

/// The records read and not yet behind the checkpoint, in order.
#[derive(Debug, Default)]
struct Tracker {
    /// The ordinal of `items[0]`.
    base: u64,
    items: VecDeque<(String, bool)>,
}

impl Tracker {
    fn push(&mut self, seq: &str) -> u64 {
        self.items.push_back((seq.to_string(), false));
        self.base + self.items.len() as u64 - 1
    }

    /// Marks records done; the new checkpoint when the done prefix grew.
    fn done(&mut self, ordinals: impl IntoIterator<Item = u64>) -> Option<String> {
        for o in ordinals {
            if let Some(e) = o
                .checked_sub(self.base)
                .and_then(|i| self.items.get_mut(i as usize))
            {
                e.1 = true;
            }
        }
        let mut last = None;
        while self.items.front().is_some_and(|e| e.1) {
            last = self.items.pop_front().map(|e| e.0);
            self.base += 1;
        }
        last
    }
}

/// What one invocation of a batch came to.
enum Outcome {
    /// Every record is done (and checkpointed).
    Done,
    /// The records before this index are done; the others failed (partial batch response).
    FailedFrom(usize, LastResponse),
    /// The function failed, or its response counts as a failure of the whole batch.
    Failed(LastResponse),
    /// The batch did not reach the function (throttled, the function is gone, shutting down).
    NotRun(Error),
}

/// A part of a batch being delivered.
struct Part {
    items: Vec<Item>,
    /// Invocations these records have been part of.
    invokes: u32,
    /// Failed tries of this part (a bisection starts its halves at 0).
    retries: i64,
}

pub(crate) struct ShardCtx {
    deps: StreamDeps,
    settings: Arc<StreamSettings>,
    status: Arc<StreamStatus>,
    shard_id: String,
    stream_name: String,
    cancel: CancellationToken,
    tracker: Mutex<Tracker>,
    /// The function's role by its revision (for `invokeIdentityArn`).
    role: Mutex<Option<(String, String)>>,
    /// The mapping's FilterCriteria (empty: every record passes).
    filter: FilterCriteria,
}

impl ShardCtx {
    pub(crate) fn new(
        deps: StreamDeps,
        settings: Arc<StreamSettings>,
        status: Arc<StreamStatus>,
        shard_id: String,
        cancel: CancellationToken,
    ) -> ShardCtx {
        let stream_name = hako_kinesis::model::parse_stream_arn(&settings.stream_arn)
            .map(|(_, _, name)| name.to_string())
            .unwrap_or_default();
        // The patterns were checked when the mapping was created or updated; a stored one this
        // Hako cannot read stops nothing: it is said, and every record passes.
        let filter = FilterCriteria::parse_stored(FilterSource::Kinesis, &settings.filter_patterns)
            .unwrap_or_else(|e| {
                tracing::error!(mapping = %settings.uuid, error = %e.message(),
                    "the mapping's filter criteria cannot be read: records are not filtered");
                FilterCriteria::default()
            });
        ShardCtx {
            filter,
            deps,
            settings,
            status,
            shard_id,
            stream_name,
            cancel,
            tracker: Mutex::new(Tracker::default()),
            role: Mutex::new(None),
        }
    }

    fn now_ms(&self) -> i64 {
        self.deps.lambda.clock().now_ms()
    }

    /// Runs the shard until cancelled.
    pub(crate) async fn run(self) {
        let this = Arc::new(self);
        let Some(start) = this.start_position().await else {
            return;
        };
        let lanes = this.settings.parallelization_factor.clamp(1, 10);
        let capacity = this.settings.batch_size.clamp(100, READ_LIMIT) * 2;
        let mut senders = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for lane in 0..lanes {
            let (tx, rx) = mpsc::channel(capacity);
            senders.push(tx);
            tasks.spawn(this.clone().lane(lane, rx));
        }
        let mut reader = this.deps.source.shard_reader(
            &this.settings.stream_arn,
            &this.stream_name,
            &this.shard_id,
            start,
        );
        let mut unreadable = false;
        // A remote source that fails is tried again with a backoff (doubling up to
        // REMOTE_BACKOFF_MAX); Hako's own Kinesis every `unavailable_delay`.
        let mut retry = this.deps.config.unavailable_delay;
        'reading: loop {
            let read = tokio::select! {
                _ = this.cancel.cancelled() => break,
                r = reader.read(READ_LIMIT) => r,
            };
            let batch = match read {
                Ok(b) => {
                    if unreadable {
                        this.status.clear_source_problem();
                        retry = this.deps.config.unavailable_delay;
                    }
                    unreadable = false;
                    b
                }
                Err(e) => {
                    // Said once per outage (a deleted stream would say it every second).
                    if !unreadable {
                        tracing::warn!(mapping = %this.settings.uuid, shard = %this.shard_id,
                            error = %e.message, "cannot read the shard; trying again");
                    }
                    unreadable = true;
                    let delay = retry;
                    if e.remote {
                        this.status.set_source_problem(&e.message);
                        retry = (retry * 2).min(super::REMOTE_BACKOFF_MAX);
                    }
                    tokio::select! {
                        _ = this.cancel.cancelled() => break,
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            };
            if batch.records.is_empty() {
                tokio::select! {
                    _ = this.cancel.cancelled() => break,
                    _ = reader.wait(this.deps.config.unavailable_delay) => {}
                }
                continue;
            }
            StreamStatus::add(&this.status.polled, batch.records.len());
            for rec in batch.records {
                let ordinal = this.tracker.lock().push(&rec.sequence_number);
                if !this.passes_filter(&rec) {
                    StreamStatus::add(&this.status.filtered_out, 1);
                    this.done(0, [ordinal], &WindowChange::Keep);
                    continue;
                }
                let lane = lane_of(&rec.partition_key, lanes);
                let item = Item { ordinal, rec };
                tokio::select! {
                    _ = this.cancel.cancelled() => break 'reading,
                    sent = senders[lane as usize].send(item) => {
                        if sent.is_err() {
                            break 'reading;
                        }
                    }
                }
            }
        }
        drop(senders);
        while tasks.join_next().await.is_some() {}
    }

    /// Where reading starts: after the checkpoint, or (the first time) the mapping's
    /// StartingPosition, committed at once so that a restart keeps it when the source can say
    /// which record it is (Hako's Kinesis; a remote shard's first checkpoint is the first
    /// record done with).
    async fn start_position(&self) -> Option<Start> {
        loop {
            match self.resolve_start() {
                Ok(p) => return Some(p),
                Err(e) => {
                    tracing::warn!(mapping = %self.settings.uuid, shard = %self.shard_id,
                        error = %e, "cannot find where to start reading the shard");
                    tokio::select! {
                        _ = self.cancel.cancelled() => return None,
                        _ = tokio::time::sleep(self.deps.config.unavailable_delay) => {}
                    }
                }
            }
        }
    }

    fn resolve_start(&self) -> Result<Start, String> {
        let s = &self.settings;
        let store = &self.deps.store;
        match store
            .checkpoint(&s.uuid, &self.shard_id)
            .map_err(|e| e.to_string())?
        {
            Checkpoint::After(after) => Ok(Start::After(after)),
            Checkpoint::None => {
                let start = self
                    .deps
                    .source
                    .resolve_start(&s.stream_arn, &self.shard_id, s.starting_position)
                    .map_err(|e| e.message)?;
                if let Start::After(after) = &start {
                    store
                        .commit(&s.uuid, &self.shard_id, after.as_deref(), None)
                        .map_err(|e| e.to_string())?;
                }
                Ok(start)
            }
        }
    }

    /// One lane: gathers batches from its records and delivers them one at a time.
    async fn lane(self: Arc<Self>, lane: u32, mut rx: mpsc::Receiver<Item>) {
        let s = self.settings.clone();
        let window_ms = i64::from(s.tumbling_window_seconds) * 1000;
        let mut window = if window_ms > 0 {
            self.deps
                .store
                .window(&s.uuid, &self.shard_id, lane)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read a tumbling window's state");
                    None
                })
        } else {
            None
        };
        let mut carry: Option<Item> = None;
        loop {
            let first = match carry.take() {
                Some(i) => i,
                None => {
                    let window_end = window.as_ref().map(|w| w.start_ms + window_ms);
                    let wait = window_end.map(|end| (end - self.now_ms()).max(0) as u64);
                    tokio::select! {
                        _ = self.cancel.cancelled() => return,
                        item = rx.recv() => match item {
                            Some(i) => i,
                            None => return,
                        },
                        _ = sleep_opt(wait) => {
                            if let Some(w) = window.take() {
                                if !self.final_invoke(lane, &w, window_ms, false).await {
                                    // Stopped: the window's state stays stored.
                                    return;
                                }
                            }
                            continue;
                        }
                    }
                }
            };
            let first_window = window_of(first.rec.arrival_ms, window_ms);
            let source = self.source_for_size();
            let mut size = event::record_size(&first.rec, &source);
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + s.maximum_batching_window;
            while batch.len() < s.batch_size {
                let next = match rx.try_recv() {
                    Ok(i) => Some(i),
                    Err(mpsc::error::TryRecvError::Empty)
                        if tokio::time::Instant::now() < deadline =>
                    {
                        tokio::select! {
                            _ = self.cancel.cancelled() => return,
                            i = rx.recv() => i,
                            _ = tokio::time::sleep_until(deadline) => None,
                        }
                    }
                    Err(_) => None,
                };
                let Some(next) = next else { break };
                let n = event::record_size(&next.rec, &source);
                if size + n > MAX_PAYLOAD
                    || window_of(next.rec.arrival_ms, window_ms) != first_window
                {
                    carry = Some(next);
                    break;
                }
                size += n;
                batch.push(next);
            }
            if window_ms > 0 {
                // A record of a later window closes the open one first.
                if let Some(w) = window.take() {
                    if w.start_ms != first_window {
                        if !self.final_invoke(lane, &w, window_ms, false).await {
                            return;
                        }
                    } else {
                        window = Some(w);
                    }
                }
                if window.is_none() {
                    window = Some(WindowState {
                        start_ms: first_window,
                        state: "{}".into(),
                    });
                }
            }
            self.deliver(lane, batch, &mut window).await;
            // A state past 1 MB ends the window early; the window goes on with a fresh state
            // (the developer guide's tumbling window page; aws_lambda_events'
            // `is_window_terminated_early`: "Subsequent invoke will continue the same window with
            // a fresh state").
            if let Some(w) = window.take() {
                if w.state.len() > MAX_WINDOW_STATE {
                    if !self.final_invoke(lane, &w, window_ms, true).await {
                        return;
                    }
                    window = Some(WindowState {
                        start_ms: w.start_ms,
                        state: "{}".into(),
                    });
                } else {
                    window = Some(w);
                }
            }
            if self.cancel.is_cancelled() {
                return;
            }
        }
    }

    /// Whether a record passes the mapping's FilterCriteria (matched on the record as the
    /// event carries it, its data decoded).
    fn passes_filter(&self, rec: &ShardRecord) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let (role, region) = (self.role(), self.deps.lambda.region().region.clone());
        let v = event::record(&self.source(&role, &region), rec);
        self.filter.matches_kinesis_record(&v)
    }

    /// What the event says of the records' source.
    fn source<'a>(&'a self, role: &'a str, region: &'a str) -> Source<'a> {
        Source {
            stream_arn: &self.settings.stream_arn,
            region,
            shard_id: &self.shard_id,
            role,
        }
    }

    /// A source description for sizing records (the role is not known yet; its length is
    /// counted in the per-record allowance).
    fn source_for_size(&self) -> Source<'_> {
        self.source("", "")
    }

    /// Delivers one batch: tries, bisections and partial responses until every record is done
    /// (delivered or discarded), or the mapping stops.
    async fn deliver(&self, lane: u32, batch: Vec<Item>, window: &mut Option<WindowState>) {
        let s = self.settings.clone();
        let mut parts = VecDeque::from([Part {
            items: batch,
            invokes: 0,
            retries: 0,
        }]);
        let mut delay = self.deps.config.retry_delay;
        while let Some(mut part) = parts.pop_front() {
            if self.cancel.is_cancelled() {
                return;
            }
            if s.maximum_record_age_seconds >= 0 {
                let max_age_ms = (s.maximum_record_age_seconds as f64
                    * 1000.0
                    * self.deps.config.record_age_scale) as i64;
                let cutoff = self.now_ms() - max_age_ms;
                let old = part
                    .items
                    .iter()
                    .take_while(|i| i.rec.arrival_ms < cutoff)
                    .count();
                if old > 0 {
                    let expired: Vec<Item> = part.items.drain(..old).collect();
                    self.discard(
                        &expired,
                        Condition::RecordAgeExceeded,
                        part.invokes.max(1),
                        None,
                    );
                    if part.items.is_empty() {
                        continue;
                    }
                }
            }
            match self.invoke(lane, &part.items, window).await {
                Outcome::Done => {
                    delay = self.deps.config.retry_delay;
                }
                Outcome::FailedFrom(i, resp) => {
                    part.items.drain(..i);
                    part.invokes += 1;
                    self.retry_or_discard(part, &resp, &mut parts, &mut delay)
                        .await;
                }
                Outcome::Failed(resp) => {
                    part.invokes += 1;
                    if s.bisect_batch_on_function_error && part.items.len() > 1 {
                        let second = part.items.split_off(part.items.len().div_ceil(2));
                        parts.push_front(Part {
                            items: second,
                            invokes: part.invokes,
                            retries: 0,
                        });
                        parts.push_front(Part {
                            items: part.items,
                            invokes: part.invokes,
                            retries: 0,
                        });
                        continue;
                    }
                    self.retry_or_discard(part, &resp, &mut parts, &mut delay)
                        .await;
                }
                Outcome::NotRun(e) => {
                    tracing::debug!(mapping = %s.uuid, error = %e.message,
                        "a batch did not reach the function; trying again");
                    parts.push_front(part);
                    self.backoff(&mut delay).await;
                }
            }
        }
    }

    /// Counts a failed try of a part: retried after a backoff, or (its retries spent)
    /// discarded to the OnFailure destination.
    async fn retry_or_discard(
        &self,
        mut part: Part,
        resp: &LastResponse,
        parts: &mut VecDeque<Part>,
        delay: &mut Duration,
    ) {
        part.retries += 1;
        let max = self.settings.maximum_retry_attempts;
        if max >= 0 && part.retries > max {
            let n = part.invokes;
            self.discard(
                &part.items,
                Condition::RetryAttemptsExhausted,
                n,
                Some(resp),
            );
        } else {
            parts.push_front(part);
            self.backoff(delay).await;
        }
    }

    async fn backoff(&self, delay: &mut Duration) {
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = tokio::time::sleep(*delay) => {}
        }
        *delay = (*delay * 2).min(self.deps.config.retry_delay_max);
    }

    /// The function's role (`invokeIdentityArn`), read again when the function changed.
    fn role(&self) -> String {
        let s = &self.settings;
        let lambda = &self.deps.lambda;
        let q = s.qualifier.as_deref();
        let revision = lambda
            .target(&s.function_name, q)
            .and_then(|t| lambda.resolve(&t.name, &t.version))
            .map(|f| f.revision_id.clone())
            .unwrap_or_default();
        let mut cached = self.role.lock();
        if let Some((rev, role)) = cached.as_ref() {
            if *rev == revision {
                return role.clone();
            }
        }
        let role = lambda
            .get_function_configuration(&s.function_name, q)
            .map(|c| c.role)
            .unwrap_or_default();
        *cached = Some((revision, role.clone()));
        role
    }

    fn function_arn(&self) -> String {
        let s = &self.settings;
        let region = self.deps.lambda.region();
        match &s.qualifier {
            Some(q) => region.qualified_arn(&s.function_name, q),
            None => region.function_arn(&s.function_name),
        }
    }

    /// Invokes the function with one part of a batch; what it came to. A successful batch is
    /// checkpointed (with its window's new state) before the invocation gives its slot back.
    async fn invoke(&self, lane: u32, items: &[Item], window: &mut Option<WindowState>) -> Outcome {
        let s = &self.settings;
        let (role, region) = (self.role(), self.deps.lambda.region().region.clone());
        let src = self.source(&role, &region);
        let window_ms = i64::from(s.tumbling_window_seconds) * 1000;
        let ev_window = window.as_ref().map(|w| Window {
            start_ms: w.start_ms,
            end_ms: w.start_ms + window_ms,
            state: &w.state,
            is_final: false,
            terminated_early: false,
        });
        let records: Vec<ShardRecord> = items.iter().map(|i| i.rec.clone()).collect();
        let payload = event::event(&src, &records, ev_window.as_ref());
        if let Some(last) = records.last() {
            self.status
                .set_iterator_age(self.now_ms() - last.arrival_ms);
        }
        let inv = Invocation {
            payload: payload.into(),
            ..Invocation::default()
        };
        let window_start = window.as_ref().map(|w| w.start_ms);
        let (outcome, new_state) = self
            .deps
            .lambda
            .invoke_then(&s.function_name, s.qualifier.as_deref(), inv, |r| {
                let r = match r {
                    Ok(r) => r,
                    Err(e) => return (Outcome::NotRun(e), None),
                };
                StreamStatus::add(&self.status.invoked, items.len());
                self.status.set_result(if r.function_error.is_some() {
                    result::FUNCTION_CALL_FAILED
                } else {
                    result::OK
                });
                let resp = LastResponse {
                    executed_version: r.executed_version.clone(),
                    function_error: r.function_error,
                };
                if r.function_error.is_some() {
                    StreamStatus::add(&self.status.failed_invoke, items.len());
                    return (Outcome::Failed(resp), None);
                }
                let state = match window_start {
                    Some(start) => match event::window_state(&r.payload) {
                        Some(st) => Some(WindowState {
                            start_ms: start,
                            state: st,
                        }),
                        None => {
                            StreamStatus::add(&self.status.failed_invoke, items.len());
                            return (Outcome::Failed(resp), None);
                        }
                    },
                    None => None,
                };
                let verdict = if s.report_batch_item_failures {
                    event::batch_item_failures(&r.payload, &records)
                } else {
                    Response::Success
                };
                let change = match &state {
                    Some(w) => WindowChange::Set(w.clone()),
                    None => WindowChange::Keep,
                };
                match verdict {
                    Response::Success => {
                        self.done(lane, items.iter().map(|i| i.ordinal), &change);
                        (Outcome::Done, state)
                    }
                    Response::FailedFrom(i) => {
                        StreamStatus::add(&self.status.failed_invoke, items.len() - i);
                        self.done(lane, items[..i].iter().map(|i| i.ordinal), &change);
                        (Outcome::FailedFrom(i, resp), state)
                    }
                    Response::Invalid => {
                        StreamStatus::add(&self.status.failed_invoke, items.len());
                        (Outcome::Failed(resp), None)
                    }
                }
            })
            .await;
        if let Some(st) = new_state {
            *window = Some(st);
        }
        outcome
    }

    /// Marks records done and commits the checkpoint when it moved (and the lane's window
    /// change either way), under the tracker's lock.
    fn done(&self, lane: u32, ordinals: impl IntoIterator<Item = u64>, change: &WindowChange) {
        let s = &self.settings;
        let mut t = self.tracker.lock();
        let moved = t.done(ordinals);
        let window = (*change != WindowChange::Keep).then_some((lane, change));
        let r = match &moved {
            Some(after) => self
                .deps
                .store
                .commit(&s.uuid, &self.shard_id, Some(after), window),
            None => match window {
                Some((lane, change)) => {
                    self.deps
                        .store
                        .set_window(&s.uuid, &self.shard_id, lane, change)
                }
                None => Ok(()),
            },
        };
        if let Err(e) = r {
            tracing::error!(mapping = %s.uuid, shard = %self.shard_id, error = %e,
                "cannot commit the shard's checkpoint");
        }
    }

    /// Sends the invocation record of records given up on to the OnFailure destination, then
    /// moves past them (a crash in between sends the record again; it never loses it).
    fn discard(
        &self,
        items: &[Item],
        condition: Condition,
        invokes: u32,
        response: Option<&LastResponse>,
    ) {
        let s = &self.settings;
        let records: Vec<ShardRecord> = items.iter().map(|i| i.rec.clone()).collect();
        tracing::info!(mapping = %s.uuid, shard = %self.shard_id, records = records.len(),
            condition = ?condition, "records discarded");
        if let Some(dest) = &s.on_failure {
            let body = event::invocation_record(
                &uuid::Uuid::new_v4().to_string(),
                &self.function_arn(),
                condition,
                invokes,
                response,
                self.now_ms(),
                &self.shard_id,
                &s.stream_arn,
                &records,
            );
            let sent = match &self.deps.sqs {
                Some(sqs) => sqs
                    .send_message(dest, body, Default::default())
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}")),
                None => Err("no SQS service".to_string()),
            };
            match sent {
                Ok(()) => StreamStatus::add(&self.status.on_failure_delivered, records.len()),
                Err(e) => {
                    tracing::warn!(mapping = %s.uuid, destination = %dest, error = %e,
                        "cannot deliver the invocation record to the OnFailure destination")
                }
            }
        }
        self.done(0, items.iter().map(|i| i.ordinal), &WindowChange::Keep);
    }

    /// The last invocation of a tumbling window (no records, the final state), or with `early`
    /// the one that ends a window whose state outgrew its limit (`isWindowTerminatedEarly`, not
    /// final: the window goes on); tried until it succeeds (the developer guide: a failed final
    /// invocation suspends the shard until one succeeds). False when the mapping stopped first.
    async fn final_invoke(&self, lane: u32, w: &WindowState, window_ms: i64, early: bool) -> bool {
        let s = &self.settings;
        let mut delay = self.deps.config.retry_delay;
        loop {
            if self.cancel.is_cancelled() {
                return false;
            }
            let (role, region) = (self.role(), self.deps.lambda.region().region.clone());
            let src = self.source(&role, &region);
            let ev = Window {
                start_ms: w.start_ms,
                end_ms: w.start_ms + window_ms,
                state: &w.state,
                is_final: !early,
                terminated_early: early,
            };
            let inv = Invocation {
                payload: event::event(&src, &[], Some(&ev)).into(),
                ..Invocation::default()
            };
            let ok = self
                .deps
                .lambda
                .invoke_then(&s.function_name, s.qualifier.as_deref(), inv, |r| match r {
                    Ok(r) if r.function_error.is_none() => {
                        self.status.set_result(result::OK);
                        if let Err(e) = self.deps.store.set_window(
                            &s.uuid,
                            &self.shard_id,
                            lane,
                            &WindowChange::Clear,
                        ) {
                            tracing::error!(error = %e, "cannot clear a tumbling window");
                        }
                        true
                    }
                    _ => false,
                })
                .await;
            if ok {
                return true;
            }
            self.backoff(&mut delay).await;
        }
    }
}

/// The lane of a partition key: records of one key always go to the same lane.
pub(super) fn lane_of(partition_key: &str, lanes: u32) -> u32 {
    if lanes <= 1 {
        return 0;
    }
    (hako_kinesis::model::hash_key_of(partition_key) % u128::from(lanes)) as u32
}

/// The start of the tumbling window a record that arrived at `ms` belongs to (0 without
/// windows).
fn window_of(ms: i64, window_ms: i64) -> i64 {
    if window_ms <= 0 {
        return 0;
    }
    ms - ms.rem_euclid(window_ms)
}

async fn sleep_opt(ms: Option<u64>) {
    match ms {
        Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        None => std::future::pending().await,
    }
}
