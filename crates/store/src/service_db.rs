//! The database of one AWS-compatible service other than Lambda (SQS, Kinesis, ...): its own
//! SQLite file beside `hako.db`, so a busy queue never waits on Lambda's connection (or the log
//! writer) and the other way round.
//!
//! The service crate owns its schema: it passes its migrations, in order, and writes its own
//! queries through [`ServiceDb::read`] and [`ServiceDb::write`]. This crate owns the connection,
//! its settings and the migration mechanism (`PRAGMA user_version`).
//!
//! Durability: WAL with `synchronous = NORMAL`. A transaction is in the WAL file when `commit`
//! returns, so it survives the end of the process however it comes (`kill -9`, a panic); only
//! a crash of the machine itself may lose the last transactions before a checkpoint.

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// The SQLite API a service crate writes its queries with (rusqlite), re-exported so that
/// every service uses the same version as the store.
pub use rusqlite as sql;

/// One service's database: one connection behind a mutex (every query is short; long waits,
/// such as long polling, happen outside it).
#[derive(Debug)]
pub struct ServiceDb {
    conn: Mutex<Connection>,
}

impl ServiceDb {
    /// Opens (creating and migrating) the database at `path`. `migrations[i]` is the SQL that
    /// takes the schema from version `i` to `i + 1`; a file with a newer schema than this
    /// binary knows is refused.
    pub fn open(path: &Path, migrations: &[&str]) -> Result<ServiceDb, sql::Error> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::init(conn, migrations)
    }

    /// Opens an existing database for reading only, beside a server that may be writing it
    /// (WAL readers do not block the writer): what `hako streams` and such read.
    pub fn open_read_only(path: &Path) -> Result<ServiceDb, sql::Error> {
        let conn = Connection::open_with_flags(path, sql::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(ServiceDb {
            conn: Mutex::new(conn),
        })
    }

    /// An in-memory database with the same schema, for tests.
    pub fn open_in_memory(migrations: &[&str]) -> Result<ServiceDb, sql::Error> {
        Self::init(Connection::open_in_memory()?, migrations)
    }

    fn init(conn: Connection, migrations: &[&str]) -> Result<ServiceDb, sql::Error> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > migrations.len() {
            return Err(sql::Error::InvalidParameterName(format!(
                "the database's schema (version {version}) is newer than this hako knows \
                 ({}); use a newer hako",
                migrations.len()
            )));
        }
        for (i, step) in migrations.iter().enumerate().skip(version) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(ServiceDb {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `f` on the connection (reads, or a single statement).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> sql::Result<T>) -> sql::Result<T> {
        f(&self.conn.lock())
    }

    /// Runs `f` in one immediate transaction, committed when `f` succeeds and rolled back when
    /// it fails: nothing `f` wrote is kept unless all of it is.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> sql::Result<T>) -> sql::Result<T> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &[&str] = &[
        "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);",
        "ALTER TABLE t ADD COLUMN w TEXT;",
    ];

    #[test]
    fn migrates_in_order_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let db = ServiceDb::open(&path, &SCHEMA[..1]).unwrap();
        db.write(|tx| tx.execute("INSERT INTO t VALUES ('a', 1)", []))
            .unwrap();
        drop(db);
        let db = ServiceDb::open(&path, SCHEMA).unwrap();
        let (v, w): (i64, Option<String>) = db
            .read(|c| {
                c.query_row("SELECT v, w FROM t WHERE k = 'a'", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
            })
            .unwrap();
        assert_eq!((v, w), (1, None));
        drop(db);
        // Opening again runs nothing twice (ALTER TABLE ADD COLUMN would fail).
        ServiceDb::open(&path, SCHEMA).unwrap();
        // An older binary refuses the newer file.
        let e = ServiceDb::open(&path, &SCHEMA[..1]).unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
    }

    #[test]
    fn a_failed_write_keeps_nothing() {
        let db = ServiceDb::open_in_memory(SCHEMA).unwrap();
        let e = db.write(|tx| {
            tx.execute("INSERT INTO t (k, v) VALUES ('a', 1)", [])?;
            tx.execute("INSERT INTO t (k, v) VALUES ('a', 2)", [])
        });
        assert!(e.is_err());
        let n: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 0);
    }
}
