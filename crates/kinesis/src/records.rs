//! The record operations: PutRecord, PutRecords, GetShardIterator, GetRecords; and
//! [`Kinesis::read_shard`], how a poller inside Hako reads a shard.

use hako_model::validation::{Constraint, Violations};

use crate::error::{Code, Error, Result};
use crate::model::{self, limits, shapes, SequenceNumber, ShardIterator, StreamStatus};
use crate::storage::{self, RecordRow, StreamRow};
use crate::wire::*;
use crate::{Kinesis, WriteWindow};

/// One record to store: its shard (chosen from its hash key) and contents.
struct Incoming {
    shard: u32,
    partition_key: String,
    data: Vec<u8>,
}

/// One record read from a shard, for pollers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRecord {
    pub sequence_number: String,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// What [`Kinesis::read_shard`] read: the records in order, and how far behind the newest
/// record of the shard the reader is after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardBatch {
    pub records: Vec<ShardRecord>,
    pub millis_behind_latest: i64,
}

impl Kinesis {
    pub fn put_record(&self, input: PutRecordInput) -> Result<PutRecordOutput> {
        let mut v = Violations::new();
        let data = v.required("data", input.data.as_ref());
        let key = v.required("partitionKey", input.partition_key.as_deref());
        if let Some(d) = data {
            check_data(&mut v, "data", d);
        }
        v.opt_string("partitionKey", key, &shapes::PARTITION_KEY);
        v.opt_string(
            "explicitHashKey",
            input.explicit_hash_key.as_deref(),
            &shapes::HASH_KEY,
        );
        v.opt_string(
            "sequenceNumberForOrdering",
            input.sequence_number_for_ordering.as_deref(),
            &shapes::SEQUENCE_NUMBER,
        );
        let s = self.find_active(&input.stream, v)?;
        let entry = PutRecordsRequestEntry {
            data: input.data,
            partition_key: input.partition_key,
            explicit_hash_key: input.explicit_hash_key,
        };
        let incoming = self.route(&s, vec![entry])?;
        let admitted = self
            .admit(&s, incoming)
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let mut out = self.store(&s, admitted)?;
        let (shard_id, sequence_number) = out.pop().unwrap_or_default();
        Ok(PutRecordOutput {
            shard_id,
            sequence_number,
            encryption_type: "NONE".to_string(),
        })
    }

