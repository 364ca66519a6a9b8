//! SQS's names, ARNs, queue attributes, limits and checksums, as AWS defines them. No IO.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

use crate::error::{ErrorKind, SqsError};
use crate::wire::MessageAttributes;

/// The most entries of a batch request (AWS's quota; test_too_many_entries_in_batch_request).
pub const MAX_BATCH_ENTRIES: usize = 10;
/// The most messages in flight of a standard queue (AWS's quota).
pub const MAX_INFLIGHT_STANDARD: usize = 120_000;
/// The most messages in flight of a FIFO queue (AWS's quota).
pub const MAX_INFLIGHT_FIFO: usize = 20_000;
/// FIFO deduplication interval.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// The longest a batch request may be, all messages together (AWS's answer in
/// test_send_message_batch_with_oversized_contents).
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// The longest visibility timeout (12 hours).
pub const MAX_VISIBILITY_TIMEOUT: i64 = 43_200;

/// `arn:aws:sqs:<region>:<account>:<name>`.
pub fn queue_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

/// The name in a queue ARN (`arn:<partition>:sqs:<region>:<account>:<name>`).
pub fn name_of_arn(arn: &str) -> Option<&str> {
    let a = hako_model::names::split_arn(arn)?;
    (a.service == "sqs" && !a.resource.is_empty()).then_some(a.resource)
}

