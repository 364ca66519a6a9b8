//! The rendezvous between the engine and one sandbox's runtime.

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, Notify};

/// One event handed to a runtime.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    /// The function's timeout: the deadline header is computed when the runtime receives the
    /// event, so that a cold start's init time does not eat into it.
    pub timeout_ms: u64,
    pub function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

/// How an invocation ended, as the runtime (or the platform) reported it.
#[derive(Debug)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`.
    Response(Bytes),
    /// `POST /invocation/{id}/response` with `Lambda-Runtime-Function-Response-Mode: streaming`:
    /// given to the engine as soon as the runtime starts posting, its body as it arrives.
    Stream(ResponseStream),
    /// `POST /invocation/{id}/error`: the error type header and the body as posted.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The runtime posted a response larger than the limit.
    ResponseTooLarge,
}

impl PartialEq for Outcome {
    /// Two streams are never equal (each is its own channel); the rest compare by value.
    fn eq(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Response(a), Outcome::Response(b)) => a == b,
            (
                Outcome::Error {
                    error_type: t1,
                    body: b1,
                },
                Outcome::Error {
                    error_type: t2,
                    body: b2,
                },
            ) => t1 == t2 && b1 == b2,
            (Outcome::ResponseTooLarge, Outcome::ResponseTooLarge) => true,
            _ => false,
        }
    }
}

/// A response the runtime streams (AWS's Runtime API, "Response streaming"): the body's chunks
/// as the runtime writes them, then how it ended. The channel is bounded: a reader that does not
/// keep up slows the runtime's POST down (back-pressure), never buffers without end. A channel
/// that closes without a [`StreamItem::End`] is a runtime that went away mid-stream.
#[derive(Debug)]
pub struct ResponseStream {
    /// The `Content-Type` the runtime posted with (`application/octet-stream` when none);
    /// `application/vnd.awslambda.http-integration-response` when the body starts with a
    /// function URL's prelude.
    pub content_type: String,
    pub body: mpsc::Receiver<StreamItem>,
}

/// One step of a [`ResponseStream`].
#[derive(Debug, PartialEq, Eq)]
pub enum StreamItem {
    Chunk(Bytes),
    End(StreamEnd),
}

/// How a streamed response ended.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The body ended without error trailers.
    Complete,
    /// The body ended with the trailers `Lambda-Runtime-Function-Error-Type` and
    /// `Lambda-Runtime-Function-Error-Body` (base64, decoded here): a function error mid-stream.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The runtime streamed more than [`crate::MAX_STREAM_BYTES`].
    TooLarge,
}

/// What [`Slot::ready`] learned.
#[derive(Debug, PartialEq, Eq)]
pub enum Ready {
    /// The runtime asked for its first event.
    Parked,
    /// The runtime reported an initialisation error.
    InitError {
        error_type: Option<String>,
        body: Bytes,
    },
}

#[derive(Debug, Default)]
struct State {
    parked: Option<oneshot::Sender<Invocation>>,
    queued: Option<Invocation>,
    inflight: Option<(String, oneshot::Sender<Outcome>)>,
    ever_parked: bool,
    /// When the runtime first asked for an event.
    parked_at: Option<tokio::time::Instant>,
    init_error: Option<(Option<String>, Bytes)>,
}

/// The meeting point of one sandbox.
#[derive(Debug, Default)]
pub struct Slot {
    state: Mutex<State>,
    ready: Notify,
    /// Bumped by each [`Slot::reset`]: connections of an earlier runtime are refused.
    epoch: std::sync::atomic::AtomicU64,
}

impl Slot {
    pub fn new() -> Slot {
        Slot::default()
    }

    /// Hands an invocation to the runtime (now if it is parked in `/next`, else when it comes).
    pub fn deliver(&self, inv: Invocation, respond: oneshot::Sender<Outcome>) {
        let mut st = self.state.lock();
        st.inflight = Some((inv.request_id.clone(), respond));
        match st.parked.take() {
            Some(tx) => {
                if let Err(inv) = tx.send(inv) {
                    // The runtime hung up while parked; keep the event for its next `/next`.
                    st.queued = Some(inv);
                }
            }
            None => st.queued = Some(inv),
        }
    }

