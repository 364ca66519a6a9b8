//! Hako's CloudWatch Logs: the model (`model`, `wire`, `error`, `filter`), the application
//! layer ([`Logs`], one method per operation, in `groups.rs`, `streams.rs`, `events.rs`), its
//! storage (`storage`, its own `logs.db` through `hako_store::ServiceDb`), metrics, and the
//! binding of the JSON 1.1 protocol (`api`), an axum router the front door is given.
//!
//! Lambda's function output arrives through [`Logs::ingest`] (the binary's log writer thread
//! calls it with batches): groups and streams are created implicitly, as Lambda does.
//!
//! Invariants:
//! - An event is acknowledged (PutLogEvents answers) only after the transaction that stored it
//!   committed; a batch of `ingest` is committed in transactions of at most [`INGEST_CHUNK`]
//!   events, so a flood of function output delays an API call by one chunk, never the backlog.
//! - Time comes from the [`Clock`]: PutLogEvents' too-old/too-new windows and retention are
//!   decided by it; retention's deletions are done by [`Logs::housekeep`], which the binary's
//!   supervisor runs every minute, in transactions of at most [`PURGE_CHUNK`] events.
//! - Group and stream ids are never reused, so a group deleted and made again never shows the
//!   old group's events (deleted later, by housekeeping).

pub mod api;
pub mod error;
mod events;
pub mod filter;
mod groups;
mod limits;
pub mod metrics;
pub mod model;
mod storage;
mod streams;
pub mod wire;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hako_model::clock::Clock;
use hako_store::ServiceDb;
use parking_lot::Mutex;

pub use crate::error::{Code, Error, Result};
pub use crate::limits::LogLimits;
pub use crate::metrics::LogsMetrics;

/// What the binary decides for Logs.
#[derive(Debug, Clone)]
pub struct LogsConfig {
    pub region: String,
    pub account_id: String,
    /// What keeps function logs from filling the host (none by default).
    pub limits: LogLimits,
}

impl LogsConfig {
    pub fn new(region: &str, account_id: &str) -> LogsConfig {
        LogsConfig {
            region: region.to_string(),
            account_id: account_id.to_string(),
            limits: LogLimits::default(),
        }
    }

    /// The same, with `limits`.
    pub fn with_limits(mut self, limits: LogLimits) -> LogsConfig {
        self.limits = limits;
        self
    }
}

/// One line written by a function (or any producer inside Hako), for [`Logs::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestLine {
    pub group: Arc<str>,
    pub stream: Arc<str>,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub message: String,
    /// A line of the platform's (START, END, REPORT...): never held to the ingestion limit.
    pub platform: bool,
}

/// One stored event as `hako logs` prints it, in the order events were stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailEvent {
    pub id: i64,
    pub stream: String,
    pub timestamp_ms: i64,
    pub message: String,
}

/// A group's counts, for `hako logs --groups` and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCounts {
    pub name: String,
    pub streams: i64,
    pub stored_bytes: i64,
    pub last_event_ms: i64,
}

/// The events committed in one `ingest` transaction at most.
pub const INGEST_CHUNK: usize = 512;
/// The most events one housekeeping transaction deletes.
pub const PURGE_CHUNK: usize = 10_000;
/// Implicitly created (group, stream) ids remembered at most by `ingest`.
const ID_CACHE_MAX: usize = 8192;

/// A (group, stream) pair as lines name it.
type StreamKey = (Arc<str>, Arc<str>);

/// The Logs application layer. Cheap to clone.
#[derive(Clone)]
pub struct Logs {
    inner: Arc<Inner>,
}

struct Inner {
    db: ServiceDb,
    clock: Arc<dyn Clock>,
    cfg: LogsConfig,
    metrics: LogsMetrics,
    /// (group, stream) -> (group id, stream id), for `ingest`; cleared on every deletion.
    ids: Mutex<HashMap<StreamKey, (i64, i64)>>,
    /// Functions' output per group and second, against the ingestion limit.
    throttle: Mutex<limits::Throttle>,
    /// Message bytes ingested since the size bound was last checked.
    unchecked_bytes: AtomicU64,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs")
            .field("region", &self.inner.cfg.region)
            .finish()
    }
}

