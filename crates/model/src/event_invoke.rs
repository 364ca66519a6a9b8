//! Asynchronous invocation: the per-function (and per-qualifier) event invoke configuration
//! (Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s)), its wire shapes and validation,
//! destinations and dead-letter targets, AWS's retry schedule, and the invocation record a
//! destination receives.
//!
//! Hako delivers to Lambda function destinations (through its own durable async queue) and to
//! SQS queues of its own region and account (destinations and dead-letter queues); SNS,
//! EventBridge, S3 and Kafka targets are refused at configuration time, never accepted and
//! dropped.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::Error;
use crate::names::{FunctionRef, Region};
use crate::validation::{shapes, Violations};

/// AWS's default `MaximumRetryAttempts`.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 2;
/// AWS's default (and maximum) `MaximumEventAgeInSeconds`: 6 hours.
pub const DEFAULT_EVENT_AGE_SECONDS: u32 = 21600;
/// Throttle / system-error backoff: from 1 s, doubling, at most 5 minutes (AWS's figures).
pub const BACKOFF_FIRST_MS: u64 = 1000;
pub const BACKOFF_MAX_MS: u64 = 300_000;

/// The delay before function-error retry `n` (1-based): about 1 minute, then 2 minutes.
pub fn retry_delay_ms(retry: u32) -> u64 {
    if retry <= 1 {
        60_000
    } else {
        120_000
    }
}

/// The backoff after the `n`-th (1-based) throttle or system error of one event.
pub fn backoff_ms(n: u32) -> u64 {
    let exp = n.saturating_sub(1).min(20);
    (BACKOFF_FIRST_MS << exp).min(BACKOFF_MAX_MS)
}

/// One event invoke configuration as Hako stores it (one per function and qualifier).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeRecord {
    pub function_name: String,
    /// `$LATEST`, a version number or an alias name.
    pub qualifier: String,
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_seconds: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// Seconds since the epoch.
    pub last_modified: f64,
}

impl EventInvokeRecord {
    pub fn retry_attempts(&self) -> u32 {
        self.maximum_retry_attempts
            .unwrap_or(DEFAULT_RETRY_ATTEMPTS)
    }
    pub fn event_age_seconds(&self) -> u32 {
        self.maximum_event_age_seconds
            .unwrap_or(DEFAULT_EVENT_AGE_SECONDS)
    }
}

/// `OnSuccess` / `OnFailure`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DestinationTarget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// `DestinationConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DestinationConfig {
    pub on_success: Option<DestinationTarget>,
    pub on_failure: Option<DestinationTarget>,
}

/// Put/UpdateFunctionEventInvokeConfig's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EventInvokeConfigRequest {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub destination_config: Option<DestinationConfig>,
}

/// `FunctionEventInvokeConfig`, as the operations return it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEventInvokeConfig {
    pub last_modified: f64,
    pub function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    pub destination_config: DestinationConfig,
}

impl FunctionEventInvokeConfig {
    pub fn from_record(r: &EventInvokeRecord, region: &Region) -> Self {
        let target = |d: &Option<String>| DestinationTarget {
            destination: d.clone(),
        };
        FunctionEventInvokeConfig {
            last_modified: r.last_modified,
            function_arn: region.qualified_arn(&r.function_name, &r.qualifier),
            maximum_retry_attempts: r.maximum_retry_attempts,
            maximum_event_age_in_seconds: r.maximum_event_age_seconds,
            destination_config: DestinationConfig {
                on_success: Some(target(&r.on_success)),
                on_failure: Some(target(&r.on_failure)),
            },
        }
    }
}

/// ListFunctionEventInvokeConfigs' response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionEventInvokeConfigsResponse {
    pub function_event_invoke_configs: Vec<FunctionEventInvokeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// AWS's answer when Put/Update/ListFunctionEventInvokeConfig(s) name a function or qualifier
