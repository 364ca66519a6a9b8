//! CloudWatch Logs' errors as data: AWS's exception name and message. The binding (`api`) gives
//! them their wire shape; the application layer only says which one and in what words.
//!
//! Messages come from LocalStack's AWS-recorded snapshots (`tests/aws/services/logs/*.snapshot.json`
//! of `localstack/localstack`), cited at each constructor. Where no recorded answer exists the
//! constructor says so and the wording is Hako's.

use std::fmt;

/// The exceptions Logs answers (botocore's `logs/2014-03-28` error shapes, and the framework's
/// `SerializationException` / `UnknownOperationException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    ResourceNotFound,
    ResourceAlreadyExists,
    InvalidParameter,
    Validation,
    LimitExceeded,
    TooManyTags,
    Serialization,
    UnknownOperation,
    ServiceUnavailable,
}

impl Code {
    /// AWS's name of the exception (`__type`).
    pub fn name(self) -> &'static str {
        match self {
            Code::ResourceNotFound => "ResourceNotFoundException",
            Code::ResourceAlreadyExists => "ResourceAlreadyExistsException",
            Code::InvalidParameter => "InvalidParameterException",
            Code::Validation => "ValidationException",
            Code::LimitExceeded => "LimitExceededException",
            Code::TooManyTags => "TooManyTagsException",
            Code::Serialization => "SerializationException",
            Code::UnknownOperation => "UnknownOperationException",
            Code::ServiceUnavailable => "ServiceUnavailableException",
        }
    }

    /// The HTTP status (400 for every client error; the recorded answers say 400).
    pub fn status(self) -> u16 {
        match self {
            Code::ServiceUnavailable => 500,
            _ => 400,
        }
    }
}

/// One error of a Logs operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Code::InvalidParameter, message)
    }

    /// `test_logs_events.snapshot.json`, `test_resource_does_not_exist`.
    pub fn group_not_found() -> Error {
        Error::new(
            Code::ResourceNotFound,
            "The specified log group does not exist.",
        )
    }

    /// `test_logs_events.snapshot.json`, `test_put_log_events_to_invalid_stream`.
    pub fn stream_not_found() -> Error {
        Error::new(
            Code::ResourceNotFound,
            "The specified log stream does not exist.",
        )
    }

    /// `test_logs_groups.snapshot.json`, `test_create_log_group_duplicate_error` (no period).
    pub fn group_exists() -> Error {
        Error::new(
            Code::ResourceAlreadyExists,
            "The specified log group already exists",
        )
    }

    /// `test_logs_streams.snapshot.json`, `test_create_log_stream_duplicate_error`.
    pub fn stream_exists() -> Error {
        Error::new(
            Code::ResourceAlreadyExists,
            "The specified log stream already exists",
        )
    }

    /// `test_logs_groups.snapshot.json`, `test_create_log_group_invalid_name_length`.
    pub fn name_too_long() -> Error {
        Error::invalid(
            "Invalid LogGroup or LogStream, both must have length less than or equal to 512.",
        )
    }

    /// `test_logs_events.snapshot.json`, `test_get_log_events_invalid_token`, and
    /// `test_logs_filter_events.snapshot.json`, `test_filter_log_events_unknown_token`.
    pub fn invalid_token() -> Error {
        Error::invalid("The specified nextToken is invalid.")
    }

    /// `test_logs_events.snapshot.json`, `test_put_log_events_wrong_order`.
    pub fn not_chronological() -> Error {
        Error::invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        )
    }

    /// `test_logs_groups.snapshot.json`, `test_describe_log_groups_prefix_and_pattern_error`.
    pub fn prefix_and_pattern() -> Error {
        Error::invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        )
    }

    /// `test_logs_streams.snapshot.json`, `test_describe_log_streams_with_log_group_identifier`
    /// (a ValidationException, unlike the others).
    pub fn name_and_identifier() -> Error {
        Error::new(
            Code::Validation,
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )
    }

    /// A term of a filter pattern with a character that must be quoted: the wording AWS answers
    /// (`Invalid character(s) in term ':'`), reported from real AWS by several users (no
    /// LocalStack recording).
    pub fn bad_term(chars: &str) -> Error {
        Error::invalid(format!("Invalid character(s) in term '{chars}'"))
    }

    pub fn unknown_operation(op: &str) -> Error {
        Error::new(
            Code::UnknownOperation,
            format!("Hako's CloudWatch Logs does not know the operation '{op}'"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(Code::ServiceUnavailable, message)
    }
}

impl From<hako_store::service_db::sql::Error> for Error {
    fn from(e: hako_store::service_db::sql::Error) -> Self {
        tracing::error!(error = %e, "logs database");
        Error::internal(format!("Hako's CloudWatch Logs database failed: {e}"))
    }
}

impl From<hako_model::Error> for Error {
    /// The model's validation answers (`1 validation error detected: ...`), which CloudWatch
    /// Logs answers as InvalidParameterException (`test_logs_events.snapshot.json`,
    /// `test_get_log_events_limit_validation`).
    fn from(e: hako_model::Error) -> Self {
        Error::invalid(e.message)
    }
}
