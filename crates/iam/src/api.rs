//! The binding for the front door: IAM's query protocol (API version 2010-05-08) as the SDKs
//! speak it: form parameters in (`Action=CreateRole&Version=2010-05-08&RoleName=...`,
//! lists as `Tags.member.N.Key`), XML out (`<CreateRoleResponse xmlns=...><CreateRoleResult>
//! ...</CreateRoleResult><ResponseMetadata><RequestId/></ResponseMetadata></CreateRoleResponse>`,
//! lists as `<member>` items, policy documents URL-encoded as AWS answers them), errors as
//! `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>` with
//! AWS's status codes. Parse -> call one method of [`Iam`] -> shape.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use quick_xml::escape::escape;

use crate::app::{CreatePolicy, CreateRole, Iam, ListPolicies};
use crate::model::{url_encode, IamError, PolicyVersion, PolicyView, RoleRecord};

const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The most bytes of a request body read (a policy document is at most 128 KiB, encoded).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The router that serves IAM.
pub fn router(iam: Iam) -> Router {
    Router::new().fallback(move |req: Request<Body>| {
        let iam = iam.clone();
        async move { handle(&iam, req).await }
    })
}

struct Params(HashMap<String, String>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    fn owned(&self, k: &str) -> Option<String> {
        self.0.get(k).cloned()
    }

    /// `Tags.member.N.Key` / `.Value`, in order.
    fn tags(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for n in 1.. {
            let Some(k) = self.0.get(&format!("Tags.member.{n}.Key")) else {
                break;
            };
            let v = self
                .0
                .get(&format!("Tags.member.{n}.Value"))
                .cloned()
                .unwrap_or_default();
            out.push((k.clone(), v));
        }
        out
    }
}

async fn handle(iam: &Iam, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return error(&IamError::validation(format!(
                "The request body must be readable and at most {MAX_BODY_BYTES} bytes"
            )))
        }
    };
    let mut map = HashMap::new();
    let query = parts.uri.query().unwrap_or_default().as_bytes();
    for (k, v) in form_urlencoded::parse(query).chain(form_urlencoded::parse(&body)) {
        map.insert(k.into_owned(), v.into_owned());
    }
    let p = Params(map);
    let op = p.get("Action").unwrap_or_default().to_string();
    match dispatch(iam, &op, &p) {
        Ok(Some(result)) => ok(&op, Some(&result)),
        Ok(None) => ok(&op, None),
        Err(e) => error(&e),
    }
}

/// `Some(xml)` is the content of `<OpResult>`; `None` an answer without one.
fn dispatch(iam: &Iam, op: &str, p: &Params) -> Result<Option<String>, IamError> {
    let mut x = String::new();
    match op {
        "CreateRole" => {
            let max = match p.get("MaxSessionDuration") {
                None => None,
                Some(s) => Some(s.trim().parse::<i64>().map_err(|_| {
                    IamError::validation(format!(
                        "1 validation error detected: Value '{s}' at 'maxSessionDuration' failed to satisfy constraint: Member must be a number"
                    ))
                })?),
            };
            let r = iam.create_role(CreateRole {
                role_name: p.owned("RoleName"),
                path: p.owned("Path"),
                assume_role_policy_document: p.owned("AssumeRolePolicyDocument"),
                description: p.owned("Description"),
                max_session_duration: max,
                tags: p.tags(),
            })?;
            role(&mut x, "Role", &r);
        }
        "GetRole" => role(&mut x, "Role", &iam.get_role(p.get("RoleName"))?),
        "ListRoles" => {
            x.push_str("<Roles>");
            for r in iam.list_roles(p.get("PathPrefix"))? {
                role(&mut x, "member", &r);
            }
            x.push_str("</Roles><IsTruncated>false</IsTruncated>");
        }
        "DeleteRole" => {
            iam.delete_role(p.get("RoleName"))?;
            return Ok(None);
        }
        "UpdateAssumeRolePolicy" => {
            iam.update_assume_role_policy(p.get("RoleName"), p.get("PolicyDocument"))?;
            return Ok(None);
        }
        "PutRolePolicy" => {
            iam.put_role_policy(
                p.get("RoleName"),
                p.get("PolicyName"),
                p.get("PolicyDocument"),
            )?;
            return Ok(None);
        }
        "GetRolePolicy" => {
            let (role_name, doc) = iam.get_role_policy(p.get("RoleName"), p.get("PolicyName"))?;
            leaf(&mut x, "RoleName", &role_name);
            leaf(
                &mut x,
                "PolicyName",
                p.get("PolicyName").unwrap_or_default(),
            );
            leaf(&mut x, "PolicyDocument", &url_encode(&doc));
        }
        "DeleteRolePolicy" => {
            iam.delete_role_policy(p.get("RoleName"), p.get("PolicyName"))?;
            return Ok(None);
        }
        "ListRolePolicies" => {
            x.push_str("<PolicyNames>");
            for n in iam.list_role_policies(p.get("RoleName"))? {
                leaf(&mut x, "member", &n);
            }
            x.push_str("</PolicyNames><IsTruncated>false</IsTruncated>");
        }
        "AttachRolePolicy" => {
            iam.attach_role_policy(p.get("RoleName"), p.get("PolicyArn"))?;
            return Ok(None);
        }
        "DetachRolePolicy" => {
            iam.detach_role_policy(p.get("RoleName"), p.get("PolicyArn"))?;
            return Ok(None);
        }
        "ListAttachedRolePolicies" => {
            x.push_str("<AttachedPolicies>");
            for (name, arn) in iam.list_attached_role_policies(p.get("RoleName"))? {
                x.push_str("<member>");
                leaf(&mut x, "PolicyName", &name);
                leaf(&mut x, "PolicyArn", &arn);
                x.push_str("</member>");
            }
            x.push_str("</AttachedPolicies><IsTruncated>false</IsTruncated>");
        }
        "CreatePolicy" => {
            let v = iam.create_policy(CreatePolicy {
                policy_name: p.owned("PolicyName"),
                path: p.owned("Path"),
                policy_document: p.owned("PolicyDocument"),
                description: p.owned("Description"),
                tags: p.tags(),
            })?;
            policy(&mut x, "Policy", &v);
        }
        "GetPolicy" => policy(&mut x, "Policy", &iam.get_policy(p.get("PolicyArn"))?),
        "DeletePolicy" => {
            iam.delete_policy(p.get("PolicyArn"))?;
            return Ok(None);
        }
        "ListPolicies" => {
            let f = ListPolicies {
                scope: p.owned("Scope"),
                only_attached: p.get("OnlyAttached") == Some("true"),
                path_prefix: p.owned("PathPrefix"),
            };
            x.push_str("<Policies>");
            for v in iam.list_policies(&f)? {
                policy(&mut x, "member", &v);
            }
            x.push_str("</Policies><IsTruncated>false</IsTruncated>");
        }
        "GetPolicyVersion" => {
            let v = iam.get_policy_version(p.get("PolicyArn"), p.get("VersionId"))?;
            version(&mut x, "PolicyVersion", &v, true);
        }
        "CreatePolicyVersion" => {
            let v = iam.create_policy_version(
                p.get("PolicyArn"),
                p.get("PolicyDocument"),
                p.get("SetAsDefault") == Some("true"),
            )?;
            version(&mut x, "PolicyVersion", &v, false);
        }
        "ListPolicyVersions" => {
            x.push_str("<Versions>");
            for v in iam.list_policy_versions(p.get("PolicyArn"))? {
                version(&mut x, "member", &v, false);
            }
            x.push_str("</Versions><IsTruncated>false</IsTruncated>");
        }
        _ => {
            // AWS's answer to an action a query service does not have.
            return Err(IamError {
                code: "InvalidAction",
                status: 400,
                message: format!("The action {op} is not valid for this web service."),
            });
        }
    }
    Ok(Some(x))
}

