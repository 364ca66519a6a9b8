//! Provisioned concurrency configurations, one per qualifier (a version or an alias).

use hako_model::provisioned::ProvisionedConfigRecord;
use hako_model::Error;
use rusqlite::params;

use super::{db_err, Db};

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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Db;
    use super::*;

    fn pc(qualifier: &str, requested: u32) -> ProvisionedConfigRecord {
        ProvisionedConfigRecord {
            function_name: "f".into(),
            qualifier: qualifier.into(),
            requested,
            last_modified: "2026-01-01T00:00:00.000+0000".into(),
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
}
