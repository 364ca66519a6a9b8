//! The Lambda control plane over HTTP (API version 2015-03-31): AWS's routes, shapes, headers and
//! status codes, turning requests into store and engine calls.
//!
//! Invariant: the only crate that knows AWS error shapes and control-plane routes; every error
//! becomes a response in `error::ApiError`'s one `IntoResponse`.

mod account;
mod aliases;
mod concurrency;
pub mod error;
mod event_config;
mod events;
mod functions;
mod invoke;
mod layers;
mod operations;
mod provisioned;
mod tags;
mod versions;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use hako_engine::{Engine, ResolvedFunction};
use hako_model::{Error, ErrorKind, FunctionRecord, Region};
use hako_store::{CodeStore, Db};
use parking_lot::RwLock;

use crate::error::{ApiError, ApiResult};
pub use crate::events::{start as start_async_queue, AsyncQueueConfig};

/// Everything the handlers share.
#[derive(Debug)]
pub struct ApiState {
    pub db: Arc<Db>,
    pub code: Arc<CodeStore>,
    pub engine: Arc<Engine>,
    pub region: Region,
    /// Resolved functions by (name, version): the invoke path's only lookup.
    resolved: RwLock<HashMap<(String, String), Arc<ResolvedFunction>>>,
    /// Aliases by function, for the invoke path (see `aliases.rs`).
    aliases: RwLock<aliases::AliasCache>,
    /// Serialises control-plane writes to one function name at a time.
    writes: tokio::sync::Mutex<()>,
    /// Wakes the asynchronous queue's dispatcher (an event was queued or a worker is free).
    pub(crate) async_wake: tokio::sync::Notify,
}

impl ApiState {
    pub fn new(
        db: Arc<Db>,
        code: Arc<CodeStore>,
        engine: Arc<Engine>,
        region: Region,
    ) -> Arc<ApiState> {
        Arc::new(ApiState {
            db,
            code,
            engine,
            region,
            resolved: RwLock::new(HashMap::new()),
            aliases: RwLock::new(aliases::AliasCache::default()),
            writes: tokio::sync::Mutex::new(()),
            async_wake: tokio::sync::Notify::new(),
        })
    }

    /// Forgets what was resolved for `name` (versions and aliases) and retires its sandboxes.
    pub(crate) fn invalidate(&self, name: &str) {
        self.resolved.write().retain(|(n, _), _| n != name);
        self.invalidate_aliases(name);
        self.engine.retire_function(name);
    }

    /// The resolved function for `name` at `version`.
    pub(crate) fn resolve(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Arc<ResolvedFunction>, Error> {
        if let Some(r) = self
            .resolved
            .read()
            .get(&(name.to_string(), version.to_string()))
        {
            return Ok(r.clone());
        }
        let rec = self
            .db
            .get_function(name, version)?
            .ok_or_else(|| Error::function_not_found(&self.arn_of(name, version)))?;
        let r = Arc::new(self.resolve_record(&rec)?);
        self.resolved
            .write()
            .insert((name.to_string(), version.to_string()), r.clone());
        Ok(r)
    }

    fn resolve_record(&self, rec: &FunctionRecord) -> Result<ResolvedFunction, Error> {
        let runtime = hako_model::Runtime::parse(&rec.runtime)?;
        let code_dir = self.code.unpacked(&rec.code_sha256_hex)?;
        // Tags are the function's, kept on `$LATEST` (a published version has none).
        let outbound_network = if rec.version == "$LATEST" {
            hako_model::function::outbound_network(&rec.tags)
        } else {
            self.db
                .get_function(&rec.name, "$LATEST")?
                .map(|latest| hako_model::function::outbound_network(&latest.tags))
                .unwrap_or(true)
        };
        let layers: Vec<String> = rec
            .layers
            .iter()
            .map(|l| l.code_sha256_hex.clone())
            .collect();
        let opt_dir = self.code.merged_layers(&layers)?;
        Ok(ResolvedFunction {
            name: rec.name.clone(),
            version: rec.version.clone(),
            arn: self.region.function_arn(&rec.name),
            revision_id: rec.revision_id.clone(),
            runtime,
            handler: rec.handler.clone(),
            timeout: std::time::Duration::from_secs(rec.timeout_seconds.max(1) as u64),
            memory_mb: rec.memory_mb.max(128) as u64,
            ephemeral_storage_mb: rec.ephemeral_storage_mb.max(512) as u64,
            environment: rec.environment.clone(),
            code_dir,
            opt_dir,
            log_group: rec.log_group.clone(),
            // Reserved concurrency is the function's, kept on `$LATEST` (a version's copy is stale).
            reserved_concurrency: if rec.version == "$LATEST" {
                rec.reserved_concurrency
            } else {
                None
            },
            outbound_network,
        })
    }

    pub(crate) fn arn_of(&self, name: &str, version: &str) -> String {
        if version == "$LATEST" {
            self.region.function_arn(name)
        } else {
            self.region.qualified_arn(name, version)
        }
    }
}

/// The control-plane router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions",
            get(functions::list).post(functions::create),
        )
        .route(
            "/2015-03-31/functions/",
            get(functions::list).post(functions::create),
        )
        .route(
            "/2015-03-31/functions/{name}",
            get(functions::get).delete(functions::delete),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            "/2015-03-31/functions/{name}/code",
            axum::routing::put(functions::update_code),
        )
        .route(
            "/2015-03-31/functions/{name}/versions",
            get(versions::list).post(versions::publish_version),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases",
            get(aliases::list).post(aliases::create),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(aliases::get)
                .put(aliases::update)
                .delete(aliases::delete),
        )
        .route(
            "/2017-03-31/tags/{resource}",
            get(tags::list).post(tags::tag).delete(tags::untag),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(invoke::invoke),
        )
        .route(
            "/2014-11-13/functions/{name}/invoke-async",
            post(invoke::invoke_async),
        )
        .route(
            "/2014-11-13/functions/{name}/invoke-async/",
            post(invoke::invoke_async),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            axum::routing::put(concurrency::put).delete(concurrency::delete),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(concurrency::get),
        )
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            get(provisioned::get_or_list)
                .put(provisioned::put)
                .delete(provisioned::delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(event_config::get)
                .put(event_config::put)
                .post(event_config::update)
                .delete(event_config::delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config/list",
            get(event_config::list),
        )
        .route(
            "/2016-08-19/account-settings",
            get(account::get_account_settings),
        )
        .route(
            "/2016-08-19/account-settings/",
            get(account::get_account_settings),
        )
        .route("/2018-10-31/layers", get(layers::list_or_find))
        .route("/2018-10-31/layers/", get(layers::list_or_find))
        .route(
            "/2018-10-31/layers/{layer}/versions",
            get(layers::list_versions).post(layers::publish),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}",
            get(layers::get).delete(layers::delete),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}/policy",
            get(layers::get_policy).post(layers::add_permission),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}/policy/{sid}",
            axum::routing::delete(layers::remove_permission),
        )
        .route("/_hako/code/{file}", get(functions::download_code))
        .route("/_hako/health", get(|| async { "ok" }))
        .fallback(unknown_operation)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(add_request_id))
        .with_state(state)
}

