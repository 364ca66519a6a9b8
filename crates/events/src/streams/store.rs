//! The stream pollers' durable state in `<data dir>/esm.db` (through `hako_store::ServiceDb`):
//! per mapping and shard, the checkpoint (the sequence number of the last record done with,
//! every record before it done too), and per mapping, shard and lane the open tumbling
//! window's state. A checkpoint and the window state of the batch that moved it are written in
//! one transaction.

use std::path::Path;

use hako_store::service_db::sql::{self, params, OptionalExtension};
use hako_store::ServiceDb;

/// The schema, by version (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &["
    CREATE TABLE stream_checkpoints (
        mapping TEXT NOT NULL,
        shard TEXT NOT NULL,
        -- The last record done with; NULL: none yet, read from the shard's oldest record.
        after_sequence TEXT,
        PRIMARY KEY (mapping, shard)
    ) WITHOUT ROWID;
    CREATE TABLE stream_windows (
        mapping TEXT NOT NULL,
        shard TEXT NOT NULL,
        lane INTEGER NOT NULL,
        window_start_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (mapping, shard, lane)
    ) WITHOUT ROWID;
"];

/// Where a shard's reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// Never started: the mapping's StartingPosition applies.
    None,
    /// After this record (`None`: from the shard's oldest record).
    After(Option<String>),
}

/// An open tumbling window of one lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowState {
    pub start_ms: i64,
    /// The state the function returned last (a JSON object, as text).
    pub state: String,
}

/// What the settlement of a batch writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowChange {
    Keep,
    Set(WindowState),
    Clear,
}

/// The pollers' state. One per data dir.
#[derive(Debug)]
pub struct StreamStore {
    db: ServiceDb,
}

pub type Result<T> = std::result::Result<T, sql::Error>;

impl StreamStore {
    pub fn open(path: &Path) -> Result<StreamStore> {
        Ok(StreamStore {
            db: ServiceDb::open(path, MIGRATIONS)?,
        })
    }

    pub fn in_memory() -> Result<StreamStore> {
        Ok(StreamStore {
            db: ServiceDb::open_in_memory(MIGRATIONS)?,
        })
    }

    pub fn checkpoint(&self, mapping: &str, shard: &str) -> Result<Checkpoint> {
        let row: Option<Option<String>> = self.db.read(|c| {
            c.prepare_cached(
                "SELECT after_sequence FROM stream_checkpoints WHERE mapping = ?1 AND shard = ?2",
            )?
            .query_row(params![mapping, shard], |r| r.get(0))
            .optional()
        })?;
        Ok(match row {
            None => Checkpoint::None,
            Some(after) => Checkpoint::After(after),
        })
    }

    /// Records a shard's position (and, when a lane's window changed, its window) in one
    /// transaction.
    pub fn commit(
        &self,
        mapping: &str,
        shard: &str,
        after: Option<&str>,
        window: Option<(u32, &WindowChange)>,
    ) -> Result<()> {
        self.db.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO stream_checkpoints (mapping, shard, after_sequence) VALUES (?1, ?2, ?3)
                 ON CONFLICT (mapping, shard) DO UPDATE SET after_sequence = excluded.after_sequence",
            )?
            .execute(params![mapping, shard, after])?;
            if let Some((lane, change)) = window {
                write_window(tx, mapping, shard, lane, change)?;
            }
            Ok(())
        })
    }

    /// Records a lane's window alone (a batch whose records are not yet all checkpointed).
    pub fn set_window(
        &self,
        mapping: &str,
        shard: &str,
        lane: u32,
        change: &WindowChange,
    ) -> Result<()> {
        self.db
            .write(|tx| write_window(tx, mapping, shard, lane, change))
    }

    pub fn window(&self, mapping: &str, shard: &str, lane: u32) -> Result<Option<WindowState>> {
        self.db.read(|c| {
            c.prepare_cached(
                "SELECT window_start_ms, state FROM stream_windows
                 WHERE mapping = ?1 AND shard = ?2 AND lane = ?3",
            )?
            .query_row(params![mapping, shard, lane], |r| {
                Ok(WindowState {
                    start_ms: r.get(0)?,
                    state: r.get(1)?,
                })
            })
            .optional()
        })
    }

    /// Forgets everything of a mapping (it was deleted).
    pub fn forget(&self, mapping: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "DELETE FROM stream_checkpoints WHERE mapping = ?1",
                params![mapping],
            )?;
            tx.execute(
                "DELETE FROM stream_windows WHERE mapping = ?1",
                params![mapping],
            )?;
            Ok(())
        })
    }
}

fn write_window(
    tx: &sql::Transaction<'_>,
    mapping: &str,
    shard: &str,
    lane: u32,
    change: &WindowChange,
) -> Result<()> {
    match change {
        WindowChange::Keep => {}
        WindowChange::Set(w) => {
            tx.prepare_cached(
                "INSERT INTO stream_windows (mapping, shard, lane, window_start_ms, state)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (mapping, shard, lane) DO UPDATE SET
                   window_start_ms = excluded.window_start_ms, state = excluded.state",
            )?
            .execute(params![mapping, shard, lane, w.start_ms, w.state])?;
        }
        WindowChange::Clear => {
            tx.prepare_cached(
                "DELETE FROM stream_windows WHERE mapping = ?1 AND shard = ?2 AND lane = ?3",
            )?
            .execute(params![mapping, shard, lane])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checkpoints and windows survive reopening the file, and a deleted mapping's go.
    #[test]
    fn checkpoints_and_windows_persist_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("esm.db");
        let s = StreamStore::open(&path).unwrap();
        assert_eq!(s.checkpoint("m", "shard-0").unwrap(), Checkpoint::None);
        s.commit("m", "shard-0", None, None).unwrap();
        assert_eq!(
            s.checkpoint("m", "shard-0").unwrap(),
            Checkpoint::After(None)
        );
        let w = WindowState {
            start_ms: 60_000,
            state: "{\"n\":1}".into(),
        };
        s.commit(
            "m",
            "shard-0",
            Some("42"),
            Some((1, &WindowChange::Set(w.clone()))),
        )
        .unwrap();
        s.commit("other", "shard-0", Some("7"), None).unwrap();
        drop(s);
        let s = StreamStore::open(&path).unwrap();
        assert_eq!(
            s.checkpoint("m", "shard-0").unwrap(),
            Checkpoint::After(Some("42".into()))
        );
        assert_eq!(s.window("m", "shard-0", 1).unwrap(), Some(w));
        assert_eq!(s.window("m", "shard-0", 0).unwrap(), None);
        s.set_window("m", "shard-0", 1, &WindowChange::Clear)
            .unwrap();
        assert_eq!(s.window("m", "shard-0", 1).unwrap(), None);
        s.forget("m").unwrap();
        assert_eq!(s.checkpoint("m", "shard-0").unwrap(), Checkpoint::None);
        assert_eq!(
            s.checkpoint("other", "shard-0").unwrap(),
            Checkpoint::After(Some("7".into()))
        );
    }
}
