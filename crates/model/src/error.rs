//! Domain errors. Each carries the kind of failure (which the control plane maps to an AWS error
//! type and status, in one place) and a message in AWS's words.

use std::fmt;

/// What went wrong, in the terms of the Lambda API (not yet its HTTP shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A parameter has a wrong value (AWS: InvalidParameterValueException).
    InvalidParameterValue,
    /// A value breaks a model constraint (AWS: ValidationException).
    Validation,
    /// The request body could not be parsed (AWS: InvalidRequestContentException).
    InvalidRequestContent,
    /// The named resource does not exist (AWS: ResourceNotFoundException).
    ResourceNotFound,
    /// The resource exists already or is busy (AWS: ResourceConflictException).
    ResourceConflict,
    /// No provisioned concurrency configuration for the qualifier (AWS:
    /// ProvisionedConcurrencyConfigNotFoundException).
    ProvisionedConcurrencyConfigNotFound,
    /// A RevisionId did not match (AWS: PreconditionFailedException).
    PreconditionFailed,
    /// The request payload is too large (AWS: RequestTooLargeException).
    RequestTooLarge,
    /// The zip archive is broken or hostile (AWS: InvalidZipFileException).
    InvalidZipFile,
    /// The code is larger than the limits (AWS: CodeStorageExceededException).
    CodeStorageExceeded,
    /// Too many requests (AWS: TooManyRequestsException).
    TooManyRequests,
    /// The Content-Type is not accepted (AWS: UnsupportedMediaTypeException).
    UnsupportedMediaType,
    /// The runtime cannot run here (AWS: InvalidRuntimeException).
    InvalidRuntime,
    /// The caller's policies do not allow the request (AWS: AccessDeniedException).
    AccessDenied,
    /// An operation Hako does not implement yet.
    NotImplemented,
    /// Something broke inside Hako (AWS: ServiceException).
    Service,
}

/// A domain error with AWS's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// For throttling: AWS's `Reason` field.
    pub reason: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            reason: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameterValue, message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceConflict, message)
    }
    pub fn service(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Service, message)
    }
    /// AWS's "Function not found" message for a function ARN.
    pub fn function_not_found(arn: &str) -> Self {
        Self::not_found(format!("Function not found: {arn}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// AWS's message for a required member that is missing: `Value null at 'field' failed to satisfy
/// constraint: Member must not be null` (`null` unquoted, as in LocalStack's AWS-recorded
/// `test_tag_exceptions`: "Value null at 'tagKeys' ...").
pub fn missing(field: &str) -> Error {
    crate::validation::violation(None, field, crate::validation::Constraint::NotNull)
}
