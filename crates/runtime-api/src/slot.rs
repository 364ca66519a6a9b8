//! The rendezvous between the engine and one sandbox's runtime.

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};

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
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`.
    Response(Bytes),
    /// `POST /invocation/{id}/error`: the error type header and the body as posted.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The runtime posted a response larger than the limit.
    ResponseTooLarge,
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
    init_error: Option<(Option<String>, Bytes)>,
}

/// The meeting point of one sandbox.
#[derive(Debug, Default)]
pub struct Slot {
    state: Mutex<State>,
    ready: Notify,
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

    /// Takes the responder of the invocation in flight, if any (the platform fails it: timeout,
    /// exit).
    pub fn take_inflight(&self) -> Option<(String, oneshot::Sender<Outcome>)> {
        let mut st = self.state.lock();
        st.queued = None;
        st.inflight.take()
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
