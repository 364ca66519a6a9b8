//! The AWS services the front door knows how SDKs address: each one's signing name (the service
//! of the SigV4 credential scope), protocol, `X-Amz-Target` prefix and REST paths, as botocore's
//! models say (`botocore/data/<service>/<version>/service-2.json`: `metadata.signingName` or
//! `endpointPrefix`, `metadata.protocol`, `targetPrefix`, `jsonVersion`; the REST paths are the
//! first segments of the operations' `http.requestUri`). Knowing a service here does not mean
//! Hako serves it: requests for a service without a route are answered with an error in its
//! protocol's shape that says so.

use crate::json::JsonVersion;
use crate::Protocol;

/// How SDKs address one AWS service.
#[derive(Debug)]
pub struct AwsService {
    /// The signing name: the service of the SigV4 credential scope.
    pub name: &'static str,
    /// The name people know it by (botocore's `serviceId`).
    pub title: &'static str,
    /// Its protocol (botocore's `metadata.protocol`).
    pub protocol: Protocol,
    /// The `X-Amz-Target` prefix of a JSON-protocol service.
    pub target_prefix: Option<&'static str>,
    /// The first segments of its REST paths (REST protocols).
    pub rest_paths: &'static [&'static str],
    /// The query actions SDKs send unsigned (botocore's `authtype: none`): without a credential
    /// scope, their `Action` is all that names the service.
    pub unsigned_actions: &'static [&'static str],
}

pub const LAMBDA: AwsService = AwsService {
    name: "lambda",
    title: "Lambda",
    protocol: Protocol::RestJson,
    target_prefix: None,
    rest_paths: &[
        "2014-11-13",
        "2015-03-31",
        "2016-08-19",
        "2017-03-31",
        "2017-10-31",
        "2018-10-31",
        "2019-09-25",
        "2019-09-30",
        "2020-04-22",
        "2020-06-30",
        "2021-07-20",
        "2021-10-31",
        "2021-11-15",
        "2024-08-31",
        "2025-11-30",
        "2025-12-01",
        "2026-07-09",
    ],
    unsigned_actions: &[],
};

pub const SCHEDULER: AwsService = AwsService {
    name: "scheduler",
    title: "Scheduler",
    protocol: Protocol::RestJson,
    target_prefix: None,
    // `tags` is shared with other services: only the credential scope tells them apart.
    rest_paths: &["schedules", "schedule-groups"],
    unsigned_actions: &[],
};

pub const SQS: AwsService = AwsService {
    name: "sqs",
    title: "SQS",
    protocol: Protocol::Json(JsonVersion::V1_0),
    target_prefix: Some("AmazonSQS"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const KINESIS: AwsService = AwsService {
    name: "kinesis",
    title: "Kinesis",
    protocol: Protocol::Json(JsonVersion::V1_1),
    target_prefix: Some("Kinesis_20131202"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const LOGS: AwsService = AwsService {
    name: "logs",
    title: "CloudWatch Logs",
    protocol: Protocol::Json(JsonVersion::V1_1),
    target_prefix: Some("Logs_20140328"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const STS: AwsService = AwsService {
    name: "sts",
    title: "STS",
    protocol: Protocol::Query,
    target_prefix: None,
    rest_paths: &[],
    unsigned_actions: &["AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"],
};

pub const IAM: AwsService = AwsService {
    name: "iam",
    title: "IAM",
    protocol: Protocol::Query,
    target_prefix: None,
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const DYNAMODB: AwsService = AwsService {
    name: "dynamodb",
    title: "DynamoDB",
    protocol: Protocol::Json(JsonVersion::V1_0),
    target_prefix: Some("DynamoDB_20120810"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const SNS: AwsService = AwsService {
    name: "sns",
    title: "SNS",
    protocol: Protocol::Query,
    target_prefix: None,
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const EVENTBRIDGE: AwsService = AwsService {
    name: "events",
    title: "EventBridge",
    protocol: Protocol::Json(JsonVersion::V1_1),
    target_prefix: Some("AWSEvents"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const STEP_FUNCTIONS: AwsService = AwsService {
    name: "states",
    title: "SFN",
    protocol: Protocol::Json(JsonVersion::V1_0),
    target_prefix: Some("AWSStepFunctions"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const KMS: AwsService = AwsService {
    name: "kms",
    title: "KMS",
    protocol: Protocol::Json(JsonVersion::V1_1),
    target_prefix: Some("TrentService"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const SECRETS_MANAGER: AwsService = AwsService {
    name: "secretsmanager",
    title: "Secrets Manager",
    protocol: Protocol::Json(JsonVersion::V1_1),
    target_prefix: Some("secretsmanager"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const SSM: AwsService = AwsService {
    name: "ssm",
    title: "SSM",
    protocol: Protocol::Json(JsonVersion::V1_1),
    target_prefix: Some("AmazonSSM"),
    rest_paths: &[],
    unsigned_actions: &[],
};

pub const S3: AwsService = AwsService {
    name: "s3",
    title: "S3",
    protocol: Protocol::RestXml,
    target_prefix: None,
    rest_paths: &[],
    unsigned_actions: &[],
};

/// Every service the front door knows.
pub(crate) static KNOWN: &[&AwsService] = &[
    &LAMBDA,
    &SCHEDULER,
    &SQS,
    &KINESIS,
    &LOGS,
    &STS,
    &IAM,
    &DYNAMODB,
    &SNS,
    &EVENTBRIDGE,
    &STEP_FUNCTIONS,
    &KMS,
    &SECRETS_MANAGER,
    &SSM,
    &S3,
];

/// The known service with signing name `name`.
pub(crate) fn by_name(name: &str) -> Option<&'static AwsService> {
    KNOWN.iter().copied().find(|s| s.name == name)
}

/// The known service with `X-Amz-Target` prefix `prefix`.
pub(crate) fn by_target_prefix(prefix: &str) -> Option<&'static AwsService> {
    KNOWN
        .iter()
        .copied()
        .find(|s| s.target_prefix == Some(prefix))
}

/// The known service one of whose REST paths starts with the segment `segment`.
pub(crate) fn by_rest_path(segment: &str) -> Option<&'static AwsService> {
    KNOWN
        .iter()
        .copied()
        .find(|s| s.rest_paths.contains(&segment))
}

/// The known service that takes the unsigned query action `action`.
pub(crate) fn by_unsigned_action(action: &str) -> Option<&'static AwsService> {
    KNOWN
        .iter()
        .copied()
        .find(|s| s.unsigned_actions.contains(&action))
}
