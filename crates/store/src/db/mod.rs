//! The embedded database: function records (one per version), aliases, provisioned concurrency
//! configurations, layer versions, function URLs and function logs in SQLite (WAL mode), with schema migrations
//! keyed by `PRAGMA user_version`.
//!
//! One file per kind of record: `functions.rs` (functions and their versions), `aliases.rs`,
//! `provisioned.rs`, `layers.rs`, `function_urls.rs`, `permissions.rs` (resource-based policies), `logs.rs`; `records.rs` is how a function record is stored
//! (its environment sealed), `migrations.rs` the schema steps. The asynchronous queue's tables
//! are `queue.rs`'s.
//!
//! Environment variables are never written in clear: a record's `environment` is replaced by
//! `sealed_environment` (see `keys.rs`) on its way in, and opened on its way out. Migration 3
//! seals the records of databases written before that, then rewrites the file (VACUUM) and
//! empties the WAL, so no old page keeps a clear value; `secure_delete` is on, so deleted or
//! overwritten content is zeroed rather than left in free space.
//!
//! One connection behind a mutex: control-plane queries are small and short, and the invoke hot
//! path never touches the database (the engine caches resolved functions in memory).

mod aliases;
mod event_source_mappings;
mod function_urls;
mod functions;
mod layers;
mod logs;
mod migrations;
mod permissions;
mod provisioned;
mod records;
#[cfg(test)]
mod test_support;

use std::path::Path;
use std::sync::Arc;

use hako_model::Error;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};

use crate::keys::Keyring;

pub use functions::Publish;
pub use logs::LogLine;

/// The database handle.
#[derive(Debug)]
pub struct Db {
    pub(crate) conn: Mutex<Connection>,
    /// Seals and opens environments; `None` for the read-only view (logs only).
    keys: Option<Arc<Keyring>>,
}

pub(crate) fn db_err(e: rusqlite::Error) -> Error {
    Error::service(format!("database error: {e}"))
}

impl Db {
    /// Opens (creating and migrating) the database at `path`; `keys` seal the environments.
    pub fn open(path: &Path, keys: Arc<Keyring>) -> Result<Db, Error> {
        let conn = Connection::open(path).map_err(db_err)?;
        Self::init(conn, keys)
    }

    /// Opens a read-only view of an existing database (for `hako logs`, beside a running server).
    pub fn open_read_only(path: &Path) -> Result<Db, Error> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err)?;
        Ok(Db {
            conn: Mutex::new(conn),
            keys: None,
        })
    }

    /// An in-memory database (with an in-memory key), for tests.
    pub fn open_in_memory() -> Result<Db, Error> {
        Self::init(
            Connection::open_in_memory().map_err(db_err)?,
            Arc::new(Keyring::ephemeral(hako_model::Region::default())),
        )
    }

    /// The keys that seal this database's environments.
    pub fn keys(&self) -> Option<&Arc<Keyring>> {
        self.keys.as_ref()
    }

    fn init(conn: Connection, keys: Arc<Keyring>) -> Result<Db, Error> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db_err)?;
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(db_err)?;
        migrations::migrate(&conn, &keys)?;
        Ok(Db {
            conn: Mutex::new(conn),
            keys: Some(keys),
        })
    }

    /// Reads the record that `select` finds for `keys` (decoded and encoded by `codec`), lets
    /// `f` change it and writes it back with `update` (`?3` is the record), in one transaction.
    /// `Ok(None)` when there is no such row; the closure's error leaves the row as it was.
    pub(crate) fn update_json<T, F, D, E>(
        &self,
        select: &str,
        update: &str,
        keys: (&str, &str),
        codec: (D, E),
        f: F,
    ) -> Result<Option<T>, Error>
    where
        D: Fn(&str) -> Result<T, Error>,
        E: Fn(&T) -> Result<String, Error>,
        F: FnOnce(&mut T) -> Result<(), Error>,
    {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let json: Option<String> = tx
            .query_row(select, params![keys.0, keys.1], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        let Some(json) = json else {
            return Ok(None);
        };
        let mut rec = codec.0(&json)?;
        f(&mut rec)?;
        let json = codec.1(&rec)?;
        tx.execute(update, params![keys.0, keys.1, json])
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(Some(rec))
    }
}

/// The JSON records (column 0) that `sql` selects with `params`, each decoded.
pub(crate) fn json_records<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&str) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(db_err)?;
    let mut out = Vec::new();
    for json in rows {
        out.push(decode(&json.map_err(db_err)?)?);
    }
    Ok(out)
}
