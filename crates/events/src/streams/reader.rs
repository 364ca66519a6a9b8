//! Where a stream poller reads: Hako's own Kinesis in-process, or a stream of an external
//! source over Kinesis's JSON protocol. Both give the shard loop the same few operations: the
//! stream's shards, a shard reader that reads on from its position, and a wait for more.
//!
//! - In-process: reads from `kinesis.db` after a sequence number; waits on the stream's write
//!   watch (`Kinesis::subscribe`), so an idle stream costs nothing.
//! - Remote: GetShardIterator once (from the checkpoint, or the StartingPosition), then
//!   GetRecords with each answer's NextShardIterator; an idle shard is polled once a second,
//!   as Lambda does, and a busy one at most five times a second (Kinesis's GetRecords quota
//!   per shard). An expired or refused iterator is asked for again from the last record read.

use std::sync::Arc;
use std::time::Duration;

use hako_kinesis::{Kinesis, ShardBatch};
use tokio::sync::watch;

use super::StartingPosition;
use crate::esm::external::{RemoteError, RemoteStream};

/// How often an idle remote shard is polled (Lambda's base rate: once per second per shard).
const REMOTE_IDLE_POLL: Duration = Duration::from_secs(1);
/// The least time between two GetRecords of one shard (Kinesis allows five per second).
const REMOTE_MIN_INTERVAL: Duration = Duration::from_millis(200);

/// The stream a mapping reads.
#[derive(Debug, Clone)]
pub enum StreamSource {
    /// Hako's Kinesis.
    Local(Kinesis),
    /// A stream of an external source.
    Remote(Arc<RemoteStream>),
}

/// Why a stream or shard cannot be read (said in the logs and, for a remote source, in the
/// mapping's LastProcessingResult).
#[derive(Debug, Clone)]
pub struct ReadError {
    pub message: String,
    /// An error of an external source.
    pub remote: bool,
}

impl From<hako_kinesis::Error> for ReadError {
    fn from(e: hako_kinesis::Error) -> ReadError {
        ReadError {
            message: e.message,
            remote: false,
        }
    }
}

impl From<RemoteError> for ReadError {
    fn from(e: RemoteError) -> ReadError {
        ReadError {
            message: e.to_string(),
            remote: true,
        }
    }
}

/// Where a shard reader starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Start {
    /// After this record (`None`: the shard's oldest record).
    After(Option<String>),
    /// Where the mapping's StartingPosition says (a remote shard with no checkpoint yet).
    Position(StartingPosition),
}

impl StreamSource {
    pub fn is_remote(&self) -> bool {
        matches!(self, StreamSource::Remote(_))
    }

    /// The ids of the stream's shards.
    pub(crate) async fn shard_ids(&self, stream_arn: &str) -> Result<Vec<String>, ReadError> {
        match self {
            StreamSource::Local(k) => Ok(k.shard_ids(stream_arn)?),
            StreamSource::Remote(r) => Ok(r.shard_ids().await?),
        }
    }

    /// Where a shard with no checkpoint starts, as a position after a record when the source
    /// can tell it at once (Hako's Kinesis: then committed, so that a restart keeps it); a
    /// remote shard starts from the StartingPosition itself (its checkpoint is the first
    /// record done with).
    pub(crate) fn resolve_start(
        &self,
        stream_arn: &str,
        shard_id: &str,
        position: StartingPosition,
    ) -> Result<Start, ReadError> {
        let k = match self {
            StreamSource::Local(k) => k,
            StreamSource::Remote(_) => return Ok(Start::Position(position)),
        };
        let after = match position {
            StartingPosition::TrimHorizon => None,
            StartingPosition::Latest => k.latest_sequence_number(stream_arn, shard_id)?,
            StartingPosition::AtTimestamp(at) => {
                k.sequence_before_timestamp(stream_arn, shard_id, at)?
            }
        };
        Ok(Start::After(after))
    }

