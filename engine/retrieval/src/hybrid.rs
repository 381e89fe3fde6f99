//! Hybrid retrieval: the `Retriever` over a `VectorStore` (dense + BM25 points; the
//! two result lists fused by a min-max-normalised weighted sum, dense weight 0.7,
//! chosen by cross-validation on WANDS — `ports::vectors::convex_hybrid`) and an
//! `Embedder`, with products taken from the tenant's catalog snapshot.
//!
//! It exists because keywords alone miss what shoppers mean ("sweatshirt" should find
//! hoodies) while vectors alone blur exact words (a model number, a brand); fusing
//! both ranks beats either (see `loadtests/RETRIEVAL.md`).
//!
//! Indexing (`index_catalog`): only products whose content hash changed are embedded
//! again; products gone from the catalog lose their points; a change of embedding
//! model starts over. In the server, indexing runs as a job (`engine::jobs`) and a
//! search that finds the index behind answers at once by keyword, fused with the last
//! index; without a job system (`set_index_requests` never called) a search indexes
//! first. One point per variant group: the variants sharing a
//! colour (or the first option when there is no colour), so "red, in stock, under
//! $50" is checked against one group's facts. The store's filters pre-select; the
//! exact rule of `SearchFilters` (one variant meets every condition) is then checked
//! here against the product itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::catalog::{CatalogCache, CatalogSnapshot};
use crate::domain::{Product, ProductId, TenantId, Variant};
use crate::ports::embedder::Embedder;
use crate::ports::retriever::{RetrievalError, Retriever, SearchFilters, SearchHit, SearchQuery};
use crate::ports::vectors::{
    Facets, IndexState, ProductPoint, QueryMode, VectorFilter, VectorQuery, VectorStore, convex_hybrid,
};
use crate::KeywordRetriever;

/// Products per embedding call while indexing.
const EMBED_BATCH: usize = 256;
/// Hits asked of the store per hit wanted, for the exact filter check to drop some.
const OVERFETCH: usize = 2;
/// A query's `limit` of 0 means this many.
const DEFAULT_LIMIT: usize = 50;
/// Description words that go into the dense text (the head says what it is).
const DENSE_DESCRIPTION_WORDS: usize = 40;
/// How the dense and the BM25 rankings are fused (`ports::vectors::convex_hybrid`):
/// a convex combination of their scores, each list min-max normalised over its top
/// `FUSION_DEPTH`, with this weight on the dense side. The weight was chosen by 5-fold
/// cross-validation on the WANDS queries (a 0.05 grid; every fold chose 0.7 for the
/// shipped static model), and `loadtests/RETRIEVAL.md` reports the out-of-fold
/// nDCG@10; it beats reciprocal-rank fusion there, for both local embedders.
pub const FUSION_DENSE_WEIGHT: f32 = 0.7;
/// Products each ranking brings to the fusion.
pub const FUSION_DEPTH: usize = 100;

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
            let (tags, values) = (p.tags.join(" "), values.join(" "));
            let join = |parts: &[&str]| parts.iter().filter(|s| !s.trim().is_empty()).copied().collect::<Vec<_>>().join(". ");
            // The keyword text has the whole category path; the dense text only its most
            // specific level: a dense vector averages its words, and the path's generic
            // upper levels ("Furniture / Living Room Furniture / ...") drown the
            // product's own words (loadtests/RETRIEVAL.md, "dense text").
            let head = join(&[p.title.as_str(), p.category.as_str(), &tags, &values]);
            // The most specific level: `Men/Tops/Hoodies` → `Hoodies` (`/`, `>`, `>>` separate).
            let leaf = p.category.rsplit(['/', '>']).map(str::trim).find(|s| !s.is_empty()).unwrap_or("");
            let dense_head = join(&[p.title.as_str(), &tags, leaf, &values]);
            let prices = variants.iter().map(|v| v.price_minor);
            GroupDoc {
                dense_text: format!("{dense_head}. {description_head}").trim_end_matches([' ', '.']).to_string(),
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
/// removes older points and optimises: a full re-index, what the benchmark times as
/// "import to searchable" (`HybridRetriever::index_catalog` embeds only what changed).
pub async fn index_products(
    store: &dyn VectorStore,
    embedder: &dyn Embedder,
    tenant: &TenantId,
    products: &[Arc<Product>],
    version: i64,
) -> Result<usize, RetrievalError> {
    let mut written = 0;
    for chunk in products.chunks(EMBED_BATCH) {
        let docs = chunk.iter().flat_map(|p| group_docs(p).into_iter().map(move |d| (p.as_ref(), d))).collect();
        written += write_groups(store, embedder, tenant, docs, version).await?;
    }
    store.delete_older_than(tenant, version).await?;
    store.optimize(tenant).await?;
    Ok(written)
}

/// Embeds the groups' dense texts in one call and writes their points as `version`;
/// the number of points written.
async fn write_groups(
    store: &dyn VectorStore,
    embedder: &dyn Embedder,
    tenant: &TenantId,
    docs: Vec<(&Product, GroupDoc)>,
    version: i64,
) -> Result<usize, RetrievalError> {
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
    let written = points.len();
    store.upsert(tenant, points).await?;
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

/// Asks for a tenant's index to be brought up to date in the background (the job
/// system does; see `engine::jobs`). Called by searches that find the index behind.
pub trait IndexRequests: Send + Sync + 'static {
    fn request(&self, tenant: &TenantId);
}

/// What an indexing run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Products embedded and written (new or changed).
    pub embedded: usize,
    /// Products whose points were already right (same content hash).
    pub unchanged: usize,
    /// Products whose points were removed (gone from the catalog).
    pub removed: usize,
    /// Points written.
    pub points: usize,
}

