//! Reserved concurrency (PutFunctionConcurrency, GetFunctionConcurrency,
//! DeleteFunctionConcurrency): the wire shapes and AWS's rule that a reservation may not leave
//! fewer than [`MIN_UNRESERVED`] concurrent executions to the functions without one.

use serde::{Deserialize, Serialize};

use crate::error::{missing, Error};
use crate::validation::{shapes, Violations};

/// The account's concurrent executions that reservations must leave unreserved (AWS: 100).
pub const MIN_UNRESERVED: u64 = 100;

/// PutFunctionConcurrency's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutFunctionConcurrencyRequest {
    pub reserved_concurrent_executions: Option<i64>,
}

/// `Concurrency` (PutFunctionConcurrency's answer, GetFunction's `Concurrency`) and
/// GetFunctionConcurrency's answer: the same one member, absent when nothing is reserved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Concurrency {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
}

/// AWS's answer when PutFunctionConcurrency names a version or an alias
/// (LocalStack's AWS-recorded `test_function_concurrency_exceptions`,
/// `put_function_concurrency_with_qualified_arn`).
pub fn function_only() -> Error {
    Error::invalid(
        "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.",
    )
}

/// AWS's answer when the reservation asked for is below what the function's versions and aliases
/// have provisioned (LocalStack's AWS-recorded `test_lambda.snapshot.json`,
/// `test_reserved_provisioned_overlap`, `reserved_lower_than_provisioned_exc`; AWS's spacing).
pub fn reserved_below_provisioned(reserved: u64, provisioned: u64) -> Error {
    Error::invalid(format!(
        " ReservedConcurrentExecutions  {reserved} should not be lower than function's total provisioned concurrency [{provisioned}]."
    ))
}

/// Checks a PutFunctionConcurrency request against the account: `account_limit` concurrent
/// executions, of which `reserved_by_others` are reserved by the other functions. Returns the
/// value to store.
pub fn validate_put(
    req: &PutFunctionConcurrencyRequest,
    account_limit: u64,
    reserved_by_others: u64,
) -> Result<u32, Error> {
    let Some(n) = req.reserved_concurrent_executions else {
        return Err(missing("reservedConcurrentExecutions"));
    };
    let mut v = Violations::new();
    v.integer(
        "reservedConcurrentExecutions",
        n,
        &shapes::RESERVED_CONCURRENT_EXECUTIONS,
    );
    v.finish()?;
    let requested = u64::try_from(n).unwrap_or(u64::MAX);
    let unreserved = account_limit as i128 - reserved_by_others as i128 - requested as i128;
    if requested > 0 && unreserved < MIN_UNRESERVED as i128 {
        return Err(Error::invalid(format!(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
        )));
    }
    u32::try_from(requested).map_err(|_| {
        Error::invalid(format!(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn put(n: Option<i64>) -> PutFunctionConcurrencyRequest {
        PutFunctionConcurrencyRequest {
            reserved_concurrent_executions: n,
        }
    }

    #[test]
    fn at_least_one_hundred_stay_unreserved() {
        assert_eq!(validate_put(&put(Some(10)), 110, 0), Ok(10));
        let e = validate_put(&put(Some(11)), 110, 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
        assert_eq!(
            e.message,
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
        );
        assert!(validate_put(&put(Some(5)), 110, 6).is_err());
        assert_eq!(validate_put(&put(Some(900)), 1000, 0), Ok(900));
    }

    #[test]
    fn zero_is_always_allowed_and_negatives_are_not() {
        assert_eq!(validate_put(&put(Some(0)), 10, 0), Ok(0));
        assert_eq!(
            validate_put(&put(Some(-1)), 1000, 0).unwrap_err().kind,
            ErrorKind::Validation
        );
        assert_eq!(
            validate_put(&put(None), 1000, 0).unwrap_err().kind,
            ErrorKind::Validation
        );
        assert!(validate_put(&put(Some(i64::MAX)), 1000, 0).is_err());
    }

    #[test]
    fn concurrency_omits_an_absent_reservation() {
        let none = serde_json::to_string(&Concurrency::default()).unwrap();
        assert_eq!(none, "{}");
        let some = Concurrency {
            reserved_concurrent_executions: Some(3),
        };
        assert_eq!(
            serde_json::to_string(&some).unwrap(),
            r#"{"ReservedConcurrentExecutions":3}"#
        );
    }
}
