//! The vector store port: a tenant's product points (one dense vector and one BM25
//! keyword vector per product variant group) and the hybrid query over them.
//!
//! Retrieval needs nearest-neighbour search with payload filters, and Aisle has two
//! places to keep the vectors: qdrant-edge in process (the embedded default,
//! `crate::adapters::qdrant_edge`, one on-disk shard per tenant) and a Qdrant server
//! (one collection, every query filtered by `tenant_id`). Both implement this trait and
//! pass one conformance suite (`engine/tests/it/vectors.rs`).
//!
//! A point belongs to one product; a product may have several points (one per
//! variant group, e.g. per colour), so that filters on options, price and stock hold
//! for one group at a time. Queries return each product at most once, at its best
//! point. The store computes the keyword (BM25) vector from `text` itself, so the
//! caller only brings the dense vector.

use async_trait::async_trait;

use crate::domain::TenantId;

/// What filters look at, for one variant group of a product.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facets {
    /// Lowest and highest variant price of the group, in minor units.
    pub price_min_minor: i64,
    pub price_max_minor: i64,
    /// The product's category path as the shop wrote it (`Men/Tops/Hoodies`).
    pub category: String,
    /// (option name, value) of the group's variants, both lower-case.
    pub options: Vec<(String, String)>,
    /// Whether a variant of the group is in stock.
    pub in_stock: bool,
}

/// One point: a product's variant group.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductPoint {
    pub product_id: String,
    /// Tells a product's groups apart (`""` for a product with one group).
    pub group: String,
    /// Unit length, of the store's dimension.
    pub dense: Vec<f32>,
    /// The text the keyword vector is computed from.
    pub text: String,
    pub facets: Facets,
    /// The catalog version this point was made from (see `delete_older_than`).
    pub catalog_version: i64,
}

/// Conditions a point must meet; all optional, combined with AND.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VectorFilter {
    /// The group has a price at or above / at or below these (its price range meets
    /// the wanted one).
    pub min_price_minor: Option<i64>,
    pub max_price_minor: Option<i64>,
    /// The category path has a word starting with this (case-insensitive), as in
    /// `SearchFilters::category`. Only the first `CATEGORY_PREFIX_MAX` characters are
    /// compared.
    pub category_prefix: Option<String>,
    /// Every (name, value) pair must be among the group's options (case-insensitive).
    pub options: Vec<(String, String)>,
    pub in_stock_only: bool,
    /// Only these products (the tenant's own: another tenant's id finds nothing).
    pub product_ids: Option<Vec<String>>,
}

/// Longest category prefix a filter compares.
pub const CATEGORY_PREFIX_MAX: usize = 32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueryMode {
    /// Dense and keyword candidates fused by reciprocal rank.
    #[default]
    Hybrid,
    Dense,
    Keyword,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct VectorQuery {
    /// The query's dense vector (ignored in `Keyword` mode).
    pub dense: Vec<f32>,
    /// The query's words (ignored in `Dense` mode).
    pub text: String,
    pub mode: QueryMode,
    pub filter: VectorFilter,
    /// At most this many products.
    pub limit: usize,
}

/// A product found, at its best-scoring group. Hybrid scores are RRF sums.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorHit {
    pub product_id: String,
    pub group: String,
    pub score: f32,
}

/// What a tenant's vectors were built from, kept with them so a retriever knows when
/// to re-index (a new catalog version, another embedding model).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexState {
    pub catalog_version: i64,
    pub embedder: String,
    /// Product id to the content hash of the points written for it, so that an
    /// unchanged product is never embedded again (a re-import, an edit elsewhere).
    #[serde(default)]
    pub hashes: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("vector store error: {0}")]
    Backend(String),
    #[error("dense vector has {got} numbers, the store holds {expected}")]
    Dimension { expected: usize, got: usize },
    #[error("vector store I/O error at {path}: {reason}")]
    Io { path: String, reason: String },
}

#[async_trait]
pub trait VectorStore: Send + Sync + 'static {
    /// The dense vectors' dimension.
    fn dim(&self) -> usize;

    /// Inserts or replaces points (a point is identified by product id and group).
    async fn upsert(&self, tenant: &TenantId, points: Vec<ProductPoint>) -> Result<(), VectorError>;

    /// Removes every point of these products.
    async fn delete_products(&self, tenant: &TenantId, product_ids: &[String]) -> Result<(), VectorError>;

    /// Removes every point made from a catalog version older than `version` (what a
    /// full re-index did not rewrite: deleted products and groups).
    async fn delete_older_than(&self, tenant: &TenantId, version: i64) -> Result<(), VectorError>;

    /// Builds the search indexes after bulk changes (qdrant-edge has no background
    /// optimizer). Queries are correct without it, only slower.
    async fn optimize(&self, tenant: &TenantId) -> Result<(), VectorError>;

    /// Ranked products, best first, each at most once.
    async fn query(&self, tenant: &TenantId, query: &VectorQuery) -> Result<Vec<VectorHit>, VectorError>;

    /// Number of points the tenant has.
    async fn count(&self, tenant: &TenantId) -> Result<usize, VectorError>;

    async fn index_state(&self, tenant: &TenantId) -> Result<Option<IndexState>, VectorError>;

    async fn set_index_state(&self, tenant: &TenantId, state: &IndexState) -> Result<(), VectorError>;
}

/// Every prefix (up to `CATEGORY_PREFIX_MAX` characters) of the category path from
/// each of its word starts, lower-case: the keywords an exact-match index needs to
/// answer "a word of the path starts with X". `Men/Tops` gives `m`, `me`, `men`,
/// `men/`, …, `t`, `to`, `top`, `tops`.
pub fn category_prefixes(category: &str) -> Vec<String> {
    let lower: Vec<char> = category.to_lowercase().chars().collect();
    let mut out: Vec<String> = Vec::new();
    for start in 0..lower.len() {
        let word_start = lower[start].is_alphanumeric() && (start == 0 || !lower[start - 1].is_alphanumeric());
        if !word_start {
            continue;
        }
        let end = (start + CATEGORY_PREFIX_MAX).min(lower.len());
        for stop in start + 1..=end {
            let p: String = lower[start..stop].iter().collect();
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The filter's category, as the keyword to look up among `category_prefixes`.
pub fn category_key(wanted: &str) -> Option<String> {
    let w: String = wanted.trim().to_lowercase().chars().take(CATEGORY_PREFIX_MAX).collect();
    (!w.is_empty()).then_some(w)
}

/// An option as one keyword: `color=black`.
pub fn option_key(name: &str, value: &str) -> String {
    let name = name.trim().to_lowercase();
    let name = if name == "colour" { "color".to_string() } else { name };
    format!("{name}={}", value.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_prefixes_start_at_words() {
        let p = category_prefixes("Men/Tops");
        for want in ["m", "men", "men/", "men/t", "men/tops", "t", "tops"] {
            assert!(p.contains(&want.to_string()), "{want} missing from {p:?}");
        }
        assert!(!p.contains(&"en".to_string()));
        assert!(!category_prefixes("Women/Tops").contains(&"men".to_string()));
        assert_eq!(category_key("  Women/JACK "), Some("women/jack".into()));
        assert_eq!(category_key(" "), None);
        assert_eq!(option_key("Colour", " Red"), "color=red");
    }
}
