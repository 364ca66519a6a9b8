//! The embedded database: function records (one per version), aliases and function logs in
//! SQLite (WAL mode), with schema migrations keyed by `PRAGMA user_version`.
//!
//! Environment variables are never written in clear: a record's `environment` is replaced by
//! `sealed_environment` (see `keys.rs`) on its way in, and opened on its way out. Migration 3
//! seals the records of databases written before that, then rewrites the file (VACUUM) and
//! empties the WAL, so no old page keeps a clear value; `secure_delete` is on, so deleted or
//! overwritten content is zeroed rather than left in free space.
//!
//! One connection behind a mutex: control-plane queries are small and short, and the invoke hot
//! path never touches the database (the engine caches resolved functions in memory).

use std::path::Path;
use std::sync::Arc;

use hako_model::alias::AliasRecord;
use hako_model::layer::LayerVersionRecord;
use hako_model::provisioned::ProvisionedConfigRecord;
use hako_model::{Error, FunctionRecord};
use parking_lot::Mutex;

/// Log lines written in one transaction at most (see [`Db::append_logs`]).
const LOG_CHUNK: usize = 512;
use rusqlite::{params, Connection, OptionalExtension};

use crate::keys::{Keyring, Sealed};

/// One line of a function's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub log_group: String,
    pub log_stream: String,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub message: String,
}

/// The database handle.
#[derive(Debug)]
pub struct Db {
    pub(crate) conn: Mutex<Connection>,
    /// Seals and opens environments; `None` for the read-only view (logs only).
    keys: Option<Arc<Keyring>>,
}

/// One schema step.
enum Migration {
    Sql(&'static str),
    /// Rewrites rows; `true` asks for the file to be rewritten afterwards (VACUUM and an empty
    /// WAL), for steps that must leave no old content behind.
    Code(fn(&Connection, &Keyring) -> Result<bool, Error>),
}

const MIGRATIONS: &[Migration] = &[
    // 1: functions and logs.
    Migration::Sql(
        "CREATE TABLE functions (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (name, version)
     );
     CREATE TABLE logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        log_group TEXT NOT NULL,
        log_stream TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        message TEXT NOT NULL
     );
     CREATE INDEX logs_by_group ON logs (log_group, id);",
    ),
    // 2: aliases, and the last version number given per function (never reused, as AWS).
    Migration::Sql(
        "CREATE TABLE aliases (
        function_name TEXT NOT NULL,
        name TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (function_name, name)
     );
     CREATE TABLE version_counters (
        function_name TEXT PRIMARY KEY,
        last_version INTEGER NOT NULL
     );",
    ),
    // 3: environments sealed at rest (records of older Hakos held them in clear).
    Migration::Code(seal_clear_environments),
    // 4: provisioned concurrency configurations, one per qualifier (a version or an alias).
    Migration::Sql(
        "CREATE TABLE provisioned_concurrency (
        function_name TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        requested INTEGER NOT NULL,
        last_modified TEXT NOT NULL,
        PRIMARY KEY (function_name, qualifier)
     );",
    ),
    // 5: the durable asynchronous invocation queue, and event invoke configurations.
    Migration::Sql(
        "CREATE TABLE async_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        qualifier TEXT,
        payload BLOB NOT NULL,
        client_context TEXT,
        trace_id TEXT,
        received_ms INTEGER NOT NULL,
        due_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        throttles INTEGER NOT NULL DEFAULT 0,
        running INTEGER NOT NULL DEFAULT 0,
        last_response TEXT,
        delivery TEXT
     );
     CREATE INDEX async_events_due ON async_events (running, due_ms);
     CREATE INDEX async_events_by_function ON async_events (function_name);
     CREATE TABLE event_invoke_configs (
        function_name TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (function_name, qualifier)
     );",
    ),
    // 6: layer versions (one record each; the policy inside), and the last version number given
    // per layer (never reused, as AWS).
    Migration::Sql(
        "CREATE TABLE layer_versions (
            layer_name TEXT NOT NULL,
            version INTEGER NOT NULL,
            record TEXT NOT NULL,
            PRIMARY KEY (layer_name, version)
         );
         CREATE TABLE layer_counters (
            layer_name TEXT PRIMARY KEY,
            last_version INTEGER NOT NULL
         );",
    ),
];

pub(crate) fn db_err(e: rusqlite::Error) -> Error {
    Error::service(format!("database error: {e}"))
}

/// The associated data a record's sealed environment is bound to.
fn env_aad(name: &str, version: &str) -> Vec<u8> {
    format!("hako-env-v1\0{name}\0{version}").into_bytes()
}

/// A stored function record: the JSON of `FunctionRecord` with `environment` replaced by
/// `sealed_environment` (absent when there are no variables). A record of an older Hako holds
/// a clear `environment` instead; it still reads, and migration 3 seals it.
fn decode(keys: Option<&Keyring>, json: &str) -> Result<FunctionRecord, Error> {
    let corrupt = |e: serde_json::Error| Error::service(format!("corrupt function record: {e}"));
    let mut v: serde_json::Value = serde_json::from_str(json).map_err(corrupt)?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| Error::service("corrupt function record: not an object"))?;
    if let Some(sealed) = obj.remove("sealed_environment") {
        let sealed: Sealed = serde_json::from_value(sealed).map_err(corrupt)?;
        let keys = keys.ok_or_else(|| Error::service("this database view holds no keys"))?;
        let name = obj.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        let version = obj
            .get("version")
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        let plain = keys.open_sealed(&sealed, &env_aad(name, version))?;
        let env: serde_json::Value = serde_json::from_slice(&plain).map_err(corrupt)?;
        obj.insert("environment".into(), env);
    } else if !obj.contains_key("environment") {
        obj.insert("environment".into(), serde_json::json!({}));
    }
    serde_json::from_value(v).map_err(corrupt)
}