/// The content hash of a product's points: what they are made of (texts, facets,
/// groups). Equal hashes mean re-embedding would write the same points.
pub fn content_hash(docs: &[GroupDoc]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for d in docs {
        for part in [d.group.as_str(), d.dense_text.as_str(), d.keyword_text.as_str()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update(format!("{:?}", d.facets).as_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

pub struct HybridRetriever {
    cache: Arc<CatalogCache>,
    store: Arc<dyn VectorStore>,
    embedder: Arc<dyn Embedder>,
    /// Per tenant, the catalog version known to be indexed with this embedder.
    indexed: Mutex<HashMap<TenantId, i64>>,
    /// One indexing at a time (it is CPU-bound anyway).
    indexing: tokio::sync::Mutex<()>,
    /// Where searches ask for indexing; unset, a search indexes before it answers.
    requests: std::sync::OnceLock<Arc<dyn IndexRequests>>,
    /// Answers (fused with the last index, if any) while the index is behind.
    keyword: KeywordRetriever,
}

impl HybridRetriever {
    pub fn new(cache: Arc<CatalogCache>, store: Arc<dyn VectorStore>, embedder: Arc<dyn Embedder>) -> Self {
        Self {
            keyword: KeywordRetriever::new(cache.clone()),
            cache,
            store,
            embedder,
            indexed: Mutex::new(HashMap::new()),
            indexing: tokio::sync::Mutex::new(()),
            requests: std::sync::OnceLock::new(),
        }
    }

    /// From now on, a search that finds the index behind asks `requests` to index and
    /// answers at once: by keyword, fused with the vectors of the last index. (Set
    /// once; later calls are ignored.)
    pub fn set_index_requests(&self, requests: Arc<dyn IndexRequests>) {
        let _ = self.requests.set(requests);
    }

    pub fn embedder_name(&self) -> &str {
        self.embedder.name()
    }

    fn known(&self, tenant: &TenantId) -> Option<i64> {
        self.indexed.lock().ok().and_then(|m| m.get(tenant).copied())
    }

    fn mark_known(&self, tenant: &TenantId, version: i64) {
        if let Ok(mut m) = self.indexed.lock() {
            m.insert(tenant.clone(), version);
        }
    }

    /// Makes sure the store holds `snapshot` embedded by this retriever's embedder.
    pub async fn ensure_indexed(&self, tenant: &TenantId, snapshot: &CatalogSnapshot) -> Result<IndexReport, RetrievalError> {
        self.index_catalog(tenant, snapshot, |_, _| {}).await
    }

    /// Brings the tenant's points up to `snapshot`: embeds only the products whose
    /// content hash changed (or all, after a change of embedding model), removes the
    /// points of products that are gone, in batches, calling `progress(done, total)`
    /// (products embedded so far, products to embed) after each. Nothing is lost when
    /// it fails half-way: the hashes are saved only at the end, so a retry embeds
    /// again whatever was not recorded.
    pub async fn index_catalog(
        &self,
        tenant: &TenantId,
        snapshot: &CatalogSnapshot,
        mut progress: impl FnMut(usize, usize) + Send,
    ) -> Result<IndexReport, RetrievalError> {
        if self.known(tenant) == Some(snapshot.version) {
            return Ok(IndexReport { unchanged: snapshot.len(), ..IndexReport::default() });
        }
        let _one_at_a_time = self.indexing.lock().await;
        if self.known(tenant) == Some(snapshot.version) {
            return Ok(IndexReport { unchanged: snapshot.len(), ..IndexReport::default() });
        }
        let started = std::time::Instant::now();
        let embedder = self.embedder.name().to_string();
        let state = self.store.index_state(tenant).await?;
        if state.as_ref().is_some_and(|s| s.catalog_version == snapshot.version && s.embedder == embedder) {
            self.mark_known(tenant, snapshot.version);
            return Ok(IndexReport { unchanged: snapshot.len(), ..IndexReport::default() });
        }
        let mut old = match state {
            Some(s) if s.embedder == embedder => s.hashes,
            // Another model's vectors (or points from before hashes were kept): start over.
            _ => {
                self.store.delete_older_than(tenant, i64::MAX).await?;
                Default::default()
            }
        };
        let mut hashes = std::collections::BTreeMap::new();
        let mut changed: Vec<(&Arc<Product>, Vec<GroupDoc>)> = Vec::new();
        for p in snapshot.products.iter() {
            let docs = group_docs(p);
            let hash = content_hash(&docs);
            let id = p.id.to_string();
            if old.remove(&id).as_deref() != Some(hash.as_str()) {
                changed.push((p, docs));
            }
            hashes.insert(id, hash);
        }
        // What is left in `old` is gone from the catalog; a changed product may have
        // lost a variant group, so its old points go too before the new are written.
        let mut stale: Vec<String> = old.into_keys().collect();
        let report_removed = stale.len();
        stale.extend(changed.iter().map(|(p, _)| p.id.to_string()));
        if !stale.is_empty() {
            self.store.delete_products(tenant, &stale).await?;
        }
        let total = changed.len();
        progress(0, total);
        let mut report = IndexReport { unchanged: snapshot.len() - total, removed: report_removed, ..IndexReport::default() };
        let mut batch: Vec<(&Product, GroupDoc)> = Vec::new();
        let mut in_batch = 0;
        let mut it = changed.into_iter().peekable();
        while let Some((p, docs)) = it.next() {
            batch.extend(docs.into_iter().map(|d| (p.as_ref(), d)));
            in_batch += 1;
            if batch.len() >= EMBED_BATCH || it.peek().is_none() {
                let docs = std::mem::take(&mut batch);
                report.points += write_groups(self.store.as_ref(), self.embedder.as_ref(), tenant, docs, snapshot.version).await?;
                report.embedded += in_batch;
                in_batch = 0;
                progress(report.embedded, total);
            }
        }
        if report.embedded > 0 || report.removed > 0 {
            self.store.optimize(tenant).await?;
        }
        self.store.set_index_state(tenant, &IndexState { catalog_version: snapshot.version, embedder, hashes }).await?;
        self.mark_known(tenant, snapshot.version);
        tracing::info!(%tenant, version = snapshot.version, products = snapshot.len(), embedded = report.embedded,
            removed = report.removed, points = report.points, embedder = self.embedder.name(),
            ms = started.elapsed().as_millis() as u64, "catalog indexed for hybrid search");
        Ok(report)
    }

    /// Hits for a snapshot already indexed.
    async fn search_in(&self, tenant: &TenantId, snapshot: &CatalogSnapshot, query: &SearchQuery) -> Result<Vec<SearchHit>, RetrievalError> {
        let limit = if query.limit == 0 { DEFAULT_LIMIT } else { query.limit };
        if query.text.trim().is_empty() {
            let mut listed: Vec<&Arc<Product>> = snapshot.products.iter().filter(|p| passes(p, &query.filters)).collect();
            listed.sort_by_key(|a| a.title.to_lowercase());
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
        let hits = convex_hybrid(self.store.as_ref(), tenant, &vq, FUSION_DENSE_WEIGHT, FUSION_DEPTH).await?;
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
        if self.known(tenant) == Some(snapshot.version) {
            return self.search_in(tenant, &snapshot, query).await;
        }
        let Some(requests) = self.requests.get() else {
            self.ensure_indexed(tenant, &snapshot).await?;
            return self.search_in(tenant, &snapshot, query).await;
        };
        let state = self.store.index_state(tenant).await?;
        let same_model = state.as_ref().is_some_and(|s| s.embedder == self.embedder.name());
        if same_model && state.as_ref().is_some_and(|s| s.catalog_version == snapshot.version) {
            self.mark_known(tenant, snapshot.version);
            return self.search_in(tenant, &snapshot, query).await;
        }
        // Behind: have it indexed, and answer now. New and changed products are found
        // by keyword at once; the last index still knows the rest by meaning (its hits
        // are checked against the current snapshot, so nothing deleted comes back).
        requests.request(tenant);
        let keyword = self.keyword.search(tenant, query).await?;
        if !same_model || query.text.trim().is_empty() {
            return Ok(keyword);
        }
        let vectors = self.search_in(tenant, &snapshot, query).await?;
        let limit = if query.limit == 0 { DEFAULT_LIMIT } else { query.limit };
        // Keyword first: it is the list that knows every current product, so it wins ties.
        Ok(fuse(&[keyword, vectors], limit))
    }

    /// Re-ranked by dense closeness when the index is current (see `recommend.rs`);
    /// else by keyword similarity alone: a turn never waits for indexing.
    async fn recommend(
        &self,
        tenant: &TenantId,
        catalog: &CatalogSnapshot,
        for_products: &[ProductId],
        exclude: &[ProductId],
        limit: usize,
    ) -> Result<Vec<SearchHit>, RetrievalError> {
        if self.known(tenant) != Some(catalog.version) {
            return Ok(super::recommend::recommend(catalog, for_products, exclude, limit));
        }
        let (store, embedder) = (self.store.as_ref(), self.embedder.as_ref());
        super::recommend::recommend_with_vectors(store, embedder, tenant, catalog, for_products, exclude, limit).await
    }
}

/// Reciprocal-rank fusion of ranked lists of hits (k = 60), each product once; ties
/// keep the order of `lists`.
fn fuse(lists: &[Vec<SearchHit>], limit: usize) -> Vec<SearchHit> {
    const K: f32 = 60.0;
    let mut scores: Vec<(SearchHit, f32)> = Vec::new();
    for list in lists {
        for (rank, hit) in list.iter().enumerate() {
            let add = 1.0 / (K + rank as f32 + 1.0);
            match scores.iter_mut().find(|(h, _)| h.product.id == hit.product.id) {
                Some((_, s)) => *s += add,
                None => scores.push((hit.clone(), add)),
            }
        }
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores.into_iter().take(limit).map(|(mut h, s)| {
        h.score = s;
        h
    }).collect()
}
