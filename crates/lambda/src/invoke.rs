//! Invoke (RequestResponse, Event, DryRun) and the deprecated InvokeAsync.
//!
//! This is the product's hot path: one lookup in the resolved-function cache, then the engine.
//! An `Event` invocation is queued durably (committed before the caller is answered) for the
//! asynchronous queue's workers (`hako-events`).

use bytes::Bytes;
use hako_engine::{AsyncMetric, InvokeRequest, InvokeResult, ResolvedFunction};
use hako_model::{Error, FunctionRef};
use hako_store::NewEvent;

use crate::aliases::Target;
use crate::Lambda;

/// One invocation as the caller sent it (the client context already decoded and checked).
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub payload: Bytes,
    pub client_context: Option<String>,
    pub trace_id: Option<String>,
    /// Whether the caller wants the log tail.
    pub log_tail: bool,
}

impl Lambda {
    /// The function version an invocation of `target` runs (an alias with routing picks it by
    /// weight), resolved.
    fn pick(&self, t: &Target) -> Result<std::sync::Arc<ResolvedFunction>, Error> {
        let version = match &t.alias {
            Some(a) => a.pick_version(rand::random::<f64>()),
            None => &t.version,
        };
        self.resolve(&t.name, version)
    }

    /// The ARN the function sees: the one the caller used, qualified (by the version or the
    /// alias) when the caller named a qualifier, even `$LATEST`.
    fn invoked_arn(&self, t: &Target, f: &ResolvedFunction) -> String {
        match &t.qualifier {
            Some(qualifier) => self.region.qualified_arn(&t.name, qualifier),
            None => f.arn.clone(),
        }
    }

    /// Invoke with `RequestResponse`: runs the function and returns its result.
    pub async fn invoke(
        &self,
        function: &str,
        qualifier: Option<&str>,
        inv: Invocation,
    ) -> Result<InvokeResult, Error> {
        let t = self.target(function, qualifier, true)?;
        let f = self.pick(&t)?;
        let req = InvokeRequest {
            payload: inv.payload,
            invoked_arn: self.invoked_arn(&t, &f),
            client_context: inv.client_context,
            trace_id: inv.trace_id,
            log_tail: inv.log_tail,
            request_id: None,
        };
        self.engine.invoke(&f, req).await
    }

    /// Invoke with `DryRun`: checks that the function and qualifier resolve.
    pub fn invoke_dry_run(&self, function: &str, qualifier: Option<&str>) -> Result<(), Error> {
        let t = self.target(function, qualifier, true)?;
        self.pick(&t)?;
        Ok(())
    }

    /// Invoke with `Event`: queues the invocation durably; its request id.
    pub fn invoke_event(
        &self,
        function: &str,
        qualifier: Option<&str>,
        inv: Invocation,
    ) -> Result<String, Error> {
        let t = self.target(function, qualifier, true)?;
        let f = self.pick(&t)?;
        self.enqueue(&f, &t.name, t.qualifier, inv)
    }

    /// InvokeAsync (deprecated): an `Event` invocation of `$LATEST`; its request id.
    pub fn invoke_async(&self, function: &str, payload: Bytes) -> Result<String, Error> {
        let r = FunctionRef::parse(function, &self.region)?;
        let f = self.resolve(&r.name, "$LATEST")?;
        let inv = Invocation {
            payload,
            ..Invocation::default()
        };
        self.enqueue(&f, &r.name, None, inv)
    }

    /// Queues an `Event` invocation durably (committed before this returns); its request id.
    fn enqueue(
        &self,
        f: &ResolvedFunction,
        name: &str,
        qualifier: Option<String>,
        inv: Invocation,
    ) -> Result<String, Error> {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.db.enqueue_event(&NewEvent {
            request_id: request_id.clone(),
            function_name: name.to_string(),
            qualifier,
            payload: inv.payload.to_vec(),
            client_context: inv.client_context,
            trace_id: inv.trace_id,
            received_ms: self.clock.now_ms(),
        })?;
        self.engine.record_async(f, AsyncMetric::Received);
        self.async_wake.notify_one();
        Ok(request_id)
    }
}
