//! The vector store port: a tenant's product points (one dense vector and one BM25
//! keyword vector per product variant group) and the hybrid query over them.
//!
//! Retrieval needs nearest-neighbour search with payload filters, and Aisle has two
//! places to keep the vectors: qdrant-edge in process (the embedded default,
//! `engine_vectors::qdrant_edge`, one on-disk shard per tenant) and a Qdrant server
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

/// Longest category prefix a filter compares (longer filters are cut, so the store's
/// filter may let through a few more products; the retriever checks the whole filter
/// against the product itself). Every prefix up to this length is indexed per word
/// start of the path: 24 characters cover three-level filters ("women/tops/jackets")
/// with about a fifth fewer index entries than 32 (import time, payload size).
pub const CATEGORY_PREFIX_MAX: usize = 24;

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

    /// `query` for each of `queries`, in order. By default one after the other; an
    /// embedded store runs them in one blocking call (one thread hop, not two).
    async fn query_many(&self, tenant: &TenantId, queries: &[VectorQuery]) -> Result<Vec<Vec<VectorHit>>, VectorError> {
        let mut out = Vec::with_capacity(queries.len());
        for q in queries {
            out.push(self.query(tenant, q).await?);
        }
        Ok(out)
    }

    /// Number of points the tenant has.
    async fn count(&self, tenant: &TenantId) -> Result<usize, VectorError>;

    /// Whether the store answers, for readiness checks. An embedded store is always
    /// there; a server is asked.
    async fn ping(&self) -> Result<(), VectorError> {
        Ok(())
    }

    async fn index_state(&self, tenant: &TenantId) -> Result<Option<IndexState>, VectorError>;

    async fn set_index_state(&self, tenant: &TenantId, state: &IndexState) -> Result<(), VectorError>;
}

/// Fuses a dense and a keyword ranking of products (each product once, best first,
/// as `VectorStore::query` returns them) by a convex combination of their scores, each
/// list min-max normalised over its own candidates (a product missing from a list
/// scores 0 there): `w · dense + (1 − w) · keyword`. Best first; ties by product id.
/// Unlike reciprocal rank, it keeps how far apart the candidates' scores are.
pub fn fuse_convex(dense: Vec<VectorHit>, keyword: Vec<VectorHit>, dense_weight: f32) -> Vec<VectorHit> {
    let mut fused: Vec<VectorHit> = Vec::with_capacity(dense.len() + keyword.len());
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::with_capacity(dense.len() + keyword.len());
    for (list, weight) in [(dense, dense_weight), (keyword, 1.0 - dense_weight)] {
        let (min, max) = list.iter().fold((f32::MAX, f32::MIN), |(a, b), h| (a.min(h.score), b.max(h.score)));
        for hit in list {
            let add = weight * if max > min { (hit.score - min) / (max - min) } else { 1.0 };
            match at.get(&hit.product_id) {
                Some(&i) => fused[i].score += add,
                None => {
                    at.insert(hit.product_id.clone(), fused.len());
                    fused.push(VectorHit { score: add, ..hit });
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.product_id.cmp(&b.product_id)));
    fused
}

/// The hybrid query by `fuse_convex`: the store's dense and keyword rankings of
/// `depth` products each (at least `query.limit`), fused, cut to `query.limit`. The
/// two lists have a fixed depth so that the normalisation, and so the ranking, does
/// not depend on how many results are asked for. `query.mode` is ignored.
pub async fn convex_hybrid(
    store: &dyn VectorStore,
    tenant: &TenantId,
    query: &VectorQuery,
    dense_weight: f32,
    depth: usize,
) -> Result<Vec<VectorHit>, VectorError> {
    let depth = depth.max(query.limit);
    let dense = VectorQuery { mode: QueryMode::Dense, limit: depth, ..query.clone() };
    let keyword = VectorQuery { mode: QueryMode::Keyword, limit: depth, dense: Vec::new(), ..query.clone() };
    let mut lists = store.query_many(tenant, &[dense, keyword]).await?.into_iter();
    let (dense, keyword) = (lists.next().unwrap_or_default(), lists.next().unwrap_or_default());
    let mut fused = fuse_convex(dense, keyword, dense_weight);
    fused.truncate(query.limit);
    Ok(fused)
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

    #[test]
    fn convex_fusion_weighs_normalised_scores() {
        let hit = |id: &str, score: f32| VectorHit { product_id: id.into(), group: String::new(), score };
        // Dense: a 1.0, b 0.5 (normalised 1, 0); keyword: b 10, c 0 (normalised 1, 0).
        let fused = fuse_convex(vec![hit("a", 0.9), hit("b", 0.7)], vec![hit("b", 10.0), hit("c", 2.0)], 0.7);
        let got: Vec<(&str, f32)> = fused.iter().map(|h| (h.product_id.as_str(), h.score)).collect();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!((got[0].1 - 0.7).abs() < 1e-6 && (got[1].1 - 0.3).abs() < 1e-6 && got[2].1.abs() < 1e-6, "{got:?}");
        let dense_only = fuse_convex(vec![hit("a", 0.9)], vec![], 0.7);
        assert_eq!(dense_only.len(), 1);
        assert!((dense_only[0].score - 0.7).abs() < 1e-6);
    }
}
