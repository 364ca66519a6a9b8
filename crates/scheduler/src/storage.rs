//! Scheduler's tables in `<data dir>/scheduler.db` (through `hako_store::ServiceDb`):
//! - `groups`: schedule groups, their tags and the client token that created them;
//! - `schedules`: each schedule's definition (its normalized input, JSON), its state, and
//!   `next_ms`, the next time it is due (NULL when disabled or done): what makes a firing
//!   survive a restart;
//! - `deliveries`: firings taken from `schedules` and not yet delivered (or given up): the
//!   target as it was when the schedule fired, the due time, the next attempt and the attempts
//!   made. A firing is moved from `schedules.next_ms` to a `deliveries` row in one transaction,
//!   so it is neither lost nor doubled by a crash.

use hako_store::service_db::sql::{self, params, Connection, OptionalExtension, Transaction};

pub(crate) const MIGRATIONS: &[&str] = &["
CREATE TABLE groups (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    token TEXT
) WITHOUT ROWID;
CREATE TABLE schedules (
    grp TEXT NOT NULL,
    name TEXT NOT NULL,
    def TEXT NOT NULL,
    state TEXT NOT NULL,
    target_arn TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    next_ms INTEGER,
    token TEXT,
    PRIMARY KEY (grp, name)
) WITHOUT ROWID;
CREATE INDEX schedules_next ON schedules (next_ms) WHERE next_ms IS NOT NULL;
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    name TEXT NOT NULL,
    due_ms INTEGER NOT NULL,
    run_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    target TEXT NOT NULL,
    last_error TEXT
);
CREATE INDEX deliveries_run ON deliveries (run_ms);
"];

#[derive(Debug, Clone)]
pub(crate) struct GroupRow {
    pub name: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub tags: String,
    pub token: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ScheduleRow {
    pub group: String,
    pub name: String,
    pub def: String,
    pub state: String,
    pub target_arn: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub next_ms: Option<i64>,
    pub token: Option<String>,
}

/// One firing waiting to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeliveryRow {
    pub id: i64,
    pub execution_id: String,
    pub group: String,
    pub name: String,
    pub due_ms: i64,
    pub run_ms: i64,
    pub attempts: i64,
    pub target: String,
    pub last_error: Option<String>,
}

fn group_row(r: &sql::Row<'_>) -> sql::Result<GroupRow> {
    Ok(GroupRow {
        name: r.get(0)?,
        created_ms: r.get(1)?,
        modified_ms: r.get(2)?,
        tags: r.get(3)?,
        token: r.get(4)?,
    })
}

const GROUP_COLS: &str = "name, created_ms, modified_ms, tags, token";
const SCHEDULE_COLS: &str =
    "grp, name, def, state, target_arn, created_ms, modified_ms, next_ms, token";

fn schedule_row(r: &sql::Row<'_>) -> sql::Result<ScheduleRow> {
    Ok(ScheduleRow {
        group: r.get(0)?,
        name: r.get(1)?,
        def: r.get(2)?,
        state: r.get(3)?,
        target_arn: r.get(4)?,
        created_ms: r.get(5)?,
        modified_ms: r.get(6)?,
        next_ms: r.get(7)?,
        token: r.get(8)?,
    })
}

pub(crate) fn group(c: &Connection, name: &str) -> sql::Result<Option<GroupRow>> {
    c.query_row(
        &format!("SELECT {GROUP_COLS} FROM groups WHERE name = ?1"),
        [name],
        group_row,
    )
    .optional()
}

/// Groups by name, after `after` (exclusive), at most `limit`.
pub(crate) fn groups(
    c: &Connection,
    prefix: &str,
    after: &str,
    limit: usize,
) -> sql::Result<Vec<GroupRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {GROUP_COLS} FROM groups WHERE name > ?1 AND substr(name, 1, ?2) = ?3 \
         ORDER BY name LIMIT ?4"
    ))?;
    let rows = st.query_map(
        params![after, prefix.chars().count() as i64, prefix, limit as i64],
        group_row,
    )?;
    rows.collect()
}

pub(crate) fn insert_group(
    tx: &Transaction<'_>,
    name: &str,
    now: i64,
    tags: &str,
    token: Option<&str>,
) -> sql::Result<()> {
    tx.execute(
        "INSERT INTO groups (name, created_ms, modified_ms, tags, token) VALUES (?1, ?2, ?2, ?3, ?4)",
        params![name, now, tags, token],
    )?;
    Ok(())
}

pub(crate) fn ensure_group(tx: &Transaction<'_>, name: &str, now: i64) -> sql::Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO groups (name, created_ms, modified_ms) VALUES (?1, ?2, ?2)",
        params![name, now],
    )?;
    Ok(())
}

pub(crate) fn set_tags(tx: &Transaction<'_>, name: &str, tags: &str, now: i64) -> sql::Result<()> {
    tx.execute(
        "UPDATE groups SET tags = ?2, modified_ms = ?3 WHERE name = ?1",
        params![name, tags, now],
    )?;
    Ok(())
}

/// Deletes a group and its schedules; whether it existed. Firings already taken stay and are
/// delivered.
pub(crate) fn delete_group(tx: &Transaction<'_>, name: &str) -> sql::Result<bool> {
    tx.execute("DELETE FROM schedules WHERE grp = ?1", [name])?;
    Ok(tx.execute("DELETE FROM groups WHERE name = ?1", [name])? > 0)
}

