//! Function URLs: CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
//! DeleteFunctionUrlConfig, ListFunctionUrlConfigs, and [`Lambda::function_url`], the lookup a
//! request to a URL starts with (cached by URL id; the cache forgets a function's URLs on every
//! change to the function or its aliases, and is filled again from the store on the next request).

use std::sync::Arc;

use hako_model::function_url::{
    self as fu, CreateFunctionUrlConfigRequest, CreateFunctionUrlConfigResponse, FunctionUrlConfig,
    FunctionUrlRecord, ListFunctionUrlConfigsResponse, UpdateFunctionUrlConfigRequest,
};
use hako_model::{Error, FunctionRef};

use crate::versions::{page, Paging};
use crate::Lambda;

/// How a missing function or alias is worded: Create, Update and List say "Function does not
/// exist", Get and Delete "The resource you requested does not exist." (LocalStack's
/// AWS-recorded `test_url_config_exceptions`).
type Missing = fn() -> Error;

impl Lambda {
    /// The function and qualifier (`$LATEST` or an alias) a URL request addresses, both existing.
    fn url_owner(
        &self,
        function: &str,
        qualifier: Option<&str>,
        missing: Missing,
    ) -> Result<(String, String), Error> {
        let r = FunctionRef::parse(function, &self.region)?.with_qualifier(qualifier)?;
        if self.db.get_function(&r.name, fu::LATEST)?.is_none() {
            return Err(missing());
        }
        let q = r.qualifier.unwrap_or_else(|| fu::LATEST.to_string());
        if q != fu::LATEST && self.db.get_alias(&r.name, &q)?.is_none() {
            return Err(missing());
        }
        Ok((r.name, q))
    }

    /// Forgets the cached URLs of function `name` (any change to it or its aliases).
    pub(crate) fn invalidate_urls(&self, name: &str) {
        self.urls.write().retain(|_, u| u.function_name != name);
    }

    fn url_time(&self) -> String {
        fu::format_time(self.clock.now_utc())
    }

    /// CreateFunctionUrlConfig.
    pub async fn create_function_url(
        &self,
        function: &str,
        qualifier: Option<&str>,
        req: CreateFunctionUrlConfigRequest,
    ) -> Result<CreateFunctionUrlConfigResponse, Error> {
        let c = fu::validate_create(function, qualifier, &req)?;
        let _w = self.writes.lock().await;
        let (name, q) = self.url_owner(function, qualifier, fu::function_does_not_exist)?;
        let now = self.url_time();
        for _ in 0..3 {
            let rec = FunctionUrlRecord {
                function_name: name.clone(),
                qualifier: q.clone(),
                url_id: fu::new_url_id(rand::random::<u32>),
                auth_type: c.auth_type.unwrap_or(fu::AuthType::None),
                cors: c.cors.clone(),
                invoke_mode: c.invoke_mode,
                creation_time: now.clone(),
                last_modified_time: now.clone(),
            };
            if self.db.get_function_url(&name, &q)?.is_some() {
                return Err(fu::url_exists(&rec.function_arn(&self.region)));
            }
            // Refused only for an id another URL has (the qualifier has none: checked above,
            // under the write lock).
            if self.db.insert_function_url(&rec)? {
                tracing::info!(function = %name, qualifier = %q, url = %rec.function_url(&self.region), "function URL created");
                return Ok(rec.created(&self.region));
            }
        }
        Err(Error::service("cannot find an unused function URL id"))
    }

