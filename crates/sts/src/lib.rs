//! STS on Hako's endpoint: `GetCallerIdentity`, in the query protocol as the SDKs speak it
//! (`Action=GetCallerIdentity&Version=2011-06-15`, a form body or the query string), answered
//! from the [`Principal`] the front door verified: the account's root
//! (`arn:aws:iam::ACCOUNT:root`, `UserId` the account) or a function's role session
//! (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION`, `UserId` `AROA...:FUNCTION`).
//!
//! The answer's shape is STS's (API reference, GetCallerIdentity, "Example": the
//! `GetCallerIdentityResponse` element in the `https://sts.amazonaws.com/doc/2011-06-15/`
//! namespace with `GetCallerIdentityResult` {`Arn`, `UserId`, `Account`} and
//! `ResponseMetadata.RequestId`). Other actions are STS's `InvalidAction`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use hako_front_door::{query, Principal};

/// The largest form body read (STS's largest request, AssumeRoleWithSAML, is ~100 kB).
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// STS's router: every query request at `/`.
pub fn router() -> Router {
    Router::new().fallback(handle)
}

async fn handle(req: Request) -> Response {
    let principal = req.extensions().get::<Principal>().cloned();
    let query_string = req.uri().query().map(str::to_string).unwrap_or_default();
    let form = match axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return query::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request's body is too large",
            )
        }
    };
    let action = form_urlencoded::parse(query_string.as_bytes())
        .chain(form_urlencoded::parse(&form))
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned());
    match (action.as_deref(), principal) {
        (Some("GetCallerIdentity"), Some(p)) => get_caller_identity(&p),
        (Some("GetCallerIdentity"), None) => query::error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ),
        (Some(a), _) => query::error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!("Could not find operation {a} for version 2011-06-15"),
        ),
        (None, _) => query::error(StatusCode::BAD_REQUEST, "MissingAction", "Missing Action"),
    }
}

fn get_caller_identity(p: &Principal) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  \
         <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    \
         <Account>{}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    \
         <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        query::escape(&p.arn),
        query::escape(&p.user_id),
        query::escape(&p.account)
    );
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn call(req: Request) -> (StatusCode, String) {
        let r = router().oneshot(req).await.unwrap();
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn get_caller_identity_answers_the_principal() {
        let mut req = Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("Action=GetCallerIdentity&Version=2011-06-15"))
            .unwrap();
        req.extensions_mut().insert(hako_auth::Principal::function(
            "123456789012",
            "ASIAX",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:iam::123456789012:role/r",
        ));
        let (status, body) = call(req).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("<Arn>arn:aws:sts::123456789012:assumed-role/r/f</Arn>"),
            "{body}"
        );
        assert!(body.contains("<Account>123456789012</Account>"));
        assert!(body.contains(":f</UserId>"));
        let req = Request::get("/?Action=AssumeRole&Version=2011-06-15")
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("<Code>InvalidAction</Code>"));
    }
}
