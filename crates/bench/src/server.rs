//! A minimal in-process hyper HTTP/1.1 server on `127.0.0.1:0`, running on
//! its own thread with a current-thread runtime. It is the `http-baseline`
//! target (a bare loopback round trip) and a scriptable mock for tests.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// Answers a fully-read request.
pub(crate) type Handler =
    Arc<dyn Fn(http::request::Parts, Bytes) -> Response<Full<Bytes>> + Send + Sync>;

/// Answers a fully-read request, possibly after waiting (a long poll).
pub(crate) type AsyncHandler = Arc<
    dyn Fn(
            http::request::Parts,
            Bytes,
        ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>
        + Send
        + Sync,
>;

/// Body of the baseline server's answer.
pub(crate) const BASELINE_BODY: &[u8] = b"{\"ok\":true}";

/// The baseline handler: 200 with a small JSON body.
pub(crate) fn baseline_handler() -> Handler {
    Arc::new(|_parts, _body| {
        let mut resp = Response::new(Full::new(Bytes::from_static(BASELINE_BODY)));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        resp
    })
}

/// A running server; stopped (and its thread joined) on drop.
pub(crate) struct LocalServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LocalServer {
    /// Binds `127.0.0.1:0` and serves `handler` on a dedicated thread.
    pub(crate) fn start(handler: Handler) -> Result<Self> {
        Self::start_async(Arc::new(move |parts, body| {
            let resp = handler(parts, body);
            Box::pin(async move { resp })
        }))
    }

    /// [`LocalServer::start`] with a handler that may wait.
    pub(crate) fn start_async(handler: AsyncHandler) -> Result<Self> {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        std_listener
            .set_nonblocking(true)
            .context("set_nonblocking")?;
        let addr = std_listener.local_addr().context("local_addr")?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building server runtime")?;
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("hako-bench-server".into())
            .spawn(move || rt.block_on(serve(std_listener, handler, rx)))
            .context("spawning server thread")?;
        Ok(Self {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    std_listener: std::net::TcpListener,
    handler: AsyncHandler,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(std_listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hako-bench: baseline server failed to start: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let handler = Arc::clone(&handler);
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await?.to_bytes();
                            Ok::<_, hyper::Error>(handler(parts, body).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
    // Returning drops the runtime, which cancels the connection tasks.
}
