//! SIGINT and SIGTERM: the first asks for a graceful stop, the second for an immediate one.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// The stop signals, installed once at start (before Hako says it listens: a signal that arrives
/// after that line must stop it gracefully, never kill it).
#[derive(Debug)]
pub(crate) struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    pub(crate) fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next SIGINT or SIGTERM; returns its name.
    pub(crate) async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

/// What Hako prints on the first signal: what it waits for, how long, and how to stop at once.
pub(crate) fn first_signal_message(signal: &str, running: usize, grace_seconds: u64) -> String {
    let again = if signal == "SIGINT" {
        "Ctrl-C again to stop now"
    } else {
        "send SIGTERM or SIGINT again to stop now"
    };
    if running == 0 {
        return format!("{signal}: shutting down (no running invocation); {again}");
    }
    format!(
        "{signal}: shutting down: waiting up to {grace_seconds} s for {}; {again}",
        running_invocations(running)
    )
}

/// "1 running invocation", "2 running invocations".
pub(crate) fn running_invocations(n: usize) -> String {
    if n == 1 {
        "1 running invocation".to_string()
    } else {
        format!("{n} running invocations")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_says_what_it_waits_for_and_how_to_stop_at_once() {
        assert_eq!(
            first_signal_message("SIGINT", 1, 10),
            "SIGINT: shutting down: waiting up to 10 s for 1 running invocation; Ctrl-C again to stop now"
        );
        assert_eq!(
            first_signal_message("SIGTERM", 3, 5),
            "SIGTERM: shutting down: waiting up to 5 s for 3 running invocations; send SIGTERM or SIGINT again to stop now"
        );
        assert_eq!(
            first_signal_message("SIGINT", 0, 10),
            "SIGINT: shutting down (no running invocation); Ctrl-C again to stop now"
        );
    }
}
