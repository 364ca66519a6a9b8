//! The control plane's wire shapes (botocore's Lambda model, 2015-03-31) and the validation that
//! turns a request into a stored record. Field names are AWS's, exactly.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{constraint, Error};
use crate::function::{
    default_log_group, Environment, FunctionRecord, LastUpdateStatus, State, NETWORK_NONE,
    NETWORK_OUTBOUND, NETWORK_TAG,
};
use crate::limits::*;
use crate::names::{parse_new_function_name, Region};
use crate::runtime::Runtime;

/// `Environment` in requests.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EnvironmentIn {
    pub variables: Option<BTreeMap<String, String>>,
}

/// `FunctionCode` in CreateFunction.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionCodeIn {
    #[serde(rename = "ZipFile")]
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
    #[serde(rename = "ImageUri")]
    pub image_uri: Option<String>,
    #[serde(rename = "SourceKMSKeyArn")]
    pub source_kms_key_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DeadLetterConfigIn {
    pub target_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TracingConfigIn {
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EphemeralStorageIn {
    pub size: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LoggingConfigIn {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// CreateFunction's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateFunctionRequest {
    pub function_name: Option<String>,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub code: Option<FunctionCodeIn>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub publish: Option<bool>,
    pub vpc_config: Option<Value>,
    pub package_type: Option<String>,
    pub dead_letter_config: Option<DeadLetterConfigIn>,
    pub environment: Option<EnvironmentIn>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub tracing_config: Option<TracingConfigIn>,
    pub tags: Option<BTreeMap<String, String>>,
    pub layers: Option<Vec<String>>,
    pub file_system_configs: Option<Vec<Value>>,
    pub image_config: Option<Value>,
    pub code_signing_config_arn: Option<String>,
    pub architectures: Option<Vec<String>>,
    pub ephemeral_storage: Option<EphemeralStorageIn>,
    pub snap_start: Option<Value>,
    pub logging_config: Option<LoggingConfigIn>,
    pub capacity_provider_config: Option<Value>,
    pub publish_to: Option<String>,
    pub durable_config: Option<Value>,
    pub tenancy_config: Option<Value>,
}

/// UpdateFunctionConfiguration's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateFunctionConfigurationRequest {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub vpc_config: Option<Value>,
    pub environment: Option<EnvironmentIn>,
    pub runtime: Option<String>,
    pub dead_letter_config: Option<DeadLetterConfigIn>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub tracing_config: Option<TracingConfigIn>,
    pub revision_id: Option<String>,
    pub layers: Option<Vec<String>>,
    pub file_system_configs: Option<Vec<Value>>,
    pub image_config: Option<Value>,
    pub ephemeral_storage: Option<EphemeralStorageIn>,
    pub snap_start: Option<Value>,
    pub logging_config: Option<LoggingConfigIn>,
    pub capacity_provider_config: Option<Value>,
    pub durable_config: Option<Value>,
}

/// UpdateFunctionCode's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateFunctionCodeRequest {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
    pub publish: Option<bool>,
    pub dry_run: Option<bool>,
    pub revision_id: Option<String>,
    pub architectures: Option<Vec<String>>,
    #[serde(rename = "SourceKMSKeyArn")]
    pub source_kms_key_arn: Option<String>,
    pub publish_to: Option<String>,
}

/// `EnvironmentResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentOut {
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfigOut {
    pub mode: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorageOut {
    pub size: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfigOut {
    pub log_format: String,
    pub log_group: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStartOut {
    pub apply_on: String,
    pub optimization_status: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfigOut {
    pub target_arn: String,
}

/// `FunctionConfiguration`, as every function API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    pub function_name: String,
    pub function_arn: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub code_size: i64,
    pub description: String,
    pub timeout: i64,
    pub memory_size: i64,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentOut>,
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfigOut>,
    pub tracing_config: TracingConfigOut,
    pub revision_id: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<String>,
    pub last_update_status: LastUpdateStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason_code: Option<String>,
    pub package_type: String,
    pub architectures: Vec<String>,
    pub ephemeral_storage: EphemeralStorageOut,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<crate::layer::LayerOut>,
    pub snap_start: SnapStartOut,
    pub logging_config: LoggingConfigOut,
}

impl FunctionConfiguration {
    /// The wire view of a stored record. `qualified` says whether the ARN carries the version
    /// (AWS qualifies the ARN of published versions).
    pub fn from_record(r: &FunctionRecord, region: &Region) -> FunctionConfiguration {
        let function_arn = if r.version == "$LATEST" {
            region.function_arn(&r.name)
        } else {
            region.qualified_arn(&r.name, &r.version)
        };
        let (state_reason, state_reason_code) = match r.state {
            State::Pending => (
                Some("The function is being created.".to_string()),
                Some("Creating".to_string()),
            ),
            _ => (None, None),
        };
        FunctionConfiguration {
            function_name: r.name.clone(),
            function_arn,
            runtime: r.runtime.clone(),
            role: r.role.clone(),
            handler: r.handler.clone(),
            code_size: r.code_size,
            description: r.description.clone(),
            timeout: r.timeout_seconds,
            memory_size: r.memory_mb,
            last_modified: r.last_modified.clone(),
            code_sha256: r.code_sha256_base64(),
            version: r.version.clone(),
            environment: if r.environment.is_empty() {
                None
            } else {
                Some(EnvironmentOut {
                    variables: r.environment.0.clone(),
                })
            },
            kms_key_arn: r.kms_key_arn.clone(),
            dead_letter_config: r
                .dead_letter_target_arn
                .as_ref()
                .map(|t| DeadLetterConfigOut {
                    target_arn: t.clone(),
                }),
            tracing_config: TracingConfigOut {
                mode: r.tracing_mode.clone(),
            },
            revision_id: r.revision_id.clone(),
            state: r.state,
            state_reason,
            state_reason_code,
            last_update_status: r.last_update_status,
            last_update_status_reason: None,
            last_update_status_reason_code: None,
            package_type: "Zip".to_string(),
            architectures: r.architectures.clone(),
            ephemeral_storage: EphemeralStorageOut {
                size: r.ephemeral_storage_mb,
            },
            layers: r
                .layers
                .iter()
                .map(|l| crate::layer::LayerOut {
                    arn: l.arn.clone(),
                    code_size: l.code_size,
                })
                .collect(),
            snap_start: SnapStartOut {
                apply_on: "None".to_string(),
                optimization_status: "Off".to_string(),
            },
            logging_config: LoggingConfigOut {
                log_format: r.log_format.clone(),
                log_group: r.log_group.clone(),
            },
        }
    }
}

/// `FunctionCodeLocation`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCodeLocation {
    pub repository_type: String,
    pub location: String,
}

/// GetFunction's response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFunctionResponse {
    pub configuration: FunctionConfiguration,
    pub code: FunctionCodeLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<crate::concurrency::Concurrency>,
}

/// ListFunctions' response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionsResponse {
    pub functions: Vec<FunctionConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `AccountLimit`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountLimit {
    pub total_code_size: u64,
    pub code_size_unzipped: u64,
    pub code_size_zipped: u64,
    pub concurrent_executions: u32,
    pub unreserved_concurrent_executions: u32,
}

/// `AccountUsage`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountUsage {
    pub total_code_size: u64,
    pub function_count: u64,
}

/// GetAccountSettings' response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettings {
    pub account_limit: AccountLimit,
    pub account_usage: AccountUsage,
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Environment keys AWS reserves for itself.
pub const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn valid_env_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && k.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks environment variables as AWS does.
pub fn validate_environment(vars: &BTreeMap<String, String>) -> Result<(), Error> {
    if vars.keys().any(|k| !valid_env_key(k)) {
        return Err(Error::validation(
            "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
        ));
    }
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV_KEYS.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(Error::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let size = serde_json::to_string(vars)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > ENV_MAX_BYTES {
        return Err(Error::invalid(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.",
        ));
    }
    Ok(())
}

fn validate_role(role: &str) -> Result<(), Error> {
    let ok = role.starts_with("arn:aws")
        && role.contains(":iam::")
        && role
            .split(":iam::")
            .nth(1)
            .and_then(|rest| rest.split_once(":role/"))
            .map(|(acct, name)| {
                acct.len() == 12 && acct.chars().all(|c| c.is_ascii_digit()) && !name.is_empty()
            })
            .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(constraint(
            role,
            "role",
            "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
        ))
    }
}

fn validate_timeout(t: i64) -> Result<(), Error> {
    if t < TIMEOUT_MIN_SECONDS {
        return Err(constraint(
            &t.to_string(),
            "timeout",
            "Member must have value greater than or equal to 1",
        ));
    }
    if t > TIMEOUT_MAX_SECONDS {
        return Err(Error::invalid(format!(
            "{t} is not a valid timeout value. Timeout must be between {TIMEOUT_MIN_SECONDS} and {TIMEOUT_MAX_SECONDS} seconds."
        )));
    }
    Ok(())
}

fn validate_memory(m: i64) -> Result<(), Error> {
    if m < MEMORY_MIN_MB {
        return Err(constraint(
            &m.to_string(),
            "memorySize",
            "Member must have value greater than or equal to 128",
        ));
    }
    if m > MEMORY_MAX_MB {
        return Err(Error::invalid(format!(
            "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to {MEMORY_MAX_MB}"
        )));
    }
    Ok(())
}

fn validate_ephemeral(e: &EphemeralStorageIn) -> Result<i64, Error> {
    let Some(size) = e.size else {
        return Err(constraint(
            "null",
            "ephemeralStorage.size",
            "Member must not be null",
        ));
    };
    if !(EPHEMERAL_MIN_MB..=EPHEMERAL_MAX_MB).contains(&size) {
        return Err(constraint(
            &size.to_string(),
            "ephemeralStorage.size",
            &format!(
                "Member must have value {} {}",
                if size < EPHEMERAL_MIN_MB {
                    "greater than or equal to"
                } else {
                    "less than or equal to"
                },
                if size < EPHEMERAL_MIN_MB {
                    EPHEMERAL_MIN_MB
                } else {
                    EPHEMERAL_MAX_MB
                }
            ),
        ));
    }
    Ok(size)
}

/// Checks a `Description` (at most 256 characters).
pub fn validate_description(d: &str) -> Result<(), Error> {
    if d.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(constraint(
            d,
            "description",
            "Member must have length less than or equal to 256",
        ));
    }
    Ok(())
}

