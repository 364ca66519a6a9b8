//! The SQS application layer: one method per operation, model types in and out, no HTTP.
//!
//! Every change is one `ServiceDb` transaction, committed before the in-memory index changes
//! and before the caller is answered; the index is rebuilt from the rows at start. One mutex
//! guards the index of all queues (a write takes the database's mutex anyway); a long-polling
//! receive waits outside it, on its queue's `Notify`, which every send wakes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hako_model::clock::Clock;
use hako_model::Region;
use hako_store::service_db::sql;
use hako_store::ServiceDb;
use parking_lot::Mutex;
use sha2::Digest;
use tokio_util::sync::CancellationToken;

use crate::error::{ErrorKind, SqsError};
use crate::model::{self, RedrivePolicy};
use crate::queue::{Config, Queue, Step};
use crate::store::{self, Dedup, Msg, QueueRow, TaskRow};
use crate::wire::*;

/// Who is calling, for the answers that depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The endpoint the client used (`http://host:port`), the base of queue URLs.
    pub endpoint: &'a str,
    /// The sender's id (`SenderId`): the access key of the request's signature.
    pub sender_id: &'a str,
}

/// Counts of one queue, for metrics and `hako queues`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    pub name: String,
    pub fifo: bool,
    pub visible: usize,
    pub in_flight: usize,
    pub delayed: usize,
    /// Age of the oldest message, in seconds (AWS's ApproximateAgeOfOldestMessage).
    pub oldest_age_s: i64,
}

/// Counters of what happened since the start (AWS's NumberOfMessagesSent, ...Received,
/// ...Deleted, NumberOfEmptyReceives), per queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounters {
    pub sent: u64,
    pub received: u64,
    pub deleted: u64,
    pub empty_receives: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub queues: HashMap<String, Queue>,
    pub counters: HashMap<String, QueueCounters>,
    pub tasks: Vec<TaskRow>,
}

struct Inner {
    /// A lower in-flight quota than AWS's (tests); 0: AWS's quotas.
    inflight_cap: std::sync::atomic::AtomicUsize,
    db: ServiceDb,
    clock: Arc<dyn Clock>,
    region: Region,
    state: Mutex<State>,
    stop: CancellationToken,
}

/// The SQS service. Cheap to clone.
#[derive(Clone)]
pub struct Sqs {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sqs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqs")
            .field("region", &self.inner.region)
            .finish()
    }
}

/// A receipt handle: the queue, the message and the nonce of one receive.
fn encode_handle(queue_id: i64, seq: i64, nonce: i64) -> String {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&queue_id.to_be_bytes());
    b[8..16].copy_from_slice(&seq.to_be_bytes());
    b[16..].copy_from_slice(&nonce.to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn decode_handle(h: &str) -> Option<(i64, i64, i64)> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h.as_bytes())
        .ok()?;
    if b.len() != 24 {
        return None;
    }
    let n = |i: usize| i64::from_be_bytes(b[i..i + 8].try_into().unwrap_or_default());
    Some((n(0), n(8), n(16)))
}

fn invalid_handle(h: &str) -> SqsError {
    // AWS's answer in LocalStack's validated test_delete_message_with_illegal_receipt_handle.
    SqsError::new(
        ErrorKind::ReceiptHandleIsInvalid,
        format!("The input receipt handle \"{h}\" is not a valid receipt handle."),
    )
}

fn nonce() -> i64 {
    // Never 0 (a message never received).
    (rand::random::<u64>() >> 1) as i64 | 1
}

/// A FIFO queue's sequence number of message `seq` (20 digits, as AWS's).
fn sequence_number(seq: i64) -> String {
    format!("{}", 10_000_000_000_000_000_000u128 + seq as u128)
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, SqsError> {
    match v.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(SqsError::missing(name)),
    }
}

/// A message to store: validated, not yet numbered.
struct NewMessage {
    body: String,
    attrs: MessageAttributes,
    trace_header: Option<String>,
    delay_ms: i64,
    group: Option<String>,
    dedup: Option<String>,
    md5_body: String,
    md5_attrs: Option<String>,
    md5_sys: Option<String>,
}

impl Sqs {
    /// Opens SQS on its database (`sqs.db`), rebuilding the index from the rows: a message
    /// that was in flight stays invisible until its visibility timeout ends, then comes back.
    pub fn open(
        db_path: &std::path::Path,
        region: Region,
        clock: Arc<dyn Clock>,
    ) -> Result<Sqs, SqsError> {
        let db = ServiceDb::open(db_path, store::MIGRATIONS)?;
        Self::with_db(db, region, clock)
    }

    /// SQS on an in-memory database (tests).
    pub fn in_memory(region: Region, clock: Arc<dyn Clock>) -> Result<Sqs, SqsError> {
        let db = ServiceDb::open_in_memory(store::MIGRATIONS)?;
        Self::with_db(db, region, clock)
    }

    fn with_db(db: ServiceDb, region: Region, clock: Arc<dyn Clock>) -> Result<Sqs, SqsError> {
        let now = clock.now_ms();
        let mut state = State::default();
        db.read(|c| {
            for row in store::load_queues(c)? {
                let arn = model::queue_arn(&region.region, &region.account_id, &row.name);
                let id = row.id;
                let mut q = Queue::new(row, arn);
                for m in store::load_messages(c, id)? {
                    q.insert(m, now);
                }
                for (k, d) in store::load_dedup(c, id, now)? {
                    q.dedup.insert(k, d);
                }
                state.queues.insert(q.row.name.clone(), q);
            }
            state.tasks = store::load_tasks(c)?;
            Ok(())
        })?;
        // A task that was running when Hako stopped ends as AWS ends an interrupted one.
        for t in &mut state.tasks {
            if t.status == "RUNNING" {
                t.status = "FAILED".into();
                t.failure_reason = Some("Hako stopped while the task was running".into());
                db.write(|tx| store::put_task(tx, t))?;
            }
        }
        Ok(Sqs {
            inner: Arc::new(Inner {
                inflight_cap: Default::default(),
                db,
                clock,
                region,
                state: Mutex::new(state),
                stop: CancellationToken::new(),
            }),
        })
    }

