//! Function logs to CloudWatch Logs (`hako_logs`, `logs.db`): lines are appended to an
//! in-memory buffer, and one writer thread stores them in batches every few milliseconds
//! (`Logs::ingest`, which creates the function's group and stream when missing). The invoke path never wakes another
//! thread to log (a cross-CPU wake-up costs ~20 µs here). A function flooding its output fills the
//! buffer; lines past its bound are dropped and counted, and the server keeps serving.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hako_engine::{LogRecord, LogSink};
use hako_logs::{IngestLine, Logs};
use parking_lot::Mutex;

/// Lines held in memory at most before new ones are dropped.
const MAX_BUFFERED: usize = 256 * 1024;
/// How often the writer flushes.
const FLUSH_INTERVAL: Duration = Duration::from_millis(20);

#[derive(Debug)]
pub(crate) struct DbSink {
    buf: Mutex<Vec<LogRecord>>,
    dropped: AtomicU64,
    stop: AtomicBool,
}

impl DbSink {
    pub(crate) fn start(logs: Logs) -> std::io::Result<(Arc<DbSink>, std::thread::JoinHandle<()>)> {
        let sink = Arc::new(DbSink {
            buf: Mutex::new(Vec::with_capacity(1024)),
            dropped: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let s = sink.clone();
        let handle = std::thread::Builder::new()
            .name("hako-logs".into())
            .spawn(move || s.writer(&logs))?;
        Ok((sink, handle))
    }

    /// Asks the writer to flush what is buffered and stop.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn writer(&self, logs: &Logs) {
        let mut batch = Vec::with_capacity(1024);
        loop {
            let stopping = self.stop.load(Ordering::Acquire);
            std::mem::swap(&mut *self.buf.lock(), &mut batch);
            if !batch.is_empty() {
                let lines: Vec<IngestLine> = batch
                    .drain(..)
                    .map(|r| IngestLine {
                        group: r.group,
                        stream: r.stream,
                        timestamp_ms: r.timestamp_ms,
                        message: r.message,
                        platform: r.platform,
                    })
                    .collect();
                if let Err(e) = logs.ingest(&lines) {
                    tracing::error!(error = %e, lines = lines.len(), "cannot write function logs");
                }
            }
            if stopping {
                return;
            }
            std::thread::sleep(FLUSH_INTERVAL);
        }
    }
}

impl LogSink for DbSink {
    fn emit(&self, rec: LogRecord) {
        let mut buf = self.buf.lock();
        if buf.len() < MAX_BUFFERED {
            buf.push(rec);
            return;
        }
        drop(buf);
        let n = self.dropped.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(10_000) {
            tracing::warn!(
                dropped = n + 1,
                "function log lines dropped: the log writer cannot keep up"
            );
        }
    }
}
