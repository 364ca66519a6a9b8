//! The Lambda application layer: everything the control plane decides, for every caller of
//! Lambda (the REST-JSON handlers of `control-api`, the asynchronous queue of `events`, the
//! pollers and schedules to come).
//!
//! [`Lambda`] owns the database, the code store and the engine, and holds the resolution of
//! names, ARNs, qualifiers and aliases, the caches of resolved functions and aliases and their
//! invalidation, the serialisation of writes, the reconciliation at start (reserved and
//! provisioned concurrency), and the code store's clean-up. It has one method per control-plane
//! operation: model types in (the parsed wire requests and typed parameters), model types and
//! `hako_model::Error` out.
//!
//! Invariant: no HTTP here (no routes, headers or status codes) and no SQLite (that is
//! `hako-store`'s). The invoke path is one cache lookup, then the engine.

mod account;
mod aliases;
mod concurrency;
mod event_config;
mod event_source_mappings;
mod function_urls;
mod functions;
mod invoke;
mod layers;
mod permissions;
mod provisioned;
mod tags;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod versions;

use std::collections::HashMap;
use std::sync::Arc;

use hako_engine::{Engine, ResolvedFunction};
use hako_model::clock::Clock;
use hako_model::{Error, FunctionRecord, Region};
use hako_store::{CodeStore, Db};
use parking_lot::RwLock;

pub use crate::aliases::Target;
pub use crate::event_source_mappings::{EventSources, QueueSource};
pub use crate::invoke::Invocation;
pub use crate::versions::{page, Paging};
pub use hako_engine::{stream_channel, StreamEvent, StreamSink};

/// The Lambda application layer (see the crate's documentation).
#[derive(Debug)]
pub struct Lambda {
    db: Arc<Db>,
    code: Arc<CodeStore>,
    engine: Arc<Engine>,
    region: Region,
    clock: Arc<dyn Clock>,
    /// Resolved functions by (name, version): the invoke path's only lookup.
    resolved: RwLock<HashMap<(String, String), Arc<ResolvedFunction>>>,
    /// Aliases by function, for the invoke path (see `aliases.rs`).
    aliases: RwLock<aliases::AliasCache>,
    /// Function URLs by URL id, for requests to them (see `function_urls.rs`).
    urls: RwLock<HashMap<String, Arc<hako_model::function_url::FunctionUrlRecord>>>,
    /// Serialises control-plane writes (one at a time: they are short, and a write reads what
    /// it checks and writes it under the lock).
    writes: tokio::sync::Mutex<()>,
    /// Wakes the asynchronous queue's dispatcher (an event was queued or a worker is free).
    async_wake: tokio::sync::Notify,
    /// Where event source mappings' queues and streams are (set once by the binary).
    event_sources: std::sync::OnceLock<Arc<dyn EventSources>>,
    /// Wakes the event source mappings' supervisor (a mapping changed).
    esm_changed: tokio::sync::Notify,
}

impl Lambda {
    pub fn new(
        db: Arc<Db>,
        code: Arc<CodeStore>,
        engine: Arc<Engine>,
        region: Region,
        clock: Arc<dyn Clock>,
    ) -> Arc<Lambda> {
        Arc::new(Lambda {
            db,
            code,
            engine,
            region,
            clock,
            resolved: RwLock::new(HashMap::new()),
            aliases: RwLock::new(aliases::AliasCache::default()),
            urls: RwLock::new(HashMap::new()),
            writes: tokio::sync::Mutex::new(()),
            async_wake: tokio::sync::Notify::new(),
            event_sources: std::sync::OnceLock::new(),
            esm_changed: tokio::sync::Notify::new(),
        })
    }

