//! Kinesis's tables in its own database (`<data dir>/kinesis.db`, through
//! `hako_store::ServiceDb`), and the queries on them.
//!
//! A stream's shards never change (no resharding yet): their hash key ranges follow from the
//! shard count, so a shard row holds only the index its next record gets. A record is a row
//! keyed by (stream, shard, index): reading a shard in order is a range scan of the primary key.

use hako_store::service_db::sql::{self, params, Connection, OptionalExtension};

use crate::model::StreamMode;

/// The schema, one migration per step (`PRAGMA user_version`).
pub(crate) const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    mode TEXT NOT NULL,
    shard_count INTEGER NOT NULL,
    retention_hours INTEGER NOT NULL,
    -- When DeleteStream was called; the row stays (DELETING) for a short while.
    deleted_ms INTEGER
);
CREATE TABLE shards (
    stream_id INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    shard INTEGER NOT NULL,
    next_index INTEGER NOT NULL,
    PRIMARY KEY (stream_id, shard)
) WITHOUT ROWID;
CREATE TABLE records (
    stream_id INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (stream_id, shard, idx)
) WITHOUT ROWID;
CREATE TABLE tags (
    stream_id INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (stream_id, key)
) WITHOUT ROWID;
",
    // The records of deleted streams are deleted in chunks by housekeeping, so that deleting a
    // large stream never holds the database for long.
    "
CREATE TABLE purges (stream_id INTEGER PRIMARY KEY);
INSERT INTO purges (stream_id) SELECT id FROM streams WHERE deleted_ms IS NOT NULL;
",
    // Records in a rowid table with their key in an index: in a WITHOUT ROWID table a row of
    // more than ~1,000 bytes (4 KiB pages) spills into an overflow page of its own, so 1 KiB
    // records wrote four times their size; here a row is stored inline up to ~4 KiB and the
    // key index stays small. Same columns, same queries.
    "
CREATE TABLE records_inline (
    stream_id INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL
);
INSERT INTO records_inline SELECT stream_id, shard, idx, arrival_ms, partition_key, data
    FROM records ORDER BY stream_id, shard, idx;
DROP TABLE records;
ALTER TABLE records_inline RENAME TO records;
CREATE UNIQUE INDEX records_by_key ON records (stream_id, shard, idx);
",
];

/// A stream as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamRow {
    pub id: i64,
    pub name: String,
    pub created_ms: i64,
    pub mode: StreamMode,
    pub shard_count: u32,
    pub retention_hours: i64,
    pub deleted_ms: Option<i64>,
}

const STREAM_COLUMNS: &str = "id, name, created_ms, mode, shard_count, retention_hours, deleted_ms";

fn stream_row(r: &sql::Row<'_>) -> sql::Result<StreamRow> {
    let mode: String = r.get(3)?;
    Ok(StreamRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created_ms: r.get(2)?,
        mode: StreamMode::parse(&mode).unwrap_or(StreamMode::Provisioned),
        shard_count: r.get(4)?,
        retention_hours: r.get(5)?,
        deleted_ms: r.get(6)?,
    })
}

pub(crate) fn stream_by_name(c: &Connection, name: &str) -> sql::Result<Option<StreamRow>> {
    c.prepare_cached(&format!(
        "SELECT {STREAM_COLUMNS} FROM streams WHERE name = ?1"
    ))?
    .query_row([name], stream_row)
    .optional()
}

/// Every stream, by name, from after `after`.
pub(crate) fn streams(c: &Connection, after: Option<&str>) -> sql::Result<Vec<StreamRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {STREAM_COLUMNS} FROM streams WHERE name > ?1 ORDER BY name"
    ))?;
    let rows = st.query_map([after.unwrap_or("")], stream_row)?;
    rows.collect()
}

pub(crate) fn insert_stream(c: &Connection, s: &StreamRow) -> sql::Result<i64> {
    c.execute(
        "INSERT INTO streams (name, created_ms, mode, shard_count, retention_hours) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.name,
            s.created_ms,
            s.mode.as_str(),
            s.shard_count,
            s.retention_hours
        ],
    )?;
    let id = c.last_insert_rowid();
    let mut st =
        c.prepare_cached("INSERT INTO shards (stream_id, shard, next_index) VALUES (?1, ?2, 1)")?;
    for shard in 0..s.shard_count {
        st.execute(params![id, shard])?;
    }
    Ok(id)
}

