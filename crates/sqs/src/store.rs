//! SQS's tables in `<data dir>/sqs.db` (through `hako_store::ServiceDb`): queues, messages, the
//! FIFO deduplication window and message move tasks. The rows are the truth; the in-memory
//! index (`queue.rs`) is rebuilt from them at start.

use std::collections::BTreeMap;

use hako_store::service_db::sql::{self, params, Connection};

use crate::wire::MessageAttributes;

/// The schema, one step per version (`PRAGMA user_version`).
pub(crate) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    fifo INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    last_purge_ms INTEGER
);
CREATE TABLE messages (
    queue_id INTEGER NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    trace_header TEXT,
    sent_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    first_receive_ms INTEGER,
    receipt INTEGER NOT NULL,
    group_id TEXT,
    dedup_id TEXT,
    sequence_number TEXT,
    sender_id TEXT NOT NULL,
    dlq_source_arn TEXT,
    PRIMARY KEY (queue_id, seq)
) WITHOUT ROWID;
CREATE TABLE dedup (
    queue_id INTEGER NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    dedup_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    sequence_number TEXT,
    PRIMARY KEY (queue_id, dedup_id)
) WITHOUT ROWID;
CREATE TABLE move_tasks (
    handle TEXT PRIMARY KEY,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    max_per_second INTEGER,
    status TEXT NOT NULL,
    moved INTEGER NOT NULL,
    to_move INTEGER NOT NULL,
    failure_reason TEXT,
    started_ms INTEGER NOT NULL
);
"#];

/// One stored message.
#[derive(Debug, Clone)]
pub(crate) struct Msg {
    pub seq: i64,
    pub id: String,
    pub body: String,
    pub attrs: Option<Box<MessageAttributes>>,
    pub trace_header: Option<String>,
    pub sent_ms: i64,
    pub visible_at: i64,
    pub receive_count: i64,
    pub first_receive_ms: Option<i64>,
    /// The nonce of the latest receive's handle (0: never received).
    pub receipt: i64,
    pub group: Option<String>,
    pub dedup: Option<String>,
    pub seq_number: Option<String>,
    pub sender: String,
    pub dlq_source: Option<String>,
    /// Received and not yet visible again (in the queue's in-flight index).
    pub held: bool,
}

/// One stored queue (without its messages).
#[derive(Debug, Clone)]
pub(crate) struct QueueRow {
    pub id: i64,
    pub name: String,
    pub fifo: bool,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub last_purge_ms: Option<i64>,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn insert_queue(c: &Connection, q: &QueueRow) -> sql::Result<i64> {
    c.prepare_cached(
        "INSERT INTO queues (name, fifo, attributes, tags, created_ms, modified_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        q.name,
        q.fifo,
        json(&q.attributes),
        json(&q.tags),
        q.created_ms,
        q.modified_ms
    ])?;
    Ok(c.last_insert_rowid())
}

pub(crate) fn update_queue(c: &Connection, q: &QueueRow) -> sql::Result<()> {
    c.prepare_cached(
        "UPDATE queues SET attributes = ?2, tags = ?3, modified_ms = ?4, last_purge_ms = ?5 \
         WHERE id = ?1",
    )?
    .execute(params![
        q.id,
        json(&q.attributes),
        json(&q.tags),
        q.modified_ms,
        q.last_purge_ms
    ])?;
    Ok(())
}

