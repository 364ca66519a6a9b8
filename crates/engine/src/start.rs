//! Starting a sandbox (the first half of a cold start): its command and environment as Lambda
//! sets them, the backend's spawn, its Runtime API server and log capture, and the task that
//! notices its exit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hako_runtime_api::Slot;
use hako_sandbox::SandboxSpec;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::logformat;
use crate::logs::{self, LogCapture};
use crate::runtimes::{Roots, LANG_ROOT};
use crate::sandbox::{self, Sandbox};
use crate::{Engine, ResolvedFunction};

/// Serves the platform's API on a listener a sandbox opened in its own network; returns the
/// handle that stops it.
pub struct ApiAcceptor(
    #[allow(clippy::type_complexity)]
    pub  Arc<dyn Fn(std::net::TcpListener) -> tokio::task::AbortHandle + Send + Sync>,
);

impl std::fmt::Debug for ApiAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiAcceptor")
    }
}

/// Stops serving a sandbox's platform-API listener when the sandbox goes.
#[derive(Debug)]
pub(crate) struct ApiServeGuard(tokio::task::AbortHandle);

impl Drop for ApiServeGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A sandbox's credentials, revoked when the sandbox goes.
#[derive(Debug)]
pub(crate) struct CredentialsGuard {
    authority: Arc<hako_auth::Authority>,
    access_key_id: String,
}

impl Drop for CredentialsGuard {
    fn drop(&mut self) {
        self.authority.revoke(&self.access_key_id);
    }
}

/// The `PATH` of Lambda's execution environment (AWS's "Defined runtime environment
/// variables": `/usr/local/bin:/usr/bin/:/bin:/opt/bin`), for runtimes whose list does not
/// set one: a sandbox never inherits the host's.
pub(crate) const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";

impl Engine {
    /// Where a sandbox of `f` sees its code, runtime directory, runtime prefix and layers.
    fn roots(&self, f: &ResolvedFunction) -> Roots {
        let runtime = match self.runtimes.runtime_dir(&f.runtime) {
            Some(d) => self.isolation.runtime_root(&d),
            None => PathBuf::from("/var/runtime"),
        };
        let lang = match self.runtimes.lang_dir(&f.runtime) {
            Some(d) => self.isolation.mount_root(&d, Path::new(LANG_ROOT)),
            None => PathBuf::from(LANG_ROOT),
        };
        Roots {
            task: self.isolation.task_root(&f.code_dir),
            runtime,
            lang,
            opt: self.opt_root(f),
        }
    }

