//! The `aisle` binary's library: configuration, HTTP and WebSocket routes, start-up.
//!
//! Architecture invariant: this is the only crate that knows HTTP and WebSocket
//! frames; it turns them into engine commands and actor messages and back.

pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod request_guard;
pub mod routes;
pub mod session_token;
pub mod startup;
pub mod state;
pub mod ws;