pub(crate) fn delete_queue(c: &Connection, id: i64) -> sql::Result<()> {
    c.prepare_cached("DELETE FROM queues WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

pub(crate) fn load_queues(c: &Connection) -> sql::Result<Vec<QueueRow>> {
    let mut st = c.prepare(
        "SELECT id, name, fifo, attributes, tags, created_ms, modified_ms, last_purge_ms \
         FROM queues ORDER BY id",
    )?;
    let rows = st.query_map([], |r| {
        let attributes: String = r.get(3)?;
        let tags: String = r.get(4)?;
        Ok(QueueRow {
            id: r.get(0)?,
            name: r.get(1)?,
            fifo: r.get(2)?,
            attributes: serde_json::from_str(&attributes).unwrap_or_default(),
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            created_ms: r.get(5)?,
            modified_ms: r.get(6)?,
            last_purge_ms: r.get(7)?,
        })
    })?;
    rows.collect()
}

pub(crate) fn insert_message(c: &Connection, queue_id: i64, m: &Msg) -> sql::Result<()> {
    c.prepare_cached(
        "INSERT INTO messages (queue_id, seq, message_id, body, attributes, trace_header, sent_ms, \
         visible_at_ms, receive_count, first_receive_ms, receipt, group_id, dedup_id, \
         sequence_number, sender_id, dlq_source_arn) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        queue_id,
        m.seq,
        m.id,
        m.body,
        m.attrs.as_ref().map(json),
        m.trace_header,
        m.sent_ms,
        m.visible_at,
        m.receive_count,
        m.first_receive_ms,
        m.receipt,
        m.group,
        m.dedup,
        m.seq_number,
        m.sender,
        m.dlq_source
    ])?;
    Ok(())
}

/// Stores a receive or a visibility change of a message.
pub(crate) fn update_receipt(c: &Connection, queue_id: i64, m: &Msg) -> sql::Result<()> {
    c.prepare_cached(
        "UPDATE messages SET visible_at_ms = ?3, receive_count = ?4, first_receive_ms = ?5, \
         receipt = ?6 WHERE queue_id = ?1 AND seq = ?2",
    )?
    .execute(params![
        queue_id,
        m.seq,
        m.visible_at,
        m.receive_count,
        m.first_receive_ms,
        m.receipt
    ])?;
    Ok(())
}

pub(crate) fn delete_message(c: &Connection, queue_id: i64, seq: i64) -> sql::Result<()> {
    c.prepare_cached("DELETE FROM messages WHERE queue_id = ?1 AND seq = ?2")?
        .execute(params![queue_id, seq])?;
    Ok(())
}

pub(crate) fn delete_all_messages(c: &Connection, queue_id: i64) -> sql::Result<()> {
    c.prepare_cached("DELETE FROM messages WHERE queue_id = ?1")?
        .execute([queue_id])?;
    Ok(())
}

pub(crate) fn load_messages(c: &Connection, queue_id: i64) -> sql::Result<Vec<Msg>> {
    let mut st = c.prepare(
        "SELECT seq, message_id, body, attributes, trace_header, sent_ms, visible_at_ms, \
         receive_count, first_receive_ms, receipt, group_id, dedup_id, sequence_number, \
         sender_id, dlq_source_arn FROM messages WHERE queue_id = ?1 ORDER BY seq",
    )?;
    let rows = st.query_map([queue_id], |r| {
        let attrs: Option<String> = r.get(3)?;
        Ok(Msg {
            seq: r.get(0)?,
            id: r.get(1)?,
            body: r.get(2)?,
            attrs: attrs.and_then(|a| serde_json::from_str(&a).ok()),
            trace_header: r.get(4)?,
            sent_ms: r.get(5)?,
            visible_at: r.get(6)?,
            receive_count: r.get(7)?,
            first_receive_ms: r.get(8)?,
            receipt: r.get(9)?,
            group: r.get(10)?,
            dedup: r.get(11)?,
            seq_number: r.get(12)?,
            sender: r.get(13)?,
            dlq_source: r.get(14)?,
            held: false,
        })
    })?;
    rows.collect()
}

/// A FIFO deduplication entry: the message a deduplication id was first sent as.
#[derive(Debug, Clone)]
pub(crate) struct Dedup {
    pub expires_ms: i64,
    pub message_id: String,
    pub sequence_number: Option<String>,
}

pub(crate) fn put_dedup(c: &Connection, queue_id: i64, key: &str, d: &Dedup) -> sql::Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO dedup (queue_id, dedup_id, expires_ms, message_id, \
         sequence_number) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        queue_id,
        key,
        d.expires_ms,
        d.message_id,
        d.sequence_number
    ])?;
    Ok(())
}