    /// Lowers the in-flight quota of every queue to `n` (tests of OverLimit).
    #[cfg(test)]
    pub(crate) fn cap_inflight(&self, n: usize) {
        self.inner
            .inflight_cap
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Ends every long poll now (with no messages): the server is stopping.
    pub fn shutdown(&self) {
        self.inner.stop.cancel();
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.now()
    }

    /// The account queues belong to.
    pub fn account_id(&self) -> &str {
        &self.inner.region.account_id
    }

    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.inner.state.lock())
    }

    pub(crate) fn db_write<T>(
        &self,
        f: impl FnOnce(&sql::Transaction<'_>) -> sql::Result<T>,
    ) -> Result<T, SqsError> {
        self.write(f)
    }

    pub(crate) fn queue_arn(&self, name: &str) -> String {
        self.arn(name)
    }

    pub(crate) async fn stopped(&self) {
        self.inner.stop.cancelled().await
    }

    fn url(&self, caller: &Caller<'_>, name: &str) -> String {
        format!(
            "{}/{}/{}",
            caller.endpoint.trim_end_matches('/'),
            self.inner.region.account_id,
            name
        )
    }

    fn arn(&self, name: &str) -> String {
        model::queue_arn(
            &self.inner.region.region,
            &self.inner.region.account_id,
            name,
        )
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&sql::Transaction<'_>) -> sql::Result<T>,
    ) -> Result<T, SqsError> {
        Ok(self.inner.db.write(f)?)
    }

    // ---- queues ----

    pub fn create_queue(
        &self,
        req: CreateQueueRequest,
        caller: &Caller<'_>,
    ) -> Result<QueueUrlResult, SqsError> {
        let name = required(&req.queue_name, "QueueName")?.to_string();
        let fifo = req
            .attributes
            .get("FifoQueue")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        model::check_queue_name(&name, fifo)?;
        model::check_attributes(&req.attributes, fifo, true)?;
        check_tags(&req.tags)?;
        let mut st = self.inner.state.lock();
        if let Some(q) = st.queues.get(&name) {
            for (k, v) in &req.attributes {
                if q.row.attributes.get(k).map(String::as_str) != Some(v.as_str()) {
                    // AWS's answer in test_create_queue_with_different_attributes_raises_exception.
                    return Err(SqsError::new(
                        ErrorKind::QueueNameExists,
                        format!("A queue already exists with the same name and a different value for attribute {k}"),
                    ));
                }
            }
            return Ok(QueueUrlResult {
                queue_url: self.url(caller, &name),
            });
        }
        let now = self.now();
        let mut attributes = model::default_attributes(fifo);
        for (k, v) in req.attributes {
            if v.is_empty() && (k == "RedrivePolicy" || k == "Policy" || k == "RedriveAllowPolicy")
            {
                continue;
            }
            attributes.insert(k, v);
        }
        let mut row = QueueRow {
            id: 0,
            name: name.clone(),
            fifo,
            attributes,
            tags: req.tags,
            created_ms: now,
            modified_ms: now,
            last_purge_ms: None,
        };
        row.id = self.write(|tx| store::insert_queue(tx, &row))?;
        let q = Queue::new(row, self.arn(&name));
        st.queues.insert(name.clone(), q);
        Ok(QueueUrlResult {
            queue_url: self.url(caller, &name),
        })
    }

    pub fn get_queue_url(
        &self,
        req: GetQueueUrlRequest,
        caller: &Caller<'_>,
    ) -> Result<QueueUrlResult, SqsError> {
        let name = required(&req.queue_name, "QueueName")?;
        if req
            .queue_owner_account_id
            .as_deref()
            .is_some_and(|a| a != self.inner.region.account_id)
        {
            return Err(SqsError::no_queue());
        }
        let st = self.inner.state.lock();
        if !st.queues.contains_key(name) {
            return Err(SqsError::no_queue());
        }
        Ok(QueueUrlResult {
            queue_url: self.url(caller, name),
        })
    }

    pub fn list_queues(
        &self,
        req: ListQueuesRequest,
        caller: &Caller<'_>,
    ) -> Result<ListQueuesResult, SqsError> {
        let st = self.inner.state.lock();
        let prefix = req.queue_name_prefix.unwrap_or_default();
        let names = st.queues.keys().filter(|n| n.starts_with(&prefix));
        let (names, next_token) = page(names, req.max_results, req.next_token.as_deref())?;
        Ok(ListQueuesResult {
            queue_urls: names.iter().map(|n| self.url(caller, n)).collect(),
            next_token,
        })
    }

    pub fn delete_queue(&self, req: QueueUrlRequest) -> Result<Empty, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        let mut st = self.inner.state.lock();
        let id = st.queues.get(&name).ok_or_else(SqsError::no_queue)?.row.id;
        self.write(|tx| store::delete_queue(tx, id))?;
        if let Some(q) = st.queues.remove(&name) {
            q.notify.notify_waiters();
        }
        st.counters.remove(&name);
        Ok(Empty {})
    }

    pub fn get_queue_attributes(
        &self,
        req: GetQueueAttributesRequest,
    ) -> Result<AttributesResult, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        for n in &req.attribute_names {
            if n != "All" && !model::ALL_ATTRIBUTES.contains(&n.as_str()) {
                return Err(SqsError::new(
                    ErrorKind::InvalidAttributeName,
                    format!("Unknown Attribute {n}."),
                ));
            }
        }
        let now = self.now();
        let mut st = self.inner.state.lock();
        self.sweep(&mut st, &name, now)?;
        let q = st.queues.get_mut(&name).ok_or_else(SqsError::no_queue)?;
        q.settle(now);
        let all = q.all_attributes(now);
        let every = req.attribute_names.iter().any(|n| n == "All");
        let attributes = all
            .into_iter()
            .filter(|(k, _)| every || req.attribute_names.contains(k))
            .collect();
        Ok(AttributesResult { attributes })
    }

    /// Deletes the messages of `name` past their retention period.
    fn sweep(&self, st: &mut State, name: &str, now: i64) -> Result<(), SqsError> {
        let Some(q) = st.queues.get_mut(name) else {
            return Ok(());
        };
        let expired = q.expired(now);
        if expired.is_empty() {
            return Ok(());
        }
        let id = q.row.id;
        self.write(|tx| {
            for seq in &expired {
                store::delete_message(tx, id, *seq)?;
            }
            Ok(())
        })?;
        for seq in expired {
            q.remove(seq);
        }
        Ok(())
    }

    pub fn set_queue_attributes(&self, req: SetQueueAttributesRequest) -> Result<Empty, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        let mut st = self.inner.state.lock();
        let q = st.queues.get_mut(&name).ok_or_else(SqsError::no_queue)?;
        model::check_attributes(&req.attributes, q.fifo(), false)?;
        let mut row = q.row.clone();
        for (k, v) in req.attributes {
            if v.is_empty() && (k == "RedrivePolicy" || k == "Policy" || k == "RedriveAllowPolicy")
            {
                row.attributes.remove(&k);
            } else {
                row.attributes.insert(k, v);
            }
        }
        row.modified_ms = self.now();
        self.write(|tx| store::update_queue(tx, &row))?;
        q.cfg = Config::of(&row.attributes);
        q.row = row;
        Ok(Empty {})
    }

    pub fn purge_queue(&self, req: QueueUrlRequest) -> Result<Empty, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        let now = self.now();
        let mut st = self.inner.state.lock();
        let q = st.queues.get_mut(&name).ok_or_else(SqsError::no_queue)?;
        if q.row.last_purge_ms.is_some_and(|t| now - t < 60_000) {
            // AWS's answer in test_successive_purge_calls_fail.
            return Err(SqsError::new(
                ErrorKind::PurgeQueueInProgress,
                format!("Only one PurgeQueue operation on {name} is allowed every 60 seconds."),
            ));
        }
        let mut row = q.row.clone();
        row.last_purge_ms = Some(now);
        self.write(|tx| {
            store::delete_all_messages(tx, row.id)?;
            store::update_queue(tx, &row)
        })?;
        let seqs: Vec<i64> = q.msgs.keys().copied().collect();
        for seq in seqs {
            q.remove(seq);
        }
        q.row = row;
        Ok(Empty {})
    }

    pub fn tag_queue(&self, req: TagQueueRequest) -> Result<Empty, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        check_tags(&req.tags)?;
        self.update_row(&name, |row| {
            row.tags.extend(req.tags);
            if row.tags.len() > 50 {
                return Err(SqsError::param(
                    "Too many tags added for queue. Maximum number of tags per queue is 50.",
                ));
            }
            Ok(())
        })
    }

    pub fn untag_queue(&self, req: UntagQueueRequest) -> Result<Empty, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        self.update_row(&name, |row| {
            for k in &req.tag_keys {
                row.tags.remove(k);
            }
            Ok(())
        })
    }

    fn update_row(
        &self,
        name: &str,
        f: impl FnOnce(&mut QueueRow) -> Result<(), SqsError>,
    ) -> Result<Empty, SqsError> {
        let mut st = self.inner.state.lock();
        let q = st.queues.get_mut(name).ok_or_else(SqsError::no_queue)?;
        let mut row = q.row.clone();
        f(&mut row)?;
        self.write(|tx| store::update_queue(tx, &row))?;
        q.row = row;
        Ok(Empty {})
    }

    pub fn list_queue_tags(&self, req: QueueUrlRequest) -> Result<ListQueueTagsResult, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?);
        let st = self.inner.state.lock();
        let q = st.queues.get(name).ok_or_else(SqsError::no_queue)?;
        Ok(ListQueueTagsResult {
            tags: q.row.tags.clone(),
        })
    }

    pub fn list_dead_letter_source_queues(
        &self,
        req: ListDeadLetterSourceQueuesRequest,
        caller: &Caller<'_>,
    ) -> Result<ListDeadLetterSourceQueuesResult, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?);
        let st = self.inner.state.lock();
        let arn = &st.queues.get(name).ok_or_else(SqsError::no_queue)?.arn;
        let sources = st.queues.values().filter(|q| {
            q.cfg
                .redrive
                .as_ref()
                .is_some_and(|r| &r.dead_letter_target_arn == arn)
        });
        let names = sources.map(|q| &q.row.name);
        let (names, next_token) = page(names, req.max_results, req.next_token.as_deref())?;
        Ok(ListDeadLetterSourceQueuesResult {
            queue_urls: names.iter().map(|n| self.url(caller, n)).collect(),
            next_token,
        })
    }

    // ---- sending ----

    /// Sends `body` with `attributes` to the queue `queue_arn` (Lambda's dead-letter queues and
    /// SQS destinations). Acknowledged once stored. A FIFO queue refuses it, as AWS refuses a
    /// message without a MessageGroupId.
    pub fn send_message(
        &self,
        queue_arn: &str,
        body: String,
        attributes: MessageAttributes,
    ) -> Result<SendMessageResult, SqsError> {
        self.send_message_in_group(queue_arn, body, attributes, None, None)
    }

    /// [`Sqs::send_message`] with a FIFO queue's MessageGroupId and MessageDeduplicationId
    /// (EventBridge Scheduler's SQS targets: `SqsParameters.MessageGroupId`).
    pub fn send_message_in_group(
        &self,
        queue_arn: &str,
        body: String,
        attributes: MessageAttributes,
        group_id: Option<&str>,
        deduplication_id: Option<&str>,
    ) -> Result<SendMessageResult, SqsError> {
        let name = model::name_of_arn(queue_arn).ok_or_else(SqsError::no_queue)?;
        let account = &self.inner.region.account_id;
        if queue_arn != self.arn(name) {
            return Err(SqsError::no_queue());
        }
        let req = SendMessageRequest {
            queue_url: Some(name.to_string()),
            message_body: Some(body),
            message_attributes: attributes,
            message_group_id: group_id.map(str::to_string),
            message_deduplication_id: deduplication_id.map(str::to_string),
            ..Default::default()
        };
        self.send(
            req,
            &Caller {
                endpoint: "",
                sender_id: account,
            },
        )
    }

    /// Checks a message against its queue (AWS's order: body, size, attributes, delay, FIFO ids).
    #[allow(clippy::too_many_arguments)]
    fn validate(
        q: &Queue,
        body: Option<String>,
        delay: Option<i64>,
        attrs: MessageAttributes,
        sys: BTreeMap<String, MessageSystemAttributeValue>,
        group: Option<String>,
        dedup: Option<String>,
        batch: bool,
    ) -> Result<NewMessage, SqsError> {
        let body = match body {
            Some(b) if !b.is_empty() => b,
            _ => return Err(SqsError::missing("MessageBody")),
        };
        if !model::valid_message_chars(&body) {
            return Err(SqsError::new(
                ErrorKind::InvalidMessageContents,
                "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
            ));
        }
        if model::message_size(&body, &attrs) > q.cfg.max_size {
            // AWS's answers in test_send_message_with_updated_maximum_message_size and
            // test_send_message_batch_with_oversized_contents (a batch entry).
            let how = if batch {
                "cannot be validated"
            } else {
                "are invalid"
            };
            return Err(SqsError::param(format!(
                "One or more parameters {how}. Reason: Message must be shorter than {} bytes.",
                q.cfg.max_size
            )));
        }
        model::check_message_attributes(&attrs)?;
        let mut trace_header = None;
        for (k, v) in &sys {
            if k != "AWSTraceHeader" {
                return Err(SqsError::param(format!(
                    "Message system attribute name '{k}' is invalid."
                )));
            }
            if v.data_type != "String" || v.string_value.as_deref().is_none_or(str::is_empty) {
                return Err(SqsError::param(
                    "Message system attribute 'AWSTraceHeader' must contain a non-empty value of type 'String'.",
                ));
            }
            trace_header = v.string_value.clone();
        }
        let delay_ms = match delay {
            Some(d) if q.fifo() && d != 0 => {
                // AWS's answer in test_fifo_queue_send_message_with_delay_seconds_fails.
                return Err(SqsError::invalid_value(
                    d,
                    "DelaySeconds",
                    "The request include parameter that is not valid for this queue type.",
                ));
            }
            Some(d) if !(0..=900).contains(&d) => {
                return Err(SqsError::invalid_value(
                    d,
                    "DelaySeconds",
                    "DelaySeconds must be >= 0 and <= 900.",
                ))
            }
            Some(d) => d * 1000,
            None => q.cfg.delay_ms,
        };
        if let Some(g) = &group {
            model::check_fifo_id("MessageGroupId", g)?;
        }
        if let Some(d) = &dedup {
            if !q.fifo() {
                return Err(SqsError::invalid_value(
                    d,
                    "MessageDeduplicationId",
                    "The request includes a parameter that is not valid for this queue type.",
                ));
            }
            model::check_fifo_id("MessageDeduplicationId", d)?;
        }
        let mut dedup = dedup;
        if q.fifo() {
            if group.is_none() {
                // AWS's answers in test_posting_to_fifo_requires_deduplicationid_group_id
                // (MissingParameter) and test_send_batch_missing_message_group_id_for_fifo_queue
                // (InvalidParameterValue in a batch).
                let e = SqsError::missing("MessageGroupId");
                return Err(if batch { SqsError::param(e.message) } else { e });
            }
            if dedup.is_none() {
                if !q.cfg.content_dedup {
                    return Err(SqsError::param(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ));
                }
                dedup = Some(hex::encode(sha2::Sha256::digest(body.as_bytes())));
            }
        }
        let md5_body = model::md5_hex(body.as_bytes());
        let md5_attrs = model::md5_of_message_attributes(&attrs);
        let md5_sys = trace_header.as_ref().and_then(|t| {
            let name = "AWSTraceHeader".to_string();
            model::md5_of_attributes([(&name, ("String", Some(t.as_str()), None))])
        });
        Ok(NewMessage {
            body,
            attrs,
            trace_header,
            delay_ms,
            group,
            dedup,
            md5_body,
            md5_attrs,
            md5_sys,
        })
    }

    /// Stores validated messages of one queue in one transaction. A FIFO message whose
    /// deduplication id was sent within 5 minutes is not stored again: its answer is the first
    /// one's.
    fn store_messages(
        &self,
        st: &mut State,
        name: &str,
        sender: &str,
        msgs: Vec<NewMessage>,
    ) -> Result<Vec<SendMessageResult>, SqsError> {
        let now = self.now();
        let q = st.queues.get_mut(name).ok_or_else(SqsError::no_queue)?;
        let qid = q.row.id;
        let mut out = Vec::with_capacity(msgs.len());
        let mut rows: Vec<Msg> = Vec::with_capacity(msgs.len());
        let mut dedups: Vec<(String, Dedup)> = Vec::new();
        if q.fifo() && q.dedup.len() > 10_000 {
            q.prune_dedup(now);
        }
        for n in msgs {
            let key = match (&n.dedup, q.fifo()) {
                (Some(d), true) if q.cfg.dedup_by_group => Some(format!(
                    "{}\u{0}{d}",
                    n.group.as_deref().unwrap_or_default()
                )),
                (Some(d), true) => Some(d.clone()),
                _ => None,
            };
            let seen = key.as_ref().and_then(|k| {
                q.dedup
                    .get(k)
                    .filter(|d| d.expires_ms > now)
                    .cloned()
                    .or_else(|| {
                        dedups
                            .iter()
                            .find(|(dk, _)| dk == k)
                            .map(|(_, d)| d.clone())
                    })
            });
            if let Some(d) = seen {
                out.push(SendMessageResult {
                    md5_of_message_body: n.md5_body,
                    md5_of_message_attributes: n.md5_attrs,
                    md5_of_message_system_attributes: n.md5_sys,
                    message_id: d.message_id,
                    sequence_number: d.sequence_number,
                });
                continue;
            }
            let seq = q.next_seq + rows.len() as i64;
            let id = uuid::Uuid::new_v4().to_string();
            let seq_number = q.fifo().then(|| sequence_number(seq));
            if let Some(k) = key {
                dedups.push((
                    k,
                    Dedup {
                        expires_ms: now + model::DEDUP_WINDOW_MS,
                        message_id: id.clone(),
                        sequence_number: seq_number.clone(),
                    },
                ));
            }
            out.push(SendMessageResult {
                md5_of_message_body: n.md5_body,
                md5_of_message_attributes: n.md5_attrs,
                md5_of_message_system_attributes: n.md5_sys,
                message_id: id.clone(),
                sequence_number: seq_number.clone(),
            });
            rows.push(Msg {
                seq,
                id,
                body: n.body,
                attrs: (!n.attrs.is_empty()).then(|| Box::new(n.attrs)),
                trace_header: n.trace_header,
                sent_ms: now,
                visible_at: now + n.delay_ms,
                receive_count: 0,
                first_receive_ms: None,
                receipt: 0,
                group: n.group,
                dedup: n.dedup,
                seq_number,
                sender: sender.to_string(),
                dlq_source: None,
                held: false,
            });
        }
        let fifo = q.fifo();
        self.write(|tx| {
            for m in &rows {
                store::insert_message(tx, qid, m)?;
            }
            for (k, d) in &dedups {
                store::put_dedup(tx, qid, k, d)?;
            }
            if fifo && !dedups.is_empty() && q.next_seq % 1024 == 0 {
                store::prune_dedup(tx, qid, now)?;
            }
            Ok(())
        })?;
        let n = rows.len() as u64;
        for m in rows {
            q.insert(m, now);
        }
        for (k, d) in dedups {
            q.dedup.insert(k, d);
        }
        if n > 0 {
            q.notify.notify_waiters();
        }
        st.counters.entry(name.to_string()).or_default().sent += n;
        Ok(out)
    }

    pub fn send(
        &self,
        req: SendMessageRequest,
        caller: &Caller<'_>,
    ) -> Result<SendMessageResult, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        let mut st = self.inner.state.lock();
        let q = st.queues.get(&name).ok_or_else(SqsError::no_queue)?;
        let m = Self::validate(
            q,
            req.message_body,
            req.delay_seconds,
            req.message_attributes,
            req.message_system_attributes,
            req.message_group_id,
            req.message_deduplication_id,
            false,
        )?;
        let mut out = self.store_messages(&mut st, &name, caller.sender_id, vec![m])?;
        Ok(out.remove(0))
    }

    pub fn send_batch(
        &self,
        req: SendMessageBatchRequest,
        caller: &Caller<'_>,
    ) -> Result<BatchResult<SendMessageBatchResultEntry>, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        let mut st = self.inner.state.lock();
        let q = st.queues.get(&name).ok_or_else(SqsError::no_queue)?;
        let ids: Vec<&str> = req
            .entries
            .iter()
            .map(|e| e.id.as_deref().unwrap_or_default())
            .collect();
        model::check_batch("SendMessageBatchRequestEntry", ids.iter().copied())?;
        let total: usize = req
            .entries
            .iter()
            .map(|e| {
                model::message_size(
                    e.message_body.as_deref().unwrap_or_default(),
                    &e.message_attributes,
                )
            })
            .sum();
        if total > model::MAX_BATCH_BYTES {
            // AWS's answer in test_send_message_batch_with_oversized_contents.
            return Err(SqsError::new(
                ErrorKind::BatchRequestTooLong,
                format!(
                    "Batch requests cannot be longer than {} bytes. You have sent {total} bytes.",
                    model::MAX_BATCH_BYTES
                ),
            ));
        }
        let mut failed = Vec::new();
        let mut good = Vec::new();
        for e in req.entries {
            let id = e.id.unwrap_or_default();
            match Self::validate(
                q,
                e.message_body,
                e.delay_seconds,
                e.message_attributes,
                e.message_system_attributes,
                e.message_group_id,
                e.message_deduplication_id,
                true,
            ) {
                Ok(m) => good.push((id, m)),
                Err(err) => failed.push(batch_error(id, &err)),
            }
        }
        let (ids, msgs): (Vec<String>, Vec<NewMessage>) = good.into_iter().unzip();
        let results = self.store_messages(&mut st, &name, caller.sender_id, msgs)?;
        Ok(BatchResult {
            successful: ids
                .into_iter()
                .zip(results)
                .map(|(id, result)| SendMessageBatchResultEntry { id, result })
                .collect(),
            failed,
        })
    }

    // ---- receiving ----

    /// ReceiveMessage: up to `MaxNumberOfMessages` visible messages, waiting up to
    /// `WaitTimeSeconds` (or the queue's ReceiveMessageWaitTimeSeconds) for one to arrive. The
    /// wait ends the moment a message is sent (the queue's `Notify`) or a delayed or in-flight
    /// one becomes visible (a timer to that time), never by polling.
    pub async fn receive(
        &self,
        req: ReceiveMessageRequest,
    ) -> Result<ReceiveMessageResult, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        let max = req.max_number_of_messages.unwrap_or(1);
        if !(1..=10).contains(&max) {
            // AWS's answer in test_send_receive_max_number_of_messages.
            return Err(SqsError::invalid_value(
                max,
                "MaxNumberOfMessages",
                "Must be between 1 and 10, if provided.",
            ));
        }
        if let Some(w) = req.wait_time_seconds {
            if !(0..=20).contains(&w) {
                // AWS's answer in test_send_receive_wait_time_seconds.
                return Err(SqsError::invalid_value(
                    w,
                    "WaitTimeSeconds",
                    "Must be >= 0 and <= 20, if provided.",
                ));
            }
        }
        if let Some(v) = req.visibility_timeout {
            if !(0..=model::MAX_VISIBILITY_TIMEOUT).contains(&v) {
                return Err(SqsError::invalid_value(
                    v,
                    "VisibilityTimeout",
                    "Must be >= 0 and <= 43200, if provided.",
                ));
            }
        }
        let filter = Filter::new(&req);
        let (notify, wait_s) = {
            let st = self.inner.state.lock();
            let q = st.queues.get(&name).ok_or_else(SqsError::no_queue)?;
            (
                q.notify.clone(),
                req.wait_time_seconds.unwrap_or(q.cfg.wait_s),
            )
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_s as u64);
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (messages, next_due) =
                self.try_receive(&name, max as usize, req.visibility_timeout, &filter)?;
            let now = tokio::time::Instant::now();
            if !messages.is_empty()
                || wait_s == 0
                || now >= deadline
                || self.inner.stop.is_cancelled()
            {
                if messages.is_empty() {
                    let mut st = self.inner.state.lock();
                    st.counters.entry(name.clone()).or_default().empty_receives += 1;
                }
                return Ok(ReceiveMessageResult { messages });
            }
            let mut wake = deadline;
            if let Some(due) = next_due {
                let ms = (due - self.now()).max(1) as u64;
                wake = wake.min(now + Duration::from_millis(ms));
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(wake) => {}
                _ = self.inner.stop.cancelled() => {}
            }
        }
    }

    /// One attempt to receive: commits the receives (and the moves to the dead-letter queue,
    /// and deletions of expired messages), then answers. Also the next time a message of the
    /// queue becomes visible.
    fn try_receive(
        &self,
        name: &str,
        max: usize,
        visibility: Option<i64>,
        filter: &Filter,
    ) -> Result<(Vec<Message>, Option<i64>), SqsError> {
        let now = self.now();
        let mut st = self.inner.state.lock();
        let st = &mut *st;
        let q = st.queues.get_mut(name).ok_or_else(SqsError::no_queue)?;
        q.settle(now);
        // The dead-letter queue, when there is one that takes this queue's messages.
        let dlq = q.cfg.redrive.clone().and_then(|r: RedrivePolicy| {
            let dname = model::name_of_arn(&r.dead_letter_target_arn)?.to_string();
            Some(dname)
        });
        let source_arn = q.arn.clone();
        let dlq_info = dlq.as_ref().and_then(|d| {
            let dq = st.queues.get(d)?;
            (d != name
                && dq.fifo() == st.queues[name].fifo()
                && model::redrive_allowed(
                    dq.row
                        .attributes
                        .get("RedriveAllowPolicy")
                        .map(String::as_str),
                    &source_arn,
                ))
            .then_some((dq.row.id, dq.next_seq))
        });
        let q = st.queues.get_mut(name).ok_or_else(SqsError::no_queue)?;
        let plan = q.plan_receive(max, now, dlq_info.is_some());
        let delivering = plan
            .iter()
            .filter(|s| matches!(s, Step::Deliver(_)))
            .count();
        let max_inflight = match self
            .inner
            .inflight_cap
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => q.max_inflight(),
            cap => cap.min(q.max_inflight()),
        };
        if delivering > 0 && q.inflight.len() >= max_inflight {
            return Err(SqsError::new(
                ErrorKind::OverLimit,
                format!("The maximum number of in flight messages ({max_inflight}) is reached."),
            ));
        }
        if plan.is_empty() {
            return Ok((Vec::new(), q.next_due(now)));
        }
        let visibility_ms = visibility.map_or(q.cfg.visibility_ms, |v| v * 1000);
        let qid = q.row.id;
        let room = max_inflight.saturating_sub(q.inflight.len());
        // The rows after this receive.
        let mut delivered: Vec<Msg> = Vec::new();
        let mut moved: Vec<Msg> = Vec::new();
        let mut expired: Vec<i64> = Vec::new();
        for step in &plan {
            match *step {
                Step::Deliver(seq) if delivered.len() < room => {
                    let mut m = q.msgs[&seq].clone();
                    m.receive_count += 1;
                    m.first_receive_ms.get_or_insert(now);
                    m.receipt = nonce();
                    m.visible_at = now + visibility_ms;
                    delivered.push(m);
                }
                Step::Deliver(_) => {}
                Step::Expire(seq) => expired.push(seq),
                Step::Redrive(seq) => {
                    let (_, next) = dlq_info.unwrap_or_default();
                    let mut m = q.msgs[&seq].clone();
                    m.seq = next + moved.len() as i64;
                    m.receive_count = 0;
                    m.first_receive_ms = None;
                    m.receipt = 0;
                    m.visible_at = now;
                    m.held = false;
                    m.dlq_source = Some(source_arn.clone());
                    moved.push(m);
                }
            }
        }
        let redriven: Vec<i64> = plan
            .iter()
            .filter_map(|s| match s {
                Step::Redrive(seq) => Some(*seq),
                _ => None,
            })
            .collect();
        self.write(|tx| {
            for m in &delivered {
                store::update_receipt(tx, qid, m)?;
            }
            for seq in expired.iter().chain(&redriven) {
                store::delete_message(tx, qid, *seq)?;
            }
            if let Some((dqid, _)) = dlq_info {
                for m in &moved {
                    store::insert_message(tx, dqid, m)?;
                }
            }
            Ok(())
        })?;
        for seq in expired.iter().chain(&redriven) {
            q.remove(*seq);
        }
        let mut out = Vec::with_capacity(delivered.len());
        for m in &delivered {
            let at = m.visible_at;
            if let Some(stored) = q.msgs.get_mut(&m.seq) {
                stored.receive_count = m.receive_count;
                stored.first_receive_ms = m.first_receive_ms;
                stored.receipt = m.receipt;
            }
            q.set_visible_at(m.seq, at, now);
            out.push(filter.message(m, encode_handle(qid, m.seq, m.receipt)));
        }
        let next_due = q.next_due(now);
        let n = out.len() as u64;
        st.counters.entry(name.to_string()).or_default().received += n;
        if !moved.is_empty() {
            if let Some(d) = dlq {
                if let Some(dq) = st.queues.get_mut(&d) {
                    for m in moved {
                        dq.insert(m, now);
                    }
                    dq.notify.notify_waiters();
                }
            }
        }
        Ok((out, next_due))
    }

    // ---- deleting and visibility ----

    /// Resolves a receipt handle of queue `q`: `Ok(Some(seq))` when it is the latest handle of a
    /// stored message, `Ok(None)` when its message is gone or was received again since.
    fn resolve_handle(q: &Queue, handle: &str) -> Result<Option<i64>, SqsError> {
        let (qid, seq, n) = decode_handle(handle).ok_or_else(|| invalid_handle(handle))?;
        if qid != q.row.id || n == 0 {
            return Err(invalid_handle(handle));
        }
        Ok(q.msgs.get(&seq).filter(|m| m.receipt == n).map(|m| m.seq))
    }

    /// Checks one DeleteMessage: which message it deletes, if any. A standard queue takes a
    /// handle whose message is gone or was received again (AWS: the request succeeds); a FIFO
    /// queue refuses a handle whose visibility timeout ended (AWS's answer in
    /// test_fifo_delete_after_visibility_timeout).
    fn delete_target(q: &Queue, handle: &str, now: i64) -> Result<Option<i64>, SqsError> {
        let target = Self::resolve_handle(q, handle)?;
        if q.fifo() {
            let live = target.filter(|seq| q.msgs[seq].visible_at > now);
            let gone = decode_handle(handle).is_some_and(|(_, seq, _)| !q.msgs.contains_key(&seq));
            if live.is_none() && !gone {
                return Err(SqsError::invalid_value(
                    handle,
                    "ReceiptHandle",
                    "The receipt handle has expired.",
                ));
            }
            return Ok(live);
        }
        Ok(target)
    }

    fn delete_many(&self, name: &str, seqs: &[i64]) -> Result<(), SqsError> {
        let mut st = self.inner.state.lock();
        let q = st.queues.get_mut(name).ok_or_else(SqsError::no_queue)?;
        let qid = q.row.id;
        if seqs.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            for seq in seqs {
                store::delete_message(tx, qid, *seq)?;
            }
            Ok(())
        })?;
        let mut n = 0;
        let mut fifo_freed = false;
        for seq in seqs {
            if q.remove(*seq).is_some() {
                n += 1;
                fifo_freed |= q.fifo();
            }
        }
        if fifo_freed {
            // The next message of its group may be received now.
            q.notify.notify_waiters();
        }
        st.counters.entry(name.to_string()).or_default().deleted += n;
        Ok(())
    }

    pub fn delete_message(&self, req: DeleteMessageRequest) -> Result<Empty, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        let handle = required(&req.receipt_handle, "ReceiptHandle")?;
        let now = self.now();
        let target = {
            let st = self.inner.state.lock();
            let q = st.queues.get(&name).ok_or_else(SqsError::no_queue)?;
            Self::delete_target(q, handle, now)?
        };
        if let Some(seq) = target {
            self.delete_many(&name, &[seq])?;
        }
        Ok(Empty {})
    }

    pub fn delete_message_batch(
        &self,
        req: BatchRequest,
    ) -> Result<BatchResult<IdEntry>, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        model::check_batch(
            "DeleteMessageBatchRequestEntry",
            req.entries
                .iter()
                .map(|e| e.id.as_deref().unwrap_or_default()),
        )?;
        let now = self.now();
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        let mut seqs = Vec::new();
        {
            let st = self.inner.state.lock();
            let q = st.queues.get(&name).ok_or_else(SqsError::no_queue)?;
            for e in req.entries {
                let id = e.id.unwrap_or_default();
                let r = match e.receipt_handle.as_deref() {
                    Some(h) if !h.is_empty() => Self::delete_target(q, h, now),
                    _ => Err(SqsError::missing("ReceiptHandle")),
                };
                match r {
                    Ok(t) => {
                        seqs.extend(t);
                        successful.push(IdEntry { id });
                    }
                    Err(err) => failed.push(batch_error(id, &err)),
                }
            }
        }
        self.delete_many(&name, &seqs)?;
        Ok(BatchResult { successful, failed })
    }

    fn change_one(
        q: &mut Queue,
        handle: &str,
        timeout: Option<i64>,
        now: i64,
    ) -> Result<Msg, SqsError> {
        let timeout = timeout.ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
        if !(0..=model::MAX_VISIBILITY_TIMEOUT).contains(&timeout) {
            return Err(SqsError::invalid_value(
                timeout,
                "VisibilityTimeout",
                "Must be between 0 and 43200, if provided.",
            ));
        }
        let Some(seq) = Self::resolve_handle(q, handle)? else {
            // AWS's answer in LocalStack's validated
            // test_change_message_visibility_after_visibility_timeout_expiration / deleted handle.
            return Err(SqsError::invalid_value(
                handle,
                "ReceiptHandle",
                "Message does not exist or is not available for visibility timeout change.",
            ));
        };
        let m = &q.msgs[&seq];
        if m.visible_at <= now {
            return Err(SqsError::new(
                ErrorKind::MessageNotInflight,
                "The specified message isn't in flight.",
            ));
        }
        let mut m = m.clone();
        m.visible_at = now + timeout * 1000;
        Ok(m)
    }

    fn apply_changes(&self, q: &mut Queue, changed: Vec<Msg>, now: i64) -> Result<(), SqsError> {
        if changed.is_empty() {
            return Ok(());
        }
        let qid = q.row.id;
        self.write(|tx| {
            for m in &changed {
                store::update_receipt(tx, qid, m)?;
            }
            Ok(())
        })?;
        let mut visible_now = false;
        for m in changed {
            visible_now |= m.visible_at <= now;
            q.set_visible_at(m.seq, m.visible_at, now);
        }
        if visible_now {
            q.notify.notify_waiters();
        }
        Ok(())
    }

    pub fn change_message_visibility(
        &self,
        req: ChangeMessageVisibilityRequest,
    ) -> Result<Empty, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        let handle = required(&req.receipt_handle, "ReceiptHandle")?;
        let now = self.now();
        let mut st = self.inner.state.lock();
        let q = st.queues.get_mut(&name).ok_or_else(SqsError::no_queue)?;
        q.settle(now);
        let m = Self::change_one(q, handle, req.visibility_timeout, now)?;
        self.apply_changes(q, vec![m], now)?;
        Ok(Empty {})
    }

    pub fn change_message_visibility_batch(
        &self,
        req: BatchRequest,
    ) -> Result<BatchResult<IdEntry>, SqsError> {
        let name = model::name_of_url(required(&req.queue_url, "QueueUrl")?).to_string();
        model::check_batch(
            "ChangeMessageVisibilityBatchRequestEntry",
            req.entries
                .iter()
                .map(|e| e.id.as_deref().unwrap_or_default()),
        )?;
        let now = self.now();
        let mut st = self.inner.state.lock();
        let q = st.queues.get_mut(&name).ok_or_else(SqsError::no_queue)?;
        q.settle(now);
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        let mut changed = Vec::new();
        for e in req.entries {
            let id = e.id.unwrap_or_default();
            let r = match e.receipt_handle.as_deref() {
                Some(h) if !h.is_empty() => Self::change_one(q, h, e.visibility_timeout, now),
                _ => Err(SqsError::missing("ReceiptHandle")),
            };
            match r {
                Ok(m) => {
                    changed.push(m);
                    successful.push(IdEntry { id });
                }
                Err(err) => failed.push(batch_error(id, &err)),
            }
        }
        self.apply_changes(q, changed, now)?;
        Ok(BatchResult { successful, failed })
    }

    // ---- for event source mappings (Lambda's pollers, in-process) ----

    /// The name of the queue `queue_arn` names, if it is one of this SQS's.
    fn name_of_own_arn<'a>(&self, queue_arn: &'a str) -> Option<&'a str> {
        let name = model::name_of_arn(queue_arn)?;
        (queue_arn == self.arn(name)).then_some(name)
    }

    /// Whether the queue `queue_arn` names is a FIFO queue; `None` when there is no such queue.
    pub fn queue_is_fifo(&self, queue_arn: &str) -> Option<bool> {
        let name = self.name_of_own_arn(queue_arn)?;
        self.inner.state.lock().queues.get(name).map(Queue::fifo)
    }

    /// ReceiveMessage for a poller: up to `max` (1 to 10) messages of the queue `queue_arn`
    /// with every system and message attribute, waiting up to `wait_s` seconds (0 to 20) for
    /// one. Dropping the future while it waits takes nothing from the queue.
    pub async fn receive_for_poller(
        &self,
        queue_arn: &str,
        max: usize,
        wait_s: i64,
    ) -> Result<Vec<Message>, SqsError> {
        let name = self
            .name_of_own_arn(queue_arn)
            .ok_or_else(SqsError::no_queue)?;
        let req = ReceiveMessageRequest {
            queue_url: Some(name.to_string()),
            attribute_names: vec!["All".into()],
            message_attribute_names: vec!["All".into()],
            max_number_of_messages: Some(max.clamp(1, 10) as i64),
            wait_time_seconds: Some(wait_s.clamp(0, 20)),
            ..Default::default()
        };
        Ok(self.receive(req).await?.messages)
    }

    /// Deletes the messages of the queue `queue_arn` that these receipt handles (of a poller's
    /// receives) name, in one transaction: a handle whose message is gone or was received again
    /// since deletes nothing. The number deleted.
    pub fn delete_received(&self, queue_arn: &str, handles: &[String]) -> Result<usize, SqsError> {
        let name = self
            .name_of_own_arn(queue_arn)
            .ok_or_else(SqsError::no_queue)?
            .to_string();
        let seqs: Vec<i64> = {
            let st = self.inner.state.lock();
            let q = st.queues.get(&name).ok_or_else(SqsError::no_queue)?;
            handles
                .iter()
                .filter_map(|h| Self::resolve_handle(q, h).ok().flatten())
                .collect()
        };
        self.delete_many(&name, &seqs)?;
        Ok(seqs.len())
    }

    // ---- stats ----

    /// Counts of every queue, by name (messages past their retention period deleted first).
    pub fn stats(&self) -> Vec<(QueueStats, QueueCounters)> {
        let now = self.now();
        let mut st = self.inner.state.lock();
        let st = &mut *st;
        let names: Vec<String> = st.queues.keys().cloned().collect();
        for name in names {
            if let Err(e) = self.sweep(st, &name, now) {
                tracing::warn!(queue = %name, error = %e, "sqs retention sweep");
            }
        }
        let mut out: Vec<(QueueStats, QueueCounters)> = st
            .queues
            .values_mut()
            .map(|q| {
                q.settle(now);
                let (visible, in_flight, delayed) = q.counts(now);
                let oldest = q.msgs.values().map(|m| m.sent_ms).min();
                (
                    QueueStats {
                        name: q.row.name.clone(),
                        fifo: q.fifo(),
                        visible,
                        in_flight,
                        delayed,
                        oldest_age_s: oldest.map_or(0, |t| (now - t).max(0) / 1000),
                    },
                    st.counters.get(&q.row.name).cloned().unwrap_or_default(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        out
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), SqsError> {
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            return Err(SqsError::param(format!("Tag key or value is invalid: {k}")));
        }
    }
    Ok(())
}

/// A page of sorted `names` after `token` (the last name of the previous page, base64).
fn page<'a>(
    names: impl Iterator<Item = &'a String>,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), SqsError> {
    let mut names: Vec<&String> = names.collect();
    names.sort();
    let after = match token {
        Some(t) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| SqsError::invalid_value(t, "NextToken", "Invalid NextToken."))?,
        ),
        None => None,
    };
    if let Some(m) = max {
        if !(1..=1000).contains(&m) {
            return Err(SqsError::invalid_value(
                m,
                "MaxResults",
                "MaxResults must be an integer between 1 and 1000.",
            ));
        }
    }
    let limit = max.unwrap_or(1000) as usize;
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| after.as_ref().is_none_or(|a| n.as_str() > a.as_str()))
        .cloned()
        .collect();
    let more = max.is_some() && rest.len() > limit;
    let page: Vec<String> = rest.into_iter().take(limit).collect();
    let next = more
        .then(|| {
            page.last()
                .map(|l| base64::engine::general_purpose::STANDARD.encode(l))
        })
        .flatten();
    Ok((page, next))
}

