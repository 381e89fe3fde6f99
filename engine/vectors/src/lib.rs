//! Vectors and embedders: the `VectorStore` port on qdrant-edge (embedded, one shard
//! per tenant) and on a Qdrant server (gRPC), and the `Embedder` port as a static
//! token-lookup model shipped in the repository, an OpenAI-compatible endpoint, and
//! the all-MiniLM-L6-v2 transformer on candle (feature `transformer`, on by default).
//! The workspace's heaviest dependencies live here and nowhere else.

// The core's modules under their usual names (`crate::domain`, ...).
use engine_core::{domain, ports};

pub mod embed;
pub mod qdrant_edge;
pub mod qdrant_server;
