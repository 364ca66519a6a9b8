//! IAM's tables in `<data dir>/iam.db` (through `hako_store::ServiceDb`): roles, their inline
//! policies and attachments, customer managed policies and their versions. Names of roles and
//! policies are unique without regard to case, as IAM's.

use hako_store::service_db::sql::{self, params, Connection, OptionalExtension};

use crate::model::{PolicyRecord, PolicyVersion, RoleRecord};

/// The schema, one step per version (`PRAGMA user_version`).
pub(crate) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE roles (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    record TEXT NOT NULL
);
CREATE TABLE role_policies (
    role TEXT NOT NULL COLLATE NOCASE,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (role, name)
);
CREATE TABLE attachments (
    role TEXT NOT NULL COLLATE NOCASE,
    policy_arn TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (role, policy_arn)
);
CREATE INDEX attachments_by_policy ON attachments (policy_arn);
CREATE TABLE policies (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    record TEXT NOT NULL
);
CREATE TABLE policy_versions (
    arn TEXT NOT NULL,
    version TEXT NOT NULL,
    seq INTEGER NOT NULL,
    document TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (arn, version)
);
"#];

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> sql::Result<T> {
    serde_json::from_str(json)
        .map_err(|e| sql::Error::FromSqlConversionFailure(0, sql::types::Type::Text, Box::new(e)))
}

fn encode<T: serde::Serialize>(v: &T) -> sql::Result<String> {
    serde_json::to_string(v).map_err(|e| sql::Error::ToSqlConversionFailure(Box::new(e)))
}

pub(crate) fn role(c: &Connection, name: &str) -> sql::Result<Option<RoleRecord>> {
    let json: Option<String> = c
        .query_row(
            "SELECT record FROM roles WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?;
    json.as_deref().map(decode).transpose()
}

pub(crate) fn roles(c: &Connection) -> sql::Result<Vec<RoleRecord>> {
    let mut s = c.prepare_cached("SELECT record FROM roles ORDER BY name")?;
    let rows = s.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|j| decode(&j?)).collect()
}

pub(crate) fn put_role(c: &Connection, r: &RoleRecord) -> sql::Result<()> {
    c.execute(
        "INSERT INTO roles (name, record) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET record = ?2",
        params![r.name, encode(r)?],
    )?;
    Ok(())
}

pub(crate) fn delete_role(c: &Connection, name: &str) -> sql::Result<bool> {
    Ok(c.execute("DELETE FROM roles WHERE name = ?1", params![name])? == 1)
}

pub(crate) fn role_policy(c: &Connection, role: &str, name: &str) -> sql::Result<Option<String>> {
    c.query_row(
        "SELECT document FROM role_policies WHERE role = ?1 AND name = ?2",
        params![role, name],
        |r| r.get(0),
    )
    .optional()
}

/// A role's inline policies: (name, document), by name.
pub(crate) fn role_policies(c: &Connection, role: &str) -> sql::Result<Vec<(String, String)>> {
    let mut s =
        c.prepare_cached("SELECT name, document FROM role_policies WHERE role = ?1 ORDER BY name")?;
    let rows = s.query_map(params![role], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub(crate) fn put_role_policy(
    c: &Connection,
    role: &str,
    name: &str,
    doc: &str,
) -> sql::Result<()> {
    c.execute(
        "INSERT INTO role_policies (role, name, document) VALUES (?1, ?2, ?3)
         ON CONFLICT (role, name) DO UPDATE SET document = ?3",
        params![role, name, doc],
    )?;
    Ok(())
}

pub(crate) fn delete_role_policy(c: &Connection, role: &str, name: &str) -> sql::Result<bool> {
    Ok(c.execute(
        "DELETE FROM role_policies WHERE role = ?1 AND name = ?2",
        params![role, name],
    )? == 1)
}

/// A role's attached policies: (name, ARN), in the order they were attached.
pub(crate) fn attachments(c: &Connection, role: &str) -> sql::Result<Vec<(String, String)>> {
    let mut s = c.prepare_cached(
        "SELECT policy_name, policy_arn FROM attachments WHERE role = ?1 ORDER BY seq",
    )?;
    let rows = s.query_map(params![role], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub(crate) fn attachment_count(c: &Connection, arn: &str) -> sql::Result<i64> {
    c.query_row(
        "SELECT COUNT(*) FROM attachments WHERE policy_arn = ?1",
        params![arn],
        |r| r.get(0),
    )
}

/// Attaches; `false` if it was attached already.
pub(crate) fn attach(c: &Connection, role: &str, arn: &str, name: &str) -> sql::Result<bool> {
    Ok(c.execute(
        "INSERT OR IGNORE INTO attachments (role, policy_arn, policy_name, seq)
         VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM attachments))",
        params![role, arn, name],
    )? == 1)
}

pub(crate) fn detach(c: &Connection, role: &str, arn: &str) -> sql::Result<bool> {
    Ok(c.execute(
        "DELETE FROM attachments WHERE role = ?1 AND policy_arn = ?2",
        params![role, arn],
    )? == 1)
}

pub(crate) fn policy(c: &Connection, arn: &str) -> sql::Result<Option<PolicyRecord>> {
    let json: Option<String> = c
        .query_row(
            "SELECT record FROM policies WHERE arn = ?1",
            params![arn],
            |r| r.get(0),
        )
        .optional()?;
    json.as_deref().map(decode).transpose()
}

pub(crate) fn policy_name_taken(c: &Connection, name: &str) -> sql::Result<bool> {
    c.query_row(
        "SELECT COUNT(*) FROM policies WHERE name = ?1",
        params![name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

pub(crate) fn policies(c: &Connection) -> sql::Result<Vec<PolicyRecord>> {
    let mut s = c.prepare_cached("SELECT record FROM policies ORDER BY name")?;
    let rows = s.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|j| decode(&j?)).collect()
}

pub(crate) fn put_policy(c: &Connection, p: &PolicyRecord) -> sql::Result<()> {
    c.execute(
        "INSERT INTO policies (arn, name, record) VALUES (?1, ?2, ?3)
         ON CONFLICT (arn) DO UPDATE SET record = ?3",
        params![p.arn, p.name, encode(p)?],
    )?;
    Ok(())
}

pub(crate) fn delete_policy(c: &Connection, arn: &str) -> sql::Result<()> {
    c.execute("DELETE FROM policies WHERE arn = ?1", params![arn])?;
    c.execute("DELETE FROM policy_versions WHERE arn = ?1", params![arn])?;
    Ok(())
}

pub(crate) fn put_version(
    c: &Connection,
    arn: &str,
    version: &str,
    seq: u32,
    doc: &str,
    created: &str,
) -> sql::Result<()> {
    c.execute(
        "INSERT INTO policy_versions (arn, version, seq, document, created) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![arn, version, seq, doc, created],
    )?;
    Ok(())
}

/// A policy's versions, oldest first (`is_default` from `default_version`).
pub(crate) fn versions(
    c: &Connection,
    arn: &str,
    default_version: &str,
) -> sql::Result<Vec<PolicyVersion>> {
    let mut s = c.prepare_cached(
        "SELECT version, document, created FROM policy_versions WHERE arn = ?1 ORDER BY seq",
    )?;
    let rows = s.query_map(params![arn], |r| {
        let version_id: String = r.get(0)?;
        Ok(PolicyVersion {
            is_default: version_id == default_version,
            version_id,
            document: r.get(1)?,
            create_date: r.get(2)?,
        })
    })?;
    rows.collect()
}
