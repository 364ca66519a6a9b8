//! Starting a sandbox (the first half of a cold start): its command and environment as Lambda
//! sets them, the backend's spawn, its Runtime API server and log capture, and the task that
//! notices its exit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hako_model::Runtime;
use hako_runtime_api::Slot;
use hako_sandbox::SandboxSpec;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::logs::{self, LogCapture};
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

impl Engine {
    fn environment(
        &self,
        f: &ResolvedFunction,
        stream: &str,
        init_type: &str,
    ) -> Vec<(String, String)> {
        let task_root = self.isolation.task_root(&f.code_dir).display().to_string();
        let opt = self.opt_root(f).display().to_string();
        let mut env: Vec<(String, String)> = Vec::with_capacity(f.environment.len() + 24);
        let path = format!(
            "/usr/local/bin:/usr/bin:/bin:{opt}/bin:{}",
            self.cfg.host_path
        );
        let mut put = |k: &str, v: String| env.push((k.to_string(), v));
        // The function's own variables first: the platform's below win (reserved keys are
        // refused at configuration time anyway).
        for (k, v) in &f.environment {
            put(k, v.clone());
        }
        put("PATH", path);
        put("LANG", "en_US.UTF-8".into());
        put("TZ", ":UTC".into());
        put("LD_LIBRARY_PATH", format!("{task_root}/lib:{opt}/lib"));
        put("_HANDLER", f.handler.clone());
        put("AWS_REGION", self.cfg.region.clone());
        put("AWS_DEFAULT_REGION", self.cfg.region.clone());
        put("AWS_LAMBDA_FUNCTION_NAME", f.name.clone());
        put("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string());
        put("AWS_LAMBDA_FUNCTION_VERSION", f.version.clone());
        put("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group.clone());
        put("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_string());
        put("AWS_LAMBDA_INITIALIZATION_TYPE", init_type.to_string());
        put("LAMBDA_TASK_ROOT", task_root.clone());
        put(
            "LAMBDA_RUNTIME_DIR",
            self.isolation
                .runtime_root(&self.runtimes.dir)
                .display()
                .to_string(),
        );
        if self.api_acceptor.get().is_none() {
            put("AWS_ENDPOINT_URL_LAMBDA", self.cfg.api_endpoint.clone());
        }
        put("AWS_ACCESS_KEY_ID", "HAKOFUNCTIONKEY".into());
        put("AWS_SECRET_ACCESS_KEY", "hako-function-secret".into());
        put("AWS_SESSION_TOKEN", "hako-function-session".into());
        put("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
        match &f.runtime {
            Runtime::Python { name, minor } => {
                put("AWS_EXECUTION_ENV", format!("AWS_Lambda_{name}"));
                // AWS's layer paths, after the task root (the client puts that first).
                put(
                    "PYTHONPATH",
                    format!("{opt}/python/lib/python3.{minor}/site-packages:{opt}/python"),
                );
                put("PYTHONUNBUFFERED", "1".into());
                put("PYTHONDONTWRITEBYTECODE", "1".into());
            }
            Runtime::Node { name, major } => {
                put("AWS_EXECUTION_ENV", format!("AWS_Lambda_{name}"));
                put(
                    "NODE_PATH",
                    format!(
                        "{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:/var/runtime/node_modules:{task_root}"
                    ),
                );
            }
            Runtime::Provided(_) => {}
        }
        env
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
        let task_root = self.isolation.task_root(&f.code_dir);
        let runtime_root = self.isolation.runtime_root(&self.runtimes.dir);
        let (program, args) = self.runtimes.command(
            &f.runtime,
            &f.code_dir,
            &task_root,
            &runtime_root,
            f.opt_dir.as_deref().map(|d| (d, self.opt_root(f))),
        )?;
        let stream = logs::stream_name(&f.version);
        let env = self.environment(f, &stream, init_type);
        let spec = SandboxSpec {
            program,
            args,
            env,
            cwd: task_root,
            code_dir: f.code_dir.clone(),
            runtime_dir: Some(self.runtimes.dir.clone()),
            opt_dir: f.opt_dir.clone(),
            readonly_mounts: self.runtimes.mounts(&f.runtime),
            memory_mb: f.memory_mb,
            tmp_mb: f.ephemeral_storage_mb,
            listener_env: Some("AWS_LAMBDA_RUNTIME_API".to_string()),
            // With an acceptor, functions reach the platform's API through a listener of their
            // own network (a sandbox with a private network cannot reach the host's loopback).
            api_listener: self.api_acceptor.get().map(|_| {
                (
                    "AWS_ENDPOINT_URL_LAMBDA".to_string(),
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
            stream.into(),
        )
        .map_err(|e| format!("cannot capture output: {e}"))?;
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
        });
        self.live.lock().insert(id, sb.clone());
        sb.watch_exit(spawned.exit, 0);
        Ok(sb)
    }

    pub(crate) fn forget(&self, sb: &Sandbox) {
        self.live.lock().remove(&sb.id);
    }
}