    /// GetFunctionUrlConfig.
    pub fn get_function_url(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionUrlConfig, Error> {
        fu::validate_target(function, qualifier)?;
        let (name, q) = self.url_owner(function, qualifier, fu::resource_does_not_exist)?;
        let rec = self
            .db
            .get_function_url(&name, &q)?
            .ok_or_else(fu::resource_does_not_exist)?;
        Ok(rec.config(&self.region, true))
    }

    /// UpdateFunctionUrlConfig: what is given replaces what was (a given `Cors` replaces the
    /// whole of it); what is not stays.
    pub async fn update_function_url(
        &self,
        function: &str,
        qualifier: Option<&str>,
        req: UpdateFunctionUrlConfigRequest,
    ) -> Result<FunctionUrlConfig, Error> {
        let c = fu::validate_update(function, qualifier, &req)?;
        let _w = self.writes.lock().await;
        let (name, q) = self.url_owner(function, qualifier, fu::function_does_not_exist)?;
        let now = self.url_time();
        let rec = self
            .db
            .update_function_url(&name, &q, |u| {
                u.apply(c, now);
                Ok(())
            })?
            .ok_or_else(fu::resource_does_not_exist)?;
        self.invalidate_urls(&name);
        Ok(rec.config(&self.region, false))
    }

    /// DeleteFunctionUrlConfig (the qualifier's URL only: an alias keeps its own).
    pub async fn delete_function_url(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), Error> {
        fu::validate_target(function, qualifier)?;
        let _w = self.writes.lock().await;
        let (name, q) = self.url_owner(function, qualifier, fu::resource_does_not_exist)?;
        if !self.db.delete_function_url(&name, &q)? {
            return Err(fu::resource_does_not_exist());
        }
        self.invalidate_urls(&name);
        tracing::info!(function = %name, qualifier = %q, "function URL deleted");
        Ok(())
    }

    /// ListFunctionUrlConfigs.
    pub fn list_function_urls(
        &self,
        function: &str,
        paging: &Paging,
    ) -> Result<ListFunctionUrlConfigsResponse, Error> {
        fu::validate_target(function, None)?;
        let r = FunctionRef::parse(function, &self.region)?;
        if self.db.get_function(&r.name, fu::LATEST)?.is_none() {
            return Err(fu::function_does_not_exist());
        }
        let urls = self.db.list_function_urls(Some(&r.name))?;
        let (items, next_marker) = page(&urls, |u| u.url_id.clone(), paging)?;
        Ok(ListFunctionUrlConfigsResponse {
            function_url_configs: items
                .into_iter()
                .map(|u| u.config(&self.region, true))
                .collect(),
            next_marker,
        })
    }

    /// Every stored URL (for the start-up log).
    pub fn all_function_urls(&self) -> Result<Vec<FunctionUrlRecord>, Error> {
        self.db.list_function_urls(None)
    }

    /// The URL whose id is `url_id` (lowercase), from the cache when it is there: what a request
    /// to a URL is served by. `None` when there is no such URL.
    pub fn function_url(&self, url_id: &str) -> Result<Option<Arc<FunctionUrlRecord>>, Error> {
        if let Some(u) = self.urls.read().get(url_id) {
            return Ok(Some(u.clone()));
        }
        let Some(rec) = self.db.function_url_by_id(url_id)? else {
            return Ok(None);
        };
        let rec = Arc::new(rec);
        self.urls.write().insert(url_id.to_string(), rec.clone());
        Ok(Some(rec))
    }
}

#[cfg(test)]
mod tests {
    use hako_model::alias::CreateAliasRequest;
    use hako_model::function_url::{
        AuthType, CreateFunctionUrlConfigRequest as Create, InvokeMode,
        UpdateFunctionUrlConfigRequest as Update,
    };
    use hako_model::ErrorKind;

    use crate::testing::{create, fixture};
    use crate::Paging;

    fn none() -> Create {
        Create {
            auth_type: Some("NONE".into()),
            ..Create::default()
        }
    }

