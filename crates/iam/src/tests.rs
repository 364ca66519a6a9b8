//! `Iam` on an in-memory `ServiceDb` and a `ManualClock`: the operations with their errors, and
//! the authorizer over roles, their inline and attached policies and a resource policy.

use std::sync::Arc;

use hako_model::clock::ManualClock;
use hako_store::ServiceDb;

use crate::app::*;
use crate::policy::Context;

const ACCT: &str = "123456789012";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn iam() -> Iam {
    let db = ServiceDb::open_in_memory(Iam::migrations()).unwrap();
    Iam::new(db, ACCT, Arc::new(ManualClock::new(1_700_000_000_000)))
}

fn role(i: &Iam, name: &str) {
    i.create_role(CreateRole {
        role_name: Some(name.into()),
        assume_role_policy_document: Some(TRUST.into()),
        ..Default::default()
    })
    .unwrap();
}

fn session(role: &str, function: &str) -> Requester {
    Requester::Role {
        arn: format!("arn:aws:sts::{ACCT}:assumed-role/{role}/{function}"),
        role_arn: format!("arn:aws:iam::{ACCT}:role/{role}"),
    }
}

fn fn_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:{ACCT}:function:{name}")
}

#[test]
fn roles_and_their_errors() {
    let i = iam();
    role(&i, "r");
    let r = i.get_role(Some("r")).unwrap();
    assert_eq!(r.arn, format!("arn:aws:iam::{ACCT}:role/r"));
    assert!(r.id.starts_with("AROA"));
    assert_eq!(r.create_date, "2023-11-14T22:13:20Z");
    let e = i
        .create_role(CreateRole {
            role_name: Some("R".into()),
            assume_role_policy_document: Some(TRUST.into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!((e.code, e.status), ("EntityAlreadyExists", 409));
    assert_eq!(e.message, "Role with name R already exists.");
    let e = i.get_role(Some("nope")).unwrap_err();
    assert_eq!((e.code, e.status), ("NoSuchEntity", 404));
    assert_eq!(e.message, "The role with name nope cannot be found.");
    let e = i
        .create_role(CreateRole {
            role_name: Some("x".into()),
            assume_role_policy_document: Some("{nope".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "MalformedPolicyDocument",
            "This policy contains invalid Json"
        )
    );
    assert!(i.get_role(Some("x")).is_err());
    let e = i.create_role(CreateRole::default()).unwrap_err();
    assert_eq!(e.code, "ValidationError");
    assert!(
        e.message
            .starts_with("2 validation errors detected: Value null at 'roleName'"),
        "{}",
        e.message
    );

    i.put_role_policy(
        Some("r"),
        Some("p"),
        Some(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
    )
    .unwrap();
    i.attach_role_policy(
        Some("r"),
        Some("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
    )
    .unwrap();
    assert_eq!(
        i.delete_role(Some("r")).unwrap_err().message,
        "Cannot delete entity, must detach all policies first."
    );
    i.detach_role_policy(
        Some("r"),
        Some("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
    )
    .unwrap();
    assert_eq!(
        i.delete_role(Some("r")).unwrap_err().message,
        "Cannot delete entity, must delete policies first."
    );
    assert_eq!(
        i.get_role_policy(Some("r"), Some("q")).unwrap_err().message,
        "The role policy with name q cannot be found."
    );
    i.delete_role_policy(Some("r"), Some("p")).unwrap();
    i.delete_role(Some("r")).unwrap();
    assert!(i.list_roles(None).unwrap().is_empty());
}

#[test]
fn managed_and_customer_policies() {
    let i = iam();
    role(&i, "r");
    let e = i
        .attach_role_policy(Some("r"), Some(&format!("arn:aws:iam::{ACCT}:policy/nope")))
        .unwrap_err();
    assert_eq!(
        e.message,
        format!("Policy arn:aws:iam::{ACCT}:policy/nope does not exist or is not attachable.")
    );
    let e = i.get_policy(Some("longpolicynamebutnoarn")).unwrap_err();
    assert_eq!(e.message, "Invalid ARN:  Could not be parsed!");
    let p = i
        .create_policy(CreatePolicy {
            policy_name: Some("list".into()),
            policy_document: Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}"#.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p.arn, format!("arn:aws:iam::{ACCT}:policy/list"));
    assert_eq!(
        i.create_policy(CreatePolicy {
            policy_name: Some("LIST".into()),
            policy_document: Some(
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into()
            ),
            ..Default::default()
        })
        .unwrap_err()
        .message,
        "A policy called LIST already exists. Duplicate names are not allowed."
    );
    i.attach_role_policy(Some("r"), Some(&p.arn)).unwrap();
    assert_eq!(i.get_policy(Some(&p.arn)).unwrap().attachment_count, 1);
    assert_eq!(
        i.delete_policy(Some(&p.arn)).unwrap_err().message,
        "Cannot delete a policy attached to entities."
    );
    let v2 = i
        .create_policy_version(
            Some(&p.arn),
            Some(r#"{"Statement":[{"Effect":"Allow","Action":"lambda:Get*","Resource":"*"}]}"#),
            true,
        )
        .unwrap();
    assert_eq!(v2.version_id, "v2");
    assert_eq!(i.get_policy(Some(&p.arn)).unwrap().default_version, "v2");
    assert!(i.get_policy_version(Some(&p.arn), Some("v1")).is_ok());
    for _ in 0..3 {
        i.create_policy_version(
            Some(&p.arn),
            Some(r#"{"Statement":[{"Effect":"Allow","Action":"x:Y","Resource":"*"}]}"#),
            false,
        )
        .unwrap();
    }
    assert_eq!(
        i.create_policy_version(
            Some(&p.arn),
            Some(r#"{"Statement":[{"Effect":"Allow","Action":"x:Y","Resource":"*"}]}"#),
            false
        )
        .unwrap_err()
        .code,
        "LimitExceeded"
    );
    let all = i.list_policies(&ListPolicies::default()).unwrap();
    assert!(all
        .iter()
        .any(|p| p.arn == "arn:aws:iam::aws:policy/AdministratorAccess"));
    let local = i
        .list_policies(&ListPolicies {
            scope: Some("Local".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(local.len(), 1);
    let basic = i
        .get_policy_version(
            Some("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            Some("v1"),
        )
        .unwrap();
    assert!(basic.document.contains("logs:PutLogEvents"));
    i.detach_role_policy(Some("r"), Some(&p.arn)).unwrap();
    i.delete_policy(Some(&p.arn)).unwrap();
    assert_eq!(i.get_policy(Some(&p.arn)).unwrap_err().code, "NoSuchEntity");
}

#[test]
fn the_authorizer_follows_the_roles_policies() {
    let i = iam();
    role(&i, "lister");
    i.put_role_policy(
        Some("lister"),
        Some("p"),
        Some(
            r#"{"Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}"#,
        ),
    )
    .unwrap();
    let who = session("lister", "f");
    let ctx = Context::new();
    let auth = |action: &str, resource: &str, rp: Option<&str>| {
        i.authorize(&who, action, resource, rp, &ctx, Some("/aws/lambda/f"))
            .unwrap()
    };
    assert_eq!(auth("lambda:ListFunctions", "*", None), Decision::Allow);
    let d = auth("lambda:GetFunction", &fn_arn("other"), None);
    assert_eq!(d, Decision::ImplicitDeny);
    assert_eq!(
        d.access_denied_message(&who.arn(), "lambda:GetFunction", &fn_arn("other")).unwrap(),
        format!("User: arn:aws:sts::{ACCT}:assumed-role/lister/f is not authorized to perform: lambda:GetFunction on resource: {} because no identity-based policy allows the lambda:GetFunction action", fn_arn("other"))
    );
    // A resource policy naming the role allows it; an explicit deny beats every allow.
    let rp = format!(
        r#"{{"Version":"2012-10-17","Id":"default","Statement":[{{"Sid":"a","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:role/lister"}},"Action":"lambda:InvokeFunction","Resource":"{}"}}]}}"#,
        fn_arn("other")
    );
    assert_eq!(
        auth("lambda:InvokeFunction", &fn_arn("other"), Some(&rp)),
        Decision::Allow
    );
    i.attach_role_policy(
        Some("lister"),
        Some("arn:aws:iam::aws:policy/AdministratorAccess"),
    )
    .unwrap();
    assert_eq!(
        auth("lambda:DeleteFunction", &fn_arn("other"), None),
        Decision::Allow
    );
    i.put_role_policy(
        Some("lister"),
        Some("deny"),
        Some(
            r#"{"Statement":[{"Effect":"Deny","Action":"lambda:DeleteFunction","Resource":"*"}]}"#,
        ),
    )
    .unwrap();
    let d = auth("lambda:DeleteFunction", &fn_arn("other"), None);
    assert_eq!(d, Decision::DenyInIdentityPolicy);
    assert!(d
        .access_denied_message(&who.arn(), "lambda:DeleteFunction", "r")
        .unwrap()
        .ends_with("on resource: r with an explicit deny in an identity-based policy"));
    // Root may do anything.
    let root = Requester::Root {
        account: ACCT.into(),
    };
    assert_eq!(
        i.authorize(&root, "lambda:DeleteFunction", "x", None, &ctx, None)
            .unwrap(),
        Decision::Allow
    );
}

#[test]
fn an_unknown_role_may_only_write_its_functions_logs() {
    let i = iam();
    let who = session("ghost", "f");
    let ctx = Context::new();
    let auth = |action: &str, resource: &str| {
        i.authorize(&who, action, resource, None, &ctx, Some("/aws/lambda/f"))
            .unwrap()
    };
    let own = format!("arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/lambda/f:log-stream:s");
    assert_eq!(auth("logs:PutLogEvents", &own), Decision::Allow);
    assert_eq!(
        auth(
            "logs:CreateLogGroup",
            &format!("arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/lambda/f")
        ),
        Decision::Allow
    );
    let other = format!("arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/lambda/g:log-stream:s");
    assert_eq!(auth("logs:PutLogEvents", &other), Decision::ImplicitDeny);
    assert_eq!(auth("lambda:ListFunctions", "*"), Decision::ImplicitDeny);
    // Creating the role later gives it its own policies (the cache is emptied by the write).
    role(&i, "ghost");
    assert_eq!(auth("logs:PutLogEvents", &own), Decision::ImplicitDeny);
}