/// that does not exist (LocalStack's AWS-recorded `test_lambda_eventinvokeconfig_exceptions`:
/// `put_functionname_name_notfound`, `put_alias_doesnotexist`, `list_function_doesnotexist`).
pub fn function_does_not_exist() -> Error {
    Error::not_found("The function doesn't exist.")
}

/// AWS's answer to a PutFunctionEventInvokeConfig that sets nothing (`put_functionname_nootherargs`).
pub fn nothing_to_configure() -> Error {
    Error::invalid("You must specify at least one of error handling or destination setting.")
}

/// AWS's answer when a destination is the function itself (`put_destination_recursive`).
pub fn destination_is_itself() -> Error {
    Error::invalid("You can't specify the function as a destination for itself.")
}

/// AWS's answer when a destination function does not exist (`put_destination_lambda_doesntexist`).
pub fn destination_not_found(arn: &str) -> Error {
    Error::invalid(format!("The destination ARN {arn} is invalid."))
}

/// AWS's answer when a destination names a service that cannot be one, with the configuration
/// as Java prints it (`put_destination_invalid_service_arn`: "The provided destination config
/// DestinationConfig(onSuccess=OnSuccess(destination=arn:...), onFailure=null) is invalid.").
pub fn invalid_destination_config(d: &DestinationConfig) -> Error {
    let show = |kind: &str, t: &Option<DestinationTarget>| match t {
        None => "null".to_string(),
        Some(t) => format!(
            "{kind}(destination={})",
            t.destination.as_deref().unwrap_or("null")
        ),
    };
    Error::invalid(format!(
        "The provided destination config DestinationConfig(onSuccess={}, onFailure={}) is invalid.",
        show("OnSuccess", &d.on_success),
        show("OnFailure", &d.on_failure)
    ))
}

/// AWS's message when a function (or qualifier) has no event invoke configuration.
pub fn config_not_found(qualified_arn: &str) -> Error {
    Error::not_found(format!(
        "The function {qualified_arn} doesn't have an EventInvokeConfig"
    ))
}

/// The AWS service an ARN names (`arn:PARTITION:SERVICE:...`), if it is an ARN.
fn arn_service(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(4, ':');
    (parts.next()? == "arn").then_some(())?;
    parts.next()?;
    parts.next()
}

/// What Hako cannot deliver to yet, named for the message.
fn undeliverable(service: &str) -> Option<&'static str> {
    Some(match service {
        "sns" => "Amazon SNS topics",
        "events" => "Amazon EventBridge event buses",
        "s3" => "Amazon S3 buckets",
        "kafka" => "Kafka topics",
        _ => return None,
    })
}

/// What a destination or a dead-letter queue delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Lambda function (its record goes through the async queue).
    Function(FunctionRef),
    /// An SQS queue of Hako's region and account, by its ARN.
    Queue(String),
}

