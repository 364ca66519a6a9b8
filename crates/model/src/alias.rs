//! Versions, aliases and tags: their storage shape (`AliasRecord`), the wire shapes of
//! PublishVersion, ListVersionsByFunction, the alias operations and the tag operations, and the
//! rules AWS applies to them, with AWS's messages.
//!
//! A published version is a `FunctionRecord` whose `version` is a number; `snapshot` makes one
//! from `$LATEST` and `unchanged` says whether publishing would add nothing new. An alias names a
//! version, optionally with one additional version and the share of invocations it gets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::function::{FunctionRecord, LastUpdateStatus, State};
use crate::names::Region;
use crate::validation::{shapes, Constraint, Violations};
use crate::wire::FunctionConfiguration;

/// The alias name pattern of botocore's model (`Alias`).
pub const ALIAS_PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";
/// Alias name length (AWS: 128).
pub const ALIAS_MAX_CHARS: usize = 128;
/// Tags per function (AWS: 50).
pub const TAGS_MAX: usize = 50;

/// One alias of a function, as Hako stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub function_name: String,
    pub name: String,
    /// The version the alias points at: a number, or `$LATEST` (then without routing).
    pub function_version: String,
    pub description: String,
    /// `AdditionalVersionWeights`: at most one other version and its share (0.0-1.0).
    pub additional_version_weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

impl AliasRecord {
    /// Picks the version one invocation runs, given a uniform sample `u` in [0, 1).
    pub fn pick_version(&self, u: f64) -> &str {
        for (version, weight) in &self.additional_version_weights {
            if u < *weight {
                return version;
            }
        }
        &self.function_version
    }

    /// Whether the alias routes any invocation to `version`.
    pub fn uses_version(&self, version: &str) -> bool {
        self.function_version == version || self.additional_version_weights.contains_key(version)
    }
}

/// `AliasRoutingConfiguration` in requests and responses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AliasRoutingConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_version_weights: Option<BTreeMap<String, f64>>,
}

/// CreateAlias's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateAliasRequest {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<AliasRoutingConfiguration>,
}

/// UpdateAlias's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateAliasRequest {
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<AliasRoutingConfiguration>,
    pub revision_id: Option<String>,
}

/// `AliasConfiguration`, as every alias operation returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfiguration {
    pub alias_arn: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<AliasRoutingConfiguration>,
    pub revision_id: String,
}

impl AliasConfiguration {
    pub fn from_record(a: &AliasRecord, region: &Region) -> AliasConfiguration {
        AliasConfiguration {
            alias_arn: region.qualified_arn(&a.function_name, &a.name),
            name: a.name.clone(),
            function_version: a.function_version.clone(),
            description: a.description.clone(),
            routing_config: (!a.additional_version_weights.is_empty()).then(|| {
                AliasRoutingConfiguration {
                    additional_version_weights: Some(a.additional_version_weights.clone()),
                }
            }),
            revision_id: a.revision_id.clone(),
        }
    }
}

/// ListAliases' response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    pub aliases: Vec<AliasConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// PublishVersion's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PublishVersionRequest {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
    pub publish_to: Option<String>,
}

/// ListVersionsByFunction's response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsByFunctionResponse {
    pub versions: Vec<FunctionConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// TagResource's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagResourceRequest {
    pub tags: Option<BTreeMap<String, String>>,
}

/// ListTags' response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsResponse {
    pub tags: BTreeMap<String, String>,
}

/// Whether a qualifier names a published version (rather than `$LATEST` or an alias).
pub fn is_version_number(q: &str) -> bool {
    !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit())
}

/// Checks an alias name against the model's `Alias` shape.
pub fn validate_alias_name(name: &str) -> Result<(), Error> {
    let mut v = Violations::new();
    v.string("name", name, &shapes::ALIAS);
    v.finish()
}

/// Checks an alias's `FunctionVersion` against the model's `Version` shape.
pub fn validate_function_version(v: &str) -> Result<(), Error> {
    let mut violations = Violations::new();
    violations.string("functionVersion", v, &shapes::VERSION);
    violations.finish()
}

/// Checks a routing configuration for an alias pointing at `primary`, with AWS's rules and
/// messages; returns the weights to store (empty: no routing). Whether the additional version
/// exists is for the caller to check.
pub fn validate_routing(
    primary: &str,
    routing: Option<&AliasRoutingConfiguration>,
) -> Result<BTreeMap<String, f64>, Error> {
    let Some(weights) = routing.and_then(|r| r.additional_version_weights.clone()) else {
        return Ok(BTreeMap::new());
    };
    if weights.len() > 1 {
        return Err(Error::invalid(
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ));
    }
    for (version, weight) in &weights {
        // The map as Java prints it: `{2=0.5}` (LocalStack's AWS-recorded
        // `test_notfound_and_invalid_routingconfigs`).
        let shown = format!("{{{version}={weight:?}}}");
        let mut v = Violations::new();
        let path = "routingConfig.additionalVersionWeights";
        if !shapes::WEIGHT.broken_by_number(*weight).is_empty() {
            v.push(Some(&shown), path, Constraint::MapValues(&shapes::WEIGHT));
        }
        if !shapes::ADDITIONAL_VERSION.broken_by_str(version).is_empty() {
            v.push(
                Some(&shown),
                path,
                Constraint::MapKeys(&shapes::ADDITIONAL_VERSION),
            );
        }
        v.finish()?;
        if version == primary {
            return Err(Error::invalid(format!(
                "Invalid function version {primary}. Function version {primary} is already included in routing configuration."
            )));
        }
        if primary == "$LATEST" {
            return Err(Error::invalid(
                "$LATEST is not supported for an alias pointing to more than 1 version",
            ));
        }
    }
    Ok(weights)
}

