//! Hako's Kinesis Data Streams: the model (`model`, `wire`, `error`), the application layer
//! ([`Kinesis`], one method per operation, in `streams.rs`, `records.rs`, `tags.rs`), its storage
//! (`storage`, its own `kinesis.db` through `hako_store::ServiceDb`) and the binding of the JSON
//! 1.1 protocol (`api`), an axum router the front door is given.
//!
//! Invariants:
//! - A record is acknowledged (PutRecord(s) answers) only after the transaction that stored it
//!   committed; the sequence numbers it answers are those stored.
//! - Within a shard, records get strictly growing indices (`shards.next_index`, in the same
//!   transaction as the records), so sequence numbers grow and are never reused, even after
//!   retention deleted every record of the shard.
//! - Time comes from the [`Clock`]: stream status (CREATING -> ACTIVE, DELETING -> gone),
//!   iterator expiry and retention are decided by it, never by a timer.
//! - Waiting readers never hold the database: [`Kinesis::subscribe`] hands out a watch that
//!   changes after every committed write to a stream.

pub mod api;
pub mod error;
pub mod metrics;
pub mod model;
mod records;
mod storage;
mod streams;
mod tags;
pub mod wire;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hako_model::clock::Clock;
use hako_model::validation::Violations;
use hako_store::ServiceDb;
use parking_lot::Mutex;
use tokio::sync::watch;

pub use crate::error::{Code, Error, Result};
pub use crate::metrics::{KinesisMetrics, StreamCounts};
use crate::model::{shapes, StreamStatus};
pub use crate::records::{ShardBatch, ShardRecord};
use crate::storage::StreamRow;
use crate::wire::StreamRef;

/// What the binary decides for Kinesis.
#[derive(Debug, Clone)]
pub struct KinesisConfig {
    pub region: String,
    pub account_id: String,
    /// How long a new stream is CREATING before it is ACTIVE.
    pub creating_ms: i64,
    /// How long a deleted stream is DELETING before it is gone.
    pub deleting_ms: i64,
    /// Whether a shard takes at most AWS's 1,000 records and 1 MiB per second (records past
    /// them fail with ProvisionedThroughputExceededException). Off by default: Hako is one
    /// machine, and throttling would only slow tests and benchmarks.
    pub enforce_shard_write_rates: bool,
}

impl KinesisConfig {
    pub fn new(region: &str, account_id: &str) -> KinesisConfig {
        KinesisConfig {
            region: region.to_string(),
            account_id: account_id.to_string(),
            creating_ms: 500,
            deleting_ms: 500,
            enforce_shard_write_rates: false,
        }
    }
}

/// The Kinesis application layer. Cheap to clone.
#[derive(Clone)]
pub struct Kinesis {
    inner: Arc<Inner>,
}

struct Inner {
    db: ServiceDb,
    clock: Arc<dyn Clock>,
    cfg: KinesisConfig,
    /// Per stream name: a counter bumped after every committed write of records.
    wakers: Mutex<HashMap<String, watch::Sender<u64>>>,
    metrics: KinesisMetrics,
    /// Per (stream id, shard): what it wrote in the current second (when rates are enforced).
    write_windows: Mutex<HashMap<(i64, u32), WriteWindow>>,
}

/// What one shard wrote in one second.
#[derive(Debug, Default, Clone, Copy)]
struct WriteWindow {
    second: i64,
    records: u64,
    bytes: u64,
}

impl std::fmt::Debug for Kinesis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kinesis")
            .field("region", &self.inner.cfg.region)
            .finish()
    }
}

impl Kinesis {
    /// Kinesis on its database file (created and migrated when needed).
    pub fn open(path: &Path, cfg: KinesisConfig, clock: Arc<dyn Clock>) -> Result<Kinesis> {
        let db = ServiceDb::open(path, storage::MIGRATIONS)?;
        Ok(Kinesis::with_db(db, cfg, clock))
    }

