//! Hako's SQS: queues compatible with Amazon SQS, in `<data dir>/sqs.db`.
//!
//! - [`model`]: names, ARNs, attributes, limits, checksums (no IO);
//! - [`wire`]: the operations' inputs and outputs with botocore's member names;
//! - [`Sqs`] (`app`): one method per operation, plus [`Sqs::send_message`] for other crates
//!   (Lambda's dead-letter queues and destinations);
//! - `store` and `queue`: the tables and the in-memory index rebuilt from them at start;
//! - [`api`]: the binding for the front door, both of SQS's protocols (JSON with
//!   `X-Amz-Target: AmazonSQS.*`, and the query protocol's forms and XML).
//!
//! Invariants: a message is acknowledged only after its transaction committed; the in-memory
//! index changes only after the commit, so it always equals the rows; a long poll never holds
//! a lock while it waits.

pub mod api;
mod app;
pub mod error;
mod metrics;
pub mod model;
mod move_task;
mod queue;
mod store;
pub mod wire;

pub use app::{Caller, QueueCounters, QueueStats, Sqs};
pub use error::{ErrorKind, SqsError};
pub use store::read_stats;
pub use wire::{MessageAttributeValue, MessageAttributes, SendMessageResult};