    pub fn put_records(&self, input: PutRecordsInput) -> Result<PutRecordsOutput> {
        let mut v = Violations::new();
        let records = v.required("records", input.records.as_ref());
        if let Some(records) = records {
            if records.is_empty() || records.len() > limits::MAX_PUT_RECORDS {
                let c = if records.is_empty() {
                    Constraint::MinLength(1)
                } else {
                    Constraint::MaxLength(limits::MAX_PUT_RECORDS)
                };
                v.push(Some(&list_shown(records)), "records", c);
            }
            for (i, r) in records.iter().enumerate() {
                // The member's path is written only for a violation (500 records a request).
                let at = |m: &str| format!("records.{}.member.{m}", i + 1);
                match &r.data {
                    Some(d) if d.0.len() > limits::MAX_RECORD_BYTES => {
                        check_data(&mut v, &at("data"), d)
                    }
                    Some(_) => {}
                    None => v.push(None, &at("data"), Constraint::NotNull),
                }
                match &r.partition_key {
                    Some(k) if !shapes::PARTITION_KEY.broken_by_str(k).is_empty() => {
                        v.string(&at("partitionKey"), k, &shapes::PARTITION_KEY)
                    }
                    Some(_) => {}
                    None => v.push(None, &at("partitionKey"), Constraint::NotNull),
                }
                if let Some(h) = &r.explicit_hash_key {
                    if !shapes::HASH_KEY.broken_by_str(h).is_empty() {
                        v.string(&at("explicitHashKey"), h, &shapes::HASH_KEY);
                    }
                }
            }
        }
        let s = self.find_active(&input.stream, v)?;
        let records = input.records.unwrap_or_default();
        let total: usize = records
            .iter()
            .map(|r| {
                r.data.as_ref().map_or(0, |d| d.0.len())
                    + r.partition_key.as_ref().map_or(0, String::len)
            })
            .sum();
        if total > limits::MAX_PUT_RECORDS_BYTES {
            // moto's wording (no AWS-recorded answer found).
            return Err(Error::invalid_argument("Records size exceeds 5 MB limit"));
        }
        let incoming = self.route(&s, records)?;
        // Each record is admitted or refused on its own (the per-shard rates, when enforced);
        // the admitted ones are stored together, the others answered with their error.
        let admitted = self.admit(&s, incoming);
        let refused: Vec<Option<Error>> =
            admitted.iter().map(|a| a.as_ref().err().cloned()).collect();
        let stored = self.store(&s, admitted.into_iter().filter_map(|a| a.ok()).collect())?;
        let mut stored = stored.into_iter();
        let mut failed = 0;
        let records = refused
            .into_iter()
            .map(|r| match r {
                None => {
                    let (shard_id, seq) = stored.next().unwrap_or_default();
                    PutRecordsResultEntry {
                        sequence_number: Some(seq),
                        shard_id: Some(shard_id),
                        error_code: None,
                        error_message: None,
                    }
                }
                Some(e) => {
                    failed += 1;
                    PutRecordsResultEntry {
                        sequence_number: None,
                        shard_id: None,
                        error_code: Some(e.code.name().to_string()),
                        error_message: Some(e.message),
                    }
                }
            })
            .collect();
        Ok(PutRecordsOutput {
            failed_record_count: failed,
            records,
            encryption_type: "NONE".to_string(),
        })
    }

    /// Each record admitted, or refused because its shard wrote its AWS rate this second
    /// (1,000 records or 1 MiB per shard per second), when the rates are enforced.
    fn admit(&self, s: &StreamRow, records: Vec<Incoming>) -> Vec<Result<Incoming>> {
        if !self.inner.cfg.enforce_shard_write_rates {
            return records.into_iter().map(Ok).collect();
        }
        let second = self.now().div_euclid(1000);
        let mut windows = self.inner.write_windows.lock();
        records
            .into_iter()
            .map(|r| {
                let w = windows.entry((s.id, r.shard)).or_default();
                if w.second != second {
                    *w = WriteWindow {
                        second,
                        records: 0,
                        bytes: 0,
                    };
                }
                let size = (r.data.len() + r.partition_key.len()) as u64;
                if w.records + 1 > limits::SHARD_WRITE_RECORDS_PER_SECOND
                    || w.bytes + size > limits::SHARD_WRITE_BYTES_PER_SECOND
                {
                    // AWS's per-record answer (PutRecords API reference, example response;
                    // LocalStack's provider answers the same words).
                    return Err(Error::new(
                        Code::ProvisionedThroughputExceeded,
                        format!(
                            "Rate exceeded for shard {} in stream {} under account {}.",
                            model::shard_id(r.shard),
                            s.name,
                            self.account()
                        ),
                    ));
                }
                w.records += 1;
                w.bytes += size;
                Ok(r)
            })
            .collect()
    }

