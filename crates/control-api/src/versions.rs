//! Versions: PublishVersion and ListVersionsByFunction.

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use hako_model::alias::PublishVersionRequest;
use hako_model::limits::CONFIG_REQUEST_MAX_BYTES;

use crate::error::ApiResult;
use crate::{json_response, paging, parse_json, read_body, Params, St};

pub(crate) async fn publish_version(
    st: St,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "PublishVersion").await?;
    let req: PublishVersionRequest = parse_json(&body)?;
    let c = st.0.publish_version(&name, req).await?;
    Ok(json_response(StatusCode::CREATED, &c))
}

pub(crate) async fn list(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let resp = st.0.list_versions(&name, &paging(&q))?;
    Ok(json_response(StatusCode::OK, &resp))
}
