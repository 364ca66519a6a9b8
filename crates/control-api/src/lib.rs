//! The Lambda control plane's REST-JSON binding (API version 2015-03-31): AWS's routes, shapes,
//! headers and status codes. Each handler parses the request (path, query, headers, body), calls
//! one method of the application layer (`hako_lambda::Lambda`) and shapes its answer; nothing in
//! a handler decides.
//!
//! Invariant: the only crate that knows AWS error shapes and control-plane routes; every error
//! becomes a response in `error::ApiError`'s one `IntoResponse`.

mod account;
mod aliases;
pub mod authz;
mod concurrency;
pub mod error;
mod event_config;
mod event_source_mappings;
mod function_urls;
mod functions;
mod invoke;
mod layers;
mod operations;
mod permissions;
mod provisioned;
mod response_stream;
mod tags;
mod versions;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use hako_lambda::{Lambda, Paging};
use hako_model::{Error, ErrorKind};

use crate::error::{ApiError, ApiResult};

/// What every handler shares: the Lambda application layer.
type St = State<Arc<Lambda>>;

/// A request's query parameters.
type Params = axum::extract::Query<HashMap<String, String>>;

/// The control-plane router.
pub fn router(state: Arc<Lambda>) -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions",
            get(functions::list).post(functions::create),
        )
        .route(
            "/2015-03-31/functions/",
            get(functions::list).post(functions::create),
        )
        .route(
            "/2015-03-31/functions/{name}",
            get(functions::get).delete(functions::delete),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            "/2015-03-31/functions/{name}/code",
            axum::routing::put(functions::update_code),
        )
        .route(
            "/2015-03-31/functions/{name}/versions",
            get(versions::list).post(versions::publish_version),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases",
            get(aliases::list).post(aliases::create),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(aliases::get)
                .put(aliases::update)
                .delete(aliases::delete),
        )
        .route(
            "/2015-03-31/functions/{name}/policy",
            get(permissions::get).post(permissions::add),
        )
        .route(
            "/2015-03-31/functions/{name}/policy/{sid}",
            axum::routing::delete(permissions::remove),
        )
        .route(
            "/2017-03-31/tags/{resource}",
            get(tags::list).post(tags::tag).delete(tags::untag),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(invoke::invoke),
        )
        .route(
            "/2021-11-15/functions/{name}/response-streaming-invocations",
            post(response_stream::invoke_with_response_stream),
        )
        .route(
            "/2014-11-13/functions/{name}/invoke-async",
            post(invoke::invoke_async),
        )
        .route(
            "/2014-11-13/functions/{name}/invoke-async/",
            post(invoke::invoke_async),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            axum::routing::put(concurrency::put).delete(concurrency::delete),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(concurrency::get),
        )
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            get(provisioned::get_or_list)
                .put(provisioned::put)
                .delete(provisioned::delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(event_config::get)
                .put(event_config::put)
                .post(event_config::update)
                .delete(event_config::delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config/list",
            get(event_config::list),
        )
        .route(
            "/2021-10-31/functions/{name}/url",
            get(function_urls::get)
                .post(function_urls::create)
                .put(function_urls::update)
                .delete(function_urls::delete),
        )
        .route(
            "/2021-10-31/functions/{name}/urls",
            get(function_urls::list),
        )
        .route(
            "/2015-03-31/event-source-mappings",
            get(event_source_mappings::list).post(event_source_mappings::create),
        )
        .route(
            "/2015-03-31/event-source-mappings/",
            get(event_source_mappings::list).post(event_source_mappings::create),
        )
        .route(
            "/2015-03-31/event-source-mappings/{uuid}",
            get(event_source_mappings::get)
                .put(event_source_mappings::update)
                .delete(event_source_mappings::delete),
        )
        .route(
            "/2016-08-19/account-settings",
            get(account::get_account_settings),
        )
        .route(
            "/2016-08-19/account-settings/",
            get(account::get_account_settings),
        )
        .route("/2018-10-31/layers", get(layers::list_or_find))
        .route("/2018-10-31/layers/", get(layers::list_or_find))
        .route(
            "/2018-10-31/layers/{layer}/versions",
            get(layers::list_versions).post(layers::publish),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}",
            get(layers::get).delete(layers::delete),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}/policy",
            get(layers::get_policy).post(layers::add_permission),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}/policy/{sid}",
            axum::routing::delete(layers::remove_permission),
        )
        .route("/_hako/code/{file}", get(functions::download_code))
        .route("/_hako/health", get(|| async { "ok" }))
        .fallback(unknown_operation)
        .method_not_allowed_fallback(unknown_operation)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(add_request_id))
        .with_state(state)
}

