//! Provisioned concurrency: PutProvisionedConcurrencyConfig, GetProvisionedConcurrencyConfig,
//! DeleteProvisionedConcurrencyConfig, ListProvisionedConcurrencyConfigs.
//!
//! Configurations are stored per qualifier (a version or an alias); the engine provisions the
//! version each one addresses (an alias's version) and reports its status. They are given to
//! the engine again at start ([`Lambda::reconcile`]).

use std::collections::HashMap;

use hako_model::alias::{self, AliasRecord};
use hako_model::provisioned::{
    self as pc, ListProvisionedConcurrencyConfigsResponse, ProvisionedConcurrencyConfig,
    ProvisionedConfigRecord, ProvisionedStatus, PutProvisionedConcurrencyConfigRequest,
};
use hako_model::{Error, FunctionRef};

use crate::versions::{page, Paging};
use crate::Lambda;

/// What a request's qualifier addresses.
struct Qualified {
    function: String,
    qualifier: String,
    /// The version provisioned: the qualifier, or the alias's version.
    version: String,
    alias: Option<AliasRecord>,
}

impl Lambda {
    /// Provisions every stored configuration again (at start; the sandboxes start in the
    /// background). A configuration that cannot be resolved is logged and left stored.
    pub(crate) fn load_provisioned(&self) -> Result<(), Error> {
        for c in self.db.list_provisioned(None)? {
            let version = if alias::is_version_number(&c.qualifier) {
                Some(c.qualifier.clone())
            } else {
                self.db
                    .get_alias(&c.function_name, &c.qualifier)?
                    .map(|a| a.function_version)
            };
            let resolved = version
                .ok_or_else(|| Error::not_found("no such alias"))
                .and_then(|v| self.resolve(&c.function_name, &v));
            match resolved {
                Ok(f) => self.engine.provision(&f, &c.qualifier, c.requested),
                Err(e) => {
                    tracing::warn!(function = %c.function_name, qualifier = %c.qualifier, error = %e, "cannot provision a stored configuration")
                }
            }
        }
        Ok(())
    }

    /// What the functions but `except` take out of the account's pool: each its reserved
    /// concurrency, or without one its provisioned concurrency.
    pub(crate) fn carved_by_functions(&self, except: Option<&str>) -> Result<u64, Error> {
        let mut provisioned: HashMap<String, u64> = HashMap::new();
        for c in self.db.list_provisioned(None)? {
            *provisioned.entry(c.function_name).or_default() += u64::from(c.requested);
        }
        Ok(self
            .db
            .list_functions(false)?
            .iter()
            .filter(|f| Some(f.name.as_str()) != except)
            .map(|f| {
                pc::carved(
                    f.reserved_concurrency,
                    provisioned.get(&f.name).copied().unwrap_or(0),
                )
            })
            .sum())
    }

    /// The version a stored configuration provisions (`None` for an alias that is gone).
    fn provisioned_version(
        &self,
        c: &ProvisionedConfigRecord,
        aliases: &[AliasRecord],
    ) -> Option<String> {
        if alias::is_version_number(&c.qualifier) {
            return Some(c.qualifier.clone());
        }
        aliases
            .iter()
            .find(|a| a.name == c.qualifier)
            .map(|a| a.function_version.clone())
    }

    /// A configuration as the API shows it, with the engine's progress.
    fn show(
        &self,
        c: &ProvisionedConfigRecord,
        version: &str,
        with_arn: bool,
    ) -> ProvisionedConcurrencyConfig {
        let state = self.engine.provisioned_state(&c.function_name, version);
        let (allocated, status, reason) = match state {
            Some(s) => (s.allocated, s.status, s.status_reason),
            None => (0, ProvisionedStatus::InProgress, None),
        };
        ProvisionedConcurrencyConfig {
            function_arn: with_arn
                .then(|| self.region.qualified_arn(&c.function_name, &c.qualifier)),
            requested_provisioned_concurrent_executions: c.requested,
            available_provisioned_concurrent_executions: allocated,
            allocated_provisioned_concurrent_executions: allocated,
            status,
            status_reason: reason,
            last_modified: c.last_modified.clone(),
        }
    }

    /// Resolves the function and qualifier of a Put, Get or Delete; `on_latest` is the error
    /// for `$LATEST`.
    fn qualified(
        &self,
        function: &str,
        qualifier: Option<&str>,
        on_latest: fn() -> Error,
    ) -> Result<Qualified, Error> {
        let r = FunctionRef::parse(function, &self.region)?.with_qualifier(qualifier)?;
        let qualifier = pc::require_qualifier(r.qualifier.as_deref())?.to_string();
        if qualifier == "$LATEST" {
            return Err(on_latest());
        }
        let arn = self.region.qualified_arn(&r.name, &qualifier);
        if alias::is_version_number(&qualifier) {
            if self.db.get_function(&r.name, &qualifier)?.is_none() {
                return Err(Error::function_not_found(&arn));
            }
            return Ok(Qualified {
                function: r.name,
                version: qualifier.clone(),
                qualifier,
                alias: None,
            });
        }
        let a = self
            .db
            .get_alias(&r.name, &qualifier)?
            .ok_or_else(|| alias::alias_not_found(&arn))?;
        Ok(Qualified {
            function: r.name,
            version: a.function_version.clone(),
            qualifier,
            alias: Some(a),
        })
    }

