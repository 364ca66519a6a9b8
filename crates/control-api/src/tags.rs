//! Tags: TagResource, UntagResource, ListTags (API 2017-03-31) on a function's ARN.

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::alias::TagResourceRequest;
use hako_model::limits::CONFIG_REQUEST_MAX_BYTES;

use crate::error::ApiResult;
use crate::{json_response, parse_json, read_body, St};

pub(crate) async fn tag(st: St, Path(resource): Path<String>, body: Body) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "TagResource").await?;
    let req: TagResourceRequest = parse_json(&body)?;
    st.0.tag_resource(&resource, req).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn untag(
    st: St,
    Path(resource): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let keys: Vec<String> = q
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    st.0.untag_resource(&resource, &keys).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(st: St, Path(resource): Path<String>) -> ApiResult<Response> {
    let resp = st.0.list_tags(&resource)?;
    Ok(json_response(StatusCode::OK, &resp))
}
