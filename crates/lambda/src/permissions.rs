//! Resource-based policies of functions, versions and aliases: AddPermission, GetPolicy,
//! RemovePermission, and [`Lambda::resource_policy`], the document the authorizer evaluates for
//! a cross-principal request. The statements and AWS's messages are the model's
//! (`hako_model::permission`); the order of the checks is AWS's (LocalStack's AWS-recorded
//! `TestLambdaPermissions::test_permission_exceptions`).
//!
//! RevisionId: a policy has its own, new on every change; a request's RevisionId must be the
//! policy's, or, while the resource has no policy, the function's, version's or alias's own
//! (AWS accepts the function's RevisionId for the first AddPermission,
//! `TestLambdaRevisions::test_function_revisions_permissions`). AWS also gives the function
//! that new RevisionId; Hako leaves a function's RevisionId to its configuration (a policy is
//! no change of the code or configuration its sandboxes run).

use hako_model::permission::{
    self as perm, AddPermissionRequest, AddPermissionResponse, FunctionPolicy, GetPolicyResponse,
};
use hako_model::{Error, FunctionRef};

use crate::{revision, Lambda};

/// The resource a permission operation addresses, existing.
struct Owner {
    name: String,
    /// `$LATEST`, a version number or an alias.
    qualifier: String,
    /// The resource's ARN (unqualified for `$LATEST`), the policy's `Resource`.
    arn: String,
    /// The function's, version's or alias's own RevisionId.
    revision_id: String,
}

/// How a missing function (or version) is worded: AddPermission "Function not found: ARN",
/// GetPolicy "The resource you requested does not exist.", RemovePermission "No policy found
/// for: ARN".
type Missing = fn(&str) -> Error;

impl Lambda {
    fn policy_owner(
        &self,
        function: &str,
        qualifier: Option<&str>,
        missing: Missing,
    ) -> Result<Owner, Error> {
        perm::validate_qualifier(qualifier)?;
        let r = FunctionRef::parse(function, &self.region)?.with_qualifier(qualifier)?;
        let q = r.qualifier.unwrap_or_else(|| perm::LATEST.to_string());
        let arn = self.arn_of(&r.name, &q);
        let latest = self
            .db
            .get_function(&r.name, perm::LATEST)?
            .ok_or_else(|| missing(&arn))?;
        let revision_id = if q == perm::LATEST {
            latest.revision_id
        } else if hako_model::alias::validate_alias_name(&q).is_ok() {
            self.db
                .get_alias(&r.name, &q)?
                .ok_or_else(|| hako_model::alias::alias_not_found(&arn))?
                .revision_id
        } else {
            self.db
                .get_function(&r.name, &q)?
                .ok_or_else(|| missing(&arn))?
                .revision_id
        };
        Ok(Owner {
            name: r.name,
            qualifier: q,
            arn,
            revision_id,
        })
    }

    /// AddPermission: adds a statement to the policy of a function, version or alias.
    pub async fn add_permission(
        &self,
        function: &str,
        qualifier: Option<&str>,
        req: AddPermissionRequest,
    ) -> Result<AddPermissionResponse, Error> {
        let statement = perm::validate_add(&req)?;
        perm::validate_qualifier(qualifier)?;
        let r = FunctionRef::parse(function, &self.region)?.with_qualifier(qualifier)?;
        if r.qualifier.as_deref() == Some(perm::LATEST) {
            return Err(perm::latest_not_supported());
        }
        let _w = self.writes.lock().await;
        let o = self.policy_owner(function, qualifier, Error::function_not_found)?;
        let current = self.db.get_function_policy(&o.name, &o.qualifier)?;
        check_revision(current.as_ref(), &o, req.revision_id.as_deref())?;
        let mut policy = current.unwrap_or(FunctionPolicy {
            revision_id: String::new(),
            statements: Vec::new(),
        });
        if policy.statements.iter().any(|s| s.sid == statement.sid) {
            return Err(perm::statement_exists(&statement.sid));
        }
        policy.statements.push(statement.clone());
        policy.revision_id = revision();
        self.db
            .put_function_policy(&o.name, &o.qualifier, Some(&policy))?;
        tracing::info!(function = %o.name, qualifier = %o.qualifier, sid = %statement.sid, "permission added");
        Ok(AddPermissionResponse {
            statement: statement.to_json(&o.arn).to_string(),
        })
    }

