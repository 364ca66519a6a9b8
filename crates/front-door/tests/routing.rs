//! Routing and error shapes, in process (tower `oneshot`, no sockets).
//!
//! The shapes are the ones botocore parses (`botocore/parsers.py`): JSON 1.0/1.1 `__type` and
//! `message` (`BaseJSONParser._do_error_parse`), REST-JSON `x-amzn-errortype` and `message`
//! (`RestJSONParser._inject_error_code`), query `ErrorResponse/Error/{Code,Message}` and
//! `RequestId` (`QueryParser._do_error_parse`). The e2e test `tests/e2e/test_front_door.py`
//! checks them through boto3 itself.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use hako_front_door::{known, FrontDoor, Limits};
use tower::ServiceExt;

const SIGV4: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{}/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=0123";

fn auth(service: &str) -> String {
    SIGV4.replace("{}", service)
}

fn lambda() -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions/{name}",
            get(
                |axum::extract::Path(name): axum::extract::Path<String>| async move {
                    format!("lambda get {name}")
                },
            ),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(|body: String| async move { format!("lambda invoke {body}") }),
        )
}

fn door() -> FrontDoor {
    FrontDoor::builder()
        .path(
            "/metrics",
            Router::new().route("/metrics", get(|| async { "metrics" })),
        )
        .service(&known::LAMBDA, lambda())
        .build()
}

async fn call(door: &FrontDoor, req: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let resp: Response = door.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn header<'a>(h: &'a http::HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Code and Message of a query protocol error, as botocore's QueryParser reads them.
fn query_error(body: &str) -> (String, String, String, String) {
    let field = |tag: &str| {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = body
            .find(&open)
            .unwrap_or_else(|| panic!("no {tag} in {body}"))
            + open.len();
        let end = body[start..].find(&close).unwrap() + start;
        body[start..end].to_string()
    };
    assert!(body.starts_with("<ErrorResponse>"), "{body}");
    (
        field("Type"),
        field("Code"),
        field("Message"),
        field("RequestId"),
    )
}

#[tokio::test]
async fn signed_and_unsigned_lambda_requests_reach_lambda() {
    let d = door();
    let req = Request::get("/2015-03-31/functions/f1")
        .header("authorization", auth("lambda"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&d, req).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "lambda get f1"));
    // Unsigned (a function calling AWS_ENDPOINT_URL_LAMBDA with plain HTTP): by its path.
    let req = Request::post("/2015-03-31/functions/f1/invocations")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, body) = call(&d, req).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "lambda invoke {}")
    );
    let (status, _, body) = call(&d, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "metrics"));
}

#[tokio::test]
async fn a_json_service_hako_does_not_serve_answers_in_json_1_0_and_1_1() {
    let d = door();
    // SQS: awsJson1_0, target prefix AmazonSQS (botocore's sqs model).
    let req = Request::post("/")
        .header("authorization", auth("sqs"))
        .header("x-amz-target", "AmazonSQS.ListQueues")
        .header("content-type", "application/x-amz-json-1.0")
        .body(Body::from("{}"))
        .unwrap();
    let (status, h, body) = call(&d, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&h, "content-type"), "application/x-amz-json-1.0");
    assert_eq!(header(&h, "x-amzn-errortype"), "UnknownOperationException");
    assert!(!header(&h, "x-amzn-requestid").is_empty());
    let v = json(&body);
    assert_eq!(v["__type"], "UnknownOperationException");
    assert_eq!(v["message"], "Hako does not serve SQS yet (ListQueues)");
    // Kinesis: awsJson1_1, and found by its target prefix without a signature.
    let req = Request::post("/")
        .header("x-amz-target", "Kinesis_20131202.ListStreams")
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from("{}"))
        .unwrap();
    let (status, h, body) = call(&d, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&h, "content-type"), "application/x-amz-json-1.1");
    assert_eq!(
        json(&body)["message"],
        "Hako does not serve Kinesis yet (ListStreams)"
    );
    // An unknown target, unsigned.
    let req = Request::post("/")
        .header("x-amz-target", "Nope_20200101.Do")
        .body(Body::from("{}"))
        .unwrap();
    let (_, _, body) = call(&d, req).await;
    assert_eq!(
        json(&body)["message"],
        "Hako does not know the service of X-Amz-Target Nope_20200101.Do"
    );
}

