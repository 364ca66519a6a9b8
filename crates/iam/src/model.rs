//! IAM's model: role and policy records, names and ARNs, the shapes of botocore's
//! `iam/2010-05-08/service-2.json` that Hako checks, and IAM's errors with AWS's codes, statuses
//! and messages.

use hako_model::validation::{Pattern, Shape, Violations};
use serde::{Deserialize, Serialize};

/// An IAM error as the query protocol answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamError {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
}

impl IamError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> IamError {
        IamError {
            code,
            status,
            message: message.into(),
        }
    }

    pub fn no_such_entity(message: impl Into<String>) -> IamError {
        IamError::new("NoSuchEntity", 404, message)
    }

    pub fn already_exists(message: impl Into<String>) -> IamError {
        IamError::new("EntityAlreadyExists", 409, message)
    }

    pub fn malformed(message: impl Into<String>) -> IamError {
        IamError::new("MalformedPolicyDocument", 400, message)
    }

    pub fn delete_conflict(message: impl Into<String>) -> IamError {
        IamError::new("DeleteConflict", 409, message)
    }

    pub fn limit_exceeded(message: impl Into<String>) -> IamError {
        IamError::new("LimitExceeded", 409, message)
    }

    pub fn validation(message: impl Into<String>) -> IamError {
        IamError::new("ValidationError", 400, message)
    }

    pub fn invalid_input(message: impl Into<String>) -> IamError {
        IamError::new("InvalidInput", 400, message)
    }

    pub fn internal(message: impl Into<String>) -> IamError {
        IamError::new("ServiceFailure", 500, message)
    }
}

impl From<hako_model::Error> for IamError {
    fn from(e: hako_model::Error) -> IamError {
        match e.kind {
            hako_model::ErrorKind::Validation => IamError::validation(e.message),
            hako_model::ErrorKind::Service => IamError::internal(e.message),
            _ => IamError::invalid_input(e.message),
        }
    }
}

impl From<crate::policy::Malformed> for IamError {
    fn from(m: crate::policy::Malformed) -> IamError {
        IamError::malformed(m.0)
    }
}

// AWS's messages. Recorded against AWS (LocalStack's `tests/aws/services/iam/test_iam.snapshot.json`):
// a policy that is no JSON, a missing policy, a policy that cannot be attached. The others are
// the texts AWS answers as the aws CLI prints them ("An error occurred (NoSuchEntity) when
// calling the GetRole operation: The role with name X cannot be found.", ...), the same in
// every independent emulator that records them.

pub fn role_not_found(name: &str) -> IamError {
    IamError::no_such_entity(format!("The role with name {name} cannot be found."))
}

pub fn role_exists(name: &str) -> IamError {
    IamError::already_exists(format!("Role with name {name} already exists."))
}

pub fn role_policy_not_found(name: &str) -> IamError {
    IamError::no_such_entity(format!("The role policy with name {name} cannot be found."))
}

pub fn policy_not_found(arn: &str) -> IamError {
    IamError::no_such_entity(format!("Policy {arn} was not found."))
}

pub fn policy_not_attachable(arn: &str) -> IamError {
    IamError::no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

pub fn policy_exists(name: &str) -> IamError {
    IamError::already_exists(format!(
        "A policy called {name} already exists. Duplicate names are not allowed."
    ))
}

pub fn policy_version_not_found(arn: &str, version: &str) -> IamError {
    IamError::no_such_entity(format!(
        "Policy {arn} version {version} does not exist or is not attachable."
    ))
}

pub fn must_detach_policies() -> IamError {
    IamError::delete_conflict("Cannot delete entity, must detach all policies first.")
}

pub fn must_delete_policies() -> IamError {
    IamError::delete_conflict("Cannot delete entity, must delete policies first.")
}

pub fn policy_attached() -> IamError {
    IamError::delete_conflict("Cannot delete a policy attached to entities.")
}

pub fn too_many_versions() -> IamError {
    IamError::limit_exceeded(
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
    )
}

/// The most versions a managed policy keeps (AWS: 5).
pub const MAX_POLICY_VERSIONS: usize = 5;

/// A role as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub create_date: String,
    /// The trust policy as given (JSON text).
    pub assume_role_policy_document: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// A customer managed policy as stored (its versions are rows of their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub default_version: String,
    /// The number of the next version (`v2` after creation).
    pub next_version: u32,
    pub create_date: String,
    pub update_date: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: String,
    pub is_default: bool,
    pub create_date: String,
}

