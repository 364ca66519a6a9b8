//! How a function record is stored: its JSON, with the environment sealed by the keyring and
//! bound to the record's name and version.

use hako_model::{Error, FunctionRecord};
use rusqlite::{params, Connection, OptionalExtension};

use super::{db_err, Db};
use crate::keys::{Keyring, Sealed};

/// The associated data a record's sealed environment is bound to.
fn env_aad(name: &str, version: &str) -> Vec<u8> {
    format!("hako-env-v1\0{name}\0{version}").into_bytes()
}

/// A stored function record: the JSON of `FunctionRecord` with `environment` replaced by
/// `sealed_environment` (absent when there are no variables). A record of an older Hako holds
/// a clear `environment` instead; it still reads, and migration 3 seals it.
pub(super) fn decode(keys: Option<&Keyring>, json: &str) -> Result<FunctionRecord, Error> {
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

pub(super) fn encode(keys: Option<&Keyring>, rec: &FunctionRecord) -> Result<String, Error> {
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

pub(super) fn record_in(
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

impl Db {
    pub(super) fn decode(&self, json: &str) -> Result<FunctionRecord, Error> {
        decode(self.keys.as_deref(), json)
    }

    pub(super) fn encode(&self, rec: &FunctionRecord) -> Result<String, Error> {
        encode(self.keys.as_deref(), rec)
    }
}

#[cfg(test)]
mod tests {
    use hako_model::function::Environment;

    use super::super::test_support::*;
    use super::*;

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
        assert_eq!(ro.log_group_of("no-such-function").unwrap(), None);
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
}
