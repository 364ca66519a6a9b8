//! Functions: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, and the download of a
//! function's package behind GetFunction's `Code.Location`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hako_model::concurrency::Concurrency;
use hako_model::function::format_last_modified;
use hako_model::wire::{
    self, FunctionCodeLocation, FunctionConfiguration, GetFunctionResponse, ListFunctionsResponse,
};
use hako_model::{
    Error, ErrorKind, FunctionRecord, FunctionRef, LastUpdateStatus, State as FnState,
};

use crate::aliases::Target;
use crate::error::{ApiError, ApiResult};
use crate::versions::CONFIG_REQUEST_MAX_BYTES;
use crate::{
    code_location, json_response, layers, parse_json, read_body, store_zip, versions, ApiState,
};

/// CreateFunction and UpdateFunctionCode bodies (AWS's figure).
const CODE_REQUEST_MAX_BYTES: usize = 70_167_211;

type Params = Query<HashMap<String, String>>;

fn now() -> String {
    format_last_modified(time::OffsetDateTime::now_utc())
}

fn revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn load(st: &ApiState, name: &str, version: &str) -> ApiResult<FunctionRecord> {
    st.db
        .get_function(name, version)?
        .ok_or_else(|| ApiError(Error::function_not_found(&st.arn_of(name, version))))
}

fn config(st: &ApiState, rec: &FunctionRecord) -> FunctionConfiguration {
    FunctionConfiguration::from_record(rec, &st.region)
}

/// The configuration a qualified read shows: the version's, under the alias's ARN when the
/// caller named an alias.
fn target_config(st: &ApiState, t: &Target, rec: &FunctionRecord) -> FunctionConfiguration {
    let mut c = config(st, rec);
    if let Some(a) = &t.alias {
        c.function_arn = st.region.qualified_arn(&t.name, &a.name);
    }
    c
}

/// Refuses a `KMSKeyArn` that names no key registered with Hako (`hako keys create`).
fn check_kms_key(st: &ApiState, arn: Option<&str>) -> Result<(), Error> {
    match arn {
        Some(arn) if st.db.keys().and_then(|k| k.key_id(arn)).is_none() => {
            Err(wire::kms_key_not_found(arn))
        }
        _ => Ok(()),
    }
}

