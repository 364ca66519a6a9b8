//! AWS's retry schedule for one asynchronous event, as a pure function of its history and the
//! time (no IO, no sleeping: tested in virtual time).
//!
//! - a function error (handled or not) is retried `MaximumRetryAttempts` times (default 2),
//!   after about 1 minute, then 2 minutes;
//! - a throttle or a system error is retried with exponential backoff (1 s, doubling, at most
//!   5 minutes) for as long as the event is younger than `MaximumEventAgeInSeconds` (default
//!   6 h), a last try at that moment;
//! - an event ends with `Success`, `RetriesExhausted` or `EventAgeExceeded`.
//!
//! Every delay and the maximum age are multiplied by `delay_scale` (1 in production; the
//! end-to-end tests, which cannot move the real binary's clock, run the schedule faster).

use hako_model::event_invoke::{self, backoff_ms, retry_delay_ms, Condition, EventInvokeRecord};

/// The retry policy of one event: its function's event invoke configuration (or AWS's
/// defaults), scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// `MaximumRetryAttempts`.
    pub retry_attempts: u32,
    /// `MaximumEventAgeInSeconds`, in (scaled) milliseconds.
    pub max_age_ms: i64,
    /// Multiplies every delay (1 = AWS's schedule).
    pub delay_scale: f64,
}

impl Policy {
    pub fn new(config: Option<&EventInvokeRecord>, delay_scale: f64) -> Policy {
        let retry_attempts =
            config.map_or(event_invoke::DEFAULT_RETRY_ATTEMPTS, |c| c.retry_attempts());
        let age_seconds = config.map_or(event_invoke::DEFAULT_EVENT_AGE_SECONDS, |c| {
            c.event_age_seconds()
        });
        let mut p = Policy {
            retry_attempts,
            max_age_ms: 0,
            delay_scale,
        };
        p.max_age_ms = p.scaled(u64::from(age_seconds) * 1000);
        p
    }

    /// `ms` scaled.
    pub fn scaled(&self, ms: u64) -> i64 {
        (ms as f64 * self.delay_scale).round() as i64
    }

    /// When an event received at `received_ms` is too old to run.
    pub fn expires(&self, received_ms: i64) -> i64 {
        received_ms + self.max_age_ms
    }
}

/// How one run of an event went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The function returned.
    Success,
    /// The function failed (handled or unhandled).
    FunctionError,
    /// No run: the function was throttled, or a system error (Hako's or the sandbox's).
    NotRun,
}

/// What becomes of an event after a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// The event ends: its record (if it has a destination) says `condition`.
    Finish { condition: Condition, attempts: u32 },
    /// The event runs again at `due_ms`.
    Retry {
        due_ms: i64,
        attempts: u32,
        throttles: u32,
    },
}

