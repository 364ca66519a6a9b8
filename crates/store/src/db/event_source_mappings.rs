//! Event source mappings, one JSON record per UUID. A mapping outlives its function (AWS keeps
//! the mappings of a deleted function: DeleteFunction's documentation, "To delete Lambda event
//! source mappings that invoke a function, use DeleteEventSourceMapping").

use hako_model::esm::EsmRecord;
use hako_model::Error;
use rusqlite::{params, OptionalExtension};

use super::{db_err, json_records, Db};

fn decode(json: &str) -> Result<EsmRecord, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::service(format!("stored event source mapping is corrupt: {e}")))
}

fn encode(r: &EsmRecord) -> Result<String, Error> {
    serde_json::to_string(r)
        .map_err(|e| Error::service(format!("cannot encode event source mapping: {e}")))
}

/// The stored JSON of mapping `uuid`.
fn select_one(conn: &rusqlite::Connection, uuid: &str) -> Result<Option<String>, Error> {
    conn.query_row(
        "SELECT record FROM event_source_mappings WHERE uuid = ?1",
        params![uuid],
        |r| r.get(0),
    )
    .optional()
    .map_err(db_err)
}

/// Event source mappings.
impl Db {
    /// Stores a new mapping.
    pub fn insert_event_source_mapping(&self, r: &EsmRecord) -> Result<(), Error> {
        let json = encode(r)?;
        self.conn
            .lock()
            .execute(
                "INSERT INTO event_source_mappings (uuid, function_name, event_source_arn, record)
                 VALUES (?1, ?2, ?3, ?4)",
                params![r.uuid, r.function_name, r.event_source_arn, json],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// One mapping by UUID.
    pub fn get_event_source_mapping(&self, uuid: &str) -> Result<Option<EsmRecord>, Error> {
        let json = select_one(&self.conn.lock(), uuid)?;
        json.as_deref().map(decode).transpose()
    }

    /// Every mapping, in UUID order.
    pub fn list_event_source_mappings(&self) -> Result<Vec<EsmRecord>, Error> {
        let conn = self.conn.lock();
        json_records(
            &conn,
            "SELECT record FROM event_source_mappings ORDER BY uuid",
            [],
            decode,
        )
    }

    /// Lets `f` change one mapping and writes it back, in one transaction (`f`'s error leaves it
    /// as it was); `Ok(None)` when there is none.
    pub fn update_event_source_mapping<F>(
        &self,
        uuid: &str,
        f: F,
    ) -> Result<Option<EsmRecord>, Error>
    where
        F: FnOnce(&mut EsmRecord) -> Result<(), Error>,
    {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let Some(json) = select_one(&tx, uuid)? else {
            return Ok(None);
        };
        let mut rec = decode(&json)?;
        f(&mut rec)?;
        tx.execute(
            "UPDATE event_source_mappings SET function_name = ?2, record = ?3 WHERE uuid = ?1",
            params![uuid, rec.function_name, encode(&rec)?],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(Some(rec))
    }

    /// Deletes one mapping; `false` if there was none.
    pub fn delete_event_source_mapping(&self, uuid: &str) -> Result<bool, Error> {
        let n = self
            .conn
            .lock()
            .execute(
                "DELETE FROM event_source_mappings WHERE uuid = ?1",
                params![uuid],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use hako_model::esm::{new_record, EsmRequest, EsmState};
    use hako_model::Region;

    use super::super::test_support::*;
    use super::super::Db;

    fn mapping(uuid: &str) -> hako_model::esm::EsmRecord {
        let req = EsmRequest {
            event_source_arn: Some("arn:aws:sqs:us-east-1:123456789012:q".into()),
            function_name: Some("f".into()),
            ..EsmRequest::default()
        };
        new_record(&req, &Region::default(), uuid.into(), 1.0).unwrap()
    }

    #[test]
    fn mappings_survive_reopen_and_outlive_their_function() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        {
            let db = Db::open(&path, keyring(dir.path())).unwrap();
            db.insert_function(&rec("f")).unwrap();
            db.insert_event_source_mapping(&mapping("b")).unwrap();
            db.insert_event_source_mapping(&mapping("a")).unwrap();
            assert!(db.insert_event_source_mapping(&mapping("a")).is_err());
            db.delete_function("f").unwrap();
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        let all = db.list_event_source_mappings().unwrap();
        assert_eq!(
            all.iter().map(|m| m.uuid.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let updated = db
            .update_event_source_mapping("a", |m| {
                m.state = EsmState::Enabled;
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(updated.state, EsmState::Enabled);
        assert_eq!(
            db.get_event_source_mapping("a").unwrap().unwrap().state,
            EsmState::Enabled
        );
        // A failed change leaves the record as it was.
        let e = db.update_event_source_mapping("a", |m| {
            m.state = EsmState::Disabled;
            Err(hako_model::Error::invalid("no"))
        });
        assert!(e.is_err());
        assert_eq!(
            db.get_event_source_mapping("a").unwrap().unwrap().state,
            EsmState::Enabled
        );
        assert!(db
            .update_event_source_mapping("zz", |_| Ok(()))
            .unwrap()
            .is_none());
        assert!(db.delete_event_source_mapping("a").unwrap());
        assert!(!db.delete_event_source_mapping("a").unwrap());
        assert!(db.get_event_source_mapping("a").unwrap().is_none());
    }
}