fn encode(keys: Option<&Keyring>, rec: &FunctionRecord) -> Result<String, Error> {
    let fail = |e: serde_json::Error| Error::service(format!("cannot encode function record: {e}"));
    let mut v = serde_json::to_value(rec).map_err(fail)?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| Error::service("cannot encode function record: not an object"))?;
    obj.remove("environment");
    if !rec.environment.is_empty() {
        let keys = keys.ok_or_else(|| Error::service("this database view holds no keys"))?;
        let plain = serde_json::to_vec(&rec.environment).map_err(fail)?;
        let sealed = keys.seal(
            rec.kms_key_arn.as_deref(),
            &env_aad(&rec.name, &rec.version),
            &plain,
        )?;
        obj.insert(
            "sealed_environment".into(),
            serde_json::to_value(sealed).map_err(fail)?,
        );
    }
    serde_json::to_string(&v).map_err(fail)
}

/// Migration 3: seals every environment still stored in clear.
fn seal_clear_environments(conn: &Connection, keys: &Keyring) -> Result<bool, Error> {
    let rows: Vec<(String, String, String)> = {
        let mut stmt = conn
            .prepare("SELECT name, version, record FROM functions")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)?
    };
    let mut changed = false;
    for (name, version, json) in rows {
        let rec = decode(Some(keys), &json)?;
        let sealed = encode(Some(keys), &rec)?;
        if sealed != json {
            conn.execute(
                "UPDATE functions SET record = ?3 WHERE name = ?1 AND version = ?2",
                params![name, version, sealed],
            )
            .map_err(db_err)?;
            changed = true;
        }
    }
    Ok(changed)
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
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(db_err)?;
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(Error::service(format!(
                "database schema version {version} is newer than this hako ({}): upgrade hako",
                MIGRATIONS.len()
            )));
        }
        let mut rewrite = false;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.unchecked_transaction().map_err(db_err)?;
            match m {
                Migration::Sql(sql) => tx.execute_batch(sql).map_err(db_err)?,
                Migration::Code(f) => rewrite |= f(&tx, &keys)?,
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
        }
        if rewrite {
            // Old pages (in the file and in the WAL) still hold what was rewritten.
            conn.execute_batch("VACUUM").map_err(db_err)?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(db_err)?;
        }
        Ok(Db {
            conn: Mutex::new(conn),
            keys: Some(keys),
        })
    }

    fn decode(&self, json: &str) -> Result<FunctionRecord, Error> {
        decode(self.keys.as_deref(), json)
    }

    fn encode(&self, rec: &FunctionRecord) -> Result<String, Error> {
        encode(self.keys.as_deref(), rec)
    }

    /// One version of a function.
    pub fn get_function(&self, name: &str, version: &str) -> Result<Option<FunctionRecord>, Error> {
        record_in(&self.conn.lock(), self.keys.as_deref(), name, version)
    }

    /// The log group of a function's `$LATEST` (needs no keys: for the read-only view).
    pub fn log_group_of(&self, name: &str) -> Result<Option<String>, Error> {
        self.conn
            .lock()
            .query_row(
                "SELECT json_extract(record, '$.log_group') FROM functions
                 WHERE name = ?1 AND version = '$LATEST'",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)
    }

    /// Inserts a new function version; `false` if it exists already.
    pub fn insert_function(&self, rec: &FunctionRecord) -> Result<bool, Error> {
        let json = self.encode(rec)?;
        let conn = self.conn.lock();
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO functions (name, version, record) VALUES (?1, ?2, ?3)",
                params![rec.name, rec.version, json],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Reads, changes and writes one function version in a single transaction. The closure's
    /// error aborts the change and leaves the stored record as it was.
    pub fn update_function<F>(
        &self,
        name: &str,
        version: &str,
        f: F,
    ) -> Result<FunctionRecord, Error>
    where
        F: FnOnce(&mut FunctionRecord) -> Result<(), Error>,
    {
        self.update_json(
            "SELECT record FROM functions WHERE name = ?1 AND version = ?2",
            "UPDATE functions SET record = ?3 WHERE name = ?1 AND version = ?2",
            (name, version),
            (
                |j: &str| self.decode(j),
                |r: &FunctionRecord| self.encode(r),
            ),
            f,
        )?
        .ok_or_else(|| Error::not_found(format!("function {name}:{version} not found")))
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

    /// Deletes every version of a function, its aliases, its provisioned concurrency
    /// configurations and its version counter; `false` if
    /// there was none.
    pub fn delete_function(&self, name: &str) -> Result<bool, Error> {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let n = tx
            .execute("DELETE FROM functions WHERE name = ?1", params![name])
            .map_err(db_err)?;
        tx.execute(
            "DELETE FROM aliases WHERE function_name = ?1",
            params![name],
        )
        .map_err(db_err)?;
        tx.execute(
            "DELETE FROM version_counters WHERE function_name = ?1",
            params![name],
        )
        .map_err(db_err)?;
        tx.execute(
            "DELETE FROM provisioned_concurrency WHERE function_name = ?1",
            params![name],
        )
        .map_err(db_err)?;
        // Its event invoke configurations and the events still queued for it go with it.
        tx.execute(
            "DELETE FROM event_invoke_configs WHERE function_name = ?1",
            params![name],
        )
        .map_err(db_err)?;
        tx.execute(
            "DELETE FROM async_events WHERE function_name = ?1",
            params![name],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(n > 0)
    }

    /// Functions in name order, `$LATEST` only unless `all_versions`.
    pub fn list_functions(&self, all_versions: bool) -> Result<Vec<FunctionRecord>, Error> {
        let conn = self.conn.lock();
        let sql = if all_versions {
            "SELECT record FROM functions
             ORDER BY name, version <> '$LATEST', CAST(version AS INTEGER)"
        } else {
            "SELECT record FROM functions WHERE version = '$LATEST' ORDER BY name"
        };
        json_records(&conn, sql, [], |j| self.decode(j))
    }

    /// Whether any stored function version (its code or a layer it uses) or layer version still
    /// uses the package `sha256_hex`.
    pub fn code_in_use(&self, sha256_hex: &str) -> Result<bool, Error> {
        let needle = format!("\"code_sha256_hex\":\"{sha256_hex}\"");
        let conn = self.conn.lock();
        let n: i64 = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM functions WHERE instr(record, ?1) > 0)
                      + (SELECT COUNT(*) FROM layer_versions WHERE instr(record, ?1) > 0)",
                params![needle],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        Ok(n > 0)
    }

    /// Appends log lines, in transactions of at most [`LOG_CHUNK`] lines. Between two, the
    /// connection goes straight to whoever waits for it (`unlock_fair`): a flood of function
    /// output delays an API call by one chunk's insert (a few ms), never by the whole backlog.
    pub fn append_logs(&self, lines: &[LogLine]) -> Result<(), Error> {
        for chunk in lines.chunks(LOG_CHUNK) {
            let conn = self.conn.lock();
            let tx = conn.unchecked_transaction().map_err(db_err)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO logs (log_group, log_stream, ts_ms, message) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(db_err)?;
                for l in chunk {
                    stmt.execute(params![
                        l.log_group,
                        l.log_stream,
                        l.timestamp_ms,
                        l.message
                    ])
                    .map_err(db_err)?;
                }
            }
            tx.commit().map_err(db_err)?;
            parking_lot::MutexGuard::unlock_fair(conn);
        }
        Ok(())
    }

    /// Log lines of a group after the id `after` (0 for all), at most `limit`, oldest first.
    pub fn read_logs(
        &self,
        log_group: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, LogLine)>, Error> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, log_group, log_stream, ts_ms, message FROM logs
                 WHERE log_group = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![log_group, after, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    LogLine {
                        log_group: r.get(1)?,
                        log_stream: r.get(2)?,
                        timestamp_ms: r.get(3)?,
                        message: r.get(4)?,
                    },
                ))
            })
            .map_err(db_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
    }
}

