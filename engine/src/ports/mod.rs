//! Ports: what the engine needs from the outside world, as traits. Adapters live in
//! `crate::adapters` (SQL), `crate::retrieval` and `crate::assistant`.

pub mod embedder;
pub mod jobs;
pub mod llm;
pub mod retriever;
pub mod store;
pub mod vectors;