fn check_revision(rec: &FunctionRecord, given: Option<&str>) -> Result<(), Error> {
    match given {
        Some(r) if r != rec.revision_id => Err(Error::new(
            ErrorKind::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

pub(crate) async fn create(State(st): State<Arc<ApiState>>, body: Body) -> ApiResult<Response> {
    let body = read_body(body, CODE_REQUEST_MAX_BYTES, "CreateFunction").await?;
    let req: wire::CreateFunctionRequest = parse_json(&body)?;
    let valid = wire::validate_create(req, &st.region, &now(), &revision())?;
    st.engine.runtimes().check(&valid.record.runtime)?;
    check_kms_key(&st, valid.record.kms_key_arn.as_deref())?;
    let mut rec = valid.record;
    let _w = st.writes.lock().await;
    rec.layers = layers::resolve_function_layers(&st, &valid.layers)?;
    if st.db.get_function(&rec.name, "$LATEST")?.is_some() {
        return Err(ApiError(Error::conflict(format!(
            "Function already exist: {}",
            rec.name
        ))));
    }
    // Unpacked now, so the function is Active by the time anyone reads it back.
    let info = store_zip(&st, valid.zip).await?;
    layers::check_total_size(info.unzipped_size, &rec.layers)?;
    rec.code_sha256_hex = info.sha256_hex;
    rec.code_size = info.size as i64;
    let mut stored = rec.clone();
    stored.state = FnState::Active;
    if !st.db.insert_function(&stored)? {
        return Err(ApiError(Error::conflict(format!(
            "Function already exist: {}",
            rec.name
        ))));
    }
    tracing::info!(function = %rec.name, runtime = %rec.runtime, "function created");
    if valid.publish {
        let v = versions::publish(&st, &rec.name, None, None, None)?;
        return Ok(json_response(StatusCode::CREATED, &config(&st, &v)));
    }
    // As AWS: the create response still says Pending; reads that follow see Active.
    Ok(json_response(StatusCode::CREATED, &config(&st, &rec)))
}

pub(crate) async fn get(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let t = st.target(&name, &q, false)?;
    let rec = load(&st, &t.name, &t.version)?;
    // Tags belong to the function, whichever version is read.
    let tags = if t.version == "$LATEST" {
        rec.tags.clone()
    } else {
        load(&st, &t.name, "$LATEST")?.tags
    };
    // Reserved concurrency belongs to the function too.
    let reserved = if t.version == "$LATEST" {
        rec.reserved_concurrency
    } else {
        load(&st, &t.name, "$LATEST")?.reserved_concurrency
    };
    let resp = GetFunctionResponse {
        configuration: target_config(&st, &t, &rec),
        code: FunctionCodeLocation {
            repository_type: "S3".to_string(),
            location: code_location(&headers, &rec.code_sha256_hex),
        },
        tags: Some(tags),
        concurrency: reserved.map(|n| Concurrency {
            reserved_concurrent_executions: Some(n),
        }),
    };
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn get_configuration(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let t = st.target(&name, &q, false)?;
    let rec = load(&st, &t.name, &t.version)?;
    Ok(json_response(StatusCode::OK, &target_config(&st, &t, &rec)))
}

pub(crate) async fn list(State(st): State<Arc<ApiState>>, Query(q): Params) -> ApiResult<Response> {
    let all = match q.get("FunctionVersion").map(String::as_str) {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(ApiError(hako_model::error::constraint(
                other,
                "functionVersion",
                "Member must satisfy enum value set: [ALL]",
            )))
        }
    };
    let records = st.db.list_functions(all)?;
    let (page, next_marker) =
        versions::page(&records, |r| format!("{}:{}", r.name, r.version), &q)?;
    let resp = ListFunctionsResponse {
        functions: page.into_iter().map(|r| config(&st, r)).collect(),
        next_marker,
    };
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn update_configuration(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(
        body,
        CONFIG_REQUEST_MAX_BYTES,
        "UpdateFunctionConfiguration",
    )
    .await?;
    let req: wire::UpdateFunctionConfigurationRequest = parse_json(&body)?;
    let r = FunctionRef::parse(&name, &st.region)?;
    if r.qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
        return Err(ApiError(Error::invalid("Only $LATEST can be updated")));
    }
    if let Some(rt) = &req.runtime {
        st.engine.runtimes().check(rt)?;
    }
    let _w = st.writes.lock().await;
    let new_layers = match &req.layers {
        Some(arns) => {
            hako_model::layer::validate_function_layers(arns)?;
            let resolved = layers::resolve_function_layers(&st, arns)?;
            if !resolved.is_empty() {
                let current = load(&st, &r.name, "$LATEST")?;
                let code = st.code.clone();
                let size = tokio::task::spawn_blocking(move || {
                    code.unpacked_size(&current.code_sha256_hex)
                })
                .await
                .map_err(|e| Error::service(format!("code store task failed: {e}")))??;
                layers::check_total_size(size, &resolved)?;
            }
            Some(resolved)
        }
        None => None,
    };
    let rev = revision();
    let ts = now();
    let updated = st.db.update_function(&r.name, "$LATEST", |rec| {
        check_revision(rec, req.revision_id.as_deref())?;
        let kms_given = req.kms_key_arn.is_some();
        wire::apply_configuration_update(rec, req)?;
        if let Some(l) = new_layers {
            rec.layers = l;
        }
        if kms_given {
            check_kms_key(&st, rec.kms_key_arn.as_deref())?;
        }
        rec.revision_id = rev;
        rec.last_modified = ts;
        rec.last_update_status = LastUpdateStatus::Successful;
        Ok(())
    });
    let mut rec = updated.map_err(|e| not_found_as_arn(&st, e, &r.name))?;
    st.invalidate(&r.name);
    rec.last_update_status = LastUpdateStatus::InProgress;
    Ok(json_response(StatusCode::OK, &config(&st, &rec)))
}

fn not_found_as_arn(st: &ApiState, e: Error, name: &str) -> ApiError {
    if e.kind == ErrorKind::ResourceNotFound {
        ApiError(Error::function_not_found(&st.region.function_arn(name)))
    } else {
        ApiError(e)
    }
}

pub(crate) async fn update_code(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CODE_REQUEST_MAX_BYTES, "UpdateFunctionCode").await?;
    let req: wire::UpdateFunctionCodeRequest = parse_json(&body)?;
    let r = FunctionRef::parse(&name, &st.region)?;
    if r.qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
        return Err(ApiError(Error::invalid("Only $LATEST can be updated")));
    }
    if req.image_uri.is_some() {
        return Err(ApiError(Error::invalid(
            "ImageUri is not supported by Hako: only Zip packages are.",
        )));
    }
    if req.s3_bucket.is_some() || req.s3_key.is_some() {
        return Err(ApiError(Error::invalid(
            "Code from S3 (S3Bucket/S3Key) is not supported by Hako yet: upload the package with ZipFile.",
        )));
    }
    let Some(zip_b64) = req.zip_file.as_deref() else {
        return Err(ApiError(Error::invalid(
            "Please provide a source for function code.",
        )));
    };
    let architectures = req.architectures.clone();
    if let Some(a) = &architectures {
        if a.len() != 1 || !(a[0] == "x86_64" || a[0] == "arm64") {
            return Err(ApiError(hako_model::error::constraint(
                &format!("{a:?}"),
                "architectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
            )));
        }
    }
    let zip = wire::decode_zip(zip_b64)?;
    let current = load(&st, &r.name, "$LATEST")?;
    check_revision(&current, req.revision_id.as_deref())?;
    let function_layers = current.layers.clone();
    let info = store_zip(&st, zip).await?;
    layers::check_total_size(info.unzipped_size, &function_layers)?;
    if req.dry_run == Some(true) {
        let mut preview = current;
        preview.code_sha256_hex = info.sha256_hex;
        preview.code_size = info.size as i64;
        return Ok(json_response(StatusCode::OK, &config(&st, &preview)));
    }
    let _w = st.writes.lock().await;
    let rev = revision();
    let ts = now();
    let old_hex = current.code_sha256_hex.clone();
    let mut rec = st
        .db
        .update_function(&r.name, "$LATEST", |rec| {
            check_revision(rec, req.revision_id.as_deref())?;
            rec.code_sha256_hex = info.sha256_hex.clone();
            rec.code_size = info.size as i64;
            if let Some(a) = architectures {
                rec.architectures = a;
            }
            rec.revision_id = rev;
            rec.last_modified = ts;
            rec.last_update_status = LastUpdateStatus::Successful;
            Ok(())
        })
        .map_err(|e| not_found_as_arn(&st, e, &r.name))?;
    st.invalidate(&r.name);
    collect_code(&st, &old_hex);
    if req.publish == Some(true) {
        let v = versions::publish(&st, &r.name, None, None, None)?;
        return Ok(json_response(StatusCode::OK, &config(&st, &v)));
    }
    rec.last_update_status = LastUpdateStatus::InProgress;
    Ok(json_response(StatusCode::OK, &config(&st, &rec)))
}

/// Removes a package no stored version uses any more.
pub(crate) fn collect_code(st: &ApiState, hex: &str) {
    if !hex.is_empty() && !st.db.code_in_use(hex).unwrap_or(true) {
        if let Err(e) = st.code.remove(hex) {
            tracing::warn!(code = %hex, error = %e, "cannot remove an unused code package");
        }
    }
}

pub(crate) async fn delete(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let r = FunctionRef::parse(&name, &st.region)?
        .with_qualifier(q.get("Qualifier").map(String::as_str))?;
    let name = r.name;
    match r.qualifier.as_deref() {
        None => {}
        Some("$LATEST") => {
            return Err(ApiError(Error::invalid(
                "$LATEST version cannot be deleted without deleting the function.",
            )))
        }
        Some(v) if hako_model::alias::is_version_number(v) => {
            return delete_version(&st, &name, v).await
        }
        Some(_) => {
            return Err(ApiError(Error::invalid(
                "Deletion of aliases is not supported.",
            )))
        }
    }
    let _w = st.writes.lock().await;
    let rec = load(&st, &name, "$LATEST")?;
    st.db.delete_function(&name)?;
    st.invalidate(&name);
    // Its reservation returns to the account, its metric series go.
    st.engine.remove_function(&name);
    collect_code(&st, &rec.code_sha256_hex);
    tracing::info!(function = %name, "function deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DeleteFunction with a version number: that version only, unless an alias routes to it.
async fn delete_version(st: &ApiState, name: &str, version: &str) -> ApiResult<Response> {
    let _w = st.writes.lock().await;
    load(st, name, "$LATEST")?;
    let Some(rec) = st.db.delete_version(name, version)? else {
        return Err(ApiError(Error::function_not_found(
            &st.arn_of(name, version),
        )));
    };
    st.invalidate(name);
    // Its provisioned concurrency went with it: its sandboxes stop.
    st.engine.unprovision(name, version);
    collect_code(st, &rec.code_sha256_hex);
    tracing::info!(function = %name, version = %version, "version deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn download_code(
    State(st): State<Arc<ApiState>>,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let hex = file.strip_suffix(".zip").unwrap_or(&file).to_string();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError(Error::not_found("no such code package")));
    }
    let path = st.code.zip_path(&hex);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError(Error::not_found("no such code package")))?;
    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/zip"));
    Ok(r)
}
