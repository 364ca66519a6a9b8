//! The supervisor of Hako's long-lived tasks (the asynchronous queue, the idle reaper, the CPU
//! warmer, pollers to come): each is named, started the same way (a function of a
//! [`CancellationToken`]), stopped the same way (the token is cancelled, then the task is awaited
//! within a bound), and logged when it ends or panics. A task that panics is started again after a
//! pause when it was spawned with [`Restart::OnPanic`].

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a task that panicked waits before it is started again.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// What happens when a task panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    /// It is started again (after [`RESTART_PAUSE`]) unless the supervisor is stopping.
    OnPanic,
    /// It stays ended.
    Never,
}

/// Owns the cancellation token of every long-lived task and their handles.
#[derive(Debug, Default)]
pub(crate) struct Supervisor {
    token: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Supervisor {
    pub(crate) fn new() -> Supervisor {
        Supervisor::default()
    }

    /// Starts the task `name`: `make` is called with a token that is cancelled when the
    /// supervisor stops (and again for each restart). The task must return soon after.
    pub(crate) fn spawn<F, Fut>(&mut self, name: &'static str, restart: Restart, mut make: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        let handle = tokio::spawn(async move {
            loop {
                let run = tokio::spawn(make(token.child_token()));
                match run.await {
                    Ok(()) if token.is_cancelled() => {
                        tracing::debug!(task = name, "stopped");
                        return;
                    }
                    Ok(()) => {
                        tracing::warn!(task = name, "ended on its own");
                        return;
                    }
                    Err(e) if e.is_panic() => {
                        if restart == Restart::Never || token.is_cancelled() {
                            tracing::error!(task = name, "panicked");
                            return;
                        }
                        tracing::error!(task = name, "panicked: starting it again");
                        tokio::select! {
                            _ = token.cancelled() => return,
                            _ = tokio::time::sleep(RESTART_PAUSE) => {}
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        self.tasks.push((name, handle));
    }

    /// Asks every task to stop (cancels their tokens); [`Supervisor::join`] waits for them.
    pub(crate) fn cancel(&self) {
        self.token.cancel();
    }

    /// Cancels every task and waits until all have ended, at most `within` in all; the ones
    /// still running then are aborted, with a warning. Returns the names of those.
    pub(crate) async fn join(self, within: Duration) -> Vec<&'static str> {
        self.token.cancel();
        let deadline = Instant::now() + within;
        let mut late = Vec::new();
        for (name, mut handle) in self.tasks {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, &mut handle).await.is_err() {
                tracing::warn!(task = name, "did not stop in time: aborted");
                handle.abort();
                late.push(name);
            }
        }
        late
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_task_is_stopped_through_its_token() {
        let mut s = Supervisor::new();
        let ended = Arc::new(AtomicUsize::new(0));
        let e = ended.clone();
        s.spawn("waits", Restart::Never, move |stop| {
            let e = e.clone();
            async move {
                stop.cancelled().await;
                e.fetch_add(1, Ordering::SeqCst);
            }
        });
        let late = s.join(Duration::from_secs(5)).await;
        assert!(late.is_empty());
        assert_eq!(ended.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_is_started_again_when_asked() {
        let mut s = Supervisor::new();
        let starts = Arc::new(AtomicUsize::new(0));
        let n = starts.clone();
        s.spawn("panics-twice", Restart::OnPanic, move |stop| {
            let n = n.clone();
            async move {
                if n.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("on purpose");
                }
                stop.cancelled().await;
            }
        });
        let once = Arc::new(AtomicUsize::new(0));
        let m = once.clone();
        s.spawn("panics-once", Restart::Never, move |_| {
            let m = m.clone();
            async move {
                m.fetch_add(1, Ordering::SeqCst);
                panic!("on purpose");
            }
        });
        // Two pauses of a second (virtual time) bring the third start.
        for _ in 0..50 {
            if starts.load(Ordering::SeqCst) == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        assert_eq!(once.load(Ordering::SeqCst), 1);
        assert!(s.join(Duration::from_secs(5)).await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ignores_its_token_is_aborted_after_the_bound() {
        let mut s = Supervisor::new();
        s.spawn("deaf", Restart::Never, |_| std::future::pending());
        let late = s.join(Duration::from_secs(2)).await;
        assert_eq!(late, vec!["deaf"]);
    }
}
