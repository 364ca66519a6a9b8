//! How a request addresses a service: the SigV4 credential scope, `X-Amz-Target`, the query
//! protocol's `Action`, the REST path. Read from the head only (no body), borrowing from it.

use axum::body::Body;
use axum::http::{Method, Request};
use axum::response::Response;

use crate::json::JsonVersion;
use crate::known::{self, AwsService};
use crate::{query, Failure, Protocol};

/// What a request's head says about the service it is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addressed<'a> {
    /// The service of the SigV4 credential scope.
    pub scope: Option<&'a str>,
    /// The `X-Amz-Target` header.
    pub target: Option<&'a str>,
    /// The protocol the request is in.
    pub protocol: Protocol,
    /// The first segment of the path.
    pub segment: &'a str,
}

impl Addressed<'_> {
    /// The `X-Amz-Target` prefix (before the last `.`).
    pub(crate) fn target_prefix(&self) -> Option<&str> {
        self.target
            .map(|t| t.rsplit_once('.').map_or(t, |(p, _)| p))
    }

    /// Whether an unsigned request is for `service` (by its target prefix or REST path).
    pub(crate) fn matches(&self, service: &AwsService) -> bool {
        match self.protocol {
            Protocol::Json(_) => {
                self.target_prefix().is_some() && service.target_prefix == self.target_prefix()
            }
            Protocol::RestJson | Protocol::RestXml => service.rest_paths.contains(&self.segment),
            // Unsigned query requests name only an action, which services may share.
            Protocol::Query => false,
        }
    }
}

/// Reads how `req` addresses its service.
pub(crate) fn address<B>(req: &Request<B>) -> Addressed<'_> {
    let headers = req.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scope = header("authorization")
        .and_then(scope_of_authorization)
        .or_else(|| req.uri().query().and_then(scope_of_query));
    let target = header("x-amz-target");
    let path = req.uri().path();
    let segment = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let known = scope.and_then(known::by_name);
    // A query request is a form (or an `Action` in the query string) at `/`, or anywhere for a
    // service without REST paths (SQS's query clients post to the queue's URL). A form elsewhere
    // is a REST request's body (curl sends JSON payloads as forms).
    let rest = known.is_some_and(|s| matches!(s.protocol, Protocol::RestJson | Protocol::RestXml));
    let protocol = if target.is_some() {
        Protocol::Json(JsonVersion::of_content_type(header("content-type")))
    } else if (path == "/" || (known.is_some() && !rest))
        && (header("content-type")
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
            || req.uri().query().is_some_and(has_action))
    {
        Protocol::Query
    } else {
        match known {
            Some(s) if s.protocol == Protocol::RestXml => Protocol::RestXml,
            _ => Protocol::RestJson,
        }
    };
    Addressed {
        scope,
        target,
        protocol,
        segment,
    }
}

/// The service of `Credential=AKID/DATE/REGION/SERVICE/aws4_request` in an `Authorization`
/// header (SigV4; SigV4a's scope has no region: `AKID/DATE/SERVICE/aws4_request`).
fn scope_of_authorization(auth: &str) -> Option<&str> {
    let (_, rest) = auth.split_once("Credential=")?;
    let credential = rest.split([',', ' ']).next()?;
    service_of_credential(credential)
}

fn service_of_credential(credential: &str) -> Option<&str> {
    let mut parts = credential.rsplit('/');
    if parts.next()? != "aws4_request" {
        return None;
    }
    parts.next().filter(|s| !s.is_empty())
}

/// The service of a presigned request's `X-Amz-Credential` (its slashes percent-encoded).
fn scope_of_query(query: &str) -> Option<&str> {
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-Credential="))?;
    // AKID%2FDATE%2FREGION%2FSERVICE%2Faws4_request
    let mut parts = value.rsplit("%2F").flat_map(|p| p.rsplit("%2f"));
    if parts.next()? != "aws4_request" {
        return None;
    }
    parts.next().filter(|s| !s.is_empty())
}

fn has_action(query: &str) -> bool {
    query.split('&').any(|kv| kv.starts_with("Action="))
}

