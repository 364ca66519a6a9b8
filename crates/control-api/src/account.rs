//! GetAccountSettings.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use hako_model::limits;
use hako_model::wire::{AccountLimit, AccountSettings, AccountUsage};

use crate::error::ApiResult;
use crate::{json_response, ApiState};

pub(crate) async fn get_account_settings(State(st): State<Arc<ApiState>>) -> ApiResult<Response> {
    let functions = st.db.list_functions(true)?;
    let total: u64 = functions.iter().map(|f| f.code_size.max(0) as u64).sum();
    let latest = functions.iter().filter(|f| f.version == "$LATEST").count() as u64;
    let concurrency = st.engine.config().account_concurrency as u32;
    // Reserved concurrency, and the provisioned concurrency of functions without a reservation.
    let carved = st.carved_by_functions(None)?;
    let unreserved = u64::from(concurrency).saturating_sub(carved) as u32;
    let settings = AccountSettings {
        account_limit: AccountLimit {
            total_code_size: limits::CODE_STORAGE_BYTES,
            code_size_unzipped: limits::UNZIPPED_MAX_BYTES,
            code_size_zipped: limits::ZIP_MAX_BYTES,
            concurrent_executions: concurrency,
            unreserved_concurrent_executions: unreserved,
        },
        account_usage: AccountUsage {
            total_code_size: total,
            function_count: latest,
        },
    };
    Ok(json_response(StatusCode::OK, &settings))
}