fn validate_handler(h: &str) -> Result<(), Error> {
    if h.chars().count() > HANDLER_MAX_CHARS {
        return Err(constraint(
            h,
            "handler",
            "Member must have length less than or equal to 128",
        ));
    }
    if h.is_empty() || h.chars().any(char::is_whitespace) {
        return Err(constraint(
            h,
            "handler",
            "Member must satisfy regular expression pattern: [^\\s]+",
        ));
    }
    Ok(())
}

fn validate_architectures(a: &[String]) -> Result<Vec<String>, Error> {
    if a.len() != 1 {
        return Err(constraint(
            &format!("{a:?}"),
            "architectures",
            "Member must have length less than or equal to 1",
        ));
    }
    match a[0].as_str() {
        "x86_64" | "arm64" => Ok(a.to_vec()),
        other => Err(constraint(
            other,
            "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
        )),
    }
}

fn validate_tracing(t: &TracingConfigIn) -> Result<String, Error> {
    match t.mode.as_deref() {
        None | Some("PassThrough") => Ok("PassThrough".to_string()),
        Some("Active") => Ok("Active".to_string()),
        Some(other) => Err(constraint(
            other,
            "tracingConfig.mode",
            "Member must satisfy enum value set: [Active, PassThrough]",
        )),
    }
}

