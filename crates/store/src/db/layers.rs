//! Layer versions: one record each (its policy inside), numbered per layer, never reused.

use hako_model::layer::LayerVersionRecord;
use hako_model::Error;
use rusqlite::{params, Connection, OptionalExtension};

use super::{db_err, json_records, Db};

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
}
