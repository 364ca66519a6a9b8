//! Who a request comes from, once its signature is verified: the front door puts a
//! [`Principal`] in every verified request's extensions, for services (STS's
//! GetCallerIdentity) and authorization (IAM) to read.

use std::ops::Deref;
use std::sync::Arc;

/// The verified caller of a request. Cheap to clone (an `Arc`); read its fields through
/// [`Identity`] (`principal.arn`, `principal.kind`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(Arc<Identity>);

/// What a principal is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The access key id the request was signed with.
    pub access_key: String,
    /// The account (12 digits).
    pub account: String,
    /// The principal's ARN as STS's GetCallerIdentity answers it: `arn:aws:iam::ACCOUNT:root`,
    /// or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION` for a function's credentials.
    pub arn: String,
    /// GetCallerIdentity's `UserId`: the account id for root, `AROA...:FUNCTION` for a
    /// function's role session.
    pub user_id: String,
    pub kind: PrincipalKind,
}

/// The kinds of principals Hako knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root credentials (`HAKO_ACCESS_KEY_ID`, or generated at first start).
    Root,
    /// The temporary credentials of a function's sandbox: a session of the function's role.
    Function {
        /// The function's unqualified ARN.
        function_arn: String,
        /// The function's execution role (as configured: Hako does not check it exists yet).
        role_arn: String,
    },
}

impl Principal {
    /// The account's root user.
    pub fn root(account: &str, access_key: &str) -> Principal {
        Principal(Arc::new(Identity {
            access_key: access_key.to_string(),
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:root"),
            user_id: account.to_string(),
            kind: PrincipalKind::Root,
        }))
    }

    /// A session of `role_arn` named after the function (as Lambda names its role sessions:
    /// the function's name).
    pub fn function(
        account: &str,
        access_key: &str,
        function_arn: &str,
        role_arn: &str,
    ) -> Principal {
        let function_name = function_name_of(function_arn);
        let role_name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        Principal(Arc::new(Identity {
            access_key: access_key.to_string(),
            account: account.to_string(),
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{function_name}"),
            user_id: format!("{}:{function_name}", role_id(role_arn)),
            kind: PrincipalKind::Function {
                function_arn: unqualified(function_arn).to_string(),
                role_arn: role_arn.to_string(),
            },
        }))
    }
}

impl Deref for Principal {
    type Target = Identity;
    fn deref(&self) -> &Identity {
        &self.0
    }
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` without its qualifier.
pub(crate) fn unqualified(function_arn: &str) -> &str {
    let mut colons = function_arn.match_indices(':').map(|(i, _)| i);
    match colons.nth(6) {
        Some(i) => &function_arn[..i],
        None => function_arn,
    }
}

/// The function name of a function ARN (or the string itself when it is no ARN).
pub(crate) fn function_name_of(function_arn: &str) -> &str {
    let arn = unqualified(function_arn);
    arn.rsplit(':').next().unwrap_or(arn)
}

/// A role's unique id as IAM shows it (`AROA` and 17 characters). Hako's IAM does not keep
/// roles' ids yet: the id is derived from the role's ARN, so it is stable across restarts.
pub fn role_id(role_arn: &str) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(role_arn.as_bytes());
    let mut id = String::from("AROA");
    id.extend(
        digest
            .iter()
            .take(17)
            .map(|b| ALPHABET[(*b & 31) as usize] as char),
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_function_principals_are_named_as_sts_names_them() {
        let root = Principal::root("123456789012", "AKIAEXAMPLE");
        assert_eq!(root.arn, "arn:aws:iam::123456789012:root");
        assert_eq!(root.user_id, "123456789012");
        let f = Principal::function(
            "123456789012",
            "ASIAEXAMPLE",
            "arn:aws:lambda:us-east-1:123456789012:function:my-fn:3",
            "arn:aws:iam::123456789012:role/service/my-role",
        );
        assert_eq!(
            f.arn,
            "arn:aws:sts::123456789012:assumed-role/my-role/my-fn"
        );
        assert!(f.user_id.starts_with("AROA"));
        assert!(f.user_id.ends_with(":my-fn"));
        assert_eq!(f.user_id.len(), 4 + 17 + 1 + 5);
        assert_eq!(
            f.kind,
            PrincipalKind::Function {
                function_arn: "arn:aws:lambda:us-east-1:123456789012:function:my-fn".into(),
                role_arn: "arn:aws:iam::123456789012:role/service/my-role".into()
            }
        );
    }
}
