//! Validation of the function resource's requests: CreateFunction and
//! UpdateFunctionConfiguration turned into a stored record, in AWS's two steps (the model's
//! constraints through [`Violations`], then Lambda's own checks), and the checks other
//! operations share (description, environment, KMS key).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::shapes;
use super::{Constraint, Violations};
use crate::error::Error;
use crate::function::{default_log_group, Environment, FunctionRecord, LastUpdateStatus, State};
use crate::limits::*;
use crate::names::{parse_new_function_name, Region};
use crate::runtime::{check_new_runtime, Runtime};
use crate::wire::{
    CreateFunctionRequest, EnvironmentIn, LoggingConfigIn, UpdateFunctionCodeRequest,
    UpdateFunctionConfigurationRequest,
};

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

/// The model's constraints on `Environment.Variables` (its keys; the values are free).
fn environment_constraints(v: &mut Violations, vars: &BTreeMap<String, String>) {
    if vars.keys().any(|k| {
        !shapes::ENVIRONMENT_VARIABLE_NAME
            .broken_by_str(k)
            .is_empty()
    }) {
        v.push_hidden(
            "environment.variables",
            Constraint::MapKeys(&shapes::ENVIRONMENT_VARIABLE_NAME),
        );
    }
}

/// Lambda's own checks of environment variables: no reserved key, at most 4 KB.
fn environment_rules(vars: &BTreeMap<String, String>) -> Result<(), Error> {
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV_KEYS.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(reserved_env_keys(&reserved));
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > ENV_MAX_BYTES {
        return Err(env_too_large(&measured));
    }
    Ok(())
}

/// AWS's message for reserved environment keys.
pub fn reserved_env_keys(keys: &[&str]) -> Error {
    Error::invalid(format!(
        "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
        keys.join(", ")
    ))
}

/// AWS's message for environment variables over 4 KB, with the string it measured (LocalStack's
/// AWS-recorded `test_large_environment_variables_fails`).
pub fn env_too_large(measured: &str) -> Error {
    Error::invalid(format!(
        "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
    ))
}

/// Checks environment variables as AWS does.
pub fn validate_environment(vars: &BTreeMap<String, String>) -> Result<(), Error> {
    let mut v = Violations::new();
    environment_constraints(&mut v, vars);
    v.finish()?;
    environment_rules(vars)
}

/// Checks a `Description` (at most 256 characters).
pub fn validate_description(d: &str) -> Result<(), Error> {
    let mut v = Violations::new();
    v.string("description", d, &shapes::DESCRIPTION);
    v.finish()
}

/// A `KMSKeyArn` as stored: `None` for the empty string (AWS: "use the default key"). Whether
/// Hako knows the key is the caller's question (see [`kms_key_not_found`]).
fn kms_key(arn: &str) -> Option<String> {
    (!arn.is_empty()).then(|| arn.to_string())
}

/// Checks a `KMSKeyArn` against the model; `None` for the empty string.
pub fn validate_kms_key_arn(arn: &str) -> Result<Option<String>, Error> {
    let mut v = Violations::new();
    v.string("kMSKeyArn", arn, &shapes::KMS_KEY_ARN);
    v.finish()?;
    Ok(kms_key(arn))
}

/// AWS's error when `KMSKeyArn` names a key that does not exist (Lambda's CreateGrant fails).
pub fn kms_key_not_found(arn: &str) -> Error {
    Error::invalid(format!(
        "Lambda was unable to configure access to your environment variables because the KMS key is invalid for CreateGrant. Please check your KMS key settings. KMS Exception: NotFoundExceptionKMS Message: Key '{arn}' does not exist"
    ))
}

