//! Adapters of the `Embedder` port (`crate::ports::embedder`): the ways Aisle turns
//! product and query text into dense vectors.
//!
//! - `transformer`: all-MiniLM-L6-v2 run in process with candle, from a model folder.
//! - `static_model`: the zero-setup default, a token-lookup model distilled from that
//!   transformer and shipped in the repository (`engine/data/static-embedder/`).
//! - `openai`: any OpenAI-compatible `/embeddings` endpoint over HTTP.

pub mod openai;
pub mod static_model;
pub mod transformer;

pub use openai::{OpenAiConfig, OpenAiEmbedder};
pub use static_model::StaticEmbedder;
pub use transformer::{TransformerEmbedder, locate_model_dir};
