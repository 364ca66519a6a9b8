//! Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency,
//! DeleteFunctionConcurrency. The reservation is stored on the function's `$LATEST` record and
//! handed to the engine, which enforces it on every invoke.

use hako_model::concurrency::{self, Concurrency, PutFunctionConcurrencyRequest};
use hako_model::{Error, FunctionRecord, FunctionRef};

use crate::Lambda;

impl Lambda {
    /// Gives the engine every stored reservation (at start, before the first invoke).
    pub(crate) fn load_reserved_concurrency(&self) -> Result<(), Error> {
        for rec in self.db.list_functions(false)? {
            self.engine
                .set_reserved_concurrency(&rec.name, rec.reserved_concurrency);
        }
        Ok(())
    }

    /// The `$LATEST` record of the function a name or ARN names, or AWS's not-found error.
    pub(crate) fn function_latest(&self, function: &str) -> Result<FunctionRecord, Error> {
        let r = FunctionRef::parse(function, &self.region)?;
        self.latest(&r.name)
    }

    /// Stores a reservation, then tells the engine and drops the resolved copies (the sandboxes
    /// stay warm: a reservation is not a new revision).
    fn store_reserved(&self, name: &str, reserved: Option<u32>) -> Result<(), Error> {
        self.db.update_function(name, "$LATEST", |rec| {
            rec.reserved_concurrency = reserved;
            Ok(())
        })?;
        self.engine.set_reserved_concurrency(name, reserved);
        self.resolved.write().retain(|(n, _), _| n != name);
        Ok(())
    }

    /// PutFunctionConcurrency.
    pub async fn put_function_concurrency(
        &self,
        function: &str,
        req: PutFunctionConcurrencyRequest,
    ) -> Result<Concurrency, Error> {
        let _w = self.writes.lock().await;
        // Not found is said with `$LATEST`'s ARN here (LocalStack's AWS-recorded snapshot
        // test_function_concurrency_exceptions), unqualified by Get and Delete.
        let r = FunctionRef::parse(function, &self.region)?;
        let rec = self.db.get_function(&r.name, "$LATEST")?.ok_or_else(|| {
            Error::function_not_found(&self.region.qualified_arn(&r.name, "$LATEST"))
        })?;
        if r.qualifier.is_some() {
            return Err(concurrency::function_only());
        }
        // The others' reservations, and the provisioned concurrency of those without one.
        let carved_by_others = self.carved_by_functions(Some(&rec.name))?;
        let limit = self.engine.config().account_concurrency as u64;
        let n = concurrency::validate_put(&req, limit, carved_by_others)?;
        // Never below what the function's versions and aliases have provisioned.
        let provisioned: u64 = self
            .db
            .list_provisioned(Some(&rec.name))?
            .iter()
            .map(|c| u64::from(c.requested))
            .sum();
        if u64::from(n) < provisioned {
            return Err(concurrency::reserved_below_provisioned(
                u64::from(n),
                provisioned,
            ));
        }
        self.store_reserved(&rec.name, Some(n))?;
        tracing::info!(function = %rec.name, reserved = n, "reserved concurrency set");
        Ok(Concurrency {
            reserved_concurrent_executions: Some(n),
        })
    }

    /// GetFunctionConcurrency.
    pub fn get_function_concurrency(&self, function: &str) -> Result<Concurrency, Error> {
        let rec = self.function_latest(function)?;
        Ok(Concurrency {
            reserved_concurrent_executions: rec.reserved_concurrency,
        })
    }

    /// DeleteFunctionConcurrency.
    pub async fn delete_function_concurrency(&self, function: &str) -> Result<(), Error> {
        let _w = self.writes.lock().await;
        let rec = self.function_latest(function)?;
        self.store_reserved(&rec.name, None)?;
        tracing::info!(function = %rec.name, "reserved concurrency removed");
        Ok(())
    }
}
