//! A request body that fails when its next piece does not arrive in time.
//!
//! The timer is armed only when the body has nothing ready: a body already in the buffer (every
//! warm invoke's small payload) never touches it. One timer per body, reset for each wait.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error of a body whose next piece did not arrive within the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeout {
    pub after: Duration,
}

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no data of the request body arrived for {} ms",
            self.after.as_millis()
        )
    }
}

impl std::error::Error for BodyTimeout {}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `inner`, failing with [`BodyTimeout`] when it makes the reader wait longer than `timeout`.
pub(crate) struct TimeoutBody<B> {
    inner: B,
    timeout: Duration,
    /// The timer of the current wait (`armed`), kept for the next one.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl<B> TimeoutBody<B> {
    pub(crate) fn new(inner: B, timeout: Duration) -> TimeoutBody<B> {
        TimeoutBody {
            inner,
            timeout,
            sleep: None,
            armed: false,
        }
    }
}

impl<B> Body for TimeoutBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = Instant::now() + this.timeout;
                let sleep = match &mut this.sleep {
                    Some(s) => {
                        if !this.armed {
                            s.as_mut().reset(deadline);
                        }
                        s
                    }
                    None => this
                        .sleep
                        .insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                this.armed = true;
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout {
                        after: this.timeout,
                    })))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_fails_after_the_timeout() {
        let (mut tx, rx) = http_body_util::channel::Channel::<Bytes, BoxError>::new(1);
        let mut body = TimeoutBody::new(rx, Duration::from_secs(5));
        tx.send_data(Bytes::from_static(b"a")).await.unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "a");
        // Nothing for 4 s, then a piece: the wait starts again.
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            tx.send_data(Bytes::from_static(b"b")).await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(tx);
        });
        let second = body.frame().await.unwrap().unwrap();
        assert_eq!(second.into_data().unwrap(), "b");
        let started = Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        let err = err.downcast::<BodyTimeout>().unwrap();
        assert_eq!(err.after, Duration::from_secs(5));
        sender.abort();
    }
}