    /// Reconciles the engine with what is stored (at start, before the first invoke): every
    /// reserved concurrency, then every provisioned concurrency configuration (its sandboxes
    /// start in the background).
    pub fn reconcile(&self) -> Result<(), Error> {
        self.load_reserved_concurrency()?;
        self.load_provisioned()
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Signalled when an asynchronous event is queued (the queue's dispatcher waits on it).
    pub fn async_wake(&self) -> &tokio::sync::Notify {
        &self.async_wake
    }

    /// Forgets what was resolved for `name` (versions and aliases) and retires its sandboxes.
    pub(crate) fn invalidate(&self, name: &str) {
        self.resolved.write().retain(|(n, _), _| n != name);
        self.invalidate_aliases(name);
        self.engine.retire_function(name);
    }

    /// The resolved function for `name` at `version` (`$LATEST` or a version number), from
    /// the cache when it is there.
    pub fn resolve(&self, name: &str, version: &str) -> Result<Arc<ResolvedFunction>, Error> {
        self.resolve_or(name, version, || {
            Error::function_not_found(&self.arn_of(name, version))
        })
    }

    /// [`Lambda::resolve`], with the caller's error for a version that does not exist.
    pub(crate) fn resolve_or(
        &self,
        name: &str,
        version: &str,
        missing: impl FnOnce() -> Error,
    ) -> Result<Arc<ResolvedFunction>, Error> {
        if let Some(r) = self
            .resolved
            .read()
            .get(&(name.to_string(), version.to_string()))
        {
            return Ok(r.clone());
        }
        let rec = self.db.get_function(name, version)?.ok_or_else(missing)?;
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
            role: rec.role.clone(),
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
            logging: hako_engine::LogControls::from_config(
                &rec.log_format,
                rec.application_log_level.as_deref(),
                rec.system_log_level.as_deref(),
            ),
            // Reserved concurrency is the function's, kept on `$LATEST` (a version's copy is stale).
            reserved_concurrency: if rec.version == "$LATEST" {
                rec.reserved_concurrency
            } else {
                None
            },
            outbound_network,
        })
    }

    /// The ARN of `name` at `version`: unqualified for `$LATEST`.
    pub(crate) fn arn_of(&self, name: &str, version: &str) -> String {
        if version == "$LATEST" {
            self.region.function_arn(name)
        } else {
            self.region.qualified_arn(name, version)
        }
    }

    /// The `$LATEST` record of `name`, or AWS's not-found error (the unqualified ARN).
    pub(crate) fn latest(&self, name: &str) -> Result<FunctionRecord, Error> {
        self.db
            .get_function(name, "$LATEST")?
            .ok_or_else(|| Error::function_not_found(&self.region.function_arn(name)))
    }

    /// `LastModified` now.
    pub(crate) fn now(&self) -> String {
        hako_model::function::format_last_modified(self.clock.now_utc())
    }
}

/// A new RevisionId.
pub(crate) fn revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// AWS's error for a RevisionId that is not the current one.
pub(crate) fn stale_revision() -> Error {
    Error::new(
        hako_model::ErrorKind::PreconditionFailed,
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hako_engine::testing::{config, FakeRuntime};
    use hako_engine::{Engine, NullSink, Runtimes};
    use hako_model::concurrency::PutFunctionConcurrencyRequest;
    use hako_model::provisioned::PutProvisionedConcurrencyConfigRequest;

    use crate::testing::{create, fixture};
    use crate::Lambda;

    /// What a previous run stored is given to a new engine at start: reserved concurrency, and
    /// provisioned concurrency (whose sandboxes start in the background).
    #[tokio::test]
    async fn reconcile_gives_a_new_engine_what_is_stored() {
        let f = fixture().await;
        let l = &f.lambda;
        create(&f, "f", "one").await;
        create(&f, "g", "two").await;
        let reserve = PutFunctionConcurrencyRequest {
            reserved_concurrent_executions: Some(7),
        };
        l.put_function_concurrency("f", reserve).await.unwrap();
        l.publish_version("g", Default::default()).await.unwrap();
        let provision = PutProvisionedConcurrencyConfigRequest {
            provisioned_concurrent_executions: Some(2),
        };
        l.put_provisioned_concurrency("g", Some("1"), provision)
            .await
            .unwrap();
        // The next start: the same store, a new engine.
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(
            config(),
            FakeRuntime::echo().isolation(),
            Runtimes::provided_only(dir.path()),
            Arc::new(NullSink),
        );
        let next = Lambda::new(
            l.db.clone(),
            l.code.clone(),
            engine.clone(),
            l.region.clone(),
            l.clock.clone(),
        );
        assert_eq!(engine.carved_concurrency_total(), 0);
        assert!(engine.provisioned_state("g", "1").is_none());
        next.reconcile().unwrap();
        // f's 7 reserved, g's 2 provisioned set aside.
        assert_eq!(engine.carved_concurrency_total(), 9);
        assert!(engine.provisioned_state("g", "1").is_some());
    }
}
