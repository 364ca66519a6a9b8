//! Resource-based policies of functions, versions and aliases (AddPermission, GetPolicy,
//! RemovePermission): the stored statements, the policy document Lambda builds from
//! AddPermission's fields, the checks of a request, and AWS's messages.
//!
//! The document's shape is AWS's, as LocalStack's AWS-recorded snapshots show it
//! (`tests/aws/services/lambda_/test_lambda_api.snapshot.json`, `TestLambdaPermissions`):
//! `{"Version":"2012-10-17","Id":"default","Statement":[...]}`, each statement
//! `Sid, Effect: Allow, Principal, Action, Resource[, Condition]`; the principal `"*"`, a service
//! (`{"Service": "s3.amazonaws.com"}`) or an account or IAM ARN (`{"AWS": "arn:aws:iam::ACCOUNT:root"}`);
//! `SourceArn` becomes `ArnLike {"AWS:SourceArn"}`, `SourceAccount` `StringEquals
//! {"AWS:SourceAccount"}`, `PrincipalOrgID` `StringEquals {"aws:PrincipalOrgID"}`,
//! `FunctionUrlAuthType` `StringEquals {"lambda:FunctionUrlAuthType"}`, `EventSourceToken`
//! `StringEquals {"lambda:EventSourceToken"}` (`test_add_lambda_permission_fields`), and
//! `InvokedViaFunctionUrl` `Bool {"lambda:InvokedViaFunctionUrl": "true"}` (the key and operator
//! of AWS's function URL guide since October 2025, "Control access to Lambda function URLs").
//! Layers' policies (`layer.rs`) share the document and the account principal.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::validation::{shapes, Violations};
use crate::{Error, ErrorKind};

/// `$LATEST`: the key of the unqualified function's policy.
pub const LATEST: &str = "$LATEST";

/// Who a statement grants to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Principal {
    /// `*`: anyone.
    Any,
    /// An AWS service (`s3.amazonaws.com`).
    Service(String),
    /// An account's root or an IAM/STS ARN.
    Aws(String),
}

impl Principal {
    fn to_json(&self) -> Value {
        match self {
            Principal::Any => json!("*"),
            Principal::Service(s) => json!({ "Service": s }),
            Principal::Aws(a) => json!({ "AWS": a }),
        }
    }
}

/// One statement of a function's policy, as AddPermission gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionStatement {
    pub sid: String,
    pub action: String,
    pub principal: Principal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_org_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_url_auth_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_via_function_url: Option<bool>,
}

/// A function's (or version's, or alias's) policy as stored: its statements in the order they
/// were added, and its RevisionId.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionPolicy {
    pub revision_id: String,
    pub statements: Vec<PermissionStatement>,
}

/// AddPermission's body (botocore's `AddPermissionRequest` less its URI members).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AddPermissionRequest {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub event_source_token: Option<String>,
    pub revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub invoked_via_function_url: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionResponse {
    /// The statement added, as a JSON string.
    pub statement: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyResponse {
    /// The policy document, as a JSON string.
    pub policy: String,
    pub revision_id: String,
}

/// `arn:aws:iam::ACCOUNT:root` for an account id; any other principal as given.
pub fn account_principal(p: &str) -> String {
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        format!("arn:aws:iam::{p}:root")
    } else {
        p.to_string()
    }
}

/// A policy document of `statements` (Lambda's functions and layers: `"Id": "default"`).
pub fn document(statements: Vec<Value>) -> String {
    json!({
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": statements,
    })
    .to_string()
}

impl PermissionStatement {
    /// The statement as the policy document holds it, on `resource` (the function's ARN,
    /// qualified for a version or alias).
    pub fn to_json(&self, resource: &str) -> Value {
        let mut s = json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Principal": self.principal.to_json(),
            "Action": self.action,
            "Resource": resource,
        });
        let mut string_equals = Map::new();
        if let Some(a) = &self.source_account {
            string_equals.insert("AWS:SourceAccount".into(), json!(a));
        }
        if let Some(t) = &self.function_url_auth_type {
            string_equals.insert("lambda:FunctionUrlAuthType".into(), json!(t));
        }
        if let Some(o) = &self.principal_org_id {
            string_equals.insert("aws:PrincipalOrgID".into(), json!(o));
        }
        if let Some(t) = &self.event_source_token {
            string_equals.insert("lambda:EventSourceToken".into(), json!(t));
        }
        let mut condition = Map::new();
        if !string_equals.is_empty() {
            condition.insert("StringEquals".into(), Value::Object(string_equals));
        }
        if let Some(a) = &self.source_arn {
            condition.insert("ArnLike".into(), json!({ "AWS:SourceArn": a }));
        }
        if let Some(v) = self.invoked_via_function_url {
            condition.insert(
                "Bool".into(),
                json!({ "lambda:InvokedViaFunctionUrl": v.to_string() }),
            );
        }
        if !condition.is_empty() {
            s["Condition"] = Value::Object(condition);
        }
        s
    }
}