/// Checks the ARN of an SQS queue that is to receive messages from Lambda: of Hako's own
/// region and account (the only queues it has), with a valid queue name (SQS's rule: 1 to 80
/// characters, alphanumerics, hyphens and underscores, `.fifo` for a FIFO queue).
fn check_queue_arn(arn: &str, region: &Region) -> Result<(), Error> {
    let valid_name = |name: &str| {
        let stem = name.strip_suffix(".fifo").unwrap_or(name);
        !stem.is_empty()
            && name.len() <= 80
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let Some(parts) = crate::names::split_arn(arn).filter(|p| valid_name(p.resource)) else {
        return Err(Error::invalid(format!(
            "The provided ARN {arn} is invalid: it does not name an Amazon SQS queue."
        )));
    };
    if parts.partition != "aws"
        || parts.region != region.region
        || parts.account != region.account_id
    {
        return Err(Error::invalid(format!(
            "Hako delivers only to Amazon SQS queues of its own region and account ({}:{}), \
             not to {arn}.",
            region.region, region.account_id
        )));
    }
    Ok(())
}

/// Checks one destination ARN; returns what it names (`None` for an empty ARN, which removes
/// the destination).
pub fn validate_destination(
    arn: &str,
    field: &str,
    region: &Region,
) -> Result<Option<Target>, Error> {
    let mut v = Violations::new();
    v.string(field, arn, &shapes::DESTINATION_ARN);
    v.finish()?;
    if arn.is_empty() {
        return Ok(None);
    }
    let service = if arn.starts_with("kafka://") {
        "kafka"
    } else {
        arn_service(arn).unwrap_or("")
    };
    if let Some(what) = undeliverable(service) {
        return Err(Error::invalid(format!(
            "Hako cannot deliver to {what} yet (destination {arn}): it has no such service. \
             Use a Lambda function or an Amazon SQS queue ARN as the destination."
        )));
    }
    if service == "sqs" {
        check_queue_arn(arn, region)?;
        return Ok(Some(Target::Queue(arn.to_string())));
    }
    if service != "lambda" {
        return Err(Error::invalid(format!(
            "The destination ARN {arn} is invalid: a destination must be a Lambda function, \
             an SQS queue, an SNS topic or an EventBridge event bus."
        )));
    }
    let r = FunctionRef::parse(arn, region).map_err(|_| {
        Error::invalid(format!(
            "The destination ARN {arn} is invalid: Hako delivers only to Lambda functions of \
             its own region and account ({}:{}).",
            region.region, region.account_id
        ))
    })?;
    if !arn.contains(":function:") {
        return Err(Error::invalid(format!(
            "The destination ARN {arn} is invalid: it must be a function ARN."
        )));
    }
    Ok(Some(Target::Function(r)))
}

/// Checks a `DeadLetterConfig.TargetArn`; `None` for an empty one (no dead-letter queue). An
/// SQS queue of Hako's region and account is accepted (whether it exists is seen at delivery,
/// as on AWS, which checks only the role's permission); an SNS topic is refused with a message
/// that says Hako has none.
pub fn validate_dead_letter_target(arn: &str, region: &Region) -> Result<Option<String>, Error> {
    let mut v = Violations::new();
    v.string("deadLetterConfig.targetArn", arn, &shapes::RESOURCE_ARN);
    v.finish()?;
    if arn.is_empty() {
        return Ok(None);
    }
    if arn_service(arn) == Some("sqs") {
        check_queue_arn(arn, region)?;
        return Ok(Some(arn.to_string()));
    }
    match arn_service(arn).and_then(undeliverable) {
        Some(what) => Err(Error::invalid(format!(
            "Hako cannot deliver to {what} yet, so it cannot use {arn} as a dead-letter queue. \
             Use an Amazon SQS queue, or an OnFailure destination \
             (PutFunctionEventInvokeConfig), instead."
        ))),
        None => Err(Error::invalid(format!(
            "The provided target ARN {arn} is invalid: a dead-letter queue must be an \
             Amazon SQS queue or an Amazon SNS topic."
        ))),
    }
}

/// The model's constraints on an event invoke configuration (in the order of botocore's
/// `PutFunctionEventInvokeConfigRequest` members), then Lambda's checks of the destinations.
fn validate_request(req: &EventInvokeConfigRequest, region: &Region) -> Result<(), Error> {
    let mut v = Violations::new();
    v.opt_integer(
        "maximumRetryAttempts",
        req.maximum_retry_attempts,
        &shapes::MAXIMUM_RETRY_ATTEMPTS,
    );
    v.opt_integer(
        "maximumEventAgeInSeconds",
        req.maximum_event_age_in_seconds,
        &shapes::MAXIMUM_EVENT_AGE_IN_SECONDS,
    );
    let mut destinations = Vec::new();
    if let Some(d) = &req.destination_config {
        let targets = [
            (&d.on_success, "destinationConfig.onSuccess.destination"),
            (&d.on_failure, "destinationConfig.onFailure.destination"),
        ];
        for (t, field) in targets {
            if let Some(arn) = t.as_ref().and_then(|t| t.destination.as_deref()) {
                v.string(field, arn, &shapes::DESTINATION_ARN);
                destinations.push((arn, field));
            }
        }
    }
    v.finish()?;
    for (arn, field) in destinations {
        let service = arn_service(arn).unwrap_or("");
        if !arn.is_empty()
            && !arn.starts_with("kafka://")
            && service != "lambda"
            && service != "sqs"
            && undeliverable(service).is_none()
        {
            if let Some(d) = &req.destination_config {
                return Err(invalid_destination_config(d));
            }
        }
        validate_destination(arn, field, region)?;
    }
    Ok(())
}

/// Refuses a destination that is the function itself (its unqualified ARN).
fn refuse_itself(
    function_name: &str,
    req: &EventInvokeConfigRequest,
    region: &Region,
) -> Result<(), Error> {
    let own = region.function_arn(function_name);
    let d = req.destination_config.clone().unwrap_or_default();
    let mut targets = [&d.on_success, &d.on_failure].into_iter().flatten();
    if targets.any(|t| t.destination.as_deref() == Some(own.as_str())) {
        return Err(destination_is_itself());
    }
    Ok(())
}

/// PutFunctionEventInvokeConfig's checks that need no stored state, in AWS's order: something
/// to set, then the model's constraints and the destinations' form. Call it before looking the
/// function up (AWS answers `nothing_to_configure` even for a function that does not exist).
pub fn check_put(req: &EventInvokeConfigRequest, region: &Region) -> Result<(), Error> {
    if req.maximum_retry_attempts.is_none()
        && req.maximum_event_age_in_seconds.is_none()
        && req.destination_config.is_none()
    {
        return Err(nothing_to_configure());
    }
    validate_request(req, region)
}

fn destination_of(t: &Option<DestinationTarget>) -> Option<String> {
    t.as_ref()
        .and_then(|t| t.destination.clone())
        .filter(|d| !d.is_empty())
}

/// PutFunctionEventInvokeConfig: a whole new configuration (what is not given is unset).
pub fn put_record(
    function_name: &str,
    qualifier: &str,
    req: &EventInvokeConfigRequest,
    region: &Region,
    now_epoch: f64,
) -> Result<EventInvokeRecord, Error> {
    check_put(req, region)?;
    refuse_itself(function_name, req, region)?;
    let d = req.destination_config.clone().unwrap_or_default();
    Ok(EventInvokeRecord {
        function_name: function_name.to_string(),
        qualifier: qualifier.to_string(),
        maximum_retry_attempts: req.maximum_retry_attempts.map(|n| n as u32),
        maximum_event_age_seconds: req.maximum_event_age_in_seconds.map(|n| n as u32),
        on_success: destination_of(&d.on_success),
        on_failure: destination_of(&d.on_failure),
        last_modified: now_epoch,
    })
}

/// UpdateFunctionEventInvokeConfig: what is given replaces, the rest stays.
pub fn update_record(
    rec: &mut EventInvokeRecord,
    req: &EventInvokeConfigRequest,
    region: &Region,
    now_epoch: f64,
) -> Result<(), Error> {
    validate_request(req, region)?;
    refuse_itself(&rec.function_name, req, region)?;
    if let Some(n) = req.maximum_retry_attempts {
        rec.maximum_retry_attempts = Some(n as u32);
    }
    if let Some(n) = req.maximum_event_age_in_seconds {
        rec.maximum_event_age_seconds = Some(n as u32);
    }
    if let Some(d) = &req.destination_config {
        if d.on_success.is_some() {
            rec.on_success = destination_of(&d.on_success);
        }
        if d.on_failure.is_some() {
            rec.on_failure = destination_of(&d.on_failure);
        }
    }
    rec.last_modified = now_epoch;
    Ok(())
}

/// Why an invocation record is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// The last response of an event's function, as the invocation record reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastResponse {
    pub executed_version: String,
    /// `Unhandled` (or `Handled`) when the function failed.
    pub function_error: Option<String>,
    /// The function's response (or error) payload, as it returned it.
    pub payload: String,
}

