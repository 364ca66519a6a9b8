//! Function logs to the database: a bounded queue drained by one writer thread that inserts in
//! batches. A function flooding its output fills the queue; lines past it are dropped and counted,
//! and the server keeps serving.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use hako_engine::{LogRecord, LogSink};
use hako_store::{Db, LogLine};

const QUEUE: usize = 64 * 1024;
const BATCH: usize = 2048;

#[derive(Debug)]
pub(crate) struct DbSink {
    tx: SyncSender<LogRecord>,
    dropped: AtomicU64,
}

impl DbSink {
    pub(crate) fn start(db: Arc<Db>) -> (Arc<DbSink>, std::thread::JoinHandle<()>) {
        let (tx, rx) = sync_channel(QUEUE);
        let handle = std::thread::Builder::new()
            .name("hako-logs".into())
            .spawn(move || writer(db, rx))
            .expect("spawning the log writer thread at start-up");
        (Arc::new(DbSink { tx, dropped: AtomicU64::new(0) }), handle)
    }
}

impl LogSink for DbSink {
    fn emit(&self, rec: LogRecord) {
        match self.tx.try_send(rec) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed);
                if n % 10_000 == 0 {
                    tracing::warn!(dropped = n + 1, "function log lines dropped: the log writer cannot keep up");
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn writer(db: Arc<Db>, rx: Receiver<LogRecord>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let lines: Vec<LogLine> = batch
            .drain(..)
            .map(|r| LogLine {
                log_group: r.group.to_string(),
                log_stream: r.stream.to_string(),
                timestamp_ms: r.timestamp_ms,
                message: r.message,
            })
            .collect();
        if let Err(e) = db.append_logs(&lines) {
            tracing::error!(error = %e, lines = lines.len(), "cannot write function logs");
        }
    }
}
