//! The engine's integration tests, in one binary to keep link time down.

mod cart_props;
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
