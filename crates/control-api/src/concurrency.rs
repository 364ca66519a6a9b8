//! Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency,
//! DeleteFunctionConcurrency. The reservation is stored on the function's `$LATEST` record and
//! handed to the engine, which enforces it on every invoke.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::concurrency::{self, Concurrency, PutFunctionConcurrencyRequest};
use hako_model::{Error, FunctionRecord, FunctionRef};

use crate::error::{ApiError, ApiResult};
use crate::{json_response, parse_json, read_body, ApiState};

/// Concurrency bodies are a few bytes.
const REQUEST_MAX_BYTES: usize = 64 * 1024;

impl ApiState {
    /// Gives the engine every stored reservation (at start, before the first invoke).
    pub fn load_reserved_concurrency(&self) -> Result<(), Error> {
        for rec in self.db.list_functions(false)? {
            self.engine
                .set_reserved_concurrency(&rec.name, rec.reserved_concurrency);
        }
        Ok(())
    }

    /// The function's `$LATEST` record, or AWS's not-found error.
    fn function_latest(&self, name: &str) -> ApiResult<FunctionRecord> {
        let r = FunctionRef::parse(name, &self.region)?;
        self.db.get_function(&r.name, "$LATEST")?.ok_or_else(|| {
            ApiError(Error::function_not_found(
                &self.region.function_arn(&r.name),
            ))
        })
    }

    /// Stores a reservation, then tells the engine and drops the resolved copies (the sandboxes
    /// stay warm: a reservation is not a new revision).
    fn store_reserved(&self, name: &str, reserved: Option<u32>) -> ApiResult<()> {
        self.db.update_function(name, "$LATEST", |rec| {
            rec.reserved_concurrency = reserved;
            Ok(())
        })?;
        self.engine.set_reserved_concurrency(name, reserved);
        self.resolved.write().retain(|(n, _), _| n != name);
        Ok(())
    }
}

pub(crate) async fn put(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, REQUEST_MAX_BYTES, "PutFunctionConcurrency").await?;
    let req: PutFunctionConcurrencyRequest = parse_json(&body)?;
    let _w = st.writes.lock().await;
    let rec = st.function_latest(&name)?;
    // The others' reservations, and the provisioned concurrency of those without one.
    let carved_by_others = st.carved_by_functions(Some(&rec.name))?;
    let limit = st.engine.config().account_concurrency as u64;
    let n = concurrency::validate_put(&req, limit, carved_by_others)?;
    st.store_reserved(&rec.name, Some(n))?;
    tracing::info!(function = %rec.name, reserved = n, "reserved concurrency set");
    Ok(json_response(
        StatusCode::OK,
        &Concurrency {
            reserved_concurrent_executions: Some(n),
        },
    ))
}

pub(crate) async fn get(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let rec = st.function_latest(&name)?;
    Ok(json_response(
        StatusCode::OK,
        &Concurrency {
            reserved_concurrent_executions: rec.reserved_concurrency,
        },
    ))
}

pub(crate) async fn delete(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let _w = st.writes.lock().await;
    let rec = st.function_latest(&name)?;
    st.store_reserved(&rec.name, None)?;
    tracing::info!(function = %rec.name, "reserved concurrency removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