    fn environment(
        &self,
        f: &ResolvedFunction,
        roots: &Roots,
        stream: &str,
        init_type: &str,
    ) -> (Vec<(String, String)>, Option<CredentialsGuard>) {
        let mut env: Vec<(String, String)> = Vec::with_capacity(f.environment.len() + 24);
        let mut put = |k: &str, v: String| env.push((k.to_string(), v));
        // The function's own variables first: the platform's below win (reserved keys are
        // refused at configuration time anyway).
        for (k, v) in &f.environment {
            put(k, v.clone());
        }
        // The backend shows the code at AWS's path: it confines the function.
        let confined = roots.task == Path::new("/var/task");
        for (k, v) in self
            .runtimes
            .environment(&f.runtime, roots, confined, &self.cfg.host_path)
        {
            put(k, v);
        }
        put("_HANDLER", f.handler.clone());
        put("AWS_REGION", self.cfg.region.clone());
        put("AWS_DEFAULT_REGION", self.cfg.region.clone());
        put("AWS_LAMBDA_FUNCTION_NAME", f.name.clone());
        put("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string());
        put("AWS_LAMBDA_FUNCTION_VERSION", f.version.clone());
        put("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group.clone());
        put("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_string());
        put("AWS_LAMBDA_INITIALIZATION_TYPE", init_type.to_string());
        for (k, v) in f.logging.environment() {
            put(k, v);
        }
        if self.api_acceptor.get().is_none() {
            put("AWS_ENDPOINT_URL_LAMBDA", self.cfg.api_endpoint.clone());
        }
        // Every service on Hako's endpoint, as AWS_ENDPOINT_URL_LAMBDA reaches Lambda.
        if self.api_acceptor.get().is_none() {
            put("AWS_ENDPOINT_URL", self.cfg.api_endpoint.clone());
        }
        // A session of the function's role, for this sandbox's life.
        let guard = match self.credentials.get() {
            Some(authority) => {
                let c = authority.issue(&f.arn, &f.role, std::time::SystemTime::now());
                put("AWS_ACCESS_KEY_ID", c.access_key_id.clone());
                put("AWS_SECRET_ACCESS_KEY", c.secret_access_key);
                put("AWS_SESSION_TOKEN", c.session_token);
                Some(CredentialsGuard {
                    authority: authority.clone(),
                    access_key_id: c.access_key_id,
                })
            }
            None => {
                put("AWS_ACCESS_KEY_ID", "HAKOFUNCTIONKEY".into());
                put("AWS_SECRET_ACCESS_KEY", "hako-function-secret".into());
                put("AWS_SESSION_TOKEN", "hako-function-session".into());
                None
            }
        };
        put("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), LAMBDA_PATH.into()));
        }
        (env, guard)
    }

    /// Where `f`'s sandboxes see its layers: the backend's place for its merged tree, else the
    /// (empty) `/opt`.
    fn opt_root(&self, f: &ResolvedFunction) -> PathBuf {
        match &f.opt_dir {
            Some(d) => self.isolation.opt_root(d),
            None => PathBuf::from("/opt"),
        }
    }

    /// Starts a sandbox for `f` (the cold start's first half: process and Runtime API);
    /// `init_type` is its `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub(crate) async fn start_sandbox(
        &self,
        f: &ResolvedFunction,
        init_type: &str,
    ) -> Result<Arc<Sandbox>, String> {
        let roots = self.roots(f);
        let (program, args) =
            self.runtimes
                .command(&f.runtime, &f.code_dir, &roots, f.opt_dir.as_deref())?;
        let stream = logs::stream_name(&f.version);
        let (env, credentials) = self.environment(f, &roots, &stream, init_type);
        let spec = SandboxSpec {
            program,
            args,
            env,
            cwd: roots.task,
            code_dir: f.code_dir.clone(),
            runtime_dir: self.runtimes.runtime_dir(&f.runtime),
            opt_dir: f.opt_dir.clone(),
            readonly_mounts: self.runtimes.mounts(&f.runtime),
            memory_mb: f.memory_mb,
            tmp_mb: f.ephemeral_storage_mb,
            listener_env: Some("AWS_LAMBDA_RUNTIME_API".to_string()),
            // With an acceptor, functions reach the platform's API through a listener of their
            // own network (a sandbox with a private network cannot reach the host's loopback).
            // Lambda's own variable and the SDKs' one for every service on the endpoint.
            api_listener: self.api_acceptor.get().map(|_| {
                (
                    vec![
                        "AWS_ENDPOINT_URL_LAMBDA".to_string(),
                        "AWS_ENDPOINT_URL".to_string(),
                    ],
                    self.cfg.api_endpoint.clone(),
                )
            }),
            outbound_network: f.outbound_network,
        };
        let spawned = self.isolation.spawn(&spec).map_err(|e| e.to_string())?;
        let Some(listener) = spawned.listener else {
            spawned.control.kill();
            return Err("the sandbox backend gave no Runtime API listener".to_string());
        };
        let slot = Arc::new(Slot::new());
        let server = tokio::net::TcpListener::from_std(listener)
            .and_then(|l| hako_runtime_api::serve(l, slot.clone()))
            .map_err(|e| {
                spawned.control.kill();
                format!("cannot start the Runtime API: {e}")
            })?;
        let api_server = match (spawned.api_listener, self.api_acceptor.get()) {
            (Some(l), Some(accept)) => Some(ApiServeGuard((accept.0)(l))),
            _ => None,
        };
        let logs = LogCapture::new(
            spawned.output,
            self.sink.clone(),
            f.log_group.as_str().into(),
            stream.as_str().into(),
            f.logging,
        )
        .map_err(|e| format!("cannot capture output: {e}"))?;
        logs.platform_opt(logformat::init_start(
            &f.logging,
            logs::now_ms(),
            init_type,
            &f.name,
            &f.version,
            &stream,
            f.memory_mb,
        ));
        tokio::spawn(logs.clone().run());
        let (exit_tx, exit_rx) = watch::channel(None);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let sb = Arc::new(Sandbox {
            id,
            slot,
            control: spawned.control,
            logs,
            exited: exit_rx,
            exit_tx,
            generation: Mutex::new(0),
            reinit_since: Mutex::new(None),
            doomed: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
            idle: Mutex::new(sandbox::IdleState::default()),
            pending_init: Mutex::new(None),
            _server: server,
            _api: api_server,
            _credentials: credentials,
        });
        self.live.lock().insert(id, sb.clone());
        sb.watch_exit(spawned.exit, 0);
        Ok(sb)
    }

    pub(crate) fn forget(&self, sb: &Sandbox) {
        self.live.lock().remove(&sb.id);
    }
}