    /// A reader of one shard from `start`.
    pub(crate) fn shard_reader(
        &self,
        stream_arn: &str,
        stream_name: &str,
        shard_id: &str,
        start: Start,
    ) -> ShardReader {
        let kind = match self {
            StreamSource::Local(k) => ReaderKind::Local {
                watch: k.subscribe(stream_name),
                kinesis: k.clone(),
            },
            StreamSource::Remote(r) => ReaderKind::Remote {
                stream: r.clone(),
                iterator: None,
                last_call: None,
            },
        };
        ShardReader {
            stream_arn: stream_arn.to_string(),
            shard_id: shard_id.to_string(),
            start,
            kind,
        }
    }
}

/// Reads one shard in order, each read going on after the last record it returned.
pub(crate) struct ShardReader {
    stream_arn: String,
    shard_id: String,
    /// The position of the next read.
    start: Start,
    kind: ReaderKind,
}

enum ReaderKind {
    Local {
        kinesis: Kinesis,
        watch: watch::Receiver<u64>,
    },
    Remote {
        stream: Arc<RemoteStream>,
        /// The iterator of the next GetRecords (`None`: ask GetShardIterator first).
        iterator: Option<String>,
        last_call: Option<tokio::time::Instant>,
    },
}

impl ShardReader {
    /// Up to `limit` records after the last one read (none: wait with [`ShardReader::wait`]).
    pub(crate) async fn read(&mut self, limit: usize) -> Result<ShardBatch, ReadError> {
        let batch = match &mut self.kind {
            ReaderKind::Local { kinesis, watch } => {
                watch.borrow_and_update();
                let after = match &self.start {
                    Start::After(a) => a.as_deref(),
                    // A local reader always starts after a record (`resolve_start`).
                    Start::Position(_) => None,
                };
                kinesis.read_shard(&self.stream_arn, &self.shard_id, after, limit)?
            }
            ReaderKind::Remote {
                stream,
                iterator,
                last_call,
            } => {
                if let Some(t) = last_call {
                    tokio::time::sleep_until(*t + REMOTE_MIN_INTERVAL).await;
                }
                *last_call = Some(tokio::time::Instant::now());
                let it = match iterator.take() {
                    Some(it) => it,
                    None => {
                        let (kind, seq, at) = match &self.start {
                            Start::After(Some(s)) => {
                                ("AFTER_SEQUENCE_NUMBER", Some(s.as_str()), None)
                            }
                            Start::After(None) | Start::Position(StartingPosition::TrimHorizon) => {
                                ("TRIM_HORIZON", None, None)
                            }
                            Start::Position(StartingPosition::Latest) => ("LATEST", None, None),
                            Start::Position(StartingPosition::AtTimestamp(ms)) => {
                                ("AT_TIMESTAMP", None, Some(*ms))
                            }
                        };
                        stream.shard_iterator(&self.shard_id, kind, seq, at).await?
                    }
                };
                // On an error the iterator stays taken: the next read asks for a new one from
                // the last record read (an expired iterator is the usual cause).
                let (records, next, behind) = stream.get_records(&it, limit).await?;
                *iterator = next;
                if iterator.is_none() && records.is_empty() {
                    // A closed shard read to its end: nothing more will come.
                    tracing::debug!(shard = %self.shard_id, "the remote shard is closed");
                }
                ShardBatch {
                    records,
                    millis_behind_latest: behind,
                }
            }
        };
        if let Some(last) = batch.records.last() {
            self.start = Start::After(Some(last.sequence_number.clone()));
        }
        Ok(batch)
    }

    /// Waits until more records may have come: the stream's write watch (in-process), or
    /// Lambda's polling pace (remote).
    pub(crate) async fn wait(&mut self, unavailable: Duration) {
        match &mut self.kind {
            ReaderKind::Local { watch, .. } => {
                if watch.changed().await.is_err() {
                    // The stream's watch is gone (never, while Kinesis lives).
                    tokio::time::sleep(unavailable).await;
                }
            }
            ReaderKind::Remote { iterator, .. } => {
                if iterator.is_none() {
                    // A closed shard: looked at again rarely (it never gets more records).
                    tokio::time::sleep(Duration::from_secs(60)).await;
                } else {
                    tokio::time::sleep(REMOTE_IDLE_POLL).await;
                }
            }
        }
    }
}