/// What a publish decided (see `Db::publish_version`).
#[derive(Debug)]
pub enum Publish {
    /// Nothing changed since this version: it is the answer and nothing is written.
    Existing(FunctionRecord),
    /// A new version to store.
    New(FunctionRecord),
}

fn decode_alias(json: &str) -> Result<AliasRecord, Error> {
    serde_json::from_str(json).map_err(|e| Error::service(format!("corrupt alias record: {e}")))
}

fn encode_alias(a: &AliasRecord) -> Result<String, Error> {
    serde_json::to_string(a).map_err(|e| Error::service(format!("cannot encode alias record: {e}")))
}

/// Removes what is configured on one qualifier (a version or an alias) of a function: its
/// provisioned concurrency and its event invoke configuration. Called inside the transaction
/// that deletes the qualifier.
fn delete_qualifier_configs(
    conn: &Connection,
    function_name: &str,
    qualifier: &str,
) -> Result<(), Error> {
    for sql in [
        "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
        "DELETE FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
    ] {
        conn.execute(sql, params![function_name, qualifier])
            .map_err(db_err)?;
    }
    Ok(())
}

fn aliases_in(conn: &Connection, function_name: &str) -> Result<Vec<AliasRecord>, Error> {
    json_records(
        conn,
        "SELECT record FROM aliases WHERE function_name = ?1 ORDER BY name",
        params![function_name],
        decode_alias,
    )
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

fn record_in(
    conn: &Connection,
    keys: Option<&Keyring>,
    name: &str,
    version: &str,
) -> Result<Option<FunctionRecord>, Error> {
    let json: Option<String> = conn
        .query_row(
            "SELECT record FROM functions WHERE name = ?1 AND version = ?2",
            params![name, version],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    json.as_deref().map(|j| decode(keys, j)).transpose()
}

/// Versions and aliases.
impl Db {
    /// Publishes a version of `name` in one transaction. `decide` gets `$LATEST` (which it may
    /// change: its RevisionId), the newest published version, and the number a new version
    /// gets (numbers are never reused, even after a delete); its error aborts everything.
    /// Returns the version and whether it is new.
    pub fn publish_version<F>(&self, name: &str, decide: F) -> Result<(FunctionRecord, bool), Error>
    where
        F: FnOnce(&mut FunctionRecord, Option<&FunctionRecord>, u64) -> Result<Publish, Error>,
    {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let Some(mut latest) = record_in(&tx, self.keys.as_deref(), name, "$LATEST")? else {
            return Err(Error::not_found(format!("function {name} not found")));
        };
        let newest: Option<String> = tx
            .query_row(
                "SELECT record FROM functions WHERE name = ?1 AND version <> '$LATEST'
                 ORDER BY CAST(version AS INTEGER) DESC LIMIT 1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        let newest = newest.as_deref().map(|j| self.decode(j)).transpose()?;
        let counter: Option<i64> = tx
            .query_row(
                "SELECT last_version FROM version_counters WHERE function_name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        let newest_n = newest
            .as_ref()
            .and_then(|v| v.version.parse::<u64>().ok())
            .unwrap_or(0);
        let next = u64::try_from(counter.unwrap_or(0))
            .unwrap_or(0)
            .max(newest_n)
            + 1;
        match decide(&mut latest, newest.as_ref(), next)? {
            Publish::Existing(v) => Ok((v, false)),
            Publish::New(v) => {
                tx.execute(
                    "INSERT INTO functions (name, version, record) VALUES (?1, ?2, ?3)",
                    params![v.name, v.version, self.encode(&v)?],
                )
                .map_err(db_err)?;
                tx.execute(
                    "UPDATE functions SET record = ?2 WHERE name = ?1 AND version = '$LATEST'",
                    params![name, self.encode(&latest)?],
                )
                .map_err(db_err)?;
                tx.execute(
                    "INSERT INTO version_counters (function_name, last_version) VALUES (?1, ?2)
                     ON CONFLICT (function_name) DO UPDATE SET last_version = excluded.last_version",
                    params![name, next as i64],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok((v, true))
            }
        }
    }

    /// A function's versions: `$LATEST` first, then the published ones in order.
    pub fn list_versions(&self, name: &str) -> Result<Vec<FunctionRecord>, Error> {
        let conn = self.conn.lock();
        json_records(
            &conn,
            "SELECT record FROM functions WHERE name = ?1
             ORDER BY version <> '$LATEST', CAST(version AS INTEGER)",
            params![name],
            |j| self.decode(j),
        )
    }

    /// Deletes one published version and its provisioned concurrency configuration; `None` if
    /// there is no such version. Refused, changing nothing, while an alias routes to it.
    pub fn delete_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<FunctionRecord>, Error> {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let Some(rec) = record_in(&tx, self.keys.as_deref(), name, version)? else {
            return Ok(None);
        };
        let users: Vec<String> = aliases_in(&tx, name)?
            .into_iter()
            .filter(|a| a.uses_version(version))
            .map(|a| a.name)
            .collect();
        if !users.is_empty() {
            return Err(hako_model::alias::version_in_use(&users));
        }
        tx.execute(
            "DELETE FROM functions WHERE name = ?1 AND version = ?2",
            params![name, version],
        )
        .map_err(db_err)?;
        delete_qualifier_configs(&tx, name, version)?;
        tx.commit().map_err(db_err)?;
        Ok(Some(rec))
    }

    /// One alias of a function.
    pub fn get_alias(&self, function_name: &str, name: &str) -> Result<Option<AliasRecord>, Error> {
        let conn = self.conn.lock();
        let json: Option<String> = conn
            .query_row(
                "SELECT record FROM aliases WHERE function_name = ?1 AND name = ?2",
                params![function_name, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        json.as_deref().map(decode_alias).transpose()
    }

    /// A function's aliases in name order.
    pub fn list_aliases(&self, function_name: &str) -> Result<Vec<AliasRecord>, Error> {
        aliases_in(&self.conn.lock(), function_name)
    }

    /// Inserts a new alias; `false` if the function has one of that name already.
    pub fn insert_alias(&self, a: &AliasRecord) -> Result<bool, Error> {
        let json = encode_alias(a)?;
        let conn = self.conn.lock();
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO aliases (function_name, name, record) VALUES (?1, ?2, ?3)",
                params![a.function_name, a.name, json],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Reads, changes and writes one alias in a single transaction; the closure's error leaves
    /// it as it was. `Ok(None)` if there is no such alias.
    pub fn update_alias<F>(
        &self,
        function_name: &str,
        name: &str,
        f: F,
    ) -> Result<Option<AliasRecord>, Error>
    where
        F: FnOnce(&mut AliasRecord) -> Result<(), Error>,
    {
        self.update_json(
            "SELECT record FROM aliases WHERE function_name = ?1 AND name = ?2",
            "UPDATE aliases SET record = ?3 WHERE function_name = ?1 AND name = ?2",
            (function_name, name),
            (decode_alias, encode_alias),
            f,
        )
    }

    /// Deletes one alias and what is configured on it (provisioned concurrency, event invoke
    /// configuration); `false` if there was none.
    pub fn delete_alias(&self, function_name: &str, name: &str) -> Result<bool, Error> {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let n = tx
            .execute(
                "DELETE FROM aliases WHERE function_name = ?1 AND name = ?2",
                params![function_name, name],
            )
            .map_err(db_err)?;
        delete_qualifier_configs(&tx, function_name, name)?;
        tx.commit().map_err(db_err)?;
        Ok(n == 1)
    }
}

fn provisioned_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProvisionedConfigRecord> {
    Ok(ProvisionedConfigRecord {
        function_name: r.get(0)?,
        qualifier: r.get(1)?,
        requested: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(u32::MAX),
        last_modified: r.get(3)?,
    })
}

/// Provisioned concurrency configurations.
impl Db {
    /// Stores (creating or replacing) one configuration.
    pub fn put_provisioned(&self, c: &ProvisionedConfigRecord) -> Result<(), Error> {
        self.conn
            .lock()
            .execute(
                "INSERT INTO provisioned_concurrency (function_name, qualifier, requested, last_modified)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (function_name, qualifier) DO UPDATE
                 SET requested = excluded.requested, last_modified = excluded.last_modified",
                params![c.function_name, c.qualifier, i64::from(c.requested), c.last_modified],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// A function's configurations in qualifier order, or every function's (`None`).
    pub fn list_provisioned(
        &self,
        function_name: Option<&str>,
    ) -> Result<Vec<ProvisionedConfigRecord>, Error> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT function_name, qualifier, requested, last_modified
                 FROM provisioned_concurrency WHERE ?1 IS NULL OR function_name = ?1
                 ORDER BY function_name, qualifier",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![function_name], provisioned_row)
            .map_err(db_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
    }

    /// Deletes one configuration; `false` if there was none.
    pub fn delete_provisioned(&self, function_name: &str, qualifier: &str) -> Result<bool, Error> {
        let n = self
            .conn
            .lock()
            .execute(
                "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
                params![function_name, qualifier],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }
}

fn decode_layer(json: &str) -> Result<LayerVersionRecord, Error> {
    serde_json::from_str(json).map_err(|e| Error::service(format!("corrupt layer record: {e}")))
}

fn encode_layer(l: &LayerVersionRecord) -> Result<String, Error> {
    serde_json::to_string(l).map_err(|e| Error::service(format!("cannot encode layer record: {e}")))
}

fn layer_in(
    conn: &Connection,
    name: &str,
    version: u64,
) -> Result<Option<LayerVersionRecord>, Error> {
    let json: Option<String> = conn
        .query_row(
            "SELECT record FROM layer_versions WHERE layer_name = ?1 AND version = ?2",
            params![name, version as i64],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    json.as_deref().map(decode_layer).transpose()
}

/// Layers.
impl Db {
    /// Stores a new version of `rec.layer_name`, numbered after every version it ever had;
    /// returns it with its number.
    pub fn publish_layer_version(
        &self,
        mut rec: LayerVersionRecord,
    ) -> Result<LayerVersionRecord, Error> {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let last: Option<i64> = tx
            .query_row(
                "SELECT last_version FROM layer_counters WHERE layer_name = ?1",
                params![rec.layer_name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        rec.version = u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1;
        tx.execute(
            "INSERT INTO layer_versions (layer_name, version, record) VALUES (?1, ?2, ?3)",
            params![rec.layer_name, rec.version as i64, encode_layer(&rec)?],
        )
        .map_err(db_err)?;
        tx.execute(
            "INSERT INTO layer_counters (layer_name, last_version) VALUES (?1, ?2)
             ON CONFLICT (layer_name) DO UPDATE SET last_version = excluded.last_version",
            params![rec.layer_name, rec.version as i64],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(rec)
    }

    /// One layer version.
    pub fn get_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersionRecord>, Error> {
        layer_in(&self.conn.lock(), name, version)
    }

    /// Layer versions, by layer name and then newest first; one layer's when `name` is given.
    pub fn list_layer_versions(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<LayerVersionRecord>, Error> {
        let conn = self.conn.lock();
        json_records(
            &conn,
            "SELECT record FROM layer_versions WHERE ?1 IS NULL OR layer_name = ?1
             ORDER BY layer_name, version DESC",
            params![name],
            decode_layer,
        )
    }

    /// Deletes one layer version; the deleted record, if there was one.
    pub fn delete_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersionRecord>, Error> {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let rec = layer_in(&tx, name, version)?;
        tx.execute(
            "DELETE FROM layer_versions WHERE layer_name = ?1 AND version = ?2",
            params![name, version as i64],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(rec)
    }

    /// Reads, changes and writes one layer version (its policy) in one transaction; the
    /// closure's error leaves it as it was. `Ok(None)` if there is no such version.
    pub fn update_layer_version<F>(
        &self,
        name: &str,
        version: u64,
        f: F,
    ) -> Result<Option<LayerVersionRecord>, Error>
    where
        F: FnOnce(&mut LayerVersionRecord) -> Result<(), Error>,
    {
        let v = version.to_string();
        self.update_json(
            "SELECT record FROM layer_versions WHERE layer_name = ?1 AND version = CAST(?2 AS INTEGER)",
            "UPDATE layer_versions SET record = ?3 WHERE layer_name = ?1 AND version = CAST(?2 AS INTEGER)",
            (name, &v),
            (decode_layer, encode_layer),
            f,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hako_model::function::Environment;
    use hako_model::{LastUpdateStatus, State};

    fn rec(name: &str) -> FunctionRecord {
        FunctionRecord {
            name: name.into(),
            version: "$LATEST".into(),
            runtime: "provided.al2023".into(),
            role: "arn:aws:iam::123456789012:role/r".into(),
            handler: "h".into(),
            description: String::new(),
            timeout_seconds: 3,
            memory_mb: 128,
            ephemeral_storage_mb: 512,
            architectures: vec!["x86_64".into()],
            environment: Default::default(),
            kms_key_arn: None,
            code_sha256_hex: "ab".repeat(32),
            code_size: 10,
            last_modified: "t".into(),
            revision_id: "r1".into(),
            state: State::Active,
            last_update_status: LastUpdateStatus::Successful,
            tracing_mode: "PassThrough".into(),
            log_format: "Text".into(),
            log_group: format!("/aws/lambda/{name}"),
            dead_letter_target_arn: None,
            tags: Default::default(),
            layers: Vec::new(),
            reserved_concurrency: None,
        }
    }

    #[test]
    fn functions_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        {
            let db = Db::open(&path, keyring(dir.path())).unwrap();
            assert!(db.insert_function(&rec("b")).unwrap());
            assert!(db.insert_function(&rec("a")).unwrap());
            assert!(!db.insert_function(&rec("a")).unwrap());
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        let names: Vec<_> = db
            .list_functions(false)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(db.code_in_use(&"ab".repeat(32)).unwrap());
        assert!(db.delete_function("a").unwrap());
        assert!(db.get_function("a", "$LATEST").unwrap().is_none());
    }

    #[test]
    fn failed_update_changes_nothing() {
        let db = Db::open_in_memory().unwrap();
        db.insert_function(&rec("f")).unwrap();
        let err = db
            .update_function("f", "$LATEST", |r| {
                r.timeout_seconds = 99;
                Err(Error::invalid("no"))
            })
            .unwrap_err();
        assert_eq!(err.message, "no");
        assert_eq!(
            db.get_function("f", "$LATEST")
                .unwrap()
                .unwrap()
                .timeout_seconds,
            3
        );
        let r = db.update_function("f", "$LATEST", |r| {
            r.timeout_seconds = 9;
            Ok(())
        });
        assert_eq!(r.unwrap().timeout_seconds, 9);
    }

    #[test]
    fn logs_are_read_in_order_after_an_id() {
        let db = Db::open_in_memory().unwrap();
        let line = |m: &str| LogLine {
            log_group: "/aws/lambda/f".into(),
            log_stream: "s".into(),
            timestamp_ms: 1,
            message: m.into(),
        };
        db.append_logs(&[line("a"), line("b"), line("c")]).unwrap();
        let all = db.read_logs("/aws/lambda/f", 0, 10).unwrap();
        assert_eq!(all.len(), 3);
        let after = db.read_logs("/aws/lambda/f", all[0].0, 10).unwrap();
        assert_eq!(
            after
                .iter()
                .map(|(_, l)| l.message.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
    }

    fn publish(db: &Db, name: &str, fail: bool) -> Result<(FunctionRecord, bool), Error> {
        db.publish_version(name, |latest, newest, next| {
            if fail {
                latest.revision_id = "changed".into();
                return Err(Error::invalid("no"));
            }
            if let Some(v) = newest {
                if hako_model::alias::unchanged(latest, v) {
                    return Ok(Publish::Existing(v.clone()));
                }
            }
            latest.revision_id = format!("latest-{next}");
            Ok(Publish::New(hako_model::alias::snapshot(
                latest,
                next,
                None,
                "t",
                &format!("v{next}"),
            )))
        })
    }

    fn alias(function_version: &str, extra: Option<&str>) -> AliasRecord {
        AliasRecord {
            function_name: "f".into(),
            name: "live".into(),
            function_version: function_version.into(),
            description: String::new(),
            additional_version_weights: extra.map(|v| (v.to_string(), 0.5)).into_iter().collect(),
            revision_id: "a1".into(),
        }
    }

    #[test]
    fn versions_are_numbered_never_reused_and_unchanged_publish_returns_the_last() {
        let db = Db::open_in_memory().unwrap();
        db.insert_function(&rec("f")).unwrap();
        let (v1, new) = publish(&db, "f", false).unwrap();
        assert!(new);
        assert_eq!(v1.version, "1");
        let (again, new) = publish(&db, "f", false).unwrap();
        assert!(!new);
        assert_eq!(again.version, "1");
        db.update_function("f", "$LATEST", |r| {
            r.timeout_seconds = 9;
            Ok(())
        })
        .unwrap();
        assert_eq!(publish(&db, "f", false).unwrap().0.version, "2");
        assert_eq!(db.delete_version("f", "2").unwrap().unwrap().version, "2");
        db.update_function("f", "$LATEST", |r| {
            r.timeout_seconds = 10;
            Ok(())
        })
        .unwrap();
        assert_eq!(publish(&db, "f", false).unwrap().0.version, "3");
        let order: Vec<_> = db
            .list_versions("f")
            .unwrap()
            .into_iter()
            .map(|r| r.version)
            .collect();
        assert_eq!(order, ["$LATEST", "1", "3"]);
        assert_eq!(
            db.get_function("f", "1").unwrap().unwrap().timeout_seconds,
            3
        );
        // Deleting the function forgets its numbering.
        db.delete_function("f").unwrap();
        db.insert_function(&rec("f")).unwrap();
        assert_eq!(publish(&db, "f", false).unwrap().0.version, "1");
    }

    #[test]
    fn failed_publish_changes_nothing() {
        let db = Db::open_in_memory().unwrap();
        db.insert_function(&rec("f")).unwrap();
        assert!(publish(&db, "f", true).is_err());
        assert_eq!(db.list_versions("f").unwrap().len(), 1);
        assert_eq!(
            db.get_function("f", "$LATEST")
                .unwrap()
                .unwrap()
                .revision_id,
            "r1"
        );
        assert!(publish(&db, "nope", false).is_err());
    }

    #[test]
    fn a_version_an_alias_uses_cannot_be_deleted() {
        let db = Db::open_in_memory().unwrap();
        db.insert_function(&rec("f")).unwrap();
        publish(&db, "f", false).unwrap();
        db.update_function("f", "$LATEST", |r| {
            r.memory_mb = 256;
            Ok(())
        })
        .unwrap();
        publish(&db, "f", false).unwrap();
        assert!(db.insert_alias(&alias("1", Some("2"))).unwrap());
        assert!(!db.insert_alias(&alias("1", None)).unwrap());
        for v in ["1", "2"] {
            let e = db.delete_version("f", v).unwrap_err();
            assert_eq!(e.kind, hako_model::ErrorKind::ResourceConflict);
            assert!(db.get_function("f", v).unwrap().is_some());
        }
        assert!(db.delete_version("f", "9").unwrap().is_none());
        // A failed alias update leaves it as it was; a good one is seen by the next read.
        assert!(db
            .update_alias("f", "live", |a| {
                a.function_version = "2".into();
                Err(Error::invalid("no"))
            })
            .is_err());
        assert_eq!(
            db.get_alias("f", "live").unwrap().unwrap().function_version,
            "1"
        );
        db.update_alias("f", "live", |a| {
            a.function_version = "2".into();
            a.additional_version_weights.clear();
            Ok(())
        })
        .unwrap()
        .unwrap();
        assert!(db.delete_version("f", "1").unwrap().is_some());
        assert!(db.update_alias("f", "nope", |_| Ok(())).unwrap().is_none());
        assert_eq!(db.list_aliases("f").unwrap().len(), 1);
        assert!(db.delete_alias("f", "live").unwrap());
        assert!(!db.delete_alias("f", "live").unwrap());
    }

    /// A database at `path` holding function f, its version 1 and the alias live of it.
    fn with_alias(path: &Path, keyring: Arc<Keyring>) -> Db {
        let db = Db::open(path, keyring).unwrap();
        db.insert_function(&rec("f")).unwrap();
        publish(&db, "f", false).unwrap();
        db.insert_alias(&alias("1", None)).unwrap();
        db
    }

    #[test]
    fn aliases_survive_reopen_and_go_with_their_function() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        with_alias(&path, keyring(dir.path()));
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        assert_eq!(db.list_aliases("f").unwrap()[0].name, "live");
        db.delete_function("f").unwrap();
        assert!(db.list_aliases("f").unwrap().is_empty());
        assert!(db.list_versions("f").unwrap().is_empty());
    }

    fn keyring(dir: &Path) -> Arc<Keyring> {
        Arc::new(Keyring::open(&dir.join("keys"), hako_model::Region::default()).unwrap())
    }

    /// Every byte of the database file and its WAL.
    fn raw_bytes(path: &Path) -> Vec<u8> {
        let mut all = std::fs::read(path).unwrap();
        let wal = path.with_extension("db-wal");
        if let Ok(w) = std::fs::read(wal) {
            all.extend(w);
        }
        all
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn environments_are_sealed_on_disk_and_open_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        let secret = "value-that-must-not-leak-7f3a";
        {
            let db = Db::open(&path, keyring(dir.path())).unwrap();
            let mut r = rec("f");
            r.environment = Environment([("SECRET".into(), secret.into())].into());
            db.insert_function(&r).unwrap();
            publish(&db, "f", false).unwrap();
            db.update_function("f", "$LATEST", |r| {
                r.environment
                    .0
                    .insert("OTHER".into(), format!("{secret}-2"));
                Ok(())
            })
            .unwrap();
            assert!(!contains(&raw_bytes(&path), secret));
            assert_eq!(
                db.get_function("f", "1").unwrap().unwrap().environment["SECRET"],
                secret
            );
        }
        assert!(!contains(&raw_bytes(&path), secret));
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        let latest = db.get_function("f", "$LATEST").unwrap().unwrap();
        assert_eq!(latest.environment.len(), 2);
        // The read-only view (hako logs) has no keys and never needs them.
        let ro = Db::open_read_only(&path).unwrap();
        assert!(ro.get_function("f", "$LATEST").is_err());
        assert_eq!(
            ro.log_group_of("f").unwrap().as_deref(),
            Some("/aws/lambda/f")
        );
        // Another keyring (a lost key directory) cannot open them.
        let other = tempfile::tempdir().unwrap();
        let db2 = Db::open(&path, keyring(other.path())).unwrap();
        assert!(db2.get_function("f", "$LATEST").is_err());
    }

    #[test]
    fn a_sealed_environment_does_not_open_in_another_record() {
        let db = Db::open_in_memory().unwrap();
        let mut r = rec("f");
        r.environment = Environment([("K".into(), "v".into())].into());
        db.insert_function(&r).unwrap();
        db.insert_function(&rec("g")).unwrap();
        let conn = db.conn.lock();
        conn.execute(
            "UPDATE functions SET record = replace((SELECT record FROM functions WHERE name = 'f'), '\"name\":\"f\"', '\"name\":\"g\"') WHERE name = 'g'",
            [],
        )
        .unwrap();
        drop(conn);
        assert!(db.get_function("g", "$LATEST").is_err());
    }

    #[test]
    fn clear_environments_of_an_older_database_are_sealed_and_scrubbed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        let secret = "old-clear-value-91c2";
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            for m in &MIGRATIONS[..2] {
                let Migration::Sql(sql) = m else { panic!() };
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            let mut r = serde_json::to_value(rec("f")).unwrap();
            r["environment"] = serde_json::json!({ "SECRET": secret });
            r.as_object_mut().unwrap().remove("kms_key_arn");
            conn.execute(
                "INSERT INTO functions (name, version, record) VALUES ('f', '$LATEST', ?1)",
                params![r.to_string()],
            )
            .unwrap();
            assert!(contains(&raw_bytes(&path), secret));
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        assert!(!contains(&raw_bytes(&path), secret));
        assert_eq!(
            db.get_function("f", "$LATEST")
                .unwrap()
                .unwrap()
                .environment["SECRET"],
            secret
        );
    }

    fn pc(qualifier: &str, requested: u32) -> ProvisionedConfigRecord {
        ProvisionedConfigRecord {
            function_name: "f".into(),
            qualifier: qualifier.into(),
            requested,
            last_modified: "2026-01-01T00:00:00.000+0000".into(),
        }
    }

    fn layer(name: &str) -> LayerVersionRecord {
        LayerVersionRecord {
            layer_name: name.into(),
            version: 0,
            description: String::new(),
            created_date: "t".into(),
            compatible_runtimes: vec![],
            compatible_architectures: vec![],
            license_info: None,
            code_sha256_hex: "cd".repeat(32),
            code_size: 1,
            unzipped_size: 1,
            policy: vec![],
            policy_revision_id: None,
        }
    }

    #[test]
    fn provisioned_configs_survive_reopen_and_go_with_their_qualifier() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        {
            let db = with_alias(&path, keyring(dir.path()));
            db.put_provisioned(&pc("1", 2)).unwrap();
            db.put_provisioned(&pc("1", 3)).unwrap();
            db.put_provisioned(&pc("live", 1)).unwrap();
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        assert_eq!(
            db.list_provisioned(Some("f")).unwrap(),
            vec![pc("1", 3), pc("live", 1)]
        );
        assert_eq!(db.list_provisioned(None).unwrap().len(), 2);
        assert!(db.list_provisioned(Some("g")).unwrap().is_empty());
        // An alias's configuration goes with the alias, a version's with the version.
        assert!(db.delete_alias("f", "live").unwrap());
        assert_eq!(db.list_provisioned(Some("f")).unwrap(), vec![pc("1", 3)]);
        assert!(db.delete_version("f", "1").unwrap().is_some());
        assert!(db.list_provisioned(None).unwrap().is_empty());
        db.put_provisioned(&pc("7", 1)).unwrap();
        assert!(db.delete_provisioned("f", "7").unwrap());
        assert!(!db.delete_provisioned("f", "7").unwrap());
        db.put_provisioned(&pc("8", 1)).unwrap();
        db.delete_function("f").unwrap();
        assert!(db.list_provisioned(None).unwrap().is_empty());
    }

    #[test]
    fn layer_versions_are_numbered_never_reused_and_keep_their_code_in_use() {
        let db = Db::open_in_memory().unwrap();
        assert_eq!(db.publish_layer_version(layer("a")).unwrap().version, 1);
        assert_eq!(db.publish_layer_version(layer("a")).unwrap().version, 2);
        assert_eq!(db.publish_layer_version(layer("b")).unwrap().version, 1);
        let all: Vec<_> = db
            .list_layer_versions(None)
            .unwrap()
            .into_iter()
            .map(|l| (l.layer_name, l.version))
            .collect();
        assert_eq!(all, [("a".into(), 2), ("a".into(), 1), ("b".into(), 1)]);
        assert_eq!(db.list_layer_versions(Some("b")).unwrap().len(), 1);
        assert!(db.code_in_use(&"cd".repeat(32)).unwrap());
        assert!(db.delete_layer_version("a", 2).unwrap().is_some());
        assert!(db.delete_layer_version("a", 2).unwrap().is_none());
        assert_eq!(db.publish_layer_version(layer("a")).unwrap().version, 3);
        assert!(db
            .update_layer_version("a", 3, |l| {
                l.description = "x".into();
                Err(Error::invalid("no"))
            })
            .is_err());
        assert_eq!(
            db.get_layer_version("a", 3).unwrap().unwrap().description,
            ""
        );
        db.update_layer_version("a", 3, |l| {
            l.description = "y".into();
            Ok(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            db.get_layer_version("a", 3).unwrap().unwrap().description,
            "y"
        );
        assert!(db
            .update_layer_version("a", 9, |_| Ok(()))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_version_1_database_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        {
            let conn = Connection::open(&path).unwrap();
            let Migration::Sql(sql) = MIGRATIONS[0] else {
                panic!()
            };
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        db.insert_function(&rec("f")).unwrap();
        assert!(db.insert_alias(&alias("$LATEST", None)).unwrap());
    }
}
