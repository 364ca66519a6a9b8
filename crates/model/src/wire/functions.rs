//! The function resource's wire shapes (botocore's Lambda model, 2015-03-31): CreateFunction,
//! UpdateFunctionConfiguration and UpdateFunctionCode requests, `FunctionConfiguration` and the
//! responses built on it. Field names are AWS's, exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::function::{FunctionRecord, LastUpdateStatus, State};
use crate::names::Region;

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_log_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
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
                application_log_level: r.application_log_level.clone(),
                system_log_level: r.system_log_level.clone(),
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
