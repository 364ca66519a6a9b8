//! Tags: TagResource, UntagResource, ListTags (API 2017-03-31) on a function's ARN.
//!
//! Tags belong to the function (they are kept on its `$LATEST` record and returned by
//! GetFunction); versions and aliases cannot be tagged, as on AWS. Tags are not part of what a
//! function runs, so changing them neither retires sandboxes nor changes the RevisionId.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::alias::{ListTagsResponse, TagResourceRequest, TAGS_MAX};
use hako_model::error::constraint;
use hako_model::function::outbound_network;
use hako_model::wire::validate_tags;
use hako_model::{Error, ErrorKind, FunctionRef};

use crate::error::{ApiError, ApiResult};
use crate::versions::CONFIG_REQUEST_MAX_BYTES;
use crate::{json_response, parse_json, read_body, ApiState};

const TAGGABLE_PATTERN: &str = "arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})";

/// The function a taggable resource ARN names; it must exist and be unqualified.
fn function_of(st: &ApiState, resource: &str) -> ApiResult<String> {
    let bad = || {
        ApiError(constraint(
            resource,
            "resource",
            &format!("Member must satisfy regular expression pattern: {TAGGABLE_PATTERN}"),
        ))
    };
    if !resource.starts_with("arn:aws") || resource.split(':').nth(5) != Some("function") {
        return Err(bad());
    }
    let r = FunctionRef::parse(resource, &st.region).map_err(|e| {
        if e.kind == ErrorKind::ResourceNotFound {
            ApiError(e)
        } else {
            bad()
        }
    })?;
    if r.qualifier.is_some() {
        return Err(ApiError(Error::invalid(
            "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        )));
    }
    if st.db.get_function(&r.name, "$LATEST")?.is_none() {
        return Err(ApiError(Error::function_not_found(
            &st.region.function_arn(&r.name),
        )));
    }
    Ok(r.name)
}

fn update_tags<F>(st: &ApiState, name: &str, f: F) -> ApiResult<()>
where
    F: FnOnce(&mut BTreeMap<String, String>) -> Result<(), Error>,
{
    let mut network_changed = false;
    st.db
        .update_function(name, "$LATEST", |rec| {
            let before = outbound_network(&rec.tags);
            f(&mut rec.tags)?;
            network_changed = before != outbound_network(&rec.tags);
            Ok(())
        })
        .map_err(|e| {
            if e.kind == ErrorKind::ResourceNotFound {
                ApiError(Error::function_not_found(&st.region.function_arn(name)))
            } else {
                ApiError(e)
            }
        })?;
    // The network is set when a sandbox starts: the function's running ones retire.
    if network_changed {
        st.invalidate(name);
    }
    Ok(())
}

pub(crate) async fn tag(
    State(st): State<Arc<ApiState>>,
    Path(resource): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "TagResource").await?;
    let req: TagResourceRequest = parse_json(&body)?;
    let Some(tags) = req.tags else {
        return Err(ApiError(constraint(
            "null",
            "tags",
            "Member must not be null",
        )));
    };
    validate_tags(&tags)?;
    let _w = st.writes.lock().await;
    let name = function_of(&st, &resource)?;
    update_tags(&st, &name, |current| {
        let mut merged = current.clone();
        merged.extend(tags);
        if merged.len() > TAGS_MAX {
            return Err(Error::invalid("Number of tags exceeds resource tag limit."));
        }
        *current = merged;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn untag(
    State(st): State<Arc<ApiState>>,
    Path(resource): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let keys: Vec<String> = q
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    if keys.is_empty() {
        return Err(ApiError(constraint(
            "null",
            "tagKeys",
            "Member must not be null",
        )));
    }
    if let Some(k) = keys
        .iter()
        .find(|k| k.is_empty() || k.chars().count() > 128)
    {
        return Err(ApiError(constraint(
            k,
            "tagKeys",
            "Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
        )));
    }
    let _w = st.writes.lock().await;
    let name = function_of(&st, &resource)?;
    update_tags(&st, &name, |current| {
        for k in &keys {
            current.remove(k);
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    Path(resource): Path<String>,
) -> ApiResult<Response> {
    let name = function_of(&st, &resource)?;
    let rec = st
        .db
        .get_function(&name, "$LATEST")?
        .ok_or_else(|| Error::function_not_found(&st.region.function_arn(&name)))?;
    Ok(json_response(
        StatusCode::OK,
        &ListTagsResponse { tags: rec.tags },
    ))
}
