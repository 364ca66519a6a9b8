//! Layers: the stored record of a layer version, its wire shapes (botocore's model,
//! API 2018-10-31), names and ARNs, the layer-version policy document, and the checks of a
//! function's `Layers` list, with AWS's messages.

use serde::{Deserialize, Serialize};

use crate::error::{missing, Error};
use crate::names::Region;
use crate::runtime::SUPPORTED_RUNTIMES;
use crate::validation::{list_value, shapes, Bound, Constraint, Violations};

/// The runtimes ListLayers and ListLayerVersions accept as `CompatibleRuntime`, in the order
/// AWS prints them (LocalStack's AWS-recorded `test_layer_exceptions`,
/// `list_layers_exc_compatibleruntime_invalid`).
pub const LIST_FILTER_RUNTIMES: &[&str] = &[
    "ruby3.5",
    "ruby2.6",
    "dotnetcore1.0",
    "python3.7",
    "nodejs8.10",
    "nasa",
    "ruby2.7",
    "python2.7-greengrass",
    "dotnetcore2.0",
    "python3.8",
    "java21",
    "dotnet6",
    "dotnetcore2.1",
    "python3.9",
    "java11",
    "nodejs6.10",
    "provided",
    "dotnetcore3.1",
    "dotnet8",
    "java25",
    "java17",
    "nodejs",
    "nodejs4.3",
    "java8.al2",
    "go1.x",
    "dotnet10",
    "nodejs20.x",
    "go1.9",
    "byol",
    "nodejs10.x",
    "provided.al2023",
    "nodejs22.x",
    "python3.10",
    "java8",
    "nodejs12.x",
    "python3.11",
    "nodejs24.x",
    "nodejs8.x",
    "python3.12",
    "nodejs14.x",
    "nodejs8.9",
    "nodejs26.x",
    "python3.13",
    "python3.14",
    "nodejs16.x",
    "python3.15",
    "provided.al2",
    "nodejs4.3-edge",
    "nodejs18.x",
    "ruby3.2",
    "python3.4",
    "ruby3.3",
    "ruby3.4",
    "ruby2.5",
    "python3.6",
    "python2.7",
];

/// Most layers a function may use (AWS: 5).
pub const MAX_FUNCTION_LAYERS: usize = 5;
/// `LayerName` length (AWS: 140, ARN form included).
pub const LAYER_NAME_MAX_CHARS: usize = 140;
/// `LicenseInfo` length.
pub const LICENSE_MAX_CHARS: usize = 512;
/// `MaxItems` of the list calls (AWS: 50).
pub const LIST_MAX_ITEMS: usize = 50;

/// AWS's message for a layer or layer version that does not exist.
pub const NOT_FOUND: &str = "The resource you requested does not exist.";

/// One statement of a layer version's policy (AddLayerVersionPermission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerStatement {
    pub sid: String,
    pub principal: String,
    pub organization_id: Option<String>,
}

/// One layer version as Hako stores it (immutable but for its policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerVersionRecord {
    pub layer_name: String,
    pub version: u64,
    pub description: String,
    /// AWS's `CreatedDate` text.
    pub created_date: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
    /// Hex SHA-256 of the zip: its key in the code store.
    pub code_sha256_hex: String,
    pub code_size: i64,
    /// The unpacked size, for the function's 250 MB (code and layers) limit.
    pub unzipped_size: i64,
    #[serde(default)]
    pub policy: Vec<LayerStatement>,
    /// The policy's RevisionId (`None` while there is no policy).
    #[serde(default)]
    pub policy_revision_id: Option<String>,
}

/// A layer version a function uses, as its configuration keeps it: a copy of what it needs, so
/// that deleting the layer version does not break the function (as on AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionLayer {
    pub arn: String,
    pub code_size: i64,
    pub unzipped_size: i64,
    pub code_sha256_hex: String,
}

impl Region {
    /// `arn:aws:lambda:<region>:<account>:layer:<name>`.
    pub fn layer_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:layer:{name}",
            self.region, self.account_id
        )
    }

    /// `arn:aws:lambda:<region>:<account>:layer:<name>:<version>`.
    pub fn layer_version_arn(&self, name: &str, version: u64) -> String {
        format!("{}:{version}", self.layer_arn(name))
    }
}

