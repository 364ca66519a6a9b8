//! Hako's one front door: the listener every AWS SDK client reaches (one process, one port, one
//! `AWS_ENDPOINT_URL`), routing each request to the service it addresses, the way SDKs address
//! them:
//!
//! - the SigV4 credential scope's service (`Authorization: AWS4-HMAC-SHA256
//!   Credential=AKID/DATE/REGION/SERVICE/aws4_request`, or `X-Amz-Credential` in a presigned
//!   query), which every signed request carries;
//! - `X-Amz-Target: PREFIX.Operation` for the JSON protocols (SQS, Kinesis, CloudWatch Logs);
//! - the query protocol's `Action` (form body or query string, at `/`: STS, IAM), which alone
//!   names the service of an unsigned request (STS's `AssumeRoleWithWebIdentity`);
//! - the REST path's first segment (Lambda's `/2015-03-31/...`, Scheduler's `/schedules`).
//!
//! A service is added by adding its crate and one route entry ([`Builder::service`]): its
//! [`known::AwsService`] (how SDKs address it) and the router that serves it. A request for a
//! service Hako does not serve, an unknown one, or no service at all is answered in the error
//! shape of the protocol it came in (one module per protocol: [`json`], [`rest_json`],
//! [`query`], [`rest_xml`]). So are the errors the framework produces itself for a served
//! service (a wrong method, a path or query that does not parse, an unreadable body): a response
//! of a route with an error status and without its protocol's shape is put in that shape.
//!
//! Authentication happens here, once, where a request enters: with [`Builder::authenticate`]
//! every request for an AWS service is verified (SigV4, `hako_auth`) before its router sees
//! it, refused in its protocol's shape with the service's codes ([`auth`]), and handed on with
//! the verified [`Principal`] in its extensions. Function URLs (claims) and Hako's own paths
//! are no AWS API calls and are not checked here.
//!
//! [`serve`] owns the listener: HTTP/1.1 with timeouts for slow request heads, idle keep-alive
//! connections and bodies that stop arriving; graceful stop on a token.
//!
//! Invariant: only the front door knows protocols. Services get plain HTTP requests for their
//! own operations and know nothing of the others or of routing between them.

pub mod auth;
mod body;
pub mod json;
pub mod known;
pub mod query;
pub mod rest_json;
pub mod rest_xml;
mod route;
mod serve;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use tower::ServiceExt;

pub use crate::auth::Auth;
pub use crate::body::BodyTimeout;
pub use crate::json::JsonVersion;
pub use crate::known::AwsService;
pub use crate::serve::{serve, ServeConfig};
pub use hako_auth::Principal;

/// The wire protocols of AWS services (botocore's `metadata.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `rest-json`: operations by method and path, JSON bodies.
    RestJson,
    /// `json`: `POST /` with `X-Amz-Target`, JSON bodies.
    Json(JsonVersion),
    /// `query`: `Action=...` form parameters, XML answers.
    Query,
    /// `rest-xml`: operations by method and path, XML bodies (S3).
    RestXml,
}

/// The errors the front door answers itself, rendered by each protocol in its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No operation of a served service, or a service Hako does not serve.
    UnknownOperation,
    /// A query request without `Action`.
    MissingAction,
    /// The request (URI, head or body) is larger than Hako takes.
    TooLarge(StatusCode),
    /// A request the framework refused (bad encoding, a parameter that does not parse).
    BadRequest(StatusCode),
    /// An error of Hako itself.
    Internal,
}