/// The model's constraints on `LoggingConfig`.
fn logging_constraints(v: &mut Violations, l: &LoggingConfigIn) {
    v.opt_string(
        "loggingConfig.logFormat",
        l.log_format.as_deref(),
        &shapes::LOG_FORMAT,
    );
    v.opt_string(
        "loggingConfig.applicationLogLevel",
        l.application_log_level.as_deref(),
        &shapes::APPLICATION_LOG_LEVEL,
    );
    v.opt_string(
        "loggingConfig.systemLogLevel",
        l.system_log_level.as_deref(),
        &shapes::SYSTEM_LOG_LEVEL,
    );
    v.opt_string(
        "loggingConfig.logGroup",
        l.log_group.as_deref(),
        &shapes::LOG_GROUP,
    );
}

/// A function's whole `LoggingConfig` as stored: its format, levels (JSON only) and group.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    pub log_format: String,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: String,
}

impl Logging {
    /// A new function's: plain text into `/aws/lambda/NAME`.
    pub fn default_for(name: &str) -> Logging {
        Logging {
            log_format: "Text".to_string(),
            application_log_level: None,
            system_log_level: None,
            log_group: default_log_group(name),
        }
    }

    /// The logging configuration stored in `rec`.
    pub fn of(rec: &FunctionRecord) -> Logging {
        Logging {
            log_format: rec.log_format.clone(),
            application_log_level: rec.application_log_level.clone(),
            system_log_level: rec.system_log_level.clone(),
            log_group: rec.log_group.clone(),
        }
    }

    fn store(self, rec: &mut FunctionRecord) {
        rec.log_format = self.log_format;
        rec.application_log_level = self.application_log_level;
        rec.system_log_level = self.system_log_level;
        rec.log_group = self.log_group;
    }
}

/// The message for log levels asked with the Text format (LocalStack's provider, the only
/// source of it we have: `localstack-core/localstack/services/lambda_/provider.py`).
pub const LOG_LEVEL_WITH_TEXT: &str = "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel from your request or change the LogFormat to \"JSON\" and try again.";

/// A (checked) `LoggingConfig` applied over `current`, as AWS merges it (LocalStack's
/// AWS-recorded snapshots, `test_lambda_api.snapshot.json`, `TestLoggingConfig`): a partial
/// config keeps the other members; asking for JSON sets both levels to INFO unless the request
/// names them; going back to Text drops the levels; levels with Text are refused.
pub fn merge_logging(current: Logging, l: &LoggingConfigIn) -> Result<Logging, Error> {
    let mut next = current;
    if let Some(f) = &l.log_format {
        if f == "JSON" {
            next.application_log_level = Some("INFO".to_string());
            next.system_log_level = Some("INFO".to_string());
        }
        next.log_format = f.clone();
    }
    if let Some(a) = &l.application_log_level {
        next.application_log_level = Some(a.clone());
    }
    if let Some(s) = &l.system_log_level {
        next.system_log_level = Some(s.clone());
    }
    if let Some(g) = &l.log_group {
        next.log_group = g.clone();
    }
    if next.log_format != "JSON" {
        if l.application_log_level.is_some() || l.system_log_level.is_some() {
            return Err(Error::invalid(LOG_LEVEL_WITH_TEXT));
        }
        next.application_log_level = None;
        next.system_log_level = None;
    }
    Ok(next)
}

/// The model's constraint on `SnapStart.ApplyOn`.
fn snap_start_constraints(v: &mut Violations, snap_start: Option<&Value>) {
    if let Some(apply_on) = snap_start
        .and_then(|s| s.get("ApplyOn"))
        .and_then(Value::as_str)
    {
        v.string("snapStart.applyOn", apply_on, &shapes::SNAP_START_APPLY_ON);
    }
}

/// Refuses settings that Hako would otherwise accept and silently ignore; checks `Layers` as
/// Lambda does (the model's constraints were checked before).
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

fn environment_of(e: Option<&EnvironmentIn>) -> BTreeMap<String, String> {
    e.and_then(|e| e.variables.clone()).unwrap_or_default()
}