fn name_chars_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The layer name in a `LayerName` path parameter: a name or a layer ARN of this region and
/// account.
pub fn parse_layer_name(input: &str, region: &Region) -> Result<String, Error> {
    let mut v = Violations::new();
    v.string("layerName", input, &shapes::LAYER_NAME);
    v.finish()?;
    // A layer ARN of another region or account: Hako has none.
    let bad = || {
        crate::validation::violation(
            Some(input),
            "layerName",
            Constraint::Pattern(&shapes::LAYER_NAME_PATTERN),
        )
    };
    let name = match input.strip_prefix("arn:") {
        Some(_) => input
            .strip_prefix(&region.layer_arn(""))
            .ok_or_else(bad)?
            .to_string(),
        None => input.to_string(),
    };
    if !name_chars_ok(&name) {
        return Err(bad());
    }
    Ok(name)
}

/// AWS's answer for a layer version number below 1 (LocalStack's AWS-recorded
/// `test_layer_exceptions`: `get_layer_version_exc_layer_version_doesnotexist_negative`,
/// `_zero`, `delete_layer_version_exc_layerversion_invalid_version`).
pub fn version_below_one() -> Error {
    Error::invalid("Layer Version Cannot be less than 1")
}

/// A `VersionNumber` path parameter.
pub fn parse_version_number(input: &str) -> Result<u64, Error> {
    match input.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n.unsigned_abs()),
        Ok(_) => Err(version_below_one()),
        Err(_) => Err(crate::validation::violation(
            Some(input),
            "versionNumber",
            Constraint::Min(Bound::Int(1)),
        )),
    }
}

/// The model's pattern for a layer version ARN (the regional form).
pub fn layer_version_arn_pattern_ok(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 8
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "lambda"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5] == "layer"
        && name_chars_ok(parts[6])
        && !parts[7].is_empty()
        && parts[7].chars().all(|c| c.is_ascii_digit())
}

/// A layer version ARN of this region and account: `(name, version)`; `None` when it names
/// another region's or account's layer (which Hako cannot have).
pub fn parse_layer_version_arn(arn: &str, region: &Region) -> Result<Option<(String, u64)>, Error> {
    let mut v = Violations::new();
    v.string("arn", arn, &shapes::LAYER_VERSION_ARN);
    v.finish()?;
    if !layer_version_arn_pattern_ok(arn) {
        return Err(crate::validation::violation(
            Some(arn),
            "arn",
            Constraint::Pattern(&shapes::LAYER_VERSION_ARN_PATTERN),
        ));
    }
    let parts: Vec<&str> = arn.split(':').collect();
    if parts[3] != region.region || parts[4] != region.account_id {
        return Ok(None);
    }
    Ok(parts[7]
        .parse::<u64>()
        .ok()
        .map(|v| (parts[6].to_string(), v)))
}

/// The layer version ARNs of a function's `Layers`, checked as AWS checks them (the model's
/// pattern, at most 5, no layer twice). Whether each exists is the caller's question.
pub fn validate_function_layers(arns: &[String]) -> Result<(), Error> {
    let mut v = Violations::new();
    v.list("layers", arns, &shapes::LAYER_LIST);
    v.finish()?;
    if arns.len() > MAX_FUNCTION_LAYERS {
        return Err(Error::invalid(format!(
            "Cannot reference more than {MAX_FUNCTION_LAYERS} layers."
        )));
    }
    for (i, a) in arns.iter().enumerate() {
        let layer = |arn: &str| arn.rsplit_once(':').map(|(l, _)| l.to_string());
        if let Some(other) = arns[..i].iter().find(|o| layer(o) == layer(a)) {
            return Err(Error::invalid(format!(
                "Two different versions of the same layer are not allowed to be referenced in the same function. {other} and {a} are versions of the same layer."
            )));
        }
    }
    Ok(())
}

/// AWS's message for a function layer that does not exist.
pub fn layer_version_not_found(arn: &str) -> Error {
    Error::invalid(format!("Layer version {arn} does not exist."))
}

