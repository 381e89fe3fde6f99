//! Adapters of the engine's ports to real backends.

pub mod sql;

pub use sql::{PostgresStore, SqliteStore, connect_store};
