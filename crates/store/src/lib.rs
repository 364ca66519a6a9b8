//! Persistence: function metadata in an embedded SQLite database (`db`), deployment packages in a
//! content-addressed code store on disk (`code`), and function logs (`logs`).
//!
//! Invariant: this is the only crate that opens the backend (SQLite, file layout). Lambda's
//! records are typed here; every other service (SQS, Kinesis, ...) gets a database of its own
//! (`service_db`) and owns its schema and queries through it.

pub mod code;
pub mod db;
pub mod keys;
pub mod queue;
pub mod service_db;

pub use code::{CodeInfo, CodeStore};
pub use db::{Db, LogLine, Publish};
pub use keys::Keyring;
pub use queue::{Claimed, NewEvent};
pub use service_db::ServiceDb;
