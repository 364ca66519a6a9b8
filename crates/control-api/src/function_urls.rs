//! Create/Get/Update/Delete/ListFunctionUrlConfig(s) (`/2021-10-31/functions/{name}/url` and
//! `/urls`).

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::limits::SMALL_REQUEST_MAX_BYTES;
use hako_model::validation::{query_integer, shapes};

use crate::error::ApiResult;
use crate::{json_response, paging, parse_json, qualifier, read_body, Params, St};

pub(crate) async fn create(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, SMALL_REQUEST_MAX_BYTES, "CreateFunctionUrlConfig").await?;
    let c =
        st.0.create_function_url(&name, qualifier(&q), parse_json(&body)?)
            .await?;
    Ok(json_response(StatusCode::CREATED, &c))
}

pub(crate) async fn get(st: St, Path(name): Path<String>, Query(q): Params) -> ApiResult<Response> {
    let c = st.0.get_function_url(&name, qualifier(&q))?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn update(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, SMALL_REQUEST_MAX_BYTES, "UpdateFunctionUrlConfig").await?;
    let c =
        st.0.update_function_url(&name, qualifier(&q), parse_json(&body)?)
            .await?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn delete(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    st.0.delete_function_url(&name, qualifier(&q)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    query_integer(
        "maxItems",
        q.get("MaxItems").map(String::as_str),
        &shapes::MAX_ITEMS_50,
    )?;
    let resp = st.0.list_function_urls(&name, &paging(&q))?;
    Ok(json_response(StatusCode::OK, &resp))
}
