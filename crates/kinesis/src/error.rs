//! Kinesis's errors as data: AWS's exception name and message. The binding (`api/`) gives them
//! their wire shape; the application layer only says which one and in what words.
//!
//! Messages come from what AWS answered: kinesalite's tests (run against AWS by their author),
//! LocalStack's AWS-recorded snapshots (`tests/aws/services/kinesis/test_kinesis.snapshot.json`)
//! and AWS's API reference. Where no recorded answer exists the constructor says so.

use std::fmt;

/// The exceptions Kinesis answers (botocore's `kinesis/2013-12-02` error shapes, and the
/// framework's `ValidationException` / `SerializationException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    ResourceNotFound,
    ResourceInUse,
    InvalidArgument,
    ExpiredIterator,
    LimitExceeded,
    ProvisionedThroughputExceeded,
    Validation,
    Serialization,
    UnknownOperation,
    InternalFailure,
}

impl Code {
    /// AWS's name of the exception (`__type`).
    pub fn name(self) -> &'static str {
        match self {
            Code::ResourceNotFound => "ResourceNotFoundException",
            Code::ResourceInUse => "ResourceInUseException",
            Code::InvalidArgument => "InvalidArgumentException",
            Code::ExpiredIterator => "ExpiredIteratorException",
            Code::LimitExceeded => "LimitExceededException",
            Code::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            Code::Validation => "ValidationException",
            Code::Serialization => "SerializationException",
            Code::UnknownOperation => "UnknownOperationException",
            Code::InternalFailure => "InternalFailure",
        }
    }

    /// The HTTP status AWS answers it with (400 for every client error of Kinesis).
    pub fn status(self) -> u16 {
        match self {
            Code::InternalFailure => 500,
            _ => 400,
        }
    }
}

/// One error of a Kinesis operation.
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

    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(Code::InvalidArgument, message)
    }

    /// A stream that does not exist (or is not ACTIVE for a data operation): LocalStack's
    /// AWS-recorded `test_cbor_exceptions` ("Stream wrong-stream-name under account
    /// 111111111111 not found.").
    pub fn stream_not_found(name: &str, account: &str) -> Error {
        Error::new(
            Code::ResourceNotFound,
            format!("Stream {name} under account {account} not found."),
        )
    }

    /// CreateStream of a name in use (kinesalite's `createStream`, tested against AWS).
    pub fn stream_exists(name: &str, account: &str) -> Error {
        Error::new(
            Code::ResourceInUse,
            format!("Stream {name} under account {account} already exists."),
        )
    }

    /// An operation that needs the stream ACTIVE (kinesalite's `mergeShards`/`splitShard`).
    pub fn stream_not_active(name: &str, account: &str, status: &str) -> Error {
        Error::new(
            Code::ResourceInUse,
            format!("Stream {name} under account {account} not ACTIVE, instead in state {status}"),
        )
    }

    /// GetShardIterator on a shard the stream does not have (kinesalite's `getShardIterator`).
    pub fn shard_not_found(shard_id: &str, stream: &str, account: &str) -> Error {
        Error::new(
            Code::ResourceNotFound,
            format!("Could not find shard {shard_id} in stream {stream} under account {account}."),
        )
    }

    /// GetRecords with an iterator of a shard or stream that is gone (kinesalite's `getRecords`).
    pub fn shard_gone(shard_id: &str, stream: &str, account: &str) -> Error {
        Error::new(
            Code::ResourceNotFound,
            format!("Shard {shard_id} in stream {stream} under account {account} does not exist"),
        )
    }

    /// An iterator that does not decode (kinesalite's `getRecords`).
    pub fn invalid_iterator() -> Error {
        Error::invalid_argument("Invalid ShardIterator.")
    }

    /// An operation Hako does not serve yet (resharding, enhanced fan-out, ...).
    pub fn not_supported(operation: &str) -> Error {
        Error::new(
            Code::UnknownOperation,
            format!(
                "Hako's Kinesis does not support {operation} yet (no resharding, enhanced \
                 fan-out, encryption or resource policies); see Hako's README"
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(Code::InternalFailure, message)
    }
}

impl From<hako_store::service_db::sql::Error> for Error {
    fn from(e: hako_store::service_db::sql::Error) -> Self {
        tracing::error!(error = %e, "kinesis database");
        Error::internal(format!("Hako's Kinesis database failed: {e}"))
    }
}

impl From<hako_model::Error> for Error {
    /// The model's validation answers (`N validation errors detected: ...`).
    fn from(e: hako_model::Error) -> Self {
        let code = match e.kind {
            hako_model::ErrorKind::Validation => Code::Validation,
            _ => Code::InvalidArgument,
        };
        Error::new(code, e.message)
    }
}