fn leaf(x: &mut String, name: &str, value: &str) {
    let _ = write!(x, "<{name}>{}</{name}>", escape(value));
}

fn tags(x: &mut String, tags: &[(String, String)]) {
    if tags.is_empty() {
        return;
    }
    x.push_str("<Tags>");
    for (k, v) in tags {
        x.push_str("<member>");
        leaf(x, "Key", k);
        leaf(x, "Value", v);
        x.push_str("</member>");
    }
    x.push_str("</Tags>");
}

fn role(x: &mut String, el: &str, r: &RoleRecord) {
    let _ = write!(x, "<{el}>");
    leaf(x, "Path", &r.path);
    leaf(x, "RoleName", &r.name);
    leaf(x, "RoleId", &r.id);
    leaf(x, "Arn", &r.arn);
    leaf(x, "CreateDate", &r.create_date);
    leaf(
        x,
        "AssumeRolePolicyDocument",
        &url_encode(&r.assume_role_policy_document),
    );
    if let Some(d) = &r.description {
        leaf(x, "Description", d);
    }
    leaf(x, "MaxSessionDuration", &r.max_session_duration.to_string());
    tags(x, &r.tags);
    x.push_str("<RoleLastUsed/>");
    let _ = write!(x, "</{el}>");
}

fn policy(x: &mut String, el: &str, p: &PolicyView) {
    let _ = write!(x, "<{el}>");
    leaf(x, "PolicyName", &p.name);
    leaf(x, "PolicyId", &p.id);
    leaf(x, "Arn", &p.arn);
    leaf(x, "Path", &p.path);
    leaf(x, "DefaultVersionId", &p.default_version);
    leaf(x, "AttachmentCount", &p.attachment_count.to_string());
    leaf(x, "PermissionsBoundaryUsageCount", "0");
    leaf(x, "IsAttachable", "true");
    if let Some(d) = &p.description {
        leaf(x, "Description", d);
    }
    leaf(x, "CreateDate", &p.create_date);
    leaf(x, "UpdateDate", &p.update_date);
    tags(x, &p.tags);
    let _ = write!(x, "</{el}>");
}

fn version(x: &mut String, el: &str, v: &PolicyVersion, with_document: bool) {
    let _ = write!(x, "<{el}>");
    if with_document {
        leaf(x, "Document", &url_encode(&v.document));
    }
    leaf(x, "VersionId", &v.version_id);
    leaf(
        x,
        "IsDefaultVersion",
        if v.is_default { "true" } else { "false" },
    );
    leaf(x, "CreateDate", &v.create_date);
    let _ = write!(x, "</{el}>");
}

fn xml(status: StatusCode, body: String, id: &str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

fn ok(op: &str, result: Option<&str>) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let mut body = format!("<{op}Response xmlns=\"{XMLNS}\">");
    if let Some(r) = result {
        let _ = write!(body, "<{op}Result>{r}</{op}Result>");
    }
    let _ = write!(
        body,
        "<ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></{op}Response>"
    );
    xml(StatusCode::OK, body, &id)
}

fn error(e: &IamError) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let kind = if e.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
        escape(e.code),
        escape(e.message.as_str())
    );
    xml(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
        &id,
    )
}