/// The event's next step. `attempts` counts runs of the function so far, `throttles` the tries
/// that did not run it; `closing` says Hako is stopping (a try refused for that reason keeps the
/// event for the next start, however old it is).
pub fn next(
    policy: &Policy,
    received_ms: i64,
    attempts: u32,
    throttles: u32,
    outcome: Outcome,
    now_ms: i64,
    closing: bool,
) -> Next {
    let expires = policy.expires(received_ms);
    match outcome {
        Outcome::Success => Next::Finish {
            condition: Condition::Success,
            attempts: attempts + 1,
        },
        Outcome::FunctionError => {
            let attempts = attempts + 1;
            if attempts > policy.retry_attempts {
                return Next::Finish {
                    condition: Condition::RetriesExhausted,
                    attempts,
                };
            }
            let due_ms = now_ms + policy.scaled(retry_delay_ms(attempts));
            if due_ms > expires {
                return Next::Finish {
                    condition: Condition::EventAgeExceeded,
                    attempts,
                };
            }
            Next::Retry {
                due_ms,
                attempts,
                throttles,
            }
        }
        Outcome::NotRun => {
            if now_ms >= expires && !closing {
                return Next::Finish {
                    condition: Condition::EventAgeExceeded,
                    attempts,
                };
            }
            let throttles = throttles + 1;
            // Retried until the event's age runs out (a last try at that moment).
            let due_ms = (now_ms + policy.scaled(backoff_ms(throttles))).min(expires);
            Next::Retry {
                due_ms,
                attempts,
                throttles,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hako_model::clock::{Clock, ManualClock};

    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn config(retries: Option<u32>, age_seconds: Option<u32>) -> EventInvokeRecord {
        EventInvokeRecord {
            function_name: "f".into(),
            qualifier: "$LATEST".into(),
            maximum_retry_attempts: retries,
            maximum_event_age_seconds: age_seconds,
            on_success: None,
            on_failure: None,
            last_modified: 0.0,
        }
    }

    /// Runs an event whose every run ends in `outcome` on a virtual clock, moving the clock to
    /// each due time: the delays between tries, and how it ended.
    fn drive(policy: &Policy, outcome: Outcome) -> (Vec<i64>, Condition, u32) {
        let clock = ManualClock::new(T0);
        let (mut attempts, mut throttles) = (0, 0);
        let mut delays = Vec::new();
        for _ in 0..10_000 {
            match next(
                policy,
                T0,
                attempts,
                throttles,
                outcome,
                clock.now_ms(),
                false,
            ) {
                Next::Finish {
                    condition,
                    attempts,
                } => return (delays, condition, attempts),
                Next::Retry {
                    due_ms,
                    attempts: a,
                    throttles: t,
                } => {
                    delays.push(due_ms - clock.now_ms());
                    clock.set(due_ms);
                    (attempts, throttles) = (a, t);
                }
            }
        }
        panic!("the schedule never ends");
    }

    #[test]
    fn function_errors_are_retried_after_one_then_two_minutes() {
        let p = Policy::new(None, 1.0);
        let (delays, condition, attempts) = drive(&p, Outcome::FunctionError);
        assert_eq!(delays, vec![60_000, 120_000]);
        assert_eq!((condition, attempts), (Condition::RetriesExhausted, 3));
    }

    #[test]
    fn maximum_retry_attempts_is_honoured() {
        for (retries, want) in [(0, vec![]), (1, vec![60_000]), (2, vec![60_000, 120_000])] {
            let p = Policy::new(Some(&config(Some(retries), None)), 1.0);
            let (delays, condition, attempts) = drive(&p, Outcome::FunctionError);
            assert_eq!(delays, want, "MaximumRetryAttempts={retries}");
            assert_eq!(condition, Condition::RetriesExhausted);
            assert_eq!(attempts, retries + 1);
        }
    }

    #[test]
    fn a_retry_past_the_event_age_ends_the_event() {
        // 90 s of age: the first retry (at 60 s) runs, the second (at 180 s) would be too late.
        let p = Policy::new(Some(&config(Some(2), Some(90))), 1.0);
        let (delays, condition, attempts) = drive(&p, Outcome::FunctionError);
        assert_eq!(delays, vec![60_000]);
        assert_eq!((condition, attempts), (Condition::EventAgeExceeded, 2));
    }

    #[test]
    fn throttles_back_off_from_one_second_doubling_to_five_minutes_until_the_age() {
        let p = Policy::new(None, 1.0);
        let (delays, condition, attempts) = drive(&p, Outcome::NotRun);
        let doubling: Vec<i64> = (0..9).map(|n| 1000 << n).collect();
        assert_eq!(&delays[..9], &doubling[..], "1 s doubling");
        assert_eq!(delays[9], 300_000, "capped at 5 minutes");
        assert!(delays[10..delays.len() - 1].iter().all(|&d| d == 300_000));
        // Tried until the event is 6 hours old, the last try at that moment.
        let total: i64 = delays.iter().sum();
        assert_eq!(total, 6 * 3600 * 1000);
        assert!(*delays.last().unwrap() <= 300_000);
        assert_eq!((condition, attempts), (Condition::EventAgeExceeded, 0));
    }

    #[test]
    fn a_stopping_server_keeps_an_old_event() {
        let p = Policy::new(Some(&config(None, Some(60))), 1.0);
        let late = T0 + 61_000;
        assert!(matches!(
            next(&p, T0, 0, 3, Outcome::NotRun, late, false),
            Next::Finish {
                condition: Condition::EventAgeExceeded,
                ..
            }
        ));
        assert!(matches!(
            next(&p, T0, 0, 3, Outcome::NotRun, late, true),
            Next::Retry { throttles: 4, .. }
        ));
    }

    #[test]
    fn success_ends_the_event_with_its_attempts() {
        let p = Policy::new(None, 1.0);
        assert_eq!(
            next(&p, T0, 1, 0, Outcome::Success, T0 + 60_000, false),
            Next::Finish {
                condition: Condition::Success,
                attempts: 2
            }
        );
    }

    #[test]
    fn the_delay_scale_scales_every_delay_and_the_age() {
        let p = Policy::new(Some(&config(None, Some(60))), 0.01);
        assert_eq!(p.max_age_ms, 600);
        let (delays, _, _) = drive(&Policy::new(None, 0.01), Outcome::FunctionError);
        assert_eq!(delays, vec![600, 1200]);
    }
}
