//! Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency,
//! DeleteFunctionConcurrency.

use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::concurrency::PutFunctionConcurrencyRequest;
use hako_model::limits::SMALL_REQUEST_MAX_BYTES;

use crate::error::ApiResult;
use crate::{json_response, parse_json, read_body, St};

pub(crate) async fn put(st: St, Path(name): Path<String>, body: Body) -> ApiResult<Response> {
    let body = read_body(body, SMALL_REQUEST_MAX_BYTES, "PutFunctionConcurrency").await?;
    let req: PutFunctionConcurrencyRequest = parse_json(&body)?;
    let c = st.0.put_function_concurrency(&name, req).await?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn get(st: St, Path(name): Path<String>) -> ApiResult<Response> {
    let c = st.0.get_function_concurrency(&name)?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn delete(st: St, Path(name): Path<String>) -> ApiResult<Response> {
    st.0.delete_function_concurrency(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
