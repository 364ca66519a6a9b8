//! Versions: PublishVersion (also behind `Publish: true` on CreateFunction and
//! UpdateFunctionCode) and ListVersionsByFunction; the pagination the list calls share.
//!
//! A version is an immutable snapshot of `$LATEST`'s code and configuration, stored as its own
//! record. Publishing when nothing changed since the newest version returns that version.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hako_model::alias::{self, ListVersionsByFunctionResponse, PublishVersionRequest};
use hako_model::function::format_last_modified;
use hako_model::wire::{validate_description, FunctionConfiguration};
use hako_model::{Error, ErrorKind, FunctionRecord, FunctionRef};
use hako_store::Publish;

use crate::error::{ApiError, ApiResult};
use crate::{json_response, parse_json, read_body, ApiState};

/// Control-plane bodies other than code uploads.
pub(crate) const CONFIG_REQUEST_MAX_BYTES: usize = 1024 * 1024;

/// One page of `items` after the `Marker` parameter (an item's key), at most `MaxItems` long
/// (capped at 50, as ListFunctions); the next marker when more follow.
pub(crate) fn page<'a, T>(
    items: &'a [T],
    key: impl Fn(&T) -> String,
    q: &HashMap<String, String>,
) -> ApiResult<(Vec<&'a T>, Option<String>)> {
    let max = match q.get("MaxItems") {
        None => hako_model::limits::LIST_MAX_ITEMS,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n.min(hako_model::limits::LIST_MAX_ITEMS),
            _ => {
                return Err(ApiError(hako_model::error::constraint(
                    m,
                    "maxItems",
                    "Member must have value between 1 and 10000",
                )))
            }
        },
    };
    let start = match q.get("Marker") {
        None => 0,
        Some(m) => match items.iter().position(|i| &key(i) == m) {
            Some(i) => i + 1,
            None => return Err(ApiError(Error::invalid(format!("Invalid marker: {m}")))),
        },
    };
    let page: Vec<&T> = items.iter().skip(start).take(max).collect();
    let next = if start + page.len() < items.len() {
        page.last().map(|i| key(i))
    } else {
        None
    };
    Ok((page, next))
}

/// A version's configuration as the version calls show it: the ARN always qualified, even
/// `$LATEST`'s.
fn version_config(st: &ApiState, rec: &FunctionRecord) -> FunctionConfiguration {
    let mut c = FunctionConfiguration::from_record(rec, &st.region);
    c.function_arn = st.region.qualified_arn(&rec.name, &rec.version);
    c
}

/// Publishes `$LATEST` of `name` (the caller holds the write lock). `code_sha256` (base64) and
/// `revision_id` guard against publishing something other than what the caller saw.
pub(crate) fn publish(
    st: &ApiState,
    name: &str,
    code_sha256: Option<&str>,
    description: Option<&str>,
    revision_id: Option<&str>,
) -> ApiResult<FunctionRecord> {
    let now = format_last_modified(time::OffsetDateTime::now_utc());
    let version_revision = uuid::Uuid::new_v4().to_string();
    let latest_revision = uuid::Uuid::new_v4().to_string();
    let result = st.db.publish_version(name, |latest, newest, next| {
        if revision_id.is_some_and(|r| r != latest.revision_id) {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
            ));
        }
        let current = latest.code_sha256_base64();
        if let Some(given) = code_sha256.filter(|c| !c.is_empty()) {
            if given != current {
                return Err(alias::code_sha_mismatch(given, &current));
            }
        }
        if let Some(v) = newest.filter(|v| alias::unchanged(latest, v)) {
            return Ok(Publish::Existing(v.clone()));
        }
        let v = alias::snapshot(latest, next, description, &now, &version_revision);
        latest.revision_id = latest_revision;
        Ok(Publish::New(v))
    });
    let (v, created) = result.map_err(|e| {
        if e.kind == ErrorKind::ResourceNotFound {
            ApiError(Error::function_not_found(&st.region.function_arn(name)))
        } else {
            ApiError(e)
        }
    })?;
    if created {
        // $LATEST has a new RevisionId: what was resolved for it is stale.
        st.invalidate(name);
        tracing::info!(function = %name, version = %v.version, "version published");
    }
    Ok(v)
}

pub(crate) async fn publish_version(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "PublishVersion").await?;
    let req: PublishVersionRequest = parse_json(&body)?;
    let r = FunctionRef::parse(&name, &st.region)?;
    if let Some(d) = &req.description {
        validate_description(d)?;
    }
    if let Some(p) = &req.publish_to {
        if p != "LATEST_PUBLISHED" {
            return Err(ApiError(hako_model::error::constraint(
                p,
                "publishTo",
                "Member must satisfy enum value set: [LATEST_PUBLISHED]",
            )));
        }
        return Err(ApiError(Error::invalid(
            "PublishTo is not supported by Hako: it applies to capacity providers.",
        )));
    }
    let _w = st.writes.lock().await;
    let v = publish(
        &st,
        &r.name,
        req.code_sha256.as_deref(),
        req.description.as_deref(),
        req.revision_id.as_deref(),
    )?;
    Ok(json_response(StatusCode::CREATED, &version_config(&st, &v)))
}

pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let r = FunctionRef::parse(&name, &st.region)?;
    let all = st.db.list_versions(&r.name)?;
    if all.is_empty() {
        return Err(ApiError(Error::function_not_found(
            &st.region.function_arn(&r.name),
        )));
    }
    let (items, next_marker) = page(&all, |v| v.version.clone(), &q)?;
    let resp = ListVersionsByFunctionResponse {
        versions: items.into_iter().map(|v| version_config(&st, v)).collect(),
        next_marker,
    };
    Ok(json_response(StatusCode::OK, &resp))
}
