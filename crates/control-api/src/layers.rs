//! Layers (API 2018-10-31): PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn,
//! ListLayers, ListLayerVersions, DeleteLayerVersion, Add/RemoveLayerVersionPermission,
//! GetLayerVersionPolicy. A layer version's `Content.Location` is served by
//! `GET /_hako/code/<sha256>.zip`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hako_model::layer::{self, AddLayerVersionPermissionRequest, PublishLayerVersionRequest};
use hako_model::limits::{CONFIG_REQUEST_MAX_BYTES, LAYER_REQUEST_MAX_BYTES};
use hako_model::validation::{query_integer, shapes};

use crate::error::{ApiError, ApiResult};
use crate::{code_location, json_response, paging, parse_json, read_body, Params, St};

pub(crate) async fn publish(
    st: St,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, LAYER_REQUEST_MAX_BYTES, "PublishLayerVersion").await?;
    let req: PublishLayerVersionRequest = parse_json(&body)?;
    let resp =
        st.0.publish_layer_version(&name, req, code_location(&headers))
            .await?;
    Ok(json_response(StatusCode::CREATED, &resp))
}

pub(crate) async fn get(
    st: St,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let resp =
        st.0.get_layer_version(&name, &version, code_location(&headers))?;
    Ok(json_response(StatusCode::OK, &resp))
}

/// `GET /2018-10-31/layers`: GetLayerVersionByArn with `find=LayerVersion`, else ListLayers.
pub(crate) async fn list_or_find(
    st: St,
    Query(q): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if q.get("find").map(String::as_str) == Some("LayerVersion") {
        let Some(arn) = q.get("Arn") else {
            return Err(ApiError(hako_model::error::missing("arn")));
        };
        let resp =
            st.0.get_layer_version_by_arn(arn, code_location(&headers))?;
        return Ok(json_response(StatusCode::OK, &resp));
    }
    let (runtime, arch) = filters(&q)?;
    let resp = st.0.list_layers(runtime, arch, &paging(&q))?;
    Ok(json_response(StatusCode::OK, &resp))
}

/// The list calls' `CompatibleRuntime`, `CompatibleArchitecture` and `MaxItems` parameters.
fn filters(q: &HashMap<String, String>) -> ApiResult<(Option<&str>, Option<&str>)> {
    let runtime = q.get("CompatibleRuntime").map(String::as_str);
    let arch = q.get("CompatibleArchitecture").map(String::as_str);
    layer::validate_filters(runtime, arch)?;
    query_integer(
        "maxItems",
        q.get("MaxItems").map(String::as_str),
        &shapes::MAX_ITEMS_50,
    )?;
    Ok((runtime, arch))
}

pub(crate) async fn list_versions(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let (runtime, arch) = filters(&q)?;
    let resp =
        st.0.list_layer_versions(&name, runtime, arch, &paging(&q))?;
    Ok(json_response(StatusCode::OK, &resp))
}

/// DeleteLayerVersion: 204 whether or not the version existed (as AWS).
pub(crate) async fn delete(
    st: St,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    st.0.delete_layer_version(&name, &version)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn add_permission(
    st: St,
    Path((name, version)): Path<(String, String)>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "AddLayerVersionPermission").await?;
    let req: AddLayerVersionPermissionRequest = parse_json(&body)?;
    let revision_id = q.get("RevisionId").map(String::as_str);
    let resp =
        st.0.add_layer_version_permission(&name, &version, revision_id, req)?;
    Ok(json_response(StatusCode::CREATED, &resp))
}

pub(crate) async fn get_policy(
    st: St,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let resp = st.0.get_layer_version_policy(&name, &version)?;
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn remove_permission(
    st: St,
    Path((name, version, sid)): Path<(String, String, String)>,
    Query(q): Params,
) -> ApiResult<Response> {
    let revision_id = q.get("RevisionId").map(String::as_str);
    st.0.remove_layer_version_permission(&name, &version, &sid, revision_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