/// AWS's answer to Add/RemoveLayerVersionPermission and GetLayerVersionPolicy for a layer
/// version that does not exist (LocalStack's AWS-recorded `test_layer_policy_exceptions`:
/// `layer_permission_layername_doesnotexist_add`, `..._layerversion_doesnotexist_get`).
pub fn policy_layer_version_not_found(arn: &str) -> Error {
    Error::not_found(format!("Layer version {arn} does not exist."))
}

/// AWS's answer when a function's layer is in another region (`test_layer_function_exceptions`,
/// `create_function_with_layer_in_different_region`).
pub fn layer_in_other_region(region: &str) -> Error {
    Error::invalid(format!(
        "Layers are not in the same region as the function. Layers are expected to be in region {region}."
    ))
}

/// AWS's answer when a layer version policy's RevisionId does not match
/// (`layer_permission_wrong_revision`, `layer_permission_wrong_revision_remove`).
pub fn policy_revision_mismatch() -> Error {
    Error::new(
        crate::ErrorKind::PreconditionFailed,
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id",
    )
}

/// AWS's message when code and layers together are too big unzipped.
pub fn too_big_with_layers(total: u64) -> Error {
    Error::invalid(format!(
        "Function code combined with layers exceeds the maximum allowed size of {} bytes. The actual size is {total} bytes.",
        crate::limits::UNZIPPED_MAX_BYTES
    ))
}

// ---------------------------------------------------------------------------------------------
// Wire shapes

/// `LayerVersionContentInput`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LayerVersionContentIn {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
    #[serde(rename = "S3ObjectStorageMode")]
    pub s3_object_storage_mode: Option<String>,
}

/// PublishLayerVersion's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PublishLayerVersionRequest {
    pub description: Option<String>,
    pub content: Option<LayerVersionContentIn>,
    pub compatible_architectures: Option<Vec<String>>,
    pub compatible_runtimes: Option<Vec<String>>,
    pub license_info: Option<String>,
}

/// A validated PublishLayerVersion: the record (without version, code or date) and the zip.
#[derive(Debug)]
pub struct ValidPublish {
    pub description: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
    pub zip: Vec<u8>,
}

/// Validates a PublishLayerVersion body.
pub fn validate_publish(req: PublishLayerVersionRequest) -> Result<ValidPublish, Error> {
    // The model's constraints, in the order of botocore's `PublishLayerVersionRequest` members.
    let mut v = Violations::new();
    v.opt_string(
        "description",
        req.description.as_deref(),
        &shapes::DESCRIPTION,
    );
    v.required("content", req.content.as_ref());
    let runtimes = req.compatible_runtimes.unwrap_or_default();
    if runtimes.len() > 15 {
        v.push(
            Some(&list_value(&runtimes)),
            "compatibleRuntimes",
            Constraint::MaxLength(15),
        );
    }
    // AWS checks the runtimes against the supported ones and words it as one enum on the list
    // (LocalStack's AWS-recorded `publish_layer_version_exc_invalid_runtime_arch`).
    if runtimes
        .iter()
        .any(|r| !SUPPORTED_RUNTIMES.contains(&r.as_str()))
    {
        v.push(
            Some(&list_value(&runtimes)),
            "compatibleRuntimes",
            Constraint::Enum(SUPPORTED_RUNTIMES),
        );
    }
    v.opt_string(
        "licenseInfo",
        req.license_info.as_deref(),
        &shapes::LICENSE_INFO,
    );
    let archs = req.compatible_architectures.unwrap_or_default();
    v.list(
        "compatibleArchitectures",
        &archs,
        &shapes::COMPATIBLE_ARCHITECTURES,
    );
    v.finish()?;
    let description = req.description.unwrap_or_default();
    let Some(content) = req.content else {
        return Err(missing("content"));
    };
    if content.s3_bucket.is_some()
        || content.s3_key.is_some()
        || content.s3_object_version.is_some()
    {
        return Err(Error::invalid(
            "Layer content from S3 (S3Bucket/S3Key/S3ObjectVersion) is not supported by Hako: upload the zip with ZipFile.",
        ));
    }
    let Some(zip) = content.zip_file.as_deref() else {
        return Err(Error::invalid("Please provide a source for layer content."));
    };
    Ok(ValidPublish {
        description,
        compatible_runtimes: runtimes,
        compatible_architectures: archs,
        license_info: req.license_info,
        zip: crate::wire::decode_zip(zip)?,
    })
}