/// AWS's message when a version to delete is in use by aliases.
pub fn version_in_use(aliases: &[String]) -> Error {
    Error::conflict(format!(
        "Unable to delete version because the following aliases reference it: [{}]",
        aliases.join(", ")
    ))
}

/// AWS's message for a missing alias (GetAlias, DeleteAlias, provisioned concurrency).
pub fn alias_not_found(alias_arn: &str) -> Error {
    Error::not_found(format!("Cannot find alias arn: {alias_arn}"))
}

/// AWS's answer to UpdateAlias for an alias that does not exist.
pub fn update_alias_not_found(alias_arn: &str) -> Error {
    Error::not_found(format!("Alias not found: {alias_arn}"))
}

/// AWS's message when PublishVersion's `CodeSha256` is not `$LATEST`'s.
pub fn code_sha_mismatch(given: &str, current: &str) -> Error {
    Error::invalid(format!(
        "CodeSHA256 ({given}) is different from current CodeSHA256 in $LATEST ({current}). Please try again with the CodeSHA256 in $LATEST."
    ))
}

/// Whether `latest` runs exactly as the published `version` does: same code and every setting
/// that shapes an invocation. (AWS publishes nothing new then and returns that version.)
pub fn unchanged(latest: &FunctionRecord, version: &FunctionRecord) -> bool {
    latest.code_sha256_hex == version.code_sha256_hex
        && latest.runtime == version.runtime
        && latest.role == version.role
        && latest.handler == version.handler
        && latest.timeout_seconds == version.timeout_seconds
        && latest.memory_mb == version.memory_mb
        && latest.ephemeral_storage_mb == version.ephemeral_storage_mb
        && latest.architectures == version.architectures
        && latest.environment == version.environment
        && latest.kms_key_arn == version.kms_key_arn
        && latest.layers == version.layers
        && latest.tracing_mode == version.tracing_mode
        && latest.log_format == version.log_format
        && latest.log_group == version.log_group
        && latest.application_log_level == version.application_log_level
        && latest.system_log_level == version.system_log_level
        && latest.dead_letter_target_arn == version.dead_letter_target_arn
}

/// A published version `number` of `latest`: its code and configuration, frozen. `description`
/// overrides the function's. Tags belong to the function, not to its versions.
pub fn snapshot(
    latest: &FunctionRecord,
    number: u64,
    description: Option<&str>,
    now: &str,
    revision_id: &str,
) -> FunctionRecord {
    let mut v = latest.clone();
    v.version = number.to_string();
    if let Some(d) = description {
        v.description = d.to_string();
    }
    v.last_modified = now.to_string();
    v.revision_id = revision_id.to_string();
    v.state = State::Active;
    v.last_update_status = LastUpdateStatus::Successful;
    v.tags = BTreeMap::new();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(weights: &[(&str, f64)]) -> AliasRecord {
        AliasRecord {
            function_name: "f".into(),
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            additional_version_weights: weights.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            revision_id: "r".into(),
        }
    }

    #[test]
    fn alias_names_follow_the_model() {
        for ok in ["live", "v1", "a-b_c", "1a"] {
            validate_alias_name(ok).unwrap();
        }
        for bad in ["", "12", "$LATEST", "a b", "a:b", &"a".repeat(129)] {
            assert!(validate_alias_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn routing_rules() {
        let r = |k: &str, w: f64| AliasRoutingConfiguration {
            additional_version_weights: Some([(k.to_string(), w)].into()),
        };
        assert_eq!(validate_routing("1", Some(&r("2", 0.3))).unwrap().len(), 1);
        assert!(validate_routing("1", None).unwrap().is_empty());
        for (primary, cfg) in [
            ("1", r("2", 1.5)),
            ("1", r("2", -0.1)),
            ("1", r("x", 0.5)),
            ("1", r("1", 0.5)),
            ("$LATEST", r("2", 0.5)),
        ] {
            assert!(validate_routing(primary, Some(&cfg)).is_err(), "{cfg:?}");
        }
        let two = AliasRoutingConfiguration {
            additional_version_weights: Some([("2".into(), 0.1), ("3".into(), 0.1)].into()),
        };
        assert!(validate_routing("1", Some(&two)).is_err());
    }

    #[test]
    fn picks_by_weight() {
        let a = alias(&[("2", 0.3)]);
        assert_eq!(a.pick_version(0.0), "2");
        assert_eq!(a.pick_version(0.29), "2");
        assert_eq!(a.pick_version(0.3), "1");
        assert_eq!(a.pick_version(0.99), "1");
        assert_eq!(alias(&[]).pick_version(0.0), "1");
        assert!(a.uses_version("2") && a.uses_version("1") && !a.uses_version("3"));
    }
}
