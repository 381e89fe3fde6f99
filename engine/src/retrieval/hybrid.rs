//! Hybrid retrieval: the `Retriever` over a `VectorStore` (dense + BM25 points fused
//! by reciprocal rank) and an `Embedder`, with products taken from the tenant's
//! catalog snapshot.
//!
//! It exists because keywords alone miss what shoppers mean ("sweatshirt" should find
//! hoodies) while vectors alone blur exact words (a model number, a brand); fusing
//! both ranks beats either (see `loadtests/RETRIEVAL.md`).
//!
//! Indexing: a tenant's catalog is (re)indexed on the first search after its snapshot
//! version changes, or when the embedding model changed; synchronously for now (the
//! indexing job comes later). One point per variant group: the variants sharing a
//! colour (or the first option when there is no colour), so "red, in stock, under
//! $50" is checked against one group's facts. The store's filters pre-select; the
//! exact rule of `SearchFilters` (one variant meets every condition) is then checked
//! here against the product itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::catalog::{CatalogCache, CatalogSnapshot};
use crate::domain::{Product, ProductId, TenantId, Variant};
use crate::ports::embedder::{EmbedError, Embedder};
use crate::ports::retriever::{RetrievalError, Retriever, SearchFilters, SearchHit, SearchQuery};
use crate::ports::vectors::{Facets, IndexState, ProductPoint, QueryMode, VectorError, VectorFilter, VectorQuery, VectorStore};

/// Products per embedding call while indexing.
const EMBED_BATCH: usize = 256;
/// Hits asked of the store per hit wanted, for the exact filter check to drop some.
const OVERFETCH: usize = 2;
/// A query's `limit` of 0 means this many.
const DEFAULT_LIMIT: usize = 50;
/// Description words that go into the dense text (the head says what it is).
const DENSE_DESCRIPTION_WORDS: usize = 40;

impl From<VectorError> for RetrievalError {
    fn from(e: VectorError) -> Self {
        RetrievalError::Backend(e.to_string())
    }
}

impl From<EmbedError> for RetrievalError {
    fn from(e: EmbedError) -> Self {
        RetrievalError::Backend(e.to_string())
    }
}

/// One variant group of a product, ready to embed.
#[derive(Clone, Debug)]
pub struct GroupDoc {
    pub group: String,
    /// What the dense vector is made from: title, category, tags, the group's option
    /// values and the start of the description.
    pub dense_text: String,
    /// What the BM25 vector is made from: the same with the whole description.
    pub keyword_text: String,
    pub facets: Facets,
}

/// The option a product's points are grouped by: colour when it has one, else the
/// first option, else none.
fn group_option(p: &Product) -> Option<&str> {
    p.options.iter().find(|o| o.as_str() == "color" || o.as_str() == "colour").or(p.options.first()).map(String::as_str)
}

/// A product's variant groups, in first-seen order.
pub fn group_docs(p: &Product) -> Vec<GroupDoc> {
    let by = group_option(p);
    let mut groups: Vec<(String, Vec<&Variant>)> = Vec::new();
    for v in &p.variants {
        let key = by.and_then(|o| v.options.get(o)).cloned().unwrap_or_default();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, vs)) => vs.push(v),
            None => groups.push((key, vec![v])),
        }
    }
    let description_head: String =
        p.description_text.split_whitespace().take(DENSE_DESCRIPTION_WORDS).collect::<Vec<_>>().join(" ");
    groups
        .into_iter()
        .map(|(group, variants)| {
            let mut options: Vec<(String, String)> = Vec::new();
            for v in &variants {
                for (k, val) in &v.options {
                    let pair = (k.to_lowercase(), val.to_lowercase());
                    if !options.contains(&pair) {
                        options.push(pair);
                    }
                }
            }
            let values: Vec<&str> = options.iter().map(|(_, v)| v.as_str()).collect();
            let head = [p.title.as_str(), p.category.as_str(), &p.tags.join(" "), &values.join(" ")]
                .iter()
                .filter(|s| !s.trim().is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(". ");
            let prices = variants.iter().map(|v| v.price_minor);
            GroupDoc {
                dense_text: format!("{head}. {description_head}").trim_end_matches([' ', '.']).to_string(),
                keyword_text: format!("{head} {}", p.description_text),
                facets: Facets {
                    price_min_minor: prices.clone().min().unwrap_or(0),
                    price_max_minor: prices.max().unwrap_or(0),
                    category: p.category.clone(),
                    options,
                    in_stock: variants.iter().any(|v| v.in_stock()),
                },
                group,
            }
        })
        .collect()
}