/// `LayerVersionContentOutput`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionContentOut {
    pub location: String,
    pub code_sha256: String,
    pub code_size: i64,
}

/// GetLayerVersion's (and PublishLayerVersion's) response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetLayerVersionResponse {
    pub content: LayerVersionContentOut,
    pub layer_arn: String,
    /// The fields it shares with a list item.
    #[serde(flatten)]
    pub version: LayerVersionsListItem,
}

/// `LayerVersionsListItem`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionsListItem {
    pub layer_version_arn: String,
    pub version: u64,
    pub description: String,
    pub created_date: String,
    pub compatible_architectures: Vec<String>,
    pub compatible_runtimes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
}

/// `LayersListItem`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayersListItem {
    pub layer_name: String,
    pub layer_arn: String,
    pub latest_matching_version: LayerVersionsListItem,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayersResponse {
    pub layers: Vec<LayersListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayerVersionsResponse {
    pub layer_versions: Vec<LayerVersionsListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// AddLayerVersionPermission's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AddLayerVersionPermissionRequest {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddLayerVersionPermissionResponse {
    pub statement: String,
    pub revision_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetLayerVersionPolicyResponse {
    pub policy: String,
    pub revision_id: String,
}

/// The function configuration's `Layer`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerOut {
    pub arn: String,
    pub code_size: i64,
}

impl LayerVersionRecord {
    pub fn list_item(&self, region: &Region) -> LayerVersionsListItem {
        LayerVersionsListItem {
            layer_version_arn: region.layer_version_arn(&self.layer_name, self.version),
            version: self.version,
            description: self.description.clone(),
            created_date: self.created_date.clone(),
            compatible_architectures: self.compatible_architectures.clone(),
            compatible_runtimes: self.compatible_runtimes.clone(),
            license_info: self.license_info.clone(),
        }
    }

    /// GetLayerVersion's view; `location` is where Hako serves the zip.
    pub fn get_response(&self, region: &Region, location: String) -> GetLayerVersionResponse {
        use base64::Engine as _;
        let raw = hex::decode(&self.code_sha256_hex).unwrap_or_default();
        GetLayerVersionResponse {
            content: LayerVersionContentOut {
                location,
                code_sha256: base64::engine::general_purpose::STANDARD.encode(raw),
                code_size: self.code_size,
            },
            layer_arn: region.layer_arn(&self.layer_name),
            version: self.list_item(region),
        }
    }

    /// Whether this version passes ListLayers/ListLayerVersions' filters.
    pub fn matches(&self, runtime: Option<&str>, architecture: Option<&str>) -> bool {
        runtime.is_none_or(|r| self.compatible_runtimes.iter().any(|c| c == r))
            && architecture.is_none_or(|a| self.compatible_architectures.iter().any(|c| c == a))
    }
}

/// Checks ListLayers/ListLayerVersions' filters against the model's enums.
pub fn validate_filters(runtime: Option<&str>, architecture: Option<&str>) -> Result<(), Error> {
    let mut v = Violations::new();
    if let Some(r) = runtime.filter(|r| !LIST_FILTER_RUNTIMES.contains(r)) {
        v.push(
            Some(r),
            "compatibleRuntime",
            Constraint::Enum(LIST_FILTER_RUNTIMES),
        );
    }
    v.opt_string(
        "compatibleArchitecture",
        architecture,
        &shapes::ARCHITECTURE,
    );
    v.finish()
}

/// Checks an AddLayerVersionPermission body; returns the statement to add.
pub fn validate_permission(
    req: &AddLayerVersionPermissionRequest,
) -> Result<LayerStatement, Error> {
    // The model's constraints, in the order of botocore's AddLayerVersionPermissionRequest.
    let mut v = Violations::new();
    if let Some(sid) = v.required("statementId", req.statement_id.as_deref()) {
        v.string("statementId", sid, &shapes::STATEMENT_ID);
    }
    if let Some(action) = v.required("action", req.action.as_deref()) {
        v.string("action", action, &shapes::LAYER_PERMISSION_ALLOWED_ACTION);
    }
    if let Some(principal) = v.required("principal", req.principal.as_deref()) {
        v.string(
            "principal",
            principal,
            &shapes::LAYER_PERMISSION_ALLOWED_PRINCIPAL,
        );
    }
    v.opt_string(
        "organizationId",
        req.organization_id.as_deref(),
        &shapes::ORGANIZATION_ID,
    );
    v.finish()?;
    let (Some(sid), Some(principal)) = (req.statement_id.as_deref(), req.principal.as_deref())
    else {
        return Err(missing("statementId"));
    };
    if req.organization_id.is_some() && principal != "*" {
        return Err(Error::invalid(
            "OrganizationId can only be specified when the principal is '*'.",
        ));
    }
    Ok(LayerStatement {
        sid: sid.to_string(),
        principal: principal.to_string(),
        organization_id: req.organization_id.clone(),
    })
}

/// A `StatementId` (path or body).
pub fn validate_statement_id(sid: &str) -> Result<(), Error> {
    let mut v = Violations::new();
    v.string("statementId", sid, &shapes::STATEMENT_ID);
    v.finish()
}

impl LayerStatement {
    /// The statement as the policy document holds it.
    pub fn to_json(&self, resource: &str) -> serde_json::Value {
        let principal = if self.principal == "*" {
            serde_json::json!("*")
        } else {
            serde_json::json!({ "AWS": crate::permission::account_principal(&self.principal) })
        };
        let mut s = serde_json::json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Principal": principal,
            "Action": "lambda:GetLayerVersion",
            "Resource": resource,
        });
        if let Some(org) = &self.organization_id {
            s["Condition"] = serde_json::json!({ "StringEquals": { "aws:PrincipalOrgID": org } });
        }
        s
    }
}

