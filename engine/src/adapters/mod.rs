//! Adapters of the engine's ports to real backends.

pub mod qdrant_edge;
pub mod qdrant_server;
pub mod sql;

pub use sql::{PostgresStore, SqliteStore, connect_store};
