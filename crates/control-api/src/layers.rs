//! Layers (API 2018-10-31): PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn,
//! ListLayers, ListLayerVersions, DeleteLayerVersion, Add/RemoveLayerVersionPermission,
//! GetLayerVersionPolicy; and the resolution of a function's `Layers` into the copies its
//! configuration keeps.
//!
//! A layer version's zip lives in the code store like a function's package (`Content.Location`
//! is served by `GET /_hako/code/<sha256>.zip`); a function keeps the hash of each layer it
//! uses, so deleting a layer version never breaks a function that uses it (the package stays
//! while anything refers to it).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hako_model::function::format_last_modified;
use hako_model::layer::{
    self, AddLayerVersionPermissionRequest, AddLayerVersionPermissionResponse, FunctionLayer,
    GetLayerVersionPolicyResponse, LayerVersionRecord, LayersListItem, ListLayerVersionsResponse,
    ListLayersResponse, PublishLayerVersionRequest,
};
use hako_model::{limits, Error, ErrorKind};

use crate::error::{ApiError, ApiResult};
use crate::versions::{page, CONFIG_REQUEST_MAX_BYTES};
use crate::{code_location, json_response, parse_json, read_body, store_zip, ApiState};

type Params = Query<HashMap<String, String>>;

/// PublishLayerVersion bodies (as CreateFunction's).
const LAYER_REQUEST_MAX_BYTES: usize = 70_167_211;

fn not_found() -> ApiError {
    ApiError(Error::not_found(layer::NOT_FOUND))
}

fn ids(st: &ApiState, name: &str, version: &str) -> ApiResult<(String, u64)> {
    Ok((
        layer::parse_layer_name(name, &st.region)?,
        layer::parse_version_number(version)?,
    ))
}

fn load(st: &ApiState, name: &str, version: u64) -> ApiResult<LayerVersionRecord> {
    st.db
        .get_layer_version(name, version)?
        .ok_or_else(not_found)
}

fn view(st: &ApiState, headers: &HeaderMap, rec: &LayerVersionRecord) -> Response {
    let location = code_location(headers, &rec.code_sha256_hex);
    json_response(StatusCode::OK, &rec.get_response(&st.region, location))
}

pub(crate) async fn publish(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, LAYER_REQUEST_MAX_BYTES, "PublishLayerVersion").await?;
    let name = layer::parse_layer_name(&name, &st.region)?;
    let req: PublishLayerVersionRequest = parse_json(&body)?;
    let valid = layer::validate_publish(req)?;
    let info = store_zip(&st, valid.zip).await?;
    let rec = st.db.publish_layer_version(LayerVersionRecord {
        layer_name: name,
        version: 0,
        description: valid.description,
        created_date: format_last_modified(time::OffsetDateTime::now_utc()),
        compatible_runtimes: valid.compatible_runtimes,
        compatible_architectures: valid.compatible_architectures,
        license_info: valid.license_info,
        code_sha256_hex: info.sha256_hex,
        code_size: info.size as i64,
        unzipped_size: info.unzipped_size as i64,
        policy: Vec::new(),
        policy_revision_id: None,
    })?;
    tracing::info!(layer = %rec.layer_name, version = rec.version, "layer version published");
    let mut r = view(&st, &headers, &rec);
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

pub(crate) async fn get(
    State(st): State<Arc<ApiState>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (name, version) = ids(&st, &name, &version)?;
    Ok(view(&st, &headers, &load(&st, &name, version)?))
}

/// `GET /2018-10-31/layers`: GetLayerVersionByArn with `find=LayerVersion`, else ListLayers.
pub(crate) async fn list_or_find(
    State(st): State<Arc<ApiState>>,
    Query(q): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if q.get("find").map(String::as_str) == Some("LayerVersion") {
        let Some(arn) = q.get("Arn") else {
            return Err(ApiError(hako_model::error::constraint(
                "null",
                "arn",
                "Member must not be null",
            )));
        };
        let Some((name, version)) = layer::parse_layer_version_arn(arn, &st.region)? else {
            return Err(not_found());
        };
        return Ok(view(&st, &headers, &load(&st, &name, version)?));
    }
    let (runtime, arch) = filters(&q)?;
    let all = st.db.list_layer_versions(None)?;
    // Newest matching version of each layer (versions come newest first per layer).
    let mut latest: Vec<&LayerVersionRecord> = Vec::new();
    for v in all.iter().filter(|v| v.matches(runtime, arch)) {
        if latest.last().is_none_or(|l| l.layer_name != v.layer_name) {
            latest.push(v);
        }
    }
    let (items, next_marker) = page(&latest, |l| l.layer_name.clone(), &q)?;
    let resp = ListLayersResponse {
        layers: items
            .into_iter()
            .map(|l| LayersListItem {
                layer_name: l.layer_name.clone(),
                layer_arn: st.region.layer_arn(&l.layer_name),
                latest_matching_version: l.list_item(&st.region),
            })
            .collect(),
        next_marker,
    };
    Ok(json_response(StatusCode::OK, &resp))
}

fn filters(q: &HashMap<String, String>) -> ApiResult<(Option<&str>, Option<&str>)> {
    let runtime = q.get("CompatibleRuntime").map(String::as_str);
    let arch = q.get("CompatibleArchitecture").map(String::as_str);
    layer::validate_filters(runtime, arch)?;
    if let Some(m) = q.get("MaxItems") {
        if !m
            .parse::<usize>()
            .is_ok_and(|n| (1..=layer::LIST_MAX_ITEMS).contains(&n))
        {
            return Err(ApiError(hako_model::error::constraint(
                m,
                "maxItems",
                "Member must have value less than or equal to 50",
            )));
        }
    }
    Ok((runtime, arch))
}