    /// GetPolicy: the policy document of a function, version or alias.
    pub fn get_policy(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<GetPolicyResponse, Error> {
        let o = self.policy_owner(function, qualifier, |_| perm::no_resource())?;
        let p = self
            .db
            .get_function_policy(&o.name, &o.qualifier)?
            .ok_or_else(perm::no_resource)?;
        Ok(GetPolicyResponse {
            policy: p.document(&o.arn),
            revision_id: p.revision_id,
        })
    }

    /// RemovePermission: removes one statement; the policy goes with its last statement.
    pub async fn remove_permission(
        &self,
        function: &str,
        qualifier: Option<&str>,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), Error> {
        perm::validate_statement_id(sid)?;
        let _w = self.writes.lock().await;
        let o = self.policy_owner(function, qualifier, perm::no_policy_found)?;
        let mut policy = self
            .db
            .get_function_policy(&o.name, &o.qualifier)?
            .ok_or_else(perm::no_policy)?;
        check_revision(Some(&policy), &o, revision_id)?;
        let before = policy.statements.len();
        policy.statements.retain(|s| s.sid != sid);
        if policy.statements.len() == before {
            return Err(perm::statement_not_found(sid));
        }
        policy.revision_id = revision();
        self.db
            .put_function_policy(&o.name, &o.qualifier, Some(&policy))?;
        tracing::info!(function = %o.name, qualifier = %o.qualifier, sid, "permission removed");
        Ok(())
    }

    /// The resource-based policy document of function `name` at `qualifier` (`$LATEST`, a
    /// version or an alias), if it has one: what the authorizer evaluates besides the caller's
    /// identity policies.
    pub fn resource_policy(&self, name: &str, qualifier: &str) -> Result<Option<String>, Error> {
        Ok(self
            .db
            .get_function_policy(name, qualifier)?
            .map(|p| p.document(&self.arn_of(name, qualifier))))
    }
}

/// A request's RevisionId against the policy's, or the resource's own while it has none.
fn check_revision(
    policy: Option<&FunctionPolicy>,
    o: &Owner,
    given: Option<&str>,
) -> Result<(), Error> {
    let Some(given) = given else { return Ok(()) };
    let current = policy.map_or(o.revision_id.as_str(), |p| p.revision_id.as_str());
    if given == current {
        Ok(())
    } else {
        Err(perm::revision_mismatch())
    }
}

#[cfg(test)]
mod tests {
    use hako_model::permission::AddPermissionRequest;
    use hako_model::ErrorKind;

    use crate::testing::*;

    fn grant(sid: &str) -> AddPermissionRequest {
        AddPermissionRequest {
            statement_id: Some(sid.into()),
            action: Some("lambda:InvokeFunction".into()),
            principal: Some("s3.amazonaws.com".into()),
            source_arn: Some("arn:aws:s3:::bucket".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn permissions_follow_aws_lifecycle() {
        let f = fixture().await;
        let l = &f.lambda;
        create(&f, "fn", "a").await;
        // remove_permission_policy_doesnotexist, get_policy_fn_doesnotexist
        let e = l
            .remove_permission("fn", None, "s3", None)
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "No policy is associated with the given resource."
        );
        let e = l.get_policy("nope", None).unwrap_err();
        assert_eq!(e.message, "The resource you requested does not exist.");
        let e = l
            .remove_permission("nope", None, "s3", None)
            .await
            .unwrap_err();
        assert!(e
            .message
            .starts_with("No policy found for: arn:aws:lambda:"));
        let e = l
            .add_permission("nope", None, grant("s3"))
            .await
            .unwrap_err();
        assert!(e.message.starts_with("Function not found: arn:aws:lambda:"));
        let e = l
            .add_permission("fn", Some("$LATEST"), grant("s3"))
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "We currently do not support adding policies for $LATEST."
        );
        let e = l
            .add_permission("fn:alias-x", None, grant("s3"))
            .await
            .unwrap_err();
        assert!(e.message.starts_with("Cannot find alias arn: "), "{e:?}");
        let e = l
            .add_permission("fn", Some("42"), grant("s3"))
            .await
            .unwrap_err();
        assert!(e.message.ends_with(":function:fn:42"), "{e:?}");
        // The function's own RevisionId is accepted for the first statement; a wrong one is not.
        let mut g = grant("s3");
        g.revision_id = Some("wrong".into());
        let e = l.add_permission("fn", None, g).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::PreconditionFailed);
        let rev = l
            .db()
            .get_function("fn", "$LATEST")
            .unwrap()
            .unwrap()
            .revision_id;
        let mut g = grant("s3");
        g.revision_id = Some(rev);
        l.add_permission("fn", None, g).await.unwrap();
        let e = l.add_permission("fn", None, grant("s3")).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::ResourceConflict);
        l.add_permission("fn", None, grant("sqs")).await.unwrap();
        let p = l.get_policy("fn", None).unwrap();
        let s3 = p.policy.find(r#""Sid":"s3""#).unwrap();
        assert!(p.policy.find(r#""Sid":"sqs""#).unwrap() > s3);
        assert!(p.policy.contains(r#"function:fn","Sid""#), "{}", p.policy);
        let e = l
            .remove_permission("fn", None, "non-existent", None)
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "Statement non-existent is not found in resource policy."
        );
        let e = l
            .remove_permission("fn", None, "sqs", Some("stale"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::PreconditionFailed);
        l.remove_permission("fn", None, "sqs", Some(&p.revision_id))
            .await
            .unwrap();
        assert!(l.resource_policy("fn", "$LATEST").unwrap().is_some());
        l.remove_permission("fn", None, "s3", None).await.unwrap();
        assert_eq!(
            l.get_policy("fn", None).unwrap_err().message,
            "The resource you requested does not exist."
        );
        assert!(l.resource_policy("fn", "$LATEST").unwrap().is_none());
    }
}