/// The queue name of a queue URL (`http://host/<account>/<name>`); a bare name is taken too.
pub fn name_of_url(url: &str) -> &str {
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// Checks a queue name: AWS's "alphanumeric characters, hyphens, or underscores, 1 to 80"
/// (a FIFO queue's name ends in `.fifo`, counted in the 80).
pub fn check_queue_name(name: &str, fifo: bool) -> Result<(), SqsError> {
    let base =
        if fifo {
            match name.strip_suffix(".fifo") {
                Some(b) => b,
                None => return Err(SqsError::param(
                    "The name of a FIFO queue can only include alphanumeric characters, hyphens, \
                     or underscores, must end with .fifo suffix and be 1 to 80 in length",
                )),
            }
        } else {
            name
        };
    let ok = !base.is_empty()
        && name.len() <= 80
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else if fifo {
        Err(SqsError::param(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or \
             underscores, must end with .fifo suffix and be 1 to 80 in length",
        ))
    } else {
        Err(SqsError::param(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

/// The attributes a queue is created with when not given (AWS's answer to
/// GetQueueAttributes(All) of a new queue, test_fifo_set_content_based_deduplication_strategy).
pub fn default_attributes(fifo: bool) -> BTreeMap<String, String> {
    let mut a: BTreeMap<String, String> = [
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "1048576"),
        ("MessageRetentionPeriod", "345600"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("SqsManagedSseEnabled", "true"),
        ("VisibilityTimeout", "30"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if fifo {
        for (k, v) in [
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "false"),
            ("DeduplicationScope", "queue"),
            ("FifoThroughputLimit", "perQueue"),
        ] {
            a.insert(k.into(), v.into());
        }
    }
    a
}

/// Attributes SQS computes, never set (InvalidAttributeName "Unknown Attribute X." when given).
const COMPUTED: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// Every attribute name GetQueueAttributes knows (botocore's `QueueAttributeName`).
pub const ALL_ATTRIBUTES: &[&str] = &[
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

const FIFO_ONLY: &[&str] = &[
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

fn invalid_attribute(name: &str) -> SqsError {
    SqsError::new(
        ErrorKind::InvalidAttributeValue,
        format!("Invalid value for the parameter {name}."),
    )
}

fn int_in(name: &str, v: &str, lo: i64, hi: i64) -> Result<(), SqsError> {
    match v.trim().parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(()),
        _ => Err(invalid_attribute(name)),
    }
}

fn boolean(name: &str, v: &str) -> Result<(), SqsError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "false" => Ok(()),
        _ => Err(invalid_attribute(name)),
    }
}

/// Checks attributes given to CreateQueue (`creating`) or SetQueueAttributes, for a queue of
/// the type `fifo`. Names first (as AWS: an unknown or computed one, or a FIFO one on a
/// standard queue, is InvalidAttributeName), then values.
pub fn check_attributes(
    attrs: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<(), SqsError> {
    for k in attrs.keys() {
        let k = k.as_str();
        if !fifo && (k == "DeduplicationScope" || k == "FifoThroughputLimit") {
            // AWS's answer in test_create_standard_queue_with_fifo_attribute_raises_error.
            return Err(SqsError::new(
                ErrorKind::InvalidAttributeName,
                format!("You can specify the {k} only when FifoQueue is set to true."),
            ));
        }
        let unknown = !ALL_ATTRIBUTES.contains(&k)
            || COMPUTED.contains(&k)
            || (!fifo && FIFO_ONLY.contains(&k))
            || (!creating && k == "FifoQueue" && !fifo);
        if unknown {
            return Err(SqsError::new(
                ErrorKind::InvalidAttributeName,
                format!("Unknown Attribute {k}."),
            ));
        }
    }
    for (k, v) in attrs {
        let k = k.as_str();
        match k {
            "DelaySeconds" => int_in(k, v, 0, 900)?,
            "MaximumMessageSize" => int_in(k, v, 1024, 1_048_576)?,
            "MessageRetentionPeriod" => int_in(k, v, 60, 1_209_600)?,
            "ReceiveMessageWaitTimeSeconds" => int_in(k, v, 0, 20)?,
            "VisibilityTimeout" => int_in(k, v, 0, MAX_VISIBILITY_TIMEOUT)?,
            "KmsDataKeyReusePeriodSeconds" => int_in(k, v, 60, 86_400)?,
            "ContentBasedDeduplication" | "SqsManagedSseEnabled" => boolean(k, v)?,
            // AWS's answer in test_set_unsupported_attribute_fifo.
            "FifoQueue" if !v.eq_ignore_ascii_case("true") => {
                return Err(SqsError::new(
                    ErrorKind::InvalidAttributeValue,
                    "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
                ));
            }
            "DeduplicationScope" if v != "messageGroup" && v != "queue" => {
                return Err(invalid_attribute(k));
            }
            "FifoThroughputLimit" if v != "perQueue" && v != "perMessageGroupId" => {
                return Err(invalid_attribute(k));
            }
            "RedrivePolicy" if !v.is_empty() => {
                RedrivePolicy::parse(v)?;
            }
            "RedriveAllowPolicy" if !v.is_empty() => check_redrive_allow(v)?,
            "Policy" if !v.is_empty() && serde_json::from_str::<serde_json::Value>(v).is_err() => {
                return Err(invalid_attribute(k));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A queue's `RedrivePolicy`: where its messages go after `max_receive_count` receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: i64,
}

impl RedrivePolicy {
    /// Parses the attribute's JSON (`maxReceiveCount` may be a number or a string, as AWS takes).
    pub fn parse(v: &str) -> Result<RedrivePolicy, SqsError> {
        let bad = || {
            SqsError::new(
                ErrorKind::InvalidAttributeValue,
                format!(
                    "Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a dictionary or the required parameters are missing: {v}"
                ),
            )
        };
        let j: serde_json::Value = serde_json::from_str(v).map_err(|_| bad())?;
        let arn = j
            .get("deadLetterTargetArn")
            .and_then(|a| a.as_str())
            .ok_or_else(bad)?;
        let count = match j.get("maxReceiveCount") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => return Err(bad()),
        };
        match count {
            Some(n) if (1..=1000).contains(&n) => Ok(RedrivePolicy {
                dead_letter_target_arn: arn.to_string(),
                max_receive_count: n,
            }),
            _ => Err(SqsError::param(format!(
                "Value {v} for parameter RedrivePolicy is invalid. Reason: Invalid value for \
                 maxReceiveCount: {}, valid values are from 1 to 1000 both inclusive.",
                j.get("maxReceiveCount")
                    .map(|c| c.to_string().trim_matches('"').to_string())
                    .unwrap_or_default()
            ))),
        }
    }
}

fn check_redrive_allow(v: &str) -> Result<(), SqsError> {
    let bad = || invalid_attribute("RedriveAllowPolicy");
    let j: serde_json::Value = serde_json::from_str(v).map_err(|_| bad())?;
    match j.get("redrivePermission").and_then(|p| p.as_str()) {
        Some("allowAll" | "denyAll") => Ok(()),
        Some("byQueue") => match j.get("sourceQueueArns").and_then(|a| a.as_array()) {
            Some(a) if !a.is_empty() && a.len() <= 10 => Ok(()),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// Whether a RedriveAllowPolicy lets `source_arn` use the queue as its dead-letter queue.
pub fn redrive_allowed(policy: Option<&str>, source_arn: &str) -> bool {
    let Some(j) = policy.and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok()) else {
        return true;
    };
    match j.get("redrivePermission").and_then(|p| p.as_str()) {
        Some("denyAll") => false,
        Some("byQueue") => j
            .get("sourceQueueArns")
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(source_arn))),
        _ => true,
    }
}

/// MD5 of a message body, lowercase hex.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

fn update_len_value(h: &mut Md5, v: &[u8]) {
    h.update((v.len() as u32).to_be_bytes());
    h.update(v);
}

/// AWS's MD5 of message attributes (the SDKs check it, e.g. the Java SDK's
/// `MessageMD5ChecksumInterceptor`): over the attributes sorted by name, each as
/// length-prefixed (4 bytes, big-endian) name and data type, then a transport byte (1 for a
/// string value, 2 for binary) and the length-prefixed value. `None` without attributes.
pub fn md5_of_attributes<'a>(
    attrs: impl IntoIterator<Item = (&'a String, (&'a str, Option<&'a str>, Option<&'a [u8]>))>,
) -> Option<String> {
    let mut h = Md5::new();
    let mut any = false;
    for (name, (data_type, s, b)) in attrs {
        any = true;
        update_len_value(&mut h, name.as_bytes());
        update_len_value(&mut h, data_type.as_bytes());
        if let Some(s) = s {
            h.update([1u8]);
            update_len_value(&mut h, s.as_bytes());
        } else if let Some(b) = b {
            h.update([2u8]);
            update_len_value(&mut h, b);
        }
    }
    any.then(|| hex::encode(h.finalize()))
}

/// [`md5_of_attributes`] of user message attributes (a `BTreeMap`, so sorted by name).
pub fn md5_of_message_attributes(attrs: &MessageAttributes) -> Option<String> {
    md5_of_attributes(attrs.iter().map(|(k, v)| {
        (
            k,
            (
                v.data_type.as_str(),
                v.string_value.as_deref(),
                v.binary_value.as_ref().map(|b| b.0.as_slice()),
            ),
        )
    }))
}

/// The size AWS counts for a message: its body and each attribute's name, type and value.
pub fn message_size(body: &str, attrs: &MessageAttributes) -> usize {
    body.len()
        + attrs
            .iter()
            .map(|(k, v)| {
                k.len()
                    + v.data_type.len()
                    + v.string_value.as_ref().map_or(0, |s| s.len())
                    + v.binary_value.as_ref().map_or(0, |b| b.0.len())
            })
            .sum::<usize>()
}

/// Whether `s` has only the characters SQS takes in a message (`#x9 | #xA | #xD | #x20` to
/// `#xD7FF | #xE000` to `#xFFFD | #x10000` to `#x10FFFF`, botocore's SendMessage documentation).
pub fn valid_message_chars(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
    })
}

/// Checks user message attributes (names, types, values) as AWS does.
pub fn check_message_attributes(attrs: &MessageAttributes) -> Result<(), SqsError> {
    if attrs.len() > 10 {
        return Err(SqsError::param(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attrs.len()
        )));
    }
    for (name, v) in attrs {
        let name_ok = !name.is_empty()
            && name.len() <= 256
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && !name.to_ascii_lowercase().starts_with("aws.")
            && !name.to_ascii_lowercase().starts_with("amazon.")
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !name_ok {
            return Err(SqsError::param(format!(
                "Message (user) attribute name '{name}' is invalid."
            )));
        }
        let base = v.data_type.split('.').next().unwrap_or_default();
        if !matches!(base, "String" | "Number" | "Binary") {
            return Err(SqsError::param(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        let has_value = match base {
            "Binary" => v.binary_value.as_ref().is_some_and(|b| !b.0.is_empty()),
            _ => v.string_value.as_ref().is_some_and(|s| !s.is_empty()),
        };
        if !has_value {
            // AWS's answer in test_send_message_with_empty_string_attribute.
            let kind = if base == "Binary" { "Binary" } else { "String" };
            return Err(SqsError::param(format!(
                "Message (user) attribute '{name}' must contain a non-empty value of type '{kind}'."
            )));
        }
        if base == "Number" {
            let s = v.string_value.as_deref().unwrap_or_default();
            if s.trim().parse::<f64>().is_err() {
                return Err(SqsError::param(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
        }
        if let Some(s) = &v.string_value {
            if !valid_message_chars(s) {
                return Err(SqsError::new(
                    ErrorKind::InvalidMessageContents,
                    format!("Message (user) attribute '{name}' contains invalid characters."),
                ));
            }
        }
    }
    Ok(())
}

/// Checks a MessageGroupId or MessageDeduplicationId: 1 to 128 alphanumeric or punctuation
/// characters (AWS's answers in test_message_deduplication_id_invalid and
/// test_send_message_to_standard_queue_with_invalid_message_group_id).
pub fn check_fifo_id(parameter: &str, v: &str) -> Result<(), SqsError> {
    let ok = !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(SqsError::invalid_value(
            v,
            parameter,
            &format!(
                "{parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."
            ),
        ))
    }
}

/// Checks a batch entry id: alphanumeric, hyphens and underscores, at most 80 (AWS's answer in
/// test_invalid_batch_id).
pub fn check_batch_id(id: &str) -> Result<(), SqsError> {
    let ok = !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SqsError::new(
            ErrorKind::InvalidBatchEntryId,
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
        ))
    }
}

/// Checks a batch's entry count and ids: none (EmptyBatchRequest), more than ten (AWS's answer in
/// test_too_many_entries_in_batch_request), a malformed id, or two equal ids.
pub fn check_batch<'a>(
    entry: &str,
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), SqsError> {
    let n = ids.len();
    if n == 0 {
        return Err(SqsError::new(
            ErrorKind::EmptyBatchRequest,
            format!("There should be at least one {entry} in the request."),
        ));
    }
    if n > MAX_BATCH_ENTRIES {
        return Err(SqsError::new(
            ErrorKind::TooManyEntriesInBatchRequest,
            format!(
                "Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {n}."
            ),
        ));
    }
    let mut seen: Vec<&str> = Vec::with_capacity(n);
    for id in ids {
        check_batch_id(id)?;
        if seen.contains(&id) {
            return Err(SqsError::new(
                ErrorKind::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
        seen.push(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Blob, MessageAttributeValue};

    #[test]
    fn md5_of_attributes_is_awss() {
        // The value boto3/botocore and moto agree on for one String attribute
        // (moto's test_sqs: {"timestamp": {"StringValue": "1493147359900", "DataType": "Number"}}
        // -> "235c5c510d26fb653d073faed50ae77c").
        let mut a = MessageAttributes::new();
        a.insert(
            "timestamp".into(),
            MessageAttributeValue {
                string_value: Some("1493147359900".into()),
                data_type: "Number".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            md5_of_message_attributes(&a).as_deref(),
            Some("235c5c510d26fb653d073faed50ae77c")
        );
        assert_eq!(md5_of_message_attributes(&MessageAttributes::new()), None);
        let mut b = MessageAttributes::new();
        b.insert(
            "b".into(),
            MessageAttributeValue {
                binary_value: Some(Blob(vec![1, 2, 3])),
                data_type: "Binary".into(),
                ..Default::default()
            },
        );
        assert!(md5_of_message_attributes(&b).is_some());
    }

    #[test]
    fn names_and_arns() {
        assert_eq!(
            name_of_arn("arn:aws:sqs:us-east-1:123456789012:q1"),
            Some("q1")
        );
        assert_eq!(name_of_arn("arn:aws:sns:us-east-1:1:q1"), None);
        assert_eq!(
            name_of_url("http://localhost:9000/123456789012/q.fifo"),
            "q.fifo"
        );
        assert!(check_queue_name("a-b_c", false).is_ok());
        assert!(check_queue_name("a.fifo", false).is_err());
        assert!(check_queue_name("a.fifo", true).is_ok());
        assert!(check_queue_name("a", true).is_err());
        assert!(check_queue_name(&"x".repeat(81), false).is_err());
    }

    #[test]
    fn attributes_are_checked_as_aws_does() {
        let a = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(check_attributes(&a("VisibilityTimeout", "43200"), false, true).is_ok());
        let e = check_attributes(&a("VisibilityTimeout", "43201"), false, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidAttributeValue);
        let e = check_attributes(&a("ContentBasedDeduplication", "true"), false, true).unwrap_err();
        assert_eq!(e.message, "Unknown Attribute ContentBasedDeduplication.");
        let e = check_attributes(&a("DeduplicationScope", "queue"), false, true).unwrap_err();
        assert_eq!(
            e.message,
            "You can specify the DeduplicationScope only when FifoQueue is set to true."
        );
        let e = check_attributes(&a("QueueArn", "x"), false, false).unwrap_err();
        assert_eq!(e.message, "Unknown Attribute QueueArn.");
        let rp = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":"0"}"#;
        let e = check_attributes(&a("RedrivePolicy", rp), false, true).unwrap_err();
        assert!(e.message.contains("valid values are from 1 to 1000"), "{e}");
        let rp = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":3}"#;
        assert_eq!(RedrivePolicy::parse(rp).unwrap().max_receive_count, 3);
    }

    #[test]
    fn message_attributes_are_checked() {
        let mut a = MessageAttributes::new();
        a.insert(
            "ErrorDetails".into(),
            MessageAttributeValue {
                string_value: Some(String::new()),
                data_type: "String".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            check_message_attributes(&a).unwrap_err().message,
            "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."
        );
        assert!(check_fifo_id("MessageGroupId", "group 123").is_err());
        assert!(check_fifo_id("MessageGroupId", "g-1!").is_ok());
        assert!(check_batch("E", ["a", "a"].into_iter()).is_err());
        assert!(check_batch("E", std::iter::empty()).is_err());
        assert!(valid_message_chars("héllo\n"));
        assert!(!valid_message_chars("\u{1}"));
    }
}