impl FunctionPolicy {
    /// GetPolicy's `Policy`: the document on `resource`.
    pub fn document(&self, resource: &str) -> String {
        document(
            self.statements
                .iter()
                .map(|s| s.to_json(resource))
                .collect(),
        )
    }
}

/// Whether `p` names an AWS service principal (`s3.amazonaws.com`, `alexa-appkit.amazon.com`).
fn is_service_principal(p: &str) -> bool {
    let host = p
        .strip_suffix(".amazonaws.com")
        .or_else(|| p.strip_suffix(".amazon.com"));
    host.is_some_and(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    })
}

/// Whether `p` is an IAM or STS ARN (`arn:aws:iam::123456789012:user/x`, an assumed role).
fn is_iam_arn(p: &str) -> bool {
    let parts: Vec<&str> = p.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && (parts[2] == "iam" || parts[2] == "sts")
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
}

/// AWS's answer to a principal it does not take (`add_permission_principal_invalid`).
pub fn principal_invalid() -> Error {
    Error::invalid("The provided principal was invalid. Please check the principal and try again.")
}

/// AWS's answer to AddPermission on `$LATEST` named explicitly (`add_permission_fn_qualifier_latest`).
pub fn latest_not_supported() -> Error {
    Error::invalid("We currently do not support adding policies for $LATEST.")
}

/// AWS's answer to a StatementId the policy has already (`add_permission_conflicting_statement_id`).
pub fn statement_exists(sid: &str) -> Error {
    Error::conflict(format!(
        "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
    ))
}

/// GetPolicy of a function, version or alias that does not exist or has no policy
/// (`get_policy_fn_doesnotexist`, `get_policy_fn_version_doesnotexist`,
/// `get_policy_exception_removed_all`).
pub fn no_resource() -> Error {
    Error::not_found("The resource you requested does not exist.")
}

/// RemovePermission on a function that does not exist (`remove_permission_fn_doesnotexist`).
pub fn no_policy_found(arn: &str) -> Error {
    Error::not_found(format!("No policy found for: {arn}"))
}

/// RemovePermission on a resource without a policy (`remove_permission_policy_doesnotexist`).
pub fn no_policy() -> Error {
    Error::not_found("No policy is associated with the given resource.")
}

/// RemovePermission of a StatementId the policy lacks (`remove_permission_exception_nonexisting_sid`).
pub fn statement_not_found(sid: &str) -> Error {
    Error::not_found(format!("Statement {sid} is not found in resource policy."))
}

/// A RevisionId that is not the policy's (`add_permission_alias_revision_exception`,
/// `TestLambdaRevisions::test_function_revisions_permissions`, recorded 2025).
pub fn revision_mismatch() -> Error {
    Error::new(
        ErrorKind::PreconditionFailed,
        "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
    )
}

/// Checks a `Qualifier` of the permission operations against its shape
/// (`NumericLatestPublishedOrAliasQualifier`; `add_permission_fn_qualifier_invalid`).
pub fn validate_qualifier(q: Option<&str>) -> Result<(), Error> {
    let mut v = Violations::new();
    v.opt_string("qualifier", q, &shapes::PERMISSION_QUALIFIER);
    v.finish()
}

/// Checks an AddPermission body (the model's constraints, in the order of botocore's
/// `AddPermissionRequest`, then Lambda's own); returns the statement to add.
pub fn validate_add(req: &AddPermissionRequest) -> Result<PermissionStatement, Error> {
    let mut v = Violations::new();
    if let Some(sid) = v.required("statementId", req.statement_id.as_deref()) {
        v.string("statementId", sid, &shapes::STATEMENT_ID);
    }
    if let Some(action) = v.required("action", req.action.as_deref()) {
        v.string("action", action, &shapes::PERMISSION_ACTION);
    }
    if let Some(principal) = v.required("principal", req.principal.as_deref()) {
        v.string("principal", principal, &shapes::PRINCIPAL);
    }
    v.opt_string("sourceArn", req.source_arn.as_deref(), &shapes::ARN);
    v.opt_string(
        "functionUrlAuthType",
        req.function_url_auth_type.as_deref(),
        &shapes::FUNCTION_URL_AUTH_TYPE,
    );
    v.opt_string(
        "sourceAccount",
        req.source_account.as_deref(),
        &shapes::SOURCE_OWNER,
    );
    v.opt_string(
        "eventSourceToken",
        req.event_source_token.as_deref(),
        &shapes::EVENT_SOURCE_TOKEN,
    );
    v.opt_string(
        "principalOrgID",
        req.principal_org_id.as_deref(),
        &shapes::ORGANIZATION_ID,
    );
    v.finish()?;
    let (Some(sid), Some(action), Some(p)) = (
        req.statement_id.as_deref(),
        req.action.as_deref(),
        req.principal.as_deref(),
    ) else {
        return Err(crate::error::missing("statementId"));
    };
    let principal = if p == "*" {
        Principal::Any
    } else if is_service_principal(p) {
        Principal::Service(p.to_string())
    } else if (p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit())) || is_iam_arn(p) {
        Principal::Aws(account_principal(p))
    } else {
        return Err(principal_invalid());
    };
    Ok(PermissionStatement {
        sid: sid.to_string(),
        action: action.to_string(),
        principal,
        source_arn: req.source_arn.clone(),
        source_account: req.source_account.clone(),
        principal_org_id: req.principal_org_id.clone(),
        function_url_auth_type: req.function_url_auth_type.clone(),
        event_source_token: req.event_source_token.clone(),
        invoked_via_function_url: req.invoked_via_function_url.filter(|v| *v),
    })
}

