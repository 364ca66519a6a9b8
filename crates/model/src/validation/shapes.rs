//! The shapes of the Lambda model that Hako checks, from botocore's
//! `botocore/data/lambda/2015-03-31/service-2.json` (named after their botocore shape). Where
//! AWS's answers differ from botocore's figures, AWS's answers win, and the constant says so
//! with its source. Patterns are printed as AWS prints them in its messages.

use super::{Bound, ListShape, Pattern, Shape};

/// `FunctionName`: 1..=140 characters, a name, a partial ARN or an ARN, with a qualifier.
pub static FUNCTION_NAME: Shape = Shape {
    max_len: Some(140),
    min_len: Some(1),
    pattern: Some(&FUNCTION_NAME_PATTERN),
    ..Shape::NONE
};
pub static FUNCTION_NAME_PATTERN: Pattern = Pattern::new(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
);

/// `NamespacedFunctionName` (Invoke's `FunctionName`): as `FunctionName`, with dots and
/// `$LATEST.PUBLISHED`, up to 256 characters.
pub static NAMESPACED_FUNCTION_NAME_PATTERN: Pattern = Pattern::new(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?",
);

/// `RoleArn`.
pub static ROLE_ARN: Shape = Shape {
    max_len: Some(10_000),
    pattern: Some(&ROLE_ARN_PATTERN),
    ..Shape::NONE
};
static ROLE_ARN_PATTERN: Pattern =
    Pattern::new(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+");

/// `Handler`.
pub static HANDLER: Shape = Shape {
    max_len: Some(128),
    pattern: Some(&HANDLER_PATTERN),
    ..Shape::NONE
};
static HANDLER_PATTERN: Pattern = Pattern::new(r"[^\s]+");

/// `Description`.
pub static DESCRIPTION: Shape = Shape {
    max_len: Some(256),
    ..Shape::NONE
};

/// `Timeout`: botocore says 1..=5400, but AWS refuses 901 with `Member must have value less
/// than or equal to 900` (a CloudFormation deployment's ValidationException: "1 validation
/// error detected: Value '1200' at 'timeout' failed to satisfy constraint: Member must have
/// value less than or equal to 900 (Service: AWSLambdaInternal; Status Code: 400; Error Code:
/// ValidationException)").
pub static TIMEOUT: Shape = Shape {
    max: Some(Bound::Int(crate::limits::TIMEOUT_MAX_SECONDS)),
    min: Some(Bound::Int(crate::limits::TIMEOUT_MIN_SECONDS)),
    ..Shape::NONE
};

/// `MemorySize`: botocore says 128..=32768 (the bound of capacity-provider functions); an
/// ordinary function's is 10240, as AWS's documentation ("Configure Lambda function memory")
/// says.
pub static MEMORY_SIZE: Shape = Shape {
    max: Some(Bound::Int(crate::limits::MEMORY_MAX_MB)),
    min: Some(Bound::Int(crate::limits::MEMORY_MIN_MB)),
    ..Shape::NONE
};

/// `EphemeralStorageSize`: botocore says 512..=32768; AWS's documented range is 512..=10240.
pub static EPHEMERAL_STORAGE_SIZE: Shape = Shape {
    max: Some(Bound::Int(crate::limits::EPHEMERAL_MAX_MB)),
    min: Some(Bound::Int(crate::limits::EPHEMERAL_MIN_MB)),
    ..Shape::NONE
};

/// `Architecture`.
pub static ARCHITECTURE: Shape = Shape {
    values: Some(&["x86_64", "arm64"]),
    ..Shape::NONE
};

/// `ArchitecturesList`: exactly one.
pub static ARCHITECTURES_LIST: ListShape = ListShape {
    max_len: Some(1),
    min_len: Some(1),
    member: &ARCHITECTURE,
};

/// `CompatibleArchitectures` (layers): at most two.
pub static COMPATIBLE_ARCHITECTURES: ListShape = ListShape {
    max_len: Some(2),
    min_len: None,
    member: &ARCHITECTURE,
};

/// `KMSKeyArn`.
pub static KMS_KEY_ARN: Shape = Shape {
    max_len: Some(10_000),
    pattern: Some(&RESOURCE_ARN_PATTERN),
    ..Shape::NONE
};

/// `ResourceArn` (a dead-letter queue's `TargetArn`).
pub static RESOURCE_ARN: Shape = Shape {
    max_len: Some(10_000),
    pattern: Some(&RESOURCE_ARN_PATTERN),
    ..Shape::NONE
};
static RESOURCE_ARN_PATTERN: Pattern = Pattern::new(r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()");

/// `TracingMode`.
pub static TRACING_MODE: Shape = Shape {
    values: Some(&["Active", "PassThrough"]),
    ..Shape::NONE
};

/// `LogFormat`.
pub static LOG_FORMAT: Shape = Shape {
    values: Some(&["JSON", "Text"]),
    ..Shape::NONE
};

/// `ApplicationLogLevel`.
pub static APPLICATION_LOG_LEVEL: Shape = Shape {
    values: Some(&["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]),
    ..Shape::NONE
};

/// `SystemLogLevel`.
pub static SYSTEM_LOG_LEVEL: Shape = Shape {
    values: Some(&["DEBUG", "INFO", "WARN"]),
    ..Shape::NONE
};

/// `LogGroup`.
pub static LOG_GROUP: Shape = Shape {
    max_len: Some(512),
    min_len: Some(1),
    pattern: Some(&LOG_GROUP_PATTERN),
    ..Shape::NONE
};
static LOG_GROUP_PATTERN: Pattern = Pattern::new(r"[\.\-_/#A-Za-z0-9]+");

/// `PackageType`.
pub static PACKAGE_TYPE: Shape = Shape {
    values: Some(&["Zip", "Image"]),
    ..Shape::NONE
};

/// `SnapStartApplyOn`, in the order of AWS's answer (LocalStack's AWS-recorded
/// `test_lambda_api.snapshot.json`, `test_snapstart_exceptions`).
pub static SNAP_START_APPLY_ON: Shape = Shape {
    values: Some(&["PublishedVersions", "None"]),
    ..Shape::NONE
};

/// `EnvironmentVariableName` (the keys of `Environment.Variables`).
pub static ENVIRONMENT_VARIABLE_NAME: Shape = Shape {
    pattern: Some(&ENVIRONMENT_VARIABLE_NAME_PATTERN),
    ..Shape::NONE
};
static ENVIRONMENT_VARIABLE_NAME_PATTERN: Pattern = Pattern::new(r"[a-zA-Z]([a-zA-Z0-9_])+");

/// `LayerVersionArn`, with the pattern as AWS prints it (botocore wraps it in one more pair of
/// parentheses): LocalStack's AWS-recorded `test_layer_function_exceptions`.
pub static LAYER_VERSION_ARN: Shape = Shape {
    max_len: Some(2048),
    min_len: Some(1),
    pattern: Some(&LAYER_VERSION_ARN_PATTERN),
    ..Shape::NONE
};
pub static LAYER_VERSION_ARN_PATTERN: Pattern = Pattern::new(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)",
);

/// `LayerList`: no bound in the model (Lambda itself refuses more than five).
pub static LAYER_LIST: ListShape = ListShape {
    max_len: None,
    min_len: None,
    member: &LAYER_VERSION_ARN,
};

/// `FunctionVersion` (ListFunctions' query parameter).
pub static FUNCTION_VERSION: Shape = Shape {
    values: Some(&["ALL"]),
    ..Shape::NONE
};

/// `InvocationType`.
pub static INVOCATION_TYPE: Shape = Shape {
    values: Some(&["Event", "RequestResponse", "DryRun"]),
    ..Shape::NONE
};

/// `ResponseStreamingInvocationType` (InvokeWithResponseStream's `InvocationType`).
pub static RESPONSE_STREAMING_INVOCATION_TYPE: Shape = Shape {
    values: Some(&["RequestResponse", "DryRun"]),
    ..Shape::NONE
};

/// `LogType`.
pub static LOG_TYPE: Shape = Shape {
    values: Some(&["None", "Tail"]),
    ..Shape::NONE
};

/// `Qualifier`.
pub static QUALIFIER: Shape = Shape {
    max_len: Some(128),
    min_len: Some(1),
    pattern: Some(&QUALIFIER_PATTERN),
    ..Shape::NONE
};
static QUALIFIER_PATTERN: Pattern = Pattern::new(r"(|[a-zA-Z0-9$_-]+)");

/// `Alias`.
pub static ALIAS: Shape = Shape {
    max_len: Some(128),
    min_len: Some(1),
    pattern: Some(&ALIAS_PATTERN),
    ..Shape::NONE
};
static ALIAS_PATTERN: Pattern = Pattern::new(r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)");

/// `Version`.
pub static VERSION: Shape = Shape {
    max_len: Some(1024),
    min_len: Some(1),
    pattern: Some(&VERSION_PATTERN),
    ..Shape::NONE
};
static VERSION_PATTERN: Pattern = Pattern::new(r"(\$LATEST|[0-9]+)");

/// `AdditionalVersion` (the keys of `AdditionalVersionWeights`).
pub static ADDITIONAL_VERSION: Shape = Shape {
    max_len: Some(1024),
    min_len: Some(1),
    pattern: Some(&ADDITIONAL_VERSION_PATTERN),
    ..Shape::NONE
};
static ADDITIONAL_VERSION_PATTERN: Pattern = Pattern::new(r"[0-9]+");

/// `Weight` (the values of `AdditionalVersionWeights`).
pub static WEIGHT: Shape = Shape {
    max: Some(Bound::Float(1.0)),
    min: Some(Bound::Float(0.0)),
    ..Shape::NONE
};

/// `PositiveInteger`.
pub static POSITIVE_INTEGER: Shape = Shape {
    min: Some(Bound::Int(1)),
    ..Shape::NONE
};

/// `ReservedConcurrentExecutions`.
pub static RESERVED_CONCURRENT_EXECUTIONS: Shape = Shape {
    min: Some(Bound::Int(0)),
    ..Shape::NONE
};

/// `MaximumRetryAttempts`.
pub static MAXIMUM_RETRY_ATTEMPTS: Shape = Shape {
    max: Some(Bound::Int(2)),
    min: Some(Bound::Int(0)),
    ..Shape::NONE
};

/// `MaximumEventAgeInSeconds`.
pub static MAXIMUM_EVENT_AGE_IN_SECONDS: Shape = Shape {
    max: Some(Bound::Int(21_600)),
    min: Some(Bound::Int(60)),
    ..Shape::NONE
};

/// `MaxFunctionEventInvokeConfigListItems`, `MaxProvisionedConcurrencyConfigListItems`,
/// `MaxLayerListItems`: 1..=50.
pub static MAX_ITEMS_50: Shape = Shape {
    max: Some(Bound::Int(50)),
    min: Some(Bound::Int(1)),
    ..Shape::NONE
};

/// `MaxListItems` (ListFunctions, ListVersionsByFunction, ListAliases): 1..=10000.
pub static MAX_LIST_ITEMS: Shape = Shape {
    max: Some(Bound::Int(10_000)),
    min: Some(Bound::Int(1)),
    ..Shape::NONE
};

/// `DestinationArn`.
pub static DESTINATION_ARN: Shape = Shape {
    max_len: Some(350),
    pattern: Some(&DESTINATION_ARN_PATTERN),
    ..Shape::NONE
};
static DESTINATION_ARN_PATTERN: Pattern = Pattern::new(
    r"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)",
);

/// `StatementId`.
pub static STATEMENT_ID: Shape = Shape {
    max_len: Some(100),
    min_len: Some(1),
    pattern: Some(&STATEMENT_ID_PATTERN),
    ..Shape::NONE
};
static STATEMENT_ID_PATTERN: Pattern = Pattern::new(r"([a-zA-Z0-9-_]+)");

/// `TaggableResource`, with the pattern as AWS prints it (LocalStack's AWS-recorded
/// `test_tag_exceptions`).
pub static TAGGABLE_RESOURCE: Shape = Shape {
    max_len: Some(10_000),
    min_len: Some(1),
    pattern: Some(&TAGGABLE_RESOURCE_PATTERN),
    ..Shape::NONE
};
pub static TAGGABLE_RESOURCE_PATTERN: Pattern = Pattern::new(
    r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)",
);

/// `LicenseInfo`.
pub static LICENSE_INFO: Shape = Shape {
    max_len: Some(512),
    pattern: Some(&LICENSE_INFO_PATTERN),
    ..Shape::NONE
};
static LICENSE_INFO_PATTERN: Pattern = Pattern::new(r".*");

/// `TagKey` (UntagResource's `TagKeys` members).
pub static TAG_KEY: Shape = Shape {
    max_len: Some(128),
    min_len: Some(1),
    pattern: Some(&TAG_PATTERN),
    ..Shape::NONE
};
static TAG_PATTERN: Pattern = Pattern::new(r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)");

/// `TagKeyList`.
pub static TAG_KEY_LIST: ListShape = ListShape {
    max_len: None,
    min_len: None,
    member: &TAG_KEY,
};

/// `FunctionVersionLatestPublished` (PublishVersion's `PublishTo`).
pub static FUNCTION_VERSION_LATEST_PUBLISHED: Shape = Shape {
    values: Some(&["LATEST_PUBLISHED"]),
    ..Shape::NONE
};

/// `LayerName`.
pub static LAYER_NAME: Shape = Shape {
    max_len: Some(140),
    min_len: Some(1),
    pattern: Some(&LAYER_NAME_PATTERN),
    ..Shape::NONE
};
pub static LAYER_NAME_PATTERN: Pattern = Pattern::new(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+",
);

/// `LayerPermissionAllowedAction`.
pub static LAYER_PERMISSION_ALLOWED_ACTION: Shape = Shape {
    max_len: Some(22),
    pattern: Some(&LAYER_PERMISSION_ALLOWED_ACTION_PATTERN),
    ..Shape::NONE
};
static LAYER_PERMISSION_ALLOWED_ACTION_PATTERN: Pattern = Pattern::new(r"lambda:GetLayerVersion");

/// `LayerPermissionAllowedPrincipal`.
pub static LAYER_PERMISSION_ALLOWED_PRINCIPAL: Shape = Shape {
    max_len: Some(10_000),
    pattern: Some(&LAYER_PERMISSION_ALLOWED_PRINCIPAL_PATTERN),
    ..Shape::NONE
};
static LAYER_PERMISSION_ALLOWED_PRINCIPAL_PATTERN: Pattern =
    Pattern::new(r"\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root");

/// `OrganizationId`.
pub static ORGANIZATION_ID: Shape = Shape {
    max_len: Some(34),
    pattern: Some(&ORGANIZATION_ID_PATTERN),
    ..Shape::NONE
};
static ORGANIZATION_ID_PATTERN: Pattern = Pattern::new(r"o-[a-z0-9]{10,32}");

/// `Pattern` (`FilterCriteria.Filters[].Pattern`): 0..=4096 characters.
pub static FILTER_PATTERN: Shape = Shape {
    max_len: Some(crate::event_filter::PATTERN_MAX_CHARS),
    min_len: Some(0),
    ..Shape::NONE
};

/// `FunctionUrlFunctionName`: as `FunctionName`, the name at most 64 characters and a qualifier
/// that is not a version number (no `$LATEST` either). The lookahead AWS prints is matched by an
/// equivalent expression: a qualifier with at least one character that is not a digit.
pub static FUNCTION_URL_FUNCTION_NAME: Shape = Shape {
    max_len: Some(140),
    min_len: Some(1),
    pattern: Some(&FUNCTION_URL_FUNCTION_NAME_PATTERN),
    ..Shape::NONE
};
static FUNCTION_URL_FUNCTION_NAME_PATTERN: Pattern = Pattern::equivalent(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:((?!\d+$)[0-9a-zA-Z-_]+))?",
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:([0-9a-zA-Z-_]*[a-zA-Z-_][0-9a-zA-Z-_]*))?",
);

