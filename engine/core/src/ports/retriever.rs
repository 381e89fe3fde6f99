//! The retrieval port: find a tenant's products for a shopper's words.
//!
//! The keyword adapter (`engine_retrieval::KeywordRetriever`) is the first; the hybrid
//! vector retriever replaces it behind this same trait.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::catalog::CatalogSnapshot;
use crate::domain::{Product, ProductId, TenantId};
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

    /// Products that go well with `for_products` ("you might also like"), best first:
    /// of a complementary kind (never of a seed's kind), near them, in stock, never one
    /// of `exclude` (the cart) or of the seeds, each at most once, at most `limit`.
    /// `catalog` is the tenant's snapshot the caller works with (the turn's), so what
    /// is recommended is what the cart will accept.
    ///
    /// `engine_retrieval::recommend::recommend` ranks by keyword similarity over the
    /// snapshot; a retriever with vectors may re-rank by them.
    async fn recommend(
        &self,
        tenant: &TenantId,
        catalog: &CatalogSnapshot,
        for_products: &[ProductId],
        exclude: &[ProductId],
        limit: usize,
    ) -> Result<Vec<SearchHit>, RetrievalError>;
}

impl From<crate::ports::vectors::VectorError> for RetrievalError {
    fn from(e: crate::ports::vectors::VectorError) -> Self {
        RetrievalError::Backend(e.to_string())
    }
}

impl From<crate::ports::embedder::EmbedError> for RetrievalError {
    fn from(e: crate::ports::embedder::EmbedError) -> Self {
        RetrievalError::Backend(e.to_string())
    }
}
