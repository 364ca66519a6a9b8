//! GetAccountSettings.

use axum::http::StatusCode;
use axum::response::Response;

use crate::error::ApiResult;
use crate::{json_response, St};

pub(crate) async fn get_account_settings(st: St) -> ApiResult<Response> {
    let settings = st.0.get_account_settings()?;
    Ok(json_response(StatusCode::OK, &settings))
}