/// `FunctionUrlQualifier`: an alias name (never a version, never `$LATEST`), as AWS prints it
/// (LocalStack's AWS-recorded `test_url_config_exceptions`: "Value '$LATEST' at 'qualifier'
/// failed to satisfy constraint: Member must satisfy regular expression pattern:
/// ((?!^\d+$)^[0-9a-zA-Z-_]+$)").
pub static FUNCTION_URL_QUALIFIER: Shape = Shape {
    max_len: Some(128),
    min_len: Some(1),
    pattern: Some(&FUNCTION_URL_QUALIFIER_PATTERN),
    ..Shape::NONE
};
static FUNCTION_URL_QUALIFIER_PATTERN: Pattern = Pattern::equivalent(
    r"((?!^\d+$)^[0-9a-zA-Z-_]+$)",
    r"[0-9a-zA-Z-_]*[a-zA-Z-_][0-9a-zA-Z-_]*",
);

/// `FunctionUrlAuthType`.
pub static FUNCTION_URL_AUTH_TYPE: Shape = Shape {
    values: Some(&["NONE", "AWS_IAM"]),
    ..Shape::NONE
};

/// `InvokeMode`, in the order AWS prints it (LocalStack's AWS-recorded
/// `test_lambda_url_invalid_invoke_mode`: "Member must satisfy enum value set: [RESPONSE_STREAM,
/// BUFFERED]"; botocore lists BUFFERED first).
pub static INVOKE_MODE: Shape = Shape {
    values: Some(&["RESPONSE_STREAM", "BUFFERED"]),
    ..Shape::NONE
};

