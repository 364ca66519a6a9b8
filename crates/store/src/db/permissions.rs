//! Resource-based policies (AddPermission): one per function and qualifier (`$LATEST`, a
//! version or an alias). A policy goes with its version or alias (`aliases.rs`'
//! `delete_qualifier_configs`) and with its function (`Db::delete_function`).

use hako_model::permission::FunctionPolicy;
use hako_model::Error;
use rusqlite::{params, OptionalExtension};

use super::{db_err, Db};

fn decode_policy(json: &str) -> Result<FunctionPolicy, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::service(format!("corrupt function policy record: {e}")))
}

/// Function policies.
impl Db {
    /// The policy of one qualifier of a function.
    pub fn get_function_policy(
        &self,
        function_name: &str,
        qualifier: &str,
    ) -> Result<Option<FunctionPolicy>, Error> {
        let json: Option<String> = self
            .conn
            .lock()
            .query_row(
                "SELECT record FROM function_policies WHERE function_name = ?1 AND qualifier = ?2",
                params![function_name, qualifier],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        json.as_deref().map(decode_policy).transpose()
    }

    /// Stores the policy of one qualifier of a function; `None` (or a policy without
    /// statements) removes it.
    pub fn put_function_policy(
        &self,
        function_name: &str,
        qualifier: &str,
        policy: Option<&FunctionPolicy>,
    ) -> Result<(), Error> {
        let conn = self.conn.lock();
        match policy.filter(|p| !p.statements.is_empty()) {
            Some(p) => {
                let json = serde_json::to_string(p).map_err(|e| {
                    Error::service(format!("cannot encode function policy record: {e}"))
                })?;
                conn.execute(
                    "INSERT INTO function_policies (function_name, qualifier, record)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (function_name, qualifier) DO UPDATE SET record = ?3",
                    params![function_name, qualifier, json],
                )
            }
            None => conn.execute(
                "DELETE FROM function_policies WHERE function_name = ?1 AND qualifier = ?2",
                params![function_name, qualifier],
            ),
        }
        .map(|_| ())
        .map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use hako_model::permission::{PermissionStatement, Principal};

    use super::super::test_support::*;
    use super::*;

    fn policy(sids: &[&str]) -> FunctionPolicy {
        FunctionPolicy {
            revision_id: "rev".into(),
            statements: sids
                .iter()
                .map(|s| PermissionStatement {
                    sid: (*s).into(),
                    action: "lambda:InvokeFunction".into(),
                    principal: Principal::Service("s3.amazonaws.com".into()),
                    source_arn: None,
                    source_account: None,
                    principal_org_id: None,
                    function_url_auth_type: None,
                    event_source_token: None,
                    invoked_via_function_url: None,
                })
                .collect(),
        }
    }

    #[test]
    fn policies_survive_reopen_and_go_with_their_alias_version_or_function() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        {
            let db = with_alias(&path, keyring(dir.path()));
            db.put_function_policy("f", "$LATEST", Some(&policy(&["a"])))
                .unwrap();
            db.put_function_policy("f", "$LATEST", Some(&policy(&["a", "b"])))
                .unwrap();
            db.put_function_policy("f", "live", Some(&policy(&["c"])))
                .unwrap();
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        assert_eq!(
            db.get_function_policy("f", "$LATEST").unwrap(),
            Some(policy(&["a", "b"]))
        );
        assert!(db.delete_alias("f", "live").unwrap());
        assert!(db.get_function_policy("f", "live").unwrap().is_none());
        // An empty policy is no policy.
        db.put_function_policy("f", "$LATEST", Some(&policy(&[])))
            .unwrap();
        assert!(db.get_function_policy("f", "$LATEST").unwrap().is_none());
        db.put_function_policy("f", "1", Some(&policy(&["v"])))
            .unwrap();
        db.put_function_policy("f", "$LATEST", Some(&policy(&["a"])))
            .unwrap();
        db.delete_function("f").unwrap();
        assert!(db.get_function_policy("f", "1").unwrap().is_none());
        assert!(db.get_function_policy("f", "$LATEST").unwrap().is_none());
    }
}
