//! Function URLs: one per function and qualifier (`$LATEST` or an alias), found by their URL id
//! too. A URL goes with its alias or its function (`aliases.rs`' `delete_qualifier_configs`,
//! `Db::delete_function`).

use hako_model::function_url::FunctionUrlRecord;
use hako_model::Error;
use rusqlite::{params, OptionalExtension};

use super::{db_err, json_records, Db};

fn decode_url(json: &str) -> Result<FunctionUrlRecord, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::service(format!("corrupt function URL record: {e}")))
}

fn encode_url(u: &FunctionUrlRecord) -> Result<String, Error> {
    serde_json::to_string(u)
        .map_err(|e| Error::service(format!("cannot encode function URL record: {e}")))
}

/// Function URLs.
impl Db {
    /// Inserts a new URL; `false` if the qualifier has one already.
    pub fn insert_function_url(&self, u: &FunctionUrlRecord) -> Result<bool, Error> {
        let json = encode_url(u)?;
        let n = self
            .conn
            .lock()
            .execute(
                "INSERT OR IGNORE INTO function_urls (function_name, qualifier, url_id, record)
                 VALUES (?1, ?2, ?3, ?4)",
                params![u.function_name, u.qualifier, u.url_id, json],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    /// The URL of one qualifier of a function.
    pub fn get_function_url(
        &self,
        function_name: &str,
        qualifier: &str,
    ) -> Result<Option<FunctionUrlRecord>, Error> {
        let json: Option<String> = self
            .conn
            .lock()
            .query_row(
                "SELECT record FROM function_urls WHERE function_name = ?1 AND qualifier = ?2",
                params![function_name, qualifier],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        json.as_deref().map(decode_url).transpose()
    }

    /// The URL whose id is `url_id` (how a request to it is served).
    pub fn function_url_by_id(&self, url_id: &str) -> Result<Option<FunctionUrlRecord>, Error> {
        let json: Option<String> = self
            .conn
            .lock()
            .query_row(
                "SELECT record FROM function_urls WHERE url_id = ?1",
                params![url_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        json.as_deref().map(decode_url).transpose()
    }

    /// Reads, changes and writes one URL in a transaction; `Ok(None)` if there is none.
    pub fn update_function_url<F>(
        &self,
        function_name: &str,
        qualifier: &str,
        f: F,
    ) -> Result<Option<FunctionUrlRecord>, Error>
    where
        F: FnOnce(&mut FunctionUrlRecord) -> Result<(), Error>,
    {
        self.update_json(
            "SELECT record FROM function_urls WHERE function_name = ?1 AND qualifier = ?2",
            "UPDATE function_urls SET record = ?3 WHERE function_name = ?1 AND qualifier = ?2",
            (function_name, qualifier),
            (decode_url, encode_url),
            f,
        )
    }

    /// Deletes one URL; `false` if there was none.
    pub fn delete_function_url(&self, function_name: &str, qualifier: &str) -> Result<bool, Error> {
        self.conn
            .lock()
            .execute(
                "DELETE FROM function_urls WHERE function_name = ?1 AND qualifier = ?2",
                params![function_name, qualifier],
            )
            .map(|n| n == 1)
            .map_err(db_err)
    }

    /// A function's URLs by qualifier, or every function's (`None`), by function and qualifier.
    pub fn list_function_urls(
        &self,
        function_name: Option<&str>,
    ) -> Result<Vec<FunctionUrlRecord>, Error> {
        json_records(
            &self.conn.lock(),
            "SELECT record FROM function_urls WHERE ?1 IS NULL OR function_name = ?1
             ORDER BY function_name, qualifier",
            params![function_name],
            decode_url,
        )
    }
}

#[cfg(test)]
mod tests {
    use hako_model::function_url::{AuthType, InvokeMode};

    use super::super::test_support::*;
    use super::*;

    fn url(qualifier: &str, id: &str) -> FunctionUrlRecord {
        FunctionUrlRecord {
            function_name: "f".into(),
            qualifier: qualifier.into(),
            url_id: id.into(),
            auth_type: AuthType::None,
            cors: None,
            invoke_mode: None,
            creation_time: "2026-01-01T00:00:00.000000Z".into(),
            last_modified_time: "2026-01-01T00:00:00.000000Z".into(),
        }
    }

    #[test]
    fn urls_survive_reopen_and_go_with_their_alias_or_function() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        {
            let db = with_alias(&path, keyring(dir.path()));
            assert!(db.insert_function_url(&url("$LATEST", "a")).unwrap());
            assert!(!db.insert_function_url(&url("$LATEST", "b")).unwrap());
            assert!(db.insert_function_url(&url("live", "c")).unwrap());
            let u = db
                .update_function_url("f", "live", |u| {
                    u.invoke_mode = Some(InvokeMode::ResponseStream);
                    Ok(())
                })
                .unwrap()
                .unwrap();
            assert_eq!(u.invoke_mode, Some(InvokeMode::ResponseStream));
            assert!(db
                .update_function_url("f", "x", |_| Ok(()))
                .unwrap()
                .is_none());
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        let all = db.list_function_urls(Some("f")).unwrap();
        assert_eq!(
            all.iter().map(|u| u.url_id.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(
            db.get_function_url("f", "live")
                .unwrap()
                .unwrap()
                .invoke_mode,
            Some(InvokeMode::ResponseStream)
        );
        assert_eq!(
            db.function_url_by_id("c").unwrap().unwrap().qualifier,
            "live"
        );
        assert!(db.function_url_by_id("zz").unwrap().is_none());
        assert!(db.delete_alias("f", "live").unwrap());
        assert!(db.function_url_by_id("c").unwrap().is_none());
        assert!(db.get_function_url("f", "live").unwrap().is_none());
        assert!(db.delete_function_url("f", "$LATEST").unwrap());
        assert!(!db.delete_function_url("f", "$LATEST").unwrap());
        db.insert_function_url(&url("$LATEST", "d")).unwrap();
        db.delete_function("f").unwrap();
        assert!(db.list_function_urls(None).unwrap().is_empty());
    }
}
