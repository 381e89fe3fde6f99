//! Aisle's engine: the application services — applying cart operations
//! (`carts`), group commit (`group_commit`), import and indexing jobs (`jobs`) and the
//! turn pipeline (`turn`) — over the ports of `engine-core`, whose modules it
//! re-exports under their usual paths (`engine::domain`, `engine::ports`, ...).
//!
//! The engine's layers are crates under `engine/`, dependencies pointing one way
//! (ARCHITECTURE.md, "The engine's crates"): `engine-core` (domain, views, events,
//! ports, catalog formats) ← `engine-retrieval` ← `engine-assistant`, `engine-sql`,
//! `engine-vectors`; this crate depends on the core and retrieval only, never on an
//! adapter. Architecture invariant: nothing here imports actix or ractor, and no SQL,
//! vector or model code.

pub use engine_core::{catalog, domain, events, plans, ports, views};
pub use engine_retrieval as retrieval;

pub mod carts;
pub mod group_commit;
pub mod jobs;
pub mod turn;
