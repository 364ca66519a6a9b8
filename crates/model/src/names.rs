//! Function names, qualifiers and ARNs, parsed the way AWS accepts them: a bare name, `name:qualifier`,
//! a partial ARN (`123456789012:function:name`) or a full ARN, each with an optional qualifier.

use crate::error::{Error, ErrorKind};
use crate::limits::FUNCTION_NAME_MAX_CHARS;
use crate::validation::{shapes, Constraint, Violations};

/// The region and account a Hako instance answers as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub region: String,
    pub account_id: String,
}

/// Hako's defaults (`hako serve`'s `--region` and `--account-id`).
impl Default for Region {
    fn default() -> Self {
        Region {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }
}

impl Region {
    /// `arn:aws:lambda:<region>:<account>:function:<name>` (unqualified).
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, name
        )
    }
    /// The function ARN with a qualifier appended.
    pub fn qualified_arn(&self, name: &str, qualifier: &str) -> String {
        format!("{}:{}", self.function_arn(name), qualifier)
    }
}

/// A reference to a function as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_name_char)
}

fn is_valid_qualifier(s: &str) -> bool {
    s == "$LATEST" || (!s.is_empty() && s.len() <= 128 && s.chars().all(is_name_char))
}

fn pattern_error(input: &str) -> Error {
    crate::validation::violation(
        Some(input),
        "functionName",
        Constraint::Pattern(&shapes::FUNCTION_NAME_PATTERN),
    )
}

/// The parts of an ARN, `arn:<partition>:<service>:<region>:<account>:<resource>` (the resource
/// keeps any further `:`), for every service Hako serves (Lambda's own ARNs have their richer
/// parser, [`FunctionRef::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArnParts<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits `arn` into its parts; `None` unless it starts with `arn:` and has all six.
pub fn split_arn(arn: &str) -> Option<ArnParts<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    Some(ArnParts {
        partition: parts.next()?,
        service: parts.next()?,
        region: parts.next()?,
        account: parts.next()?,
        resource: parts.next()?,
    })
}

/// AWS's answer to a function ARN of another region (LocalStack's AWS-recorded `test_function_arns`,
/// `function_arn_other_region_exc`; `test_get_function_wrong_region`).
pub fn region_unreachable(from: &str, here: &str) -> Error {
    Error::not_found(format!(
        "Functions from '{from}' are not reachable in this region ('{here}')"
    ))
}

impl FunctionRef {
    /// Parses a `FunctionName` path parameter. `region` checks that a full ARN names this region
    /// and account.
    pub fn parse(input: &str, region: &Region) -> Result<FunctionRef, Error> {
        let mut v = Violations::new();
        v.string("functionName", input, &shapes::FUNCTION_NAME);
        v.finish()?;
        let parts: Vec<&str> = input.split(':').collect();
        let (name, qualifier) = if parts[0] == "arn" {
            // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
            if parts.len() < 7 || parts.len() > 8 || parts[2] != "lambda" || parts[5] != "function"
            {
                return Err(pattern_error(input));
            }
            if !parts[1].starts_with("aws") {
                return Err(pattern_error(input));
            }
            if parts[3] != region.region {
                return Err(region_unreachable(parts[3], &region.region));
            }
            if parts[4] != region.account_id {
                return Err(Error::function_not_found(input));
            }
            (parts[6], parts.get(7).copied())
        } else if parts.len() >= 3 && parts[1] == "function" {
            // ACCOUNT:function:NAME[:QUALIFIER]
            if parts.len() > 4
                || parts[0].len() != 12
                || !parts[0].chars().all(|c| c.is_ascii_digit())
            {
                return Err(pattern_error(input));
            }
            if parts[0] != region.account_id {
                return Err(Error::function_not_found(input));
            }
            (parts[2], parts.get(3).copied())
        } else if parts.len() <= 2 {
            (parts[0], parts.get(1).copied())
        } else {
            return Err(pattern_error(input));
        };
        if !is_valid_name(name) {
            return Err(pattern_error(input));
        }
        if name.len() > FUNCTION_NAME_MAX_CHARS {
            // Lambda's own check, worded as a constraint (LocalStack's AWS-recorded
            // `test_function_arns`, `long_function_name_exc`).
            let mut v = Violations::new();
            v.push(
                Some(input),
                "functionName",
                Constraint::MaxLength(FUNCTION_NAME_MAX_CHARS),
            );
            v.finish_as(ErrorKind::InvalidParameterValue)?;
        }
        if let Some(q) = qualifier {
            if !is_valid_qualifier(q) {
                return Err(pattern_error(input));
            }
        }
        Ok(FunctionRef {
            name: name.to_string(),
            qualifier: qualifier.map(str::to_string),
        })
    }

    /// Merges a qualifier given in the name with one given as the `Qualifier` parameter; AWS
    /// refuses two that differ.
    pub fn with_qualifier(mut self, param: Option<&str>) -> Result<FunctionRef, Error> {
        if let Some(p) = param {
            let mut v = Violations::new();
            v.string("qualifier", p, &shapes::QUALIFIER);
            v.finish()?;
            match &self.qualifier {
                Some(q) if q != p => {
                    return Err(Error::invalid(
                        "The derived qualifier from the function name does not match the specified qualifier.",
                    ))
                }
                _ => self.qualifier = Some(p.to_string()),
            }
        }
        Ok(self)
    }
}

/// Checks a function name given at creation (no ARN prefix accepted other than AWS's forms, no
/// qualifier allowed).
pub fn parse_new_function_name(input: &str, region: &Region) -> Result<String, Error> {
    let r = FunctionRef::parse(input, region)?;
    if r.qualifier.is_some() {
        return Err(Error::invalid(
            "Function name cannot contain a qualifier when creating a function.",
        ));
    }
    Ok(r.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region::default()
    }

    #[test]
    fn accepts_every_form_aws_accepts() {
        let r = region();
        for (input, name, q) in [
            ("f", "f", None),
            ("f:1", "f", Some("1")),
            ("f:$LATEST", "f", Some("$LATEST")),
            ("123456789012:function:f", "f", None),
            ("123456789012:function:f:prod", "f", Some("prod")),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f",
                "f",
                None,
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f:7",
                "f",
                Some("7"),
            ),
        ] {
            let got = FunctionRef::parse(input, &r).unwrap();
            assert_eq!(got.name, name, "{input}");
            assert_eq!(got.qualifier.as_deref(), q, "{input}");
        }
    }

    #[test]
    fn refuses_malformed_names() {
        let r = region();
        for input in [
            "",
            "a b",
            "f:1:2",
            "arn:aws:s3:::bucket",
            "a/b",
            "12:function:f",
        ] {
            assert!(FunctionRef::parse(input, &r).is_err(), "{input}");
        }
        let long = "a".repeat(65);
        assert!(FunctionRef::parse(&long, &r).is_err());
    }

    #[test]
    fn other_region_is_not_found() {
        let e = FunctionRef::parse(
            "arn:aws:lambda:eu-west-1:123456789012:function:f",
            &region(),
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::ResourceNotFound);
        // As AWS words it (LocalStack's AWS-recorded test_function_arns).
        assert_eq!(
            e.message,
            "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
        );
    }

    #[test]
    fn conflicting_qualifiers_are_refused() {
        let r = FunctionRef::parse("f:1", &region()).unwrap();
        assert!(r.clone().with_qualifier(Some("2")).is_err());
        assert_eq!(
            r.with_qualifier(Some("1")).unwrap().qualifier.as_deref(),
            Some("1")
        );
    }
}
