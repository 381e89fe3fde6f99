//! Retrieval adapters: finding a tenant's products for a shopper's words.
//!
//! `keyword` is BM25F over the in-memory catalog snapshot; `hybrid` is dense + BM25
//! search on a `VectorStore` fused by reciprocal rank (the default); `analyze` is the text
//! analysis (words, stemming, synonyms) it shares with anything else that must match
//! words the same way.

pub mod analyze;
pub mod hybrid;
mod keyword;

pub use hybrid::HybridRetriever;
pub use keyword::{KeywordIndex, KeywordRetriever};
