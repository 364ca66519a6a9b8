//! What the database's tests share: a function record, a keyring on disk, publishing, an alias,
//! and a look at the raw bytes of the file.

use std::path::Path;
use std::sync::Arc;

use hako_model::alias::AliasRecord;
use hako_model::{Error, FunctionRecord, LastUpdateStatus, State};

use super::{Db, Publish};
use crate::keys::Keyring;

pub(super) fn rec(name: &str) -> FunctionRecord {
    FunctionRecord {
        name: name.into(),
        version: "$LATEST".into(),
        runtime: "provided.al2023".into(),
        role: "arn:aws:iam::123456789012:role/r".into(),
        handler: "h".into(),
        description: String::new(),
        timeout_seconds: 3,
        memory_mb: 128,
        ephemeral_storage_mb: 512,
        architectures: vec!["x86_64".into()],
        environment: Default::default(),
        kms_key_arn: None,
        code_sha256_hex: "ab".repeat(32),
        code_size: 10,
        last_modified: "t".into(),
        revision_id: "r1".into(),
        state: State::Active,
        last_update_status: LastUpdateStatus::Successful,
        tracing_mode: "PassThrough".into(),
        log_format: "Text".into(),
        log_group: format!("/aws/lambda/{name}"),
        application_log_level: None,
        system_log_level: None,
        dead_letter_target_arn: None,
        tags: Default::default(),
        layers: Vec::new(),
        reserved_concurrency: None,
    }
}

pub(super) fn publish(db: &Db, name: &str, fail: bool) -> Result<(FunctionRecord, bool), Error> {
    db.publish_version(name, |latest, newest, next| {
        if fail {
            latest.revision_id = "changed".into();
            return Err(Error::invalid("no"));
        }
        if let Some(v) = newest {
            if hako_model::alias::unchanged(latest, v) {
                return Ok(Publish::Existing(v.clone()));
            }
        }
        latest.revision_id = format!("latest-{next}");
        Ok(Publish::New(hako_model::alias::snapshot(
            latest,
            next,
            None,
            "t",
            &format!("v{next}"),
        )))
    })
}

pub(super) fn alias(function_version: &str, extra: Option<&str>) -> AliasRecord {
    AliasRecord {
        function_name: "f".into(),
        name: "live".into(),
        function_version: function_version.into(),
        description: String::new(),
        additional_version_weights: extra.map(|v| (v.to_string(), 0.5)).into_iter().collect(),
        revision_id: "a1".into(),
    }
}

/// A database at `path` holding function f, its version 1 and the alias live of it.
pub(super) fn with_alias(path: &Path, keyring: Arc<Keyring>) -> Db {
    let db = Db::open(path, keyring).unwrap();
    db.insert_function(&rec("f")).unwrap();
    publish(&db, "f", false).unwrap();
    db.insert_alias(&alias("1", None)).unwrap();
    db
}

pub(super) fn keyring(dir: &Path) -> Arc<Keyring> {
    Arc::new(Keyring::open(&dir.join("keys"), hako_model::Region::default()).unwrap())
}

/// Every byte of the database file and its WAL.
pub(super) fn raw_bytes(path: &Path) -> Vec<u8> {
    let mut all = std::fs::read(path).unwrap();
    let wal = path.with_extension("db-wal");
    if let Ok(w) = std::fs::read(wal) {
        all.extend(w);
    }
    all
}

pub(super) fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}
