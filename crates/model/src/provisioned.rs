//! Provisioned concurrency (PutProvisionedConcurrencyConfig, GetProvisionedConcurrencyConfig,
//! DeleteProvisionedConcurrencyConfig, ListProvisionedConcurrencyConfigs): the stored shape, the
//! wire shapes of botocore's model, and the rules AWS applies, with AWS's messages.
//!
//! A configuration belongs to one qualifier of a function: a published version or an alias (an
//! alias's configuration provisions the alias's version). A version has at most one
//! configuration, on itself or on one alias pointing at it. Provisioned concurrency counts
//! against the function's reserved concurrency when it has one; otherwise it is carved out of the
//! account's unreserved pool, which must keep [`MIN_UNRESERVED`].

use serde::{Deserialize, Serialize};

use crate::concurrency::MIN_UNRESERVED;
use crate::error::{missing, Error, ErrorKind};
use crate::validation::{shapes, Violations};

/// One configuration as Hako stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedConfigRecord {
    pub function_name: String,
    /// A version number or an alias name.
    pub qualifier: String,
    pub requested: u32,
    /// `LastModified`, already formatted as the API shows it.
    pub last_modified: String,
}

/// `ProvisionedConcurrencyStatusEnum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProvisionedStatus {
    InProgress,
    Ready,
    Failed,
}

/// PutProvisionedConcurrencyConfig's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutProvisionedConcurrencyConfigRequest {
    pub provisioned_concurrent_executions: Option<i64>,
}

/// The answer of Put and Get (`PutProvisionedConcurrencyConfigResponse`,
/// `GetProvisionedConcurrencyConfigResponse`), and with `FunctionArn` an item of List
/// (`ProvisionedConcurrencyConfigListItem`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedConcurrencyConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_arn: Option<String>,
    pub requested_provisioned_concurrent_executions: u32,
    pub available_provisioned_concurrent_executions: u32,
    pub allocated_provisioned_concurrent_executions: u32,
    pub status: ProvisionedStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub last_modified: String,
}

/// ListProvisionedConcurrencyConfigs' answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListProvisionedConcurrencyConfigsResponse {
    pub provisioned_concurrency_configs: Vec<ProvisionedConcurrencyConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `MaxProvisionedConcurrencyConfigListItems`' maximum.
pub const LIST_MAX_ITEMS: usize = 50;

/// AWS's `StatusReason` when a provisioned environment fails to initialise.
pub const INIT_FAILURE_REASON: &str = "FUNCTION_ERROR_INIT_FAILURE";

/// Put on `$LATEST`.
pub fn unpublished_version() -> Error {
    Error::invalid(
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    )
}

/// Get or Delete on `$LATEST`.
pub fn not_alias_or_version() -> Error {
    Error::invalid("The function resource provided must be an alias or a published version.")
}

/// Get of a qualifier without a configuration.
pub fn config_not_found() -> Error {
    Error::new(
        ErrorKind::ProvisionedConcurrencyConfigNotFound,
        "No Provisioned Concurrency Config found for this function",
    )
}

/// Put on an alias with weighted routing.
pub fn weighted_alias() -> Error {
    Error::invalid("Alias with weights can not be used with Provisioned Concurrency")
}

/// Put on an alias whose version is provisioned already (directly or through another alias).
pub fn version_already_provisioned() -> Error {
    Error::conflict(
        "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
    )
}

/// Put on a version that an alias with a configuration points at.
pub fn version_pointed_by_alias() -> Error {
    Error::conflict("Version is pointed by a Provisioned Concurrency alias")
}

/// The `Qualifier` parameter, required by every call but List.
pub fn require_qualifier(q: Option<&str>) -> Result<&str, Error> {
    match q {
        Some(q) if !q.is_empty() => Ok(q),
        _ => Err(missing("qualifier")),
    }
}

/// The requested amount, checked as the model constrains it (`PositiveInteger`).
pub fn validate_requested(req: &PutProvisionedConcurrencyConfigRequest) -> Result<u32, Error> {
    let Some(n) = req.provisioned_concurrent_executions else {
        return Err(missing("provisionedConcurrentExecutions"));
    };
    let mut v = Violations::new();
    v.integer(
        "provisionedConcurrentExecutions",
        n,
        &shapes::POSITIVE_INTEGER,
    );
    v.finish()?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Checks a requested amount against the account. `others_of_function` is what the function's
/// other configurations provision; `reserved` the function's reserved concurrency; `carved_by_others`
/// what the other functions take out of the account's pool (their reservation, or without one
/// their provisioned concurrency).
pub fn check_limits(
    requested: u32,
    others_of_function: u64,
    reserved: Option<u32>,
    account_limit: u64,
    carved_by_others: u64,
) -> Result<(), Error> {
    let total = others_of_function + u64::from(requested);
    match reserved {
        Some(r) if total > u64::from(r) => Err(Error::invalid(
            "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function",
        )),
        Some(_) => Ok(()),
        None => {
            let left = account_limit as i128 - carved_by_others as i128 - total as i128;
            if left < MIN_UNRESERVED as i128 {
                Err(Error::invalid(format!(
                    "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
                )))
            } else {
                Ok(())
            }
        }
    }
}

/// What one function takes out of the account's pool: its reservation, or without one the sum of
/// its provisioned concurrency.
pub fn carved(reserved: Option<u32>, provisioned: u64) -> u64 {
    reserved.map_or(provisioned, u64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(n: Option<i64>) -> PutProvisionedConcurrencyConfigRequest {
        PutProvisionedConcurrencyConfigRequest {
            provisioned_concurrent_executions: n,
        }
    }

    #[test]
    fn requested_must_be_positive() {
        assert_eq!(validate_requested(&put(Some(3))), Ok(3));
        let e = validate_requested(&put(Some(0))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        assert_eq!(e.message, "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1");
        assert_eq!(
            validate_requested(&put(None)).unwrap_err().kind,
            ErrorKind::Validation
        );
    }

    #[test]
    fn limits_follow_the_reservation_or_the_unreserved_pool() {
        // Within a reservation: the sum of the function's configurations.
        assert!(check_limits(5, 5, Some(10), 1000, 0).is_ok());
        let e = check_limits(6, 5, Some(10), 1000, 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
        assert!(e.message.starts_with("Requested Provisioned Concurrency"));
        // Without one: 100 must stay unreserved.
        assert!(check_limits(10, 0, None, 110, 0).is_ok());
        let e = check_limits(11, 0, None, 110, 0).unwrap_err();
        assert_eq!(e.message, "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].");
        assert!(check_limits(5, 0, None, 110, 6).is_err());
        assert!(check_limits(u32::MAX, 0, None, 1000, 0).is_err());
        assert_eq!(carved(Some(7), 3), 7);
        assert_eq!(carved(None, 3), 3);
    }

    #[test]
    fn wire_shapes_are_botocores() {
        let c = ProvisionedConcurrencyConfig {
            function_arn: None,
            requested_provisioned_concurrent_executions: 2,
            available_provisioned_concurrent_executions: 1,
            allocated_provisioned_concurrent_executions: 1,
            status: ProvisionedStatus::InProgress,
            status_reason: None,
            last_modified: "2019-11-21T19:32:12.000+0000".into(),
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"RequestedProvisionedConcurrentExecutions":2,"AvailableProvisionedConcurrentExecutions":1,"AllocatedProvisionedConcurrentExecutions":1,"Status":"IN_PROGRESS","LastModified":"2019-11-21T19:32:12.000+0000"}"#
        );
    }
}
