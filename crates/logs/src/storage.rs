//! The tables of `logs.db` and their queries, through `hako_store::ServiceDb`.
//!
//! Groups and streams have `AUTOINCREMENT` ids, never reused: a group deleted and made again is
//! a new id, so events of the old one (deleted later, in chunks) are never seen through it.
//! Events are ordered by (timestamp, id) within a stream and within a group, each with its
//! index. A deleted stream's id goes to `purges` and its events are deleted by housekeeping in
//! short transactions; readers join `streams`, so they never see them meanwhile.

use std::collections::BTreeMap;

use hako_store::service_db::sql::{params, Connection, OptionalExtension, Row, Transaction};

use crate::model::Key;

type Sql<T> = hako_store::service_db::sql::Result<T>;

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: groups, streams, events, purges, the legacy import watermark.
    "CREATE TABLE groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL,
        retention_days INTEGER,
        class TEXT NOT NULL DEFAULT 'STANDARD',
        tags TEXT NOT NULL DEFAULT '{}'
     );
     CREATE TABLE streams (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        first_event_ms INTEGER,
        last_event_ms INTEGER,
        last_ingestion_ms INTEGER,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (group_id, name)
     );
     CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL,
        stream_id INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        ingest_ms INTEGER NOT NULL,
        message TEXT NOT NULL
     );
     CREATE INDEX events_by_stream ON events (stream_id, ts_ms);
     CREATE INDEX events_by_group ON events (group_id, ts_ms);
     CREATE TABLE purges (stream_id INTEGER PRIMARY KEY);
     CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupRow {
    pub id: i64,
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<i64>,
    pub class: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamRow {
    pub id: i64,
    pub name: String,
    pub created_ms: i64,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
    pub stored_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventRow {
    pub id: i64,
    pub stream: String,
    pub ts_ms: i64,
    pub ingest_ms: i64,
    pub message: String,
}

impl EventRow {
    pub(crate) fn key(&self) -> Key {
        Key {
            ts_ms: self.ts_ms,
            id: self.id,
        }
    }
}

const GROUP_COLS: &str = "id, name, created_ms, retention_days, class, tags";

fn group_row(r: &Row<'_>) -> Sql<GroupRow> {
    let tags: String = r.get(5)?;
    Ok(GroupRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created_ms: r.get(2)?,
        retention_days: r.get(3)?,
        class: r.get(4)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
    })
}

const STREAM_COLS: &str =
    "id, name, created_ms, first_event_ms, last_event_ms, last_ingestion_ms, stored_bytes";

fn stream_row(r: &Row<'_>) -> Sql<StreamRow> {
    Ok(StreamRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created_ms: r.get(2)?,
        first_event_ms: r.get(3)?,
        last_event_ms: r.get(4)?,
        last_ingestion_ms: r.get(5)?,
        stored_bytes: r.get(6)?,
    })
}

fn event_row(r: &Row<'_>) -> Sql<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        stream: r.get(1)?,
        ts_ms: r.get(2)?,
        ingest_ms: r.get(3)?,
        message: r.get(4)?,
    })
}

pub(crate) fn group_by_name(c: &Connection, name: &str) -> Sql<Option<GroupRow>> {
    c.prepare_cached(&format!("SELECT {GROUP_COLS} FROM groups WHERE name = ?1"))?
        .query_row([name], group_row)
        .optional()
}