async fn add_request_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key("x-amzn-requestid") {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            resp.headers_mut().insert("x-amzn-requestid", v);
        }
    }
    resp
}

async fn unknown_operation(State(_): State<Arc<ApiState>>, req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    match operations::operation_for(&method, &path) {
        Some(op) => ApiError(Error::new(
            ErrorKind::NotImplemented,
            format!("Hako does not implement the Lambda operation {op} yet"),
        ))
        .into_response(),
        None => {
            let (ty, _) = ("UnknownOperationException", ());
            let mut r = ApiError(Error::not_found(format!(
                "no Lambda operation at {method} {path}"
            )))
            .into_response();
            r.headers_mut()
                .insert("x-amzn-errortype", HeaderValue::from_static(ty));
            r
        }
    }
}

/// Where Hako serves the zip `sha256_hex` (GetFunction's `Code.Location`, GetLayerVersion's
/// `Content.Location`), on the host the caller used.
pub(crate) fn code_location(headers: &axum::http::HeaderMap, sha256_hex: &str) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:9000");
    format!("http://{host}/_hako/code/{sha256_hex}.zip")
}

/// Stores and unpacks a zip in the code store (off the async threads).
pub(crate) async fn store_zip(st: &ApiState, zip: Vec<u8>) -> Result<hako_store::CodeInfo, Error> {
    let code = st.code.clone();
    tokio::task::spawn_blocking(move || {
        let info = code.put_zip(&zip)?;
        code.unpacked(&info.sha256_hex)?;
        Ok::<_, Error>(info)
    })
    .await
    .map_err(|e| Error::service(format!("code store task failed: {e}")))?
}

/// Reads a request body up to `limit` bytes, with AWS's error past it.
pub(crate) async fn read_body(body: Body, limit: usize, operation: &str) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError(Error::new(
            ErrorKind::RequestTooLarge,
            format!("Request must be smaller than {limit} bytes for the {operation} operation"),
        ))
    })
}

/// Parses a JSON request body (empty means `{}`), with AWS's error for malformed content.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError(Error::new(
            ErrorKind::InvalidRequestContent,
            format!("Could not parse request body into json: {e}"),
        ))
    })
}

/// A 200/201 JSON response.
pub(crate) fn json_response<T: serde::Serialize>(
    status: axum::http::StatusCode,
    v: &T,
) -> Response {
    match serde_json::to_vec(v) {
        Ok(b) => {
            let mut r = (status, b).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        Err(e) => ApiError(Error::service(format!("cannot encode response: {e}"))).into_response(),
    }
}
