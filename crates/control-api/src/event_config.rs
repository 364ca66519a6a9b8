//! Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s).

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::event_invoke::EventInvokeConfigRequest;
use hako_model::limits::SMALL_REQUEST_MAX_BYTES;
use hako_model::validation::{query_integer, shapes};

use crate::error::ApiResult;
use crate::{json_response, paging, parse_json, qualifier, read_body, Params, St};

async fn request(body: Body, op: &str) -> ApiResult<EventInvokeConfigRequest> {
    let bytes = read_body(body, SMALL_REQUEST_MAX_BYTES, op).await?;
    parse_json(&bytes)
}

pub(crate) async fn put(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let req = request(body, "PutFunctionEventInvokeConfig").await?;
    let c =
        st.0.put_event_invoke_config(&name, qualifier(&q), req)
            .await?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn update(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let req = request(body, "UpdateFunctionEventInvokeConfig").await?;
    let c =
        st.0.update_event_invoke_config(&name, qualifier(&q), req)
            .await?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn get(st: St, Path(name): Path<String>, Query(q): Params) -> ApiResult<Response> {
    let c = st.0.get_event_invoke_config(&name, qualifier(&q))?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn delete(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    st.0.delete_event_invoke_config(&name, qualifier(&q))
        .await?;
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
    let resp = st.0.list_event_invoke_configs(&name, &paging(&q))?;
    Ok(json_response(StatusCode::OK, &resp))
}
