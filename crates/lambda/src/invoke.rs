//! Invoke (RequestResponse, Event, DryRun) and the deprecated InvokeAsync.
//!
//! This is the product's hot path: one lookup in the resolved-function cache, then the engine.
//! An `Event` invocation is queued durably (committed before the caller is answered) for the
//! asynchronous queue's workers (`hako-events`).

use bytes::Bytes;
use hako_engine::{AsyncMetric, InvokeRequest, InvokeResult, ResolvedFunction, StreamSink};
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
    /// The request id to run under (a function URL puts it in its event first); a new one when
    /// `None`.
    pub request_id: Option<String>,
}

impl Lambda {
    /// The function version an invocation of `target` runs (an alias with routing picks it by
    /// weight), resolved. Not found is said with the ARN qualified as invoked, `$LATEST` when
    /// unqualified (LocalStack's AWS-recorded snapshot test_function_name_and_qualifier_validation).
    fn pick(&self, t: &Target) -> Result<std::sync::Arc<ResolvedFunction>, Error> {
        let version = match &t.alias {
            Some(a) => a.pick_version(rand::random::<f64>()),
            None => &t.version,
        };
        self.resolve_or(&t.name, version, || {
            let qualifier = t.qualifier.as_deref().unwrap_or("$LATEST");
            Error::function_not_found(&self.region.qualified_arn(&t.name, qualifier))
        })
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
        let (f, req) = self.request(function, qualifier, inv)?;
        self.engine.invoke(&f, req).await
    }

    /// Invoke with a response stream (InvokeWithResponseStream, a `RESPONSE_STREAM` URL): runs
    /// the function; when it streams, its response goes to `sink` as it writes it and the
    /// result (returned after the last chunk) carries only how it ended; when it does not, the
    /// result carries its payload as [`Lambda::invoke`]'s does.
    pub async fn invoke_streaming(
        &self,
        function: &str,
        qualifier: Option<&str>,
        inv: Invocation,
        sink: StreamSink,
    ) -> Result<InvokeResult, Error> {
        let (f, mut req) = self.request(function, qualifier, inv)?;
        req.stream = Some(sink);
        self.engine.invoke(&f, req).await
    }

    /// The function version an invocation runs, and the engine's request for it.
    fn request(
        &self,
        function: &str,
        qualifier: Option<&str>,
        inv: Invocation,
    ) -> Result<(std::sync::Arc<ResolvedFunction>, InvokeRequest), Error> {
        let t = self.target(function, qualifier)?;
        let f = self.pick(&t)?;
        let req = InvokeRequest {
            payload: inv.payload,
            invoked_arn: self.invoked_arn(&t, &f),
            client_context: inv.client_context,
            trace_id: inv.trace_id,
            log_tail: inv.log_tail,
            request_id: inv.request_id,
            stream: None,
        };
        Ok((f, req))
    }

    /// Invoke with `RequestResponse` for a caller that must record the outcome before anything
    /// else runs in its place (an event source poller committing its checkpoint): `settle`
    /// runs with the result while the invocation still holds its concurrency slot and its
    /// sandbox ([`hako_engine::Engine::invoke_then`]). A target that does not resolve is
    /// settled with its error.
    pub async fn invoke_then<T>(
        &self,
        function: &str,
        qualifier: Option<&str>,
        inv: Invocation,
        settle: impl FnOnce(Result<InvokeResult, Error>) -> T,
    ) -> T {
        match self.request(function, qualifier, inv) {
            Ok((f, req)) => self.engine.invoke_then(&f, req, settle).await,
            Err(e) => settle(Err(e)),
        }
    }