    #[tokio::test]
    async fn a_url_lives_on_latest_or_an_alias_with_awss_answers() {
        let f = fixture().await;
        let l = &f.lambda;
        // LocalStack's AWS-recorded test_url_config_exceptions.
        let e = l
            .create_function_url("nope", None, none())
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::ResourceNotFound, "Function does not exist")
        );
        let e = l.get_function_url("nope", None).unwrap_err();
        assert_eq!(e.message, "The resource you requested does not exist.");
        create(&f, "f", "one").await;
        l.publish_version("f", Default::default()).await.unwrap();
        let alias = CreateAliasRequest {
            name: Some("live".into()),
            function_version: Some("1".into()),
            ..CreateAliasRequest::default()
        };
        l.create_alias("f", alias).await.unwrap();
        let e = l.get_function_url("f", None).unwrap_err();
        assert_eq!(e.message, "The resource you requested does not exist.");
        let e = l
            .create_function_url("f", Some("v1"), none())
            .await
            .unwrap_err();
        assert_eq!(e.message, "Function does not exist");
        let e = l
            .create_function_url("f:live-doesnotmatch", Some("live"), none())
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::InvalidParameterValue,
                "The derived qualifier from the function name does not match the specified qualifier."
            )
        );
        let e = l
            .create_function_url("f", Some("1"), none())
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);

        let c = l.create_function_url("f", None, none()).await.unwrap();
        assert_eq!(
            c.function_arn,
            "arn:aws:lambda:us-east-1:123456789012:function:f"
        );
        assert_eq!(c.invoke_mode, None);
        let e = l.create_function_url("f", None, none()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::ResourceConflict);
        assert_eq!(e.message, "Failed to create function url config for [functionArn = arn:aws:lambda:us-east-1:123456789012:function:f]. Error message:  FunctionUrlConfig exists for this Lambda function");
        let a = l
            .create_function_url("f:live", Some("live"), none())
            .await
            .unwrap();
        assert_eq!(
            a.function_arn,
            "arn:aws:lambda:us-east-1:123456789012:function:f:live"
        );
        assert_ne!(a.function_url, c.function_url);

        let g = l.get_function_url("f", None).unwrap();
        assert_eq!(g.invoke_mode, Some(InvokeMode::Buffered));
        let id = |url: &str| url[8..40].to_string();
        let served = l.function_url(&id(&c.function_url)).unwrap().unwrap();
        assert_eq!(served.invoke_qualifier(), None);
        assert_eq!(
            l.function_url(&id(&a.function_url))
                .unwrap()
                .unwrap()
                .invoke_qualifier(),
            Some("live")
        );

        f.clock.advance(1000);
        let u = l
            .update_function_url(
                "f",
                None,
                Update {
                    auth_type: Some("AWS_IAM".into()),
                    ..Update::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(u.auth_type, AuthType::AwsIam);
        assert_eq!(u.invoke_mode, None);
        assert_ne!(u.last_modified_time, u.creation_time);
        assert_eq!(
            l.function_url(&id(&c.function_url))
                .unwrap()
                .unwrap()
                .auth_type,
            AuthType::AwsIam,
            "the served URL follows the update"
        );

        let list = l.list_function_urls("f", &Paging::default()).unwrap();
        assert_eq!(list.function_url_configs.len(), 2);
        let one = Paging {
            max_items: Some("1".into()),
            marker: None,
        };
        let first = l.list_function_urls("f", &one).unwrap();
        assert_eq!(first.function_url_configs.len(), 1);
        let rest = l
            .list_function_urls(
                "f",
                &Paging {
                    max_items: Some("1".into()),
                    marker: first.next_marker.clone(),
                },
            )
            .unwrap();
        assert_eq!(rest.function_url_configs.len(), 1);
        assert_ne!(rest.function_url_configs[0], first.function_url_configs[0]);
        assert!(rest.next_marker.is_none());

        // Deleting $LATEST's URL leaves the alias's (LocalStack's AWS-recorded
        // test_url_config_deletion_without_qualifier); deleting the alias takes its URL.
        l.delete_function_url("f", None).await.unwrap();
        assert!(l.function_url(&id(&c.function_url)).unwrap().is_none());
        let e = l.delete_function_url("f", None).await.unwrap_err();
        assert_eq!(e.message, "The resource you requested does not exist.");
        assert!(l.get_function_url("f", Some("live")).is_ok());
        l.delete_alias("f", "live").await.unwrap();
        assert!(l.function_url(&id(&a.function_url)).unwrap().is_none());
        let e = l
            .list_function_urls("nope", &Paging::default())
            .unwrap_err();
        assert_eq!(e.message, "Function does not exist");
    }
}
