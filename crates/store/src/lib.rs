//! Persistence: function metadata in an embedded SQLite database (`db`), deployment packages in a
//! content-addressed code store on disk (`code`), and function logs (`logs`).
//!
//! Invariant: this is the only crate that knows the backend (SQLite, file layout). Others see
//! typed records and `hako_model::Error`.

pub mod code;
pub mod db;
pub mod keys;
pub mod queue;

pub use code::{CodeInfo, CodeStore};
pub use db::{Db, LogLine, Publish};
pub use keys::Keyring;
pub use queue::{Claimed, NewEvent};
