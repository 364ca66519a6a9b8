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
    /// The function and qualifier (default `$LATEST`) a request names.
    fn event_config_target(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, String), Error> {
        let r = FunctionRef::parse(function, &self.region)?.with_qualifier(qualifier)?;
        let qualifier = r.qualifier.unwrap_or_else(|| "$LATEST".to_string());
        Ok((r.name, qualifier))
    }

    /// The same, for Put and Update: the function and the qualifier's version or alias must
    /// exist, else AWS's "The function doesn't exist." (LocalStack's AWS-recorded snapshot
    /// test_lambda_eventinvokeconfig_exceptions). Get and Delete check nothing more than the
    /// configuration: "The function <ARN> doesn't have an EventInvokeConfig".
    fn existing_event_config_target(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, String), Error> {
        let (name, qualifier) = self.event_config_target(function, qualifier)?;
        let exists = if qualifier == "$LATEST" || alias::is_version_number(&qualifier) {
            self.db.get_function(&name, &qualifier)?.is_some()
        } else {
            self.db.get_function(&name, "$LATEST")?.is_some()
                && self.db.get_alias(&name, &qualifier)?.is_some()
        };
        if !exists {
            return Err(event_invoke::function_does_not_exist());
        }
        Ok((name, qualifier))
    }

    /// Refuses a destination function that does not exist, as AWS does at configuration time
    /// (LocalStack's AWS-recorded snapshot test_lambda_eventinvokeconfig_exceptions:
    /// put_destination_lambda_doesntexist).
    fn check_destinations_exist(&self, req: &EventInvokeConfigRequest) -> Result<(), Error> {
        let Some(d) = &req.destination_config else {
            return Ok(());
        };
        for t in [&d.on_success, &d.on_failure].into_iter().flatten() {
            let Some(arn) = t.destination.as_deref() else {
                continue;
            };
            let Some(event_invoke::Target::Function(dest)) =
                event_invoke::validate_destination(arn, "destination", &self.region)?
            else {
                // A queue may not exist yet: seen at delivery, as on AWS.
                continue;
            };
            let version = match dest.qualifier.as_deref() {
                None => Some("$LATEST".to_string()),
                Some(q) if q == "$LATEST" || alias::is_version_number(q) => Some(q.to_string()),
                Some(a) => self
                    .db
                    .get_alias(&dest.name, a)?
                    .map(|a| a.function_version),
            };
            let exists = match version {
                Some(v) => self.db.get_function(&dest.name, &v)?.is_some(),
                None => false,
            };
            if !exists {
                return Err(event_invoke::destination_not_found(arn));
            }
        }
        Ok(())
    }

    /// PutFunctionEventInvokeConfig.
    pub async fn put_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
        req: EventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, Error> {
        // What needs no stored state first: AWS answers a request that sets nothing so even
        // for a function that does not exist (put_functionname_nootherargs).
        event_invoke::check_put(&req, &self.region)?;
        let _w = self.writes.lock().await;
        let (fname, qualifier) = self.existing_event_config_target(function, qualifier)?;
        let now = epoch_seconds(self.clock.now_ms());
        let rec = event_invoke::put_record(&fname, &qualifier, &req, &self.region, now)?;
        self.check_destinations_exist(&req)?;
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
        let (fname, qualifier) = self.existing_event_config_target(function, qualifier)?;
        self.check_destinations_exist(&req)?;
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
        if self.db.get_function(&r.name, "$LATEST")?.is_none() {
            return Err(event_invoke::function_does_not_exist());
        }
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

#[cfg(test)]
mod tests {
    use hako_model::event_invoke::{
        DestinationConfig, DestinationTarget, EventInvokeConfigRequest,
    };

    use crate::testing::{create, fixture};

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function";

    fn retries(n: i64) -> EventInvokeConfigRequest {
        EventInvokeConfigRequest {
            maximum_retry_attempts: Some(n),
            ..EventInvokeConfigRequest::default()
        }
    }

    /// As LocalStack's AWS-recorded snapshot test_lambda_eventinvokeconfig_exceptions: Put,
    /// Update and List say the function does not exist; Get and Delete only that there is no
    /// configuration, at the qualified ARN (`$LATEST` by default).
    #[tokio::test]
    async fn not_found_as_aws_says_it() {
        let f = fixture().await;
        let l = &f.lambda;
        create(&f, "f", "one").await;
        let gone = "The function doesn't exist.";
        let put = |name: &'static str, q: Option<&'static str>| async move {
            l.put_event_invoke_config(name, q, retries(1))
                .await
                .unwrap_err()
                .message
        };
        assert_eq!(put("nope", None).await, gone);
        assert_eq!(
            put("arn:aws:lambda:us-east-1:123456789012:function:nope", None).await,
            gone
        );
        assert_eq!(put("f", Some("nope")).await, gone);
        assert_eq!(put("f", Some("7")).await, gone);
        let update = l.update_event_invoke_config("nope", None, retries(0)).await;
        assert_eq!(update.unwrap_err().message, gone);
        let list = l.list_event_invoke_configs("nope", &Default::default());
        assert_eq!(list.unwrap_err().message, gone);
        let none = |arn: &str| format!("The function {arn} doesn't have an EventInvokeConfig");
        let get = l.get_event_invoke_config("nope", None).unwrap_err();
        assert_eq!(get.message, none(&format!("{ARN}:nope:$LATEST")));
        let get = l.get_event_invoke_config("f", Some("nope")).unwrap_err();
        assert_eq!(get.message, none(&format!("{ARN}:f:nope")));
        let delete = l
            .delete_event_invoke_config("nope", None)
            .await
            .unwrap_err();
        assert_eq!(delete.message, none(&format!("{ARN}:nope:$LATEST")));
        let update = l.update_event_invoke_config("f", None, retries(0)).await;
        assert_eq!(
            update.unwrap_err().message,
            none(&format!("{ARN}:f:$LATEST"))
        );
        // A request that sets nothing is refused before the function is looked up.
        let empty = l
            .put_event_invoke_config("nope", None, EventInvokeConfigRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            empty.message,
            "You must specify at least one of error handling or destination setting."
        );
        // A destination function that does not exist is refused (put_destination_lambda_doesntexist).
        let missing = format!("{ARN}:doesnotexist");
        let to_missing = EventInvokeConfigRequest {
            destination_config: Some(DestinationConfig {
                on_success: Some(DestinationTarget {
                    destination: Some(missing.clone()),
                }),
                on_failure: None,
            }),
            ..EventInvokeConfigRequest::default()
        };
        let e = l
            .put_event_invoke_config("f", None, to_missing.clone())
            .await
            .unwrap_err();
        assert_eq!(e.kind, hako_model::ErrorKind::InvalidParameterValue);
        assert_eq!(
            e.message,
            format!("The destination ARN {missing} is invalid.")
        );
        // And once there is one, it is found.
        l.put_event_invoke_config("f", None, retries(1))
            .await
            .unwrap();
        let got = l.get_event_invoke_config("f", Some("$LATEST")).unwrap();
        assert_eq!(got.maximum_retry_attempts, Some(1));
        let e = l
            .update_event_invoke_config("f", None, to_missing)
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            format!("The destination ARN {missing} is invalid.")
        );
        // To a function that exists, it is taken.
        create(&f, "g", "two").await;
        let to_g = EventInvokeConfigRequest {
            destination_config: Some(DestinationConfig {
                on_success: None,
                on_failure: Some(DestinationTarget {
                    destination: Some(format!("{ARN}:g")),
                }),
            }),
            ..EventInvokeConfigRequest::default()
        };
        let put = l.put_event_invoke_config("f", None, to_g).await.unwrap();
        let on_failure = put
            .destination_config
            .on_failure
            .and_then(|t| t.destination);
        assert_eq!(on_failure, Some(format!("{ARN}:g")));
    }
}