    /// Waits until the runtime first asks for an event, or reports an init error.
    pub async fn ready(&self) -> Ready {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.state.lock();
                if let Some((t, b)) = &st.init_error {
                    return Ready::InitError {
                        error_type: t.clone(),
                        body: b.clone(),
                    };
                }
                if st.ever_parked {
                    return Ready::Parked;
                }
            }
            notified.await;
        }
    }

    /// The init error the runtime has posted, if it has (without waiting). A runtime posts it
    /// and then exits: whoever sees the exit asks here what came before it.
    pub fn init_error_posted(&self) -> Option<Ready> {
        let st = self.state.lock();
        st.init_error.as_ref().map(|(t, b)| Ready::InitError {
            error_type: t.clone(),
            body: b.clone(),
        })
    }

    /// Takes the responder of the invocation in flight, if any (the platform fails it: timeout,
    /// exit).
    pub fn take_inflight(&self) -> Option<(String, oneshot::Sender<Outcome>)> {
        let mut st = self.state.lock();
        st.queued = None;
        st.inflight.take()
    }

    /// When the runtime first asked for an event (the end of its init), if it has.
    pub fn parked_at(&self) -> Option<tokio::time::Instant> {
        self.state.lock().parked_at
    }

    /// Forgets the runtime: its program was started again (a reset), and the slot is as new
    /// (the invocation in flight, if any, is dropped unanswered: take it first). Waiters of
    /// [`Slot::ready`] wait for the new runtime.
    pub fn reset(&self) {
        let mut st = self.state.lock();
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        *st = State::default();
    }

    /// Which runtime the slot serves (changed by [`Slot::reset`]). The server refuses requests
    /// on a connection accepted for an earlier one: a reset runtime's last words never reach
    /// its successor's slot.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes back an invocation the runtime has not received yet (it is still queued), e.g.
    /// because the sandbox died before asking for it: the caller may run it elsewhere.
    pub fn withdraw(&self) -> Option<Invocation> {
        let mut st = self.state.lock();
        let inv = st.queued.take()?;
        st.inflight = None;
        Some(inv)
    }

    // ---- runtime side -------------------------------------------------------------------------

    /// `GET /next`: the queued event, or a receiver to wait on.
    pub(crate) fn next(&self) -> Result<Invocation, oneshot::Receiver<Invocation>> {
        let mut st = self.state.lock();
        let first = !st.ever_parked;
        st.ever_parked = true;
        if first {
            st.parked_at = Some(tokio::time::Instant::now());
        }
        let out = match st.queued.take() {
            Some(inv) => Ok(inv),
            None => {
                let (tx, rx) = oneshot::channel();
                st.parked = Some(tx);
                Err(rx)
            }
        };
        drop(st);
        if first {
            self.ready.notify_waiters();
        }
        out
    }

    /// `POST /response` or `/error`: completes the invocation `id`. `false` if `id` is not the
    /// invocation in flight.
    pub(crate) fn complete(&self, id: &str, outcome: Outcome) -> bool {
        let mut st = self.state.lock();
        match &st.inflight {
            Some((cur, _)) if cur == id => {
                if let Some((_, tx)) = st.inflight.take() {
                    let _ = tx.send(outcome);
                }
                true
            }
            _ => false,
        }
    }

    /// Whether `id` is the invocation in flight.
    pub(crate) fn is_inflight(&self, id: &str) -> bool {
        matches!(&self.state.lock().inflight, Some((cur, _)) if cur == id)
    }

    /// `POST /init/error`.
    pub(crate) fn init_error(&self, error_type: Option<String>, body: Bytes) {
        self.state.lock().init_error = Some((error_type, body));
        self.ready.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    const BOUND: Duration = Duration::from_secs(5);

    fn inv(id: &str) -> Invocation {
        Invocation {
            request_id: id.into(),
            payload: Bytes::from_static(b"{\"a\":1}"),
            timeout_ms: 3000,
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            trace_id: "Root=1-0-0".into(),
            client_context: None,
            cognito_identity: None,
        }
    }

    #[tokio::test]
    async fn an_event_delivered_before_next_is_taken_at_once() {
        let slot = Slot::new();
        let (tx, _rx) = oneshot::channel();
        slot.deliver(inv("r1"), tx);
        assert!(slot.is_inflight("r1"));
        let got = slot.next().expect("queued event");
        assert_eq!(got.request_id, "r1");
        // Nothing more queued: the next `/next` parks.
        assert!(slot.next().is_err());
    }

    #[tokio::test]
    async fn a_reset_forgets_the_runtime_and_waits_for_the_new_one() {
        let slot = Arc::new(Slot::new());
        assert!(slot.parked_at().is_none());
        let _parked = slot.next().expect_err("parks");
        assert!(slot.parked_at().is_some());
        assert_eq!(slot.ready().await, Ready::Parked);
        let (tx, _out) = oneshot::channel();
        slot.deliver(inv("r1"), tx);
        slot.reset();
        assert!(!slot.is_inflight("r1"));
        assert!(slot.parked_at().is_none());
        // Not ready until the new runtime asks for an event.
        let waiting = tokio::spawn({
            let slot = slot.clone();
            async move { slot.ready().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        let _parked = slot.next().expect_err("nothing queued after a reset");
        assert_eq!(
            tokio::time::timeout(BOUND, waiting).await.unwrap().unwrap(),
            Ready::Parked
        );
    }

    #[tokio::test]
    async fn a_parked_next_receives_the_event_delivered_later() {
        let slot = Slot::new();
        let rx = slot.next().expect_err("nothing queued");
        let (tx, _out) = oneshot::channel();
        slot.deliver(inv("r1"), tx);
        let got = tokio::time::timeout(BOUND, rx).await.unwrap().unwrap();
        assert_eq!(got.request_id, "r1");
        // The runtime has it: it cannot be withdrawn.
        assert!(slot.withdraw().is_none());
        assert!(slot.is_inflight("r1"));
    }

    #[tokio::test]
    async fn an_event_for_a_runtime_that_hung_up_while_parked_waits_for_its_next_call() {
        let slot = Slot::new();
        drop(slot.next().expect_err("parks"));
        let (tx, _out) = oneshot::channel();
        slot.deliver(inv("r1"), tx);
        assert_eq!(slot.next().expect("kept").request_id, "r1");
    }

    #[tokio::test]
    async fn ready_waits_for_the_first_next() {
        let slot = Arc::new(Slot::new());
        let s2 = slot.clone();
        let ready = tokio::spawn(async move { s2.ready().await });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!ready.is_finished());
        let _parked = slot.next();
        let r = tokio::time::timeout(BOUND, ready).await.unwrap().unwrap();
        assert_eq!(r, Ready::Parked);
        // Later calls answer at once.
        assert_eq!(
            tokio::time::timeout(BOUND, slot.ready()).await.unwrap(),
            Ready::Parked
        );
    }

    #[tokio::test]
    async fn an_init_error_posted_is_there_to_ask_for() {
        let slot = Slot::new();
        assert_eq!(slot.init_error_posted(), None);
        let _ = slot.next();
        assert_eq!(slot.init_error_posted(), None);
        slot.init_error(Some("T".into()), Bytes::from_static(b"x"));
        assert_eq!(
            slot.init_error_posted(),
            Some(Ready::InitError {
                error_type: Some("T".into()),
                body: Bytes::from_static(b"x"),
            })
        );
    }

    #[tokio::test]
    async fn ready_reports_an_init_error() {
        let slot = Arc::new(Slot::new());
        let s2 = slot.clone();
        let ready = tokio::spawn(async move { s2.ready().await });
        tokio::task::yield_now().await;
        slot.init_error(
            Some("Runtime.ImportModuleError".into()),
            Bytes::from_static(b"{}"),
        );
        assert_eq!(
            tokio::time::timeout(BOUND, ready).await.unwrap().unwrap(),
            Ready::InitError {
                error_type: Some("Runtime.ImportModuleError".into()),
                body: Bytes::from_static(b"{}"),
            }
        );
    }

    #[tokio::test]
    async fn only_the_invocation_in_flight_completes_and_only_once() {
        let slot = Slot::new();
        let (tx, rx) = oneshot::channel();
        slot.deliver(inv("r1"), tx);
        let _ = slot.next();
        assert!(!slot.is_inflight("r2"));
        assert!(!slot.complete("r2", Outcome::Response(Bytes::new())));
        assert!(slot.complete("r1", Outcome::Response(Bytes::from_static(b"ok"))));
        assert!(!slot.is_inflight("r1"));
        assert!(!slot.complete("r1", Outcome::Response(Bytes::new())));
        assert_eq!(
            rx.await.unwrap(),
            Outcome::Response(Bytes::from_static(b"ok"))
        );
    }

    #[tokio::test]
    async fn withdraw_takes_back_an_event_not_yet_received() {
        let slot = Slot::new();
        let (tx, _rx) = oneshot::channel();
        slot.deliver(inv("r1"), tx);
        assert_eq!(slot.withdraw().unwrap().request_id, "r1");
        assert!(!slot.is_inflight("r1"));
        assert!(slot.next().is_err());
    }

    #[tokio::test]
    async fn take_inflight_hands_the_responder_to_the_platform() {
        let slot = Slot::new();
        let (tx, rx) = oneshot::channel();
        slot.deliver(inv("r1"), tx);
        let (id, responder) = slot.take_inflight().unwrap();
        assert_eq!(id, "r1");
        // The queued event goes too: the runtime never sees it.
        assert!(slot.next().is_err());
        assert!(!slot.complete("r1", Outcome::Response(Bytes::new())));
        drop(responder);
        assert!(rx.await.is_err());
        assert!(slot.take_inflight().is_none());
    }
}
