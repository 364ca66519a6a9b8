//! SQS's errors as data: each kind knows its code in both protocols and its HTTP status.
//!
//! SQS moved from the query protocol to JSON keeping its old error codes: botocore's model has
//! `awsQueryCompatible`, and an error of the JSON protocol carries the query code in the
//! `x-amzn-query-error: CODE;Sender` header, which botocore (`parsers.py`,
//! `_do_query_compatible_error_parse`) makes the error's `Code` (the `__type` becomes
//! `QueryErrorCode`). The pairs below are those of AWS's answers recorded in LocalStack's
//! `tests/aws/services/sqs/test_sqs.snapshot.json` (`Code` and `QueryErrorCode` of each error),
//! the rest from AWS's SQS API reference ("Errors" of each action).

use std::fmt;

/// The kinds of error SQS answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    QueueDoesNotExist,
    QueueNameExists,
    InvalidParameterValue,
    MissingParameter,
    InvalidAttributeName,
    InvalidAttributeValue,
    TooManyEntriesInBatchRequest,
    EmptyBatchRequest,
    BatchEntryIdsNotDistinct,
    InvalidBatchEntryId,
    BatchRequestTooLong,
    PurgeQueueInProgress,
    ReceiptHandleIsInvalid,
    MessageNotInflight,
    OverLimit,
    ResourceNotFound,
    UnsupportedOperation,
    InvalidMessageContents,
    Internal,
}

impl ErrorKind {
    /// The JSON protocol's `__type` (botocore's shape name, or AWS's exception name).
    pub fn json_type(self) -> &'static str {
        use ErrorKind::*;
        match self {
            QueueDoesNotExist => "QueueDoesNotExist",
            QueueNameExists => "QueueNameExists",
            InvalidParameterValue => "InvalidParameterValueException",
            MissingParameter => "MissingRequiredParameterException",
            InvalidAttributeName => "InvalidAttributeName",
            InvalidAttributeValue => "InvalidAttributeValue",
            TooManyEntriesInBatchRequest => "TooManyEntriesInBatchRequest",
            EmptyBatchRequest => "EmptyBatchRequest",
            BatchEntryIdsNotDistinct => "BatchEntryIdsNotDistinct",
            InvalidBatchEntryId => "InvalidBatchEntryId",
            BatchRequestTooLong => "BatchRequestTooLong",
            PurgeQueueInProgress => "PurgeQueueInProgress",
            ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            MessageNotInflight => "MessageNotInflight",
            OverLimit => "OverLimit",
            ResourceNotFound => "ResourceNotFoundException",
            UnsupportedOperation => "UnsupportedOperation",
            InvalidMessageContents => "InvalidMessageContents",
            Internal => "InternalError",
        }
    }

    /// The query protocol's `Code` (also the JSON protocol's `x-amzn-query-error`).
    pub fn query_code(self) -> &'static str {
        use ErrorKind::*;
        match self {
            QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            QueueNameExists => "QueueAlreadyExists",
            InvalidParameterValue => "InvalidParameterValue",
            MissingParameter => "MissingParameter",
            InvalidAttributeName => "InvalidAttributeName",
            InvalidAttributeValue => "InvalidAttributeValue",
            TooManyEntriesInBatchRequest => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            BatchEntryIdsNotDistinct => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            BatchRequestTooLong => "AWS.SimpleQueueService.BatchRequestTooLong",
            PurgeQueueInProgress => "AWS.SimpleQueueService.PurgeQueueInProgress",
            ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            OverLimit => "OverLimit",
            ResourceNotFound => "ResourceNotFoundException",
            UnsupportedOperation => "AWS.SimpleQueueService.UnsupportedOperation",
            InvalidMessageContents => "InvalidMessageContents",
            Internal => "InternalError",
        }
    }

    /// The HTTP status (AWS's API reference; 403 for PurgeQueueInProgress and 404 for
    /// ResourceNotFoundException as recorded in LocalStack's snapshots).
    pub fn status(self) -> u16 {
        use ErrorKind::*;
        match self {
            PurgeQueueInProgress | OverLimit => 403,
            ResourceNotFound | ReceiptHandleIsInvalid => 404,
            Internal => 500,
            _ => 400,
        }
    }

    /// Whether the caller is at fault (`Sender`) or SQS (`Receiver`).
    pub fn sender_fault(self) -> bool {
        self != ErrorKind::Internal
    }
}

/// An SQS error: its kind and AWS's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsError {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for SqsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.query_code(), self.message)
    }
}

impl std::error::Error for SqsError {}

impl SqsError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> SqsError {
        SqsError {
            kind,
            message: message.into(),
        }
    }

    /// "The specified queue does not exist." (AWS's JSON answer; the query protocol adds
    /// " for this wsdl version", both recorded in test_non_existent_queue).
    pub fn no_queue() -> SqsError {
        SqsError::new(
            ErrorKind::QueueDoesNotExist,
            "The specified queue does not exist.",
        )
    }

    /// `Value V for parameter P is invalid. Reason: R`, AWS's InvalidParameterValue shape.
    pub fn invalid_value(value: impl fmt::Display, parameter: &str, reason: &str) -> SqsError {
        SqsError::new(
            ErrorKind::InvalidParameterValue,
            format!("Value {value} for parameter {parameter} is invalid. Reason: {reason}"),
        )
    }

    /// "The request must contain the parameter P." (test_send_empty_message).
    pub fn missing(parameter: &str) -> SqsError {
        SqsError::new(
            ErrorKind::MissingParameter,
            format!("The request must contain the parameter {parameter}."),
        )
    }

    pub fn param(message: impl Into<String>) -> SqsError {
        SqsError::new(ErrorKind::InvalidParameterValue, message)
    }

    pub fn internal(message: impl fmt::Display) -> SqsError {
        SqsError::new(ErrorKind::Internal, format!("Internal error: {message}"))
    }
}

impl From<hako_store::service_db::sql::Error> for SqsError {
    fn from(e: hako_store::service_db::sql::Error) -> SqsError {
        tracing::error!(error = %e, "sqs storage");
        SqsError::internal(e)
    }
}
