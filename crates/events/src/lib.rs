//! Everything that invokes Lambda functions later: today the asynchronous invocation queue's
//! workers (`Event` invocations, their retries and destinations) and the stream pollers of
//! event source mappings (`streams`: Kinesis), and the firing of EventBridge Scheduler's
//! schedules (`schedules`; `schedule` is the async queue's retry schedule); the queue pollers
//! belong here too.
//!
//! Invariant: built on the application layer (`hako_lambda`) and the engine, never on HTTP; it
//! reaches functions only through the engine's invoke entry point and never touches sandboxes.
//! Each long-lived task takes a `CancellationToken` from the binary's supervisor and stops when
//! it is cancelled.

pub mod esm;
mod queue;
pub mod schedule;
pub mod schedules;
pub mod streams;
#[cfg(test)]
mod testing;

pub use crate::queue::{start as start_async_queue, AsyncQueueConfig};