/// A `StatementId` in RemovePermission's path (`NamespacedStatementId`).
pub fn validate_statement_id(sid: &str) -> Result<(), Error> {
    let mut v = Violations::new();
    v.string("statementId", sid, &shapes::NAMESPACED_STATEMENT_ID);
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(sid: &str, principal: &str) -> AddPermissionRequest {
        AddPermissionRequest {
            statement_id: Some(sid.into()),
            action: Some("lambda:InvokeFunction".into()),
            principal: Some(principal.into()),
            ..Default::default()
        }
    }

    #[test]
    fn statements_have_aws_shape() {
        // test_add_lambda_permission_aws / test_add_lambda_permission_fields.
        let mut r = req("s3", "s3.amazonaws.com");
        r.source_arn = Some("arn:aws:s3:::bucket".into());
        let s = validate_add(&r).unwrap().to_json("arn:fn");
        assert_eq!(
            s,
            json!({"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                   "Action": "lambda:InvokeFunction", "Resource": "arn:fn",
                   "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}})
        );
        let s = validate_add(&req("a", "123456789012"))
            .unwrap()
            .to_json("r");
        assert_eq!(
            s["Principal"],
            json!({"AWS": "arn:aws:iam::123456789012:root"})
        );
        assert!(s.get("Condition").is_none());
        let mut r = req("u", "*");
        r.action = Some("lambda:InvokeFunctionUrl".into());
        r.source_account = Some("123456789012".into());
        r.principal_org_id = Some("o-1234567890".into());
        r.function_url_auth_type = Some("NONE".into());
        let s = validate_add(&r).unwrap().to_json("r");
        assert_eq!(s["Principal"], json!("*"));
        assert_eq!(
            s["Condition"]["StringEquals"],
            json!({"AWS:SourceAccount": "123456789012", "lambda:FunctionUrlAuthType": "NONE",
                   "aws:PrincipalOrgID": "o-1234567890"})
        );
        let mut r = req("v", "*");
        r.invoked_via_function_url = Some(true);
        let s = validate_add(&r).unwrap().to_json("r");
        assert_eq!(
            s["Condition"]["Bool"]["lambda:InvokedViaFunctionUrl"],
            json!("true")
        );
        let arn = "arn:aws:sts::123456789012:assumed-role/r/f";
        let s = validate_add(&req("x", arn)).unwrap().to_json("r");
        assert_eq!(s["Principal"]["AWS"], arn);
    }

    #[test]
    fn bad_requests_get_aws_messages() {
        // add_permission_invalid_statement_id
        assert_eq!(
            validate_add(&req("example.com", "s3.amazonaws.com"))
                .unwrap_err()
                .message,
            "1 validation error detected: Value 'example.com' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
        );
        // add_permission_principal_invalid
        assert_eq!(
            validate_add(&req("l", "invalid.nonaws.com")).unwrap_err(),
            principal_invalid()
        );
        // add_permission_fn_qualifier_invalid
        assert_eq!(
            validate_qualifier(Some("invalid-qualifier-with-?-char")).unwrap_err().message,
            "1 validation error detected: Value 'invalid-qualifier-with-?-char' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
        );
        assert!(validate_qualifier(Some("valid-with-$-but-doesnotexist")).is_ok());
        let mut r = req("s", "*");
        r.action = Some("s3:GetObject".into());
        assert_eq!(validate_add(&r).unwrap_err().kind, ErrorKind::Validation);
    }

    #[test]
    fn a_policy_document_lists_its_statements_in_order() {
        let p = FunctionPolicy {
            revision_id: "r".into(),
            statements: vec![
                validate_add(&req("b", "s3.amazonaws.com")).unwrap(),
                validate_add(&req("a", "sqs.amazonaws.com")).unwrap(),
            ],
        };
        let d: Value = serde_json::from_str(&p.document("arn:x")).unwrap();
        assert_eq!(d["Version"], "2012-10-17");
        assert_eq!(d["Id"], "default");
        assert_eq!(d["Statement"][0]["Sid"], "b");
        assert_eq!(d["Statement"][1]["Sid"], "a");
    }
}
