//! The listener's timeouts and graceful stop, over real sockets on loopback, with short timeouts.
//! Every wait is bounded.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use hako_front_door::{known, serve, FrontDoor, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const HEAD_TIMEOUT: Duration = Duration::from_millis(300);
const BODY_TIMEOUT: Duration = Duration::from_millis(300);
/// The bound of every wait for the server to do something.
const WITHIN: Duration = Duration::from_secs(5);

struct Server {
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start() -> Server {
    let lambda = Router::new()
        .route("/2015-03-31/functions/{name}", get(|| async { "ok" }))
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(|body: Body| async move {
                match axum::body::to_bytes(body, 1 << 20).await {
                    Ok(b) => (axum::http::StatusCode::OK, format!("got {}", b.len())),
                    Err(e) => {
                        let mut text = e.to_string();
                        let mut src = std::error::Error::source(&e);
                        while let Some(s) = src {
                            text = format!("{text}: {s}");
                            src = s.source();
                        }
                        (axum::http::StatusCode::BAD_REQUEST, text)
                    }
                }
            }),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "slow"
            }),
        );
    let door = FrontDoor::builder().service(&known::LAMBDA, lambda).build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let cfg = ServeConfig {
        header_read_timeout: HEAD_TIMEOUT,
        body_read_timeout: BODY_TIMEOUT,
    };
    let task = tokio::spawn(serve(listener, door, cfg, stop.clone()));
    Server { addr, stop, task }
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn read_to_close(s: &mut TcpStream) -> (String, Instant) {
    let mut out = Vec::new();
    tokio::time::timeout(WITHIN, s.read_to_end(&mut out))
        .await
        .expect("the server did not close the connection")
        .ok();
    (String::from_utf8_lossy(&out).into_owned(), Instant::now())
}

/// Reads one response (head and a Content-Length body) without waiting for the close.
async fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WITHIN, s.read(&mut chunk))
            .await
            .expect("no response")
            .unwrap();
        assert!(n > 0, "closed before a whole response");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn a_request_head_that_arrives_too_slowly_is_closed_after_the_timeout() {
    let srv = start().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let began = Instant::now();
    s.write_all(b"GET /2015-03-31/functions/f HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // ... and the rest of the head never comes (slowloris).
    let (_, closed) = read_to_close(&mut s).await;
    let after = closed - began;
    assert!(
        after >= HEAD_TIMEOUT - Duration::from_millis(50),
        "{after:?}"
    );
    assert!(after < HEAD_TIMEOUT * 4, "{after:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_timeout() {
    let srv = start().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /2015-03-31/functions/f HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let idle_since = Instant::now();
    let (rest, closed) = read_to_close(&mut s).await;
    assert_eq!(rest, "");
    let idle = closed - idle_since;
    assert!(idle >= HEAD_TIMEOUT - Duration::from_millis(50), "{idle:?}");
    assert!(idle < HEAD_TIMEOUT * 4, "{idle:?}");
}

#[tokio::test]
async fn a_request_that_runs_longer_than_the_head_timeout_is_answered() {
    let srv = start().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /2015-03-31/functions/f/configuration HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("slow"), "{resp}");
}

#[tokio::test]
async fn a_body_that_stops_arriving_fails_after_the_timeout() {
    let srv = start().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let began = Instant::now();
    s.write_all(
        b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .await
    .unwrap();
    let resp = read_response(&mut s).await;
    let after = began.elapsed();
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(
        resp.contains("no data of the request body arrived for 300 ms"),
        "{resp}"
    );
    assert!(
        after >= BODY_TIMEOUT - Duration::from_millis(50),
        "{after:?}"
    );
    // The connection is not reused: the rest of the body would be read as a request.
    let (_, _) = read_to_close(&mut s).await;
}

#[tokio::test]
async fn a_malformed_chunk_size_is_a_broken_body_not_a_large_one() {
    let srv = start().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(
        b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("chunk"), "{resp}");
}

#[tokio::test]
async fn a_stop_closes_idle_connections_and_ends_the_server() {
    let srv = start().await;
    let mut idle = TcpStream::connect(srv.addr).await.unwrap();
    idle.write_all(b"GET /2015-03-31/functions/f HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_response(&mut idle).await;
    // A request running at the stop is answered first.
    let mut busy = TcpStream::connect(srv.addr).await.unwrap();
    busy.write_all(b"GET /2015-03-31/functions/f/configuration HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped = Instant::now();
    srv.stop.cancel();
    let (rest, _) = read_to_close(&mut idle).await;
    assert_eq!(rest, "");
    assert!(stopped.elapsed() < Duration::from_millis(250));
    let (resp, _) = read_to_close(&mut busy).await;
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.ends_with("slow"),
        "{resp}"
    );
    tokio::time::timeout(WITHIN, srv.task)
        .await
        .expect("serve did not return after the stop")
        .unwrap();
    // Nothing listens any more.
    assert!(TcpStream::connect(srv.addr).await.is_err());
}