fn batch_error(id: String, e: &SqsError) -> BatchResultErrorEntry {
    BatchResultErrorEntry {
        id,
        sender_fault: e.kind.sender_fault(),
        code: e.kind.query_code().to_string(),
        message: e.message.clone(),
    }
}

/// Which attributes a receive returns.
struct Filter {
    all_system: bool,
    system: Vec<String>,
    all_user: bool,
    user: Vec<String>,
    prefixes: Vec<String>,
}

impl Filter {
    fn new(req: &ReceiveMessageRequest) -> Filter {
        let system: Vec<String> = req
            .attribute_names
            .iter()
            .chain(&req.message_system_attribute_names)
            .cloned()
            .collect();
        let all_user = req
            .message_attribute_names
            .iter()
            .any(|n| n == "All" || n == ".*");
        let prefixes = req
            .message_attribute_names
            .iter()
            .filter_map(|n| n.strip_suffix(".*").map(|p| format!("{p}.")))
            .collect();
        Filter {
            all_system: system.iter().any(|n| n == "All"),
            system,
            all_user,
            user: req.message_attribute_names.clone(),
            prefixes,
        }
    }

    fn wants_system(&self, name: &str) -> bool {
        self.all_system || self.system.iter().any(|n| n == name)
    }

    fn wants_user(&self, name: &str) -> bool {
        self.all_user
            || self.user.iter().any(|n| n == name)
            || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    fn message(&self, m: &Msg, receipt_handle: String) -> Message {
        let mut attributes = BTreeMap::new();
        if !self.system.is_empty() {
            let mut put = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    if self.wants_system(k) {
                        attributes.insert(k.to_string(), v);
                    }
                }
            };
            put("SenderId", Some(m.sender.clone()));
            put("SentTimestamp", Some(m.sent_ms.to_string()));
            put("ApproximateReceiveCount", Some(m.receive_count.to_string()));
            put(
                "ApproximateFirstReceiveTimestamp",
                m.first_receive_ms.map(|t| t.to_string()),
            );
            put("MessageGroupId", m.group.clone());
            put("MessageDeduplicationId", m.dedup.clone());
            put("SequenceNumber", m.seq_number.clone());
            put("AWSTraceHeader", m.trace_header.clone());
            put("DeadLetterQueueSourceArn", m.dlq_source.clone());
        }
        let message_attributes: MessageAttributes = match &m.attrs {
            Some(a) if !self.user.is_empty() => a
                .iter()
                .filter(|(k, _)| self.wants_user(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            _ => MessageAttributes::new(),
        };
        Message {
            message_id: m.id.clone(),
            receipt_handle,
            md5_of_body: model::md5_hex(m.body.as_bytes()),
            body: m.body.clone(),
            attributes,
            md5_of_message_attributes: model::md5_of_message_attributes(&message_attributes),
            message_attributes,
        }
    }
}

#[cfg(test)]
mod tests;
