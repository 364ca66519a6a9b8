//! Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s): how asynchronous invocations of a
//! function (per qualifier: `$LATEST`, a version or an alias) are retried and where their
//! invocation records go. Shapes and validation: `hako_model::event_invoke`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::event_invoke::{
    self, config_not_found, EventInvokeConfigRequest, FunctionEventInvokeConfig,
    ListFunctionEventInvokeConfigsResponse,
};
use hako_model::{alias, Error, FunctionRef};

use crate::error::{ApiError, ApiResult};
use crate::{json_response, parse_json, read_body, ApiState};

type Params = Query<HashMap<String, String>>;

const BODY_MAX_BYTES: usize = 64 * 1024;

fn now_epoch() -> f64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Milliseconds, as AWS reports it.
    (t.as_millis() as f64) / 1000.0
}

/// The function and qualifier (default `$LATEST`) a request names; both must exist.
fn target(st: &ApiState, name: &str, q: &HashMap<String, String>) -> ApiResult<(String, String)> {
    let r = FunctionRef::parse(name, &st.region)?
        .with_qualifier(q.get("Qualifier").map(String::as_str))?;
    if st.db.get_function(&r.name, "$LATEST")?.is_none() {
        return Err(ApiError(Error::function_not_found(
            &st.region.function_arn(&r.name),
        )));
    }
    let qualifier = r.qualifier.unwrap_or_else(|| "$LATEST".to_string());
    let exists = if qualifier == "$LATEST" {
        true
    } else if alias::is_version_number(&qualifier) {
        st.db.get_function(&r.name, &qualifier)?.is_some()
    } else {
        st.db.get_alias(&r.name, &qualifier)?.is_some()
    };
    if !exists {
        return Err(ApiError(Error::function_not_found(
            &st.region.qualified_arn(&r.name, &qualifier),
        )));
    }
    Ok((r.name, qualifier))
}

async fn request(body: Body, op: &str) -> ApiResult<EventInvokeConfigRequest> {
    let bytes = read_body(body, BODY_MAX_BYTES, op).await?;
    parse_json(&bytes)
}

fn ok(st: &ApiState, rec: &event_invoke::EventInvokeRecord) -> Response {
    json_response(
        StatusCode::OK,
        &FunctionEventInvokeConfig::from_record(rec, &st.region),
    )
}

pub(crate) async fn put(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let req = request(body, "PutFunctionEventInvokeConfig").await?;
    let _w = st.writes.lock().await;
    let (fname, qualifier) = target(&st, &name, &q)?;
    let rec = event_invoke::put_record(&fname, &qualifier, &req, &st.region, now_epoch())?;
    st.db.put_event_invoke_config(&rec)?;
    tracing::info!(function = %fname, qualifier = %qualifier, "event invoke config put");
    Ok(ok(&st, &rec))
}

pub(crate) async fn update(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let req = request(body, "UpdateFunctionEventInvokeConfig").await?;
    let _w = st.writes.lock().await;
    let (fname, qualifier) = target(&st, &name, &q)?;
    let now = now_epoch();
    let rec = st
        .db
        .update_event_invoke_config(&fname, &qualifier, |r| {
            event_invoke::update_record(r, &req, &st.region, now)
        })?
        .ok_or_else(|| config_not_found(&st.region.qualified_arn(&fname, &qualifier)))?;
    Ok(ok(&st, &rec))
}

pub(crate) async fn get(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let (fname, qualifier) = target(&st, &name, &q)?;
    let rec = st
        .db
        .get_event_invoke_config(&fname, &qualifier)?
        .ok_or_else(|| config_not_found(&st.region.qualified_arn(&fname, &qualifier)))?;
    Ok(ok(&st, &rec))
}

pub(crate) async fn delete(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let _w = st.writes.lock().await;
    let (fname, qualifier) = target(&st, &name, &q)?;
    if !st.db.delete_event_invoke_config(&fname, &qualifier)? {
        return Err(ApiError(config_not_found(
            &st.region.qualified_arn(&fname, &qualifier),
        )));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    if let Some(m) = q.get("MaxItems").and_then(|m| m.parse::<i64>().ok()) {
        if m > 50 {
            return Err(ApiError(hako_model::error::constraint(
                &m.to_string(),
                "maxItems",
                "Member must have value less than or equal to 50",
            )));
        }
    }
    let r = FunctionRef::parse(&name, &st.region)?;
    if r.qualifier.is_some() {
        return Err(ApiError(Error::invalid(
            "ListFunctionEventInvokeConfigs takes an unqualified function name.",
        )));
    }
    if st.db.get_function(&r.name, "$LATEST")?.is_none() {
        return Err(ApiError(Error::function_not_found(
            &st.region.function_arn(&r.name),
        )));
    }
    let all = st.db.list_event_invoke_configs(&r.name)?;
    let (items, next_marker) = crate::versions::page(&all, |c| c.qualifier.clone(), &q)?;
    Ok(json_response(
        StatusCode::OK,
        &ListFunctionEventInvokeConfigsResponse {
            function_event_invoke_configs: items
                .into_iter()
                .map(|c| FunctionEventInvokeConfig::from_record(c, &st.region))
                .collect(),
            next_marker,
        },
    ))
}
