//! The retrieval port: find a tenant's products for a shopper's words.
//!
//! The keyword adapter (`crate::retrieval::KeywordRetriever`) is the first; the hybrid
//! vector retriever replaces it behind this same trait.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Product, TenantId};
use crate::ports::store::StoreError;

/// Filters a query may carry; all are optional and combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchFilters {
    /// Inclusive bounds on a variant's price, in minor units.
    pub min_price_minor: Option<i64>,
    pub max_price_minor: Option<i64>,
    /// Matches a product whose category path has a word starting with this
    /// (case-insensitive): `men` matches `Men/Tops`, not `Women/Tops`.
    pub category: Option<String>,
    /// Option name (lower-case) to a wanted value (case-insensitive): a product matches
    /// when one of its variants has every listed value.
    pub options: BTreeMap<String, String>,
    pub in_stock_only: bool,
}

#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    pub text: String,
    pub filters: SearchFilters,
    /// At most this many hits (each product at most once).
    pub limit: usize,
}

#[derive(Clone, Debug)]
pub struct SearchHit {
    pub product: Arc<Product>,
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("retrieval backend error: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Retriever: Send + Sync + 'static {
    /// Ranked hits, best first, never the same product twice. An empty `text` with
    /// filters lists matching products.
    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Vec<SearchHit>, RetrievalError>;
}