/// A managed policy as the API shows it (customer managed, or AWS's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub default_version: String,
    pub attachment_count: i64,
    pub create_date: String,
    pub update_date: String,
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
}

static NAME_PATTERN: Pattern = Pattern::new(r"[\w+=,.@-]+");

/// `roleNameType`.
pub static ROLE_NAME: Shape = Shape {
    max_len: Some(64),
    min_len: Some(1),
    pattern: Some(&NAME_PATTERN),
    ..Shape::NONE
};

/// `policyNameType`.
pub static POLICY_NAME: Shape = Shape {
    max_len: Some(128),
    min_len: Some(1),
    pattern: Some(&NAME_PATTERN),
    ..Shape::NONE
};

static PATH_PATTERN: Pattern = Pattern::equivalent(
    r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
    r"(/)|(/[\x21-\x7E]+/)",
);

/// `pathType`.
pub static PATH: Shape = Shape {
    max_len: Some(512),
    min_len: Some(1),
    pattern: Some(&PATH_PATTERN),
    ..Shape::NONE
};

static DOCUMENT_PATTERN: Pattern = Pattern::equivalent(
    r"[\u0009\u000A\u000D\u0020-\u00FF]+",
    r"[\x09\x0A\x0D\x20-\xFF]+",
);

/// `policyDocumentType`.
pub static POLICY_DOCUMENT: Shape = Shape {
    max_len: Some(131_072),
    min_len: Some(1),
    pattern: Some(&DOCUMENT_PATTERN),
    ..Shape::NONE
};

/// `arnType`.
pub static ARN: Shape = Shape {
    max_len: Some(2048),
    min_len: Some(20),
    ..Shape::NONE
};

/// `roleDescriptionType` / `policyDescriptionType` (length only).
pub static DESCRIPTION: Shape = Shape {
    max_len: Some(1000),
    ..Shape::NONE
};

/// A required string member: its value, or `Value null at '...'`.
pub fn required<'a>(
    v: &mut Violations,
    path: &str,
    value: Option<&'a str>,
    shape: &'static Shape,
) -> Option<&'a str> {
    let value = v.required(path, value);
    if let Some(s) = value {
        v.string(path, s, shape);
    }
    value
}

/// A new unique id with IAM's prefix (`AROA` roles, `ANPA` policies): 21 upper-case letters and
/// digits, as AWS's.
pub fn new_id(prefix: &str, mut random: impl FnMut() -> u32) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut id = String::from(prefix);
    while id.len() < 21 {
        id.push(CHARS[(random() as usize) % CHARS.len()] as char);
    }
    id
}

/// IAM's timestamps: ISO 8601, seconds, `Z`.
pub fn format_time(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

/// A document as IAM answers it: URL-encoded (RFC 3986 unreserved characters kept), which
/// botocore decodes (`json_decode_policies`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_encoding() {
        let mut n = 0u32;
        let id = new_id("AROA", || {
            n += 1;
            n
        });
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AROA"));
        assert_eq!(
            url_encode(r#"{"a": "b/c"}"#),
            "%7B%22a%22%3A%20%22b%2Fc%22%7D"
        );
    }

    #[test]
    fn names_are_checked_against_the_model() {
        let mut v = Violations::new();
        required(&mut v, "roleName", Some("bad name"), &ROLE_NAME);
        let e = IamError::from(v.finish().unwrap_err());
        assert_eq!(e.code, "ValidationError");
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        );
        let mut v = Violations::new();
        v.string("path", "/a/b/", &PATH);
        v.string("path", "/", &PATH);
        assert!(v.finish().is_ok());
        let mut v = Violations::new();
        v.string("path", "a", &PATH);
        assert!(v.finish().is_err());
    }
}
