//! Functions and their versions: `$LATEST`, publishing (numbers never reused), deletion of a
//! version or of everything a function has.

use hako_model::{Error, FunctionRecord};
use rusqlite::{params, OptionalExtension};

use super::aliases::{aliases_in, delete_qualifier_configs};
use super::records::record_in;
use super::{db_err, json_records, Db};

/// What a publish decided (see `Db::publish_version`).
#[derive(Debug)]
pub enum Publish {
    /// Nothing changed since this version: it is the answer and nothing is written.
    Existing(FunctionRecord),
    /// A new version to store.
    New(FunctionRecord),
}

impl Db {
    /// One version of a function.
    pub fn get_function(&self, name: &str, version: &str) -> Result<Option<FunctionRecord>, Error> {
        record_in(&self.conn.lock(), self.keys.as_deref(), name, version)
    }

    /// The log group of a function's `$LATEST` (its own, else `/aws/lambda/NAME`), or `None`
    /// when there is no such function. Needs no keys, and decodes no record: for the
    /// read-only view (`hako logs --data-dir`), which cannot open sealed environments.
    pub fn log_group_of(&self, name: &str) -> Result<Option<String>, Error> {
        let group: Option<Option<String>> = self
            .conn
            .lock()
            .query_row(
                "SELECT json_extract(record, '$.log_group') FROM functions
                 WHERE name = ?1 AND version = '$LATEST'",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        Ok(group.map(|g| g.unwrap_or_else(|| format!("/aws/lambda/{name}"))))
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

    /// Deletes every version of a function, its aliases, its provisioned concurrency
    /// configurations, its function URLs, its policies and its version counter; `false` if
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
        tx.execute(
            "DELETE FROM function_urls WHERE function_name = ?1",
            params![name],
        )
        .map_err(db_err)?;
        tx.execute(
            "DELETE FROM function_policies WHERE function_name = ?1",
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
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

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
}
