//! Retrieval adapters.
