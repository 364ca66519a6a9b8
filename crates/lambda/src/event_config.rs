//! Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s): how asynchronous invocations of a
//! function (per qualifier: `$LATEST`, a version or an alias) are retried and where their
//! invocation records go. Shapes and validation: `hako_model::event_invoke`.

use hako_model::clock::epoch_seconds;
use hako_model::event_invoke::{
    self, config_not_found, EventInvokeConfigRequest, FunctionEventInvokeConfig,
    ListFunctionEventInvokeConfigsResponse,
};
use hako_model::{alias, Error, FunctionRef};

use crate::versions::{page, Paging};
use crate::Lambda;

impl Lambda {
    /// The function and qualifier (default `$LATEST`) a request names; both must exist.
    fn event_config_target(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, String), Error> {
        let r = FunctionRef::parse(function, &self.region)?.with_qualifier(qualifier)?;
        self.latest(&r.name)?;
        let qualifier = r.qualifier.unwrap_or_else(|| "$LATEST".to_string());
        let exists = if qualifier == "$LATEST" {
            true
        } else if alias::is_version_number(&qualifier) {
            self.db.get_function(&r.name, &qualifier)?.is_some()
        } else {
            self.db.get_alias(&r.name, &qualifier)?.is_some()
        };
        if !exists {
            return Err(Error::function_not_found(
                &self.region.qualified_arn(&r.name, &qualifier),
            ));
        }
        Ok((r.name, qualifier))
    }

    /// PutFunctionEventInvokeConfig.
    pub async fn put_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
        req: EventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, Error> {
        let _w = self.writes.lock().await;
        let (fname, qualifier) = self.event_config_target(function, qualifier)?;
        let now = epoch_seconds(self.clock.now_ms());
        let rec = event_invoke::put_record(&fname, &qualifier, &req, &self.region, now)?;
        self.db.put_event_invoke_config(&rec)?;
        tracing::info!(function = %fname, qualifier = %qualifier, "event invoke config put");
        Ok(FunctionEventInvokeConfig::from_record(&rec, &self.region))
    }

    /// UpdateFunctionEventInvokeConfig.
    pub async fn update_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
        req: EventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, Error> {
        let _w = self.writes.lock().await;
        let (fname, qualifier) = self.event_config_target(function, qualifier)?;
        let now = epoch_seconds(self.clock.now_ms());
        let rec = self
            .db
            .update_event_invoke_config(&fname, &qualifier, |r| {
                event_invoke::update_record(r, &req, &self.region, now)
            })?
            .ok_or_else(|| config_not_found(&self.region.qualified_arn(&fname, &qualifier)))?;
        Ok(FunctionEventInvokeConfig::from_record(&rec, &self.region))
    }

    /// GetFunctionEventInvokeConfig.
    pub fn get_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionEventInvokeConfig, Error> {
        let (fname, qualifier) = self.event_config_target(function, qualifier)?;
        let rec = self
            .db
            .get_event_invoke_config(&fname, &qualifier)?
            .ok_or_else(|| config_not_found(&self.region.qualified_arn(&fname, &qualifier)))?;
        Ok(FunctionEventInvokeConfig::from_record(&rec, &self.region))
    }

    /// DeleteFunctionEventInvokeConfig.
    pub async fn delete_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), Error> {
        let _w = self.writes.lock().await;
        let (fname, qualifier) = self.event_config_target(function, qualifier)?;
        if !self.db.delete_event_invoke_config(&fname, &qualifier)? {
            return Err(config_not_found(
                &self.region.qualified_arn(&fname, &qualifier),
            ));
        }
        Ok(())
    }

    /// ListFunctionEventInvokeConfigs.
    pub fn list_event_invoke_configs(
        &self,
        function: &str,
        paging: &Paging,
    ) -> Result<ListFunctionEventInvokeConfigsResponse, Error> {
        let r = FunctionRef::parse(function, &self.region)?;
        if r.qualifier.is_some() {
            return Err(Error::invalid(
                "ListFunctionEventInvokeConfigs takes an unqualified function name.",
            ));
        }
        self.latest(&r.name)?;
        let all = self.db.list_event_invoke_configs(&r.name)?;
        let (items, next_marker) = page(&all, |c| c.qualifier.clone(), paging)?;
        Ok(ListFunctionEventInvokeConfigsResponse {
            function_event_invoke_configs: items
                .into_iter()
                .map(|c| FunctionEventInvokeConfig::from_record(c, &self.region))
                .collect(),
            next_marker,
        })
    }
}
