//! Runtimes: the names AWS accepts, and which kind of process runs each.

use crate::error::Error;

/// Every runtime identifier in botocore's Lambda model.
pub const AWS_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "java8",
    "java8.al2",
    "java11",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "provided",
    "provided.al2",
    "nodejs18.x",
    "python3.10",
    "java17",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "python3.11",
    "nodejs20.x",
    "provided.al2023",
    "python3.12",
    "java21",
    "python3.13",
    "nodejs22.x",
    "nodejs24.x",
    "python3.14",
    "java25",
    "dotnet10",
    "ruby4.0",
];

/// The runtimes AWS accepts for a new function or a runtime update, in the order AWS prints them
/// when it refuses another (LocalStack's AWS-recorded `test_lambda_api.snapshot.json`,
/// `TestLambdaFunction::test_create_lambda_exceptions`, `invalid_runtime_exc`). The other names
/// of botocore's enum are deprecated: AWS refuses them with [`deprecated_runtime`].
pub const SUPPORTED_RUNTIMES: &[&str] = &[
    "nodejs20.x",
    "python3.14",
    "provided.al2023",
    "python3.12",
    "python3.13",
    "nodejs24.x",
    "nodejs22.x",
    "java25",
    "python3.10",
    "python3.11",
    "java21",
    "ruby3.3",
    "ruby3.4",
    "ruby3.2",
    "python3.8",
    "python3.9",
    "java17",
    "nodejs16.x",
    "dotnet10",
    "dotnet8",
    "java11",
    "dotnet6",
    "nodejs18.x",
    "provided.al2",
    "java8.al2",
];

/// AWS's answer (InvalidParameterValueException, Lambda's own check, hence no "1 validation
/// error detected" and the value unquoted) for a runtime it does not know:
/// `Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy
/// enum value set: [nodejs20.x, ...] or be a valid ARN` (LocalStack's AWS-recorded
/// `test_create_lambda_exceptions`, `invalid_runtime_exc`).
pub fn invalid_runtime(name: &str) -> Error {
    Error::invalid(format!(
        "Value {name} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
        SUPPORTED_RUNTIMES.join(", ")
    ))
}

/// AWS's answer for a deprecated runtime (LocalStack's AWS-recorded
/// `test_create_deprecated_function_runtime_with_validation_enabled`).
pub fn deprecated_runtime(name: &str) -> Error {
    Error::invalid(format!(
        "The runtime parameter of {name} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."
    ))
}

/// Checks a `Runtime` given to CreateFunction or UpdateFunctionConfiguration as AWS does: a
/// supported runtime passes (whether Hako can run it is [`Runtime::parse`]'s question), a
/// deprecated one (in botocore's enum, no longer supported) and an unknown one are refused.
pub fn check_new_runtime(name: &str) -> Result<(), Error> {
    if SUPPORTED_RUNTIMES.contains(&name) {
        Ok(())
    } else if AWS_RUNTIMES.contains(&name) {
        Err(deprecated_runtime(name))
    } else {
        Err(invalid_runtime(name))
    }
}

/// A runtime Hako knows how to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// `provided`, `provided.al2`, `provided.al2023`: the package's (or a layer's) `bootstrap`.
    Provided(String),
    /// `python3.N`: Hako's Python runtime client on the host's `python3.N`.
    Python { name: String, minor: u32 },
    /// `nodejsNN.x`: Hako's Node.js runtime client on the host's node of that major version.
    Node { name: String, major: u32 },
}

impl Runtime {
    /// Parses a runtime identifier of botocore's enum (a stored function's, or one
    /// [`check_new_runtime`] let through). AWS names Hako cannot run at all (java, dotnet, ruby,
    /// go1.x) are refused here; whether the host has the interpreter is the engine's question.
    pub fn parse(name: &str) -> Result<Runtime, Error> {
        if !AWS_RUNTIMES.contains(&name) {
            return Err(invalid_runtime(name));
        }
        if name.starts_with("provided") {
            return Ok(Runtime::Provided(name.to_string()));
        }
        if let Some(v) = name.strip_prefix("python3.") {
            if let Ok(minor) = v.parse() {
                return Ok(Runtime::Python {
                    name: name.to_string(),
                    minor,
                });
            }
        }
        if let Some(v) = name
            .strip_prefix("nodejs")
            .and_then(|v| v.strip_suffix(".x"))
        {
            if let Ok(major) = v.parse() {
                return Ok(Runtime::Node {
                    name: name.to_string(),
                    major,
                });
            }
        }
        Err(Error::invalid(format!(
            "The runtime parameter of {name} is not supported by Hako. Supported runtimes: provided, provided.al2, provided.al2023, python3.x and nodejsNN.x (see `hako runtimes`)."
        )))
    }

    /// The identifier as AWS spells it.
    pub fn name(&self) -> &str {
        match self {
            Runtime::Provided(n) => n,
            Runtime::Python { name, .. } => name,
            Runtime::Node { name, .. } => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families() {
        assert_eq!(
            Runtime::parse("provided.al2023").unwrap(),
            Runtime::Provided("provided.al2023".into())
        );
        assert_eq!(
            Runtime::parse("python3.11").unwrap(),
            Runtime::Python {
                name: "python3.11".into(),
                minor: 11
            }
        );
        assert_eq!(
            Runtime::parse("nodejs20.x").unwrap(),
            Runtime::Node {
                name: "nodejs20.x".into(),
                major: 20
            }
        );
        assert!(Runtime::parse("java21").is_err());
        assert!(Runtime::parse("cobol").is_err());
    }

    #[test]
    fn new_runtimes_are_checked_as_aws_does() {
        use crate::ErrorKind::InvalidParameterValue;
        assert!(check_new_runtime("python3.12").is_ok());
        assert!(
            check_new_runtime("java21").is_ok(),
            "Hako's own refusal comes later"
        );
        let e = check_new_runtime("go1.x").unwrap_err();
        assert_eq!(e.kind, InvalidParameterValue);
        assert_eq!(e.message, "The runtime parameter of go1.x is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.");
        let e = check_new_runtime("PYTHON3.9").unwrap_err();
        assert_eq!(e.kind, InvalidParameterValue);
        assert_eq!(e.message, "Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2] or be a valid ARN");
        for r in SUPPORTED_RUNTIMES {
            assert!(AWS_RUNTIMES.contains(r), "{r} is in botocore's enum");
        }
    }
}