/// The model's constraints on a CreateFunction request, in the order of botocore's
/// `CreateFunctionRequest` members.
fn create_constraints(req: &CreateFunctionRequest) -> Violations {
    let mut v = Violations::new();
    if let Some(name) = v.required("functionName", req.function_name.as_deref()) {
        v.string("functionName", name, &shapes::FUNCTION_NAME);
    }
    if let Some(role) = v.required("role", req.role.as_deref()) {
        v.string("role", role, &shapes::ROLE_ARN);
    }
    v.opt_string("handler", req.handler.as_deref(), &shapes::HANDLER);
    v.required("code", req.code.as_ref());
    v.opt_string(
        "description",
        req.description.as_deref(),
        &shapes::DESCRIPTION,
    );
    v.opt_integer("timeout", req.timeout, &shapes::TIMEOUT);
    v.opt_integer("memorySize", req.memory_size, &shapes::MEMORY_SIZE);
    v.opt_string(
        "packageType",
        req.package_type.as_deref(),
        &shapes::PACKAGE_TYPE,
    );
    if let Some(d) = &req.dead_letter_config {
        v.opt_string(
            "deadLetterConfig.targetArn",
            d.target_arn.as_deref(),
            &shapes::RESOURCE_ARN,
        );
    }
    environment_constraints(&mut v, &environment_of(req.environment.as_ref()));
    v.opt_string(
        "kMSKeyArn",
        req.kms_key_arn.as_deref(),
        &shapes::KMS_KEY_ARN,
    );
    if let Some(t) = &req.tracing_config {
        v.opt_string(
            "tracingConfig.mode",
            t.mode.as_deref(),
            &shapes::TRACING_MODE,
        );
    }
    if let Some(l) = &req.layers {
        v.list("layers", l, &shapes::LAYER_LIST);
    }
    if let Some(a) = &req.architectures {
        v.list("architectures", a, &shapes::ARCHITECTURES_LIST);
    }
    if let Some(e) = &req.ephemeral_storage {
        if let Some(size) = v.required("ephemeralStorage.size", e.size) {
            v.integer(
                "ephemeralStorage.size",
                size,
                &shapes::EPHEMERAL_STORAGE_SIZE,
            );
        }
    }
    snap_start_constraints(&mut v, req.snap_start.as_ref());
    if let Some(l) = &req.logging_config {
        logging_constraints(&mut v, l);
    }
    v
}

