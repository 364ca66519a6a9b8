//! Aliases: CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias.

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::alias::{CreateAliasRequest, UpdateAliasRequest};
use hako_model::limits::CONFIG_REQUEST_MAX_BYTES;

use crate::error::ApiResult;
use crate::{json_response, paging, parse_json, read_body, Params, St};

pub(crate) async fn create(st: St, Path(name): Path<String>, body: Body) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "CreateAlias").await?;
    let req: CreateAliasRequest = parse_json(&body)?;
    let a = st.0.create_alias(&name, req).await?;
    Ok(json_response(StatusCode::CREATED, &a))
}

pub(crate) async fn get(
    st: St,
    Path((name, alias)): Path<(String, String)>,
) -> ApiResult<Response> {
    let a = st.0.get_alias(&name, &alias)?;
    Ok(json_response(StatusCode::OK, &a))
}

pub(crate) async fn list(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let version = q.get("FunctionVersion").map(String::as_str);
    let resp = st.0.list_aliases(&name, version, &paging(&q))?;
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn update(
    st: St,
    Path((name, alias)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "UpdateAlias").await?;
    let req: UpdateAliasRequest = parse_json(&body)?;
    let a = st.0.update_alias(&name, &alias, req).await?;
    Ok(json_response(StatusCode::OK, &a))
}

pub(crate) async fn delete(
    st: St,
    Path((name, alias)): Path<(String, String)>,
) -> ApiResult<Response> {
    st.0.delete_alias(&name, &alias).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
