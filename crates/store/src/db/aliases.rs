//! Aliases of a function, and what is configured on a qualifier (a version or an alias).

use hako_model::alias::AliasRecord;
use hako_model::Error;
use rusqlite::{params, Connection, OptionalExtension};

use super::{db_err, json_records, Db};

fn decode_alias(json: &str) -> Result<AliasRecord, Error> {
    serde_json::from_str(json).map_err(|e| Error::service(format!("corrupt alias record: {e}")))
}

fn encode_alias(a: &AliasRecord) -> Result<String, Error> {
    serde_json::to_string(a).map_err(|e| Error::service(format!("cannot encode alias record: {e}")))
}

/// Removes what is configured on one qualifier (a version or an alias) of a function: its
/// provisioned concurrency, its event invoke configuration and its function URL. Called inside the transaction
/// that deletes the qualifier.
pub(super) fn delete_qualifier_configs(
    conn: &Connection,
    function_name: &str,
    qualifier: &str,
) -> Result<(), Error> {
    for sql in [
        "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
        "DELETE FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
        "DELETE FROM function_urls WHERE function_name = ?1 AND qualifier = ?2",
        "DELETE FROM function_policies WHERE function_name = ?1 AND qualifier = ?2",
    ] {
        conn.execute(sql, params![function_name, qualifier])
            .map_err(db_err)?;
    }
    Ok(())
}

pub(super) fn aliases_in(
    conn: &Connection,
    function_name: &str,
) -> Result<Vec<AliasRecord>, Error> {
    json_records(
        conn,
        "SELECT record FROM aliases WHERE function_name = ?1 ORDER BY name",
        params![function_name],
        decode_alias,
    )
}

/// Aliases.
impl Db {
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
    /// configuration, function URL); `false` if there was none.
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

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
}