/// Validates a CreateFunction request. `now` and `revision_id` come from the caller (this crate
/// has no clock and no randomness).
pub fn validate_create(
    req: CreateFunctionRequest,
    region: &Region,
    now: &str,
    revision_id: &str,
) -> Result<ValidCreate, Error> {
    create_constraints(&req).finish()?;
    // Lambda's own checks.
    let name = parse_new_function_name(req.function_name.as_deref().unwrap_or(""), region)?;
    let role = req.role.clone().unwrap_or_default();
    if req.package_type.as_deref() == Some("Image") {
        return Err(Error::invalid(
            "PackageType Image is not supported by Hako: only Zip packages are.",
        ));
    }
    let (Some(runtime), Some(handler)) = (req.runtime.as_deref(), req.handler.as_deref()) else {
        return Err(Error::invalid(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    };
    check_new_runtime(runtime)?;
    Runtime::parse(runtime)?;
    let environment = environment_of(req.environment.as_ref());
    environment_rules(&environment)?;
    refuse_unsupported(
        &req.vpc_config,
        &req.file_system_configs,
        &req.layers,
        &req.image_config,
    )?;
    let tags = req.tags.clone().unwrap_or_default();
    super::tags::validate_tags(&tags)?;
    let dead_letter_target_arn = match req.dead_letter_config.as_ref() {
        Some(d) => crate::event_invoke::validate_dead_letter_target(
            d.target_arn.as_deref().unwrap_or(""),
            region,
        )?,
        None => None,
    };
    let Some(code) = req.code else {
        return Err(crate::error::missing("code"));
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
    let logging = merge_logging(
        Logging::default_for(&name),
        &req.logging_config.clone().unwrap_or_default(),
    )?;
    let record = FunctionRecord {
        name: name.clone(),
        version: "$LATEST".to_string(),
        runtime: runtime.to_string(),
        role,
        handler: handler.to_string(),
        description: req.description.clone().unwrap_or_default(),
        timeout_seconds: req.timeout.unwrap_or(TIMEOUT_DEFAULT_SECONDS),
        memory_mb: req.memory_size.unwrap_or(MEMORY_DEFAULT_MB),
        ephemeral_storage_mb: req
            .ephemeral_storage
            .as_ref()
            .and_then(|e| e.size)
            .unwrap_or(EPHEMERAL_DEFAULT_MB),
        architectures: req
            .architectures
            .clone()
            .unwrap_or_else(|| vec!["x86_64".to_string()]),
        environment: Environment(environment),
        kms_key_arn: req.kms_key_arn.as_deref().and_then(kms_key),
        code_sha256_hex: String::new(),
        code_size: 0,
        last_modified: now.to_string(),
        revision_id: revision_id.to_string(),
        state: State::Pending,
        last_update_status: LastUpdateStatus::Successful,
        tracing_mode: req
            .tracing_config
            .as_ref()
            .and_then(|t| t.mode.clone())
            .unwrap_or_else(|| "PassThrough".to_string()),
        log_format: logging.log_format,
        log_group: logging.log_group,
        application_log_level: logging.application_log_level,
        system_log_level: logging.system_log_level,
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

/// The model's constraints on an UpdateFunctionConfiguration request, in the order of
/// botocore's `UpdateFunctionConfigurationRequest` members.
fn update_constraints(req: &UpdateFunctionConfigurationRequest) -> Violations {
    let mut v = Violations::new();
    v.opt_string("role", req.role.as_deref(), &shapes::ROLE_ARN);
    v.opt_string("handler", req.handler.as_deref(), &shapes::HANDLER);
    v.opt_string(
        "description",
        req.description.as_deref(),
        &shapes::DESCRIPTION,
    );
    v.opt_integer("timeout", req.timeout, &shapes::TIMEOUT);
    v.opt_integer("memorySize", req.memory_size, &shapes::MEMORY_SIZE);
    if let Some(e) = &req.environment {
        environment_constraints(&mut v, &environment_of(Some(e)));
    }
    if let Some(d) = &req.dead_letter_config {
        v.opt_string(
            "deadLetterConfig.targetArn",
            d.target_arn.as_deref(),
            &shapes::RESOURCE_ARN,
        );
    }
    v.opt_string(
        "kMSKeyArn",
        req.kms_key_arn.as_deref(),
        &shapes::KMS_KEY_ARN,
    );
    if let Some(t) = &req.tracing_config {
        v.opt_string(
            "tracingConfig.mode",
            t.mode.as_deref(),
            &shapes::TRACING_MODE,
        );
    }
    if let Some(l) = &req.layers {
        v.list("layers", l, &shapes::LAYER_LIST);
    }
    if let Some(e) = &req.ephemeral_storage {
        if let Some(size) = v.required("ephemeralStorage.size", e.size) {
            v.integer(
                "ephemeralStorage.size",
                size,
                &shapes::EPHEMERAL_STORAGE_SIZE,
            );
        }
    }
    snap_start_constraints(&mut v, req.snap_start.as_ref());
    if let Some(l) = &req.logging_config {
        logging_constraints(&mut v, l);
    }
    v
}

/// Applies an UpdateFunctionConfiguration request to a `$LATEST` record; on an error the record
/// is unchanged. `Layers` is only checked here: the caller resolves the ARNs and sets
/// `rec.layers`.
pub fn apply_configuration_update(
    rec: &mut FunctionRecord,
    req: UpdateFunctionConfigurationRequest,
    region: &Region,
) -> Result<(), Error> {
    update_constraints(&req).finish()?;
    // Lambda's own checks, before anything changes.
    refuse_unsupported(
        &req.vpc_config,
        &req.file_system_configs,
        &req.layers,
        &req.image_config,
    )?;
    if let Some(r) = &req.runtime {
        check_new_runtime(r)?;
        Runtime::parse(r)?;
    }
    let environment = req.environment.as_ref().map(|e| environment_of(Some(e)));
    if let Some(vars) = &environment {
        environment_rules(vars)?;
    }
    let dead_letter_target_arn = match req.dead_letter_config.as_ref() {
        Some(d) => Some(crate::event_invoke::validate_dead_letter_target(
            d.target_arn.as_deref().unwrap_or(""),
            region,
        )?),
        None => None,
    };
    let logging = match &req.logging_config {
        Some(l) => Some(merge_logging(Logging::of(rec), l)?),
        None => None,
    };
    // Everything holds: apply.
    if let Some(role) = req.role {
        rec.role = role;
    }
    if let Some(h) = req.handler {
        rec.handler = h;
    }
    if let Some(d) = req.description {
        rec.description = d;
    }
    if let Some(t) = req.timeout {
        rec.timeout_seconds = t;
    }
    if let Some(m) = req.memory_size {
        rec.memory_mb = m;
    }
    if let Some(size) = req.ephemeral_storage.and_then(|e| e.size) {
        rec.ephemeral_storage_mb = size;
    }
    if let Some(vars) = environment {
        rec.environment = Environment(vars);
    }
    if let Some(k) = &req.kms_key_arn {
        rec.kms_key_arn = kms_key(k);
    }
    if let Some(r) = req.runtime {
        rec.runtime = r;
    }
    if let Some(mode) = req.tracing_config.and_then(|t| t.mode) {
        rec.tracing_mode = mode;
    }
    if let Some(l) = logging {
        l.store(rec);
    }
    if let Some(d) = dead_letter_target_arn {
        rec.dead_letter_target_arn = d;
    }
    Ok(())
}

/// The model's constraints on an UpdateFunctionCode request (`Architectures`, `S3Bucket`,
/// `S3Key`, `SourceKMSKeyArn`).
pub fn validate_code_update(req: &UpdateFunctionCodeRequest) -> Result<(), Error> {
    let mut v = Violations::new();
    if let Some(a) = &req.architectures {
        v.list("architectures", a, &shapes::ARCHITECTURES_LIST);
    }
    v.opt_string(
        "sourceKMSKeyArn",
        req.source_kms_key_arn.as_deref(),
        &shapes::KMS_KEY_ARN,
    );
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EnvironmentIn, EphemeralStorageIn, FunctionCodeIn, TracingConfigIn};
    use crate::ErrorKind::{InvalidParameterValue, Validation};

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
        assert_eq!(v.record.tracing_mode, "PassThrough");
        assert_eq!(v.record.log_format, "Text");
    }

    /// LocalStack's AWS-recorded `test_lambda_api.snapshot.json`, `TestLoggingConfig`: JSON
    /// brings INFO levels, a partial update keeps the rest, Text drops the levels.
    #[test]
    fn logging_config_merges_as_aws() {
        let cfg =
            |f: Option<&str>, a: Option<&str>, s: Option<&str>, g: Option<&str>| LoggingConfigIn {
                log_format: f.map(Into::into),
                application_log_level: a.map(Into::into),
                system_log_level: s.map(Into::into),
                log_group: g.map(Into::into),
            };
        let text = Logging::default_for("f");
        let json = merge_logging(text.clone(), &cfg(Some("JSON"), None, None, None)).unwrap();
        assert_eq!(json.application_log_level.as_deref(), Some("INFO"));
        assert_eq!(json.system_log_level.as_deref(), Some("INFO"));
        assert_eq!(json.log_group, "/aws/lambda/f");
        let debug =
            merge_logging(text.clone(), &cfg(Some("JSON"), Some("DEBUG"), None, None)).unwrap();
        assert_eq!(debug.application_log_level.as_deref(), Some("DEBUG"));
        assert_eq!(debug.system_log_level.as_deref(), Some("INFO"));
        let sys =
            merge_logging(debug.clone(), &cfg(None, None, Some("WARN"), Some("cool"))).unwrap();
        assert_eq!(sys.application_log_level.as_deref(), Some("DEBUG"));
        assert_eq!(sys.system_log_level.as_deref(), Some("WARN"));
        assert_eq!(sys.log_group, "cool");
        let back = merge_logging(sys, &cfg(Some("Text"), None, None, None)).unwrap();
        assert_eq!(
            back,
            Logging {
                log_group: "cool".into(),
                ..text.clone()
            }
        );
        let group =
            merge_logging(text.clone(), &cfg(None, None, None, Some("cool_lambda"))).unwrap();
        assert_eq!(group.log_format, "Text");
        assert_eq!(group.application_log_level, None);
        for bad in [
            cfg(Some("Text"), Some("DEBUG"), None, None),
            cfg(None, None, Some("WARN"), None),
        ] {
            let e = merge_logging(text.clone(), &bad).unwrap_err();
            assert_eq!(e.message, LOG_LEVEL_WITH_TEXT);
        }
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

    type Edit = fn(&mut CreateFunctionRequest);

    fn env(k: &str, v: &str) -> Option<EnvironmentIn> {
        Some(EnvironmentIn {
            variables: Some([(k.to_string(), v.to_string())].into()),
        })
    }

    /// Each broken rule of CreateFunction, with AWS's exception and message. Sources: LocalStack's
    /// AWS-recorded `tests/aws/services/lambda_/test_lambda_api.snapshot.json` (`snap:`), a
    /// real ValidationException quoted from a deployment (`aws:`), and the model's shapes
    /// rendered by the same rules (`model:`).
    const CASES: &[(&str, Edit, crate::ErrorKind, &str)] = &[
        ("aws: timeout above 900", |r| r.timeout = Some(901), Validation,
         "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"),
        ("model: timeout below 1", |r| r.timeout = Some(0), Validation,
         "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ("model: memory above 10240", |r| r.memory_size = Some(10241), Validation,
         "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240"),
        ("model: memory below 128", |r| r.memory_size = Some(64), Validation,
         "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"),
        ("model: two violations, joined with '; '", |r| { r.timeout = Some(901); r.memory_size = Some(10241); }, Validation,
         "2 validation errors detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900; Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240"),
        ("snap: invalid_role_arn_exc", |r| r.role = Some("r1".into()), Validation,
         r"1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"),
        ("model: role missing", |r| r.role = None, Validation,
         "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"),
        ("model: name missing", |r| r.function_name = None, Validation,
         "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null"),
        ("model: code missing", |r| r.code = None, Validation,
         "1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null"),
        ("snap: invalid_function_name_exc", |r| r.function_name = Some("invalid:function:name".into()), Validation,
         r"1 validation error detected: Value 'invalid:function:name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"),
        ("snap: long_function_name_exc (Lambda's own check)", |r| r.function_name = Some("a".repeat(65)), InvalidParameterValue,
         "1 validation error detected: Value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"),
        ("snap: invalid_runtime_exc", |r| r.runtime = Some("non-existent-runtime".into()), InvalidParameterValue,
         "Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2] or be a valid ARN"),
        ("snap: deprecation_error[python3.7]", |r| r.runtime = Some("python3.7".into()), InvalidParameterValue,
         "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."),
        ("snap: multiple_architectures", |r| r.architectures = Some(vec!["x86_64".into(), "arm64".into()]), Validation,
         "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1"),
        ("snap: uppercase_architecture", |r| r.architectures = Some(vec!["X86_64".into()]), Validation,
         "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"),
        ("snap: add_layer_arn_without_version_exc", |r| r.layers = Some(vec!["arn:aws:lambda:us-east-1:123456789012:layer:l".into()]), Validation,
         r"1 validation error detected: Value '[arn:aws:lambda:us-east-1:123456789012:layer:l]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]"),
        ("snap: create_function_invalid_snapstart_apply", |r| r.snap_start = Some(serde_json::json!({"ApplyOn": "invalidOption"})), Validation,
         "1 validation error detected: Value 'invalidOption' at 'snapStart.applyOn' failed to satisfy constraint: Member must satisfy enum value set: [PublishedVersions, None]"),
        ("model: ephemeral storage above 10240", |r| r.ephemeral_storage = Some(EphemeralStorageIn { size: Some(10241) }), Validation,
         "1 validation error detected: Value '10241' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value less than or equal to 10240"),
        ("model: ephemeral storage without a size", |r| r.ephemeral_storage = Some(EphemeralStorageIn { size: None }), Validation,
         "1 validation error detected: Value null at 'ephemeralStorage.size' failed to satisfy constraint: Member must not be null"),
        ("model: tracing mode", |r| r.tracing_config = Some(TracingConfigIn { mode: Some("On".into()) }), Validation,
         "1 validation error detected: Value 'On' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]"),
        ("model: handler with a space", |r| r.handler = Some("a b".into()), Validation,
         r"1 validation error detected: Value 'a b' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\s]+"),
        ("model: environment key (sensitive, not echoed)", |r| r.environment = env("1x", "v"), Validation,
         "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"),
        ("aws: reserved environment key", |r| r.environment = env("AWS_REGION", "x"), InvalidParameterValue,
         "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION"),
        ("snap: failed_create_fn_result (4 KB)", |r| r.environment = env("LARGE_VAR", &"x".repeat(4097)), InvalidParameterValue,
         "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {\"LARGE_VAR\":\"{X4097}\"}"),
        ("model: KMS key ARN", |r| r.kms_key_arn = Some("not-an-arn".into()), Validation,
         "1 validation error detected: Value 'not-an-arn' at 'kMSKeyArn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"),
        ("model: package type", |r| r.package_type = Some("Jar".into()), Validation,
         "1 validation error detected: Value 'Jar' at 'packageType' failed to satisfy constraint: Member must satisfy enum value set: [Zip, Image]"),
    ];

    #[test]
    fn each_broken_rule_gets_aws_exception_and_message() {
        for (what, edit, kind, message) in CASES {
            let mut r = base();
            edit(&mut r);
            let e = validate_create(r, &region(), "t", "r").expect_err(what);
            let message = message.replace("{X4097}", &"x".repeat(4097));
            assert_eq!(
                (e.kind, e.message.as_str()),
                (*kind, message.as_str()),
                "{what}"
            );
        }
    }

    #[test]
    fn a_bad_update_changes_nothing() {
        let mut rec = validate_create(base(), &region(), "t", "r").unwrap().record;
        let before = rec.clone();
        let req = UpdateFunctionConfigurationRequest {
            timeout: Some(10),
            description: Some("new".into()),
            memory_size: Some(99_999),
            ..Default::default()
        };
        let e = apply_configuration_update(&mut rec, req, &region()).unwrap_err();
        assert_eq!(e.kind, Validation);
        assert_eq!(e.message, "1 validation error detected: Value '99999' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240");
        assert_eq!(rec, before);
        let req = UpdateFunctionConfigurationRequest {
            timeout: Some(10),
            runtime: Some("go1.x".into()),
            ..Default::default()
        };
        assert_eq!(
            apply_configuration_update(&mut rec, req, &region())
                .unwrap_err()
                .kind,
            InvalidParameterValue
        );
        assert_eq!(rec, before);
    }
}