async fn add_request_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key("x-amzn-requestid") {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            resp.headers_mut().insert("x-amzn-requestid", v);
        }
    }
    resp
}

async fn unknown_operation(State(_): St, req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    match operations::operation_for(&method, &path) {
        Some(op) => ApiError(Error::new(
            ErrorKind::NotImplemented,
            format!("Hako does not implement the Lambda operation {op} yet"),
        ))
        .into_response(),
        None => {
            let (ty, _) = ("UnknownOperationException", ());
            let mut r = ApiError(Error::not_found(format!(
                "no Lambda operation at {method} {path}"
            )))
            .into_response();
            r.headers_mut()
                .insert("x-amzn-errortype", HeaderValue::from_static(ty));
            r
        }
    }
}

/// Where Hako serves the zip `sha256_hex` (GetFunction's `Code.Location`, GetLayerVersion's
/// `Content.Location`), on the host the caller used.
pub(crate) fn code_location(headers: &HeaderMap) -> impl FnOnce(&str) -> String + '_ {
    move |sha256_hex| {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1:9000");
        format!("http://{host}/_hako/code/{sha256_hex}.zip")
    }
}

/// The `Qualifier` query parameter.
pub(crate) fn qualifier(q: &HashMap<String, String>) -> Option<&str> {
    q.get("Qualifier").map(String::as_str)
}

/// A list call's `Marker` and `MaxItems` query parameters.
pub(crate) fn paging(q: &HashMap<String, String>) -> Paging {
    Paging {
        marker: q.get("Marker").cloned(),
        max_items: q.get("MaxItems").cloned(),
    }
}

/// Reads a request body up to `limit` bytes, with AWS's error past it.
pub(crate) async fn read_body(body: Body, limit: usize, operation: &str) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        body_error(e, || {
            ApiError(Error::new(
                ErrorKind::RequestTooLarge,
                format!("Request must be smaller than {limit} bytes for the {operation} operation"),
            ))
        })
    })
}

/// The error of a body that could not be read: `too_large` when it passed the length limit,
/// else the body itself broke (a malformed chunk, a closed connection, a body that stopped
/// arriving): InvalidRequestContentException with what broke.
pub(crate) fn body_error(e: axum::Error, too_large: impl FnOnce() -> ApiError) -> ApiError {
    let mut chain = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return too_large();
        }
        let text = err.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        cur = err.source();
    }
    ApiError(Error::new(
        ErrorKind::InvalidRequestContent,
        format!("Could not read the request body: {}", chain.join(": ")),
    ))
}

/// Parses a JSON request body (empty means `{}`), with AWS's error for malformed content.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError(Error::new(
            ErrorKind::InvalidRequestContent,
            format!("Could not parse request body into json: {e}"),
        ))
    })
}

/// A 200/201 JSON response.
pub(crate) fn json_response<T: serde::Serialize>(
    status: axum::http::StatusCode,
    v: &T,
) -> Response {
    match serde_json::to_vec(v) {
        Ok(b) => {
            let mut r = (status, b).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        Err(e) => ApiError(Error::service(format!("cannot encode response: {e}"))).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_past_the_limit_is_too_large_and_a_broken_one_is_invalid_content() {
        let big = Body::from(vec![b'x'; 11]);
        let e = read_body(big, 10, "CreateAlias").await.unwrap_err();
        assert_eq!(e.0.kind, ErrorKind::RequestTooLarge);
        assert_eq!(
            e.0.message,
            "Request must be smaller than 10 bytes for the CreateAlias operation"
        );

        // A body that breaks (as hyper's does on a malformed chunk size) is not "too large".
        let (tx, rx) = http_body_util::channel::Channel::<
            Bytes,
            Box<dyn std::error::Error + Send + Sync>,
        >::new(1);
        tx.abort("invalid chunk size line".into());
        let e = read_body(Body::new(rx), 10, "CreateAlias")
            .await
            .unwrap_err();
        assert_eq!(e.0.kind, ErrorKind::InvalidRequestContent);
        assert!(
            e.0.message.starts_with("Could not read the request body: "),
            "{}",
            e.0.message
        );
        assert!(
            e.0.message.contains("invalid chunk size line"),
            "{}",
            e.0.message
        );
    }
}
