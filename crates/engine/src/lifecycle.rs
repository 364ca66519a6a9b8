//! The engine's lifecycle beyond single invocations: reaping idle sandboxes, and shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::sandbox::Sandbox;
use crate::Engine;

impl Engine {
    /// Kills sandboxes idle for longer than the idle timeout. Call it periodically.
    pub fn reap_idle(&self) -> usize {
        let cutoff = Instant::now().checked_sub(self.cfg.idle_timeout);
        let Some(cutoff) = cutoff else { return 0 };
        let pools = self.all_pools();
        let mut n = 0;
        for p in pools {
            let mut idle = p.idle.lock();
            idle.retain(|sb| {
                let keep = *sb.last_used.lock() > cutoff && sb.is_alive();
                if !keep {
                    sb.kill();
                    n += 1;
                }
                keep
            });
        }
        n
    }

    /// Stops accepting invocations, lets running ones finish for up to `grace`, then kills every
    /// sandbox and waits (bounded) until their processes are gone.
    pub async fn shutdown(&self, grace: Duration) {
        self.closing.store(true, Ordering::Release);
        let deadline = Instant::now() + grace;
        while self.inflight() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all: Vec<Arc<Sandbox>> = self.live.lock().values().cloned().collect();
        for sb in &all {
            sb.kill();
        }
        for sb in &all {
            let _ = tokio::time::timeout(Duration::from_secs(5), sb.wait_exit()).await;
        }
        for s in self.functions.read().values() {
            for v in s.versions.lock().values_mut() {
                if let Some(p) = v.pool.take() {
                    p.retire();
                }
                if let Some(p) = v.provisioned.take() {
                    p.retire(self);
                }
            }
        }
        // What the backend keeps beyond the sandboxes (the Linux backend's prepared ones).
        self.isolation.shutdown().await;
    }
}