fn validate_logging(l: &LoggingConfigIn, name: &str) -> Result<(String, String), Error> {
    let format = match l.log_format.as_deref() {
        None | Some("Text") => "Text",
        Some("JSON") => "JSON",
        Some(other) => {
            return Err(constraint(
                other,
                "loggingConfig.logFormat",
                "Member must satisfy enum value set: [JSON, Text]",
            ))
        }
    };
    let group = l
        .log_group
        .clone()
        .unwrap_or_else(|| default_log_group(name));
    Ok((format.to_string(), group))
}

/// Checks a `KMSKeyArn` against the model's pattern; `None` for the empty string (AWS: "use the
/// default key"). Whether Hako knows the key is the caller's question (see
/// [`kms_key_not_found`]).
pub fn validate_kms_key_arn(arn: &str) -> Result<Option<String>, Error> {
    if arn.is_empty() {
        return Ok(None);
    }
    let pattern_ok = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(partition, rest)| {
            (partition.is_empty()
                || partition
                    .strip_prefix("aws")
                    .is_some_and(|p| p.chars().all(|c| c.is_ascii_alphabetic() || c == '-')))
                && rest.split_once(':').is_some_and(|(service, _)| {
                    !service.is_empty()
                        && service.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                        })
                })
        });
    if arn.len() > 10_000 || !pattern_ok {
        return Err(constraint(
            arn,
            "kMSKeyArn",
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()",
        ));
    }
    Ok(Some(arn.to_string()))
}

