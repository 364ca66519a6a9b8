//! Functions: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, and the download of a
//! package behind GetFunction's `Code.Location`.

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hako_model::limits::{CODE_REQUEST_MAX_BYTES, CONFIG_REQUEST_MAX_BYTES};
use hako_model::validation::{query_string, shapes};
use hako_model::{wire, Error};

use crate::error::{ApiError, ApiResult};
use crate::{code_location, json_response, paging, parse_json, qualifier, read_body, Params, St};

pub(crate) async fn create(st: St, body: Body) -> ApiResult<Response> {
    let body = read_body(body, CODE_REQUEST_MAX_BYTES, "CreateFunction").await?;
    let req: wire::CreateFunctionRequest = parse_json(&body)?;
    let c = st.0.create_function(req).await?;
    Ok(json_response(StatusCode::CREATED, &c))
}

pub(crate) async fn get(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let resp =
        st.0.get_function(&name, qualifier(&q), code_location(&headers))?;
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn get_configuration(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let c = st.0.get_function_configuration(&name, qualifier(&q))?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn list(st: St, Query(q): Params) -> ApiResult<Response> {
    let all_versions = query_string(
        "functionVersion",
        q.get("FunctionVersion").map(String::as_str),
        &shapes::FUNCTION_VERSION,
    )?
    .is_some();
    let resp = st.0.list_functions(all_versions, &paging(&q))?;
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn update_configuration(
    st: St,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(
        body,
        CONFIG_REQUEST_MAX_BYTES,
        "UpdateFunctionConfiguration",
    )
    .await?;
    let req: wire::UpdateFunctionConfigurationRequest = parse_json(&body)?;
    let c = st.0.update_function_configuration(&name, req).await?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn update_code(
    st: St,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CODE_REQUEST_MAX_BYTES, "UpdateFunctionCode").await?;
    let req: wire::UpdateFunctionCodeRequest = parse_json(&body)?;
    let c = st.0.update_function_code(&name, req).await?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn delete(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    st.0.delete_function(&name, qualifier(&q)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn download_code(st: St, Path(file): Path<String>) -> ApiResult<Response> {
    let path = st.0.code_zip(&file)?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError(Error::not_found("no such code package")))?;
    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/zip"));
    Ok(r)
}
