//! Ports: what the engine needs from the outside world, as traits. Adapters live in
//! `engine_sql` (SQL), `engine_retrieval` and `engine_assistant`.

pub mod embedder;
pub mod jobs;
pub mod llm;
pub mod retriever;
pub mod store;
pub mod vectors;