impl Protocol {
    /// An error in this protocol's shape.
    fn error(self, failure: Failure, message: &str) -> Response {
        use Failure::*;
        match self {
            Protocol::RestJson => match failure {
                UnknownOperation => {
                    rest_json::error(StatusCode::NOT_FOUND, "UnknownOperationException", message)
                }
                MissingAction | BadRequest(_) => {
                    rest_json::error(bad_request(failure), "ValidationException", message)
                }
                TooLarge(s) => rest_json::error(s, "RequestTooLargeException", message),
                Internal => rest_json::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    message,
                ),
            },
            Protocol::Json(v) => match failure {
                UnknownOperation => json::error(
                    v,
                    StatusCode::BAD_REQUEST,
                    "UnknownOperationException",
                    message,
                ),
                MissingAction | BadRequest(_) => {
                    json::error(v, bad_request(failure), "ValidationException", message)
                }
                TooLarge(s) => json::error(v, s, "RequestTooLargeException", message),
                Internal => json::error(
                    v,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    message,
                ),
            },
            // The query protocol's common errors: InvalidAction, MissingAction, ValidationError,
            // InternalFailure (AWS's "Common Errors" of the query services' API references).
            Protocol::Query => match failure {
                UnknownOperation => query::error(StatusCode::BAD_REQUEST, "InvalidAction", message),
                MissingAction => query::error(StatusCode::BAD_REQUEST, "MissingAction", message),
                BadRequest(_) => query::error(bad_request(failure), "ValidationError", message),
                TooLarge(s) => query::error(s, "RequestEntityTooLarge", message),
                Internal => query::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    message,
                ),
            },
            // S3's error codes: NotImplemented (501), InvalidRequest, InternalError.
            Protocol::RestXml => match failure {
                UnknownOperation => {
                    rest_xml::error(StatusCode::NOT_IMPLEMENTED, "NotImplemented", message)
                }
                MissingAction | BadRequest(_) => {
                    rest_xml::error(bad_request(failure), "InvalidRequest", message)
                }
                TooLarge(s) => rest_xml::error(s, "EntityTooLarge", message),
                Internal => {
                    rest_xml::error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
                }
            },
        }
    }

    /// Whether a response of a service speaking this protocol is already in its error shape.
    fn is_shaped(self, r: &Response) -> bool {
        match self {
            Protocol::RestJson => rest_json::is_shaped(r),
            Protocol::Json(_) => json::is_shaped(r),
            Protocol::Query => query::is_shaped(r),
            Protocol::RestXml => rest_xml::is_shaped(r),
        }
    }

    /// The same kind of protocol (a JSON version is the request's business).
    fn same_kind(self, other: Protocol) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

