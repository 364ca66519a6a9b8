//! Authorization of Lambda's operations (behind the binary's `--iam-enforce` switch, off by
//! default): a request signed with a function's credentials (a session of its execution role,
//! the front door's verified [`Principal`]) is allowed only when IAM's rules allow it: the
//! role's identity policies, or the function's resource policy (AddPermission's statements),
//! explicit deny winning; denied, it gets AWS's AccessDeniedException (403) with AWS's message.
//! Root, and requests the front door did not authenticate (`--auth none`), are not checked.
//!
//! The action of an operation is `lambda:` and its name (Invoke and InvokeWithResponseStream:
//! `lambda:InvokeFunction`, as AWS's Service Authorization Reference names them); its resource
//! the function's ARN (qualified when the request names a version or alias) for the operations
//! under `/functions/{FunctionName}`, else `*`. The resource policy is read only when the
//! role's own policies do not allow the request (a function's policy holds only Allow
//! statements), so an allowed warm invoke never touches the database.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hako_auth::{Principal, PrincipalKind};
use hako_iam::{Context, Decision, Iam, Requester};
use hako_lambda::Lambda;
use hako_model::{Error, ErrorKind, FunctionRef};

use crate::error::ApiError;
use crate::operations;

/// What the authorization layer needs.
#[derive(Debug, Clone)]
pub struct Authorizer {
    pub lambda: Arc<Lambda>,
    pub iam: Iam,
}

/// `router` with every Lambda operation authorized by `authz`.
pub fn enforce(router: axum::Router, authz: Authorizer) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(authz),
        authorize,
    ))
}

/// The IAM action of Lambda operation `op`.
pub(crate) fn action_of(op: &str) -> String {
    match op {
        "Invoke" | "InvokeWithResponseStream" => "lambda:InvokeFunction".into(),
        op => format!("lambda:{op}"),
    }
}