pub(crate) fn prune_dedup(c: &Connection, queue_id: i64, now_ms: i64) -> sql::Result<()> {
    c.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1 AND expires_ms <= ?2")?
        .execute(params![queue_id, now_ms])?;
    Ok(())
}

pub(crate) fn load_dedup(
    c: &Connection,
    queue_id: i64,
    now_ms: i64,
) -> sql::Result<Vec<(String, Dedup)>> {
    let mut st = c.prepare(
        "SELECT dedup_id, expires_ms, message_id, sequence_number FROM dedup \
         WHERE queue_id = ?1 AND expires_ms > ?2",
    )?;
    let rows = st.query_map(params![queue_id, now_ms], |r| {
        Ok((
            r.get(0)?,
            Dedup {
                expires_ms: r.get(1)?,
                message_id: r.get(2)?,
                sequence_number: r.get(3)?,
            },
        ))
    })?;
    rows.collect()
}

/// One stored message move task.
#[derive(Debug, Clone)]
pub(crate) struct TaskRow {
    pub handle: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_per_second: Option<i64>,
    pub status: String,
    pub moved: i64,
    pub to_move: i64,
    pub failure_reason: Option<String>,
    pub started_ms: i64,
}

pub(crate) fn put_task(c: &Connection, t: &TaskRow) -> sql::Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO move_tasks (handle, source_arn, destination_arn, max_per_second, \
         status, moved, to_move, failure_reason, started_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        t.handle,
        t.source_arn,
        t.destination_arn,
        t.max_per_second,
        t.status,
        t.moved,
        t.to_move,
        t.failure_reason,
        t.started_ms
    ])?;
    Ok(())
}

pub(crate) fn load_tasks(c: &Connection) -> sql::Result<Vec<TaskRow>> {
    let mut st = c.prepare(
        "SELECT handle, source_arn, destination_arn, max_per_second, status, moved, to_move, \
         failure_reason, started_ms FROM move_tasks ORDER BY started_ms",
    )?;
    let rows = st.query_map([], |r| {
        Ok(TaskRow {
            handle: r.get(0)?,
            source_arn: r.get(1)?,
            destination_arn: r.get(2)?,
            max_per_second: r.get(3)?,
            status: r.get(4)?,
            moved: r.get(5)?,
            to_move: r.get(6)?,
            failure_reason: r.get(7)?,
            started_ms: r.get(8)?,
        })
    })?;
    rows.collect()
}

/// The counts of every queue in the database at `path`, read-only beside a running server
/// (`hako queues`): (name, fifo, visible, in flight, delayed) at `now_ms`.
pub fn read_stats(path: &std::path::Path, now_ms: i64) -> sql::Result<Vec<crate::app::QueueStats>> {
    let c = Connection::open_with_flags(
        path,
        sql::OpenFlags::SQLITE_OPEN_READ_ONLY | sql::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut st = c.prepare(
        "SELECT q.name, q.fifo, \
         (SELECT count(*) FROM messages m WHERE m.queue_id = q.id AND m.visible_at_ms <= ?1), \
         (SELECT count(*) FROM messages m WHERE m.queue_id = q.id AND m.visible_at_ms > ?1 \
            AND m.receipt != 0), \
         (SELECT count(*) FROM messages m WHERE m.queue_id = q.id AND m.visible_at_ms > ?1 \
            AND m.receipt = 0), \
         (SELECT min(sent_ms) FROM messages m WHERE m.queue_id = q.id) \
         FROM queues q ORDER BY q.name",
    )?;
    let rows = st.query_map([now_ms], |r| {
        let oldest: Option<i64> = r.get(5)?;
        Ok(crate::app::QueueStats {
            name: r.get(0)?,
            fifo: r.get(1)?,
            visible: r.get::<_, i64>(2)? as usize,
            in_flight: r.get::<_, i64>(3)? as usize,
            delayed: r.get::<_, i64>(4)? as usize,
            oldest_age_s: oldest.map_or(0, |t| (now_ms - t).max(0) / 1000),
        })
    })?;
    rows.collect()
}
