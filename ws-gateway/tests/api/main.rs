//! Black-box tests of the `aisle` server: the real app on port 0, real SQLite (and
//! PostgreSQL where marked), driven over real WebSockets. One binary for link time.

mod admin;
mod auth;
mod binary;
mod browser;
mod chat;
mod durability;
mod groq;
mod helpers;
mod killable;
mod limits;
mod resilience;
mod slow_and_deep;
mod stock;
mod ws_contract;