/// Embeds every group of `products` and writes them to `store` as `version`, then
/// removes older points and optimises. Used by the retriever and the benchmark.
pub async fn index_products(
    store: &dyn VectorStore,
    embedder: &dyn Embedder,
    tenant: &TenantId,
    products: &[Arc<Product>],
    version: i64,
) -> Result<usize, RetrievalError> {
    let mut written = 0;
    for chunk in products.chunks(EMBED_BATCH) {
        let docs: Vec<(&Product, GroupDoc)> =
            chunk.iter().flat_map(|p| group_docs(p).into_iter().map(move |d| (p.as_ref(), d))).collect();
        let texts: Vec<String> = docs.iter().map(|(_, d)| d.dense_text.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        let points: Vec<ProductPoint> = docs
            .into_iter()
            .zip(vectors)
            .map(|((p, d), dense)| ProductPoint {
                product_id: p.id.to_string(),
                group: d.group,
                dense,
                text: d.keyword_text,
                facets: d.facets,
                catalog_version: version,
            })
            .collect();
        written += points.len();
        store.upsert(tenant, points).await?;
    }
    store.delete_older_than(tenant, version).await?;
    store.optimize(tenant).await?;
    Ok(written)
}

/// The `SearchFilters` as the store's pre-filter.
pub fn vector_filter(f: &SearchFilters) -> VectorFilter {
    VectorFilter {
        min_price_minor: f.min_price_minor,
        max_price_minor: f.max_price_minor,
        category_prefix: f.category.clone().filter(|c| !c.trim().is_empty()),
        options: f.options.iter().filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect(),
        in_stock_only: f.in_stock_only,
        product_ids: None,
    }
}

/// The exact rule of `SearchFilters`: the category matches at a word start, and one
/// variant meets every variant-level condition at once.
pub fn passes(p: &Product, f: &SearchFilters) -> bool {
    if let Some(c) = f.category.as_ref().map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty()) {
        let hay = p.category.to_lowercase();
        let at_word_start =
            hay.match_indices(&c).any(|(i, _)| hay[..i].chars().next_back().is_none_or(|ch| !ch.is_alphanumeric()));
        if !at_word_start {
            return false;
        }
    }
    let wanted: Vec<(String, String)> = f
        .options
        .iter()
        .map(|(k, v)| {
            let k = k.trim().to_lowercase();
            (if k == "colour" { "color".to_string() } else { k }, v.trim().to_lowercase())
        })
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect();
    p.variants.iter().any(|v| {
        f.min_price_minor.is_none_or(|m| v.price_minor >= m)
            && f.max_price_minor.is_none_or(|m| v.price_minor <= m)
            && (!f.in_stock_only || v.in_stock())
            && wanted.iter().all(|(k, want)| v.options.iter().any(|(name, val)| name.to_lowercase() == *k && val.to_lowercase() == *want))
    })
}

pub struct HybridRetriever {
    cache: Arc<CatalogCache>,
    store: Arc<dyn VectorStore>,
    embedder: Arc<dyn Embedder>,
    /// Per tenant, the catalog version known to be indexed with this embedder.
    indexed: Mutex<HashMap<TenantId, i64>>,
    /// One indexing at a time (it is CPU-bound anyway).
    indexing: tokio::sync::Mutex<()>,
}

impl HybridRetriever {
    pub fn new(cache: Arc<CatalogCache>, store: Arc<dyn VectorStore>, embedder: Arc<dyn Embedder>) -> Self {
        Self { cache, store, embedder, indexed: Mutex::new(HashMap::new()), indexing: tokio::sync::Mutex::new(()) }
    }

    fn known(&self, tenant: &TenantId) -> Option<i64> {
        self.indexed.lock().ok().and_then(|m| m.get(tenant).copied())
    }

    /// Makes sure the store holds `snapshot` embedded by this retriever's embedder.
    pub async fn ensure_indexed(&self, tenant: &TenantId, snapshot: &CatalogSnapshot) -> Result<(), RetrievalError> {
        if self.known(tenant) == Some(snapshot.version) {
            return Ok(());
        }
        let _one_at_a_time = self.indexing.lock().await;
        if self.known(tenant) == Some(snapshot.version) {
            return Ok(());
        }
        let want = IndexState { catalog_version: snapshot.version, embedder: self.embedder.name().to_string() };
        let state = self.store.index_state(tenant).await?;
        if state.as_ref() != Some(&want) {
            // Points of a newer version (a catalog restored to an older one) or of
            // another model would survive `delete_older_than`: clear them first.
            if state.as_ref().is_some_and(|s| s.catalog_version >= snapshot.version || s.embedder != want.embedder) {
                self.store.delete_older_than(tenant, i64::MAX).await?;
            }
            let started = std::time::Instant::now();
            let points =
                index_products(self.store.as_ref(), self.embedder.as_ref(), tenant, &snapshot.products, snapshot.version).await?;
            self.store.set_index_state(tenant, &want).await?;
            tracing::info!(%tenant, version = snapshot.version, products = snapshot.len(), points,
                embedder = self.embedder.name(), ms = started.elapsed().as_millis() as u64, "catalog indexed for hybrid search");
        }
        if let Ok(mut m) = self.indexed.lock() {
            m.insert(tenant.clone(), snapshot.version);
        }
        Ok(())
    }

    /// Hits for a snapshot already indexed.
    async fn search_in(&self, tenant: &TenantId, snapshot: &CatalogSnapshot, query: &SearchQuery) -> Result<Vec<SearchHit>, RetrievalError> {
        let limit = if query.limit == 0 { DEFAULT_LIMIT } else { query.limit };
        if query.text.trim().is_empty() {
            let mut listed: Vec<&Arc<Product>> = snapshot.products.iter().filter(|p| passes(p, &query.filters)).collect();
            listed.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()));
            return Ok(listed.into_iter().take(limit).map(|p| SearchHit { product: p.clone(), score: 0.0 }).collect());
        }
        let dense = self.embedder.embed(std::slice::from_ref(&query.text)).await?.pop().unwrap_or_default();
        let vq = VectorQuery {
            dense,
            text: query.text.clone(),
            mode: QueryMode::Hybrid,
            filter: vector_filter(&query.filters),
            limit: limit.saturating_mul(OVERFETCH),
        };
        let hits = self.store.query(tenant, &vq).await?;
        Ok(hits
            .into_iter()
            .filter_map(|h| {
                let id = ProductId::parse(h.product_id).ok()?;
                let product = snapshot.product(&id)?;
                passes(product, &query.filters).then(|| SearchHit { product: product.clone(), score: h.score })
            })
            .take(limit)
            .collect())
    }
}

#[async_trait]
impl Retriever for HybridRetriever {
    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Vec<SearchHit>, RetrievalError> {
        let snapshot = self.cache.get(tenant).await?;
        self.ensure_indexed(tenant, &snapshot).await?;
        self.search_in(tenant, &snapshot, query).await
    }
}
