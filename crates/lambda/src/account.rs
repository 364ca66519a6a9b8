//! GetAccountSettings.

use hako_model::limits;
use hako_model::wire::{AccountLimit, AccountSettings, AccountUsage};
use hako_model::Error;

use crate::Lambda;

impl Lambda {
    /// GetAccountSettings: the limits Hako applies and what the account uses.
    pub fn get_account_settings(&self) -> Result<AccountSettings, Error> {
        let functions = self.db.list_functions(true)?;
        let total: u64 = functions.iter().map(|f| f.code_size.max(0) as u64).sum();
        let latest = functions.iter().filter(|f| f.version == "$LATEST").count() as u64;
        let concurrency = self.engine.config().account_concurrency as u32;
        // Reserved concurrency, and the provisioned concurrency of functions without a reservation.
        let carved = self.carved_by_functions(None)?;
        let unreserved = u64::from(concurrency).saturating_sub(carved) as u32;
        Ok(AccountSettings {
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
        })
    }
}