pub(crate) fn group_id(c: &Connection, name: &str) -> Sql<Option<i64>> {
    c.prepare_cached("SELECT id FROM groups WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()
}

pub(crate) fn insert_group(
    tx: &Transaction<'_>,
    name: &str,
    created_ms: i64,
    class: &str,
    tags: &BTreeMap<String, String>,
) -> Sql<i64> {
    tx.prepare_cached(
        "INSERT INTO groups (name, created_ms, class, tags) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        name,
        created_ms,
        class,
        serde_json::to_string(tags).unwrap_or_else(|_| "{}".into())
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Deletes a group and its streams; their events go to housekeeping.
pub(crate) fn delete_group(tx: &Transaction<'_>, id: i64) -> Sql<()> {
    tx.execute(
        "INSERT OR IGNORE INTO purges (stream_id) SELECT id FROM streams WHERE group_id = ?1",
        [id],
    )?;
    tx.execute("DELETE FROM streams WHERE group_id = ?1", [id])?;
    tx.execute("DELETE FROM groups WHERE id = ?1", [id])?;
    Ok(())
}

pub(crate) fn set_retention(tx: &Transaction<'_>, id: i64, days: Option<i64>) -> Sql<()> {
    tx.execute(
        "UPDATE groups SET retention_days = ?2 WHERE id = ?1",
        params![id, days],
    )?;
    Ok(())
}

pub(crate) fn set_tags(tx: &Transaction<'_>, id: i64, tags: &BTreeMap<String, String>) -> Sql<()> {
    tx.execute(
        "UPDATE groups SET tags = ?2 WHERE id = ?1",
        params![
            id,
            serde_json::to_string(tags).unwrap_or_else(|_| "{}".into())
        ],
    )?;
    Ok(())
}

/// Groups by name after `after`, at most `limit`, filtered by prefix or case-sensitive
/// substring.
pub(crate) fn groups_page(
    c: &Connection,
    after: Option<&str>,
    prefix: Option<&str>,
    pattern: Option<&str>,
    limit: usize,
) -> Sql<Vec<GroupRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {GROUP_COLS} FROM groups
         WHERE (?1 IS NULL OR name > ?1)
           AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2)
           AND (?3 IS NULL OR instr(name, ?3) > 0)
         ORDER BY name LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![after, prefix, pattern, limit as i64], group_row)?;
    rows.collect()
}

pub(crate) fn all_groups(c: &Connection) -> Sql<Vec<GroupRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {GROUP_COLS} FROM groups ORDER BY name"))?;
    let rows = stmt.query_map([], group_row)?;
    rows.collect()
}

pub(crate) fn group_stored_bytes(c: &Connection, id: i64) -> Sql<i64> {
    c.prepare_cached("SELECT coalesce(sum(stored_bytes), 0) FROM streams WHERE group_id = ?1")?
        .query_row([id], |r| r.get(0))
}

pub(crate) fn stream_by_name(c: &Connection, group: i64, name: &str) -> Sql<Option<StreamRow>> {
    c.prepare_cached(&format!(
        "SELECT {STREAM_COLS} FROM streams WHERE group_id = ?1 AND name = ?2"
    ))?
    .query_row(params![group, name], stream_row)
    .optional()
}

pub(crate) fn insert_stream(
    tx: &Transaction<'_>,
    group: i64,
    name: &str,
    created_ms: i64,
) -> Sql<i64> {
    tx.prepare_cached("INSERT INTO streams (group_id, name, created_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![group, name, created_ms])?;
    Ok(tx.last_insert_rowid())
}

pub(crate) fn delete_stream(tx: &Transaction<'_>, id: i64) -> Sql<()> {
    tx.execute("INSERT OR IGNORE INTO purges (stream_id) VALUES (?1)", [id])?;
    tx.execute("DELETE FROM streams WHERE id = ?1", [id])?;
    Ok(())
}

/// How DescribeLogStreams orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamOrder {
    Name,
    LastEventTime,
}

