//! Resource-based policies of functions, versions and aliases (API 2015-03-31): AddPermission
//! (`POST /functions/{name}/policy`, 201), GetPolicy (`GET`, 200) and RemovePermission
//! (`DELETE /functions/{name}/policy/{sid}`, 204), each with an optional `?Qualifier=`;
//! RemovePermission's RevisionId is a query parameter, AddPermission's a body member.

use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::limits::CONFIG_REQUEST_MAX_BYTES;
use hako_model::permission::AddPermissionRequest;

use crate::error::ApiResult;
use crate::{json_response, parse_json, qualifier, read_body, Params, St};

pub(crate) async fn add(
    st: St,
    Path(name): Path<String>,
    axum::extract::Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "AddPermission").await?;
    let req: AddPermissionRequest = parse_json(&body)?;
    let resp = st.0.add_permission(&name, qualifier(&q), req).await?;
    Ok(json_response(StatusCode::CREATED, &resp))
}

pub(crate) async fn get(
    st: St,
    Path(name): Path<String>,
    axum::extract::Query(q): Params,
) -> ApiResult<Response> {
    let resp = st.0.get_policy(&name, qualifier(&q))?;
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn remove(
    st: St,
    Path((name, sid)): Path<(String, String)>,
    axum::extract::Query(q): Params,
) -> ApiResult<Response> {
    let revision_id = q.get("RevisionId").map(String::as_str);
    st.0.remove_permission(&name, qualifier(&q), &sid, revision_id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