/// The function a request's path names (`/<version>/functions/<name>/...`), with the qualifier
/// of its name or its `Qualifier` parameter.
fn function_of(path: &str, query: Option<&str>, lambda: &Lambda) -> Option<FunctionRef> {
    let mut segs = path.trim_matches('/').split('/');
    let _version = segs.next()?;
    if segs.next()? != "functions" {
        return None;
    }
    let raw = segs.next()?;
    let name = percent_decode(raw);
    let qualifier = query.and_then(|q| {
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == "Qualifier").then(|| percent_decode(v))
        })
    });
    FunctionRef::parse(&name, lambda.region())
        .ok()?
        .with_qualifier(qualifier.as_deref())
        .ok()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn authorize(State(a): State<Arc<Authorizer>>, req: Request, next: Next) -> Response {
    let Some(p) = req.extensions().get::<Principal>().cloned() else {
        return next.run(req).await;
    };
    let (requester, function_arn) = match &p.kind {
        PrincipalKind::Root => return next.run(req).await,
        PrincipalKind::Function {
            function_arn,
            role_arn,
        } => (
            Requester::Role {
                arn: p.arn.clone(),
                role_arn: role_arn.clone(),
            },
            function_arn.clone(),
        ),
    };
    let path = req.uri().path().to_string();
    let Some(op) = operations::operation_for(req.method().as_str(), &path) else {
        return next.run(req).await;
    };
    let action = action_of(op);
    let target = function_of(&path, req.uri().query(), &a.lambda);
    let resource = match &target {
        Some(f) => match &f.qualifier {
            Some(q) => a.lambda.region().qualified_arn(&f.name, q),
            None => a.lambda.region().function_arn(&f.name),
        },
        None => "*".to_string(),
    };
    let caller_fn = function_arn.rsplit(':').next().unwrap_or_default();
    let log_group = format!("/aws/lambda/{caller_fn}");
    let ctx = Context::new();
    let mut decision =
        a.iam
            .authorize(&requester, &action, &resource, None, &ctx, Some(&log_group));
    if let (Ok(Decision::ImplicitDeny), Some(f)) = (&decision, &target) {
        let qualifier = f.qualifier.as_deref().unwrap_or("$LATEST");
        match a.lambda.resource_policy(&f.name, qualifier) {
            Ok(Some(doc)) => {
                decision = a.iam.authorize(
                    &requester,
                    &action,
                    &resource,
                    Some(&doc),
                    &ctx,
                    Some(&log_group),
                );
            }
            Ok(None) => {}
            Err(e) => return ApiError(e).into_response(),
        }
    }
    match decision {
        Ok(Decision::Allow) => next.run(req).await,
        Ok(d) => {
            let message = d
                .access_denied_message(&p.arn, &action, &resource)
                .unwrap_or_default();
            tracing::info!(principal = %p.arn, %action, %resource, "access denied");
            ApiError(Error::new(ErrorKind::AccessDenied, message)).into_response()
        }
        Err(e) => ApiError(Error::service(format!(
            "authorization failed: {}",
            e.message
        )))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use hako_iam::CreateRole;
    use hako_lambda::testing::{create, fixture};
    use hako_model::permission::AddPermissionRequest;
    use hako_store::ServiceDb;
    use tower::ServiceExt;

    use super::*;

    const ACCT: &str = "123456789012";

    fn iam() -> Iam {
        let db = ServiceDb::open_in_memory(Iam::migrations()).unwrap();
        Iam::new(db, ACCT, Arc::new(hako_model::clock::ManualClock::new(0)))
    }

    async fn call(
        app: &axum::Router,
        who: Option<&Principal>,
        method: &str,
        uri: &str,
    ) -> (StatusCode, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        if let Some(p) = who {
            req.extensions_mut().insert(p.clone());
        }
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ty = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, format!("{ty} {}", String::from_utf8_lossy(&body)))
    }

    #[test]
    fn actions_are_iams() {
        assert_eq!(action_of("Invoke"), "lambda:InvokeFunction");
        assert_eq!(action_of("GetFunction"), "lambda:GetFunction");
        assert_eq!(percent_decode("a%3Ab%2"), "a:b%2");
    }

    #[tokio::test]
    async fn a_role_gets_what_its_policies_and_the_functions_policy_allow() {
        let f = fixture().await;
        create(&f, "mine", "a").await;
        create(&f, "other", "b").await;
        let iam = iam();
        iam.create_role(CreateRole {
            role_name: Some("lister".into()),
            assume_role_policy_document: Some(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
            ),
            ..Default::default()
        })
        .unwrap();
        iam.put_role_policy(
            Some("lister"),
            Some("list"),
            Some(r#"{"Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}"#),
        )
        .unwrap();
        let app = enforce(
            crate::router(f.lambda.clone()),
            Authorizer {
                lambda: f.lambda.clone(),
                iam: iam.clone(),
            },
        );
        let me = Principal::function(
            ACCT,
            "ASIAEXAMPLE",
            &format!("arn:aws:lambda:us-east-1:{ACCT}:function:mine"),
            &format!("arn:aws:iam::{ACCT}:role/lister"),
        );
        let (s, _) = call(&app, Some(&me), "GET", "/2015-03-31/functions/").await;
        assert_eq!(s, StatusCode::OK);
        let (s, body) = call(&app, Some(&me), "GET", "/2015-03-31/functions/other").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(body.starts_with("AccessDeniedException "), "{body}");
        assert!(body.contains(&format!(
            "User: arn:aws:sts::{ACCT}:assumed-role/lister/mine is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:us-east-1:{ACCT}:function:other because no identity-based policy allows the lambda:GetFunction action"
        )), "{body}");
        let (s, _) = call(&app, Some(&me), "DELETE", "/2015-03-31/functions/other").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // The other function's resource policy lets the role read it.
        f.lambda
            .add_permission(
                "other",
                None,
                AddPermissionRequest {
                    statement_id: Some("read".into()),
                    action: Some("lambda:GetFunction".into()),
                    principal: Some(format!("arn:aws:iam::{ACCT}:role/lister")),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let (s, _) = call(&app, Some(&me), "GET", "/2015-03-31/functions/other").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&app, Some(&me), "DELETE", "/2015-03-31/functions/other").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Root and unauthenticated requests are not checked.
        let root = Principal::root(ACCT, "AKIAROOT");
        let (s, _) = call(&app, Some(&root), "GET", "/2015-03-31/functions/other").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&app, None, "GET", "/2015-03-31/functions/mine").await;
        assert_eq!(s, StatusCode::OK);
    }
}