#[tokio::test]
async fn a_query_service_hako_does_not_serve_answers_an_xml_error_response() {
    let d = door();
    // STS: query protocol, the action in the form body.
    let req = Request::post("/")
        .header("authorization", auth("sts"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Body::from("Action=GetCallerIdentity&Version=2011-06-15"))
        .unwrap();
    let (status, h, body) = call(&d, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&h, "content-type"), "text/xml");
    let (ty, code, message, request_id) = query_error(&body);
    assert_eq!(ty, "Sender");
    assert_eq!(code, "InvalidAction");
    assert_eq!(message, "Hako does not serve STS yet (GetCallerIdentity)");
    assert_eq!(header(&h, "x-amzn-requestid"), request_id);
    // IAM with the action in the query string.
    let req = Request::get("/?Action=ListUsers&Version=2010-05-08")
        .header("authorization", auth("iam"))
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = call(&d, req).await;
    let (_, code, message, _) = query_error(&body);
    assert_eq!(code, "InvalidAction");
    assert_eq!(message, "Hako does not serve IAM yet (ListUsers)");
    // No action and no scope.
    let req = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("Version=1"))
        .unwrap();
    let (status, _, body) = call(&d, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(query_error(&body).1, "MissingAction");
}

#[tokio::test]
async fn rest_requests_for_no_served_service_answer_unknown_operation() {
    let d = door();
    // Scheduler's paths, unsigned.
    let (status, h, body) = call(&d, Request::get("/schedules").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&h, "x-amzn-errortype"), "UnknownOperationException");
    assert_eq!(header(&h, "content-type"), "application/json");
    assert_eq!(
        json(&body)["message"],
        "Hako does not serve Scheduler yet (GET /schedules)"
    );
    // `/tags/...` is Scheduler's only by its scope.
    let req = Request::get("/tags/arn")
        .header("authorization", auth("scheduler"))
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = call(&d, req).await;
    assert_eq!(
        json(&body)["message"],
        "Hako does not serve Scheduler yet (GET /tags/arn)"
    );
    // An unknown service in the scope.
    let req = Request::get("/x")
        .header("authorization", auth("nosuch"))
        .body(Body::empty())
        .unwrap();
    let (_, h, body) = call(&d, req).await;
    assert_eq!(header(&h, "x-amzn-errortype"), "UnknownOperationException");
    assert_eq!(
        json(&body)["message"],
        "Hako does not know the AWS service 'nosuch' (GET /x)"
    );
    // Nothing at all.
    let (_, _, body) = call(&d, Request::get("/nothing").body(Body::empty()).unwrap()).await;
    assert_eq!(
        json(&body)["message"],
        "Hako serves no AWS service at this path (GET /nothing)"
    );
    // S3 is REST-XML.
    let req = Request::get("/bucket/key")
        .header("authorization", auth("s3"))
        .body(Body::empty())
        .unwrap();
    let (status, h, body) = call(&d, req).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(header(&h, "content-type"), "application/xml");
    assert!(body.contains("<Error><Code>NotImplemented</Code><Message>Hako does not serve S3 yet (GET /bucket/key)</Message>"), "{body}");
}

