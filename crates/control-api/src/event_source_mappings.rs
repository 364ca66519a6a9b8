//! Create/Get/List/Update/DeleteEventSourceMapping (API 2015-03-31).

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use hako_model::esm::EsmRequest;
use hako_model::limits::CONFIG_REQUEST_MAX_BYTES;

use crate::error::ApiResult;
use crate::{json_response, paging, parse_json, read_body, Params, St};

async fn request(body: Body, op: &str) -> ApiResult<EsmRequest> {
    let bytes = read_body(body, CONFIG_REQUEST_MAX_BYTES, op).await?;
    parse_json(&bytes)
}

pub(crate) async fn create(st: St, body: Body) -> ApiResult<Response> {
    let req = request(body, "CreateEventSourceMapping").await?;
    let c = st.0.create_event_source_mapping(req).await?;
    Ok(json_response(StatusCode::ACCEPTED, &c))
}

pub(crate) async fn list(st: St, Query(q): Params) -> ApiResult<Response> {
    let resp = st.0.list_event_source_mappings(
        q.get("FunctionName").map(String::as_str),
        q.get("EventSourceArn").map(String::as_str),
        &paging(&q),
    )?;
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn get(st: St, Path(uuid): Path<String>) -> ApiResult<Response> {
    let c = st.0.get_event_source_mapping(&uuid)?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn update(st: St, Path(uuid): Path<String>, body: Body) -> ApiResult<Response> {
    let req = request(body, "UpdateEventSourceMapping").await?;
    let c = st.0.update_event_source_mapping(&uuid, req).await?;
    Ok(json_response(StatusCode::ACCEPTED, &c))
}

pub(crate) async fn delete(st: St, Path(uuid): Path<String>) -> ApiResult<Response> {
    let c = st.0.delete_event_source_mapping(&uuid).await?;
    Ok(json_response(StatusCode::ACCEPTED, &c))
}