/// AWS's error when `KMSKeyArn` names a key that does not exist (Lambda's CreateGrant fails).
pub fn kms_key_not_found(arn: &str) -> Error {
    Error::invalid(format!(
        "Lambda was unable to configure access to your environment variables because the KMS key is invalid for CreateGrant. Please check your KMS key settings. KMS Exception: NotFoundExceptionKMS Message: Key '{arn}' does not exist"
    ))
}

/// Refuses settings that Hako would otherwise accept and silently ignore; checks `Layers`
/// against the model.
fn refuse_unsupported(
    vpc: &Option<Value>,
    fs: &Option<Vec<Value>>,
    layers: &Option<Vec<String>>,
    image: &Option<Value>,
) -> Result<(), Error> {
    let vpc_used = vpc.as_ref().is_some_and(|v| {
        ["SubnetIds", "SecurityGroupIds"].iter().any(|k| {
            v.get(k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        })
    });
    if vpc_used {
        return Err(Error::invalid("VpcConfig is not supported by Hako yet."));
    }
    if fs.as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::invalid(
            "FileSystemConfigs are not supported by Hako yet.",
        ));
    }
    if let Some(l) = layers {
        crate::layer::validate_function_layers(l)?;
    }
    if image.is_some() {
        return Err(Error::invalid(
            "ImageConfig is not supported by Hako: only Zip packages are.",
        ));
    }
    Ok(())
}

/// Decodes a base64 `ZipFile` blob.
pub fn decode_zip(b64: &str) -> Result<Vec<u8>, Error> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| {
            Error::new(
                crate::ErrorKind::InvalidRequestContent,
                "Could not parse request body into json: ZipFile is not valid base64",
            )
        })
}

/// A validated CreateFunction: the record (without its code fields) and the zip bytes.
#[derive(Debug)]
pub struct ValidCreate {
    pub record: FunctionRecord,
    pub zip: Vec<u8>,
    pub publish: bool,
    /// The layer version ARNs asked for (checked against the model; the caller resolves them).
    pub layers: Vec<String>,
}

