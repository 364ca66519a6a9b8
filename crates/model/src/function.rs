//! A function as Hako stores it: one record per function version (`$LATEST` is mutable, published
//! versions are not). This is the storage shape (serialized by the store, versioned by its
//! migrations), not a wire shape: `wire::FunctionConfiguration` is built from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A function's environment variables. `Debug` shows the keys only, so that a value can never
/// reach a log line through a `{:?}`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Environment(pub BTreeMap<String, String>);

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl std::ops::Deref for Environment {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Environment {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<BTreeMap<String, String>> for Environment {
    fn from(m: BTreeMap<String, String>) -> Self {
        Environment(m)
    }
}

/// Hako's reserved tag for a function's network (AWS has no such setting): `none` gives its
/// sandboxes only their own loopback (the Runtime API and Hako's API are there), `outbound` (the
/// default, as when the tag is absent) lets them reach the host and, through it, other hosts.
pub const NETWORK_TAG: &str = "hako:network";
/// The values [`NETWORK_TAG`] takes.
pub const NETWORK_NONE: &str = "none";
pub const NETWORK_OUTBOUND: &str = "outbound";

/// Whether a function with these tags gets outbound network access.
pub fn outbound_network(tags: &BTreeMap<String, String>) -> bool {
    tags.get(NETWORK_TAG).map(String::as_str) != Some(NETWORK_NONE)
}

/// The function's lifecycle state, as AWS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Pending,
    Active,
    Inactive,
    Failed,
}

/// The state of the last update, as AWS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LastUpdateStatus {
    InProgress,
    Successful,
    Failed,
}

/// One function version's code and configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub description: String,
    pub timeout_seconds: i64,
    pub memory_mb: i64,
    pub ephemeral_storage_mb: i64,
    pub architectures: Vec<String>,
    /// The variables in clear: the store seals them (AES-256-GCM) before anything is written.
    pub environment: Environment,
    /// `KMSKeyArn`: the customer key (registered with Hako) that seals `environment`; `None`
    /// means Hako's platform key.
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    /// Hex SHA-256 of the zip: the key of the content-addressed code store.
    pub code_sha256_hex: String,
    pub code_size: i64,
    /// AWS's `LastModified` text (`2019-09-23T18:15:53.553+0000`).
    pub last_modified: String,
    pub revision_id: String,
    pub state: State,
    pub last_update_status: LastUpdateStatus,
    pub tracing_mode: String,
    pub log_format: String,
    pub log_group: String,
    /// `LoggingConfig.ApplicationLogLevel` (only with the JSON format: AWS sets INFO then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_log_level: Option<String>,
    /// `LoggingConfig.SystemLogLevel` (only with the JSON format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
    pub dead_letter_target_arn: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The layers, in the order they are unpacked under `/opt` (a later one wins on a path).
    #[serde(default)]
    pub layers: Vec<crate::layer::FunctionLayer>,
    /// PutFunctionConcurrency's reservation (a property of the function: kept on `$LATEST`).
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
}

impl FunctionRecord {
    /// AWS's `CodeSha256`: the base64 of the zip's SHA-256.
    pub fn code_sha256_base64(&self) -> String {
        use base64::Engine as _;
        let raw = hex::decode(&self.code_sha256_hex).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(raw)
    }
}

/// Formats a time the way Lambda's `LastModified` is written.
pub fn format_last_modified(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    );
    t.format(&fmt).unwrap_or_default()
}

/// The default log group of a function.
pub fn default_log_group(name: &str) -> String {
    format!("/aws/lambda/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_debug_hides_values() {
        let e = Environment([("KEY".to_string(), "s3cr3t".to_string())].into());
        let shown = format!("{e:?}");
        assert!(
            shown.contains("KEY") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    #[test]
    fn last_modified_has_aws_format() {
        let t = time::macros::datetime!(2019-09-23 18:15:53.553 UTC);
        assert_eq!(format_last_modified(t), "2019-09-23T18:15:53.553+0000");
    }
}