/// `Header` (the members of `Cors.AllowHeaders` and `Cors.ExposeHeaders`).
pub static CORS_HEADER: Shape = Shape {
    max_len: Some(1024),
    min_len: Some(0),
    pattern: Some(&ANY_PATTERN),
    ..Shape::NONE
};
static ANY_PATTERN: Pattern = Pattern::new(r".*");

/// `HeadersList`.
pub static CORS_HEADERS_LIST: ListShape = ListShape {
    max_len: Some(100),
    min_len: Some(0),
    member: &CORS_HEADER,
};

/// `Method`.
pub static CORS_METHOD: Shape = Shape {
    max_len: Some(6),
    min_len: Some(0),
    pattern: Some(&ANY_PATTERN),
    ..Shape::NONE
};

/// `AllowMethodsList`.
pub static CORS_ALLOW_METHODS_LIST: ListShape = ListShape {
    max_len: Some(6),
    min_len: Some(0),
    member: &CORS_METHOD,
};

/// `Origin`.
pub static CORS_ORIGIN: Shape = Shape {
    max_len: Some(253),
    min_len: Some(1),
    pattern: Some(&ANY_PATTERN),
    ..Shape::NONE
};

/// `AllowOriginsList`.
pub static CORS_ALLOW_ORIGINS_LIST: ListShape = ListShape {
    max_len: Some(100),
    min_len: Some(0),
    member: &CORS_ORIGIN,
};