/// A page of a group's streams after the position `after` (the last stream of the previous
/// page: its last event time for LastEventTime order, and its name).
pub(crate) fn streams_page(
    c: &Connection,
    group: i64,
    order: StreamOrder,
    descending: bool,
    prefix: Option<&str>,
    after: Option<(Option<i64>, &str)>,
    limit: usize,
) -> Sql<Vec<StreamRow>> {
    // A stream with no event sorts as time -1 (before every event).
    let (key, cmp, dir) = match (order, descending) {
        (StreamOrder::Name, false) => ("name", ">", "ASC"),
        (StreamOrder::Name, true) => ("name", "<", "DESC"),
        (StreamOrder::LastEventTime, false) => ("coalesce(last_event_ms, -1)", ">", "ASC"),
        (StreamOrder::LastEventTime, true) => ("coalesce(last_event_ms, -1)", "<", "DESC"),
    };
    let position = match order {
        StreamOrder::Name => format!("(?2 IS NULL OR name {cmp} ?3)"),
        StreamOrder::LastEventTime => {
            format!("(?2 IS NULL OR ({key}, name) {cmp} (?2, ?3))")
        }
    };
    let order_by = match order {
        StreamOrder::Name => format!("name {dir}"),
        StreamOrder::LastEventTime => format!("{key} {dir}, name {dir}"),
    };
    let sql = format!(
        "SELECT {STREAM_COLS} FROM streams
         WHERE group_id = ?1 AND {position}
           AND (?4 IS NULL OR substr(name, 1, length(?4)) = ?4)
         ORDER BY {order_by} LIMIT ?5"
    );
    let (after_ts, after_name) = match after {
        Some((ts, n)) => (Some(ts.unwrap_or(-1)), Some(n)),
        None => (None, None),
    };
    // For name order ?2 only says whether there is a position.
    let after_ts = match order {
        StreamOrder::Name => after_name.map(|_| 0),
        StreamOrder::LastEventTime => after_ts,
    };
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![group, after_ts, after_name, prefix, limit as i64],
        stream_row,
    )?;
    rows.collect()
}