    /// Invoke with `DryRun`: checks that the function and qualifier resolve.
    pub fn invoke_dry_run(&self, function: &str, qualifier: Option<&str>) -> Result<(), Error> {
        let t = self.target(function, qualifier)?;
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
        let t = self.target(function, qualifier)?;
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use hako_engine::testing::{FakeRuntime, Reply};
    use hako_model::alias::CreateAliasRequest;
    use hako_model::clock::Clock;
    use hako_model::wire::UpdateFunctionConfigurationRequest;

    use super::Invocation;
    use crate::testing::{create, fixture_with, T0};

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    /// A runtime that answers with the ARN it was invoked as and the how-manieth event of its
    /// sandbox this is.
    fn reporter() -> FakeRuntime {
        FakeRuntime::new(|e| async move {
            let arn = e
                .header("lambda-runtime-invoked-function-arn")
                .unwrap_or("")
                .to_string();
            Reply::ok(&format!("{arn} {}", e.nth))
        })
    }

    fn call(payload: &str) -> Invocation {
        Invocation {
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            ..Invocation::default()
        }
    }

    #[tokio::test]
    async fn invokes_what_the_name_and_qualifier_address() {
        let f = fixture_with(reporter());
        let l = &f.lambda;
        create(&f, "f", "one").await;
        l.publish_version("f", Default::default()).await.unwrap();
        let alias = CreateAliasRequest {
            name: Some("live".into()),
            function_version: Some("1".into()),
            ..CreateAliasRequest::default()
        };
        l.create_alias("f", alias).await.unwrap();
        let r = l.invoke("f", None, call("{}")).await.unwrap();
        assert_eq!(r.executed_version, "$LATEST");
        assert_eq!(r.payload, format!("{ARN} 1"));
        let r = l.invoke("f", Some("live"), call("{}")).await.unwrap();
        assert_eq!(r.executed_version, "1");
        assert_eq!(r.payload, format!("{ARN}:live 1"));
        let r = l
            .invoke(&format!("{ARN}:1"), None, call("{}"))
            .await
            .unwrap();
        assert_eq!(r.payload, format!("{ARN}:1 2"), "version 1's warm sandbox");
    }

    /// `invoke_then` settles with the result while the slot is held, and settles a target
    /// that does not resolve with its error (a poller commits or retries there).
    #[tokio::test]
    async fn invoke_then_settles_the_result_or_the_error() {
        let f = fixture_with(reporter());
        let l = &f.lambda;
        create(&f, "f", "one").await;
        let r = l
            .invoke_then("f", None, call("{}"), |r| {
                assert_eq!(l.engine().inflight(), 1, "the slot is still held");
                r.unwrap().payload
            })
            .await;
        assert_eq!(r, format!("{ARN} 1"));
        let e = l
            .invoke_then("nope", None, call("{}"), |r| r.unwrap_err())
            .await;
        assert_eq!(
            e.message,
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"
        );
    }

    #[tokio::test]
    async fn an_update_retires_the_warm_sandboxes() {
        let f = fixture_with(reporter());
        let l = &f.lambda;
        create(&f, "f", "one").await;
        let nth = |p: Bytes| String::from_utf8(p.to_vec()).unwrap();
        assert!(nth(l.invoke("f", None, call("{}")).await.unwrap().payload).ends_with(" 1"));
        assert!(nth(l.invoke("f", None, call("{}")).await.unwrap().payload).ends_with(" 2"));
        let req = UpdateFunctionConfigurationRequest {
            description: Some("new".into()),
            ..UpdateFunctionConfigurationRequest::default()
        };
        l.update_function_configuration("f", req).await.unwrap();
        let after = nth(l.invoke("f", None, call("{}")).await.unwrap().payload);
        assert!(
            after.ends_with(" 1"),
            "a new sandbox after the update: {after}"
        );
    }

    #[tokio::test]
    async fn an_event_invocation_is_queued_with_the_clocks_time() {
        let f = fixture_with(FakeRuntime::echo());
        let l = &f.lambda;
        create(&f, "f", "one").await;
        f.clock.advance(5);
        let id = l
            .invoke_event("f", Some("$LATEST"), call("{\"a\":1}"))
            .unwrap();
        let due = l.db.claim_events(f.clock.now_ms(), 10).unwrap();
        assert_eq!(due.len(), 1);
        let e = &due[0].event;
        assert_eq!(e.request_id, id);
        assert_eq!(e.received_ms, T0 + 5);
        assert_eq!(e.qualifier.as_deref(), Some("$LATEST"));
        assert_eq!(e.payload, b"{\"a\":1}");
        let missing = l.invoke_event("nope", None, call("{}")).unwrap_err();
        assert_eq!(
            missing.message,
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"
        );
    }
}
