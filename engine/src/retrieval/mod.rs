//! Retrieval adapters: finding a tenant's products for a shopper's words.
//!
//! `keyword` is BM25F over the in-memory catalog snapshot; `analyze` is the text
//! analysis (words, stemming, synonyms) it shares with anything else that must match
//! words the same way.

pub mod analyze;
mod keyword;

pub use keyword::{KeywordIndex, KeywordRetriever};
