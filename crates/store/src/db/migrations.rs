//! The schema, one step per `PRAGMA user_version`: SQL, or code that rewrites rows (and then
//! the file, when what it rewrote must leave no trace).

use hako_model::Error;
use rusqlite::{params, Connection};

use super::db_err;
use super::records::{decode, encode};
use crate::keys::Keyring;

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
    // 7: function URLs, one per qualifier ($LATEST or an alias), found by URL id when served.
    Migration::Sql(
        "CREATE TABLE function_urls (
            function_name TEXT NOT NULL,
            qualifier TEXT NOT NULL,
            url_id TEXT NOT NULL UNIQUE,
            record TEXT NOT NULL,
            PRIMARY KEY (function_name, qualifier)
         );",
    ),
    // 8: event source mappings (one record each, keyed by UUID; the function and source columns
    // for the lists by function and by source).
    Migration::Sql(
        "CREATE TABLE event_source_mappings (
            uuid TEXT PRIMARY KEY,
            function_name TEXT NOT NULL,
            event_source_arn TEXT NOT NULL,
            record TEXT NOT NULL
         );
         CREATE INDEX event_source_mappings_by_function ON event_source_mappings (function_name);
         CREATE INDEX event_source_mappings_by_source ON event_source_mappings (event_source_arn);",
    ),
    // 9: resource-based policies (AddPermission), one per function qualifier ($LATEST, a
    // version or an alias); they go with their function, version or alias.
    Migration::Sql(
        "CREATE TABLE function_policies (
            function_name TEXT NOT NULL,
            qualifier TEXT NOT NULL,
            record TEXT NOT NULL,
            PRIMARY KEY (function_name, qualifier)
         );",
    ),
];

/// Brings the database on `conn` to the newest schema, one transaction per step.
pub(super) fn migrate(conn: &Connection, keys: &Keyring) -> Result<(), Error> {
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
            Migration::Code(f) => rewrite |= f(&tx, keys)?,
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
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Db;
    use super::*;

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