/// `MaxAge`.
pub static CORS_MAX_AGE: Shape = Shape {
    max: Some(Bound::Int(86_400)),
    min: Some(Bound::Int(0)),
    ..Shape::NONE
};

/// `NumericLatestPublishedOrAliasQualifier` (the permission operations' `Qualifier`), with the
/// pattern as AWS prints it (LocalStack's AWS-recorded `test_permission_exceptions`,
/// `add_permission_fn_qualifier_invalid`).
pub static PERMISSION_QUALIFIER: Shape = Shape {
    max_len: Some(128),
    min_len: Some(1),
    pattern: Some(&PERMISSION_QUALIFIER_PATTERN),
    ..Shape::NONE
};
static PERMISSION_QUALIFIER_PATTERN: Pattern =
    Pattern::new(r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+");

/// `Action` (AddPermission).
pub static PERMISSION_ACTION: Shape = Shape {
    max_len: Some(10_000),
    pattern: Some(&PERMISSION_ACTION_PATTERN),
    ..Shape::NONE
};
static PERMISSION_ACTION_PATTERN: Pattern = Pattern::new(r"(lambda:[*]|lambda:[a-zA-Z]+|[*])");

/// `Principal` (AddPermission).
pub static PRINCIPAL: Shape = Shape {
    max_len: Some(2048),
    pattern: Some(&PRINCIPAL_PATTERN),
    ..Shape::NONE
};
static PRINCIPAL_PATTERN: Pattern = Pattern::new(r"[^\s]+");

/// `Arn` (AddPermission's `SourceArn`).
pub static ARN: Shape = Shape {
    max_len: Some(10_000),
    pattern: Some(&ARN_PATTERN),
    ..Shape::NONE
};
static ARN_PATTERN: Pattern = Pattern::new(
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)",
);

/// `SourceOwner` (AddPermission's `SourceAccount`).
pub static SOURCE_OWNER: Shape = Shape {
    max_len: Some(12),
    pattern: Some(&SOURCE_OWNER_PATTERN),
    ..Shape::NONE
};
static SOURCE_OWNER_PATTERN: Pattern = Pattern::new(r"\d{12}");

/// `EventSourceToken`.
pub static EVENT_SOURCE_TOKEN: Shape = Shape {
    max_len: Some(256),
    pattern: Some(&EVENT_SOURCE_TOKEN_PATTERN),
    ..Shape::NONE
};
static EVENT_SOURCE_TOKEN_PATTERN: Pattern = Pattern::new(r"[a-zA-Z0-9._\-]+");

/// `NamespacedStatementId` (RemovePermission's path).
pub static NAMESPACED_STATEMENT_ID: Shape = Shape {
    max_len: Some(100),
    min_len: Some(1),
    pattern: Some(&NAMESPACED_STATEMENT_ID_PATTERN),
    ..Shape::NONE
};
static NAMESPACED_STATEMENT_ID_PATTERN: Pattern = Pattern::new(r"([a-zA-Z0-9-_.]+)");