pub(crate) async fn list_versions(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let name = layer::parse_layer_name(&name, &st.region)?;
    let (runtime, arch) = filters(&q)?;
    let all: Vec<LayerVersionRecord> = st
        .db
        .list_layer_versions(Some(&name))?
        .into_iter()
        .filter(|v| v.matches(runtime, arch))
        .collect();
    let (items, next_marker) = page(&all, |v| v.version.to_string(), &q)?;
    let resp = ListLayerVersionsResponse {
        layer_versions: items.into_iter().map(|v| v.list_item(&st.region)).collect(),
        next_marker,
    };
    Ok(json_response(StatusCode::OK, &resp))
}

/// DeleteLayerVersion: 204 whether or not the version existed (as AWS). Functions that use it
/// keep working: its package stays while they refer to it.
pub(crate) async fn delete(
    State(st): State<Arc<ApiState>>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (name, version) = ids(&st, &name, &version)?;
    if let Some(rec) = st.db.delete_layer_version(&name, version)? {
        crate::functions::collect_code(&st, &rec.code_sha256_hex);
        tracing::info!(layer = %name, version, "layer version deleted");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn check_policy_revision(rec: &LayerVersionRecord, given: Option<&String>) -> Result<(), Error> {
    match given {
        Some(r) if Some(r) != rec.policy_revision_id.as_ref() => Err(Error::new(
            ErrorKind::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetLayerVersionPolicy API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

pub(crate) async fn add_permission(
    State(st): State<Arc<ApiState>>,
    Path((name, version)): Path<(String, String)>,
    Query(q): Params,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "AddLayerVersionPermission").await?;
    let (name, version) = ids(&st, &name, &version)?;
    let req: AddLayerVersionPermissionRequest = parse_json(&body)?;
    let statement = layer::validate_permission(&req)?;
    let resource = st.region.layer_version_arn(&name, version);
    let revision = uuid::Uuid::new_v4().to_string();
    let rec = st
        .db
        .update_layer_version(&name, version, |rec| {
            check_policy_revision(rec, q.get("RevisionId"))?;
            if rec.policy.iter().any(|s| s.sid == statement.sid) {
                return Err(Error::conflict(format!(
                    "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                    statement.sid
                )));
            }
            rec.policy.push(statement.clone());
            rec.policy_revision_id = Some(revision.clone());
            Ok(())
        })?
        .ok_or_else(not_found)?;
    let resp = AddLayerVersionPermissionResponse {
        statement: statement.to_json(&resource).to_string(),
        revision_id: rec.policy_revision_id.unwrap_or_default(),
    };
    Ok(json_response(StatusCode::CREATED, &resp))
}

pub(crate) async fn get_policy(
    State(st): State<Arc<ApiState>>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (name, version) = ids(&st, &name, &version)?;
    let rec = load(&st, &name, version)?;
    let (false, Some(revision_id)) = (rec.policy.is_empty(), rec.policy_revision_id) else {
        return Err(ApiError(Error::not_found(
            "No policy is associated with the given resource.",
        )));
    };
    let resp = GetLayerVersionPolicyResponse {
        policy: layer::policy_document(&rec.policy, &st.region.layer_version_arn(&name, version)),
        revision_id,
    };
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn remove_permission(
    State(st): State<Arc<ApiState>>,
    Path((name, version, sid)): Path<(String, String, String)>,
    Query(q): Params,
) -> ApiResult<Response> {
    let (name, version) = ids(&st, &name, &version)?;
    layer::validate_statement_id(&sid)?;
    let revision = uuid::Uuid::new_v4().to_string();
    st.db
        .update_layer_version(&name, version, |rec| {
            check_policy_revision(rec, q.get("RevisionId"))?;
            let before = rec.policy.len();
            rec.policy.retain(|s| s.sid != sid);
            if rec.policy.len() == before {
                return Err(Error::not_found(format!(
                    "Statement {sid} is not found in resource policy."
                )));
            }
            rec.policy_revision_id = Some(revision);
            Ok(())
        })?
        .ok_or_else(not_found)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Resolves a function's `Layers` (already checked against the model) to the layer versions
/// Hako has, in order, with AWS's error for one it has not.
pub(crate) fn resolve_function_layers(
    st: &ApiState,
    arns: &[String],
) -> Result<Vec<FunctionLayer>, Error> {
    arns.iter()
        .map(|arn| {
            let (name, version) = layer::parse_layer_version_arn(arn, &st.region)?
                .ok_or_else(|| layer::layer_version_not_found(arn))?;
            let rec = st
                .db
                .get_layer_version(&name, version)?
                .ok_or_else(|| layer::layer_version_not_found(arn))?;
            Ok(FunctionLayer {
                arn: arn.clone(),
                code_size: rec.code_size,
                unzipped_size: rec.unzipped_size,
                code_sha256_hex: rec.code_sha256_hex,
            })
        })
        .collect()
}

/// AWS's limit on a function's code and layers together, unzipped.
pub(crate) fn check_total_size(code_unzipped: u64, layers: &[FunctionLayer]) -> Result<(), Error> {
    let total = code_unzipped
        + layers
            .iter()
            .map(|l| u64::try_from(l.unzipped_size).unwrap_or(0))
            .sum::<u64>();
    if !layers.is_empty() && total > limits::UNZIPPED_MAX_BYTES {
        return Err(layer::too_big_with_layers(total));
    }
    Ok(())
}