    /// Moves an alias's provisioned concurrency to the version it now points at (UpdateAlias).
    pub(crate) fn alias_moved(
        &self,
        function: &str,
        alias: &str,
        old_version: &str,
        new_version: &str,
    ) {
        if old_version == new_version {
            return;
        }
        let Ok(configs) = self.db.list_provisioned(Some(function)) else {
            return;
        };
        let Some(c) = configs.iter().find(|c| c.qualifier == alias) else {
            return;
        };
        self.engine.unprovision(function, old_version);
        match self.resolve(function, new_version) {
            Ok(f) => self.engine.provision(&f, alias, c.requested),
            Err(e) => {
                tracing::warn!(function, alias, error = %e, "cannot provision the alias's new version")
            }
        }
    }

    /// Whether another qualifier than `alias` provisions `version` (UpdateAlias refuses to point
    /// an alias with provisioned concurrency there).
    pub(crate) fn provisioned_elsewhere(
        &self,
        function: &str,
        alias: &str,
        version: &str,
    ) -> Result<bool, Error> {
        let configs = self.db.list_provisioned(Some(function))?;
        if !configs.iter().any(|c| c.qualifier == alias) {
            return Ok(false);
        }
        let aliases = self.db.list_aliases(function)?;
        Ok(configs.iter().any(|c| {
            c.qualifier != alias
                && self.provisioned_version(c, &aliases).as_deref() == Some(version)
        }))
    }

    /// PutProvisionedConcurrencyConfig.
    pub async fn put_provisioned_concurrency(
        &self,
        function: &str,
        qualifier: Option<&str>,
        req: PutProvisionedConcurrencyConfigRequest,
    ) -> Result<ProvisionedConcurrencyConfig, Error> {
        let n = pc::validate_requested(&req)?;
        let _w = self.writes.lock().await;
        let t = self.qualified(function, qualifier, pc::unpublished_version)?;
        let latest = self.latest(&t.function)?;
        let configs = self.db.list_provisioned(Some(&t.function))?;
        let aliases = self.db.list_aliases(&t.function)?;
        if let Some(a) = &t.alias {
            if !a.additional_version_weights.is_empty() {
                return Err(pc::weighted_alias());
            }
        }
        // One configuration per version, on the version or on one alias of it.
        for c in configs.iter().filter(|c| c.qualifier != t.qualifier) {
            if self.provisioned_version(c, &aliases).as_deref() != Some(t.version.as_str()) {
                continue;
            }
            return Err(if t.alias.is_some() {
                pc::version_already_provisioned()
            } else {
                pc::version_pointed_by_alias()
            });
        }
        let others: u64 = configs
            .iter()
            .filter(|c| c.qualifier != t.qualifier)
            .map(|c| u64::from(c.requested))
            .sum();
        pc::check_limits(
            n,
            others,
            latest.reserved_concurrency,
            self.engine.config().account_concurrency as u64,
            self.carved_by_functions(Some(&t.function))?,
        )?;
        let f = self.resolve(&t.function, &t.version)?;
        let rec = ProvisionedConfigRecord {
            function_name: t.function.clone(),
            qualifier: t.qualifier.clone(),
            requested: n,
            last_modified: self.now(),
        };
        self.db.put_provisioned(&rec)?;
        self.engine.provision(&f, &t.qualifier, n);
        tracing::info!(function = %t.function, qualifier = %t.qualifier, version = %t.version, requested = n, "provisioned concurrency set");
        Ok(self.show(&rec, &t.version, false))
    }

    /// GetProvisionedConcurrencyConfig.
    pub fn get_provisioned_concurrency(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<ProvisionedConcurrencyConfig, Error> {
        let t = self.qualified(function, qualifier, pc::not_alias_or_version)?;
        let c = self
            .db
            .list_provisioned(Some(&t.function))?
            .into_iter()
            .find(|c| c.qualifier == t.qualifier)
            .ok_or_else(pc::config_not_found)?;
        Ok(self.show(&c, &t.version, false))
    }

    /// ListProvisionedConcurrencyConfigs.
    pub fn list_provisioned_concurrency(
        &self,
        function: &str,
        paging: &Paging,
    ) -> Result<ListProvisionedConcurrencyConfigsResponse, Error> {
        let r = FunctionRef::parse(function, &self.region)?;
        self.latest(&r.name)?;
        let configs = self.db.list_provisioned(Some(&r.name))?;
        let aliases = self.db.list_aliases(&r.name)?;
        let (items, next_marker) = page(&configs, |c| c.qualifier.clone(), paging)?;
        Ok(ListProvisionedConcurrencyConfigsResponse {
            provisioned_concurrency_configs: items
                .into_iter()
                .map(|c| {
                    let version = self.provisioned_version(c, &aliases).unwrap_or_default();
                    self.show(c, &version, true)
                })
                .collect(),
            next_marker,
        })
    }

    /// DeleteProvisionedConcurrencyConfig (as on AWS, deleting one that is not there is no
    /// error).
    pub async fn delete_provisioned_concurrency(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), Error> {
        let _w = self.writes.lock().await;
        let t = self.qualified(function, qualifier, pc::not_alias_or_version)?;
        if self.db.delete_provisioned(&t.function, &t.qualifier)? {
            self.engine.unprovision(&t.function, &t.version);
            tracing::info!(function = %t.function, qualifier = %t.qualifier, "provisioned concurrency removed");
        }
        Ok(())
    }
}