/// Validates a CreateFunction request. `now` and `revision_id` come from the caller (this crate
/// has no clock and no randomness).
pub fn validate_create(
    req: CreateFunctionRequest,
    region: &Region,
    now: &str,
    revision_id: &str,
) -> Result<ValidCreate, Error> {
    let Some(name) = req.function_name.as_deref() else {
        return Err(constraint(
            "null",
            "functionName",
            "Member must not be null",
        ));
    };
    let name = parse_new_function_name(name, region)?;
    let Some(role) = req.role.as_deref() else {
        return Err(constraint("null", "role", "Member must not be null"));
    };
    validate_role(role)?;
    match req.package_type.as_deref() {
        None | Some("Zip") => {}
        Some("Image") => {
            return Err(Error::invalid(
                "PackageType Image is not supported by Hako: only Zip packages are.",
            ))
        }
        Some(other) => {
            return Err(constraint(
                other,
                "packageType",
                "Member must satisfy enum value set: [Image, Zip]",
            ))
        }
    }
    let (Some(runtime), Some(handler)) = (req.runtime.as_deref(), req.handler.as_deref()) else {
        return Err(Error::invalid(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    };
    Runtime::parse(runtime)?;
    validate_handler(handler)?;
    let description = req.description.clone().unwrap_or_default();
    validate_description(&description)?;
    let timeout = req.timeout.unwrap_or(TIMEOUT_DEFAULT_SECONDS);
    validate_timeout(timeout)?;
    let memory = req.memory_size.unwrap_or(MEMORY_DEFAULT_MB);
    validate_memory(memory)?;
    let ephemeral = match &req.ephemeral_storage {
        Some(e) => validate_ephemeral(e)?,
        None => EPHEMERAL_DEFAULT_MB,
    };
    let architectures = match &req.architectures {
        Some(a) => validate_architectures(a)?,
        None => vec!["x86_64".to_string()],
    };
    let environment = req
        .environment
        .as_ref()
        .and_then(|e| e.variables.clone())
        .unwrap_or_default();
    validate_environment(&environment)?;
    let kms_key_arn = match req.kms_key_arn.as_deref() {
        Some(k) => validate_kms_key_arn(k)?,
        None => None,
    };
    let tracing_mode = validate_tracing(&req.tracing_config.clone().unwrap_or_default())?;
    let (log_format, log_group) =
        validate_logging(&req.logging_config.clone().unwrap_or_default(), &name)?;
    refuse_unsupported(
        &req.vpc_config,
        &req.file_system_configs,
        &req.layers,
        &req.image_config,
    )?;
    let tags = req.tags.clone().unwrap_or_default();
    validate_tags(&tags)?;
    let dead_letter_target_arn = match req.dead_letter_config.as_ref() {
        Some(d) => {
            crate::event_invoke::validate_dead_letter_target(d.target_arn.as_deref().unwrap_or(""))?
        }
        None => None,
    };
    let Some(code) = req.code else {
        return Err(constraint("null", "code", "Member must not be null"));
    };
    if code.image_uri.is_some() {
        return Err(Error::invalid(
            "ImageUri is not supported by Hako: only Zip packages are.",
        ));
    }
    if code.s3_bucket.is_some() || code.s3_key.is_some() {
        return Err(Error::invalid(
            "Code from S3 (S3Bucket/S3Key) is not supported by Hako yet: upload the package with ZipFile.",
        ));
    }
    let Some(zip_b64) = code.zip_file.as_deref() else {
        return Err(Error::invalid("Please provide a source for function code."));
    };
    let zip = decode_zip(zip_b64)?;
    let record = FunctionRecord {
        name: name.clone(),
        version: "$LATEST".to_string(),
        runtime: runtime.to_string(),
        role: role.to_string(),
        handler: handler.to_string(),
        description,
        timeout_seconds: timeout,
        memory_mb: memory,
        ephemeral_storage_mb: ephemeral,
        architectures,
        environment: Environment(environment),
        kms_key_arn,
        code_sha256_hex: String::new(),
        code_size: 0,
        last_modified: now.to_string(),
        revision_id: revision_id.to_string(),
        state: State::Pending,
        last_update_status: LastUpdateStatus::Successful,
        tracing_mode,
        log_format,
        log_group,
        dead_letter_target_arn,
        tags,
        layers: Vec::new(),
        reserved_concurrency: None,
    };
    Ok(ValidCreate {
        record,
        zip,
        publish: req.publish.unwrap_or(false),
        layers: req.layers.unwrap_or_default(),
    })
}

/// The characters the model's `TagKey`/`TagValue` pattern allows: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn tag_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Checks tags as AWS does (keys 1-128 characters, values at most 256, at most 50 tags).
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), Error> {
    if tags.len() > 50 {
        return Err(Error::invalid("Number of tags exceeds resource tag limit."));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") || !tag_chars_ok(k) {
            return Err(Error::invalid(format!("The tag key '{k}' is not valid.")));
        }
        if v.chars().count() > 256 {
            return Err(Error::invalid(format!(
                "The tag value for key '{k}' is too long."
            )));
        }
        if !tag_chars_ok(v) {
            return Err(Error::invalid(format!(
                "The tag value for key '{k}' is not valid."
            )));
        }
        if k == NETWORK_TAG && v != NETWORK_NONE && v != NETWORK_OUTBOUND {
            return Err(Error::invalid(format!(
                "The tag value for key '{k}' is not valid: Hako reserves it, with the values \
                 '{NETWORK_NONE}' and '{NETWORK_OUTBOUND}'."
            )));
        }
    }
    Ok(())
}

