//! Aisle's engine: the domain (catalog, carts, orders), the turn pipeline, and the
//! ports the rest of Aisle plugs into, with their adapters.
//!
//! Architecture invariant: this crate imports nothing from actix or ractor. SQL
//! lives only in `adapters`; the domain never sees an sqlx type.

pub mod adapters;
pub mod assistant;
pub mod carts;
pub mod catalog;
pub mod domain;
pub mod embed;
mod error;
pub mod events;
pub mod group_commit;
pub mod jobs;
pub mod plans;
pub mod ports;
pub mod retrieval;
pub mod turn;
pub mod views;