/// The most of a form body read to name the action of a request for a service Hako does not
/// serve.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The answer to a request no route takes: in its protocol's shape, saying which service and
/// operation it asked for.
/// `read_action`: the query request's `Action` when it was read already (`Some(None)`: it has none).
pub(crate) async fn not_served(
    req: Request<Body>,
    read_action: Option<Option<String>>,
) -> Response {
    let addr = address(&req);
    let protocol = addr.protocol;
    let service = addr
        .scope
        .and_then(known::by_name)
        .or_else(|| addr.target_prefix().and_then(known::by_target_prefix))
        .or_else(|| match protocol {
            Protocol::RestJson | Protocol::RestXml => known::by_rest_path(addr.segment),
            _ => None,
        });
    let scope = addr.scope.map(str::to_string);
    let target = addr.target.map(str::to_string);
    let operation = match protocol {
        Protocol::Json(_) => addr
            .target
            .map(|t| t.rsplit_once('.').map_or(t, |(_, op)| op).to_string()),
        Protocol::RestJson | Protocol::RestXml => {
            Some(format!("{} {}", req.method(), req.uri().path()))
        }
        Protocol::Query => match read_action {
            Some(a) => a,
            None => {
                let method = req.method().clone();
                let query = req.uri().query().map(str::to_string);
                action(&method, query.as_deref(), req.into_body()).await
            }
        },
    };
    // An unsigned action names its service when no scope did.
    let service = service.or_else(|| operation.as_deref().and_then(known::by_unsigned_action));
    let op = |what: &str| match &operation {
        Some(o) => format!("{what} ({o})"),
        None => what.to_string(),
    };
    let message = match (service, scope, target) {
        (Some(s), _, _) => op(&format!("Hako does not serve {} yet", s.title)),
        (None, Some(name), _) => op(&format!("Hako does not know the AWS service '{name}'")),
        (None, None, Some(target)) => {
            format!("Hako does not know the service of X-Amz-Target {target}")
        }
        (None, None, None) => match (protocol, &operation) {
            (Protocol::Query, None) => {
                return protocol.error(
                    Failure::MissingAction,
                    "The request names no Action, nor a service in a SigV4 credential scope",
                )
            }
            (Protocol::Query, Some(a)) => format!(
                "Hako does not know the action {a} without a SigV4 credential scope naming its \
                 service"
            ),
            _ => op("Hako serves no AWS service at this path"),
        },
    };
    protocol.error(Failure::UnknownOperation, &message)
}

/// The `Action` of a query request: its query string's, else its form body's.
async fn action(method: &Method, query: Option<&str>, body: Body) -> Option<String> {
    if let Some(a) = query.and_then(|q| query::action_of(q.as_bytes())) {
        return Some(a);
    }
    if method != Method::POST {
        return None;
    }
    let form = axum::body::to_bytes(body, MAX_FORM_BYTES).await.ok()?;
    query::action_of(&form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_names_the_service() {
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, \
                    SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(scope_of_authorization(auth), Some("sqs"));
        // SigV4a: no region in the scope.
        let auth = "AWS4-ECDSA-P256-SHA256 Credential=AKID/20260101/s3/aws4_request, Signature=x";
        assert_eq!(scope_of_authorization(auth), Some("s3"));
        assert_eq!(scope_of_authorization("Bearer abc"), None);
        assert_eq!(
            scope_of_authorization("AWS4-HMAC-SHA256 Credential=a/b/c"),
            None
        );
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=x";
        assert_eq!(scope_of_query(q), Some("lambda"));
        assert_eq!(scope_of_query("X-Amz-Credential=nothing"), None);
    }

    #[test]
    fn the_protocol_is_read_from_the_head() {
        let r = Request::post("/")
            .header("x-amz-target", "AmazonSQS.ListQueues")
            .header("content-type", "application/x-amz-json-1.0")
            .body(())
            .unwrap();
        let a = address(&r);
        assert_eq!(a.protocol, Protocol::Json(JsonVersion::V1_0));
        assert_eq!(a.target_prefix(), Some("AmazonSQS"));
        let r = Request::post("/")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(())
            .unwrap();
        assert_eq!(address(&r).protocol, Protocol::Query);
        let r = Request::get("/?Action=ListUsers&Version=2010-05-08")
            .body(())
            .unwrap();
        assert_eq!(address(&r).protocol, Protocol::Query);
        let r = Request::get("/2015-03-31/functions/").body(()).unwrap();
        let a = address(&r);
        assert_eq!(a.protocol, Protocol::RestJson);
        assert_eq!(a.segment, "2015-03-31");
        // A form body anywhere but at `/` is a REST request's...
        let r = Request::post("/2015-03-31/functions/f/invocations")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(())
            .unwrap();
        assert_eq!(address(&r).protocol, Protocol::RestJson);
        // ... unless it is signed for a service without REST paths (SQS's query clients post to
        // the queue's URL).
        let r = Request::post("/123456789012/q1")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/sqs/aws4_request, Signature=0",
            )
            .body(())
            .unwrap();
        assert_eq!(address(&r).protocol, Protocol::Query);
        let r = Request::post("/2015-03-31/functions/f/invocations")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/lambda/aws4_request, Signature=0",
            )
            .body(())
            .unwrap();
        assert_eq!(address(&r).protocol, Protocol::RestJson);
    }
}