/// A JSON payload as a JSON value (a payload that is not JSON goes as a string; none as null).
fn as_json(payload: &[u8]) -> Value {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

/// The invocation record a destination receives (AWS's "version 1.0" shape). `function_arn` is
/// the invoked function's ARN qualified as the caller invoked it (`$LATEST` when unqualified);
/// `timestamp` is RFC 3339 with milliseconds. Without any response (the event never ran), the
/// record has no `responseContext`/`responsePayload`.
pub fn invocation_record(
    timestamp: &str,
    request_id: &str,
    function_arn: &str,
    condition: Condition,
    approximate_invoke_count: u32,
    request_payload: &[u8],
    response: Option<&LastResponse>,
) -> Value {
    let mut rec = json!({
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": as_json(request_payload),
    });
    if let Some(r) = response {
        let mut ctx = json!({ "statusCode": 200, "executedVersion": r.executed_version });
        if let Some(fe) = &r.function_error {
            ctx["functionError"] = Value::String(fe.clone());
        }
        rec["responseContext"] = ctx;
        rec["responsePayload"] = as_json(r.payload.as_bytes());
    }
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }

    #[test]
    fn schedule_is_awss() {
        assert_eq!(retry_delay_ms(1), 60_000);
        assert_eq!(retry_delay_ms(2), 120_000);
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(2), 2000);
        assert_eq!(backoff_ms(30), 300_000);
    }

    #[test]
    fn destinations_hako_cannot_reach_are_refused() {
        let r = region();
        for arn in [
            "arn:aws:sns:us-east-1:123456789012:t",
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
            "arn:aws:s3:::bucket",
            "kafka://topic",
        ] {
            let e = validate_destination(arn, "f", &r).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidParameterValue, "{arn}");
            assert!(e.message.contains("Hako cannot deliver"), "{arn}: {e}");
        }
        let f = validate_destination("arn:aws:lambda:us-east-1:123456789012:function:d", "f", &r)
            .unwrap()
            .unwrap();
        let Target::Function(f) = f else {
            panic!("a function: {f:?}")
        };
        assert_eq!(f.name, "d");
        assert!(validate_destination("", "f", &r).unwrap().is_none());
        let e = validate_destination("nope", "f", &r).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Validation);
        let e = validate_destination("arn:aws:lambda:eu-west-1:123456789012:function:d", "f", &r)
            .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidParameterValue);
        assert!(validate_dead_letter_target("", &r).unwrap().is_none());
        let e =
            validate_dead_letter_target("arn:aws:sns:us-east-1:123456789012:t", &r).unwrap_err();
        assert!(e.message.contains("Hako cannot deliver"));
    }

    #[test]
    fn sqs_queues_of_hakos_region_and_account_are_targets() {
        let r = region();
        let q = "arn:aws:sqs:us-east-1:123456789012:my-queue_1";
        assert_eq!(
            validate_destination(q, "f", &r).unwrap(),
            Some(Target::Queue(q.into()))
        );
        assert_eq!(validate_dead_letter_target(q, &r).unwrap(), Some(q.into()));
        let fifo = "arn:aws:sqs:us-east-1:123456789012:q.fifo";
        assert!(validate_destination(fifo, "f", &r).is_ok());
        for (arn, says) in [
            (
                "arn:aws:sqs:eu-west-1:123456789012:q",
                "its own region and account",
            ),
            (
                "arn:aws:sqs:us-east-1:999999999999:q",
                "its own region and account",
            ),
            ("arn:aws:sqs:us-east-1:123456789012:", "does not name"),
            ("arn:aws:sqs:us-east-1:123456789012:a/b", "does not name"),
        ] {
            for e in [
                validate_destination(arn, "f", &r).unwrap_err(),
                validate_dead_letter_target(arn, &r).unwrap_err(),
            ] {
                assert_eq!(e.kind, crate::ErrorKind::InvalidParameterValue, "{arn}");
                assert!(e.message.contains(says), "{arn}: {e}");
            }
        }
    }

    #[test]
    fn put_replaces_and_update_merges() {
        let r = region();
        let req = |retries, dest: Option<&str>| EventInvokeConfigRequest {
            maximum_retry_attempts: retries,
            maximum_event_age_in_seconds: None,
            destination_config: dest.map(|d| DestinationConfig {
                on_success: Some(DestinationTarget {
                    destination: Some(d.into()),
                }),
                on_failure: None,
            }),
        };
        let d = "arn:aws:lambda:us-east-1:123456789012:function:d";
        let mut rec = put_record("f", "$LATEST", &req(Some(1), Some(d)), &r, 1.0).unwrap();
        assert_eq!(rec.retry_attempts(), 1);
        assert_eq!(rec.event_age_seconds(), 21600);
        update_record(&mut rec, &req(None, None), &r, 2.0).unwrap();
        assert_eq!(rec.on_success.as_deref(), Some(d));
        assert_eq!(rec.maximum_retry_attempts, Some(1));
        // A put that sets nothing is refused; one with an empty DestinationConfig clears all.
        let e = put_record("f", "$LATEST", &req(None, None), &r, 3.0).unwrap_err();
        assert_eq!(e, nothing_to_configure());
        let empty = EventInvokeConfigRequest {
            destination_config: Some(DestinationConfig::default()),
            ..Default::default()
        };
        let rec2 = put_record("f", "$LATEST", &empty, &r, 3.0).unwrap();
        assert_eq!(rec2.on_success, None);
        assert_eq!(rec2.maximum_retry_attempts, None);
        assert!(update_record(&mut rec, &req(Some(3), None), &r, 4.0).is_err());
        assert_eq!(rec.last_modified, 2.0);
    }

    /// LocalStack's AWS-recorded `test_lambda_eventinvokeconfig_exceptions`.
    #[test]
    fn destination_errors_are_awss() {
        let r = region();
        let on_success = |d: &str| EventInvokeConfigRequest {
            destination_config: Some(DestinationConfig {
                on_success: Some(DestinationTarget {
                    destination: Some(d.into()),
                }),
                on_failure: None,
            }),
            ..Default::default()
        };
        let own = "arn:aws:lambda:us-east-1:123456789012:function:f";
        let e = put_record("f", "$LATEST", &on_success(own), &r, 1.0).unwrap_err();
        assert_eq!(
            e.message,
            "You can't specify the function as a destination for itself."
        );
        let iam = "arn:aws:iam:us-east-1:123456789012:function:f";
        let e = put_record("f", "$LATEST", &on_success(iam), &r, 1.0).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (crate::ErrorKind::InvalidParameterValue, "The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:iam:us-east-1:123456789012:function:f), onFailure=null) is invalid.")
        );
        let bad = "arn:aws:_-/!lambda:us-east-1:123456789012:function:f";
        let e = put_record("f", "$LATEST", &on_success(bad), &r, 1.0).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Validation);
        assert!(e.message.starts_with("1 validation error detected: Value 'arn:aws:_-/!lambda:us-east-1:123456789012:function:f' at 'destinationConfig.onSuccess.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: $|kafka://"), "{e}");
    }

    #[test]
    fn record_has_awss_shape() {
        let resp = LastResponse {
            executed_version: "$LATEST".into(),
            function_error: Some("Unhandled".into()),
            payload: "{\"errorMessage\":\"boom\"}".into(),
        };
        let v = invocation_record(
            "2019-11-14T18:16:05.568Z",
            "rid",
            "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
            Condition::RetriesExhausted,
            3,
            b"{\"a\":1}",
            Some(&resp),
        );
        assert_eq!(v["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(v["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(v["requestPayload"]["a"], 1);
        assert_eq!(v["responseContext"]["functionError"], "Unhandled");
        assert_eq!(v["responseContext"]["statusCode"], 200);
        assert_eq!(v["responsePayload"]["errorMessage"], "boom");
    }
}