impl Logs {
    /// Logs on its database file (created and migrated when needed).
    pub fn open(path: &Path, cfg: LogsConfig, clock: Arc<dyn Clock>) -> Result<Logs> {
        let db = ServiceDb::open(path, storage::MIGRATIONS)?;
        Ok(Logs::with_db(db, cfg, clock))
    }

    /// Logs on its database file, read only (for `hako logs` beside a running server).
    pub fn open_read_only(path: &Path, cfg: LogsConfig, clock: Arc<dyn Clock>) -> Result<Logs> {
        let db = ServiceDb::open_read_only(path)?;
        Ok(Logs::with_db(db, cfg, clock))
    }

    /// Logs on an in-memory database (tests).
    pub fn in_memory(cfg: LogsConfig, clock: Arc<dyn Clock>) -> Result<Logs> {
        let db = ServiceDb::open_in_memory(storage::MIGRATIONS)?;
        Ok(Logs::with_db(db, cfg, clock))
    }

    fn with_db(db: ServiceDb, cfg: LogsConfig, clock: Arc<dyn Clock>) -> Logs {
        Logs {
            inner: Arc::new(Inner {
                db,
                clock,
                cfg,
                metrics: LogsMetrics::default(),
                ids: Mutex::new(HashMap::new()),
                throttle: Mutex::new(limits::Throttle::default()),
                unchecked_bytes: AtomicU64::new(0),
            }),
        }
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub fn metrics(&self) -> &LogsMetrics {
        &self.inner.metrics
    }

    /// The OpenMetrics text of Logs' metrics (ends with `# EOF`).
    pub fn render_metrics(&self) -> String {
        let counts = self.group_counts().unwrap_or_default();
        self.inner.metrics.render(&counts)
    }

    fn forget_ids(&self) {
        self.inner.ids.lock().clear();
    }

    /// Stores lines of functions' output, creating their groups and streams when missing (as
    /// Lambda does), in transactions of at most [`INGEST_CHUNK`] lines. Lines keep their order
    /// within a stream. Lines past a group's ingestion limit are dropped and counted, with one
    /// marker line per burst; the size bound is checked every 1/32 of it written.
    pub fn ingest(&self, lines: &[IngestLine]) -> Result<()> {
        let now = self.now();
        let limits = self.inner.cfg.limits;
        let admitted = self.inner.throttle.lock().admit(lines, &limits, now);
        let kept: Vec<&IngestLine> = match &admitted {
            None => lines.iter().collect(),
            Some(a) => {
                for (group, n) in &a.dropped {
                    self.inner.metrics.dropped(group, *n);
                }
                let mut out = Vec::with_capacity(a.keep.len() + a.markers.len());
                let mut markers = a.markers.iter().peekable();
                for (pos, &i) in a.keep.iter().enumerate() {
                    while let Some((_, m)) = markers.next_if(|(at, _)| *at == pos) {
                        out.push(m);
                    }
                    out.push(&lines[i]);
                }
                out.extend(markers.map(|(_, m)| m));
                out
            }
        };
        for chunk in kept.chunks(INGEST_CHUNK) {
            self.store_lines(chunk, now)?;
            // A flood arrives in large batches: the bound is checked between chunks.
            if let Some(max) = limits.max_db_bytes {
                let bytes: u64 = chunk.iter().map(|l| l.message.len() as u64).sum();
                let since = self
                    .inner
                    .unchecked_bytes
                    .fetch_add(bytes, Ordering::Relaxed)
                    + bytes;
                if since >= (max / 32).max(1) {
                    self.inner.unchecked_bytes.store(0, Ordering::Relaxed);
                    self.enforce_size(max)?;
                }
            }
        }
        Ok(())
    }

    fn store_lines(&self, lines: &[&IngestLine], now: i64) -> Result<()> {
        for chunk in lines.chunks(INGEST_CHUNK) {
            let mut runs: Vec<(StreamKey, Vec<(i64, &str)>)> = Vec::new();
            for l in chunk {
                match runs.last_mut() {
                    Some((k, v)) if *k.0 == *l.group && *k.1 == *l.stream => {
                        v.push((l.timestamp_ms, l.message.as_str()));
                    }
                    _ => runs.push((
                        (l.group.clone(), l.stream.clone()),
                        vec![(l.timestamp_ms, l.message.as_str())],
                    )),
                }
            }
            let cached: Vec<Option<(i64, i64)>> = {
                let ids = self.inner.ids.lock();
                runs.iter().map(|(k, _)| ids.get(k).copied()).collect()
            };
            let resolved = self.inner.db.write(|tx| {
                let mut out = Vec::with_capacity(runs.len());
                for ((key, events), cached) in runs.iter().zip(&cached) {
                    // Cached ids of a stream deleted since are looked up (or made) again.
                    if let Some((g, s)) = cached {
                        if storage::insert_events(tx, *g, *s, events, now)? {
                            out.push((*g, *s));
                            continue;
                        }
                    }
                    let (g, s) = resolve_or_create(tx, &key.0, &key.1, now)?;
                    storage::insert_events(tx, g, s, events, now)?;
                    out.push((g, s));
                }
                Ok(out)
            })?;
            let mut ids = self.inner.ids.lock();
            if ids.len() > ID_CACHE_MAX {
                ids.clear();
            }
            for ((key, events), id) in runs.iter().zip(resolved) {
                ids.insert(key.clone(), id);
                let bytes: usize = events.iter().map(|(_, m)| m.len()).sum();
                self.inner
                    .metrics
                    .incoming(&key.0, events.len() as u64, bytes as u64);
            }
        }
        Ok(())
    }

    /// Events of a group stored after the event id `after`, oldest first (what `hako logs`
    /// follows); empty for a group that does not exist.
    pub fn tail(&self, group: &str, after: i64, limit: usize) -> Result<Vec<TailEvent>> {
        let rows = self.inner.db.read(|c| {
            let Some(g) = storage::group_id(c, group)? else {
                return Ok(Vec::new());
            };
            storage::group_events_by_id(c, g, after, limit)
        })?;
        Ok(rows
            .into_iter()
            .map(|r| TailEvent {
                id: r.id,
                stream: r.stream,
                timestamp_ms: r.ts_ms,
                message: r.message,
            })
            .collect())
    }

    /// Every group with its counts.
    pub fn group_counts(&self) -> Result<Vec<GroupCounts>> {
        let rows = self.inner.db.read(storage::group_counts)?;
        Ok(rows
            .into_iter()
            .map(|(name, streams, stored_bytes, last_event_ms)| GroupCounts {
                name,
                streams,
                stored_bytes,
                last_event_ms,
            })
            .collect())
    }

    /// The id of the last line imported from the store's old `logs` table (0: none yet).
    pub fn legacy_watermark(&self) -> Result<i64> {
        Ok(self
            .inner
            .db
            .read(|c| storage::meta(c, "legacy_logs_imported"))?
            .unwrap_or(0))
    }

    /// Imports lines of the store's old `logs` table (each with its id there) in one
    /// transaction with the new watermark, so an import interrupted anywhere is resumed
    /// without a line lost or stored twice.
    pub fn import_legacy(&self, lines: &[(i64, IngestLine)]) -> Result<()> {
        let Some(last) = lines.iter().map(|(id, _)| *id).max() else {
            return Ok(());
        };
        self.inner.db.write(|tx| {
            let mut ids: HashMap<(&str, &str), (i64, i64)> = HashMap::new();
            for (_, l) in lines {
                let key = (&*l.group, &*l.stream);
                let (g, s) = match ids.get(&key) {
                    Some(x) => *x,
                    None => {
                        let x = resolve_or_create(tx, &l.group, &l.stream, l.timestamp_ms)?;
                        ids.insert(key, x);
                        x
                    }
                };
                storage::insert_events(
                    tx,
                    g,
                    s,
                    &[(l.timestamp_ms, l.message.as_str())],
                    l.timestamp_ms,
                )?;
            }
            storage::set_meta(tx, "legacy_logs_imported", last)
        })?;
        Ok(())
    }

    /// Deletes the events older than each group's retention and the events of deleted streams
    /// and groups, in short transactions; the number of events removed. The binary runs it
    /// periodically.
    pub fn housekeep(&self) -> Result<usize> {
        self.housekeep_in_chunks(PURGE_CHUNK)
    }

    pub(crate) fn housekeep_in_chunks(&self, chunk: usize) -> Result<usize> {
        let now = self.now();
        let groups = self.inner.db.read(storage::all_groups)?;
        let mut removed = 0;
        for g in groups {
            let Some(days) = g
                .retention_days
                .or(self.inner.cfg.limits.default_retention_days)
            else {
                continue;
            };
            let before = now - days * 86_400_000;
            loop {
                let n = self
                    .inner
                    .db
                    .write(|tx| storage::trim(tx, g.id, before, chunk))?;
                removed += n;
                if n < chunk {
                    break;
                }
            }
        }
        loop {
            let (n, progress) = self.inner.db.write(|tx| storage::purge_chunk(tx, chunk))?;
            removed += n;
            if !progress {
                break;
            }
        }
        if let Some(max) = self.inner.cfg.limits.max_db_bytes {
            removed += self.enforce_size_in_chunks(max, chunk)?;
        }
        Ok(removed)
    }

    /// The bytes of `logs.db`'s pages in use (its file less the free pages).
    pub fn used_bytes(&self) -> Result<u64> {
        Ok(self.inner.db.read(storage::used_bytes)?)
    }

    fn enforce_size(&self, max: u64) -> Result<usize> {
        self.enforce_size_in_chunks(max, PURGE_CHUNK)
    }

    /// Deletes the oldest events (of every group) while the database uses more than `max`
    /// bytes, down to 90 % of it, in transactions of at most `chunk` events; the number
    /// deleted. The write-ahead log is kept under the same bound when checkpointed.
    fn enforce_size_in_chunks(&self, max: u64, chunk: usize) -> Result<usize> {
        if self.inner.db.read(storage::used_bytes)? <= max {
            return Ok(0);
        }
        let target = max - max / 10;
        let mut removed = 0;
        loop {
            let n = self.inner.db.write(|tx| storage::trim_oldest(tx, chunk))?;
            removed += n;
            if n == 0 || self.inner.db.read(storage::used_bytes)? <= target {
                break;
            }
        }
        self.inner.metrics.evicted(removed as u64);
        self.inner
            .db
            .read(|c| c.pragma_update(None, "journal_size_limit", (max / 4).max(1 << 20) as i64))?;
        Ok(removed)
    }
}

/// The ids of a (group, stream), both made (at `now`) when missing, as Lambda does.
fn resolve_or_create(
    tx: &hako_store::service_db::sql::Transaction<'_>,
    group: &str,
    stream: &str,
    now: i64,
) -> hako_store::service_db::sql::Result<(i64, i64)> {
    let g = match storage::group_id(tx, group)? {
        Some(g) => g,
        None => storage::insert_group(tx, group, now, "STANDARD", &Default::default())?,
    };
    let s = match storage::stream_by_name(tx, g, stream)? {
        Some(s) => s.id,
        None => storage::insert_stream(tx, g, stream, now)?,
    };
    Ok((g, s))
}

#[cfg(test)]
mod tests;