/// The status of a refused request: the framework's, except 422 (AWS answers 400).
fn bad_request(f: Failure) -> StatusCode {
    match f {
        Failure::BadRequest(s) if s.is_client_error() && s != StatusCode::UNPROCESSABLE_ENTITY => s,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Adds `x-amzn-RequestId` (a new id) unless the response has one.
pub(crate) fn add_request_id(h: &mut HeaderMap) {
    if !h.contains_key("x-amzn-requestid") {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            h.insert("x-amzn-requestid", v);
        }
    }
}

/// Limits of a request's head that Hako checks itself, answering in the protocol's shape.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest request target (path and query) taken.
    pub max_uri_bytes: usize,
    /// The most bytes of header names and values taken, all headers together.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_uri_bytes: 16 * 1024,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// The address of the client a request came from (the TCP peer), put in every request's
/// extensions by [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Which requests a claim takes (see [`Builder::claim`]): it looks at the head only.
pub type Claim = Arc<dyn Fn(&Request<Body>) -> bool + Send + Sync>;

/// One route entry: a service, the protocol it is served in, and its router.
struct Route {
    service: &'static AwsService,
    protocol: Protocol,
    router: Router,
}

struct Inner {
    /// Requests that are no AWS API call (function URLs, chosen by their `Host`): handed on as
    /// they are, ahead of everything else, and answered as their router answers.
    claims: Vec<(Claim, Router)>,
    routes: Vec<Route>,
    /// Hako's own endpoints (`/metrics`, `/_hako/`): by path prefix, no AWS protocol.
    paths: Vec<(&'static str, Router)>,
    limits: Limits,
    auth: Auth,
    /// Requests seen so far (any service, any answer): a sign of traffic for whoever wants one
    /// (the binary's CPU warmer), one relaxed increment per request.
    requests: std::sync::atomic::AtomicU64,
}

/// The registry of services and the router in front of them. Cheap to clone.
#[derive(Clone)]
pub struct FrontDoor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FrontDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontDoor")
            .field(
                "services",
                &self
                    .inner
                    .routes
                    .iter()
                    .map(|r| (r.service.name, r.protocol))
                    .collect::<Vec<_>>(),
            )
            .field(
                "paths",
                &self.inner.paths.iter().map(|p| p.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Builds a [`FrontDoor`].
#[derive(Default)]
pub struct Builder {
    claims: Vec<(Claim, Router)>,
    routes: Vec<Route>,
    paths: Vec<(&'static str, Router)>,
    limits: Limits,
    auth: Auth,
}

impl Builder {
    /// How requests for AWS services are authenticated (default: not at all, no principal).
    pub fn authenticate(mut self, auth: Auth) -> Builder {
        self.auth = auth;
        self
    }

    /// Serves `service` in its protocol with `router`.
    pub fn service(self, service: &'static AwsService, router: Router) -> Builder {
        let protocol = service.protocol;
        self.service_in(service, protocol, router)
    }

    /// Serves `service` in `protocol` (a service that speaks two, e.g. SQS's JSON and query) with
    /// `router`.
    pub fn service_in(
        mut self,
        service: &'static AwsService,
        protocol: Protocol,
        router: Router,
    ) -> Builder {
        self.routes.push(Route {
            service,
            protocol,
            router,
        });
        self
    }

    /// Hands the requests `claim` takes to `router` as they are, ahead of every AWS service and
    /// of Hako's own endpoints, and answers what it answers: no protocol, no reshaping of its
    /// errors. For traffic that is not an AWS API call (function URLs, by `Host`); the claim is
    /// asked of every request, so it must be cheap (a header lookup and a comparison).
    pub fn claim(mut self, claim: Claim, router: Router) -> Builder {
        self.claims.push((claim, router));
        self
    }

    /// Serves Hako's own endpoints under `prefix` (e.g. `/metrics`, `/_hako/`) with `router`,
    /// ahead of every AWS service and without an AWS protocol.
    pub fn path(mut self, prefix: &'static str, router: Router) -> Builder {
        self.paths.push((prefix, router));
        self
    }

    pub fn limits(mut self, limits: Limits) -> Builder {
        self.limits = limits;
        self
    }

    pub fn build(self) -> FrontDoor {
        FrontDoor {
            inner: Arc::new(Inner {
                claims: self.claims,
                routes: self.routes,
                paths: self.paths,
                limits: self.limits,
                auth: self.auth,
                requests: Default::default(),
            }),
        }
    }
}

impl FrontDoor {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// How many requests this door has been handed so far.
    pub fn requests_seen(&self) -> u64 {
        self.inner
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<Body>) -> Response {
        let inner = &*self.inner;
        inner
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some((_, router)) = inner.claims.iter().find(|(claim, _)| claim(&req)) {
            return oneshot(router, req).await;
        }
        let path = req.uri().path();
        if let Some((_, router)) = inner.paths.iter().find(|(p, _)| path.starts_with(p)) {
            let (method, uri) = (req.method().clone(), req.uri().clone());
            let resp = oneshot(router, req).await;
            if resp.status().as_u16() < 400 || rest_json::is_shaped(&resp) {
                return resp;
            }
            return reshape(Protocol::RestJson, "Hako", &method, &uri, resp).await;
        }
        let found = {
            let addr = route::address(&req);
            if let Some(r) = self.check_limits(&req, addr.protocol) {
                return r;
            }
            match addr.scope {
                Some(name) => inner
                    .routes
                    .iter()
                    .find(|r| r.service.name == name && r.protocol.same_kind(addr.protocol)),
                None => inner.routes.iter().find(|r| addr.matches(r.service)),
            }
        };
        let (route, req) = match found {
            Some(route) => match inner.auth.check(req, route.protocol, route.service).await {
                Ok(req) => (route, req),
                Err(answer) => return answer,
            },
            // Actions SDKs send unsigned (botocore's `authtype: none`) are not checked.
            None => match self.by_unsigned_action(req).await {
                Ok(found) => found,
                Err(answer) => return answer,
            },
        };
        let protocol = route.protocol;
        let method = req.method().clone();
        let uri = req.uri().clone();
        let resp = oneshot(&route.router, req).await;
        if resp.status().as_u16() < 400 || protocol.is_shaped(&resp) {
            return resp;
        }
        reshape(
            protocol,
            &format!("Hako's {}", route.service.title),
            &method,
            &uri,
            resp,
        )
        .await
    }

    /// An unsigned query request (no credential scope) is found by its `Action` among the served
    /// services' unsigned actions; its form body is read (bounded) for that and handed on.
    /// Anything else is answered as not served.
    async fn by_unsigned_action(
        &self,
        req: Request<Body>,
    ) -> Result<(&Route, Request<Body>), Response> {
        let addr = route::address(&req);
        if addr.protocol != Protocol::Query || addr.scope.is_some() {
            return Err(route::not_served(req, None).await);
        }
        let (parts, body) = req.into_parts();
        let form = if parts.method == axum::http::Method::POST {
            match axum::body::to_bytes(body, MAX_UNSIGNED_FORM_BYTES).await {
                Ok(b) => b,
                Err(_) => {
                    return Err(Protocol::Query.error(
                        Failure::TooLarge(StatusCode::PAYLOAD_TOO_LARGE),
                        &format!(
                            "An unsigned query request's body must be at most {MAX_UNSIGNED_FORM_BYTES} bytes and readable"
                        ),
                    ))
                }
            }
        } else {
            bytes::Bytes::new()
        };
        let action = parts
            .uri
            .query()
            .and_then(|q| query::action_of(q.as_bytes()))
            .or_else(|| query::action_of(&form));
        let req = Request::from_parts(parts, Body::from(form));
        let found = action.as_deref().and_then(|a| {
            self.inner
                .routes
                .iter()
                .find(|r| r.protocol == Protocol::Query && r.service.unsigned_actions.contains(&a))
        });
        match found {
            Some(route) => Ok((route, req)),
            None => Err(route::not_served(req, Some(action)).await),
        }
    }

    fn check_limits(&self, req: &Request<Body>, protocol: Protocol) -> Option<Response> {
        let limits = &self.inner.limits;
        let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
        if uri_len > limits.max_uri_bytes {
            return Some(protocol.error(
                Failure::TooLarge(StatusCode::URI_TOO_LONG),
                &format!(
                    "The request's URI is {uri_len} bytes long; Hako takes at most {}",
                    limits.max_uri_bytes
                ),
            ));
        }
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        if header_bytes > limits.max_header_bytes {
            return Some(protocol.error(
                Failure::TooLarge(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
                &format!(
                    "The request's headers are {header_bytes} bytes long; Hako takes at most {}",
                    limits.max_header_bytes
                ),
            ));
        }
        None
    }
}

async fn oneshot(router: &Router, req: Request<Body>) -> Response {
    match router.clone().oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    }
}

/// The largest form body of an unsigned query request read to find its action (an
/// AssumeRoleWithSAML assertion is up to 100,000 characters).
const MAX_UNSIGNED_FORM_BYTES: usize = 1024 * 1024;

/// The longest framework error body kept as the message.
const MAX_FRAMEWORK_MESSAGE_BYTES: usize = 1024;

/// Puts an error response the framework produced for a served service (no shape) in the
/// protocol's shape: a wrong method or unmatched path is an unknown operation; a refused path,
/// query or body a bad request, with the framework's text as the message.
async fn reshape(
    protocol: Protocol,
    who: &str,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    resp: Response,
) -> Response {
    let status = resp.status();
    let failure = match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Failure::UnknownOperation,
        StatusCode::PAYLOAD_TOO_LARGE => Failure::TooLarge(status),
        s if s.is_server_error() => Failure::Internal,
        s => Failure::BadRequest(s),
    };
    let message = if failure == Failure::UnknownOperation {
        format!("{who} has no operation at {method} {}", uri.path())
    } else {
        let body = axum::body::to_bytes(resp.into_body(), MAX_FRAMEWORK_MESSAGE_BYTES)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body).trim().to_string();
        if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("Bad request")
                .to_string()
        } else {
            text
        }
    };
    protocol.error(failure, &message)
}

impl tower::Service<Request<Body>> for FrontDoor {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let door = self.clone();
        Box::pin(async move { Ok(door.handle(req).await) })
    }
}