/// Forgets a stream: its row, shards and tags now, its records later (in chunks, see
/// [`purge_chunk`]).
pub(crate) fn forget_stream(c: &Connection, id: i64) -> sql::Result<()> {
    c.execute("INSERT OR IGNORE INTO purges (stream_id) VALUES (?1)", [id])?;
    c.execute("DELETE FROM streams WHERE id = ?1", [id])?;
    Ok(())
}

/// Marks a stream deleted (DELETING): its records are no longer read, and go in chunks.
pub(crate) fn mark_deleted(c: &Connection, id: i64, now_ms: i64) -> sql::Result<()> {
    c.execute("INSERT OR IGNORE INTO purges (stream_id) VALUES (?1)", [id])?;
    c.execute(
        "UPDATE streams SET deleted_ms = ?2 WHERE id = ?1",
        params![id, now_ms],
    )?;
    Ok(())
}

/// The streams whose records are to be deleted.
pub(crate) fn purges(c: &Connection) -> sql::Result<Vec<i64>> {
    let mut st = c.prepare_cached("SELECT stream_id FROM purges ORDER BY stream_id")?;
    let rows = st.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Deletes at most `chunk` records of a deleted stream (the oldest of one of its shards); how
/// many. When none is left, the stream leaves the purge list.
pub(crate) fn purge_chunk(c: &Connection, stream_id: i64, chunk: usize) -> sql::Result<usize> {
    let shard: Option<i64> = c
        .query_row(
            "SELECT shard FROM records WHERE stream_id = ?1 LIMIT 1",
            [stream_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(shard) = shard else {
        c.execute("DELETE FROM purges WHERE stream_id = ?1", [stream_id])?;
        return Ok(0);
    };
    let last: Option<i64> = c
        .query_row(
            "SELECT idx FROM records WHERE stream_id = ?1 AND shard = ?2 ORDER BY idx \
             LIMIT 1 OFFSET ?3",
            params![stream_id, shard, chunk.saturating_sub(1) as i64],
            |r| r.get(0),
        )
        .optional()?;
    match last {
        Some(idx) => c.execute(
            "DELETE FROM records WHERE stream_id = ?1 AND shard = ?2 AND idx <= ?3",
            params![stream_id, shard, idx],
        ),
        None => c.execute(
            "DELETE FROM records WHERE stream_id = ?1 AND shard = ?2",
            params![stream_id, shard],
        ),
    }
}

pub(crate) fn set_retention(c: &Connection, id: i64, hours: i64) -> sql::Result<()> {
    c.execute(
        "UPDATE streams SET retention_hours = ?2 WHERE id = ?1",
        params![id, hours],
    )?;
    Ok(())
}

/// The sum of the shards of every stream (the account's shard quota counts them all).
pub(crate) fn total_shards(c: &Connection) -> sql::Result<u64> {
    c.query_row(
        "SELECT COALESCE(SUM(shard_count), 0) FROM streams",
        [],
        |r| r.get(0),
    )
}

/// The index the next record of a shard gets.
pub(crate) fn next_index(c: &Connection, stream_id: i64, shard: u32) -> sql::Result<u64> {
    c.prepare_cached("SELECT next_index FROM shards WHERE stream_id = ?1 AND shard = ?2")?
        .query_row(params![stream_id, shard], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

pub(crate) fn set_next_index(
    c: &Connection,
    stream_id: i64,
    shard: u32,
    next: u64,
) -> sql::Result<()> {
    c.prepare_cached("UPDATE shards SET next_index = ?3 WHERE stream_id = ?1 AND shard = ?2")?
        .execute(params![stream_id, shard, next as i64])?;
    Ok(())
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordRow {
    pub index: u64,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

pub(crate) fn insert_record(
    c: &Connection,
    stream_id: i64,
    shard: u32,
    r: &RecordRow,
) -> sql::Result<()> {
    c.prepare_cached(
        "INSERT INTO records (stream_id, shard, idx, arrival_ms, partition_key, data) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        stream_id,
        shard,
        r.index as i64,
        r.arrival_ms,
        r.partition_key,
        r.data
    ])?;
    Ok(())
}

/// The records of a shard from index `from` on that arrived at or after `since_ms`, in order,
/// at most `limit` of them and, past the first, at most `max_bytes` of data and keys.
pub(crate) fn read_records(
    c: &Connection,
    stream_id: i64,
    shard: u32,
    from: u64,
    since_ms: i64,
    limit: usize,
    max_bytes: usize,
) -> sql::Result<Vec<RecordRow>> {
    let mut st = c.prepare_cached(
        "SELECT idx, arrival_ms, partition_key, data FROM records \
         WHERE stream_id = ?1 AND shard = ?2 AND idx >= ?3 AND arrival_ms >= ?4 \
         ORDER BY idx LIMIT ?5",
    )?;
    let mut rows = st.query(params![
        stream_id,
        shard,
        from as i64,
        since_ms,
        limit as i64
    ])?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(r) = rows.next()? {
        let rec = RecordRow {
            index: r.get::<_, i64>(0)? as u64,
            arrival_ms: r.get(1)?,
            partition_key: r.get(2)?,
            data: r.get(3)?,
        };
        bytes += rec.data.len() + rec.partition_key.len();
        if !out.is_empty() && bytes > max_bytes {
            break;
        }
        out.push(rec);
    }
    Ok(out)
}

/// The first record of a shard from index `from` on that arrived at or after `since_ms`: its
/// index and arrival.
pub(crate) fn first_from(
    c: &Connection,
    stream_id: i64,
    shard: u32,
    from: u64,
    since_ms: i64,
) -> sql::Result<Option<(u64, i64)>> {
    c.prepare_cached(
        "SELECT idx, arrival_ms FROM records WHERE stream_id = ?1 AND shard = ?2 AND idx >= ?3 \
         AND arrival_ms >= ?4 ORDER BY idx LIMIT 1",
    )?
    .query_row(params![stream_id, shard, from as i64, since_ms], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
    })
    .optional()
}

/// Deletes the records of a stream that arrived before `before_ms`; how many.
pub(crate) fn trim(
    c: &Connection,
    stream_id: i64,
    shard_count: u32,
    before_ms: i64,
) -> sql::Result<usize> {
    let mut n = 0;
    for shard in 0..shard_count {
        // Arrival grows with the index within a shard: everything below the first retained
        // record goes (a range delete on the primary key).
        let keep_from = first_from(c, stream_id, shard, 0, before_ms)?.map(|(idx, _)| idx as i64);
        n += match keep_from {
            Some(idx) => c.execute(
                "DELETE FROM records WHERE stream_id = ?1 AND shard = ?2 AND idx < ?3",
                params![stream_id, shard, idx],
            )?,
            None => c.execute(
                "DELETE FROM records WHERE stream_id = ?1 AND shard = ?2",
                params![stream_id, shard],
            )?,
        };
    }
    Ok(n)
}

/// The number of records a stream keeps, and their bytes.
pub(crate) fn record_counts(c: &Connection, stream_id: i64) -> sql::Result<(u64, u64)> {
    c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(length(data) + length(partition_key)), 0) FROM records \
         WHERE stream_id = ?1",
        [stream_id],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
}

pub(crate) fn tags(c: &Connection, stream_id: i64) -> sql::Result<Vec<(String, String)>> {
    let mut st =
        c.prepare_cached("SELECT key, value FROM tags WHERE stream_id = ?1 ORDER BY key")?;
    let rows = st.query_map([stream_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub(crate) fn put_tag(c: &Connection, stream_id: i64, key: &str, value: &str) -> sql::Result<()> {
    c.execute(
        "INSERT INTO tags (stream_id, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (stream_id, key) DO UPDATE SET value = excluded.value",
        params![stream_id, key, value],
    )?;
    Ok(())
}

pub(crate) fn remove_tag(c: &Connection, stream_id: i64, key: &str) -> sql::Result<()> {
    c.execute(
        "DELETE FROM tags WHERE stream_id = ?1 AND key = ?2",
        params![stream_id, key],
    )?;
    Ok(())
}
