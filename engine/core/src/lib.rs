//! Aisle's core: the domain (catalog, carts, orders, money), the wire views and events
//! of the contract, the ports every adapter implements (store, retriever, vectors,
//! embedder, language model, jobs), and the catalog formats. It does no I/O of its own
//! and depends on no adapter: every other engine crate points here.
//!
//! Architecture invariant: nothing here imports sqlx, qdrant, candle, actix or ractor.

pub mod catalog;
pub mod domain;
mod error;
pub mod events;
pub mod plans;
pub mod ports;
pub mod turn;
pub mod views;
