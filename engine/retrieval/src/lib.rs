//! Retrieval adapters: finding a tenant's products for a shopper's words.
//!
//! `keyword` is BM25F over the in-memory catalog snapshot; `hybrid` is dense + BM25
//! search on a `VectorStore`, the two lists fused by a normalised weighted sum (the
//! default); `analyze` is the text
//! analysis (words, stemming, synonyms) it shares with anything else that must match
//! words the same way; `recommend` is "goes well with": complementary products near
//! the cart's, by similarity (the default of `Retriever::recommend`).

// The core's modules under their usual names (`crate::domain`, ...).
use engine_core::{catalog, domain, ports};

pub mod analyze;
pub mod hybrid;
mod keyword;
pub mod recommend;

pub use hybrid::HybridRetriever;
pub use keyword::{KeywordIndex, KeywordRetriever};
