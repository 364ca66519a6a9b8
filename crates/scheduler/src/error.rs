//! EventBridge Scheduler's errors as data: AWS's exception name, status and message. The binding
//! (`api.rs`) gives them their wire shape.
//!
//! Messages come from LocalStack's AWS-recorded snapshots
//! (`tests/aws/services/scheduler/test_scheduler.snapshot.json`); where no recorded answer exists
//! the constructor says so.

use std::fmt;

/// The exceptions of botocore's `scheduler/2021-06-30` model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Validation,
    Conflict,
    ResourceNotFound,
    ServiceQuotaExceeded,
    InternalServer,
}

impl Code {
    pub fn name(self) -> &'static str {
        match self {
            Code::Validation => "ValidationException",
            Code::Conflict => "ConflictException",
            Code::ResourceNotFound => "ResourceNotFoundException",
            Code::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            Code::InternalServer => "InternalServerException",
        }
    }

    /// botocore's `httpStatusCode` of the shape.
    pub fn status(self) -> u16 {
        match self {
            Code::Validation => 400,
            Code::Conflict => 409,
            Code::ResourceNotFound => 404,
            Code::ServiceQuotaExceeded => 402,
            Code::InternalServer => 500,
        }
    }
}

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

    pub fn validation(message: impl Into<String>) -> Error {
        Error::new(Code::Validation, message)
    }

    /// A schedule that does not exist: LocalStack's AWS-recorded `test_get_schedule_not_found`
    /// and `test_delete_schedule_not_found` ("Schedule not-existing-schedule-name does not
    /// exist.").
    pub fn schedule_not_found(name: &str) -> Error {
        Error::new(
            Code::ResourceNotFound,
            format!("Schedule {name} does not exist."),
        )
    }

    /// A schedule group that does not exist. No AWS-recorded answer: worded like the schedule's.
    pub fn group_not_found(name: &str) -> Error {
        Error::new(
            Code::ResourceNotFound,
            format!("Schedule group {name} does not exist."),
        )
    }

    /// CreateSchedule of a name in use in its group. No AWS-recorded answer (moto words it so).
    pub fn schedule_exists(name: &str) -> Error {
        Error::new(Code::Conflict, format!("Schedule {name} already exists."))
    }

    /// CreateScheduleGroup of a name in use. No AWS-recorded answer: worded like the schedule's.
    pub fn group_exists(name: &str) -> Error {
        Error::new(
            Code::Conflict,
            format!("Schedule group {name} already exists."),
        )
    }

    /// DeleteScheduleGroup of `default`, which always exists. No AWS-recorded answer.
    pub fn default_group_kept() -> Error {
        Error::validation("The default schedule group cannot be deleted.")
    }

    /// A `ScheduleExpressionTimezone` that is not an IANA time zone. No AWS-recorded answer.
    pub fn invalid_timezone(tz: &str) -> Error {
        Error::validation(format!("Invalid time zone: {tz}."))
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(Code::InternalServer, message)
    }
}

impl From<hako_store::service_db::sql::Error> for Error {
    fn from(e: hako_store::service_db::sql::Error) -> Self {
        tracing::error!(error = %e, "scheduler database");
        Error::internal(format!("Hako's Scheduler database failed: {e}"))
    }
}

impl From<hako_model::Error> for Error {
    /// The model's validation answers (`N validation errors detected: ...`).
    fn from(e: hako_model::Error) -> Self {
        Error::validation(e.message)
    }
}
