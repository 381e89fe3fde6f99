//! The engine's integration tests, in one binary to keep link time down.

mod cart_props;
mod cart_stock;
mod dialogues;
mod embed;
mod import;
mod jobs;
mod recommend;
mod retrieval;
mod store;
mod store_admin;
mod store_commands;
mod store_groups;
mod support;
mod vectors;
mod turn_safety;
mod llm_usage;