/// A layer version's policy document (GetLayerVersionPolicy's `Policy`).
pub fn policy_document(statements: &[LayerStatement], resource: &str) -> String {
    crate::permission::document(statements.iter().map(|s| s.to_json(resource)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        let r = Region::default();
        assert_eq!(parse_layer_name("my-layer_1", &r).unwrap(), "my-layer_1");
        assert_eq!(
            parse_layer_name("arn:aws:lambda:us-east-1:123456789012:layer:lib", &r).unwrap(),
            "lib"
        );
        for bad in [
            "",
            "a b",
            "arn:aws:lambda:eu-west-1:123456789012:layer:lib",
            "a:b",
        ] {
            assert!(parse_layer_name(bad, &r).is_err(), "{bad}");
        }
        let arn = r.layer_version_arn("lib", 3);
        assert_eq!(arn, "arn:aws:lambda:us-east-1:123456789012:layer:lib:3");
        assert_eq!(
            parse_layer_version_arn(&arn, &r).unwrap(),
            Some(("lib".into(), 3))
        );
        assert_eq!(
            parse_layer_version_arn(&arn.replace("123456789012", "111122223333"), &r).unwrap(),
            None
        );
        assert!(parse_layer_version_arn("arn:aws:lambda:us-east-1:1:layer:lib:3", &r).is_err());
    }

    #[test]
    fn function_layer_lists() {
        let a = |n: &str, v: u32| format!("arn:aws:lambda:us-east-1:123456789012:layer:{n}:{v}");
        validate_function_layers(&[a("a", 1), a("b", 2)]).unwrap();
        let six: Vec<String> = (0..6).map(|i| a(&format!("l{i}"), 1)).collect();
        assert!(validate_function_layers(&six)
            .unwrap_err()
            .message
            .contains("more than 5"));
        assert!(validate_function_layers(&[a("a", 1), a("a", 2)]).is_err());
        assert!(validate_function_layers(&["nope".into()]).is_err());
    }

    #[test]
    fn policy_document_has_aws_shape() {
        let s = [
            LayerStatement {
                sid: "one".into(),
                principal: "210987654321".into(),
                organization_id: None,
            },
            LayerStatement {
                sid: "org".into(),
                principal: "*".into(),
                organization_id: Some("o-abcdefghij".into()),
            },
        ];
        let doc: serde_json::Value = serde_json::from_str(&policy_document(&s, "arn:x")).unwrap();
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(
            doc["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::210987654321:root"
        );
        assert_eq!(doc["Statement"][1]["Principal"], "*");
        assert_eq!(
            doc["Statement"][1]["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
            "o-abcdefghij"
        );
    }
}