pub(crate) fn schedule(
    c: &Connection,
    group: &str,
    name: &str,
) -> sql::Result<Option<ScheduleRow>> {
    c.query_row(
        &format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE grp = ?1 AND name = ?2"),
        [group, name],
        schedule_row,
    )
    .optional()
}

/// Schedules ordered by (group, name) after `after` (exclusive), filtered, at most `limit`.
pub(crate) fn schedules(
    c: &Connection,
    group: Option<&str>,
    prefix: &str,
    state: Option<&str>,
    after: (&str, &str),
    limit: usize,
) -> sql::Result<Vec<ScheduleRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {SCHEDULE_COLS} FROM schedules \
         WHERE (grp, name) > (?1, ?2) AND (?3 IS NULL OR grp = ?3) \
           AND substr(name, 1, ?4) = ?5 AND (?6 IS NULL OR state = ?6) \
         ORDER BY grp, name LIMIT ?7"
    ))?;
    let rows = st.query_map(
        params![
            after.0,
            after.1,
            group,
            prefix.chars().count() as i64,
            prefix,
            state,
            limit as i64
        ],
        schedule_row,
    )?;
    rows.collect()
}

pub(crate) fn put_schedule(tx: &Transaction<'_>, s: &ScheduleRow) -> sql::Result<()> {
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO schedules ({SCHEDULE_COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            s.group,
            s.name,
            s.def,
            s.state,
            s.target_arn,
            s.created_ms,
            s.modified_ms,
            s.next_ms,
            s.token
        ],
    )?;
    Ok(())
}

/// Deletes a schedule; whether it existed. Its firings already taken stay and are delivered.
pub(crate) fn delete_schedule(tx: &Transaction<'_>, group: &str, name: &str) -> sql::Result<bool> {
    Ok(tx.execute(
        "DELETE FROM schedules WHERE grp = ?1 AND name = ?2",
        [group, name],
    )? > 0)
}

pub(crate) fn set_next(
    tx: &Transaction<'_>,
    group: &str,
    name: &str,
    next_ms: Option<i64>,
) -> sql::Result<()> {
    tx.execute(
        "UPDATE schedules SET next_ms = ?3 WHERE grp = ?1 AND name = ?2",
        params![group, name, next_ms],
    )?;
    Ok(())
}

/// The schedules due at `now` (their `next_ms` passed).
pub(crate) fn due_schedules(c: &Connection, now: i64) -> sql::Result<Vec<ScheduleRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {SCHEDULE_COLS} FROM schedules WHERE next_ms IS NOT NULL AND next_ms <= ?1 \
         ORDER BY next_ms"
    ))?;
    let rows = st.query_map([now], schedule_row)?;
    rows.collect()
}

pub(crate) fn insert_delivery(tx: &Transaction<'_>, d: &DeliveryRow) -> sql::Result<()> {
    tx.execute(
        "INSERT INTO deliveries (execution_id, grp, name, due_ms, run_ms, attempts, target) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            d.execution_id,
            d.group,
            d.name,
            d.due_ms,
            d.run_ms,
            d.attempts,
            d.target
        ],
    )?;
    Ok(())
}

pub(crate) fn due_deliveries(c: &Connection, now: i64) -> sql::Result<Vec<DeliveryRow>> {
    let mut st = c.prepare_cached(
        "SELECT id, execution_id, grp, name, due_ms, run_ms, attempts, target, last_error \
         FROM deliveries \
         WHERE run_ms <= ?1 ORDER BY run_ms, id",
    )?;
    let rows = st.query_map([now], |r| {
        Ok(DeliveryRow {
            id: r.get(0)?,
            execution_id: r.get(1)?,
            group: r.get(2)?,
            name: r.get(3)?,
            due_ms: r.get(4)?,
            run_ms: r.get(5)?,
            attempts: r.get(6)?,
            target: r.get(7)?,
            last_error: r.get(8)?,
        })
    })?;
    rows.collect()
}

pub(crate) fn finish_delivery(tx: &Transaction<'_>, id: i64) -> sql::Result<()> {
    tx.execute("DELETE FROM deliveries WHERE id = ?1", [id])?;
    Ok(())
}

pub(crate) fn retry_delivery(
    tx: &Transaction<'_>,
    id: i64,
    attempts: i64,
    run_ms: i64,
    error: &str,
) -> sql::Result<()> {
    tx.execute(
        "UPDATE deliveries SET attempts = ?2, run_ms = ?3, last_error = ?4 WHERE id = ?1",
        params![id, attempts, run_ms, error],
    )?;
    Ok(())
}

/// The earliest time anything is due: a schedule's next firing or a delivery's next attempt.
pub(crate) fn next_wake(c: &Connection) -> sql::Result<Option<i64>> {
    c.query_row(
        "SELECT min(t) FROM (SELECT min(next_ms) AS t FROM schedules \
         UNION ALL SELECT min(run_ms) FROM deliveries)",
        [],
        |r| r.get(0),
    )
}

/// Counts for `hako schedules`: (group, name, state, expression, target, next_ms, pending).
pub(crate) fn counts(c: &Connection) -> sql::Result<Vec<(ScheduleRow, i64)>> {
    let mut st = c.prepare(&format!(
        "SELECT {SCHEDULE_COLS}, (SELECT count(*) FROM deliveries d WHERE d.grp = s.grp \
         AND d.name = s.name) FROM schedules s ORDER BY grp, name"
    ))?;
    let rows = st.query_map([], |r| Ok((schedule_row(r)?, r.get(9)?)))?;
    rows.collect()
}