#[tokio::test]
async fn the_frameworks_own_errors_for_a_served_service_carry_its_shape() {
    let d = door();
    // A wrong method: an unknown operation, as an unmatched path is.
    let req = Request::delete("/2015-03-31/functions/f1/invocations")
        .header("authorization", auth("lambda"))
        .body(Body::empty())
        .unwrap();
    let (status, h, body) = call(&d, req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&h, "x-amzn-errortype"), "UnknownOperationException");
    assert_eq!(
        json(&body)["message"],
        "Hako's Lambda has no operation at DELETE /2015-03-31/functions/f1/invocations"
    );
    // A path parameter that does not decode (invalid UTF-8): the framework's text as message.
    let req = Request::get("/2015-03-31/functions/%ff")
        .header("authorization", auth("lambda"))
        .body(Body::empty())
        .unwrap();
    let (status, h, body) = call(&d, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&h, "x-amzn-errortype"), "ValidationException");
    let msg = json(&body)["message"].as_str().unwrap().to_string();
    assert!(msg.contains("Invalid URL"), "{msg}");
    // Hako's own endpoints too.
    let (status, h, _) = call(&d, Request::post("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&h, "x-amzn-errortype"), "UnknownOperationException");
}

#[tokio::test]
async fn an_oversized_uri_or_head_is_refused_in_the_protocols_shape() {
    let d = FrontDoor::builder()
        .service(&known::LAMBDA, lambda())
        .limits(Limits {
            max_uri_bytes: 100,
            max_header_bytes: 200,
        })
        .build();
    let long = format!("/2015-03-31/functions/{}", "a".repeat(100));
    let (status, h, body) =
        call(&d, Request::get(long.as_str()).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_eq!(header(&h, "x-amzn-errortype"), "RequestTooLargeException");
    assert_eq!(
        json(&body)["message"],
        "The request's URI is 122 bytes long; Hako takes at most 100"
    );
    let req = Request::post("/")
        .header("x-amz-target", "AmazonSQS.ListQueues")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-big", "b".repeat(200))
        .body(Body::empty())
        .unwrap();
    let (status, h, _) = call(&d, req).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(header(&h, "content-type"), "application/x-amz-json-1.0");
}

#[tokio::test]
async fn a_served_json_service_is_found_by_scope_or_target_and_its_framework_errors_are_json() {
    let sqs = Router::new().route("/", post(|| async { "sqs" }));
    let d = FrontDoor::builder()
        .service(&known::LAMBDA, lambda())
        .service(&known::SQS, sqs)
        .build();
    for signed in [true, false] {
        let mut req = Request::post("/")
            .header("x-amz-target", "AmazonSQS.ListQueues")
            .header("content-type", "application/x-amz-json-1.0");
        if signed {
            req = req.header("authorization", auth("sqs"));
        }
        let (status, _, body) = call(&d, req.body(Body::from("{}")).unwrap()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "sqs"));
    }
    // SQS over the query protocol is not served (only its JSON protocol is registered).
    let req = Request::post("/")
        .header("authorization", auth("sqs"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("Action=ListQueues"))
        .unwrap();
    let (_, _, body) = call(&d, req).await;
    assert_eq!(query_error(&body).1, "InvalidAction");
    // A wrong method on the JSON service: in JSON 1.0's shape.
    let req = Request::get("/")
        .header("x-amz-target", "AmazonSQS.ListQueues")
        .header("content-type", "application/x-amz-json-1.0")
        .body(Body::empty())
        .unwrap();
    let (status, h, body) = call(&d, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&h, "content-type"), "application/x-amz-json-1.0");
    assert_eq!(json(&body)["__type"], "UnknownOperationException");
}

#[tokio::test]
async fn an_unsigned_query_request_is_found_by_its_action() {
    // AssumeRoleWithWebIdentity is sent unsigned (botocore's sts model: `authtype: none`).
    let form = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr";
    let unsigned = || {
        Request::post("/")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Body::from(form))
            .unwrap()
    };
    // Not served: STS named in the answer all the same.
    let (_, _, body) = call(&door(), unsigned()).await;
    let (_, code, message, _) = query_error(&body);
    assert_eq!(code, "InvalidAction");
    assert_eq!(
        message,
        "Hako does not serve STS yet (AssumeRoleWithWebIdentity)"
    );
    // Served: the service gets the whole form.
    let sts = Router::new().route(
        "/",
        post(|body: String| async move { format!("sts {body}") }),
    );
    let d = FrontDoor::builder()
        .service(&known::LAMBDA, lambda())
        .service(&known::STS, sts)
        .build();
    let (status, _, body) = call(&d, unsigned()).await;
    assert_eq!((status, body), (StatusCode::OK, format!("sts {form}")));
    // An action no service takes unsigned.
    let req = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("Action=GetCallerIdentity"))
        .unwrap();
    let (_, _, body) = call(&d, req).await;
    let (_, code, message, _) = query_error(&body);
    assert_eq!(code, "InvalidAction");
    assert_eq!(
        message,
        "Hako does not know the action GetCallerIdentity without a SigV4 credential scope naming its service"
    );
}

/// A claim takes its requests ahead of every service and path, and its answers go out as they
/// are (a 502 with a plain body is not put in any protocol's shape).
#[tokio::test]
async fn a_claim_takes_its_requests_first_and_is_answered_as_is() {
    let claim: hako_front_door::Claim = std::sync::Arc::new(|r: &Request<Body>| {
        r.headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.starts_with("claimed."))
    });
    let claimed =
        Router::new().fallback(|| async { (StatusCode::BAD_GATEWAY, "Internal Server Error") });
    let door = FrontDoor::builder()
        .claim(claim, claimed)
        .service(&known::LAMBDA, lambda())
        .build();
    let req = Request::get("/2015-03-31/functions/f")
        .header("host", "claimed.example:9000")
        .header("authorization", auth("lambda"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = call(&door, req).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body, "Internal Server Error");
    assert!(headers.get("x-amzn-errortype").is_none());
    let req = Request::get("/2015-03-31/functions/f")
        .header("host", "127.0.0.1:9000")
        .header("authorization", auth("lambda"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&door, req).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "lambda get f"));
}
