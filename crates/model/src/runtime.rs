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
    /// Parses a runtime identifier. AWS names Hako cannot run at all (java, dotnet, ruby, go1.x)
    /// are refused here; whether the host has the interpreter is the engine's question.
    pub fn parse(name: &str) -> Result<Runtime, Error> {
        if !AWS_RUNTIMES.contains(&name) {
            return Err(crate::error::constraint(
                name,
                "runtime",
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    AWS_RUNTIMES.join(", ")
                ),
            ));
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
}