/// The streams of a group (id, name) whose names start with `prefix`.
pub(crate) fn stream_ids(
    c: &Connection,
    group: i64,
    prefix: Option<&str>,
) -> Sql<Vec<(i64, String)>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, name FROM streams WHERE group_id = ?1
           AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2) ORDER BY name",
    )?;
    let rows = stmt.query_map(params![group, prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Appends events of one stream (already in the caller's order) and updates its counters;
/// false (and nothing written) when the stream no longer exists (deleted since its id was
/// looked up), so no event is ever stored for a stream that is gone.
pub(crate) fn insert_events(
    tx: &Transaction<'_>,
    group: i64,
    stream: i64,
    events: &[(i64, &str)],
    ingest_ms: i64,
) -> Sql<bool> {
    if events.is_empty() {
        return Ok(true);
    }
    let bytes: i64 = events.iter().map(|(_, m)| m.len() as i64).sum();
    let first = events.iter().map(|(t, _)| *t).min().unwrap_or(0);
    let last = events.iter().map(|(t, _)| *t).max().unwrap_or(0);
    let updated = tx
        .prepare_cached(
            "UPDATE streams SET
                first_event_ms = min(coalesce(first_event_ms, ?2), ?2),
                last_event_ms = max(coalesce(last_event_ms, ?3), ?3),
                last_ingestion_ms = ?4,
                stored_bytes = stored_bytes + ?5
             WHERE id = ?1 AND group_id = ?6",
        )?
        .execute(params![stream, first, last, ingest_ms, bytes, group])?;
    if updated == 0 {
        return Ok(false);
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO events (group_id, stream_id, ts_ms, ingest_ms, message)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (ts, msg) in events {
        stmt.execute(params![group, stream, ts, ingest_ms, msg])?;
    }
    Ok(true)
}

/// A time range of events, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Range {
    pub start: i64,
    pub end: i64,
}

// Every query of events names `events` first in a CROSS JOIN: SQLite then walks the events'
// index in the order asked for, instead of looping over streams and sorting (38 s for a page of
// a group of a million events, measured).

/// Events of one stream in the range strictly after `after` (ascending) or strictly before
/// `before` (descending), at most `limit`.
pub(crate) fn stream_events(
    c: &Connection,
    stream: i64,
    range: Range,
    from: Key,
    forward: bool,
    limit: usize,
) -> Sql<Vec<EventRow>> {
    let sql = if forward {
        "SELECT e.id, s.name, e.ts_ms, e.ingest_ms, e.message FROM events e
         CROSS JOIN streams s ON s.id = e.stream_id
         WHERE e.stream_id = ?1 AND e.ts_ms >= ?2 AND e.ts_ms < ?3 AND (e.ts_ms, e.id) > (?4, ?5)
         ORDER BY e.ts_ms, e.id LIMIT ?6"
    } else {
        "SELECT e.id, s.name, e.ts_ms, e.ingest_ms, e.message FROM events e
         CROSS JOIN streams s ON s.id = e.stream_id
         WHERE e.stream_id = ?1 AND e.ts_ms >= ?2 AND e.ts_ms < ?3 AND (e.ts_ms, e.id) < (?4, ?5)
         ORDER BY e.ts_ms DESC, e.id DESC LIMIT ?6"
    };
    // One range on the index's time (SQLite uses one lower and one upper bound of a column:
    // given two, it may take the weaker and scan from the start).
    let (lo, hi) = if forward {
        (range.start.max(from.ts_ms), range.end)
    } else {
        (range.start, range.end.min(from.ts_ms.saturating_add(1)))
    };
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![stream, lo, hi, from.ts_ms, from.id, limit as i64],
        event_row,
    )?;
    rows.collect()
}

/// Events of a group in the range after `after`, ascending, at most `limit`; only of the
/// streams `streams` when given.
pub(crate) fn group_events(
    c: &Connection,
    group: i64,
    streams: Option<&[i64]>,
    must: &crate::filter::Prefilter,
    range: Range,
    after: Key,
    limit: usize,
) -> Sql<Vec<EventRow>> {
    let only = match streams {
        None => String::new(),
        Some(ids) => format!(
            "AND e.stream_id IN ({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
    };
    // What a match must contain is checked by SQLite, so most events are never read out.
    let escaped = if must.unless_escaped {
        " OR instr(e.message, '\\') > 0"
    } else {
        ""
    };
    let mut texts = String::new();
    if !must.all.is_empty() {
        let all: Vec<String> = (0..must.all.len())
            .map(|k| format!("instr(e.message, ?{}) > 0", k + 7))
            .collect();
        texts.push_str(&format!(" AND (({}){escaped})", all.join(" AND ")));
    }
    let first = 7 + must.all.len();
    for k in 0..must.none.len() {
        texts.push_str(&format!(" AND instr(e.message, ?{}) = 0", first + k));
    }
    let first = first + must.none.len();
    if !must.any.is_empty() {
        let any: Vec<String> = (0..must.any.len())
            .map(|k| format!("instr(e.message, ?{}) > 0", first + k))
            .collect();
        texts.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    let mut stmt = c.prepare_cached(&format!(
        "SELECT e.id, s.name, e.ts_ms, e.ingest_ms, e.message FROM events e
         CROSS JOIN streams s ON s.id = e.stream_id
         WHERE e.group_id = ?1 {only} AND e.ts_ms >= ?2 AND e.ts_ms < ?3
           AND (e.ts_ms, e.id) > (?4, ?5){texts}
         ORDER BY e.ts_ms, e.id LIMIT ?6"
    ))?;
    let lo = range.start.max(after.ts_ms);
    let lim = limit as i64;
    let mut values: Vec<&dyn hako_store::service_db::sql::ToSql> =
        vec![&group, &lo, &range.end, &after.ts_ms, &after.id, &lim];
    for t in must.all.iter().chain(&must.none).chain(&must.any) {
        values.push(t);
    }
    let rows = stmt.query_map(values.as_slice(), event_row)?;
    rows.collect()
}

/// Events of a group after the id `after`, in the order they were stored (`hako logs`).
pub(crate) fn group_events_by_id(
    c: &Connection,
    group: i64,
    after: i64,
    limit: usize,
) -> Sql<Vec<EventRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT e.id, s.name, e.ts_ms, e.ingest_ms, e.message FROM events e
         CROSS JOIN streams s ON s.id = e.stream_id
         WHERE e.group_id = ?1 AND e.id > ?2 ORDER BY e.id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![group, after, limit as i64], event_row)?;
    rows.collect()
}

/// Deletes up to `chunk` events of a group older than `before_ms`, keeping the streams'
/// stored bytes true; the number deleted.
pub(crate) fn trim(tx: &Transaction<'_>, group: i64, before_ms: i64, chunk: usize) -> Sql<usize> {
    delete_doomed(
        tx,
        "SELECT id, stream_id, length(CAST(message AS BLOB)) FROM events
         WHERE group_id = ?1 AND ts_ms < ?2 ORDER BY ts_ms LIMIT ?3",
        params![group, before_ms, chunk as i64],
    )
}

/// Deletes up to `chunk` of the oldest stored events of any group (the size bound), keeping
/// the streams' stored bytes true; the number deleted.
pub(crate) fn trim_oldest(tx: &Transaction<'_>, chunk: usize) -> Sql<usize> {
    delete_doomed(
        tx,
        "SELECT id, stream_id, length(CAST(message AS BLOB)) FROM events ORDER BY id LIMIT ?1",
        params![chunk as i64],
    )
}

/// Deletes the events `select` names (id, stream id, bytes), keeping the streams' stored
/// bytes true.
fn delete_doomed(
    tx: &Transaction<'_>,
    select: &str,
    args: &[&dyn hako_store::service_db::sql::ToSql],
) -> Sql<usize> {
    tx.execute(
        "CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY, stream_id INTEGER, bytes INTEGER)",
        [],
    )?;
    tx.execute("DELETE FROM temp.doomed", [])?;
    let n = tx.execute(&format!("INSERT INTO temp.doomed {select}"), args)?;
    if n == 0 {
        return Ok(0);
    }
    tx.execute(
        "UPDATE streams SET stored_bytes = max(0, stored_bytes -
            (SELECT coalesce(sum(bytes), 0) FROM temp.doomed d WHERE d.stream_id = streams.id))
         WHERE id IN (SELECT DISTINCT stream_id FROM temp.doomed)",
        [],
    )?;
    tx.execute(
        "DELETE FROM events WHERE id IN (SELECT id FROM temp.doomed)",
        [],
    )?;
    tx.execute("DELETE FROM temp.doomed", [])?;
    Ok(n)
}

/// The bytes of the database's pages in use.
pub(crate) fn used_bytes(c: &Connection) -> Sql<u64> {
    let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(((pages - free).max(0) * size) as u64)
}

/// Deletes up to `chunk` events of deleted streams; forgets a stream with none left. The
/// events deleted, and whether anything was done (false: nothing left to purge).
pub(crate) fn purge_chunk(tx: &Transaction<'_>, chunk: usize) -> Sql<(usize, bool)> {
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare_cached("SELECT stream_id FROM purges LIMIT 16")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Sql<_>>()?
    };
    let progress = !ids.is_empty();
    let mut removed = 0;
    for id in ids {
        let n = tx.execute(
            "DELETE FROM events WHERE id IN
               (SELECT id FROM events WHERE stream_id = ?1 LIMIT ?2)",
            params![id, (chunk - removed) as i64],
        )?;
        removed += n;
        if removed >= chunk {
            break;
        }
        tx.execute("DELETE FROM purges WHERE stream_id = ?1", [id])?;
    }
    Ok((removed, progress))
}

pub(crate) fn meta(c: &Connection, key: &str) -> Sql<Option<i64>> {
    c.prepare_cached("SELECT v FROM meta WHERE k = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

pub(crate) fn set_meta(tx: &Transaction<'_>, key: &str, v: i64) -> Sql<()> {
    tx.execute(
        "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = ?2",
        params![key, v],
    )?;
    Ok(())
}

/// Events and stored bytes of every group (for `hako logs --groups` and metrics).
pub(crate) fn group_counts(c: &Connection) -> Sql<Vec<(String, i64, i64, i64)>> {
    let mut stmt = c.prepare_cached(
        "SELECT g.name, count(s.id), coalesce(sum(s.stored_bytes), 0), coalesce(max(s.last_event_ms), 0)
         FROM groups g LEFT JOIN streams s ON s.group_id = g.id GROUP BY g.id ORDER BY g.name",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    rows.collect()
}