    /// Kinesis on its database file, read only (for `hako streams` beside a running server).
    pub fn open_read_only(
        path: &Path,
        cfg: KinesisConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Kinesis> {
        let db = ServiceDb::open_read_only(path)?;
        Ok(Kinesis::with_db(db, cfg, clock))
    }

    /// Kinesis on an in-memory database (tests).
    pub fn in_memory(cfg: KinesisConfig, clock: Arc<dyn Clock>) -> Result<Kinesis> {
        let db = ServiceDb::open_in_memory(storage::MIGRATIONS)?;
        Ok(Kinesis::with_db(db, cfg, clock))
    }

    fn with_db(db: ServiceDb, cfg: KinesisConfig, clock: Arc<dyn Clock>) -> Kinesis {
        Kinesis {
            inner: Arc::new(Inner {
                db,
                clock,
                cfg,
                wakers: Mutex::new(HashMap::new()),
                metrics: KinesisMetrics::default(),
                write_windows: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    fn account(&self) -> &str {
        &self.inner.cfg.account_id
    }

    fn arn(&self, name: &str) -> String {
        model::stream_arn(&self.inner.cfg.region, &self.inner.cfg.account_id, name)
    }

    pub fn metrics(&self) -> &KinesisMetrics {
        &self.inner.metrics
    }

    /// A watch on a stream's writes: its value changes after every committed PutRecord(s) on
    /// the stream, so a poller waits on `changed()` instead of a timer.
    pub fn subscribe(&self, stream_name: &str) -> watch::Receiver<u64> {
        let mut w = self.inner.wakers.lock();
        w.entry(stream_name.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    fn wake(&self, stream_name: &str) {
        let w = self.inner.wakers.lock();
        if let Some(tx) = w.get(stream_name) {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The status of a stored stream now; `None` once a deleted stream is gone.
    fn status(&self, s: &StreamRow) -> Option<StreamStatus> {
        let now = self.now();
        match s.deleted_ms {
            Some(d) if now >= d + self.inner.cfg.deleting_ms => None,
            Some(_) => Some(StreamStatus::Deleting),
            None if now < s.created_ms + self.inner.cfg.creating_ms => Some(StreamStatus::Creating),
            None => Some(StreamStatus::Active),
        }
    }

    /// The name a request's StreamName / StreamARN names, checked against their shapes.
    fn stream_name(&self, r: &StreamRef, v: &mut Violations) -> Result<Option<String>> {
        v.opt_string("streamName", r.stream_name.as_deref(), &shapes::STREAM_NAME);
        v.opt_string("streamARN", r.stream_arn.as_deref(), &shapes::STREAM_ARN);
        if let Some(arn) = &r.stream_arn {
            let Some((region, account, name)) = model::parse_stream_arn(arn) else {
                return Ok(None);
            };
            if region != self.inner.cfg.region || account != self.inner.cfg.account_id {
                return Err(Error::stream_not_found(name, account));
            }
            return Ok(Some(name.to_string()));
        }
        Ok(r.stream_name.clone())
    }

    /// The stream a request names (name or ARN), which must exist (in any live status).
    fn find(&self, r: &StreamRef, v: Violations) -> Result<(StreamRow, StreamStatus)> {
        let mut v = v;
        let name = self.stream_name(r, &mut v)?;
        v.finish()?;
        let Some(name) = name else {
            // No AWS-recorded answer for a request naming no stream at all; worded like
            // ListShards' "Either NextToken or StreamName should be provided."
            return Err(Error::invalid_argument(
                "Either StreamName or StreamARN should be provided.",
            ));
        };
        let row = self.inner.db.read(|c| storage::stream_by_name(c, &name))?;
        match row {
            Some(s) => match self.status(&s) {
                Some(status) => Ok((s, status)),
                None => Err(Error::stream_not_found(&name, self.account())),
            },
            None => Err(Error::stream_not_found(&name, self.account())),
        }
    }

    /// The stream a data operation names, which must be ACTIVE (AWS answers a CREATING or
    /// DELETING stream as not found: kinesalite's putRecord, tested against AWS).
    fn find_active(&self, r: &StreamRef, v: Violations) -> Result<StreamRow> {
        let (s, status) = self.find(r, v)?;
        if status != StreamStatus::Active {
            return Err(Error::stream_not_found(&s.name, self.account()));
        }
        Ok(s)
    }

    /// Deletes the records older than each stream's retention, forgets streams deleted long
    /// enough ago and deletes the records of deleted streams, in short transactions; the number
    /// of records removed. The binary runs it periodically.
    pub fn housekeep(&self) -> Result<usize> {
        self.housekeep_in_chunks(PURGE_CHUNK)
    }

    pub(crate) fn housekeep_in_chunks(&self, chunk: usize) -> Result<usize> {
        let now = self.now();
        let streams = self.inner.db.read(|c| storage::streams(c, None))?;
        let mut removed = 0;
        for s in streams {
            match self.status(&s) {
                None => self.inner.db.write(|tx| storage::forget_stream(tx, s.id))?,
                Some(StreamStatus::Deleting) => {}
                Some(_) => {
                    let before = now - s.retention_hours * 3_600_000;
                    removed += self
                        .inner
                        .db
                        .write(|tx| storage::trim(tx, s.id, s.shard_count, before))?;
                }
            }
        }
        for id in self.inner.db.read(storage::purges)? {
            loop {
                let n = self
                    .inner
                    .db
                    .write(|tx| storage::purge_chunk(tx, id, chunk))?;
                removed += n;
                if n == 0 {
                    break;
                }
            }
        }
        Ok(removed)
    }
}

/// The most records one housekeeping transaction deletes of a deleted stream.
const PURGE_CHUNK: usize = 10_000;

#[cfg(test)]
mod tests;
