//! The listener: HTTP/1.1 connections served by hyper with the front door's timeouts, stopped
//! gracefully on a token.
//!
//! What hyper refuses before any service sees it is answered by hyper itself, bare (no body, no
//! AWS shape), and the connection closed: a request line or header that does not parse, a
//! `Content-Length` that is not a number (400), more than 100 headers or a head past hyper's
//! buffer (~400 KiB) (431). No SDK sends those; raising hyper's header count would move every
//! request's headers to the heap. Heads within those bounds but past [`crate::Limits`] are
//! answered by the front door in the protocol's shape.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::body::TimeoutBody;
use crate::FrontDoor;

/// Timeouts of the listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct ServeConfig {
    /// The head of a request (request line and headers) must have arrived this long after the
    /// connection became ready for it: after the connection was accepted, or after the previous
    /// response on a keep-alive connection. So it closes both a client that sends its headers
    /// too slowly and a keep-alive connection left idle this long (hyper's
    /// `header_read_timeout`).
    pub header_read_timeout: Duration,
    /// The longest wait for the next piece of a request body; past it the body fails (the
    /// service answers its error) and the connection closes.
    pub body_read_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `door` on `listener` until `stop` is cancelled; then stops accepting, lets every
/// connection finish the request it is serving (an idle one closes at once), and returns when
/// all are closed. Callers bound that wait.
pub async fn serve(
    listener: TcpListener,
    door: FrontDoor,
    cfg: ServeConfig,
    stop: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors and the like: wait a little, as axum does.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    continue;
                }
            },
        };
        // As axum's `serve` and the Runtime API do: a response goes out when written, not after
        // the peer's delayed ACK of the previous one (Nagle), which costs keep-alive clients
        // (SDKs, `hako bench`) latency and throughput.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let door = door.clone();
        let body_timeout = cfg.body_read_timeout;
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let door = door.clone();
            async move {
                let mut req = req.map(|b| Body::new(TimeoutBody::new(b, body_timeout)));
                req.extensions_mut().insert(crate::PeerAddr(peer));
                Ok::<_, Infallible>(door.handle(req).await)
            }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Errors of one connection that `accept` reports (the listener itself is fine).
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