    /// The shard of each record: its ExplicitHashKey, else the MD5 of its partition key, in the
    /// shard whose hash key range holds it.
    fn route(&self, s: &StreamRow, entries: Vec<PutRecordsRequestEntry>) -> Result<Vec<Incoming>> {
        let ranges = model::hash_ranges(s.shard_count);
        entries
            .into_iter()
            .map(|e| {
                let key = e.partition_key.unwrap_or_default();
                let hash = match &e.explicit_hash_key {
                    Some(h) => model::parse_explicit_hash_key(h)?,
                    None => model::hash_key_of(&key),
                };
                Ok(Incoming {
                    shard: model::shard_for(&ranges, hash) as u32,
                    partition_key: key,
                    data: e.data.map(|d| d.0).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Stores records in one transaction; (shard id, sequence number) of each, in order.
    fn store(&self, s: &StreamRow, records: Vec<Incoming>) -> Result<Vec<(String, String)>> {
        let now = self.now();
        let account = self.account().to_string();
        let status = |row: &StreamRow| self.status(row);
        let count = records.len() as u64;
        let bytes: u64 = records
            .iter()
            .map(|r| (r.data.len() + r.partition_key.len()) as u64)
            .sum();
        let out = self.inner.db.write(|tx| {
            // The stream again, inside the transaction: a DeleteStream may have come between.
            match storage::stream_by_name(tx, &s.name)? {
                Some(row) if row.id == s.id && status(&row) == Some(StreamStatus::Active) => {}
                _ => return Ok(Err(Error::stream_not_found(&s.name, &account))),
            }
            let mut next: Vec<Option<u64>> = vec![None; s.shard_count as usize];
            let mut out = Vec::with_capacity(records.len());
            for r in records {
                let slot = &mut next[r.shard as usize];
                let index = match slot {
                    Some(n) => *n,
                    None => storage::next_index(tx, s.id, r.shard)?,
                };
                *slot = Some(index + 1);
                storage::insert_record(
                    tx,
                    s.id,
                    r.shard,
                    &RecordRow {
                        index,
                        arrival_ms: now,
                        partition_key: r.partition_key,
                        data: r.data,
                    },
                )?;
                out.push((r.shard, index));
            }
            for (shard, n) in next.iter().enumerate() {
                if let Some(n) = n {
                    storage::set_next_index(tx, s.id, shard as u32, *n)?;
                }
            }
            Ok(Ok(out))
        })??;
        self.wake(&s.name);
        self.inner.metrics.incoming(&s.name, count, bytes);
        Ok(out
            .into_iter()
            .map(|(shard, index)| {
                (
                    model::shard_id(shard),
                    self.sequence_number(s, shard, index, now),
                )
            })
            .collect())
    }

    fn sequence_number(&self, s: &StreamRow, shard: u32, index: u64, arrival_ms: i64) -> String {
        SequenceNumber {
            shard_created_secs: (s.created_ms / 1000) as u64,
            shard,
            index,
            arrival_secs: (arrival_ms / 1000) as u64,
        }
        .render()
    }

    pub fn get_shard_iterator(
        &self,
        input: GetShardIteratorInput,
    ) -> Result<GetShardIteratorOutput> {
        let mut v = Violations::new();
        let shard_id = v.required("shardId", input.shard_id.as_deref());
        v.opt_string("shardId", shard_id, &shapes::SHARD_ID);
        let kind = v.required("shardIteratorType", input.shard_iterator_type.as_deref());
        v.opt_string("shardIteratorType", kind, &shapes::ITERATOR_TYPE);
        v.opt_string(
            "startingSequenceNumber",
            input.starting_sequence_number.as_deref(),
            &shapes::SEQUENCE_NUMBER,
        );
        let s = self.find_active(&input.stream, v)?;
        let shard_id = shard_id.unwrap_or_default();
        let kind = kind.unwrap_or_default();
        let account = self.account();
        let shard = model::parse_shard_id(shard_id)
            .filter(|n| *n < s.shard_count)
            .ok_or_else(|| Error::shard_not_found(shard_id, &s.name, account))?;
        let shard_name = model::shard_id(shard);
        let now = self.now();
        let seq_kind = matches!(kind, "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER");
        // kinesalite's getShardIterator (tested against AWS).
        match (&input.starting_sequence_number, seq_kind) {
            (Some(_), false) if kind != "AT_TIMESTAMP" => {
                return Err(Error::invalid_argument(format!(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and \
                     StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no \
                     StartingSequenceNumber. Request specified {kind} and also a \
                     StartingSequenceNumber."
                )))
            }
            (None, true) => {
                return Err(Error::invalid_argument(format!(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and \
                     StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no \
                     StartingSequenceNumber. Request specified {kind} and no \
                     StartingSequenceNumber."
                )))
            }
            _ => {}
        }
        let from_index = match kind {
            "TRIM_HORIZON" => 0,
            "LATEST" => self
                .inner
                .db
                .read(|c| storage::next_index(c, s.id, shard))?,
            "AT_TIMESTAMP" => {
                let Some(ts) = input.timestamp else {
                    return Err(Error::invalid_argument(
                        "Must specify timestampInMillis parameter for iterator of type \
                         AT_TIMESTAMP. Current request has no timestamp parameter.",
                    ));
                };
                let at = ts.as_ms();
                if at > now {
                    return Err(Error::invalid_argument(format!(
                        "The timestampInMillis parameter cannot be greater than the \
                         currentTimestampInMillis. timestampInMillis: {at}, \
                         currentTimestampInMillis: {now}"
                    )));
                }
                self.inner
                    .db
                    .read(|c| match storage::first_from(c, s.id, shard, 0, at)? {
                        Some((i, _)) => Ok(i),
                        None => storage::next_index(c, s.id, shard),
                    })?
            }
            _ => {
                let text = input
                    .starting_sequence_number
                    .as_deref()
                    .unwrap_or_default();
                let seq = SequenceNumber::parse(text)
                    .filter(|q| q.shard_created_secs == (s.created_ms / 1000) as u64)
                    .ok_or_else(|| {
                        Error::invalid_argument(format!(
                            "StartingSequenceNumber {text} used in GetShardIterator on shard \
                             {shard_name} in stream {} under account {account} is invalid.",
                            s.name
                        ))
                    })?;
                if seq.shard != shard {
                    return Err(Error::invalid_argument(format!(
                        "Invalid StartingSequenceNumber. It encodes {}, while it was used in a \
                         call to a shard with {shard_name}",
                        model::shard_id(seq.shard)
                    )));
                }
                if kind == "AT_SEQUENCE_NUMBER" {
                    seq.index
                } else {
                    seq.index + 1
                }
            }
        };
        Ok(GetShardIteratorOutput {
            shard_iterator: ShardIterator {
                stream: s.name.clone(),
                stream_created_ms: s.created_ms,
                shard,
                from_index,
                created_ms: now,
            }
            .encode(),
        })
    }

    pub fn get_records(&self, input: GetRecordsInput) -> Result<GetRecordsOutput> {
        let mut v = Violations::new();
        let it = v.required("shardIterator", input.shard_iterator.as_deref());
        v.opt_string("shardIterator", it, &shapes::SHARD_ITERATOR);
        v.opt_integer("limit", input.limit, &shapes::LIMIT_10000);
        v.opt_string(
            "streamARN",
            input.stream_arn.as_deref(),
            &shapes::STREAM_ARN,
        );
        v.finish()?;
        let it = ShardIterator::decode(it.unwrap_or_default())?;
        let now = self.now();
        if now - it.created_ms > limits::ITERATOR_TTL_MS {
            return Err(model::iterator_expired(it.created_ms, now));
        }
        let limit = input.limit.map_or(limits::MAX_GET_RECORDS, |n| n as usize);
        let (s, batch, next_from) = self.read_from(
            &it.stream,
            it.stream_created_ms,
            it.shard,
            it.from_index,
            limit,
        )?;
        if let Some(age) = batch.records.last().map(|r| now - r.arrival_ms) {
            self.inner
                .metrics
                .read(&s.name, batch.records.len() as u64, age);
        } else {
            self.inner.metrics.read(&s.name, 0, 0);
        }
        Ok(GetRecordsOutput {
            records: batch
                .records
                .into_iter()
                .map(|r| Record {
                    sequence_number: r.sequence_number,
                    approximate_arrival_timestamp: Timestamp::from_ms(r.arrival_ms),
                    data: Blob(r.data),
                    partition_key: r.partition_key,
                })
                .collect(),
            next_shard_iterator: Some(
                ShardIterator {
                    from_index: next_from,
                    created_ms: now,
                    ..it
                }
                .encode(),
            ),
            millis_behind_latest: batch.millis_behind_latest,
        })
    }

    /// The shard ids of the stream an ARN names (all open: no resharding yet), for pollers.
    pub fn shard_ids(&self, stream_arn: &str) -> Result<Vec<String>> {
        let (s, _) = self.find(&by_arn(stream_arn), Violations::new())?;
        Ok((0..s.shard_count).map(model::shard_id).collect())
    }

    /// The position of a shard's tip for a poller starting at LATEST: the sequence number of
    /// its newest record (read after it with [`Kinesis::read_shard`]), `None` when the shard has
    /// never had one (read from the start).
    pub fn latest_sequence_number(
        &self,
        stream_arn: &str,
        shard_id: &str,
    ) -> Result<Option<String>> {
        let (s, _) = self.find(&by_arn(stream_arn), Violations::new())?;
        let shard = model::parse_shard_id(shard_id)
            .filter(|n| *n < s.shard_count)
            .ok_or_else(|| Error::shard_not_found(shard_id, &s.name, self.account()))?;
        let (next, newest) = self.inner.db.read(|c| {
            let next = storage::next_index(c, s.id, shard)?;
            let newest = storage::first_from(c, s.id, shard, next.saturating_sub(1), i64::MIN)?;
            Ok((next, newest))
        })?;
        // Indices start at 1; 0 is the shard's StartingSequenceNumber, before every record. A
        // newest record retention removed is named with the time now (only its index counts).
        Ok((next > 1).then(|| {
            let arrival = newest.map_or(self.now(), |(_, at)| at);
            self.sequence_number(&s, shard, next - 1, arrival)
        }))
    }

    /// The position of a poller starting AT_TIMESTAMP: the sequence number just before the
    /// shard's first record that arrived at or after `at_ms` (read after it with
    /// [`Kinesis::read_shard`]); `None` when that is the shard's very start. With no record
    /// that recent, the shard's tip (as [`Kinesis::latest_sequence_number`]).
    pub fn sequence_before_timestamp(
        &self,
        stream_arn: &str,
        shard_id: &str,
        at_ms: i64,
    ) -> Result<Option<String>> {
        let (s, _) = self.find(&by_arn(stream_arn), Violations::new())?;
        let shard = model::parse_shard_id(shard_id)
            .filter(|n| *n < s.shard_count)
            .ok_or_else(|| Error::shard_not_found(shard_id, &s.name, self.account()))?;
        let first = self
            .inner
            .db
            .read(|c| storage::first_from(c, s.id, shard, 0, at_ms))?;
        match first {
            // Index 0 is the shard's StartingSequenceNumber, before every record; only the
            // index of a position counts, so the time in it is the record's own.
            Some((index, arrival)) if index > 1 => {
                Ok(Some(self.sequence_number(&s, shard, index - 1, arrival)))
            }
            Some(_) => Ok(None),
            None => self.latest_sequence_number(stream_arn, shard_id),
        }
    }

    /// Reads a shard for a poller inside Hako: the records after `after_sequence` (from the
    /// shard's oldest retained record when `None`), in order, at most `limit` (and 10 MiB).
    /// The stream is named by ARN, as an event source mapping names it.
    pub fn read_shard(
        &self,
        stream_arn: &str,
        shard_id: &str,
        after_sequence: Option<&str>,
        limit: usize,
    ) -> Result<ShardBatch> {
        let (s, _) = self.find(&by_arn(stream_arn), Violations::new())?;
        let account = self.account();
        let shard = model::parse_shard_id(shard_id)
            .filter(|n| *n < s.shard_count)
            .ok_or_else(|| Error::shard_not_found(shard_id, &s.name, account))?;
        let from = match after_sequence {
            None => 0,
            Some(text) => match SequenceNumber::parse(text) {
                Some(q) if q.shard == shard => q.index + 1,
                _ => {
                    return Err(Error::invalid_argument(format!(
                        "Sequence number {text} is not one of shard {shard_id} of stream {}",
                        s.name
                    )))
                }
            },
        };
        let (_, batch, _) = self.read_from(
            &s.name,
            s.created_ms,
            shard,
            from,
            limit.clamp(1, limits::MAX_GET_RECORDS),
        )?;
        Ok(batch)
    }

    /// The records of a shard from index `from` on; the stream, the batch and the index to
    /// read from next.
    fn read_from(
        &self,
        stream: &str,
        stream_created_ms: i64,
        shard: u32,
        from: u64,
        limit: usize,
    ) -> Result<(StreamRow, ShardBatch, u64)> {
        let now = self.now();
        let account = self.account();
        let row = self.inner.db.read(|c| storage::stream_by_name(c, stream))?;
        let s = match row {
            Some(s)
                if s.created_ms == stream_created_ms
                    && shard < s.shard_count
                    && self.status(&s) == Some(StreamStatus::Active) =>
            {
                s
            }
            _ => return Err(Error::shard_gone(&model::shard_id(shard), stream, account)),
        };
        let since = now - s.retention_hours * 3_600_000;
        let (rows, behind) = self.inner.db.read(|c| {
            let rows = storage::read_records(
                c,
                s.id,
                shard,
                from,
                since,
                limit,
                limits::MAX_GET_RECORDS_BYTES,
            )?;
            let next = rows.last().map_or(from, |r| r.index + 1);
            let behind = storage::first_from(c, s.id, shard, next, since)?.map(|(_, a)| a);
            Ok((rows, behind))
        })?;
        let next = rows.last().map_or(from, |r| r.index + 1);
        // Caught up: 0. Else how far behind now the reader's position is: the arrival of the
        // last record it got (of the first it has not got, when it got none).
        let millis_behind_latest = match (behind, rows.last()) {
            (None, _) => 0,
            (Some(_), Some(last)) => (now - last.arrival_ms).max(0),
            (Some(unread), None) => (now - unread).max(0),
        };
        let records = rows
            .into_iter()
            .map(|r| ShardRecord {
                sequence_number: self.sequence_number(&s, shard, r.index, r.arrival_ms),
                arrival_ms: r.arrival_ms,
                partition_key: r.partition_key,
                data: r.data,
            })
            .collect();
        Ok((
            s,
            ShardBatch {
                records,
                millis_behind_latest,
            },
            next,
        ))
    }
}

fn by_arn(stream_arn: &str) -> StreamRef {
    StreamRef {
        stream_name: None,
        stream_arn: Some(stream_arn.to_string()),
    }
}

/// A record's data against the stream's largest record (1 MiB by default): AWS answers it as
/// the model's constraint on `data` (kinesalite's putRecord tests, run against AWS:
/// `Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy
/// constraint: Member must have length less than or equal to 1048576`).
fn check_data(v: &mut Violations, path: &str, d: &Blob) {
    if d.0.len() > limits::MAX_RECORD_BYTES {
        let n = d.0.len();
        v.push(
            Some(&format!("java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]")),
            path,
            Constraint::MaxLength(limits::MAX_RECORD_BYTES),
        );
    }
}

fn list_shown(records: &[PutRecordsRequestEntry]) -> String {
    let items: Vec<String> = records
        .iter()
        .map(|r| {
            format!(
                "PutRecordsRequestEntry(Data=java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}], \
                 PartitionKey={})",
                r.partition_key.as_deref().unwrap_or("null"),
                n = r.data.as_ref().map_or(0, |d| d.0.len())
            )
        })
        .collect();
    hako_model::validation::list_value(&items)
}