/// Applies an UpdateFunctionConfiguration request to a `$LATEST` record. `Layers` is only
/// checked against the model here: the caller resolves the ARNs and sets `rec.layers`.
pub fn apply_configuration_update(
    rec: &mut FunctionRecord,
    req: UpdateFunctionConfigurationRequest,
) -> Result<(), Error> {
    refuse_unsupported(
        &req.vpc_config,
        &req.file_system_configs,
        &req.layers,
        &req.image_config,
    )?;
    if let Some(role) = &req.role {
        validate_role(role)?;
        rec.role = role.clone();
    }
    if let Some(h) = &req.handler {
        validate_handler(h)?;
        rec.handler = h.clone();
    }
    if let Some(d) = &req.description {
        validate_description(d)?;
        rec.description = d.clone();
    }
    if let Some(t) = req.timeout {
        validate_timeout(t)?;
        rec.timeout_seconds = t;
    }
    if let Some(m) = req.memory_size {
        validate_memory(m)?;
        rec.memory_mb = m;
    }
    if let Some(e) = &req.ephemeral_storage {
        rec.ephemeral_storage_mb = validate_ephemeral(e)?;
    }
    if let Some(env) = &req.environment {
        let vars = env.variables.clone().unwrap_or_default();
        validate_environment(&vars)?;
        rec.environment = Environment(vars);
    }
    if let Some(k) = &req.kms_key_arn {
        rec.kms_key_arn = validate_kms_key_arn(k)?;
    }
    if let Some(r) = &req.runtime {
        Runtime::parse(r)?;
        rec.runtime = r.clone();
    }
    if let Some(t) = &req.tracing_config {
        rec.tracing_mode = validate_tracing(t)?;
    }
    if let Some(l) = &req.logging_config {
        let (f, g) = validate_logging(l, &rec.name)?;
        rec.log_format = f;
        rec.log_group = g;
    }
    if let Some(d) = req.dead_letter_config {
        rec.dead_letter_target_arn = crate::event_invoke::validate_dead_letter_target(
            d.target_arn.as_deref().unwrap_or(""),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region::default()
    }

    fn base() -> CreateFunctionRequest {
        CreateFunctionRequest {
            function_name: Some("f".into()),
            runtime: Some("python3.11".into()),
            role: Some("arn:aws:iam::123456789012:role/r".into()),
            handler: Some("app.handler".into()),
            code: Some(FunctionCodeIn {
                zip_file: Some("UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_aws_defaults() {
        let v = validate_create(base(), &region(), "t", "r").unwrap();
        assert_eq!(v.record.timeout_seconds, 3);
        assert_eq!(v.record.memory_mb, 128);
        assert_eq!(v.record.ephemeral_storage_mb, 512);
        assert_eq!(v.record.architectures, vec!["x86_64"]);
        assert_eq!(v.record.log_group, "/aws/lambda/f");
    }

    #[test]
    fn kms_key_arns_follow_the_model() {
        assert_eq!(validate_kms_key_arn("").unwrap(), None);
        let arn = "arn:aws:kms:us-east-1:123456789012:key/0f6a5a4e-8d1e-4c38-9a39-1f7a3b0e2c11";
        assert_eq!(validate_kms_key_arn(arn).unwrap().as_deref(), Some(arn));
        for bad in ["key", "arn:aws", "arn:aws:KMS:x", "arn:gcp:kms:x"] {
            assert!(validate_kms_key_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_broken_rule_is_refused() {
        type Case = Box<dyn Fn(&mut CreateFunctionRequest)>;
        let cases: Vec<Case> = vec![
            Box::new(|r| r.timeout = Some(0)),
            Box::new(|r| r.timeout = Some(901)),
            Box::new(|r| r.memory_size = Some(64)),
            Box::new(|r| r.memory_size = Some(20000)),
            Box::new(|r| r.role = Some("nope".into())),
            Box::new(|r| r.runtime = Some("cobol".into())),
            Box::new(|r| r.handler = None),
            Box::new(|r| {
                r.environment = Some(EnvironmentIn {
                    variables: Some([("AWS_REGION".into(), "x".into())].into()),
                })
            }),
            Box::new(|r| {
                r.environment = Some(EnvironmentIn {
                    variables: Some([("1x".into(), "x".into())].into()),
                })
            }),
            Box::new(|r| {
                r.environment = Some(EnvironmentIn {
                    variables: Some([("BIG".into(), "x".repeat(5000))].into()),
                })
            }),
            Box::new(|r| r.architectures = Some(vec!["mips".into()])),
            Box::new(|r| r.ephemeral_storage = Some(EphemeralStorageIn { size: Some(100) })),
            Box::new(|r| r.code = None),
            Box::new(|r| r.kms_key_arn = Some("not-an-arn".into())),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut r = base();
            case(&mut r);
            assert!(
                validate_create(r, &region(), "t", "r").is_err(),
                "case {i} accepted"
            );
        }
    }
}
