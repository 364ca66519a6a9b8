//! The Lambda domain: functions, their configuration, names and ARNs, runtimes, validation limits,
//! and the wire shapes of the control plane (`wire`).
//!
//! Invariant: this crate does no IO and has no async. It is the single source of Lambda field names
//! and validation limits; every other crate asks it.

pub mod alias;
pub mod clock;
pub mod concurrency;
pub mod error;
pub mod esm;
pub mod event_filter;
pub mod event_invoke;
pub mod function;
pub mod function_url;
pub mod layer;
pub mod limits;
pub mod names;
pub mod permission;
pub mod provisioned;
pub mod runtime;
pub mod validation;
pub mod wire;

pub use error::{Error, ErrorKind};
pub use function::{FunctionRecord, LastUpdateStatus, State};
pub use names::{FunctionRef, Region};
pub use runtime::Runtime;
