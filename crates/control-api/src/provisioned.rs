//! Provisioned concurrency: PutProvisionedConcurrencyConfig, GetProvisionedConcurrencyConfig,
//! DeleteProvisionedConcurrencyConfig, ListProvisionedConcurrencyConfigs (one path, told apart
//! by method and `List=ALL`).

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::limits::SMALL_REQUEST_MAX_BYTES;
use hako_model::provisioned::PutProvisionedConcurrencyConfigRequest;
use hako_model::validation::{query_integer, shapes};

use crate::error::ApiResult;
use crate::{json_response, paging, parse_json, qualifier, read_body, Params, St};

pub(crate) async fn put(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(
        body,
        SMALL_REQUEST_MAX_BYTES,
        "PutProvisionedConcurrencyConfig",
    )
    .await?;
    let req: PutProvisionedConcurrencyConfigRequest = parse_json(&body)?;
    let c =
        st.0.put_provisioned_concurrency(&name, qualifier(&q), req)
            .await?;
    Ok(json_response(StatusCode::ACCEPTED, &c))
}

/// GET: ListProvisionedConcurrencyConfigs with `List=ALL`, else GetProvisionedConcurrencyConfig.
pub(crate) async fn get_or_list(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    if q.get("List").is_some_and(|v| v == "ALL") {
        query_integer(
            "maxItems",
            q.get("MaxItems").map(String::as_str),
            &shapes::MAX_ITEMS_50,
        )?;
        let resp = st.0.list_provisioned_concurrency(&name, &paging(&q))?;
        return Ok(json_response(StatusCode::OK, &resp));
    }
    let c = st.0.get_provisioned_concurrency(&name, qualifier(&q))?;
    Ok(json_response(StatusCode::OK, &c))
}

pub(crate) async fn delete(
    st: St,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    st.0.delete_provisioned_concurrency(&name, qualifier(&q))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
